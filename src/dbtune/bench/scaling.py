"""How the hot query's cost grows with the table: one seed, measured at several sizes.

One point says little: "the index makes it 546x faster" is true at one size on one machine
only. The sequential scan reads the whole table, so its cost grows with the rows; the index
path reads a handful of pages at any size and stays on the round trip's floor. The series
shows both lines, on log-log axes, with the ratio at each size.

Every size is the first N messages (by id) of one seed, their senders folded onto N / 100
users as a seed of N messages would have them. Messages are spread over users at random as
they are generated, so each prefix keeps the skew (user 1 holds about a tenth of it): the
sizes differ in rows only. Without the folding, the 100,000-message prefix of a 3,000,000
seed has 30,000 users of about 3 messages each, and the prepared statement's generic plan
(a bitmap scan and a sort, right for 3 rows) reads all 10,000 of the heaviest user's messages:
about 5 ms instead of 0.2, an artefact of the cut, not of the index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dbtune.bench import latency

SERIES = (100_000, 300_000, 1_000_000, 3_000_000)
QUICK_SERIES = (100_000,)
# The bench holds the seeded table and three copies of the largest size at once: about
# 400 bytes per message each (349 MB per million measured for the table with its TOAST and
# indexes), so 1.6 kB per message of the largest size.
BYTES_PER_MESSAGE = 1600


@dataclass(frozen=True, slots=True)
class ScalePoint:
    """The hot query's latency at one table size, every variant and the floor side by side."""

    rows: int
    floor: latency.Latency
    variants: dict[str, latency.VariantResult]

    def speedup(self) -> float:
        """No index over the covering index, heaviest user's p50."""
        no_index = self.variants[latency.NO_INDEX].heavy.p50_ms
        return no_index / self.variants[latency.COVERING].heavy.p50_ms

    def floor_ratio(self) -> float:
        """The covering index's p95 over the ``SELECT 1`` p95 of the same rounds."""
        return self.variants[latency.COVERING].heavy.p95_ms / self.floor.p95_ms


def users_for(messages: int) -> int:
    """The seed's users for a number of messages (100 messages per user, 100 users at least)."""
    return max(100, messages // 100)


def default_series(memory_bytes: int, free_disk_bytes: int, *, quick: bool) -> tuple[int, ...]:
    """The sizes this machine can measure honestly.

    The largest size must fit, with its copies, in half the memory (so the scans measure the
    work of reading rows, not the disk) and in a quarter of the free disk.
    """
    if quick:
        return QUICK_SERIES
    budget = min(memory_bytes // 2, free_disk_bytes // 4)
    fitting = tuple(n for n in SERIES if n * BYTES_PER_MESSAGE <= budget)
    return fitting or SERIES[:1]


def parse_series(text: str) -> tuple[int, ...]:
    """``"100000,1e6,3_000_000"`` -> ascending distinct sizes; ValueError says what is wrong."""
    sizes: set[int] = set()
    for part in text.split(","):
        part = part.strip().replace("_", "")
        if not part:
            continue
        try:
            value = float(part) if any(c in part for c in ".eE") else int(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of rows") from None
        if value != int(value) or int(value) < 1000:
            raise ValueError(f"{part!r}: a size is a whole number of rows, at least 1000")
        sizes.add(int(value))
    if not sizes:
        raise ValueError("no size given; e.g. --scale 100000,1000000,3000000")
    return tuple(sorted(sizes))


def within(series: Sequence[int], present: int) -> tuple[int, ...]:
    """The sizes a database holding ``present`` messages can give (all of it at most)."""
    if present >= series[-1]:
        return tuple(series)
    return (*(n for n in series if n < present), present)


def measure_series(
    url: str,
    series: Sequence[int],
    rounds: latency.Rounds,
    progress: Callable[[str], None],
    at_largest: Callable[[], None] = lambda: None,
) -> tuple[list[ScalePoint], dict[str, object]]:
    """Each size's point, smallest first; ``at_largest`` runs while the largest copies exist.

    Returns the points and the facts about the listing's plan at the largest size.
    """
    points: list[ScalePoint] = []
    listing: dict[str, object] = {}
    for i, rows in enumerate(series):

        def at_size(text: str, rows: int = rows) -> None:
            progress(f"{rows:,} rows: {text}")

        latency.prepare_variants(url, at_size, rows=rows, users=users_for(rows))
        try:
            floor, variants, listing = latency.measure(url, rounds, at_size)
            points.append(ScalePoint(rows, floor, variants))
            if i == len(series) - 1:
                at_largest()
        finally:
            latency.drop_variants(url)
    return points, listing
