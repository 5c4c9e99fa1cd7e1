#!/bin/sh
# Installs the Debian packages tocsin needs that are not yet installed.
# Non-interactive; only what is missing; safe to run again.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev \
 libev-dev libmodbus-dev libhiredis-dev librdkafka-dev libjemalloc-dev \
 libcriterion-dev libyaml-dev libjansson-dev libmicrohttpd-dev libck-dev \
 redis-server python3 valgrind kcat default-jdk-headless maven prometheus \
 systemd groff-base man-db tmux chromium iproute2 iptables"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
# node and npm by command, not package: a nodejs from elsewhere (with its
# own npm) must not be replaced by Debian's.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The browser tests' driver (tests/browser/package.json pins playwright-core;
# it drives Debian's chromium, never downloads a browser).
if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
	echo "deps: npm ci in tests/browser"
	# a registry that cannot be reached costs the browser tests only
	# (test_noc_page skips, saying why), not the rest of make test
	(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci \
	    --no-audit --no-fund --loglevel=error) ||
		echo "deps: npm ci in tests/browser failed: the browser tests will be skipped"
fi
