"""`retention run`: every stage of one run, in order, under one run_id.

Each stage is one transaction; the run becomes visible only when the last step
marks it published. Any error marks the run failed and leaves the previously
published run as the one the latest_* views show. A run of an older as_of than
the published one (a backfill) is stored but does not replace it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import time
from collections.abc import Iterator

import duckdb

from retention.config.paths import check_outputs_writable
from retention.config.pipeline_file import Pipeline
from retention.errors import RetentionError
from retention.progress import run_started, stage_done, stage_started
from retention.results import RunResult, StageTime, StepTime
from retention.stages.contacts.loading import load_contacts
from retention.stages.exports.folder import (
    commit_export,
    discard_export,
    discard_unpublished_exports,
    prepare_export,
    prune_exports,
    record_sends,
    recover_exports,
)
from retention.stages.features import build_features
from retention.stages.metrics import build_metrics
from retention.stages.playbooks import assignment_counts, build_assignments
from retention.stages.policy_check import check_policies
from retention.stages.scores.user_scores import build_scores
from retention.stages.staging.events import check_reject_ratio, stage_events
from retention.stages.tiers import build_tiers
from retention.warehouse.lake_views import check_layout
from retention.warehouse.ledger import (
    fail_run,
    latest_run_id,
    publish_run,
    record_stage,
    record_steps,
    start_run,
)
from retention.warehouse.publish import open_warehouse
from retention.warehouse.steps import collect_steps, step

log = logging.getLogger(__name__)
STAGES = ("staging", "features", "scores", "tiers", "metrics", "contacts", "assignments", "exports")


def run_pipeline(pipeline: Pipeline) -> RunResult:
    """Run every stage of the pipeline and publish the run; raise on any failure."""
    try:
        return _run_pipeline(pipeline)
    except OSError as exc:
        raise _disk_error(exc, pipeline) from None
    except duckdb.IOException as exc:
        raise _disk_error(exc, pipeline) from None


def _run_pipeline(pipeline: Pipeline) -> RunResult:
    started = time.perf_counter()
    check_policies(pipeline)
    check_outputs_writable(pipeline)
    settings = pipeline.run
    failure: Exception | None = None
    with open_warehouse(
        settings.warehouse, settings.threads, settings.memory_limit, settings.storage_version
    ) as con:
        check_layout(con, settings.engine, settings.warehouse)
        run_id = start_run(con, pipeline.path)
        if settings.exports.is_dir():  # finish what a killed run's export left, first thing
            recover_exports(con, settings.exports)
        log.info("run %d of %s", run_id, pipeline.path.name)
        run_started(STAGES)
        try:
            counts, prepared, latest = _run_stages(con, pipeline, run_id)
        except Exception as exc:
            # Record the failure in the ledger and publish that (the latest_*
            # views still show the previous run); interrupts publish nothing.
            discard_unpublished_exports(settings.exports, run_id)
            fail_run(con, run_id, _describe(exc))
            failure = exc
        else:
            tiers = _tier_counts(con, run_id)
            assignments = assignment_counts(con, run_id)
            stages = con.execute(
                "SELECT stage, seconds, rows FROM run_stages WHERE run_id = $run_id "
                "ORDER BY started_at",
                {"run_id": run_id},
            ).fetchall()
            steps = con.execute(
                "SELECT stage, step, seconds, calls FROM run_steps WHERE run_id = $run_id",
                {"run_id": run_id},
            ).fetchall()
    if failure is not None:
        raise failure
    # The warehouse is published; now the export folder of the same run.
    # A backfill's folder is written too, but exports/LATEST keeps naming the newest day's.
    export_dir = (
        commit_export(prepared, point_latest=latest) if prepared.manifest["files"] else None
    )
    if export_dir is None:
        discard_export(prepared)
    keep = pipeline.exports.keep_runs or settings.keep_runs
    for removed in prune_exports(settings.exports, keep, prepared.manifest["warehouse_id"]):
        log.info("  deleted export folder %s (older than the last %d runs)", removed.name, keep)
    return RunResult(
        run_id=run_id,
        as_of=counts.as_of,
        counts=counts,
        tiers=tiers,
        assignments=assignments,
        warehouse=pipeline.run.warehouse,
        export_dir=export_dir,
        latest=latest,
        seconds=time.perf_counter() - started,
        stages=[StageTime(*row) for row in stages],
        steps=[StepTime(*row) for row in steps],
    )


def _tier_counts(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, dict[str, int]]:
    """Users per tier per product of a finished run."""
    rows = con.execute(
        "SELECT product_id, tier, count(*) FROM user_tiers WHERE run_id = $run_id "
        "GROUP BY ALL ORDER BY ALL",
        {"run_id": run_id},
    ).fetchall()
    tiers: dict[str, dict[str, int]] = {}
    for product, tier, users in rows:
        tiers.setdefault(product, {})[tier] = users
    return tiers


def _run_stages(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int):
    """Every stage up to publishing; returns the staging counts, the unpublished export
    and whether the run is now the latest (False for a backfill of an older day)."""
    with _stage(con, run_id, "staging") as rows:
        stage = stage_events
        if pipeline.run.engine == "spark":  # imported here: `import retention` stays light
            from retention.engines.spark.staging import stage_events_on_spark as stage
        counts = stage(con, pipeline, run_id)
        rows.append(counts.rows_staged)
    log.info(
        "  %s rows read, %s staged, %s rejected, %s duplicates, %s after as_of %s",
        f"{counts.rows_read:,}",
        f"{counts.rows_staged:,}",
        f"{counts.rows_rejected:,}",
        f"{counts.rows_duplicate:,}",
        f"{counts.rows_after_as_of:,}",
        counts.as_of,
    )
    check_reject_ratio(con, counts, pipeline, run_id)
    with _stage(con, run_id, "features") as rows:
        build = build_features
        if pipeline.run.engine == "spark":
            from retention.engines.spark.features import build_features_on_spark as build
        rows.append(build(con, pipeline, run_id, counts.as_of))
    users = rows[0]
    with _stage(con, run_id, "scores") as rows:
        score = build_scores
        if pipeline.run.engine == "spark":
            from retention.engines.spark.scores import build_scores_on_spark as score
        rows.append(score(con, pipeline, run_id, counts.as_of))
    with _stage(con, run_id, "tiers") as rows:
        tier = build_tiers
        if pipeline.run.engine == "spark":
            from retention.engines.spark.tiers import build_tiers_on_spark as tier
        rows.append(tier(con, pipeline, run_id))
    with _stage(con, run_id, "metrics") as rows:
        rows.append(
            build_metrics(con, run_id, counts.as_of, pipeline.session_gap_minutes, pipeline.costs)
        )
    with _stage(con, run_id, "contacts") as rows, step("contact checks"):
        rows.append(_load_contacts(con, pipeline, run_id))
    with _stage(con, run_id, "assignments") as rows:
        assign = build_assignments
        if pipeline.run.engine == "spark":
            from retention.engines.spark.assignments import build_assignments_on_spark as assign
        rows.append(assign(con, pipeline, run_id, counts.as_of))
    with _stage(con, run_id, "exports") as rows:
        prepared = prepare_export(con, pipeline, run_id, counts.as_of)
        rows.append(record_sends(con, prepared, run_id))
    products = con.execute(
        "SELECT count(DISTINCT product_id) FROM user_features WHERE run_id = $run_id",
        {"run_id": run_id},
    ).fetchall()[0][0]
    latest = publish_run(
        con,
        run_id,
        pipeline.run.keep_runs,
        as_of=counts.as_of,
        rows_read=counts.rows_read,
        rows_staged=counts.rows_staged,
        rows_rejected=counts.rows_rejected,
        rows_duplicate=counts.rows_duplicate,
        rows_after_as_of=counts.rows_after_as_of,
        users=users,
        products=products,
    )
    if pipeline.run.engine == "spark":  # the lake keeps the runs the warehouse keeps
        from retention.engines.spark.lake import prune_lake

        prune_lake(con, pipeline, run_id)
    if not latest:
        log.info(
            "  run %d is a backfill of %s: stored; the latest_* views keep showing run %d, "
            "which has a newer as_of",
            run_id,
            counts.as_of,
            latest_run_id(con),
        )
    return counts, prepared, latest


def _load_contacts(con: duckdb.DuckDBPyConnection, pipeline: Pipeline, run_id: int) -> int:
    if pipeline.contacts is None:
        log.info("  no [source.contacts]: nobody can be contacted")
        return 0
    counts = load_contacts(
        con,
        pipeline.contacts,
        run_id,
        pipeline.exports.allow_non_ascii_local,
        suppressions=pipeline.suppressions,
    )
    log.info(
        "  %s contact rows (%s malformed, %s without a user_id), %s users; %s valid emails, "
        "%s valid phones (%s not mobile); %s suppressed-list addresses",
        f"{counts.rows_read:,}",
        f"{counts.malformed_rows:,}",
        f"{counts.rows_without_user_id:,}",
        f"{counts.users:,}",
        f"{counts.valid_emails:,}",
        f"{counts.valid_phones:,}",
        f"{counts.not_mobile_phones:,}",
        f"{counts.suppressed_list_addresses:,}",
    )
    return counts.users


@contextlib.contextmanager
def _stage(con: duckdb.DuckDBPyConnection, run_id: int, name: str) -> Iterator[list[int]]:
    """Run a stage in one transaction and log its time in run_stages, its steps in run_steps.

    The body appends its row count to the yielded list.
    """
    stage_started(name)
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clock = time.perf_counter()
    rows: list[int] = []
    con.begin()
    try:
        with collect_steps() as steps:
            yield rows
        seconds = time.perf_counter() - clock
        record_stage(con, run_id, name, started_at, seconds, rows[0] if rows else None)
        record_steps(con, run_id, name, steps)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    stage_done(name, rows[0] if rows else None, seconds)


def _disk_error(exc: Exception, pipeline: Pipeline) -> Exception:
    """A full disk or an unwritable folder as one sentence (other errors unchanged)."""
    text = str(exc)
    if getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in text:
        return RetentionError(
            f"the disk is full while writing {pipeline.run.warehouse.parent} or "
            f"{pipeline.run.exports}; free some space (the published run is unchanged) and "
            "run again"
        )
    if getattr(exc, "errno", None) in (errno.EACCES, errno.EROFS, errno.EPERM):
        where = getattr(exc, "filename", None) or pipeline.run.warehouse.parent
        return RetentionError(f"cannot write {where}: {exc.strerror}; check its permissions")
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RetentionError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"
