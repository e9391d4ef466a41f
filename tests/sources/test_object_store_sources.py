"""Sources in object storage, against a real S3-compatible server on 127.0.0.1.

A whole run from `s3://` (one file, a glob, a hive-partitioned prefix) stages
the same rows and gives the same tiers as the run from the local file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import retention
from retention.errors import ConfigError, SourceError
from tests.conftest import FULL_MAPPING, REPO, query

SAMPLE_EVENTS = REPO / "data" / "sample" / "events.parquet"
SAMPLE_CONTACTS = REPO / "data" / "sample" / "contacts.csv"
PIPELINE = """
[run]
warehouse = "out/retention.duckdb"
exports = "out/exports"
as_of = "2024-06-30"
keep_staged_events = true

[source.events]
path = "{events}"
{settings}
{mapping}
{contacts}
[validation]
max_reject_ratio = 0.02
"""
STAGED = "SELECT * EXCLUDE (run_id) FROM stg_events ORDER BY ALL"
TIERS = "SELECT product_id, user_id, tier FROM latest_tiers ORDER BY ALL"


@pytest.fixture(scope="module")
def sample_events(tmp_path_factory) -> Path:
    """A tenth of the sample's users (every event of theirs), to keep each run short."""
    folder = tmp_path_factory.mktemp("sample")
    path = folder / "events.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{SAMPLE_EVENTS}') WHERE hash(user_id) % 10 = 0 "
            f"ORDER BY ALL) TO '{path}'"
        )
    return path


def write_pipeline(folder: Path, events: str, contacts: str = "", settings: str = "") -> Path:
    contacts_table = f'[source.contacts]\npath = "{contacts}"\n' if contacts else ""
    path = folder / f"p{len(list(folder.glob('p*.toml')))}.toml"
    path.write_text(
        PIPELINE.format(
            events=events, settings=settings, mapping=FULL_MAPPING, contacts=contacts_table
        ),
        encoding="utf-8",
    )
    return path


def outcome(pipeline: Path):
    result = retention.run(pipeline)
    warehouse = retention.load_pipeline(pipeline).run.warehouse
    return result.counts, query(warehouse, STAGED), query(warehouse, TIERS), warehouse


@pytest.fixture(scope="module")
def local_run(sample_events, tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    return outcome(write_pipeline(folder, str(sample_events), str(SAMPLE_CONTACTS)))


def split_by_product(events: Path, folder: Path, hive: bool) -> list[Path]:
    """One Parquet file per product (hive: in product_id=<p>/ folders, the column dropped)."""
    files = []
    with duckdb.connect() as con:
        products = [
            r[0] for r in con.execute(f"SELECT DISTINCT product_id FROM '{events}'").fetchall()
        ]
        for product in products:
            target = folder / (
                f"product_id={product}/part-0.parquet" if hive else f"part-{product}.parquet"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            columns = "* EXCLUDE (product_id)" if hive else "*"
            con.execute(
                f"COPY (SELECT {columns} FROM '{events}' WHERE product_id = $p) TO '{target}'",
                {"p": product},
            )
            files.append(target)
    return files


def assert_same_run(remote, local) -> None:
    counts, staged, tiers, _ = remote
    assert counts == local[0]
    assert len(staged) == counts.rows_staged > 1000
    assert staged.equals(local[1])
    assert tiers.equals(local[2])


def test_one_file_with_contacts(bucket, local_run, sample_events, tmp_path):
    events = bucket.put(sample_events, "exports/events.parquet")
    contacts = bucket.put(SAMPLE_CONTACTS, "crm/contacts.csv")
    remote = outcome(write_pipeline(tmp_path, events, contacts))
    assert_same_run(remote, local_run)
    contacts_sql = "SELECT count(*) AS n FROM contacts"
    assert query(remote[3], contacts_sql).n[0] == query(local_run[3], contacts_sql).n[0] > 0


def test_a_glob(bucket, local_run, sample_events, tmp_path):
    for part in split_by_product(sample_events, tmp_path / "parts", hive=False):
        bucket.put(part, f"events/{part.name}")
    bucket.put(SAMPLE_CONTACTS, "events/not-matched.csv")
    remote = outcome(
        write_pipeline(tmp_path, bucket.url("events/part-*.parquet"), str(SAMPLE_CONTACTS))
    )
    assert_same_run(remote, local_run)


def test_a_hive_partitioned_prefix(bucket, local_run, sample_events, tmp_path):
    folder = tmp_path / "hive"
    for part in split_by_product(sample_events, folder, hive=True):
        bucket.put(part, f"lake/events/{part.relative_to(folder).as_posix()}")
    remote = outcome(write_pipeline(tmp_path, bucket.url("lake/events/"), str(SAMPLE_CONTACTS)))
    assert_same_run(remote, local_run)


def test_a_csv_file_with_text_settings(bucket, tmp_path):
    events = tmp_path / "e.csv"
    events.write_bytes("user_id;event_time;amount\nJürgen;2024-06-01;12,50\n".encode("latin-1"))
    url = bucket.put(events, "e.csv")
    settings = 'delimiter = ";"\nencoding = "latin-1"\ndecimal_separator = ","\n'
    pipeline = write_pipeline(tmp_path, url, settings=settings)
    text = pipeline.read_text().split("[source.events.columns]")[0]
    pipeline.write_text(
        text + '[source.events.columns]\nuser_id = "user_id"\nevent_time = "event_time"\n'
        'amount = "amount"\n',
        encoding="utf-8",
    )
    result = retention.run(pipeline)
    staged = query(retention.load_pipeline(pipeline).run.warehouse, STAGED)
    assert result.counts.rows_staged == 1
    assert (staged.user_id[0], staged.amount[0]) == ("Jürgen", 12.5)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("missing.parquet", "file does not exist"),
        ("nothing-*.parquet", "no file matches this pattern"),
    ],
)
def test_a_missing_object_is_one_sentence(bucket, tmp_path, key, message):
    url = bucket.url(key)
    with pytest.raises(SourceError) as error:
        retention.run(write_pipeline(tmp_path, url))
    assert str(error.value) == f"[source.events] path {url}: {message}"


def test_the_endpoint_can_come_from_storage_options(
    bucket, s3_env, monkeypatch, sample_events, tmp_path
):
    url = bucket.put(sample_events, "events.parquet")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    settings = f'storage_options = {{ endpoint_url = "{s3_env}" }}\n'
    result = retention.run(write_pipeline(tmp_path, url, settings=settings))
    assert result.counts.rows_staged > 1000


@pytest.mark.parametrize("key", ["key", "secret", "token", "aws_secret_access_key", "password"])
def test_credentials_in_storage_options_are_refused(tmp_path, key):
    settings = f'storage_options = {{ {key} = "x" }}\n'
    with pytest.raises(ConfigError) as error:
        retention.load_pipeline(write_pipeline(tmp_path, "s3://b/e.parquet", settings=settings))
    assert (
        f"[source.events.storage_options] {key}: credentials never go in the pipeline file"
        in str(error.value)
    )
    assert "set them in the environment" in str(error.value)


def test_storage_options_need_an_object_store_path(tmp_path):
    settings = 'storage_options = { endpoint_url = "http://x" }\n'
    with pytest.raises(ConfigError) as error:
        retention.load_pipeline(write_pipeline(tmp_path, "events.parquet", settings=settings))
    assert "storage_options: only an object-store path" in str(error.value)


def test_the_line_tolerant_reader_reads_urls(bucket):
    """Contacts and suppressions are read in Python: an s3:// file works there too,
    with the endpoint from the environment."""
    from retention.sources.csv_lines import read_csv_files

    local = REPO / "tests" / "fixtures" / "contacts_two_rows.csv"
    remote = read_csv_files([bucket.put(local, "c.csv")])
    assert remote.table.num_rows > 2
    assert remote.table.equals(read_csv_files([str(local)]).table)
