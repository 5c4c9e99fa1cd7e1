/*
 * e2e.c - the reader side of bench/e2e.sh: when did each alarm of a storm
 * reach Kafka and the SSE stream?
 *
 *   e2e topic BROKERS TOPIC [PARTITIONS [KEY=VALUE...]]
 *       creates TOPIC (PARTITIONS, default 1; replication 1; the topic
 *       configs given, e.g. cleanup.policy=compact) with
 *       message.timestamp.type=LogAppendTime, so that every message's
 *       timestamp is the broker's clock when it appended the batch, not the
 *       producer's CreateTime; an existing topic is an error (its
 *       timestamp type would be unknown).  bench/scalebench.sh makes its
 *       topics with it too
 *   e2e collect --brokers B --topic T [--sse HOST:PORT] --expect FILE
 *       [--timeout S]
 *       reads T from the beginning (and GET /api/v1/events from HOST:PORT)
 *       and writes one line on stdout, flushed, the first time a (site,
 *       alarm code) pair appears in a site incident's `alarms` on a source:
 *
 *         first SOURCE SITE CODE T_US TSTYPE INCIDENT EVENT SEQ RAISED_US
 *
 *       SOURCE is kafka or sse; T_US the message's timestamp in us since
 *       the epoch (Kafka: its timestamp, ms; TSTYPE log_append or create,
 *       as the broker returned it) or the wall clock when the event's data
 *       line was read (SSE: TSTYPE recv); EVENT and SEQ the event that
 *       first named the pair (opened, or the updated event that added the
 *       alarm); RAISED_US the alarm's raised_at in that event (tocsind's
 *       clock at the sample that raised it, ms; 0 if it has none), which
 *       splits a latency into the wait for a poll and what follows it.
 *       Every pair is written, expected or not.  It exits 0 when
 *       every pair of FILE (lines `SITE CODE`) has been seen on every
 *       source, 1 when the bound passed or on SIGTERM/SIGINT first, after
 *       a summary line:
 *
 *         e2e summary kafka_events=N sse_events=M expected=E kafka_seen=K
 *           sse_seen=S sse_status=C done=0|1
 *
 *       sse_status is the HTTP status of the last SSE answer (0: none yet,
 *       -1: no --sse); an SSE answer that is not 200 text/event-stream is
 *       retried every second, and once Kafka has every pair such a status
 *       ends the collection (done=1, sse_seen short): a tocsind without
 *       the stream has no SSE figure, and says so by its status.
 *
 * Two threads (the Kafka consumer, the SSE reader) and the main thread,
 * which waits for the end; the table of pairs is one array under a mutex
 * (a storm has hundreds of pairs, each looked up once per event).  Every
 * wait is bounded: the consumer polls 100 ms at a time, the SSE socket
 * has a 200 ms receive timeout, connects are retried every second.
 * Loopback only: the SSE address must be in 127.0.0.0/8.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "daemon/clock.h"
#include "daemon/utc.h"
#include "daemon/mem.h"

#define E2E_MAX_PAIRS	65536
#define SSE_BUF		(1 << 20)	/* one event line is a few KB */

enum { SRC_KAFKA, SRC_SSE, SRC__COUNT };
static const char *const src_name[SRC__COUNT] = { "kafka", "sse" };

struct pair {
	char		 site[48];
	char		 code[32];
	int		 expected;	/* listed in --expect */
	int		 seen[SRC__COUNT]; /* first line written */
};

static struct {
	pthread_mutex_t	 mu;
	struct pair	*pairs;
	size_t		 npairs;
	size_t		 nexpected;
	size_t		 seen_exp[SRC__COUNT]; /* expected pairs seen */
	uint64_t	 events[SRC__COUNT];
	int		 sse_on;
	atomic_int	 sse_status;	/* last HTTP status; 0 none yet */
	atomic_int	 stop;
} e2e = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store(&e2e.stop, 1);
}

/* An RFC 3339 UTC time (daemon/utc, the daemon's own reader), in µs since
 * the epoch; 0 if not one. */
static int64_t
rfc3339_us(const char *s)
{
	int64_t ms;

	if (s == NULL || utc_parse(s, strlen(s), &ms) != 0)
		return 0;
	return ms * 1000;
}

/* The pair, added if new (expected = 0); NULL when the table is full. */
static struct pair *
pair_get(const char *site, const char *code)
{
	struct pair *p;

	for (size_t i = 0; i < e2e.npairs; i++)
		if (strcmp(e2e.pairs[i].site, site) == 0 &&
		    strcmp(e2e.pairs[i].code, code) == 0)
			return &e2e.pairs[i];
	if (e2e.npairs == E2E_MAX_PAIRS || strlen(site) >= sizeof(p->site) ||
	    strlen(code) >= sizeof(p->code))
		return NULL;
	p = &e2e.pairs[e2e.npairs++];
	memset(p, 0, sizeof(*p));
	strcpy(p->site, site);
	strcpy(p->code, code);
	return p;
}

/*
 * Whether the collection is over: every expected pair seen on Kafka, and
 * on the SSE stream unless that answered with something else than 200
 * (a tocsind without the stream: its figure is then missing, said by
 * sse_status in the summary).
 */
static int
all_seen(void)
{
	int done, st = atomic_load(&e2e.sse_status);

	pthread_mutex_lock(&e2e.mu);
	done = e2e.seen_exp[SRC_KAFKA] == e2e.nexpected &&
	    (!e2e.sse_on || e2e.seen_exp[SRC_SSE] == e2e.nexpected ||
	    (st != 0 && st != 200));
	pthread_mutex_unlock(&e2e.mu);
	return done;
}

/*
 * One tocsin.incident/1 event from a source at t_us: writes the pairs of a
 * site incident's alarms that this source shows for the first time.
 */
static void
take_event(int src, const char *buf, size_t len, int64_t t_us,
    const char *tstype)
{
	json_t *ev, *inc, *alarms, *a;
	const char *kind, *site, *id, *event;
	json_error_t jerr;
	size_t i;

	if ((ev = json_loadb(buf, len, 0, &jerr)) == NULL) {
		fprintf(stderr, "e2e: %s: not JSON (%s): %.80s\n",
		    src_name[src], jerr.text, buf);
		return;
	}
	inc = json_object_get(ev, "incident");
	kind = json_string_value(json_object_get(inc, "kind"));
	site = json_string_value(json_object_get(inc, "site"));
	id = json_string_value(json_object_get(inc, "id"));
	event = json_string_value(json_object_get(ev, "event"));
	alarms = json_object_get(inc, "alarms");
	pthread_mutex_lock(&e2e.mu);
	e2e.events[src]++;
	if (kind != NULL && strcmp(kind, "site") == 0 && site != NULL) {
		json_array_foreach(alarms, i, a) {
			const char *code = json_string_value(
			    json_object_get(a, "code"));
			struct pair *p;

			if (code == NULL || (p = pair_get(site, code)) == NULL ||
			    p->seen[src])
				continue;
			p->seen[src] = 1;
			if (p->expected)
				e2e.seen_exp[src]++;
			printf("first %s %s %s %lld %s %s %s %lld %lld\n",
			    src_name[src], site, code, (long long)t_us, tstype,
			    id != NULL ? id : "-", event != NULL ? event : "-",
			    (long long)json_integer_value(
			    json_object_get(ev, "seq")),
			    (long long)rfc3339_us(json_string_value(
			    json_object_get(a, "raised_at"))));
		}
		fflush(stdout);
	}
	pthread_mutex_unlock(&e2e.mu);
	json_decref(ev);
}

/* ------------------------------------------------------------ Kafka */

struct kafka_args {
	const char	*brokers;
	const char	*topic;
};

static void *
kafka_main(void *arg)
{
	const struct kafka_args *ka = arg;
	rd_kafka_topic_partition_list_t *subs;
	char errstr[512], group[64];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_resp_err_t err;

	snprintf(group, sizeof(group), "bench-e2e-%ld", (long)getpid());
	if (rd_kafka_conf_set(conf, "bootstrap.servers", ka->brokers, errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", group, errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    /* the embedded mock creates the topic at tocsind's first event */
	    rd_kafka_conf_set(conf, "allow.auto.create.topics", "true",
	    errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms",
	    "1000", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "e2e: kafka config: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		atomic_store(&e2e.stop, 1);
		return NULL;
	}
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "e2e: kafka consumer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		atomic_store(&e2e.stop, 1);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, ka->topic,
	    RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "e2e: subscribe %s: %s\n", ka->topic,
		    rd_kafka_err2str(err));
		atomic_store(&e2e.stop, 1);
	}
	while (!atomic_load(&e2e.stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		rd_kafka_timestamp_type_t tt;
		int64_t ts;

		if (m == NULL)
			continue;
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			/* the topic may not exist yet (mock): not fatal */
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				fprintf(stderr, "e2e: kafka: %s\n",
				    rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		ts = rd_kafka_message_timestamp(m, &tt);
		take_event(SRC_KAFKA, m->payload, m->len, ts * 1000,
		    tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "log_append" :
		    tt == RD_KAFKA_TIMESTAMP_CREATE_TIME ? "create" : "none");
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return NULL;
}

static int
create_topic(const char *brokers, const char *topic, int partitions,
    char **props, int nprops)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tr;
	char errstr[512];
	size_t n;
	rd_kafka_t *rk;
	int rc = 1;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr,
	    sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    (rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "e2e topic: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr,
	    sizeof(errstr));
	if (nt == NULL || rd_kafka_NewTopic_set_config(nt,
	    "message.timestamp.type", "LogAppendTime") !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "e2e topic: %s\n", nt == NULL ? errstr :
		    "cannot set message.timestamp.type");
		goto out;
	}
	for (int i = 0; i < nprops; i++) {
		char *eq = strchr(props[i], '=');

		if (eq == NULL) {
			fprintf(stderr, "e2e topic: %s: want KEY=VALUE\n",
			    props[i]);
			goto out;
		}
		*eq = '\0';
		if (rd_kafka_NewTopic_set_config(nt, props[i], eq + 1) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "e2e topic: cannot set %s\n",
			    props[i]);
			goto out;
		}
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	/* bounded: the admin request times out on its own (socket.timeout) */
	ev = rd_kafka_queue_poll(q, 30000);
	if (ev == NULL) {
		fprintf(stderr, "e2e topic: no answer in 30 s\n");
	} else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "e2e topic: %s\n",
		    rd_kafka_event_error_string(ev));
	} else {
		res = rd_kafka_event_CreateTopics_result(ev);
		tr = rd_kafka_CreateTopics_result_topics(res, &n);
		if (n == 1 && rd_kafka_topic_result_error(tr[0]) ==
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			printf("e2e topic %s created partitions=%d "
			    "timestamp=LogAppendTime\n", topic, partitions);
			rc = 0;
		} else {
			fprintf(stderr, "e2e topic %s: %s\n", topic, n == 1 ?
			    rd_kafka_topic_result_error_string(tr[0]) :
			    "no result");
		}
	}
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
out:
	if (nt != NULL)
		rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
	return rc;
}

/* ------------------------------------------------------------ SSE */

struct sse {
	struct sockaddr_in addr;
	char		*buf;		/* raw bytes received, not yet used */
	size_t		 len;
	char		*line;		/* the current line, de-chunked */
	size_t		 llen;
	int		 chunked;
	size_t		 chunk_left;	/* bytes of the current chunk */
	int		 fd;
};

/* One complete line of the event stream (without its newline). */
static void
sse_line(struct sse *s, char *line, size_t len, int64_t t_us)
{
	if (len >= 5 && memcmp(line, "data:", 5) == 0) {
		size_t off = line[5] == ' ' ? 6 : 5;

		take_event(SRC_SSE, line + off, len - off, t_us, "recv");
	}
}

/* Appends body bytes to the line buffer; each newline ends a line. */
static void
sse_body(struct sse *s, const char *p, size_t n, int64_t t_us)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			size_t l = s->llen;

			if (l > 0 && s->line[l - 1] == '\r')
				l--;
			s->line[l] = '\0';
			sse_line(s, s->line, l, t_us);
			s->llen = 0;
		} else if (s->llen < SSE_BUF - 1) {
			s->line[s->llen++] = p[i];
		}
	}
}

/*
 * Consumes s->buf: chunk framing (when chunked) around the body.  Leaves
 * an incomplete chunk-size line in the buffer.
 */
static void
sse_feed(struct sse *s, int64_t t_us)
{
	size_t off = 0;

	while (off < s->len) {
		if (!s->chunked) {
			sse_body(s, s->buf + off, s->len - off, t_us);
			off = s->len;
		} else if (s->chunk_left > 0) {
			size_t n = s->len - off < s->chunk_left ?
			    s->len - off : s->chunk_left;

			sse_body(s, s->buf + off, n, t_us);
			off += n;
			s->chunk_left -= n;
		} else {
			/* "\r\n" after a chunk, then "SIZE[;ext]\r\n" */
			char *nl = memchr(s->buf + off, '\n', s->len - off);
			char *end;
			unsigned long v;

			if (nl == NULL)
				break;
			/* the empty line after a chunk has no digits (and
			   strtoul would skip its CR LF into the next line) */
			v = isxdigit((unsigned char)s->buf[off]) ?
			    strtoul(s->buf + off, &end, 16) : 0;
			if (isxdigit((unsigned char)s->buf[off])) {
				s->chunk_left = v;
				if (v == 0)	/* last chunk: the stream ended */
					s->chunked = -1;
			}
			off = (size_t)(nl - s->buf) + 1;
			if (s->chunked < 0)
				break;
		}
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
}

/* One connection, until it ends (closed, error, not an event stream). */
static void
sse_session(struct sse *s)
{
	static const char req[] = "GET /api/v1/events HTTP/1.1\r\n"
	    "Host: tocsind\r\nAccept: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\n\r\n";
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	int header = 1;

	s->len = s->llen = s->chunk_left = 0;
	s->chunked = 0;
	if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return;
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s->fd, (struct sockaddr *)&s->addr, sizeof(s->addr)) != 0 ||
	    send(s->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(req) - 1)
		goto out;
	while (!atomic_load(&e2e.stop) && !all_seen()) {
		ssize_t n = recv(s->fd, s->buf + s->len, SSE_BUF - s->len, 0);
		int64_t t = clock_wall_us();

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		s->len += (size_t)n;
		if (header) {
			char *eoh = memmem(s->buf, s->len, "\r\n\r\n", 4);
			int status = 0;

			if (eoh == NULL) {
				if (s->len == SSE_BUF)
					break;
				continue;
			}
			*eoh = '\0';
			sscanf(s->buf, "HTTP/%*d.%*d %d", &status);
			atomic_store(&e2e.sse_status, status);
			if (status != 200 ||
			    strcasestr(s->buf, "text/event-stream") == NULL)
				break;
			s->chunked = strcasestr(s->buf,
			    "transfer-encoding: chunked") != NULL;
			header = 0;
			s->len -= (size_t)(eoh + 4 - s->buf);
			memmove(s->buf, eoh + 4, s->len);
		}
		sse_feed(s, t);
		if (s->chunked < 0 || s->len == SSE_BUF)
			break;
	}
out:
	close(s->fd);
	s->fd = -1;
}

static void *
sse_main(void *arg)
{
	struct sse *s = arg;

	while (!atomic_load(&e2e.stop) && !all_seen()) {
		sse_session(s);
		/* a reconnect without Last-Event-ID: pairs already seen stay
		   first-seen at their earlier time */
		for (int i = 0; i < 10 && !atomic_load(&e2e.stop); i++)
			usleep(100000);
	}
	return NULL;
}

/* ------------------------------------------------------------ main */

static int
load_expect(const char *path)
{
	char site[64], code[64];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "e2e: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fscanf(f, "%63s %63s", site, code) == 2) {
		struct pair *p = pair_get(site, code);

		if (p == NULL) {
			fprintf(stderr, "e2e: %s: too many pairs\n", path);
			fclose(f);
			return -1;
		}
		if (!p->expected)
			e2e.nexpected++;
		p->expected = 1;
	}
	fclose(f);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: e2e topic BROKERS TOPIC [PARTITIONS "
	    "[KEY=VALUE...]]\n"
	    "       e2e collect --brokers B --topic T [--sse HOST:PORT] "
	    "--expect FILE [--timeout S]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct kafka_args ka = { NULL, NULL };
	const char *sse_at = NULL, *expect = NULL;
	struct sse s = { .fd = -1 };
	pthread_t kt, st;
	double timeout = 600;
	int64_t t0;
	int done;

	if (argc >= 4 && strcmp(argv[1], "topic") == 0)
		return create_topic(argv[2], argv[3], argc >= 5 ?
		    atoi(argv[4]) : 1, argv + 5, argc > 5 ? argc - 5 : 0);
	if (argc < 2 || strcmp(argv[1], "collect") != 0)
		return usage();
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--brokers") == 0)
			ka.brokers = argv[i + 1];
		else if (strcmp(argv[i], "--topic") == 0)
			ka.topic = argv[i + 1];
		else if (strcmp(argv[i], "--sse") == 0)
			sse_at = argv[i + 1];
		else if (strcmp(argv[i], "--expect") == 0)
			expect = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout = atof(argv[i + 1]);
		else
			return usage();
	}
	if (ka.brokers == NULL || ka.topic == NULL || expect == NULL ||
	    (argc % 2) != 0)
		return usage();
	e2e.pairs = xcalloc(E2E_MAX_PAIRS, sizeof(*e2e.pairs));
	if (load_expect(expect) != 0)
		return 2;
	if (sse_at != NULL) {
		char host[64];
		unsigned port;

		if (sscanf(sse_at, "%63[^:]:%u", host, &port) != 2 ||
		    inet_pton(AF_INET, host, &s.addr.sin_addr) != 1 ||
		    (ntohl(s.addr.sin_addr.s_addr) >> 24) != 127 ||
		    port == 0 || port > 65535) {
			fprintf(stderr, "e2e: --sse %s: not a 127.x HOST:PORT\n",
			    sse_at);
			return 2;
		}
		s.addr.sin_family = AF_INET;
		s.addr.sin_port = htons((uint16_t)port);
		s.buf = xmalloc(SSE_BUF);
		s.line = xmalloc(SSE_BUF);
		e2e.sse_on = 1;
	} else {
		e2e.sse_status = -1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (pthread_create(&kt, NULL, kafka_main, &ka) != 0 ||
	    (e2e.sse_on && pthread_create(&st, NULL, sse_main, &s) != 0)) {
		fprintf(stderr, "e2e: cannot start the reader threads\n");
		return 2;
	}
	t0 = clock_wall_us();
	while (!atomic_load(&e2e.stop) && !all_seen() &&
	    (double)(clock_wall_us() - t0) / 1e6 < timeout)
		usleep(50000);
	done = all_seen();
	atomic_store(&e2e.stop, 1);
	pthread_join(kt, NULL);
	if (e2e.sse_on)
		pthread_join(st, NULL);
	printf("e2e summary kafka_events=%llu sse_events=%llu expected=%zu "
	    "kafka_seen=%zu sse_seen=%zu sse_status=%d done=%d\n",
	    (unsigned long long)e2e.events[SRC_KAFKA],
	    (unsigned long long)e2e.events[SRC_SSE], e2e.nexpected,
	    e2e.seen_exp[SRC_KAFKA], e2e.seen_exp[SRC_SSE],
	    atomic_load(&e2e.sse_status), done);
	fflush(stdout);
	xfree(s.buf);
	xfree(s.line);
	xfree(e2e.pairs);
	return done ? 0 : 1;
}
