/*
 * fleet.c - see fleet.h.
 *
 * Id look-ups go through one open-addressing hash per kind (linear probing,
 * power-of-two size, load <= 1/2).  A slot is 32 bytes, two to a cache
 * line: the index, the upper 32 bits of the id's hash (a probe that meets
 * another id is rejected on it) and the id's first FLEET_KEYLEN bytes,
 * zero-padded.  An id shorter than that (every device, site and code id of
 * a real fleet) is compared in the slot as three words, so a look-up
 * touches one line of the table and neither the element nor its string.
 * The hash reads the same three words (a multiply per word, not one per
 * byte); a longer id's tail is hashed and compared through its element.
 *
 * Why a table of our own and not a library's map: the ids are short
 * strings, the tables are built once, and replay looks up a device, its
 * site and a code on every line.  With strings behind pointers (a slot an
 * index, a separate array of tags, the id in the element) a device
 * look-up was 3 to 4 dependent cache misses (slot, tag, element, string)
 * and ~150 instructions (byte-wise FNV-1a, strcmp()); with the id in the
 * slot it is one miss and ~105 (callgrind and perf on corrbench's day,
 * 100,000 devices; docs/replay.md, "Speed").  A general-purpose string
 * map (khash, glib's GHashTable) keeps the key behind a pointer and hashes
 * it a byte at a time: the old layout above (not itself measured), with
 * a dependency this one does not have.  The price is memory:
 * 64 bytes or more an id at load <= 1/2 (8 MiB for 100,000 devices,
 * was 2 MiB).
 */
#include <errno.h>
#include <string.h>

#include "correlator/fleet.h"
#include "daemon/mem.h"
#include "daemon/names.h"

#define FLEET_KEYLEN	24	/* id bytes kept in a slot */

struct fleet_slot {
	uint32_t	 v;		/* index + 1; 0 = empty */
	uint32_t	 tag;		/* upper 32 bits of the id's hash */
	uint64_t	 key[FLEET_KEYLEN / 8];	/* the id's first bytes, zero-
					 * padded (whole when shorter) */
};

_Static_assert(sizeof(struct fleet_slot) == 32, "two slots a cache line");

struct fleet_index {
	struct fleet_slot *slots;	/* mask + 1 of them, 32-byte aligned */
	size_t		 mask;		/* nslots - 1 */
	size_t		 used;
};

/* An id as a look-up needs it: its length, first words and hash. */
struct fleet_key {
	size_t		 n;		/* strlen(id) */
	uint64_t	 w[FLEET_KEYLEN / 8];	/* first bytes, zero-padded */
	uint64_t	 h;
};

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fleet_word() puts a string's first byte in a word's lowest"
#endif

/*
 * Bytes s[0..n) as a zero-padded little-endian word, n from 0 up (8 and
 * more: the first 8).  Overlapping loads of the same bytes, no library
 * call and no byte loop: memset() and memcpy() of a variable length were
 * 45 of a look-up's ~100 instructions.
 */
static inline uint64_t
fleet_word(const char *s, size_t n)
{
	uint32_t a, b;
	uint64_t w;

	if (n >= 8) {
		memcpy(&w, s, 8);
	} else if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		w = a | (uint64_t)b << (8 * (n - 4));	/* overlap: same bytes */
	} else if (n > 0) {
		w = (uint64_t)(unsigned char)s[0] |
		    (uint64_t)(unsigned char)s[n / 2] << (8 * (n / 2)) |
		    (uint64_t)(unsigned char)s[n - 1] << (8 * (n - 1));
	} else {
		w = 0;
	}
	return w;
}

/* The key of id, n bytes (no NUL needed). */
static inline void
fleet_key_n(struct fleet_key *k, const char *id, size_t n)
{
	uint64_t h;

	k->n = n;
	k->w[0] = fleet_word(id, n);
	k->w[1] = n > 8 ? fleet_word(id + 8, n - 8) : 0;
	k->w[2] = n > 16 ? fleet_word(id + 16, n - 16) : 0;
	h = n ^ (k->w[0] * 0x9e3779b97f4a7c15ULL) ^
	    (k->w[1] * 0xc2b2ae3d27d4eb4fULL) ^ (k->w[2] * 0x165667b19e3779f9ULL);
	for (size_t i = FLEET_KEYLEN; i < n; i++)	/* long ids only */
		h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
	/* splitmix64's finaliser: every bit of the words reaches the index
	 * (low bits) and the tag (high bits) */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	k->h = h ^ (h >> 31);
}

static void
fleet_key(struct fleet_key *k, const char *id)
{
	fleet_key_n(k, id, strlen(id));
}

typedef const char *(*fleet_idfn)(const struct fleet *, uint32_t);

static const char *
fleet_site_id(const struct fleet *f, uint32_t i) { return f->sites[i].id; }
static const char *
fleet_device_id(const struct fleet *f, uint32_t i) { return f->devices[i].id; }
static const char *
fleet_profile_id(const struct fleet *f, uint32_t i) { return f->profiles[i].id; }
static const char *
fleet_area_id(const struct fleet *f, uint32_t i) { return f->areas[i]; }
static const char *
fleet_code_name(const struct fleet *f, uint32_t i) { return f->codes[i]; }

static const fleet_idfn fleet_idof[FLEET__KINDS] = {
	[FLEET_SITE] = fleet_site_id,
	[FLEET_DEVICE] = fleet_device_id,
	[FLEET_PROFILE] = fleet_profile_id,
	[FLEET_AREA] = fleet_area_id,
	[FLEET_CODE] = fleet_code_name,
};

/* Zeroed slots on cache-line boundaries: a slot never straddles two. */
static struct fleet_slot *
fleet_slots_new(size_t n)
{
	return mem_calloc_lines(n, sizeof(struct fleet_slot));
}

static struct fleet_index *
fleet_index_new(void)
{
	struct fleet_index *ix = xcalloc(1, sizeof(*ix));

	ix->mask = 15;
	ix->slots = fleet_slots_new(ix->mask + 1);
	return ix;
}

static void
fleet_index_free(struct fleet_index *ix)
{
	if (ix == NULL)
		return;
	xfree(ix->slots);
	xfree(ix);
}

/*
 * The empty slot id goes to, or the slot holding it already (its v not 0):
 * one probe for a look-up and the insert after it.
 */
static size_t
fleet_index_probe(const struct fleet *f, const struct fleet_index *ix,
    fleet_idfn idof, const struct fleet_key *k, const char *id)
{
	uint32_t tag = (uint32_t)(k->h >> 32);
	size_t i;

	for (i = k->h & ix->mask; ix->slots[i].v != 0; i = (i + 1) & ix->mask) {
		const struct fleet_slot *sl = &ix->slots[i];
		const char *sid;

		if (sl->tag != tag || sl->key[0] != k->w[0] ||
		    sl->key[1] != k->w[1] || sl->key[2] != k->w[2])
			continue;
		if (k->n < FLEET_KEYLEN)
			break;
		/* the rest; id need not be NUL-terminated: strncmp stops at
		 * the stored id's end, which then must be id's */
		sid = idof(f, sl->v - 1);
		if (strncmp(sid + FLEET_KEYLEN, id + FLEET_KEYLEN,
		    k->n - FLEET_KEYLEN) == 0 && sid[k->n] == '\0')
			break;
	}
	return i;
}

static uint32_t
fleet_index_find(const struct fleet *f, const struct fleet_index *ix,
    fleet_idfn idof, const char *id)
{
	struct fleet_key k;
	size_t i;

	fleet_key(&k, id);
	i = fleet_index_probe(f, ix, idof, &k, id);
	return ix->slots[i].v != 0 ? ix->slots[i].v - 1 : FLEET_NONE;
}

/* The slot of element v's id in ix (where it is or would go). */
static size_t
fleet_slot_of(const struct fleet *f, const struct fleet_index *ix,
    fleet_idfn idof, uint32_t v)
{
	const char *id = idof(f, v);
	struct fleet_key k;

	fleet_key(&k, id);
	return fleet_index_probe(f, ix, idof, &k, id);
}

/* Rebuilds ix with room for used + more ids at load <= 1/2. */
static void
fleet_index_grow(const struct fleet *f, struct fleet_index *ix,
    fleet_idfn idof, size_t more)
{
	struct fleet_index big;
	size_t want = (ix->used + more) * 2;

	big.mask = ix->mask;
	while (big.mask + 1 < want)
		big.mask = big.mask * 2 + 1;
	if (big.mask == ix->mask)
		return;
	big.used = 0;
	big.slots = fleet_slots_new(big.mask + 1);
	for (size_t j = 0; j <= ix->mask; j++) {
		const struct fleet_slot *sl = &ix->slots[j];
		size_t i;

		if (sl->v == 0)
			continue;
		/* the slot's tag is the hash's upper half: not the index, so
		 * the id is hashed again */
		i = fleet_slot_of(f, &big, idof, sl->v - 1);
		big.slots[i] = *sl;
		big.used++;
	}
	xfree(ix->slots);
	*ix = big;
}

/* Element size and array of each kind, for the code shared by all five. */
static void **
fleet_array(struct fleet *f, enum fleet_kind kind, size_t **n, size_t *size)
{
	switch (kind) {
	case FLEET_SITE:
		*n = &f->nsites, *size = sizeof(*f->sites);
		return (void **)&f->sites;
	case FLEET_DEVICE:
		*n = &f->ndevices, *size = sizeof(*f->devices);
		return (void **)&f->devices;
	case FLEET_PROFILE:
		*n = &f->nprofiles, *size = sizeof(*f->profiles);
		return (void **)&f->profiles;
	case FLEET_AREA:
		*n = &f->nareas, *size = sizeof(*f->areas);
		return (void **)&f->areas;
	case FLEET_CODE:
	case FLEET__KINDS:
		break;
	}
	*n = &f->ncodes, *size = sizeof(*f->codes);
	return (void **)&f->codes;
}

void
fleet_reserve(struct fleet *f, enum fleet_kind kind, size_t more)
{
	size_t *n, size, want;
	void **arr = fleet_array(f, kind, &n, &size);

	if (more > UINT32_MAX - *n)
		return;			/* fleet_add() refuses them anyway */
	want = *n + more;
	if (want > f->cap[kind]) {
		*arr = xreallocarray(*arr, want, size);
		f->cap[kind] = want;
	}
	fleet_index_grow(f, f->ix[kind], fleet_idof[kind], more);
}

struct fleet *
fleet_new(void)
{
	struct fleet *f = xcalloc(1, sizeof(*f));

	for (int k = 0; k < FLEET__KINDS; k++)
		f->ix[k] = fleet_index_new();
	fleet_code(f, "COMM_LOSS");
	return f;
}

void
fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nsites; i++) {
		struct fleet_site *s = &f->sites[i];
		for (size_t j = 0; j < s->ntenants; j++)
			xfree(s->tenants[j].customer);
		xfree(s->tenants);
		xfree(s->id);
		xfree(s->name);
		xfree(s->station);
		xfree(s->branch);
	}
	for (size_t i = 0; i < f->ndevices; i++) {
		xfree(f->devices[i].id);
		xfree(f->devices[i].host);
	}
	for (size_t i = 0; i < f->nprofiles; i++) {
		struct fleet_profile *p = &f->profiles[i];
		for (size_t j = 0; j < p->npoints; j++) {
			xfree(p->points[j].name);
			xfree(p->points[j].unit);
		}
		for (size_t j = 0; j < p->nalarms; j++)
			xfree(p->alarms[j].code);
		xfree(p->points);
		xfree(p->alarms);
		xfree(p->id);
		xfree(p->description);
	}
	for (size_t i = 0; i < f->nareas; i++)
		xfree(f->areas[i]);
	for (size_t i = 0; i < f->ncodes; i++)
		xfree(f->codes[i]);
	xfree(f->codes);
	xfree(f->sites);
	xfree(f->devices);
	xfree(f->profiles);
	xfree(f->areas);
	for (int k = 0; k < FLEET__KINDS; k++)
		fleet_index_free(f->ix[k]);
	xfree(f);
}

/* Makes room for one more element of a kind (amortised O(1) append). */
static void
fleet_grow(struct fleet *f, enum fleet_kind kind)
{
	size_t *n, size;
	void **arr = fleet_array(f, kind, &n, &size);

	if (*n < f->cap[kind])
		return;
	f->cap[kind] = f->cap[kind] < 8 ? 8 : f->cap[kind] * 2;
	*arr = xreallocarray(*arr, f->cap[kind], size);
}

/*
 * Appends id as the last element of its kind: one hash of the id and one
 * probe, for the duplicate check and the insert both.  Each element's first
 * member is its id, a char * (sites, devices and profiles begin with one;
 * areas and codes are one), so this is the one append for all five kinds.
 */
uint32_t
fleet_add(struct fleet *f, enum fleet_kind kind, const char *id)
{
	struct fleet_index *ix = f->ix[kind];
	struct fleet_slot *sl;
	struct fleet_key k;
	size_t *n, size, i;
	void **arr;
	char *elem;
	uint32_t v;

	if (kind == FLEET_CODE && f->ncodes >= UINT16_MAX)
		return FLEET_NONE;	/* the loader rejects this many */
	if ((ix->used + 1) * 2 > ix->mask + 1)
		fleet_index_grow(f, ix, fleet_idof[kind], 1);
	fleet_key(&k, id);
	i = fleet_index_probe(f, ix, fleet_idof[kind], &k, id);
	if (ix->slots[i].v != 0)
		return FLEET_NONE;	/* a duplicate */
	fleet_grow(f, kind);
	arr = fleet_array(f, kind, &n, &size);
	v = (uint32_t)(*n)++;
	elem = (char *)*arr + (size_t)v * size;
	memset(elem, 0, size);
	*(char **)elem = xstrdup(id);
	sl = &ix->slots[i];
	sl->v = v + 1;
	sl->tag = (uint32_t)(k.h >> 32);
	memcpy(sl->key, k.w, sizeof(k.w));
	ix->used++;
	if (kind == FLEET_DEVICE) {
		struct fleet_device *d = &f->devices[v];

		d->site = d->profile = d->via = FLEET_NONE;
		d->unit = -1;
	}
	return v;
}

uint32_t
fleet_area(struct fleet *f, const char *name)
{
	uint32_t v = fleet_find(f, FLEET_AREA, name);

	return v != FLEET_NONE ? v : fleet_add(f, FLEET_AREA, name);
}

uint16_t
fleet_code(struct fleet *f, const char *code)
{
	uint32_t v = fleet_find(f, FLEET_CODE, code);

	if (v == FLEET_NONE)
		v = fleet_add(f, FLEET_CODE, code);
	return v == FLEET_NONE ? UINT16_MAX : (uint16_t)v;
}

int
fleet_find_code(const struct fleet *f, const char *code)
{
	uint32_t v = fleet_find(f, FLEET_CODE, code);

	return v == FLEET_NONE ? -ENOENT : (int)v;
}

int
fleet_code_check(const char *code)
{
	size_t n = 0;

	/* Explicit ranges, not isupper(): a locale must not widen the set. */
	for (; code[n] != '\0'; n++)
		if (n >= FLEET_CODE_MAX || !((code[n] >= 'A' && code[n] <= 'Z') ||
		    (code[n] >= '0' && code[n] <= '9') || code[n] == '_'))
			return -EINVAL;
	return n > 0 ? 0 : -EINVAL;
}

uint32_t
fleet_find(const struct fleet *f, enum fleet_kind kind, const char *id)
{
	return fleet_index_find(f, f->ix[kind], fleet_idof[kind], id);
}

/*
 * Looks ahead FLEET_FIND_AHEAD names: each look-up is a miss in an index
 * of a large fleet's 100,000 ids (a few MiB), so their loads are started
 * that many look-ups early and overlap.  A snapshot's name table of
 * 60,000 ids took 12% of its load one by one (perf, docs/benchmarks.md).
 */
#define FLEET_FIND_AHEAD	16

void
fleet_find_many(const struct fleet *f, const uint8_t *kinds,
    const char *const *ids, const uint32_t *lens, size_t n, uint32_t *out)
{
	struct fleet_key ring[FLEET_FIND_AHEAD];

	for (size_t i = 0; i < n + FLEET_FIND_AHEAD; i++) {
		if (i >= FLEET_FIND_AHEAD) {
			size_t j = i - FLEET_FIND_AHEAD;
			const struct fleet_index *ix = f->ix[kinds[j]];
			size_t at = fleet_index_probe(f, ix, fleet_idof[kinds[j]],
			    &ring[j % FLEET_FIND_AHEAD], ids[j]);

			out[j] = ix->slots[at].v != 0 ? ix->slots[at].v - 1 :
			    FLEET_NONE;
		}
		if (i < n) {
			struct fleet_key *k = &ring[i % FLEET_FIND_AHEAD];
			const struct fleet_index *ix = f->ix[kinds[i]];

			fleet_key_n(k, ids[i], lens[i]);
			__builtin_prefetch(&ix->slots[k->h & ix->mask]);
		}
	}
}

uint32_t
fleet_find_point(const struct fleet_profile *p, const char *name)
{
	for (size_t i = 0; i < p->npoints; i++)
		if (strcmp(p->points[i].name, name) == 0)
			return (uint32_t)i;
	return FLEET_NONE;
}

enum tier
fleet_effective_tier(const struct fleet_tenant *t, size_t n)
{
	enum tier best = TIER_STANDARD;

	for (size_t i = 0; i < n; i++)
		if (t[i].tier > best)
			best = (enum tier)t[i].tier;
	return best;
}

void
fleet_site_add_tenant(struct fleet_site *s, const char *customer, enum tier tier)
{
	s->tenants = xreallocarray(s->tenants, s->ntenants + 1u,
	    sizeof(*s->tenants));
	s->tenants[s->ntenants].customer = xstrdup(customer);
	s->tenants[s->ntenants].tier = (uint8_t)tier;
	s->ntenants++;
	s->tier = (uint8_t)fleet_effective_tier(s->tenants, s->ntenants);
}

static const char *const tier_names[TIER__COUNT] = { "standard", "premium" };
static const char *const severity_names[SEV__COUNT] =
    { "warning", "minor", "major", "critical" };
static const char *const region_names[REGION__COUNT] = { "A", "B", "C" };
static const char *const alarm_cond_names[AC__COUNT] =
    { "above", "below", "equals", "bit_set" };
static const char *const fleet_quality_names[FLEET_Q__COUNT] =
    { "good", "bad_nan", "bad_inf", "bad_range" };

NAMES_FNS(fleet_tier_name, fleet_tier_parse, enum tier, tier_names,
    TIER__COUNT)
NAMES_FNS(fleet_severity_name, fleet_severity_parse, enum severity,
    severity_names, SEV__COUNT)
NAMES_FNS(fleet_region_name, fleet_region_parse, enum region, region_names,
    REGION__COUNT)
NAMES_FNS(fleet_alarm_cond_name, fleet_alarm_cond_parse, enum alarm_cond,
    alarm_cond_names, AC__COUNT)
NAMES_GET_FN(fleet_quality_name, enum fleet_quality, fleet_quality_names,
    FLEET_Q__COUNT)

unsigned
fleet_area_shard(const char *area, unsigned n)
{
	return fleet_area_shard_n(area, strlen(area), n);
}

unsigned
fleet_area_shard_n(const void *name, size_t len, unsigned n)
{
	const unsigned char *p = name;
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (unsigned)(h % (n ? n : 1));
}
