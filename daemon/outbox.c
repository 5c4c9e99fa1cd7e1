/*
 * outbox.c - see outbox.h.
 *
 * Keys.  A profile's keys are COMM_LOSS (slot 0) and its distinct alarm
 * codes in rule order; a device's keys start at base[device], so a key is
 * found by a scan of its profile's few codes.  Each key is 40 bytes: the
 * newest transition (the alarm_event itself, so a resend is the record the
 * rules made), the FIFO link, the state last queued and a dirty bit.
 *
 * Held keys of a shard form a singly linked FIFO through the keys
 * themselves (head, tail, count per shard): holding, folding and sending
 * allocate nothing.
 */
#include <errno.h>
#include <string.h>

#include "daemon/mem.h"
#include "daemon/outbox.h"

#define OB_NIL		UINT32_MAX	/* end of a FIFO */
#define OB_NEVER	0xff		/* sent: nothing queued yet */

struct ob_key {
	struct alarm_event ev;		/* newest transition */
	uint32_t	 next;		/* FIFO link while dirty */
	uint8_t		 sent;		/* edge last queued, or OB_NEVER */
	uint8_t		 sent_sev;	/* its severity */
	uint8_t		 dirty;		/* on its shard's FIFO */
};

struct ob_fifo {
	uint32_t	 head, tail;	/* key indexes, OB_NIL when empty */
	size_t		 n;
};

struct ob_profile {
	uint16_t	*codes;		/* [0] = COMM_LOSS, then distinct codes */
	uint32_t	 ncodes;
};

struct outbox {
	const struct fleet *fleet;
	struct router	*router;
	unsigned	 producer;
	unsigned	 nshards;
	struct ob_profile *profiles;	/* fleet->nprofiles */
	uint32_t	*base;		/* fleet->ndevices: first key */
	struct ob_key	*keys;
	size_t		 nkeys;
	struct ob_fifo	*fifo;		/* nshards */
	struct outbox_stats st;
};

static void
ob_profile_init(struct ob_profile *op, const struct fleet_profile *p)
{
	op->codes = xcalloc(p->nalarms + 1, sizeof(*op->codes));
	op->codes[op->ncodes++] = FLEET_CODE_COMM_LOSS;
	for (size_t i = 0; i < p->nalarms; i++) {
		uint16_t c = p->alarms[i].code_id;
		uint32_t j = 0;

		while (j < op->ncodes && op->codes[j] != c)
			j++;
		if (j == op->ncodes)
			op->codes[op->ncodes++] = c;
	}
}

struct outbox *
outbox_new(const struct fleet *f, struct router *r, unsigned producer)
{
	struct outbox *o = xcalloc(1, sizeof(*o));

	o->fleet = f;
	o->router = r;
	o->producer = producer;
	o->nshards = router_nshards(r);
	o->profiles = xcalloc(f->nprofiles ? f->nprofiles : 1,
	    sizeof(*o->profiles));
	for (size_t i = 0; i < f->nprofiles; i++)
		ob_profile_init(&o->profiles[i], &f->profiles[i]);
	o->base = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*o->base));
	for (size_t d = 0; d < f->ndevices; d++) {
		uint32_t p = f->devices[d].profile;

		o->base[d] = (uint32_t)o->nkeys;
		o->nkeys += p < f->nprofiles ? o->profiles[p].ncodes : 1;
	}
	o->keys = xcalloc(o->nkeys ? o->nkeys : 1, sizeof(*o->keys));
	for (size_t k = 0; k < o->nkeys; k++) {
		o->keys[k].sent = OB_NEVER;
		o->keys[k].next = OB_NIL;
	}
	o->fifo = xcalloc(o->nshards, sizeof(*o->fifo));
	for (unsigned s = 0; s < o->nshards; s++)
		o->fifo[s].head = o->fifo[s].tail = OB_NIL;
	o->st.keys = o->nkeys;
	o->st.bytes = o->nkeys * sizeof(*o->keys) +
	    f->ndevices * sizeof(*o->base) +
	    o->nshards * sizeof(*o->fifo);
	return o;
}

void
outbox_free(struct outbox *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->fleet->nprofiles; i++)
		xfree(o->profiles[i].codes);
	xfree(o->profiles);
	xfree(o->base);
	xfree(o->keys);
	xfree(o->fifo);
	xfree(o);
}

/* The key of (device, code), or OB_NIL. */
static uint32_t
ob_key_of(const struct outbox *o, uint32_t device, uint16_t code)
{
	const struct fleet *f = o->fleet;
	const struct ob_profile *op;
	uint32_t p;

	if (device >= f->ndevices)
		return OB_NIL;
	p = f->devices[device].profile;
	if (p >= f->nprofiles)
		return code == FLEET_CODE_COMM_LOSS ? o->base[device] : OB_NIL;
	op = &o->profiles[p];
	for (uint32_t j = 0; j < op->ncodes; j++)
		if (op->codes[j] == code)
			return o->base[device] + j;
	return OB_NIL;
}

static void
ob_hold(struct outbox *o, uint32_t k, unsigned shard)
{
	struct ob_fifo *q = &o->fifo[shard];
	struct ob_key *key = &o->keys[k];

	if (q->n == 0)
		o->st.stalls++;
	key->dirty = 1;
	key->next = OB_NIL;
	if (q->tail == OB_NIL)
		q->head = k;
	else
		o->keys[q->tail].next = k;
	q->tail = k;
	q->n++;
	if (++o->st.pending > o->st.pending_max)
		o->st.pending_max = o->st.pending;
}

int
outbox_put(struct outbox *o, const struct alarm_event *ev)
{
	uint32_t k = ob_key_of(o, ev->device, ev->code);
	struct ob_key *key;
	unsigned shard;
	int rc;

	if (k == OB_NIL || ev->site >= o->fleet->nsites) {
		o->st.unknown++;
		return -EINVAL;
	}
	key = &o->keys[k];
	if (key->dirty) {
		key->ev = *ev;		/* the held one never went out */
		o->st.folded++;
		return 1;
	}
	shard = router_shard_of(o->router, ev->site);
	if (o->fifo[shard].n == 0) {
		rc = router_push(o->router, o->producer, ev);
		if (rc == 0) {
			key->sent = ev->edge;
			key->sent_sev = ev->severity;
			o->st.queued++;
			return 0;
		}
		if (rc != -EAGAIN) {
			o->st.unknown++;
			return rc;
		}
	}
	key->ev = *ev;
	ob_hold(o, k, shard);
	o->st.held++;
	return 1;
}

struct outbox *
outbox_remap(const struct outbox *old, const struct fleet *f,
    const uint32_t *map)
{
	const struct fleet *of = old->fleet;
	struct outbox *o = outbox_new(f, old->router, old->producer);
	struct outbox_stats st = old->st;

	/* each kept key: what its shard has; a new key starts at NEVER */
	for (size_t d = 0; d < of->ndevices; d++) {
		uint32_t nd = map[d], p = of->devices[d].profile;
		uint32_t n = p < of->nprofiles ? old->profiles[p].ncodes : 1;

		if (nd >= f->ndevices)
			continue;
		for (uint32_t j = 0; j < n; j++) {
			const struct ob_key *ok = &old->keys[old->base[d] + j];
			uint16_t oc = p < of->nprofiles ?
			    old->profiles[p].codes[j] : FLEET_CODE_COMM_LOSS;
			int c = fleet_find_code(f, of->codes[oc]);
			uint32_t k;

			if (c < 0 || (k = ob_key_of(o, nd, (uint16_t)c)) ==
			    OB_NIL)
				continue;
			o->keys[k].sent = ok->sent;
			o->keys[k].sent_sev = ok->sent_sev;
		}
	}
	/* held keys, in their order, re-held under the new indexes; those of
	 * a removed device or code go (its shard keeps its last state) */
	st.pending = 0;
	for (unsigned s = 0; s < old->nshards; s++)
		for (uint32_t k = old->fifo[s].head; k != OB_NIL;
		    k = old->keys[k].next) {
			struct alarm_event ev = old->keys[k].ev;
			int c = fleet_find_code(f, of->codes[ev.code]);
			uint32_t nk;

			if (ev.device >= of->ndevices ||
			    map[ev.device] >= f->ndevices || c < 0 ||
			    (nk = ob_key_of(o, map[ev.device], (uint16_t)c)) ==
			    OB_NIL || o->keys[nk].dirty)
				continue;
			ev.device = map[ev.device];
			ev.code = (uint16_t)c;
			ev.site = f->devices[ev.device].site;
			o->keys[nk].ev = ev;
			ob_hold(o, nk, router_shard_of(o->router, ev.site));
		}
	/* counters go on; pending and the sizes are the new outbox's */
	st.pending = o->st.pending;
	st.pending_max = o->st.pending_max > old->st.pending_max ?
	    o->st.pending_max : old->st.pending_max;
	st.stalls = old->st.stalls;
	st.keys = o->st.keys;
	st.bytes = o->st.bytes;
	o->st = st;
	return o;
}

size_t
outbox_flush(struct outbox *o)
{
	for (unsigned s = 0; s < o->nshards && o->st.pending > 0; s++) {
		struct ob_fifo *q = &o->fifo[s];

		while (q->head != OB_NIL) {
			struct ob_key *key = &o->keys[q->head];

			if ((key->ev.edge == key->sent &&
			    key->ev.severity == key->sent_sev) ||
			    (key->sent == OB_NEVER &&
			    key->ev.edge == ALARM_CLEAR)) {
				o->st.folded++;	/* ended where it began */
			} else if (router_push(o->router, o->producer,
			    &key->ev) == 0) {
				key->sent = key->ev.edge;
				key->sent_sev = key->ev.severity;
				o->st.resent++;
			} else {
				break;	/* full again: the router will call */
			}
			key->dirty = 0;
			q->head = key->next;
			key->next = OB_NIL;
			if (q->head == OB_NIL)
				q->tail = OB_NIL;
			q->n--;
			o->st.pending--;
		}
	}
	return o->st.pending;
}

size_t
outbox_pending(const struct outbox *o, unsigned shard)
{
	return shard < o->nshards ? o->fifo[shard].n : 0;
}

int
outbox_sent(const struct outbox *o, uint32_t device, uint16_t code)
{
	uint32_t k = ob_key_of(o, device, code);

	if (k == OB_NIL || o->keys[k].sent == OB_NEVER)
		return -1;
	return o->keys[k].sent == ALARM_RAISE;
}

void
outbox_stats(const struct outbox *o, struct outbox_stats *out)
{
	*out = o->st;
}
