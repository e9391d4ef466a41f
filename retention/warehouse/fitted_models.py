"""Fitted models rebuilt from the published run's `model_params`.

A run stores every fitted parameter; this turns them back into our model
objects, so a notebook can predict for any history, or hand the fit to
lifetimes (`.to_lifetimes()`), without refitting.
"""

from __future__ import annotations

from pathlib import Path

from retention.errors import RetentionError
from retention.models import PURCHASE_MODELS, GammaGammaModel
from retention.models.base import BaseModel
from retention.warehouse.query import connect_read_only

MODEL_CLASSES: dict[str, type[BaseModel]] = {
    **PURCHASE_MODELS,
    **{f"activity_{name}": cls for name, cls in PURCHASE_MODELS.items()},
    "gamma_gamma": GammaGammaModel,
}


def load_fitted_model(warehouse: Path, product: str, model: str) -> BaseModel:
    """The published run's fit of `model` for `product`; a RetentionError says why not."""
    if model not in MODEL_CLASSES:
        raise RetentionError(
            f'model "{model}": not a stored model; models are: {", ".join(MODEL_CLASSES)}'
        )
    with connect_read_only(warehouse) as con:
        rows = con.execute(
            "SELECT param, value, note FROM model_params WHERE product_id = $product "
            "AND model = $model AND run_id = (SELECT run_id FROM published_run)",
            {"product": product, "model": model},
        ).fetchall()
        products = [
            row[0]
            for row in con.execute(
                "SELECT DISTINCT product_id FROM model_params "
                "WHERE run_id = (SELECT run_id FROM published_run) ORDER BY 1"
            ).fetchall()
        ]
    if not rows:
        raise RetentionError(
            f'warehouse {warehouse}: the published run has no "{model}" fit for product '
            f'"{product}"; products with fits are: {", ".join(products) or "none"}'
        )
    values = {param: value for param, value, _ in rows}
    cls = MODEL_CLASSES[model]
    if "fallback" in values and not set(cls.param_names) <= values.keys():
        note = next(note for param, _, note in rows if param == "fallback")
        raise RetentionError(f'product "{product}" has no usable "{model}" fit: {note}')
    options = {}
    if "one_time_buyer_correction" in values:  # BG/NBD: as the run predicted purchases
        options["one_time_buyer_correction"] = bool(values["one_time_buyer_correction"])
    return cls.from_params(
        {name: values[name] for name in cls.param_names},
        log_likelihood=values.get("log_likelihood"),
        n_users=values.get("n_users"),
        converged=bool(values.get("converged", 1.0)) and "fallback" not in values,
        **options,
    )
