"""Benchmark sizes as the command line writes them: events, users, events per user.

The speed targets are stated per number of events and per events-per-user
ratio, while the generator is driven by a number of users and makes about 24.5
events per user. A size says which log to measure:

- `1M`, `500k`, `2500`: that many events of the generator's own log
  (1M is 40,816 users);
- `300u`: that many users of the generator's own log;
- `10M/10`, `300u/10`: the same, at 10 events per user: the generator's log of
  10M / 10 = 1M users (or of 300 users), thinned to about 10 events per user
  (thinning.py). Thinning only removes events, so the ratio must be below 24.5.

The size text is the label in result files and the README; `slug` is its
file-name form (`10M/10` -> `10M-per-user-10`).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

#: Events per simulated person in the generator's log (about 24.5 at scale).
EVENTS_PER_USER = 24.5
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([kmu]?)(?:/(\d+(?:\.\d+)?))?$", re.IGNORECASE)
EVENT_UNITS = {"k": 1e3, "m": 1e6, "": 1.0}
SIZE_HELP = "use events like 1M or 500k, users like 300u, and /N for N events per user (10M/10)"


@dataclass(frozen=True)
class Size:
    label: str
    users: int
    #: The target events per user of a thinned log; None for the generator's own log.
    events_per_user: float | None = None
    #: The events the label asks for (None: users x events per user).
    events: float | None = None

    @property
    def nominal_events(self) -> float:
        """The events this size stands for, to order sizes and pick the largest."""
        if self.events is not None:
            return self.events
        return self.users * (self.events_per_user or EVENTS_PER_USER)

    @property
    def slug(self) -> str:
        return size_slug(self.label)


def size_slug(label: str) -> str:
    """A size label as a file-name part: `10M/10` -> `10M-per-user-10`."""
    return label.replace("/", "-per-user-")


def parse_size(text: str) -> Size:
    """`1M` / `500k` events, `300u` users, either with `/N` events per user."""
    label = text.strip()
    match = SIZE_RE.match(label)
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: {SIZE_HELP}")
    number, unit = float(match.group(1)), match.group(2).lower()
    per_user = _events_per_user(label, match.group(3))
    if unit == "u":
        return Size(label, max(1, int(number)), per_user)
    events = number * EVENT_UNITS[unit]
    users = max(1, round(events / (per_user or EVENTS_PER_USER)))
    return Size(label, users, per_user, events)


def _events_per_user(label: str, text: str | None) -> float | None:
    if text is None:
        return None
    value = float(text)
    if not 0 < value < EVENTS_PER_USER:
        raise argparse.ArgumentTypeError(
            f"size {label!r}: events per user must be above 0 and below the generator's "
            f"{EVENTS_PER_USER} (thinning only removes events); got {text}"
        )
    return value
