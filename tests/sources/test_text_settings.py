"""Text files as they come: delimiter, quote, decimal separator, encoding, header and
whitespace-separated columns; each variant of events_tiny.csv stages the same rows."""

from __future__ import annotations

from pathlib import Path

import lifetimes
import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import summary_data_from_transaction_data

from retention.config.pipeline_file import load_pipeline
from retention.pipeline import run_pipeline
from retention.sources.csv_lines import read_csv_files
from tests.conftest import FIXTURES, FULL_MAPPING, query

CDNOW = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
STAGED = (
    "SELECT event_id, user_id, event_time, event_type, amount, product_id, channel "
    "FROM stg_events ORDER BY event_id"
)


def staged(run, events: Path, settings: str = "", **kwargs) -> pd.DataFrame:
    result, warehouse = run(events, mapping=settings + FULL_MAPPING, **kwargs)
    assert result.counts.rows_rejected == 0
    return query(warehouse, STAGED)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> pd.DataFrame:
    """The staged rows of events_tiny.csv (plain CSV), which every variant must equal."""
    from tests.conftest import pipeline_text

    folder = tmp_path_factory.mktemp("tiny")
    path = folder / "p.toml"
    path.write_text(pipeline_text(FIXTURES / "events_tiny.csv"), encoding="utf-8")
    pipeline = load_pipeline(path)
    run_pipeline(pipeline)
    return query(pipeline.run.warehouse, STAGED)


def test_semicolons_and_decimal_commas(run, tiny):
    ours = staged(
        run,
        FIXTURES / "events_tiny_semicolon_decimal_comma.csv",
        'delimiter = ";"\ndecimal_separator = ","\n',
    )
    pd.testing.assert_frame_equal(ours, tiny)
    assert ours.amount.dropna().tolist() == [20.0, 10.0, 5.0, 30.0, 5.0]  # t10, t3, ...


def test_a_point_is_no_number_when_the_comma_is_the_decimal_separator(run, tmp_path):
    events = tmp_path / "e.csv"
    events.write_text(
        "user_id;event_time;amount\nu1;2024-06-01;12,50\nu2;2024-06-01;1.250,00\n"
        "u3;2024-06-02;€ 3,5\n",
        encoding="utf-8",
    )
    mapping = (
        'decimal_separator = ","\n[source.events.columns]\n'
        'user_id = "user_id"\nevent_time = "event_time"\namount = "amount"\n'
    )
    result, warehouse = run(events, mapping=mapping, extra="[validation]\nmax_reject_ratio = 0.5")
    assert result.counts.rows_staged == 2
    amounts = query(warehouse, "SELECT user_id, amount FROM stg_events ORDER BY user_id")
    assert amounts.values.tolist() == [["u1", 12.5], ["u3", 3.5]]
    rejected = query(warehouse, "SELECT reason, amount FROM rejected_events")
    assert rejected.values.tolist() == [["unparseable_amount", "1.250,00"]]


def test_single_quotes_with_quoted_delimiters_and_doubled_quotes(run, tiny):
    events = FIXTURES / "events_tiny_single_quotes.csv"
    ours = staged(run, events, 'delimiter = ","\nquote = "\'"\n')
    pd.testing.assert_frame_equal(ours, tiny)
    with_note = FULL_MAPPING.replace('channel = "channel"', 'channel = "note"')
    _, warehouse = run(events, mapping='quote = "\'"\n' + with_note, name="notes.toml")
    notes = set(query(warehouse, "SELECT channel FROM stg_events WHERE run_id = 2").channel)
    assert notes == {"plain", "it's, quoted"}


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("events_tiny_latin1.csv", "latin-1"), ("events_tiny_utf16.csv", "utf-16")],
)
def test_latin1_and_utf16_files(run, tiny, name, encoding):
    ours = staged(run, FIXTURES / name, f'encoding = "{encoding}"\n')
    expected = tiny.assign(user_id=tiny.user_id.replace({"007": "jürgen", "0042": "zoë"}))
    pd.testing.assert_frame_equal(ours, expected)


def test_whitespace_separated_without_header_names_columns_by_position(run):
    mapping = (
        'delimiter = "whitespace"\nheader = false\nevent_time_format = "%Y%m%d"\n'
        '[source.events.columns]\nuser_id = "column0"\nevent_time = "column1"\n'
        'amount = "column3"\n'
    )
    result, warehouse = run(
        FIXTURES / "events_whitespace_no_header.txt",
        mapping=mapping,
        as_of="1997-12-31",
        extra="[validation]\nmax_reject_ratio = 0.5",
    )
    assert (result.counts.rows_read, result.counts.rows_staged, result.counts.rows_rejected) == (
        6,
        5,
        1,
    )
    rows = query(warehouse, "SELECT user_id, amount FROM stg_events ORDER BY event_time, amount")
    assert rows.values.tolist() == [
        ["00001", 11.77],
        ["00003", 20.76],
        ["00002", 12.0],
        ["00002", 77.0],
        ["00003", 19.54],
    ]
    rejected = query(warehouse, "SELECT reason, source_line, source_text FROM rejected_events")
    assert rejected.values.tolist() == [["malformed_csv_line", 6, " 00003 19970330  2"]]


def test_column_names_name_the_columns_of_a_file_without_header(run):
    mapping = (
        'delimiter = "whitespace"\nheader = false\nevent_time_format = "%Y%m%d"\n'
        'column_names = ["customer", "day", "cds", "dollars"]\n'
        '[source.events.columns]\nuser_id = "customer"\nevent_time = "day"\n'
        'amount = "dollars"\n'
    )
    result, _ = run(
        FIXTURES / "events_whitespace_no_header.txt",
        mapping=mapping,
        as_of="1997-12-31",
        extra="[validation]\nmax_reject_ratio = 0.5",
    )
    assert result.counts.rows_staged == 5


def test_a_delimited_file_without_header(run, tmp_path):
    events = tmp_path / "e.csv"
    events.write_text("u1|2024-06-01|1.5\nu2|2024-06-02|2\n", encoding="utf-8")
    mapping = (
        'delimiter = "|"\nheader = false\n[source.events.columns]\n'
        'user_id = "column0"\nevent_time = "column1"\namount = "column2"\n'
    )
    result, warehouse = run(events, mapping=mapping)
    assert result.counts.rows_staged == 2
    assert query(warehouse, "SELECT sum(amount) AS s FROM stg_events").s[0] == 3.5


def test_cdnow_master_as_shipped_gives_lifetimes_summary(run):
    """lifetimes' CDNOW_master.txt: runs of spaces, a header line, days as YYYYMMDD."""
    mapping = (
        'delimiter = "whitespace"\nevent_time_format = "%Y%m%d"\n'
        '[source.events.columns]\nuser_id = "customer_id"\nevent_time = "date"\n'
        'amount = "dollar_value"\n'
    )
    result, warehouse = run(CDNOW, mapping=mapping, as_of="1998-06-30")
    assert (result.counts.rows_read, result.counts.rows_rejected) == (69659, 0)
    transactions = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    transactions["date"] = pd.to_datetime(transactions["date"], format="%Y%m%d")
    expected = summary_data_from_transaction_data(
        transactions,
        "customer_id",
        "date",
        "dollar_value",
        observation_period_end=pd.Timestamp("1998-06-30"),
        freq="D",
    )
    ours = (
        query(
            warehouse,
            'SELECT user_id, frequency, recency, "T", monetary_value FROM latest_features',
        )
        .set_index("user_id")
        .loc[expected.index]
    )
    assert len(expected) == 23570
    np.testing.assert_array_equal(ours.frequency.to_numpy(float), expected.frequency.to_numpy())
    np.testing.assert_array_equal(ours.recency.to_numpy(), expected.recency.to_numpy())
    np.testing.assert_array_equal(ours["T"].to_numpy(), expected["T"].to_numpy())
    np.testing.assert_allclose(
        ours.monetary_value.to_numpy(), expected.monetary_value.to_numpy(), rtol=1e-9, atol=0
    )


def test_contacts_reader_honours_the_text_settings(tmp_path):
    """Contacts and suppressions go through the line-tolerant reader: same settings."""
    from retention.config.pipeline_file import SourceSettings

    path = tmp_path / "contacts.csv"
    path.write_bytes("1;jürgen@example.de;'Müller; Jürgen'\n2;zoë@example.fr;x\n".encode("latin-1"))
    source = SourceSettings(
        path=str(path),
        format="csv",
        columns={},
        section="[source.contacts]",
        delimiter=";",
        quote="'",
        encoding="latin-1",
        header=False,
        column_names=("user_id", "email", "name"),
    )
    read = read_csv_files([str(path)], source)
    table = read.table.to_pydict()
    assert read.columns == ["user_id", "email", "name"]
    assert table["email"] == ["jürgen@example.de", "zoë@example.fr"]
    assert table["name"] == ["Müller; Jürgen", "x"]
    assert table["file_row"] == [1, 2]


def test_parquet_with_text_settings_says_which_keys_to_remove(run, tmp_path):
    from retention.errors import SourceError

    events = tmp_path / "e.parquet"
    pd.DataFrame({"user_id": ["u"], "event_time": ["2024-06-01"]}).to_parquet(events)
    with pytest.raises(SourceError) as error:
        run(events, mapping='delimiter = ";"\n')
    assert str(error.value) == (
        f"[source.events] path {events}: the files are parquet, which has no delimiter, "
        "quote, encoding, header, column_names or decimal_separator; remove those keys"
    )
