"""The offline HTML report: built from a real small warehouse, read in a real browser.

The warehouse comes from two pipeline runs over `events_tiny.csv` plus a
product and a channel whose names are markup (event logs are not trusted), so
escaping is tested where the names really surface. Metric tables another stage
writes, and a backtest, are filled in by hand, so every section is exercised
whether or not that stage exists yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from retention.config.pipeline_file import load_pipeline
from retention.errors import WarehouseError
from retention.pipeline import run_pipeline
from retention.report.charts import Axes, Series, bar_chart, line_chart, nice_ticks
from retention.report.formats import fmt_day, fmt_int, fmt_money, fmt_num, fmt_pct
from retention.report.page import build_report
from tests.conftest import FIXTURES, pipeline_text, query

HOSTILE = "<script>alert(1)</script>"
HOSTILE_PRODUCT = "<img src=x onerror=alert(2)>"
METRIC_TABLES = ("daily_metrics", "channel_metrics", "cohort_retention")
METRIC_SECTIONS = {"KPIs, last 30 days", "KPI trends", "Daily metrics", "Acquisition channels"}
METRIC_SECTIONS |= {"Cohort retention"}
GROUPS = ["Today: 2024-06-30", "History across runs", "How far to trust the models", "Details"]


def _hostile_events(folder: Path) -> Path:
    """events_tiny.csv plus a user and a channel named like a script, in a product like one."""
    rows = [
        f"h{i},{user},2024-06-{day:02d} 10:00:00,{kind},{amount},{product},{channel}"
        for i, (user, day, kind, amount, product, channel) in enumerate(
            [
                (HOSTILE, 3, "visit", "", "shop", HOSTILE),
                (HOSTILE, 3, "order", "12.50", "shop", HOSTILE),
                (HOSTILE, 25, "order", "7.00", "shop", HOSTILE),
                ("u1", 5, "visit", "", HOSTILE_PRODUCT, HOSTILE),
                ("u1", 28, "order", "3.00", HOSTILE_PRODUCT, HOSTILE),
            ]
        )
    ]
    path = folder / "events_hostile.csv"
    tiny = (FIXTURES / "events_tiny.csv").read_text(encoding="utf-8")
    path.write_text(tiny.rstrip("\n") + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _run(folder: Path, events: Path, as_of: str) -> Path:
    pipeline_file = folder / "pipeline.toml"
    pipeline_file.write_text(pipeline_text(events, as_of=as_of), encoding="utf-8")
    return run_pipeline(load_pipeline(pipeline_file)).warehouse


def _drop_metric_tables(con: duckdb.DuckDBPyConnection) -> None:
    """As in a warehouse written before the metrics stage existed."""
    for name in METRIC_TABLES:
        con.execute(f"DROP VIEW IF EXISTS latest_{name}")
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _add_channel_and_backtest(warehouse: Path) -> None:
    """A channel with spend (the run has no costs) and a backtest for product shop."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO channel_metrics SELECT * FROM (VALUES "
            "(2, 'shop', 'paid', 1200, 300, 40, 0.25, 0.0333, 54321.0, 4321.0, 2000.0, 1.67, 1.5)"
            ") AS t(run_id, product_id, acquisition_channel, users_acquired, active_users, "
            "core_users, share_active, share_core, revenue_total, revenue_30d, spend, "
            "cost_per_user, roi)"
        )
        con.execute(
            "INSERT INTO evaluations SELECT 1, TIMESTAMP '2024-07-01', 'pipeline.toml', "
            "DATE '2024-03-31', 90, 'shop', section, label, metric, value FROM (VALUES "
            "('tier', 'core', 'users', 10.0), ('tier', 'core', 'share_active', 0.9), "
            "('tier', 'churned', 'users', 30.0), ('tier', 'churned', 'share_active', 0.05), "
            "('frequency_bucket', '0', 'predicted_per_user', 0.2), "
            "('frequency_bucket', '0', 'actual_per_user', 0.25), "
            "('policy', 'share_active_falls', 'passed', 0.0), "
            "('purchase_model', 'all', 'auc_p_alive', 0.81)) AS t(section, label, metric, value)"
        )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """Two published runs (so there is a migration), metrics, a backtest and hostile names."""
    folder = tmp_path_factory.mktemp("report")
    events = _hostile_events(folder)
    _run(folder, events, "2024-06-15")
    warehouse = _run(folder, events, "2024-06-30")
    _add_channel_and_backtest(warehouse)
    return warehouse


@pytest.fixture(scope="module")
def report(warehouse: Path) -> tuple[Path, str]:
    out = build_report(warehouse, warehouse.parent / "report" / "report.html")
    return out, out.read_text(encoding="utf-8")


def _headings(page: str, level: int = 4) -> list[str]:
    return re.findall(rf"<h{level}>(.*?)</h{level}>", page)


def test_every_section_is_there_for_every_product_with_data(report):
    out, page = report
    assert out.name == "report.html"
    assert page.startswith("<!DOCTYPE html>")
    sections = re.split(r'<section class="product"', page)[1:]
    names = re.findall(r"<h2>Product (.*?)</h2>", page)
    headings = dict(zip(names, map(_headings, sections), strict=True))
    groups = {name: _headings(section, 3) for name, section in zip(names, sections, strict=True)}
    assert all(found == GROUPS for found in groups.values())  # today first, details last
    assert headings["shop"][:4] == [
        "Users per tier since 2024-06-15", "KPIs, last 30 days",
        "Biggest movements since 2024-06-15", "Playbooks: files to upload",
    ]  # fmt: skip
    assert {"Lifecycle", "Tier flow since the previous run", "Latest backtest"} < set(
        headings["shop"]
    )
    assert METRIC_SECTIONS < set(headings["shop"])
    assert "Latest backtest" not in headings["app"]  # the backtest is of shop only
    assert list(headings) == sorted(headings)  # products in a fixed order


def test_the_backtest_says_pass_or_fail_and_when_it_ran(report):
    _, page = report
    assert "Backtest 1 of 2024-07-01: scores as of 2024-03-31" in page
    assert 'must fall): <span class="fail">FAIL</span>' in page
    assert "core_active 90.0% &gt; churned 5.0%" in page


def test_cohort_retention_reads_on_or_after_day_n_first(report):
    _, page = report
    cohorts = page[page.index('id="p3-cohorts"') :]
    assert cohorts.index('<table class="cohorts">') < cohorts.index("<details>")
    assert cohorts.index("<details>") < cohorts.index('<table class="cohorts-exact">')


def test_the_report_is_offline_and_runs_no_script(report):
    _, page = report
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(script|link|img|iframe|object)\b", page, re.IGNORECASE)
    assert "default-src 'none'" in page  # the browser refuses anything that slips through


def test_names_from_the_data_are_escaped(report):
    _, page = report
    assert HOSTILE not in page and HOSTILE_PRODUCT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # survival and channel tables
    assert "Product &lt;img src=x onerror=alert(2)&gt;</h2>" in page


def test_charts_escape_their_labels():
    series = [Series(HOSTILE, [0, 1, 2], [1, 0.5, 0.25]), Series("b", [0, 1], [1, 0.9])]
    drawn = line_chart(HOSTILE, series, Axes(HOSTILE, "y")) + bar_chart(
        HOSTILE, [(HOSTILE, 0.5)], fmt_pct
    )
    assert "<script" not in drawn
    # each chart's caption and <title>; the axis, line and legend; the bar's label and tooltip
    assert drawn.count("&lt;script&gt;") == 9


def test_numbers_are_for_humans(report):
    _, page = report
    assert ">1,200</td>" in page and ">54,321</td>" in page  # channel table
    assert ">25.0%</td>" in page and ">90.0%</td>" in page  # share active, backtest
    assert fmt_int(12441) == "12,441" and fmt_int(None) == "–"
    assert fmt_pct(0.6354) == "63.5%" and fmt_pct(0.0022) == "0.22%" and fmt_pct(0) == "0.0%"
    assert fmt_money(34279.88) == "34,280" and fmt_money(5.029) == "5.03"
    assert fmt_num(0.34308) == "0.3431" and fmt_num(4253228.0) == "4.253e+06"
    assert fmt_num(float("nan")) == "–"
    assert fmt_day(dt.date(2024, 6, 3).toordinal()) == "2024-06-03"
    assert nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_accessible_basics(report):
    _, page = report
    assert '<html lang="en">' in page and "<title>Retention report: pipeline.toml, run 2" in page
    assert '<th scope="col"' in page and '<th scope="row"' in page
    charts = re.findall(r"<svg [^>]*>(.{0,200})", page)
    assert charts and all(c.startswith("<title>") for c in charts)


def test_the_warehouse_is_only_read(warehouse, tmp_path):
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    build_report(warehouse, tmp_path / "again.html")
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before


def test_missing_or_empty_tables_leave_their_sections_out(run, tmp_path):
    _, warehouse = run(FIXTURES / "events_tiny.csv")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM daily_metrics")  # empty
        con.execute("DROP VIEW latest_channel_metrics")
        con.execute("DROP TABLE channel_metrics")  # missing
    page = build_report(warehouse, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Users per tier" in _headings(page) and "Tiers" in _headings(page)
    assert not set(_headings(page)) & (METRIC_SECTIONS - {"Cohort retention"})
    assert "Biggest movements" not in page  # a first run has nothing to compare with


def test_a_warehouse_without_a_published_run_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match="does not exist"):
        build_report(tmp_path / "nowhere.duckdb", tmp_path / "r.html")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(WarehouseError, match="not a retention warehouse"):
        build_report(empty, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


# ---- in a real browser ------------------------------------------------------------------------


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on PATH: install Debian's `chromium` package to run this test")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
        "--enable-logging=stderr", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)


def test_the_report_renders_in_chromium(report, warehouse, tmp_path):
    out, _ = report
    loaded = _chromium(tmp_path, "--dump-dom", out.resolve().as_uri())
    console = [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # CSP violations and script errors are logged here
    dom = loaded.stdout
    assert "<script" not in dom.lower()
    tiers = query(warehouse, "SELECT product_id, count(*) AS n FROM tier_summary GROUP BY ALL")
    expected = dict(zip(tiers.product_id, tiers.n, strict=True))
    tables = re.findall(r'<table class="tiers">.*?<tbody>(.*?)</tbody>', dom, re.DOTALL)
    assert [t.count("<tr>") for t in tables] == [expected[p] for p in sorted(expected)]

    png = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2000", out.resolve().as_uri())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 30_000  # a blank page of this size is a few kB


def test_report_db_needs_no_pipeline_file(warehouse, tmp_path):
    from click.testing import CliRunner

    from retention.cli import main

    out = tmp_path / "from-db.html"
    done = CliRunner().invoke(main, ["report", "--db", str(warehouse), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert done.stdout == f"report: {out}\n"
    assert "<h3>" in out.read_text(encoding="utf-8")
    neither = CliRunner().invoke(main, ["report"])
    assert neither.exit_code == 2 and "give a PIPELINE file or --db WAREHOUSE" in neither.output
    missing = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no such warehouse file" in missing.output
