"""Every new [source.*] key has a wrong-value case with its exact message."""

from __future__ import annotations

import pytest

from retention.config.pipeline_file import load_pipeline
from retention.config.source_keys import read_only_query
from retention.errors import ConfigError

HEAD = '[run]\nwarehouse = "w.duckdb"\n[source.events]\npath = "e.csv"\n'


def message(tmp_path, text: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_pipeline(path)
    return str(error.value).removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            'delimiter = ";;"',
            '[source.events] delimiter = ";;": expected one character such as "," ";" "|" "\\t", '
            'or "whitespace"',
        ),
        (
            'quote = "<<"',
            '[source.events] quote = "<<": expected one character such as "\\"" or "\'", '
            'or "" for no quoting',
        ),
        (
            'encoding = "cp1252"',
            '[source.events] encoding = "cp1252": expected one of "utf-8", "utf-16", "latin-1"',
        ),
        ("header = 1", "[source.events] header = 1: expected true or false"),
        (
            'decimal_separator = ";"',
            '[source.events] decimal_separator = ";": expected one of ".", ","',
        ),
        (
            'column_names = ["a", "a"]',
            '[source.events] column_names = ["a", "a"]: expected distinct names',
        ),
        (
            "column_names = []",
            "[source.events] column_names = []: expected a non-empty list of strings such as "
            '["purchase", "order"]',
        ),
        (
            'format = "parquet"\ndelimiter = ";"',
            '[source.events] delimiter: only CSV and text files have it, not format = "parquet"; '
            "remove the key",
        ),
        (
            'delimiter = "whitespace"\nquote = "\'"',
            "[source.events] quote: whitespace-separated files are not quoted; remove the key or "
            "set delimiter to one character",
        ),
        (
            'table = "events"',
            '[source.events] table: only a source with format = "postgres" has it',
        ),
        (
            'dsn = "postgresql://x"',
            '[source.events] dsn: only a source with format = "postgres" has it',
        ),
        (
            "storage_options = 1",
            "[source.events.storage_options] must be a table such as "
            '{ endpoint_url = "http://..." }',
        ),
        (
            'storage_options = { client_kwargs = { region_name = "x" } }',
            "[source.events.storage_options] client_kwargs = {...}: "
            "expected a string, number or bool",
        ),
        (
            'dsn_env = "1X"',
            '[source.events] dsn_env = "1X": expected the name of an environment variable such as '
            '"EVENTS_DSN"',
        ),
    ],
)
def test_wrong_values_name_the_key(tmp_path, keys, expected):
    text = HEAD + keys + "\n"
    if "storage_options" in keys:
        text = text.replace('path = "e.csv"', 'path = "s3://b/e.csv"')
    assert message(tmp_path, text) == expected


def test_contacts_take_the_text_keys_but_not_the_decimal_separator(tmp_path):
    text = HEAD + '[source.contacts]\npath = "c.csv"\ndelimiter = ";"\nencoding = "latin-1"\n'
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    contacts = load_pipeline(path).contacts
    assert (contacts.delimiter, contacts.encoding) == (";", "latin-1")
    assert 'unknown key "decimal_separator"' in message(
        tmp_path, text + 'decimal_separator = ","\n'
    )


def test_object_store_paths_stay_urls(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(HEAD.replace("e.csv", "gs://lake/events/*.parquet"), encoding="utf-8")
    assert load_pipeline(path).events.path == "gs://lake/events/*.parquet"


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("SELECT 1", "SELECT 1"),
        (
            "  -- why\n/* note */ with a as (select 1) select * from a;  ",
            "with a as (select 1) select * from a",
        ),
        ("(SELECT 1)", None),
        ("INSERT INTO t SELECT 1", None),
        ("select 1; select 2", None),
        ("", None),
    ],
)
def test_read_only_query(query, kept):
    if kept is None:
        with pytest.raises(ValueError):
            read_only_query(query)
    else:
        assert read_only_query(query) == kept
