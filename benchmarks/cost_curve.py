"""How the cost of `retention run` grows with the log: the README's cost curve.

A run that costs the same per event at 1M and at 100M events scales linearly;
one whose cost per event climbs has a step that grows faster than the data.
One row per measured size, smallest first, with the numbers straight from the
result files: `retention run`'s median wall time and peak RSS, each per event,
the baseline's time per event where it ran, and the biggest stages per event.
At a size where the memory-limited run is the only `retention run`, that run
is used and marked.
"""

from __future__ import annotations

from dataclasses import dataclass

from formatting import fmt_bytes, fmt_count, fmt_s, fmt_us
from results import events_per_user, measured_retention

#: The stages shown per event: the ones that take most of a run.
CURVE_STAGES = ("staging", "features", "scores")
CONSTRAINED_MARK = "‡"


@dataclass(frozen=True)
class CostRow:
    size: str
    events: int
    users: int
    events_per_user: float
    wall_seconds: float
    rss_bytes: float
    constrained: bool  # the memory-limited run: no unconstrained run at this size
    baseline_wall_seconds: float | None
    stage_seconds: dict[str, float]

    @property
    def us_per_event(self) -> float:
        return self.wall_seconds * 1e6 / self.events

    @property
    def rss_bytes_per_event(self) -> float:
        return self.rss_bytes / self.events

    @property
    def baseline_us_per_event(self) -> float | None:
        if self.baseline_wall_seconds is None:
            return None
        return self.baseline_wall_seconds * 1e6 / self.events

    def stage_us_per_event(self, stage: str) -> float | None:
        seconds = self.stage_seconds.get(stage)
        return None if seconds is None else seconds * 1e6 / self.events


def cost_rows(results: list[dict]) -> list[CostRow]:
    """One row per size with a successful `retention run`, fewest events first."""
    rows = [row for row in map(cost_row, results) if row is not None]
    return sorted(rows, key=lambda row: row.events)


def cost_row(result: dict) -> CostRow | None:
    contenders = result["contenders"]
    ours, constrained = measured_retention(contenders)
    if ours is None:
        return None
    median = ours["median"]
    baseline = contenders.get("baseline") or {}
    baseline_wall = baseline.get("median", {}).get("wall_seconds") if baseline.get("n") else None
    return CostRow(
        size=result["size"],
        events=result["dataset"]["event_rows"],
        users=result["dataset"]["users"],
        events_per_user=events_per_user(result),
        wall_seconds=median["wall_seconds"],
        rss_bytes=median["max_rss_bytes"],
        constrained=constrained,
        baseline_wall_seconds=baseline_wall,
        stage_seconds=median.get("stages", {}),
    )


def cost_sentence(rows: list[CostRow]) -> str:
    """The change of cost per event from the smallest size to the largest, in words."""
    if not rows:
        return ""
    first, last = rows[0], rows[-1]
    if len(rows) == 1:
        return (
            f"One size measured so far: {fmt_us(first.us_per_event)} µs and "
            f"{fmt_count(first.rss_bytes_per_event)} bytes of peak RSS per event."
        )
    per_user = ""
    if abs(first.events_per_user - last.events_per_user) > 0.05 * last.events_per_user:
        per_user = f", at {first.events_per_user:.1f} and {last.events_per_user:.1f} per user"
    return (
        f"From {fmt_count(first.events)} to {fmt_count(last.events)} events "
        f"({last.events / first.events:,.0f}× as many{per_user}) the cost per event of "
        f"`retention run` changes from {fmt_us(first.us_per_event)} µs to "
        f"{fmt_us(last.us_per_event)} µs ({last.us_per_event / first.us_per_event:.2f}×), "
        f"and its peak RSS per event from {fmt_count(first.rss_bytes_per_event)} to "
        f"{fmt_count(last.rss_bytes_per_event)} bytes."
    )


def render_cost_curve(results: list[dict]) -> str:
    rows = cost_rows(results)
    if not rows:
        return ""
    stages = " | ".join(f"`{stage}` µs / event" for stage in CURVE_STAGES)
    lines = [
        "## How cost grows with size",
        "",
        "Per event, from the result files: `retention run`'s median wall time and median",
        "peak RSS divided by the events of the log, the baseline's the same way where it",
        "ran, and the biggest stages (`run_stages`).",
        "",
        "| size | events | users | events / user | `retention run` | µs / event "
        f"| peak RSS | bytes / event | baseline µs / event | {stages} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(CURVE_STAGES),
    ]
    lines += [_curve_line(row) for row in rows]
    lines += ["", cost_sentence(rows)]
    if any(row.constrained for row in rows):
        lines += [
            "",
            f"{CONSTRAINED_MARK} the memory-limited run: the only `retention run` at that size.",
        ]
    return "\n".join(lines) + "\n"


def _curve_line(row: CostRow) -> str:
    mark = f" {CONSTRAINED_MARK}" if row.constrained else ""
    stages = " | ".join(fmt_us(row.stage_us_per_event(stage)) for stage in CURVE_STAGES)
    return (
        f"| {row.size} | {fmt_count(row.events)} | {fmt_count(row.users)} "
        f"| {row.events_per_user:.1f} | {fmt_s(row.wall_seconds)}{mark} "
        f"| {fmt_us(row.us_per_event)} | {fmt_bytes(row.rss_bytes)} "
        f"| {fmt_count(row.rss_bytes_per_event)} | {fmt_us(row.baseline_us_per_event)} "
        f"| {stages} |"
    )
