#!/usr/bin/env python3
"""corrgen.py - a generated day of a tower network for the correlator.

Writes a fleet, as a tocsin configuration (YAML + inventory CSV, read by
tocsind and the C benchmark) and as plain JSON (read by the Python reference,
bench/refcorr.py), and one day of alarm transitions (JSON lines,
docs/replay.md), sorted by time.  Everything comes
from one seeded random generator, so a seed names a day exactly.

What the day holds (scaled by --sites):
  - independent faults (DOOR_OPEN, SMOKE, RECT_FAIL, DG_FAIL, WATER_LEAK...)
  - mains failures with their chain: BATT_DISCHARGE, later BATT_LOW,
    AC_FAIL and HIGH_TEMP; some children arrive before the root (late root),
    some long after the window
  - regional storms: MAINS_FAIL at many sites of one area within minutes
  - gateway (FSU) COMM_LOSS with the devices behind it, some before it
  - flapping alarms (raise/clear every few minutes)
  - stray clears of alarms that are not active
  - re-sends: every active alarm is re-sent at each poll cycle while active,
    which makes most of the transitions (like a poller that repeats state)

Usage: corrgen.py --seed N [--sites 10000] [--devices-per-site 10]
                  --fleet FLEET.json --config CONFIG.yaml --alarms ALARMS.jsonl
                  [--compact DAY.txt]   (the same day for bench/corrlite.py)
"""
import argparse
import json
import random
import sys
import time

T0 = 1795392000000          # 2026-11-23T00:00:00Z
DAY = 86400000
MIN = 60000

CARRIERS = ["cmcc", "cucc", "ctcc"]
INDEPENDENT = [("pwr", "DOOR_OPEN", "minor"), ("pwr", "SMOKE", "critical"),
               ("pwr", "RECT_FAIL", "major"), ("dg", "DG_FAIL", "major"),
               ("ac", "WATER_LEAK", "major"), ("ac", "HIGH_TEMP", "major")]


def iso(ms):
    s, m = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%03dZ" % m


class Day:
    def __init__(self, rnd, resend_ms):
        self.rnd = rnd
        self.resend = resend_ms
        self.ev = []            # (at, order, device, site, code, edge, sev)

    def add(self, at, dev, site, code, edge, sev="major"):
        if at < T0 or at >= T0 + DAY:
            return
        self.ev.append((at, len(self.ev), dev, site, code, edge, sev))

    def alarm(self, dev, site, code, start, dur, sev="major"):
        """A raise, re-sends every poll cycle while active, a clear."""
        self.add(start, dev, site, code, "raise", sev)
        t = start + self.resend
        while t < start + dur:
            self.add(t, dev, site, code, "raise", sev)
            t += self.resend
        self.add(start + dur, dev, site, code, "clear", sev)


def generate(seed, nsites, per_site, resend_ms):
    rnd = random.Random(seed)
    nareas = max(1, nsites // 50)
    sites, devices = [], []
    for i in range(nsites):
        sid = "S%05d" % i
        area = "A%03d" % (i % nareas)
        tenants = []
        for c in rnd.sample(CARRIERS, rnd.randint(1, 3)):
            tenants.append({"customer": c,
                            "tier": "premium" if rnd.random() < 0.2
                            else "standard"})
        sites.append({"id": sid, "area": area,
                      "region": rnd.choice("ABC"), "tenants": tenants})
        kinds = ["fsu", "pwr", "bat", "ac", "dg"]
        kinds += ["rect%d" % k for k in range(max(0, per_site - len(kinds)))]
        for k in kinds[:max(per_site, 5)]:
            devices.append({"id": "%s-%s" % (sid, k), "site": sid,
                            "via": None if k in ("fsu", "pwr")
                            else "%s-fsu" % sid})

    day = Day(rnd, resend_ms)
    dv = lambda s, k: "%s-%s" % (s, k)

    def mains(s, at, dur):
        day.alarm(dv(s, "pwr"), s, "MAINS_FAIL", at, dur, "critical")
        late = rnd.random() < 0.15
        off = -rnd.randint(1, 4) * MIN if late else rnd.randint(1, 5) * MIN
        day.alarm(dv(s, "bat"), s, "BATT_DISCHARGE", at + off,
                  max(MIN, dur - off), "major")
        if dur > 2 * 3600000 or rnd.random() < 0.2:
            # batteries run down; sometimes past the window (own incident)
            bl = at + rnd.randint(90, 300) * MIN
            day.alarm(dv(s, "bat"), s, "BATT_LOW", bl, rnd.randint(10, 60) * MIN,
                      "critical")
        if rnd.random() < 0.5:
            ht = at + rnd.randint(5, 60) * MIN
            day.alarm(dv(s, "ac"), s, "AC_FAIL", ht - 2 * MIN,
                      rnd.randint(10, 90) * MIN)
            day.alarm(dv(s, "ac"), s, "HIGH_TEMP", ht, rnd.randint(10, 90) * MIN)

    # independent faults
    for _ in range(nsites // 2):
        s = sites[rnd.randrange(nsites)]["id"]
        k, code, sev = rnd.choice(INDEPENDENT)
        day.alarm(dv(s, k), s, code, T0 + rnd.randrange(DAY),
                  rnd.randint(1, 240) * MIN, sev)
    # isolated mains failures
    for _ in range(nsites // 10):
        s = sites[rnd.randrange(nsites)]["id"]
        mains(s, T0 + rnd.randrange(DAY), rnd.randint(10, 360) * MIN)
    # regional storms: a whole area loses the grid within minutes
    for _ in range(max(1, nareas // 20)):
        a = rnd.randrange(nareas)
        at = T0 + rnd.randrange(DAY - 6 * 3600000)
        members = [x["id"] for i, x in enumerate(sites) if i % nareas == a]
        for s in members[: rnd.randint(3, len(members))]:
            mains(s, at + rnd.randint(0, 8) * MIN, rnd.randint(30, 300) * MIN)
    # gateway losses
    for _ in range(nsites // 20):
        s = sites[rnd.randrange(nsites)]["id"]
        at = T0 + rnd.randrange(DAY)
        dur = rnd.randint(5, 120) * MIN
        day.alarm(dv(s, "fsu"), s, "COMM_LOSS", at, dur, "major")
        for k in ["bat", "ac", "dg"] + ["rect%d" % j for j in range(per_site - 5)]:
            off = rnd.randint(-3 * MIN, 3 * MIN) if rnd.random() < 0.2 \
                else rnd.randint(10000, 120000)
            day.alarm(dv(s, k), s, "COMM_LOSS", at + off, dur, "major")
    # flapping alarms
    for _ in range(nsites // 20):
        s = sites[rnd.randrange(nsites)]["id"]
        at = T0 + rnd.randrange(DAY)
        for c in range(rnd.randint(2, 8)):
            on = rnd.randint(1, 4) * MIN
            day.add(at, dv(s, "pwr"), s, "DOOR_OPEN", "raise", "minor")
            day.add(at + on, dv(s, "pwr"), s, "DOOR_OPEN", "clear", "minor")
            at += on + rnd.randint(1, 10) * MIN
    # stray clears
    for _ in range(nsites // 5):
        s = sites[rnd.randrange(nsites)]["id"]
        k, code, sev = rnd.choice(INDEPENDENT)
        day.add(T0 + rnd.randrange(DAY), dv(s, k), s, code, "clear", sev)

    day.ev.sort()
    return {"sites": sites, "devices": devices}, day.ev


CODES = sorted({c for _, c, _ in INDEPENDENT} |
               {"MAINS_FAIL", "BATT_DISCHARGE", "BATT_LOW", "AC_FAIL",
                "HIGH_TEMP", "COMM_LOSS"})


def write_config(fleet, path):
    """The fleet as a tocsin configuration: correlation and SLA take their
    defaults; every device gets a generic profile that can raise every code
    of the day (the day's transitions come from the file, not from polls)."""
    base = path[:-5] if path.endswith(".yaml") else path
    csv = base + "-devices.csv"
    gateways = {d["via"] for d in fleet["devices"] if d["via"]}
    alarms = ", ".join("{code: %s, point: v, condition: above, threshold: 1}"
                       % c for c in CODES)
    with open(path, "w") as y:
        y.write("# generated by bench/corrgen.py\n")
        y.write("profiles:\n")
        for name, gw in (("gen", "false"), ("gen-fsu", "true")):
            y.write("  %s: {gateway: %s, points: [{name: v, address: 30001}],"
                    " alarms: [%s]}\n" % (name, gw, alarms))
        y.write("sites:\n")
        for st in fleet["sites"]:
            ten = ", ".join("{customer: %s, tier: %s}" % (t["customer"],
                            t["tier"]) for t in st["tenants"])
            y.write("  - {id: %s, area: %s, region: %s, tenants: [%s]}\n"
                    % (st["id"], st["area"], st["region"], ten))
        y.write("devices:\n  - inventory: %s\n" % csv.split("/")[-1])
    with open(csv, "w") as c:
        c.write("id,site,profile,host,port,unit,via\n")
        units, hosts = {}, 0
        for d in fleet["devices"]:
            if d["via"]:
                units[d["via"]] = units.get(d["via"], 1) + 1
                c.write("%s,%s,gen,,,%d,%s\n" % (d["id"], d["site"],
                                                  units[d["via"]], d["via"]))
            else:
                hosts += 1
                c.write("%s,%s,%s,127.%d.%d.%d,,1,\n" % (
                    d["id"], d["site"],
                    "gen-fsu" if d["id"] in gateways else "gen",
                    2 + hosts // 65536, (hosts // 256) % 256, hosts % 256))


def write_compact(fleet, events, path):
    """The same day as compact text for bench/corrlite.py: no JSON, no
    clock strings, numbers for names.  Lines:
      d DEV SITE VIA     a device: its index, its site's index, its
                         gateway's device index or -1
      c CODE NAME        an alarm code's index and name
      AT DEV CODE EDGE   a transition: ms since the epoch, indexes, r or c
    Indexes are the order of the fleet's lists (and of CODES)."""
    site_ix = {st["id"]: i for i, st in enumerate(fleet["sites"])}
    dev_ix = {d["id"]: i for i, d in enumerate(fleet["devices"])}
    code_ix = {c: i for i, c in enumerate(CODES)}
    with open(path, "w") as f:
        f.write("# tocsin compact day/1 (bench/corrgen.py --compact)\n")
        for d in fleet["devices"]:
            f.write("d %d %d %d\n" % (dev_ix[d["id"]], site_ix[d["site"]],
                                      dev_ix[d["via"]] if d["via"] else -1))
        for c in CODES:
            f.write("c %d %s\n" % (code_ix[c], c))
        for at, _, dev, _, code, edge, _ in events:
            f.write("%d %d %d %s\n" % (at, dev_ix[dev], code_ix[code],
                                        edge[0]))


def write(fleet, events, fleet_path, alarms_path, config_path=None):
    if fleet_path:
        with open(fleet_path, "w") as f:
            json.dump(fleet, f, separators=(",", ":"))
    if config_path:
        write_config(fleet, config_path)
    with open(alarms_path, "w") as f:
        for at, _, dev, site, code, edge, sev in events:
            f.write('{"at":"%s","device":"%s","site":"%s","code":"%s",'
                    '"edge":"%s","severity":"%s","value":null}\n'
                    % (iso(at), dev, site, code, edge, sev))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--sites", type=int, default=10000)
    ap.add_argument("--devices-per-site", type=int, default=10)
    ap.add_argument("--resend-ms", type=int, default=80000,
                    help="re-send period of active alarms")
    ap.add_argument("--fleet", help="the fleet as JSON (for refcorr.py)")
    ap.add_argument("--config", help="the fleet as a tocsin configuration")
    ap.add_argument("--alarms", required=True)
    ap.add_argument("--compact", help="the day as compact text (corrlite.py)")
    a = ap.parse_args()
    fleet, events = generate(a.seed, a.sites, a.devices_per_site, a.resend_ms)
    write(fleet, events, a.fleet, a.alarms, a.config)
    if a.compact:
        write_compact(fleet, events, a.compact)
    print("corrgen: seed=%d sites=%d devices=%d transitions=%d"
          % (a.seed, len(fleet["sites"]), len(fleet["devices"]), len(events)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
