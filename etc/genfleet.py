#!/usr/bin/env python3
"""Generate a large tower fleet for benchmarks: YAML (sites) + inventory CSV.

    etc/genfleet.py OUTDIR [--sites 10000] [--per-site 10] [--seed 1]
        [--port 1502] [--net 127.1] [--areas 100] [--interval 5s]
        [--timeout 2s] [--state-dir build/bigfleet/state] [--no-delay-on]
    etc/genfleet.py OUTDIR --demo CONFIG [--sites 288]

--demo: `make demo`'s fleet.  CONFIG (etc/demo.yaml, or the same moved to
a test's loopback block) with --sites more tower sites in twelve more areas
appended, their devices in an inventory CSV: OUTDIR/demo.yaml and
OUTDIR/demo-devices.csv.  The new sites' FSUs follow CONFIG's first host
A.B.C.N on A.B.C+1.*, A.B.C+2.*, ... (loopback: the demo's addresses).

Writes OUTDIR/fleet.yaml and OUTDIR/fleet-devices.csv.  Profiles, correlation
and SLA sections are copied from etc/demo.yaml so the big fleet runs the same
rules as the demo.  Each site has one FSU gateway on its own loopback address
(127.1.x.y) and per-site - 1 devices behind it (unit ids 2..), which is the
tower topology: one FSU per site, ten unit ids on one connection.

--net A.B puts the FSUs on A.B.x.y instead of 127.1.x.y (a benchmark picks
a free 127.X so that it does not meet another one's simulator); --areas N
spreads the sites over N of the 100 areas (picked evenly across the region
classes), so that one area holds sites/N of them (bench/e2e.sh: a grid
outage of one area); --no-delay-on sets every alarm rule's delay_on to 0,
so that a raise follows the first sample that shows the condition (a
latency benchmark measures the pipeline, not the configured hold).
"""
import argparse
import os
import random
import re

AREAS_PER_REGION = {"A": 20, "B": 40, "C": 40}
CUSTOMERS = ["china-mobile", "china-unicom", "china-telecom"]
BEHIND = ["rectifier", "battery", "battery", "aircon", "aircon", "generator",
          "rectifier", "battery", "aircon"]


def demo_sections(path):
    text = open(path).read()
    profiles = re.search(r"^profiles:\n.*?(?=^sites:)", text, re.M | re.S).group(0)
    tail = re.search(r"^correlation:\n.*?(?=^kafka:)", text, re.M | re.S).group(0)
    return profiles, tail


DEMO_AREAS = [("shanghai-minhang", "A"), ("shanghai-jiading", "A"),
              ("hangzhou-xihu", "A"), ("ningbo", "B"), ("wuxi", "B"),
              ("changzhou", "B"), ("nantong", "B"), ("lanzhou", "C"),
              ("tianshui", "C"), ("baiyin", "C"), ("wuwei", "C"),
              ("zhangye", "C")]


def site_rows(rnd, sid, area, region, host, per_site):
    """One site's YAML line and its devices' CSV lines."""
    ten = rnd.sample(CUSTOMERS, rnd.randint(1, 3))
    tl = ", ".join("{customer: %s, tier: %s}" %
                   (t, "premium" if rnd.random() < 0.2 else "standard")
                   for t in ten)
    y = (f"  - {{id: {sid}, area: {area}, region: {region}, "
         f"station: {area}-station, branch: branch-{region}, "
         f"tenants: [{tl}]}}\n")
    gw = f"{sid}-fsu"
    c = [f"{gw},{sid},fsu,{host},,1,\n"]
    for u in range(2, per_site + 1):
        prof = BEHIND[(u - 2) % len(BEHIND)]
        c.append(f"{sid}-d{u},{sid},{prof},,,{u},{gw}\n")
    return y, "".join(c)


def demo(a, rnd):
    text = open(a.demo).read()
    m = re.search(r"host: (\d+)\.(\d+)\.(\d+)\.\d+", text)
    if m is None or "\ndevices:\n" not in text:
        raise SystemExit("genfleet: %s has no host line or devices:" % a.demo)
    b0, b1, b2 = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if b0 != 127 or b2 + 1 + (a.sites - 1) // 250 > 255:
        raise SystemExit("genfleet: %s's hosts are not on loopback, or "
                         "too many sites for its block" % a.demo)
    ys, cs = [], ["id,site,profile,host,port,unit,via\n"]
    for i in range(a.sites):
        area, region = DEMO_AREAS[i % len(DEMO_AREAS)]
        sid = "%s-%03d" % (area.split("-")[-1][:3].upper(), i // len(DEMO_AREAS) + 1)
        host = f"{b0}.{b1}.{b2 + 1 + i // 250}.{i % 250 + 1}"
        y, c = site_rows(rnd, sid, area, region, host, a.per_site)
        ys.append(y)
        cs.append(c)
    head, tail = text.split("\ndevices:\n", 1)
    out = (head + "\n" + "".join(ys) + "\ndevices:\n"
           "  - inventory: demo-devices.csv\n" + tail)
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "demo.yaml"), "w") as f:
        f.write(out)
    with open(os.path.join(a.outdir, "demo-devices.csv"), "w") as f:
        f.write("".join(cs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--sites", type=int, default=None)
    ap.add_argument("--per-site", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=1502)
    ap.add_argument("--demo", metavar="CONFIG")
    ap.add_argument("--net", default="127.1")
    ap.add_argument("--areas", type=int, default=0)
    ap.add_argument("--interval", default="5s")
    ap.add_argument("--timeout", default="2s")
    ap.add_argument("--state-dir", default="build/bigfleet/state")
    ap.add_argument("--no-delay-on", action="store_true")
    a = ap.parse_args()
    if not re.fullmatch(r"127\.\d{1,3}", a.net):
        ap.error("--net must be 127.X (loopback only)")
    if a.sites is None:
        a.sites = 288 if a.demo else 10000
    rnd = random.Random(a.seed)
    if a.demo:
        demo(a, rnd)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    profiles, tail = demo_sections(os.path.join(here, "demo.yaml"))
    if a.no_delay_on:
        profiles = re.sub(r"delay_on: [0-9.]+[a-z]*", "delay_on: 0s", profiles)
    areas = [(f"{r.lower()}-area-{i:03d}", r)
             for r, n in AREAS_PER_REGION.items() for i in range(n)]
    if 0 < a.areas < len(areas):
        areas = [areas[j * len(areas) // a.areas] for j in range(a.areas)]
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "fleet.yaml"), "w") as y, \
            open(os.path.join(a.outdir, "fleet-devices.csv"), "w") as c:
        y.write("# generated by etc/genfleet.py: %d sites, %d devices\n"
                % (a.sites, a.sites * a.per_site))
        y.write("daemon: {state_dir: %s, shards: 2}\n" % a.state_dir)
        y.write("modbus: {port: %d, interval: %s, timeout: %s}\n"
                % (a.port, a.interval, a.timeout))
        y.write(profiles)
        y.write("sites:\n")
        c.write("id,site,profile,host,port,unit,via\n")
        for i in range(a.sites):
            area, region = areas[i % len(areas)]
            sid = f"S{i:05d}"
            host = f"{a.net}.{i // 250}.{i % 250 + 1}"
            ys, cs = site_rows(rnd, sid, area, region, host, a.per_site)
            y.write(ys)
            c.write(cs)
        y.write("devices:\n  - inventory: fleet-devices.csv\n")
        y.write(tail)


if __name__ == "__main__":
    main()
