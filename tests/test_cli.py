"""The command line: exit codes and exact one-sentence errors, no tracebacks."""

import duckdb
import pytest
from click.testing import CliRunner

from retention.cli import main
from retention.warehouse.ledger import record_steps
from retention.warehouse.sql_files import read_sql
from tests.conftest import FIXTURES, RUN_STAGES, pipeline_text, query


def invoke(*args: str):
    """Run a command quietly: stdout holds the result, stderr only errors."""
    return CliRunner().invoke(main, [str(a) for a in args] + ["--quiet"])


def test_run_prints_counts_and_publishes(write_pipeline):
    result = invoke("run", write_pipeline(FIXTURES / "events_tiny.csv"))
    assert result.exit_code == 0, result.output
    assert (
        "events: 12 read, 11 staged, 0 rejected, 0 duplicates dropped, 1 after as_of ignored"
        in (result.output)
    )
    assert "users in shop: 2" in result.stdout


def test_run_profile_prints_each_stage_time_and_peak_memory(write_pipeline):
    result = invoke("run", write_pipeline(FIXTURES / "events_tiny.csv"), "--profile")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if not line.startswith("  ")]
    table = lines[lines.index(next(line for line in lines if line.startswith("stage "))) :]
    stages = [line.split()[0] for line in table[1:9]]
    assert stages == RUN_STAGES
    assert table[1].split()[-1] == "11"  # rows staged
    total = float(table[10].split()[1])
    assert table[9].startswith("other") and table[10].startswith("total") and total > 0
    assert sum(float(line.split()[1]) for line in table[1:10]) == pytest.approx(total, abs=0.05)
    assert table[11].startswith("peak memory (RSS): ") and table[11].endswith(" MiB")


def test_run_steps_time_each_sql_model_and_model_fit(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    assert invoke("run", pipeline).exit_code == 0
    warehouse = pipeline.parent / "out" / "retention.duckdb"
    steps = query(warehouse, "SELECT stage, step, seconds, calls FROM run_steps")
    named = dict(zip(steps.stage + " " + steps.step, steps.calls, strict=True))
    assert named["staging staging/parsed_events"] == 1
    assert named["features features/user_days"] == 1
    assert named["scores scores/btyd_triples"] == 1
    assert named["scores purchase and spend models"] >= 1  # fits and point predictions
    assert named["scores survival models"] == 1
    # a fit's own SQL models count under the fit, not twice
    assert "scores survival/user_lifetimes" not in named
    totals = query(
        warehouse,
        "SELECT s.stage, s.seconds, sum(t.seconds) AS steps FROM run_stages s "
        "JOIN run_steps t USING (run_id, stage) GROUP BY ALL",
    )
    assert (totals.steps <= totals.seconds).all()


def test_run_as_of_and_db_options_override_the_file(write_pipeline, tmp_path):
    db = tmp_path / "elsewhere" / "w.duckdb"
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    result = invoke("run", pipeline, "--as-of", "2024-06-01", "--db", db)
    assert result.exit_code == 0, result.output
    runs = query(db, "SELECT as_of, rows_after_as_of FROM runs")
    assert str(runs.as_of[0].date()) == "2024-06-01"
    assert runs.rows_after_as_of[0] == 6


def test_missing_pipeline_file():
    result = invoke("run", "nowhere.toml")
    assert result.exit_code == 1
    assert result.stderr == "Error: pipeline file nowhere.toml does not exist\n"


def test_missing_source_file(write_pipeline, tmp_path):
    result = invoke("run", write_pipeline("missing.csv"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: [source.events] path {tmp_path / 'missing.csv'}: file does not exist\n"
    )


def test_glob_matching_nothing(write_pipeline, tmp_path):
    result = invoke("run", write_pipeline("logs/*.parquet"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: [source.events] path {tmp_path / 'logs/*.parquet'}: no file matches this pattern\n"
    )


def test_mapped_column_that_does_not_exist(write_pipeline, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("id,ts,kind\n1,2024-01-01,visit\n")
    mapping = '[source.events.columns]\nuser_id = "uid"\nevent_time = "ts"'
    result = invoke("run", write_pipeline(events, mapping=mapping))
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: [source.events.columns] user_id = "uid": no column "uid" in {events}; '
        "columns are: id, ts, kind\n"
    )


def test_empty_file(write_pipeline, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("")
    result = invoke("run", write_pipeline(events))
    assert result.exit_code == 1
    assert result.stderr == f"Error: [source.events] path {events}: the file is empty\n"


def test_header_only_file_has_no_rows(write_pipeline, tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("user_id,event_time\n")
    result = invoke("run", write_pipeline(events, mapping=""))
    assert result.exit_code == 1
    assert result.stderr == f"Error: [source.events] path {events}: the source has no rows\n"


def test_config_error_is_one_line(write_pipeline, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(pipeline_text("e.csv").replace("as_of", "as_off"))
    result = invoke("run", path)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f'Error: {path}: [run] unknown key "as_off"')
    assert "Traceback" not in result.stderr


def test_reject_ratio_error(write_pipeline):
    result = invoke("run", write_pipeline(FIXTURES / "events_bad_rows.csv"))
    assert result.exit_code == 4  # the reject gate, apart from other user errors
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "Error: 11 of 13 rows (84.6%) were rejected, more than [validation] "
        "max_reject_ratio = 0.05; the top reasons:"
    )
    assert lines[-1].endswith(
        '"SELECT reason, count(*) FROM rejected_events WHERE run_id = 1 GROUP BY reason"'
    )


def test_second_writer_is_refused_while_a_run_writes(write_pipeline, tmp_path):
    import subprocess
    import sys

    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    lock = tmp_path / "out" / "retention.duckdb.lock"
    lock.parent.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; h = open(sys.argv[1], 'a+'); fcntl.flock(h, fcntl.LOCK_EX); "
            "print('ok', flush=True); time.sleep(30)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        result = invoke("run", pipeline)
    finally:
        holder.kill()
    assert result.exit_code == 3  # a scheduler may retry
    assert result.stderr == (
        f"Error: warehouse {tmp_path / 'out' / 'retention.duckdb'} is being written by another "
        "run; wait for it to finish\n"
    )


def test_run_succeeds_while_a_reader_holds_the_published_file(write_pipeline, tmp_path):
    import subprocess
    import sys

    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    assert invoke("run", pipeline).exit_code == 0
    warehouse = tmp_path / "out" / "retention.duckdb"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('ok', flush=True); sys.stdin.readline(); "
            "print(c.sql('SELECT run_id FROM published_run').fetchall()[0][0], flush=True)",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "ok"
    result = invoke("run", pipeline)
    reader.stdin.write("\n")
    reader.stdin.flush()
    seen_by_old_reader = reader.stdout.readline().strip()
    reader.wait(timeout=30)
    assert result.exit_code == 0, result.output
    assert seen_by_old_reader == "1"  # a consistent snapshot of the run it opened
    assert query(warehouse, "SELECT run_id FROM published_run").run_id[0] == 2


def test_unexpected_error_has_no_traceback_unless_verbose(write_pipeline, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("retention.pipeline.build_features", broken)
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    result = invoke("run", pipeline)
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unexpected RuntimeError: disk on fire "
        "(run again with --verbose for the traceback)\n"
    )
    verbose = CliRunner().invoke(main, ["run", str(pipeline), "--verbose"])
    assert isinstance(verbose.exception, RuntimeError)


def test_every_command_has_help_with_an_example():
    for name in main.commands:
        result = invoke(name, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, f"retention {name} --help has no example"


def test_progress_goes_to_stderr_and_quiet_silences_it(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    loud = CliRunner().invoke(main, ["run", str(pipeline)])
    quiet = CliRunner().invoke(main, ["run", str(pipeline), "--quiet"])
    assert "staging ..." in loud.stderr and "features done in" in loud.stderr
    assert "staging" not in quiet.stderr and "done in" not in quiet.stderr  # warnings may stay


def test_export_unknown_playbook(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    assert invoke("run", pipeline).exit_code == 0
    result = invoke("export", pipeline, "--playbook", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith('Error: --playbook "nope": no such playbook; playbooks are: ')


def test_export_before_any_run(write_pipeline, tmp_path):
    result = invoke("export", write_pipeline(FIXTURES / "events_tiny.csv"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: warehouse {tmp_path / 'out' / 'retention.duckdb'} does not exist; "
        "run the pipeline first\n"
    )


def test_uplift_of_unknown_run(write_pipeline, tmp_path):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    assert invoke("run", pipeline).exit_code == 0
    result = invoke("uplift", pipeline, "--run", "7")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: run 7 is not a published run of warehouse "
        f"{tmp_path / 'out' / 'retention.duckdb'}\n"
    )


def test_evaluate_prints_tier_table(write_pipeline):
    result = invoke(
        "evaluate",
        write_pipeline(FIXTURES / "events_tiny.csv"),
        "--as-of",
        "2024-06-01",
        "--horizon",
        "4W",
    )
    assert result.exit_code == 0, result.output
    assert "evaluation 1: as_of 2024-06-01, next 28 days" in result.stdout
    assert "tier" in result.stdout and "active" in result.stdout


def test_init_writes_a_template_that_runs_once_its_events_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = invoke("init")
    assert written.exit_code == 0, written.output
    assert written.stdout.startswith("wrote pipeline.toml: ")
    (tmp_path / "data").mkdir()
    with duckdb.connect() as con:  # the template reads data/events.parquet
        con.execute(
            f"COPY (FROM read_csv('{FIXTURES / 'events_tiny.csv'}', all_varchar = true)) "
            f"TO '{tmp_path / 'data' / 'events.parquet'}'"
        )
    result = invoke("run", "pipeline.toml")
    assert result.exit_code == 0, result.output
    assert "12 read, 12 staged" in result.stdout  # as_of = "latest": no event is after it
    again = invoke("init")
    assert again.exit_code == 1
    assert again.stderr == (
        "Error: pipeline.toml already exists; choose another path or delete it first\n"
    )


def test_db_override_obeys_the_output_path_rules(write_pipeline):
    pipeline = write_pipeline(FIXTURES / "events_tiny.csv")
    text = pipeline.read_text()
    result = invoke("run", pipeline, "--db", pipeline)
    assert result.exit_code == 1
    assert result.stderr == (
        f'Error: command line: warehouse = "{pipeline}": expected a file of its own, '
        "not the pipeline file\n"
    )
    assert pipeline.read_text() == text  # not overwritten by a warehouse


def test_a_stage_without_steps_records_none(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(read_sql("warehouse/schema.sql"))
        record_steps(con, 1, "exports", [])
        assert con.execute("SELECT count(*) FROM run_steps").fetchall() == [(0,)]
