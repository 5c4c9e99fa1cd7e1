#!/bin/sh
# make demo: a tower network of about 300 sites and 2,900 devices,
# simulated, polled, correlated and watched live.
#
#   1. etc/genfleet.py --demo makes the fleet: etc/demo.yaml's twelve named
#      sites (where the scenario plays) and 288 more in twelve areas, their
#      devices in an inventory CSV; tocsind -n checks it;
#   2. a redis-server on a free loopback port (the NOC keys);
#   3. bench/devsim serves every device on loopback (127.0.1-3.N:1502) and
#      plays etc/demo-scenario.txt: an area grid outage, a battery chain, a
#      gateway loss, a door intrusion, a flapping door sensor and a fault
#      during planned work;
#   4. tocsind -c with its embedded Kafka (kafka.brokers is empty), its
#      HTTP API on a free port with a token only this user reads;
#   5. tocsinctl announces the planned work at SZ-004, then
#   6. tocsinctl watch, the live board, in the foreground: q or Ctrl-C
#      ends the demo.  With DEMO_SECONDS=N (or without a terminal: 60 s)
#      the board prints plain text for N seconds, then the demo stops
#      tocsind (SIGTERM: nothing lost) and shows what it left.
#
# Every process started here is stopped by PID on exit; nothing outside
# the work directory (/tmp/tocsin-demo.*) is written.
set -eu
BUILD=${1:-build/default}
# DEMO_CONFIG: the same fleet on other addresses (tests run it on their own
# loopback block while other tests run); default the shipped file.
CONFIG=${DEMO_CONFIG:-etc/demo.yaml}
SITES=${DEMO_SITES:-288}
work=$(mktemp -d /tmp/tocsin-demo.XXXXXX)
pids=""
tocsind_pid=""
cleanup() {
	if [ -n "$tocsind_pid" ] && kill -0 "$tocsind_pid" 2>/dev/null; then
		kill -TERM "$tocsind_pid" 2>/dev/null || true
		i=0
		while kill -0 "$tocsind_pid" 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$tocsind_pid" 2>/dev/null || true
	fi
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The fleet, its journals in the work directory (a demo starts from
# nothing; a real daemon restores what its state_dir holds).
python3 etc/genfleet.py "$work" --demo "$CONFIG" --sites "$SITES"
CONFIG=$work/demo.yaml
sed -i "s|^  state_dir: .*|  state_dir: $work/state|" "$CONFIG"
grep -q "state_dir: $work/state" "$CONFIG" ||
	{ echo "demo: $CONFIG has no daemon.state_dir line" >&2; exit 1; }

# Redis for the NOC keys: a free port on 127.0.0.1, no persistence.
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    >"$work/redis.log" 2>&1 &
pids="$pids $!"
i=0
until redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG; do
	i=$((i + 1))
	[ $i -le 50 ] || { echo "demo: redis-server did not start" >&2;
	    cat "$work/redis.log" >&2; exit 1; }
	sleep 0.1
done
# The HTTP API on a free loopback port, with a token only this user reads.
hport=$(free_port)
(umask 077; head -c 24 /dev/urandom | base64 >"$work/token")
sed -i "s|^  listen: .*|  listen: \"127.0.0.1:$hport\"\\n  token_file: $work/token|" \
    "$CONFIG"
grep -q "token_file: $work/token" "$CONFIG" ||
	{ echo "demo: $CONFIG has no http.listen line" >&2; exit 1; }
sed -i -e "s|^redis:\$|redis:\\n  enabled: true|" \
    -e "s|^  port: 6379\$|  port: $rport|" "$CONFIG"
grep -q "port: $rport" "$CONFIG" ||
	{ echo "demo: $CONFIG has no redis port 6379 line" >&2; exit 1; }
export TOCSIN_SERVER="http://127.0.0.1:$hport"
export TOCSIN_TOKEN_FILE="$work/token"
ctl="$BUILD/tocsinctl --actor demo"

echo "== tocsind -n -c $CONFIG"
"$BUILD/tocsind" -n -c "$CONFIG"
echo
echo "== simulated fleet: devsim -c $CONFIG --scenario etc/demo-scenario.txt"
"$BUILD/bench/devsim" -c "$CONFIG" --scenario etc/demo-scenario.txt \
    --time-scale 60 >"$work/devsim.out" 2>"$work/devsim.err" &
dpid=$!
pids="$pids $dpid"
i=0
until grep -q ready "$work/devsim.out" "$work/devsim.err" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$dpid" 2>/dev/null; then
		echo "demo: the simulator did not start:" >&2
		cat "$work/devsim.err" >&2
		exit 1
	fi
	sleep 0.1
done
grep -v '^#' etc/demo-scenario.txt | sed 's/^/  /'
echo

# tocsind; a safety stop should this script die without its trap
secs=${DEMO_SECONDS:-}
if [ -z "$secs" ] && ! { [ -t 0 ] && [ -t 1 ]; }; then
	secs=60
fi
dur=31536000
[ -z "$secs" ] || dur=$((secs + 120))
"$BUILD/tocsind" -c "$CONFIG" -d "$dur" \
    >"$work/tocsind.out" 2>"$work/tocsind.err" &
tocsind_pid=$!
i=0
until $ctl status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 "$tocsind_pid" 2>/dev/null; then
		echo "demo: tocsind did not become ready:" >&2
		tail -20 "$work/tocsind.err" >&2
		exit 1
	fi
	sleep 0.1
done
echo "== planned work: $($ctl maintenance add --site SZ-004 --start now \
    --end +2h --reason 'rectifier replacement (demo)')"
bootstrap=$(sed -n 's/^.*mock cluster bootstrap=\([^ ]*\).*$/\1/p' \
    "$work/tocsind.err" | head -1)
echo "== tocsind is running (pid $tocsind_pid), what to open:"
echo "   NOC page:      $TOCSIN_SERVER/"
echo "   HTTP API:      $TOCSIN_SERVER/api/v1/incidents   (live: curl -N $TOCSIN_SERVER/api/v1/events)"
echo "   metrics:       $TOCSIN_SERVER/metrics"
echo "   tocsinctl:     TOCSIN_SERVER=$TOCSIN_SERVER TOCSIN_TOKEN_FILE=$work/token $BUILD/tocsinctl incidents"
echo "   Kafka:         kcat -b ${bootstrap:-?} -t tocsin.incidents -C -o beginning"
echo "   Redis:         redis-cli -p $rport ZRANGE tocsin:incidents:open 0 -1"
echo

if [ -z "$secs" ]; then
	# the board until q or Ctrl-C; the trap stops everything
	$ctl watch || true
	exit 0
fi
echo "== tocsinctl watch --plain, for ${secs} s (red waiting, yellow being handled, green nearly done, grey planned)"
timeout "$secs" $ctl watch --plain || true
echo
echo "== tocsinctl incidents"
$ctl incidents || true
echo
kill -TERM "$tocsind_pid"
i=0
while kill -0 "$tocsind_pid" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1; i=$((i + 1))
done
if kill -0 "$tocsind_pid" 2>/dev/null ||
    ! grep -q ' stop reason=' "$work/tocsind.err"; then
	echo "demo: tocsind did not stop cleanly:" >&2
	tail -20 "$work/tocsind.err" >&2
	exit 1
fi
tocsind_pid=""
echo "== tocsind: $(grep ' stop reason=' "$work/tocsind.err" | tail -1 | sed 's/^[^ ]* level=info //')"
echo "== redis (127.0.0.1:$rport), what a NOC screen reads:"
echo "   open incidents (tocsin:incidents:open): $(redis-cli -p "$rport" ZCARD tocsin:incidents:open)"
echo "   events in tocsin:stream:incidents: $(redis-cli -p "$rport" XLEN tocsin:stream:incidents)"
