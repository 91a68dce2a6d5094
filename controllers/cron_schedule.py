"""Next-run computation for CronJob schedules, with robfig/cron's semantics (what Kubernetes uses).

Validation (and its error messages) lives in facade/kinds/batch.py ``parse_standard_schedule``;
this module turns a valid schedule into field sets and walks forward from a time, field by field
(month, day, hour, minute) as robfig's ``SpecSchedule.Next`` does, so a yearly schedule costs a
few dozen steps, not half a million minutes. Day-of-month and day-of-week combine with OR when
both are restricted and with AND when either is ``*``; times are computed in the CronJob's
``timeZone`` (or a ``TZ=``/``CRON_TZ=`` prefix), UTC by default.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from facade.kinds.batch import parse_standard_schedule

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_DUR = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[set[int], bool]:
    """The values of one field, and whether it is a bare ``*``/``?`` (robfig's star bit)."""
    values: set[int] = set()
    star = False
    for expr in [e for e in text.split(",") if e]:
        rng, _, step_text = expr.partition("/")
        parts = rng.split("-")
        if parts[0] in ("*", "?"):
            start, end = lo, hi
            star = star or not step_text
        else:
            start = names[parts[0].lower()] if names and parts[0].lower() in names else int(parts[0])
            end = (names[parts[1].lower()] if names and parts[1].lower() in names else int(parts[1])) \
                if len(parts) == 2 else start
            if step_text and len(parts) == 1:
                end = hi
        step = int(step_text) if step_text else 1
        values.update(range(start, end + 1, step))
    return values, star


def _duration(text: str) -> float:
    total = 0.0
    for num, unit in _DUR.findall(text):
        total += float(num or 0) * _UNIT_SECONDS[unit]
    return total


@dataclass
class CronSchedule:
    minutes: set[int]
    hours: set[int]
    dom: set[int]
    months: set[int]
    dow: set[int]
    dom_star: bool
    dow_star: bool
    location: tzinfo
    every: float = 0.0

    def _day_matches(self, t: datetime) -> bool:
        dom_ok = t.day in self.dom
        dow_ok = (t.weekday() + 1) % 7 in self.dow
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next_after(self, after: datetime) -> datetime | None:
        """The first activation strictly after ``after`` (an aware datetime), or None within 5 years."""
        if self.every:
            step = max(1.0, float(int(self.every)))
            return (after + timedelta(seconds=step)).replace(microsecond=0)
        t = after.astimezone(self.location).replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t = t + timedelta(minutes=1)
                continue
            return t.replace(tzinfo=self.location).astimezone(UTC)
        return None


def parse_schedule(spec: str, time_zone: str | None = None) -> CronSchedule:
    """A CronSchedule for a CronJob's ``schedule`` and ``timeZone``; raises CronError when invalid."""
    parse_standard_schedule(spec)
    location: tzinfo = UTC
    if time_zone:
        location = zoneinfo.ZoneInfo(time_zone)
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        head, _, spec = spec.partition(" ")
        name = head.partition("=")[2]
        if name not in ("", "UTC", "Local"):
            location = zoneinfo.ZoneInfo(name)
        spec = spec.strip()
    if spec.startswith("@every "):
        return CronSchedule(set(), set(), set(), set(), set(), True, True, location, _duration(spec[7:]))
    spec = _MACROS.get(spec, spec)
    f = spec.split()
    minutes, _ = _field(f[0], 0, 59, None)
    hours, _ = _field(f[1], 0, 23, None)
    dom, dom_star = _field(f[2], 1, 31, None)
    months, _ = _field(f[3], 1, 12, _MONTHS)
    dow, dow_star = _field(f[4], 0, 6, _DAYS)
    return CronSchedule(minutes, hours, dom, months, dow, dom_star, dow_star, location)


def most_recent_unmet(schedule: CronSchedule, earliest: datetime, now: datetime,
                      limit: int = 100) -> tuple[datetime | None, int]:
    """The latest activation in (earliest, now] and how many were missed (stops counting past ``limit``)."""
    last: datetime | None = None
    missed = 0
    t = schedule.next_after(earliest)
    while t is not None and t <= now:
        last = t
        missed += 1
        if missed > limit:
            # skip ahead: only the most recent one matters once there are too many
            t = schedule.next_after(now - timedelta(minutes=1, seconds=now.second))
            while t is not None and t <= now:
                last = t
                t = schedule.next_after(t)
            break
        t = schedule.next_after(t)
    return last, missed
