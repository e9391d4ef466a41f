"""`retention export`: rebuild the published run's export files.

Uses the same builder as `retention run`, then records sends and renames the
folder into place. Sends are replaced per (run, playbook, channel), so a
re-export never counts a contact twice.

A re-export is never staler than its sources: it reads the contacts and the
suppression list as they are now (under a scratch run id that never
outlives the export) and writes only the users the run sent whom they still
allow; the others are counted by reason in the manifest. It never adds
anyone the run did not assign.
"""

from __future__ import annotations

import logging

from retention.config.export_profiles import Profile, profile_by_name
from retention.config.pipeline_file import Pipeline
from retention.errors import RetentionError
from retention.results import ExportResult
from retention.stages.contacts.loading import load_contacts
from retention.stages.exports.folder import (
    commit_export,
    discard_export,
    prepare_export,
    record_sends,
)
from retention.warehouse.publish import open_warehouse

log = logging.getLogger(__name__)

CURRENT_CONTACTS_RUN_ID = -1  # the sources as they are now, for the length of one export
CONTACT_TABLES = ("contacts", "contact_suppressions", "contact_rejects")


def export_published(
    pipeline: Pipeline,
    playbook: str | None = None,
    channel: str | None = None,
    profile_names: list[str] | None = None,
) -> ExportResult:
    profiles = None if profile_names is None else chosen_profiles(pipeline, profile_names)
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
        try:
            _load_current_contacts(con, pipeline)
            prepared = prepare_export(
                con, pipeline, run_id, as_of, playbook, channel, CURRENT_CONTACTS_RUN_ID, profiles
            )
            try:
                con.begin()
                record_sends(con, prepared, run_id)
                con.commit()
            except BaseException:
                discard_export(prepared)
                raise
        finally:
            _forget_current_contacts(con)
    _log_drops(prepared.manifest)
    return ExportResult(run_id, commit_export(prepared), prepared.manifest)


def chosen_profiles(pipeline: Pipeline, names: list[str]) -> tuple[Profile, ...]:
    """Profiles by name: the pipeline's own definition of a name first (with its
    settings and overrides), else the built-in one."""
    declared = {profile.name: profile for profile in pipeline.exports.profiles}
    unique = list(dict.fromkeys(names))
    return tuple(declared.get(name) or profile_by_name(name) for name in unique)


def _load_current_contacts(con, pipeline: Pipeline) -> None:
    _forget_current_contacts(con)
    if pipeline.contacts is None:
        log.warning("no [source.contacts]: nobody can be contacted, the files will be empty")
        return
    load_contacts(
        con,
        pipeline.contacts,
        CURRENT_CONTACTS_RUN_ID,
        pipeline.exports.allow_non_ascii_local,
        suppressions=pipeline.suppressions,
    )


def _forget_current_contacts(con) -> None:
    for table in CONTACT_TABLES:
        con.execute(
            f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": CURRENT_CONTACTS_RUN_ID}
        )


def _log_drops(manifest: dict) -> None:
    for drop in manifest["dropped_since_run"]:
        log.warning(
            "  %s %s: %s users dropped since the run (%s)",
            drop["playbook"],
            drop["channel"],
            f"{drop['users']:,}",
            drop["reason"],
        )
