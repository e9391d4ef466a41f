"""The `retention` command: a thin skin over the Python API.

No SQL or pandas here. `RetentionCommandGroup` is the one place that turns the
API's `RetentionError` into `Error: <one sentence>` and exit code 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import resource
import sys
from pathlib import Path

import click

import retention
from retention.errors import RetentionError
from retention.version import __version__

log = logging.getLogger("retention")


class CommandError(click.ClickException):
    """`Error: <one sentence>` with the exit code of the API's error."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class RetentionCommandGroup(click.Group):
    """Turns known errors into one line; unexpected ones say how to see more.

    Under --json the error also goes to stdout as {"error": ..., "exit_code": ...},
    so a scheduler that parses stdout always gets one JSON object.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RetentionError as exc:
            raise self._fail(ctx, str(exc), exc.exit_code) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("verbose"):
                raise
            first = str(exc).splitlines()[0] if str(exc) else ""
            message = (
                f"unexpected {type(exc).__name__}: {first} "
                "(run again with --verbose for the traceback)"
            )
            raise self._fail(ctx, message, 1) from None

    @staticmethod
    def _fail(ctx: click.Context, message: str, exit_code: int) -> CommandError:
        if ctx.meta.get("json"):
            click.echo(json.dumps({"error": message, "exit_code": exit_code}))
        return CommandError(message, exit_code)


def output_options(command):
    """--quiet and --verbose, shared by every command that does work."""

    @click.option("--quiet", "-q", is_flag=True, help="Print only the result, no progress.")
    @click.option("--verbose", "-v", is_flag=True, help="More detail; tracebacks on errors.")
    @functools.wraps(command)
    def wrapper(*args, quiet: bool, verbose: bool, **kwargs):
        from retention.report.progress import progress_handler

        context = click.get_current_context()
        context.meta["verbose"] = verbose
        level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
        handler = progress_handler(sys.stderr, live=not quiet and not context.meta.get("json"))
        log.handlers[:] = [handler]
        log.setLevel(level)
        try:
            return command(*args, **kwargs)
        finally:
            handler.close()

    return wrapper


def overwrite_option(command):
    """--overwrite: let --out replace an existing file (never the warehouse or a source)."""
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Replace an existing --out file (never the warehouse, a source or a database).",
    )(command)


def json_option(command):
    """--json: print the result's to_dict() as one JSON object on stdout (progress on stderr)."""

    @click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON object (the result) on stdout."
    )
    @functools.wraps(command)
    def wrapper(*args, as_json: bool, **kwargs):
        click.get_current_context().meta["json"] = as_json
        return command(*args, **kwargs)

    return wrapper


def print_json(result) -> None:
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False))


@click.group(cls=RetentionCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="retention")
def main() -> None:
    """User-lifecycle segmentation and retention engine.

    \b
    Quick start:
      retention demo                       # the bundled sample, end to end
      retention run pipelines/sample.toml  # your own pipeline file

    The Python API (import retention) does the same: load_pipeline, run,
    evaluate, export, uplift, connect, load_model.

    \b
    Exit codes: 0 success; 1 a user or data error; 3 another run holds the
    warehouse lock (retry later); 4 the reject gate tripped (too many rejected rows).
    """


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--as-of", type=click.DateTime(["%Y-%m-%d"]), help="Score as of this day (YYYY-MM-DD)."
)
@click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), help="Warehouse file to write."
)
@click.option(
    "--profile", is_flag=True, help="Also print where the run spent its time and peak memory."
)
@json_option
@output_options
def run(pipeline: Path, as_of: dt.datetime | None, db: Path | None, profile: bool) -> None:
    """Run PIPELINE: stage events, build features, publish the run.

    Stage times are also stored in the warehouse tables run_stages and run_steps.
    With --json, stdout gets one JSON object: run_id, as_of, counts, users,
    tiers, assignments, warehouse, export_dir, seconds, stages, steps.

    \b
    Example:
      retention run pipelines/sample.toml --as-of 2024-06-30 --profile
      retention run pipelines/sample.toml --json --quiet

    \b
    Exit codes: 0 success; 1 a user or data error; 3 another run holds the
    warehouse lock (retry later); 4 the reject gate tripped (too many rejected rows).
    """
    from retention.report import terminal

    settings = retention.load_pipeline(pipeline, as_of=as_of, warehouse=db)
    result = retention.run(settings)
    if _json_mode():
        print_json(result)
        return
    click.echo(terminal.run_summary(result))
    if profile:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        click.echo(terminal.run_profile(result, peak_kib))


@main.command()
@click.argument(
    "path", type=click.Path(dir_okay=False, path_type=Path), default=Path("pipeline.toml")
)
@output_options
def init(path: Path) -> None:
    """Write a commented pipeline template to PATH (default pipeline.toml).

    \b
    Example:
      retention init shop.toml && retention run shop.toml
    """
    from importlib import resources

    if path.exists():
        raise RetentionError(f"{path} already exists; choose another path or delete it first")
    template = resources.files("retention.pipelines").joinpath("template.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(f"wrote {path}: set [source.events] path and columns, then: retention run {path}")


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Score with data up to this day (YYYY-MM-DD).",
)
@click.option("--horizon", default="90D", show_default=True, help="Outcome window: 90D or 13W.")
@click.option(
    "--compare",
    "candidate",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A second pipeline (say, another tier policy) to replay on the same backtest.",
)
@json_option
@output_options
def evaluate(pipeline: Path, as_of: dt.datetime, horizon: str, candidate: Path | None) -> None:
    """Backtest PIPELINE: score at --as-of, then compare with the next --horizon.

    Prints, per product and tier, the share of users active in the horizon and
    purchases and revenue per user, PASS or FAIL on the tiers' ordering; the
    purchase model's predicted vs actual purchases by calibration frequency;
    the ROC AUC of p_alive next to recency and frequency baselines. Results are
    stored in the warehouse table `evaluations`. With --compare, both policies
    side by side and the users who would move between tiers.

    \b
    Example:
      retention evaluate pipelines/sample.toml --as-of 2024-03-31 --horizon 90D
      retention evaluate shop.toml --as-of 2024-03-31 --compare shop-candidate.toml

    \b
    Exit codes: 0 success; 1 a user or data error; 3 another run holds the
    warehouse lock (retry later); 4 the reject gate tripped (too many rejected rows).
    """
    from retention.report import terminal

    if candidate is not None:
        compared = retention.compare(pipeline, candidate, as_of=as_of.date(), horizon=horizon)
        if _json_mode():
            print_json(compared)
            return
        click.echo(terminal.comparison_tables(compared))
        return
    result = retention.evaluate(pipeline, as_of=as_of.date(), horizon=horizon)
    if _json_mode():
        print_json(result)
        return
    click.echo(terminal.evaluation_tables(result))


@main.command(name="sql")
@click.argument("database", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="Rows to show: 0 for all. Default 20 for --format table, all for the others.",
)
@overwrite_option
@output_options
def sql_command(
    database: Path, query: str, fmt: str, out: Path | None, limit: int | None, overwrite: bool
) -> None:
    """Run a read-only QUERY on the published warehouse DATABASE.

    Works while a run is writing. Statements that would write, attach other
    databases or read other files are refused.

    \b
    Example:
      retention sql out/sample/retention.duckdb "SELECT * FROM tier_summary" --format csv
      retention sql out/sample/retention.duckdb "SELECT * FROM latest_tiers" --limit 100
    """
    from retention.warehouse.query import run_query, write_result

    if fmt == "table" and out is not None:
        raise click.UsageError("--out needs --format csv, json or parquet")
    if limit is None:
        limit = 20 if fmt == "table" else 0
    table, more = run_query(database, query, limit or None)
    if fmt == "table":
        from retention.report.table_text import render_table

        click.echo(render_table(table, limit, more), nl=False)
        return
    text = write_result(table, fmt, out, database, overwrite)
    if text is not None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {table.num_rows:,} rows to {out}", err=True)


@main.command()
@click.argument("pipeline", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report this warehouse file instead of PIPELINE's (no pipeline file needed).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: report.html beside the warehouse).",
)
@click.option("--run", "run_id", type=int, help="Report this run instead of the published one.")
@overwrite_option
@output_options
def report(
    pipeline: Path | None, db: Path | None, out: Path | None, run_id: int | None, overwrite: bool
) -> None:
    """Write an offline HTML report of the published run of PIPELINE (or of --db).

    One self-contained file (no network): per product, today's tiers and
    KPIs with their changes, the biggest moves and the files to upload per
    playbook; then history across runs, model checks and detail tables.

    \b
    Example:
      retention report pipelines/sample.toml --out report.html
      retention report --db retention-demo/retention.duckdb
      retention report pipelines/sample.toml --run 3 --out run-3.html
    """
    from retention.config.paths import input_files
    from retention.report.page import build_report

    if (pipeline is None) == (db is None):
        raise click.UsageError("give a PIPELINE file or --db WAREHOUSE (one of them)")
    if db is not None:
        if not db.is_file():
            raise RetentionError(f"--db {db}: no such warehouse file; run a pipeline first")
        warehouse, protected, exports = db, (), None
    else:
        settings = retention.load_pipeline(pipeline)
        warehouse, protected = settings.run.warehouse, input_files(settings)
        exports = settings.run.exports
    target = out or warehouse.with_name("report.html")
    written = build_report(warehouse, target, protected, overwrite, run_id, exports)
    click.echo(f"report: {written}")


@main.command(name="export")
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--playbook", help="Only this playbook's files.")
@click.option("--channel", type=click.Choice(["email", "sms", "call"]), help="Only this channel.")
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    help="Write this profile's files instead of [exports] profiles (repeatable): generic, "
    "mailchimp, klaviyo, braze, customerio, hubspot, excel, or one the pipeline declares.",
)
@json_option
@output_options
def export_command(
    pipeline: Path, playbook: str | None, channel: str | None, profiles: tuple[str, ...]
) -> None:
    """Write the published run's campaign files again (idempotent: sends are not doubled).

    \b
    Example:
      retention export pipelines/sample.toml --playbook win_back --channel email
      retention export pipelines/sample.toml --profile mailchimp --profile hubspot

    \b
    Exit codes: 0 success; 1 a user or data error; 3 another run holds the
    warehouse lock (retry later); 4 the reject gate tripped (too many rejected rows).
    """
    result = retention.export(
        pipeline, playbook=playbook, channel=channel, profiles=list(profiles) or None
    )
    if _json_mode():
        print_json(result)
        return
    for entry in result.manifest["files"]:
        click.echo(f"{result.folder / entry['file']}: {entry['rows']:,} rows")
    click.echo(f"manifest: {result.folder / 'manifest.json'}")


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--run", "run_id", type=int, required=True, help="The run whose campaigns to measure."
)
@click.option("--horizon", default="30D", show_default=True, help="Outcome window: 30D or 4W.")
@json_option
@output_options
def uplift(pipeline: Path, run_id: int, horizon: str) -> None:
    """Compare sent and holdout users of each playbook of a run over --horizon.

    \b
    Example:
      retention uplift pipelines/sample.toml --run 12 --horizon 30D

    \b
    Exit codes: 0 success; 1 a user or data error; 3 another run holds the
    warehouse lock (retry later); 4 the reject gate tripped (too many rejected rows).
    """
    from retention.report import terminal

    result = retention.uplift(pipeline, run_id=run_id, horizon=horizon)
    if _json_mode():
        print_json(result)
        return
    click.echo(terminal.uplift_table(result.results))


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("retention-demo"),
    show_default=True,
    help="Folder for the warehouse and exports.",
)
@output_options
def demo(out: Path) -> None:
    """Run the bundled sample pipeline (two products, 20,000 users) into --out.

    \b
    Example:
      retention demo --out /tmp/retention-demo
    """
    from retention.demo import run_demo
    from retention.report import terminal

    result, report_page = run_demo(out.resolve())
    click.echo(terminal.run_summary(result))
    click.echo(f"report:    {report_page} (open it in a browser)")


@main.command()
@click.option("--users", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--seed", type=int, default=20240630, show_default=True)
@click.option(
    "--rhythms",
    is_flag=True,
    help="Instead: three products 100x apart in rhythm (daily app, weekly shop, bimonthly "
    "B2B), --users each, with truth.csv (every user's true alive state).",
)
@output_options
def sample(users: int, out: Path, seed: int, rhythms: bool) -> None:
    """Generate a realistic, seeded event log and contacts file into --out.

    \b
    Example:
      retention sample --users 100000 --out data/bench
      retention sample --rhythms --users 1500 --out data/rhythms
    """
    if rhythms:
        from retention.sample.rhythms import write_rhythm_sample

        simulated = write_rhythm_sample(out, users_per_product=users, seed=seed)
        click.echo(f"wrote {simulated.events_path} ({simulated.event_rows:,} events)")
        click.echo(f"wrote {simulated.truth_path} ({simulated.users:,} users)")
        return
    from retention.sample import write_sample

    summary = write_sample(out, users=users, seed=seed)
    click.echo(f"wrote {summary.events_path} ({summary.event_rows:,} events)")
    click.echo(f"wrote {summary.contacts_path} ({summary.contact_rows:,} contacts)")


def _json_mode() -> bool:
    return bool(click.get_current_context().meta.get("json"))
