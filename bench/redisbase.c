/*
 * redisbase - the baseline for the Redis publisher's benchmark: plain
 * hiredis clients issuing the same Redis commands as the sink, one by one
 * and pipelined in batches, and the sink itself, in the same run against
 * the same server.
 *
 *   redisbase [-h host] [-p port] [-n events] [-b batch] [-m modes]
 *             [-i max_inflight] [-x]
 *   defaults: 127.0.0.1, 6379, 20000, 100, "one,batch,sink", the sink's
 *   default (1000), no MULTI
 *
 * -i sets the sink's max_inflight; -x wraps each record's commands in
 * MULTI/EXEC in the blocking modes (what the sink would pay for atomic
 * records: docs/redis.md "Why no MULTI/EXEC").
 *
 * The work is fixed: n synthetic incident events (200 incidents over 4
 * shards and 50 sites, so every incident gets n/200 events; the first
 * opens it, the last closes it, each carries one timeline step and a
 * JSON body of the daemon's size), turned into commands by
 * redis_record_argv(), the function drivers/redis sends through, so every
 * mode issues exactly the same commands in the same order:
 *   one    blocking hiredis, redisCommandArgv() per command, each reply
 *          awaited before the next command;
 *   batch  blocking hiredis, redisAppendCommandArgv() for `batch`
 *          commands, then redisGetReply() for each of them;
 *   sink   drivers/redis on a libev loop, offered as fast as its ready()
 *          lets (max_inflight 1000), until every record is done.
 * Each mode writes under its own key prefix ("tocsinbench:<pid>:<mode>:")
 * and deletes its keys afterwards (SCAN + UNLINK), so the modes start from
 * the same empty state and the server's other keys are left alone.
 *
 * Per mode: events/s, commands/s, wall seconds and this process's CPU
 * seconds (getrusage: the client's cost; the server's is not counted),
 * then each mode's events/s as a ratio to batch's.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "bench/pb_redis.h"
#include "bench/pb_stats.h"
#include "correlator/corr.h"
#include "daemon/utc.h"
#include "drivers/redis/redis.h"

#define RB_INCIDENTS	200
#define RB_SHARDS	4
#define RB_SITES	50

/* One synthetic event, with the bytes its record points at. */
struct rb_ev {
	struct pub_rec	 r;
	char		 id[32], site[16];
	char		*json;
	struct pub_span	 step;
};

enum rb_mode { RB_ONE, RB_BATCH, RB_SINK, RB__N };
static const char *rb_names[RB__N] = { "one", "batch", "sink" };

struct rb_result {
	int	 ran;
	double	 wall, cpu;
	uint64_t commands;
};

static double
rb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The n events, incident i % 200's (i / 200)th. */
static struct rb_ev *
rb_events(unsigned n)
{
	struct rb_ev *v = calloc(n, sizeof(*v));
	unsigned rounds = (n + RB_INCIDENTS - 1) / RB_INCIDENTS;
	int64_t t0 = 1790000000000LL;

	if (v == NULL)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		struct rb_ev *e = &v[i];
		unsigned inc = i % RB_INCIDENTS, round = i / RB_INCIDENTS;
		int last = round == rounds - 1 && i + RB_INCIDENTS >= n;
		uint8_t state = round == 0 ? CORR_OPEN : last ? CORR_CLOSED :
		    CORR_ACKNOWLEDGED;
		uint8_t type = round == 0 ? CORR_EV_OPENED : last ?
		    CORR_EV_CLOSED : CORR_EV_UPDATED;
		char at[UTC_LEN], step[256];
		size_t cap = 1024;
		int len, slen;

		corr_id_format(e->id, sizeof(e->id), "INC-",
		    inc % RB_SHARDS, 1 + inc / RB_SHARDS);
		snprintf(e->site, sizeof(e->site), "S%u", inc % RB_SITES);
		utc_format(t0 + (int64_t)i * 1000, at);
		slen = snprintf(step, sizeof(step), "{\"at\":\"%s\",\"actor\":"
		    "\"tocsin\",\"action\":\"%s\",\"note\":\"event %u\"}", at,
		    corr_evtype_name(type), i);
		e->json = malloc(cap);
		if (e->json == NULL)
			return NULL;
		len = snprintf(e->json, cap, "{\"schema\":\"tocsin.incident/1\","
		    "\"event\":\"%s\",\"seq\":%u,\"at\":\"%s\",\"incident\":{"
		    "\"id\":\"%s\",\"site\":\"%s\",\"area\":\"north\","
		    "\"severity\":\"major\",\"state\":\"%s\",\"root_cause\":{"
		    "\"device\":\"rect-%u\",\"alarm\":\"MAINS_FAIL\","
		    "\"raised_at\":\"%s\"},\"alarms\":[],\"customers\":[{\"id\":"
		    "\"cust-1\",\"tier\":\"gold\"}],\"tier\":\"gold\",\"planned\":"
		    "false,\"chronic\":false,\"flapping\":false,\"clocks\":{},"
		    "\"escalation_level\":0,\"timeline_len\":%u},\"steps\":[",
		    corr_evtype_name(type), round + 1, at, e->id, e->site,
		    corr_state_name(state), inc, at, round + 1);
		e->step.off = (uint32_t)len;
		e->step.len = (uint32_t)slen;
		len += snprintf(e->json + len, cap - (size_t)len, "%s]}", step);
		e->r.pos = i + 1;
		e->r.shard = inc % RB_SHARDS;
		e->r.kind = PUB_EVENT;
		e->r.type = type;
		e->r.state = state;
		e->r.severity = SEV_MAJOR;
		e->r.live = state != CORR_CLOSED;
		e->r.seq = round + 1;
		e->r.at = t0 + (int64_t)i * 1000;
		e->r.opened_at = t0 + inc;
		e->r.deadline = e->r.live ? t0 + 3600000 + inc : 0;
		e->r.id = e->id;
		e->r.site = e->site;
		e->r.area = "north";
		e->r.json = e->json;
		e->r.jsonlen = (size_t)len;
		e->r.steps = &e->step;
		e->r.nsteps = 1;
		e->r.kpart = -1;
		e->r.koffset = -1;
	}
	return v;
}

/* ---- the sink, with the smallest pump that keeps it busy ---- */

struct rb_pump {
	struct pub_sink	*sink;
	struct rb_ev	*v;
	unsigned	 n, next;
	uint64_t	 done;		/* records done */
	int		 up, ready;
	unsigned	 rewinds;
};

static void
rb_ready(void *arg)
{
	((struct rb_pump *)arg)->ready = 1;
}

static void
rb_done(void *arg, unsigned shard, uint64_t pos)
{
	(void)shard;
	(void)pos;
	((struct rb_pump *)arg)->done++;
}

static void
rb_rewind(void *arg, unsigned shard, uint64_t pos)
{
	(void)shard;
	(void)pos;
	((struct rb_pump *)arg)->rewinds++;
}

static void
rb_resync(void *arg)
{
	((struct rb_pump *)arg)->up = 1;
}

static int
rb_sink(struct ev_loop *loop, const struct redis_config *cfg,
    struct rb_ev *v, unsigned n, uint64_t *ncmd, double *t_start)
{
	struct rb_pump p = { .v = v, .n = n };
	struct pub_host host = { rb_ready, rb_done, rb_rewind, rb_resync, &p };
	struct redis_stats st;
	double deadline;
	int rc = 0;

	if (redis_new(loop, cfg, &host, &p.sink) != 0)
		return -1;
	deadline = rb_now() + 10;
	while (!p.up && rb_now() < deadline)
		ev_run(loop, EVRUN_ONCE);
	if (!p.up) {
		fprintf(stderr, "redisbase: sink: no connection\n");
		p.sink->ops->close(p.sink, 0);
		return -1;
	}
	/* the clock starts once connected, as the blocking modes' do */
	*t_start = rb_now();
	p.ready = 1;
	deadline = rb_now() + 600;
	while (p.done < n && p.rewinds == 0 && rb_now() < deadline) {
		if (p.ready) {
			p.ready = 0;
			while (p.next < n && p.sink->ops->offer(p.sink,
			    &v[p.next].r) == 0)
				p.next++;
		}
		ev_run(loop, EVRUN_ONCE);
	}
	redis_stats(p.sink, &st);
	*ncmd = st.commands;
	if (p.done < n || st.errors > 0) {
		fprintf(stderr, "redisbase: sink: done %llu of %u, errors "
		    "%llu, rewinds %u\n", (unsigned long long)p.done, n,
		    (unsigned long long)st.errors, p.rewinds);
		rc = -1;
	}
	p.sink->ops->close(p.sink, 1000);
	return rc;
}

static void
rb_usage(void)
{
	fprintf(stderr, "usage: redisbase [-h host] [-p port] [-n events] "
	    "[-b batch] [-m one,batch,sink] [-i max_inflight] [-x]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *modes = "one,batch,sink";
	unsigned port = 6379, n = 20000, batch = 100, inflight = 0;
	int multi = 0;
	struct rb_result res[RB__N];
	struct ev_loop *loop;
	struct timeval tv = { 5, 0 };
	redisContext *c;
	struct rb_ev *v;
	const struct pub_rec **recs;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "h:p:n:b:m:i:x")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': modes = optarg; break;
		case 'x': multi = 1; break;
		case 'i': inflight = (unsigned)strtoul(optarg, NULL, 10); break;
		default: rb_usage();
		}
	}
	if (n == 0 || batch == 0 || port == 0 || port > 65535)
		rb_usage();
	signal(SIGPIPE, SIG_IGN);
	if ((v = rb_events(n)) == NULL ||
	    (recs = calloc(n, sizeof(*recs))) == NULL) {
		fprintf(stderr, "redisbase: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < n; i++)
		recs[i] = &v[i].r;
	c = redisConnectWithTimeout(host, (int)port, tv);
	if (c == NULL || c->err) {
		fprintf(stderr, "redisbase: connect %s:%u: %s\n", host, port,
		    c ? c->errstr : "out of memory");
		return 1;
	}
	loop = ev_loop_new(EVFLAG_AUTO);
	memset(res, 0, sizeof(res));
	printf("redisbase: %u events (%u incidents, %u shards, %u sites), "
	    "server %s:%u, batch %u\n", n, RB_INCIDENTS, RB_SHARDS, RB_SITES,
	    host, port, batch);
	for (int m = 0; m < RB__N && rc == 0; m++) {
		struct redis_config cfg;
		char prefix[64];
		double t0, c0;

		if (strstr(modes, rb_names[m]) == NULL)
			continue;
		redis_config_defaults(&cfg);
		cfg.host = host;
		cfg.port = port;
		snprintf(prefix, sizeof(prefix), "tocsinbench:%d:%s:",
		    (int)getpid(), rb_names[m]);
		cfg.prefix = prefix;
		if (inflight > 0)
			cfg.max_inflight = inflight;
		c0 = pb_cpu_s(RUSAGE_SELF);
		t0 = rb_now();
		if (m == RB_SINK)
			rc = rb_sink(loop, &cfg, v, n, &res[m].commands, &t0);
		else
			rc = pb_redis_blocking(c, &cfg, recs, n, m == RB_ONE ?
			    1 : batch, multi, rb_names[m], &res[m].commands);
		res[m].wall = rb_now() - t0;
		res[m].cpu = pb_cpu_s(RUSAGE_SELF) - c0;
		res[m].ran = rc == 0;
		pb_redis_cleanup(c, prefix);
		if (rc != 0)
			break;
		printf("  %-6s %10.0f events/s %10.0f commands/s  wall_s=%.3f "
		    "cpu_s=%.3f commands=%llu\n", rb_names[m],
		    n / res[m].wall, (double)res[m].commands / res[m].wall,
		    res[m].wall, res[m].cpu,
		    (unsigned long long)res[m].commands);
	}
	if (rc == 0 && res[RB_BATCH].ran) {
		printf("  events/s relative to batch:");
		for (int m = 0; m < RB__N; m++)
			if (res[m].ran)
				printf(" %s %.2f", rb_names[m],
				    res[RB_BATCH].wall / res[m].wall);
		printf("\n");
	}
	redisFree(c);
	ev_loop_destroy(loop);
	for (unsigned i = 0; i < n; i++)
		free(v[i].json);
	free(v);
	free(recs);
	return rc == 0 ? 0 : 1;
}
