"""Spreading the services' fire times: the default offsets, and the gap a schedule achieves.

Each service fires at `phase + k * interval` (phase = anchor + offset). Over
the plan's whole period (the least common multiple of the intervals) every
fire of service i meets every fire of service j at a distance: that of
`phase_i - phase_j` to the nearest multiple of `gcd(I_i, I_j)`. So the smallest
gap of a schedule has a closed form (`smallest_gap`), with no need to list the
fires of a period that may span years.

`spread()` picks the offsets that make that smallest gap as large as the
intervals allow, then the next smallest, and so on. It searches offsets on a grid
of the largest divisor of `gcd(all intervals)` up to a `2 n`-th of it:
exhaustively when the grid is small (always for the built-in four), else
greedily in priority order. Either way no two services share a fire instant
(on that grid each service has more collision-free offsets than the others
can rule out), which `tests/test_stagger.py` checks as a property.

Times are whole microseconds inside, so gcds are exact. Pure functions of
numbers; nothing here raises for valid input (positive finite intervals).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import lru_cache

UNIT = 1_000_000
"""Ticks per second."""
EXHAUSTIVE_LIMIT = 20_000
"""The most offset combinations `spread` tries one by one before it goes greedy."""


def _ticks(seconds: float) -> int:
    return max(1, round(seconds * UNIT))


def _distance(delta: int, modulus: int) -> int:
    rest = delta % modulus
    return min(rest, modulus - rest)


def period_s(intervals: Sequence[float]) -> float:
    """The plan's whole period: after it every service's fires repeat together."""
    return math.lcm(*(_ticks(i) for i in intervals)) / UNIT if intervals else 0.0


def smallest_gap(intervals: Sequence[float], phases: Sequence[float]) -> float:
    """The smallest distance in seconds between any two fires of any services (a service's
    own fires are `interval` apart), over the whole period; 0 when two share an instant."""
    if not intervals:
        return math.inf
    ticks = [_ticks(i) for i in intervals]
    at = [round(p * UNIT) for p in phases]
    best = min(ticks)
    for i, j in itertools.combinations(range(len(ticks)), 2):
        best = min(best, _distance(at[i] - at[j], math.gcd(ticks[i], ticks[j])))
    return best / UNIT


def _step(whole: int, parts: int) -> int:
    """The largest divisor of `whole` that is at most `whole / parts`: a grid that divides
    every interval, so offsets come out round (450 s, not 449.99 s)."""
    limit = whole // parts
    divisors = [1]
    for prime, power in _factors(whole):
        divisors = [d * prime**k for d in divisors for k in range(power + 1)]
    return max(d for d in divisors if d <= limit) if limit >= 1 else 1


def _factors(whole: int) -> list[tuple[int, int]]:
    """`whole`'s prime factors and their powers. Intervals in microsecond ticks are round
    numbers (1800 s is 2^10 3^2 5^8), so dividing out small primes ends fast, where
    trying every divisor up to the square root took a few milliseconds at each start."""
    found = []
    rest, prime = whole, 2
    while prime * prime <= rest:
        power = 0
        while rest % prime == 0:
            rest //= prime
            power += 1
        if power:
            found.append((prime, power))
        prime += 1 if prime == 2 else 2
    if rest > 1:
        found.append((rest, 1))
    return found


def spread(intervals: Sequence[float], fixed: Sequence[float | None] = ()) -> list[float]:
    """Offsets in seconds, one per interval (in priority order, first first), that keep the
    fires as far apart as the intervals allow; an offset given in `fixed` is kept as is.
    Each offset is less than its service's interval, the first free one is 0."""
    pinned = tuple(fixed) + (None,) * (len(intervals) - len(fixed))
    return list(_spread(tuple(intervals), pinned))


@lru_cache(maxsize=64)
def _spread(intervals: tuple[float, ...], fixed: tuple[float | None, ...]) -> tuple[float, ...]:
    n = len(intervals)
    if n == 0:
        return ()
    ticks = [_ticks(i) for i in intervals]
    step = _step(math.gcd(*ticks), 2 * n)
    moduli = [[math.gcd(a, b) for b in ticks] for a in ticks]
    offsets: list[int | None] = [None if f is None else round(f * UNIT) for f in fixed]
    free = [i for i in range(n) if offsets[i] is None]
    if len(free) == n:
        offsets[free.pop(0)] = 0  # only differences matter: the first starts at once

    def candidates(i: int) -> range:
        # Offsets beyond the largest gcd with another service change no distance.
        reach = max((moduli[i][j] for j in range(n) if j != i), default=ticks[i])
        return range(0, min(reach, ticks[i]), step)

    def score(chosen: Sequence[int | None]) -> tuple[int, ...]:
        """The pairwise distances, smallest first: compared as tuples, the best schedule has
        the largest smallest gap, then the largest next one, and so on."""
        placed = [i for i in range(n) if chosen[i] is not None]
        distances = []
        for i, j in itertools.combinations(placed, 2):
            a, b = chosen[i], chosen[j]
            assert a is not None and b is not None
            distances.append(_distance(a - b, moduli[i][j]))
        return tuple(sorted(distances))

    options = [candidates(i) for i in free]
    if math.prod(len(o) for o in options) <= EXHAUSTIVE_LIMIT:
        pinned_or_free = [
            range(o, o + 1) if o is not None else candidates(i) for i, o in enumerate(offsets)
        ]
        offsets = list(_best_pick(pinned_or_free, moduli))
    else:
        for i, option in zip(free, options, strict=True):
            best_score: tuple[int, ...] = (-1,)
            best_value = 0
            for value in option:
                offsets[i] = value
                value_score = score(offsets)
                if value_score > best_score:
                    best_score, best_value = value_score, value
            offsets[i] = best_value
    return tuple((o or 0) / UNIT for o in offsets)


def _best_pick(values: Sequence[range], moduli: list[list[int]]) -> tuple[int, ...]:
    """One offset per service, from its `values`, whose pairwise distances, smallest first,
    compare largest as a tuple (`score`'s order; the first such pick in product order).
    Each pair's distances are a table worked out once: the search runs at every start,
    before the console's first frame."""
    pairs = [
        (i, j, [[_distance(a - b, moduli[i][j]) for b in values[j]] for a in values[i]])
        for i, j in itertools.combinations(range(len(values)), 2)
    ]
    best_score: list[int] = [-1]
    best: tuple[int, ...] = tuple(0 for _ in values)
    for pick in itertools.product(*(range(len(v)) for v in values)):
        distances = sorted([table[pick[i]][pick[j]] for i, j, table in pairs])
        if distances > best_score:
            best_score, best = distances, pick
    return tuple(v[k] for v, k in zip(values, best, strict=True))
