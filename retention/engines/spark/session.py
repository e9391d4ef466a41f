"""One Spark session per process, built from the pipeline's [spark] section.

Starting Spark costs tens of seconds, so the session is kept for the next run
of the same master (a scheduler that runs several pipelines in one process
pays once); a run for another master stops it first. The settings the parity
guarantee rests on are fixed: ANSI mode (a bad cast fails instead of becoming
NULL), UTC as the session time zone, and naive timestamps (TIMESTAMP_NTZ), as
in the warehouse, so no time is ever shifted by the machine's zone.
"""

from __future__ import annotations

import atexit
import logging

from retention.config.spark import SparkSettings

log = logging.getLogger(__name__)

FIXED_CONF = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}
DEFAULT_CONF = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}
_session = None


def spark_session(settings: SparkSettings):
    """The process's Spark session for `settings.master` (started on first use)."""
    global _session
    from pyspark.sql import SparkSession

    if _session is not None and _session.sparkContext.master != settings.master:
        stop_session()
    if _session is None:
        log.info("  starting Spark (%s)", settings.master)
        builder = SparkSession.builder.master(settings.master).appName("retention")
        for key, value in {**DEFAULT_CONF, **settings.conf, **FIXED_CONF}.items():
            builder = builder.config(key, value)
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("WARN")
    return _session


def stop_session() -> None:
    """Stop the process's Spark session, if one runs (also done at exit)."""
    global _session
    if _session is not None:
        _session.stop()
        _session = None


atexit.register(stop_session)
