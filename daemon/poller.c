/*
 * poller.c - see poller.h.
 *
 * Layout: one struct poller owns the Modbus client, one almrule (the rule
 * engine of this thread) and an array of almrule device states indexed by
 * fleet device index (NULL for a device that was not added).  Nothing is
 * allocated per poll: a completed poll is decoded block by block straight
 * from the client's result buffer into a stack window of at most 125
 * registers, and each point goes to almrule_sample() as it is decoded.
 *
 * Time: almrule is pure and takes `now`; the poller passes the loop's time
 * at completion (ev_now, epoch ms), the moment the values were known.
 *
 * Output takes no hop here: almrule's sink is the caller's own
 * almrule_sink_ops, and what the rules did is counted once, in almrule's
 * stats, which poller_counters() copies.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/poller.h"
#include "daemon/reload.h"
#include "drivers/modbus/mbdecode.h"

struct poller_cmd;

struct poller {
	struct ev_loop	*loop;
	const struct fleet *fleet;
	const struct mbmap *map;	/* the fleet's Modbus point map */
	struct poller_config cfg;	/* copy */
	struct poller_sink sink;	/* the caller's */
	struct mbclient	*mb;		/* owned */
	struct almrule	 ar;		/* rules of every device */
	struct almrule_dev **dev;	/* by fleet index; NULL: not polled */
	uint32_t	*pos;		/* by fleet index: the client's add
					 * order, or UINT32_MAX */
	struct poller_cmd **cmd;	/* by fleet index: the command under
					   way, or NULL */
	struct poller_counters cnt;	/* mb filled in on read */
	struct mbclient_counters mb_base; /* a replaced poller's (reload) */
	int		 running;
};

/*
 * Puts device i of fleet f (map m) in the client, with its alarm-rule
 * state: *dev if a reload carried one, else a new one.  *pos is its
 * place in the client, or UINT32_MAX when it was rejected (logged and
 * counted: a bad device or profile, or a profile too large for the rules;
 * nothing of it stays in the client).  0, or -1 when rejected.
 */
static int
poller_add(struct poller *p, const struct fleet *f, const struct mbmap *m,
    uint32_t i, uint32_t *pos, struct almrule_dev **dev)
{
	const struct fleet_device *fd = &f->devices[i];
	struct mbclient_device md;
	int rc;

	memset(&md, 0, sizeof(md));
	md.index = i;
	md.host = fd->host;
	md.port = fd->port;
	md.unit = fd->unit;
	md.interval_ms = fd->interval_ms;
	md.timeout_ms = fd->timeout_ms;
	md.profile = fd->profile < m->nprofiles ? &m->profiles[fd->profile] :
	    NULL;
	rc = fd->host == NULL ? -EINVAL : p->mb->ops->add_device(p->mb, &md);
	*pos = UINT32_MAX;
	if (rc == 0) {
		*pos = (uint32_t)mbclient_ndevices(p->mb) - 1;
		if (*dev == NULL)
			*dev = almrule_dev_new(&p->ar, i);
	}
	if (rc != 0 || *dev == NULL) {
		log_warnx("poller device=%s host=%s rejected=%s", fd->id,
		    fd->host ? fd->host : "-", rc != 0 ?
		    "bad device or profile" : "profile too large");
		if (rc == 0)
			p->mb->ops->retire_device(p->mb, *pos);
		almrule_dev_free(*dev);
		*dev = NULL;
		*pos = UINT32_MAX;
		p->cnt.devices_rejected++;
		return -1;
	}
	p->cnt.devices++;
	return 0;
}

/*
 * Decodes every point of block b and samples it.  Returns the number of
 * points with good quality; *bad gets the others.
 */
static uint32_t
poller_block(struct poller *p, struct almrule_dev *ad,
    const struct mbmap_profile *prof, const struct mbclient_result *r, size_t b,
    int64_t now, uint32_t *bad)
{
	const struct mbplan *plan = r->plan;
	const struct mbplan_block *blk = &plan->blocks[b];
	const uint8_t *data = r->data + blk->data_off;
	uint16_t regs[125];
	uint32_t good = 0;
	int isbits = blk->table == MBMAP_COIL || blk->table == MBMAP_DISCRETE;

	if (!isbits) {
		/* count <= 125 by mbplan's clamp; the wire is big-endian */
		for (unsigned i = 0; i < blk->count && i < 125; i++)
			regs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
	}
	for (uint32_t j = blk->first; j < blk->first + blk->npoints; j++) {
		uint32_t pt = plan->order[j];
		const struct mbmap_point *fp = &prof->points[pt];
		struct mbdecode_value v;
		int rc;

		if (isbits)
			rc = mbdecode_bits_packed(fp, data, blk->count,
			    blk->addr, &v);
		else
			rc = mbdecode_regs(fp, regs, blk->count, blk->addr,
			    &v);
		if (rc != 0) {
			p->cnt.decode_errors++;
			(*bad)++;
			continue;
		}
		p->cnt.points++;
		if (v.quality != FLEET_Q_GOOD) {
			p->cnt.points_bad++;
			(*bad)++;
		} else
			good++;
		almrule_sample(&p->ar, ad, pt, v.value,
		    (enum fleet_quality)v.quality, now);
	}
	return good;
}

static void
poller_result(const struct mbclient_result *r, void *arg)
{
	struct poller *p = arg;
	struct almrule_dev *ad;
	const struct mbmap_profile *prof;
	struct poller_poll pp;
	int64_t now = (int64_t)(ev_now(p->loop) * 1000.0);

	if (r->device >= p->fleet->ndevices ||
	    (ad = p->dev[r->device]) == NULL)
		return;
	prof = &p->map->profiles[p->fleet->devices[r->device].profile];
	memset(&pp, 0, sizeof(pp));
	pp.device = r->device;
	pp.status = (uint8_t)r->status;
	pp.started_ms = r->started_ms;
	pp.done_ms = now;
	pp.rtt_us = r->rtt_us;
	p->cnt.polls++;
	if (r->status < MBCLIENT__STATUS_COUNT)
		p->cnt.polls_by_status[r->status]++;
	if (r->status == MBCLIENT_OK || r->status == MBCLIENT_EXCEPTION) {
		pp.good = 1;
		p->cnt.polls_good++;
		almrule_poll_ok(&p->ar, ad, now);
		for (size_t b = 0; b < r->plan->nblocks; b++) {
			if (!mbplan_due(r->plan, b, r->seq))
				continue;	/* a slower poll class */
			if (r->block_exc != NULL && r->block_exc[b] != 0) {
				pp.points_bad += r->plan->blocks[b].npoints;
				p->cnt.points_refused +=
				    r->plan->blocks[b].npoints;
				continue;
			}
			pp.points_good += poller_block(p, ad, prof, r, b, now,
			    &pp.points_bad);
		}
	} else {
		p->cnt.polls_failed++;
		almrule_poll_failed(&p->ar, ad, now);
	}
	pp.comm_lost = (uint8_t)almrule_dev_comm_lost(ad);
	pp.misses = almrule_dev_misses(ad);
	if (p->sink.ops->poll != NULL)
		p->sink.ops->poll(p->sink.arg, &pp);
}

int
poller_new(struct ev_loop *loop, const struct fleet *f,
    const struct mbmap *map, const struct poller_config *pc,
    const struct poller_sink *sink, struct poller **out)
{
	struct poller *p;
	struct almrule_sink as;

	if (loop == NULL || f == NULL || map == NULL || pc == NULL ||
	    sink == NULL ||
	    sink->ops == NULL || sink->ops->rules.alarm == NULL || out == NULL)
		return -EINVAL;
	p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->fleet = f;
	p->map = map;
	p->cfg = *pc;
	p->sink = *sink;
	as.ops = &sink->ops->rules;
	as.arg = sink->arg;
	almrule_init(&p->ar, f, &p->cfg.rules, &as);
	p->dev = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*p->dev));
	p->pos = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*p->pos));
	p->cmd = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*p->cmd));
	/* Nothing is ever written unless a profile declares a command. */
	p->cfg.mb.allow_writes = mbmap_ncommands(map) > 0;
	p->mb = mbclient_new(loop, &p->cfg.mb, poller_result, p);
	for (size_t i = 0; i < f->ndevices; i++) {
		p->pos[i] = UINT32_MAX;
		/* retired: kept for incidents; another share's: not ours */
		if (!reload_retired(f, (uint32_t)i) &&
		    poller_in_share(&p->cfg, f, (uint32_t)i))
			(void)poller_add(p, f, map, (uint32_t)i, &p->pos[i],
			    &p->dev[i]);
	}
	*out = p;
	return 0;
}

int
poller_in_share(const struct poller_config *pc, const struct fleet *f,
    uint32_t d)
{
	const char *site;

	if (pc->shares <= 1)
		return 1;
	site = f->sites[f->devices[d].site].id;
	return fleet_area_shard_n(site, strlen(site), pc->shares) ==
	    pc->share;
}

int
poller_start(struct poller *p)
{
	int rc;

	if (p->running)
		return 0;
	if ((rc = p->mb->ops->start(p->mb)) != 0)
		return rc;
	p->running = 1;
	return 0;
}

static void cmd_abort_all(struct poller *p);

void
poller_stop(struct poller *p)
{
	if (p == NULL)
		return;
	p->mb->ops->stop(p->mb);
	cmd_abort_all(p);
	p->running = 0;
}

void
poller_free(struct poller *p)
{
	if (p == NULL)
		return;
	poller_stop(p);
	p->mb->ops->free(p->mb);
	for (size_t i = 0; i < p->fleet->ndevices; i++)
		almrule_dev_free(p->dev[i]);
	xfree(p->dev);
	xfree(p->pos);
	xfree(p->cmd);
	xfree(p);
}

void
poller_counters(const struct poller *p, struct poller_counters *out)
{
	const struct almrule_stats *st = &p->ar.stats;

	*out = p->cnt;
	out->alarms_raised = st->raised;
	out->alarms_cleared = st->cleared;
	out->comm_loss_raised = st->comm_loss_raised;
	out->comm_loss_cleared = st->comm_loss_cleared;
	out->samples_published = st->published;
	out->samples_suppressed = st->suppressed;
	p->mb->ops->counters(p->mb, &out->mb);
	/* every field is a uint64_t count: a reload's poller goes on from
	 * the one it replaced, so /metrics' counters never go back */
	for (size_t i = 0; i < sizeof(out->mb) / sizeof(uint64_t); i++)
		((uint64_t *)&out->mb)[i] += ((const uint64_t *)&p->mb_base)[i];
}

_Static_assert(sizeof(struct mbclient_counters) % sizeof(uint64_t) == 0,
    "mbclient_counters is uint64_t counters only");

/* Raised alarms of od (device i of fleet of) marked raised in nd. */
static int
poller_carry_dev(const struct fleet *of, size_t i, const struct almrule_dev *od,
    const struct fleet *nf, struct almrule_dev *nd, uint32_t misses)
{
	const struct fleet_profile *op = &of->profiles[of->devices[i].profile];
	int n = 0;

	if (almrule_dev_comm_lost(od))
		n += almrule_dev_restore(nd, FLEET_CODE_COMM_LOSS, misses) > 0;
	for (uint32_t a = 0; a < op->nalarms; a++) {
		int c;

		if (!almrule_dev_active(od, a) || (c = fleet_find_code(nf,
		    of->codes[op->alarms[a].code_id])) < 0)
			continue;
		n += almrule_dev_restore(nd, (uint16_t)c, misses) > 0;
	}
	return n;
}

static void cmd_reload_begin(struct poller *p, const uint32_t *map,
	    const uint8_t *same);
static void cmd_reload_end(struct poller *p, const struct fleet *nf,
	    const struct mbmap *nm, const uint32_t *map, size_t ondevices);

int
poller_reload(struct poller *p, const struct fleet *nf,
    const struct mbmap *nm, const uint32_t *map, const uint8_t *same)
{
	const struct fleet *of = p->fleet;
	struct almrule_dev **nd = xcalloc(nf->ndevices ? nf->ndevices : 1,
	    sizeof(*nd));
	uint32_t *npos = xcalloc(nf->ndevices ? nf->ndevices : 1,
	    sizeof(*npos));
	uint32_t misses = p->ar.cfg.comm_loss_misses;
	int n = 0;

	for (size_t j = 0; j < nf->ndevices; j++)
		npos[j] = UINT32_MAX;
	cmd_reload_begin(p, map, same);
	/* the rules now read the new fleet (devices, sites, profiles) */
	p->ar.fleet = nf;
	p->cnt.devices = p->cnt.devices_rejected = 0;
	/* kept devices: their connection, timers and breaker; changed or
	 * removed ones leave the client */
	for (size_t i = 0; i < of->ndevices; i++) {
		uint32_t j = map[i];

		if (p->dev[i] == NULL)
			continue;
		if (j < nf->ndevices && same[i] &&
		    p->mb->ops->rebind_device(p->mb, p->pos[i], j,
		    &nm->profiles[nf->devices[j].profile]) == 0) {
			npos[j] = p->pos[i];
			if ((nd[j] = almrule_dev_new(&p->ar, j)) != NULL)
				n += poller_carry_dev(of, i, p->dev[i], nf,
				    nd[j], misses);
			p->cnt.devices++;
			continue;
		}
		p->mb->ops->retire_device(p->mb, p->pos[i]);
		if (j < nf->ndevices && !reload_retired(nf, (uint32_t)j)) {
			/* changed: a new client device, the alarms carried */
			npos[j] = UINT32_MAX - 1;	/* added below */
			if ((nd[j] = almrule_dev_new(&p->ar, j)) != NULL)
				n += poller_carry_dev(of, i, p->dev[i], nf,
				    nd[j], misses);
		}
	}
	for (size_t i = 0; i < of->ndevices; i++)
		almrule_dev_free(p->dev[i]);
	/* added and changed devices */
	for (size_t j = 0; j < nf->ndevices; j++)
		if (npos[j] >= UINT32_MAX - 1 && !reload_retired(nf,
		    (uint32_t)j))
			(void)poller_add(p, nf, nm, (uint32_t)j, &npos[j], &nd[j]);
	xfree(p->dev);
	xfree(p->pos);
	p->dev = nd;
	p->pos = npos;
	cmd_reload_end(p, nf, nm, map, of->ndevices);
	p->fleet = nf;
	p->map = nm;
	return n;
}

int
poller_carry(struct poller *to, const struct poller *from,
    const uint32_t *map)
{
	const struct fleet *of = from->fleet, *nf = to->fleet;
	uint32_t misses = to->ar.cfg.comm_loss_misses;
	int n = 0;

	for (size_t i = 0; i < of->ndevices; i++) {
		const struct almrule_dev *od = from->dev[i];
		const struct fleet_profile *op;
		struct almrule_dev *nd;

		if (od == NULL || map[i] >= nf->ndevices ||
		    (nd = to->dev[map[i]]) == NULL)
			continue;
		if (almrule_dev_comm_lost(od))
			n += almrule_dev_restore(nd, FLEET_CODE_COMM_LOSS,
			    misses) > 0;
		op = &of->profiles[of->devices[i].profile];
		for (uint32_t a = 0; a < op->nalarms; a++) {
			int c;

			if (!almrule_dev_active(od, a) || (c = fleet_find_code(nf,
			    of->codes[op->alarms[a].code_id])) < 0)
				continue;
			n += almrule_dev_restore(nd, (uint16_t)c, misses) > 0;
		}
	}
	/* the counters go on (devices and rejections are the new fleet's) */
	{
		uint64_t devs = to->cnt.devices, rej = to->cnt.devices_rejected;

		to->cnt = from->cnt;
		to->cnt.devices = devs;
		to->cnt.devices_rejected = rej;
		to->ar.stats = from->ar.stats;
		from->mb->ops->counters(from->mb, &to->mb_base);
		for (size_t i = 0; i < sizeof(to->mb_base) / sizeof(uint64_t);
		    i++)
			((uint64_t *)&to->mb_base)[i] +=
			    ((const uint64_t *)&from->mb_base)[i];
	}
	return n;
}

int
poller_comm_lost(const struct poller *p, uint32_t device)
{
	if (device >= p->fleet->ndevices || p->dev[device] == NULL)
		return 0;
	return almrule_dev_comm_lost(p->dev[device]);
}

int
poller_restore_alarm(struct poller *p, uint32_t device, uint16_t code)
{
	if (device >= p->fleet->ndevices || p->dev[device] == NULL)
		return 0;
	return almrule_dev_restore(p->dev[device], code,
	    p->ar.cfg.comm_loss_misses);
}

/* A section built by hand that does not fit: say which key and why. */
static void
poller_config_report(void *arg, const char *key, const char *why)
{
	log_warnx("poller: %s: %s", key, why);
}

int
poller_config_from(const struct cfg_modbus *cm, struct poller_config *out)
{
	memset(out, 0, sizeof(*out));
	mbclient_config_defaults(&out->mb);
	out->rules.comm_loss_misses = ALMRULE_COMM_LOSS_MISSES;
	out->rules.comm_loss_severity = SEV_MAJOR;
	/* the loader's sections pass; a struct built by hand may not */
	if (config_modbus_check(cm, poller_config_report, NULL) != 0)
		return -EINVAL;
	out->mb = cm->client;
	/* Not YAML keys.  A cold start connects a second's worth at once;
	 * the jitter seed comes from the time; writes stay off (a write is
	 * an operator's, never a side effect of the polling settings). */
	out->mb.connect_burst = cm->client.connect_rate;
	out->mb.seed = 0;
	out->mb.allow_writes = 0;
	out->rules.comm_loss_misses = cm->comm_loss_misses;
	return 0;
}

/* ---- remote handling: declared commands ---- */

static const char *const outcome_names[POLLER__OUTCOMES] = {
	"done", "refused", "not_confirmed", "timed_out", "unreachable",
};
NAMES_FNS(poller_outcome_name, poller_outcome_parse, enum poller_outcome,
    outcome_names, POLLER__OUTCOMES)

#define CMD_READ_EVERY_MIN_MS	200	/* read-backs at most this often */

/* A command under way on one device. */
struct poller_cmd {
	struct poller	*p;
	const struct mbmap_command *mc;	/* the declared command */
	poller_cmd_fn	*cb;
	void		*arg;
	ev_timer	 rb;		/* the next read-back */
	double		 started;	/* ev_now at poller_command() */
	double		 deadline;	/* read-backs end (ev_now) */
	struct poller_cmd_result res;
	uint8_t		 bits[1];	/* FC 5's one value as a bit */
	uint8_t		 gone;		/* a reload removed or changed its
					   device: no more read-backs */
};

/* Ends c with its result: the callback, then c is freed. */
static void
cmd_end(struct poller_cmd *c, enum poller_outcome o)
{
	struct poller *p = c->p;

	ev_timer_stop(p->loop, &c->rb);
	/* a command a reload left behind (gone) is no longer indexed */
	if (c->res.device < p->fleet->ndevices && p->cmd[c->res.device] == c)
		p->cmd[c->res.device] = NULL;
	c->res.outcome = (uint8_t)o;
	c->res.elapsed_ms = (int64_t)((ev_now(p->loop) - c->started) * 1000.0);
	c->cb(c->arg, &c->res);
	xfree(c);
}

static void cmd_readback_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* The next read-back after `after` seconds, or the end if it is past
 * the deadline. */
static void
cmd_read_later(struct poller_cmd *c, double after)
{
	struct poller *p = c->p;

	if (ev_now(p->loop) + after > c->deadline + 1e-6) {
		cmd_end(c, POLLER_NOT_CONFIRMED);
		return;
	}
	ev_timer_set(&c->rb, after, 0.);
	ev_timer_start(p->loop, &c->rb);
}

static double
cmd_read_every(const struct mbmap_command *mc)
{
	uint32_t ms = mc->rb_delay_ms > CMD_READ_EVERY_MIN_MS ?
	    mc->rb_delay_ms : CMD_READ_EVERY_MIN_MS;

	return ms / 1000.0;
}

/* A read-back's answer. */
static void
cmd_read_done(const struct mbclient_reply *r, void *arg)
{
	struct poller_cmd *c = arg;
	const struct mbmap_command *mc = c->mc;

	if (c->gone) {
		c->res.status = MBCLIENT_CLOSED;
		cmd_end(c, POLLER_NOT_CONFIRMED);
		return;
	}
	if (r->status == MBCLIENT_OK && r->ndata >= 1) {
		c->res.reads++;
		c->res.has_value = 1;
		if (mc->rb_table <= MBMAP_DISCRETE)
			c->res.value = r->data[0] & 1;
		else if (r->ndata >= 2)
			c->res.value = (uint16_t)(r->data[0] << 8 | r->data[1]);
		if (c->res.value == mc->rb_value) {
			cmd_end(c, POLLER_DONE);
			return;
		}
	} else {
		/* a failed read-back is retried: reads act on nothing */
		c->res.status = (uint8_t)r->status;
		if (r->status == MBCLIENT_EXCEPTION)
			c->res.exception = r->exception;
	}
	cmd_read_later(c, cmd_read_every(mc));
}

static void
cmd_readback_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct poller_cmd *c = container_of(w, struct poller_cmd, rb);
	struct poller *p = c->p;
	const struct mbmap_command *mc = c->mc;
	struct mbap_req q;

	memset(&q, 0, sizeof(q));
	q.fc = mbap_read_fc(mc->rb_table);
	q.addr = mc->rb_address;
	q.count = 1;
	if (p->mb->ops->request(p->mb, p->pos[c->res.device], &q,
	    cmd_read_done, c) != 0)
		cmd_read_later(c, cmd_read_every(mc));
}

/* The write's answer. */
static void
cmd_write_done(const struct mbclient_reply *r, void *arg)
{
	struct poller_cmd *c = arg;
	struct poller *p = c->p;
	const struct mbmap_command *mc = c->mc;

	switch (r->status) {
	case MBCLIENT_OK:
		break;
	case MBCLIENT_EXCEPTION:
		c->res.exception = r->exception;
		cmd_end(c, POLLER_REFUSED);
		return;
	default:
		c->res.status = (uint8_t)r->status;
		cmd_end(c, r->sent ? POLLER_TIMED_OUT : POLLER_UNREACHABLE);
		return;
	}
	if (mc->rb_table == MBMAP_RB_NONE) {
		cmd_end(c, POLLER_DONE);
		return;
	}
	c->deadline = ev_now(p->loop) + mc->rb_timeout_ms / 1000.0;
	cmd_read_later(c, mc->rb_delay_ms / 1000.0);
}

int
poller_command(struct poller *p, uint32_t device, uint32_t command,
    poller_cmd_fn *cb, void *arg)
{
	const struct mbmap_profile *mp;
	const struct mbmap_command *mc;
	struct poller_cmd *c;
	struct mbap_req q;
	int rc;

	if (device >= p->fleet->ndevices || p->dev[device] == NULL ||
	    cb == NULL)
		return -ENOENT;
	mp = &p->map->profiles[p->fleet->devices[device].profile];
	if (command >= mp->ncommands)
		return -ENOENT;
	if (p->cmd[device] != NULL)
		return -EBUSY;
	mc = &mp->commands[command];
	c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->mc = mc;
	c->cb = cb;
	c->arg = arg;
	c->started = ev_now(p->loop);
	c->res.device = device;
	c->res.command = command;
	ev_timer_init(&c->rb, cmd_readback_cb, 0., 0.);
	p->cmd[device] = c;
	if (almrule_dev_comm_lost(p->dev[device])) {
		c->res.status = MBCLIENT_CONNECT;
		cmd_end(c, POLLER_UNREACHABLE);
		return 0;
	}
	/* The request is the declared command's, nothing else. */
	memset(&q, 0, sizeof(q));
	q.fc = mc->fc;
	q.addr = mc->address;
	q.count = mc->count;
	if (mc->fc == MBAP_FC_WRITE_COIL) {
		c->bits[0] = mc->values[0] != 0;
		q.bits = c->bits;
	} else
		q.regs = mc->values;
	rc = p->mb->ops->request(p->mb, p->pos[device], &q, cmd_write_done, c);
	if (rc != 0) {
		/* -EBUSY cannot happen (one command a device); anything else
		 * is a declaration the client refuses: not sent */
		log_warnx("poller command device=%s command=%s refused by the "
		    "client rc=%d", p->fleet->devices[device].id, mc->name, rc);
		c->res.status = MBCLIENT_PROTOCOL;
		cmd_end(c, POLLER_UNREACHABLE);
	}
	return 0;
}

/*
 * poller_reload(), before the devices move: a command on a device the
 * reload removes or changes (it leaves the client) cannot go on.  One
 * waiting for its next read-back ends now, not confirmed (the write was
 * acknowledged); one whose request is in flight ends from its callback,
 * which retire_device() calls with MBCLIENT_CLOSED (a write: timed out or
 * unreachable as it was sent or not; a read-back: not confirmed, `gone`).
 * A kept device's command goes on (cmd_reload_end).
 */
static void
cmd_reload_begin(struct poller *p, const uint32_t *map, const uint8_t *same)
{
	for (size_t i = 0; i < p->fleet->ndevices; i++) {
		struct poller_cmd *c = p->cmd[i];

		if (c == NULL || (map[i] != FLEET_NONE && same[i]))
			continue;
		c->gone = 1;
		if (ev_is_active(&c->rb)) {
			c->res.status = MBCLIENT_CLOSED;
			cmd_end(c, POLLER_NOT_CONFIRMED);
		}
	}
}

/*
 * ... and after: the commands still under way (kept devices, whose
 * profile and so whose commands are the same: daemon/reload) take their
 * device's new index and the new map's copy of their declaration (the
 * old map is freed after the reload).
 */
static void
cmd_reload_end(struct poller *p, const struct fleet *nf,
    const struct mbmap *nm, const uint32_t *map, size_t ondevices)
{
	struct poller_cmd **ncmd = xcalloc(nf->ndevices ? nf->ndevices : 1,
	    sizeof(*ncmd));

	for (size_t i = 0; i < ondevices; i++) {
		struct poller_cmd *c = p->cmd[i];
		uint32_t j = map[i];

		if (c == NULL)
			continue;
		if (c->gone || j >= nf->ndevices || nf->devices[j].profile >=
		    nm->nprofiles || c->res.command >=
		    nm->profiles[nf->devices[j].profile].ncommands) {
			/* cannot happen: a kept device's profile is the same
			 * (its request's callback still ends it) */
			c->gone = 1;
			continue;
		}
		c->res.device = j;
		c->mc = &nm->profiles[nf->devices[j].profile].commands[
		    c->res.command];
		ncmd[j] = c;
	}
	xfree(p->cmd);
	p->cmd = ncmd;
}

/* poller_stop(): every command under way ends unreachable (its request,
 * if any, was dropped with the connections). */
static void
cmd_abort_all(struct poller *p)
{
	for (size_t i = 0; i < p->fleet->ndevices; i++)
		if (p->cmd[i] != NULL) {
			p->cmd[i]->res.status = MBCLIENT_CLOSED;
			cmd_end(p->cmd[i], POLLER_UNREACHABLE);
		}
}
