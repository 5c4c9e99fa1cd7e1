# procstat.sh - shell helpers of the benchmark scripts that measure a
# whole process (bench/idlebench.sh, bench/pbdaemon.sh): sourced, not run.
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

# The comm field may hold spaces: everything up to the last ')' goes.
ticks() { sed 's/.*) //' "$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }

vmhwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

started() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$PID" 2>/dev/null || [ $i -ge 200 ]; then
			echo "$3 did not start (20 s bound)" >&2
			cat "$1" >&2
			return 1
		fi
		sleep 0.1; i=$((i + 1))
	done
}

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
