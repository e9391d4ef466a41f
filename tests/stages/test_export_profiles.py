"""Campaign tools' files, checked against each tool's documented import rules.

One run of the bundled sample writes every built-in profile; each test reads
the real files back the way the tool would and asserts the rule the tool's
documentation states (see retention/config/export_profiles.toml for the
pages): headers, one row per key, size caps, encoding, E.164, tags.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import retention
from retention.cli import main
from retention.errors import ConfigError
from retention.stages.exports.writers import FileLayout, write_csv_parts, write_xlsx_parts

REPOSITORY = Path(__file__).resolve().parents[2]
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
GROUP_ID = "a1b2c3d4-sms-group"
ALL_PROFILES = (
    "[exports]\n"
    + "".join(
        f'[[exports.profiles]]\nname = "{name}"\n'
        for name in ("generic", "mailchimp", "klaviyo", "customerio", "hubspot", "excel")
    )
    + f"""
[[exports.profiles]]
name = "braze"
channels = ["email", "sms"]
settings = {{ sms_subscription_group_id = "{GROUP_ID}" }}

[[exports.profiles]]
name = "tiny_hubspot"
tool = "HubSpot"
lists = "semicolon"
max_file_mb = 0.05
email = {{ key = "Email", columns = {{ "Email" = "address", "Plays" = "playbooks" }} }}
"""
)


def sample_pipeline(folder: Path, exports_section: str) -> Path:
    """The bundled sample pipeline, writing into `folder`, with another [exports]."""
    text = (REPOSITORY / "pipelines" / "sample.toml").read_text()
    text = text.replace("../data/sample/", f"{REPOSITORY}/data/sample/")
    text = text.replace("../out/sample/", f"{folder}/")
    text = text[: text.index("[exports]")] + exports_section
    path = folder / "sample.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("profiles")
    path = sample_pipeline(folder, ALL_PROFILES)
    result = retention.run(path)
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    return path, result.export_dir, manifest


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    text = path.read_bytes().decode("utf-8")  # strict: a tool reads UTF-8
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def generic_rows(folder: Path, channel: str) -> list[dict]:
    rows = []
    for path in sorted(folder.glob(f"*__{channel}.csv")):
        rows += read_csv(path)[1]
    return rows


def entry(manifest: dict, file: str) -> dict:
    return next(f for f in manifest["files"] if f["file"] == file)


def test_every_profile_writes_its_own_subfolder_listed_in_the_manifest(exported):
    _, folder, manifest = exported
    written = {f["file"] for f in manifest["files"] if f["profile"] != "generic"}
    assert written >= {
        "mailchimp/email.csv",
        "klaviyo/email.csv",
        "klaviyo/sms.csv",
        "braze/email.csv",
        "braze/sms.csv",
        "customerio/email.csv",
        "customerio/sms.csv",
        "hubspot/email.csv",
        "excel/email.xlsx",
        "excel/sms.xlsx",
        "excel/call.xlsx",
    }
    for name in written:
        described = entry(manifest, name)
        assert described["tool"] and described["key"] and described["rows"] > 0
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    assert entry(manifest, "braze/email.csv")["key"] == "external_id"


def test_tool_files_hold_exactly_the_people_the_generic_files_send(exported):
    """Merging never adds an address: the consent rules decided the generic rows."""
    _, folder, manifest = exported
    for channel, header in (("email", "Email Address"), ("sms", "Phone Number")):
        generic = generic_rows(folder, channel)
        address = "email" if channel == "email" else "phone_e164"
        keys = {row[address].lower() for row in generic}
        _, rows = read_csv(folder / "klaviyo" / f"{channel}.csv")
        assert {row[header].lower() for row in rows} == keys
        merged = entry(manifest, f"klaviyo/{channel}.csv")["people_merged"]
        assert len(rows) + merged == len(generic)
    assert entry(manifest, "klaviyo/email.csv")["people_merged"] > 100  # two products, one person


def test_mailchimp_one_email_address_per_row_ascii_before_the_at_and_tags(exported):
    _, folder, manifest = exported
    header, rows = read_csv(folder / "mailchimp" / "email.csv")
    assert header[:2] == ["Email Address", "Tags"]
    emails = [row["Email Address"].lower() for row in rows]
    assert len(emails) == len(set(emails))
    assert all(row["Email Address"].split("@")[0].isascii() for row in rows)
    playbooks = {p.name for p in retention.load_pipeline(exported[0]).playbooks}
    for row in rows:
        tags = row["Tags"].split(",")
        assert tags and set(tags) & playbooks and set(tags) & {"app", "shop"}
        assert all(0 < len(tag) <= 100 for tag in tags)
    refused = entry(manifest, "mailchimp/email.csv")["refused"]
    non_ascii = {
        row["email"].lower()
        for row in generic_rows(folder, "email")
        if not row["email"].split("@")[0].isascii()
    }
    assert non_ascii and {r["address"].lower() for r in refused} == non_ascii
    assert {r["reason"] for r in refused} == {"non_ascii_local_part"}
    assert manifest["profiles"]["mailchimp"]["channels"]["email"]["refused_by_reason"] == {
        "non_ascii_local_part": len(refused)
    }
    assert (folder / "mailchimp" / "email.csv").stat().st_size <= 10_000_000


def test_klaviyo_first_column_is_the_address_unique_e164_with_consent_and_json_tags(exported):
    _, folder, _ = exported
    header, rows = read_csv(folder / "klaviyo" / "sms.csv")
    assert header[0] == "Phone Number" and "SMS Marketing Consent" in header
    phones = [row["Phone Number"] for row in rows]
    assert len(phones) == len(set(phones)) and all(E164.match(p) for p in phones)
    assert {row["SMS Marketing Consent"] for row in rows} == {"Subscribed"}
    assert all(row["Country"] for row in rows)  # Klaviyo reads the country beside the number
    assert all(isinstance(json.loads(row["Retention Tags"]), list) for row in rows)
    header, rows = read_csv(folder / "klaviyo" / "email.csv")
    assert header[0] == "Email Address"
    assert {row["Email Marketing Consent"] for row in rows} == {"Subscribed"}
    raw = (folder / "klaviyo" / "email.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == raw.count(b"\n")
    assert len(raw) <= 50_000_000


def test_braze_external_id_exact_headers_and_subscription_state(exported):
    _, folder, _ = exported
    header, rows = read_csv(folder / "braze" / "email.csv")
    assert header[:3] == ["external_id", "email", "email_subscribe"]
    ids = [row["external_id"] for row in rows]
    assert len(ids) == len(set(ids)) and all(ids)
    assert {row["email_subscribe"] for row in rows} == {"opted_in"}
    header, rows = read_csv(folder / "braze" / "sms.csv")
    assert header[:4] == ["external_id", "phone", "subscription_group_id", "subscription_state"]
    assert {row["subscription_group_id"] for row in rows} == {GROUP_ID}
    assert {row["subscription_state"] for row in rows} == {"subscribed"}
    assert all(E164.match(row["phone"]) for row in rows)
    raw = (folder / "braze" / "sms.csv").read_bytes()
    assert b"\r\n" not in raw  # one kind of line ending
    assert all("[" not in row["retention_playbooks"] for row in rows)  # no arrays in CSV


def test_customerio_id_column_lower_case_attributes_and_caps(exported):
    _, folder, _ = exported
    for channel in ("email", "sms"):
        header, rows = read_csv(folder / "customerio" / f"{channel}.csv")
        assert header[0] == "id" and len(header) <= 100
        assert header == [h.lower() for h in header]
        assert "unsubscribed" not in header  # never undoes an unsubscribe made in the tool
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids))
        assert (folder / "customerio" / f"{channel}.csv").stat().st_size <= 100_000_000


def test_hubspot_email_key_free_tier_cap_and_semicolon_lists(exported):
    _, folder, manifest = exported
    header, rows = read_csv(folder / "hubspot" / "email.csv")
    assert header[0] == "Email"
    emails = [row["Email"].lower() for row in rows]
    assert len(emails) == len(set(emails))
    assert any(";" in row["Retention Playbooks"] for row in rows)
    assert all("," not in row["Retention Playbooks"] for row in rows)
    for described in manifest["files"]:
        if described["profile"] == "hubspot":
            assert described["bytes"] <= 20_000_000


def test_a_file_past_its_cap_splits_into_parts_each_with_the_header(exported):
    _, folder, manifest = exported
    parts = sorted((folder / "tiny_hubspot").glob("email.part-*.csv"))
    assert len(parts) >= 3
    everyone = []
    for part in parts:
        assert part.stat().st_size <= 50_000
        header, rows = read_csv(part)
        assert header == ["Email", "Plays"] and rows
        everyone += [row["Email"] for row in rows]
    assert len(everyone) == len(set(everyone))
    _, whole = read_csv(folder / "hubspot" / "email.csv")
    assert sorted(everyone) == sorted(row["Email"] for row in whole)
    assert sum(entry(manifest, f"tiny_hubspot/{p.name}")["rows"] for p in parts) == len(whole)


def test_excel_cells_are_text_the_header_frozen_and_filtered_sorted_by_clv(exported):
    _, folder, _ = exported
    book = load_workbook(folder / "excel" / "call.xlsx")
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:H{sheet.max_row}"
    header = [cell.value for cell in sheet[1]]
    assert header[:2] == ["Phone", "User IDs"]
    rows = list(sheet.iter_rows(min_row=2))
    assert rows
    for phone, user_ids, *_ in rows:
        assert phone.data_type == "s" and phone.number_format == "@"
        assert E164.match(phone.value)
        assert user_ids.data_type == "s" and user_ids.number_format == "@"
    clv = [row[header.index("CLV")].value for row in rows]
    known = [value for value in clv if value is not None]
    assert known == sorted(known, reverse=True) and known[0] > 0
    assert clv[: len(known)] == known  # users without a CLV come last
    book = load_workbook(folder / "excel" / "email.xlsx")
    ids = [row[1].value for row in book.active.iter_rows(min_row=2)]
    assert any(value.startswith("0") for value in ids)  # leading zeros survive


def test_a_re_export_with_profile_writes_its_own_folder_and_leaves_the_run_folder(exported):
    path, folder, _ = exported
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    outcome = CliRunner().invoke(main, ["export", str(path), "--profile", "mailchimp"])
    assert outcome.exit_code == 0, outcome.output
    own = folder.with_name(f"{folder.name}-mailchimp")
    assert sorted(str(p.relative_to(own)) for p in own.rglob("*") if p.is_file()) == [
        "mailchimp/email.csv",
        "manifest.json",
    ]
    assert "mailchimp/email.csv" in outcome.output
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_declared_profile_overrides_a_built_in_one(tmp_path):
    path = sample_pipeline(
        tmp_path, '[exports]\nprofiles = [{ name = "hubspot", max_file_mb = 512 }]\n'
    )
    (profile,) = retention.load_pipeline(path).exports.profiles
    assert profile.max_file_mb == 512 and profile.files[0].key == "Email"


@pytest.mark.parametrize(
    ("exports", "message"),
    [
        ('profiles = ["mailchimpp"]', 'profiles #1 "mailchimpp": no such profile'),
        ('profile = "klaviyo"\nprofiles = ["excel"]', "has both profile and profiles"),
        (
            'profiles = [{ name = "braze", channels = ["email", "sms"] }]',
            "needs settings.sms_subscription_group_id",
        ),
        (
            'profiles = [{ name = "mine", email = { key = "Id", columns = { "E" = "address" } } }]',
            'key = "Id": expected one of its column headers',
        ),
        (
            'profiles = [{ name = "mine", email = { key = "E", columns = { "E" = "adress" } } }]',
            'columns "E" = "adress": expected a field',
        ),
        (
            'profiles = [{ name = "customerio", max_columns = 3 }]',
            "has 7 columns: the tool takes at most 3",
        ),
    ],
)
def test_a_bad_profile_stops_before_the_run_with_one_sentence(tmp_path, exports, message):
    path = sample_pipeline(tmp_path, f"[exports]\n{exports}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        retention.load_pipeline(path)


def test_csv_parts_defuse_formulas_but_leave_phones_alone(tmp_path):
    layout = FileLayout(
        headers=("phone", "note"),
        exempt=frozenset({0}),
        encoding="utf-8-sig",
        line_ending="\r\n",
        delimiter=",",
        max_bytes=None,
        max_rows=2,
    )
    rows = iter(
        [("+15551234567", "=HYPERLINK(1)", 0), ("+15557654321", "@x", 1), ("+1555", "ok", 0)]
    )
    parts = write_csv_parts(rows, layout, tmp_path / "list")
    assert [(p.name, n, m) for p, n, m in parts] == [
        ("list.part-0001.csv", 2, 1),
        ("list.part-0002.csv", 1, 0),
    ]
    first = parts[0][0].read_bytes()
    assert first.startswith(b"\xef\xbb\xbfphone,note\r\n")
    assert b"+15551234567,'=HYPERLINK(1)\r\n" in first and b"'@x" in first


def test_xlsx_cells_keep_their_types_and_odd_values_do_not_break_the_file(tmp_path):
    # NaN and infinity leave the cell empty: a cell cannot hold them
    layout = FileLayout(
        headers=("user", "note", "clv", "day", "vip"),
        exempt=frozenset(),
        encoding="utf-8",
        line_ending="\n",
        delimiter=",",
        max_bytes=None,
        max_rows=2,
    )
    rows = [
        ("007", "=HYPERLINK(1)", 12.5, dt.date(2024, 6, 30), True, 1),
        ("008", "bell\x07 and tab\t", float("nan"), None, False, 0),
        ("009", None, float("inf"), dt.datetime(2024, 6, 30, 8, 15), None, 2),
    ]
    parts = write_xlsx_parts(iter(rows), layout, tmp_path / "list", "Calls")
    assert [(p.name, n, m) for p, n, m in parts] == [
        ("list.part-0001.xlsx", 2, 1),
        ("list.part-0002.xlsx", 1, 2),
    ]
    assert {oct(p.stat().st_mode & 0o777) for p, _, _ in parts} == {"0o600"}
    first = load_workbook(parts[0][0]).active
    assert first.title == "Calls" and first.freeze_panes == "A2"
    assert first.auto_filter.ref == "A1:E3"
    header, one, two = ([cell for cell in row] for row in first.iter_rows())
    assert [c.value for c in header] == ["user", "note", "clv", "day", "vip"]
    assert [c.value for c in one] == ["007", "=HYPERLINK(1)", 12.5, dt.datetime(2024, 6, 30), True]
    assert one[0].data_type == one[1].data_type == "s"  # text, never a formula
    assert one[0].number_format == one[1].number_format == "@"
    assert one[3].number_format == "yyyy-mm-dd"
    assert [c.value for c in two] == ["008", "bell\ufffd and tab\t", None, None, False]
    (last,) = list(load_workbook(parts[1][0]).active.iter_rows(min_row=2))
    assert [c.value for c in last] == ["009", None, None, dt.datetime(2024, 6, 30, 8, 15), None]


def test_the_readme_example_of_a_declared_profile_loads(tmp_path):
    readme = (REPOSITORY / "README.md").read_text()
    block = next(b for b in readme.split("```toml\n")[1:] if "crm_upload" in b).split("```")[0]
    profiles = retention.load_pipeline(sample_pipeline(tmp_path, block)).exports.profiles
    assert [p.name for p in profiles] == ["generic", "hubspot", "crm_upload"]
    (crm,) = profiles[2].files
    assert crm.key == "E-mail" and [c.header for c in crm.columns][-1] == "Opt-in"
    assert profiles[1].max_file_mb == 512 and profiles[2].encoding == "utf-8-sig"


def test_people_every_chosen_profile_refused_are_not_recorded_as_sent(tmp_path):
    # Mailchimp alone refuses non-ASCII local parts: those people are in no
    # file, so the frequency cap of the next run must not count them as contacted
    path = sample_pipeline(tmp_path, '[exports]\nprofiles = ["mailchimp"]\n')
    result = retention.run(path)
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    refused = {u for r in entry(manifest, "mailchimp/email.csv")["refused"] for u in r["user_ids"]}
    with duckdb.connect(str(result.warehouse), read_only=True) as con:
        sent = {
            row[0]
            for row in con.execute(
                "SELECT user_id FROM sends WHERE run_id = ? AND channel = 'email'", [result.run_id]
            ).fetchall()
        }
        assigned = {
            row[0]
            for row in con.execute(
                "SELECT user_id FROM playbook_assignments WHERE run_id = ? AND channel = 'email' "
                "AND suppressed_reason IS NULL",
                [result.run_id],
            ).fetchall()
        }
    _, rows = read_csv(result.export_dir / "mailchimp" / "email.csv")
    assert refused and sent and not refused & sent
    assert sent | refused == assigned  # everyone sent is in the file, or refused with a reason
    assert len(rows) <= len(sent)  # a row per address; two products' ids may share one


def test_a_product_id_holding_the_list_separator_stays_one_tag(tmp_path):
    """A product "shop,eu" in a comma list would be read as the tags "shop" and "eu":
    there it is written "shop eu", counted in the manifest; JSON lists keep it whole."""
    events = tmp_path / "events.parquet"
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT * REPLACE (CASE WHEN product_id = 'shop' THEN 'shop,eu' "
            f"ELSE product_id END AS product_id) FROM '{REPOSITORY}/data/sample/events.parquet') "
            f"TO '{events}' (FORMAT parquet)"
        )
    exports = '[exports]\n[[exports.profiles]]\nname = "mailchimp"\n'
    exports += '[[exports.profiles]]\nname = "klaviyo"\n'
    path = sample_pipeline(tmp_path, exports)
    path.write_text(
        path.read_text().replace(f"{REPOSITORY}/data/sample/events.parquet", str(events))
    )
    result = retention.run(path)
    _, rows = read_csv(result.export_dir / "mailchimp" / "email.csv")
    tags = [set(row["Tags"].split(",")) for row in rows]
    assert any("shop eu" in row for row in tags)
    assert not any({"shop", "eu", "shop,eu"} & row for row in tags)
    manifest = json.loads((result.export_dir / "manifest.json").read_text())
    channel = manifest["profiles"]["mailchimp"]["channels"]["email"]
    assert channel["list_items_with_separator"] == ["shop,eu"]
    _, klaviyo = read_csv(result.export_dir / "klaviyo" / "email.csv")
    assert any("shop,eu" in json.loads(row["Retention Tags"]) for row in klaviyo)
    assert manifest["profiles"]["klaviyo"]["channels"]["email"]["list_items_with_separator"] == []
