/*
 * kafkafix.c - see kafkafix.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <librdkafka/rdkafka.h>

#include "correlator/alarm.h"
#include "tests/support/kafkafix.h"
#include "tests/support/proc.h"
#include "tests/support/tenv.h"

static void
kfx_ready(void *arg)
{
	struct kfx *x = arg;

	x->nready++;
}

static void
kfx_done(void *arg, unsigned shard, uint64_t pos)
{
	struct kfx *x = arg;

	if (shard >= KFX_SHARDS)
		abort();
	if (pos + 1 <= x->done[shard])
		x->done_backwards++;
	x->done[shard] = pos + 1;
	x->ndone[shard]++;
}

static void
kfx_rewind(void *arg, unsigned shard, uint64_t pos)
{
	struct kfx *x = arg;

	x->rewind_pos[shard] = pos + 1;
	x->nrewind++;
}

static int
kfx_action(void *arg, const struct corr_action *a, int32_t part,
    int64_t offset)
{
	struct kfx *x = arg;
	struct kfx_act *k;

	x->calls++;
	if (x->eagain_at != 0 && (int)x->calls == x->eagain_at)
		return -EAGAIN;
	if (x->enoent_prefix && strncmp(a->incident, "NOPE", 4) == 0)
		return -ENOENT;
	if (x->nacts == KFX_ACTS)
		return -ENOSPC;
	k = &x->acts[x->nacts++];
	snprintf(k->incident, sizeof(k->incident), "%s", a->incident);
	k->type = a->type;
	snprintf(k->actor, sizeof(k->actor), "%s", a->actor);
	snprintf(k->note, sizeof(k->note), "%s", a->note ? a->note : "");
	k->at = a->at;
	k->part = part;
	k->offset = offset;
	return 0;
}

void
kfx_init(struct kfx *x, const char *brokers, const char *tag)
{
	memset(x, 0, sizeof(*x));
	x->loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(x->brokers, sizeof(x->brokers), "%s", brokers);
	snprintf(x->incidents, sizeof(x->incidents), "t.%s.%d.incidents", tag,
	    (int)getpid());
	snprintf(x->actions, sizeof(x->actions), "t.%s.%d.actions", tag,
	    (int)getpid());
	snprintf(x->rejected, sizeof(x->rejected), "t.%s.%d.rejected", tag,
	    (int)getpid());
	snprintf(x->group, sizeof(x->group), "g.%s.%d", tag, (int)getpid());
	snprintf(x->alarms, sizeof(x->alarms), "t.%s.%d.alarms", tag,
	    (int)getpid());
	kafka_config_defaults(&x->cfg);
	x->cfg.brokers = x->brokers;
	x->cfg.incidents = x->incidents;
	x->cfg.actions = x->actions;
	x->cfg.rejected = x->rejected;
	x->cfg.group = x->group;
	x->cfg.props = x->props;
	/* commits show up soon enough for a test to read them */
	kfx_prop(x, "consumer.auto.commit.interval.ms", "200");
}

void
kfx_prop(struct kfx *x, const char *key, const char *value)
{
	if (x->cfg.nprops == KAFKA_MAX_PROPS)
		abort();
	x->props[x->cfg.nprops].key = key;
	x->props[x->cfg.nprops++].value = value;
}

int
kfx_open(struct kfx *x, int with_actions)
{
	struct pub_host host = {
		.ready = kfx_ready, .done = kfx_done, .rewind = kfx_rewind,
		.arg = x,
	};
	struct kafka_action_host ah = { .action = kfx_action, .arg = x };

	if (!with_actions)
		x->cfg.actions = "";
	return kafka_new(x->loop, &x->cfg, &host, &ah, &x->sink, x->err,
	    sizeof(x->err));
}

void
kfx_close(struct kfx *x, int timeout_ms)
{
	if (x->sink != NULL)
		x->sink->ops->close(x->sink, timeout_ms);
	x->sink = NULL;
	ev_loop_destroy(x->loop);
	x->loop = NULL;
}

/* Offers r at its shard's next position, from tocsin.actions' kpart and
 * koffset (-1: not an action's): offer()'s answer; the position moves on
 * when it took r. */
static int
kfx_offer_rec(struct kfx *x, struct pub_rec *r, int32_t kpart,
    int64_t koffset)
{
	int rc;

	r->pos = x->next_pos[r->shard];
	r->kpart = kpart;
	r->koffset = koffset;
	rc = x->sink->ops->offer(x->sink, r);
	if (rc == 0)
		x->next_pos[r->shard]++;
	return rc;
}

int
kfx_offer_event(struct kfx *x, unsigned shard, unsigned n, uint64_t seq,
    size_t bytes)
{
	char id[64], *json;
	size_t len, pad = 0;
	struct pub_rec r;
	int rc;

	snprintf(id, sizeof(id), "INC-%u-%u", shard, n);
	json = malloc(bytes + 256);
	len = (size_t)snprintf(json, 256, "{\"schema\":\"tocsin.incident/1\","
	    "\"event\":\"updated\",\"seq\":%" PRIu64 ",\"incident\":{\"id\":"
	    "\"%s\"},\"pad\":\"", seq, id);
	if (bytes > len + 2)
		pad = bytes - len - 2;
	memset(json + len, 'x', pad);
	len += pad;
	memcpy(json + len, "\"}", 3);
	len += 2;
	memset(&r, 0, sizeof(r));
	r.shard = shard;
	r.kind = PUB_EVENT;
	r.seq = seq;
	r.id = id;
	r.json = json;
	r.jsonlen = len;
	rc = kfx_offer_rec(x, &r, -1, -1);
	free(json);
	return rc;
}

int
kfx_offer_kind(struct kfx *x, unsigned shard, uint8_t kind, int32_t kpart,
    int64_t koffset)
{
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	r.shard = shard;
	r.kind = kind;
	r.id = "INC-X";
	r.json = kind == PUB_STATE ? "{\"state\":1}" : NULL;
	r.jsonlen = r.json ? strlen(r.json) : 0;
	return kfx_offer_rec(x, &r, kpart, koffset);
}

int
kfx_offer_alarm(struct kfx *x, unsigned shard, const char *area, unsigned n)
{
	char dev[32], site[32];
	struct pub_rec r;

	snprintf(dev, sizeof(dev), "D%u", n);
	snprintf(site, sizeof(site), "S%u", n);
	memset(&r, 0, sizeof(r));
	r.shard = shard;
	r.kind = PUB_ALARM;
	r.at = 1700000000000LL + n;
	r.device = dev;
	r.site = site;
	r.area = area;
	r.code = "MAINS_FAIL";
	r.edge = n % 2 == 0 ? ALARM_RAISE : ALARM_CLEAR;
	r.severity = SEV_CRITICAL;
	r.value = n % 7 == 0 ? NAN : n / 2.0;
	return kfx_offer_rec(x, &r, -1, -1);
}

int
kfx_offer_tick(struct kfx *x, unsigned shard, int64_t at)
{
	struct pub_rec r;

	memset(&r, 0, sizeof(r));
	r.shard = shard;
	r.kind = PUB_TICK;
	r.at = at;
	return kfx_offer_rec(x, &r, -1, -1);
}

static void
kfx_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

int
kfx_wait(struct kfx *x, int (*pred)(struct kfx *), int timeout_ms)
{
	int64_t end = tenv_mono_ms() + timeout_ms;
	ev_timer tick;

	/* the tick only bounds each loop turn so the deadline is seen */
	ev_timer_init(&tick, kfx_tick, 0.05, 0.05);
	ev_timer_start(x->loop, &tick);
	while (!pred(x) && tenv_mono_ms() < end)
		ev_run(x->loop, EVRUN_ONCE);
	ev_timer_stop(x->loop, &tick);
	return pred(x);
}

static int
kfx_never(struct kfx *x)
{
	(void)x;
	return 0;
}

void
kfx_run_for(struct kfx *x, int ms)
{
	(void)kfx_wait(x, kfx_never, ms);
}

int
kfx_all_done(struct kfx *x)
{
	for (unsigned s = 0; s < KFX_SHARDS; s++)
		if (x->done[s] != x->next_pos[s])
			return 0;
	return 1;
}

char *
kfx_kcat_read(const char *brokers, const char *topic, int timeout_ms)
{
	return kfx_kcat_read_fmt(brokers, topic, "%k %s\n", timeout_ms);
}

char *
kfx_kcat_read_fmt(const char *brokers, const char *topic, const char *fmt,
    int timeout_ms)
{
	char *argv[] = { "kcat", "-C", "-b", (char *)brokers, "-t",
	    (char *)topic, "-o", "beginning", "-e", "-q", "-f", (char *)fmt,
	    NULL };
	struct proc_result r;
	char *out;

	if (proc_run(argv, timeout_ms, &r) != 0)
		return NULL;
	if (r.status != 0) {
		fprintf(stderr, "kcat -C %s: status %d: %s\n", topic, r.status,
		    r.err);
		proc_result_free(&r);
		return NULL;
	}
	out = r.out;
	r.out = NULL;
	proc_result_free(&r);
	return out;
}

int
kfx_kcat_write(const char *brokers, const char *topic,
    const char *const *lines, size_t n)
{
	char path[] = "/tmp/kfx-actions-XXXXXX";
	char *argv[] = { "kcat", "-P", "-b", (char *)brokers, "-t",
	    (char *)topic, "-K", "|", "-X", "enable.idempotence=true",
	    "-X", "acks=all", "-l", path, NULL };
	struct proc_result r;
	int fd = mkstemp(path), status;
	FILE *fp;

	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%s\n", lines[i]);
	fclose(fp);
	if (proc_run(argv, 30000, &r) != 0) {
		unlink(path);
		return -1;
	}
	status = r.status;
	if (status != 0)
		fprintf(stderr, "kcat -P %s: status %d: %s\n", topic, status,
		    r.err);
	proc_result_free(&r);
	unlink(path);
	return status;
}

int64_t
kfx_committed(const char *brokers, const char *group, const char *topic,
    int32_t part)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *l;
	char e[256];
	rd_kafka_t *rk;
	int64_t off = -1;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, e,
	    sizeof(e)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e)) !=
	    RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "3", e, sizeof(e)) !=
	    RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e))) == NULL)
		return -1;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, part);
	if (rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    l->elems[0].err == 0)
		off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
	return off;
}

int
kfx_check_events(const char *dump, unsigned shards, unsigned keys,
    unsigned per_key, int dups, char *err, size_t errlen)
{
	uint64_t *last = calloc((size_t)shards * keys, sizeof(*last));
	const char *p = dump;
	int rc = 0;

	while (p != NULL && *p != '\0' && rc == 0) {
		const char *nl = strchr(p, '\n'), *sq;
		unsigned s, n;
		unsigned long long seq;

		if (sscanf(p, "INC-%u-%u ", &s, &n) != 2 || s >= shards ||
		    n >= keys || (sq = strstr(p, "\"seq\":")) == NULL ||
		    (nl != NULL && sq > nl) ||
		    sscanf(sq, "\"seq\":%llu", &seq) != 1) {
			snprintf(err, errlen, "bad line: %.80s", p);
			rc = -1;
			break;
		}
		uint64_t *l = &last[s * keys + n];

		if (seq == *l + 1)
			*l = seq;
		else if (!(dups && seq <= *l)) {
			snprintf(err, errlen, "INC-%u-%u: seq %llu after %llu",
			    s, n, seq, (unsigned long long)*l);
			rc = -1;
		}
		p = nl ? nl + 1 : NULL;
	}
	for (unsigned i = 0; rc == 0 && i < shards * keys; i++)
		if (last[i] != per_key) {
			snprintf(err, errlen, "INC-%u-%u: last seq %llu of %u",
			    i / keys, i % keys, (unsigned long long)last[i],
			    per_key);
			rc = -1;
		}
	free(last);
	return rc;
}
