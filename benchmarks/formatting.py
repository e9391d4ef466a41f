"""How the README writes a number: seconds, bytes, ratios, relative differences.

One place, so the results table, the per-size sections, the targets and the
cost curve print the same figure the same way.
"""

from __future__ import annotations


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    if n < 2**20:
        return f"{n / 2**10:,.0f} KiB"
    return f"{n / 2**20:,.0f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def fmt_x(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    return f"{ratio:.2f}×" if ratio < 1 else f"{ratio:.1f}×"


def fmt_rel(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1e}"


def fmt_us(microseconds: float | None) -> str:
    """Microseconds per event: three figures."""
    if microseconds is None:
        return "n/a"
    return f"{microseconds:.3g}" if microseconds < 100 else f"{microseconds:,.0f}"


def fmt_count(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"
