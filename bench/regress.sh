#!/bin/sh
# regress.sh - one build's benchmarks against another's, in one run.
#
#   sh bench/regress.sh [-r ROUNDS] [-b LIST] [-s SITES] [-d DEVICES]
#                       [-t SECONDS] [-x TX] [-k DIR] BASE_BUILD NEW_BUILD
## (ROUNDS defaults to $REGRESS_ROUNDS, else 3.)
#
# BASE_BUILD and NEW_BUILD are build directories (build/default of two
# trees).  Each benchmark runs the same fixed work with the base binary,
# then the new one, ROUNDS times (A B A B ...), so that whatever else the
# shared machine does in those minutes falls on both builds alike (STYLE.md
# point 13: a ratio against a baseline measured in the same run, never a
# bare number compared with yesterday's).
#
# Benchmarks (-b, comma-separated; default all three):
#   slabench   `slabench 1000000 48 300` (its default work, pinned): the
#              engine's advance s, its total s and CPU s, peak RSS.
#   corrbench  `corrbench --sites SITES --seed 20261123` (SITES default
#              10,000: the full day, about 1,070,000 transitions, 20-50 s a
#              run on 2 cores, most of it the Python reference; --small's
#              1,000 sites leave the core phases at ~10 ms, in 1 ms steps,
#              below the noise): the C phases (c e2e, parse, c core
#              with SLA clocks on and off, producer ns/event, one shard's
#              ns/event, the six shard phases, the no-ring ceiling) and peak
#              RSS; and, when both builds print them, the shipped rows:
#              tocsind --replay end to end, config only, replayfloor and
#              corrlite, each its own process (wall, CPU, peak RSS).
#              The Python reference runs too (corrbench has no option
#              to skip it) but is not compared.  The day is generated once,
#              by the new build (a --shards-only run, not measured), from
#              this tree's bench/corrgen.py; both builds read the same files.
#   pollbench  one devsim fleet from the NEW build (DEVICES single-unit
#              gateways, default 10,000, split over ceil(DEVICES/5000)
#              processes as pollbench.sh does: a process may hold 20,000
#              descriptors) serves both clients in turn:
#                pollbench-1s: the whole tower profile with its poll
#                  classes, every device once a second for SECONDS (10):
#                  cores (CPU s / measured s), missed polls, jitter p99,
#                  peak RSS;
#                pollbench-max: maximum rate, every block on every poll,
#                  TX transactions (200,000) after 2 x DEVICES of warm-up:
#                  CPU s per 1,000 transactions;
#                pollbench-daemon: the whole daemon, `tocsind -c` with its
#                  shard threads and file sink, on a config of the same
#                  fleet generated once by this tree's bench/pbdaemon.sh
#                  (input registers, one read per poll, every second) for
#                  SECONDS after 5 s of warm-up: cores (CPU s of every
#                  thread / measured s), missed polls, peak RSS.
#              Use -d 5000 when the machine cannot poll 10,000 devices a
#              second (missed polls in the thousands for both builds).
#
# Same work, or no comparison: before anything runs, each compared binary
# is asked for its usage (an unknown option) and the base's text must equal
# the new one's; after every run the figures that describe the work (sizes,
# seed, events produced, blocks and points polled) must equal the first base
# run's.  Either difference stops the script with exit status 2.
#
# Verdict (one rule for every figure; all of them are lower-is-better):
#   ratio       = median(new) / median(base)
#   ratio range = min(new) / max(base) .. max(new) / min(base)
#                 (0/0 counts as 1, x/0 as infinite)
#   "within noise" when the ratio range contains 1.0, or the ratio is
#   within 0.90..1.10; otherwise "WORSE" above 1, "better" below.
# With few rounds on a noisy machine the range is wide, so "within noise"
# says the run could not tell the builds apart, not that they are equal;
# raise -r to narrow it.
#
# Time: a round (every benchmark once per build) takes about 100 s on an
# idle 2-core machine (plus about 35 s for pollbench-daemon), up to 3
# minutes under load, plus about 40 s once to
# generate corrbench's day and start devsim.
#
# Exit status: 0 every figure within noise or better; 1 some figure WORSE;
# 2 the comparison could not be made (usage, a missing binary, options or
# work differ, a run failed or timed out).
#
# Processes: every one is started in the background and waited for by PID,
# under timeout(1) (slabench 300 s, corrbench 600 s, a pollbench client
# SECONDS + 150 s at 1 s and 270 s at maximum rate, devsim ready 20 s); on exit or a signal the running one
# and the simulators are stopped by PID (TERM, then KILL after 3 s).
# Everything binds 127.0.0.0/8: devsim's fleet starts at a free port on
# 127.X.0.1, X in 250..254 (the block no test uses: docs/testing.md).
# Temporary files live in one mktemp directory, removed on exit; -k DIR
# keeps every run's raw output there.
set -u

ROUNDS=${REGRESS_ROUNDS:-3}
BENCHES=slabench,corrbench,pollbench
SITES=10000
SEED=20261123
DEVICES=10000
IV_S=10
MAX_TX=200000
KEEP=""
SLA_ARGS="1000000 48 300"

usage() {
	echo "usage: sh bench/regress.sh [-r ROUNDS] [-b slabench,corrbench,pollbench]" >&2
	echo "           [-s SITES] [-d DEVICES] [-t SECONDS] [-x TX] [-k DIR]" >&2
	echo "           BASE_BUILD NEW_BUILD" >&2
	exit 2
}

while getopts r:b:s:d:t:x:k:h opt; do
	case $opt in
	r) ROUNDS=$OPTARG ;;
	b) BENCHES=$OPTARG ;;
	s) SITES=$OPTARG ;;
	d) DEVICES=$OPTARG ;;
	t) IV_S=$OPTARG ;;
	x) MAX_TX=$OPTARG ;;
	k) KEEP=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
for v in "$ROUNDS" "$SITES" "$DEVICES" "$IV_S" "$MAX_TX"; do
	case $v in
	''|*[!0-9]*) echo "regress: not a positive integer: '$v'" >&2; usage ;;
	esac
	[ "$v" -ge 1 ] || { echo "regress: must be at least 1: $v" >&2; usage; }
done
for b in $(echo "$BENCHES" | tr ',' ' '); do
	case $b in
	slabench|corrbench|pollbench) ;;
	*) echo "regress: unknown benchmark '$b'" >&2; usage ;;
	esac
done
want() { case ",$BENCHES," in *",$1,"*) return 0 ;; esac; return 1; }

msg() { echo "regress: $*" >&2; }
die() { echo "regress: error: $*" >&2; exit 2; }

for t in python3 timeout ps diff; do
	command -v "$t" >/dev/null 2>&1 || die "needs $t"
done
# Absolute paths: every run's working directory is the temporary one.
BASE=$(cd "$1" 2>/dev/null && pwd) || die "no build directory $1"
NEW=$(cd "$2" 2>/dev/null && pwd) || die "no build directory $2"
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$SRC/bench/corrgen.py" ] || die "no $SRC/bench/corrgen.py"
PBD=$SRC/bench/pbdaemon.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/regress.XXXXXX") || die "mktemp failed"
OUT=$TMP/out
mkdir -p "$OUT" "$TMP/run" "$TMP/data"
CUR=""		# PID of the bounded run under way (its timeout process)
SIMPIDS=""	# devsim processes
T_START=$(date +%s)

# A PID that still runs (a zombie does not: it is only waiting to be reaped).
alive() {
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $s in Z*|'') return 1 ;; esac
	return 0
}

# stop_pid PID: TERM, up to 3 s, then KILL; reaps it.
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while alive "$1" && [ $i -lt 30 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

stop_sims() {
	for p in $SIMPIDS; do
		stop_pid "$p"
	done
	SIMPIDS=""
}

cleanup() {
	[ -n "$CUR" ] && stop_pid "$CUR"
	CUR=""
	stop_sims
	if [ -n "$KEEP" ]; then
		mkdir -p "$KEEP" && cp "$OUT"/* "$KEEP"/ 2>/dev/null &&
		    msg "raw outputs kept in $KEEP"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'msg "stopped by a signal"; exit 2' INT TERM HUP

# The parser and the statistics, in Python (medians, regexes).
PY=$TMP/regress.py
cat >"$PY" <<'EOF'
"""Reads the benchmarks' own output lines; see regress.sh for the rule."""
import math
import os
import re
import statistics
import sys

NOISE = 0.10	# "within noise" when the median ratio is within 1 +- NOISE


class Unparsed(Exception):
	pass


def need(pattern, text, what):
	m = re.search(pattern, text, re.M)
	if m is None:
		raise Unparsed("no %s line (pattern %r)" % (what, pattern))
	return m


def fields(line):
	"""key=value pairs of a pb_stats-style line."""
	return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def slabench(text):
	h = need(r"^slabench: (\d+) incidents x 3 clocks, (\d+) steps of 1 s "
	    r"\((\d+) h\)", text, "header")
	e = need(r"^engine: +\d+ steps, advance ([\d.]+) s .*total ([\d.]+) s, "
	    r"cpu ([\d.]+) s", text, "engine")
	fired = need(r"^ +fired .*$", text, "fired").group(0).strip()
	due = need(r"^baseline: +(\d+) steps.*due seen (\d+)", text, "baseline")
	rss = need(r"peak RSS (\d+) KB", text, "memory")
	ident = ["%s incidents x 3 clocks, %s steps (%s h), baseline %s steps"
	    % (h.group(1), h.group(2), h.group(3), due.group(1)), fired,
	    "baseline due seen " + due.group(2)]
	fig = {"advance_s": float(e.group(1)), "total_s": float(e.group(2)),
	    "cpu_s": float(e.group(3)), "peak_rss_kib": float(rss.group(1))}
	return ident, fig


SLA_FIGS = [("advance_s", "engine advance, s"), ("total_s", "engine total, s"),
    ("cpu_s", "engine CPU, s"), ("peak_rss_kib", "peak RSS, KiB")]

CORR_ROWS = [
	("c e2e (replay_run)", "c_e2e", True),
	("c parse into memory", "c_parse", False),
	("c core (1 engine, best of 3)", "c_core", True),
	("c core, SLA clocks off", "c_core_nosla", True),
	("1 shard, live push", "sh1_live", False),
	("2 shards, live push", "sh2_live", False),
	("1 shard, live batch push", "sh1_batch", False),
	("2 shards, live batch push", "sh2_batch", False),
	("1 shard, pre-filled ring", "sh1_prefill", False),
	("2 shards, pre-filled rings", "sh2_prefill", False),
]
# Rows of the shipped phases (replay as a process of its own against its
# baselines): read when present, so a base build from before they existed
# still compares on every other figure.
CORR_OPT_ROWS = [
	("floor (replayfloor)", "floor", True),
	("tocsind --replay e2e", "tocsind_e2e", True),
	("tocsind --replay, no lines", "tocsind_cfg", True),
	("corrlite (python)", "corrlite", True),
]


def corrbench(text):
	h = need(r"^corrbench: seed=(\d+) sites=(\d+) devices=(\d+) "
	    r"transitions=(\d+)", text, "header")
	day = need(r"^ +day: .*$", text, "day").group(0).strip()
	sla = need(r"^ +sla: (warnings=\d+ breaches=\d+ escalations=\d+ "
	    r"\(events without clocks: \d+\))", text, "sla").group(1)
	shev = need(r"^ +shard events: .*$", text, "shard events").group(0).strip()
	fig = {}
	for name, key, cpu in CORR_ROWS:
		m = need(r"^ +" + re.escape(name) + r" +([\d.]+) +([\d.]+) ", text,
		    name)
		fig[key + "_s"] = float(m.group(1))
		if cpu:
			fig[key + "_cpu_s"] = float(m.group(2))
	p = need(r"producer alone: ([\d.]+) ns/event one per push, ([\d.]+) "
	    r"ns/event batched.* c = ([\d.]+) ns/event", text, "producer")
	fig["prod_one_ns"] = float(p.group(1))
	fig["prod_batch_ns"] = float(p.group(2))
	fig["shard_c_ns"] = float(p.group(3))
	c = need(r"ceiling, no rings: .* in turn ([\d.]+) s, on 2 threads "
	    r"([\d.]+) s", text, "ceiling")
	fig["ceil_turn_s"] = float(c.group(1))
	fig["ceil_2thr_s"] = float(c.group(2))
	fig["peak_rss_kib"] = float(need(r"^ +process: .*peak_rss=(\d+) KiB",
	    text, "process").group(1))
	for name, key, cpu in CORR_OPT_ROWS:
		m = re.search(r"^ +" + re.escape(name) + r" +([\d.]+) +([\d.]+) "
		    r".*peak_rss=(\d+) KiB", text, re.M)
		if m is None:
			continue
		fig[key + "_s"] = float(m.group(1))
		fig[key + "_cpu_s"] = float(m.group(2))
		fig[key + "_rss_kib"] = float(m.group(3))
	ident = ["seed=%s sites=%s devices=%s transitions=%s" % h.groups(), day,
	    sla, shev]
	return ident, fig


CORR_FIGS = [
	("c_e2e_s", "c e2e, wall s"), ("c_e2e_cpu_s", "c e2e, CPU s"),
	("c_parse_s", "c parse into memory, wall s"),
	("c_core_s", "c core clocks on, wall s"),
	("c_core_cpu_s", "c core clocks on, CPU s"),
	("c_core_nosla_s", "c core clocks off, wall s"),
	("c_core_nosla_cpu_s", "c core clocks off, CPU s"),
	("prod_one_ns", "producer, ns/event 1/push"),
	("prod_batch_ns", "producer, ns/event 64/push"),
	("shard_c_ns", "1 shard alone, CPU ns/event"),
	("sh1_live_s", "1 shard live push, s"), ("sh2_live_s", "2 shards live push, s"),
	("sh1_batch_s", "1 shard live batch, s"),
	("sh2_batch_s", "2 shards live batch, s"),
	("sh1_prefill_s", "1 shard pre-filled, s"),
	("sh2_prefill_s", "2 shards pre-filled, s"),
	("ceil_turn_s", "ceiling halves in turn, s"),
	("ceil_2thr_s", "ceiling 2 threads, s"),
	("peak_rss_kib", "peak RSS, KiB"),
	("tocsind_e2e_s", "tocsind --replay e2e, wall s"),
	("tocsind_e2e_cpu_s", "tocsind --replay e2e, CPU s"),
	("tocsind_e2e_rss_kib", "tocsind --replay, peak RSS KiB"),
	("tocsind_cfg_s", "tocsind config only, wall s"),
	("floor_s", "replayfloor, wall s"),
	("corrlite_s", "corrlite (python), wall s"),
]


def pbdaemon(text):
	line = need(r"^pollbench client=tocsind .*$", text, "pb_stats").group(0)
	det = need(r"^pollbench tocsin detail .*process=tocsind .*$", text,
	    "detail").group(0)
	f, d = fields(line), fields(det)
	try:
		ident = ["devices=%s interval_ms=%s" % (f["devices"],
		    f["interval_ms"]), "blocks=%s reads_per_poll=%s points=%s "
		    "shards=%s" % (d["blocks"], d["reads_per_poll"], d["points"],
		    d["shards"])]
		secs, cpu = float(f["secs"]), float(f["cpu_s"])
		fig = {"cores": cpu / secs if secs > 0 else float("nan"),
		    "missed": float(f["missed"]),
		    "peak_rss_kib": float(f["maxrss_kb"])}
	except (KeyError, ValueError) as e:
		raise Unparsed("pbdaemon line without %s" % e)
	return ident, fig


def pollbench(text):
	line = need(r"^pollbench client=.*$", text, "pb_stats").group(0)
	det = need(r"^pollbench tocsin detail .*$", text, "detail").group(0)
	f, d = fields(line), fields(det)
	try:
		ident = ["devices=%s conns=%s interval_ms=%s" % (f["devices"],
		    f["conns"], f["interval_ms"]),
		    "blocks=%s reads_per_poll=%s classes=%s points=%s "
		    "poll_interval_ms=%s" % (d["blocks"], d["reads_per_poll"],
		    d["classes"], d["points"], d["poll_interval_ms"])]
		secs, cpu = float(f["secs"]), float(f["cpu_s"])
		fig = {"cores": cpu / secs if secs > 0 else float("nan"),
		    "missed": float(f["missed"]),
		    "jitter_p99_us": float(f["jitter_p99_us"]),
		    "peak_rss_kib": float(f["maxrss_kb"]),
		    "cpu_s_per_1k": float(f["cpu_s_per_1k"])}
	except (KeyError, ValueError) as e:
		raise Unparsed("pollbench line without %s" % e)
	return ident, fig


PB1_FIGS = [("cores", "cores (CPU s / s)"), ("missed", "missed polls"),
    ("jitter_p99_us", "jitter p99, us"), ("peak_rss_kib", "peak RSS, KiB")]
PBMAX_FIGS = [("cpu_s_per_1k", "CPU s per 1,000 tx")]
PBD_FIGS = [("cores", "cores (CPU s / s)"), ("missed", "missed polls"),
    ("peak_rss_kib", "peak RSS, KiB")]

BENCH = {
	"slabench": (slabench, SLA_FIGS),
	"corrbench": (corrbench, CORR_FIGS),
	"pollbench-1s": (pollbench, PB1_FIGS),
	"pollbench-max": (pollbench, PBMAX_FIGS),
	"pollbench-daemon": (pbdaemon, PBD_FIGS),
}


def parse(bench, path):
	with open(path) as fp:
		return BENCH[bench][0](fp.read())


def div(a, b):
	if b == 0:
		return 1.0 if a == 0 else math.inf
	return a / b


COUNTS = ("peak_rss_kib", "missed", "jitter_p99_us", "tocsind_e2e_rss_kib")	# printed as integers


def fmt(v, key=""):
	if math.isinf(v) or math.isnan(v):
		return str(v)
	if key in COUNTS and v == int(v):
		return "%d" % v
	a = abs(v)
	if a >= 1000:
		return "%.0f" % v
	if a >= 100:
		return "%.1f" % v
	if a >= 10:
		return "%.2f" % v
	if a >= 1 or a == 0:
		return "%.3f" % v
	return "%.4f" % v


def rfmt(v):
	return str(v) if math.isinf(v) else "%.3f" % v


def verdict(base, new):
	"""(ratio, lo, hi, verdict) by the rule in regress.sh's header."""
	r = div(statistics.median(new), statistics.median(base))
	lo, hi = div(min(new), max(base)), div(max(new), min(base))
	if lo <= 1.0 <= hi or abs(r - 1.0) <= NOISE + 1e-12:
		return r, lo, hi, "within noise"
	return r, lo, hi, "WORSE" if r > 1.0 else "better"


def report(outdir, rounds, benches):
	worse = better = total = 0
	for bench in benches:
		figs = BENCH[bench][1]
		runs = {"base": [], "new": []}
		for side in runs:
			for r in range(1, rounds + 1):
				runs[side].append(parse(bench, os.path.join(outdir,
				    "%s-%s-%d.out" % (bench, side, r))))
		print("== %s: %s" % (bench, "; ".join(runs["base"][0][0][:1])))
		print("  %-29s %-26s %-26s %-22s %s" % ("figure",
		    "base median [min..max]", "new median [min..max]",
		    "new/base [range]", "verdict"))
		for key, label in figs:
			if any(key not in run[1] for side in runs
			    for run in runs[side]):
				print("  %-29s (not printed by both builds)" % label)
				continue
			b = [run[1][key] for run in runs["base"]]
			n = [run[1][key] for run in runs["new"]]
			r, lo, hi, v = verdict(b, n)
			total += 1
			worse += v == "WORSE"
			better += v == "better"
			print("  %-29s %-26s %-26s %-22s %s" % (label,
			    "%s [%s..%s]" % (fmt(statistics.median(b), key),
			    fmt(min(b), key), fmt(max(b), key)),
			    "%s [%s..%s]" % (fmt(statistics.median(n), key),
			    fmt(min(n), key), fmt(max(n), key)),
			    "%s [%s..%s]" % (rfmt(r), rfmt(lo), rfmt(hi)), v))
		print()
	print("rule: ratio = median(new)/median(base), range = min(new)/max(base)"
	    " .. max(new)/min(base)")
	print("      (0/0 = 1, x/0 = inf); \"within noise\" when the range contains"
	    " 1.0 or the ratio")
	print("      is within %.2f..%.2f; else WORSE (above) or better (below):"
	    " every figure" % (1 - NOISE, 1 + NOISE))
	print("      is lower-is-better.  Rounds per build: %d, interleaved base,"
	    " new, base, new ..." % rounds)
	print("summary: %d figures: %d within noise, %d better, %d WORSE" %
	    (total, total - worse - better, better, worse))
	return 1 if worse else 0


def main(argv):
	try:
		if argv[1] == "identity":
			print(" | ".join(parse(argv[2], argv[3])[0]))
			return 0
		if argv[1] == "brief":	# one progress line's figures
			fig = parse(argv[2], argv[3])[1]
			print(" ".join("%s=%s" % (k, fmt(fig[k], k))
			    for k, _ in BENCH[argv[2]][1][:4]))
			return 0
		if argv[1] == "report":
			return report(argv[2], int(argv[3]), argv[4:])
	except Unparsed as e:
		print("regress: cannot read %s's output: %s" % (argv[2], e),
		    file=sys.stderr)
		return 2
	return 2


sys.exit(main(sys.argv))
EOF

# run_bounded SECS NAME CMD...: runs CMD under timeout(1) in the background
# (so a signal to this script is handled at once), output in $OUT/NAME.out
# and .err, working directory $TMP/run; returns its exit status.
run_bounded() {
	tmo=$1; name=$2; shift 2
	(cd "$TMP/run" && exec timeout -k 5 "$tmo" "$@") \
	    >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null &
	CUR=$!
	wait "$CUR"
	rc=$?
	CUR=""
	[ $rc -eq 124 ] && msg "$name: timed out after $tmo s"
	return $rc
}

# same_usage NAME ARGS...: the base and new NAME print the same usage for
# ARGS (an option neither knows); getopt's own complaint names the binary's
# path, so its line is left out.
same_usage() {
	name=$1; shift
	for side in base new; do
		if [ $side = base ]; then bin=$BASE/bench/$name; else bin=$NEW/bench/$name; fi
		(cd "$TMP/run" && timeout -k 2 10 "$bin" "$@") </dev/null 2>&1 |
		    grep -v -e 'unrecognized option' -e 'invalid option' \
		    >"$TMP/usage.$side"
	done
	if ! diff -u "$TMP/usage.base" "$TMP/usage.new" >"$TMP/usage.diff"; then
		cat "$TMP/usage.diff" >&2
		die "$name: the base and new binaries take different options" \
		    "(usage above): they would not run the same work; compare" \
		    "by hand with options both accept"
	fi
	[ -s "$TMP/usage.new" ] || die "$name: printed no usage for $*"
}

# measure BENCH SIDE ROUND TIMEOUT CMD...: one run; checks it did the same
# work as the first base run of BENCH and prints a progress line.
measure() {
	bench=$1; side=$2; r=$3; tmo=$4; shift 4
	name=$bench-$side-$r
	w0=$(date +%s%N)
	if ! run_bounded "$tmo" "$name" "$@"; then
		cat "$OUT/$name.out" "$OUT/$name.err" >&2
		die "$name failed: $*"
	fi
	w1=$(date +%s%N)
	id=$(python3 "$PY" identity "$bench" "$OUT/$name.out") ||
	    die "$name: output not understood (a changed format is a changed benchmark)"
	if [ ! -f "$TMP/id.$bench" ]; then
		echo "$id" >"$TMP/id.$bench"
	elif [ "$id" != "$(cat "$TMP/id.$bench")" ]; then
		echo "  first base run: $(cat "$TMP/id.$bench")" >&2
		echo "  $name:  $id" >&2
		die "$bench: $name did different work from the first base run"
	fi
	msg "$(date +%T) $bench round $r/$ROUNDS $side:" \
	    "$(echo "$w0 $w1" | awk '{ printf "%.1f", ($2 - $1) / 1e9 }') s," \
	    "$(python3 "$PY" brief "$bench" "$OUT/$name.out")"
}

daemon_of() { if [ "$1" = base ]; then echo "$BASE/tocsind"; else echo "$NEW/tocsind"; fi; }
bin_of() { if [ "$1" = base ]; then echo "$BASE/bench/$2"; else echo "$NEW/bench/$2"; fi; }

# A free port on 127.X.0.1, X in 250..254.
pick_base() {
	python3 - <<'PYEOF'
import random, socket
x = random.randint(250, 254)
s = socket.socket()
s.bind(("127.%d.0.1" % x, 0))
print("127.%d.0.1 %d" % (x, s.getsockname()[1]))
s.close()
PYEOF
}

# start_sims: devsim for DEVICES single-unit gateways, from the new build;
# sets ADDR PORT SIMPIDS.  Ready within 20 s or retried (3 tries).
start_sims() {
	n=$(( (DEVICES + 4999) / 5000 ))
	for attempt in 1 2 3; do
		set -- $(pick_base); ADDR=$1; PORT=$2
		SIMPIDS=""
		s=0
		while [ $s -lt $n ]; do
			"$NEW/bench/devsim" --devices "$DEVICES" \
			    --units-per-gateway 1 --base-addr "$ADDR" \
			    --port "$PORT" --shard "$s/$n" \
			    >"$OUT/devsim$s.out" 2>"$OUT/devsim$s.err" </dev/null &
			SIMPIDS="$SIMPIDS $!"
			s=$((s + 1))
		done
		i=0
		while [ $i -lt 200 ]; do
			ok=$(cat "$OUT"/devsim*.out 2>/dev/null | grep -c '^devsim ready')
			[ "$ok" -eq $n ] && return 0
			dead=0
			for p in $SIMPIDS; do alive "$p" || dead=1; done
			[ $dead -eq 1 ] && break
			sleep 0.1; i=$((i + 1))
		done
		msg "devsim not ready on $ADDR:$PORT, retrying"
		cat "$OUT"/devsim*.err >&2
		stop_sims
	done
	return 1
}

sims_alive() {
	for p in $SIMPIDS; do
		alive "$p" || { cat "$OUT"/devsim*.err >&2; die "devsim $p died"; }
	done
}

tree_of() {
	root=$(cd "$1/../.." && pwd)
	c=$(git -C "$root" rev-parse --short HEAD 2>/dev/null) ||
	    { echo "$root, not a git work tree"; return; }
	d=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | head -1)
	echo "$root at $c${d:+ (modified)}"
}

# --- checks before any work: binaries, then options ---
BINS=""
want slabench && BINS="$BINS slabench"
want corrbench && BINS="$BINS corrbench"
want pollbench && BINS="$BINS pollbench"
for b in $BINS; do
	for side in base new; do
		[ -x "$(bin_of $side "$b")" ] || die "missing $(bin_of $side "$b") (run make)"
	done
done
want pollbench && { [ -x "$NEW/bench/devsim" ] || die "missing $NEW/bench/devsim"; }
want pollbench && for side in base new; do
	[ -x "$(daemon_of $side)" ] || die "missing $(daemon_of $side) (run make)"
done
want slabench && same_usage slabench 1		# < 3600 incidents: usage
want corrbench && same_usage corrbench --regress-probe
want pollbench && same_usage pollbench --regress-probe
# (tocsind's usage is not compared: its options may grow; pbdaemon.sh
# passes only -c and -d, and checks the work through the detail line)

echo "regress: $(date -u +%FT%TZ) rounds=$ROUNDS benches=$BENCHES cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "regress: base=$BASE ($(tree_of "$BASE"))"
echo "regress: new=$NEW ($(tree_of "$NEW"))"
echo "regress: options: same usage text for$BINS in both builds"

if want slabench; then
	echo "regress: slabench $SLA_ARGS"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for side in base new; do
			# shellcheck disable=SC2086
			measure slabench $side $r 300 "$(bin_of $side slabench)" $SLA_ARGS
		done
		r=$((r + 1))
	done
fi

if want corrbench; then
	CARGS="--sites $SITES --seed $SEED --data $TMP/data --src $SRC"
	echo "regress: corrbench $CARGS"
	msg "$(date +%T) corrbench: generating the day (new build, --shards-only, not measured)"
	# shellcheck disable=SC2086
	run_bounded 600 corrbench-gen "$NEW/bench/corrbench" $CARGS --shards-only ||
	    { cat "$OUT/corrbench-gen.err" >&2; die "corrbench data generation failed"; }
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for side in base new; do
			# shellcheck disable=SC2086
			measure corrbench $side $r 600 "$(bin_of $side corrbench)" $CARGS
		done
		r=$((r + 1))
	done
fi

if want pollbench; then
	start_sims || die "devsim did not start"
	PB="--devices $DEVICES --units-per-gateway 1 --base-addr $ADDR --port $PORT --timeout-ms 5000 --points all"
	PB1="$PB --interval-ms 1000 --duration $IV_S --classes on --max-secs $((IV_S + 120))"
	PBX="$PB --interval-ms 0 --count $MAX_TX --warmup $((DEVICES * 2)) --classes off --max-secs 240"
	echo "regress: devsim (new build) $DEVICES devices on $ADDR:$PORT, processes:$SIMPIDS"
	echo "regress: pollbench-1s  pollbench $PB1"
	echo "regress: pollbench-max pollbench $PBX"
	PBD_DIR=$TMP/pbdaemon
	mkdir -p "$PBD_DIR"
	echo "regress: pollbench-daemon sh $PBD tocsind $DEVICES $ADDR $PORT $IV_S"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for side in base new; do
			# shellcheck disable=SC2086
			measure pollbench-1s $side $r $((IV_S + 150)) "$(bin_of $side pollbench)" $PB1
			sleep 1		# devsim closes the last client's connections
			sims_alive
		done
		for side in base new; do
			# shellcheck disable=SC2086
			measure pollbench-max $side $r 270 "$(bin_of $side pollbench)" $PBX
			sleep 1
			sims_alive
		done
		for side in base new; do
			measure pollbench-daemon $side $r $((IV_S + 120)) sh "$PBD" \
			    "$(daemon_of $side)" "$DEVICES" "$ADDR" "$PORT" "$IV_S" \
			    "$PBD_DIR"
			sleep 1
			sims_alive
		done
		r=$((r + 1))
	done
	stop_sims
fi

echo
LIST=""
want slabench && LIST="$LIST slabench"
want corrbench && LIST="$LIST corrbench"
want pollbench && LIST="$LIST pollbench-1s pollbench-max pollbench-daemon"
# shellcheck disable=SC2086
python3 "$PY" report "$OUT" "$ROUNDS" $LIST
rc=$?
echo "regress: done in $(( $(date +%s) - T_START )) s"
exit $rc
