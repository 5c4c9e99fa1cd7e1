"""test_check.py - the soak checker (check.py) judged on small runs.

    python3 -m unittest tests/soak/test_check.py

Each test writes a synthetic run directory (run.json, faults.jsonl,
chaos.jsonl, incidents.jsonl, samples.csv) and serves its Redis from a fake
RESP server on a free 127.0.0.1 port, then runs check.py as the harness
does (a subprocess) and reads its verdict lines.  A clean run must pass;
each broken run must fail with the right check, and only that one, so a
checker that passes everything (or fails everything) is caught.
"""
import json
import os
import random
import shutil
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check.py")
T0 = 1800000000000              # 2027-01-15, a run's start
SEC, MIN, HOUR = 1000, 60000, 3600000
CHECKS = ("faults", "seq", "redis", "clocks", "resources")


def iso(ms):
    import datetime
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + \
        datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------- a fake Redis

class FakeRedis(socketserver.ThreadingTCPServer):
    """RESP2 server over a dict: key -> ("zset", {member: score}) or
    ("hash", {field: value}).  Answers PING, ZRANGE key 0 -1 [WITHSCORES]
    and HGETALL; anything else is an error reply."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.data = {}
        super().__init__(("127.0.0.1", 0), RespHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


class RespHandler(socketserver.StreamRequestHandler):
    def read_command(self):
        line = self.rfile.readline()
        if not line:
            return None
        assert line[:1] == b"*", line
        args = []
        for _ in range(int(line[1:-2])):
            n = int(self.rfile.readline()[1:-2])
            args.append(self.rfile.read(n + 2)[:-2].decode())
        return args

    @staticmethod
    def bulk(s):
        b = str(s).encode()
        return b"$%d\r\n%s\r\n" % (len(b), b)

    def array(self, items):
        return b"*%d\r\n" % len(items) + b"".join(self.bulk(i) for i in items)

    def handle(self):
        data = self.server.data
        while True:
            cmd = self.read_command()
            if cmd is None:
                return
            name = cmd[0].upper()
            if name == "PING":
                out = b"+PONG\r\n"
            elif name == "ZRANGE":
                kind, z = data.get(cmd[1], ("zset", {}))
                items = sorted(z.items(), key=lambda kv: (kv[1], kv[0]))
                flat = []
                for m, s in items:
                    flat.append(m)
                    if "WITHSCORES" in [a.upper() for a in cmd[4:]]:
                        flat.append("%d" % s)
                out = self.array(flat)
            elif name == "HGETALL":
                kind, h = data.get(cmd[1], ("hash", {}))
                flat = []
                for k, v in h.items():
                    flat += [k, v]
                out = self.array(flat)
            else:
                out = b"-ERR unknown command '%s'\r\n" % name.encode()
            self.wfile.write(out)


# ------------------------------------------------------- a synthetic run

def alarm(device, code, active, raised, cleared=None, cycles=0):
    return {"device": device, "code": code, "severity": "critical",
            "active": active, "raised_at": iso(raised),
            "cleared_at": iso(cleared) if cleared else None, "repeats": 0,
            "cycles": cycles, "flapping": False}


def clock(state, deadline, paused=False):
    return {"state": state, "deadline": iso(deadline) if deadline else None,
            "remaining_ms": 0, "paused": paused, "met": state == "stopped",
            "breached": False}


def step(at, action, note="", actor="tocsin"):
    return {"at": iso(at), "actor": actor, "action": action, "note": note}


class Scenario:
    """A 20-minute run: a mains failure at S1 (MAINS_FAIL, then
    BATT_DISCHARGE, its consequence), a silent device D2 at S2
    (COMM_LOSS), a slow device D3 at S3 that must not alarm; tocsind
    killed at 8 min and restarted 5 s later; one redelivered event."""

    def __init__(self, resolve_shift=0, rss_per_min=0.0):
        self.run = {"seed": 7, "duration_s": 1200, "devices": 30,
                    "started_ms": T0, "ended_ms": T0 + 20 * MIN,
                    "bootstrap": "127.0.0.1:9092", "redis": None,
                    "redis_prefix": "tocsin:", "http": "http://127.0.0.1:1",
                    "tocsind_restarts": 1, "kafka": "mock", "netns": False,
                    "disk_full": False, "config": "tocsin.yaml"}
        self.faults = [
            {"start_ms": T0 + 1 * MIN, "end_ms": T0 + 6 * MIN, "site": "S1",
             "device": None, "kind": "mains_fail", "expect": ["MAINS_FAIL"]},
            {"start_ms": T0 + 2 * MIN, "end_ms": T0 + 4 * MIN, "site": "S2",
             "device": "D2", "kind": "silent", "expect": ["COMM_LOSS"]},
            {"start_ms": T0 + 3 * MIN, "end_ms": T0 + 5 * MIN, "site": "S3",
             "device": "D3", "kind": "delay", "expect": []},
        ]
        self.chaos = [
            {"t_ms": T0 + 8 * MIN, "kind": "kill9", "detail": None},
            {"t_ms": T0 + 8 * MIN + 5 * SEC, "kind": "restart",
             "detail": None},
            {"t_ms": T0 + 10 * MIN, "kind": "redis_restart", "detail": None},
        ]
        self.events = []            # (id, seq, line)
        self.build_inc1(resolve_shift)
        self.build_inc2()
        # a redelivery: INC-1-1 seq 2 again, byte for byte, after seq 3
        i = self.events.index(self.find("INC-1-1", 3))
        self.events.insert(i + 1, self.find("INC-1-1", 2))
        self.redis = self.build_redis()
        self.samples = self.build_samples(rss_per_min)

    def event(self, iid, seq, typ, at, site, state, alarms, clocks, tl,
              steps, opened):
        inc = {"id": iid, "kind": "site", "site": site, "area": "A1",
               "severity": "critical", "state": state, "owner": None,
               "opened_at": iso(opened),
               "root_cause": {"device": alarms[0]["device"],
                              "alarm": alarms[0]["code"],
                              "raised_at": alarms[0]["raised_at"]},
               "alarms": alarms,
               "customers": [{"id": "c1", "tier": "standard"}],
               "tier": "standard", "planned": False, "chronic": False,
               "chronic_of": [], "flapping": False, "flap_cycles": 0,
               "repeats": 0, "clocks": clocks, "escalation_level": None,
               "response_score": None, "resolution_grade": None,
               "area_incident": None, "timeline_len": tl}
        line = json.dumps({"schema": "tocsin.incident/1", "event": typ,
                           "seq": seq, "at": iso(at), "incident": inc,
                           "steps": steps}, separators=(",", ":"))
        self.events.append((iid, seq, line))
        return line

    def find(self, iid, seq):
        """The (id, seq, line) of iid's event seq (the first)."""
        return [e for e in self.events if e[:2] == (iid, seq)][0]

    def drop(self, iid, seq):
        """Removes iid's event seq (every copy) from the topic."""
        self.events = [e for e in self.events if e[:2] != (iid, seq)]

    def brief_incident(self, iid, site, device, code, o, clocks=None):
        """An incident at site opened at o by device's code, the alarm
        cleared a minute later and the incident closed a minute after."""
        clocks = clocks or {}
        self.event(iid, 1, "opened", o, site, "open",
                   [alarm(device, code, True, o)], clocks, 1,
                   [step(o, "opened")], o)
        self.event(iid, 2, "closed", o + 2 * MIN, site, "closed",
                   [alarm(device, code, False, o, o + MIN)], clocks, 2,
                   [step(o + 2 * MIN, "closed")], o)

    def build_inc1(self, shift):
        o = T0 + 1 * MIN + 5 * SEC
        b = T0 + 1 * MIN + 40 * SEC
        ack, res = o + HOUR, o + 8 * HOUR
        run = {"ack": clock("running", ack),
               "arrive": clock("idle", None),
               "resolve": clock("running", res)}
        acked = dict(run, ack=clock("stopped", ack))
        a1 = [alarm("S1-rect", "MAINS_FAIL", True, o)]
        a2 = a1 + [alarm("S1-batt", "BATT_DISCHARGE", True, b)]
        c = T0 + 6 * MIN + 5 * SEC
        a4 = [alarm("S1-rect", "MAINS_FAIL", False, o, c),
              alarm("S1-batt", "BATT_DISCHARGE", False, b, c)]
        self.event("INC-0-1", 1, "opened", o, "S1", "open", a1, run, 1,
                   [step(o, "opened", "MAINS_FAIL on S1-rect")], o)
        self.event("INC-0-1", 2, "updated", b, "S1", "open", a2, run, 2,
                   [step(b, "alarm", "BATT_DISCHARGE on S1-batt")], o)
        t3 = T0 + 3 * MIN
        self.event("INC-0-1", 3, "acknowledged", t3, "S1", "acknowledged",
                   a2, acked, 3, [step(t3, "acknowledged", "", "alice")], o)
        self.event("INC-0-1", 4, "updated", c, "S1", "cleared", a4, acked, 4,
                   [step(c, "cleared")], o)
        # after the restart: the resolve clock's warning, same deadline
        t5 = T0 + 9 * MIN
        after = dict(acked, resolve=clock("running", res + shift))
        self.inc1_last = self.event(
            "INC-0-1", 5, "sla_warning", t5, "S1", "cleared", a4, after, 5,
            [step(t5, "sla_warning", "resolve clock at 50%")], o)
        self.inc1_deadline = res + shift
        self.inc1_opened = o

    def build_inc2(self):
        o = T0 + 2 * MIN + 20 * SEC
        c = T0 + 4 * MIN + 10 * SEC
        run = {"ack": clock("running", o + HOUR),
               "arrive": clock("idle", None),
               "resolve": clock("running", o + 8 * HOUR)}
        stopped = {k: clock("stopped", v["deadline"] and o + HOUR)
                   for k, v in run.items()}
        up = [alarm("D2", "COMM_LOSS", True, o)]
        down = [alarm("D2", "COMM_LOSS", False, o, c)]
        self.event("INC-1-1", 1, "opened", o, "S2", "open", up, run, 1,
                   [step(o, "opened", "COMM_LOSS on D2")], o)
        self.event("INC-1-1", 2, "updated", c, "S2", "cleared", down, run, 2,
                   [step(c, "cleared")], o)
        t = T0 + 5 * MIN
        self.event("INC-1-1", 3, "resolved", t, "S2", "resolved", down,
                   stopped, 4, [step(t, "resolved", "", "bob"),
                                step(t, "scored", "response score 5")], o)
        t = T0 + 6 * MIN
        self.event("INC-1-1", 4, "closed", t, "S2", "closed", down, stopped,
                   5, [step(t, "closed", "", "bob")], o)

    def build_redis(self):
        p = "tocsin:"
        return {
            p + "incidents:open": ("zset", {"INC-0-1": self.inc1_opened}),
            p + "deadlines": ("zset", {"INC-0-1": self.inc1_deadline}),
            p + "incident:INC-0-1": ("hash", {
                "json": self.inc1_last, "id": "INC-0-1", "state": "cleared",
                "severity": "critical", "site": "S1", "area": "A1",
                "seq": "5", "opened_at": str(self.inc1_opened),
                "updated_at": str(T0 + 9 * MIN),
                "deadline": str(self.inc1_deadline)}),
            p + "incident:INC-1-1": ("hash", {
                "id": "INC-1-1", "state": "closed", "seq": "4",
                "site": "S2", "deadline": "0"}),
            p + "site:S1": ("hash", {"state": "cleared",
                                     "incident": "INC-0-1",
                                     "inc:INC-0-1": "cleared"}),
            p + "site:S2": ("hash", {"state": "ok"}),
        }

    def build_samples(self, rss_per_min):
        rnd = random.Random(15)
        rows = []
        for t in range(T0, T0 + 20 * MIN + 1, 5 * SEC):
            if T0 + 8 * MIN <= t < T0 + 8 * MIN + 5 * SEC:
                continue                # down
            pid = 100 if t < T0 + 8 * MIN else 200
            base = 200000 if pid == 100 else 150000
            if pid == 200 and t < T0 + 9 * MIN:       # its own warm-up
                base -= (T0 + 9 * MIN - t) / 1000.0 * 500
            rss = base + rnd.randint(-300, 300) + rss_per_min * (t - T0) / MIN
            fds = 60 + rnd.choice((-1, 0, 0, 1))
            rows.append("%d,%d,%d,%d" % (t, pid, rss, fds))
        return rows

    def write(self, path, redis_addr):
        def put(name, text):
            with open(os.path.join(path, name), "w") as f:
                f.write(text)

        def lines(rows):
            return "".join(r + "\n" for r in rows)

        put("run.json", json.dumps(dict(self.run, redis=redis_addr)))
        put("tocsin.yaml", "daemon:\n  shards: 2\nmodbus:\n  # polls\n"
                           "  interval: 2s\n  comm_loss_misses: 4\n"
                           "redis:\n  port: 1\n")
        put("faults.jsonl", lines(json.dumps(r) for r in self.faults))
        put("chaos.jsonl", lines(json.dumps(r) for r in self.chaos))
        put("incidents.jsonl", lines(line for _, _, line in self.events))
        put("samples.csv", lines(["t_ms,pid,rss_kb,fds"] + self.samples))


# ------------------------------------------------------------------ tests

class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = FakeRedis()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="soakcheck-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def judge(self, sc, redis_addr=None, args=()):
        """Write the run, serve its Redis, run check.py; returns (exit,
        {check: "ok"|"FAIL"}, output)."""
        self.redis.data = sc.redis
        sc.write(self.dir, redis_addr or self.redis.addr)
        p = subprocess.run([sys.executable, CHECK, self.dir] + list(args),
                           capture_output=True, text=True, timeout=60)
        verdicts = {}
        for line in p.stdout.splitlines():
            if line.startswith("check "):
                name, rest = line[6:].split(": ", 1)
                verdicts[name] = rest.split(" ", 1)[0]
        return p.returncode, verdicts, p.stdout + p.stderr

    def assertOnlyFails(self, sc, failing, *needles, **kw):
        code, v, out = self.judge(sc, **kw)
        want = {c: ("FAIL" if c in failing else "ok") for c in CHECKS}
        self.assertEqual(v, want, out)
        self.assertEqual(code, 1 if failing else 0, out)
        for n in needles:
            self.assertIn(n, out)
        return out

    def test_clean_run_passes(self):
        out = self.assertOnlyFails(Scenario(), ())
        self.assertIn("soak check: PASS (5 of 5 checks ok)", out)
        self.assertIn("incidents expected vs found: 2 expected, 2 found",
                      out)
        self.assertIn("events lost: 0 (must be 0)", out)
        self.assertIn("duplicates applied: 0 (must be 0)", out)
        self.assertIn("redelivered: 1", out)
        self.assertIn("faults injected by kind: delay 1, mains_fail 1, "
                      "silent 1", out)
        self.assertIn("found by kind: mains_fail 1/1, silent 1/1", out)
        self.assertIn("checked: INC-0-1", out)
        self.assertIn("RSS slope: ", out)
        self.assertIn("plot: " + os.path.join(self.dir, "resources.png"),
                      out)
        self.assertIn("delay_ms 38000 = 2000 x 4 + 30000", out)

    def test_plot_is_a_png(self):
        self.judge(Scenario())
        with open(os.path.join(self.dir, "resources.png"), "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        pos, chunks = 8, {}
        while pos < len(data):
            n, tag = struct.unpack(">I4s", data[pos:pos + 8])
            body = data[pos + 8:pos + 8 + n]
            crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
            self.assertEqual(crc, zlib.crc32(tag + body) & 0xffffffff)
            chunks[tag] = chunks.get(tag, b"") + body
            pos += 12 + n
        w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
        self.assertEqual((depth, ctype), (8, 2))
        raw = zlib.decompress(chunks[b"IDAT"])
        self.assertEqual(len(raw), h * (1 + 3 * w))
        colours = {raw[i:i + 3] for y in range(h)
                   for i in range(y * (1 + 3 * w) + 1, (y + 1) * (1 + 3 * w),
                                  3)}
        self.assertIn(bytes((210, 30, 30)), colours)   # the restart line
        self.assertIn(bytes((30, 80, 200)), colours)   # the RSS curve

    def test_missing_seq_fails_seq(self):
        sc = Scenario()
        sc.drop("INC-0-1", 3)
        self.assertOnlyFails(sc, ("seq",), "lost 1",
                             "INC-0-1: seq 3 missing of 1..5",
                             "events lost: 1 (must be 0)")

    def test_same_seq_other_bytes_fails_seq(self):
        sc = Scenario()
        iid, seq, line = sc.find("INC-0-1", 2)
        sc.events.append((iid, seq, line.replace("BATT_DISCHARGE on",
                                                 "BATT_DISCHARGE at")))
        self.assertOnlyFails(sc, ("seq",), "applied twice 1",
                             "duplicates applied: 1 (must be 0)")

    def test_wrong_timeline_len_fails_seq(self):
        sc = Scenario()
        sc.events = [(i, s, l.replace('"timeline_len":5', '"timeline_len":6'))
                     for i, s, l in sc.events]
        self.assertOnlyFails(sc, ("seq",), "INC-0-1 seq 5: timeline_len 6")

    def test_fault_without_incident_fails_faults(self):
        sc = Scenario()
        sc.faults.append({"start_ms": T0 + 10 * MIN, "end_ms": T0 + 12 * MIN,
                          "site": "S9", "device": None, "kind": "mains_fail",
                          "expect": ["MAINS_FAIL"]})
        self.assertOnlyFails(sc, ("faults",), "2 of 3 expected found",
                             "missing: fault #3 mains_fail at S9",
                             "no incident at the site")

    def test_incident_without_fault_fails_faults(self):
        sc = Scenario()
        o = T0 + 12 * MIN
        sc.brief_incident("INC-0-2", "S4", "S4-env", "DOOR_OPEN", o,
                          {"ack": clock("stopped", o + HOUR)})
        self.assertOnlyFails(sc, ("faults",), "1 unexplained",
                             "unexplained: INC-0-2 S4-env/DOOR_OPEN")

    def test_alarm_during_a_fault_that_must_not_alarm_fails_faults(self):
        sc = Scenario()
        o = T0 + 4 * MIN
        sc.brief_incident("INC-0-3", "S3", "D3", "COMM_LOSS", o)
        self.assertOnlyFails(sc, ("faults",),
                             "D3/COMM_LOSS raised at %s during fault #2 "
                             "delay expect []" % iso(o))

    def test_comm_loss_of_an_impaired_device_is_explained(self):
        sc = Scenario()
        sc.run["impaired_devices"] = ["D3"]
        sc.brief_incident("INC-0-3", "S3", "D3", "COMM_LOSS", T0 + 4 * MIN)
        self.assertOnlyFails(sc, ())

    def test_late_incident_fails_faults_unless_a_restart_explains(self):
        # the silent device's COMM_LOSS 3 minutes after the fault began:
        # too late (bound 38 s) ...
        sc = Scenario()
        sc.faults[1]["start_ms"] = T0 + 2 * MIN + 20 * SEC - 3 * MIN
        sc.faults[1]["end_ms"] = T0 + 4 * MIN
        self.assertOnlyFails(sc, ("faults",), "1 of 2 expected found",
                             "missing: fault #1 silent at S2/D2")
        # ... unless tocsind was down meanwhile
        sc.chaos[:0] = [
            {"t_ms": T0 - 1 * MIN, "kind": "kill9", "detail": None},
            {"t_ms": T0 + 1 * MIN + 40 * SEC, "kind": "restart",
             "detail": None}]
        self.assertOnlyFails(sc, ())

    def test_fault_on_a_removed_device_is_waived(self):
        sc = Scenario()
        sc.chaos.insert(0, {"t_ms": T0 + 30 * SEC, "kind": "sighup_remove",
                            "detail": {"devices": ["D7"]}})
        sc.faults.append({"start_ms": T0 + 10 * MIN, "end_ms": None,
                          "site": "S7", "device": "D7", "kind": "silent",
                          "expect": ["COMM_LOSS"]})
        self.assertOnlyFails(sc, (), "waived: fault #3 silent S7/D7: device "
                             "removed by a reload")

    def test_alarm_of_a_removed_device_fails_faults(self):
        # D2 removed by a reload 30 s before its COMM_LOSS: nothing polls
        # it, so nothing may raise on it, whatever its fault says
        sc = Scenario()
        sc.chaos.insert(0, {"t_ms": T0 + 1 * MIN + 50 * SEC,
                            "kind": "sighup_remove", "detail": "D2, D5"})
        self.assertOnlyFails(sc, ("faults",), "unexplained: INC-1-1 "
                             "D2/COMM_LOSS raised at %s: the device was "
                             "removed by a reload" % iso(T0 + 2 * MIN +
                                                         20 * SEC))

    def test_redis_ghost_incident_fails_redis(self):
        sc = Scenario()
        sc.redis["tocsin:incidents:open"][1]["INC-0-77"] = T0
        self.assertOnlyFails(sc, ("redis",), "stale: INC-0-77", "1 stale")

    def test_redis_missing_and_behind_fails_redis(self):
        sc = Scenario()
        del sc.redis["tocsin:incidents:open"][1]["INC-0-1"]
        sc.redis["tocsin:incident:INC-0-1"][1]["seq"] = "4"
        self.assertOnlyFails(sc, ("redis",), "missing: INC-0-1",
                             "incident:INC-0-1: seq 4 state cleared, topic: "
                             "seq 5 cleared")

    def test_redis_site_hash_stale_fails_redis(self):
        sc = Scenario()
        sc.redis["tocsin:site:S2"][1]["inc:INC-1-1"] = "open"
        self.assertOnlyFails(sc, ("redis",), "stale: site:S2 inc:INC-1-1")

    def test_redis_unreachable_fails_redis(self):
        self.assertOnlyFails(Scenario(), ("redis",), "cannot connect to "
                             "127.0.0.1:1", redis_addr="127.0.0.1:1")

    def test_moved_deadline_across_restart_fails_clocks(self):
        sc = Scenario(resolve_shift=90 * SEC)
        self.assertOnlyFails(sc, ("clocks",), "1 moved",
                             "moved: INC-0-1 resolve clock", "(+90.000 s)")

    def test_deadline_from_redis_when_no_event_follows(self):
        # no event after the restart: the restored state in Redis (the
        # resync dump's json) is what is compared
        sc = Scenario()
        sc.drop("INC-0-1", 5)
        last = sc.find("INC-0-1", 4)[2]
        state = json.loads(last)
        state["at"] = iso(T0 + 8 * MIN + 6 * SEC)
        res = state["incident"]["clocks"]["resolve"]
        h = sc.redis["tocsin:incident:INC-0-1"][1]
        h.update(seq="4", json=json.dumps(state))
        self.assertOnlyFails(sc, (), "checked: INC-0-1")
        res["deadline"] = iso(sc.inc1_deadline + 2 * SEC)
        h["json"] = json.dumps(state)
        self.assertOnlyFails(sc, ("clocks",), "redis state at")

    def test_growing_rss_fails_resources(self):
        sc = Scenario(rss_per_min=500.0)     # 2.5 % of 200 MB per 10 min
        self.assertOnlyFails(sc, ("resources",), "RSS +")

    def test_growing_fds_fails_resources(self):
        sc = Scenario()
        rows = []
        for r in sc.samples:            # one more descriptor a minute
            t, pid, rss, fds = r.split(",")
            rows.append("%s,%s,%s,%d" % (t, pid, rss,
                                         int(fds) + (int(t) - T0) // MIN))
        sc.samples = rows
        self.assertOnlyFails(sc, ("resources",), "beyond +-0.50")

    def step_rss(self, sc, at, kib):
        rows = []
        for r in sc.samples:
            t, pid, rss, fds = r.split(",")
            if int(t) >= at:
                rss = str(int(rss) + kib)
            rows.append(",".join((t, pid, rss, fds)))
        sc.samples = rows

    def test_reload_step_is_a_new_level_not_a_slope(self):
        # the new configuration and engines: 7 MiB more from a reload on,
        # flat before and after; its step is printed, not fitted
        sc = Scenario()
        sc.chaos.append({"t_ms": T0 + 10 * MIN, "kind": "sighup_done",
                         "detail": None})
        self.step_rss(sc, T0 + 10 * MIN, 7000)
        self.assertOnlyFails(sc, (), "1 reloads: 3 segments",
                             "reload step RSS +7")

    def test_step_without_a_reload_fails_resources(self):
        sc = Scenario()
        self.step_rss(sc, T0 + 15 * MIN, 7000)
        self.assertOnlyFails(sc, ("resources",), "RSS +")

    def test_heap_columns_are_reported_not_judged(self):
        # the heap flat while the RSS grows: the growth is the allocator's
        # pages or not the heap's, and the line says so
        sc = Scenario(rss_per_min=500.0)
        sc.samples = [r + ",%d,%.1f" % (20000, 26000 + (int(r.split(",")[0])
                                                        - T0) / MIN * 100)
                      for r in sc.samples]
        sc.samples[5] += ",x"       # an odd row is a row still
        self.assertOnlyFails(sc, ("resources",), "RSS +",
                             "(heap 20000-20000 KiB +0.0 KiB/min, "
                             "allocator resident +100.0 KiB/min)")

    def test_no_long_segment_fails_resources(self):
        # a reload every 3 minutes: no stretch long enough to judge
        sc = Scenario()
        sc.chaos += [{"t_ms": T0 + m * MIN, "kind": "sighup_done",
                      "detail": None} for m in (11, 14, 17)]
        self.assertOnlyFails(sc, ("resources",), "no segment long enough")

    def test_thresholds_come_from_run_json(self):
        sc = Scenario(rss_per_min=500.0)
        sc.run["check"] = {"rss_pct_per_10min": 5.0}
        self.assertOnlyFails(sc, ())

    def test_no_run_json_is_exit_2(self):
        p = subprocess.run([sys.executable, CHECK, self.dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("cannot judge", p.stdout)

    def test_unreadable_topic_line_fails_seq(self):
        sc = Scenario()
        sc.events.append(("x", 0, "{not json"))
        self.assertOnlyFails(sc, ("seq",), "not an event: line 11")


if __name__ == "__main__":
    unittest.main()
