/*
 * view.c - see view.h; docs/http.md "The incident read API".
 *
 * Layout: one entry per live incident, found by id through a u64map on
 * the id's FNV-1a hash (entries with the same hash chain on hnext).  An
 * entry owns its copies: the latest event without "steps" (the list's
 * item, and the detail's head), the timeline as its steps' JSON joined by
 * commas (the detail wraps it in [...]), and the small fields the filters
 * and the order read, taken from the record (state, severity, site, area,
 * deadline, opened_at) or, once when stored, from the event's incident
 * object with jansson (customers, tier, planned, flapping, chronic).
 *
 * Order (SLA urgency): incidents with a running deadline first, nearest
 * first; then those without, oldest opened first; ties by id.  A request
 * filters and sorts under the read lock (the open set is thousands, a sort
 * of them well under a millisecond), copies its page's strings and
 * formats after unlocking.  No index is kept ordered: the deadline moves
 * with almost every event, and a sort per request is cheaper than
 * re-placing an entry per event at these sizes.
 *
 * A cursor is the sort key (class, key, id) of the page's last item, hex
 * encoded: the next page is everything strictly after it, so it resumes
 * correctly when items are added, removed or move (an item that moved
 * from after the cursor to before it is not shown again on this walk;
 * one that moved the other way may be shown twice).
 *
 * Replays: the pump delivers at least once, so an event whose seq is not
 * above the entry's is ignored (its steps are already in the timeline);
 * a PUB_STATE at or above the entry's seq replaces everything.  The
 * timeline is complete when the entry began with a PUB_STATE or with
 * seq 1 and no seq was skipped since; it is not for an incident first
 * heard of in the middle (a record the pump passed by), nor after a
 * record that left steps out (pub_rec.cut: a timeline too large for one
 * journal record), and the detail says so until a dump completes it.
 *
 * Dumps: per shard, PUB_DUMP_BEGIN starts a generation, each STATE or
 * live event of the shard marks its entry with it, and PUB_DUMP_END drops
 * the shard's entries not marked (stale: closed while the view did not
 * hear of it).  An END with no BEGIN seen (the pump's position was inside
 * a dump) removes nothing, as in redis.c.
 *
 * done() is called inside offer(): the pump records a position as offered
 * before it calls offer() (publish.c publish_turn), so done for it there
 * is in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "correlator/incjson.h"
#include "correlator/u64map.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/view.h"

#define VIEW_MAX_SHARDS	64	/* as many as the daemon has (live.c) */
#define VIEW_VAL_MAX	256	/* bytes of a query value */

/* One live incident. */
struct ve {
	struct ve	*hnext;		/* same hash */
	uint64_t	 hash;		/* of id */
	char		*id;
	unsigned	 shard;
	uint64_t	 seq;		/* the latest event's */
	uint64_t	 mark;		/* dump generation that named it */
	int64_t		 opened_at;	/* ms */
	int64_t		 deadline;	/* next running deadline (ms), 0: none */
	uint8_t		 state;		/* enum corr_state */
	uint8_t		 severity;	/* enum severity */
	uint8_t		 tier;		/* enum tier */
	uint8_t		 planned, flapping, chronic;
	uint8_t		 complete;	/* tl holds every step (see above) */
	char		*site;		/* "" for an area incident */
	char		*area;
	char		**cust;		/* customer ids */
	uint32_t	 ncust;
	char		*item;		/* latest event without steps */
	size_t		 itemlen;
	char		*tl;		/* steps, comma-joined */
	size_t		 tllen, tlcap;
};

/* One shard's dump in progress. */
struct view_dump {
	uint64_t	 gen;		/* its generation */
	int		 open;		/* BEGIN seen, END not yet */
	int		 ended;		/* an END seen since view_new */
};

struct view {
	struct pub_sink	 base;		/* first: the sink */
	struct pub_sink	 fill;		/* view_fill_sink()'s */
	struct pub_host	 host;
	const struct fleet *fleet;
	const char	**custs;	/* the fleet's customer ids, sorted */
	size_t		 ncusts;
	pthread_rwlock_t lock;		/* everything below */
	struct u64map	 map;		/* hash -> struct ve chain */
	size_t		 n;		/* entries */
	uint64_t	 gen;		/* last generation given */
	struct view_dump dumps[VIEW_MAX_SHARDS];
};

/* ---- entries ---- */

static uint64_t
view_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct ve *
view_find(const struct view *v, const char *id)
{
	uint64_t h = view_hash(id);

	for (struct ve *e = u64map_get(&v->map, h); e != NULL; e = e->hnext)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void
ve_free(struct ve *e)
{
	xfree(e->id);
	xfree(e->site);
	xfree(e->area);
	for (uint32_t i = 0; i < e->ncust; i++)
		xfree(e->cust[i]);
	xfree(e->cust);
	xfree(e->item);
	xfree(e->tl);
	xfree(e);
}

static void
view_remove(struct view *v, struct ve *e)
{
	struct ve *head = u64map_get(&v->map, e->hash), **pp = &head;

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (head != NULL)
		u64map_put(&v->map, e->hash, head);
	else
		(void)u64map_del(&v->map, e->hash);
	v->n--;
	ve_free(e);
}

static struct ve *
view_insert(struct view *v, const char *id)
{
	struct ve *e = xcalloc(1, sizeof(*e));

	e->id = xstrdup(id);
	e->hash = view_hash(id);
	e->hnext = u64map_get(&v->map, e->hash);
	u64map_put(&v->map, e->hash, e);
	v->n++;
	return e;
}

static void
ve_tl_append(struct ve *e, const char *p, size_t n)
{
	if (e->tllen + n + 2 > e->tlcap) {
		while (e->tllen + n + 2 > e->tlcap)
			e->tlcap = e->tlcap ? e->tlcap * 2 : 512;
		e->tl = xrealloc(e->tl, e->tlcap);
	}
	if (e->tllen > 0)
		e->tl[e->tllen++] = ',';
	memcpy(e->tl + e->tllen, p, n);
	e->tllen += n;
	e->tl[e->tllen] = '\0';
}

/*
 * Parses the event's JSON: the item (the event without "steps") and the
 * incident object's customers, tier, planned, flapping, chronic.  Done
 * before taking the lock: 0, or -EINVAL for JSON that is not an event.
 *
 * By incjson_scan() first, which passes what the view does not read
 * without decoding it, and by a jansson tree only when the scan cannot
 * read the line as jansson would (an escaped customer id, a shape it
 * does not expect).  The tree was more than half of a correlator's CPU
 * once it fed its view (perf during bench/scalebench.py's one-correlator
 * phase: libjansson 11.1% of every sample on the machine, tocsind 21.3%),
 * and the same parse runs on a role: all daemon's loop thread for every
 * journaled event.  A record handed over by its writer (the start's fill,
 * a correlator's commits: pub_rec.scan) comes with the writer's account
 * of the same fields (incjson_buf.acct, which test_incjson holds equal to
 * the scan on every event): no scan at all.  perf of the start's fill had
 * the scan at 45% of it.
 */
#define VIEW_SCAN_CUST	64	/* more customers: the tree */

struct ve_parsed {
	char		*item;
	char		**cust;
	uint32_t	 ncust;
	uint8_t		 tier, planned, flapping, chronic;
};

static int
view_parse_tree(const struct pub_rec *r, struct ve_parsed *out)
{
	json_t *root, *inc, *cs, *c;
	enum tier tier = TIER_STANDARD;
	size_t i;

	memset(out, 0, sizeof(*out));
	root = json_loadb(r->json, r->jsonlen, 0, NULL);
	if (root == NULL || !json_is_object(root) ||
	    !json_is_object(inc = json_object_get(root, "incident"))) {
		json_decref(root);
		return -EINVAL;
	}
	if (json_is_string(json_object_get(inc, "tier")))
		(void)fleet_tier_parse(json_string_value(json_object_get(inc,
		    "tier")), &tier);
	out->tier = (uint8_t)tier;
	out->planned = json_is_true(json_object_get(inc, "planned"));
	out->flapping = json_is_true(json_object_get(inc, "flapping"));
	out->chronic = json_is_true(json_object_get(inc, "chronic"));
	cs = json_object_get(inc, "customers");
	if (json_is_array(cs) && json_array_size(cs) > 0) {
		out->cust = xcalloc(json_array_size(cs), sizeof(char *));
		json_array_foreach(cs, i, c) {
			json_t *id = json_object_get(c, "id");

			if (json_is_string(id))
				out->cust[out->ncust++] =
				    xstrdup(json_string_value(id));
		}
	}
	(void)json_object_del(root, "steps");
	out->item = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (out->item == NULL) {
		for (uint32_t k = 0; k < out->ncust; k++)
			xfree(out->cust[k]);
		xfree(out->cust);
		return -EINVAL;
	}
	return 0;
}

static int
view_parse(const struct pub_rec *r, struct ve_parsed *out)
{
	struct incjson_span custbuf[VIEW_SCAN_CUST];
	const struct incjson_span *cust = custbuf;
	struct incjson_scan sc;
	enum tier tier = TIER_STANDARD;
	size_t cut, after;

	if (r->scan != NULL) {	/* its writer's account: no scan */
		sc = *r->scan;
		cust = r->cust;
	} else if (incjson_scan(r->json, r->jsonlen, &sc, custbuf,
	    VIEW_SCAN_CUST) != 0)
		return view_parse_tree(r, out);
	memset(out, 0, sizeof(*out));
	if (sc.has_tier && sc.tier.len < 32) {
		char t[32];

		memcpy(t, r->json + sc.tier.off, sc.tier.len);
		t[sc.tier.len] = '\0';
		(void)fleet_tier_parse(t, &tier);
	}
	out->tier = (uint8_t)tier;
	out->planned = sc.planned;
	out->flapping = sc.flapping;
	out->chronic = sc.chronic;
	if (sc.ncust > 0) {
		out->cust = xcalloc(sc.ncust, sizeof(char *));
		for (uint32_t k = 0; k < sc.ncust; k++)
			out->cust[k] = xstrndup(r->json + cust[k].off,
			    cust[k].len);
		out->ncust = sc.ncust;
	}
	/* the event without its steps member */
	cut = sc.steps.len > 0 ? sc.steps.off : r->jsonlen;
	after = sc.steps.len > 0 ? sc.steps.off + sc.steps.len : r->jsonlen;
	out->item = xmalloc(cut + (r->jsonlen - after) + 1);
	memcpy(out->item, r->json, cut);
	memcpy(out->item + cut, r->json + after, r->jsonlen - after);
	out->item[cut + (r->jsonlen - after)] = '\0';
	return 0;
}

/* Moves the parsed fields and the record's into e (under the lock). */
static void
ve_set(struct ve *e, const struct pub_rec *r, struct ve_parsed *p)
{
	e->shard = r->shard;
	e->seq = r->seq;
	e->opened_at = r->opened_at;
	e->deadline = r->deadline;
	e->state = r->state;
	e->severity = r->severity;
	/* an incident's site and area never change: copied once */
	if (e->site == NULL)
		e->site = xstrdup(r->site != NULL ? r->site : "");
	if (e->area == NULL)
		e->area = xstrdup(r->area != NULL ? r->area : "");
	for (uint32_t i = 0; i < e->ncust; i++)
		xfree(e->cust[i]);
	xfree(e->cust);
	e->cust = p->cust;
	e->ncust = p->ncust;
	e->tier = p->tier;
	e->planned = p->planned;
	e->flapping = p->flapping;
	e->chronic = p->chronic;
	/* item is jansson's (json_dumps), from the same malloc as xfree()'s
	 * (daemon/mem.c): kept, not copied */
	xfree(e->item);
	e->item = p->item;
	e->itemlen = strlen(p->item);
	memset(p, 0, sizeof(*p));
	if (r->kind == PUB_STATE)
		e->tllen = 0;	/* the whole timeline follows */
	for (uint32_t i = 0; i < r->nsteps; i++)
		ve_tl_append(e, r->json + r->steps[i].off, r->steps[i].len);
}

/* ---- the sink ---- */

static void
view_event(struct view *v, const struct pub_rec *r)
{
	struct view_dump *d = r->shard < VIEW_MAX_SHARDS ?
	    &v->dumps[r->shard] : NULL;
	struct ve_parsed p;
	struct ve *e;
	int have = 0;

	if (r->id == NULL || r->id[0] == '\0' || r->json == NULL)
		return;
	for (uint32_t i = 0; i < r->nsteps; i++)
		if ((uint64_t)r->steps[i].off + r->steps[i].len > r->jsonlen)
			return;
	if (r->live && view_parse(r, &p) == 0)
		have = 1;
	else if (r->live)
		log_warnx("view record id=%s shard=%u pos=%" PRIu64 " is not "
		    "an incident event; skipped", r->id, r->shard, r->pos);
	pthread_rwlock_wrlock(&v->lock);
	e = view_find(v, r->id);
	if (!r->live) {
		if (e != NULL)
			view_remove(v, e);
	} else if (have) {
		if (e == NULL)
			e = view_insert(v, r->id);
		if (d != NULL && d->open)
			e->mark = d->gen;
		/* a replay of what the entry holds (at least once) */
		if (e->item == NULL || r->seq > e->seq ||
		    (r->kind == PUB_STATE && r->seq >= e->seq)) {
			if (r->kind == PUB_STATE)
				e->complete = r->cut == 0;
			else if (e->item == NULL)
				e->complete = r->seq == 1 && r->cut == 0;
			else if (r->seq != e->seq + 1 || r->cut > 0)
				e->complete = 0;
			ve_set(e, r, &p);
			have = 0;
		}
	}
	pthread_rwlock_unlock(&v->lock);
	if (have) {
		for (uint32_t k = 0; k < p.ncust; k++)
			xfree(p.cust[k]);
		xfree(p.cust);
		free(p.item);
	}
}

static void
view_dump_end(struct view *v, const struct pub_rec *r)
{
	struct view_dump *d = &v->dumps[r->shard];
	struct ve **stale = NULL;
	size_t nstale = 0, cap = 0, it = 0;
	uint64_t k;
	void *val;

	if (!d->open) {
		log_warnx("view dump end with no begin shard=%u pos=%" PRIu64
		    " (stale check skipped)", r->shard, r->pos);
		return;
	}
	d->open = 0;
	d->ended = 1;
	while (u64map_next(&v->map, &it, &k, &val))
		for (struct ve *e = val; e != NULL; e = e->hnext) {
			if (e->shard != r->shard || e->mark == d->gen)
				continue;
			if (nstale == cap) {
				cap = cap ? cap * 2 : 16;
				stale = xreallocarray(stale, cap,
				    sizeof(*stale));
			}
			stale[nstale++] = e;
		}
	for (size_t i = 0; i < nstale; i++)
		view_remove(v, stale[i]);
	if (nstale > 0)
		log_info("view dump shard=%u removed=%zu stale incidents",
		    r->shard, nstale);
	xfree(stale);
}

/* Takes one record: the sinks' offer, without the report of it done. */
static void
view_take(struct view *v, const struct pub_rec *r)
{
	switch (r->kind) {
	case PUB_EVENT:
	case PUB_STATE:
		view_event(v, r);
		break;
	case PUB_DUMP_BEGIN:
		if (r->shard < VIEW_MAX_SHARDS) {
			pthread_rwlock_wrlock(&v->lock);
			v->dumps[r->shard].gen = ++v->gen;
			v->dumps[r->shard].open = 1;
			pthread_rwlock_unlock(&v->lock);
		}
		break;
	case PUB_DUMP_END:
		if (r->shard < VIEW_MAX_SHARDS) {
			pthread_rwlock_wrlock(&v->lock);
			view_dump_end(v, r);
			pthread_rwlock_unlock(&v->lock);
		}
		break;
	default:
		break;
	}
}

static int
view_offer(struct pub_sink *s, const struct pub_rec *r)
{
	struct view *v = container_of(s, struct view, base);

	view_take(v, r);
	if (v->host.done != NULL)	/* a correlator's: no journal */
		v->host.done(v->host.arg, r->shard, r->pos);
	return 0;
}

static int
view_fill_offer(struct pub_sink *s, const struct pub_rec *r)
{
	view_take(container_of(s, struct view, fill), r);
	return 0;
}

static int
view_healthy(const struct pub_sink *s)
{
	(void)s;
	return 1;		/* memory: nothing far to reach */
}

static void
view_close(struct pub_sink *s, int timeout_ms)
{
	(void)s;
	(void)timeout_ms;	/* view_free frees; the routes may still run */
}

static const struct pub_ops view_ops = {
	.name = "view",
	.offer = view_offer,
	.healthy = view_healthy,
	.close = view_close,
};

static const struct pub_ops view_fill_ops = {
	.name = "view",
	.offer = view_fill_offer,
	.healthy = view_healthy,
	.close = view_close,
};

/* ---- filters, order, cursor ---- */

struct view_query {
	unsigned	 states;	/* bit per enum corr_state; 0: any */
	unsigned	 sevs;		/* bit per enum severity; 0: any */
	unsigned	 tiers;		/* bit per enum tier; 0: any */
	int		 planned, flapping, chronic; /* -1 any, 0, 1 */
	char		 site[VIEW_VAL_MAX];	/* "" any */
	char		 area[VIEW_VAL_MAX];
	char		 customer[VIEW_VAL_MAX];
	uint32_t	 limit;
	int		 has_cursor;
	unsigned	 ccls;		/* the cursor's key */
	int64_t		 ckey;
	char		 cid[VIEW_VAL_MAX];
};

/* The sort key: class 0 (a running deadline) then 1, key, id. */
static unsigned
ve_cls(const struct ve *e)
{
	return e->deadline != 0 ? 0 : 1;
}

static int64_t
ve_key(const struct ve *e)
{
	return e->deadline != 0 ? e->deadline : e->opened_at;
}

static int
key_cmp(unsigned ca, int64_t ka, const char *ia, unsigned cb, int64_t kb,
    const char *ib)
{
	if (ca != cb)
		return ca < cb ? -1 : 1;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return strcmp(ia, ib);
}

static int
ve_cmp(const void *a, const void *b)
{
	const struct ve *x = *(const struct ve *const *)a;
	const struct ve *y = *(const struct ve *const *)b;

	return key_cmp(ve_cls(x), ve_key(x), x->id, ve_cls(y), ve_key(y),
	    y->id);
}

/* "CLS:KEY:ID" in hex: opaque to clients, safe in a query string. */
static void
cursor_encode(const struct ve *e, char *out, size_t len)
{
	char raw[VIEW_VAL_MAX];
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;
	int n;

	n = snprintf(raw, sizeof(raw), "%u:%" PRId64 ":%s", ve_cls(e),
	    ve_key(e), e->id);
	for (int i = 0; i < n && (size_t)i < sizeof(raw) - 1 &&
	    o + 3 <= len; i++) {
		out[o++] = hx[(unsigned char)raw[i] >> 4];
		out[o++] = hx[(unsigned char)raw[i] & 15];
	}
	out[o] = '\0';
}

static int
cursor_decode(const char *s, struct view_query *q)
{
	char raw[VIEW_VAL_MAX];
	size_t n = strlen(s), o = 0;
	char *p, *end;
	unsigned long long cls;
	long long key;

	if (n == 0 || n % 2 != 0 || n / 2 >= sizeof(raw))
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		int hi = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
		int lo = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0' :
		    s[i + 1] >= 'a' && s[i + 1] <= 'f' ? s[i + 1] - 'a' + 10 :
		    -1;

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		raw[o++] = (char)(hi * 16 + lo);
	}
	raw[o] = '\0';
	if (raw[0] != '0' && raw[0] != '1')
		return -EINVAL;
	errno = 0;
	cls = strtoull(raw, &p, 10);
	if (*p != ':')
		return -EINVAL;
	key = strtoll(p + 1, &end, 10);
	if (errno != 0 || end == p + 1 || *end != ':' || end[1] == '\0')
		return -EINVAL;
	q->ccls = (unsigned)cls;
	q->ckey = key;
	snprintf(q->cid, sizeof(q->cid), "%s", end + 1);
	q->has_cursor = 1;
	return 0;
}

static int
view_custcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A comma list of names into a bit mask through parse; 0, or -EINVAL
 * naming the bad one in err.
 */
static int
view_mask(const char *key, const char *val, unsigned *mask,
    int (*parse)(const char *, unsigned *), char *err, size_t errlen)
{
	char buf[VIEW_VAL_MAX], *save = NULL, *tok;
	unsigned bit;

	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (parse(tok, &bit) != 0) {
			snprintf(err, errlen, "%s: unknown value \"%.64s\"",
			    key, tok);
			return -EINVAL;
		}
		*mask |= 1u << bit;
	}
	if (*mask == 0) {
		snprintf(err, errlen, "%s: empty", key);
		return -EINVAL;
	}
	return 0;
}

static int
parse_state(const char *s, unsigned *out)
{
	enum corr_state v;

	if (corr_state_parse(s, &v) != 0)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int
parse_sev(const char *s, unsigned *out)
{
	enum severity v;

	if (fleet_severity_parse(s, &v) != 0)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int
parse_tier(const char *s, unsigned *out)
{
	enum tier v;

	if (fleet_tier_parse(s, &v) != 0)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int
parse_bool(const char *key, const char *val, int *out, char *err,
    size_t errlen)
{
	if (strcmp(val, "true") == 0)
		*out = 1;
	else if (strcmp(val, "false") == 0)
		*out = 0;
	else {
		snprintf(err, errlen, "%s: \"%.64s\" is neither true nor false",
		    key, val);
		return -EINVAL;
	}
	return 0;
}

/* The query string into q: 0, or -EINVAL with the reason in err. */
static int
view_query_parse(const struct view *v, const char *query,
    struct view_query *q, char *err, size_t errlen)
{
	char name[32], val[VIEW_VAL_MAX];
	int rc;

	memset(q, 0, sizeof(*q));
	q->planned = q->flapping = q->chronic = -1;
	q->limit = VIEW_LIMIT_DEFAULT;
	while ((rc = http_query_next(&query, name, sizeof(name), val,
	    sizeof(val))) == 1) {
		if (strcmp(name, "state") == 0)
			rc = view_mask(name, val, &q->states, parse_state, err,
			    errlen);
		else if (strcmp(name, "severity") == 0)
			rc = view_mask(name, val, &q->sevs, parse_sev, err,
			    errlen);
		else if (strcmp(name, "tier") == 0)
			rc = view_mask(name, val, &q->tiers, parse_tier, err,
			    errlen);
		else if (strcmp(name, "planned") == 0)
			rc = parse_bool(name, val, &q->planned, err, errlen);
		else if (strcmp(name, "flapping") == 0)
			rc = parse_bool(name, val, &q->flapping, err, errlen);
		else if (strcmp(name, "chronic") == 0)
			rc = parse_bool(name, val, &q->chronic, err, errlen);
		else if (strcmp(name, "site") == 0) {
			if (fleet_find(v->fleet, FLEET_SITE, val) ==
			    FLEET_NONE) {
				snprintf(err, errlen, "site: no site \"%.64s\" "
				    "in the configuration", val);
				rc = -EINVAL;
			}
			snprintf(q->site, sizeof(q->site), "%s", val);
		} else if (strcmp(name, "area") == 0) {
			if (fleet_find(v->fleet, FLEET_AREA, val) ==
			    FLEET_NONE) {
				snprintf(err, errlen, "area: no area \"%.64s\" "
				    "in the configuration", val);
				rc = -EINVAL;
			}
			snprintf(q->area, sizeof(q->area), "%s", val);
		} else if (strcmp(name, "customer") == 0) {
			const char *key = val;

			if (bsearch(&key, v->custs, v->ncusts,
			    sizeof(*v->custs), view_custcmp) == NULL) {
				snprintf(err, errlen, "customer: no customer "
				    "\"%.64s\" at any site", val);
				rc = -EINVAL;
			}
			snprintf(q->customer, sizeof(q->customer), "%s", val);
		} else if (strcmp(name, "limit") == 0) {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(val, &end, 10);
			if (val[0] < '0' || val[0] > '9' || *end != '\0' ||
			    errno != 0 || n < 1 || n > VIEW_LIMIT_MAX) {
				snprintf(err, errlen, "limit: \"%.64s\" is not "
				    "1 to %u", val, VIEW_LIMIT_MAX);
				rc = -EINVAL;
			} else
				q->limit = (uint32_t)n;
		} else if (strcmp(name, "cursor") == 0) {
			if (cursor_decode(val, q) != 0) {
				snprintf(err, errlen, "cursor: not one this "
				    "server gave");
				rc = -EINVAL;
			}
		} else {
			snprintf(err, errlen, "unknown parameter \"%.32s\" "
			    "(state, site, area, customer, tier, severity, "
			    "planned, flapping, chronic, limit, cursor)", name);
			rc = -EINVAL;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "the query string is malformed (a bad "
		    "%%-escape, a control byte, or a value over %d bytes)",
		    VIEW_VAL_MAX - 1);
		return rc;
	}
	return 0;
}

static int
view_match(const struct ve *e, const struct view_query *q)
{
	if (q->states != 0 && !(q->states & (1u << e->state)))
		return 0;
	if (q->sevs != 0 && !(q->sevs & (1u << e->severity)))
		return 0;
	if (q->tiers != 0 && !(q->tiers & (1u << e->tier)))
		return 0;
	if ((q->planned >= 0 && q->planned != e->planned) ||
	    (q->flapping >= 0 && q->flapping != e->flapping) ||
	    (q->chronic >= 0 && q->chronic != e->chronic))
		return 0;
	if ((q->site[0] != '\0' && strcmp(q->site, e->site) != 0) ||
	    (q->area[0] != '\0' && strcmp(q->area, e->area) != 0))
		return 0;
	if (q->customer[0] != '\0') {
		uint32_t i;

		for (i = 0; i < e->ncust; i++)
			if (strcmp(e->cust[i], q->customer) == 0)
				break;
		if (i == e->ncust)
			return 0;
	}
	if (q->has_cursor && key_cmp(ve_cls(e), ve_key(e), e->id, q->ccls,
	    q->ckey, q->cid) <= 0)
		return 0;
	return 1;
}

/* ---- routes ---- */

static void
view_list_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct view *v = arg;
	struct view_query q;
	struct ve **hits = NULL;
	char **items = NULL;
	char err[256], cursor[2 * VIEW_VAL_MAX + 1] = "";
	size_t nhits = 0, nitems = 0, it = 0;
	uint64_t k;
	void *val;

	/* under the lock: a reload may swap the fleet the filters check */
	pthread_rwlock_rdlock(&v->lock);
	if (view_query_parse(v, rq->query, &q, err, sizeof(err)) != 0) {
		pthread_rwlock_unlock(&v->lock);
		http_resp_error(rs, 400, "%s", err);
		return;
	}
	if (v->n > 0)
		hits = xreallocarray(NULL, v->n, sizeof(*hits));
	while (u64map_next(&v->map, &it, &k, &val))
		for (struct ve *e = val; e != NULL; e = e->hnext)
			if (view_match(e, &q))
				hits[nhits++] = e;
	if (nhits > 1)
		qsort(hits, nhits, sizeof(*hits), ve_cmp);
	nitems = nhits < q.limit ? nhits : q.limit;
	if (nitems > 0)
		items = xreallocarray(NULL, nitems, sizeof(*items));
	for (size_t i = 0; i < nitems; i++)
		items[i] = xstrndup(hits[i]->item, hits[i]->itemlen);
	if (nhits > nitems)
		cursor_encode(hits[nitems - 1], cursor, sizeof(cursor));
	pthread_rwlock_unlock(&v->lock);
	xfree(hits);

	http_resp_printf(rs, "{\"incidents\":[");
	for (size_t i = 0; i < nitems; i++) {
		if (i > 0)
			http_resp_append(rs, ",", 1);
		http_resp_append(rs, items[i], strlen(items[i]));
		xfree(items[i]);
	}
	xfree(items);
	http_resp_printf(rs, "],\"count\":%zu,\"next_cursor\":", nitems);
	if (cursor[0] != '\0')
		http_resp_printf(rs, "\"%s\"}\n", cursor);
	else
		http_resp_printf(rs, "null}\n");
}

static void
view_show_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	struct view *v = arg;
	struct ve *e;
	char *item = NULL, *tl = NULL;
	size_t itemlen = 0;
	int complete = 0;

	pthread_rwlock_rdlock(&v->lock);
	if ((e = view_find(v, rq->seg[0])) != NULL) {
		itemlen = e->itemlen;
		item = xstrndup(e->item, e->itemlen);
		tl = xstrndup(e->tl != NULL ? e->tl : "", e->tllen);
		complete = e->complete;
	}
	pthread_rwlock_unlock(&v->lock);
	if (item == NULL) {
		http_resp_error(rs, 404, "no open incident %.64s (closed ones "
		    "are in Redis for redis.closed_ttl and in the history "
		    "files)", rq->seg[0]);
		return;
	}
	/* the item is a compact object: its '}' becomes the timeline's */
	http_resp_append(rs, item, itemlen - 1);
	http_resp_printf(rs, ",\"timeline_complete\":%s,\"timeline\":[",
	    complete ? "true" : "false");
	http_resp_append(rs, tl, strlen(tl));
	http_resp_printf(rs, "]}\n");
	xfree(item);
	xfree(tl);
}

int
view_whole(struct view *v, unsigned nshards)
{
	int whole = 1;

	pthread_rwlock_rdlock(&v->lock);
	for (unsigned i = 0; i < nshards && i < VIEW_MAX_SHARDS; i++)
		if (!v->dumps[i].ended)
			whole = 0;
	pthread_rwlock_unlock(&v->lock);
	return whole;
}

void
view_site_items(struct view *v, const char *site, struct http_resp *rs)
{
	struct ve **hits = NULL;
	char **items = NULL;
	size_t nhits = 0, it = 0;
	uint64_t k;
	void *val;

	pthread_rwlock_rdlock(&v->lock);
	if (v->n > 0)
		hits = xreallocarray(NULL, v->n, sizeof(*hits));
	while (u64map_next(&v->map, &it, &k, &val))
		for (struct ve *e = val; e != NULL; e = e->hnext)
			if (strcmp(e->site, site) == 0)
				hits[nhits++] = e;
	if (nhits > 1)
		qsort(hits, nhits, sizeof(*hits), ve_cmp);
	if (nhits > 0)
		items = xreallocarray(NULL, nhits, sizeof(*items));
	for (size_t i = 0; i < nhits; i++)
		items[i] = xstrndup(hits[i]->item, hits[i]->itemlen);
	pthread_rwlock_unlock(&v->lock);
	xfree(hits);
	http_resp_append(rs, "[", 1);
	for (size_t i = 0; i < nhits; i++) {
		if (i > 0)
			http_resp_append(rs, ",", 1);
		http_resp_append(rs, items[i], strlen(items[i]));
		xfree(items[i]);
	}
	http_resp_append(rs, "]", 1);
	xfree(items);
}

size_t
view_routes(struct view *v, struct http_route *out)
{
	out[0] = (struct http_route){ "GET", "/api/v1/incidents", 0,
	    view_list_route, v };
	out[1] = (struct http_route){ "GET", "/api/v1/incidents/*", 0,
	    view_show_route, v };
	return VIEW_NROUTES;
}

/* ---- life ---- */

/* The sorted, distinct customer ids of fleet's sites into *out. */
static size_t
view_customers(const struct fleet *fleet, const char ***out)
{
	const char **c = NULL;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < fleet->nsites; i++)
		n += fleet->sites[i].ntenants;
	if (n > 0)
		c = xreallocarray(NULL, n, sizeof(*c));
	for (size_t i = 0; i < fleet->nsites; i++)
		for (size_t t = 0; t < fleet->sites[i].ntenants; t++)
			c[k++] = fleet->sites[i].tenants[t].customer;
	if (k > 0)
		qsort(c, k, sizeof(*c), view_custcmp);
	for (size_t i = 0, o = 0; i < k; i++) {
		if (o == 0 || strcmp(c[o - 1], c[i]) != 0)
			c[o++] = c[i];
		if (i + 1 == k)
			k = o;
	}
	*out = c;
	return k;
}

struct view *
view_new(const struct fleet *fleet)
{
	struct view *v = xcalloc(1, sizeof(*v));

	v->base.ops = &view_ops;
	v->fill.ops = &view_fill_ops;
	v->fleet = fleet;
	v->ncusts = view_customers(fleet, &v->custs);
	u64map_init(&v->map);
	if (pthread_rwlock_init(&v->lock, NULL) != 0)
		fatalx("view: pthread_rwlock_init failed");
	return v;
}

void
view_set_fleet(struct view *v, const struct fleet *fleet)
{
	const char **c, **old;
	size_t n = view_customers(fleet, &c);

	pthread_rwlock_wrlock(&v->lock);
	old = v->custs;
	v->fleet = fleet;
	v->custs = c;
	v->ncusts = n;
	pthread_rwlock_unlock(&v->lock);
	xfree(old);
}

struct pub_sink *
view_sink(struct view *v, const struct pub_host *host)
{
	v->host = *host;
	return &v->base;
}

struct pub_sink *
view_fill_sink(struct view *v)
{
	return &v->fill;
}

size_t
view_count(struct view *v)
{
	size_t n;

	pthread_rwlock_rdlock(&v->lock);
	n = v->n;
	pthread_rwlock_unlock(&v->lock);
	return n;
}

int
view_has(struct view *v, const char *id)
{
	int has;

	pthread_rwlock_rdlock(&v->lock);
	has = view_find(v, id) != NULL;
	pthread_rwlock_unlock(&v->lock);
	return has;
}

void
view_free(struct view *v)
{
	size_t it = 0;
	uint64_t k;
	void *val;

	if (v == NULL)
		return;
	while (u64map_next(&v->map, &it, &k, &val))
		for (struct ve *e = val, *nx; e != NULL; e = nx) {
			nx = e->hnext;
			ve_free(e);
		}
	u64map_fini(&v->map);
	pthread_rwlock_destroy(&v->lock);
	xfree(v->custs);
	xfree(v);
}
