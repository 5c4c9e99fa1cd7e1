#!/bin/sh
# idlebench.sh - what the whole daemon costs when it has nothing to do
# (issue 11: target under 0.01 core), in one bounded run.
#
#   sh bench/idlebench.sh [BUILD] [SECONDS]   (build/default, IB_SECONDS or 20)
#
# Work: `tocsind -c CONFIG` for SECONDS with no device reachable, where
# CONFIG is etc/demo.yaml (12 FSUs with 45 devices behind them, 2 shards)
# with modbus.port changed to a port nothing listens on at any of its
# hosts 127.0.1.1-12 (checked by a connect that must be refused), so that
# the demo's simulator, if someone runs it, cannot answer (and http.listen
# to port 0).  Every device
# fails to connect and backs off (1 s doubling to 60 s), the shards have
# nothing to correlate, the sink nothing to write: what is left is the
# idle cost of the loop, the shard threads and the file sink.
# Baseline in the same run: the poller alone (bench/tocsinpoll) on the same
# config for the same SECONDS, then the daemon again, then the poller
# again (IB_REPEAT rounds, default 2, interleaved).
#
# Measured window: from the process's start line (tocsind "start ...",
# tocsinpoll "tocsinpoll config=...") to SECONDS later, by utime + stime of
# /proc/PID/stat (all threads) and of each /proc/PID/task/TID/stat; peak
# RSS is VmHWM of /proc/PID/status at the end of the window.  Then SIGTERM
# and the process's own stop line (tocsind: polls=, polls_good=...).
#
# Bounds: the start line within 20 s, exit within 15 s of SIGTERM (then
# SIGKILL); each process also gets -d SECONDS+60 so that it stops by itself
# should this script die.  Processes are stopped by PID.  Loopback only.
set -u
. "$(dirname "$0")/procstat.sh"
STOP_WAIT_S=15

BUILD=${1:-build/default}
SECS=${2:-${IB_SECONDS:-20}}
REPEAT=${IB_REPEAT:-2}
CONFIG=${IB_CONFIG:-etc/demo.yaml}
TOCSIND=$BUILD/tocsind
POLL=$BUILD/bench/tocsinpoll
TARGET=0.01
for b in "$TOCSIND" "$POLL"; do
	[ -x "$b" ] || { echo "idlebench: missing $b (run make)" >&2; exit 1; }
done
[ -f "$CONFIG" ] || { echo "idlebench: no $CONFIG" >&2; exit 1; }
case $SECS in
''|*[!0-9]*|0) echo "idlebench: SECONDS must be a positive integer" >&2; exit 2 ;;
esac

TMP=$(mktemp -d /tmp/idlebench.XXXXXX)
PID=""
HZ=$(getconf CLK_TCK)

cleanup() { stop_pid; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# The config's hosts, and a port none of them answers on.
HOSTS=$(grep '{ *id:' "$CONFIG" |
    sed -n 's/.*[{ ,]host: *\(127\.[0-9.]*\).*/\1/p' | sort -u)
[ -n "$HOSTS" ] || { echo "idlebench: no 127.x host in $CONFIG" >&2; exit 1; }
PORT=$(python3 - $HOSTS <<'EOF'
import errno, socket, sys
for attempt in range(20):
	s = socket.socket()
	s.bind((sys.argv[1], 0))
	port = s.getsockname()[1]
	s.close()
	refused = 0
	for h in sys.argv[1:]:
		c = socket.socket()
		c.settimeout(1)
		try:
			c.connect((h, port))
		except ConnectionRefusedError:
			refused += 1
		except OSError:
			pass
		c.close()
	if refused == len(sys.argv) - 1:
		print(port)
		sys.exit(0)
sys.exit(1)
EOF
) || { echo "idlebench: no port refused on every host" >&2; exit 1; }
# modbus.port is the one 2-space-indented `port:` of the modbus section;
# the HTTP server takes any free port (the default one may be taken)
awk -v p="$PORT" '
/^[a-z]/ { sec = $1 }
sec == "modbus:" && /^  port:/ { print "  port: " p; next }
sec == "http:" && /^  listen:/ { print "  listen: \"127.0.0.1:0\""; next }
{ print }' "$CONFIG" >"$TMP/idle.yaml"
grep -q "^  port: $PORT\$" "$TMP/idle.yaml" ||
    { echo "idlebench: could not set modbus.port in $CONFIG" >&2; exit 1; }
ABS_BUILD=$(cd "$BUILD" && pwd)

# run NAME READY_REGEX CMD...: one measured run in $TMP; appends its result
# line to $TMP/results.
run() {
	name=$1; ready=$2; shift 2
	: >"$TMP/$name.err"
	(cd "$TMP" && exec "$@") >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	PID=$!
	started "$TMP/$name.err" "$ready" "idlebench: $name" ||
	    { stop_pid; exit 1; }
	w0=$(date +%s%N); c0=$(ticks "/proc/$PID")
	for t in /proc/$PID/task/*; do
		echo "$(basename "$t") $(ticks "$t")"
	done >"$TMP/tasks0"
	sleep "$SECS"
	w1=$(date +%s%N); c1=$(ticks "/proc/$PID")
	for t in /proc/$PID/task/*; do
		echo "$(basename "$t") $(ticks "$t")"
	done >"$TMP/tasks1"
	hwm=$(vmhwm "$PID")
	pid=$PID
	stop_pid
	wall=$(echo "$w0 $w1" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }')
	cpu=$(echo "$c0 $c1 $HZ" | awk '{ printf "%.3f", ($2 - $1) / $3 }')
	cores=$(echo "$cpu $wall" | awk '{ printf "%.4f", ($2 > 0 ? $1 / $2 : 0) }')
	# per thread: the main thread is the poll loop, the others in order
	# of creation (tocsind: the shard threads)
	thr=$(awk -v hz="$HZ" -v pid="$pid" '
	    NR == FNR { t0[$1] = $2; next }
	    { d = ($2 - ($1 in t0 ? t0[$1] : 0)) / hz
	      printf "%s%s=%.3f", sep, ($1 == pid ? "main" : "t" $1), d
	      sep = "," }' "$TMP/tasks0" "$TMP/tasks1")
	stopl=$(grep -E ' stop reason=|tocsinpoll summary' "$TMP/$name.err" | tail -1)
	polls=$(echo "$stopl" | tr ' ' '\n' | sed -n 's/^polls=//p' | head -1)
	good=$(echo "$stopl" | tr ' ' '\n' | sed -n 's/^polls_good=//p' | head -1)
	line="idlebench client=$name secs=$wall cpu_s=$cpu cores=$cores peak_rss_kib=$hwm polls=${polls:-?} polls_good=${good:-?} threads=$thr"
	echo "$line"
	echo "$line" >>"$TMP/results"
}

echo "idlebench: $(date -u +%FT%TZ) build=$BUILD config=$CONFIG modbus.port=$PORT (refused on $(echo $HOSTS | wc -w) hosts) secs=$SECS rounds=$REPEAT cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/results"
r=1
while [ $r -le "$REPEAT" ]; do
	run tocsind ' start version=' "$ABS_BUILD/tocsind" -c idle.yaml \
	    -d $((SECS + 60))
	run tocsinpoll 'tocsinpoll config=' "$ABS_BUILD/bench/tocsinpoll" \
	    -c idle.yaml -d $((SECS + 60))
	r=$((r + 1))
done

# Medians over the rounds, the ratio, the verdict.
echo
awk -v target="$TARGET" '
function f(line, key,   n, i, a) {
	n = split(line, a, " ")
	for (i = 1; i <= n; i++)
		if (index(a[i], key "=") == 1)
			return substr(a[i], length(key) + 2)
	return ""
}
function med(name, key,   n, i, j, v, t) {
	n = 0
	for (i = 1; i <= NR; i++)
		if (f(row[i], "client") == name)
			v[++n] = f(row[i], key) + 0
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	lo[name, key] = v[1]; hi[name, key] = v[n]
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ row[NR] = $0 }
END {
	printf "%-11s %22s %22s %12s\n", "client", "cores [min..max]",
	    "cpu_s [min..max]", "rss_KiB"
	split("tocsind tocsinpoll", names, " ")
	for (k = 1; k <= 2; k++) {
		c[k] = med(names[k], "cores"); s = med(names[k], "cpu_s")
		m = med(names[k], "peak_rss_kib")
		printf "%-11s %22s %22s %12d\n", names[k],
		    sprintf("%.4f [%.4f..%.4f]", c[k], lo[names[k], "cores"],
		    hi[names[k], "cores"]),
		    sprintf("%.3f [%.3f..%.3f]", s, lo[names[k], "cpu_s"],
		    hi[names[k], "cpu_s"]), m
	}
	printf "tocsind / tocsinpoll cores: %s; target tocsind < %s core: %s\n",
	    (c[2] > 0 ? sprintf("%.1fx", c[1] / c[2]) : "inf"),
	    target, (c[1] < target ? "met" : "NOT met")
}' "$TMP/results"
