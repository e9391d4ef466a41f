"""CDNOW's published summary (shipped with lifetimes) and our four purchase models
fitted on it, shared by the model tests (one fit per test session)."""

from __future__ import annotations

from pathlib import Path

import lifetimes
import pandas as pd
import pytest

from retention.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

LIFETIMES_DATA = Path(lifetimes.__file__).parent / "datasets"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(LIFETIMES_DATA / "cdnow_customers_summary.csv", index_col=[0])


@pytest.fixture(scope="session")
def fitted(cdnow) -> dict:
    rfm = cdnow.frequency, cdnow.recency, cdnow["T"]
    return {
        "bgnbd": BetaGeoModel(one_time_buyer_correction=False).fit(*rfm),
        "bgnbd_corrected": BetaGeoModel().fit(*rfm),
        "mbgnbd": ModifiedBetaGeoModel().fit(*rfm),
        "pareto_nbd": ParetoNBDModel().fit(*rfm),
    }
