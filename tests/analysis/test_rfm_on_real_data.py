"""RFM segments mean something on tie-heavy, slow data (CDNOW master at 1997-12-31):
recency is scored in the product's rhythm, not in quintiles."""

from __future__ import annotations

import duckdb

import retention
from tests.analysis.test_policy_on_real_data import CDNOW_MAPPING, cdnow_csv, pipeline


def test_cdnow_segments_are_sensible_when_most_buyers_bought_once(tmp_path):
    events = cdnow_csv("CDNOW_master", tmp_path)
    result = retention.run(pipeline(tmp_path, events, "1997-12-31", CDNOW_MAPPING))
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        segments = dict(
            con.execute(
                "SELECT rfm_segment, count(*) FROM latest_scores "
                "WHERE rfm_segment <> 'No Purchase' GROUP BY 1"
            ).fetchall()
        )
        churned_champions, stale_new = con.execute(
            "SELECT count(*) FILTER (WHERE s.rfm_segment = 'Champions' AND t.tier = 'churned'), "
            "count(*) FILTER (WHERE s.rfm_segment = 'New' AND f.days_since_last_purchase >= "
            "r.recent_days) FROM latest_scores s JOIN latest_tiers t USING (product_id, user_id) "
            "JOIN latest_features f USING (product_id, user_id) "
            "JOIN product_rhythm r ON r.run_id = s.run_id AND r.product_id = s.product_id"
        ).fetchall()[0]
    buyers = sum(segments.values())
    assert buyers == 23_570
    assert segments["Champions"] / buyers < 0.25  # was 35.7% with recency quintiles
    assert churned_champions == 0  # was 4,382
    assert stale_new == 0  # was 285 "New" users who last bought ~282 days before
