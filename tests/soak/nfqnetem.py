#!/usr/bin/env python3
"""nfqnetem.py - netem's delay, jitter (so reordering), loss and
duplication in user space, for kernels without sch_netem.

    ip netns exec NS python3 tests/soak/nfqnetem.py --queue Q --mark M \
        --control FILE [--stats FILE]

tests/soak/soak.py impairs the traffic of the devsim shard it runs in a
network namespace with `tc qdisc ... netem` where the kernel has it
(CONFIG_NET_SCH_NETEM); where it does not, it sends the namespace's
egress on the veth to NFQUEUE number Q

    iptables -t mangle -A POSTROUTING -o VETH -p tcp -m mark ! --mark M \
        -j NFQUEUE --queue-num Q --queue-bypass

and this program, run inside that namespace, gives each packet its
verdict: dropped with probability loss_pct, else accepted after delay_ms
+- jitter_ms (uniform), so packets whose delays cross leave out of order,
and with probability dup_pct a copy is sent again through a raw socket
carrying mark M (the rule above lets it pass). FILE holds the parameters
as JSON ({"delay_ms", "jitter_ms", "loss_pct", "dup_pct"}) and is read
again whenever it changes; all zero passes packets at once. SIGTERM (or
--stats on SIGUSR1) writes one line of counters:

    nfqnetem packets=N dropped=N duplicated=N delayed=N reordered=N max_held=N

Nothing but the Python standard library: the nfnetlink_queue protocol is
spoken directly over an AF_NETLINK socket (netfilter/nfnetlink_queue.h).
The queue fails open (NFQA_CFG_F_FAIL_OPEN: a full queue accepts), and
--queue-bypass accepts everything while no program is bound, so the
impairment can only delay or drop what the parameters say.
"""
import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQA_CFG_MASK, NFQA_CFG_FLAGS = 4, 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1
SO_MARK = 36


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def msg(mtype, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return struct.pack("=IHHII", 16 + len(body),
                       (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, seq, 0) + body


def attrs_of(buf, off, end):
    out = {}
    while off + 4 <= end:
        n, t = struct.unpack_from("=HH", buf, off)
        if n < 4:
            break
        out[t & 0x7fff] = buf[off + 4:off + n]
        off += (n + 3) & ~3
    return out


class Netem:
    def __init__(self, a):
        self.a = a
        self.params = {"delay_ms": 0, "jitter_ms": 0, "loss_pct": 0,
                       "dup_pct": 0}
        self.mtime = None
        self.rnd = random.Random(a.seed)
        self.held = []          # (release, arrival, packet id, copy or None)
        self.arrival = 0
        self.max_released = -1
        self.c = dict(packets=0, dropped=0, duplicated=0, delayed=0,
                      reordered=0, max_held=0)
        self.nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                NETLINK_NETFILTER)
        self.nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        try:
            self.nl.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        except OSError:
            pass
        self.nl.bind((0, 0))
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                 socket.IPPROTO_RAW)
        self.raw.setsockopt(socket.SOL_SOCKET, SO_MARK, a.mark)
        q = a.queue
        self.request(msg(NFQNL_MSG_CONFIG, q, attr(
            NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0,
                                      socket.AF_INET))))
        self.request(msg(NFQNL_MSG_CONFIG, q,
                         attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0xffff,
                                                           NFQNL_COPY_PACKET)) +
                         attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 16384)) +
                         attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)) +
                         attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))))
        self.nl.setblocking(False)

    def request(self, m):
        """A config message, acknowledged; an error stops the program."""
        m = m[:6] + struct.pack("=H", NLM_F_REQUEST | NLM_F_ACK) + m[8:]
        self.nl.send(m)
        buf = self.nl.recv(65536)
        n, t = struct.unpack_from("=IH", buf, 0)
        if t == NLMSG_ERROR:
            err = struct.unpack_from("=i", buf, 16)[0]
            if err != 0:
                sys.exit("nfqnetem: netlink config refused: %s" %
                         os.strerror(-err))

    def control(self):
        try:
            st = os.stat(self.a.control)
        except OSError:
            return
        if st.st_mtime_ns == self.mtime:
            return
        self.mtime = st.st_mtime_ns
        try:
            p = json.load(open(self.a.control))
        except (OSError, ValueError):
            return
        for k in self.params:
            self.params[k] = float(p.get(k, 0) or 0)

    def verdict(self, pid, v):
        self.nl.send(msg(NFQNL_MSG_VERDICT, self.a.queue,
                         attr(NFQA_VERDICT_HDR, struct.pack("!II", v, pid))))

    def packet(self, a):
        hdr = a.get(NFQA_PACKET_HDR)
        if hdr is None:
            return
        pid = struct.unpack_from("!I", hdr, 0)[0]
        self.c["packets"] += 1
        p = self.params
        if p["loss_pct"] and self.rnd.random() * 100 < p["loss_pct"]:
            self.c["dropped"] += 1
            self.verdict(pid, NF_DROP)
            return
        copy = None
        if p["dup_pct"] and self.rnd.random() * 100 < p["dup_pct"]:
            copy = a.get(NFQA_PAYLOAD)
        d = p["delay_ms"] + self.rnd.uniform(-p["jitter_ms"], p["jitter_ms"])
        if d <= 0 and not self.held:
            self.release(pid, copy, self.arrival)
            self.arrival += 1
            return
        self.c["delayed"] += 1
        heapq.heappush(self.held, (time.monotonic() + max(d, 0) / 1000.0,
                                   self.arrival, pid, copy))
        self.arrival += 1
        self.c["max_held"] = max(self.c["max_held"], len(self.held))

    def release(self, pid, copy, arrival):
        self.verdict(pid, NF_ACCEPT)
        if arrival < self.max_released:
            self.c["reordered"] += 1
        self.max_released = max(self.max_released, arrival)
        if copy is not None and len(copy) >= 20:
            dst = socket.inet_ntoa(copy[16:20])
            try:
                self.raw.sendto(copy, (dst, 0))
                self.c["duplicated"] += 1
            except OSError:
                pass

    def drain_socket(self):
        while True:
            try:
                buf = self.nl.recv(1 << 20)
            except BlockingIOError:
                return
            except OSError:
                return      # ENOBUFS: the kernel failed those open
            off = 0
            while off + 16 <= len(buf):
                n, t = struct.unpack_from("=IH", buf, off)
                if n < 16:
                    break
                if t == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    self.packet(attrs_of(buf, off + 20, off + n))
                off += (n + 3) & ~3

    def stats_line(self):
        return "nfqnetem " + " ".join("%s=%d" % kv for kv in self.c.items())

    def loop(self, stop):
        next_ctl = 0.0
        while not stop[0]:
            now = time.monotonic()
            if now >= next_ctl:
                self.control()
                next_ctl = now + 0.5
            while self.held and self.held[0][0] <= now:
                _, arr, pid, copy = heapq.heappop(self.held)
                self.release(pid, copy, arr)
            wait = min(next_ctl, self.held[0][0] if self.held else next_ctl) - now
            r, _, _ = select.select([self.nl], [], [], max(0.0, wait))
            if r:
                self.drain_socket()
        for _, arr, pid, copy in sorted(self.held):
            self.release(pid, None, arr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--mark", type=lambda s: int(s, 0), required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n = Netem(a)
    stop = [False]

    def on_term(signum, frame):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1,
                  lambda s, f: print(n.stats_line(), flush=True))
    print("nfqnetem ready queue=%d mark=0x%x" % (a.queue, a.mark), flush=True)
    n.loop(stop)
    print(n.stats_line(), flush=True)


if __name__ == "__main__":
    main()
