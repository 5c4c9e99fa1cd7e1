#!/usr/bin/env python3
"""soak.py - the soak harness and chaos driver of issue 15.

    python3 tests/soak/soak.py --duration 30m --seed N --build build/default \
        --out DIR [--devices 10000] [--chaos KINDS] [--faults KINDS]

Runs tocsind for DURATION against a devsim fleet (etc/genfleet.py: sites of
one FSU gateway and nine units behind it), a real Kafka broker
(tests/kafka/broker.sh; the embedded mock where Java is missing, said so)
and redis-server, all on loopback, while

  - devsim plays a scenario generated from the seed: physical faults
    (mains, rectifier, door, smoke, water, air-con, generator) and
    communication faults (silent, delay, trickle, garbage, exception, drop)
    on single devices and whole gateways, each one restored;
  - a chaos driver, seeded and bounded, kills tocsind with SIGKILL and
    restarts it, reloads it (SIGHUP) with devices added and removed,
    restarts redis-server, stops and freezes (SIGSTOP) the broker, fills
    the journal's disk (a tmpfs it mounts) and frees it, and impairs the
    traffic of one devsim shard that runs in a network namespace of its
    own (delay, jitter and so reordering, loss, duplication);

and writes the run directory an independent checker reads
(tests/soak/check.py, run at the end; this script exits with its status):

  faults.jsonl      one line per fault episode: start_ms, end_ms, site,
                    device, kind, expect (alarm codes it must raise there)
  chaos.jsonl       every chaos action when it starts and when it ends:
                    t_ms, kind, detail (detail.phase: start|end)
  samples.csv       t_ms,pid,rss_kb,fds,heap_kb,heap_res_kb of tocsind
                    every 5 s (the last two from /metrics, empty if it
                    did not answer)
  incidents.jsonl   the whole tocsin.incidents topic, one event per line
                    in topic order; incidents.offsets: partition, offset,
                    key and timestamp of each line
  redis.json        what Redis held at the end (open set, deadlines,
                    every incident and site hash); Redis itself stays up
                    while the checker runs (run.json: redis)
  run.json          seed, duration_s, devices, started_ms, ended_ms,
                    bootstrap, redis, redis_prefix, http, tocsind_restarts,
                    kafka (broker|mock), netns, disk_full, config, ...
  logs/             every process's output; scenario.txt; fleet/

Timeline (t = 0 when devsim is ready; tocsind starts right after):
[0, W) warm-up, [W, T - Q] faults and chaos, (T - Q, T] quiet (every fault
restored, every chaos action over), then the end: the publish lag drained
(/metrics, bounded), tocsind stopped with SIGTERM, the topic and Redis read,
the checker run, everything stopped by PID and the tmpfs unmounted (also
on an error or Ctrl-C). docs/testing.md, "Soak", says how to read it.
"""
import argparse
import atexit
import csv
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check import RedisError, Resp  # noqa: E402  (the checker's RESP client)
ROOT = os.path.dirname(os.path.dirname(HERE))

SAMPLE_S = 5            # tocsind's RSS and fds, every SAMPLE_S
OPERATOR_S = 30         # cleared incidents resolved and closed this often
DRAIN_S = 60            # the end: publish lag 0, at most this long
STOP_S = 30             # SIGTERM to exit, then SIGKILL
START_S = 90            # tocsind's start line after its exec
NET = "127.255"         # the fleet's loopback block (docs/testing.md)
NS_MARK = 0x5afe        # nfqnetem's duplicates carry it past its queue
PER_SITE = 10
TMPFS_MB = 256


def now_ms():
    return int(time.time() * 1000)


def parse_dur(s):
    """"30m", "90s", "250ms", "1h", "45" (seconds) -> seconds (float)."""
    m = re.fullmatch(r"([0-9.]+)\s*(ms|s|m|h)?", str(s).strip())
    if m is None:
        raise ValueError("bad duration %r" % s)
    v = float(m.group(1))
    return v * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def free_port(addr="127.0.0.1"):
    s = socket.socket()
    s.bind((addr, 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ------------------------------------------------------------------ logging

class Out:
    """The harness's own log: DIR/soak.log and stderr."""

    def __init__(self):
        self.fp = None

    def open(self, path):
        self.fp = open(path, "a", buffering=1)

    def __call__(self, msg):
        line = "soak: %s %s" % (time.strftime("%H:%M:%S"), msg)
        print(line, file=sys.stderr, flush=True)
        if self.fp is not None:
            self.fp.write(line + "\n")


log = Out()


# ------------------------------------------------------- children, cleanup

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    # PR_SET_PDEATHSIG (1) SIGKILL: a child dies with the harness even when
    # the harness itself is killed with SIGKILL (no finally runs then).
    # Every child is spawned from the main thread (the harness has no
    # other), which is what the signal is tied to.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Child:
    """One process the harness started, with its output in files."""

    def __init__(self, name, argv, out, err, cwd=None, env=None):
        self.name = name
        self.argv = argv
        self.out_path, self.err_path = out, err
        fo = open(out, "ab")
        fe = open(err, "ab") if err != out else fo
        self.p = subprocess.Popen(argv, stdout=fo, stderr=fe,
                                  stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                  preexec_fn=_child_setup,
                                  start_new_session=True)
        fo.close()
        if fe is not fo:
            fe.close()
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig=signal.SIGTERM, wait_s=STOP_S):
        """sig, up to wait_s for the exit, then SIGKILL; the exit status."""
        if not self.alive():
            return self.p.returncode
        self.send(signal.SIGCONT)
        self.send(sig)
        try:
            return self.p.wait(wait_s)
        except subprocess.TimeoutExpired:
            log("%s pid=%d still running %g s after %s: SIGKILL" %
                (self.name, self.pid, wait_s, signal.Signals(sig).name))
            self.send(signal.SIGKILL)
            return self.p.wait(10)


class Cleanup:
    """What was set up, torn down in reverse, once, whatever happens."""

    def __init__(self):
        self.steps = []
        self.done = False

    def push(self, what, fn):
        self.steps.append((what, fn))

    def run(self):
        if self.done:
            return
        self.done = True
        signal.alarm(0)
        while self.steps:
            what, fn = self.steps.pop()
            try:
                fn()
            except BaseException as e:  # one step must not stop the rest
                log("cleanup %s: %r" % (what, e))


cleanup = Cleanup()


def _on_signal(signum, frame):
    if signum == signal.SIGALRM:
        raise KeyboardInterrupt("the harness's own bound (--bound) passed")
    raise KeyboardInterrupt("signal %d" % signum)


def wait_for(pred, timeout_s, step_s=0.2):
    """pred() until true or timeout_s; its last value."""
    end = time.monotonic() + timeout_s
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step_s)


def file_has(path, needle, start=0):
    try:
        with open(path, "rb") as f:
            f.seek(start)
            return needle.encode() in f.read()
    except FileNotFoundError:
        return False


def run_cmd(argv, timeout_s, **kw):
    """A short command, bounded; (returncode, stdout+stderr)."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=timeout_s, **kw)
        return r.returncode, r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        return -1, "timed out after %g s: %s" % (timeout_s, " ".join(argv))
    except FileNotFoundError as e:
        return -2, str(e)


# --------------------------------------------------------- cooperative tasks
#
# The chaos lanes, the sampler and the watchdog are generators run by one
# loop in the main thread (so every child is spawned from the thread its
# PDEATHSIG is tied to, and no lock is needed).  A task yields
#   float            sleep that many seconds (cut short when stopping)
#   (pred, timeout)  until pred() is true or timeout s passed; the yield
#                    returns pred()'s last value

class Task:
    __slots__ = ("gen", "name", "wake", "pred", "deadline", "started")

    def __init__(self, name, gen):
        self.gen, self.name = gen, name
        self.wake, self.pred, self.deadline, self.started = 0.0, None, 0.0, False


class Sched:
    def __init__(self):
        self.tasks = []
        self.stopping = False   # sleeps end at once; waits stay bounded

    def spawn(self, name, gen):
        self.tasks.append(Task(name, gen))

    def _step(self, t, value):
        try:
            w = t.gen.send(value)
        except StopIteration:
            return False
        now = time.monotonic()
        t.started = True
        if isinstance(w, tuple):
            t.pred, t.deadline = w[0], now + w[1]
        else:
            t.pred, t.wake = None, now + float(w or 0)
        return True

    def run_until(self, end_mono):
        """Runs the tasks until end_mono, or until none is left."""
        while self.tasks:
            now = time.monotonic()
            if now >= end_mono:
                return
            nxt = end_mono
            for t in list(self.tasks):
                v = None
                if not t.started:
                    pass
                elif t.pred is not None:
                    v = t.pred()
                    if not v and now < t.deadline:
                        nxt = min(nxt, now + 0.2)
                        continue
                elif t.wake > now and not self.stopping:
                    nxt = min(nxt, t.wake)
                    continue
                if not self._step(t, v):
                    self.tasks.remove(t)
                    continue
                nxt = now
            time.sleep(max(0.0, min(nxt - time.monotonic(), 0.5)))

    def names(self):
        return [t.name for t in self.tasks]


# ------------------------------------------------------------------- fleet

def load_profiles(yaml_text):
    """{profile: {code: delay_on_s}} and the modbus/storm numbers."""
    prof, cur, in_prof = {}, None, False
    for line in yaml_text.splitlines():
        if line.startswith("profiles:"):
            in_prof = True
            continue
        if in_prof and re.match(r"^\S", line):
            in_prof = False
        if not in_prof:
            continue
        m = re.match(r"^  (\w[\w-]*):\s*$", line)
        if m:
            cur = prof.setdefault(m.group(1), {})
            continue
        m = re.search(r"\{code: (\w+),(.*)\}", line)
        if m and cur is not None:
            d = re.search(r"delay_on: ([0-9.]+\w*)", m.group(2))
            cur[m.group(1)] = parse_dur(d.group(1)) if d else 0.0
    mb = re.search(r"^modbus: \{(.*)\}", yaml_text, re.M).group(1)
    kv = dict(re.findall(r"(\w+): ([^,}]+)", mb))
    storm = re.search(r"storm: \{code: (\w+), sites: (\d+), window: (\w+)\}",
                      yaml_text)
    hold = re.search(r"^  reopen_hold: (\S+)", yaml_text, re.M)
    return prof, {
        "interval": parse_dur(kv.get("interval", "5s")),
        "timeout": parse_dur(kv.get("timeout", "1s")),
        "misses": int(kv.get("comm_loss_misses", 3)),
        "storm_code": storm.group(1) if storm else "MAINS_FAIL",
        "storm_sites": int(storm.group(2)) if storm else 5,
        "storm_window": parse_dur(storm.group(3)) if storm else 600,
        "reopen_hold": parse_dur(hold.group(1)) if hold else 900,
    }


class Fleet:
    """The generated fleet: devsim serves all of it (the reserve sites too);
    tocsind's inventory is the part currently configured."""

    def __init__(self, d, devices, seed, port):
        self.dir = os.path.join(d, "fleet")
        self.nsites = max(2, devices // PER_SITE)
        self.nreserve = max(2, self.nsites // 50)
        total = self.nsites + self.nreserve
        rc, out = run_cmd([sys.executable, os.path.join(ROOT, "etc/genfleet.py"),
                           self.dir, "--sites", str(total), "--per-site",
                           str(PER_SITE), "--seed", str(seed), "--net", NET,
                           "--port", str(port), "--interval", "2s",
                           "--timeout", "1s", "--state-dir", "state"], 120)
        if rc != 0:
            raise SystemExit("soak: genfleet failed: %s" % out)
        self.yaml = open(os.path.join(self.dir, "fleet.yaml")).read()
        self.profiles, self.timing = load_profiles(self.yaml)
        self.area = dict(re.findall(r"^  - \{id: (\S+), area: ([^,]+),",
                                    self.yaml, re.M))
        self.sites = list(self.area)              # file order = endpoints
        self.rows = []
        with open(os.path.join(self.dir, "fleet-devices.csv")) as f:
            rd = csv.DictReader(f)
            self.header = rd.fieldnames
            for r in rd:
                self.rows.append(r)
        self.by_site = {}
        for r in self.rows:
            self.by_site.setdefault(r["site"], []).append(r)
        self.normal = self.sites[:self.nsites]
        self.reserve = self.sites[self.nsites:]
        self.ns_sites = set()       # sites served from the namespace
        self.ns_host = None         # their host as tocsind sees it
        self.configured = set(self.normal)

    def devices_of(self, site):
        return [r["id"] for r in self.by_site[site]]

    def profiles_of(self, site):
        return {r["profile"] for r in self.by_site[site]}

    def set_ns_shard(self, shard, nshards):
        """devsim --shard shard/nshards serves gateways [E*i/N, E*(i+1)/N)."""
        e = len(self.sites)
        lo, hi = e * shard // nshards, e * (shard + 1) // nshards
        self.ns_sites = set(self.sites[lo:hi])

    def write_inventory(self, path):
        """tocsind's inventory: the configured sites, the namespaced ones
        at their 198.19 addresses (written whole, then renamed)."""
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.header, lineterminator="\n")
            w.writeheader()
            for r in self.rows:
                if r["site"] not in self.configured:
                    continue
                r = dict(r)
                if r["host"] and r["site"] in self.ns_sites:
                    r["host"] = self.ns_host(r["host"])
                w.writerow(r)
        os.replace(tmp, path)

    def ndevices(self):
        return sum(len(self.by_site[s]) for s in self.configured)



# ------------------------------------------------------------------- netns

class Netns:
    """One devsim shard behind a network namespace of the run's own.

    devsim serves only 127.0.0.0/8, and a loopback address cannot be
    reached across namespaces; so inside the namespace devsim listens on
    the fleet's 127.255.C.D as everywhere, and tocsind, in the root
    namespace, polls those devices at 198.19.B+C.D: a route through a veth
    pair (198.18.K.1/30 here, .2 there) and, inside, NETMAP (DNAT of the
    whole /20 onto 127.255.0.0/20, with route_localnet) take a connection
    to the device; conntrack takes the answers back.  198.18.0.0/15 is the
    benchmarking range (RFC 2544): nothing else on a test machine uses it,
    and these addresses exist only on the pair and in the namespace.

    The impairment is on the namespace's end of the pair (devsim's
    answers): tc netem where the kernel has sch_netem, else nfqnetem.py
    (the same delay, jitter, loss and duplication in user space through
    NFQUEUE), both said in the log and in chaos.jsonl."""

    def __init__(self, run):
        self.run = run
        pid = os.getpid()
        self.ns = "tsoak%d" % pid
        self.va, self.vb = "tsk%da" % (pid % 10**7), "tsk%db" % (pid % 10**7)
        self.k = None
        self.mode = None        # "tc" or "nfqueue"
        self.helper = None
        self.control = os.path.join(run.dir, "netem.json")
        self.queue = 7000 + pid % 1000

    @staticmethod
    def sweep():
        """Namespaces a killed harness left (tsoak<PID> of a dead PID)."""
        rc, out = run_cmd(["ip", "netns", "list"], 10)
        for m in re.finditer(r"^tsoak(\d+)\b", out, re.M):
            if not os.path.exists("/proc/%s" % m.group(1)):
                run_cmd(["ip", "netns", "del", "tsoak" + m.group(1)], 10)

    def sh(self, *argv, ns=False, check=True):
        argv = list(argv)
        if ns:
            argv = ["ip", "netns", "exec", self.ns] + argv
        rc, out = run_cmd(argv, 20)
        if rc != 0 and check:
            raise OSError("%s: %s" % (" ".join(argv), out.strip()))
        return rc, out

    def setup(self):
        """0, or a reason why not (logged by the caller)."""
        if os.geteuid() != 0:
            return "not root"
        for tool in ("ip", "iptables"):
            if shutil.which(tool) is None:
                return "no %s (make deps installs it: Debian %s)" % (
                    tool, "iproute2" if tool == "ip" else "iptables")
        self.sweep()
        _, routes = run_cmd(["ip", "-4", "route", "show"], 10)
        free = [k for k in range(16) if "198.19.%d.0/20" % (16 * k) not in routes
                and "198.18.%d." % k not in routes]
        if not free:
            return "every 198.19.X.0/20 is routed already"
        self.k = random.Random(os.getpid()).choice(free)
        k = self.k
        try:
            self.sh("ip", "netns", "add", self.ns)
            cleanup.push("netns", self.teardown)
            self.sh("ip", "link", "add", self.va, "type", "veth", "peer",
                    "name", self.vb)
            self.sh("ip", "link", "set", self.vb, "netns", self.ns)
            self.sh("ip", "addr", "add", "198.18.%d.1/30" % k, "dev", self.va)
            self.sh("ip", "link", "set", self.va, "up")
            self.sh("ip", "-n", self.ns, "addr", "add", "198.18.%d.2/30" % k,
                    "dev", self.vb)
            self.sh("ip", "-n", self.ns, "link", "set", self.vb, "up")
            self.sh("ip", "-n", self.ns, "link", "set", "lo", "up")
            self.sh("ip", "route", "add", "198.19.%d.0/20" % (16 * k), "via",
                    "198.18.%d.2" % k, "dev", self.va)
            for dev in ("all", self.vb):
                self.sh("sysctl", "-q", "-w",
                        "net.ipv4.conf.%s.route_localnet=1" % dev, ns=True)
            self.sh("iptables", "-t", "nat", "-A", "PREROUTING", "-d",
                    "198.19.%d.0/20" % (16 * k), "-j", "NETMAP", "--to",
                    NET + ".0.0/20", ns=True)
        except OSError as e:
            return str(e)
        rc, out = self.sh("tc", "qdisc", "add", "dev", self.vb, "root",
                          "netem", "delay", "1ms", ns=True, check=False)
        if rc == 0:
            self.sh("tc", "qdisc", "del", "dev", self.vb, "root", ns=True,
                    check=False)
            self.mode = "tc"
        else:
            self.mode = "nfqueue"
            with open(self.control, "w") as f:
                json.dump({}, f)
            self.helper = Child("nfqnetem", [
                "ip", "netns", "exec", self.ns, sys.executable,
                os.path.join(HERE, "nfqnetem.py"), "--queue", str(self.queue),
                "--mark", hex(NS_MARK), "--control", self.control,
                "--seed", str(self.run.seed)],
                os.path.join(self.run.logs, "nfqnetem.out"),
                os.path.join(self.run.logs, "nfqnetem.err"))
            if not wait_for(lambda: file_has(self.helper.out_path,
                                             "nfqnetem ready") or
                            not self.helper.alive(), 10) or \
                    not self.helper.alive():
                return "tc netem is not in this kernel and nfqnetem.py did " \
                    "not start: %s" % open(self.helper.err_path).read()[-500:]
        return 0

    def host(self, h):
        """tocsind's address of fleet host 127.255.C.D."""
        c, d = h.split(".")[2:]
        if int(c) >= 16:
            raise SystemExit("soak: fleet too big for the namespace's /20")
        return "198.19.%d.%s" % (16 * self.k + int(c), d)

    def impair(self, p):
        if self.mode == "tc":
            self.sh("tc", "qdisc", "replace", "dev", self.vb, "root", "netem",
                    "delay", "%dms" % p["delay_ms"], "%dms" % p["jitter_ms"],
                    "loss", "%g%%" % p["loss_pct"], "duplicate",
                    "%g%%" % p["dup_pct"], ns=True)
            return
        with open(self.control + ".tmp", "w") as f:
            json.dump(p, f)
        os.replace(self.control + ".tmp", self.control)
        time.sleep(0.6)     # nfqnetem reads it every 0.5 s
        self.sh("iptables", "-t", "mangle", "-A", "POSTROUTING", "-o",
                self.vb, "-p", "tcp", "-m", "mark", "!", "--mark",
                hex(NS_MARK), "-j", "NFQUEUE", "--queue-num", str(self.queue),
                "--queue-bypass", ns=True)

    def clear(self):
        if self.mode == "tc":
            self.sh("tc", "qdisc", "del", "dev", self.vb, "root", ns=True,
                    check=False)
            return
        self.sh("iptables", "-t", "mangle", "-F", "POSTROUTING", ns=True,
                check=False)
        with open(self.control, "w") as f:
            json.dump({}, f)

    def counters(self):
        """nfqnetem's counters line, or tc's qdisc statistics."""
        if self.mode == "tc":
            return self.sh("tc", "-s", "qdisc", "show", "dev", self.vb,
                           ns=True, check=False)[1].strip()[:300]
        n = open(self.helper.out_path).read().count("nfqnetem packets=")
        self.helper.send(signal.SIGUSR1)
        wait_for(lambda: open(self.helper.out_path).read().count(
            "nfqnetem packets=") > n, 3, 0.05)
        lines = [l for l in open(self.helper.out_path).read().splitlines()
                 if l.startswith("nfqnetem packets=")]
        return lines[-1] if lines else ""

    def teardown(self):
        if self.helper is not None:
            self.helper.stop()
        run_cmd(["ip", "netns", "del", self.ns], 20)
        run_cmd(["ip", "link", "del", self.va], 20)


# ------------------------------------------------------------------- plan

# kind -> (target, start action, end action or None, codes it may raise,
#          the faults.jsonl kind)
FAULTS = {
    "mains_fail":     ("site", "mains_fail", "mains_restore",
                       ["MAINS_FAIL", "BATT_DISCHARGE", "AC_FAIL"], "mains_fail"),
    "rect_fail":      ("site", "rect_fail", "rect_ok", ["RECT_FAIL"], "rect_fail"),
    "door_open":      ("site", "door_open", "door_close", ["DOOR_OPEN"], "door_open"),
    "smoke":          ("site", "smoke", "smoke_clear", ["SMOKE"], "smoke"),
    "water_leak":     ("site", "water_leak", "water_clear", ["WATER_LEAK"], "water_leak"),
    "ac_fail":        ("site", "ac_fail", "ac_ok", ["AC_FAIL"], "ac_fail"),
    "dg_fail":        ("site", "dg_fail", "dg_ok", ["DG_FAIL"], "dg_fail"),
    "silent_device":  ("dev", "silent", "answer", ["COMM_LOSS"], "silent"),
    "silent_gateway": ("site", "silent", "answer", ["COMM_LOSS"], "silent"),
    "delay_short":    ("dev", "delay 300", "normal", [], "delay"),
    "delay_long":     ("dev", "delay 2500", "normal", ["COMM_LOSS"], "delay"),
    "trickle":        ("dev", "trickle 400", "normal", ["COMM_LOSS"], "trickle"),
    "garbage":        ("dev", "garbage", "normal", ["COMM_LOSS"], "garbage"),
    "exception":      ("dev", "exception 6", "normal", [], "exception"),
    "drop":           ("site", "drop", None, [], "drop"),
}
# the profile a code is read from (a site without it cannot raise it)
CODE_PROFILE = {"MAINS_FAIL": "rectifier", "RECT_FAIL": "rectifier",
                "BATT_DISCHARGE": "battery", "AC_FAIL": "aircon",
                "DG_FAIL": "generator", "DOOR_OPEN": "fsu", "SMOKE": "fsu",
                "WATER_LEAK": "fsu"}

CHAOS = ["kill", "reload", "redis", "kafka_stop", "kafka_pause", "disk",
         "netns"]


class Plan:
    """Everything the seed decides: the faults (devsim's scenario) and the
    chaos schedule, as offsets (s) from devsim's ready line."""

    def __init__(self, fleet, T, seed, fault_kinds, chaos_kinds):
        self.rnd = random.Random(seed)
        self.fleet = fleet
        self.T = T
        self.W = max(20.0, min(120.0, 0.05 * T))   # warm-up
        self.Q = max(40.0, min(300.0, 0.1 * T))    # quiet tail
        # the steady stretch: no kill and no reload in the last S s before
        # the quiet tail (the other chaos goes on), so that memory and
        # descriptors are judged over one long lifetime (check.py,
        # resources: 5 minutes' settle, then 5 fitted, so S + Q >= 11
        # minutes); runs under 20 minutes are judged only for a runaway
        self.S = 0.0 if T < 1200 else max(660.0 - self.Q,
                                          min(3600.0, 0.3 * T))
        self.fault_kinds = fault_kinds
        self.chaos_kinds = chaos_kinds
        tm = fleet.timing
        self.settle = 3 * tm["interval"] + 30      # restart, reload, polls
        self.comm_delay = tm["misses"] * tm["interval"] + tm["timeout"]
        self.chaos = []     # (t, lane, kind, params)
        self.faults = []    # dicts, faults.jsonl-to-be (offsets in s)
        self.used = set()   # sites a reload adds or removes
        self.busy = {}      # site -> [(start, end)] of its faults
        # a site is used again once its last fault's incident can no longer
        # reopen (correlation.reopen_hold) and its recovery is over
        self.cool = fleet.timing["reopen_hold"] + 300
        self._plan_chaos()
        self._plan_faults()

    def delay_of(self, code):
        if code == "COMM_LOSS":
            return self.comm_delay
        return max((p.get(code, 0.0) for p in self.fleet.profiles.values()
                    if code in p), default=0.0)

    def min_len(self, code):
        """A fault this long raises code even if a restart or a reload
        restarts its debounce once."""
        return 2 * self.delay_of(code) + self.settle

    # -- chaos: one lane per thing acted on; a lane's actions never overlap
    def _lane(self, lane, items, avoid=(), avoid_kinds=(), end=0.0):
        """items: [(kind, duration_s, params)], placed one per equal slot of
        the window (ending end s before the quiet tail) in a seeded order;
        an item of avoid_kinds is placed outside the avoid windows
        [(t0, t1)] if its slot allows."""
        if not items:
            return
        self.rnd.shuffle(items)
        lo, hi = self.W, self.T - self.Q - end
        slot = (hi - lo) / len(items)
        for i, (kind, dur, params) in enumerate(items):
            dur = min(dur, max(1.0, slot - 10))
            s0 = lo + i * slot
            for _ in range(50):
                t = s0 + self.rnd.uniform(0, max(0.0, slot - dur - 5))
                if kind not in avoid_kinds or all(
                        t + dur + 5 < a or t > b + 10 for a, b in avoid):
                    break
            params["hold_s"] = round(dur, 1)
            self.chaos.append((round(t, 1), lane, kind, params))

    def _plan_chaos(self):
        win = self.T - self.W - self.Q
        r, k = self.rnd, self.chaos_kinds
        n = lambda per, least: max(least, int(round(win / per)))  # noqa: E731
        # the disk first: a kill -9 while the journal refuses loses what
        # the shards hold in memory meanwhile (docs/journal.md, "A disk
        # that refuses"), and so an alarm whose fault ended before the
        # restart; the kills keep out of those windows
        if "disk" in k:
            self._lane("disk", [("disk_full", r.uniform(10, 60), {})
                                for _ in range(n(900, 1))])
        full = [(c[0], c[0] + c[3]["hold_s"]) for c in self.chaos
                if c[2] == "disk_full"]
        items = []
        if "kill" in k:
            items += [("tocsind_kill", r.uniform(0.5, 5), {})
                      for _ in range(n(300, 2))]
        if "reload" in k:
            items += [("reload", 0, {}) for _ in range(n(450, 1))]
        self._lane("tocsind", items, full, {"tocsind_kill"}, self.S)
        if "redis" in k:
            self._lane("redis", [("redis_restart", r.uniform(3, 30),
                                  {"signal": r.choice(["TERM", "KILL"])})
                                 for _ in range(n(600, 1))])
        items = []
        if "kafka_stop" in k:
            items += [("kafka_stop", r.uniform(5, 40), {})
                      for _ in range(n(900, 1))]
        if "kafka_pause" in k:
            items += [("kafka_pause", r.uniform(5, 40), {})
                      for _ in range(n(900, 1))]
        self._lane("kafka", items)
        if "netns" in k:
            items = []
            for _ in range(n(450, 1)):
                d = r.randint(20, 150)
                items.append(("netem", r.uniform(30, 120), {
                    "delay_ms": d, "jitter_ms": r.randint(0, d // 2),
                    "loss_pct": round(r.uniform(0, 3), 1),
                    "dup_pct": round(r.uniform(0, 3), 1)}))
            self._lane("netns", items)
        self.chaos.sort(key=lambda c: c[0])
        # the reloads' devices: each adds reserve sites and removes sites
        # that no fault uses (one of the removed gets a fault after its
        # removal: it must raise nothing, as nothing polls it any more)
        # as many sites added as removed, so that the fleet's size, and
        # with it tocsind's memory and descriptors, stays what it was
        reloads = [c for c in self.chaos if c[2] == "reload"]
        reserve = list(self.fleet.reserve)
        pool = [s for s in self.fleet.normal if s not in self.fleet.ns_sites]
        self.rnd.shuffle(pool)
        per = max(1, min(2, len(reserve) // max(1, len(reloads))))
        for i, c in enumerate(reloads):
            add = reserve[i * per:(i + 1) * per]
            rm = [pool.pop() for _ in range(min(len(add), len(pool)))]
            c[3]["add_sites"], c[3]["remove_sites"] = add, rm
            self.used.update(add + rm)

    # -- faults
    def _site_ok(self, kind, site, t, length, mains):
        """site can take a fault of kind over [t, t + length]: configured,
        not a reload's, idle from cool s before to cool s after (so that
        the fault opens an incident of its own, not a reopen of the last
        one's), with the profile it needs, and no area storm with it."""
        f = self.fleet
        if site in self.used or site not in f.configured:
            return False
        cool = self.cool
        if any(not (t + length + cool < a or t > b + cool)
               for a, b in self.busy.get(site, ())):
            return False
        if kind == "mains_fail":
            w = f.timing["storm_window"] + 120
            near = [x for x in mains.get(f.area[site], ()) if abs(x - t) < w]
            if len(near) >= f.timing["storm_sites"] - 1:
                return False     # fewer mains failures per area than a storm
        codes = FAULTS[kind][3]
        need = {CODE_PROFILE[c] for c in codes[:1] if c in CODE_PROFILE}
        return need <= f.profiles_of(site)

    def _expect(self, kind, site, length):
        codes = FAULTS[kind][3]
        have = self.fleet.profiles_of(site)
        return [c for c in codes
                if (c == "COMM_LOSS" or CODE_PROFILE.get(c) in have)
                and length >= self.min_len(c)]

    def _add_fault(self, kind, site, t, length, note=None):
        target, a0, a1, codes, fkind = FAULTS[kind]
        dev = None
        if target == "dev":
            units = [d for d in self.fleet.devices_of(site)
                     if not d.endswith("-fsu")]
            dev = self.rnd.choice(units)
        exp = self._expect(kind, site, length) if note is None else []
        may = [c for c in codes if c not in exp] if note is None else []
        arg = a0.split()[1] if " " in a0 else None
        self.faults.append({
            "t": round(t, 3), "len": round(length, 3) if a1 else None,
            "site": site, "device": dev, "kind": fkind, "variant": kind,
            "arg": int(arg) if arg else None, "expect": exp, "may": may,
            "note": note,
            "start": a0, "end": a1,
            "target": ("dev:" + dev) if dev else ("site:" + site)})
        self.busy.setdefault(site, []).append((t, t + length))

    def _plan_faults(self):
        r, f = self.rnd, self.fleet
        lo, hi = self.W, self.T - self.Q
        win = hi - lo
        kinds = [k for k in FAULTS if k in self.fault_kinds]
        if not kinds:
            return
        # each kind at least once, then more at random: one every ~12 s
        todo = list(kinds)
        r.shuffle(todo)
        extra = max(0, int(win / 12) - len(todo))
        todo += [r.choice(kinds) for _ in range(extra)]
        sites = [s for s in f.normal]
        r.shuffle(sites)
        mains = {}      # area -> start of each mains failure
        reload_at = [c[0] for c in self.chaos if c[2] == "reload"]
        for kind in todo:
            target, a0, a1, codes, _ = FAULTS[kind]
            need = max([self.min_len(c) for c in codes[:1]] or [20.0])
            if not codes:
                need = 20.0
            if a1 is None:
                length = 0.0
            else:
                top = min(max(need, win / 2), 600.0, need * 3)
                length = r.uniform(need, max(need, top))
                if length > win - 1:
                    continue     # does not fit this window
            # a reload restarts every debounce that is counting
            # (docs/configuration.md, "Reload"), which a checker cannot
            # see: no reload between a fault's start and its raises
            hold = max([self.delay_of(c) for c in codes] or [0]) + \
                3 * f.timing["interval"] + 10
            for _ in range(20):
                t = r.uniform(lo, hi - length)
                if all(not (t - 2 <= rt <= t + hold) for rt in reload_at):
                    break
            site = next((s for s in sites
                         if self._site_ok(kind, s, t, length, mains)), None)
            if site is None:
                continue
            sites.remove(site)
            sites.append(site)      # the least recently used come first
            if kind == "mains_fail":
                mains.setdefault(f.area[site], []).append(t)
            self._add_fault(kind, site, t, length)
        # reload-touched sites: a fault after a site's removal raises
        # nothing; a fault at an added site raises what it would anywhere
        for t, lane, kind, p in self.chaos:
            if kind != "reload":
                continue
            if p.get("remove_sites") and "door_open" in self.fault_kinds:
                s = p["remove_sites"][0]
                start = t + 10
                if start + 20 < hi:
                    self._add_fault("door_open", s, start, 20.0,
                                    note="site removed by the reload at "
                                    "+%.1fs: nothing polls it" % t)
            if p.get("add_sites") and "door_open" in self.fault_kinds:
                s = p["add_sites"][0]
                start = t + 20
                length = self.min_len("DOOR_OPEN") + 10
                if start + length < hi:
                    self._add_fault("door_open", s, start, length)
                    self.faults[-1]["note"] = ("site added by the reload at "
                                              "+%.1fs" % t)
        self.faults.sort(key=lambda x: x["t"])

    def scenario(self):
        """devsim's scenario text and, per fault, its start and end line."""
        steps = []
        for i, x in enumerate(self.faults):
            steps.append((x["t"], i, x["target"], x["start"], "start"))
            if x["end"]:
                steps.append((x["t"] + x["len"], i, x["target"], x["end"], "end"))
        steps.sort(key=lambda s: (s[0], s[1]))
        lines = ["# tests/soak/soak.py: %d faults" % len(self.faults)]
        where = {}
        for at, i, target, action, phase in steps:
            lines.append("%dms %s %s" % (round(at * 1000), target, action))
            where[(i, phase)] = len(lines)      # 1-based line number
        return "\n".join(lines) + "\n", where


# ------------------------------------------------------------------ the run

class Run:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.abspath(a.out)
        self.build = os.path.abspath(a.build)
        self.T = parse_dur(a.duration)
        # everything the harness does, the checker included, ends by then
        self.bound = parse_dur(a.bound) if a.bound else self.T + 1200
        self.seed = a.seed
        os.makedirs(self.dir, exist_ok=True)
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        log.open(os.path.join(self.dir, "soak.log"))
        self.state = os.path.join(self.dir, "state")
        self.chaos_fp = open(os.path.join(self.dir, "chaos.jsonl"), "w",
                             buffering=1)
        self.samples_fp = open(os.path.join(self.dir, "samples.csv"), "w",
                               buffering=1)
        self.samples_fp.write("t_ms,pid,rss_kb,fds,heap_kb,heap_res_kb\n")
        self.sched = Sched()
        self.tocsind = None
        self.tocsind_runs = 0
        self.tocsind_restarts = 0
        self.tocsind_deaths = []    # unexpected exits
        self.in_kill = False        # the kill lane has it down on purpose
        self.redis = None
        self.redis_runs = 0
        self.kafka = "broker"
        self.bootstrap = ""
        self.kdir = os.path.join(self.dir, "kafka")
        self.disk_full = False      # the disk-full fault is possible
        self.netns = None
        self.devsims = []           # (Child, shard, ready_ms, in_ns)
        self.errors = []            # what makes the run fail besides check
        self.chaos_count = {}
        self.notes = []             # what was skipped and why
        self.api_snapshots = []     # DIR/api/*.json, in order
        self.operator = {}          # HTTP status -> operator requests

    # -- chaos log
    def chaos(self, action, phase, kind=None, **detail):
        """One line of chaos.jsonl.  kind is the action's own name, except
        where the checker reads a kind of its own (check.py, INPUTS): a
        tocsind kill starts as "kill9" and ends as "restart"; a reload's
        devices are "sighup_remove" and "sighup_add" lines.  detail.action
        always names the action and detail.phase says start or end."""
        detail["phase"] = phase
        detail["action"] = action
        kind = kind or action
        self.chaos_fp.write(json.dumps({"t_ms": now_ms(), "kind": kind,
                                        "detail": detail}) + "\n")
        if phase == "start":
            self.chaos_count[action] = self.chaos_count.get(action, 0) + 1
        log("chaos %s %s %s" % (kind, phase, json.dumps(detail)))

    def note(self, msg):
        self.notes.append(msg)
        log(msg)

    def bin(self, name):
        p = os.path.join(self.build, name)
        if not os.access(p, os.X_OK):
            raise SystemExit("soak: missing %s (make -j2 all)" % p)
        return p

    # -- the journal's disk
    def setup_state(self):
        os.makedirs(self.state, exist_ok=True)
        if self.a.no_tmpfs:
            self.note("disk: --no-tmpfs: the disk-full fault is skipped")
            return
        rc, out = run_cmd(["mount", "-t", "tmpfs", "-o",
                           "size=%dm,mode=0700" % TMPFS_MB, "soak-state",
                           self.state], 20)
        if rc != 0:
            self.note("disk: cannot mount a tmpfs (%s): a plain directory, "
                      "the disk-full fault is skipped" % out.strip())
            return
        self.disk_full = True
        cleanup.push("umount", lambda: run_cmd(["umount", "-l", self.state], 20))
        log("disk: tmpfs of %d MiB on %s" % (TMPFS_MB, self.state))

    # -- Redis
    def redis_start(self):
        self.redis_runs += 1
        rdir = os.path.join(self.dir, "redis")
        os.makedirs(rdir, exist_ok=True)
        self.redis = Child("redis-server",
                           ["redis-server", "--port", str(self.rport),
                            "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", rdir,
                            "--daemonize", "no"],
                           os.path.join(self.logs, "redis.%d.log" % self.redis_runs),
                           os.path.join(self.logs, "redis.%d.log" % self.redis_runs))
        return self.redis

    def redis_ready(self):
        try:
            return resp(("127.0.0.1", self.rport), ["PING"], 1) == "PONG"
        except OSError:
            return False

    def setup_redis(self):
        if shutil.which("redis-server") is None:
            raise SystemExit("soak: no redis-server (make deps installs it)")
        self.rport = free_port()
        self.redis_start()
        cleanup.push("redis", lambda: self.redis and self.redis.stop())
        if not wait_for(self.redis_ready, 20):
            raise SystemExit("soak: redis-server did not answer in 20 s")
        log("redis: 127.0.0.1:%d pid=%d" % (self.rport, self.redis.pid))

    # -- Kafka
    def broker(self, cmd, timeout_s=150):
        argv, env = self.broker_argv(cmd)
        return run_cmd(argv, timeout_s, env=env)

    def setup_kafka(self):
        os.makedirs(self.kdir, exist_ok=True)
        rc, out = self.broker("start", 300)
        with open(os.path.join(self.logs, "broker.out"), "a") as f:
            f.write(out)
        boot = re.findall(r"^bootstrap=(\S+)", out, re.M)
        if rc == 3 or (boot and boot[-1] == "mock"):
            why = [l for l in out.splitlines() if "bootstrap=" not in l]
            self.kafka = "mock"
            self.note("kafka: no real broker (%s): tocsind's embedded mock "
                      "cluster; the broker faults are skipped and the topic "
                      "is read by a follower per tocsind run" %
                      (why[-1] if why else "broker.sh said mock"))
            return
        if rc != 0 or not boot:
            raise SystemExit("soak: tests/kafka/broker.sh start failed:\n" + out)
        self.bootstrap = boot[-1]
        cleanup.push("broker", lambda: self.broker("stop", 60))
        for t in ("tocsin.incidents", "tocsin.actions"):
            rc, out = run_cmd([self.bin("bench/e2e"), "topic", self.bootstrap,
                               t], 60)
            if rc != 0:
                raise SystemExit("soak: cannot create topic %s: %s" % (t, out))
        log("kafka: broker %s (tests/kafka/broker.sh, %s)" %
            (self.bootstrap, self.kdir))

    def broker_pid(self):
        try:
            return int(open(os.path.join(self.kdir, "pid")).read())
        except (OSError, ValueError):
            return None

    # -- the fleet, configs
    def setup_fleet(self):
        self.mport = free_port(NET + ".0.1")
        self.fleet = Fleet(self.dir, self.a.devices, self.seed, self.mport)
        self.hport = free_port()
        self.token = os.path.join(self.dir, "http.token")
        fd = os.open(self.token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, ("soak-%016x\n" % random.getrandbits(64)).encode())
        os.close(fd)
        self.config = os.path.join(self.dir, "tocsind.yaml")
        self.inventory = os.path.join(self.dir, "tocsind-devices.csv")
        y = self.fleet.yaml
        y = re.sub(r"^daemon: \{.*\}$",
                   "daemon: {state_dir: %s, shards: 2, snapshot_mb: 16}" %
                   self.state, y, count=1, flags=re.M)
        # the numbers the checker reads (interval x misses), spelled out
        y = re.sub(r"^modbus: \{(.*)\}$", lambda m: "modbus: {%s, "
                   "comm_loss_misses: %d}" % (m.group(1),
                                              self.fleet.timing["misses"]),
                   y, count=1, flags=re.M)
        y = y.replace("  - inventory: fleet-devices.csv",
                      "  - inventory: tocsind-devices.csv")
        y += ("kafka:\n  brokers: \"%s\"\n"
              "redis:\n  enabled: true\n  port: %d\n"
              "http:\n  listen: \"127.0.0.1:%d\"\n  token_file: %s\n"
              "output:\n  file: %s\n" %
              (self.bootstrap, self.rport, self.hport, self.token,
               os.path.join(self.dir, "events.jsonl")))
        with open(self.config, "w") as f:
            f.write(y)

    def check_config(self):
        self.fleet.write_inventory(self.inventory)
        rc, out = run_cmd([self.bin("tocsind"), "-n", "-c", self.config], 120)
        if rc != 0:
            raise SystemExit("soak: tocsind -n refuses %s:\n%s" %
                             (self.config, out))
        log("config: %s (%s)" % (self.config, out.strip()))

    # -- devsim
    def setup_devsim(self, scenario_path):
        ns = self.netns is not None
        nsh = self.a.ns_shards if ns else 1
        procs = []
        for shard in range(nsh):
            in_ns = ns and shard == nsh - 1
            argv = [self.bin("bench/devsim"), "-c", "fleet.yaml",
                    "--scenario", scenario_path, "--noise", "0", "--drift", "0",
                    "--seed", str(self.seed),
                    "--stats", os.path.join(self.logs, "devsim.%d.stats" % shard)]
            if nsh > 1:
                argv += ["--shard", "%d/%d" % (shard, nsh)]
            if in_ns:
                argv = ["ip", "netns", "exec", self.netns.ns] + argv
            c = Child("devsim.%d" % shard, argv,
                      os.path.join(self.logs, "devsim.%d.out" % shard),
                      os.path.join(self.logs, "devsim.%d.err" % shard),
                      cwd=self.fleet.dir)
            cleanup.push("devsim", lambda c=c: c.stop())
            procs.append((c, shard, in_ns))
        for c, shard, in_ns in procs:
            wait_for(lambda: file_has(c.out_path, "devsim ready") or
                     not c.alive(), 90)
            if not file_has(c.out_path, "devsim ready"):
                raise SystemExit("soak: devsim shard %d did not start:\n%s" %
                                 (shard, open(c.err_path).read()[-3000:]))
            self.devsims.append([c, shard, now_ms(), in_ns])
        log("devsim: %s" % ", ".join("shard %d/%d pid=%d%s" %
            (s, nsh, c.pid, " (netns %s)" % self.netns.ns if n else "")
            for c, s, _, n in self.devsims))

    def ready_ms(self, site):
        """The ready time of the devsim that serves site."""
        for c, shard, ready, in_ns in self.devsims:
            if in_ns == (site in self.fleet.ns_sites):
                return ready
        return self.devsims[0][2]

    # -- tocsind
    def tocsind_start(self):
        self.tocsind_runs += 1
        err = os.path.join(self.logs, "tocsind.%d.err" % self.tocsind_runs)
        left = int(self.t_end_s - time.time() + 900)
        self.tocsind = Child("tocsind", [self.bin("tocsind"), "-c",
                                         self.config, "-d", str(max(left, 60))],
                             os.path.join(self.logs, "tocsind.%d.out" %
                                          self.tocsind_runs), err,
                             cwd=self.dir)
        self.tocsind.started = False
        return self.tocsind

    def tocsind_up(self):
        t = self.tocsind
        if t.started:
            return True
        if file_has(t.err_path, " start version="):
            t.started = True
            if self.kafka == "mock":
                self.mock_follow()
        return t.started or not t.alive()

    def tocsind_wait(self):
        """A generator step: until the start line (bounded)."""
        ok = yield (self.tocsind_up, START_S)
        if not self.tocsind.started:
            self.fail("tocsind run %d: no start line in %d s (alive=%s)" %
                      (self.tocsind_runs, START_S, self.tocsind.alive()))
        return ok

    def fail(self, msg):
        self.errors.append(msg)
        log("ERROR " + msg)

    # -- Kafka mock: the cluster lives in tocsind, so each run's topic is
    # read while it lives
    def mock_follow(self):
        err = self.tocsind.err_path
        m = None
        for _ in range(50):
            m = re.search(r"embedded mock cluster bootstrap=(\S+)",
                          open(err).read())
            if m:
                break
            time.sleep(0.1)
        if m is None:
            self.fail("no mock bootstrap in %s" % err)
            return
        self.bootstrap = m.group(1)
        out = os.path.join(self.dir, "kafka-mock.%d.json" % self.tocsind_runs)
        c = Child("kcat", ["kcat", "-C", "-b", self.bootstrap, "-t",
                           "tocsin.incidents", "-o", "beginning", "-J", "-u"],
                  out, os.path.join(self.logs, "kcat.%d.err" % self.tocsind_runs))
        cleanup.push("kcat", lambda: c.stop())
        self.mock_followers.append((c, out))

    # ------------------------------------------------------------- tasks
    def t_sampler(self):
        while not self.sched.stopping:
            self.sample()
            yield SAMPLE_S

    def sample(self):
        t = self.tocsind
        if t is None or not t.alive():
            return
        try:
            st = open("/proc/%d/status" % t.pid).read()
            rss = int(re.search(r"^VmRSS:\s+(\d+)", st, re.M).group(1))
            fds = len(os.listdir("/proc/%d/fd" % t.pid))
        except (OSError, AttributeError):
            return
        # where a growing RSS lives: the allocator's live objects, its
        # pages, or neither (docs/monitoring.md)
        m = self.metrics(timeout_s=2)
        heap = [re.search(r"^tocsin_heap_%s_bytes (\S+)" % k, m, re.M)
                for k in ("allocated", "resident")]
        heap = ["%d" % (float(h.group(1)) / 1024) if h else "" for h in heap]
        self.samples_fp.write("%d,%d,%d,%d,%s,%s\n" % (now_ms(), t.pid, rss,
                                                      fds, *heap))

    def t_operator(self):
        """The NOC, as far as the soak needs one: every OPERATOR_S, each
        incident whose alarms have all cleared is resolved and closed
        through the HTTP API, so the open set (and tocsind's memory) stays
        bounded as a real one's does; a quarter of those seen before the
        steady stretch (where the kills are), and whatever clears in the
        quiet tail, stay open for the clocks and Redis checks; in the
        steady stretch every one is closed, so the open set does not grow
        where memory is judged.  Refusals (a 503 while tocsind
        restarts, a 409 when something changed meanwhile) wait for the
        next round.  Every request goes to operator.jsonl."""
        fp = open(os.path.join(self.dir, "operator.jsonl"), "a", buffering=1)
        token = open(self.token).read().split("\n")[0]
        rnd = random.Random(self.seed)
        keep = {}       # incident -> left open for good (a quarter)
        quiet = self.t0_s + self.T - self.plan.Q
        steady = quiet - self.plan.S
        while not self.sched.stopping:
            yield OPERATOR_S
            if time.time() >= quiet:
                return      # what clears in the quiet tail stays open
            if self.in_kill or self.tocsind is None or not self.tocsind.alive():
                continue
            st, body = self.http_get("/api/v1/incidents?state=cleared,resolved"
                                     "&limit=1000")
            if st != 200:
                continue
            for ev in json.loads(body).get("incidents", []):
                iid = ev["incident"]["id"]
                if keep.setdefault(iid, time.time() < steady and
                                   rnd.random() < 0.25):
                    continue
                acts = [("resolve", {}), ("close", {"satisfaction": 5})]
                if ev["incident"]["state"] == "resolved":
                    acts = acts[1:]
                for act, extra in acts:
                    b = dict(actor="soak-operator", **extra)
                    st, ans = self.http_post("/api/v1/incidents/%s/%s" %
                                             (iid, act), b, token)
                    fp.write(json.dumps({"t_ms": now_ms(), "incident": iid,
                                         "action": act, "status": st}) + "\n")
                    self.operator[st] = self.operator.get(st, 0) + 1
                    if st != 200:
                        break

    def http_post(self, path, body, token):
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.hport, path),
            data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return 0, ""

    def t_watchdog(self):
        """An exit nobody asked for: a finding; restarted so the run goes on."""
        while not self.sched.stopping:
            t = self.tocsind
            if not self.in_kill and t is not None and not t.alive():
                rc = t.p.returncode
                msg = "tocsind run %d (pid %d) exited by itself: status %s" % (
                    self.tocsind_runs, t.pid, rc)
                self.tocsind_deaths.append(msg)
                self.fail(msg)
                self.chaos("tocsind_died", "start", pid=t.pid, status=rc,
                           kill_ms=now_ms())
                self.tocsind_start()
                self.tocsind_restarts += 1
                yield from self.tocsind_wait()
                self.chaos("tocsind_died", "end", "restart",
                           pid=self.tocsind.pid)
            yield 1.0

    def t_lane(self, lane, actions):
        for off, _, kind, params in actions:
            at = self.t0_s + off
            while time.time() < at and not self.sched.stopping:
                yield min(1.0, at - time.time())
            if self.sched.stopping:
                return
            yield from getattr(self, "a_" + kind)(dict(params))

    def hold(self, s):
        end = time.time() + s
        while time.time() < end and not self.sched.stopping:
            yield min(1.0, end - time.time())

    # ------------------------------------------------------------- actions
    def http_get(self, path, timeout_s=5):
        """(status, body) of a GET to tocsind; (0, "") when it does not answer."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" %
                                        (self.hport, path), timeout=timeout_s) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return 0, ""

    def api_snapshot(self, name):
        """Every open incident as GET /api/v1/incidents shows it, with the
        time it was read: DIR/api/NAME.json (the clocks before a kill and
        after the restart, for a checker to compare)."""
        items, cursor, t = [], None, now_ms()
        for _ in range(100):
            q = "/api/v1/incidents?limit=1000" + ("&cursor=" + cursor if cursor else "")
            st, body = self.http_get(q)
            if st != 200:
                break
            j = json.loads(body)
            items += j.get("incidents", [])
            cursor = j.get("next_cursor")
            if not cursor:
                break
        d = os.path.join(self.dir, "api")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump({"t_ms": t, "t_end_ms": now_ms(), "pid": self.tocsind.pid,
                       "status": st, "incidents": items}, f)
        self.api_snapshots.append(os.path.join("api", name + ".json"))

    def a_tocsind_kill(self, p):
        self.in_kill = True
        t = self.tocsind
        self.api_snapshot("before-kill.%d" % self.tocsind_runs)
        self.chaos("tocsind_kill", "start", "kill9", pid=t.pid,
                   signal="KILL", down_s=p["hold_s"])
        t.send(signal.SIGKILL)
        yield (lambda: not t.alive(), 10)
        yield from self.hold(p["hold_s"])
        self.tocsind_start()
        self.tocsind_restarts += 1
        self.in_kill = False
        yield from self.tocsind_wait()
        self.chaos("tocsind_kill", "end", "restart", pid=self.tocsind.pid,
                   run=self.tocsind_runs)
        # the restored incidents, once the journals are restored and the
        # start's dump has rebuilt the view
        ok = yield (lambda: self.http_get("/readyz", 2)[0] == 200, 60)
        if ok:
            yield (lambda: False, 1)
            self.api_snapshot("after-restart.%d" % self.tocsind_runs)

    def a_reload(self, p):
        f = self.fleet
        add, rm = p.get("add_sites", []), p.get("remove_sites", [])
        f.configured |= set(add)
        f.configured -= set(rm)
        f.write_inventory(self.inventory)
        added = [d for s in add for d in f.devices_of(s)]
        removed = [d for s in rm for d in f.devices_of(s)]
        self.chaos("reload", "start", "sighup_remove", pid=self.tocsind.pid,
                   sites=rm, devices=removed)
        self.chaos_count["reload"] -= 1
        self.chaos("reload", "start", "sighup_add", pid=self.tocsind.pid,
                   sites=add, devices=added, configured=f.ndevices())
        err = self.tocsind.err_path
        count = lambda w: open(err).read().count(w)  # noqa: E731
        n0, r0 = count("reloaded config="), count("reload refused")
        self.tocsind.send(signal.SIGHUP)
        ok = yield (lambda: count("reloaded config=") > n0 or
                    count("reload refused") > r0 or not self.tocsind.alive(), 60)
        s = open(err).read()
        line = ([l for l in s.splitlines() if "reloaded config=" in l] or [""])[-1]
        if not ok or count("reload refused") > r0 or count("reloaded config=") <= n0:
            self.fail("reload refused or not answered in 60 s (%s)" % err)
            line = "refused"
        self.chaos("reload", "end", "sighup_done", pid=self.tocsind.pid,
                   result=re.sub(r".* level=info ", "", line)[:400])

    def a_redis_restart(self, p):
        sig = getattr(signal, "SIG" + p["signal"])
        self.chaos("redis_restart", "start", pid=self.redis.pid,
                   signal=p["signal"], down_s=p["hold_s"])
        self.redis.send(sig)
        r = self.redis
        yield (lambda: not r.alive(), 15)
        r.stop(signal.SIGKILL, 5)
        yield from self.hold(p["hold_s"])
        self.redis_start()
        ok = yield (self.redis_ready, 20)
        if not ok:
            self.fail("redis-server did not come back in 20 s")
        self.chaos("redis_restart", "end", pid=self.redis.pid)

    def bg(self, name, argv, timeout_s, env=None):
        """A generator step: argv in the background, bounded; its status
        and output (the harness's other lanes go on meanwhile)."""
        self.nbg = getattr(self, "nbg", 0) + 1
        out = os.path.join(self.logs, "%s.%d.out" % (name, self.nbg))
        c = Child(name, argv, out, out, env=env)
        yield (lambda: not c.alive(), timeout_s)
        if c.alive():
            c.stop(signal.SIGKILL, 5)
            return -1, "timed out after %d s" % timeout_s
        return c.p.returncode, open(out).read()

    def broker_argv(self, cmd):
        env = dict(os.environ)
        env["BROKER_LIFETIME"] = str(int(self.bound + 60))
        return ["sh", os.path.join(ROOT, "tests/kafka/broker.sh"), cmd,
                self.kdir], env

    def a_kafka_stop(self, p):
        self.chaos("kafka_stop", "start", pid=self.broker_pid(),
                   down_s=p["hold_s"])
        argv, env = self.broker_argv("stop")
        rc, out = yield from self.bg("broker-stop", argv, 60, env)
        if rc != 0:
            self.fail("broker.sh stop: %s" % out[-300:])
        yield from self.hold(p["hold_s"])
        t = time.monotonic()
        argv, env = self.broker_argv("restart")
        rc, out = yield from self.bg("broker-restart", argv, 150, env)
        if rc != 0:
            self.fail("broker.sh restart: %s" % out[-500:])
        self.chaos("kafka_stop", "end", pid=self.broker_pid(), status=rc,
                   restart_s=round(time.monotonic() - t, 1))

    def a_kafka_pause(self, p):
        pid = self.broker_pid()
        if pid is None:
            self.fail("kafka_pause: no broker pid in %s" % self.kdir)
            return
        self.chaos("kafka_pause", "start", pid=pid, signal="STOP",
                   hold_s=p["hold_s"])
        os.kill(pid, signal.SIGSTOP)
        yield from self.hold(p["hold_s"])
        os.kill(pid, signal.SIGCONT)
        self.chaos("kafka_pause", "end", pid=pid, signal="CONT")

    def journal_errors(self):
        return sum(float(v) for v in re.findall(
            r'^tocsin_journal_write_errors_total\{[^}]*\} (\S+)',
            self.metrics(), re.M))

    def fill(self, path):
        """Writes path until the disk refuses; the bytes it took."""
        n = 0
        buf = b"\0" * (1 << 20)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError:
            return 0
        try:
            while True:
                n += os.write(fd, buf)
        except OSError:
            try:        # the last few KiB the page-sized writes left
                while True:
                    n += os.write(fd, b"\0" * 4096)
            except OSError:
                pass
        finally:
            os.close(fd)
        return n

    def a_disk_full(self, p):
        path = os.path.join(self.state, "soak-filler")
        e0 = self.journal_errors()
        self.chaos("disk_full", "start", path=path, hold_s=p["hold_s"])
        took = self.fill(path)
        st = os.statvfs(self.state)
        log("disk: filler took %d MiB, %d KiB left" %
            (took >> 20, st.f_bavail * st.f_frsize >> 10))
        end = time.time() + p["hold_s"]
        while time.time() < end and not self.sched.stopping:
            yield 1.0
            took += self.fill(path)     # whatever tocsind freed: full again
        os.unlink(path)
        yield (lambda: False, 2)
        self.chaos("disk_full", "end", filler_mb=took >> 20,
                   journal_write_errors=int(self.journal_errors() - e0))

    def a_netem(self, p):
        n = self.netns
        params = {k: p[k] for k in ("delay_ms", "jitter_ms", "loss_pct",
                                    "dup_pct")}
        self.chaos("netem", "start", how=n.mode, dev=n.vb, ns=n.ns,
                   sites=len(self.fleet.ns_sites), hold_s=p["hold_s"], **params)
        before = n.counters() if n.mode == "nfqueue" else ""
        try:
            n.impair(params)
        except OSError as e:
            self.fail("netem: %s" % e)
            return
        yield from self.hold(p["hold_s"])
        after = n.counters()
        n.clear()
        self.chaos("netem", "end", how=n.mode, before=before, after=after)

    # ------------------------------------------------------------- main
    def main(self):
        a = self.a
        t_begin = now_ms()
        self.mock_followers = []
        self.setup_state()
        self.setup_redis()
        if a.kafka == "mock":
            self.kafka = "mock"
            self.note("kafka: --kafka mock: tocsind's embedded mock cluster")
        else:
            self.setup_kafka()
        self.setup_fleet()
        fault_kinds = set(a.faults.split(",")) if a.faults != "all" else set(FAULTS)
        chaos_kinds = set(a.chaos.split(",")) if a.chaos != "all" else set(CHAOS)
        if self.kafka == "mock":
            # the mock cluster lives in tocsind: nothing to stop or freeze
            chaos_kinds -= {"kafka_stop", "kafka_pause"}
        if not self.disk_full:
            chaos_kinds.discard("disk")
        if "netns" in chaos_kinds:
            n = Netns(self)
            why = n.setup()
            if why:
                chaos_kinds.discard("netns")
                self.note("netns: skipped: %s" % why)
                n.teardown()
            else:
                self.netns = n
                self.fleet.ns_host = n.host
                self.fleet.set_ns_shard(a.ns_shards - 1, a.ns_shards)
                log("netns: %s, veth %s/%s, devsim shard %d/%d (%d sites) "
                    "at 198.19.%d.0/20, impairment by %s" %
                    (n.ns, n.va, n.vb, a.ns_shards - 1, a.ns_shards,
                     len(self.fleet.ns_sites), 16 * n.k,
                     "tc netem" if n.mode == "tc" else
                     "nfqnetem.py (NFQUEUE: this kernel has no sch_netem)"))
        self.plan = Plan(self.fleet, self.T, self.seed, fault_kinds,
                         chaos_kinds)
        self.check_config()
        self.devices0 = self.fleet.ndevices()
        text, self.scen_lines = self.plan.scenario()
        scen = os.path.join(self.dir, "scenario.txt")
        with open(scen, "w") as f:
            f.write(text)
        log("plan: T=%gs warm-up %gs steady (no kill, no reload) %gs quiet "
            "tail %gs, %d faults, %d chaos actions, %d devices (%d sites, %d "
            "in reserve for reloads)" %
            (self.T, self.plan.W, self.plan.S, self.plan.Q,
             len(self.plan.faults),
             len(self.plan.chaos), self.fleet.ndevices(),
             len(self.fleet.normal), len(self.fleet.reserve)))
        self.t_end_s = time.time() + self.T + 120
        self.setup_devsim(scen)
        self.t0_ms = min(d[2] for d in self.devsims)
        self.t0_s = self.t0_ms / 1000.0
        self.t_end_s = self.t0_s + self.T
        self.write_faults()
        self.tocsind_start()
        cleanup.push("tocsind", lambda: self.tocsind and
                     self.tocsind.stop(signal.SIGKILL))
        # the start, then the chaos lanes, the sampler and the watchdog
        self.sched.spawn("start", self.tocsind_wait())
        self.sched.run_until(time.monotonic() + START_S + 5)
        if not self.tocsind.started:
            raise SystemExit("soak: tocsind did not start: see %s" %
                             self.tocsind.err_path)
        log("tocsind: pid=%d http=127.0.0.1:%d" % (self.tocsind.pid, self.hport))
        lanes = {}
        for c in self.plan.chaos:
            lanes.setdefault(c[1], []).append(c)
        for lane, acts in lanes.items():
            self.sched.spawn("lane-" + lane, self.t_lane(lane, acts))
        self.sched.spawn("sampler", self.t_sampler())
        self.sched.spawn("watchdog", self.t_watchdog())
        if not a.no_operator:
            self.sched.spawn("operator", self.t_operator())
        mono_end = time.monotonic() + (self.t_end_s - time.time())
        self.sched.run_until(mono_end)
        # the end: every chaos action ends (sleeps are cut short), bounded
        log("end of the soak window: stopping the chaos")
        self.sched.stopping = True
        self.sched.run_until(time.monotonic() + 240)
        if self.sched.tasks:
            self.fail("chaos lanes did not end in 240 s: %s" % self.sched.names())
        self.ended_ms = now_ms()
        self.finish()
        return self.report(t_begin)

    def finish(self):
        """Drain, stop tocsind, read the topic and Redis, write the files."""
        if self.tocsind is None or not self.tocsind.alive():
            self.fail("tocsind was not running at the end")
        else:
            lag = self.drain()
            log("drain: %s" % lag)
            rc = self.tocsind.stop(signal.SIGTERM, STOP_S)
            stop = [l for l in open(self.tocsind.err_path).read().splitlines()
                    if " stop reason=" in l]
            log("tocsind: exit %s; %s" % (rc, stop[-1] if stop else "no stop line"))
            if rc != 0:
                self.fail("tocsind exited %s on SIGTERM" % rc)
        self.sample_final = True
        self.write_faults()
        self.dump_kafka()
        self.dump_redis()
        self.write_run_json()

    def metrics(self, timeout_s=5):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                        self.hport, timeout=timeout_s) as r:
                return r.read().decode()
        except OSError:
            return ""

    def drain(self):
        """Until every sink's lag and in-flight count are 0 (DRAIN_S)."""
        end = time.monotonic() + DRAIN_S
        last = {}
        while time.monotonic() < end:
            m = self.metrics()
            last = {}
            for name, sink, v in re.findall(
                    r'^tocsin_sink_(lag_bytes|inflight)\{sink="(\w+)"\} (\S+)',
                    m, re.M):
                last["%s_%s" % (sink, name)] = float(v)
            want = {"file_lag_bytes", "redis_lag_bytes", "kafka_lag_bytes"}
            if want <= set(last) and all(v == 0 for v in last.values()):
                return "every sink at lag 0 (%s)" % ", ".join(sorted(last))
            time.sleep(1)
        self.fail("publish lag not 0 after %d s: %s" % (DRAIN_S, last))
        return "lag left: %s" % last

    # -- the outputs
    def write_faults(self):
        """faults.jsonl: planned times first, devsim's own log of each step
        (wall_us) once the run has it."""
        applied = {}
        for c, shard, ready, in_ns in self.devsims:
            try:
                s = open(c.err_path).read()
            except OSError:
                continue
            for m in re.finditer(r"devsim scenario line=(\d+) .*?wall_us=(\d+)", s):
                applied[(in_ns, int(m.group(1)))] = int(m.group(2)) // 1000
        removed_at = {}
        for l in open(os.path.join(self.dir, "chaos.jsonl")):
            e = json.loads(l)
            if e["kind"] == "sighup_remove":
                for s in e["detail"]["sites"]:
                    removed_at.setdefault(s, e["t_ms"])
        with open(os.path.join(self.dir, "faults.jsonl.tmp"), "w") as f:
            for i, x in enumerate(self.plan.faults):
                ns = x["site"] in self.fleet.ns_sites
                r0 = self.ready_ms(x["site"])
                s = applied.get((ns, self.scen_lines[(i, "start")]),
                                r0 + int(x["t"] * 1000))
                e = None
                if x["end"]:
                    e = applied.get((ns, self.scen_lines[(i, "end")]),
                                    r0 + int((x["t"] + x["len"]) * 1000))
                o = {"start_ms": s, "end_ms": e, "site": x["site"],
                     "device": x["device"], "kind": x["kind"],
                     "expect": x["expect"]}
                if x["may"]:
                    o["may"] = x["may"]
                if x["arg"] is not None:
                    o["arg"] = x["arg"]
                if x["site"] in removed_at and removed_at[x["site"]] <= s:
                    o["expect"] = []
                    o["removed_ms"] = removed_at[x["site"]]
                if x["note"]:
                    o["note"] = x["note"]
                f.write(json.dumps(o) + "\n")
        os.replace(os.path.join(self.dir, "faults.jsonl.tmp"),
                   os.path.join(self.dir, "faults.jsonl"))

    def dump_kafka(self):
        out = os.path.join(self.dir, "incidents.jsonl")
        offs = os.path.join(self.dir, "incidents.offsets")
        recs = []
        if self.kafka == "broker":
            rc, text = run_cmd(["kcat", "-C", "-b", self.bootstrap, "-t",
                                "tocsin.incidents", "-o", "beginning", "-e",
                                "-J", "-q"], 300)
            if rc != 0:
                self.fail("kcat could not read tocsin.incidents: %s" % text[-500:])
            lines = text.splitlines()
        else:
            lines = []
            for c, path in self.mock_followers:
                c.stop()
                lines += open(path).read().splitlines()
        for l in lines:
            try:
                j = json.loads(l)
            except ValueError:
                continue
            if "payload" in j:
                recs.append(j)
        with open(out, "w") as f, open(offs, "w") as g:
            g.write("# partition offset timestamp_ms key\n")
            for j in recs:
                f.write(j["payload"].rstrip("\n") + "\n")
                g.write("%s %s %s %s\n" % (j.get("partition"), j.get("offset"),
                                           j.get("ts"), j.get("key")))
        self.nevents = len(recs)
        log("kafka: %d events of tocsin.incidents in %s" % (len(recs), out))

    def dump_redis(self):
        addr = ("127.0.0.1", self.rport)
        pre = "tocsin:"
        d = {"prefix": pre}
        try:
            d["incidents_open"] = resp(addr, ["ZRANGE", pre + "incidents:open",
                                             "0", "-1", "WITHSCORES"])
            d["deadlines"] = resp(addr, ["ZRANGE", pre + "deadlines", "0", "-1",
                                        "WITHSCORES"])
            keys = scan(addr, pre + "incident:*") + scan(addr, pre + "site:*")
            d["hashes"] = {}
            for k in sorted(keys):
                if k.endswith(":timeline"):
                    continue
                v = resp(addr, ["HGETALL", k])
                d["hashes"][k] = dict(zip(v[0::2], v[1::2]))
        except OSError as e:
            self.fail("reading Redis: %s" % e)
        with open(os.path.join(self.dir, "redis.json"), "w") as f:
            json.dump(d, f)
        log("redis: %d open incidents, %d hashes in redis.json" %
            (len(d.get("incidents_open", [])) // 2, len(d.get("hashes", {}))))

    def write_run_json(self):
        r = {"seed": self.seed, "duration_s": self.T,
             "devices": self.devices0, "devices_at_end": self.fleet.ndevices(),
             "started_ms": self.t0_ms, "ended_ms": self.ended_ms,
             "bootstrap": self.bootstrap, "topic": "tocsin.incidents",
             "redis": "127.0.0.1:%d" % self.rport, "redis_prefix": "tocsin:",
             "http": "127.0.0.1:%d" % self.hport,
             "tocsind_restarts": self.tocsind_restarts,
             "tocsind_runs": self.tocsind_runs,
             "tocsind_deaths": self.tocsind_deaths,
             "impaired_devices": sorted(
                 d for st in self.fleet.ns_sites
                 for d in self.fleet.devices_of(st)) if self.netns else [],
             "kafka": self.kafka, "netns": self.netns is not None,
             "disk_full": self.disk_full, "config": self.config,
             "state_dir": self.state, "warmup_s": self.plan.W,
             "quiet_s": self.plan.Q, "steady_s": self.plan.S,
             "sample_s": SAMPLE_S,
             "timing": self.fleet.timing, "notes": self.notes,
             "errors": self.errors, "build": self.build,
             "api_snapshots": self.api_snapshots}
        if self.T < 1200:
            # a restarted tocsind warms up for 5 minutes (docs/testing.md),
            # and a run this short has no steady stretch: the bounds catch
            # only a runaway (10x the RSS in 10 minutes) over whatever
            # lifetime is longest
            r["check"] = {"rss_pct_per_10min": 1000.0,
                          "fd_slope_per_min": 60.0, "min_samples": 4,
                          "settle_s": 20, "min_segment_s": 20}
            self.note("resources: a %g s run is too short for a slope: "
                      "run.json check loosens the bounds to catch only a "
                      "runaway" % self.T)
        with open(os.path.join(self.dir, "run.json"), "w") as f:
            json.dump(r, f, indent=1)

    def report(self, t_begin):
        lines = ["", "== soak report: seed %d, %gs, %d devices, kafka %s, "
                 "netns %s, disk-full %s" % (self.seed, self.T,
                                             self.devices0, self.kafka,
                                             "yes" if self.netns else "no",
                                             "yes" if self.disk_full else "no"),
                 "run directory: %s" % self.dir, "", "faults injected by kind:"]
        by = {}
        for x in self.plan.faults:
            k = x["kind"] + (" (%s)" % x["variant"] if x["variant"] != x["kind"] else "")
            n, e = by.get(k, (0, 0))
            by[k] = (n + 1, e + (1 if x["expect"] else 0))
        for k in sorted(by):
            lines.append("  %-28s %4d  (%d expecting an incident)" %
                         (k, by[k][0], by[k][1]))
        lines.append("  %-28s %4d" % ("total", len(self.plan.faults)))
        lines += ["", "chaos actions by kind:"]
        for k in sorted(self.chaos_count):
            lines.append("  %-28s %4d" % (k, self.chaos_count[k]))
        lines.append("  tocsind restarts: %d; unexpected exits: %d" %
                     (self.tocsind_restarts, len(self.tocsind_deaths)))
        lines.append("  events on tocsin.incidents: %d" % getattr(self, "nevents", 0))
        lines.append("  operator (resolve, close cleared incidents) by HTTP "
                     "status: %s" % (", ".join("%s %d" % kv for kv in
                                              sorted(self.operator.items()))
                                     or "none"))
        for n in self.notes:
            lines.append("  note: " + n)
        for e in self.errors:
            lines.append("  ERROR: " + e)
        lines.append("")
        text = "\n".join(lines)
        print(text, flush=True)
        with open(os.path.join(self.dir, "report.txt"), "w") as f:
            f.write(text + "\n")
        rc = 1 if self.errors else 0
        check = self.a.checker or os.path.join(HERE, "check.py")
        print("== checker: python3 %s %s" % (os.path.relpath(check), self.dir),
              flush=True)
        # its output also goes to DIR/check.txt, with the report
        r = subprocess.Popen([sys.executable, check, self.dir],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE,
                             preexec_fn=_child_setup)
        with open(os.path.join(self.dir, "check.txt"), "wb") as f:
            for line in r.stdout:
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
                f.write(line)
        r.wait()
        print("== checker exit status: %d" % r.returncode, flush=True)
        rc = r.returncode or rc
        print("== soak: exit %d (%.0f s in all)" % (rc, (now_ms() - t_begin) / 1000),
              flush=True)
        return rc


# --------------------------------------------------------------- Redis RESP
# The checker's own RESP client (check.Resp), not a second one: the harness
# only reads Redis back for the record (redis.json) and to see it is up.

def resp(addr, argv, timeout_s=10):
    """One command to Redis, its reply: str, int, list or None; OSError on
    an error reply or a lost connection."""
    r = Resp(addr[0], addr[1], timeout=timeout_s)
    try:
        return r.call(*argv)
    except RedisError as e:
        raise OSError("redis: %s" % e)
    finally:
        r.close()


def scan(addr, pattern):
    keys, cur = [], "0"
    while True:
        cur, ks = resp(addr, ["SCAN", cur, "MATCH", pattern, "COUNT", "1000"])
        keys += ks
        if cur == "0":
            return keys


# -------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", default="30m")
    ap.add_argument("--seed", type=int, default=int(time.strftime("%Y%m%d")))
    ap.add_argument("--build", default="build/default")
    ap.add_argument("--out", required=True)
    ap.add_argument("--devices", type=int, default=10000)
    ap.add_argument("--chaos", default="all",
                    help="comma list of %s, or all" % ",".join(CHAOS))
    ap.add_argument("--faults", default="all",
                    help="comma list of %s, or all" % ",".join(FAULTS))
    ap.add_argument("--kafka", choices=["broker", "mock"], default="broker")
    ap.add_argument("--ns-shards", type=int, default=4,
                    help="devsim processes; the last one runs in the "
                    "namespace (default 4: a quarter of the fleet)")
    ap.add_argument("--no-tmpfs", action="store_true")
    ap.add_argument("--no-operator", action="store_true",
                    help="leave cleared incidents open (they pile up)")
    ap.add_argument("--bound", help="stop everything and exit 130 after "
                    "this long, whatever is happening (default: duration + "
                    "20m); the broker's own lifetime is this + 60 s")
    ap.add_argument("--checker", help="the checker to run at the end "
                    "(default tests/soak/check.py next to this file)")
    a = ap.parse_args()
    if a.devices < 2 * PER_SITE:
        ap.error("--devices must be at least %d" % (2 * PER_SITE))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _on_signal)
    atexit.register(cleanup.run)
    run = Run(a)
    signal.alarm(int(run.bound))
    try:
        rc = run.main()
    except KeyboardInterrupt as e:
        log("interrupted (%s): stopping everything" % e)
        rc = 130
    except SystemExit as e:
        if isinstance(e.code, str):
            log(e.code)
            rc = 1
        else:
            rc = e.code or 0
    finally:
        cleanup.run()
    sys.exit(rc)


if __name__ == "__main__":
    main()
