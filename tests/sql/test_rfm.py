"""RFM scores on tests/fixtures/events_rfm_ties.csv, computed by hand.

Five buyers (as_of 2024-06-30), too few to measure the product's rhythm, so
recency is scored in the fixed windows: 5 under 15 days, 4 under 30, 3 under
90, 2 under 180, 1 beyond. Frequency and monetary scores are 1 + floor(5 *
mid-rank position), where a tie group sits at the middle of the positions it
spans, so equal values share a score:
  recency days  u5=121  u4=30  u3=10  u1=u2=1   -> r 2, 3, 5, 5, 5
  purchases     u1=u2=u5=1  u3=2  u4=3          -> f 2, 2, 2, 4, 5
  revenue       u5=5  u1=u2=10  u3=30  u4=100   -> m 1, 3, 3, 4, 5
u6 only visited: no scores, segment "No Purchase".
"""

import pytest

from tests.conftest import FIXTURES, query

EXPECTED = {
    #      r  f  m  fm  segment
    "u1": (5, 2, 3, 3, "Loyal"),
    "u2": (5, 2, 3, 3, "Loyal"),
    "u3": (5, 4, 4, 4, "Champions"),
    "u4": (3, 5, 5, 5, "Loyal"),
    "u5": (2, 2, 1, 2, "Hibernating"),
}


@pytest.fixture
def scores(run):
    _, warehouse = run(FIXTURES / "events_rfm_ties.csv")
    rows = query(warehouse, "SELECT * FROM latest_scores")
    return rows.set_index("user_id")


def test_rfm_scores_and_segments_by_hand(scores):
    for user, (r, f, m, fm, segment) in EXPECTED.items():
        row = scores.loc[user]
        assert (row.r_score, row.f_score, row.m_score, row.fm_score, row.rfm_segment) == (
            r,
            f,
            m,
            fm,
            segment,
        ), user


def test_user_without_purchase_has_no_scores_and_a_clear_segment(scores):
    row = scores.loc["u6"]
    assert row[["r_score", "f_score", "m_score"]].isna().all()
    assert row.rfm_segment == "No Purchase"


def test_segment_map_can_be_overridden(run):
    segments = (
        '[[rfm.segments]]\nname = "Recent"\nrule = "r_score = 5"\n'
        '[[rfm.segments]]\nname = "Big spender"\nrule = "revenue_total >= 100"\n'
        '[[rfm.segments]]\nname = "Other"\nrule = "true"\n'
    )
    _, warehouse = run(FIXTURES / "events_rfm_ties.csv", extra=segments)
    rows = query(warehouse, "SELECT user_id, rfm_segment FROM latest_scores ORDER BY user_id")
    assert dict(zip(rows.user_id, rows.rfm_segment, strict=True)) == {
        "u1": "Recent",
        "u2": "Recent",
        "u3": "Recent",
        "u4": "Big spender",
        "u5": "Other",
        "u6": "No Purchase",
    }


def test_without_amounts_there_is_no_monetary_score(run):
    mapping = (
        '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
        'event_type = "event_type"\nproduct_id = "product_id"\n'
        '[source.events.event_types]\npurchase = ["order"]\n'
    )
    _, warehouse = run(FIXTURES / "events_rfm_ties.csv", mapping=mapping)
    rows = query(warehouse, "SELECT * FROM latest_scores WHERE user_id = 'u4'")
    assert rows.m_score.isna().all()
    assert rows.fm_score[0] == rows.f_score[0] == 5


def test_equal_money_is_equal_however_the_float_sum_comes_out(run, tmp_path):
    """In floats 0.1 + 0.2 is 0.30000000000000004: summed unrounded, "a" would
    out-rank "b" on money (m 4 against 2) and miss a threshold of 0.3."""
    events = tmp_path / "events.csv"
    events.write_text(
        "event_id,user_id,event_time,event_type,amount,product_id,channel\n"
        "e1,a,2024-06-10 10:00:00,order,0.1,shop,web\n"
        "e2,a,2024-06-11 10:00:00,order,0.2,shop,web\n"
        "e3,b,2024-06-10 10:00:00,order,0.3,shop,web\n"
        "e4,c,2024-06-10 10:00:00,order,1.0,shop,web\n"
        "e5,d,2024-06-10 10:00:00,order,0.05,shop,web\n"
    )
    segments = (
        '[[rfm.segments]]\nname = "At least 0.3"\nrule = "revenue_total >= 0.3"\n'
        '[[rfm.segments]]\nname = "Other"\nrule = "true"\n'
    )
    _, warehouse = run(events, extra=segments)
    rows = query(
        warehouse,
        "SELECT user_id, revenue_total, m_score, rfm_segment FROM latest_scores "
        "JOIN latest_features USING (product_id, user_id) ORDER BY user_id",
    ).set_index("user_id")
    assert rows.loc["a", "revenue_total"] == 0.3
    assert rows.m_score.to_dict() == {"a": 3, "b": 3, "c": 5, "d": 1}
    assert rows.rfm_segment.to_dict() == {
        "a": "At least 0.3",
        "b": "At least 0.3",
        "c": "At least 0.3",
        "d": "Other",
    }
