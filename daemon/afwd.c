/*
 * afwd.c - see afwd.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "correlator/corr.h"
#include "daemon/afwd.h"
#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/utc.h"
#include "drivers/kafka/ktxn.h"

struct afwd {
	const struct afwd_config *cfg;
	struct ktxn	*t;
	pthread_t	 thr;
	atomic_int	 stop;
	_Atomic uint64_t forwarded, rejected;
	struct log_rl	 rl;
};

/* A refused action: counted, logged (rate-limited), to `rejected`. */
static int
afwd_reject(struct afwd *f, struct ktxn *t, const rd_kafka_message_t *m,
    const char *why)
{
	uint64_t quiet, n = atomic_fetch_add(&f->rejected, 1) + 1;

	if (log_rl_ok(&f->rl, &quiet))
		log_warnx("afwd: action rejected partition=%d offset=%" PRId64
		    " reason=\"%s\" rejected=%" PRIu64 " not_logged=%" PRIu64,
		    (int)m->partition, m->offset, why, n, quiet);
	return ktxn_reject(t, f->cfg->rejected, m, why);
}

/* One action: its replay line to the partition its id names. */
static int
afwd_record(void *arg, struct ktxn *t, const rd_kafka_message_t *m)
{
	struct afwd *f = arg;
	struct corr_action a;
	json_t *root, *line;
	const char *why;
	char at[UTC_LEN], *text;
	unsigned shard;
	uint64_t num;
	int rc;

	why = kafka_action_parse(m->payload, m->len, clock_wall_ms(), &root,
	    &a);
	if (why == NULL && (corr_id_parse(f->cfg->id_prefix, a.incident,
	    &shard, &num) != 0 || shard >= f->cfg->partitions))
		why = "unknown incident";	/* names no partition */
	if (why != NULL) {
		rc = afwd_reject(f, t, m, why);
		json_decref(root);
		return rc;
	}
	utc_format(a.at, at);
	line = json_pack("{s:s, s:s, s:s, s:s}", "at", at, "incident",
	    a.incident, "action", corr_action_name(a.type), "actor", a.actor);
	if (a.note != NULL)
		json_object_set_new(line, "note", json_string(a.note));
	if (a.satisfaction > 0)
		json_object_set_new(line, "satisfaction",
		    json_integer(a.satisfaction));
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	if (text == NULL)
		fatalx("afwd: out of memory encoding an action");
	/* a's strings live in root */
	rc = ktxn_produce(t, f->cfg->alarms, (int32_t)shard, a.incident,
	    strlen(a.incident), text, strlen(text));
	json_decref(root);
	free(text);
	if (rc == 0)
		atomic_fetch_add(&f->forwarded, 1);
	return rc;
}

static const struct ktxn_ops afwd_ops = {
	.record = afwd_record,
};

static void *
afwd_main(void *arg)
{
	struct afwd *f = arg;

	if (ktxn_run(f->t, &f->stop) != 0)
		log_error("afwd: stopped on a fatal Kafka error (logged "
		    "above): actions are not forwarded until a restart");
	return NULL;
}

int
afwd_start(const struct afwd_config *cfg, struct afwd **out, char *err,
    size_t errlen)
{
	struct afwd *f = xcalloc(1, sizeof(*f));
	struct ktxn_config kc = {
		.brokers = cfg->brokers, .group = cfg->group,
		.input = cfg->actions, .txn_id = cfg->txn_id,
		.client_id = cfg->client_id, .props = cfg->props,
		.nprops = cfg->nprops,
	};
	int rc;

	*out = NULL;
	f->cfg = cfg;
	if ((rc = ktxn_new(&kc, &afwd_ops, f, &f->t, err, errlen)) != 0) {
		xfree(f);
		return rc;
	}
	if ((rc = pthread_create(&f->thr, NULL, afwd_main, f)) != 0) {
		snprintf(err, errlen, "afwd: thread: %s", strerror(rc));
		ktxn_free(f->t);
		xfree(f);
		return -rc;
	}
	log_info("afwd: forwarding %s to %s (%u partitions) group=%s "
	    "transactional.id=%s", cfg->actions, cfg->alarms, cfg->partitions,
	    cfg->group, cfg->txn_id);
	*out = f;
	return 0;
}

void
afwd_stats(struct afwd *f, struct afwd_stats *out)
{
	out->forwarded = atomic_load(&f->forwarded);
	out->rejected = atomic_load(&f->rejected);
}

void
afwd_stop(struct afwd *f)
{
	if (f == NULL)
		return;
	atomic_store(&f->stop, 1);
	pthread_join(f->thr, NULL);
	ktxn_free(f->t);
	xfree(f);
}
