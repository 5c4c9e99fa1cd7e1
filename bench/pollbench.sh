#!/bin/sh
# pollbench.sh - tocsin's poller against its two baselines, in one bounded
# run, on devsim's tower fleet (issue 4).
#
#   sh bench/pollbench.sh [BUILD]          (BUILD defaults to build/default)
#
# Scenarios (each against a fresh devsim on a random free 127.X.0.0/16):
#   D = 100, 1,000, 10,000 devices, one connection each, maximum rate:
#       libmodbus (D <= 1,000: its select() cannot go past fd 1023), the
#       raw-epoll floor, tocsin (bench/pollbench: mbclient + mbdecode of
#       every point of the tower profile);
#   D = 10,000 at a 1 s interval for PB_INTERVAL_S seconds (10), PB_REPEAT
#       times (3) in turn: the floor, tocsin with the input registers only
#       (one read per poll, the floor's work) and tocsin with the whole
#       profile and its poll classes (holding registers every 60 s, coils
#       every 10 s: 2.1 reads per poll), then two whole processes on one
#       generated config of the same fleet (bench/pbdaemon.sh: the input
#       registers, one read per poll, 4 alarm rules): the poller alone
#       (bench/tocsinpoll -c) and the whole daemon (tocsind -c: its shard
#       threads and the file sink, writing to a file in the run's
#       directory), each measured by /proc over IV_S s after a 5 s warm-up;
#       then once tocsin with every block on every poll (--classes off, 4
#       reads: what classes save).  The table gives each client's median
#       run by cores, and the spread; a last line checks the daemon's
#       targets (issue 11: < 0.15 core, <= 1.25x the poller alone, 0 missed);
#   100,000 devices behind 10,000 gateways (10 unit ids each) at a 5 s
#       interval for PB_GW_S seconds (15): floor, tocsin (input registers
#       only), tocsin (whole profile, poll classes), tocsin (classes off).
# devsim runs as two processes (--shard 0/2, 1/2) above 5,000 endpoints: a
# process may hold at most 20,000 descriptors (a listener plus a connection
# per endpoint).  The simulators' CPU over each client run is read from
# their SIGUSR1 stats and printed next to the client's, so one can see that
# the simulator is not the bottleneck; their SIGTERM stats are kept too.
#
# PB_SCENARIOS (comma-separated, default all: max-rate,1s-interval,
# gateways) runs some of them.
#
# Work is fixed: PB_LM_TX libmodbus transactions, PB_TX transactions for
# the floor and tocsin at maximum rate (defaults 20000 and 200000), after a
# warm-up of 2 x D; the interval runs are fixed in time and rate.  Every
# process is started and stopped by PID; every wait is bounded (devsim
# ready 20 s, each client run PB_TIMEOUT s, default 180).
#
# Output: each client's pb_stats line (plus sim_cpu_s, run_wall_s,
# sim_cores), then one table with the ratios: tocsin's CPU per 1,000
# transactions against libmodbus's (target <= 0.33) and the floor's
# (target <= 1.5), cores used, peak RSS against 2 KiB x D + 20 MiB.
set -u
. "$(dirname "$0")/procstat.sh"

BUILD=${1:-build/default}
LM_TX=${PB_LM_TX:-20000}
TX=${PB_TX:-${PB_EP_TX:-200000}}
TMO=${PB_TIMEOUT:-180}
IV_S=${PB_INTERVAL_S:-10}
GW_S=${PB_GW_S:-15}
REPEAT=${PB_REPEAT:-3}
SCEN=${PB_SCENARIOS:-max-rate,1s-interval,gateways}
only() { case ",$SCEN," in *",$1,"*) return 0 ;; esac; return 1; }
DEVSIM=$BUILD/bench/devsim
LM=$BUILD/bench/pollbase_libmodbus
EP=$BUILD/bench/pollbase_epoll
TC=$BUILD/bench/pollbench
TD=$BUILD/tocsind
TP=$BUILD/bench/tocsinpoll
PBD=$(dirname "$0")/pbdaemon.sh
for b in "$DEVSIM" "$LM" "$EP" "$TC" "$TD" "$TP"; do
	[ -x "$b" ] || { echo "pollbench: missing $b (run make)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/pollbench.XXXXXX)
SIMPIDS=""
RES=$TMP/results

stop_sims() {
	for p in $SIMPIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $SIMPIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SIMPIDS=""
}
cleanup() { stop_sims; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_sims D K SHARDS: starts devsim (D devices, K per gateway), sets
# BASE PORT SIMPIDS; 0 when ready.
start_sims() {
	d=$1; k=$2; n=$3
	for attempt in 1 2 3; do
		set -- $(pick_base); BASE=$1; PORT=$2
		SIMPIDS=""
		s=0
		while [ $s -lt "$n" ]; do
			"$DEVSIM" --devices "$d" --units-per-gateway "$k" \
			    --base-addr "$BASE" --port "$PORT" \
			    --shard "$s/$n" --stats "$TMP/sim$s.stats" \
			    >"$TMP/sim$s.out" 2>"$TMP/sim$s.err" &
			SIMPIDS="$SIMPIDS $!"
			s=$((s + 1))
		done
		i=0; ok=0
		while [ $i -lt 200 ]; do
			ok=$(cat "$TMP"/sim*.out 2>/dev/null | grep -c '^devsim ready')
			[ "$ok" -eq "$n" ] && return 0
			dead=0
			for p in $SIMPIDS; do kill -0 "$p" 2>/dev/null || dead=1; done
			[ $dead -eq 1 ] && break
			sleep 0.1; i=$((i + 1))
		done
		echo "pollbench: devsim not ready on $BASE:$PORT, retrying" >&2
		cat "$TMP"/sim*.err >&2
		stop_sims
		rm -f "$TMP"/sim*
	done
	return 1
}

# Sum of cpu_s over the simulators' latest stats (after a SIGUSR1).
sim_cpu() {
	for p in $SIMPIDS; do kill -USR1 "$p"; done
	sleep 0.3
	for f in "$TMP"/sim*.stats; do
		grep '^devsim stats' "$f" | tail -1
	done | sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p' |
	    awk '{ s += $1 } END { printf "%.3f\n", s }'
}


# run LABEL BIN D K [ARGS...]: one client run against the running devsim.
run() {
	label=$1; bin=$2; d=$3; k=$4
	shift 4
	client "$label" "$d" "$bin" --devices "$d" --units-per-gateway "$k" \
	    --base-addr "$BASE" --port "$PORT" --timeout-ms 5000 "$@"
}

# run_whole LABEL BIN: a whole process, tocsind or tocsinpoll, polling the
# running devsim's 10,000 devices once a second for IV_S seconds
# (bench/pbdaemon.sh: its configuration, one read per poll, in a directory
# per fleet).
run_whole() {
	mkdir -p "$TMP/whole.$PORT"
	client "$1" 10000 sh "$PBD" "$2" 10000 "$BASE" "$PORT" "$IV_S" \
	    "$TMP/whole.$PORT"
}

# client LABEL D CMD...: runs CMD, which prints a pb_stats line; prints it
# with the simulator's CPU over the run and keeps it in $RES.
client() {
	label=$1; d=$2
	shift 2
	c0=$(sim_cpu)
	w0=$(date +%s%N)
	timeout "$TMO" "$@" >"$TMP/client.out" 2>"$TMP/client.err"
	rc=$?
	w1=$(date +%s%N)
	c1=$(sim_cpu)
	line=$(grep '^pollbench client=' "$TMP/client.out")
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "pollbench: $label D=$d failed rc=$rc" >&2
		cat "$TMP/client.out" "$TMP/client.err" >&2
		return 1
	fi
	detail=$(grep '^pollbench tocsin detail' "$TMP/client.out")
	[ -n "$detail" ] && echo "$detail"
	rpp=$(key "$detail" reads_per_poll)
	[ -n "$rpp" ] || rpp=1
	# The simulator's CPU over the whole client run (connect, warm-up,
	# measured phase), as a share of one core over the same wall time.
	wall=$(echo "$w0 $w1" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }')
	simcpu=$(echo "$c0 $c1" | awk '{ printf "%.3f", $2 - $1 }')
	simcore=$(echo "$simcpu $wall" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }')
	echo "$line sim_cpu_s=$simcpu run_wall_s=$wall sim_cores=$simcore"
	echo "label=$label $line sim_cores=$simcore reads_per_poll=$rpp" >>"$RES"
}

# scenario NAME D K: starts devsim for D devices, K per gateway.
scenario() {
	name=$1; d=$2; k=$3
	shards=1
	[ $((d / k)) -gt 5000 ] && shards=2
	start_sims "$d" "$k" $shards || exit 1
	echo "pollbench: $name devices=$d units_per_gateway=$k devsim=$BASE:$PORT processes=$shards"
}

end_scenario() {
	stop_sims
	for f in "$TMP"/sim*.stats; do
		grep '^devsim stats reason=SIGTERM' "$f" | sed 's/^/pollbench: /'
	done
	rm -f "$TMP"/sim*
}

echo "pollbench: $(date -u +%FT%TZ) build=$BUILD cores=$(nproc) lm_tx=$LM_TX tx=$TX interval_s=$IV_S gateway_s=$GW_S"
: >"$RES"
for D in 100 1000 10000; do
	only max-rate || break
	scenario "max-rate" $D 1
	[ $D -le 1000 ] && run "libmodbus" "$LM" $D 1 --count "$LM_TX" \
	    --warmup $((D * 2))
	run "epoll" "$EP" $D 1 --count "$TX" --warmup $((D * 2))
	run "tocsin" "$TC" $D 1 --count "$TX" --warmup $((D * 2))
	end_scenario
done

only 1s-interval && scenario "1s-interval" 10000 1
r=1
while only 1s-interval && [ $r -le "$REPEAT" ]; do
	echo "pollbench: 1s-interval round $r/$REPEAT"
	run "epoll" "$EP" 10000 1 --interval-ms 1000 --duration "$IV_S"
	run "tocsin-input" "$TC" 10000 1 --interval-ms 1000 \
	    --duration "$IV_S" --points input
	run "tocsin" "$TC" 10000 1 --interval-ms 1000 --duration "$IV_S"
	run_whole "tocsinpoll" "$TP"
	run_whole "tocsind" "$TD"
	r=$((r + 1))
done
if only 1s-interval; then
	run "tocsin-flat" "$TC" 10000 1 --interval-ms 1000 \
	    --duration "$IV_S" --classes off
	end_scenario
fi

if only gateways; then
	scenario "gateways" 100000 10
	run "epoll" "$EP" 100000 10 --interval-ms 5000 --duration "$GW_S"
	run "tocsin-input" "$TC" 100000 10 --interval-ms 5000 \
	    --duration "$GW_S" --points input
	run "tocsin" "$TC" 100000 10 --interval-ms 5000 --duration "$GW_S"
	run "tocsin-flat" "$TC" 100000 10 --interval-ms 5000 \
	    --duration "$GW_S" --classes off
	end_scenario
fi

# The table: tocsin against the baselines of the same scenario (same
# devices and interval), from the lines kept in $RES.  A client run more
# than once (PB_REPEAT) is shown by its median run by cores, with the
# range over its runs; ratios use the baselines' median runs.
echo
awk '
function f(line, key,   n, i, a, kv) {
	n = split(line, a, " ")
	for (i = 1; i <= n; i++) {
		split(a[i], kv, "=")
		if (kv[1] == key)
			return substr(a[i], length(key) + 2)
	}
	return ""
}
{
	lab = f($0, "label"); key = f($0, "devices") "/" f($0, "interval_ms")
	g = lab "|" key
	secs = f($0, "secs")
	row[NR] = $0; core[NR] = secs > 0 ? f($0, "cpu_s") / secs : 0
	if (!(g in ng)) { order[++ngroups] = g; gkey[g] = key; glab[g] = lab }
	member[g, ++ng[g]] = NR
	if (!((g) in mmax) || f($0, "missed") + 0 > mmax[g])
		mmax[g] = f($0, "missed") + 0
}
END {
	# median run (by cores) of each group, and its range
	for (k = 1; k <= ngroups; k++) {
		g = order[k]; n = ng[g]
		for (i = 1; i <= n; i++) idx[i] = member[g, i]
		for (i = 2; i <= n; i++) {	# insertion sort by cores
			v = idx[i]
			for (j = i - 1; j >= 1 && core[idx[j]] > core[v]; j--)
				idx[j + 1] = idx[j]
			idx[j + 1] = v
		}
		med[g] = idx[int((n + 1) / 2)]
		lo[g] = core[idx[1]]; hi[g] = core[idx[n]]
		if (glab[g] == "libmodbus") lm[gkey[g]] = f(row[med[g]], "cpu_s_per_1k")
		if (glab[g] == "epoll") ep[gkey[g]] = f(row[med[g]], "cpu_s_per_1k")
	}
	printf "%-12s %7s %6s %6s %5s %8s %9s %6s %6s %6s %11s %8s %7s %13s %8s %7s %5s\n",
	    "client", "devices", "conns", "ivl_ms", "rd/pl", "tx/s", "cpu/1k_tx",
	    "vs_lm", "vs_ep", "cores", "cores_range", "rss_MiB", "rss_max",
	    "rtt_p50/p99_us", "jit_p99", "missed", "sim"
	for (k = 1; k <= ngroups; k++) {
		g = order[k]; key = gkey[g]; $0 = row[med[g]]
		c = f($0, "cpu_s_per_1k"); d = f($0, "devices")
		vl = ((key in lm) && lm[key] > 0) ? sprintf("%.2fx", c / lm[key]) : "-"
		ve = ((key in ep) && ep[key] > 0) ? sprintf("%.2fx", c / ep[key]) : "-"
		rng = ng[g] > 1 ? sprintf("%.3f-%.3f", lo[g], hi[g]) : "-"
		printf "%-12s %7s %6s %6s %5.2f %8s %9s %6s %6s %6.3f %11s %8.1f %7.1f %13s %8s %7s %5s\n",
		    glab[g], d, f($0, "conns"), f($0, "interval_ms"),
		    f($0, "reads_per_poll"), f($0, "tps"), c, vl, ve,
		    core[med[g]], rng,
		    f($0, "maxrss_kb") / 1024, (2 * d + 20480) / 1024,
		    f($0, "rtt_p50_us") "/" f($0, "rtt_p99_us"),
		    f($0, "jitter_p99_us"), f($0, "missed"), f($0, "sim_cores")
	}
	print ""
	print "rd/pl: reads (transactions) per device poll; vs_lm, vs_ep: CPU per 1,000"
	print "transactions against libmodbus and the raw-epoll floor of the same scenario"
	print "(targets for tocsin: <= 0.33x and <= 1.5x); cores: client CPU s / measured s"
	print "(target at 10,000 x 1 s: <= 0.15), the median run when run more than once,"
	print "cores_range over the runs; rss_max: 2 KiB x devices + 20 MiB; jit_p99 us (gap"
	print "spread at max rate, lateness against the schedule with an interval; target"
	print "< 50,000 at 1 s); sim: devsim cores.  tocsin-input: input registers only (one"
	print "read per poll, the floor'"'"'s work); tocsin: the whole tower profile with its poll"
	print "classes; tocsin-flat: the same with every block on every poll."
	print "tocsinpoll, tocsind: whole processes on one config (bench/pbdaemon.sh:"
	print "input registers, one read per poll), CPU of every thread by /proc over"
	print "the window; missed = polls the process counts as not done in their slot"
	print "(polls_failed + polls_overrun over the window; the detail line also has the"
	print "shortfall against devices x window s, a few tens of polls of resolution);"
	print "tocsinpoll is the poller alone (loop, alarm rules),"
	print "tocsind adds the shard threads and the file sink."
	gd = "tocsind|10000/1000"; gp = "tocsinpoll|10000/1000"
	if ((gd in med) && (gp in med)) {
		cd = core[med[gd]]; cp = core[med[gp]]
		r = cp > 0 ? cd / cp : 0
		ok = cd < 0.15 && r <= 1.25 && mmax[gd] == 0
		print ""
		printf "whole daemon, 10,000 devices x 1 s: tocsind %.3f cores (target < 0.15),", cd
		printf " %.2fx the poller alone at %.3f (target <= 1.25x), missed polls %d, at most %d\n",
		    r, cp, f(row[med[gd]], "missed"), mmax[gd]
		printf "in a run (target 0): %s\n", ok ? "met" : "NOT met"
	}
}' "$RES"
