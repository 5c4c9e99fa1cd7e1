#!/bin/sh
# reloadbench.sh - how long a SIGHUP reload takes on a 10,000-device fleet.
#
# Fixed work: etc/genfleet.py's fleet of 1,000 sites x 10 devices (10,000
# devices behind 1,000 FSU gateways on 127.1.x.y:1502, where nothing
# listens: every device goes COMM_LOSS, so the shards hold ~1,000 open
# incidents with running clocks).  tocsind runs it (HTTP on 127.0.0.1:0,
# the embedded Kafka); once the incidents are open, RUNS reloads each add
# one device to the inventory and send SIGHUP.  Printed per reload, from
# tocsind's own log: prepare_ms (load + check + retire + engines, poll
# thread), reload_ms (all of the poll thread's part, the swap included)
# and shards_ms (until every shard has swapped its engine, as seen by the
# 250 ms tick: an upper bound), then the medians.
#
#   bench/reloadbench.sh [RUNS]        (from the repository root, after
#                                       make all)
set -eu
runs=${1:-5}
top=$(pwd)
d=$top/build/bench-data/reload-1000
tocsind=$top/build/default/tocsind
[ -x "$tocsind" ] || { echo "reloadbench: no $tocsind (make all)"; exit 1; }
rm -rf "$d"
python3 etc/genfleet.py "$d" --sites 1000 --per-site 10 >/dev/null
sed -i "s#^daemon: .*#daemon: {state_dir: $d/state, shards: 2}#" "$d/fleet.yaml"
cat >>"$d/fleet.yaml" <<EOF
output: {file: $d/out.jsonl}
kafka: {brokers: ""}
http: {listen: "127.0.0.1:0"}
EOF
"$tocsind" -c "$d/fleet.yaml" >"$d/tocsind.out" 2>"$d/tocsind.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
# every device misses 3 polls 5 s apart: wait for the incidents
i=0
while ! grep -q ' start version=' "$d/tocsind.err"; do
	i=$((i + 1)); [ $i -lt 600 ] || { echo "reloadbench: no start"; exit 1; }
	sleep 0.1
done
sleep 20
n=0
while [ $n -lt "$runs" ]; do
	n=$((n + 1))
	echo "S00000-x$n,S00000,battery,,,$((100 + n)),S00000-fsu" \
	    >>"$d/fleet-devices.csv"
	kill -HUP $pid
	i=0
	while [ "$(grep -c 'reload done by every shard' "$d/tocsind.err")" -lt $n ]; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo "reloadbench: reload $n not done"; exit 1; }
		sleep 0.1
	done
	sleep 1
done
kill -TERM $pid
wait $pid || true
trap - EXIT INT TERM
grep -o 'census="[^"]*"' "$d/tocsind.err" | head -1
grep ' restored \| stop reason' "$d/tocsind.err" | grep -o 'incidents_opened=[0-9]*' | head -1
awk '
/ reloaded config=/ {
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^prepare_ms=/) { split($i, a, "="); p[++np] = a[2] }
		if ($i ~ /^reload_ms=/) { split($i, a, "="); r[++nr] = a[2] }
	}
}
/ reload done by every shard/ {
	for (i = 1; i <= NF; i++)
		if ($i ~ /^shards_ms=/) { split($i, a, "="); s[++ns] = a[2] }
}
function med(v, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	return v[int((n + 1) / 2)]
}
END {
	for (i = 1; i <= nr; i++)
		printf "reload %d: prepare_ms=%s reload_ms=%s shards_ms<=%s\n", i, p[i], r[i], s[i]
	printf "reloadbench: 10000 devices, %d reloads: median prepare_ms=%s reload_ms=%s shards_ms<=%s\n", nr, med(p, np), med(r, nr), med(s, ns)
}' "$d/tocsind.err"
