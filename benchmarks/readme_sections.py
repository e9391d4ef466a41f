"""Sections of benchmarks/README.md that one benchmark script writes and the others keep.

run.py regenerates the README from its result files; a side benchmark (source
reads, the Spark engine, contact checks) writes only its own section, fenced
by `<!-- name: begin -->` / `<!-- name: end -->`. Regenerating the README
carries every fenced section over unchanged, so no script drops another's
figures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

FENCED = re.compile(r"<!-- ([a-z_]+): begin -->\n.*?<!-- \1: end -->\n?", re.DOTALL)


def fence(name: str, text: str) -> str:
    """`text` between the begin and end markers of section `name`."""
    return f"<!-- {name}: begin -->\n{text.strip()}\n<!-- {name}: end -->\n"


def fenced_sections(readme_text: str) -> list[str]:
    """Every fenced section of a README text, markers included, in order."""
    return [match.group(0).rstrip("\n") + "\n" for match in FENCED.finditer(readme_text)]


def update_section(readme: Path, name: str, text: str) -> None:
    """Replace section `name` of the README (or append it) with `text`."""
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    section = fence(name, text)
    pattern = re.compile(rf"<!-- {name}: begin -->\n.*?<!-- {name}: end -->\n?", re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _: section, current, count=1)
    else:
        current = current.rstrip("\n") + "\n\n" + section
    readme.write_text(current, encoding="utf-8")


def record_result(
    out: Path,
    name: str,
    stem: str,
    result: dict,
    section: Callable[[list[dict]], str],
    readme: bool,
) -> None:
    """Write `<out>/<name>/<stem>.json` and, when `readme`, rewrite section `name` of
    benchmarks/README.md from every result file in that folder."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    if readme:
        results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
        update_section(Path(__file__).resolve().parent / "README.md", name, section(results))
