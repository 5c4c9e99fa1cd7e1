#!/usr/bin/env python3
"""refcorr.py - a deliberately simple reference correlator.

Written from the rules in docs/correlation.md, not from the C code, to check
the C core (correlator/corr.c) on generated days and to be the baseline the
benchmark's ratios are measured against.  Plain dicts and lists, no
cleverness: when it and the C core disagree, read the rule and decide.

Scope: what a replay exercises (no operator actions, no maintenance
windows, no SLA clocks: --compare skips the C side's SLA events): dedup,
re-raise within the hold, flapping (cycles of a flapping alarm counted),
root cause by site and by gateway with windows (a child explained again
into the incident holding its record rejoins it), late roots, area storms
(one link per site; events name EVENT_LINKS of them), chronic repeats,
the cleared state.

Usage:
  refcorr.py FLEET.json ALARMS.jsonl --summary OUT.jsonl
        final state of every incident, one JSON line each, sorted by id
  refcorr.py FLEET.json ALARMS.jsonl --events OUT.jsonl
        one JSON line per incident change (the timed, end-to-end mode)
  refcorr.py FLEET.json ALARMS.jsonl --compare C_EVENTS.jsonl
        reduce the C replay's events to final states and diff them with
        this correlator's; exit 1 on any difference
  refcorr.py ... --time       print phase timings (parse, correlate) to stderr
"""
import argparse
import json
import sys
import time
from datetime import datetime

MIN = 60000
HOUR = 60 * MIN
DAY = 24 * HOUR
SEVERITY = ["warning", "minor", "major", "critical"]

# The defaults of docs/correlation.md.
RULES = [
    {"root": "MAINS_FAIL", "scope": "site", "window": 4 * HOUR,
     "before": 5 * MIN, "children": ["BATT_DISCHARGE", "BATT_LOW",
                                     "RECT_FAIL", "AC_FAIL", "HIGH_TEMP"]},
    {"root": "COMM_LOSS", "scope": "gateway", "window": 10 * MIN,
     "before": 5 * MIN, "children": ["COMM_LOSS"]},
]
STORM_CODE, STORM_SITES, STORM_WINDOW = "MAINS_FAIL", 5, 10 * MIN
EVENT_LINKS = 50           # an area event names this many linked sites
FLAP_CYCLES, FLAP_WINDOW, HOLD = 3, HOUR, 15 * MIN
CHRONIC_COUNT, CHRONIC_PERIOD = 3, 90 * DAY
PREFIX = "INC-0-"
SLA_EVENTS = ("sla_warning", "sla_breached", "escalated")


def iso(ms):
    s, m = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%03dZ" % m


def parse_time(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00"))
               .timestamp() * 1000 + 0.5)


class Alarm:
    def __init__(self, dev, code, at, sev):
        self.dev, self.code, self.raised_at, self.sev = dev, code, at, sev
        self.cleared_at = 0
        self.active = True
        self.repeats = 0
        self.reraises = []
        self.flapping = False
        self.inc = None


class Incident:
    def __init__(self, num, kind, site, area, at):
        self.num, self.kind, self.site, self.area = num, kind, site, area
        self.opened_at = at
        self.state = "open"
        self.root = None
        self.alarms = []
        self.nactive = 0
        self.sev = 0
        self.chronic, self.chronic_of, self.flapping = False, [], False
        self.links = []            # [site, latest linked num], per site
        self.area_num = 0
        self.repeats = 0
        self.flap_cycles = 0


class Ref:
    def __init__(self, fleet, out):
        self.site_area = {s["id"]: s["area"] for s in fleet["sites"]}
        self.via = {d["id"]: d["via"] for d in fleet["devices"]}
        self.behind = {}
        for d in fleet["devices"]:
            if d["via"]:
                self.behind.setdefault(d["via"], []).append(d["id"])
        self.alarms = {}
        self.incidents = {}
        self.site_incs = {}
        self.storms = {}           # area -> [ents], open area num
        self.chronic = {}
        self.next_num = 1
        self.out = out
        self.last = None           # num -> summary at its last event
        self.stray = 0

    # --- output ---
    def emit(self, inc):
        if self.out is not None:
            self.out.write(json.dumps(summary(inc)) + "\n")
        if self.last is not None:
            self.last[inc.num] = summary(inc)

    # --- incidents ---
    def new_incident(self, kind, site, area, at):
        inc = Incident(self.next_num, kind, site, area, at)
        self.next_num += 1
        self.incidents[inc.num] = inc
        if kind == "site":
            self.site_incs.setdefault(site, []).append(inc)
        return inc

    def add_alarm(self, inc, a):
        inc.alarms.append(a)
        a.inc = inc
        if a.active:
            inc.nactive += 1
        inc.sev = max(inc.sev, a.sev)

    def became_active(self, inc):
        if inc.state == "cleared":
            inc.state = "open"
        self.emit(inc)
        ai = self.incidents.get(inc.area_num)
        if ai is not None:
            ai.nactive += 1
            if ai.nactive == 1:
                self.became_active(ai)

    def became_clear(self, inc):
        inc.state = "cleared"
        self.emit(inc)
        ai = self.incidents.get(inc.area_num)
        if ai is not None and ai.nactive > 0:
            ai.nactive -= 1
            if ai.nactive == 0:
                self.became_clear(ai)

    # --- rules ---
    def explain(self, dev, site, code, at):
        for r in RULES:
            if code not in r["children"]:
                continue
            if r["scope"] == "site":
                for inc in reversed(self.site_incs.get(site, [])):
                    ra = inc.root
                    if ra is not None and ra.code == r["root"] and ra.active \
                            and 0 <= at - ra.raised_at <= r["window"]:
                        return ra
            else:
                gw = self.via.get(dev)
                if gw is None or gw == dev:
                    continue
                ra = self.alarms.get((gw, r["root"]))
                if ra is not None and ra.active and \
                        0 <= at - ra.raised_at <= r["window"]:
                    return ra
        return None

    def adoptable(self, ci, inc, r, at):
        return (ci is not inc and ci.kind == "site" and ci.root is not None
                and ci.state == "open" and ci.area_num == 0
                and ci.root.code in r["children"]
                and 0 <= at - ci.root.raised_at <= r["before"])

    def merge(self, ci, inc):
        hist = self.chronic.get((ci.site, ci.root.code), [])
        hist[:] = [h for h in hist if h[1] != ci.num]
        for a in ci.alarms:
            self.add_alarm(inc, a)
        ci.alarms = []
        ci.nactive = 0
        ci.root = None
        ci.state = "closed"
        self.emit(ci)
        del self.incidents[ci.num]
        self.site_incs[ci.site].remove(ci)

    def check_chronic(self, inc, at):
        hist = self.chronic.setdefault((inc.site, inc.root.code), [])
        hist[:] = [h for h in hist if h[0] >= at - CHRONIC_PERIOD]
        # The same fault while an earlier one is still active is the same
        # outage (several devices at once): not a recurrence, not counted.
        for _, num in hist:
            other = self.incidents.get(num)
            if other is not None and other.nactive > 0:
                return
        if len(hist) + 1 >= CHRONIC_COUNT:
            inc.chronic = True
            inc.chronic_of = [h[1] for h in hist]
        hist.append((at, inc.num))
        if len(hist) > CHRONIC_COUNT - 1:
            del hist[0]

    def link(self, ai, si):
        # One entry per site, naming its latest incident.
        for ln in ai.links:
            if ln[0] == si.site:
                ln[1] = si.num
                break
        else:
            ai.links.append([si.site, si.num])
        si.area_num = ai.num
        if si.nactive > 0:
            ai.nactive += 1
        ai.sev = max(ai.sev, si.sev)

    def storm(self, si, at):
        st = self.storms.setdefault(si.area, {"ents": [], "open": 0})
        st["ents"] = [e for e in st["ents"]
                      if e[0] >= at - STORM_WINDOW and e[1] != si.site]
        st["ents"].append((at, si.site, si.num))
        ai = self.incidents.get(st["open"])
        if ai is not None and ai.nactive > 0:
            self.link(ai, si)
            return ai, False
        st["open"] = 0
        if len(st["ents"]) < STORM_SITES:
            return None, False
        ai = self.new_incident("area", None, si.area, at)
        for e in st["ents"]:
            s = self.incidents.get(e[2])
            if s is not None and s.area_num == 0:
                self.link(ai, s)
        st["open"] = ai.num
        return ai, True

    def open(self, a, site, at):
        inc = self.new_incident("site", site, self.site_area[site], at)
        inc.root = a
        self.add_alarm(inc, a)
        self.check_chronic(inc, at)
        for r in RULES:
            if r["root"] != a.code:
                continue
            if r["scope"] == "site":
                for ci in list(reversed(self.site_incs.get(site, []))):
                    if self.adoptable(ci, inc, r, at):
                        self.merge(ci, inc)
            else:
                for d in self.behind.get(a.dev, []):
                    for c in r["children"]:
                        ca = self.alarms.get((d, c))
                        if ca is not None and ca.inc.root is ca and \
                                self.adoptable(ca.inc, inc, r, at):
                            self.merge(ca.inc, inc)
        ai, opened = None, False
        if a.code == STORM_CODE:
            ai, opened = self.storm(inc, at)
        self.emit(inc)
        if ai is not None:
            self.emit(ai)
            if opened:
                for _, n in ai.links:
                    if n != inc.num:
                        self.emit(self.incidents[n])

    # --- transitions ---
    def raise_(self, dev, site, code, at, sev):
        a = self.alarms.get((dev, code))
        if a is not None and a.active:
            a.repeats += 1
            a.inc.repeats += 1
            if sev > a.sev:
                a.sev = sev
                a.inc.sev = max(a.inc.sev, sev)
                self.emit(a.inc)
            return
        ra = None
        if a is not None:
            within = a.inc.state != "closed" and at - a.cleared_at <= HOLD
            if not within:
                ra = self.explain(dev, site, code, at)
            # Within the hold, or explained again into its own incident:
            # the same alarm back (an incident holds one record per key).
            if within or (ra is not None and ra.inc is a.inc):
                self.reraise(a, at, sev)
                return
        a = Alarm(dev, code, at, sev)
        self.alarms[(dev, code)] = a
        if ra is None:
            ra = self.explain(dev, site, code, at)
        if ra is None:
            self.open(a, site, at)
        else:
            self.add_alarm(ra.inc, a)
            self.emit(ra.inc)

    def reraise(self, a, at, sev):
        a.sev = max(a.sev, sev)
        a.inc.sev = max(a.inc.sev, a.sev)
        a.reraises.append(at)
        if a.flapping:
            a.inc.flap_cycles += 1
        elif len(a.reraises) >= FLAP_CYCLES and \
                at - a.reraises[-FLAP_CYCLES] <= FLAP_WINDOW:
            a.flapping = True
            a.inc.flapping = True
        a.active = True
        a.inc.nactive += 1
        if a.inc.nactive == 1:
            self.became_active(a.inc)
        else:
            self.emit(a.inc)

    def clear(self, dev, code, at):
        a = self.alarms.get((dev, code))
        if a is None or not a.active:
            self.stray += 1
            return
        a.active = False
        a.cleared_at = at
        a.inc.nactive -= 1
        if a.inc.nactive == 0:
            self.became_clear(a.inc)
        else:
            self.emit(a.inc)


def summary(inc):
    r = inc.root
    return {
        "id": PREFIX + str(inc.num), "kind": inc.kind, "site": inc.site,
        "area": inc.area, "severity": SEVERITY[inc.sev], "state": inc.state,
        "root": [r.dev, r.code, iso(r.raised_at)] if r else None,
        "alarms": sorted([a.dev, a.code, a.active, iso(a.raised_at),
                          iso(a.cleared_at) if a.cleared_at else None,
                          a.repeats, len(a.reraises), SEVERITY[a.sev],
                          a.flapping]
                         for a in inc.alarms),
        "chronic": inc.chronic,
        "chronic_of": [PREFIX + str(n) for n in inc.chronic_of],
        "flapping": inc.flapping, "flap_cycles": inc.flap_cycles,
        "links": sorted(PREFIX + str(n) for _, n in inc.links[:EVENT_LINKS]),
        "links_total": len(inc.links) if inc.kind == "area" else None,
        "area_incident": PREFIX + str(inc.area_num) if inc.area_num else None,
        "repeats": inc.repeats,
    }


def summary_of_c_event(ev):
    i = ev["incident"]
    rc = i["root_cause"]
    return {
        "id": i["id"], "kind": i["kind"], "site": i["site"], "area": i["area"],
        "severity": i["severity"], "state": i["state"],
        "root": [rc["device"], rc["alarm"], rc["raised_at"]] if rc else None,
        "alarms": sorted([a["device"], a["code"], a["active"], a["raised_at"],
                          a["cleared_at"], a["repeats"], a["cycles"],
                          a["severity"], a["flapping"]] for a in i["alarms"]),
        "chronic": i["chronic"], "chronic_of": i["chronic_of"],
        "flapping": i["flapping"], "flap_cycles": i["flap_cycles"],
        "links": sorted(i.get("links", [])),
        "links_total": i.get("links_total"),
        "area_incident": i["area_incident"], "repeats": i["repeats"],
    }


def read_lines(path):
    recs = []
    last = None
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            at = parse_time(d["at"])
            if last is not None and at < last:
                continue
            last = at
            recs.append((at, d["device"], d.get("site"), d["code"],
                         d["edge"] == "raise",
                         SEVERITY.index(d.get("severity", "major"))))
    return recs


def run(fleet, recs, out, keep_last=False):
    ref = Ref(fleet, out)
    if keep_last:
        ref.last = {}
    dev_site = {d["id"]: d["site"] for d in fleet["devices"]}
    for at, dev, site, code, is_raise, sev in recs:
        s = dev_site.get(dev)
        if s is None or (site is not None and site != s):
            continue
        if is_raise:
            ref.raise_(dev, s, code, at, sev)
        else:
            ref.clear(dev, code, at)
    return ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fleet")
    ap.add_argument("alarms")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--summary")
    g.add_argument("--events")
    g.add_argument("--compare")
    ap.add_argument("--time", action="store_true")
    a = ap.parse_args()

    with open(a.fleet) as f:
        fleet = json.load(f)
    t0 = time.perf_counter()
    recs = read_lines(a.alarms)
    t1 = time.perf_counter()
    out = open(a.events, "w") if a.events else None
    ref = run(fleet, recs, out, keep_last=bool(a.compare))
    if out is not None:
        out.close()
    t2 = time.perf_counter()
    if a.time:
        print("refcorr: transitions=%d parse_s=%.3f correlate_s=%.3f "
              "incidents=%d stray=%d" % (len(recs), t1 - t0, t2 - t1,
                                         ref.next_num - 1, ref.stray),
              file=sys.stderr)
    mine = {PREFIX + str(n): summary(i) for n, i in ref.incidents.items()}
    if a.summary:
        with open(a.summary, "w") as f:
            for k in sorted(mine, key=lambda s: int(s[len(PREFIX):])):
                f.write(json.dumps(mine[k]) + "\n")
        return 0
    if a.compare:
        theirs = {}
        with open(a.compare) as f:
            for line in f:
                ev = json.loads(line)
                # SLA marks (this reference keeps no clocks) are events of
                # time passing, not of alarms: they would carry re-sends
                # counted after the last alarm change, so they are skipped.
                if ev["event"] in SLA_EVENTS:
                    continue
                theirs[ev["incident"]["id"]] = summary_of_c_event(ev)
        # Compare what each side last told its consumers: re-sends are
        # counted silently, so an event shows the repeats as of its time.
        mine = {PREFIX + str(n): v for n, v in ref.last.items()}
        bad = 0
        for k in sorted(set(mine) | set(theirs),
                        key=lambda s: int(s[len(PREFIX):])):
            if mine.get(k) != theirs.get(k):
                bad += 1
                if bad <= 5:
                    print("refcorr: %s differs:\n  ref: %s\n  c:   %s"
                          % (k, json.dumps(mine.get(k)),
                             json.dumps(theirs.get(k))), file=sys.stderr)
        print("refcorr: compared %d incidents, %d differ"
              % (len(set(mine) | set(theirs)), bad), file=sys.stderr)
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
