"""The reject gate teaches: top reasons with an example, the setting that fixes
them, and a command that runs as printed."""

import shlex

import duckdb
import pytest
from click.testing import CliRunner

import retention
from retention.cli import main
from retention.errors import DataQualityError
from retention.stages.staging.reject_hints import hint
from tests.conftest import FIXTURES, ORDER_MAPPING

MAPPING = ORDER_MAPPING
US_DATES = FIXTURES / "events_us_dates.csv"  # 06/30/2024
DOTTED_DATES = FIXTURES / "events_dotted_day_first_dates.csv"  # 30.06.2024


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def error_lines(stderr: str) -> list[str]:
    """The error's lines (warnings logged before it left out)."""
    lines = stderr.strip().splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("Error: ")) :]


def command_in(message: str) -> list[str]:
    """The arguments of the `retention sql ...` command the error ends with."""
    line = message.strip().splitlines()[-1]
    words = shlex.split(line.split(": ", 1)[1])
    assert words[:2] == ["retention", "sql"]
    return words[1:]


@pytest.mark.parametrize(
    ("events", "expected"), [(US_DATES, "%m/%d/%Y"), (DOTTED_DATES, "%d.%m.%Y")]
)
def test_a_date_format_is_named_and_the_command_runs(write_pipeline, events, expected):
    path = write_pipeline(events, mapping=MAPPING)
    result = invoke("run", path, "--quiet")
    assert result.exit_code == 4
    lines = error_lines(result.stderr)
    assert lines[0] == (
        "Error: 24 of 24 rows (100.0%) were rejected, more than [validation] "
        "max_reject_ratio = 0.05; the top reasons:"
    )
    assert lines[1].startswith('  unparseable_event_time: 24 rows, e.g. event_time "')
    assert lines[1].endswith(
        f'; set event_time_format = "{expected}" under [source.events] in {path}'
    )
    assert "Traceback" not in result.output
    listed = invoke(*command_in(result.stderr), "--format", "csv")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1:] == ['"unparseable_event_time",24']


def test_following_the_hint_makes_the_run_pass(write_pipeline):
    fixed = f'event_time_format = "%m/%d/%Y"\n{MAPPING}'
    result = invoke("run", write_pipeline(US_DATES, mapping=fixed), "--quiet")
    assert result.exit_code == 0, result.output
    assert "24 read, 24 staged, 0 rejected" in result.stdout


def test_the_command_quotes_a_warehouse_path_with_spaces(write_pipeline, tmp_path):
    warehouse = tmp_path / "shop's data" / "w h.duckdb"
    pipeline = retention.load_pipeline(
        write_pipeline(DOTTED_DATES, mapping=MAPPING), warehouse=warehouse
    )
    with pytest.raises(DataQualityError) as caught:
        retention.run(pipeline)
    args = command_in(str(caught.value))
    assert args[1] == str(warehouse)
    assert "run_id = 1 GROUP BY reason" in args[2]
    listed = invoke(*args)
    assert listed.exit_code == 0 and "unparseable_event_time" in listed.stdout


def test_other_reasons_show_an_example_and_no_guess(write_pipeline):
    result = invoke("run", write_pipeline(FIXTURES / "events_bad_rows.csv"), "--quiet")
    assert result.exit_code == 4
    lines = error_lines(result.stderr)
    assert lines[1:4] == [
        "  missing_user_id: 2 rows, user_id empty",
        '  unparseable_amount: 2 rows, e.g. amount "abc"',
        '  event_time_out_of_range: 1 row, e.g. event_time "1900-01-01 00:00:00"',
    ]
    assert lines[4] == "  and 6 more reasons (6 rows)"
    assert lines[5].startswith("see every reason with: retention sql ")
    assert len(lines) == 6


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        yield connection


@pytest.mark.parametrize(
    ("reason", "samples", "expected"),
    [
        ("unparseable_amount", ["12,50", "1.234,50", "3,1"], 'decimal_separator = ","'),
        ("unparseable_amount", ["12.50 EUR", "n/a"], None),
        ("missing_event_time", ["u1;2024-06-01;order", "u2;2024-06-02;visit"], 'delimiter = ";"'),
        ("malformed_csv_line", ["e1\tu1\t2024-06-01", "e2\tu2\t2024-06-02"], 'delimiter = "\\t"'),
        ("missing_user_id", [], None),
    ],
)
def test_hints_from_sample_values(con, reason, samples, expected):
    assert hint(con, reason, samples) == expected


def test_a_time_of_day_and_day_order_ambiguity_are_both_said(con):
    assert hint(con, "unparseable_event_time", ["06/30/2024 10:15", "07/01/2024 08:00"]) == (
        'event_time_format = "%m/%d/%Y %H:%M"'
    )
    assert hint(con, "unparseable_event_time", ["01/02/2024", "03/04/2024"]) == (
        'event_time_format = "%m/%d/%Y" (or "%d/%m/%Y": these values read either way)'
    )
    assert hint(con, "unparseable_event_time", ["yesterday", "soon"]) is None
