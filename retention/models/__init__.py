"""Buy-till-you-die purchase models, the Gamma-Gamma spend model and CLV.

Our own numpy/scipy implementations, checked number for number against
lifetimes (see tests/models/): lifetimes prints inside fit, raises on
non-convergence and fits Pareto/NBD loosely, so it stops at our test suite.
"""

from retention.models.base import NotFittedError, PurchaseModel
from retention.models.bgnbd import BetaGeoModel
from retention.models.clv import customer_lifetime_value
from retention.models.gamma_gamma import GammaGammaModel
from retention.models.mbgnbd import ModifiedBetaGeoModel
from retention.models.pareto_nbd import ParetoNBDModel

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto_nbd": ParetoNBDModel,
}

__all__ = [
    "PURCHASE_MODELS",
    "BetaGeoModel",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "NotFittedError",
    "ParetoNBDModel",
    "PurchaseModel",
    "customer_lifetime_value",
]
