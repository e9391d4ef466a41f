"""The speed targets, judged from the result files: the paragraph above the results table.

Each target names the ratio it reads, its threshold and the smallest log it
applies to; "met" / "not met" is computed per size from the recorded ratios
(and, for memory, from the memory-limited run's peak RSS), never written by
hand, so a reader sees at a glance which targets hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from formatting import fmt_bytes, fmt_x
from results import constrained_check

#: The targets apply from the 10M logs up (10M at both events-per-user ratios).
FROM_10M = 9_500_000


@dataclass(frozen=True)
class Target:
    ratio: str  # key in a result's "ratios"
    name: str
    goal: str
    at_least: float | None = None
    at_most: float | None = None
    min_events: int = 0

    def met(self, value: float) -> bool:
        if self.at_least is not None and value < self.at_least:
            return False
        return self.at_most is None or value <= self.at_most


TARGETS = (
    Target("btyd_speedup", "(a) BTYD", "at least 5× faster", at_least=5),
    Target(
        "run_speedup",
        "(b) whole run",
        "at least 2× faster than the baseline, from 10M events",
        at_least=2,
        min_events=FROM_10M,
    ),
    Target(
        "features_vs_floor",
        "(c) features",
        "within 5× the floor, from 10M events",
        at_most=5,
        min_events=FROM_10M,
    ),
)
MEMORY_GOAL = "peak RSS under memory_limit + 1 GiB"


def targets_paragraph(results: list[dict]) -> str:
    """One sentence per target: the goal, then where it is met and where not."""
    sentences = [_ratio_sentence(target, results) for target in TARGETS]
    sentences.append(f"Memory-limited run, {MEMORY_GOAL}: {_memory_verdicts(results)}.")
    return "**Targets** (met or not, computed from the table): " + " ".join(sentences) + "\n"


def _ratio_sentence(target: Target, results: list[dict]) -> str:
    verdicts = []
    for result in results:
        value = result["ratios"].get(target.ratio)
        if value is None or result["dataset"]["event_rows"] < target.min_events:
            continue
        verdicts.append((target.met(value), f"{result['size']} ({fmt_x(value)})"))
    return f"{target.name} {target.goal}: {_grouped(verdicts)}."


def _memory_verdicts(results: list[dict]) -> str:
    verdicts = []
    for result in results:
        limited = result["contenders"].get("retention_constrained")
        if not limited or not limited.get("n"):
            continue
        settings, limit, under = constrained_check(limited)
        peak = fmt_bytes(limited.get("peak_rss_bytes"))
        limit_text = f"{limit / 2**30:g} GiB"
        text = f"{result['size']} ({peak} with {settings['memory_limit']}, limit {limit_text})"
        verdicts.append((bool(under), text))
    return _grouped(verdicts)


def _grouped(verdicts: list[tuple[bool, str]]) -> str:
    """'met at A; not met at B, C', or 'not measured yet'."""
    if not verdicts:
        return "not measured yet"
    parts = []
    for met, word in ((True, "met"), (False, "not met")):
        sizes = [text for ok, text in verdicts if ok is met]
        if sizes:
            parts.append(f"{word} at {', '.join(sizes)}")
    return "; ".join(parts)
