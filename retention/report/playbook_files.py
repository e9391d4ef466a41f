"""What to do today: per playbook, the files to upload, how many people, the last uplift.

The files are those of the run's export folder, read from its manifest.json
(file, profile, channel, rows). The folder is found from the warehouse's
`sends.file` (the folder name) inside the exports folder: the pipeline's
when the report was asked for a pipeline, else `<warehouse stem>-exports`
or `exports` beside the warehouse. It counts only when its manifest names
the same run. When no folder is found (the report was copied elsewhere, the
files were already moved), the counts still show, without links, so the
page never links to a file that is not there. Links are relative to the
report, so the report and the exports folder can move together.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

from retention.report.context import Context
from retention.report.formats import esc, fmt_int, fmt_points, is_missing
from retention.report.markup import Html, table

GENERIC = "generic"


def find_export_folder(
    warehouse: Path, names: list[str], run_id: int, exports: Path | None
) -> Path | None:
    """The run's export folder, or None when none of the candidates holds its manifest."""
    roots = [exports] if exports else []
    roots += [warehouse.with_name(f"{warehouse.stem}-exports"), warehouse.with_name("exports")]
    for root in roots:
        for name in names:
            folder = root / name
            if _manifest(folder).get("run_id") == run_id:
                return folder
    return None


def _manifest(folder: Path) -> dict:
    try:
        loaded = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def manifest_files(folder: Path | None) -> list[dict]:
    """The manifest's file entries that are still on disk."""
    if folder is None:
        return []
    entries = _manifest(folder).get("files", [])
    return [e for e in entries if isinstance(e, dict) and (folder / str(e.get("file"))).is_file()]


def link(ctx: Context, file: str, label: str) -> str:
    """An <a> to a file of the export folder (found: ctx.exports), relative to the report."""
    relative = os.path.relpath(ctx.exports / file, ctx.out.resolve().parent)
    href = urllib.parse.quote(Path(relative).as_posix())
    return f'<a href="{esc(href)}">{esc(label)}</a>'


def today(ctx: Context) -> str:
    """Per playbook: people to contact, the file(s) with them, held out, the last uplift."""
    rows = ctx.query("playbook_people", ("playbook_assignments",))
    if not rows:
        return ""
    files = manifest_files(ctx.exports)
    uplift = {r["playbook"]: r for r in ctx.query("last_uplift", ("uplift_results",))}
    playbooks: dict[str, list[dict]] = {}
    for r in rows:
        playbooks.setdefault(r["playbook"], []).append(r)
    table_rows = [
        (
            name, sum(r["to_contact"] for r in channels), Html(_files_cell(ctx, files, channels)),
            sum(r["held_out"] for r in channels), sum(r["left_out"] for r in channels),
            Html(_uplift_cell(uplift.get(name))),
        )
        for name, channels in playbooks.items()
    ]  # fmt: skip
    columns = [("Playbook", None), ("To contact", fmt_int), ("Files to upload", None)]
    columns += [("Held out", fmt_int), ("Left out", fmt_int)]
    columns += [("Last measured uplift (share active)", None)]
    return _folder_note(ctx, files) + table(columns, table_rows, cls="playbooks-today")


def _folder_note(ctx: Context, files: list[dict]) -> str:
    if ctx.exports is None:
        return (
            '<p class="meta warn">The export folder of this run was not found next to the '
            "warehouse, so the files are not linked; the counts are from the warehouse.</p>"
        )
    tools = [e for e in files if e.get("profile") != GENERIC]
    parts = [f"Files of export folder {esc(ctx.exports.name)} (links open the file)."]
    if tools:
        listed = ", ".join(
            link(ctx, str(e["file"]), f"{e['file']} ({fmt_int(e.get('rows'))} rows)") for e in tools
        )
        parts.append(f"Campaign-tool files, every playbook in one file per channel: {listed}.")
    parts.append("Each file holds every product's people of that playbook.")
    return f'<p class="meta">{" ".join(parts)}</p>'


def _files_cell(ctx: Context, files: list[dict], channels: list[dict]) -> str:
    """One line per channel with people to contact: its file(s), or the count alone."""
    lines = []
    for row in channels:
        if not row["to_contact"] or row["channel"] is None:
            continue
        mine = [
            e for e in files
            if e.get("profile", GENERIC) == GENERIC
            and e.get("playbook") == row["playbook"] and e.get("channel") == row["channel"]
        ]  # fmt: skip
        label = esc(f"{row['channel']}: {fmt_int(row['to_contact'])} people")
        if mine:
            label += " in " + ", ".join(
                link(ctx, str(e["file"]), f"{e['file']} ({fmt_int(e.get('rows'))} rows)")
                for e in mine
            )
        elif ctx.exports is not None:
            label += " (no file found)"
        lines.append(label)
    return "<br>".join(lines) or "nothing to send"


def _uplift_cell(row: dict | None) -> str:
    if row is None:
        return '<span class="flat">not measured yet</span>'
    if is_missing(row["difference"]):
        return '<span class="flat">measured, no difference computable</span>'
    low, high = row["ci_lower"], row["ci_upper"]
    interval = f" (95% CI {fmt_points(low)} to {fmt_points(high)})" if not is_missing(low) else ""
    clear = not is_missing(low) and (low > 0 or high < 0)
    tone = ("up" if low > 0 else "down") if clear else "flat"
    verdict = "" if clear else "; not distinguishable from 0"
    pooled = " (all products pooled)" if row.get("product_id") is None else ""
    return (
        f'<span class="{tone}">{esc(fmt_points(row["difference"]))}{esc(interval)}</span>'
        f" over {row['horizon_days']} days after run {row['run_id']}{pooled}{verdict}"
    )


def outcomes(ctx: Context) -> str:
    """Users per playbook: exported, held out, and not sent for each reason."""
    rows = ctx.rows(
        "playbook_assignments",
        "SELECT coalesce(playbook, '(none)') AS playbook, "
        "coalesce(suppressed_reason, 'sent') AS outcome, count(*) AS users "
        "FROM playbook_assignments WHERE run_id = $run_id AND product_id = $product GROUP BY ALL",
    )
    if not rows:
        return ""
    counts = {(r["playbook"], r["outcome"]): r["users"] for r in rows}
    playbooks = sorted({r["playbook"] for r in rows}, key=lambda p: (p == "(none)", p))
    reasons = sorted({r["outcome"] for r in rows} - {"sent", "holdout"})
    columns = [("Playbook", None), ("Sent", fmt_int), ("Holdout", fmt_int)]
    columns += [(reason.replace("_", " "), fmt_int) for reason in reasons]
    table_rows = [
        (p, *(counts.get((p, outcome), 0) for outcome in ["sent", "holdout", *reasons]))
        for p in playbooks
    ]
    intro = '<p class="meta">Users per playbook: sent, held out, and not sent for each reason.</p>'
    return intro + table(columns, table_rows, cls="playbooks")
