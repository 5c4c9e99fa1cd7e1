#!/bin/sh
# make demo: the demo fleet of etc/demo.yaml, simulated, polled and
# correlated live for about a minute.
#
#   1. tocsind -n checks etc/demo.yaml and lists its sites, tenants and tiers;
#   2. bench/devsim serves every device of the config on 127.0.1.N:1502 and
#      plays etc/demo-scenario.txt (a mains failure, a door, a silent FSU, a
#      grid outage of an area);
#   3. tocsind -c etc/demo.yaml -d N runs live: it polls the fleet (the
#      Modbus client, point decoding, alarm rules), correlates on its shard
#      threads and writes every incident event as a JSON line to stdout
#      (etc/demo.yaml sets no output.file); etc/demo-view.py shows each one.
#
#   4. a redis-server on a free loopback port takes the NOC keys
#      (docs/redis.md), and tocsind's embedded Kafka (librdkafka's mock
#      cluster: kafka.brokers is empty) takes tocsin.incidents; at the end
#      the script shows what Redis holds.
#
# The HTTP API and tocsinctl watch are not built yet.  Every process
# started here is stopped by PID on exit.
set -eu
BUILD=${1:-build/default}
# DEMO_CONFIG: the same fleet on other addresses (tests run it on their own
# loopback block while other tests run); default the shipped file.
CONFIG=${DEMO_CONFIG:-etc/demo.yaml}
SECONDS_TO_RUN=${DEMO_SECONDS:-45}
work=$(mktemp -d /tmp/tocsin-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
# A demo starts from nothing: its journals live in the work directory, not
# in the config's state_dir (a real daemon restores what that holds).
sed "s|^  state_dir: .*|  state_dir: $work/state|" "$CONFIG" >"$work/demo.yaml"
grep -q "state_dir: $work/state" "$work/demo.yaml" ||
	{ echo "demo: $CONFIG has no daemon.state_dir line" >&2; exit 1; }
CONFIG=$work/demo.yaml

# Redis for the NOC keys: a free port on 127.0.0.1, no persistence.
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(umask 077; head -c 24 /dev/urandom | base64 >"$work/token")
sed -i "s|^  listen: .*|  listen: \"127.0.0.1:$hport\"\\n  token_file: $work/token|" \
    "$CONFIG"
grep -q "token_file: $work/token" "$CONFIG" ||
	{ echo "demo: $CONFIG has no http.listen line" >&2; exit 1; }
echo "== HTTP API: http://127.0.0.1:$hport/healthz, /readyz, /metrics (writes: Authorization: Bearer \$(cat $work/token))"
sed -i -e "s|^redis:\$|redis:\\n  enabled: true|" \
    -e "s|^  port: 6379\$|  port: $rport|" "$CONFIG"
grep -q "port: $rport" "$CONFIG" ||
	{ echo "demo: $CONFIG has no redis port 6379 line" >&2; exit 1; }

echo "== tocsind -n -v -c $CONFIG (effective tier: the highest tenant's)"
"$BUILD/tocsind" -n -v -c "$CONFIG"
echo
echo "== simulated fleet: devsim -c $CONFIG --scenario etc/demo-scenario.txt"
"$BUILD/bench/devsim" -c "$CONFIG" --scenario etc/demo-scenario.txt \
    --time-scale 60 >"$work/devsim.out" 2>"$work/devsim.err" &
pids="$pids $!"
i=0
until grep -q ready "$work/devsim.out" "$work/devsim.err" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 $pids 2>/dev/null; then
		echo "demo: the simulator did not start:" >&2
		cat "$work/devsim.err" >&2
		exit 1
	fi
	sleep 0.1
done
grep -v '^#' etc/demo-scenario.txt | sed 's/^/  /'
echo
echo "== tocsind -c $CONFIG -d ${SECONDS_TO_RUN}: polling and correlating live (red: waiting, yellow: being handled, green: nearly done)"
{ "$BUILD/tocsind" -c "$CONFIG" -d "$SECONDS_TO_RUN" 2>"$work/tocsind.err";
  echo $? >"$work/tocsind.rc"; } | python3 etc/demo-view.py
echo
if [ "$(cat "$work/tocsind.rc")" != 0 ] ||
    ! grep -q ' stop reason=' "$work/tocsind.err"; then
	echo "demo: tocsind did not stop cleanly (exit $(cat "$work/tocsind.rc")):" >&2
	cat "$work/tocsind.err" >&2
	exit 1
fi
echo "== tocsind: $(grep ' stop reason=' "$work/tocsind.err" | tail -1 | sed 's/^[^ ]* level=info //')"
grep -m1 'mock cluster bootstrap=' "$work/tocsind.err" |
    sed 's/^.*level=info /== /'
echo "== redis (127.0.0.1:$rport), what a NOC screen reads:"
echo "   open incidents (tocsin:incidents:open): $(redis-cli -p "$rport" ZCARD tocsin:incidents:open)"
redis-cli -p "$rport" ZRANGE tocsin:incidents:open 0 -1 | sed 's/^/     /'
echo "   events in tocsin:stream:incidents: $(redis-cli -p "$rport" XLEN tocsin:stream:incidents)"
