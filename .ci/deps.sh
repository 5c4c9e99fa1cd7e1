#!/bin/sh
# Installs the Debian packages tocsin needs that are not yet installed.
# Non-interactive; only what is missing; safe to run again.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev \
 libev-dev libmodbus-dev libhiredis-dev librdkafka-dev libjemalloc-dev \
 libcriterion-dev libyaml-dev libjansson-dev libmicrohttpd-dev libck-dev \
 redis-server python3 valgrind kcat default-jdk-headless maven prometheus \
 systemd groff-base man-db tmux"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
