/*
 * reload.c - see reload.h.
 *
 * Retiring instead of removing.  An engine's snapshot names fleet objects
 * by id and drops, on load, an incident whose site or root device the
 * fleet no longer knows (correlator/corr.h, snap_dropped_incidents).  A
 * reload must never lose an open incident, so the new fleet keeps every
 * object the running one had: a site the file dropped stays as it was,
 * a device the file dropped stays retired (no host, no profile: never
 * polled, no outbox key but COMM_LOSS, no telemetry).  Retired objects
 * cost a few dozen bytes each and go at the next restart, which reads
 * the file alone.
 *
 * Devices are matched by id: a device whose host, port, unit, interval,
 * timeout, site, gateway or profile (its points, their map, its rules)
 * differ is "changed"; its alarm state is still carried by code name
 * (poller_reload, poller_carry), so only a rule that no longer holds
 * clears; an unchanged one keeps its connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/reload.h"

/* ---- restart-only keys ---- */

static int
str_differs(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

struct keyrep {
	reload_key_fn	*fn;
	void		*arg;
	size_t		 n;
};

static void
key_str(struct keyrep *kr, const char *key, const char *a, const char *b)
{
	if (!str_differs(a, b))
		return;
	kr->n++;
	if (kr->fn != NULL)
		kr->fn(kr->arg, key, a != NULL ? a : "", b != NULL ? b : "");
}

static void
key_u64(struct keyrep *kr, const char *key, uint64_t a, uint64_t b)
{
	char x[32], y[32];

	if (a == b)
		return;
	snprintf(x, sizeof(x), "%" PRIu64, a);
	snprintf(y, sizeof(y), "%" PRIu64, b);
	kr->n++;
	if (kr->fn != NULL)
		kr->fn(kr->arg, key, x, y);
}

size_t
reload_restart_keys(const struct config *o, const struct config *n,
    reload_key_fn *fn, void *arg)
{
	struct keyrep kr = { fn, arg, 0 };
	const struct kafka_config *ok = &o->kafka.client, *nk = &n->kafka.client;
	const struct redis_config *orc = &o->redis.client,
	    *nrc = &n->redis.client;
	const struct http_config *oh = &o->http.server, *nh = &n->http.server;
	size_t np;

	/* where state lives and how many threads own it */
	key_u64(&kr, "daemon.role", (uint64_t)o->daemon.role,
	    (uint64_t)n->daemon.role);
	key_u64(&kr, "daemon.poll_shares", o->daemon.poll_shares,
	    n->daemon.poll_shares);
	key_u64(&kr, "daemon.poll_share", o->daemon.poll_share,
	    n->daemon.poll_share);
	key_str(&kr, "daemon.state_dir", o->daemon.state_dir,
	    n->daemon.state_dir);
	key_u64(&kr, "daemon.shards", o->daemon.shards, n->daemon.shards);
	key_u64(&kr, "daemon.fsync", (uint64_t)o->daemon.fsync,
	    (uint64_t)n->daemon.fsync);
	key_u64(&kr, "daemon.fsync_ms", o->daemon.fsync_ms, n->daemon.fsync_ms);
	key_u64(&kr, "daemon.snapshot_mb", o->daemon.snapshot_mb,
	    n->daemon.snapshot_mb);
	key_u64(&kr, "daemon.history_months", o->daemon.history_months,
	    n->daemon.history_months);
	key_str(&kr, "daemon.log_file", o->daemon.log_file, n->daemon.log_file);
	key_u64(&kr, "daemon.log_level", (uint64_t)o->daemon.log_level,
	    (uint64_t)n->daemon.log_level);
	/* listeners and sinks: their sockets, files and positions */
	key_u64(&kr, "http.enabled", (uint64_t)o->http.enabled,
	    (uint64_t)n->http.enabled);
	key_str(&kr, "http.listen", oh->listen, nh->listen);
	key_str(&kr, "http.token_file", oh->token_file, nh->token_file);
	key_u64(&kr, "http.max_connections", oh->max_connections,
	    nh->max_connections);
	key_u64(&kr, "http.max_body", oh->max_body, nh->max_body);
	key_u64(&kr, "http.idle_timeout", oh->idle_timeout_ms,
	    nh->idle_timeout_ms);
	key_u64(&kr, "http.max_sink_lag", oh->max_sink_lag, nh->max_sink_lag);
	key_str(&kr, "output.file", o->output.file, n->output.file);
	key_u64(&kr, "output.rotate_mb", o->output.rotate_mb,
	    n->output.rotate_mb);
	key_u64(&kr, "output.keep", o->output.keep, n->output.keep);
	key_u64(&kr, "output.sync", (uint64_t)o->output.sync,
	    (uint64_t)n->output.sync);
	key_u64(&kr, "redis.enabled", (uint64_t)o->redis.enabled,
	    (uint64_t)n->redis.enabled);
	key_str(&kr, "redis.host", orc->host, nrc->host);
	key_str(&kr, "redis.unix_path", orc->unix_path, nrc->unix_path);
	key_u64(&kr, "redis.port", orc->port, nrc->port);
	key_u64(&kr, "redis.db", orc->db, nrc->db);
	key_str(&kr, "redis.prefix", orc->prefix, nrc->prefix);
	key_str(&kr, "redis.password_file", o->redis.password_file,
	    n->redis.password_file);
	key_str(&kr, "kafka.brokers", ok->brokers, nk->brokers);
	key_str(&kr, "kafka.incidents", ok->incidents, nk->incidents);
	key_str(&kr, "kafka.actions", ok->actions, nk->actions);
	key_str(&kr, "kafka.rejected", ok->rejected, nk->rejected);
	key_str(&kr, "kafka.alarms", ok->alarms, nk->alarms);
	key_str(&kr, "kafka.telemetry", ok->telemetry, nk->telemetry);
	key_str(&kr, "kafka.group", ok->group, nk->group);
	key_str(&kr, "kafka.client_id", ok->client_id, nk->client_id);
	key_str(&kr, "kafka.changelog", ok->changelog, nk->changelog);
	key_str(&kr, "kafka.correlator_group", ok->correlator_group,
	    nk->correlator_group);
	np = ok->nprops > nk->nprops ? ok->nprops : nk->nprops;
	for (size_t i = 0; i < np; i++) {
		char key[160];
		const struct kafka_prop *a = i < ok->nprops ? &ok->props[i] :
		    NULL;
		const struct kafka_prop *b = i < nk->nprops ? &nk->props[i] :
		    NULL;

		snprintf(key, sizeof(key), "kafka.properties.%s",
		    a != NULL ? a->key : b->key);
		if (a == NULL || b == NULL || str_differs(a->key, b->key))
			key_str(&kr, key, a != NULL ? a->key : "",
			    b != NULL ? b->key : "");
		else
			key_str(&kr, key, a->value, b->value);
	}
	/*
	 * What an engine snapshot depends on (correlator/corr.h: the loading
	 * engine needs the same flap and chronic sizes, clocks only with SLA
	 * on, and each running clock's calendar and mark): ids too, since
	 * every incident id carries its prefix.
	 */
	key_str(&kr, "correlation.id_prefix", o->correlation.id_prefix,
	    n->correlation.id_prefix);
	key_u64(&kr, "correlation.flapping.cycles", o->correlation.flap_cycles,
	    n->correlation.flap_cycles);
	key_u64(&kr, "correlation.chronic.count", o->correlation.chronic_count,
	    n->correlation.chronic_count);
	key_u64(&kr, "sla", o->correlation.sla != NULL,
	    n->correlation.sla != NULL);
	if (o->correlation.sla != NULL && n->correlation.sla != NULL) {
		const struct sla_config *a = o->correlation.sla,
		    *b = n->correlation.sla;

		key_u64(&kr, "sla.warnings (how many)", a->nwarnings,
		    b->nwarnings);
		key_u64(&kr, "sla.escalation (how many rungs)", a->nrungs,
		    b->nrungs);
		for (unsigned i = 0; i < a->ncalendars; i++) {
			char key[96];

			snprintf(key, sizeof(key), "sla.calendars[%u] (name)",
			    i);
			key_str(&kr, key, a->calendars[i].name,
			    i < b->ncalendars ? b->calendars[i].name : "");
		}
	}
	return kr.n;
}

/* ---- retiring ---- */

int
reload_retired(const struct fleet *f, uint32_t i)
{
	return i < f->ndevices && f->devices[i].host == NULL &&
	    f->devices[i].profile == FLEET_NONE;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

size_t
reload_retire(struct fleet *nf, const struct fleet *of)
{
	size_t n = 0;

	for (size_t i = 0; i < of->nareas; i++)
		(void)fleet_area(nf, of->areas[i]);
	for (size_t i = 0; i < of->ncodes; i++)
		(void)fleet_code(nf, of->codes[i]);
	for (size_t i = 0; i < of->nsites; i++) {
		const struct fleet_site *os = &of->sites[i];
		struct fleet_site *s;
		uint32_t k;

		if (fleet_find(nf, FLEET_SITE, os->id) != FLEET_NONE)
			continue;
		k = fleet_add(nf, FLEET_SITE, os->id);
		s = &nf->sites[k];
		s->name = dup_or_null(os->name);
		s->area = fleet_area(nf, of->areas[os->area]);
		s->region = os->region;
		s->station = dup_or_null(os->station);
		s->branch = dup_or_null(os->branch);
		for (size_t t = 0; t < os->ntenants; t++)
			fleet_site_add_tenant(s, os->tenants[t].customer,
			    (enum tier)os->tenants[t].tier);
		s->tier = os->tier;
	}
	for (size_t i = 0; i < of->ndevices; i++) {
		const struct fleet_device *od = &of->devices[i];
		uint32_t k;

		if (fleet_find(nf, FLEET_DEVICE, od->id) != FLEET_NONE)
			continue;
		k = fleet_add(nf, FLEET_DEVICE, od->id);
		/* host NULL, profile and via FLEET_NONE: retired */
		nf->devices[k].site = fleet_find(nf, FLEET_SITE,
		    of->sites[od->site].id);
		nf->devices[k].profile = FLEET_NONE;
		nf->devices[k].via = FLEET_NONE;
		n++;
	}
	return n;
}

/* ---- retired objects across a restart ---- */

void
reload_marks_of(const struct fleet *f, struct reload_marks *m)
{
	m->nsites = f->nsites;
	m->ndevices = f->ndevices;
	m->nareas = f->nareas;
	m->ncodes = f->ncodes;
}

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

int
reload_retired_save(const struct fleet *f, const struct reload_marks *m,
    const char *dir)
{
	json_t *o = json_object(), *a = json_array(), *c = json_array();
	json_t *sites = json_array(), *devs = json_array();
	char path[4096], tmp[4200];
	int rc = 0;

	for (size_t i = m->nareas; i < f->nareas; i++)
		json_array_append_new(a, json_string(f->areas[i]));
	for (size_t i = m->ncodes; i < f->ncodes; i++)
		json_array_append_new(c, json_string(f->codes[i]));
	for (size_t i = m->nsites; i < f->nsites; i++) {
		const struct fleet_site *s = &f->sites[i];
		json_t *t = json_array();

		for (size_t k = 0; k < s->ntenants; k++)
			json_array_append_new(t, json_pack("{s:s, s:s}",
			    "customer", s->tenants[k].customer, "tier",
			    fleet_tier_name((enum tier)s->tenants[k].tier)));
		json_array_append_new(sites, json_pack("{s:s, s:o, s:s, s:s, "
		    "s:o, s:o, s:o}", "id", s->id, "name", jstr_or_null(s->name),
		    "area", f->areas[s->area], "region",
		    fleet_region_name((enum region)s->region), "station",
		    jstr_or_null(s->station), "branch", jstr_or_null(s->branch),
		    "tenants", t));
	}
	for (size_t i = 0; i < f->ndevices; i++)
		if (reload_retired(f, (uint32_t)i) && f->devices[i].site <
		    f->nsites)
			json_array_append_new(devs, json_pack("{s:s, s:s}", "id",
			    f->devices[i].id, "site",
			    f->sites[f->devices[i].site].id));
	json_object_set_new(o, "areas", a);
	json_object_set_new(o, "codes", c);
	json_object_set_new(o, "sites", sites);
	json_object_set_new(o, "devices", devs);
	snprintf(path, sizeof(path), "%s/%s", dir, RELOAD_RETIRED_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_array_size(a) + json_array_size(c) + json_array_size(sites) +
	    json_array_size(devs) == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			rc = -errno;
	} else if (json_dump_file(o, tmp, JSON_COMPACT) != 0 ||
	    rename(tmp, path) != 0)
		rc = errno != 0 ? -errno : -EIO;
	json_decref(o);
	return rc;
}

/* A string member, absent or null as NULL; -1 for another type. */
static int
jget_str(json_t *o, const char *k, const char **out)
{
	json_t *v = json_object_get(o, k);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

/* A name: non-empty, no longer than an id should be. */
static int
name_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) < 256;
}

int
reload_retired_parse(struct fleet *f, const char *buf, size_t len, char *err,
    size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(buf, len, 0, &je), *a, *v;
	size_t i;
	int n = 0;

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)
	if (o == NULL)
		BAD("line %d: %s", je.line, je.text);
	if (!json_is_object(o))
		BAD("not a JSON object");
	a = json_object_get(o, "areas");
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !name_ok(json_string_value(v)))
			BAD("areas[%zu]: not a name", i);
		(void)fleet_area(f, json_string_value(v));
	}
	a = json_object_get(o, "codes");
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || fleet_code_check(json_string_value(v)))
			BAD("codes[%zu]: not an alarm code", i);
		(void)fleet_code(f, json_string_value(v));
	}
	a = json_object_get(o, "sites");
	json_array_foreach(a, i, v) {
		const char *id, *name, *area, *region, *station, *branch;
		json_t *t, *tv;
		enum region rg;
		struct fleet_site *s;
		uint32_t st;
		size_t k;

		if (!json_is_object(v) || jget_str(v, "id", &id) ||
		    jget_str(v, "name", &name) || jget_str(v, "area", &area) ||
		    jget_str(v, "region", &region) ||
		    jget_str(v, "station", &station) ||
		    jget_str(v, "branch", &branch) || !name_ok(id) ||
		    !name_ok(area) || region == NULL ||
		    fleet_region_parse(region, &rg) != 0)
			BAD("sites[%zu]: needs id, area and region", i);
		if (fleet_find(f, FLEET_SITE, id) != FLEET_NONE)
			continue;	/* the file has it again */
		st = fleet_add(f, FLEET_SITE, id);	/* may move sites */
		s = &f->sites[st];
		s->name = dup_or_null(name);
		s->area = fleet_area(f, area);
		s->region = (uint8_t)rg;
		s->station = dup_or_null(station);
		s->branch = dup_or_null(branch);
		t = json_object_get(v, "tenants");
		json_array_foreach(t, k, tv) {
			const char *cust, *tier;
			enum tier tr;

			if (!json_is_object(tv) || jget_str(tv, "customer",
			    &cust) || jget_str(tv, "tier", &tier) ||
			    !name_ok(cust) || tier == NULL ||
			    fleet_tier_parse(tier, &tr) != 0)
				BAD("sites[%zu].tenants[%zu]: needs customer "
				    "and tier", i, k);
			fleet_site_add_tenant(s, cust, tr);
		}
	}
	a = json_object_get(o, "devices");
	json_array_foreach(a, i, v) {
		const char *id, *site;
		uint32_t st, d;

		if (!json_is_object(v) || jget_str(v, "id", &id) ||
		    jget_str(v, "site", &site) || !name_ok(id) ||
		    !name_ok(site))
			BAD("devices[%zu]: needs id and site", i);
		if ((st = fleet_find(f, FLEET_SITE, site)) == FLEET_NONE)
			BAD("devices[%zu]: site %s is not known", i, site);
		if (fleet_find(f, FLEET_DEVICE, id) != FLEET_NONE)
			continue;
		d = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d].site = st;
		f->devices[d].profile = FLEET_NONE;
		f->devices[d].via = FLEET_NONE;
		n++;
	}
#undef BAD
	json_decref(o);
	return n;
bad:
	json_decref(o);
	return -EINVAL;
}

int
reload_retired_load(struct fleet *f, const char *dir, char *err,
    size_t errlen)
{
	char path[4096], *buf = NULL;
	FILE *fp;
	long sz;
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, RELOAD_RETIRED_FILE);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    sz > (64L << 20) || fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		snprintf(err, errlen, "%s: unreadable or over 64 MiB", path);
		return -EINVAL;
	}
	buf = xmalloc((size_t)sz + 1);
	n = fread(buf, 1, (size_t)sz, fp);
	fclose(fp);
	rc = reload_retired_parse(f, buf, n, err, errlen);
	xfree(buf);
	return rc;
}

/* ---- the device map ---- */

/* 1 if profile op (map omp) and np (nmp) differ in points, map or rules. */
/* A profile's declared commands differ (a command under way on a kept
 * device goes on with the new map's copy: poller_reload). */
static int
commands_differ(const struct mbmap_profile *a, const struct mbmap_profile *b)
{
	if (a->ncommands != b->ncommands)
		return 1;
	for (size_t i = 0; i < a->ncommands; i++) {
		const struct mbmap_command *x = &a->commands[i],
		    *y = &b->commands[i];

		if (strcmp(x->name, y->name) != 0 || x->fc != y->fc ||
		    x->rb_table != y->rb_table || x->address != y->address ||
		    x->count != y->count || x->rb_address != y->rb_address ||
		    x->rb_value != y->rb_value ||
		    x->rb_delay_ms != y->rb_delay_ms ||
		    x->rb_timeout_ms != y->rb_timeout_ms ||
		    memcmp(x->values, y->values, x->count *
		    sizeof(*x->values)) != 0)
			return 1;
	}
	return 0;
}

static int
profile_differs(const struct fleet *of, const struct fleet_profile *op,
    const struct mbmap_profile *omp, const struct fleet *nf,
    const struct fleet_profile *np, const struct mbmap_profile *nmp)
{
	if (op->npoints != np->npoints || op->nalarms != np->nalarms ||
	    op->gateway != np->gateway)
		return 1;
	for (size_t i = 0; i < op->npoints; i++) {
		const struct fleet_point *a = &op->points[i], *b = &np->points[i];

		if (strcmp(a->name, b->name) != 0 || str_differs(a->unit,
		    b->unit) || a->deadband != b->deadband)
			return 1;
	}
	if ((omp == NULL) != (nmp == NULL) || (omp != NULL &&
	    (omp->npoints != nmp->npoints || (omp->npoints > 0 &&
	    memcmp(omp->points, nmp->points, omp->npoints *
	    sizeof(*omp->points)) != 0))))
		return 1;
	if (omp != NULL && commands_differ(omp, nmp))
		return 1;
	for (size_t i = 0; i < op->nalarms; i++) {
		const struct fleet_alarm *a = &op->alarms[i], *b = &np->alarms[i];

		if (strcmp(of->codes[a->code_id], nf->codes[b->code_id]) != 0 ||
		    a->point != b->point || a->cond != b->cond ||
		    a->severity != b->severity || a->bit != b->bit ||
		    a->threshold != b->threshold || a->clear != b->clear ||
		    a->delay_on_ms != b->delay_on_ms ||
		    a->delay_off_ms != b->delay_off_ms)
			return 1;
	}
	return 0;
}

static const struct mbmap_profile *
map_of(const struct mbmap *m, uint32_t p)
{
	return m != NULL && p < m->nprofiles ? &m->profiles[p] : NULL;
}

/* The id of object idx of kind in f, or "" (none). */
static const char *
id_of(const struct fleet *f, enum fleet_kind kind, uint32_t idx)
{
	switch (kind) {
	case FLEET_SITE:
		return idx < f->nsites ? f->sites[idx].id : "";
	case FLEET_DEVICE:
		return idx < f->ndevices ? f->devices[idx].id : "";
	case FLEET_PROFILE:
		return idx < f->nprofiles ? f->profiles[idx].id : "";
	default:
		return "";
	}
}

uint32_t *
reload_device_map(const struct fleet *of, const struct mbmap *om,
    const struct fleet *nf, const struct mbmap *nm, struct reload_counts *c,
    uint8_t *same)
{
	uint32_t *map = xcalloc(of->ndevices ? of->ndevices : 1, sizeof(*map));
	uint8_t *pchg = xcalloc(of->nprofiles ? of->nprofiles : 1, 1);

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < of->nprofiles; i++) {
		uint32_t j = fleet_find(nf, FLEET_PROFILE, of->profiles[i].id);

		if (j == FLEET_NONE) {
			c->profiles_removed++;
			pchg[i] = 1;
		} else if (profile_differs(of, &of->profiles[i], map_of(om,
		    (uint32_t)i), nf, &nf->profiles[j], map_of(nm, j))) {
			c->profiles_changed++;
			pchg[i] = 1;
		}
	}
	for (size_t j = 0; j < nf->nprofiles; j++)
		if (fleet_find(of, FLEET_PROFILE, nf->profiles[j].id) ==
		    FLEET_NONE)
			c->profiles_added++;
	for (size_t i = 0; i < of->nsites; i++)
		if (fleet_find(nf, FLEET_SITE, of->sites[i].id) == FLEET_NONE)
			c->sites_removed++;
	for (size_t j = 0; j < nf->nsites; j++)
		if (fleet_find(of, FLEET_SITE, nf->sites[j].id) == FLEET_NONE)
			c->sites_added++;
	for (size_t i = 0; i < of->ndevices; i++) {
		const struct fleet_device *a = &of->devices[i], *b;
		uint32_t j = fleet_find(nf, FLEET_DEVICE, a->id);

		map[i] = FLEET_NONE;
		if (same != NULL)
			same[i] = 0;
		if (reload_retired(of, (uint32_t)i))
			continue;	/* retired before: counted below */
		if (j == FLEET_NONE || reload_retired(nf, j)) {
			c->devices_removed++;
			continue;
		}
		map[i] = j;
		b = &nf->devices[j];
		if (str_differs(a->host, b->host) || a->port != b->port ||
		    a->unit != b->unit || a->interval_ms != b->interval_ms ||
		    a->timeout_ms != b->timeout_ms ||
		    strcmp(id_of(of, FLEET_SITE, a->site),
		    id_of(nf, FLEET_SITE, b->site)) != 0 ||
		    strcmp(id_of(of, FLEET_DEVICE, a->via),
		    id_of(nf, FLEET_DEVICE, b->via)) != 0 ||
		    strcmp(id_of(of, FLEET_PROFILE, a->profile),
		    id_of(nf, FLEET_PROFILE, b->profile)) != 0 ||
		    (a->profile < of->nprofiles && pchg[a->profile]))
			c->devices_changed++;
		else {
			c->devices_kept++;
			if (same != NULL)
				same[i] = 1;
		}
	}
	for (size_t j = 0; j < nf->ndevices; j++) {
		if (reload_retired(nf, (uint32_t)j))
			c->devices_retired++;
		else if (fleet_find(of, FLEET_DEVICE, nf->devices[j].id) ==
		    FLEET_NONE || reload_retired(of, fleet_find(of,
		    FLEET_DEVICE, nf->devices[j].id)))
			c->devices_added++;
	}
	xfree(pchg);
	return map;
}

/* ---- prepare ---- */

static void
reload_key_log(void *arg, const char *key, const char *was, const char *now)
{
	log_error("reload refused: %s: %s changed (\"%s\" -> \"%s\"): only a "
	    "restart can apply it", (const char *)arg, key, was, now);
}

void
reload_free(struct reload *r, int keep_cfg)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < ROUTER_MAX_SHARDS; i++) {
		corr_engine_free(r->rl.engines[i]);
		corr_engine_free(r->rl.fallback[i]);
	}
	if (!keep_cfg)
		config_free(r->cfg);
	xfree(r->map);
	xfree(r->same);
	xfree(r->retired_now);
	xfree(r);
}

enum reload_result
reload_prepare(const char *path, const struct config *cur, unsigned nshards,
    const struct corr_sink *sinks, struct reload **out)
{
	struct config_errors errs = { NULL, 0 };
	struct reload *r;
	struct config *cfg;
	char err[512];
	size_t nkeys;

	*out = NULL;
	r = xcalloc(1, sizeof(*r));
	r->t0_us = clock_mono_us();
	cfg = config_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		log_error("reload: %s", errs.msg[i]);
	if (cfg == NULL) {
		log_error("reload refused: %s: %zu error%s; the running "
		    "configuration is kept", path, errs.n,
		    errs.n == 1 ? "" : "s");
		config_errors_free(&errs);
		xfree(r);
		return RELOAD_INVALID;
	}
	config_errors_free(&errs);
	r->cfg = cfg;
	if (corr_config_check(&cfg->correlation, err, sizeof(err)) != 0) {
		log_error("reload refused: %s: correlation: %s; the running "
		    "configuration is kept", path, err);
		reload_free(r, 0);
		return RELOAD_INVALID;
	}
	if ((nkeys = reload_restart_keys(cur, cfg, reload_key_log,
	    (void *)path)) > 0) {
		log_error("reload refused: %s: %zu key%s only a restart can "
		    "change; the running configuration is kept", path, nkeys,
		    nkeys == 1 ? "" : "s");
		reload_free(r, 0);
		return RELOAD_FAILED;
	}
	/* the devices this reload retires: not retired in the running fleet,
	 * absent from the file */
	reload_marks_of(cfg->fleet, &r->marks);
	r->counts.devices_retired = reload_retire(cfg->fleet, cur->fleet);
	r->retired_now = xcalloc(cfg->fleet->ndevices + 1, 1);
	for (size_t j = 0; j < cfg->fleet->ndevices; j++) {
		uint32_t i;

		if (!reload_retired(cfg->fleet, (uint32_t)j))
			continue;
		i = fleet_find(cur->fleet, FLEET_DEVICE,
		    cfg->fleet->devices[j].id);
		r->retired_now[j] = i != FLEET_NONE &&
		    !reload_retired(cur->fleet, i);
	}
	r->same = xcalloc(cur->fleet->ndevices + 1, 1);
	r->map = reload_device_map(cur->fleet, cur->mbmap, cfg->fleet,
	    cfg->mbmap, &r->counts, r->same);
	/* the engines intern their rule codes: before any thread sees it */
	r->rl.fleet = cfg->fleet;
	r->rl.cc = &cfg->correlation;
	r->rl.arg = r;
	for (unsigned i = 0; i < nshards && i < ROUTER_MAX_SHARDS; i++) {
		r->rl.engines[i] = corr_engine_new(cfg->fleet,
		    &cfg->correlation, i, &sinks[i]);
		r->rl.fallback[i] = corr_engine_new(cfg->fleet,
		    &cur->correlation, i, &sinks[i]);
		if (r->rl.engines[i] == NULL || r->rl.fallback[i] == NULL) {
			log_error("reload refused: %s: the correlator does not "
			    "take the new settings", path);
			reload_free(r, 0);
			return RELOAD_INVALID;
		}
	}
	r->prep_ms = (uint32_t)((clock_mono_us() - r->t0_us) / 1000);
	*out = r;
	return RELOAD_OK;
}

/* ---- the shard's part ---- */

/* One active alarm of a retired device on a live incident. */
struct ra_item {
	char		 id[CORR_ID_LEN];	/* its incident */
	uint32_t	 device;
	uint16_t	 code;
	uint8_t		 severity;
	uint8_t		 first;		/* first of its incident: note it */
	uint8_t		 removed;	/* 1 the device went, 0 the code */
};

struct ra_list {
	const struct reload *r;
	const struct fleet *f;
	struct ra_item	*v;
	size_t		 n, cap;
};

/* 1 if device d's profile (fleet f) raises code (COMM_LOSS: always). */
static int
ra_has_code(const struct fleet *f, uint32_t d, uint16_t code)
{
	const struct fleet_profile *p;

	if (code == FLEET_CODE_COMM_LOSS)
		return 1;
	if (f->devices[d].profile >= f->nprofiles)
		return 0;
	p = &f->profiles[f->devices[d].profile];
	for (size_t i = 0; i < p->nalarms; i++)
		if (p->alarms[i].code_id == code)
			return 1;
	return 0;
}

static void
ra_collect(void *arg, const struct corr_event *ev)
{
	struct ra_list *l = arg;
	const struct corr_incident *ci = ev->inc;
	int first = 1;

	if (ci->state == CORR_CLOSED || ci->kind != CORR_KIND_SITE)
		return;
	for (uint32_t i = 0; i < ci->nalarms; i++) {
		const struct corr_alarm *a = ci->alarms[i];
		struct ra_item *it;

		if (!a->active || a->device >= l->f->ndevices ||
		    (!l->r->retired_now[a->device] &&
		    ra_has_code(l->f, a->device, a->code)))
			continue;
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 16;
			l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
		}
		it = &l->v[l->n++];
		memcpy(it->id, ci->id, sizeof(it->id));
		it->device = a->device;
		it->code = a->code;
		it->severity = a->severity;
		it->first = (uint8_t)first;
		it->removed = l->r->retired_now[a->device];
		first = 0;
	}
}

/* One input to e as the shard would apply it: an action a, or an alarm
 * ev, between the journal's begin and end hooks. */
static void
ra_apply(const struct router_hooks *h, void *harg, unsigned shard,
    struct corr_engine *e, const struct corr_action *a,
    const struct alarm_event *ev)
{
	struct router_input in;

	memset(&in, 0, sizeof(in));
	in.kind = a != NULL ? ROUTER_IN_ACTION : ROUTER_IN_ALARM;
	in.act = a;
	in.ev = ev;
	in.kpart = -1;
	in.koffset = -1;
	if (h != NULL && h->begin != NULL)
		h->begin(harg, shard, e, &in);
	if (a != NULL)
		(void)corr_engine_action(e, a, NULL, 0);
	else
		(void)corr_engine_alarm(e, ev);
	if (h != NULL && h->end != NULL)
		h->end(harg, shard, e, &in);
}

size_t
reload_retired_alarms(struct corr_engine *e, const struct reload *r,
    const struct router_hooks *h, void *harg, unsigned shard)
{
	const struct fleet *f = r->cfg->fleet;
	struct ra_list l = { r, f, NULL, 0, 0 };
	int64_t now = corr_engine_now(e);

	corr_engine_dump(e, now, ra_collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct ra_item *it = &l.v[i];
		struct alarm_event ev;
		struct corr_action a;
		char note[CORR_SYSNOTE_MAX + 1];

		if (it->first) {
			if (it->removed)
				snprintf(note, sizeof(note), RELOAD_NOTE,
				    f->devices[it->device].id);
			else
				snprintf(note, sizeof(note), RELOAD_NOTE_CODE,
				    f->codes[it->code],
				    f->devices[it->device].id);
			memset(&a, 0, sizeof(a));
			a.incident = it->id;
			a.type = CORR_ACT_NOTE;
			a.actor = CORR_ACTOR_SYSTEM;
			a.note = note;
			a.at = now;
			ra_apply(h, harg, shard, e, &a, NULL);
		}
		memset(&ev, 0, sizeof(ev));
		ev.at_ms = now;
		ev.value = NAN;
		ev.device = it->device;
		ev.site = f->devices[it->device].site;
		ev.point = FLEET_NONE;
		ev.code = it->code;
		ev.edge = ALARM_CLEAR;
		ev.severity = it->severity;
		ra_apply(h, harg, shard, e, NULL, &ev);
	}
	xfree(l.v);
	return l.n;
}
