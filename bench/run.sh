#!/bin/sh
# make bench: runs every benchmark with its default (fixed) amount of work.
# Each prints its phases and its ratio against a baseline from the same run.
set -u
BUILD=${1:-build/default}
export TOCSIN_BUILD="$BUILD"
rc=0
for b in cfgbench; do
	if [ -x "$BUILD/bench/$b" ]; then
		echo "=== $b"
		"$BUILD/bench/$b" || rc=1
	fi
done
exit $rc
