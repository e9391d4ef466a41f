"""engine = "spark" fails before any stage runs when it cannot work: the spark extra is
missing, or a rule is outside the portable subset (Spark would run it with another
meaning, or not at all, only after staging, features and scores had run)."""

from __future__ import annotations

import dataclasses

import pytest

from retention.config.defaults import Rule
from retention.config.pipeline_file import load_pipeline
from retention.errors import ConfigError
from retention.stages import policy_check
from tests.conftest import SAMPLE_PIPELINE

pytest.importorskip("sqlglot", reason="the portable-subset lint needs sqlglot")


def on_spark(tiers: tuple[Rule, ...] = ()):
    pipeline = load_pipeline(SAMPLE_PIPELINE)
    scores = dataclasses.replace(pipeline.scores, tiers=(*tiers, *pipeline.scores.tiers))
    run = dataclasses.replace(pipeline.run, engine="spark")
    return dataclasses.replace(pipeline, scores=scores, run=run)


@pytest.fixture
def spark_installed(monkeypatch):
    found = policy_check.importlib.util.find_spec
    monkeypatch.setattr(
        policy_check.importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "pyspark" else found(name, *a),
    )


def test_a_tier_rule_outside_the_portable_subset_fails_before_the_run(spark_installed):
    rule = Rule("at_risk", "isfinite(clv) and clv > 0")
    with pytest.raises(ConfigError, match=r"\[\[tiers\]\] 'at_risk': .*isfinite\(\)"):
        policy_check.check_policies(on_spark((rule,)))


def test_portable_rules_pass(spark_installed):
    policy_check.check_policies(on_spark((Rule("at_risk", "p_alive < 0.3 and clv > 0"),)))


def test_the_missing_spark_extra_is_one_sentence(monkeypatch):
    monkeypatch.setattr(policy_check.importlib.util, "find_spec", lambda name, *a: None)
    expected = r"needs the spark extra .*pip install 'retention\[spark\]'"
    with pytest.raises(ConfigError, match=expected):
        policy_check.check_policies(on_spark())
