"""Our fits handed to lifetimes, so `lifetimes.plotting` and its other functions work on them.

lifetimes is archived upstream; this is the one place that knows how its
fitters hold a fit (a `params_` Series, a `data` frame that its plotting
reads, `predict` bound to the conditional expectation), so its quirks stop
here. It is imported only when a model is converted: importing lifetimes
switches off FutureWarnings for the whole process.
"""

from __future__ import annotations

from typing import Any

# Our model name -> the lifetimes fitter with the same likelihood and parameters.
LIFETIMES_FITTERS = {
    "bgnbd": "BetaGeoFitter",
    "mbgnbd": "ModifiedBetaGeoFitter",
    "pareto_nbd": "ParetoNBDFitter",
    "gamma_gamma": "GammaGammaFitter",
}


def to_lifetimes_fitter(
    name: str, params: dict[str, float], penalizer: float, data: Any = None
) -> Any:
    """A fitted lifetimes fitter for our model `name` with these parameters."""
    import lifetimes
    import pandas as pd

    fitter = getattr(lifetimes, LIFETIMES_FITTERS[name])(penalizer_coef=penalizer)
    fitter.params_ = pd.Series(params, dtype=float)
    if data is not None:
        fitter.data = data
    if hasattr(fitter, "conditional_expected_number_of_purchases_up_to_time"):
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter
