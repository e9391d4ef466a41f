"""Pipeline-file sections for scoring: [scores], [survival], [rfm] and [[tiers]].

Kept apart from `config.py` (sources and run settings) so each stays small.
The SQL of the rules is checked later, against the real column list, before
any work starts (see `rules.check_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retention.config.defaults import DEFAULT_TIERS, RFM_SEGMENTS, TIERS, Rule
from retention.config.fields import (
    Field,
    check_table,
    choice,
    integer_between,
    number_between,
    text,
)
from retention.errors import ConfigError

PURCHASE_MODEL_NAMES = ("bgnbd", "mbgnbd", "pareto_nbd")
# The closed vocabulary of [scores] covariates: per-user facts known at the first
# purchase, so they cannot leak the future into the fit. Categorical ones become
# one-hot columns against the product's most common level; numeric ones are
# standardised per product (README, "Covariates").
COVARIATES = {"acquisition_channel": "categorical", "log_first_order_value": "numeric"}
COVARIATE_MODELS = ("bgnbd", "pareto_nbd")


def horizons(value: Any) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 3650 for v in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError("a list of distinct whole numbers of days such as [30, 90, 365]")
    return tuple(value)


def covariate_names(value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v in COVARIATES for v in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError(
            "a list of distinct names among " + ", ".join(f'"{name}"' for name in COVARIATES)
        )
    return tuple(value)


SCORES_FIELDS = {
    "purchase_model": Field(choice(*PURCHASE_MODEL_NAMES), default="bgnbd"),
    "penalizer": Field(number_between(0, 100), default=0.0),
    "horizons_days": Field(horizons, default=(30, 90, 365)),
    "clv_months": Field(integer_between(1, 120), default=12),
    "monthly_discount_rate": Field(number_between(0, 1), default=0.01),
    "min_repeat_buyers": Field(integer_between(1, 1_000_000), default=20),
    # Chosen by holdout error on CDNOW, its sample, the bundled sample and three
    # simulated products (README, "One-time buyers"): plain BG/NBD is closer.
    "one_time_buyers": Field(choice("plain", "dropout"), default="plain"),
    # Parameter draws behind the 90% intervals of expected purchases and CLV
    # (0: no intervals); 200 puts the Monte Carlo error of a 5% quantile at
    # about a tenth of the interval's width. Seeded, so a rerun repeats them.
    "interval_draws": Field(integer_between(0, 10_000), default=200),
    "interval_seed": Field(integer_between(0, 2**31 - 1), default=0),
    # Per-user covariates of the purchase model (BG/NBD and Pareto/NBD); [] = none.
    "covariates": Field(covariate_names, default=()),
}
SURVIVAL_FIELDS = {
    "churn_after_days": Field(integer_between(1, 3650), default=90),
    "max_fit_users": Field(integer_between(100, 100_000_000), default=50_000),
    "seed": Field(integer_between(0, 2**31 - 1), default=0),
}
RULE_FIELDS = {
    "name": Field(text, required=True, help="the name this rule gives"),
    "rule": Field(text, required=True, help="a DuckDB boolean expression"),
}


@dataclass(frozen=True)
class ScoreSettings:
    purchase_model: str
    penalizer: float
    horizons_days: tuple[int, ...]
    clv_months: int
    monthly_discount_rate: float
    min_repeat_buyers: int
    one_time_buyers: (
        str  # BG/NBD for frequency 0: "plain" or "dropout" (MBG/NBD's first-purchase dropout)
    )
    churn_after_days: int
    max_fit_users: int
    interval_draws: int
    interval_seed: int
    survival_seed: int
    rfm_segments: tuple[Rule, ...]
    tiers: tuple[Rule, ...]
    covariates: tuple[str, ...] = ()


def parse_score_settings(document: dict[str, Any], name: str) -> ScoreSettings:
    scores = check_table(document.get("scores", {}), SCORES_FIELDS, f"{name}: [scores]")
    survival = check_table(document.get("survival", {}), SURVIVAL_FIELDS, f"{name}: [survival]")
    rfm = check_table(document.get("rfm", {}), {}, f"{name}: [rfm]", nested=("segments",))
    segments = _parse_rules(rfm.get("segments"), f"{name}: [[rfm.segments]]", RFM_SEGMENTS)
    tiers = _parse_rules(document.get("tiers"), f"{name}: [[tiers]]", DEFAULT_TIERS)
    for rule in tiers:
        if rule.name not in TIERS:
            raise ConfigError(
                f'{name}: [[tiers]] name = "{rule.name}": expected one of '
                + ", ".join(f'"{t}"' for t in TIERS)
            )
    if scores["covariates"] and scores["purchase_model"] not in COVARIATE_MODELS:
        raise ConfigError(
            f'{name}: [scores] covariates need purchase_model = "bgnbd" or "pareto_nbd"; '
            f'got "{scores["purchase_model"]}"'
        )
    return ScoreSettings(
        covariates=scores["covariates"],
        purchase_model=scores["purchase_model"],
        penalizer=scores["penalizer"],
        horizons_days=scores["horizons_days"],
        clv_months=scores["clv_months"],
        monthly_discount_rate=scores["monthly_discount_rate"],
        min_repeat_buyers=scores["min_repeat_buyers"],
        one_time_buyers=scores["one_time_buyers"],
        interval_draws=scores["interval_draws"],
        interval_seed=scores["interval_seed"],
        churn_after_days=survival["churn_after_days"],
        max_fit_users=survival["max_fit_users"],
        survival_seed=survival["seed"],
        rfm_segments=segments,
        tiers=tiers,
    )


def _parse_rules(items: Any, where: str, default: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """An ordered rule list whose last rule is `true`, so every user gets one name."""
    if items is None:
        return default
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where} must be a non-empty list of tables with name and rule")
    rules = []
    for number, item in enumerate(items, start=1):
        parsed = check_table(item, RULE_FIELDS, f"{where} #{number}")
        rules.append(Rule(parsed["name"], parsed["rule"].strip()))
    if rules[-1].rule.lower() != "true":
        raise ConfigError(
            f'{where} the last rule ("{rules[-1].name}") must be rule = "true", '
            "so that every user gets exactly one name"
        )
    return tuple(rules)
