"""benchmarks/run.py on a tiny log: every contender runs and gets a positive time.

Keeps the benchmark runner from rotting; it writes to a temporary folder and
never touches benchmarks/README.md or benchmarks/results/.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent
RUNNER = REPO / "benchmarks" / "run.py"
README = REPO / "benchmarks" / "README.md"


def test_runner_measures_every_contender(tmp_path):
    readme_before = README.read_bytes() if README.exists() else None
    out, data = tmp_path / "results", tmp_path / "data"
    command = [sys.executable, str(RUNNER), "--sizes", "1000u", "--repeat", "1", "--no-readme"]
    command += ["--out", str(out), "--data", str(data)]

    done = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    (path,) = out.glob("*-1000u.json")
    result = json.loads(path.read_text())
    assert result["dataset"]["users"] == 1000 and result["dataset"]["event_rows"] > 20_000
    for name in ("baseline", "retention", "floor", "retention_constrained"):
        contender = result["contenders"][name]
        assert contender["n"] == 1, contender["runs"]
        assert contender["median"]["wall_seconds"] > 0
        assert contender["median"]["max_rss_bytes"] > 0
    stages = result["contenders"]["retention"]["median"]["stages"]
    assert {"staging", "features", "scores"} <= set(stages)
    assert result["ratios"]["run_speedup"] > 0
    assert result["ratios"]["btyd_speedup"] > 0  # the run timed its BTYD steps (run_steps)
    assert result["ratios"]["params"]["shop"]["bgnbd"]["max_rel_diff"] < 1e-3
    assert (README.read_bytes() if README.exists() else None) == readme_before


def test_regenerating_the_readme_keeps_every_fenced_section(tmp_path):
    # run.py rewrites benchmarks/README.md; the sections other scripts write survive it
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from readme_sections import update_section; from report import write_readme;"
        "readme = Path(sys.argv[2]);"
        "update_section(readme, 'one', '## One\\n\\nfirst');"
        "update_section(readme, 'two', '## Two\\n\\nsecond');"
        "update_section(readme, 'one', '## One\\n\\nfirst, again');"
        "write_readme(Path(sys.argv[3]), readme)"
    )
    readme = tmp_path / "README.md"
    command = [sys.executable, "-c", script, str(REPO / "benchmarks"), str(readme), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert text.startswith("# Benchmarks")
    assert "first, again" in text and "\nfirst\n" not in text
    assert text.index("## One") < text.index("## Two")
    assert text.count("<!-- one: begin -->") == 1 and text.count("<!-- two: end -->") == 1
