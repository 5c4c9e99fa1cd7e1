/*
 * mbmap.c - see mbmap.h.
 */
#include <math.h>
#include <string.h>

#include "daemon/mem.h"
#include "daemon/names.h"
#include "drivers/modbus/mbmap.h"

static const char *const table_names[MBMAP__TABLES] =
    { "coil", "discrete", "input", "holding" };
static const char *const type_names[MBMAP__TYPES] = { "bool", "int16",
    "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64" };
static const char *const order_names[MBMAP__ORDERS] =
    { "ABCD", "CDAB", "BADC", "DCBA" };

NAMES_FNS(mbmap_table_name, mbmap_table_parse, enum mbmap_table, table_names,
    MBMAP__TABLES)
NAMES_FNS(mbmap_type_name, mbmap_type_parse, enum mbmap_type, type_names,
    MBMAP__TYPES)
NAMES_FNS(mbmap_order_name, mbmap_order_parse, enum mbmap_order, order_names,
    MBMAP__ORDERS)

struct mbmap *
mbmap_new(void)
{
	return xcalloc(1, sizeof(struct mbmap));
}

void
mbmap_free(struct mbmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nprofiles; i++) {
		struct mbmap_profile *p = &m->profiles[i];

		xfree(p->points);
		for (size_t c = 0; c < p->ncommands; c++) {
			xfree(p->commands[c].name);
			xfree(p->commands[c].values);
		}
		xfree(p->commands);
	}
	xfree(m->profiles);
	xfree(m);
}

struct mbmap_profile *
mbmap_profile(struct mbmap *m, uint32_t i)
{
	if (i >= m->nprofiles) {
		m->profiles = xreallocarray(m->profiles, (size_t)i + 1,
		    sizeof(*m->profiles));
		memset(m->profiles + m->nprofiles, 0,
		    ((size_t)i + 1 - m->nprofiles) * sizeof(*m->profiles));
		m->nprofiles = (size_t)i + 1;
	}
	return &m->profiles[i];
}

void
mbmap_point_init(struct mbmap_point *p)
{
	memset(p, 0, sizeof(*p));
	p->scale = 1;
	p->min = -INFINITY;
	p->max = INFINITY;
	p->table = MBMAP_HOLDING;
	p->type = MBMAP_UINT16;
	p->order = MBMAP_ABCD;
	p->bit = -1;
}

struct mbmap_point *
mbmap_add_point(struct mbmap_profile *p)
{
	p->points = xreallocarray(p->points, p->npoints + 1,
	    sizeof(*p->points));
	mbmap_point_init(&p->points[p->npoints]);
	return &p->points[p->npoints++];
}

struct mbmap_command *
mbmap_add_command(struct mbmap_profile *p, const char *name,
    const uint16_t *values, uint16_t count)
{
	struct mbmap_command *c;

	p->commands = xreallocarray(p->commands, p->ncommands + 1,
	    sizeof(*p->commands));
	c = &p->commands[p->ncommands++];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	c->count = count;
	c->values = xcalloc(count ? count : 1, sizeof(*c->values));
	if (count > 0)
		memcpy(c->values, values, count * sizeof(*values));
	c->rb_table = MBMAP_RB_NONE;
	return c;
}

int
mbmap_find_command(const struct mbmap_profile *p, const char *name)
{
	for (size_t i = 0; i < p->ncommands; i++)
		if (strcmp(p->commands[i].name, name) == 0)
			return (int)i;
	return -1;
}

size_t
mbmap_ncommands(const struct mbmap *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nprofiles; i++)
		n += m->profiles[i].ncommands;
	return n;
}

unsigned
mbmap_point_width(const struct mbmap_point *p)
{
	switch (p->type) {
	case MBMAP_INT32: case MBMAP_UINT32: case MBMAP_FLOAT32: return 2;
	case MBMAP_INT64: case MBMAP_UINT64: case MBMAP_FLOAT64: return 4;
	default: return 1;
	}
}
