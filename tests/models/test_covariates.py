"""BG/NBD and Pareto/NBD with time-invariant covariates (retention.models.covariates).

Simulated data with known coefficients: the fit recovers them inside their
95% intervals, and a covariate without effect leaves the plain parameters.
"""

import numpy as np
import pytest

from retention.models import BetaGeoModel, ParetoNBDModel
from retention.models.covariates import CovariateModel


def simulate_bgnbd(rng, alpha, r=0.8, a=0.7, b=3.0):
    """BG/NBD users: Poisson purchases at rate ~ Gamma(r, alpha_i), and after each
    repeat purchase a Beta(a, b) chance of dropping out; T uniform in [30, 365)."""
    n = len(alpha)
    rate, p = rng.gamma(r, 1 / alpha), rng.beta(a, b, n)
    age = rng.integers(30, 365, n).astype(float)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while (t := t + rng.exponential(1 / rate[i])) <= age[i]:
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < p[i]:
                break
    return x, t_x, age


def simulate_pareto(rng, alpha, beta, r=0.8, s=0.6):
    """Pareto/NBD users: exponential lifetimes at rate ~ Gamma(s, beta_i)."""
    n = len(alpha)
    rate, death = rng.gamma(r, 1 / alpha), rng.gamma(s, 1 / beta)
    age = rng.integers(30, 365, n).astype(float)
    end = np.minimum(rng.exponential(1 / death), age)
    x = rng.poisson(rate * end).astype(float)
    t_x = np.where(x > 0, end * rng.beta(np.maximum(x, 1), 1), 0.0)  # last of x uniforms
    return x, t_x, age


def covers(table, truth):
    return {name: table[name][2] <= value <= table[name][3] for name, value in truth.items()}


def test_bgnbd_recovers_known_coefficients_inside_their_95_intervals():
    rng = np.random.default_rng(2)
    n = 20_000
    ads = (rng.random(n) < 0.4).astype(float)
    value = rng.normal(size=n)
    alpha = 10 * np.exp(-(-0.5 * ads + 0.3 * value))
    x, t_x, age = simulate_bgnbd(rng, alpha)
    names = ["acquisition_channel=ads", "log_first_order_value"]
    model = CovariateModel(BetaGeoModel).fit(x, t_x, age, np.column_stack([ads, value]), names)
    assert model.converged_
    table = model.parameter_table()
    truth = {
        "r": 0.8,
        "alpha": 10.0,
        "a": 0.7,
        "b": 3.0,
        "gamma_acquisition_channel=ads": -0.5,
        "gamma_log_first_order_value": 0.3,
    }
    assert covers(table, truth) == dict.fromkeys(truth, True)
    assert table["gamma_acquisition_channel=ads"][0] == pytest.approx(-0.5085, abs=1e-4)
    assert table["gamma_acquisition_channel=ads"][1] == pytest.approx(0.0197, abs=1e-4)
    assert model.log_likelihood_ > model.plain_log_likelihood_ + 100


def test_pareto_nbd_recovers_purchase_and_dropout_coefficients():
    rng = np.random.default_rng(8)
    n = 10_000
    ads = (rng.random(n) < 0.4).astype(float)
    alpha, beta = 10 * np.exp(0.5 * ads), 80 * np.exp(-0.6 * ads)
    x, t_x, age = simulate_pareto(rng, alpha, beta)
    model = CovariateModel(ParetoNBDModel).fit(x, t_x, age, ads[:, None], ["ads"])
    assert model.converged_
    table = model.parameter_table()
    truth = {"r": 0.8, "alpha": 10, "s": 0.6, "beta": 80, "gamma_ads": -0.5}
    truth["gamma_dropout_ads"] = 0.6
    assert covers(table, truth) == dict.fromkeys(truth, True)


def test_a_covariate_that_splits_identical_halves_leaves_the_plain_fit():
    """Both levels hold the same users, so the likelihood is symmetric in gamma and
    its maximum is at gamma = 0 with the plain parameters (doubling every weight
    does not move the plain optimum): equal to the optimiser's precision."""
    rng = np.random.default_rng(3)
    x, t_x, age = simulate_bgnbd(rng, np.full(3000, 10.0))
    plain = BetaGeoModel().fit(x, t_x, age)
    both = [np.concatenate([c, c]) for c in (x, t_x, age)]
    z = np.repeat([0.0, 1.0], len(x))[:, None]
    model = CovariateModel(BetaGeoModel).fit(*both, z, ["twin"])
    assert abs(model.params_["gamma_twin"]) < 1e-6
    for name in BetaGeoModel.param_names:
        assert model.params_[name] == pytest.approx(plain.params_[name], rel=1e-6)


def test_a_covariate_without_effect_stays_within_noise_of_the_plain_fit():
    """An independent random covariate: its coefficient's 95% interval holds 0 and the
    base parameters move by less than a tenth of their standard error."""
    rng = np.random.default_rng(4)
    x, t_x, age = simulate_bgnbd(rng, np.full(8000, 10.0))
    noise = rng.normal(size=len(x))[:, None]
    plain = BetaGeoModel().fit(x, t_x, age)
    model = CovariateModel(BetaGeoModel).fit(x, t_x, age, noise, ["noise"])
    table = model.parameter_table()
    assert table["gamma_noise"][2] < 0 < table["gamma_noise"][3]
    for name in BetaGeoModel.param_names:
        assert abs(model.params_[name] - plain.params_[name]) < 0.1 * table[name][1]


def test_group_model_is_the_plain_model_at_the_users_parameters():
    rng = np.random.default_rng(6)
    ads = (rng.random(4000) < 0.5).astype(float)
    x, t_x, age = simulate_bgnbd(rng, 10 * np.exp(0.4 * ads))
    model = CovariateModel(BetaGeoModel).fit(x, t_x, age, ads[:, None], ["ads"])
    group = model.group_model([1.0])
    expected = model.params_["alpha"] * np.exp(-model.params_["gamma_ads"])
    assert group.params_["alpha"] == pytest.approx(expected, rel=1e-12)
    assert group.params_["r"] == model.params_["r"]
    # Var(log alpha_1) = Var(log alpha0) + Var(gamma) - 2 Cov(log alpha0, gamma)
    cov = model.log_covariance_
    assert group.log_covariance_[1, 1] == pytest.approx(cov[1, 1] + cov[4, 4] - 2 * cov[1, 4])
    reference = model.group_model([0.0])
    assert reference.p_alive(2, 30, 100) != group.p_alive(2, 30, 100)


def test_fit_refuses_missing_covariates_and_empty_names():
    with pytest.raises(ValueError, match="impute missing values"):
        CovariateModel(BetaGeoModel).fit([1, 2], [3, 4], [5, 6], [[np.nan], [1]], ["z"])
    with pytest.raises(ValueError, match="no covariates given"):
        CovariateModel(BetaGeoModel).fit([1, 2], [3, 4], [5, 6], np.zeros((2, 0)), [])
