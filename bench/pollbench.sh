#!/bin/sh
# pollbench.sh - the poller baselines against devsim, in one bounded run.
#
#   sh bench/pollbench.sh [BUILD]          (BUILD defaults to build/default)
#
# For D = 100 and 1,000 devices (one connection each) it runs the
# sequential libmodbus baseline and the raw-epoll floor, and for D = 10,000
# the floor alone (libmodbus cannot hold 10,000 descriptors).  devsim runs
# on a random free 127.X.0.0/16 range; above 5,000 endpoints it runs as two
# processes (--shard 0/2, 1/2) because one process may hold at most 20,000
# descriptors (a listener and a connection per endpoint).  The simulator's
# own CPU over each client run is read from its SIGUSR1 stats and printed
# next to the client's, so one can see that it is not the bottleneck.
#
# Work is fixed: PB_LM_TX libmodbus transactions, PB_EP_TX epoll
# transactions (defaults 20000 and 200000), after a warm-up of 2 x D; and,
# at D = 10,000, PB_INTERVAL_S seconds (5) of the floor polling every device
# once a second.  Every process
# is started and stopped by PID; every wait is bounded (ready 20 s, each
# client run PB_TIMEOUT s, default 120).
set -u

BUILD=${1:-build/default}
LM_TX=${PB_LM_TX:-20000}
EP_TX=${PB_EP_TX:-200000}
TMO=${PB_TIMEOUT:-120}
DEVSIM=$BUILD/bench/devsim
LM=$BUILD/bench/pollbase_libmodbus
EP=$BUILD/bench/pollbase_epoll
for b in "$DEVSIM" "$LM" "$EP"; do
	[ -x "$b" ] || { echo "pollbench: missing $b (run make)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/pollbench.XXXXXX)
SIMPIDS=""

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

# A free port on a random 127.X.0.1 (X in 20..249).
pick_base() {
	python3 - <<'EOF'
import random, socket
x = random.randint(20, 249)
s = socket.socket()
s.bind(("127.%d.0.1" % x, 0))
print("127.%d.0.1 %d" % (x, s.getsockname()[1]))
s.close()
EOF
}

# start_sims D SHARDS: starts devsim, sets BASE PORT SIMPIDS; 0 when ready.
start_sims() {
	d=$1; n=$2
	for attempt in 1 2 3; do
		set -- $(pick_base); BASE=$1; PORT=$2
		SIMPIDS=""
		s=0
		while [ $s -lt "$n" ]; do
			"$DEVSIM" --devices "$d" --base-addr "$BASE" --port "$PORT" \
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

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# run NAME BIN D TX [ARGS...]: one client run; prints its line and the
# simulator's CPU over it.
run() {
	name=$1; bin=$2; d=$3; tx=$4
	shift 4
	c0=$(sim_cpu)
	w0=$(date +%s%N)
	line=$(timeout "$TMO" "$bin" --devices "$d" --base-addr "$BASE" \
	    --port "$PORT" --count "$tx" --warmup $((d * 2)) --timeout-ms 5000 \
	    "$@" 2>"$TMP/client.err")
	rc=$?
	w1=$(date +%s%N)
	c1=$(sim_cpu)
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "pollbench: $name D=$d failed rc=$rc" >&2
		cat "$TMP/client.err" >&2
		return 1
	fi
	# The simulator's CPU over the whole client run (connect, warm-up,
	# measured phase), as a share of one core over the same wall time.
	wall=$(echo "$w0 $w1" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }')
	simcpu=$(echo "$c0 $c1" | awk '{ printf "%.3f", $2 - $1 }')
	simcore=$(echo "$simcpu $wall" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }')
	echo "$line sim_cpu_s=$simcpu run_wall_s=$wall sim_cores=$simcore"
	eval "R_${name}_$d=\"\$line\""
}

ratio() {
	a=$(field "$1" "$3"); b=$(field "$2" "$3")
	echo "$a $b" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }'
}

echo "pollbench: $(date -u +%FT%TZ) build=$BUILD cores=$(nproc) lm_tx=$LM_TX ep_tx=$EP_TX"
for D in 100 1000 10000; do
	shards=1
	[ $D -gt 5000 ] && shards=2
	start_sims $D $shards || exit 1
	echo "pollbench: D=$D devsim=$BASE:$PORT processes=$shards"
	[ $D -le 1000 ] && run libmodbus "$LM" $D "$LM_TX"
	run epoll "$EP" $D "$EP_TX"
	# The realistic load: every device once a second, for the later
	# comparison of CPU share and jitter at 10,000 devices.
	[ $D -eq 10000 ] && run epoll_1s "$EP" $D 1 --interval-ms 1000 \
	    --duration "${PB_INTERVAL_S:-5}"
	if [ $D -le 1000 ]; then
		eval "l=\$R_libmodbus_$D; e=\$R_epoll_$D"
		echo "pollbench ratio D=$D baseline=epoll libmodbus_cpu_per_1k=$(ratio "$l" "$e" cpu_s_per_1k)x libmodbus_tps=$(ratio "$l" "$e" tps)x"
	fi
	stop_sims
	rm -f "$TMP"/sim*
done
