#!/bin/sh
# make bench: runs every benchmark with its default (fixed) amount of work.
# Each prints its phases and its ratio against a baseline from the same run.
set -u
BUILD=${1:-build/default}
export TOCSIN_BUILD="$BUILD"
rc=0
for b in cfgbench pointbench timerqbench slabench corrbench ringbench wakebench mbpoll; do
	if [ -x "$BUILD/bench/$b" ]; then
		echo "=== $b"
		"$BUILD/bench/$b" || rc=1
	fi
done
# the publishing side (journal, pump + Redis sink, restart), short settings;
# the full run is bench/pubbench with no options (docs/benchmarks.md)
if [ -x "$BUILD/bench/pubbench" ]; then
	echo "=== pubbench --edges 20000 --open 20000"
	"$BUILD/bench/pubbench" --edges 20000 --open 20000 || rc=1
fi
# whole processes: the idle daemon, then the poller (simulator, clients),
# then the whole daemon in a storm
if [ -f bench/idlebench.sh ]; then
	echo "=== idlebench.sh"
	sh bench/idlebench.sh "$BUILD" || rc=1
fi
if [ -f bench/pollbench.sh ]; then
	echo "=== pollbench.sh"
	sh bench/pollbench.sh "$BUILD" || rc=1
fi
# the whole daemon end to end: a storm on 10,000 simulated devices, to
# Kafka (a real broker where Java is present) and SSE, against the poller
if [ -f bench/e2e.sh ]; then
	echo "=== e2e.sh"
	sh bench/e2e.sh "$BUILD" || rc=1
fi
# several correlators on Kafka (issue 16): the real broker needs java
if [ -f bench/scalebench.py ] && command -v java >/dev/null 2>&1; then
	echo "=== scalebench.py"
	python3 bench/scalebench.py "$BUILD" || rc=1
fi
exit $rc
