#!/usr/bin/env python3
"""corrlite.py - a plain dict-and-loop correlator: corrbench's baseline (b).

What a competent script would do with the day in a compact text form
(bench/corrgen.py --compact): no JSON, no clock strings, no SLA clocks, no
storms, no chronic or flapping marks.  It keeps what makes correlation
correlation, with the defaults of docs/correlation.md:
  - dedup: a raise of an active (device, code) is a repeat, a clear of an
    inactive one a stray clear;
  - the root-cause window: MAINS_FAIL at a site explains BATT_DISCHARGE,
    BATT_LOW, RECT_FAIL, AC_FAIL and HIGH_TEMP raised there within 4 h; a
    gateway's COMM_LOSS explains its devices' COMM_LOSS within 10 min; an
    explained alarm joins its root's incident;
  - the reopen hold: an incident whose alarms have all cleared is cleared;
    a raise of one of its alarms within 15 min reopens it, later it is
    closed and a raise opens a new incident.
Every incident change writes one short text line ("AT NUM EVENT ALARMS").
`tocsind --replay` is measured against this as "at least 2x faster".

Usage: corrlite.py DAY.txt --events OUT.txt
"""
import argparse
import sys
import time

MIN = 60000
HOLD = 15 * MIN
SITE_ROOT = "MAINS_FAIL"
SITE_CHILDREN = ("BATT_DISCHARGE", "BATT_LOW", "RECT_FAIL", "AC_FAIL",
                 "HIGH_TEMP")
SITE_WINDOW = 4 * 60 * MIN
GW_CODE = "COMM_LOSS"
GW_WINDOW = 10 * MIN


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("day")
    ap.add_argument("--events", required=True)
    a = ap.parse_args()
    t0 = time.process_time()
    site, via, code_of = [], [], {}
    alarms = {}         # dev * 64 + code -> [active, raised_at, inc]
    site_root = {}      # site -> (raised_at, alarm key) of its MAINS_FAIL
    incs = {}           # num -> [state, nactive, nalarms, cleared_at]
    nxt = 1
    n = repeats = stray = explained = 0
    out = open(a.events, "w")
    w = out.write
    with open(a.day) as f:
        for line in f:
            p = line.split()
            if p[0] == "d":
                site.append(int(p[2]))
                via.append(int(p[3]))
                continue
            if p[0] == "c":
                code_of[int(p[1])] = p[2]
                continue
            if p[0] == "#":
                continue
            at, dev, code = int(p[0]), int(p[1]), int(p[2])
            n += 1
            key = dev * 64 + code
            al = alarms.get(key)
            if p[3] == "c":
                if al is None or not al[0]:
                    stray += 1
                    continue
                al[0] = False
                inc = incs[al[2]]
                inc[1] -= 1
                if inc[1] == 0:
                    inc[0], inc[3] = "cleared", at
                    w("%d %d cleared %d\n" % (at, al[2], inc[2]))
                else:
                    w("%d %d updated %d\n" % (at, al[2], inc[2]))
                continue
            if al is not None and al[0]:
                repeats += 1
                continue
            if al is not None:
                inc = incs[al[2]]
                if inc[0] == "cleared" and at - inc[3] <= HOLD:
                    al[0] = True
                    inc[0] = "open"
                    inc[1] += 1
                    w("%d %d reopened %d\n" % (at, al[2], inc[2]))
                    continue
                if inc[0] == "open":
                    al[0] = True
                    inc[1] += 1
                    w("%d %d updated %d\n" % (at, al[2], inc[2]))
                    continue
                inc[0] = "closed"
            name = code_of[code]
            root = None
            if name in SITE_CHILDREN:
                r = site_root.get(site[dev])
                if r is not None and 0 <= at - r[0] <= SITE_WINDOW and \
                        alarms[r[1]][0]:
                    root = alarms[r[1]]
            elif name == GW_CODE and via[dev] >= 0:
                r = alarms.get(via[dev] * 64 + code)
                if r is not None and r[0] and 0 <= at - r[1] <= GW_WINDOW:
                    root = r
            if root is not None and incs[root[2]][0] == "open":
                num = root[2]
                inc = incs[num]
                inc[1] += 1
                inc[2] += 1
                explained += 1
                alarms[key] = [True, at, num]
                w("%d %d updated %d\n" % (at, num, inc[2]))
                continue
            num = nxt
            nxt += 1
            incs[num] = ["open", 1, 1, 0]
            alarms[key] = [True, at, num]
            if name == SITE_ROOT:
                site_root[site[dev]] = (at, key)
            w("%d %d opened 1\n" % (at, num))
    out.close()
    print("corrlite: transitions=%d incidents=%d repeats=%d stray=%d "
          "explained=%d cpu_s=%.3f" % (n, nxt - 1, repeats, stray, explained,
                                       time.process_time() - t0),
          file=sys.stderr)


if __name__ == "__main__":
    main()
