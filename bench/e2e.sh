#!/bin/sh
# e2e.sh - the whole daemon end to end in a storm (issue 13): a register
# change on the simulator to the incident event on Kafka and on the SSE
# stream, and what tocsind costs for it against the poller alone on the
# same fleet, interval and scenario in the same run.
#
#   sh bench/e2e.sh [BUILD]                 (BUILD defaults to build/default)
#
# Fleet (fixed): etc/genfleet.py with E2E_DEVICES (10,000) devices, ten per
# site (an FSU and nine units behind it on one connection: 1,000 sites,
# 1,000 endpoints, one devsim process), areas of 100 sites, every device
# polled every second (timeout 1 s), the demo's profiles, correlation
# (MAINS_FAIL explains the battery, rectifier, air-con and temperature
# alarms of its site; three sites of an area with MAINS_FAIL in 10 minutes
# open an area incident) and SLA clocks, on a random free 127.X block.
# Alarm rules have no delay_on (genfleet --no-delay-on): a raise follows
# the first poll that sees the condition, so the latency is the pipeline's
# (a rule's delay_on adds itself, rounded up to the next poll).
#
# Scenario (fixed, bench-generated, devsim --scenario), times from devsim's
# ready line, all inside the storm window [E2E_LEAD_S, E2E_LEAD_S +
# E2E_SECONDS] (default 20 s and 60 s):
#   - an area grid outage: mains_fail at E2E_STORM_SITES (50) sites of the
#     first area (at most half of it), evenly over the first half of the window (MAINS_FAIL,
#     BATT_DISCHARGE, AC_FAIL at once at each);
#   - the battery chain that follows: each battery falls from 51.5 V to
#     44 V over --batt-runtime = E2E_SECONDS / 2 s (devsim's physics, noise
#     and drift 0), so BATT_LOW (first served value <= 46.5 V, i.e. 46.505
#     V before the 0.01 V rounding) comes 0.666 x that after its mains_fail;
#   - E2E_FAULTS (20) single-site faults at sites of other areas, in turn
#     door_open, smoke, water_leak, rect_fail, dg_fail, ac_fail.
# Expected: one (site, alarm code) pair per fault and code above; each
# pair's start is devsim's log of the step (wall_us: the wall clock right
# after the register images changed; BATT_LOW: model_ms + the crossing
# time), its end the first incident event naming the pair in its alarms
# (the opened event or the updated event that added it):
#   Kafka: the message timestamp of tocsin.incidents as the broker gives
#          it.  With the real broker (tests/kafka/broker.sh) bench/e2e
#          creates the topic with message.timestamp.type=LogAppendTime, so
#          it is the broker's clock when it appended the batch (ms); with
#          the embedded mock (E2E_KAFKA=mock, or no Java) it is the
#          producer's CreateTime (when tocsind handed the event to
#          librdkafka, before linger.ms and the round trip), and the mock's
#          CPU is inside tocsind's: both said on the output.
#   SSE:   the wall clock when bench/e2e read the event's data line from
#          GET /api/v1/events (a tocsind without the stream answers 404:
#          the SSE figure is then "not available").
#
# Each of the two runs (the poller alone, bench/tocsinpoll -c, then
# tocsind -c) gets a fresh devsim with the same scenario, and phases:
#   start    the process's start line, from its exec;
#   connect  until it has made as many good polls as there are devices
#            (about every device once; SIGUSR1 counters), with its CPU
#            since exec;
#   warm-up  the rest of the lead, until the storm window opens, with CPU;
#   storm    the window: CPU (utime + stime of /proc/PID, every thread) and
#            polls; peak RSS (VmHWM) at its end;
#   drain    (tocsind) until every expected pair is on Kafka (and SSE), at
#            most E2E_DRAIN_S (60) s, with its CPU.
# Targets (tocsind): Kafka p99 < interval + 100 ms (1.1 s), < 0.3 core in
# the window, peak RSS < 200 MiB; ratio tocsind / tocsinpoll cores.
#
# Bounds: devsim ready 60 s, start lines 60 s, connect within the lead,
# each SIGUSR1 answer 5 s, drain E2E_DRAIN_S, each stop 20 s after SIGTERM
# then SIGKILL; every process also gets its own lifetime bound (-d,
# timeout(1)).  Everything started here is stopped by PID; loopback only.
# E2E_KEEP=1 keeps the run directory (logs, scenario, fleet, latencies).
# E2E_DEVICES=500 E2E_SECONDS=20 E2E_LEAD_S=10 is the smoke mode (about a
# minute with the broker's start).
set -u
. "$(dirname "$0")/procstat.sh"
STOP_WAIT_S=20

BUILD=$(cd "${1:-build/default}" 2>/dev/null && pwd) ||
    { echo "e2e: no build directory ${1:-build/default}" >&2; exit 1; }
D=${E2E_DEVICES:-10000}
SECS=${E2E_SECONDS:-60}
LEAD=${E2E_LEAD_S:-20}
STORM=${E2E_STORM_SITES:-50}
FAULTS=${E2E_FAULTS:-20}
DRAIN=${E2E_DRAIN_S:-60}
KAFKA=${E2E_KAFKA:-broker}
PER_SITE=10
DEVSIM=$BUILD/bench/devsim
TD=$BUILD/tocsind
TP=$BUILD/bench/tocsinpoll
COL=$BUILD/bench/e2e
HERE=$(cd "$(dirname "$0")" && pwd)
for b in "$DEVSIM" "$TD" "$TP" "$COL"; do
	[ -x "$b" ] || { echo "e2e: missing $b (run make)" >&2; exit 1; }
done
[ $((D % PER_SITE)) -eq 0 ] && [ "$D" -ge 100 ] ||
    { echo "e2e: E2E_DEVICES must be a multiple of $PER_SITE, >= 100" >&2; exit 2; }
NSITES=$((D / PER_SITE))
NAREAS=$(( (NSITES + 99) / 100 ))
# the storm takes at most half of its area, the faults the rest
AREA_SITES=$(( (NSITES + NAREAS - 1) / NAREAS ))
[ "$STORM" -le $((AREA_SITES / 2)) ] || STORM=$((AREA_SITES / 2))
[ "$FAULTS" -le $((NSITES - STORM)) ] || FAULTS=$((NSITES - STORM))
BATT_R=$(echo "$SECS" | awk '{ print $1 / 2 }')

TMP=$(mktemp -d /tmp/e2e.XXXXXX)
SIMPID=""; PID=""; COLPID=""; KDIR=""
cleanup() {
	stop_col
	stop_pid
	stop_sim
	[ -n "$KDIR" ] && sh "$HERE/../tests/kafka/broker.sh" stop "$KDIR" >/dev/null 2>&1
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "e2e: run directory kept: $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# stop_sim, stop_col: stop_pid (bounded TERM, then KILL) on the simulator
# or the reader, leaving $PID alone
stop_sim() { p=$PID; PID=$SIMPID; stop_pid; SIMPID=""; PID=$p; }
stop_col() { p=$PID; PID=$COLPID; stop_pid; COLPID=""; PID=$p; }

now_ns() { date +%s%N; }
# sleep_until NS: sleeps until the wall clock reaches NS (no-op if past)
sleep_until() {
	s=$(echo "$1 $(now_ns)" | awk '{ d = ($1 - $2) / 1e9; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$s"
}
secs() { echo "$1 $2" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }'; }
HZ=$(getconf CLK_TCK)
cpu_s() { echo "$1 $2 $HZ" | awk '{ printf "%.3f", ($2 - $1) / $3 }'; }

# ---------------------------------------------------------------- Kafka
BROKERS=""; TSNOTE=""
if [ "$KAFKA" != mock ]; then
	KDIR=$TMP/kafka; mkdir -p "$KDIR"
	BROKER_LIFETIME=$((LEAD * 2 + SECS * 2 + DRAIN + 600)) \
	    sh "$HERE/../tests/kafka/broker.sh" start "$KDIR" >"$TMP/broker.out" 2>&1
	brc=$?
	BROKERS=$(sed -n 's/^bootstrap=//p' "$TMP/broker.out" | tail -1)
	if [ $brc -eq 3 ] || [ "$BROKERS" = mock ]; then
		echo "e2e: no real broker ($(grep -v bootstrap= "$TMP/broker.out" | tail -1)): the embedded mock" >&2
		BROKERS=""; KDIR=""
	elif [ $brc -ne 0 ] || [ -z "$BROKERS" ]; then
		echo "e2e: tests/kafka/broker.sh failed" >&2
		cat "$TMP/broker.out" >&2
		exit 1
	else
		"$COL" topic "$BROKERS" tocsin.incidents >/dev/null &&
		    "$COL" topic "$BROKERS" tocsin.actions >/dev/null || exit 1
	fi
fi
if [ -n "$BROKERS" ]; then
	KNOTE="broker(tests/kafka/broker.sh $BROKERS)"
	TSNOTE="LogAppendTime"
else
	KNOTE="mock(embedded in tocsind: its CPU and RSS are tocsind's)"
	TSNOTE="CreateTime(producer)"
fi

# ---------------------------------------------------------------- fleet
set -- $(pick_base); NET=${1%.0.1}; PORT=$2
HPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$HERE/../etc/genfleet.py" "$TMP/run" --sites "$NSITES" \
    --per-site "$PER_SITE" --net "$NET" --port "$PORT" --areas "$NAREAS" \
    --interval 1s --timeout 1s --state-dir state --no-delay-on || exit 1
cat >>"$TMP/run/fleet.yaml" <<EOF
kafka:
  brokers: "$BROKERS"
  incidents: tocsin.incidents
output:
  file: events.jsonl
http:
  listen: "127.0.0.1:$HPORT"
EOF

# The scenario and the expected (site, code) pairs, from the fleet file.
python3 - "$TMP/run/fleet.yaml" "$TMP" "$LEAD" "$SECS" "$STORM" "$FAULTS" <<'EOF' || exit 1
import random, re, sys
fleet, out, lead, secs, storm, faults = sys.argv[1], sys.argv[2], \
    float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
sites = re.findall(r"^  - \{id: (S\d+), area: ([^,]+),", open(fleet).read(), re.M)
area0 = sites[0][1]
mine = [s for s, a in sites if a == area0]
others = [s for s, a in sites if a != area0] or mine[storm:]
others = [s for s in others if s not in mine[:storm]]
codes = {"mains_fail": ["MAINS_FAIL", "BATT_DISCHARGE", "AC_FAIL", "BATT_LOW"],
         "door_open": ["DOOR_OPEN"], "smoke": ["SMOKE"],
         "water_leak": ["WATER_LEAK"], "rect_fail": ["RECT_FAIL"],
         "dg_fail": ["DG_FAIL"], "ac_fail": ["AC_FAIL"]}
single = ["door_open", "smoke", "water_leak", "rect_fail", "dg_fail", "ac_fail"]
steps = []
half = secs / 2
# Each step somewhere in its own slot (a fixed seed: the same scenario
# every run), so that steps do not fall on a few phases of the 1 s poll
# cycle: the wait for the next poll is then spread over the interval.
rnd = random.Random(13)
for i in range(storm):
    steps.append((lead + 0.5 + half * (i + rnd.random()) / storm, mine[i],
                  "mains_fail"))
stride = max(1, len(others) // max(faults, 1))
for i in range(faults):
    steps.append((lead + 0.5 + half * (i + rnd.random()) / faults,
                  others[i * stride], single[i % len(single)]))
steps.sort()
with open(out + "/scenario.txt", "w") as f, \
        open(out + "/expect", "w") as e, open(out + "/cause", "w") as ca:
    f.write("# bench/e2e.sh: a grid outage of %s (%d sites), %d single faults\n"
            % (area0, storm, faults))
    for t, s, a in steps:
        f.write("%dms site:%s %s\n" % (round(t * 1000), s, a))
        for c in codes[a]:
            e.write("%s %s\n" % (s, c))
            ca.write("%s %s %s\n" % (s, c, a))
print("e2e: scenario area=%s storm_sites=%d faults=%d steps=%d pairs=%d"
      % (area0, storm, faults, len(steps),
         sum(len(codes[a]) for _, _, a in steps)))
EOF
NPAIRS=$(wc -l <"$TMP/expect")

echo "e2e: $(date -u +%FT%TZ) build=$BUILD cores=$(nproc) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\" devices=$D sites=$NSITES areas=$NAREAS interval_ms=1000 lead_s=$LEAD window_s=$SECS storm_sites=$STORM faults=$FAULTS pairs=$NPAIRS batt_runtime_s=$BATT_R kafka=$KNOTE timestamp=$TSNOTE fleet=$NET.0.0/16:$PORT"

# start_sim: a fresh devsim with the scenario; sets SIMPID, T_READY (ns)
start_sim() {
	rm -f "$TMP/sim.out" "$TMP/sim.err"
	(cd "$TMP/run" && exec timeout -s KILL $((LEAD + SECS + DRAIN + 300)) \
	    "$DEVSIM" -c fleet.yaml --scenario "$TMP/scenario.txt" \
	    --noise 0 --drift 0 --batt-runtime "$BATT_R" \
	    --stats "$TMP/sim.stats") >"$TMP/sim.out" 2>"$TMP/sim.err" </dev/null &
	SIMPID=$!
	wait_line "$TMP/sim.out" '^devsim ready' "e2e: devsim" "$SIMPID" 60 ||
		{ cat "$TMP/sim.err" >&2; return 1; }
	T_READY=$(now_ns)
}

# run NAME BIN: one measured run; prints its phase line, keeps figures in
# $TMP/NAME.fig (key=value).
run() {
	name=$1; bin=$2
	rm -rf "$TMP/run/state" "$TMP/run/events.jsonl"
	start_sim || return 1
	t_first=$((T_READY + LEAD * 1000000000))
	t_end=$((t_first + SECS * 1000000000))
	ERR=$TMP/$name.err
	t0=$(now_ns)
	(cd "$TMP/run" && exec "$bin" -c fleet.yaml -d $((LEAD + SECS + DRAIN + 60))) \
	    >"$TMP/$name.out" 2>"$ERR" </dev/null &
	PID=$!
	case $name in tocsind) ready=' start version=' ;; *) ready='tocsinpoll config=' ;; esac
	wait_line "$ERR" "$ready" "e2e: $name" "$PID" 60 || return 1
	t_start=$(now_ns)
	if [ "$name" = tocsind ]; then
		b=$BROKERS
		if [ -z "$b" ]; then
			b=$(sed -n 's/.*embedded mock cluster bootstrap=\([^ ]*\).*/\1/p' "$ERR" | head -1)
			[ -n "$b" ] || { echo "e2e: no mock bootstrap in tocsind's log" >&2; return 1; }
		fi
		"$COL" collect --brokers "$b" --topic tocsin.incidents \
		    --sse "127.0.0.1:$HPORT" --expect "$TMP/expect" \
		    --timeout $((LEAD + SECS + DRAIN + 30)) \
		    >"$TMP/first" 2>"$TMP/collect.err" </dev/null &
		COLPID=$!
	fi
	# connect: as many good polls as devices (about every device once),
	# before the window opens
	while :; do
		counters_mark "$ERR" "e2e: $name" || return 1
		[ "$(key "$LINE" polls_good)" -ge "$D" ] && break
		if [ "$(now_ns)" -ge $((t_first - 1000000000)) ]; then
			echo "e2e: $name had not polled all $D devices 1 s before the storm (polls_good=$(key "$LINE" polls_good)); raise E2E_LEAD_S" >&2
			return 1
		fi
		sleep 0.5
	done
	t_conn=$W; c_conn=$C
	sleep_until "$t_first"
	counters_mark "$ERR" "e2e: $name" || return 1
	L0=$LINE; W0=$W; C0=$C
	sleep_until "$t_end"
	counters_mark "$ERR" "e2e: $name" || return 1
	L1=$LINE; W1=$W; C1=$C
	drain=- dcpu=-
	if [ -n "$COLPID" ]; then
		i=0
		while kill -0 "$COLPID" 2>/dev/null && [ $i -lt $((DRAIN * 10)) ]; do
			sleep 0.1; i=$((i + 1))
		done
		W2=$(now_ns); C2=$(ticks "/proc/$PID")
		stop_col
		drain=$(secs "$W1" "$W2"); dcpu=$(cpu_s "$C1" "$C2")
	fi
	HWM=$(vmhwm "$PID")	# the peak over the whole run, drain included
	stop_pid
	stop_sim
	win=$(secs "$W0" "$W1"); cpu=$(cpu_s "$C0" "$C1")
	polls=$(( $(key "$L1" polls_good) - $(key "$L0" polls_good) ))
	failed=$(( $(key "$L1" polls_failed) - $(key "$L0" polls_failed) ))
	overrun=$(( $(key "$L1" polls_overrun) - $(key "$L0" polls_overrun) ))
	cores=$(echo "$cpu $win" | awk '{ printf "%.3f", $1 / $2 }')
	echo "e2e phase process=$name start_s=$(secs "$t0" "$t_start") connect_s=$(secs "$t0" "$t_conn") connect_cpu_s=$(cpu_s 0 "$c_conn") warmup_s=$(secs "$t_conn" "$W0") warmup_cpu_s=$(cpu_s "$c_conn" "$C0") storm_s=$win cpu_s=$cpu cores=$cores rss_kb=$HWM polls=$polls polls_failed=$failed polls_overrun=$overrun drain_s=$drain drain_cpu_s=$dcpu"
	echo "cores=$cores rss_kb=$HWM cpu_s=$cpu" >"$TMP/$name.fig"
}

run tocsinpoll "$TP" || exit 1
grep -q . "$TMP/tocsinpoll.out" ||
    { echo "e2e: tocsinpoll saw no alarm transition in the storm" >&2; exit 1; }
run tocsind "$TD" || exit 1
grep 'devsim scenario line=' "$TMP/sim.err" >"$TMP/steps"
grep '^e2e summary' "$TMP/first" | sed 's/^/e2e: collector: /'

# Latencies: each expected pair's start (devsim's log) against its first
# sighting on each source.
awk -v batt_r="$BATT_R" '
function kv(k,   i, a) {
	for (i = 1; i <= NF; i++)
		if (index($i, k "=") == 1)
			return substr($i, length(k) + 2)
	return ""
}
FILENAME == ARGV[1] {		# devsim scenario lines
	site = kv("target"); act = kv("action")
	w[site, act] = kv("wall_us"); m[site, act] = kv("model_ms")
	next
}
FILENAME == ARGV[2] { cause[$1, $2] = $3; next }	# expected pairs
$1 == "first" && (($3, $4) in cause) {
	site = $3; code = $4; act = cause[site, code]
	if (code == "BATT_LOW")
		# 51.5 V - 7.5 V x t / R reaches 46.505 V (served as 46.50)
		t0 = m[site, act] * 1000 + (51.5 - 46.505) / 7.5 * batt_r * 1e6
	else
		t0 = w[site, act]
	# total, wait for the poll (to raised_at), after the poll
	printf "%s %s %s %.3f %.3f %.3f\n", $2, site, code, ($5 - t0) / 1000,
	    ($10 - t0) / 1000, ($5 - $10) / 1000
}' "$TMP/steps" "$TMP/cause" "$TMP/first" >"$TMP/lat"

# stats SOURCE COLUMN: "n p50 p99 max" of a source's latencies (ms,
# nearest rank); COLUMN 4 total, 5 to the raise, 6 after the raise
stats() {
	awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$TMP/lat" | sort -g | awk '
	{ v[NR] = $1 }
	END {
		if (NR == 0) { print "0 - - -"; exit }
		i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999)
		printf "%d %.1f %.1f %.1f\n", NR, v[i50], v[i99], v[NR]
	}'
}
set -- $(stats kafka 4); KN=$1; K50=$2; K99=$3; KMAX=$4
set -- $(stats sse 4); SN=$1; S50=$2; S99=$3; SMAX=$4
set -- $(stats kafka 6); KA50=$2; KA99=$3
SSEST=$(sed -n 's/.* sse_status=\([-0-9]*\).*/\1/p' "$TMP/first")
# lat_split SOURCE: the wait for the poll that raised the alarm (devsim's
# change to the alarm's raised_at) and what follows it (raised_at to the
# broker's timestamp or the SSE read), each at ms resolution
lat_split() { src=$1; set -- $(stats "$src" 5); w="poll_wait_p50_ms=$2 poll_wait_p99_ms=$3"
	set -- $(stats "$src" 6); echo "$w after_poll_p50_ms=$2 after_poll_p99_ms=$3 after_poll_max_ms=$4"; }
# the timestamp type the broker actually returned, as the reader saw it
KTS=$(awk '$1 == "first" && $2 == "kafka" { print $6 }' "$TMP/first" | sort -u | paste -sd, -)
echo "e2e latency to=kafka timestamp=$TSNOTE returned=${KTS:-none} pairs=$KN/$NPAIRS p50_ms=$K50 p99_ms=$K99 max_ms=$KMAX"
echo "e2e latency to=kafka split $(lat_split kafka)"
if [ "$SN" -gt 0 ]; then
	echo "e2e latency to=sse timestamp=recv pairs=$SN/$NPAIRS p50_ms=$S50 p99_ms=$S99 max_ms=$SMAX"
	echo "e2e latency to=sse split $(lat_split sse)"
else
	echo "e2e latency to=sse not available (GET /api/v1/events answered ${SSEST:-nothing})"
fi
# by alarm code, Kafka: the storm's immediate alarms, the battery chain,
# the single faults
awk '$1 == "kafka" { n[$3]++; s[$3] += $4; a[$3] += $6; if ($4 > mx[$3]) mx[$3] = $4 }
END { for (c in n) printf "e2e latency to=kafka code=%s n=%d mean_ms=%.1f max_ms=%.1f after_poll_mean_ms=%.1f\n", c, n[c], s[c] / n[c], mx[c], a[c] / n[c] }' "$TMP/lat" | sort

echo "e2e: done $(date -u +%FT%TZ) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
. "$TMP/tocsinpoll.fig"; PC=$cores; PR=$rss_kb
. "$TMP/tocsind.fig"; DC=$cores; DR=$rss_kb
echo
awk -v kn="$KN" -v np="$NPAIRS" -v k99="$K99" -v s99="$S99" -v sn="$SN" \
    -v ka50="$KA50" -v ka99="$KA99" \
    -v dc="$DC" -v pc="$PC" -v dr="$DR" -v pr="$PR" '
function ok(c) { return c ? "met" : "NOT met" }
BEGIN {
	printf "%-34s %12s %12s %8s\n", "e2e (storm window)", "tocsind", "tocsinpoll", "ratio"
	printf "%-34s %12.3f %12.3f %7.2fx\n", "CPU, cores (all threads)", dc, pc, (pc > 0 ? dc / pc : 0)
	printf "%-34s %12.1f %12.1f %7.2fx\n", "peak RSS, MiB (VmHWM)", dr / 1024, pr / 1024, (pr > 0 ? dr / pr : 0)
	print ""
	printf "target: Kafka p99 < 1100 ms (interval + 100 ms): %s ms, %d/%d pairs: %s\n", k99, kn, np, ok(kn == np && k99 != "-" && k99 + 0 < 1100)
	printf "        of which after the poll (raised_at to the broker): p50 %s ms, p99 %s ms\n", ka50, ka99
	if (sn > 0)
		printf "        SSE p99 (same bound, for reference): %s ms: %s\n", s99, ok(s99 + 0 < 1100)
	printf "target: tocsind < 0.3 core: %.3f: %s\n", dc, ok(dc < 0.3)
	printf "target: tocsind peak RSS < 200 MiB: %.1f MiB: %s\n", dr / 1024, ok(dr < 200 * 1024)
}'
[ "$KN" -eq "$NPAIRS" ] || {
	echo "e2e: $((NPAIRS - KN)) expected pairs never reached Kafka:" >&2
	awk '$1 == "kafka" { print $2, $3 }' "$TMP/lat" | sort >"$TMP/got"
	sort "$TMP/expect" | comm -23 - "$TMP/got" | head -20 >&2
	exit 1
}
exit 0
