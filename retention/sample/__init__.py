"""Seeded generator of a realistic two-product event log and contacts file.

Used for the bundled sample (``data/sample``) and for benchmark logs of any size;
see :func:`write_sample`.
"""

from retention.sample.writer import SampleSummary, write_sample

__all__ = ["SampleSummary", "write_sample"]
