"""`retention export`: rebuild the published run's export files.

Uses the same builder as `retention run`, then records sends and renames the
folder into place. Sends are replaced per (run, playbook, channel), so a
re-export never counts a contact twice.
"""

from __future__ import annotations

from retention.config.pipeline_file import Pipeline
from retention.errors import RetentionError
from retention.results import ExportResult
from retention.stages.exports.folder import (
    commit_export,
    discard_export,
    prepare_export,
    record_sends,
)
from retention.warehouse.publish import open_warehouse


def export_published(
    pipeline: Pipeline, playbook: str | None = None, channel: str | None = None
) -> ExportResult:
    names = [p.name for p in pipeline.playbooks]
    if playbook is not None and playbook not in names:
        raise RetentionError(
            f'--playbook "{playbook}": no such playbook; playbooks are: {", ".join(names)}'
        )
    if not pipeline.run.warehouse.is_file():
        raise RetentionError(
            f"warehouse {pipeline.run.warehouse} does not exist; run the pipeline first"
        )
    with open_warehouse(pipeline.run.warehouse) as con:
        published = con.execute("SELECT run_id, as_of FROM published_run").fetchall()
        if not published:
            raise RetentionError(
                f"warehouse {pipeline.run.warehouse} has no published run to export"
            )
        run_id, as_of = published[0]
        prepared = prepare_export(con, pipeline, run_id, as_of, playbook, channel)
        try:
            con.begin()
            record_sends(con, prepared, run_id)
            con.commit()
        except BaseException:
            discard_export(prepared)
            raise
    return ExportResult(run_id, commit_export(prepared), prepared.manifest)
