"""Results as plain text for a terminal: what `retention run`, `evaluate` and `uplift` print.

The command line echoes these; `--json` prints the results' `to_dict()`
instead, so nothing a script needs lives only in this text.
"""

from __future__ import annotations

import json
from pathlib import Path

from retention.config.defaults import TIERS
from retention.results import Evaluation, PolicyComparison, RunResult

REASON_WORDS = {  # playbook_assignments.suppressed_reason, for an operator
    "junk": "junk (test or bot accounts)",
    "no_playbook": "in a tier no playbook serves",
    "no_contact": "with no contact row",
    "invalid_email": "with an invalid email",
    "invalid_phone": "with an invalid phone",
    "not_mobile": "with no mobile number",
    "suppressed_list": "on the suppression list",
    "malformed_contact_row": "with an unreadable contact row",
    "no_email_consent": "without email consent",
    "no_sms_consent": "without SMS consent",
    "frequency_cap": "over the frequency cap",
}
REPORT_ORDER = ("core", "active", "valid", "at_risk", "churned", "new", "junk")  # by value


def run_summary(result: RunResult) -> str:
    """What a run staged, rejected and ignored, its tiers and playbooks, and where it wrote."""
    counts = result.counts
    published = "published" if result.latest else "stored as a backfill (latest_* keep a newer day)"
    lines = [
        f"run {result.run_id} {published} (as_of {result.as_of}, {result.seconds:.1f} s)",
        f"events: {counts.rows_read:,} read, {counts.rows_staged:,} staged, "
        f"{counts.rows_rejected:,} rejected, {counts.rows_duplicate:,} duplicates dropped, "
        f"{counts.rows_after_as_of:,} after as_of ignored",
    ]
    for product, users in result.users.items():
        by_tier = result.tiers[product]
        tiers = ", ".join(f"{tier} {by_tier[tier]:,}" for tier in TIERS if tier in by_tier)
        lines.append(f"users in {product}: {users:,} ({tiers})")
    for playbook, outcomes in result.assignments.items():
        lines.append(_playbook_line(playbook, outcomes))
    if result.export_dir:
        lines += export_lines(result.export_dir)
    lines.append(f"warehouse: {result.warehouse}")
    lines.append(f'query it:  retention sql {result.warehouse} "SELECT * FROM tier_summary"')
    return "\n".join(lines)


def _playbook_line(playbook: str, outcomes: dict[str, int]) -> str:
    """One playbook's outcome in words: who was sent, held out, and why the rest were not."""
    not_sent = sorted(
        (
            (users, reason)
            for reason, users in outcomes.items()
            if reason not in ("sent", "holdout")
        ),
        reverse=True,
    )
    reasons = ", ".join(
        f"{users:,} {REASON_WORDS.get(reason, reason)}" for users, reason in not_sent
    )
    if playbook == "(none)":
        return f"not in any playbook: {reasons}"
    line = f"playbook {playbook}: {outcomes.get('sent', 0):,} sent"
    line += f", {outcomes.get('holdout', 0):,} held out to measure it"
    return line + (f"; not sent: {reasons}" if reasons else "")


def export_lines(folder: Path) -> list[str]:
    """Where each profile's files are, with their rows (from the folder's manifest)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    rows_by_profile: dict[str, dict[str, int]] = {}
    for entry in manifest["files"]:
        channels = rows_by_profile.setdefault(entry.get("profile", "generic"), {})
        channels[entry["channel"]] = channels.get(entry["channel"], 0) + entry["rows"]
    lines = [f"exports:   {folder}"]
    for profile, channels in rows_by_profile.items():
        where = folder if profile == "generic" else folder / profile
        counted = ", ".join(f"{channel} {rows:,}" for channel, rows in channels.items())
        unit = "rows" if profile == "generic" else "people"
        tool = manifest.get("profiles", {}).get(profile, {}).get("tool", profile)
        lines.append(f"  {profile} ({tool}): {where} ({unit}: {counted})")
    return lines


def run_profile(result: RunResult, peak_kib: int) -> str:
    """Seconds, share of the run and rows per stage, its steps that take 2% of
    the run or more, then the process's peak memory."""
    lines = [f"{'stage':<14}{'seconds':>9}{'share':>8}{'rows':>14}"]
    for stage in result.stages:
        share = stage.seconds / result.seconds if result.seconds else 0.0
        rows_text = f"{stage.rows:,}" if stage.rows is not None else ""
        lines.append(f"{stage.stage:<14}{stage.seconds:>9.2f}{share:>8.0%}{rows_text:>14}")
        steps = sorted(
            (step for step in result.steps if step.stage == stage.stage), key=lambda s: -s.seconds
        )
        for step in steps:
            if step.seconds >= 0.02 * result.seconds:
                times = f" (x{step.calls})" if step.calls > 1 else ""
                lines.append(f"  {step.step}{times}: {step.seconds:.2f} s")
    other = max(result.seconds - sum(stage.seconds for stage in result.stages), 0.0)
    lines.append(
        f"{'other':<14}{other:>9.2f}{other / result.seconds:>8.0%}  (checks, copy, publish)"
    )
    lines.append(f"{'total':<14}{result.seconds:>9.2f}")
    lines.append(f"peak memory (RSS): {peak_kib / 1024:,.0f} MiB")
    return "\n".join(lines)


def evaluation_tables(result: Evaluation) -> str:
    """Plain-text tables of an evaluation, one block per product."""
    blocks = [
        f"evaluation {result.evaluation_id}: as_of {result.as_of}, next {result.horizon_days} days"
    ]
    order = {tier: i for i, tier in enumerate(REPORT_ORDER)}
    for product, tiers in result.tiers.groupby("product_id", sort=True):
        tiers = tiers.sort_values("tier", key=lambda s: s.map(order))
        lines = [
            f"{product}",
            f"  {'tier':<10}{'users':>8}{'active':>9}{'purchases/user':>16}{'revenue/user':>14}",
        ]
        for row in tiers.itertuples():
            revenue = _number(row.revenue_per_user, "{:.2f}")
            lines.append(
                f"  {row.tier:<10}{row.users:>8,}{row.share_active:>9.1%}"
                f"{row.purchases_per_user:>16.3f}{revenue:>14}"
            )
        buckets = result.buckets[result.buckets.product_id == product]
        if len(buckets):
            lines.append(f"  {'frequency':<10}{'users':>8}{'predicted':>11}{'actual':>9}")
            for row in buckets.itertuples():
                lines.append(
                    f"  {row.bucket:<10}{row.users:>8,}{row.predicted_per_user:>11.3f}"
                    f"{row.actual_per_user:>9.3f}"
                )
        metrics = result.model[result.model.product_id == product]
        for row in metrics.itertuples():
            lines.append(f"  {row.metric}: {_metric(row.value)}")
        lines += _verdicts(result, product, "  ")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def comparison_tables(comparison: PolicyComparison) -> str:
    """Both policies' tiers side by side per product, their verdicts, and the tier moves."""
    base, candidate = comparison.base, comparison.candidate
    order = {tier: i for i, tier in enumerate(REPORT_ORDER)}
    lines = [
        f"policy replay: as_of {base.as_of}, next {base.horizon_days} days "
        f"(evaluations {base.evaluation_id} and {candidate.evaluation_id})"
    ]
    products = sorted(set(base.tiers.product_id) | set(candidate.tiers.product_id))
    for product in products:
        lines += [
            product,
            f"  {'tier':<10}{'base users':>12}{'active':>9}{'candidate':>12}{'active':>9}",
        ]
        sides = [
            t[t.product_id == product].set_index("tier") for t in (base.tiers, candidate.tiers)
        ]
        for tier in sorted(set(sides[0].index) | set(sides[1].index), key=lambda x: order[x]):
            cells = []
            for side in sides:
                if tier in side.index:
                    cells += [f"{side.users[tier]:>12,}", f"{side.share_active[tier]:>9.1%}"]
                else:
                    cells += [f"{'-':>12}", f"{'':>9}"]
            lines.append(f"  {tier:<10}" + "".join(cells))
        for name, side in (("base", base), ("candidate", candidate)):
            lines += _verdicts(side, product, f"  {name}: ")
        moves = comparison.moves[
            (comparison.moves.product_id == product)
            & (comparison.moves.tier_base != comparison.moves.tier_candidate)
        ].sort_values("users", ascending=False)
        moved = int(moves.users.sum())
        lines.append(f"  users who move: {moved:,}")
        for row in moves.head(12).itertuples():
            lines.append(f"    {row.tier_base} -> {row.tier_candidate}: {row.users:,}")
    return "\n".join(lines)


def uplift_table(results) -> str:
    """Per playbook, product (all: pooled) and metric: sent vs holdout, difference, 95%
    interval and lift."""
    lines = [
        f"{'playbook':<22}{'product':<14}{'metric':<11}{'sent':>8}{'holdout':>9}{'sent':>9}"
        f"{'holdout':>9}{'diff':>9}{'95% interval':>22}{'lift':>8}"
    ]
    for row in results.itertuples():
        values = [
            _number(getattr(row, name), "{:.3f}")
            for name in ("sent_value", "holdout_value", "difference", "ci_lower", "ci_upper")
        ]
        product = row.product_id if isinstance(row.product_id, str) else "all"  # None, NaN
        lines.append(
            f"{row.playbook:<22}{product:<14}{row.metric:<11}{row.sent_users:>8,}"
            f"{row.holdout_users:>9,}"
            f"{values[0]:>9}{values[1]:>9}{values[2]:>9}  [{values[3]:>8}, {values[4]:>8}]"
            f"{_number(row.relative_lift, '{:.1%}'):>8}"
        )
    return "\n".join(lines)


def _verdicts(result: Evaluation, product: str, prefix: str) -> list[str]:
    """The PASS / FAIL lines of a product's policy checks."""
    if result.checks is None:
        return []
    rows = result.checks[result.checks.product_id == product].itertuples()
    return [
        f"{prefix}{'PASS' if row.passed else 'FAIL'} share active falls: {row.detail}"
        for row in rows
    ]


def _number(value, spec: str) -> str:
    """A value in `spec`, or "n/a" where there is none (no amounts, an empty holdout)."""
    if value is None or value != value:  # NaN
        return "n/a"
    return spec.format(value)


def _metric(value: float) -> str:
    """Counts as whole numbers with separators, rates and errors with 4 decimals."""
    if value != value:
        return "n/a"
    if float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:,.4f}"
