"""The HTML of the report around its charts: tables, heatmaps, the page and its style.

The page must open from an e-mail attachment on a phone with no network, so
the style sheet is inline and a Content Security Policy forbids loading or
running anything (`default-src 'none'`); the one toggle (cohort retention:
on or after day N, or on day N exactly) is a `<details>` element, which needs
no script. Tables head their rows and columns with `<th scope>`. Wide tables
scroll inside their own box, which shows shadows at an edge with more
columns and, on a narrow screen, a line saying so: the page itself never
scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from retention.report.formats import esc, is_missing

GENERATOR = "retention report"  # marks a file `retention report` may write again
SCROLL_HINT = "Swipe sideways for more columns →"
HINT_COLUMNS = 4  # narrower tables fit a phone

Column = tuple[str, Callable[[object], str] | None]  # header, formatter (None: text)


def table(columns: Sequence[Column], rows: Iterable[Sequence], caption: str = "", cls="") -> str:
    """A table whose first column heads each row; formatted columns are right-aligned.

    A cell may be `Html(...)`: markup built here (a link), inserted as it is."""
    head = "".join(
        f'<th scope="col"{"" if fmt is None else " class=num"}>{esc(h)}</th>' for h, fmt in columns
    )
    body = []
    for row in rows:
        cells = []
        for index, ((_, fmt), value) in enumerate(zip(columns, row, strict=True)):
            tag = "th" if index == 0 else "td"
            attrs = (' scope="row"' if index == 0 else "") + ("" if fmt is None else " class=num")
            text = (
                value.markup
                if isinstance(value, Html)
                else esc(value if fmt is None else fmt(value))
            )
            cells.append(f"<{tag}{attrs}>{text}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return scroll_box(
        f'<table class="{cls}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>",
        len(columns),
    )


def rows_table(columns: list[Column], rows: list[dict], cls: str) -> str:
    """Rows whose columns are the table's, in order; nothing when there are none."""
    return table(columns, [tuple(r.values()) for r in rows], cls=cls) if rows else ""


@dataclass(frozen=True)
class Html:
    """Markup made by the report itself (already escaped), for a table cell."""

    markup: str


def scroll_box(content: str, columns: int) -> str:
    hint = (
        f'<p class="hint" aria-hidden="true">{SCROLL_HINT}</p>' if columns >= HINT_COLUMNS else ""
    )
    return f'{hint}<div class="scroll" tabindex="0">{content}</div>'


@dataclass(frozen=True)
class HeatCell:
    """One cell of a heatmap table: its text, the 0..1 value that shades it, a tooltip."""

    text: str
    share: float | None = None
    title: str = ""


def heat_colour(share: object) -> str:
    """Background for a 0..1 value in a heatmap table: white to deep blue.

    Text stays dark on light cells and turns white on dark ones, so every cell
    keeps enough contrast to read.
    """
    if is_missing(share):
        return ""
    t = min(max(float(share), 0.0), 1.0) ** 0.6  # spread out the low end, where most cells sit
    red, green, blue = (round(255 + (end - 255) * t) for end in (8, 69, 148))
    text = "#fff" if t > 0.7 else "#111"  # both keep a contrast ratio above 4.5
    return f"background:rgb({red},{green},{blue});color:{text}"


def heat_table(
    corner: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[HeatCell]]], cls: str
) -> str:
    """A matrix with shaded cells (tier migration, cohort retention); empty cells stay blank."""
    head = "".join(f'<th scope="col" class="num">{esc(c)}</th>' for c in columns)
    body = []
    for label, cells in rows:
        tds = "".join(
            f'<td class="num" style="{heat_colour(c.share)}" title="{esc(c.title)}">'
            f"{esc(c.text)}</td>"
            for c in cells
        )
        body.append(f'<tr><th scope="row">{esc(label)}</th>{tds}</tr>')
    return scroll_box(
        f'<table class="{cls}"><thead><tr><th scope="col">{esc(corner)}</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        len(columns) + 1,
    )


def page(title: str, heading: str, facts: list[tuple[str, str]], nav, main: str) -> str:
    """The whole document: strict CSP (nothing may load, no script may run), styles inline.

    `facts` are (label, value) pairs shown under the heading; `nav` is (element id, label).
    """
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    links = "".join(f'<li><a href="#{esc(anchor)}">{esc(label)}</a></li>' for anchor, label in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="{GENERATOR}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><header>"
        f'<h1>{esc(heading)}</h1><dl class="facts">{items}</dl>'
        f'<nav aria-label="Sections"><ul>{links}</ul></nav></header>'
        f"<main>{main}</main></body></html>\n"
    )


CSS = """
:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--band:#f6f8fa;
--up:#116329;--down:#a40e26}
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:#fff;margin:0 auto;max-width:1120px;padding:16px 24px 48px;
overflow-wrap:anywhere}
h1{font-size:24px;margin:8px 0}h2{font-size:20px;border-bottom:2px solid var(--ink);
padding-bottom:4px;margin-top:40px}h3{font-size:16px;margin:28px 0 8px}
h4{font-size:14px;margin:16px 0 6px}
.facts{display:flex;flex-wrap:wrap;gap:8px 24px;margin:8px 0}.facts div{min-width:110px}
.facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;font-weight:600}
nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:6px 16px}
.meta{color:var(--muted);margin:4px 0}
.scroll{overflow-x:auto;max-width:100%;
background:linear-gradient(to right,#fff 30%,#fff0),linear-gradient(to left,#fff 30%,#fff0) 100% 0,
radial-gradient(farthest-side at 0 50%,#0003,#0000),
radial-gradient(farthest-side at 100% 50%,#0003,#0000) 100% 0;
background-repeat:no-repeat;background-size:40px 100%,40px 100%,14px 100%,14px 100%;
background-attachment:local,local,scroll,scroll}
.scroll:focus-visible{outline:2px solid #0969da}
.hint{display:none;color:var(--muted);font-size:12px;margin:6px 0 0}
table{border-collapse:collapse;margin:8px 0 12px;font-variant-numeric:tabular-nums}
caption{text-align:left;color:var(--muted);padding-bottom:4px}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap;
overflow-wrap:normal}
thead th{background:var(--band);font-weight:600;white-space:normal;vertical-align:bottom}
.num{text-align:right}
tbody tr:nth-child(even) th,tbody tr:nth-child(even) td:not([style]){background:#fbfcfd}
table.models td:nth-child(2){white-space:normal;max-width:520px}
table.playbooks-today td:nth-child(3),table.playbooks-today td:nth-child(6){white-space:normal;
min-width:200px}
.notes .warn,.warn{color:#8a4600}
.pass{color:var(--up);font-weight:600}.fail{color:var(--down);font-weight:600}
.up{color:var(--up)}.down{color:var(--down)}.flat{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:8px;
margin:8px 0 12px;padding:0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px;list-style:none}
.card .label{color:var(--muted);font-size:12px}.card .value{font-size:20px;font-weight:650}
.card .change{font-size:13px;display:block}
.moves{margin:6px 0 12px;padding-left:20px}.moves li{margin:2px 0}
.unsupported{color:var(--muted);font-style:italic}
figure{margin:12px 0}figcaption{color:var(--muted)}
svg.chart{display:block;max-width:100%;height:auto;margin:4px 0}
svg text{font:13px system-ui,sans-serif;fill:var(--ink)}
svg .grid{stroke:#8c959f;stroke-dasharray:1 4}svg .axis line{stroke:#6e7781}
.small-multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));
gap:4px 24px}
details{margin:8px 0}summary{cursor:pointer;color:#0550ae}
a{color:#0550ae}
@media (max-width:720px){body{padding:12px 16px 40px}.hint{display:block}
h1{font-size:20px}h2{font-size:18px}}
@media print{h2{break-before:page}.hint{display:none}}
"""
