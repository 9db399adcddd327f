#!/usr/bin/env python3
"""make_tz.py - reference data for tests/unit/test_tz.c, independent of tsloop's C code.

Rerun from the repository root:  python3 tests/data/tz/make_tz.py tests/data/tz
Made with Python 3.11.7 (standard library zoneinfo over Debian's tzdata 2025b-0+deb12u2).

offsets.txt  - ZONE UTC_SECONDS OFFSET_SECONDS: the offset Python's zoneinfo gives at many
               instants (a grid from 1900 to 2100 plus every minute-edge around each change
               in 2026-2027).
cron.txt     - ZONE|EXPR|FROM|TO|FIRE FIRE ...: every firing time in (FROM, TO], for windows
               around each daylight-saving change of 2026-2027 (and one window for zones with
               none), found by enumerating minutes and applying the rules of
               include/tsloop/cron.h:
                 hour field allowing every hour -> every UTC minute whose wall clock matches;
                 otherwise -> every matching wall-clock minute, mapped to its first
                 occurrence, or, when the wall clock skips it, to the first existing
                 wall-clock minute after it (the change).
"""
import datetime as dt
import os
import sys
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
EXPRS = ["30 2 * * *", "0 10 * * *", "*/15 * * * *", "0 * * * *", "30 1-3 * * *",
         "0,30 2 * * *", "15 0-23/2 * * *", "0 2 * * 0", "45 1 * * *"]


def field(text, lo, hi):
    out = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/")
            step = int(s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = map(int, part.split("-"))
        else:
            a = b = int(part)
        out.update(range(a, b + 1, step))
    return out


def matcher(expr):
    mi, h, dom, mon, dow = expr.split()
    m_, h_, d_, mo_, w_ = (field(mi, 0, 59), field(h, 0, 23), field(dom, 1, 31),
                           field(mon, 1, 12), {x % 7 for x in field(dow, 0, 7)})
    # Only one of the day fields is ever restricted in EXPRS, so both must match.
    def fires(t):
        return (t.minute in m_ and t.hour in h_ and t.day in d_ and t.month in mo_
                and (t.weekday() + 1) % 7 in w_)
    return fires, h_ == set(range(24))


def epoch(t):
    return int(t.timestamp())


def exists(naive, z):
    aware = naive.replace(tzinfo=z, fold=0)
    back = aware.astimezone(UTC).astimezone(z).replace(tzinfo=None)
    return back == naive


def changes(z, y0, y1):
    """UTC minutes at which the offset differs from the minute before, scanned hourly then
    by minute."""
    out = []
    t = dt.datetime(y0, 1, 1, tzinfo=UTC)
    end = dt.datetime(y1 + 1, 1, 1, tzinfo=UTC)
    prev = t.astimezone(z).utcoffset()
    while t < end:
        n = t + dt.timedelta(hours=1)
        off = n.astimezone(z).utcoffset()
        if off != prev:
            m = t
            while m.astimezone(z).utcoffset() == prev:
                m += dt.timedelta(minutes=1)
            out.append(m)
        prev = off
        t = n
    return out


def fires_in(z, expr, lo, hi):
    fires, elapsed = matcher(expr)
    result = set()
    if elapsed:
        t = lo + dt.timedelta(minutes=1)
        while t <= hi:
            if fires(t.astimezone(z)):
                result.add(epoch(t))
            t += dt.timedelta(minutes=1)
        return sorted(result)
    # Wall-clock minutes that can map into (lo, hi]: a day's margin each side.
    L = (lo.astimezone(z) - dt.timedelta(days=1)).replace(tzinfo=None, second=0)
    Lend = (hi.astimezone(z) + dt.timedelta(days=1)).replace(tzinfo=None)
    while L <= Lend:
        if fires(L):
            m = L
            while not exists(m, z):
                m += dt.timedelta(minutes=1)
            u = epoch(m.replace(tzinfo=z, fold=0))
            if epoch(lo) < u <= epoch(hi):
                result.add(u)
        L += dt.timedelta(minutes=1)
    return sorted(result)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "."
    with open(os.path.join(outdir, "offsets.txt"), "w") as f:
        for name in ZONES:
            z = ZoneInfo(name)
            pts = [epoch(dt.datetime(1900, 1, 1, tzinfo=UTC)) + k * 3_155_760 * 7 + 1234 * k
                   for k in range(290)]
            for c in changes(z, 2026, 2027):
                pts += [epoch(c) + d for d in (-3601, -61, -1, 0, 1, 59, 3600)]
            for u in sorted(set(pts)):
                t = dt.datetime.fromtimestamp(u, UTC)
                off = int(t.astimezone(z).utcoffset().total_seconds())
                f.write(f"{name} {u} {off}\n")
    with open(os.path.join(outdir, "cron.txt"), "w") as f:
        for name in ZONES:
            z = ZoneInfo(name)
            cs = changes(z, 2026, 2027) or [dt.datetime(2026, 3, 29, 1, tzinfo=UTC)]
            for c in cs:
                lo, hi = c - dt.timedelta(days=2), c + dt.timedelta(days=2)
                for expr in EXPRS:
                    fs = fires_in(z, expr, lo, hi)
                    f.write(f"{name}|{expr}|{epoch(lo)}|{epoch(hi)}|"
                            + " ".join(map(str, fs)) + "\n")


if __name__ == "__main__":
    main()
