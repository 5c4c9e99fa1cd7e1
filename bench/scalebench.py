#!/usr/bin/env python3
"""scalebench.py - issue 16: alarm transitions per second through 1, 2 and 3
tocsind correlators (daemon.role: correlator) on the real broker, the
broker's own CPU beside them, the rebuild time per 10,000 open incidents,
and in the same run the baselines: one `role: all` tocsind correlating the
same transitions (tocsind --replay, P shard threads) and the floor (kcat
reading the same records from Kafka and nothing else).

    python3 bench/scalebench.py [BUILD]        (BUILD: build/default)

Work (fixed by the seed): bench/corrgen.py's day of a tower network
(SCALE_SITES sites, default 10,000: about 1.05 million alarm transitions,
most of them the re-sends of a poller that repeats state, with mains
chains, regional storms, gateway losses and flapping), split by
bench/scalesplit as tocsin.alarms partitions it (the area hash, P =
SCALE_P = 6 partitions) with a tick a minute in every partition, produced
once to the broker (kcat, idempotent, acks=all).

Phases, each printed with wall time, CPU seconds (utime + stime of every
thread) and peak RSS:
  generate   corrgen and scalesplit (not measured: context)
  reference  `tocsind --replay part<p> --shard p` of every partition: the
             events the correlators must commit (the check of every run)
  all        the baseline: `tocsind --replay all.jsonl` with daemon.shards P
             (the role: all engine and threads on the same transitions)
  broker     tests/kafka/broker.sh start (a real KRaft broker on loopback)
  produce    kcat -P of each partition (context: what pollers would do)
  floor      kcat -C of the whole topic, read_committed, to /dev/null
  warm       one correlator on an empty topic until ready (not measured:
             the broker makes __consumer_offsets and __transaction_state at
             their first use, 4 s of its CPU the first run paid otherwise)
  N=1,2,3    N correlators started at once on the loaded topic, each with
             its own transactional.id, group, changelog and incidents
             topics per N; from their exec until every partition's
             committed state is at its end (the input offset each commit
             records, in /healthz); then (not timed) the committed events
             of the run's topic are counted against the reference, and
             their bytes and the changelog's (records, bytes per
             transition, before compaction) printed.
             Per run: transitions/s, each instance's CPU and peak RSS, the
             broker's CPU over the same wall time, the join (until every
             instance is ready and the group's members own all P).
             Each instance keeps the history of closed incidents as
             shipped (daemon/chist, a consumer of the run's incidents
             topic); after the run, until every instance's history holds
             every closed incident of the reference (bounded: 120 s).
  N=1.a ..   N=1 three ways, in turn, twice: as shipped (its history
             reading every event), N=1-h with kafka.history_group off,
             N=1+t with kafka.history set (the closed events also on a
             topic of their own, which the history reads instead): what
             the history costs a correlator and the broker, as ratios
             run by run.
  idle       after N=3 is done: its instances' CPU over SCALE_IDLE_S (10) s
             with nothing to do, and the broker's
  rebuild    after N=1: a new instance in its group rebuilds all P
             partitions from the changelog; the sum of its logged
             rebuild_ms over the open incidents it loaded, per 10,000.
  N=1+r      N=1 again with redis.enabled (a redis-server of its own):
             what feeding Redis costs a correlator, as a ratio of the
             same run's N=1; then (bounded) until Redis has it all: the
             feed's queue empty, incidents:open equal to the correlator's
             live incidents, the stream every committed event when
             nothing folded; the records written, the dumps and folds,
             and redis-server's CPU.  Twice, each time beside N=1+rp, the
             same with redis.seq_guard false (ABAB): what the guard of
             records by seq costs, as ratios run by run.  Skipped
             without redis-server.

Bounds: every run SCALE_RUN_S (600) s, the broker's lifetime 1 h, each
stop 15 s after SIGTERM then SIGKILL; everything started here is stopped
by PID.  Loopback only.  SCALE_KEEP=1 keeps the run directory.
"""
import glob
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    return int(os.environ.get(name, default))


SITES = env_int("SCALE_SITES", 10000)
P = env_int("SCALE_P", 6)
TICK = env_int("SCALE_TICK_S", 60)
SEED = env_int("SCALE_SEED", 20261205)
MAXN = env_int("SCALE_INSTANCES", 3)
RUN_S = env_int("SCALE_RUN_S", 600)
IDLE_S = env_int("SCALE_IDLE_S", 10)


def cpu_s(pid):
    """utime + stime of /proc/PID (every thread), seconds; None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TCK


def vmhwm_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def measured(argv, stdout=subprocess.DEVNULL, timeout=RUN_S):
    """Runs argv to its end: (wall s, CPU s, peak RSS MiB, exit status),
    its own rusage (wait4), not the other children's."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("scalebench: %s: over %d s" % (argv[0], timeout))
    wall = time.monotonic() - t0
    ru = proc.rusage if hasattr(proc, "rusage") else None
    if ru is None:
        raise SystemExit("scalebench: no rusage")
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, \
        proc.returncode


class RusagePopen(subprocess.Popen):
    """Popen that keeps the child's own rusage (os.wait4) when reaped."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            pid, sts, ru = self.pid, 0, None
        if pid == self.pid:
            self.rusage = ru
        return pid, sts


subprocess.Popen = RusagePopen


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path, timeout=2.0):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def stop(proc, bound=15):
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(bound)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def row(phase, wall, cpu, rss, extra=""):
    print("%-10s wall %8.2f s  cpu %8.2f s  rss %7.1f MiB  %s" %
          (phase, wall, cpu, rss, extra), flush=True)


# The correlators' history (daemon/chist), three ways: the run name's
# suffix, the row's, and the kafka: lines it adds (RUN: the run's name).
HISTORY = {
    "incidents": ("", "", ""),              # as shipped: every event read
    "off": ("x", "-h", "  history_group: \"off\"\n"),
    "topic": ("t", "+t", "  history: tocsin.history.RUN\n"),
}


class Bench:
    def __init__(self, build):
        self.build = build
        self.tmp = tempfile.mkdtemp(prefix="scalebench.")
        self.kdir = None
        self.procs = []
        self.brokers = None
        self.broker_pid = None

    def path(self, name):
        return os.path.join(self.tmp, name)

    def tocsind(self):
        return os.path.join(self.build, "tocsind")

    def fini(self):
        for p in self.procs:
            stop(p)
        if self.kdir:
            subprocess.run(["sh", os.path.join(ROOT, "tests/kafka/broker.sh"),
                            "stop", self.kdir], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
        if os.environ.get("SCALE_KEEP") == "1":
            print("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- the day

    def generate(self):
        t0 = time.monotonic()
        subprocess.run([sys.executable, os.path.join(HERE, "corrgen.py"),
                        "--seed", str(SEED), "--sites", str(SITES),
                        "--fleet", self.path("f.json"),
                        "--config", self.path("c.yaml"),
                        "--alarms", self.path("a.jsonl")], check=True,
                       stdout=subprocess.DEVNULL)
        with open(self.path("c.yaml")) as f:
            self.fleet_yaml = f.read()
        with open(self.path("base.yaml"), "w") as f:
            f.write("daemon: {shards: %d}\n%s" % (P, self.fleet_yaml))
        out = subprocess.run([os.path.join(self.build, "bench/scalesplit"),
                              self.path("base.yaml"), self.path("a.jsonl"),
                              str(P), str(TICK), self.tmp], check=True,
                             stdout=subprocess.PIPE).stdout.decode()
        kv = dict(re.findall(r"(\w+)=(\d+)", out))
        self.lines = int(kv["lines"])
        self.alarms = int(kv["alarms"])
        self.part_lines = [int(kv["part%d" % p]) for p in range(P)]
        print("generate   %d sites, %d alarm transitions, %d lines in %d "
              "partitions (%s), %.1f s (not measured)" %
              (SITES, self.alarms, self.lines, P,
               " ".join(str(n) for n in self.part_lines),
               time.monotonic() - t0), flush=True)

    def reference(self):
        self.expect, self.open_at_end, self.expect_closed = 0, 0, 0
        wall = cpu = rss = 0.0
        for p in range(P):
            with open(self.path("ref%d.jsonl" % p), "w") as out:
                w, c, r, rc = measured([self.tocsind(), "--replay",
                                        self.path("part%d.jsonl" % p),
                                        "--shard", str(p), "-c",
                                        self.path("base.yaml")], stdout=out)
            if rc != 0:
                raise SystemExit("scalebench: the reference replay of "
                                 "partition %d failed" % p)
            wall, cpu, rss = wall + w, cpu + c, max(rss, r)
            with open(self.path("ref%d.jsonl" % p)) as f:
                for line in f:
                    self.expect += 1
                    self.expect_closed += '"event":"closed"' in line
        row("reference", wall, cpu, rss, "%d events expected (each "
            "partition replayed as its shard), %d of them closed" %
            (self.expect, self.expect_closed))

    def baseline(self):
        wall, cpu, rss, rc = measured([self.tocsind(), "--replay",
                                       self.path("all.jsonl"), "-c",
                                       self.path("base.yaml")])
        if rc != 0:
            raise SystemExit("scalebench: tocsind --replay failed")
        self.base_rate = self.alarms / wall
        row("all", wall, cpu, rss, "%.0f transitions/s: one role: all "
            "tocsind (--replay, %d shards)" % (self.base_rate, P))

    # ---- Kafka

    def broker(self):
        self.kdir = self.path("kafka")
        os.mkdir(self.kdir)
        env = dict(os.environ, BROKER_LIFETIME="3600")
        t0 = time.monotonic()
        r = subprocess.run(["sh", os.path.join(ROOT, "tests/kafka/broker.sh"),
                            "start", self.kdir], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        last = r.stdout.decode().strip().splitlines()[-1:] or [""]
        if r.returncode != 0 or not last[0].startswith("bootstrap=") or \
                last[0] == "bootstrap=mock":
            self.kdir = None
            raise SystemExit("scalebench: needs the real broker "
                             "(tests/kafka/broker.sh: java and mvn): %s" %
                             r.stderr.decode()[-500:])
        self.brokers = last[0].split("=", 1)[1]
        with open(os.path.join(self.kdir, "pid")) as f:
            self.broker_pid = int(f.read())
        print("broker     %s ready in %.1f s" % (self.brokers,
                                                   time.monotonic() - t0),
              flush=True)

    def topic(self, name, partitions, *props):
        subprocess.run([os.path.join(self.build, "bench/e2e"), "topic",
                        self.brokers, name, str(partitions)] + list(props),
                       check=True, stdout=subprocess.DEVNULL)

    def produce(self):
        self.topic("tocsin.alarms", P)
        wall = cpu = rss = 0.0
        for p in range(P):
            w, c, r, rc = measured(["kcat", "-P", "-b", self.brokers, "-t",
                                    "tocsin.alarms", "-p", str(p), "-X",
                                    "enable.idempotence=true", "-X",
                                    "acks=all", "-X", "linger.ms=20", "-l",
                                    self.path("part%d.jsonl" % p)])
            if rc != 0:
                raise SystemExit("scalebench: kcat -P failed")
            wall, cpu, rss = wall + w, cpu + c, max(rss, r)
        row("produce", wall, cpu, rss, "%.0f lines/s (kcat -P, context)" %
            (self.lines / wall))

    def floor(self):
        b0 = cpu_s(self.broker_pid)
        wall, cpu, rss, rc = measured(["kcat", "-C", "-b", self.brokers, "-t",
                                       "tocsin.alarms", "-o", "beginning",
                                       "-e", "-q", "-X",
                                       "isolation.level=read_committed"])
        bcpu = cpu_s(self.broker_pid) - b0
        self.floor_rate = self.alarms / wall
        row("floor", wall, cpu, rss, "%.0f transitions/s (kcat -C of the "
            "topic, read_committed); broker cpu %.2f s" %
            (self.floor_rate, bcpu))

    # ---- correlators

    def start(self, n, i, run, alarms="tocsin.alarms", redis=None,
              history="incidents", rguard=True):
        name = "sb%s-%d" % (run, i)
        port = free_port()
        cfg = self.path(name + ".yaml")
        with open(cfg, "w") as f:
            f.write("daemon: {role: correlator, shards: %d, log_level: "
                    "info, state_dir: %s}\nkafka:\n  brokers: \"%s\"\n  alarms: "
                    "%s\n  incidents: tocsin.incidents.%s\n"
                    "  changelog: tocsin.changelog.%s\n"
                    "  correlator_group: sb-%s\n  client_id: %s\n%s"
                    "  properties:\n    consumer.session.timeout.ms: "
                    "\"6000\"\n    consumer.heartbeat.interval.ms: \"500\"\n"
                    "http: {enabled: true, listen: \"127.0.0.1:%d\"}\n%s%s" %
                    (P, self.path(name + ".state"), self.brokers, alarms,
                     run, run, run, name,
                     HISTORY[history][2].replace("RUN", run), port,
                     "redis: {enabled: true, port: %d, prefix: \"%s:\", "
                     "seq_guard: %s}\n" %
                     (redis, run, "true" if rguard else "false")
                     if redis else "", self.fleet_yaml))
        log = open(self.path(name + ".log"), "w")
        proc = subprocess.Popen([self.tocsind(), "-c", cfg, "-d",
                                 str(RUN_S)], stdout=log, stderr=log)
        self.procs.append(proc)
        proc.port = port
        proc.name = name
        proc.logpath = self.path(name + ".log")
        proc.history = self.path(name + ".state/history")
        return proc

    def warm(self):
        """One correlator on an empty topic until it is ready: the broker
        makes its internal topics (__consumer_offsets, __transaction_state,
        50 partitions each) at their first use, which the first measured
        run would otherwise pay for."""
        t0 = time.monotonic()
        self.topic("tocsin.warm", 1)
        self.topic("tocsin.changelog.warm", 1, "cleanup.policy=compact")
        p = self.start(1, 1, "warm", alarms="tocsin.warm")
        end = t0 + RUN_S
        while http_get(p.port, "/readyz")[0] != 200:
            if p.poll() is not None or time.monotonic() > end:
                raise SystemExit("scalebench: the warm-up correlator did "
                                 "not get ready: see %s" % p.logpath)
            time.sleep(0.1)
        stop(p)
        print("warm       the broker's internal topics made, %.1f s (not "
              "measured)" % (time.monotonic() - t0), flush=True)

    def members_own_all(self, port, n):
        st, body = http_get(port, "/api/v1/cluster")
        if st != 200:
            return False
        m = json.loads(body)["members"]
        return len(m) == n and sum(len(x["partitions"]) for x in m) == P

    def redis_start(self):
        """A redis-server of its own (no persistence), on a free port."""
        self.redis_port = free_port()
        self.redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(self.redis_proc)
        end = time.monotonic() + 10
        while self.redis_cli("PING") != "PONG":
            if time.monotonic() > end:
                raise SystemExit("scalebench: redis-server did not answer")
            time.sleep(0.05)

    def redis_cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.redis_port)] +
                           list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
        return r.stdout.decode().strip()

    def metric(self, port, name):
        st, body = http_get(port, "/metrics")
        if st != 200:
            return None
        for line in body.decode().splitlines() if isinstance(
                body, bytes) else body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def redis_done(self, p, run, t0, done):
        """After a Redis run: until Redis has it all (the feed's queue
        empty, incidents:open as many as the correlator's live incidents,
        and, when nothing folded, the stream every committed event), then
        those figures.  The queue alone does not say it: /healthz shows a
        commit's offsets before its events are handed to the feed (they
        go when commit_transaction returns), so a last commit's events
        may be queued after the queue was seen empty."""
        end = time.monotonic() + RUN_S
        while True:
            queued = self.metric(p.port, "tocsin_feed_queued_records")
            st, body = http_get(p.port, "/healthz")
            live = sum(x["incidents"] for x in
                       json.loads(body)["partitions"]) if body else -1
            zopen = int(self.redis_cli("ZCARD", "%s:incidents:open" % run))
            xlen = int(self.redis_cli("XLEN", "%s:stream:incidents" % run))
            folds = self.metric(p.port, "tocsin_feed_folds_total")
            if queued == 0 and zopen == live and \
                    (folds != 0 or xlen >= min(self.expect, 100000)):
                break
            if time.monotonic() > end:
                raise SystemExit("scalebench: Redis did not get every "
                                 "record: queued %s, incidents:open %d, "
                                 "live %d, stream %d" %
                                 (queued, zopen, live, xlen))
            time.sleep(0.1)
        drained = time.monotonic() - t0
        folded = self.metric(p.port, "tocsin_feed_folded_records_total")
        dumps = self.metric(p.port, "tocsin_feed_dumps_total")
        records = self.metric(p.port, "tocsin_sink_records_total")
        print("%-10s Redis drained %.2f s after the start (%.2f s after the "
              "last commit); %d records written, %d dumps, %d folds "
              "(%d records folded); incidents:open %d, the correlator's "
              "live incidents %d; stream:incidents %d entries (capped)" %
              ("  redis", drained, drained - done, records, dumps, folds,
               folded, zopen, live, xlen), flush=True)

    def history_closed(self, proc):
        """The incidents whose closed event proc's history holds."""
        ids = set()
        for path in glob.glob(os.path.join(proc.history, "closed-*.jsonl")):
            with open(path, "rb") as f:
                for line in f:
                    m = re.search(rb'"incident":\{"id":"([^"]+)"', line)
                    if m and line.endswith(b"\n"):
                        ids.add(m.group(1))
        return len(ids)

    def history_wait(self, procs, t0, done):
        """Until every instance's history holds every closed event of the
        reference (bounded): when, after the last commit."""
        end = time.monotonic() + 120
        while time.monotonic() < end:
            have = [self.history_closed(p) for p in procs]
            if all(h >= self.expect_closed for h in have):
                print("%-10s every instance's history holds the %d closed "
                      "incidents %.2f s after the last commit" %
                      ("  history", self.expect_closed,
                       time.monotonic() - t0 - done), flush=True)
                return
            time.sleep(0.1)
        raise SystemExit("scalebench: histories %s of %d closed incidents "
                         "after 120 s" % (have, self.expect_closed))

    def run(self, n, redis=False, history="incidents", tag="",
            rguard=True):
        run = "n%d%s%s%s%s" % (n, "r" if redis else "",
                               "" if rguard else "p", HISTORY[history][0],
                               tag)
        if history == "topic":
            self.topic("tocsin.history.%s" % run, P)
        self.topic("tocsin.changelog.%s" % run, P, "cleanup.policy=compact")
        self.topic("tocsin.incidents.%s" % run, P)
        b0 = cpu_s(self.broker_pid)
        r0 = cpu_s(self.redis_proc.pid) if redis else 0
        t0 = time.monotonic()
        procs = [self.start(n, i + 1, run,
                            redis=self.redis_port if redis else None,
                            history=history, rguard=rguard)
                 for i in range(n)]
        joined = None
        done = None
        end = t0 + RUN_S
        while time.monotonic() < end:
            now = time.monotonic()
            if any(p.poll() is not None for p in procs):
                raise SystemExit("scalebench: a correlator exited: see %s" %
                                 " ".join(p.logpath for p in procs))
            if joined is None and all(http_get(p.port, "/readyz")[0] == 200
                                      for p in procs) and \
                    self.members_own_all(procs[0].port, n):
                joined = now - t0
            # done: every partition's state is at its end (the offset
            # each commit records; kcat's records are offsets 0..n-1)
            at = {}
            for p in procs:
                st, body = http_get(p.port, "/healthz")
                if st == 200:
                    for x in json.loads(body)["partitions"]:
                        at[x["partition"]] = x["offset"]
            if joined is not None and all(at.get(q) == self.part_lines[q]
                                          for q in range(P)):
                done = now - t0
                break
            time.sleep(0.1)
        if done is None:
            raise SystemExit("scalebench: N=%d did not apply every line in "
                             "%d s" % (n, RUN_S))
        cpus = [cpu_s(p.pid) or 0.0 for p in procs]
        rss = [vmhwm_mib(p.pid) for p in procs]
        bcpu = cpu_s(self.broker_pid) - b0
        rate = self.alarms / done
        row("N=%d%s%s%s" % (n, ("+r" if rguard else "+rp") if redis
                            else "", HISTORY[history][1],
                            tag and "." + tag),
            done, sum(cpus),
            max(rss),
            "%.0f transitions/s; per instance cpu %s s, rss %s MiB; "
            "broker cpu %.2f s; join %.1f s; x%.3f of role all, x%.3f of "
            "the floor" % (rate, "/".join("%.2f" % c for c in cpus),
                           "/".join("%.0f" % r for r in rss), bcpu, joined,
                           rate / self.base_rate, rate / self.floor_rate))
        if history != "off":
            self.history_wait(procs, t0, done)
        if redis:
            self.redis_done(procs[0], run, t0, done)
            rcpu = cpu_s(self.redis_proc.pid) - r0
            print("%-10s x%.3f of the same run's N=1 without Redis "
                  "(%.0f transitions/s); the correlator's cpu x%.2f of "
                  "it; redis-server cpu %.2f s" %
                  ("  redis", rate / self.rates[1], self.rates[1],
                   sum(cpus) / self.cpu1, rcpu), flush=True)
            self.rguard.setdefault(rguard, []).append((rate, sum(cpus),
                                                       rcpu))
            return procs, run
        if tag:
            self.hist.setdefault(history, []).append((rate, sum(cpus), bcpu))
            return procs, run
        if n == 1:
            self.cpu1 = sum(cpus)
        self.rates[n] = rate
        if n == MAXN:
            self.idle(procs)
        return procs, run

    def history_cost(self):
        """N=1 three ways, twice in turn (ABCABC: the runs' order and the
        broker's warm-up weigh on each alike): its history reading every
        event (as shipped), off, and reading kafka.history alone."""
        self.hist = {}
        for rnd in ("a", "b"):
            for h in ("incidents", "off", "topic"):
                procs, run = self.run(1, history=h, tag=rnd)
                self.check(procs, run)
        base = self.hist["incidents"]
        for h, what in (("off", "history off"),
                        ("topic", "kafka.history")):
            print("%-10s %s: rate x%s, the correlator's cpu x%s, the "
                  "broker's x%s of the history reading every event, run by "
                  "run" % ("  history", what,
                           "/".join("%.3f" % (x[0] / b[0])
                                    for x, b in zip(self.hist[h], base)),
                           "/".join("%.2f" % (x[1] / b[1])
                                    for x, b in zip(self.hist[h], base)),
                           "/".join("%.2f" % (x[2] / b[2])
                                    for x, b in zip(self.hist[h], base))),
                  flush=True)

    def redis_cost(self):
        """N=1 with Redis, its records guarded by seq (as shipped) and
        plain (redis.seq_guard false), in turn, twice (ABAB)."""
        self.redis_start()
        self.rguard = {}
        for rnd in ("a", "b"):
            for g in (True, False):
                procs, run = self.run(1, redis=True, tag=rnd, rguard=g)
                self.check(procs, run)
        print("%-10s seq_guard: rate x%s, the correlator's cpu x%s, "
              "redis-server's x%s of the plain commands, run by run" %
              ("  redis", "/".join("%.3f" % (x[0] / b[0]) for x, b in
                                   zip(self.rguard[True],
                                       self.rguard[False])),
               "/".join("%.2f" % (x[1] / b[1]) for x, b in
                        zip(self.rguard[True], self.rguard[False])),
               "/".join("%.2f" % (x[2] / b[2]) for x, b in
                        zip(self.rguard[True], self.rguard[False]))),
              flush=True)

    def idle(self, procs):
        """The instances with nothing left to do, IDLE_S seconds: what an
        idle correlator costs (its consumer's fetches at the end of each
        partition, the group's heartbeats, the stage's 1 s poll)."""
        c0 = [cpu_s(p.pid) for p in procs]
        b0 = cpu_s(self.broker_pid)
        time.sleep(IDLE_S)
        cores = [(cpu_s(p.pid) - c) / IDLE_S for p, c in zip(procs, c0)]
        print("idle       %d correlators, %d s with nothing to do: %s core "
              "each; broker %.4f core" %
              (len(procs), IDLE_S, "/".join("%.4f" % c for c in cores),
               (cpu_s(self.broker_pid) - b0) / IDLE_S), flush=True)

    def committed(self, topic, kinds=None):
        """(messages, value bytes) of topic, read committed; with kinds (a
        dict), also each key kind's (the key up to its ':') records and
        bytes there."""
        r = subprocess.run(["kcat", "-C", "-b", self.brokers, "-t", topic,
                            "-o", "beginning", "-e", "-q", "-X",
                            "isolation.level=read_committed", "-f",
                            "%S %k\\n"],
                           stdout=subprocess.PIPE, timeout=300)
        n = total = 0
        for line in r.stdout.split(b"\n"):
            f = line.split(b" ", 1)
            if not f[0].lstrip(b"-").isdigit():
                continue
            size = max(int(f[0]), 0)
            n += 1
            total += size
            if kinds is not None:
                k = f[1].split(b":", 1)[0].decode() if len(f) > 1 else "?"
                c = kinds.setdefault(k, [0, 0])
                c[0] += 1
                c[1] += size
        return n, total

    def check(self, procs, run):
        """Stops the run's instances; the committed events against the
        reference (a bound of 60 s for the last commit)."""
        for p in procs:
            rc = stop(p, 30)
            if rc != 0:
                raise SystemExit("scalebench: %s exited %s: see %s" %
                                 (p.name, rc, p.logpath))
        got, ebytes = self.committed("tocsin.incidents.%s" % run)
        if got != self.expect:
            raise SystemExit("scalebench: %s committed %d events, the "
                             "reference has %d" % (run, got, self.expect))
        kinds = {}
        crecs, cbytes = self.committed("tocsin.changelog.%s" % run, kinds)
        print("%-10s %d events committed as the reference (%.1f MiB); the "
              "changelog %d records, %.1f MiB: %.0f bytes per transition "
              "(before compaction; %s)" %
              ("  check", got, ebytes / 1048576.0, crecs,
               cbytes / 1048576.0, cbytes / float(self.alarms),
               ", ".join("%s: %d records, %.1f MiB" %
                         (k, v[0], v[1] / 1048576.0)
                         for k, v in sorted(kinds.items()))), flush=True)

    def rebuild(self, run):
        p = self.start(1, 9, run)
        end = time.monotonic() + RUN_S
        while time.monotonic() < end and not (
                http_get(p.port, "/readyz")[0] == 200):
            if p.poll() is not None:
                raise SystemExit("scalebench: the rebuild instance exited")
            time.sleep(0.1)
        time.sleep(0.5)
        stop(p)
        ms = incs = recs = 0
        worst = (0, 0)
        with open(p.logpath) as f:
            for line in f:
                m = re.search(r"rebuilt from the changelog records=(\d+) "
                              r"incidents=(\d+) .*rebuild_ms=(\d+)", line)
                if m:
                    recs += int(m.group(1))
                    incs += int(m.group(2))
                    ms += int(m.group(3))
                    worst = max(worst, (int(m.group(2)), int(m.group(3))))
        if incs == 0:
            raise SystemExit("scalebench: the new instance rebuilt nothing")
        print("rebuild    %d partitions, %d open incidents from %d changelog "
              "records in %d ms: %.0f ms per 10,000 open incidents (the "
              "largest partition: %d incidents, %d ms)" %
              (P, incs, recs, ms, ms * 10000.0 / incs, worst[0], worst[1]),
              flush=True)

    def main(self):
        self.rates = {}
        print("scalebench: seed %d, %d sites, P=%d, a tick every %d s, up to "
              "%d correlators; %d cores" % (SEED, SITES, P, TICK, MAXN,
                                            os.cpu_count()), flush=True)
        self.generate()
        self.reference()
        self.baseline()
        self.broker()
        self.produce()
        self.floor()
        self.warm()
        for n in range(1, MAXN + 1):
            procs, run = self.run(n)
            self.check(procs, run)
            if n == 1:
                self.rebuild(run)
                self.history_cost()
                if shutil.which("redis-server") is not None:
                    self.redis_cost()
        print("summary    transitions/s: role all %.0f, floor %.0f, %s" %
              (self.base_rate, self.floor_rate,
               ", ".join("%d correlator%s %.0f" % (n, "s" if n > 1 else "",
                                                   r)
                         for n, r in sorted(self.rates.items()))),
              flush=True)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                            os.path.join(ROOT, "build/default"))
    for tool in ("kcat", "java"):
        if shutil.which(tool) is None:
            raise SystemExit("scalebench: needs %s (make deps)" % tool)
    b = Bench(build)
    try:
        b.main()
    finally:
        b.fini()


if __name__ == "__main__":
    main()
