"""The report's morning view on the bundled sample, run on two as_of days.

One module-scoped warehouse: the sample pipeline run as of 2024-06-09 and
2024-06-30, the uplift of the first run's campaigns measured, and a backtest
stored in the shape `retention evaluate` writes. The "today" numbers on the
page are checked against SQL written here, apart from the report's own.
Then the page is opened in headless Chromium (driven over the DevTools
protocol on a pipe) at 1300 and 390 px.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import retention
from retention.cli import main
from retention.report.formats import fmt_points
from retention.report.page import build_report
from tests.conftest import SAMPLE_PIPELINE, query

FIRST, SECOND = dt.date(2024, 6, 9), dt.date(2024, 6, 30)


def _add_backtest(warehouse: Path) -> None:
    """Rows as `retention evaluate` stores them (tier, frequency_bucket, purchase_model, policy)."""
    buckets = [(str(i), 100.0 - i * 10, 0.1 * (i + 1), 0.1 * (i + 1.2)) for i in range(7)]
    values = [("tier", t, "users", n) for t, n in (("core", 361.0), ("churned", 5275.0))]
    values += [("tier", "core", "share_active", 0.80), ("tier", "churned", "share_active", 0.01)]
    for label, users, predicted, actual in [*buckets, ("7+", 211.0, 0.83, 0.80)]:
        values += [("frequency_bucket", label, "users", users)]
        values += [("frequency_bucket", label, "predicted_per_user", predicted)]
        values += [("frequency_bucket", label, "actual_per_user", actual)]
    values += [("purchase_model", "all", "auc_p_alive", 0.71)]
    values += [("policy", "share_active_falls", "passed", 1.0)]
    with duckdb.connect(str(warehouse)) as con:
        for product in ("app", "shop"):
            con.executemany(
                "INSERT INTO evaluations VALUES (1, TIMESTAMP '2024-07-02 06:00', 'sample.toml', "
                "DATE '2024-05-31', 30, ?, ?, ?, ?, ?)",
                [(product, *row) for row in values],
            )


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("sample")
    pipeline = retention.load_pipeline(
        SAMPLE_PIPELINE, warehouse=folder / "w.duckdb", exports=folder / "exports"
    )
    retention.run(pipeline, as_of=FIRST)
    retention.run(pipeline, as_of=SECOND)
    retention.uplift(pipeline, run_id=1, horizon="21D")
    warehouse = folder / "w.duckdb"
    _add_backtest(warehouse)
    out = build_report(warehouse, folder / "report.html", exports=folder / "exports")
    return {"warehouse": warehouse, "out": out, "page": out.read_text(encoding="utf-8")}


def _product(page: str, product: str) -> str:
    """The part of the page about one product."""
    parts = re.split(r'<section class="product"', page)[1:]
    return next(p for p in parts if f"<h2>Product {product}</h2>" in p)


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-").replace("+", ""))


def test_the_tier_cards_show_users_and_the_change_since_the_previous_day(sample):
    expected = query(
        sample["warehouse"],
        "SELECT product_id, tier, count(*) FILTER (WHERE run_id = 2) AS now, "
        "count(*) FILTER (WHERE run_id = 1) AS before FROM user_tiers GROUP BY ALL",
    )
    for product in ("app", "shop"):
        cards = re.findall(
            r'data-tier="(\w+)"><div class="label">\w+</div><div class="value">([\d,]+)</div>'
            r'<span class="change (?:up|down|flat)">([▲▼=]) ([+−±][\d,]+)',
            _product(sample["page"], product),
        )
        rows = expected[expected.product_id == product]
        assert len(cards) == len(rows) == 7
        for tier, users, mark, change in cards:
            row = rows[rows.tier == tier].iloc[0]
            assert _number(users) == row.now
            assert _number(change.replace("±", "")) == row.now - row.before
            assert mark == ("▲" if row.now > row.before else "▼" if row.now < row.before else "=")


def test_the_kpis_are_the_last_30_days_against_the_previous_run_and_four_weeks_before(sample):
    window = (
        "SELECT sum(gmv) AS gmv, sum(buyers) AS buyers, sum(unique_users) / 30 AS uv, "
        "sum(buyers) / sum(unique_users) AS conversion FROM daily_metrics WHERE run_id = $run "
        "AND product_id = 'shop' AND day > $end - 30 AND day <= $end"
    )
    now = query(sample["warehouse"], window, {"run": 2, "end": SECOND}).iloc[0]
    before = query(sample["warehouse"], window, {"run": 1, "end": FIRST}).iloc[0]
    weeks = query(sample["warehouse"], window, {"run": 2, "end": SECOND - dt.timedelta(28)})
    shop = _product(sample["page"], "shop")

    def card(key: str) -> str:
        return re.search(rf'data-kpi="{key}">(.*?)</li>', shop).group(1)

    gmv = card("gmv_30d")
    assert re.search(r'class="value">([\d,.]+)<', gmv).group(1) == f"{now.gmv:,.0f}"
    change = (now.gmv - before.gmv) / before.gmv * 100
    assert f"{'+' if change > 0 else '−'}{abs(change):.1f}% vs previous run (06-09)" in gmv
    change = (now.gmv - weeks.gmv[0]) / weeks.gmv[0] * 100
    assert f"{abs(change):.1f}% vs 4 weeks before (06-02)" in gmv
    assert f'class="value">{now.buyers:,.0f}<' in card("buyers_30d")
    assert f'class="value">{now.uv:,.4g}<' in card("uv_per_day")
    points = (now.conversion - before.conversion) * 100
    assert f"{abs(points):.1f} pts vs previous run" in card("conversion_rate")


def test_the_biggest_movements_name_users_and_the_clv_that_moved(sample):
    moves = query(
        sample["warehouse"],
        "SELECT b.tier AS from_tier, a.tier AS to_tier, count(*) AS users, sum(s.clv) AS clv "
        "FROM user_tiers a JOIN user_tiers b USING (product_id, user_id) JOIN user_scores s "
        "ON s.run_id = 2 AND s.product_id = a.product_id AND s.user_id = a.user_id "
        "WHERE a.run_id = 2 AND b.run_id = 1 AND a.product_id = 'shop' AND a.tier <> b.tier "
        "GROUP BY ALL ORDER BY users DESC LIMIT 1",
    ).iloc[0]
    sentence = f"{moves.users:,} {moves.from_tier} users became {moves.to_tier}: worth "
    sentence += f"{moves.clv:,.0f} in CLV" if moves.clv >= 1000 else f"{moves.clv:,.2f} in CLV"
    assert sentence in _product(sample["page"], "shop")


def test_each_playbook_links_its_files_with_the_people_to_contact_and_the_uplift(sample):
    out, shop = sample["out"], _product(sample["page"], "shop")
    links = re.findall(r'<a href="([^"]+)">([^<]+) \(([\d,]+) rows\)</a>', shop)
    manifest = json.loads((out.parent / "exports" / "run-2" / "manifest.json").read_text())
    rows = {f["file"]: f["rows"] for f in manifest["files"]}
    assert {label for _, label, _ in links} == set(rows)  # every file of the run, once or more
    for href, label, count in links:
        assert (out.parent / href).is_file() and href == f"exports/run-2/{label}"
        assert _number(count) == rows[label]
    people = query(
        sample["warehouse"],
        "SELECT count(*) AS n FROM playbook_assignments WHERE run_id = 2 AND product_id = "
        "'shop' AND playbook = 'win_back' AND channel = 'email' AND suppressed_reason IS NULL",
    ).n[0]
    assert f"email: {people:,} people in <a" in shop
    uplift = query(
        sample["warehouse"],
        "SELECT * FROM uplift_results WHERE playbook = 'reactivation' AND metric = 'active' "
        "AND product_id = 'shop'",  # the shop's own effect, not the pooled one
    ).iloc[0]
    low, high = fmt_points(uplift.ci_lower), fmt_points(uplift.ci_upper)
    assert f"{fmt_points(uplift.difference)} (95% CI {low} to {high})" in shop
    assert "not measured yet" not in shop  # every playbook of run 1 was measured
    assert "all products pooled" not in shop


def test_a_report_without_its_export_folder_shows_the_counts_without_links(sample, tmp_path):
    copy = tmp_path / "elsewhere.duckdb"
    shutil.copy(sample["warehouse"], copy)
    page = build_report(copy, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "export folder of this run was not found" in page
    assert '<a href="exports/' not in page and "email: " in page


def test_report_run_reports_an_older_run(sample, tmp_path):
    out = tmp_path / "run1.html"
    args = ["report", "--db", str(sample["warehouse"]), "--run", "1", "--out", str(out)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    page = out.read_text(encoding="utf-8")
    assert "<dt>Run</dt><dd>1</dd>" in page and "<dt>As of</dt><dd>2024-06-09</dd>" in page
    assert "first run: no change to show" in page  # no earlier day to compare with
    missing = CliRunner().invoke(main, [*args[:3], "--run", "99", "--out", str(out)])
    assert missing.exit_code == 1 and "--run 99: no such run" in missing.output


def test_metrics_the_log_cannot_support_say_so(run, tmp_path):
    events = tmp_path / "orders.csv"
    events.write_text(
        "user_id,event_time\n"
        + "".join(f"u{i % 7},2024-06-{1 + i % 28:02d} 10:00:00\n" for i in range(60)),
        encoding="utf-8",
    )
    mapping = '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
    _, warehouse = run(events, mapping=mapping)
    page = build_report(warehouse, tmp_path / "r.html").read_text(encoding="utf-8")
    gmv = re.search(r'data-kpi="gmv_30d">(.*?)</li>', page).group(1)
    assert "not measurable: the log has no purchase amounts" in gmv
    conversion = re.search(r'data-kpi="conversion_rate">(.*?)</li>', page).group(1)
    assert "no visit or page-view events" in conversion and "100" not in conversion


# ---- in a real browser ------------------------------------------------------------------------

MEASURE = """(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const root = document.documentElement;
  const size = el => { const r = el.getBoundingClientRect(); return r.width * r.height; };
  const marks = [];
  for (const el of document.querySelectorAll('svg.chart *')) {
    if (['title', 'g'].includes(el.tagName) || el.closest('title')) continue;
    const s = getComputedStyle(el);
    marks.push([el.tagName, s.fill, s.stroke, s.opacity, s.fillOpacity, s.strokeOpacity]);
  }
  const texts = [...document.querySelectorAll('svg.chart text')]
    .filter(t => t.textContent.trim())
    .map(t => { const m = t.getScreenCTM();
                return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b); });
  const scrolled = [...document.querySelectorAll('.scroll')]
    .filter(s => s.scrollWidth > s.clientWidth + 1)
    .map(s => { const h = s.previousElementSibling;
                return !!h && h.classList.contains('hint')
                       && getComputedStyle(h).display !== 'none'; });
  return {overflow: root.scrollWidth - root.clientWidth,
          body: document.body.scrollWidth - document.body.clientWidth,
          charts: [...document.querySelectorAll('svg.chart')].map(size),
          tables: [...document.querySelectorAll('table')].map(size),
          marks, texts, scrolled, background: getComputedStyle(document.body).backgroundColor};
})()"""


class Browser:
    """Headless Chromium over the DevTools protocol on a pipe (fds 3 and 4): no port, no
    extra package. Records every network request the page makes."""

    def __init__(self, profile: Path):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            pytest.skip("no chromium on PATH: install Debian's `chromium` package")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_browser} 4>&{from_browser}', "bash", binary, *flags],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id, self.events = b"", 0, []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)
        self.session = self.session["sessionId"]

    def send(self, method: str, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if method not in ("Target.createTarget", "Target.attachToTarget"):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._next())

    def _next(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._read, 1 << 16)
            assert chunk, "chromium closed the DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=20)
        os.close(self._read)
        os.close(self._write)


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = map(channel, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(colour: str, alpha: float, background: tuple[float, float, float]) -> float:
    """WCAG contrast of a CSS rgb()/rgba() colour, blended over the background."""
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    alpha *= parts[3] if len(parts) == 4 else 1.0
    shown = tuple(alpha * c + (1 - alpha) * b for c, b in zip(parts[:3], background, strict=True))
    light, dark = sorted((_luminance(shown), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("width", [1300, 390])
def test_the_report_reads_at_desktop_and_phone_width(sample, tmp_path, width):
    page, url = sample["page"], sample["out"].resolve().as_uri()
    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Network.enable")
        browser.send("Page.enable")
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=width, height=900, deviceScaleFactor=1, mobile=width < 600,
        )  # fmt: skip
        browser.send("Page.navigate", url=url)
        browser.wait_for("Page.loadEventFired")
        seen = browser.send("Runtime.evaluate", expression=MEASURE, returnByValue=True)
        seen = seen["result"]["value"]
        shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    finally:
        browser.close()
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests == [url]  # the page itself, nothing else
    assert seen["overflow"] <= 0 and seen["body"] <= 0  # the page never scrolls sideways
    assert len(seen["charts"]) == page.count('<svg role="img"') >= 20
    assert len(seen["tables"]) == page.count("<table") >= 20
    assert all(area > 0 for area in seen["charts"] + seen["tables"])
    assert all(seen["scrolled"])  # every box that scrolls sideways says so
    assert min(seen["texts"]) >= 9.9  # chart text stays readable
    background = tuple(float(c) for c in re.findall(r"[\d.]+", seen["background"])[:3])
    low = []
    for tag, fill, stroke, opacity, fill_opacity, stroke_opacity in seen["marks"]:
        for colour, alpha in ((fill, fill_opacity), (stroke, stroke_opacity)):
            if colour == "none" or colour.startswith("rgba(0, 0, 0, 0)"):
                continue
            ratio = _contrast(colour, float(opacity) * float(alpha), background)
            if ratio < 3:
                low.append((tag, colour, round(ratio, 2)))
    assert low == []
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    screenshots = os.environ.get("REPORT_SCREENSHOTS")  # a folder outside the repository
    if screenshots:
        (Path(screenshots) / f"report-{width}.png").write_bytes(png)
