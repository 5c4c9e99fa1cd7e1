#!/bin/sh
# make demo: the demo fleet of etc/demo.yaml, simulated, polled and
# correlated live for about a minute.
#
#   1. tocsind -n checks etc/demo.yaml and lists its sites, tenants and tiers;
#   2. bench/devsim serves every device of the config on 127.0.1.N:1502 and
#      plays etc/demo-scenario.txt (a mains failure, a door, a silent FSU, a
#      grid outage of an area);
#   3. bench/tocsinpoll polls the fleet (the Modbus client, point decoding,
#      alarm rules) and prints alarm transitions; tocsind --replay - correlates
#      them as they come; etc/demo-view.py shows each incident event.
#
# Redis, the embedded Kafka, the HTTP API and tocsinctl watch are not built
# yet; when they are, this script starts them too.  Every process started
# here is stopped by PID on exit.
set -eu
BUILD=${1:-build/default}
SECONDS_TO_RUN=${DEMO_SECONDS:-45}
work=$(mktemp -d /tmp/tocsin-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== tocsind -n -v -c etc/demo.yaml (effective tier: the highest tenant's)"
"$BUILD/tocsind" -n -v -c etc/demo.yaml
echo
echo "== simulated fleet: devsim -c etc/demo.yaml --scenario etc/demo-scenario.txt"
"$BUILD/bench/devsim" -c etc/demo.yaml --scenario etc/demo-scenario.txt \
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
echo "== polling and correlating for ${SECONDS_TO_RUN}s (red: waiting, yellow: being handled, green: nearly done)"
"$BUILD/bench/tocsinpoll" -c etc/demo.yaml -d "$SECONDS_TO_RUN" 2>"$work/poll.err" |
    "$BUILD/tocsind" --replay - -c etc/demo.yaml 2>"$work/replay.err" |
    python3 etc/demo-view.py
echo
echo "== poller: $(tail -1 "$work/poll.err")"
echo "== correlator: $(tail -1 "$work/replay.err")"
