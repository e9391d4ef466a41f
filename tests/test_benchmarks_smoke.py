"""benchmarks/run.py on a tiny log: every contender runs and gets a positive time.

Keeps the benchmark runner from rotting; it writes to a temporary folder and
never touches benchmarks/README.md or benchmarks/results/. Also its parts on
their own: sizes, the thinning to fewer events per user, the README's
rendering of skipped contenders and memory-limited runs, and the cost curve.
"""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).parent.parent
BENCHMARKS = REPO / "benchmarks"
RUNNER = BENCHMARKS / "run.py"
README = BENCHMARKS / "README.md"


@pytest.mark.slow
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


def test_a_memory_limited_run_alone_on_a_thinned_log(tmp_path):
    # the 100M row's shape: no baseline, no unconstrained runs, one run at a chosen memory_limit
    out, data = tmp_path / "results", tmp_path / "data"
    command = [sys.executable, str(RUNNER), "--sizes", "300u/10", "--repeat", "0"]
    command += ["--baseline-repeat", "0", "--constrained", "300u/10", "--memory-limit", "1GB"]
    command += ["--skip-reason", "too big", "--no-readme", "--out", str(out), "--data", str(data)]

    done = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    (path,) = out.glob("*-300u-per-user-10.json")
    result = json.loads(path.read_text())
    assert result["size"] == "300u/10"
    assert 9 < result["dataset"]["events_per_user"] < 11
    assert result["dataset"]["thinning"]["target_events_per_user"] == 10
    contenders = result["contenders"]
    assert contenders["baseline"]["n"] == 0 and contenders["baseline"]["skipped"] == "too big"
    assert contenders["retention"]["n"] == 0 and contenders["floor"]["n"] == 0
    limited = contenders["retention_constrained"]
    assert limited["n"] == 1 and limited["settings"] == {"memory_limit": "1GB", "threads": 2}
    assert limited["rss_limit_bytes"] == 2 * 2**30 and limited["under_rss_limit"] is True
    assert result["ratios"]["run_speedup"] is None


@pytest.fixture
def bench(monkeypatch):
    """Import a benchmark module by its bare name, as the scripts do; forgotten afterwards."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(BENCHMARKS)):
            del sys.modules[name]


@pytest.mark.parametrize(
    ("text", "users", "per_user", "slug"),
    [
        ("10M/10", 1_000_000, 10.0, "10M-per-user-10"),
        ("1M", 40_816, None, "1M"),
        ("300u", 300, None, "300u"),
        ("300u/12.5", 300, 12.5, "300u-per-user-12.5"),
    ],
)
def test_sizes_name_events_users_and_events_per_user(bench, text, users, per_user, slug):
    size = bench("sizes").parse_size(text)

    assert (size.label, size.users, size.events_per_user, size.slug) == (
        text,
        users,
        per_user,
        slug,
    )


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ("10X", "argument --sizes: size '10X': use events like 1M"),
        ("10M/30", "events per user must be above 0 and below the generator's 24.5"),
        ("1M,,", None),
    ],
)
def test_a_bad_size_is_an_argparse_error(bench, capsys, sizes, message):
    run = bench("run")
    if message is None:  # empty parts are ignored
        assert [s.label for s in run.parse_args(["--sizes", sizes]).sizes] == ["1M"]
        return
    with pytest.raises(SystemExit) as exit_info:
        run.parse_args(["--sizes", sizes])

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_rss_limit_is_the_memory_limit_plus_one_gib(bench):
    contenders = bench("contenders")

    assert contenders.rss_limit_bytes("2GB") == 3 * 2**30
    assert contenders.rss_limit_bytes("4GB") == 5 * 2**30
    assert contenders.rss_limit_bytes("512MB") == int(1.5 * 2**30)
    with pytest.raises(ValueError, match="use a number and MB, MiB, GB or GiB"):
        contenders.rss_limit_bytes("lots")


@pytest.fixture(scope="module")
def native_log(tmp_path_factory):
    from retention.sample import write_sample

    folder = tmp_path_factory.mktemp("native")
    return write_sample(folder, users=300, seed=11, contacts=False).events_path


def rows_by_type(path: Path, types: tuple[str, ...]) -> list[tuple]:
    query = (
        "SELECT event_type, count(*) FROM read_parquet(?) "
        "WHERE list_contains(?, event_type) GROUP BY ALL ORDER BY ALL"
    )
    with duckdb.connect() as con:
        return con.execute(query, [str(path), list(types)]).fetchall()


def copies_per_event(path: Path) -> dict[str, int]:
    query = "SELECT event_id, count(*) FROM read_parquet(?) GROUP BY ALL"
    with duckdb.connect() as con:
        return dict(con.execute(query, [str(path)]).fetchall())


def test_thinning_keeps_purchases_and_copies_and_reaches_the_ratio(bench, native_log, tmp_path):
    thinning = bench("thinning")
    first, again = tmp_path / "a.parquet", tmp_path / "b.parquet"

    done = thinning.thin_log(native_log, first, users=300, events_per_user=10, seed=5)
    thinning.thin_log(native_log, again, users=300, events_per_user=10, seed=5)

    assert abs(done.rows / 300 - 10) < 0.5 and 0 < done.keep_share < 1
    assert first.read_bytes() == again.read_bytes()  # the same seed keeps the same rows
    kept = thinning.KEPT_TYPES
    assert rows_by_type(first, kept) == rows_by_type(native_log, kept)
    native, thinned = copies_per_event(native_log), copies_per_event(first)
    assert {event: native[event] for event in thinned} == thinned  # copies kept together
    assert any(n > 1 for n in thinned.values())  # and some duplicated events are kept
    assert len(thinned) < len(native)


def test_a_thinned_log_is_made_once_and_cached_with_a_marker(bench, tmp_path):
    datasets, sizes = bench("datasets"), bench("sizes")
    size = sizes.parse_size("300u/10")

    made = datasets.ensure_dataset(tmp_path, size, seed=3)
    cached = datasets.ensure_dataset(tmp_path, size, seed=3)

    assert made.folder.name == "users-300-seed-3-per-user-10"
    assert made.generate_seconds is not None and cached.generate_seconds is None
    assert cached.event_rows == made.event_rows and cached.thinning == made.thinning
    marker = json.loads((made.folder / "dataset.json").read_text())
    assert marker["thinning"]["native_log"] == "users-300-seed-3"


GIB = 2**30


def a_run(wall: float, rss: float, stages: dict | None = None) -> dict:
    return {"wall_seconds": wall, "max_rss_bytes": rss, "major_faults": 0, "stages": stages or {}}


def a_result(bench, size: str, events: int, users: int, contenders: dict) -> dict:
    """A result file's content, summarised and with ratios as run.py makes them."""
    results = bench("results")
    summaries = {}
    for name, runs in contenders.items():
        extra = runs.pop() if runs and "skipped" in runs[-1] else {}
        summaries[name] = {**results.summarise(runs), **extra}
    return {
        "size": size,
        "date": "2026-12-02",
        "started_at": "2026-12-02T10:00:00",
        "command": f"python benchmarks/run.py --sizes {size}",
        "repeat": 1,
        "dataset": {"users": users, "event_rows": events, "file_bytes": 10**6, "seed": 1},
        "machine": {"cpu": "test", "cores": 2, "ram_bytes": 8 * GIB, "os": "test"},
        "software": {"python": "3.11", "commit": "abc"},
        "contenders": summaries,
        "ratios": results.ratios(summaries),
    }


def constrained(memory_limit: str, limit_gib: int, run: dict) -> dict:
    return {
        "settings": {"memory_limit": memory_limit, "threads": 2},
        "rss_limit_bytes": limit_gib * GIB,
        "under_rss_limit": run["max_rss_bytes"] < limit_gib * GIB,
    }


def test_a_size_without_baseline_and_one_with_only_the_memory_limited_run_render(bench):
    stages = {"staging": 20.0, "features": 30.0, "scores": 10.0}
    skipped_baseline = a_result(
        bench,
        "50M",
        50_000_000,
        2_000_000,
        {
            "baseline": [{"skipped": "needs ~25 GiB"}],
            "retention": [a_run(60.0, 9 * GIB, stages)],
            "floor": [a_run(1.2, 0.4 * GIB)],
        },
    )
    limited_run = a_run(200.0, 4.5 * GIB, stages)
    limited = {**bench("results").summarise([limited_run]), **constrained("4GB", 5, limited_run)}
    only_limited = a_result(
        bench,
        "100M",
        100_000_000,
        4_000_000,
        {
            "baseline": [{"skipped": "needs ~25 GiB"}],
            "retention": [{"skipped": "--repeat 0: only the memory-limited run"}],
            "floor": [{"skipped": "--repeat 0"}],
        },
    )
    only_limited["contenders"]["retention_constrained"] = limited

    text = bench("report").render([skipped_baseline, only_limited])

    lines = text.splitlines()
    headline = next(line for line in lines if line.startswith("| 50M | 50,000,000"))
    assert "| not run (needs ~25 GiB) | 1.20 s, 410 MiB | n/a | n/a | n/a | 25.0× " in headline
    assert "| 100M | 100,000,000 | 4,000,000 | 25.0 | 200.0 s, 4.50 GiB ‡ |" in text
    assert "| baseline (pandas + lifetimes) | not run (needs ~25 GiB) | | | |" in lines
    assert "| floor (one DuckDB GROUP BY) | not run (--repeat 0) | | | |" in lines
    limited_row = "| `retention run` with memory_limit = '4GB', threads = 2 | 200.0 s | 1 "
    assert limited_row + "| 4.50 GiB, under 5 GiB | 0 |" in lines
    assert "met at 100M (4.50 GiB with 4GB, limit 5 GiB)" in text
    assert "| 100M | 100,000,000 | 4,000,000 | 25.0 | 200.0 s ‡ | 2 | 4.50 GiB | 48 |" in text


def test_an_old_result_file_without_the_new_fields_still_renders(bench):
    old = a_result(
        bench,
        "10M",
        10_000_000,
        400_000,
        {"baseline": [a_run(10.0, 3 * GIB)], "retention": [a_run(13.0, 2 * GIB)], "floor": []},
    )
    limited = bench("results").summarise([a_run(14.0, 2.1 * GIB)])
    old["contenders"]["retention_constrained"] = {
        **limited,
        "settings": {"memory_limit": "2GB", "threads": 2},
        "under_3gib": True,
    }

    text = bench("report").render([old])

    assert "2.10 GiB, under 3 GiB" in text
    assert "| 10M | 10,000,000 | 400,000 | 25.0 | 13.0 s, 2.00 GiB |" in text


def test_the_cost_curve_is_wall_and_memory_per_event_smallest_first(bench):
    stages = {"staging": 2.0, "features": 3.0, "scores": 1.0}
    big = a_result(
        bench,
        "10M",
        10_000_000,
        400_000,
        {"baseline": [a_run(10.0, 3 * GIB)], "retention": [a_run(12.0, 2e9, stages)]},
    )
    small = a_result(
        bench,
        "1M",
        1_000_000,
        40_000,
        {"baseline": [a_run(1.5, GIB)], "retention": [a_run(3.0, 5e8, stages)]},
    )
    cost_curve = bench("cost_curve")

    first, last = cost_curve.cost_rows([big, small])

    assert (first.size, last.size) == ("1M", "10M")
    assert first.us_per_event == pytest.approx(3.0)  # 3 s / 1M events
    assert last.us_per_event == pytest.approx(1.2)
    assert last.rss_bytes_per_event == pytest.approx(200.0)
    assert last.baseline_us_per_event == pytest.approx(1.0)
    assert last.stage_us_per_event("features") == pytest.approx(0.3)
    sentence = cost_curve.cost_sentence([first, last])
    assert "from 3 µs to 1.2 µs (0.40×)" in sentence and "from 500 to 200 bytes" in sentence
