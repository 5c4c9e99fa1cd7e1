#!/bin/sh
# broker.sh - a real single-node Apache Kafka broker (KRaft, loopback only)
# for the integration tests, from Apache Kafka's own jars on Maven Central
# (see docs/kafka.md "Test broker"; the facts are /work/shared/KAFKA.md).
#
#   broker.sh start DIR     resolve the jars once (cache outside the repo),
#                           format a fresh log dir in DIR, start the broker
#                           under timeout(1), wait (bounded) until a metadata
#                           request answers; last line: bootstrap=127.0.0.1:PORT
#   broker.sh stop DIR      TERM by PID, KILL after a bound
#   broker.sh kill DIR      KILL by PID at once (a crash)
#   broker.sh restart DIR   start again on the same ports and log dir
#
# Exit 0 on success; 3 with "bootstrap=mock" as the last line when java or
# mvn is missing or the jars cannot be resolved (offline), so a test can
# fall back to librdkafka's mock cluster and say so; 1 on any other failure,
# after the tail of DIR/broker.log.
#
# Environment: KAFKA_VERSION (4.4.0), BROKER_LIFETIME (seconds the broker
# may live at most, the timeout(1) bound; 1800), BROKER_WAIT (seconds to
# wait for readiness; 60).
set -u

VERSION=${KAFKA_VERSION:-4.4.0}
LOG4J_VERSION=2.25.1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tocsin/kafka-$VERSION
LIB=$CACHE/lib
LIFETIME=${BROKER_LIFETIME:-1800}
WAIT=${BROKER_WAIT:-60}

die() { echo "broker.sh: $*" >&2; exit 1; }
mock() { echo "broker.sh: $* (use the mock cluster)" >&2; echo "bootstrap=mock"; exit 3; }

usage() { die "usage: broker.sh start|stop|kill|restart DIR"; }

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2

# A free TCP port on 127.0.0.1 (bind to 0, read what the kernel chose).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null
}

# The jars, resolved once into $LIB (a half-done resolution is redone).
resolve() {
	# the tests' way to walk the path of a machine without Java
	[ "${TOCSIN_KAFKA_MOCK:-0}" = 1 ] && mock "TOCSIN_KAFKA_MOCK=1"
	command -v java >/dev/null 2>&1 || mock "java not found"
	command -v mvn >/dev/null 2>&1 || mock "mvn not found"
	[ -f "$LIB/.complete" ] && return 0
	mkdir -p "$CACHE" || mock "cannot create $CACHE"
	cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tocsin.test</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	rm -rf "$LIB"
	if ! mvn -B -q -f "$CACHE/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
	    dependency:copy-dependencies -DoutputDirectory="$LIB" \
	    -DincludeScope=runtime >"$CACHE/resolve.log" 2>&1; then
		tail -5 "$CACHE/resolve.log" >&2
		mock "cannot resolve the kafka $VERSION jars"
	fi
	ls "$LIB"/kafka_2.13-*.jar >/dev/null 2>&1 || mock "no kafka jar in $LIB"
	touch "$LIB/.complete"
}

write_config() {
	bport=$1
	cport=$2
	cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=500
EOF
	cat >"$DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $DIR/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
EOF
	echo "$bport" >"$DIR/port"
}

alive() {
	[ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

# Starts the formatted broker and waits (bounded) for a metadata answer.
launch() {
	bport=$(cat "$DIR/port")
	# setsid: the broker is its own process group, so a test runner's
	# signals do not reach it and stop/kill reach only it.  It keeps no
	# descriptor of the caller's: a caller reading our output to EOF
	# (a test's pipe) must see it when this script exits.
	setsid timeout -s KILL "$LIFETIME" java -Xms256m -Xmx512m \
	    -XX:+UseG1GC -XX:G1HeapRegionSize=4m \
	    -Dlog4j2.configurationFile="$DIR/log4j2.properties" \
	    -cp "$LIB/*" kafka.Kafka "$DIR/server.properties" \
	    >>"$DIR/stdout.log" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
	echo $! >"$DIR/timeout.pid"
	# the java process is timeout's child: that is the PID to signal
	# (SIGSTOP/SIGCONT in fault tests must reach the JVM itself)
	jpid=""
	i=0
	while [ $i -lt 50 ]; do
		jpid=$(pgrep -P "$(cat "$DIR/timeout.pid")" java 2>/dev/null | head -1)
		[ -n "$jpid" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$jpid" ] || { tail -20 "$DIR/stdout.log" >&2; die "java did not start"; }
	echo "$jpid" >"$DIR/pid"
	deadline=$(($(date +%s) + WAIT))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if ! alive; then
			tail -30 "$DIR/broker.log" "$DIR/stdout.log" >&2 2>/dev/null
			die "broker exited during start"
		fi
		if timeout 5 kcat -b "127.0.0.1:$bport" -L -m 2 >/dev/null 2>&1; then
			echo "bootstrap=127.0.0.1:$bport"
			return 0
		fi
		sleep 0.3
	done
	tail -30 "$DIR/broker.log" >&2 2>/dev/null
	stop_broker KILL
	die "broker not ready after ${WAIT}s"
}

# TERM (or the signal given) by PID, then KILL after 15 s; waits until gone.
stop_broker() {
	sig=${1:-TERM}
	alive || { rm -f "$DIR/pid"; return 0; }
	pid=$(cat "$DIR/pid")
	kill -CONT "$pid" 2>/dev/null	# a stopped JVM cannot handle TERM
	kill -"$sig" "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		[ $i -eq 150 ] && kill -KILL "$pid" 2>/dev/null
		[ $i -gt 200 ] && die "pid $pid does not die"
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$DIR/pid"
}

case $CMD in
start)
	command -v kcat >/dev/null 2>&1 || die "kcat not found (apt-get install kcat)"
	resolve
	mkdir -p "$DIR" || die "cannot create $DIR"
	alive && die "a broker already runs from $DIR (pid $(cat "$DIR/pid"))"
	DIR=$(cd "$DIR" && pwd)
	rm -rf "$DIR/data" "$DIR/broker.log" "$DIR/stdout.log"
	bport=$(free_port)
	cport=$(free_port)
	[ -n "$bport" ] && [ -n "$cport" ] && [ "$bport" != "$cport" ] ||
		die "no free ports"
	write_config "$bport" "$cport"
	uuid=$(java -cp "$LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
	[ -n "$uuid" ] || die "StorageTool random-uuid failed"
	java -cp "$LIB/*" kafka.tools.StorageTool format -t "$uuid" \
	    -c "$DIR/server.properties" >"$DIR/format.log" 2>&1 ||
		{ tail -20 "$DIR/format.log" >&2; die "format failed"; }
	launch
	;;
restart)
	resolve
	DIR=$(cd "$DIR" 2>/dev/null && pwd) || die "no broker dir $2"
	[ -f "$DIR/port" ] || die "$DIR was never started"
	stop_broker TERM
	launch
	;;
stop)
	[ -d "$DIR" ] || exit 0
	stop_broker TERM
	;;
kill)
	[ -d "$DIR" ] || exit 0
	stop_broker KILL
	;;
*)
	usage
	;;
esac
