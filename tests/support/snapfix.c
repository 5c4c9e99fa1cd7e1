/*
 * snapfix.c - see snapfix.h.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/mem.h"
#include "tests/support/snapfix.h"

static const char *const snapfix_codes[] = { "MAINS_FAIL", "BATT_LOW",
    "HIGH_TEMP", "RECT_FAIL", "COMM_LOSS", "DOOR_OPEN" };
static const char *const snapfix_areas[] = { "north", "south", "east" };

static void
snapfix_site(struct fleet *f, int i, unsigned flags)
{
	static const char *const kinds[] = { "pwr", "fsu", "rru" };
	char id[16];
	uint32_t s, d[3];

	snprintf(id, sizeof(id), "S%02d", i);
	s = fleet_add(f, FLEET_SITE, id);
	f->sites[s].area = fleet_area(f, snapfix_areas[i % 3]);
	f->sites[s].region = (uint8_t)(i % 3);
	f->sites[s].station = xstrdup("Station");
	f->sites[s].branch = xstrdup("Branch");
	fleet_site_add_tenant(&f->sites[s], "cmcc", TIER_STANDARD);
	if (i % 4 == 0)
		fleet_site_add_tenant(&f->sites[s], "ctcc", TIER_PREMIUM);
	for (int k = 0; k < 3; k++) {
		int kk = flags & SNAPFIX_REVERSED ? 2 - k : k;

		snprintf(id, sizeof(id), "S%02d-%s", i, kinds[kk]);
		d[kk] = fleet_add(f, FLEET_DEVICE, id);
		f->devices[d[kk]].site = s;
	}
	f->devices[d[2]].via = d[1];
}

struct fleet *
snapfix_fleet(unsigned flags)
{
	struct fleet *f = fleet_new();
	int rev = flags & SNAPFIX_REVERSED;

	for (int i = 0; i < 3; i++)
		fleet_area(f, snapfix_areas[rev ? 2 - i : i]);
	for (int i = 0; i < 6; i++)
		fleet_code(f, snapfix_codes[rev ? 5 - i : i]);
	for (int i = 0; i < SNAPFIX_NSITES; i++) {
		int s = rev ? SNAPFIX_NSITES - 1 - i : i;

		if (s != 5 || !(flags & SNAPFIX_NO_S05))
			snapfix_site(f, s, flags);
	}
	return f;
}

void
snapfix_config(struct corr_config *cc, struct sla_config *sc)
{
	sla_config_defaults(sc);
	corr_config_defaults(cc);
	cc->sla = sc;
}

int
snapfix_apply(struct corr_engine *e, struct fleet *f,
    const struct snapfix_op *op)
{
	char id[CORR_ID_LEN];

	switch (op->kind) {
	case SNAPFIX_ALARM: {
		struct alarm_event ev;
		uint32_t d = fleet_find(f, FLEET_DEVICE, op->dev);

		if (d == FLEET_NONE)
			return 1;
		memset(&ev, 0, sizeof(ev));
		ev.at_ms = op->at;
		ev.device = d;
		ev.site = f->devices[d].site;
		ev.code = fleet_code(f, op->code);
		ev.edge = op->edge;
		ev.severity = op->sev;
		return corr_engine_alarm(e, &ev);
	}
	case SNAPFIX_ACTION: {
		struct corr_action a;

		corr_id_format(id, sizeof(id), "INC-", 0, op->num);
		memset(&a, 0, sizeof(a));
		a.incident = id;
		a.type = op->act;
		a.actor = op->actor;
		a.note = op->note;
		a.at = op->at;
		return corr_engine_action(e, &a, NULL, 0);
	}
	case SNAPFIX_MAINT_ADD: {
		struct corr_maint m;

		memset(&m, 0, sizeof(m));
		m.site = FLEET_NONE;
		m.area = FLEET_NONE;
		if (op->msite[0] != '\0' && (m.site = fleet_find(f, FLEET_SITE,
		    op->msite)) == FLEET_NONE)
			return 1;
		if (op->msite[0] == '\0' && (m.area = fleet_find(f, FLEET_AREA,
		    op->marea)) == FLEET_NONE)
			return 1;
		m.start_ms = op->at;
		m.end_ms = op->end;
		m.reason = "planned works";
		return corr_engine_maint_put(e, op->maint, &m);
	}
	case SNAPFIX_MAINT_DEL:
		return corr_engine_maint_remove(e, op->maint);
	case SNAPFIX_COMPLAINT: {
		struct corr_complaint c;

		memset(&c, 0, sizeof(c));
		if ((c.site = fleet_find(f, FLEET_SITE, op->msite)) == FLEET_NONE)
			return 1;
		c.customer = op->cust;
		c.text = op->note;
		c.actor = op->actor;
		c.severity = op->sev;
		c.at = op->at;
		return corr_engine_complaint(e, &c, NULL, 0, NULL, 0);
	}
	default:
		corr_engine_advance(e, op->at);
		return 0;
	}
}

static void
snapfix_id(void *arg, const struct corr_event *ev)
{
	char ***ids = arg;
	size_t n = 0;

	while ((*ids)[n] != NULL)
		n++;
	*ids = xreallocarray(*ids, n + 2, sizeof(**ids));
	(*ids)[n] = xstrdup(ev->inc->id);
	(*ids)[n + 1] = NULL;
}

int
snapfix_parts_of(const struct corr_engine *e, struct snapfix_parts *pt)
{
	char **ids = xcalloc(1, sizeof(*ids));
	size_t n = 0;
	int rc = 0;

	memset(pt, 0, sizeof(*pt));
	(void)corr_engine_save_head(e, &pt->head, &pt->nhead);
	corr_engine_dump(e, corr_engine_now(e), snapfix_id, &ids);
	while (ids[n] != NULL)
		n++;
	pt->inc = xcalloc(n ? n : 1, sizeof(*pt->inc));
	for (size_t i = 0; i < n; i++) {
		const char *id = ids[n - 1 - i];
		char *p = NULL;
		size_t len = 0;

		if (corr_engine_save_incident(e, id, &p, &len) != 0)
			rc = -1;
		pt->inc[pt->n].p = p;
		pt->inc[pt->n++].n = len;
		xfree(ids[n - 1 - i]);
	}
	xfree(ids);
	return rc;
}

int
snapfix_parts_load(struct corr_engine *c, const struct snapfix_parts *pt,
    char *err, size_t errlen)
{
	struct corr_part head = { pt->head, pt->nhead };

	return corr_engine_load_parts(c, &head, pt->inc, pt->n, err, errlen);
}

const char *
snapfix_bytes_differ(const char *what, const char *p, size_t n, const char *q,
    size_t m, char *why, size_t len)
{
	size_t k = 0;

	while (k < n && k < m && p[k] == q[k])
		k++;
	if (n == m && k == n)
		return NULL;
	snprintf(why, len, "%s differs at byte %zu (%zu vs %zu bytes)", what,
	    k, n, m);
	return why;
}

const char *
snapfix_parts_differ(const struct snapfix_parts *x,
    const struct snapfix_parts *y, char *why, size_t len)
{
	char what[48];

	if (snapfix_bytes_differ("the head", x->head, x->nhead, y->head, y->nhead,
	    why, len) != NULL)
		return why;
	if (x->n != y->n) {
		snprintf(why, len, "%zu incident records vs %zu", x->n, y->n);
		return why;
	}
	for (size_t i = 0; i < x->n; i++) {
		snprintf(what, sizeof(what), "incident record %zu", i);
		if (snapfix_bytes_differ(what, x->inc[i].p, x->inc[i].n, y->inc[i].p,
		    y->inc[i].n, why, len) != NULL)
			return why;
	}
	return NULL;
}

void
snapfix_parts_free(struct snapfix_parts *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		xfree((void *)pt->inc[i].p);
	xfree(pt->inc);
	xfree(pt->head);
	memset(pt, 0, sizeof(*pt));
}
