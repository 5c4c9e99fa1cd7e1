/*
 * opapi.c - see opapi.h.
 *
 * A job is one write on its way: what the shard needs (the action or the
 * window, strings in the job), and the pending HTTP answer.  It belongs
 * to the HTTP thread until queued on `incoming`, then to the opapi
 * thread until a ring takes it, then to the shard path: the router
 * carries the job's address as the input's reply token, the store hands
 * it back to opapi_replied() with the outcome, which answers and frees
 * it.  A job the opapi thread gives up on (no room in OPAPI_QUEUE_MS, or
 * stopping) is answered 503 and freed there.  So every job is answered
 * exactly once and by one owner.
 *
 * Order: jobs are pushed in arrival order, and once a shard's ring
 * refuses one in a pass the later jobs for that shard wait too, so two
 * actions on one incident reach its engine in the order they came.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "correlator/fleet.h"
#include "daemon/clock.h"
#include "daemon/complaint.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/opapi.h"
#include "daemon/ring.h"
#include "daemon/router.h"
#include "daemon/stats.h"
#include "daemon/utc.h"
#include "daemon/view.h"

enum opapi_kind { OPAPI_ACTION, OPAPI_MAINT_ADD, OPAPI_MAINT_DEL,
	OPAPI_COMPLAINT };

/* A maintenance window as listed. */
struct opapi_win {
	uint32_t	 id;
	uint32_t	 site, area;	/* site, or FLEET_NONE and area */
	int64_t		 start, end;	/* ms */
	char		*reason;
	char		*actor;		/* or NULL (restored from an old
					 * journal) */
};

struct opapi_job {
	struct opapi_job *next;
	struct opapi	*op;
	uint8_t		 kind;		/* enum opapi_kind */
	struct http_pending *p;
	int64_t		 deadline;	/* clock_mono_ms(): then 503 */
	unsigned	 shard;		/* ACTION, MAINT_ADD, COMPLAINT: its
					 * shard */
	struct corr_action a;		/* ACTION; strings below */
	char		 incident[CORR_ID_LEN];
	struct opapi_win w;		/* MAINT_*; owns its strings */
	const struct fleet *fleet;	/* MAINT_*: w's indexes are of it */
	char		*actor, *note;	/* ACTION, COMPLAINT (note: its text) */
	struct corr_complaint c;	/* COMPLAINT; strings: actor, note,
					 * customer */
	char		*customer;
};

struct opapi {
	struct opapi_config c;		/* c.fleet: under flock */
	pthread_rwlock_t flock;		/* c.fleet, the site index below and
					 * the windows' site and area indexes
					 * (a reload swaps them:
					 * opapi_set_fleet) */
	uint32_t	*site_first;	/* nsites + 1: devices of site i are */
	uint32_t	*site_devs;	/* site_devs[site_first[i], [i+1]) */
	pthread_mutex_t	 lock;		/* incoming, stop, running */
	struct opapi_job *incoming, **intail;
	int		 stop;
	int		 running;	/* the thread takes jobs */
	pthread_t	 thread;
	struct ring_bell bell;		/* a job, room, or stop */
	pthread_mutex_t	 wlock;		/* the windows */
	struct opapi_win *wins;
	size_t		 nwins, capwins;
	_Atomic uint64_t done, refused, bad, busy, waiting;
};

static void
opapi_win_free(struct opapi_win *w)
{
	FREE_NULL(w->reason);
	FREE_NULL(w->actor);
}

static void
opapi_job_free(struct opapi_job *j)
{
	opapi_win_free(&j->w);
	xfree(j->actor);
	xfree(j->note);
	xfree(j->customer);
	xfree(j);
}

/* w's site or area index of fleet from, as an index of fleet to. */
static void
opapi_win_move(struct opapi_win *w, const struct fleet *from,
    const struct fleet *to)
{
	if (from == to)
		return;
	if (w->site != FLEET_NONE)
		w->site = w->site < from->nsites ? fleet_find(to, FLEET_SITE,
		    from->sites[w->site].id) : FLEET_NONE;
	if (w->area != FLEET_NONE)
		w->area = w->area < from->nareas ? fleet_find(to, FLEET_AREA,
		    from->areas[w->area]) : FLEET_NONE;
}

/* An error answer and its counter. */
static void opapi_error(struct opapi *op, struct http_resp *rs, int status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
opapi_error(struct opapi *op, struct http_resp *rs, int status,
    const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (status == 503) {
		ring_add_relaxed(&op->busy, 1);
		rs->retry_after = OPAPI_RETRY_S;
	} else if (status == 400)
		ring_add_relaxed(&op->bad, 1);
	else if (status < 500)
		ring_add_relaxed(&op->refused, 1);
	http_resp_error(rs, status, "%s", why);
}

/* Answers a job that will not reach a shard, and frees it. */
static void
opapi_job_fail(struct opapi_job *j, int status, const char *why)
{
	struct http_resp rs;

	http_resp_init(&rs);
	opapi_error(j->op, &rs, status, "%s", why);
	http_pending_done(j->p, &rs);
	http_resp_fini(&rs);
	opapi_job_free(j);
}

/* ---- body checks ---- */

/*
 * A string member: NULL and no error when absent (or null) and optional;
 * else its value, 1 to max bytes without a NUL, or NULL with *why set.
 */
static const char *
opapi_str(json_t *o, const char *key, size_t max, int required,
    const char **why)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (v == NULL || json_is_null(v)) {
		if (required)
			*why = "missing";
		return NULL;
	}
	if (!json_is_string(v)) {
		*why = "must be a string";
		return NULL;
	}
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
		*why = n == 0 ? "must not be empty" : n > max ? "too long" :
		    "holds a NUL byte";
		return NULL;
	}
	return json_string_value(v);
}

/* Every member of o must be one of keys (NULL-terminated): the name of
 * the first that is not, or NULL. */
static const char *
opapi_unknown_key(json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], k) == 0)
				break;
		if (keys[i] == NULL)
			return k;
	}
	return NULL;
}

/* Sends a job to the opapi thread and defers the answer: or 503. */
static void
opapi_submit(struct opapi *op, struct opapi_job *j, struct http_resp *rs)
{
	const char *why = NULL;

	j->op = op;
	pthread_mutex_lock(&op->lock);
	if (op->c.router == NULL)
		why = "the correlator is not running here";
	else if (!op->running)
		why = op->stop ? "the daemon is stopping" :
		    "the daemon is starting (restoring journals)";
	else if (ring_load_relaxed(&op->waiting) >= OPAPI_QUEUE_MAX)
		why = "too many writes are waiting for the correlator";
	if (why == NULL) {
		ring_add_relaxed(&op->waiting, 1);
		j->deadline = clock_mono_ms() + OPAPI_QUEUE_MS;
		j->p = http_resp_defer(rs);
		j->next = NULL;
		*op->intail = j;
		op->intail = &j->next;
	}
	pthread_mutex_unlock(&op->lock);
	if (why != NULL) {
		opapi_error(op, rs, 503, "%s; try again", why);
		opapi_job_free(j);
		return;
	}
	ring_bell_ring(&op->bell);
}

/* ---- POST /api/v1/incidents/<id>/<action> ---- */

static void
opapi_action_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	static const char *const keys[] = { "actor", "note", "satisfaction",
	    NULL };
	struct opapi *op = arg;
	enum corr_action_type type;
	const char *actor, *note, *k, *why = NULL;
	struct opapi_job *j;
	unsigned shard;
	uint64_t num;
	json_t *v;
	int sat = 0;

	if (corr_action_parse(rq->seg[1], &type) != 0) {
		opapi_error(op, rs, 404, "no action %.32s (ack, dispatch, "
		    "on_site, resolve, close, note, pause, resume)", rq->seg[1]);
		return;
	}
	if (strlen(rq->seg[0]) >= CORR_ID_LEN || corr_id_parse(
	    op->c.id_prefix, rq->seg[0], &shard, &num) != 0 ||
	    shard >= op->c.nshards) {
		opapi_error(op, rs, 404, "no open incident %.64s", rq->seg[0]);
		return;
	}
	if ((k = opapi_unknown_key(rq->json, keys)) != NULL) {
		opapi_error(op, rs, 400, "unknown field \"%.64s\" (actor, note, "
		    "satisfaction)", k);
		return;
	}
	if ((actor = opapi_str(rq->json, "actor", CORR_ACTOR_MAX, 1,
	    &why)) == NULL) {
		opapi_error(op, rs, 400, "actor: %s (1-127 bytes)", why);
		return;
	}
	note = opapi_str(rq->json, "note", CORR_NOTE_MAX,
	    type == CORR_ACT_NOTE || type == CORR_ACT_PAUSE, &why);
	if (note == NULL && why != NULL) {
		opapi_error(op, rs, 400, "note: %s (1-1023 bytes; note and "
		    "pause need one)", why);
		return;
	}
	if ((v = json_object_get(rq->json, "satisfaction")) != NULL &&
	    !json_is_null(v)) {
		if (type != CORR_ACT_CLOSE) {
			opapi_error(op, rs, 400, "satisfaction: only %s takes "
			    "one", "close");
			return;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 5) {
			opapi_error(op, rs, 400, "satisfaction: %s", "must be "
			    "an integer 1-5");
			return;
		}
		sat = (int)json_integer_value(v);
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = OPAPI_ACTION;
	j->shard = shard;
	snprintf(j->incident, sizeof(j->incident), "%s", rq->seg[0]);
	j->actor = xstrdup(actor);
	j->note = note != NULL ? xstrdup(note) : NULL;
	j->a.incident = j->incident;
	j->a.type = (uint8_t)type;
	j->a.actor = j->actor;
	j->a.note = j->note;
	j->a.satisfaction = (uint8_t)sat;
	j->a.at = clock_wall_ms();
	opapi_submit(op, j, rs);
}

/* ---- maintenance ---- */

/* flock held (read) */
static json_t *
opapi_win_json(const struct opapi *op, const struct opapi_win *w)
{
	const struct fleet *f = op->c.fleet;
	char s[UTC_LEN], e[UTC_LEN];

	utc_format(w->start, s);
	utc_format(w->end, e);
	return json_pack("{s:I, s:s?, s:s?, s:s, s:s, s:s, s:s?}",
	    "id", (json_int_t)w->id,
	    "site", w->site != FLEET_NONE ? f->sites[w->site].id : NULL,
	    "area", w->site == FLEET_NONE && w->area != FLEET_NONE ?
	    f->areas[w->area] : NULL,
	    "start", s, "end", e, "reason", w->reason != NULL ? w->reason : "",
	    "actor", w->actor);
}

/* Adds a copy of w (wlock held). */
static void
opapi_win_add(struct opapi *op, const struct opapi_win *w)
{
	struct opapi_win *n;

	if (op->nwins == op->capwins) {
		op->capwins = op->capwins ? op->capwins * 2 : 16;
		op->wins = xreallocarray(op->wins, op->capwins,
		    sizeof(*op->wins));
	}
	n = &op->wins[op->nwins++];
	*n = *w;
	n->reason = xstrdup(w->reason != NULL ? w->reason : "");
	n->actor = w->actor != NULL ? xstrdup(w->actor) : NULL;
}

/* The index of window id (wlock held), or -1. */
static ssize_t
opapi_win_find(const struct opapi *op, uint32_t id)
{
	for (size_t i = 0; i < op->nwins; i++)
		if (op->wins[i].id == id)
			return (ssize_t)i;
	return -1;
}

static void
opapi_win_del(struct opapi *op, size_t i)
{
	opapi_win_free(&op->wins[i]);
	memmove(&op->wins[i], &op->wins[i + 1],
	    (op->nwins - i - 1) * sizeof(*op->wins));
	op->nwins--;
}

/* Drops the windows whose end has passed (wlock held). */
static void
opapi_win_prune(struct opapi *op, int64_t now)
{
	for (size_t i = 0; i < op->nwins; )
		if (op->wins[i].end <= now)
			opapi_win_del(op, i);
		else
			i++;
}

static int
opapi_win_cmp(const void *a, const void *b)
{
	const struct opapi_win *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void
opapi_maint_list(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct opapi *op = arg;
	json_t *arr = json_array();

	(void)rq;
	pthread_rwlock_rdlock(&op->flock);
	pthread_mutex_lock(&op->wlock);
	opapi_win_prune(op, clock_wall_ms());
	if (op->nwins > 1)
		qsort(op->wins, op->nwins, sizeof(*op->wins), opapi_win_cmp);
	for (size_t i = 0; i < op->nwins; i++)
		json_array_append_new(arr, opapi_win_json(op, &op->wins[i]));
	pthread_mutex_unlock(&op->wlock);
	pthread_rwlock_unlock(&op->flock);
	http_resp_json(rs, 200, json_pack("{s:o}", "windows", arr));
}

/* A time member: 0 and *ms, or -1 with the reason in rs. */
static int
opapi_time(struct opapi *op, json_t *o, const char *key, int64_t *ms,
    struct http_resp *rs)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		opapi_error(op, rs, 400, "%s: missing (RFC 3339, e.g. "
		    "2026-12-05T06:00:00Z)", key);
		return -1;
	}
	if (!json_is_string(v) || utc_parse(json_string_value(v),
	    json_string_length(v), ms) != 0) {
		opapi_error(op, rs, 400, "%s: not an RFC 3339 time (e.g. "
		    "2026-12-05T06:00:00Z)", key);
		return -1;
	}
	return 0;
}

static void
opapi_maint_add(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	static const char *const keys[] = { "site", "area", "start", "end",
	    "reason", "actor", NULL };
	struct opapi *op = arg;
	const struct fleet *f;
	const char *site, *area, *reason, *actor, *k, *why = NULL;
	struct opapi_win w;
	struct opapi_job *j;

	memset(&w, 0, sizeof(w));
	if ((k = opapi_unknown_key(rq->json, keys)) != NULL) {
		opapi_error(op, rs, 400, "unknown field \"%.64s\" (site, area, "
		    "start, end, reason, actor)", k);
		return;
	}
	site = opapi_str(rq->json, "site", 255, 0, &why);
	if (why != NULL) {
		opapi_error(op, rs, 400, "site: %s", why);
		return;
	}
	area = opapi_str(rq->json, "area", 255, 0, &why);
	if (why != NULL) {
		opapi_error(op, rs, 400, "area: %s", why);
		return;
	}
	if ((site == NULL) == (area == NULL)) {
		opapi_error(op, rs, 400, "%s", "give either site or area");
		return;
	}
	w.site = w.area = FLEET_NONE;
	pthread_rwlock_rdlock(&op->flock);
	f = op->c.fleet;
	if (site != NULL)
		w.site = fleet_find(f, FLEET_SITE, site);
	if (area != NULL)
		w.area = fleet_find(f, FLEET_AREA, area);
	pthread_rwlock_unlock(&op->flock);
	if (site != NULL && w.site == FLEET_NONE) {
		opapi_error(op, rs, 400, "site: no site \"%.64s\" in the "
		    "configuration", site);
		return;
	}
	if (area != NULL && w.area == FLEET_NONE) {
		opapi_error(op, rs, 400, "area: no area \"%.64s\" in the "
		    "configuration", area);
		return;
	}
	if (opapi_time(op, rq->json, "start", &w.start, rs) != 0 ||
	    opapi_time(op, rq->json, "end", &w.end, rs) != 0)
		return;
	if (w.end <= w.start) {
		opapi_error(op, rs, 400, "%s", "end must be after start");
		return;
	}
	if (w.end <= clock_wall_ms()) {
		opapi_error(op, rs, 400, "%s", "end: the window has already "
		    "ended");
		return;
	}
	if ((reason = opapi_str(rq->json, "reason", CORR_NOTE_MAX, 1,
	    &why)) == NULL) {
		opapi_error(op, rs, 400, "reason: %s (1-1023 bytes)", why);
		return;
	}
	if ((actor = opapi_str(rq->json, "actor", CORR_ACTOR_MAX, 1,
	    &why)) == NULL) {
		opapi_error(op, rs, 400, "actor: %s (1-127 bytes)", why);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = OPAPI_MAINT_ADD;
	j->fleet = f;	/* kept to a reload's end (live: the grace) */
	j->w = w;
	j->w.reason = xstrdup(reason);
	j->w.actor = xstrdup(actor);
	opapi_submit(op, j, rs);
}

static void
opapi_maint_del(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct opapi *op = arg;
	struct opapi_job *j;
	unsigned long id;
	char *end;
	ssize_t i;

	id = strtoul(rq->seg[0], &end, 10);
	if (rq->seg[0][0] < '0' || rq->seg[0][0] > '9' || *end != '\0' ||
	    id == 0 || id > UINT32_MAX) {
		opapi_error(op, rs, 404, "no maintenance window %.32s",
		    rq->seg[0]);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	pthread_rwlock_rdlock(&op->flock);
	j->fleet = op->c.fleet;
	pthread_mutex_lock(&op->wlock);
	opapi_win_prune(op, clock_wall_ms());
	if ((i = opapi_win_find(op, (uint32_t)id)) >= 0) {
		j->w = op->wins[i];
		j->w.reason = xstrdup(op->wins[i].reason);
		j->w.actor = op->wins[i].actor != NULL ?
		    xstrdup(op->wins[i].actor) : NULL;
	}
	pthread_mutex_unlock(&op->wlock);
	pthread_rwlock_unlock(&op->flock);
	if (i < 0) {
		xfree(j);
		opapi_error(op, rs, 404, "no maintenance window %.32s (never "
		    "made, deleted, or ended)", rq->seg[0]);
		return;
	}
	j->kind = OPAPI_MAINT_DEL;
	opapi_submit(op, j, rs);
}

/* ---- POST /api/v1/complaints ---- */

static void
opapi_complaint_route(void *arg, const struct http_req *rq,
    struct http_resp *rs)
{
	struct opapi *op = arg;
	struct corr_complaint c;
	struct opapi_job *j;
	char err[512];

	pthread_rwlock_rdlock(&op->flock);
	if (complaint_parse(rq->json, op->c.fleet, &c, err, sizeof(err)) != 0) {
		pthread_rwlock_unlock(&op->flock);
		opapi_error(op, rs, 400, "%s", err);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = OPAPI_COMPLAINT;
	j->fleet = op->c.fleet;	/* c.site's; kept to a reload's end */
	j->shard = op->c.router != NULL ? router_site_shard(op->c.router,
	    j->fleet, c.site) : 0;
	j->customer = xstrdup(c.customer);
	j->note = xstrdup(c.text);
	j->actor = xstrdup(c.actor);
	pthread_rwlock_unlock(&op->flock);
	j->c = c;
	j->c.customer = j->customer;
	j->c.text = j->note;
	j->c.actor = j->actor;
	j->c.at = clock_wall_ms();
	opapi_submit(op, j, rs);
}

/* ---- GET /api/v1/sites/<id> ---- */

static void
opapi_site_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct opapi *op = arg;
	const struct fleet *f;
	const struct fleet_site *st;
	json_t *o, *ten, *devs;
	uint32_t si;
	char *s;

	pthread_rwlock_rdlock(&op->flock);
	f = op->c.fleet;
	if ((si = fleet_find(f, FLEET_SITE, rq->seg[0])) == FLEET_NONE) {
		pthread_rwlock_unlock(&op->flock);
		http_resp_error(rs, 404, "no site %.64s in the configuration",
		    rq->seg[0]);
		return;
	}
	st = &f->sites[si];
	ten = json_array();
	for (uint16_t t = 0; t < st->ntenants; t++)
		json_array_append_new(ten, json_pack("{s:s, s:s}", "id",
		    st->tenants[t].customer, "tier", fleet_tier_name(
		    (enum tier)st->tenants[t].tier)));
	devs = json_array();
	for (uint32_t k = op->site_first[si]; k < op->site_first[si + 1];
	    k++) {
		const struct fleet_device *d = &f->devices[op->site_devs[k]];

		json_array_append_new(devs, json_pack("{s:s, s:s?, s:s}",
		    "id", d->id, "profile", d->profile < f->nprofiles ?
		    f->profiles[d->profile].id : NULL, "comm",
		    stats_comm_name(op->c.stats != NULL ?
		    stats_comm(op->c.stats, op->site_devs[k]) :
		    STATS_COMM_UNKNOWN)));
	}
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:o, s:o}",
	    "id", st->id, "area", f->areas[st->area],
	    "region", fleet_region_name((enum region)st->region),
	    "station", st->station, "branch", st->branch,
	    "tier", fleet_tier_name((enum tier)st->tier),
	    "tenants", ten, "devices", devs);
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL) {
		pthread_rwlock_unlock(&op->flock);
		http_resp_error(rs, 500, "the site does not encode");
		return;
	}
	http_resp_printf(rs, "{\"site\":%s,\"incidents\":", s);
	free(s);
	if (op->c.view != NULL)
		view_site_items(op->c.view, st->id, rs);
	pthread_rwlock_unlock(&op->flock);
	if (op->c.view == NULL)
		http_resp_append(rs, "[]", 2);
	http_resp_append(rs, "}\n", 2);
}

size_t
opapi_routes(struct opapi *op, struct http_route *out)
{
	out[0] = (struct http_route){ "POST", "/api/v1/incidents/*/*",
	    HTTP_JSON, opapi_action_route, op };
	out[1] = (struct http_route){ "GET", "/api/v1/maintenance", 0,
	    opapi_maint_list, op };
	out[2] = (struct http_route){ "POST", "/api/v1/maintenance",
	    HTTP_JSON, opapi_maint_add, op };
	out[3] = (struct http_route){ "DELETE", "/api/v1/maintenance/*", 0,
	    opapi_maint_del, op };
	out[4] = (struct http_route){ "GET", "/api/v1/sites/*", 0,
	    opapi_site_route, op };
	out[5] = (struct http_route){ "POST", COMPLAINT_PATH, HTTP_JSON,
	    opapi_complaint_route, op };
	return OPAPI_NROUTES;
}

/* ---- the shards' reports ---- */

void
opapi_replied(void *arg, void *reply, const struct store_outcome *o)
{
	struct opapi *op = arg;
	struct opapi_job *j = reply;
	struct http_resp rs;

	http_resp_init(&rs);
	switch (j->kind) {
	case OPAPI_ACTION:
		if (o->rc == 0) {
			ring_add_relaxed(&op->done, 1);
			http_resp_json(&rs, 200, json_pack("{s:s, s:s, s:s, "
			    "s:I}", "incident", j->incident, "action",
			    corr_action_name((enum corr_action_type)j->a.type),
			    "state", corr_state_name((enum corr_state)o->state),
			    "seq", (json_int_t)o->seq));
		} else
			opapi_error(op, &rs, o->rc == -ENOENT ? 404 :
			    o->rc == -EPERM ? 409 : 400, "%s", o->reason[0] ?
			    o->reason : "refused by the correlator");
		break;
	case OPAPI_MAINT_ADD:
		if (o->rc == 0) {
			j->w.id = o->id;
			pthread_rwlock_rdlock(&op->flock);
			opapi_win_move(&j->w, j->fleet, op->c.fleet);
			j->fleet = op->c.fleet;
			pthread_mutex_lock(&op->wlock);
			opapi_win_add(op, &j->w);
			pthread_mutex_unlock(&op->wlock);
			ring_add_relaxed(&op->done, 1);
			http_resp_json(&rs, 201, opapi_win_json(op, &j->w));
			pthread_rwlock_unlock(&op->flock);
		} else
			opapi_error(op, &rs, 500, "%s", "the correlator "
			    "refused the window id");
		break;
	case OPAPI_COMPLAINT:
		if (o->rc == 0)
			ring_add_relaxed(&op->done, 1);
		else
			ring_add_relaxed(&op->bad, 1);
		/* j->c.site is an index of the fleet the job was checked
		 * against (a reload may have swapped op->c.fleet since) */
		complaint_answer(j->fleet, &j->c, o->rc, o->incident,
		    o->reason, &rs);
		break;
	default: {
		ssize_t i;

		pthread_mutex_lock(&op->wlock);
		if ((i = opapi_win_find(op, j->w.id)) >= 0)
			opapi_win_del(op, (size_t)i);
		pthread_mutex_unlock(&op->wlock);
		if (o->rc == 0) {
			ring_add_relaxed(&op->done, 1);
			pthread_rwlock_rdlock(&op->flock);
			opapi_win_move(&j->w, j->fleet, op->c.fleet);
			http_resp_json(&rs, 200, opapi_win_json(op, &j->w));
			pthread_rwlock_unlock(&op->flock);
		} else
			opapi_error(op, &rs, 404, "%s", "no such maintenance "
			    "window (deleted meanwhile)");
		break;
	}
	}
	http_pending_done(j->p, &rs);
	http_resp_fini(&rs);
	opapi_job_free(j);
}

/* ---- the producer thread ---- */

void
opapi_room(void *arg, unsigned shard)
{
	struct opapi *op = arg;

	(void)shard;
	ring_bell_ring(&op->bell);
}

/*
 * Queues j into its shard's ring: 0 (the shard owns it now), -EAGAIN, or
 * another -errno (never queued).  *busy: bit per shard whose ring is
 * full in this pass, so later jobs for it keep their order.
 */
static int
opapi_push(struct opapi *op, struct opapi_job *j, uint64_t *busy)
{
	struct corr_maint m;
	uint64_t all = op->c.nshards >= 64 ? UINT64_MAX :
	    (1ULL << op->c.nshards) - 1;
	uint32_t id;
	int rc;

	/* once a ring took j, the shard may answer and free it at once:
	 * nothing here touches j after a successful push */
	memset(&m, 0, sizeof(m));
	m.site = j->w.site;
	m.area = j->w.area;
	m.start_ms = j->w.start;
	m.end_ms = j->w.end;
	m.reason = j->w.reason;
	m.actor = j->w.actor;
	switch (j->kind) {
	case OPAPI_ACTION:
		if (*busy & (1ULL << j->shard))
			return -EAGAIN;
		rc = router_action_reply(op->c.router, op->c.producer, &j->a,
		    j);
		if (rc == -EAGAIN)
			*busy |= 1ULL << j->shard;
		return rc;
	case OPAPI_COMPLAINT:
		if (*busy & (1ULL << j->shard))
			return -EAGAIN;
		rc = router_complaint(op->c.router, op->c.producer, j->fleet,
		    &j->c, j);
		if (rc == -EAGAIN)
			*busy |= 1ULL << j->shard;
		return rc;
	case OPAPI_MAINT_ADD:
		if (*busy != 0)
			return -EAGAIN;
		rc = router_maint_add_reply(op->c.router, op->c.producer,
		    j->fleet, &m, &id, j);
		break;
	default:
		if (*busy != 0)
			return -EAGAIN;
		rc = router_maint_remove_reply(op->c.router, op->c.producer,
		    j->w.id, j->fleet, &m, j);
		break;
	}
	/* a window's shard is not known here: hold every later job */
	if (rc == -EAGAIN)
		*busy = all;
	return rc;
}

static void *
opapi_main(void *arg)
{
	struct opapi *op = arg;
	struct opapi_job *wait = NULL, **wtail = &wait;

	for (;;) {
		uint32_t t = ring_bell_prepare(&op->bell);
		struct opapi_job *in, **pp;
		int64_t now, next = INT64_MAX;
		uint64_t busy = 0;
		int stop;

		pthread_mutex_lock(&op->lock);
		in = op->incoming;
		op->incoming = NULL;
		op->intail = &op->incoming;
		stop = op->stop;
		pthread_mutex_unlock(&op->lock);
		if (in != NULL) {
			*wtail = in;
			while (*wtail != NULL)
				wtail = &(*wtail)->next;
		}
		now = clock_mono_ms();
		for (pp = &wait; *pp != NULL; ) {
			struct opapi_job *j = *pp, *jnext = j->next;
			int64_t deadline = j->deadline;
			/* pushed: j is the shard's now (do not touch it) */
			int rc = stop ? -ESHUTDOWN : opapi_push(op, j, &busy);

			if (rc == -EAGAIN && now < deadline) {
				if (deadline < next)
					next = deadline;
				pp = &j->next;
				continue;
			}
			*pp = jnext;
			ring_add_relaxed(&op->waiting, (uint64_t)-1);
			if (rc == -EAGAIN || rc == -ESHUTDOWN) {
				if (rc == -EAGAIN)
					log_warnx("http write refused: shard "
					    "queue full for %d ms (503)",
					    OPAPI_QUEUE_MS);
				opapi_job_fail(j, 503, rc == -EAGAIN ?
				    "the correlator's queue stayed full; try "
				    "again" : "the daemon is stopping; try "
				    "again");
			} else if (rc != 0)
				opapi_job_fail(j, 404, "no such incident or "
				    "place");
		}
		wtail = &wait;
		while (*wtail != NULL)
			wtail = &(*wtail)->next;
		if (stop && wait == NULL) {
			ring_bell_cancel(&op->bell);
			break;
		}
		(void)ring_bell_wait(&op->bell, t, next == INT64_MAX ? -1 :
		    (int)(next - now > 0 ? next - now : 1));
	}
	return NULL;
}

/* ---- life ---- */

/* A writer (a reload) is not starved by a stream of readers. */
static void
opapi_flock_init(struct opapi *op)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&op->flock, &a) != 0)
		fatalx("opapi: pthread_rwlock_init failed");
	pthread_rwlockattr_destroy(&a);
}

/* A device a reload retired: no host, no profile (daemon/reload.h). */
static int
opapi_retired(const struct fleet *f, size_t d)
{
	return f->devices[d].host == NULL && f->devices[d].profile == FLEET_NONE;
}

/* Devices by site, for GET /api/v1/sites/<id> (retired ones left out:
 * daemon/reload.h). */
static void
opapi_site_index(struct opapi *op, const struct fleet *f)
{
	op->site_first = xcalloc(f->nsites + 2, sizeof(uint32_t));
	op->site_devs = xcalloc(f->ndevices + 1, sizeof(uint32_t));
	for (size_t d = 0; d < f->ndevices; d++)
		if (f->devices[d].site < f->nsites && !opapi_retired(f, d))
			op->site_first[f->devices[d].site + 2]++;
	for (size_t s = 2; s < f->nsites + 2; s++)
		op->site_first[s] += op->site_first[s - 1];
	for (size_t d = 0; d < f->ndevices; d++)
		if (f->devices[d].site < f->nsites && !opapi_retired(f, d))
			op->site_devs[op->site_first[f->devices[d].site + 1]++] =
			    (uint32_t)d;
}

struct opapi *
opapi_new(const struct opapi_config *c)
{
	struct opapi *op = xcalloc(1, sizeof(*op));
	const struct fleet *f = c->fleet;

	op->c = *c;
	op->intail = &op->incoming;
	pthread_mutex_init(&op->lock, NULL);
	pthread_mutex_init(&op->wlock, NULL);
	opapi_flock_init(op);
	opapi_site_index(op, f);
	return op;
}

void
opapi_set_fleet(struct opapi *op, const struct fleet *f)
{
	pthread_rwlock_wrlock(&op->flock);
	pthread_mutex_lock(&op->wlock);
	for (size_t i = 0; i < op->nwins; i++)
		opapi_win_move(&op->wins[i], op->c.fleet, f);
	pthread_mutex_unlock(&op->wlock);
	xfree(op->site_first);
	xfree(op->site_devs);
	opapi_site_index(op, f);
	op->c.fleet = f;
	pthread_rwlock_unlock(&op->flock);
}

/* corr_engine_maint_each callback: a window restored. */
static void
opapi_restore_one(void *arg, uint32_t id, const struct corr_maint *m,
    int ended)
{
	struct opapi *op = arg;
	struct opapi_win w;

	if (ended || m->end_ms <= clock_wall_ms())
		return;
	memset(&w, 0, sizeof(w));
	w.id = id;
	w.site = m->site;
	w.area = m->area;
	w.start = m->start_ms;
	w.end = m->end_ms;
	w.reason = (char *)(uintptr_t)m->reason;
	w.actor = (char *)(uintptr_t)m->actor;
	opapi_win_add(op, &w);
}

void
opapi_restore(struct opapi *op, const struct corr_engine *e)
{
	pthread_mutex_lock(&op->wlock);
	corr_engine_maint_each(e, opapi_restore_one, op);
	pthread_mutex_unlock(&op->wlock);
}

int
opapi_start(struct opapi *op)
{
	int rc;

	if (op->c.router == NULL)
		return 0;
	if ((rc = pthread_create(&op->thread, NULL, opapi_main, op)) != 0)
		return -rc;
	pthread_mutex_lock(&op->lock);
	op->running = 1;
	pthread_mutex_unlock(&op->lock);
	return 0;
}

void
opapi_stop(struct opapi *op)
{
	int joined;

	if (op == NULL)
		return;
	pthread_mutex_lock(&op->lock);
	joined = !op->running;
	op->running = 0;
	op->stop = 1;
	pthread_mutex_unlock(&op->lock);
	if (joined)
		return;
	ring_bell_ring(&op->bell);
	pthread_join(op->thread, NULL);
}

void
opapi_stats(struct opapi *op, struct opapi_stats *out)
{
	out->done = ring_load_relaxed(&op->done);
	out->refused = ring_load_relaxed(&op->refused);
	out->bad = ring_load_relaxed(&op->bad);
	out->busy = ring_load_relaxed(&op->busy);
	out->waiting = ring_load_relaxed(&op->waiting);
}

void
opapi_free(struct opapi *op)
{
	if (op == NULL)
		return;
	opapi_stop(op);
	for (size_t i = 0; i < op->nwins; i++)
		opapi_win_free(&op->wins[i]);
	xfree(op->wins);
	xfree(op->site_first);
	xfree(op->site_devs);
	pthread_mutex_destroy(&op->lock);
	pthread_mutex_destroy(&op->wlock);
	pthread_rwlock_destroy(&op->flock);
	xfree(op);
}
