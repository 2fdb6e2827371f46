"""Moving the dates of a recorded tool output, so a recording made on one day replays as if it
was made on another."""

from __future__ import annotations

import re
from datetime import date, timedelta

_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def shift_dates(text: str, days: int) -> str:
    """Every ISO date in ``text`` moved by ``days``; times and offsets are left as they are."""

    def moved(match: re.Match[str]) -> str:
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return match[0]
        return (day + timedelta(days=days)).isoformat()

    return _DATE.sub(moved, text)
