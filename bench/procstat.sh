# procstat.sh - shell helpers of the benchmark scripts that measure a
# whole process (bench/idlebench.sh, bench/pbdaemon.sh, bench/pollbench.sh,
# bench/e2e.sh): sourced, not run.
#
#   ticks DIR     utime + stime, clock ticks, of /proc/PID (every thread)
#                 or /proc/PID/task/TID (one thread); DIR is that path
#   stop_pid      SIGTERM to $PID, up to $STOP_WAIT_S (default 15) seconds
#                 for it to exit, then SIGKILL; reaps it and clears PID
#   vmhwm PID     peak resident set, KiB (VmHWM)
#   started FILE REGEX WHO
#                 waits (20 s bound) until REGEX is in FILE, the stderr of
#                 $PID; 0, or 1 (said as WHO, with FILE) if $PID died or
#                 the bound passed
#   key LINE NAME the value of NAME=... in a key=value LINE
#   counters_mark FILE WHO
#                 SIGUSR1 to $PID (tocsind or tocsinpoll) and waits (5 s)
#                 for the new ` counters uptime_s=` line in FILE, its
#                 stderr; sets LINE (that line), W (wall clock, ns, just
#                 before the signal) and C (ticks of /proc/$PID then);
#                 0, or 1 (said as WHO) if no line came
#   pick_base     prints "127.X.0.1 PORT": a random 127.X (X in 20..249)
#                 and a port free on 127.X.0.1, for a simulator's fleet

# The comm field may hold spaces: everything up to the last ')' goes.
ticks() { sed 's/.*) //' "$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }

vmhwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# wait_line FILE PATTERN WHAT PID SECONDS: until FILE has a line matching
# PATTERN; fails (saying WHAT did not start, with FILE) when PID is gone or
# after SECONDS.
wait_line() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$4" 2>/dev/null || [ $i -ge $(($5 * 10)) ]; then
			echo "$3 did not start ($5 s bound)" >&2
			cat "$1" >&2
			return 1
		fi
		sleep 0.1; i=$((i + 1))
	done
}

# started FILE PATTERN WHAT: the same for $PID, 20 s.
started() { wait_line "$1" "$2" "$3" "$PID" 20; }

stop_pid() {
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	i=0
	while kill -0 "$PID" 2>/dev/null && [ $i -lt $((${STOP_WAIT_S:-15} * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 "$PID" 2>/dev/null; then
		echo "$(basename "$0"): pid $PID still running ${STOP_WAIT_S:-15} s after SIGTERM: SIGKILL" >&2
		kill -KILL "$PID" 2>/dev/null
	fi
	wait "$PID" 2>/dev/null
	PID=""
}

key() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

counters_mark() {
	n0=$(grep -c ' counters uptime_s=' "$1")
	W=$(date +%s%N); C=$(ticks "/proc/$PID")
	kill -USR1 "$PID"
	i=0
	while [ "$(grep -c ' counters uptime_s=' "$1")" -le "$n0" ]; do
		if [ $i -ge 50 ]; then
			echo "$2: no counters line from pid $PID in 5 s" >&2
			return 1
		fi
		sleep 0.1; i=$((i + 1))
	done
	LINE=$(grep ' counters uptime_s=' "$1" | tail -1)
}

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
