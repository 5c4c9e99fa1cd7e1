#!/bin/sh
# make demo: for now, checks the demo configuration and prints the fleet it
# describes.  The live demo (simulated fleet, Redis, embedded Kafka, tocsind
# and the incident view) replaces this as those parts land; see README.md.
set -eu
BUILD=${1:-build/default}
echo "== tocsind -n -v -c etc/demo.yaml (effective tier: the highest tenant's)"
"$BUILD/tocsind" -n -v -c etc/demo.yaml
echo
echo "The live demo (device simulator, Redis, embedded Kafka, tocsind and the"
echo "coloured incident view) is not built yet: this checks and prints its"
echo "configuration. See README.md for what works today."
