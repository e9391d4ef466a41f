"""Built-in rule lists: the RFM segment map and the default tier policy.

Both are ordered lists of (name, rule): a rule is a DuckDB boolean expression
over a user's feature and score columns, tried in order, first match wins, and
the last rule is `true` so every user gets exactly one answer. A pipeline file
may replace either list (`[[rfm.segments]]`, `[[tiers]]`). The README explains
each default threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("junk", "new", "valid", "active", "core", "at_risk", "churned")


@dataclass(frozen=True)
class Rule:
    name: str
    rule: str


# RFM segments over r_score, f_score, m_score (1-5, 5 best) and
# fm_score = round((f_score + m_score) / 2) (f_score alone without amounts).
# Users without a purchase get "No Purchase" before these rules are tried.
RFM_SEGMENTS = (
    Rule("Champions", "r_score >= 4 AND fm_score >= 4"),
    Rule("Loyal", "r_score >= 3 AND fm_score >= 3"),
    Rule("New", "r_score >= 4 AND purchases = 1"),
    Rule("Potential Loyalist", "r_score >= 4 AND fm_score >= 2"),
    Rule("Promising", "r_score >= 4"),
    Rule("Need Attention", "r_score = 3 AND fm_score >= 2"),
    Rule("About to Sleep", "r_score = 3"),
    Rule("Can't Lose Them", "r_score <= 2 AND fm_score = 5"),
    Rule("At Risk", "r_score <= 2 AND fm_score >= 3"),
    Rule("Hibernating", "r_score = 2"),
    Rule("Lost", "true"),
)
NO_PURCHASE_SEGMENT = "No Purchase"

# The default tier policy. Quantile columns such as clv_p90 are computed per
# product when a rule names them (<column>_p<NN>).
DEFAULT_TIERS = (
    # Scripts and bots: no purchase and a pace no person keeps up.
    Rule(
        "junk", "purchases = 0 AND (peak_events_per_minute >= 20 OR events_per_active_day >= 200)"
    ),
    # Younger than the product's typical gap between active days: not judged yet.
    Rule("new", "tenure_days < onboarding_days"),
    # Seen recently (for this product), and the top tenth of its CLV while
    # likely alive, or near-daily use.
    Rule(
        "core",
        "days_since_last_seen < recent_days AND ((clv >= clv_p90 AND p_alive >= 0.5) "
        "OR active_days_30d >= 15)",
    ),
    # Weekly or more: at least 4 active days in the last 30, and seen recently.
    Rule("active", "active_days_30d >= 4 AND days_since_last_seen < recent_days"),
    # Seen within the product's recent window, less often: a real user, not active (yet).
    Rule("valid", "days_since_last_seen < recent_days"),
    # Quiet longer than the product's users usually are, not yet as long as
    # returning users rarely stay away: the win-back window. A user who came
    # back before has shown a rhythm of their own: they stay in it twice as long.
    Rule(
        "at_risk",
        "days_since_last_seen < churn_after_days "
        "OR (active_days >= 2 AND days_since_last_seen < 2 * churn_after_days)",
    ),
    # Quiet longer than returning users of this product almost ever are.
    Rule("churned", "days_since_last_seen >= churn_after_days"),
    # The policy must end in a rule that always holds; the rules above leave
    # nobody for it.
    Rule("churned", "true"),
)


@dataclass(frozen=True)
class Playbook:
    """A re-engagement play: who gets it, through which channels, with what offer."""

    name: str
    tiers: tuple[str, ...]
    filter: str | None
    channels: tuple[str, ...]  # in order of preference: email, sms, call
    holdout_share: float
    priority: int  # the highest matching priority wins
    offer: tuple[tuple[str, str], ...] = ()


# The built-in catalogue (DESIGN.md's plays). junk never gets a playbook.
DEFAULT_PLAYBOOKS = (
    Playbook(
        "vip_service",
        ("core",),
        None,
        ("call", "email"),
        0.05,
        50,
        (
            ("perk", "dedicated account manager, early access, extra points"),
            ("template_id", "vip-service"),
        ),
    ),
    Playbook(
        "activity_events",
        ("active",),
        None,
        ("email", "sms"),
        0.1,
        40,
        (("perk", "double points this week"), ("template_id", "activity-events")),
    ),
    Playbook(
        "win_back",
        ("at_risk",),
        None,
        ("email", "sms"),
        0.1,
        30,
        (("offer_code", "COMEBACK15"), ("template_id", "win-back")),
    ),
    Playbook(
        "first_purchase_perk",
        ("valid",),
        "purchases = 0",
        ("email", "sms"),
        0.1,
        25,
        (("offer_code", "FIRST10"), ("template_id", "first-purchase")),
    ),
    Playbook(
        "reason_to_return",
        ("valid",),
        None,
        ("email", "sms"),
        0.1,
        20,
        (("template_id", "hot-topics-digest"),),
    ),
    Playbook(
        "onboarding",
        ("new",),
        None,
        ("email",),
        0.1,
        10,
        (("template_id", "onboarding-series"),),
    ),
    Playbook(
        "reactivation",
        ("churned",),
        "days_since_last_seen < 365",
        ("email",),
        0.1,
        0,
        (("template_id", "low-frequency-reactivation"),),
    ),
)
