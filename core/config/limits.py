"""The sane ranges of the numbers an operator sets, defined once.

The command line, the configuration and the schedule's reading of the store
all check against these, so `inf`, `nan` and absurd values are refused where
they enter. A value that got into the store some other way (a hand edit, an
older syncdeck) is recognised as invalid when it is read, instead of
overflowing a date computation. Nothing here raises: `problem()` returns why a
value cannot be used, or None.
"""

import math

DAY_S = 24 * 3600.0
YEAR_S = 366 * DAY_S

MIN_INTERVAL_S = 0.1
"""Shorter schedule intervals would flood the queue (and the store's clock has ms)."""
MAX_INTERVAL_S = YEAR_S
MAX_OFFSET_S = YEAR_S
MAX_WAIT_S = YEAR_S
"""`sync --wait --timeout`: a year is as long as anybody waits."""
MAX_ID = 2**63 - 1
"""Request ids are SQL integers."""
MAX_HISTORY_LIMIT = 1_000_000
MAX_PORT = 65535


def problem(
    value: object, low: float, high: float, *, low_open: bool = False, unit: str = ""
) -> str | None:
    """Why `value` is not a finite number in [low, high] (or (low, high] when `low_open`),
    in an operator's words; None when it is one."""
    show = duration_text if unit == "s" else _text
    lower = f"greater than {show(low)}" if low_open else f"at least {show(low)}"
    want = f"must be a finite number {lower} and at most {show(high)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{want}, not {value!r}"
    number = float(value)
    if not math.isfinite(number):
        return f"{want}, not {value!r}"
    if number < low or (low_open and number == low) or number > high:
        return f"{want}, not {_text(number)}"
    return None


def duration_text(seconds: float) -> str:
    """Seconds as a person reads a limit: `366 days`, `2 hours`, `0.1 s`."""
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = seconds / size
            return f"{_text(count)} {name}{'' if count == 1 else 's'}"
    return f"{_text(seconds)} s"


def _text(number: float) -> str:
    """31622400, not 3.16224e+07: whole numbers of seconds read as such."""
    return f"{number:.0f}" if float(number).is_integer() and abs(number) < 1e16 else f"{number:g}"


def interval_problem(value: object) -> str | None:
    return problem(value, MIN_INTERVAL_S, MAX_INTERVAL_S, unit="s")


def offset_problem(value: object) -> str | None:
    return problem(value, 0, MAX_OFFSET_S, unit="s")
