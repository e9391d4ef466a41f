"""Every pipeline-file mistake gives one sentence naming the file, section and key."""

import datetime as dt
import re
from pathlib import Path

import pytest

from retention.config.pipeline_file import (
    CONTACT_COLUMNS,
    COST_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    EVENTS_FIELDS,
    FEATURES_FIELDS,
    RUN_FIELDS,
    SUPPRESSION_COLUMNS,
    TOP_LEVEL,
    VALIDATION_FIELDS,
    load_pipeline,
)
from retention.config.playbooks import EXPORT_FIELDS, PLAYBOOK_FIELDS
from retention.config.scores import RULE_FIELDS, SCORES_FIELDS, SURVIVAL_FIELDS
from retention.errors import ConfigError
from retention.stages.policy_check import check_policies

VALID = """
[run]
warehouse = "out/w.duckdb"
as_of = "2024-06-30"

[source.events]
path = "events.csv"

[source.events.columns]
user_id = "uid"
event_time = "ts"
"""


def load_text(tmp_path: Path, text: str):
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return load_pipeline(path)


def test_valid_file_resolves_paths_relative_to_the_file(tmp_path):
    pipeline = load_text(tmp_path, VALID)
    assert pipeline.run.warehouse == tmp_path / "out" / "w.duckdb"
    assert pipeline.run.exports == tmp_path / "exports"
    assert pipeline.events.path == str(tmp_path / "events.csv")
    assert pipeline.run.as_of == dt.date(2024, 6, 30)
    assert (pipeline.run.time_unit, pipeline.run.timezone) == ("D", "UTC")
    assert pipeline.events.columns == {"user_id": "uid", "event_time": "ts"}
    assert pipeline.max_reject_ratio == 0.05
    assert ("order", "purchase") not in pipeline.events.event_type_map
    assert ("purchase", "purchase") in pipeline.events.event_type_map


def test_sample_pipeline_loads(tmp_path):
    pipeline = load_pipeline(Path(__file__).parents[2] / "pipelines" / "sample.toml")
    assert ("order", "purchase") in pipeline.events.event_type_map
    assert ("app_open", "visit") in pipeline.events.event_type_map
    assert pipeline.contacts is not None


CASES = [
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'delimiter = ";;"'),
        '[source.events] delimiter = ";;": expected one character such as "," '
        '";" "|" "\\t", or "whitespace"',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'quote = "<<"'),
        '[source.events] quote = "<<": expected one character such as "\\"" or '
        '"\'", or "" for no quoting',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'encoding = "cp1252"'),
        '[source.events] encoding = "cp1252": expected one of "utf-8", "utf-16", "latin-1"',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + "header = 1"),
        "[source.events] header = 1: expected true or false",
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + "column_names = []"),
        "[source.events] column_names = []: expected a non-empty list of strings "
        'such as ["purchase", "order"]',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'decimal_separator = ";"'),
        '[source.events] decimal_separator = ";": expected one of ".", ","',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'dsn = "x"'),
        '[source.events] dsn: only a source with format = "postgres" has it',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'dsn_env = "1X"'),
        '[source.events] dsn_env = "1X": expected the name of an environment '
        'variable such as "EVENTS_DSN"',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'table = "a;b"'),
        '[source.events] table = "a;b": expected a table name such as "events" '
        'or "analytics.events"',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\n' + 'query = "DELETE FROM t"'),
        '[source.events] query = "DELETE FROM t": expected a read-only query '
        "starting with SELECT or WITH",
    ),
    (
        VALID.replace("warehouse =", "warehuse ="),
        '[run] unknown key "warehuse" (did you mean "warehouse"?); allowed keys are: as_of, '
        "engine, exports, keep_runs, keep_staged_events, memory_limit, storage_version, threads, "
        "time_unit, timezone, warehouse",
    ),
    (
        VALID.replace('warehouse = "out/w.duckdb"', ""),
        '[run] is missing the required key "warehouse" (path of the DuckDB warehouse file)',
    ),
    (
        VALID + "\n[extra]\nx = 1\n",
        'unknown key "extra"; allowed keys are: exports, features, playbooks, rfm, run, scores, '
        "source, spark, survival, tiers, validation",
    ),
    (
        VALID.replace('as_of = "2024-06-30"', 'as_of = "yesterday"'),
        '[run] as_of = "yesterday": expected a date such as "2024-06-30" or "latest"',
    ),
    (
        VALID.replace('as_of = "2024-06-30"', "as_of = 2024-06-30T10:00:00"),
        '[run] as_of = 2024-06-30 10:00:00: expected a date such as "2024-06-30" or "latest"',
    ),
    (
        VALID.replace("[run]", '[run]\ntime_unit = "M"'),
        '[run] time_unit = "M": expected one of "D", "W"',
    ),
    (
        VALID.replace("[run]", '[run]\ntimezone = "Mars/Olympus"'),
        '[run] timezone = "Mars/Olympus": expected an IANA time zone name such as "UTC" or '
        '"Europe/Berlin"',
    ),
    (
        VALID.replace("[run]", "[run]\nthreads = 0"),
        "[run] threads = 0: expected a whole number from 1 to 1024",
    ),
    (
        VALID.replace("[run]", '[run]\nthreads = "2"'),
        '[run] threads = "2": expected a whole number from 1 to 1024',
    ),
    (
        VALID.replace("[run]", '[run]\nmemory_limit = "lots"'),
        '[run] memory_limit = "lots": expected a size such as "2GB", "512MB" or "75%"',
    ),
    (
        VALID.replace("[run]", '[run]\nkeep_staged_events = "yes"'),
        '[run] keep_staged_events = "yes": expected true or false',
    ),
    (
        VALID.replace("[run]", '[run]\nstorage_version = "1.0"'),
        '[run] storage_version = "1.0": expected a DuckDB version such as "v1.0.0" (readable by '
        'DuckDB 1.0+) or "latest"',
    ),
    (
        VALID.replace("[run]", "[run]\nexports = 3"),
        "[run] exports = 3: expected a non-empty string",
    ),
    (
        VALID.replace('path = "events.csv"', 'path = ""'),
        '[source.events] path = "": expected a non-empty string',
    ),
    (
        VALID.replace('path = "events.csv"', ""),
        '[source.events] is missing the required key "path" (a file, a glob or a folder of event '
        "files)",
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\nformat = "xlsx"'),
        '[source.events] format = "xlsx": expected one of "auto", "csv", '
        '"parquet", "json", "postgres"',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\ndefault_event_type = "buy"'),
        '[source.events] default_event_type = "buy": expected one of "purchase", "refund", '
        '"visit", "page_view", "signup"',
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\nevent_time_format = 5'),
        "[source.events] event_time_format = 5: expected a non-empty string",
    ),
    (
        VALID.replace('user_id = "uid"', 'user = "uid"'),
        '[source.events.columns] unknown key "user" (did you mean "user_id"?); allowed keys are: '
        "amount, channel, event_id, event_time, event_type, product_id, user_id",
    ),
    (
        VALID.replace('user_id = "uid"', ""),
        '[source.events.columns] is missing the required key "user_id" (its source column)',
    ),
    (
        VALID.replace('user_id = "uid"', "user_id = 1"),
        "[source.events.columns] user_id = 1: expected a non-empty string",
    ),
    (
        VALID + '\n[source.events.event_types]\npurchse = ["order"]\n',
        '[source.events.event_types] unknown key "purchse" (did you mean "purchase"?); allowed '
        "keys are: page_view, purchase, refund, signup, visit",
    ),
    (
        VALID + '\n[source.events.event_types]\npurchase = "order"\n',
        '[source.events.event_types] purchase = "order": expected a non-empty list of strings '
        'such as ["purchase", "order"]',
    ),
    (
        VALID + '\n[source.events.event_types]\npurchase = ["order"]\nrefund = ["ORDER"]\n',
        '[source.events.event_types] "ORDER" is mapped to both "purchase" and "refund"; map each '
        "source value to one type",
    ),
    (
        VALID + '\n[source.contacts]\nformat = "csv"\n',
        '[source.contacts] is missing the required key "path" (a file of user contacts)',
    ),
    (
        VALID + '\n[source.contacts]\npath = "c.csv"\n[source.contacts.columns]\nmail = "e"\n',
        '[source.contacts.columns] unknown key "mail" (did you mean "email"?); allowed keys are: '
        "country, email, email_opt_in, phone, sms_opt_in, user_id",
    ),
    (
        VALID + '\n[source.costs]\npath = "c.csv"\n[source.costs.columns]\ncost = "x"\n',
        '[source.costs.columns] unknown key "cost"; allowed keys are: channel, day, product_id, '
        "spend",
    ),
    (
        VALID + "\n[source.crm]\npath = 'x'\n",
        '[source] unknown key "crm"; allowed keys are: contacts, costs, events, suppressions',
    ),
    (
        VALID + "\n[validation]\nmax_reject_ratio = 1.5\n",
        "[validation] max_reject_ratio = 1.5: expected a number from 0 to 1",
    ),
    (
        VALID + "\n[validation]\nmax_reject_ratio = true\n",
        "[validation] max_reject_ratio = true: expected a number from 0 to 1",
    ),
    (
        VALID + '\n[validation]\nmin_event_time = "soon"\n',
        '[validation] min_event_time = "soon": expected a date such as "2024-06-30"',
    ),
    (
        VALID + "\n[features]\nsession_gap_minutes = 0\n",
        "[features] session_gap_minutes = 0: expected a whole number from 1 to 1440",
    ),
    (
        VALID.replace("[source.events]\n", "[source.event]\n"),
        '[source] unknown key "event" (did you mean "events"?); allowed keys are: contacts, '
        "costs, events, suppressions",
    ),
    ("[source.events]\npath = 'x'\n", "the [run] section is missing"),
    ("[run]\nwarehouse = 'w'\n[source]\n", "the [source.events] section is missing"),
    (
        "[run]\nwarehouse = 'w'\nsource = 3\n",
        '[run] unknown key "source"; allowed keys are: as_of, engine, exports, '
        "keep_runs, keep_staged_events, memory_limit, storage_version, threads, time_unit, "
        "timezone, warehouse",
    ),
]


PLAYBOOK = '[[playbooks]]\nname = "a"\ntiers = ["core"]\nchannels = ["email"]\n'
TIERS_LISTED = '"junk", "new", "valid", "active", "core", "at_risk", "churned"'
# One wrong value for every key the cases above leave out.
KEY_CASES = [
    (
        VALID.replace("[run]", "[run]\nkeep_runs = 0"),
        "[run] keep_runs = 0: expected a whole number from 1 to 10000",
    ),
    ('run = 3\n[source.events]\npath = "e.csv"\n', "[run] must be a table of keys"),
    (
        VALID.replace("[run]", '[run]\nengine = "dask"'),
        '[run] engine = "dask": expected one of "duckdb", "spark"',
    ),
    ("spark = 3\n" + VALID, "[spark] must be a table of keys"),
    (VALID + "\n[spark]\nmaster = 7\n", "[spark] master = 7: expected a non-empty string"),
    (
        VALID + '\n[spark]\nconf = { "spark.x" = [1] }\n',
        "[spark] conf = {...}: expected a text, number or boolean for spark.x",
    ),
    (
        VALID + '\n[spark]\nlake = "s3://b/lake"\n',
        '[spark] lake = "s3://b/lake": a local or shared folder path for now '
        "(object-store lakes are not supported yet)",
    ),
    (
        "[run]\nwarehouse = 'w'\n[source]\nevents = 3\n",
        "[source.events] must be a table of keys",
    ),
    (
        VALID.replace("[source.events.columns]", "[source.events.colums]"),
        '[source.events] unknown key "colums" (did you mean "columns"?); allowed keys are: '
        "column_names, columns, decimal_separator, default_event_type, delimiter, dsn, dsn_env, "
        "encoding, event_time_format, event_types, format, header, path, query, quote, "
        "storage_options, table",
    ),
    (
        VALID.replace('path = "events.csv"', 'path = "events.csv"\nevent_types = ["order"]'),
        "[source.events.event_types] must be a table of keys",
    ),
    (
        VALID.replace("[source.events]", "[source]\ncontacts = 3\n[source.events]"),
        "[source.contacts] must be a table of keys",
    ),
    (
        VALID + "[source.contacts]\npath = 5\n",
        "[source.contacts] path = 5: expected a non-empty string",
    ),
    (
        VALID + '[source.contacts]\npath = "c.csv"\nformat = "xls"\n',
        '[source.contacts] format = "xls": expected one of "auto", "csv", '
        '"parquet", "json", "postgres"',
    ),
    (
        VALID + '[source.contacts]\npath = "c.csv"\ncolumns = ["email"]\n',
        "[source.contacts.columns] must be a table of keys",
    ),
    (
        VALID.replace("[source.events]", "[source]\ncosts = true\n[source.events]"),
        "[source.costs] must be a table of keys",
    ),
    (
        VALID + '[source.costs]\npath = ""\n',
        '[source.costs] path = "": expected a non-empty string',
    ),
    (
        VALID + '[source.costs]\npath = "c.csv"\nformat = "csv.gz"\n',
        '[source.costs] format = "csv.gz": expected one of "auto", "csv", '
        '"parquet", "json", "postgres"',
    ),
    (
        VALID + '[source.costs]\npath = "c.csv"\ncolumns = 1\n',
        "[source.costs.columns] must be a table of keys",
    ),
    ("validation = 3\n" + VALID, "[validation] must be a table of keys"),
    ("features = 3\n" + VALID, "[features] must be a table of keys"),
    ("scores = 3\n" + VALID, "[scores] must be a table of keys"),
    (
        VALID + '[scores]\npurchase_model = "bg/nbd"\n',
        '[scores] purchase_model = "bg/nbd": expected one of "bgnbd", "mbgnbd", "pareto_nbd"',
    ),
    (
        VALID + "[scores]\npenalizer = -0.1\n",
        "[scores] penalizer = -0.1: expected a number from 0 to 100",
    ),
    (
        VALID + "[scores]\nhorizons_days = [30, 30]\n",
        "[scores] horizons_days = [30, 30]: expected a list of distinct whole numbers of days "
        "such as [30, 90, 365]",
    ),
    (
        VALID + '[scores]\nhorizons_days = ["30D"]\n',
        '[scores] horizons_days = ["30D"]: expected a list of distinct whole numbers of days '
        "such as [30, 90, 365]",
    ),
    (
        VALID + "[scores]\nclv_months = 0\n",
        "[scores] clv_months = 0: expected a whole number from 1 to 120",
    ),
    (
        VALID + "[scores]\nmonthly_discount_rate = 2\n",
        "[scores] monthly_discount_rate = 2: expected a number from 0 to 1",
    ),
    (
        VALID + "[scores]\nmin_repeat_buyers = 0\n",
        "[scores] min_repeat_buyers = 0: expected a whole number from 1 to 1000000",
    ),
    ("survival = 3\n" + VALID, "[survival] must be a table of keys"),
    (
        VALID + "[survival]\nchurn_after_days = 0\n",
        "[survival] churn_after_days = 0: expected a whole number from 1 to 3650",
    ),
    (
        VALID + "[survival]\nmax_fit_users = 10\n",
        "[survival] max_fit_users = 10: expected a whole number from 100 to 100000000",
    ),
    (
        VALID + "[survival]\nseed = -1\n",
        "[survival] seed = -1: expected a whole number from 0 to 2147483647",
    ),
    ("rfm = 3\n" + VALID, "[rfm] must be a table of keys"),
    (
        VALID + "[rfm]\nsegments = 3\n",
        "[[rfm.segments]] must be a non-empty list of tables with name and rule",
    ),
    (
        VALID + '[[rfm.segments]]\nname = 3\nrule = "true"\n',
        "[[rfm.segments]] #1 name = 3: expected a non-empty string",
    ),
    (
        VALID + '[[rfm.segments]]\nname = "Rest"\nrule = ""\n',
        '[[rfm.segments]] #1 rule = "": expected a non-empty string',
    ),
    ("tiers = 3\n" + VALID, "[[tiers]] must be a non-empty list of tables with name and rule"),
    (
        VALID + '[[tiers]]\nname = ""\nrule = "true"\n',
        '[[tiers]] #1 name = "": expected a non-empty string',
    ),
    (
        VALID + '[[tiers]]\nname = "core"\nrule = true\n',
        "[[tiers]] #1 rule = true: expected a non-empty string",
    ),
    ("playbooks = 3\n" + VALID, "[[playbooks]] must be a non-empty list of tables"),
    (
        VALID + PLAYBOOK.replace('name = "a"', "name = 1"),
        "[[playbooks]] #1 name = 1: expected a non-empty string",
    ),
    (
        VALID + PLAYBOOK + PLAYBOOK,
        '[[playbooks]] name "a" is used twice; names must be unique',
    ),
    (
        VALID + PLAYBOOK.replace('["core"]', '["vip"]'),
        f'[[playbooks]] #1 tiers: unknown "vip"; expected one of {TIERS_LISTED}',
    ),
    (
        VALID + PLAYBOOK.replace('["core"]', '"core"'),
        f'[[playbooks]] #1 tiers = "core": expected a non-empty list from {TIERS_LISTED}',
    ),
    (
        VALID + PLAYBOOK + "filter = 1\n",
        "[[playbooks]] #1 filter = 1: expected a non-empty string",
    ),
    (
        VALID + PLAYBOOK.replace('["email"]', '["email", "fax"]'),
        '[[playbooks]] #1 channels: unknown "fax"; expected one of "email", "sms", "call"',
    ),
    (
        VALID + PLAYBOOK.replace('["email"]', "[]"),
        '[[playbooks]] #1 channels = []: expected a non-empty list from "email", "sms", "call"',
    ),
    (
        VALID + PLAYBOOK + "holdout_share = 0.95\n",
        "[[playbooks]] #1 holdout_share = 0.95: expected a number from 0 to 0.9",
    ),
    (
        VALID + PLAYBOOK + "priority = 1.5\n",
        "[[playbooks]] #1 priority = 1.5: expected a whole number from -1000 to 1000",
    ),
    (
        VALID + PLAYBOOK + 'offer = { "code word" = "x" }\n',
        "[[playbooks]] #1 offer must be a table of simple names to text or numbers, "
        'e.g. offer = { code = "WELCOME10", template_id = "t-42" }',
    ),
    ("exports = 3\n" + VALID, "[exports] must be a table of keys"),
    (
        VALID + '[exports]\nformat = "xlsx"\n',
        '[exports] format = "xlsx": expected one of "csv", "parquet"',
    ),
    (
        VALID + "[exports]\nmax_file_mb = 0\n",
        "[exports] max_file_mb = 0: expected a number from 0.001 to 10000",
    ),
    (
        VALID + '[exports]\nholdout_salt = ""\n',
        '[exports] holdout_salt = "": expected a non-empty string',
    ),
    (
        VALID + "[exports]\nmax_contacts = -1\n",
        "[exports] max_contacts = -1: expected a whole number from 0 to 1000",
    ),
    (
        VALID + "[exports]\nwindow_days = 0\n",
        "[exports] window_days = 0: expected a whole number from 1 to 365",
    ),
    (
        VALID + '[exports]\nallow_non_ascii_local = "no"\n',
        '[exports] allow_non_ascii_local = "no": expected true or false',
    ),
]
# Every mapped column and event type, each with a value of the wrong kind.
KEY_CASES += [
    (
        VALID.replace('event_time = "ts"', f'event_time = "ts"\n{key} = ""'),
        f'[source.events.columns] {key} = "": expected a non-empty string',
    )
    for key in EVENT_COLUMNS
    if key not in ("user_id", "event_time")
]
KEY_CASES.append(
    (
        VALID.replace('event_time = "ts"', 'event_time = ""'),
        '[source.events.columns] event_time = "": expected a non-empty string',
    )
)
KEY_CASES += [
    (
        VALID + f'[source.{source}]\npath = "f.csv"\n[source.{source}.columns]\n{key} = 0\n',
        f"[source.{source}.columns] {key} = 0: expected a non-empty string",
    )
    for source, keys in (
        ("contacts", CONTACT_COLUMNS),
        ("costs", COST_COLUMNS),
        ("suppressions", SUPPRESSION_COLUMNS),
    )
    for key in keys
]
KEY_CASES += [
    (
        VALID + '[scores]\none_time_buyers = "mbgnbd"\n',
        '[scores] one_time_buyers = "mbgnbd": expected one of "plain", "dropout"',
    ),
    (
        VALID + "[scores]\ninterval_draws = -1\n",
        "[scores] interval_draws = -1: expected a whole number from 0 to 10000",
    ),
    (
        VALID + '[scores]\ncovariates = ["channel"]\n',
        '[scores] covariates = ["channel"]: expected a list of distinct names among '
        '"acquisition_channel", "log_first_order_value"',
    ),
    (
        VALID + "[scores]\ninterval_seed = 1.5\n",
        "[scores] interval_seed = 1.5: expected a whole number from 0 to 2147483647",
    ),
    (
        VALID + "[exports]\nkeep_runs = 0\n",
        "[exports] keep_runs = 0: expected a whole number from 1 to 10000",
    ),
    (
        VALID + '[source.suppressions]\npath = ""\n',
        '[source.suppressions] path = "": expected a non-empty string',
    ),
    (
        VALID.replace("[source.events]", "[source]\nsuppressions = 1\n[source.events]"),
        "[source.suppressions] must be a table of keys",
    ),
    (
        VALID + '[source.suppressions]\npath = "s.csv"\ncolumns = 1\n',
        "[source.suppressions.columns] must be a table of keys",
    ),
    (
        VALID + '[source.suppressions]\npath = "s.csv"\nformat = "xls"\n',
        '[source.suppressions] format = "xls": expected one of "auto", "csv", '
        '"parquet", "json", "postgres"',
    ),
]
KEY_CASES += [
    (
        VALID + f"[source.events.event_types]\n{key} = []\n",
        f"[source.events.event_types] {key} = []: expected a non-empty list of strings such as "
        '["purchase", "order"]',
    )
    for key in EVENT_TYPES
]


@pytest.mark.parametrize(("text", "message"), CASES + KEY_CASES)
def test_config_error_message(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, text)
    assert str(error.value) == f"{tmp_path / 'p.toml'}: {message}"


def test_not_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"p.toml: not valid TOML: Expected '=' after a key"):
        load_text(tmp_path, "[run]\nwarehouse\n")


def test_missing_pipeline_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^pipeline file .*nope.toml does not exist$"):
        load_pipeline(tmp_path / "nope.toml")


# Output paths: (files and folders to create, [run] lines, [source.events] path, message).
# {tmp} stands for the pipeline file's folder.
PATH_CASES = [
    (
        ["out/w.duckdb/"],
        'warehouse = "out/w.duckdb"',
        "events.csv",
        '[run] warehouse = "out/w.duckdb": expected a file, but {tmp}/out/w.duckdb is a folder',
    ),
    (
        ["events.csv"],
        'warehouse = "w.duckdb"\nexports = "events.csv"',
        "events.csv",
        '[run] exports = "events.csv": expected a folder, but {tmp}/events.csv is a file',
    ),
    (
        [],
        'warehouse = "p.toml"',
        "events.csv",
        '[run] warehouse = "p.toml": expected a file of its own, not the pipeline file',
    ),
    (
        [],
        'warehouse = "exports/w.duckdb"',
        "events.csv",
        '[run] warehouse = "exports/w.duckdb": expected a path outside the exports folder '
        "{tmp}/exports, which is handed to campaign tools",
    ),
    (
        [],
        'warehouse = "out/sub/../w.duckdb"\nexports = "out"',
        "events.csv",
        '[run] warehouse = "out/sub/../w.duckdb": expected a path outside the exports folder '
        "{tmp}/out, which is handed to campaign tools",
    ),
    (
        ["events.csv"],
        'warehouse = "events.csv"',
        "events.csv",
        '[run] warehouse = "events.csv": expected a file of its own, not the [source.events] file',
    ),
    (
        ["data/a.csv", "data/b.csv"],
        'warehouse = "data/b.csv"',
        "data/*.csv",
        '[run] warehouse = "data/b.csv": expected a file of its own, not the [source.events] file',
    ),
    (
        ["data/a.csv"],
        'warehouse = "w.duckdb"\nexports = "data/exports"',
        "data",
        '[run] exports = "data/exports": expected a folder outside {tmp}/data, which '
        "[source.events] reads (the next run would read the export files)",
    ),
    (
        ["data/a.csv"],
        'warehouse = "w.duckdb"\nexports = "data"',
        "data",
        '[run] exports = "data": expected a folder outside {tmp}/data, which '
        "[source.events] reads (the next run would read the export files)",
    ),
    (
        ["data/2024/a.csv"],
        'warehouse = "w.duckdb"\nexports = "data/out"',
        "data/*/*.csv",
        '[run] exports = "data/out": expected a folder outside {tmp}/data, which '
        "[source.events] reads (the next run would read the export files)",
    ),
    (
        ["data/a.csv", "link->data"],
        'warehouse = "w.duckdb"\nexports = "link/exports"',
        "data",
        '[run] exports = "link/exports": expected a folder outside {tmp}/data, which '
        "[source.events] reads (the next run would read the export files)",
    ),
]


def create(tmp_path: Path, entries: list[str]) -> None:
    """ "a/b.csv" a file, "a/" a folder, "link->target" a symbolic link."""
    for entry in entries:
        if "->" in entry:
            link, target = entry.split("->")
            (tmp_path / link).symlink_to(tmp_path / target, target_is_directory=True)
            continue
        path = tmp_path / entry
        if entry.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("user_id,event_time\nu1,2024-06-01\n")


@pytest.mark.parametrize(("entries", "run", "events", "message"), PATH_CASES)
def test_output_path_error_message(tmp_path, entries, run, events, message):
    create(tmp_path, entries)
    text = f'[run]\n{run}\n[source.events]\npath = "{events}"\n'
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, text)
    assert str(error.value) == f"{tmp_path / 'p.toml'}: " + message.format(tmp=tmp_path)


def test_contacts_file_is_not_a_warehouse(tmp_path):
    create(tmp_path, ["contacts.csv"])
    text = (
        VALID.replace("out/w.duckdb", "contacts.csv") + '[source.contacts]\npath = "contacts.csv"\n'
    )
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, text)
    assert str(error.value) == (
        f'{tmp_path / "p.toml"}: [run] warehouse = "contacts.csv": expected a file of its own, '
        "not the [source.contacts] file"
    )


def test_outputs_may_live_anywhere_else(tmp_path):
    """Paths outside the pipeline's folder are fine: the rule is about what they hit."""
    create(tmp_path, ["data/a.csv"])
    text = (
        '[run]\nwarehouse = "../elsewhere/w.duckdb"\nexports = "data-exports"\n'
        '[source.events]\npath = "data"\n'
    )
    pipeline = load_text(tmp_path, text)
    assert pipeline.run.warehouse == tmp_path / "../elsewhere/w.duckdb"
    assert pipeline.run.exports == tmp_path / "data-exports"


# "[source.events.columns] user_id = 1: ..." -> "source.events.columns.user_id";
# "[[playbooks]] #1 tiers: ..." -> "playbooks.tiers"; "[rfm] must be ..." -> "rfm"
MESSAGE_KEY = re.compile(r"\[\[?([a-z_.]+)\]\]?(?: #[0-9]+)?(?: ([a-z_]+)(?: =|:| must))?")


def schema_keys() -> set[str]:
    """Every key and table of the pipeline file, from the parser's own field lists."""
    keys = {f"run.{k}" for k in RUN_FIELDS} | {f"source.events.{k}" for k in EVENTS_FIELDS}
    keys |= {f"source.events.columns.{k}" for k in EVENT_COLUMNS}
    keys |= {f"source.events.event_types.{k}" for k in EVENT_TYPES}
    for source, columns in (
        ("contacts", CONTACT_COLUMNS),
        ("costs", COST_COLUMNS),
        ("suppressions", SUPPRESSION_COLUMNS),
    ):
        keys |= {f"source.{source}.{k}" for k in ("path", "format")}
        keys |= {f"source.{source}.columns.{k}" for k in columns}
        keys |= {f"source.{source}", f"source.{source}.columns"}
    keys |= {f"validation.{k}" for k in VALIDATION_FIELDS}
    keys |= {f"features.{k}" for k in FEATURES_FIELDS}
    keys |= {f"scores.{k}" for k in SCORES_FIELDS} | {f"survival.{k}" for k in SURVIVAL_FIELDS}
    keys |= {f"{rules}.{k}" for rules in ("rfm.segments", "tiers") for k in RULE_FIELDS}
    keys |= {f"playbooks.{k}" for k in PLAYBOOK_FIELDS} | {"playbooks.offer"}
    keys |= {f"exports.{k}" for k in EXPORT_FIELDS}
    tables = ("source.events", "source.events.columns", "source.events.event_types")
    return keys | set(TOP_LEVEL) - {"source"} | set(tables) | {"rfm.segments"}


def test_every_key_has_a_wrong_value_case():
    covered = set()
    for _, message in CASES + KEY_CASES + [(None, m) for *_, m in PATH_CASES]:
        found = MESSAGE_KEY.match(message)
        if found:
            covered.add(".".join(part for part in found.groups() if part))
    assert schema_keys() - covered == set()


def test_playbook_filter_that_is_not_sql_names_the_playbook(tmp_path):
    """Checked against the real columns before a run does any work."""
    pipeline = load_text(tmp_path, VALID + PLAYBOOK + 'filter = "tier = core"\n')
    with pytest.raises(ConfigError) as error:
        check_policies(pipeline)
    assert str(error.value).startswith(
        f'{tmp_path / "p.toml"}: [[playbooks]] filter of "a": rule "tier = core" cannot be used '
        '(Binder Error: Referenced column "core" not found in FROM clause!'
    )
    assert "; columns are: run_id, product_id, user_id, " in str(error.value)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("(SELECT count(*) FROM read_text('/etc/shadow')) > 0", "a subquery is not allowed"),
        ("enable_logging(storage := 'file') IS NULL", "the function enable_logging() is not"),
        ("length(getenv('HOME')) > 0", "the function getenv() is not allowed"),
        ("sum(clv) OVER () > 0", "a window function is not allowed"),
    ],
)
def test_rules_that_read_or_write_files_are_refused_before_they_run(tmp_path, rule, problem):
    tiers = f'[[tiers]]\nname = "core"\nrule = "{rule}"\n[[tiers]]\nname = "valid"\nrule = "true"\n'
    pipeline = load_text(tmp_path, VALID + tiers)
    with pytest.raises(ConfigError) as error:
        check_policies(pipeline)
    assert f'[[tiers]] "core": rule "{rule}" cannot be used ({problem}' in str(error.value)


def test_a_playbook_filter_with_a_table_function_names_the_playbook(tmp_path):
    text = VALID + PLAYBOOK + "filter = \"(SELECT 1 FROM read_csv('/etc/passwd')) = 1\"\n"
    with pytest.raises(ConfigError) as error:
        check_policies(load_text(tmp_path, text))
    assert '[[playbooks]] filter of "a"' in str(error.value)
    assert "a subquery is not allowed in a rule" in str(error.value)


def test_a_playbook_name_too_long_for_a_file_name_is_refused(tmp_path):
    text = VALID + PLAYBOOK.replace('name = "a"', f'name = "{"w" * 300}"')
    with pytest.raises(ConfigError, match=r"name is 300 characters long: expected at most 100"):
        load_text(tmp_path, text)


def test_playbooks_whose_file_names_collide_are_refused(tmp_path):
    text = VALID + PLAYBOOK.replace('"a"', '"win back"') + PLAYBOOK.replace('"a"', '"win_back"')
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, text)
    assert str(error.value).endswith(
        '[[playbooks]] names "win back" and "win_back" both become the file name "win_back"; '
        "rename one of them"
    )
