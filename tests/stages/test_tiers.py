"""The tier policy: every tier reachable with crafted users, one tier per user,
reasons that show the rule and the values, and rule errors caught up front."""

import datetime as dt

import pytest

from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError
from retention.pipeline import run_pipeline
from tests.conftest import query

START = dt.datetime(2024, 1, 1, 9)


def crafted_events(path):
    """One user per tier under the default policy, as_of 2024-06-30."""
    rows = []

    def seen(user, day, minute=0, second=0, kind="visit"):
        when = dt.datetime.fromisoformat(day) + dt.timedelta(
            hours=9, minutes=minute, seconds=second
        )
        rows.append(f"{user},{when},{kind}")

    for second in range(0, 60, 2):  # 30 page views in one minute
        seen("bot", "2024-06-10", second=second, kind="page_view")
    seen("bot", "2024-01-01")
    seen("newbie", "2024-06-25")
    for user in ("daily", "weekly", "fading"):
        seen(user, "2024-01-01")
    for day in range(1, 21):
        seen("daily", f"2024-06-{day:02d}")
    for day in ("06-05", "06-12", "06-19", "06-26", "06-29"):
        seen("weekly", f"2024-{day}")
    for day in ("04-10", "04-17", "04-24", "05-01", "05-08", "05-15"):
        seen("fading", f"2024-{day}")
    seen("gone", "2023-06-01")
    seen("gone", "2023-06-02")
    seen("casual", "2024-03-01")
    seen("casual", "2024-06-10")
    path.write_text("user_id,event_time,event_type\n" + "\n".join(rows) + "\n")
    return path


MAPPING = (
    '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
    'event_type = "event_type"\n'
)
EXPECTED = {
    "bot": "junk",
    "newbie": "new",
    "daily": "core",
    "weekly": "active",
    "fading": "at_risk",
    "gone": "churned",
    "casual": "valid",
}


@pytest.fixture
def tiers(run, tmp_path):
    _, warehouse = run(crafted_events(tmp_path / "events.csv"), mapping=MAPPING)
    return warehouse, query(warehouse, "SELECT * FROM latest_tiers ORDER BY user_id")


def test_every_default_tier_is_reachable(tiers):
    _, rows = tiers
    assert dict(zip(rows.user_id, rows.tier, strict=True)) == EXPECTED


def test_reason_names_the_rule_and_the_values_it_saw(tiers):
    _, rows = tiers
    reasons = dict(zip(rows.user_id, rows.reason, strict=True))
    # too few users to measure this product's rhythm: the fixed 14 / 30 / 90 days
    assert (
        reasons["newbie"]
        == "new: tenure_days < onboarding_days [tenure_days=5, onboarding_days=14]"
    )
    assert reasons["weekly"] == (
        "active: active_days_30d >= 4 AND days_since_last_seen < recent_days "
        "[active_days_30d=5, days_since_last_seen=1, recent_days=30]"
    )
    assert reasons["daily"].startswith("core: days_since_last_seen < recent_days AND ((clv >=")
    assert "active_days_30d=20" in reasons["daily"] and "clv=NULL" in reasons["daily"]
    assert reasons["casual"] == (
        "valid: days_since_last_seen < recent_days [days_since_last_seen=20, recent_days=30]"
    )
    assert reasons["gone"] == (
        "churned: days_since_last_seen >= churn_after_days "
        "[days_since_last_seen=394, churn_after_days=90]"
    )


def test_exactly_one_tier_per_featured_user(tiers):
    warehouse, rows = tiers
    features = query(warehouse, "SELECT count(*) AS n FROM latest_features")
    assert len(rows) == features.n[0] == rows.user_id.nunique()


def test_custom_policy_with_quantile_threshold(run, tmp_path):
    policy = (
        '[[tiers]]\nname = "core"\nrule = "events_total >= events_total_p80"\n'
        '[[tiers]]\nname = "valid"\nrule = "true"\n'
    )
    _, warehouse = run(crafted_events(tmp_path / "events.csv"), mapping=MAPPING, extra=policy)
    rows = query(warehouse, "SELECT user_id, tier, reason FROM latest_tiers ORDER BY user_id")
    assert dict(zip(rows.user_id, rows.tier, strict=True)) == {
        "bot": "core",
        "casual": "valid",
        "daily": "core",
        "fading": "valid",
        "gone": "valid",
        "newbie": "valid",
        "weekly": "valid",
    }
    bot = rows.reason[rows.user_id == "bot"].iloc[0]
    assert bot == "core: events_total >= events_total_p80 [events_total=31, events_total_p80=18.2]"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            '[[tiers]]\nname = "core"\nrule = "clv >= clv_p9O"\n[[tiers]]\nname = "valid"\n'
            'rule = "true"\n',
            '[[tiers]] "core": rule "clv >= clv_p9O" cannot be used (Binder Error: Referenced '
            'column "clv_p9O" not found in FROM clause!); columns are: run_id, product_id,',
        ),
        (
            '[[tiers]]\nname = "core"\nrule = "clv >="\n[[tiers]]\nname = "valid"\nrule = "true"\n',
            '[[tiers]] "core": rule "clv >=" cannot be used (Parser Error: syntax error at or near '
            '">="); columns are: run_id,',
        ),
        (
            '[[tiers]]\nname = "core"\nrule = "true) FROM tier_inputs; DROP TABLE runs; SELECT (1"'
            '\n[[tiers]]\nname = "valid"\nrule = "true"\n',
            '[[tiers]] "core": rule "true) FROM tier_inputs; DROP TABLE runs; SELECT (1" cannot be '
            'used (Parser Error: syntax error at or near ")")',
        ),
        (
            '[[tiers]]\nname = "vip"\nrule = "true"\n',
            '[[tiers]] name = "vip": expected one of "junk", "new", "valid", "active", "core", '
            '"at_risk", "churned"',
        ),
        (
            '[[tiers]]\nname = "core"\nrule = "clv > 0"\n',
            '[[tiers]] the last rule ("core") must be rule = "true", so that every user gets '
            "exactly one name",
        ),
        (
            '[[tiers]]\nname = "core"\n',
            '[[tiers]] #1 is missing the required key "rule" (a DuckDB boolean expression)',
        ),
        (
            '[[rfm.segments]]\nname = "Top"\nrule = "r_scor = 5"\n[[rfm.segments]]\n'
            'name = "Rest"\nrule = "true"\n',
            '[[rfm.segments]] "Top": rule "r_scor = 5" cannot be used (Binder Error: Referenced '
            'column "r_scor" not found in FROM clause!); columns are: run_id,',
        ),
    ],
)
def test_policy_errors_name_the_rule_and_columns(write_pipeline, tmp_path, policy, message):
    path = write_pipeline(tmp_path / "events.csv", extra=policy)
    with pytest.raises(ConfigError) as error:
        run_pipeline(load_pipeline(path))
    assert str(error.value).startswith(f"{path}: {message}")
    assert not (tmp_path / "out").exists()  # checked before any work


def test_product_with_a_single_buyer_falls_back_without_crashing(run, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,event_time,event_type,amount\n"
        "solo,2024-05-01 10:00:00,purchase,10\nsolo,2024-06-01 10:00:00,purchase,20\n"
        "window,2024-06-02 10:00:00,visit,\n"
    )
    mapping = (
        '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
        'event_type = "event_type"\namount = "amount"\n'
    )
    _, warehouse = run(events, mapping=mapping)
    scores = query(warehouse, "SELECT user_id, p_alive, clv FROM latest_scores ORDER BY user_id")
    assert scores.p_alive.isna().all() and scores.clv.isna().all()
    fallbacks = query(
        warehouse, "SELECT model, note FROM model_params WHERE param = 'fallback' ORDER BY model"
    )
    assert "bgnbd" in set(fallbacks.model) and "gamma_gamma" in set(fallbacks.model)
    assert fallbacks.note[fallbacks.model == "bgnbd"].iloc[0].startswith("1 users with repeat")
    tiers = query(warehouse, "SELECT count(*) AS n FROM latest_tiers")
    assert tiers.n[0] == 2
