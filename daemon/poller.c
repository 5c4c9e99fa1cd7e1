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
	uint32_t	*mbi;		/* by fleet index: the client's index */
	struct poller_cmd **cmd;	/* by fleet index: the command under
					   way, or NULL */
	struct poller_counters cnt;	/* mb filled in on read */
	int		 running;
};

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
	p->mbi = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*p->mbi));
	p->cmd = xcalloc(f->ndevices ? f->ndevices : 1, sizeof(*p->cmd));
	/* Nothing is ever written unless a profile declares a command. */
	p->cfg.mb.allow_writes = mbmap_ncommands(map) > 0;
	p->mb = mbclient_new(loop, &p->cfg.mb, poller_result, p);
	for (size_t i = 0; i < f->ndevices; i++) {
		const struct fleet_device *fd = &f->devices[i];
		struct mbclient_device md;
		int rc;

		memset(&md, 0, sizeof(md));
		md.index = (uint32_t)i;
		md.host = fd->host;
		md.port = fd->port;
		md.unit = fd->unit;
		md.interval_ms = fd->interval_ms;
		md.timeout_ms = fd->timeout_ms;
		md.profile = fd->profile < map->nprofiles ?
		    &map->profiles[fd->profile] : NULL;
		p->mbi[i] = (uint32_t)mbclient_ndevices(p->mb);
		if (fd->host == NULL)
			rc = -EINVAL;
		else
			rc = p->mb->ops->add_device(p->mb, &md);
		if (rc == 0)
			p->dev[i] = almrule_dev_new(&p->ar, (uint32_t)i);
		if (rc != 0 || p->dev[i] == NULL) {
			log_warnx("poller device=%s host=%s rejected=%s",
			    fd->id, fd->host ? fd->host : "-",
			    rc != 0 ? "bad device or profile" :
			    "profile too large");
			p->cnt.devices_rejected++;
			continue;
		}
		p->cnt.devices++;
	}
	*out = p;
	return 0;
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
	xfree(p->mbi);
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
};

/* Ends c with its result: the callback, then c is freed. */
static void
cmd_end(struct poller_cmd *c, enum poller_outcome o)
{
	struct poller *p = c->p;

	ev_timer_stop(p->loop, &c->rb);
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
	if (p->mb->ops->request(p->mb, p->mbi[c->res.device], &q,
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
	rc = p->mb->ops->request(p->mb, p->mbi[device], &q, cmd_write_done, c);
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
