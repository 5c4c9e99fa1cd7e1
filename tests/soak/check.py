#!/usr/bin/env python3
"""check.py - the independent checker of a soak run (issue 15).

    python3 tests/soak/check.py DIR [options]

It judges a finished soak run from what the outside world saw: the fault
schedule the simulator was told to cause, the chaos actions, the whole
tocsin.incidents topic, Redis as it is now, and tocsind's resource samples.
It is written from the contracts (docs/correlation.md, docs/redis.md,
docs/kafka.md, docs/journal.md, DOMAIN.md) with the Python standard library
only, and shares no code with tocsind: it is the judge, not a second copy of
the thing judged.  When it and tocsind disagree, read the contract and decide.

INPUTS (the run directory DIR, written by tests/soak/soak.py)

  run.json        {seed, duration_s, devices, started_ms, ended_ms, bootstrap,
                   redis: "127.0.0.1:PORT", redis_prefix (default "tocsin:"),
                   http, tocsind_restarts, kafka: "broker"|"mock", netns,
                   disk_full, config: tocsind's YAML (a relative path is
                   looked up in DIR first)}; optional:
                   impaired_devices: [device ids whose traffic went through an
                   impaired network namespace: COMM_LOSS on them is explained],
                   check: {setting: value}, overriding the defaults below.
                   Required: without it nothing can be judged (exit 2).
  faults.jsonl    one fault episode per line: {start_ms, end_ms|null, site,
                   device|null, kind, expect: [codes the fault must raise at
                   the site], may?: [codes it may also raise], devices?:
                   [more devices whose alarms count for it]}.  expect [] means
                   the fault must not open an incident.
  chaos.jsonl     {t_ms, kind, detail} per chaos action.  Kinds read here:
                   kill9 (also kill, sigkill) starts a tocsind down window,
                   restart (also start) ends it (a restart with no kill before
                   it is a window of zero length: a graceful restart);
                   sighup_remove / sighup_add with the devices in detail
                   (a list, {"devices": [...]}, or a string of ids separated
                   by commas or blanks).  Every kind is counted in the report.
  incidents.jsonl the whole tocsin.incidents topic, one event per line, in
                   topic order (per partition order; one incident is in one
                   partition).
  samples.csv     t_ms,pid,rss_kb,fds every 5 s (a header line is allowed;
                   rows without a pid or with rss_kb <= 0 are skipped).

Times are ms since the Unix epoch on the machine's wall clock, the clock
tocsind stamps events with.

CHECKS (each prints its evidence, then `check NAME: ok|FAIL (details)`)

  faults     Every fault with a non-empty expect is found: for each expected
             code, an alarm with that code (on fault.device or one of
             fault.devices when given, else on any device of the site) on a
             site incident of fault.site that was raised in [start_ms -
             slack_ms, deadline], or was already active at start_ms - slack_ms.
             deadline = start_ms + delay_ms, pushed to restart + delay_ms +
             restart_slack_ms by every tocsind down window that overlaps it
             (an alarm of the downtime is raised after the restart).  An
             alarm is "raised" when it first appears on an incident (its
             raised_at) and whenever an event shows it active again after
             inactive, or its cycles grew.  A fault whose device was removed
             by a reload before it started is waived; one whose deadline lies
             after ended_ms and is not found is unjudged (both are listed).
             And no incident without a fault: every raise on a site incident
             must be explained by a fault at that site whose expect, may, or
             their consequences (below) hold the code, raised in [start_ms -
             slack_ms, end + tail_ms] (end = end_ms or ended_ms, pushed by
             down windows as above), or be a COMM_LOSS on an impaired device;
             a raise on a device more than slack_ms after a reload removed it
             (and before one added it back) is never explained.
             Consequences, from DOMAIN.md 5 and the simulator's physics:
             MAINS_FAIL -> BATT_DISCHARGE, BATT_LOW, RECT_FAIL, AC_FAIL,
             HIGH_TEMP; AC_FAIL -> HIGH_TEMP.  An area incident is explained
             when it links at least one site incident and every incident it
             links is in the topic; complaint incidents (made by operators,
             not faults) are counted, not judged.
  seq        Per incident: the distinct seq values are 1..N (events lost =
             missing values, must be 0); the same (id, seq) again with the
             same bytes is a redelivery (allowed, counted); with different
             bytes it was applied twice (must be 0); a seq first seen before
             its predecessor is out of order (must be 0); every event's
             incident.timeline_len equals the steps of the events up to it
             (the timeline rebuilt by concatenating steps in seq order).
             Lines that are not tocsin.incident/1 events fail the check.
  redis      A minimal RESP client reads Redis now (tocsind and its sinks
             must have caught up: the harness checks after tocsind stopped).
             <prefix>incidents:open equals the topic's open set (incidents
             whose highest-seq event is not closed); each open incident's
             hash has the topic's last seq and state; <prefix>deadlines holds
             only open incidents, each with the score of its hash's deadline;
             a closed incident's hash, if not yet expired, says closed at its
             last seq; each site hash of a site with incidents names exactly
             the site's open incidents with their states (inc:<id>), and its
             state is the worst of them (open/reopened, acknowledged,
             dispatched, on_site, cleared, resolved) or ok.  Stale and
             missing entries are listed.
  clocks     For every tocsind down window and every incident open at its
             start (its last event before the kill is not closed): the last
             event before the kill and the next event (or, when there is
             none, the Redis hash's json if the restarted daemon wrote it
             after the restart) must give every clock that is running and
             not paused in both the same deadline, within
             deadline_tolerance_ms (999: "to the second").  A deadline moves
             only when a clock is paused and resumed, which is an event of
             its own, so two consecutive events agree unless something lost
             or changed the clock in between.  Incidents checked and clocks
             that moved are listed.
  resources  tocsind's samples in segments: a pid lifetime between
             reloads (a restart starts memory afresh; a reload replaces the
             configuration and the engines, so memory finds a new level,
             and its step is printed).  A segment is fitted after the first
             warmup_frac of the run and, but for the first, after settle_s
             from its start, and only when at least min_segment_s long
             then.  One least-squares slope per series over the fitted
             segments, one intercept each (the slope is what grows within
             them).  RSS slope (KiB/min) must be below rss_pct_per_10min
             percent of the fitted samples' mean RSS per 10 minutes; the fd
             slope must be within +-fd_slope_per_min.  At least min_samples
             samples must be fitted, or the check fails (the soak leaves
             its last stretch without kills and reloads for this).
             DIR/resources.png plots RSS and fds over the run (restarts
             red, reloads orange, what is not fitted grey, the fit orange),
             written by the small PNG writer below (zlib + struct).

SETTINGS (defaults < run.json "check": {name: value} < --name-with-dashes)

  slack_ms 5000; delay_ms = modbus.interval * modbus.comm_loss_misses +
  30000 from the config's YAML (5 s and 3 when it cannot be read: 45000);
  tail_ms = delay_ms + 60000 (a consequence such as HIGH_TEMP after its
  60 s debounce may follow a fault's end); restart_slack_ms 30000;
  deadline_tolerance_ms 999; warmup_frac 0.2; settle_s 300;
  min_segment_s 300;
  rss_pct_per_10min 1.0; fd_slope_per_min 0.5; min_samples 6;
  redis (HOST:PORT, default run.json's); max_list 20 (items per list).
  --no-plot skips the PNG.

OUTPUT AND EXIT

  The evidence and the five verdicts, then a report (faults injected by
  kind, incidents expected vs found, events lost, duplicates applied,
  redelivered, RSS and fd slope, the plot's path) and a last line
  `soak check: PASS (5 of 5 checks ok)` or `soak check: FAIL (...)`.
  Exit 0 when every check passes, 1 when one fails, 2 when the run cannot
  be judged at all (no DIR, no readable run.json).  A missing or partly
  unreadable input (a line that is not JSON) fails the checks that read
  it; so does a fault schedule none of whose expected incidents could be
  judged before the run ended.
"""
import argparse
import bisect
import csv
import datetime
import hashlib
import json
import os
import re
import socket
import struct
import statistics
import sys
import zlib
from collections import Counter, defaultdict

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MS = datetime.timedelta(milliseconds=1)

DOWN_KINDS = {"kill9", "kill", "sigkill"}
UP_KINDS = {"restart", "start"}
REMOVE_KINDS = {"sighup_remove"}
ADD_KINDS = {"sighup_add"}
RELOAD_DONE_KINDS = {"sighup_done", "reload"}
RELOAD_LINES_MS = 10000     # a reload's remove/add/done lines lie closer
STEP_SAMPLES = 5            # samples each side of a reload's step (median)

# What a root fault may bring with it at its site (DOMAIN.md section 5; the
# simulator's physics, docs/devsim.md): explained by the fault, not required.
CONSEQUENCES = {
    "MAINS_FAIL": ("BATT_DISCHARGE", "BATT_LOW", "RECT_FAIL", "AC_FAIL",
                   "HIGH_TEMP"),
    "AC_FAIL": ("HIGH_TEMP",),
}

# Worst first: nobody is on an open or reopened incident (docs/redis.md).
STATE_RANK = {"open": 0, "reopened": 0, "acknowledged": 1, "dispatched": 2,
              "on_site": 3, "cleared": 4, "resolved": 5}

DEFAULTS = {
    "slack_ms": 5000,
    "delay_ms": None,           # from the config, see modbus_timing()
    "tail_ms": None,            # delay_ms + 60000
    "restart_slack_ms": 30000,
    "deadline_tolerance_ms": 999,
    "warmup_frac": 0.2,
    "settle_s": 300,            # measured: a fresh tocsind's heap grows
                                # for 4-5 minutes under the soak's faults
    "min_segment_s": 300,
    "rss_pct_per_10min": 1.0,
    "fd_slope_per_min": 0.5,
    "min_samples": 6,
    "redis": None,
    "max_list": 20,
}


# ---------------------------------------------------------------- time, text

def parse_time(v):
    """RFC 3339 (or ms since the epoch) -> int ms; None for null."""
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    dt = datetime.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return (dt - EPOCH) // MS


def iso(ms):
    if ms is None:
        return "null"
    return (EPOCH + ms * MS).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_duration_ms(s):
    """A tocsin duration ("5s", "1h30m", "250ms") -> ms, or None."""
    s = s.strip().strip("\"'")
    if s == "0":
        return 0
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000,
             "w": 604800000}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        return None
    return int(sum(float(n) * units[u] for n, u in parts))


def limited(items, n):
    """At most n items, then a line saying how many were left out."""
    items = list(items)
    out = items[:n]
    if len(items) > n:
        out.append("... and %d more" % (len(items) - n))
    return out


# ------------------------------------------------------------------- inputs

def read_jsonl(path, problems):
    """Objects of a JSON-lines file; unreadable lines go to problems."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    problems.append("%s:%d: not JSON (%s)" % (
                        os.path.basename(path), n, e))
    except OSError as e:
        problems.append("%s: %s" % (os.path.basename(path), e.strerror))
        return None
    return out


def modbus_timing(config_path):
    """(interval_ms, misses, where) from the modbus section of tocsind's
    YAML, read with a few regular expressions (no YAML library here):
    block style "modbus:\\n  interval: 5s" or flow style "modbus: {...}"."""
    interval, misses, where = 5000, 3, "defaults (5s x 3)"
    if not config_path:
        return interval, misses, where + ", no config in run.json"
    try:
        with open(config_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return interval, misses, "%s, config %s: %s" % (where, config_path,
                                                       e.strerror)
    body, inside = [], False
    for line in lines:
        if re.match(r"^modbus\s*:", line):
            inside = True
            rest = line.split(":", 1)[1]
            if "{" in rest:
                body.extend(rest.strip(" {}").split(","))
                inside = False
            continue
        if inside:
            if line.strip() == "" or line.lstrip().startswith("#"):
                continue
            if not line[0].isspace():
                break
            body.append(line)
    found = []
    for item in body:
        m = re.match(r"^\s*([a-z_]+)\s*:\s*([^#\s,]+)", item)
        if not m:
            continue
        if m.group(1) == "interval":
            v = parse_duration_ms(m.group(2))
            if v:
                interval = v
                found.append("interval %s" % m.group(2))
        elif m.group(1) == "comm_loss_misses" and m.group(2).isdigit():
            misses = int(m.group(2))
            found.append("comm_loss_misses %s" % m.group(2))
    return interval, misses, "%s (%s)" % (config_path,
                                          ", ".join(found) or "defaults")


def device_list(detail):
    if detail is None:
        return []
    if isinstance(detail, dict):
        for k in ("devices", "device", "ids"):
            if k in detail:
                return device_list(detail[k])
        return []
    if isinstance(detail, list):
        return [str(d) for d in detail]
    return [d for d in re.split(r"[\s,]+", str(detail)) if d]


class Run:
    """The run directory, read once."""

    def __init__(self, path):
        self.dir = path
        self.problems = []              # unreadable inputs, by file
        with open(os.path.join(path, "run.json"), encoding="utf-8") as f:
            self.meta = json.load(f)
        self.started = self.meta.get("started_ms")
        self.ended = self.meta.get("ended_ms")
        self.faults = read_jsonl(os.path.join(path, "faults.jsonl"),
                                 self.problems)
        self.chaos = read_jsonl(os.path.join(path, "chaos.jsonl"),
                                self.problems) or []
        self.chaos.sort(key=lambda c: c.get("t_ms", 0))
        self.down = self._down_windows()
        self.removed = self._removals()
        self.impaired = set(self.meta.get("impaired_devices") or [])

    def _down_windows(self):
        """[(kill_ms, up_ms)] of tocsind; a kill with no restart after it
        is down until the end of the run."""
        out, kill = [], None
        for c in self.chaos:
            k, t = c.get("kind"), c.get("t_ms")
            if t is None:
                continue
            if k in DOWN_KINDS:
                if kill is None:
                    kill = t
            elif k in UP_KINDS:
                out.append((kill if kill is not None else t, t))
                kill = None
        if kill is not None:
            out.append((kill, self.ended if self.ended else kill))
        return out

    def _removals(self):
        """device -> [(removed_ms, re-added_ms or None)]."""
        out = defaultdict(list)
        for c in self.chaos:
            k = c.get("kind")
            if k in REMOVE_KINDS:
                for d in device_list(c.get("detail")):
                    out[d].append([c.get("t_ms", 0), None])
            elif k in ADD_KINDS:
                for d in device_list(c.get("detail")):
                    if out[d] and out[d][-1][1] is None:
                        out[d][-1][1] = c.get("t_ms", 0)
        return out

    def unreadable(self, *names):
        """The named inputs with a problem (missing, a line not JSON)."""
        return sorted({p.split(":")[0] for p in self.problems} & set(names))

    def removed_at(self, device, t):
        for a, b in self.removed.get(device, ()):
            if a <= t and (b is None or t < b):
                return a
        return None

    def extend(self, t0, bound, slack):
        """The latest instant something due bound after t0 may appear,
        counting only time tocsind was up: every down window overlapping
        [t0, deadline] pushes the deadline to its restart + bound + slack."""
        d = t0 + bound
        for kill, up in self.down:
            if kill > d:
                break
            if up < t0:
                continue
            d = max(d, up + bound + slack)
        return d


# ------------------------------------------------------------------ history

class Event:
    """The parts of one event the checks read (the raw line is hashed)."""
    __slots__ = ("seq", "digest", "at", "type", "state", "kind", "site",
                 "tl_len", "nsteps", "alarms", "clocks", "links", "line")

    def __init__(self, obj, digest, line):
        inc = obj["incident"]
        self.seq = obj["seq"]
        self.digest = digest
        self.line = line
        self.at = parse_time(obj["at"])
        if self.at is None:
            raise ValueError("at is null")
        self.type = obj.get("event")
        self.state = inc.get("state")
        self.kind = inc.get("kind") or ("area" if inc.get("site") is None
                                        else "site")
        self.site = inc.get("site")
        self.tl_len = inc.get("timeline_len")
        self.nsteps = len(obj.get("steps") or [])
        self.alarms = [(a.get("device"), a.get("code"), bool(a.get("active")),
                        parse_time(a.get("raised_at")),
                        parse_time(a.get("cleared_at")), a.get("cycles", 0))
                       for a in inc.get("alarms") or []]
        self.clocks = inc.get("clocks") or {}
        self.links = list(inc.get("links") or [])


class Incident:
    def __init__(self, iid):
        self.id = iid
        self.events = {}            # seq -> Event (the first delivery)
        self.arrivals = []          # seqs in topic order, repeats included

    def ordered(self):
        return [self.events[s] for s in sorted(self.events)]

    def last(self):
        return self.events[max(self.events)]


class History:
    """The topic, per incident, with what check 2 counts on the way."""

    def __init__(self, path, problems):
        self.incidents = {}
        self.lines = 0
        self.bad = []               # lines that are not events
        self.redelivered = 0
        self.twice = []             # (id, seq): same seq, different bytes
        self.types = Counter()
        self.readable = True
        try:
            f = open(path, "rb")
        except OSError as e:
            problems.append("incidents.jsonl: %s" % e.strerror)
            self.readable = False
            return
        with f:
            for n, raw in enumerate(f, 1):
                raw = raw.rstrip(b"\r\n")
                if not raw.strip():
                    continue
                self.lines += 1
                self._take(n, raw)

    def _take(self, n, raw):
        try:
            obj = json.loads(raw)
            if obj.get("schema") != "tocsin.incident/1":
                raise ValueError("schema %r" % obj.get("schema"))
            iid, seq = obj["incident"]["id"], obj["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise ValueError("seq %r" % (seq,))
            ev = Event(obj, hashlib.blake2b(raw, digest_size=20).digest(), n)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            self.bad.append("line %d: %s" % (n, e))
            return
        inc = self.incidents.get(iid)
        if inc is None:
            inc = self.incidents[iid] = Incident(iid)
        inc.arrivals.append(seq)
        old = inc.events.get(seq)
        if old is None:
            inc.events[seq] = ev
            self.types[ev.type] += 1
        elif old.digest == ev.digest:
            self.redelivered += 1
        else:
            self.twice.append((iid, seq, old.line, n))

    def open_set(self):
        return {i.id for i in self.incidents.values()
                if i.last().state != "closed"}


# ------------------------------------------------------ check 1: the faults

class Raise:
    __slots__ = ("inc", "site", "device", "code", "at", "cleared")

    def __init__(self, inc, site, device, code, at):
        self.inc, self.site, self.device, self.code = inc, site, device, code
        self.at, self.cleared = at, None


def alarm_raises(hist):
    """Every raise of every alarm on a site incident, with when it cleared
    (None: still active at the incident's last event)."""
    out = []
    for inc in hist.incidents.values():
        evs = inc.ordered()
        if not evs or evs[0].kind != "site":
            continue
        cur = {}                    # (device, code) -> (Raise, active, cycles)
        for ev in evs:
            for dev, code, active, raised, cleared, cycles in ev.alarms:
                key = (dev, code)
                prev = cur.get(key)
                if prev is None:
                    r = Raise(inc.id, ev.site, dev, code,
                              raised if raised is not None else ev.at)
                    out.append(r)
                    if not active:
                        r.cleared = cleared if cleared is not None else ev.at
                    cur[key] = (r, active, cycles)
                    continue
                r, was, cyc = prev
                if active and (not was or cycles > cyc):
                    if was:
                        r.cleared = ev.at
                    r = Raise(inc.id, ev.site, dev, code, ev.at)
                    out.append(r)
                elif was and not active:
                    r.cleared = cleared if cleared is not None else ev.at
                cur[key] = (r, active, cycles)
            if ev.state == "closed":
                for r, active, _ in cur.values():
                    if active and r.cleared is None:
                        r.cleared = ev.at
    return out


def fault_devices(f):
    devs = set(f.get("devices") or [])
    if f.get("device"):
        devs.add(f["device"])
    return devs


def allowed_codes(f):
    codes = set(f.get("expect") or []) | set(f.get("may") or [])
    for c in list(codes):
        codes.update(CONSEQUENCES.get(c, ()))
    return codes


def check_faults(run, hist, cfg, out):
    faults = run.faults
    bad = run.unreadable("faults.jsonl", "chaos.jsonl")
    if faults is None or not hist.readable:
        return False, "cannot read faults.jsonl or incidents.jsonl", {}
    slack, delay = cfg["slack_ms"], cfg["delay_ms"]
    raises = alarm_raises(hist)
    by_site = defaultdict(list)
    for r in raises:
        by_site[r.site].append(r)

    expected = found = 0
    by_kind = defaultdict(lambda: [0, 0])      # kind -> [expected, found]
    missing, waived, unjudged, latencies = [], [], [], []
    for i, f in enumerate(faults):
        codes = f.get("expect") or []
        if not codes:
            continue
        start = f.get("start_ms", 0)
        dev = f.get("device")
        gone = run.removed_at(dev, start) if dev else None
        if gone is not None:
            waived.append("fault #%d %s %s/%s: device removed by a reload "
                          "at %s" % (i, f.get("kind"), f.get("site"), dev,
                                     iso(gone)))
            continue
        deadline = run.extend(start, delay, cfg["restart_slack_ms"])
        devs = fault_devices(f)
        for code in codes:
            best = None
            for r in by_site.get(f.get("site"), ()):
                if r.code != code or (devs and r.device not in devs):
                    continue
                if start - slack <= r.at <= deadline:
                    lat = r.at - start
                elif r.at < start - slack and (r.cleared is None or
                                               r.cleared >= start - slack):
                    lat = 0             # already active when it began
                else:
                    continue
                if best is None or lat < best[0]:
                    best = (lat, r)
            if best is None and run.ended and deadline > run.ended:
                unjudged.append("fault #%d %s %s: %s due by %s, after the "
                                "run ended" % (i, f.get("kind"),
                                               f.get("site"), code,
                                               iso(deadline)))
                continue
            expected += 1
            by_kind[f.get("kind")][0] += 1
            if best is None:
                near = sorted({"%s %s/%s at %s" % (r.inc, r.device, r.code,
                                                   iso(r.at))
                               for r in by_site.get(f.get("site"), ())})
                missing.append("fault #%d %s at %s%s from %s: no %s raised "
                               "by %s%s" % (
                                   i, f.get("kind"), f.get("site"),
                                   "/" + dev if dev else "", iso(start), code,
                                   iso(deadline),
                                   "; the site's raises: " +
                                   ", ".join(near[:5]) if near else
                                   "; no incident at the site"))
            else:
                found += 1
                by_kind[f.get("kind")][1] += 1
                latencies.append(best[0])

    # No incident without a fault.
    site_faults = defaultdict(list)
    for f in faults:
        site_faults[f.get("site")].append(f)
    unexplained = []
    for r in raises:
        gone = run.removed_at(r.device, r.at - slack)
        if gone is not None:
            unexplained.append("%s %s/%s raised at %s: the device was "
                               "removed by a reload at %s" % (
                                   r.inc, r.device, r.code, iso(r.at),
                                   iso(gone)))
            continue
        if r.code == "COMM_LOSS" and r.device in run.impaired:
            continue
        ok = False
        for f in site_faults.get(r.site, ()):
            if r.code not in allowed_codes(f):
                continue
            start = f.get("start_ms", 0)
            end = f.get("end_ms")
            if end is None:
                end = run.ended if run.ended else r.at
            if start - slack <= r.at <= run.extend(
                    end, cfg["tail_ms"], cfg["restart_slack_ms"]):
                ok = True
                break
        if not ok:
            during = [("#%d %s expect %s" % (j, f.get("kind"),
                                             f.get("expect") or []))
                      for j, f in enumerate(faults)
                      if f.get("site") == r.site and
                      f.get("start_ms", 0) - slack <= r.at and
                      (f.get("end_ms") is None or r.at <= f["end_ms"])]
            unexplained.append("%s %s/%s raised at %s%s" % (
                r.inc, r.device, r.code, iso(r.at),
                " during fault " + ", ".join(during) if during else
                ": no fault at site %s then" % r.site))

    known = hist.incidents
    kinds = Counter()
    for inc in known.values():
        ev = inc.ordered()[0]
        kinds[ev.kind] += 1
        if ev.kind != "area":
            continue
        links = set()
        for e in inc.ordered():
            links.update(e.links)
        bad = sorted(l for l in links
                     if l not in known or known[l].ordered()[0].kind != "site")
        if not links or bad:
            unexplained.append("area incident %s: %s" % (
                inc.id, "links no site incident" if not links else
                "links unknown incidents " + ", ".join(bad[:5])))

    out.append("faults: %d episodes, %d expecting an incident" % (
        len(faults), sum(1 for f in faults if f.get("expect"))))
    out.append("incidents expected vs found: %d expected, %d found, "
               "%d missing (fault x code); %d waived, %d unjudged" % (
                   expected, found, len(missing), len(waived), len(unjudged)))
    if by_kind:
        out.append("found by kind: " + ", ".join(
            "%s %d/%d" % (k, v[1], v[0]) for k, v in sorted(by_kind.items())))
    if latencies:
        latencies.sort()
        out.append("raise after fault start: median %.1f s, max %.1f s "
                   "(bound %.1f s, longer across restarts)" % (
                       latencies[len(latencies) // 2] / 1000.0,
                       latencies[-1] / 1000.0, delay / 1000.0))
    out.append("incidents in the topic: %s; alarm raises on site "
               "incidents: %d, unexplained: %d" % (
                   ", ".join("%s %d" % kv for kv in sorted(kinds.items()))
                   or "none", len(raises), len(unexplained)))
    for title, items in (("missing", missing), ("unexplained", unexplained),
                         ("waived", waived), ("unjudged", unjudged)):
        for line in limited(items, cfg["max_list"]):
            out.append("  %s: %s" % (title, line))
    ok = not missing and not unexplained and not bad
    if bad:
        out.append("  the schedule is not whole: %s unreadable (above)" %
                   " and ".join(bad))
    if expected == 0 and unjudged:
        ok = False
        out.append("  no expected incident could be judged: every one was "
                   "due after the run ended")
    detail = "%d of %d expected found, %d unexplained" % (
        found, expected, len(unexplained))
    return ok, detail, {"expected": expected, "found": found}


# ---------------------------------------------------------- check 2: seq

def check_seq(hist, cfg, out):
    if not hist.readable:
        return False, "cannot read incidents.jsonl", {}
    lost, gaps, disorder, tl_bad = 0, [], [], []
    for inc in sorted(hist.incidents.values(), key=lambda i: i.id):
        seqs = sorted(inc.events)
        top = seqs[-1]
        miss = sorted(set(range(1, top + 1)) - set(seqs))
        if miss:
            lost += len(miss)
            runs, a = [], miss[0]
            for p, q in zip(miss, miss[1:] + [None]):
                if q != p + 1:
                    runs.append(str(a) if a == p else "%d-%d" % (a, p))
                    a = q
            gaps.append("%s: seq %s missing of 1..%d" % (
                inc.id, ",".join(runs), top))
        seen = set()
        for s in inc.arrivals:
            if s not in seen:
                if s > 1 and s - 1 not in seen and s - 1 in inc.events:
                    disorder.append("%s: seq %d before seq %d" % (
                        inc.id, s, s - 1))
                seen.add(s)
        if not miss:
            total = 0
            for ev in inc.ordered():
                total += ev.nsteps
                if ev.tl_len != total:
                    tl_bad.append("%s seq %d: timeline_len %s, steps so far "
                                  "%d" % (inc.id, ev.seq, ev.tl_len, total))
                    break
    distinct = sum(len(i.events) for i in hist.incidents.values())
    out.append("events: %d lines, %d incidents, %d distinct (id, seq), "
               "lost %d, applied twice %d, redelivered %d, out of order %d, "
               "not events %d" % (hist.lines, len(hist.incidents), distinct,
                                  lost, len(hist.twice), hist.redelivered,
                                  len(disorder), len(hist.bad)))
    if hist.types:
        out.append("events by type: " + ", ".join(
            "%s %d" % kv for kv in sorted(hist.types.items())))
    twice = ["%s seq %d: line %d and line %d differ" % t for t in hist.twice]
    for title, items in (("gap", gaps), ("applied twice", twice),
                         ("out of order", disorder),
                         ("timeline_len", tl_bad), ("not an event", hist.bad)):
        for line in limited(items, cfg["max_list"]):
            out.append("  %s: %s" % (title, line))
    ok = not (lost or hist.twice or disorder or tl_bad or hist.bad)
    detail = "lost %d, applied twice %d, redelivered %d" % (
        lost, len(hist.twice), hist.redelivered)
    if disorder or tl_bad or hist.bad:
        detail += ", out of order %d, timeline_len wrong %d, not events %d" % (
            len(disorder), len(tl_bad), len(hist.bad))
    return ok, detail, {"lost": lost, "twice": len(hist.twice),
                        "redelivered": hist.redelivered}


# ------------------------------------------------------- check 3: Redis

class RedisError(Exception):
    pass


class Resp:
    """Just enough RESP2 over a socket: commands as arrays of bulk strings,
    replies of every RESP2 type, pipelined in batches."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rf = self.sock.makefile("rb")

    def close(self):
        self.rf.close()
        self.sock.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _reply(self):
        line = self.rf.readline()
        if not line.endswith(b"\r\n"):
            raise RedisError("connection closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rf.read(n + 2)
            if len(data) != n + 2:
                raise RedisError("connection closed")
            return data[:-2].decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError("bad reply %r" % line[:40])

    def pipeline(self, cmds, batch=500):
        replies = []
        for i in range(0, len(cmds), batch):
            part = cmds[i:i + batch]
            self.sock.sendall(b"".join(self.encode(c) for c in part))
            replies.extend(self._reply() for _ in part)
        return replies

    def call(self, *args):
        r = self.pipeline([args])[0]
        if isinstance(r, RedisError):
            raise r
        return r


def pairs(flat):
    return dict(zip(flat[0::2], flat[1::2])) if flat else {}


def check_redis(run, hist, cfg, out):
    """Returns (ok, detail, hashes of the open incidents for check 4)."""
    addr = cfg["redis"] or run.meta.get("redis")
    prefix = run.meta.get("redis_prefix", "tocsin:")
    if not hist.readable:
        return False, "cannot read incidents.jsonl", {}
    if not addr:
        return False, "no redis address in run.json", {}
    host, _, port = addr.rpartition(":")
    try:
        r = Resp(host or "127.0.0.1", int(port))
    except (OSError, ValueError) as e:
        return False, "cannot connect to %s: %s" % (addr, e), {}
    try:
        return _check_redis(r, prefix, hist, cfg, out)
    except (OSError, RedisError, ValueError) as e:
        return False, "redis %s: %s" % (addr, e), {}
    finally:
        r.close()


def _check_redis(r, prefix, hist, cfg, out):
    incs = hist.incidents
    want = hist.open_set()
    have = pairs(r.call("ZRANGE", prefix + "incidents:open", 0, -1,
                        "WITHSCORES"))
    dl = pairs(r.call("ZRANGE", prefix + "deadlines", 0, -1, "WITHSCORES"))
    stale = sorted(set(have) - want)
    missing = sorted(want - set(have))
    problems = []

    ids = sorted(want | set(incs))
    got = r.pipeline([("HGETALL", prefix + "incident:" + i) for i in ids])
    hashes = {}
    for iid, flat in zip(ids, got):
        if isinstance(flat, RedisError):
            problems.append("incident:%s: %s" % (iid, flat))
            continue
        h = pairs(flat)
        if h:
            hashes[iid] = h
    for iid in sorted(want):
        last = incs[iid].last()
        h = hashes.get(iid)
        if h is None:
            problems.append("incident:%s: no hash (topic: seq %d %s)" % (
                iid, last.seq, last.state))
        elif h.get("seq") != str(last.seq) or h.get("state") != last.state:
            problems.append("incident:%s: seq %s state %s, topic: seq %d "
                            "%s" % (iid, h.get("seq"), h.get("state"),
                                    last.seq, last.state))
    for iid in sorted(set(incs) - want):
        h = hashes.get(iid)
        last = incs[iid].last()
        if h is not None and (h.get("state") != "closed" or
                              h.get("seq") != str(last.seq)):
            problems.append("incident:%s: seq %s state %s, topic: seq %d "
                            "closed" % (iid, h.get("seq"), h.get("state"),
                                        last.seq))
    for iid, score in sorted(dl.items()):
        if iid not in want:
            stale.append("%s (in deadlines)" % iid)
            continue
        h = hashes.get(iid, {})
        if h and float(score) != float(h.get("deadline", "0") or 0):
            problems.append("deadlines %s: score %s, hash deadline %s" % (
                iid, score, h.get("deadline")))
    for iid in sorted(want):
        h = hashes.get(iid, {})
        if h.get("deadline") not in (None, "", "0") and iid not in dl:
            missing.append("%s (hash deadline %s, not in deadlines)" % (
                iid, h["deadline"]))

    # Site hashes: exactly the open incidents of the site, worst state.
    sites = defaultdict(dict)
    for inc in incs.values():
        first = inc.ordered()[0]
        if first.kind in ("site", "complaint") and first.site:
            sites.setdefault(first.site, {})
            if inc.id in want:
                sites[first.site][inc.id] = inc.last().state
    names = sorted(sites)
    got = r.pipeline([("HGETALL", prefix + "site:" + s) for s in names])
    for site, flat in zip(names, got):
        if isinstance(flat, RedisError):
            problems.append("site:%s: %s" % (site, flat))
            continue
        h = pairs(flat)
        openinc = sites[site]
        if not h:
            if openinc:
                problems.append("site:%s: no hash, open: %s" % (
                    site, ", ".join(sorted(openinc))))
            continue
        inc_fields = {k[4:]: v for k, v in h.items() if k.startswith("inc:")}
        for iid in sorted(set(inc_fields) - set(openinc)):
            stale.append("site:%s inc:%s (%s)" % (site, iid, inc_fields[iid]))
        for iid in sorted(set(openinc) - set(inc_fields)):
            missing.append("site:%s inc:%s (%s)" % (site, iid, openinc[iid]))
        for iid in sorted(set(openinc) & set(inc_fields)):
            if inc_fields[iid] != openinc[iid]:
                problems.append("site:%s inc:%s: %s, topic: %s" % (
                    site, iid, inc_fields[iid], openinc[iid]))
        if openinc:
            worst = min(STATE_RANK.get(s, 9) for s in openinc.values())
            named = h.get("incident")
            if STATE_RANK.get(h.get("state"), 9) != worst or \
                    openinc.get(named) != h.get("state"):
                problems.append("site:%s: state %s incident %s, topic's "
                                "worst: %s" % (
                                    site, h.get("state"), named,
                                    ", ".join("%s %s" % kv for kv in
                                              sorted(openinc.items()))))
        elif h.get("state") != "ok":
            problems.append("site:%s: state %s with no open incident" % (
                site, h.get("state")))

    out.append("redis: open in topic %d, in %sincidents:open %d; "
               "deadlines %d; site hashes %d" % (
                   len(want), prefix, len(have), len(dl), len(names)))
    for title, items in (("stale", stale), ("missing", missing),
                         ("differs", problems)):
        for line in limited(items, cfg["max_list"]):
            out.append("  %s: %s" % (title, line))
    ok = not (stale or missing or problems)
    return ok, "%d open, %d stale, %d missing, %d differ" % (
        len(want), len(stale), len(missing), len(problems)), hashes


# ----------------------------------------------------- check 4: the clocks

def running_deadlines(clocks):
    """{clock: deadline ms} of the clocks running and not paused."""
    out = {}
    for name, c in (clocks or {}).items():
        if isinstance(c, dict) and c.get("state") == "running" and \
                not c.get("paused") and c.get("deadline") is not None:
            out[name] = parse_time(c["deadline"])
    return out


def check_clocks(run, hist, hashes, cfg, out):
    if not hist.readable:
        return False, "cannot read incidents.jsonl"
    tol = cfg["deadline_tolerance_ms"]
    checked, moved, uncompared, pairs_done = [], [], [], set()
    for kill, up in run.down:
        for inc in hist.incidents.values():
            evs = inc.ordered()
            before = None
            for ev in evs:
                if ev.at is not None and ev.at < kill:
                    before = ev
            if before is None or before.state == "closed":
                continue
            if (inc.id, before.seq) in pairs_done:
                continue
            pairs_done.add((inc.id, before.seq))
            ahead = running_deadlines(before.clocks)
            if not ahead:
                continue
            after, source = None, None
            nxt = [e for e in evs if e.seq > before.seq]
            if nxt:
                after, source = nxt[0].clocks, "seq %d" % nxt[0].seq
            else:
                h = hashes.get(inc.id)
                try:
                    j = json.loads(h["json"]) if h and "json" in h else None
                except ValueError:
                    j = None
                if j and (parse_time(j.get("at")) or 0) >= up:
                    after = (j.get("incident") or {}).get("clocks")
                    source = "redis state at %s" % j.get("at")
            if after is None:
                uncompared.append("%s (seq %d before the kill at %s: no "
                                  "later event, no restored state)" % (
                                      inc.id, before.seq, iso(kill)))
                continue
            behind = running_deadlines(after)
            same = [c for c in ahead if c in behind]
            if not same:
                uncompared.append("%s (seq %d -> %s: no clock running in "
                                  "both)" % (inc.id, before.seq, source))
                continue
            checked.append(inc.id)
            for c in same:
                if abs(ahead[c] - behind[c]) > tol:
                    moved.append("%s %s clock: deadline %s at seq %d (before "
                                 "the kill at %s), %s at %s (%+.3f s)" % (
                                     inc.id, c, iso(ahead[c]), before.seq,
                                     iso(kill), iso(behind[c]), source,
                                     (behind[c] - ahead[c]) / 1000.0))
    out.append("clocks: %d down windows (kill/restart); incidents open "
               "across one with a running clock compared: %d, moved: %d, "
               "not comparable: %d" % (len(run.down), len(checked),
                                       len(moved), len(uncompared)))
    if checked:
        out.append("  checked: " + ", ".join(limited(sorted(set(checked)),
                                                     cfg["max_list"])))
    for title, items in (("moved", moved), ("not comparable", uncompared)):
        for line in limited(items, cfg["max_list"]):
            out.append("  %s: %s" % (title, line))
    bad = run.unreadable("chaos.jsonl")
    if bad:
        out.append("  the restarts are not known: chaos.jsonl unreadable")
    return not moved and not bad, "%d checked, %d moved" % (
        len(set(checked)), len(moved))


# -------------------------------------------------- check 5: the resources

def read_samples(path, problems, heap=None):
    """The rows (t_ms, pid, rss_kb, fds), sorted; heap, if a dict, gets
    (heap_kb, heap_res_kb) by (t_ms, pid) where a row has both."""
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for rec in csv.reader(f):
                if len(rec) < 4:
                    continue
                try:
                    row = (int(float(rec[0])), rec[1].strip(),
                           float(rec[2]), float(rec[3]))
                except ValueError:
                    continue        # the header, or a sample that failed
                if row[1] and row[2] > 0:
                    rows.append(row)   # not a sample of a process gone
                    if heap is not None and len(rec) >= 6:
                        try:
                            heap[row[:2]] = (float(rec[4]), float(rec[5]))
                        except ValueError:
                            pass    # /metrics did not answer then
    except OSError as e:
        problems.append("samples.csv: %s" % e.strerror)
        return None
    rows.sort()
    return rows


def pooled_slope(groups):
    """One least-squares slope for all groups, each with its own
    intercept: sum Sxy / sum Sxx over the groups.  None when no group
    has two distinct x."""
    sxx = sxy = 0.0
    for pts in groups:
        if len(pts) < 2:
            continue
        mx = sum(p[0] for p in pts) / len(pts)
        my = sum(p[1] for p in pts) / len(pts)
        sxx += sum((p[0] - mx) ** 2 for p in pts)
        sxy += sum((p[0] - mx) * (p[1] - my) for p in pts)
    return sxy / sxx if sxx > 0 else None


def reload_times(run):
    """When each reload took effect: its sighup_done, else the first line
    of the reload (sighup_remove/sighup_add), once per reload."""
    out = []
    for c in run.chaos:
        k, t = c.get("kind"), c.get("t_ms")
        if t is None:
            continue
        if k in RELOAD_DONE_KINDS:
            if out and t - out[-1] <= RELOAD_LINES_MS:
                out[-1] = t         # its lines came first: the done counts
            else:
                out.append(t)
        elif k in REMOVE_KINDS | ADD_KINDS:
            if not out or t - out[-1] > RELOAD_LINES_MS:
                out.append(t)
    return out


def check_resources(run, cfg, out):
    """Returns (ok, detail, facts for the report and the plot)."""
    heap = {}
    rows = read_samples(os.path.join(run.dir, "samples.csv"), run.problems,
                        heap)
    if not rows:
        return False, "no samples (samples.csv missing or empty)", {}
    t0 = run.started if run.started else rows[0][0]
    t1 = run.ended if run.ended else rows[-1][0]
    cut = t0 + cfg["warmup_frac"] * (t1 - t0)
    first_seen, order = {}, []
    for t, pid, _, _ in rows:
        if pid not in first_seen:
            first_seen[pid] = t
            order.append(pid)
    reloads = reload_times(run)
    settle = cfg["settle_s"] * 1000
    # a segment: one pid lifetime between reloads; its start is the pid's
    # first sample or the reload, and the first settle ms are not fitted
    # (the first segment's are inside the run's warm-up)
    segs = {}
    for t, pid, rss, fds in rows:
        k = bisect.bisect_right(reloads, t)     # reloads at or before t
        key = (pid, k)
        if key not in segs:
            start = max(first_seen[pid], reloads[k - 1] if k else t0)
            segs[key] = {"pid": pid, "start": start, "rows": [],
                         "fit": [], "why": None}
        seg = segs[key]
        seg["rows"].append((t, rss, fds))
        if t >= cut and (key == (order[0], 0) or t >= seg["start"] + settle):
            seg["fit"].append((t, rss, fds))
    min_seg = cfg["min_segment_s"] * 1000
    groups = []
    for seg in segs.values():
        f = seg["fit"]
        if len(f) < 2 or f[-1][0] - f[0][0] < min_seg:
            seg["why"] = "shorter than %d s after its settle" % (
                cfg["min_segment_s"])
        else:
            groups.append(f)
    n = sum(len(g) for g in groups)
    facts = {"rows": rows, "cut": cut, "t0": t0, "t1": t1,
             "first_seen": first_seen, "order": order, "reloads": reloads,
             "segments": list(segs.values()), "groups": groups}
    per_min = 60000.0
    out.append("resources: %d samples, %d pids, %d reloads: %d segments "
               "(a pid lifetime between reloads), fitted after the run's "
               "warm-up (%.0f s) and %d s after each restart or reload, "
               "when at least %d s long" % (
                   len(rows), len(order), len(reloads), len(segs),
                   (cut - t0) / 1000.0, cfg["settle_s"],
                   cfg["min_segment_s"]))
    prev = None
    for seg in segs.values():
        r = seg["rows"]
        f = seg["fit"]
        line = "  pid %s from %s, %.1f min: RSS %.0f-%.0f KiB, fds %.0f-%.0f" % (
            seg["pid"], iso(seg["start"]), (r[-1][0] - r[0][0]) / per_min,
            min(x[1] for x in r), max(x[1] for x in r),
            min(x[2] for x in r), max(x[2] for x in r))
        if seg["why"] is None:
            rs = pooled_slope([[((t - t0) / per_min, v) for t, v, _ in f]])
            ds = pooled_slope([[((t - t0) / per_min, d) for t, _, d in f]])
            line += "; fitted %d samples: %+.1f KiB/min, %+.3f fds/min" % (
                len(f), rs, ds)
            # context, not judged: where the RSS's slope lives
            h = [(t, heap[(t, seg["pid"])]) for t, _, _ in f
                 if (t, seg["pid"]) in heap]
            if len(h) >= 2:
                line += (" (heap %.0f-%.0f KiB %+.1f KiB/min, allocator "
                         "resident %+.1f KiB/min)" % (
                             h[0][1][0], h[-1][1][0],
                             pooled_slope([[((t - t0) / per_min, v[0])
                                            for t, v in h]]),
                             pooled_slope([[((t - t0) / per_min, v[1])
                                            for t, v in h]])))
        else:
            line += "; not fitted (%s)" % seg["why"]
        if prev is not None and prev["pid"] == seg["pid"]:
            # a reload: the level after it settled against the one before
            a = prev["rows"][-STEP_SAMPLES:]
            b = [x for x in r if x[0] >= seg["start"] + settle][:STEP_SAMPLES]
            if a and b:
                med = statistics.median
                line += "; reload step RSS %+.0f KiB, fds %+.0f" % (
                    med([x[1] for x in b]) - med([x[1] for x in a]),
                    med([x[2] for x in b]) - med([x[2] for x in a]))
        out.append(line)
        prev = seg
    if n < cfg["min_samples"] or not groups:
        out.append("  no segment of at least %d s with %d samples after its "
                   "settle: a run needs a stretch without kills and reloads "
                   "to judge memory" % (cfg["min_segment_s"],
                                        cfg["min_samples"]))
        return False, "no segment long enough to fit (%d samples)" % n, facts
    rss_slope = pooled_slope([[((t - t0) / per_min, r) for t, r, _ in g]
                              for g in groups])
    fd_slope = pooled_slope([[((t - t0) / per_min, d) for t, _, d in g]
                             for g in groups])
    mean_rss = sum(r for g in groups for _, r, _ in g) / n
    rss_limit = mean_rss * cfg["rss_pct_per_10min"] / 100.0 / 10.0
    fd_limit = cfg["fd_slope_per_min"]
    facts.update(rss_slope=rss_slope, fd_slope=fd_slope, mean_rss=mean_rss,
                 rss_limit=rss_limit, fd_limit=fd_limit)
    out.append("RSS slope %+.2f KiB/min (limit %.2f: %.2f%% of mean %.0f "
               "KiB per 10 min); fd slope %+.3f/min (limit +-%.2f); over %d "
               "segments, %d samples, %.1f min" % (
                   rss_slope, rss_limit, cfg["rss_pct_per_10min"], mean_rss,
                   fd_slope, fd_limit, len(groups), n,
                   sum(g[-1][0] - g[0][0] for g in groups) / per_min))
    ok_rss = rss_slope < rss_limit
    ok_fd = abs(fd_slope) <= fd_limit
    detail = "RSS %+.2f KiB/min%s, fds %+.3f/min%s" % (
        rss_slope, "" if ok_rss else " >= %.2f" % rss_limit,
        fd_slope, "" if ok_fd else " beyond +-%.2f" % fd_limit)
    return ok_rss and ok_fd, detail, facts


# ------------------------------------------------------------ the PNG plot

# A 5x7 font for the plot's labels: one string of 7 rows of 5 bits a glyph.
FONT = {
    "0": "01110100011001110101110011000101110",
    "1": "00100011000010000100001000010001110",
    "2": "01110100010000100010001000100011111",
    "3": "11111000100010000010000011000101110",
    "4": "00010001100101010010111110001000010",
    "5": "11111100001111000001000011000101110",
    "6": "00110010001000011110100011000101110",
    "7": "11111000010001000100010000100001000",
    "8": "01110100011000101110100011000101110",
    "9": "01110100011000101111000010001001100",
    "A": "01110100011000111111100011000110001",
    "B": "11110100011000111110100011000111110",
    "C": "01110100011000010000100001000101110",
    "D": "11100100101000110001100011001011100",
    "E": "11111100001000011110100001000011111",
    "F": "11111100001000011110100001000010000",
    "G": "01110100011000010111100011000101111",
    "H": "10001100011000111111100011000110001",
    "I": "01110001000010000100001000010001110",
    "J": "00111000100001000010000101001001100",
    "K": "10001100101010011000101001001010001",
    "L": "10000100001000010000100001000011111",
    "M": "10001110111010110101100011000110001",
    "N": "10001100011100110101100111000110001",
    "O": "01110100011000110001100011000101110",
    "P": "11110100011000111110100001000010000",
    "Q": "01110100011000110001101011001001101",
    "R": "11110100011000111110101001001010001",
    "S": "01111100001000001110000010000111110",
    "T": "11111001000010000100001000010000100",
    "U": "10001100011000110001100011000101110",
    "V": "10001100011000110001100010101000100",
    "W": "10001100011000110101101011010101010",
    "X": "10001100010101000100010101000110001",
    "Y": "10001100011000101010001000010000100",
    "Z": "11111000010001000100010001000011111",
    " ": "00000000000000000000000000000000000",
    ".": "00000000000000000000000000110001100",
    ",": "00000000000000000000011000010001000",
    "-": "00000000000000011111000000000000000",
    "+": "00000001000010011111001000010000000",
    ":": "00000011000110000000011000110000000",
    "/": "00000000010001000100010001000000000",
    "%": "11000110010001000100010001001100011",
    "(": "00010001000100001000010000010000010",
    ")": "01000001000001000010000100010001000",
    "=": "00000000001111100000111110000000000",
    "_": "00000000000000000000000000000011111",
}

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (150, 150, 150)
SHADE, RED, BLUE = (232, 232, 232), (210, 30, 30), (30, 80, 200)
GREEN, ORANGE = (20, 140, 60), (240, 140, 0)


class Canvas:
    """An RGB pixel buffer with lines, boxes and 5x7 text."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(WHITE * (w * h))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def line(self, x0, y0, x1, y1, c, dash=0):
        x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err, n = dx + dy, 0
        while True:
            if not dash or (n // dash) % 2 == 0:
                self.dot(x0, y0, c)
            n += 1
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def fill(self, x0, y0, x1, y1, c):
        xa, xb = max(0, int(x0)), min(self.w, int(x1) + 1)
        if xb <= xa:
            return
        row = bytes(c) * (xb - xa)
        for y in range(max(0, int(y0)), min(self.h, int(y1) + 1)):
            i = (y * self.w + xa) * 3
            self.px[i:i + len(row)] = row

    def text(self, x, y, s, c=BLACK, scale=1):
        for ch in s.upper():
            g = FONT.get(ch, FONT[" "])
            for i, bit in enumerate(g):
                if bit == "1":
                    r, col = divmod(i, 5)
                    self.fill(x + col * scale, y + r * scale,
                              x + col * scale + scale - 1,
                              y + r * scale + scale - 1, c)
            x += 6 * scale

    def png(self):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:
                                                (y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(tag, data):
            return (struct.pack(">I", len(data)) + tag + data +
                    struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
        return (b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2,
                                           0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def plot_resources(run, facts, path):
    """RSS (top) and fds (bottom) against minutes since the start."""
    rows = facts["rows"]
    t0 = facts["t0"]
    t1 = max(facts["t1"], rows[-1][0])
    W, H, L, R = 960, 560, 80, 20
    cv = Canvas(W, H)
    span = max(t1 - t0, 1)

    def xof(t):
        return L + (t - t0) * (W - L - R) / span

    restarts = sorted({t for w in run.down for t in w} |
                      {t for p, t in facts["first_seen"].items()
                       if p != facts["order"][0]})
    panels = ((1, "RSS KIB", BLUE, facts.get("rss_slope"), "KIB/MIN", 36,
               262),
              (2, "OPEN FDS", GREEN, facts.get("fd_slope"), "/MIN", 318, 532))
    for col, name, colour, slope, unit, top, bot in panels:
        vals = [r[col + 1] for r in rows]
        lo, hi = min(vals), max(vals)
        if hi - lo < 1e-9:
            lo, hi = lo - 1, hi + 1
        pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad

        def yof(v):
            return bot - (v - lo) * (bot - top) / (hi - lo)
        cv.fill(L, top, xof(facts["cut"]), bot, SHADE)
        for seg in facts["segments"]:
            a, b = seg["start"], seg["rows"][-1][0]
            if seg["why"] is not None:
                cv.fill(xof(a), top, xof(b), bot, SHADE)
            elif seg["fit"] and seg["fit"][0][0] > a:
                cv.fill(xof(a), top, xof(seg["fit"][0][0]), bot, SHADE)
        for t in restarts:
            cv.line(xof(t), top, xof(t), bot, RED)
        for t in facts["reloads"]:
            cv.line(xof(t), top, xof(t), bot, ORANGE)
        prev = None
        for t, pid, rss, fds in rows:
            pt = (xof(t), yof(rss if col == 1 else fds), pid)
            if prev and prev[2] == pid:
                cv.line(prev[0], prev[1], pt[0], pt[1], colour)
                cv.line(prev[0], prev[1] + 1, pt[0], pt[1] + 1, colour)
            prev = pt
        if slope is not None:
            for g in facts["groups"]:
                ts = [s[0] for s in g]
                mt = sum(ts) / len(ts)
                mv = sum(s[col] for s in g) / len(g)
                per = slope / 60000.0
                cv.line(xof(ts[0]), yof(mv + (ts[0] - mt) * per),
                        xof(ts[-1]), yof(mv + (ts[-1] - mt) * per), ORANGE,
                        dash=6)
        cv.line(L, top, L, bot, BLACK)
        cv.line(L, bot, W - R, bot, BLACK)
        cv.line(L, top, W - R, top, GREY)
        cv.line(W - R, top, W - R, bot, GREY)
        cv.text(4, top, "%.0f" % hi)
        cv.text(4, bot - 7, "%.0f" % lo)
        label = name
        if slope is not None:
            label += "   SLOPE %+.2f %s" % (slope, unit)
        cv.text(L + 6, top - 12, label, colour)
        minutes = (t1 - t0) / 60000.0
        step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 240, 480)
                     if minutes / s <= 10), 960)
        m = 0
        while m <= minutes:
            x = xof(t0 + m * 60000)
            cv.line(x, bot, x, bot + 3, BLACK)
            if x < W - R - 60:
                cv.text(x - 2, bot + 6, "%d" % m)
            m += step
        end = "%.1f MIN" % minutes
        cv.text(W - R - 6 * len(end), bot + 6, end)
    cv.text(W - R - 6 * 58, 8, "RED: RESTART   ORANGE: RELOAD   GREY: NOT "
            "FITTED", GREY)
    with open(path, "wb") as f:
        f.write(cv.png())


# ------------------------------------------------------------------ the run

def settings(run, argv_values):
    cfg = dict(DEFAULTS)
    notes = []
    for k, v in (run.meta.get("check") or {}).items():
        if k in cfg:
            cfg[k] = v
        else:
            notes.append("run.json check.%s: unknown setting, ignored" % k)
    for k, v in argv_values.items():
        if v is not None:
            cfg[k] = v
    conf = run.meta.get("config")
    if conf and not os.path.isabs(conf) and \
            os.path.exists(os.path.join(run.dir, conf)):
        conf = os.path.join(run.dir, conf)      # relative to the run
    interval, misses, where = modbus_timing(conf)
    if cfg["delay_ms"] is None:
        cfg["delay_ms"] = interval * misses + 30000
        notes.append("delay_ms %d = %d x %d + 30000 from %s" % (
            cfg["delay_ms"], interval, misses, where))
    if cfg["tail_ms"] is None:
        cfg["tail_ms"] = cfg["delay_ms"] + 60000
    return cfg, notes


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Judge a soak run directory (see the module comment).")
    ap.add_argument("dir")
    for k, v in DEFAULTS.items():
        kind = str if k == "redis" else (float if isinstance(v, float)
                                         else int)
        ap.add_argument("--" + k.replace("_", "-"), dest=k, type=kind,
                        default=None)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)

    try:
        run = Run(args.dir)
    except (OSError, ValueError) as e:
        print("soak check: cannot judge %s: run.json: %s" % (args.dir, e))
        return 2
    values = {k: getattr(args, k) for k in DEFAULTS}
    cfg, notes = settings(run, values)
    print("soak check of %s: seed %s, %s s, %s devices, kafka %s, "
          "tocsind restarts %s" % (args.dir, run.meta.get("seed"),
                                   run.meta.get("duration_s"),
                                   run.meta.get("devices"),
                                   run.meta.get("kafka"),
                                   run.meta.get("tocsind_restarts")))
    for n in notes:
        print("  " + n)

    hist = History(os.path.join(args.dir, "incidents.jsonl"), run.problems)
    for p in run.problems:
        print("  input: " + p)
    verdicts = []

    def report(name, ok, detail, lines):
        for line in lines:
            print("  " + line)
        print("check %s: %s (%s)" % (name, "ok" if ok else "FAIL", detail))
        verdicts.append((name, ok))

    lines = []
    ok, detail, fstats = check_faults(run, hist, cfg, lines)
    report("faults", ok, detail, lines)
    lines = []
    ok, detail, sstats = check_seq(hist, cfg, lines)
    report("seq", ok, detail, lines)
    lines = []
    ok, detail, hashes = check_redis(run, hist, cfg, lines)
    report("redis", ok, detail, lines)
    lines = []
    ok, detail = check_clocks(run, hist, hashes, cfg, lines)
    report("clocks", ok, detail, lines)
    lines = []
    ok, detail, rfacts = check_resources(run, cfg, lines)
    plot = os.path.join(args.dir, "resources.png")
    if rfacts.get("rows") and not args.no_plot:
        try:
            plot_resources(run, rfacts, plot)
        except OSError as e:
            lines.append("plot: %s: %s" % (plot, e.strerror))
            plot = None
    else:
        plot = None
    report("resources", ok, detail, lines)

    kinds = Counter(f.get("kind") for f in run.faults or [])
    chaos = Counter(c.get("kind") for c in run.chaos)
    print("soak report")
    print("  faults injected by kind: %s" % (", ".join(
        "%s %d" % kv for kv in sorted(kinds.items())) or "none"))
    print("  chaos by kind: %s" % (", ".join(
        "%s %d" % kv for kv in sorted(chaos.items())) or "none"))
    print("  incidents expected vs found: %s expected, %s found" % (
        fstats.get("expected", "?"), fstats.get("found", "?")))
    print("  events lost: %s (must be 0)" % sstats.get("lost", "?"))
    print("  duplicates applied: %s (must be 0)" % sstats.get("twice", "?"))
    print("  redelivered: %s" % sstats.get("redelivered", "?"))
    if rfacts.get("rss_slope") is not None:
        print("  RSS slope: %+.2f KiB/min (limit %.2f)" % (
            rfacts["rss_slope"], rfacts["rss_limit"]))
        print("  fd slope: %+.3f /min (limit +-%.2f)" % (
            rfacts["fd_slope"], rfacts["fd_limit"]))
    else:
        print("  RSS slope: n/a, fd slope: n/a")
    print("  plot: %s" % (plot or "none"))
    failed = [n for n, ok in verdicts if not ok]
    if failed:
        print("soak check: FAIL (%d of %d checks failed: %s)" % (
            len(failed), len(verdicts), ", ".join(failed)))
        return 1
    print("soak check: PASS (%d of %d checks ok)" % (len(verdicts),
                                                    len(verdicts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
