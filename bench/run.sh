#!/bin/sh
# make bench: runs every benchmark with its default (fixed) amount of work.
# Each prints its phases and its ratio against a baseline from the same run.
set -u
BUILD=${1:-build/default}
export TOCSIN_BUILD="$BUILD"
rc=0
for b in cfgbench pointbench timerqbench slabench corrbench ringbench mbpoll; do
	if [ -x "$BUILD/bench/$b" ]; then
		echo "=== $b"
		"$BUILD/bench/$b" || rc=1
	fi
done
# the poller benchmark drives several processes (simulator, clients)
if [ -f bench/pollbench.sh ]; then
	echo "=== pollbench.sh"
	sh bench/pollbench.sh "$BUILD" || rc=1
fi
exit $rc
