/*
 * command.c - see command.h.
 *
 * A request is one malloc'd struct cmdreq, made on the HTTP thread and
 * passed by pointer through the ring; from then on the poll thread owns
 * it: it runs the command (poller_command), answers through the reply
 * function, and either frees it or, when the incident's shard ring is
 * full, keeps it on the notes FIFO until the note is queued (a timer
 * retries every COMMAND_RETRY_MS; the note is an audit entry and is never
 * dropped while the daemon runs).
 *
 * The answer does not wait for the note to be journaled: it says
 * "timeline":"queued" (in the owning shard's ring, which journals it
 * before anything after it) or "waiting" (the ring was full; it is
 * retried).  With a reply token from the router (the action routes'
 * facility) the answer could wait for the journal; the outcome, which
 * the operator needs, would then wait for a shard.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "correlator/corr.h"
#include "correlator/fleet.h"
#include "daemon/command.h"
#include "daemon/log.h"
#include "daemon/mem.h"
#include "daemon/poller.h"
#include "daemon/ring.h"
#include "daemon/router.h"
#include "daemon/view.h"
#include "drivers/modbus/mbap.h"
#include "drivers/modbus/mbmap.h"

/* One request, from the HTTP thread to the poll thread's answer. */
struct cmdreq {
	struct cmdreq	*next;		/* the notes FIFO */
	struct command	*c;
	const struct fleet *fleet;	/* the fleet device indexes (a reload
					   may swap it before cmd_start) */
	uint32_t	 device;	/* fleet index */
	uint32_t	 cmd;		/* index in its profile's map commands */
	char		 dev_id[128];	/* to find it again after a reload */
	char		 cmd_name[128];
	command_reply_fn *reply;
	void		*arg;
	char		 actor[CORR_ACTOR_MAX + 1];
	char		 incident[CORR_ID_LEN];	/* "" : none */
	char		 note[512];	/* the timeline's text, once known */
};

struct command {
	struct ring	 in;		/* first: MEM_LINE aligned; cmdreq *,
					   HTTP thread -> poll thread */
	struct ev_loop	*loop;
	pthread_rwlock_t flock;		/* fleet and map, for the HTTP thread
					   (the poll thread swaps them) */
	const struct fleet *fleet;
	const struct mbmap *map;
	struct poller	*poller;
	struct router	*router;
	unsigned	 producer;
	struct view	*view;
	ev_async	 wake;		/* the HTTP thread queued something */
	ev_timer	 retry;		/* notes the shard ring refused */
	struct cmdreq	*notes_head, *notes_tail;
	int		 stopping;	/* poll thread only */
	_Atomic uint64_t requests, refused_busy, notes, notes_waits;
	_Atomic uint64_t outcomes[POLLER__OUTCOMES];
};

_Static_assert(POLLER__OUTCOMES == 5, "command_stats.outcomes is 5 long");

/* ---- poll thread ---- */

static char *
cmd_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

/* A reply with {"error", "status"} from the poll thread. */
static void
cmd_reply_error(struct cmdreq *q, int status, const char *why)
{
	q->reply(q->arg, status, cmd_json(json_pack("{s:s, s:i}", "error",
	    why, "status", status)));
}

/* "coil 2", "holding 40-42": where a command writes or reads. */
static void
cmd_where(char *buf, size_t len, unsigned table, unsigned addr,
    unsigned count)
{
	if (count > 1)
		snprintf(buf, len, "%s %u-%u", mbmap_table_name(
		    (enum mbmap_table)table), addr, addr + count - 1);
	else
		snprintf(buf, len, "%s %u", mbmap_table_name(
		    (enum mbmap_table)table), addr);
}

/* Queues q's note to its incident's shard: 0, or -EAGAIN (ring full). */
static int
cmd_note_send(struct command *c, struct cmdreq *q)
{
	struct corr_action a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.incident = q->incident;
	a.type = CORR_ACT_NOTE;
	a.actor = q->actor;
	a.note = q->note;
	a.at = (int64_t)(ev_now(c->loop) * 1000.0);
	rc = router_action(c->router, c->producer, &a);
	if (rc == -ENOENT)
		log_warnx("command note not recorded incident=%s: the id "
		    "names no shard", q->incident);
	if (rc != -EAGAIN)
		ring_add_relaxed(&c->notes, rc == 0);
	return rc == -EAGAIN ? -EAGAIN : 0;
}

/* Notes that waited for room: oldest first, until a ring refuses. */
static void
cmd_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct command *c = container_of(w, struct command, retry);
	struct cmdreq *q;

	while ((q = c->notes_head) != NULL) {
		if (!c->stopping && cmd_note_send(c, q) == -EAGAIN)
			return;		/* the timer repeats */
		if (c->stopping)
			log_warnx("command note not recorded incident=%s "
			    "note=\"%s\": stopping", q->incident, q->note);
		c->notes_head = q->next;
		if (c->notes_head == NULL)
			c->notes_tail = NULL;
		xfree(q);
	}
	ev_timer_stop(loop, w);
}

/* poller_command's outcome: the answer, the log line, the note. */
static void
cmd_done(void *arg, const struct poller_cmd_result *r)
{
	struct cmdreq *q = arg;
	struct command *c = q->c;
	const struct fleet_device *fd;
	const struct mbmap_command *mc;
	enum poller_outcome o = (enum poller_outcome)r->outcome;
	char where[64], detail[160] = "", *body;
	const char *timeline = NULL;
	json_t *j;

	/* the poller's index and its fleet are c's: a reload renumbers both
	 * (poller_reload, then command_set_fleet) */
	q->device = r->device;
	fd = &c->fleet->devices[q->device];
	mc = &c->map->profiles[fd->profile].commands[q->cmd];

	ring_add_relaxed(&c->outcomes[o < POLLER__OUTCOMES ? o : 0], 1);
	cmd_where(where, sizeof(where), mc->fc == MBAP_FC_WRITE_COIL ?
	    MBMAP_COIL : MBMAP_HOLDING, mc->address, mc->count);
	j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I}", "device", fd->id,
	    "command", mc->name, "outcome", poller_outcome_name(o), "actor",
	    q->actor, "function", mc->fc, "address", where, "elapsed_ms",
	    (json_int_t)r->elapsed_ms);
	switch (o) {
	case POLLER_REFUSED:
		json_object_set_new(j, "exception", json_pack("{s:i, s:s}",
		    "code", r->exception, "name",
		    mbap_exception_name(r->exception)));
		snprintf(detail, sizeof(detail), ": exception %u %s",
		    r->exception, mbap_exception_name(r->exception));
		break;
	case POLLER_TIMED_OUT:
	case POLLER_UNREACHABLE:
		json_object_set_new(j, "detail", json_string(
		    mbclient_status_name((enum mbclient_status)r->status)));
		snprintf(detail, sizeof(detail), ": %s%s",
		    mbclient_status_name((enum mbclient_status)r->status),
		    o == POLLER_TIMED_OUT ? " (sent once, effect unknown, "
		    "not retried)" : " (not sent)");
		break;
	default:
		break;
	}
	if (mc->rb_table != MBMAP_RB_NONE) {
		char rw[64];
		json_t *rb;

		cmd_where(rw, sizeof(rw), mc->rb_table, mc->rb_address, 1);
		rb = json_pack("{s:s, s:i, s:i}", "address", rw, "expected",
		    mc->rb_value, "reads", r->reads);
		json_object_set_new(rb, "value", r->has_value ?
		    json_integer(r->value) : json_null());
		if (o == POLLER_NOT_CONFIRMED && !r->has_value)
			json_object_set_new(rb, "error", json_string(
			    mbclient_status_name((enum mbclient_status)
			    r->status)));
		json_object_set_new(j, "readback", rb);
		if (o == POLLER_NOT_CONFIRMED && r->has_value)
			snprintf(detail, sizeof(detail), ": read back %u at %s, "
			    "expected %u", r->value, rw, mc->rb_value);
		else if (o == POLLER_NOT_CONFIRMED)
			snprintf(detail, sizeof(detail), ": %s could not be "
			    "read back (%s)", rw, mbclient_status_name(
			    (enum mbclient_status)r->status));
		else if (o == POLLER_DONE)
			snprintf(detail, sizeof(detail), ", confirmed: %s = %u",
			    rw, r->value);
	}
	snprintf(q->note, sizeof(q->note), "remote command %s on %s "
	    "(function %u, %s): %s%s", mc->name, fd->id, mc->fc, where,
	    poller_outcome_name(o), detail);
	log_info("command device=%s command=%s actor=\"%s\" incident=%s "
	    "outcome=%s elapsed_ms=%lld note=\"%s\"", fd->id, mc->name,
	    q->actor, q->incident[0] ? q->incident : "-",
	    poller_outcome_name(o), (long long)r->elapsed_ms, q->note);
	if (q->incident[0] != '\0') {
		json_object_set_new(j, "incident", json_string(q->incident));
		if (c->stopping)
			timeline = "not_recorded";
		else if (c->notes_head == NULL && cmd_note_send(c, q) == 0)
			timeline = "queued";
		else {
			/* behind earlier notes, or the ring is full: in
			 * order, retried until the shard takes it */
			ring_add_relaxed(&c->notes_waits, 1);
			q->next = NULL;
			if (c->notes_tail != NULL)
				c->notes_tail->next = q;
			else
				c->notes_head = q;
			c->notes_tail = q;
			if (!ev_is_active(&c->retry))
				ev_timer_again(c->loop, &c->retry);
			timeline = "waiting";
		}
		json_object_set_new(j, "timeline", json_string(timeline));
	}
	body = cmd_json(j);
	q->reply(q->arg, 200, body);
	if (timeline == NULL || strcmp(timeline, "waiting") != 0)
		xfree(q);
}

/* q's device and command by name in c's fleet: 0, or -1 (gone). */
static int
cmd_resolve(struct command *c, struct cmdreq *q)
{
	uint32_t d = fleet_find(c->fleet, FLEET_DEVICE, q->dev_id);
	int k;

	if (d == FLEET_NONE || c->fleet->devices[d].profile >=
	    c->map->nprofiles || (k = mbmap_find_command(&c->map->profiles[
	    c->fleet->devices[d].profile], q->cmd_name)) < 0)
		return -1;
	q->device = d;
	q->cmd = (uint32_t)k;
	q->fleet = c->fleet;
	return 0;
}

/* One request from the HTTP thread. */
static void
cmd_start(struct command *c, struct cmdreq *q)
{
	char why[400];
	int rc;

	if (c->stopping || c->poller == NULL) {
		cmd_reply_error(q, 503, c->stopping ? "stopping" :
		    "starting: the poller is not running yet");
		xfree(q);
		return;
	}
	if (q->fleet != c->fleet && cmd_resolve(c, q) != 0) {
		snprintf(why, sizeof(why), "device %s or its command %s left "
		    "the configuration (reloaded meanwhile): nothing was "
		    "written", q->dev_id, q->cmd_name);
		cmd_reply_error(q, 404, why);
		xfree(q);
		return;
	}
	rc = poller_command(c->poller, q->device, q->cmd, cmd_done, q);
	if (rc == 0)
		return;		/* cmd_done answers */
	if (rc == -EBUSY)
		snprintf(why, sizeof(why), "a command is already running on "
		    "device %s; try again when it has ended",
		    c->fleet->devices[q->device].id);
	else
		snprintf(why, sizeof(why), "device %s is not polled (rejected "
		    "at start: see the log)", c->fleet->devices[q->device].id);
	cmd_reply_error(q, rc == -EBUSY ? 409 : 404, why);
	xfree(q);
}

static void
cmd_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct command *c = container_of(w, struct command, wake);
	size_t n;

	while ((n = ring_peek(&c->in)) > 0) {
		for (size_t i = 0; i < n; i++)
			cmd_start(c, *(struct cmdreq **)ring_slot(&c->in, i));
		ring_release(&c->in, n);
	}
}

/* ---- HTTP thread ---- */

/*
 * Text that goes into the log and the timeline: no control bytes (a
 * newline in an actor must not forge a log line).
 */
static int
cmd_text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* An incident id: printable ASCII, no spaces (it is echoed in errors). */
static int
cmd_id_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* The body: {"actor": 1-127 bytes, "incident": id?}; 0 or -1 (rs set). */
static int
cmd_body(struct command *c, const json_t *body, struct cmdreq *q,
    struct http_resp *rs)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)body, k, v) {
		if (strcmp(k, "actor") == 0) {
			const char *s = json_string_value(v);

			if (s == NULL || *s == '\0' || strlen(s) >
			    CORR_ACTOR_MAX || !cmd_text_ok(s)) {
				http_resp_error(rs, 400, "actor: a string of "
				    "1-%d bytes without control characters",
				    CORR_ACTOR_MAX);
				return -1;
			}
			snprintf(q->actor, sizeof(q->actor), "%s", s);
		} else if (strcmp(k, "incident") == 0) {
			const char *s = json_string_value(v);

			if (json_is_null(v))
				continue;
			if (s == NULL || *s == '\0' || strlen(s) >=
			    sizeof(q->incident) || !cmd_id_ok(s)) {
				http_resp_error(rs, 400, "incident: an incident "
				    "id string");
				return -1;
			}
			snprintf(q->incident, sizeof(q->incident), "%s", s);
		} else {
			http_resp_error(rs, 400, "unknown key in the body "
			    "(it takes actor and incident)");
			return -1;
		}
	}
	if (q->actor[0] == '\0') {
		http_resp_error(rs, 400, "actor: required (who asks for the "
		    "command)");
		return -1;
	}
	if (q->incident[0] != '\0' && c->view != NULL &&
	    !view_has(c->view, q->incident)) {
		http_resp_error(rs, 404, "incident: no open incident \"%.64s\"",
		    q->incident);
		return -1;
	}
	return 0;
}

int
command_http(struct command *c, const struct http_req *rq,
    struct http_resp *rs, command_defer_fn *defer, command_reply_fn *reply)
{
	struct cmdreq *q, **slot;
	uint32_t d;
	int k;

	if (rq->nseg < 2) {
		http_resp_error(rs, 404, "no such route");
		return 0;
	}
	pthread_rwlock_rdlock(&c->flock);
	if ((d = fleet_find(c->fleet, FLEET_DEVICE, rq->seg[0])) ==
	    FLEET_NONE) {
		pthread_rwlock_unlock(&c->flock);
		http_resp_error(rs, 404, "no device \"%.64s\"", rq->seg[0]);
		return 0;
	}
	if (c->fleet->devices[d].profile >= c->map->nprofiles ||
	    (k = mbmap_find_command(&c->map->profiles[
	    c->fleet->devices[d].profile], rq->seg[1])) < 0) {
		http_resp_error(rs, 404, "device %s (profile %s) declares no "
		    "command \"%.64s\"", c->fleet->devices[d].id,
		    c->fleet->profiles[c->fleet->devices[d].profile].id,
		    rq->seg[1]);
		pthread_rwlock_unlock(&c->flock);
		return 0;
	}
	q = xcalloc(1, sizeof(*q));
	q->c = c;
	q->fleet = c->fleet;
	q->device = d;
	q->cmd = (uint32_t)k;
	pthread_rwlock_unlock(&c->flock);
	snprintf(q->dev_id, sizeof(q->dev_id), "%s", rq->seg[0]);
	snprintf(q->cmd_name, sizeof(q->cmd_name), "%s", rq->seg[1]);
	q->reply = reply;
	if (rq->json == NULL || cmd_body(c, rq->json, q, rs) != 0) {
		if (rq->json == NULL)
			http_resp_error(rs, 400, "a JSON object body is "
			    "required: {\"actor\": \"...\"}");
		xfree(q);
		return 0;
	}
	if ((slot = ring_reserve(&c->in)) == NULL) {
		ring_add_relaxed(&c->refused_busy, 1);
		http_resp_error(rs, 503, "too many commands under way; try "
		    "again");
		rs->retry_after = 1;
		xfree(q);
		return 0;
	}
	/* the answer's handle exists before the poll thread can see q */
	q->arg = defer(rs);
	*slot = q;
	ring_commit(&c->in);
	ring_publish(&c->in);
	ring_add_relaxed(&c->requests, 1);
	ev_async_send(c->loop, &c->wake);
	return 1;
}

/* ---- the route: daemon/http's deferred replies ---- */

static void *
cmd_http_defer(struct http_resp *rs)
{
	return http_resp_defer(rs);
}

/* Poll thread: the answer goes to the suspended connection. */
static void
cmd_http_reply(void *arg, int status, char *body)
{
	struct http_resp ans;

	http_resp_init(&ans);
	ans.status = status;
	if (body != NULL)
		http_resp_append(&ans, body, strlen(body));
	else
		http_resp_error(&ans, 500, "out of memory");
	free(body);
	http_pending_done(arg, &ans);
	http_resp_fini(&ans);
}

static void
cmd_route(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)command_http(arg, rq, rs, cmd_http_defer, cmd_http_reply);
}

size_t
command_routes(struct command *c, struct http_route *out)
{
	out[0] = (struct http_route){ "POST", COMMAND_ROUTE, HTTP_JSON,
	    cmd_route, c };
	return COMMAND_NROUTES;
}

/* ---- life ---- */

struct command *
command_new(struct ev_loop *loop, const struct fleet *f,
    const struct mbmap *map, struct poller *p, struct router *r,
    unsigned producer, struct view *v)
{
	struct command *c = mem_calloc_lines(1, sizeof(*c));

	if (ring_init(&c->in, COMMAND_QUEUE, sizeof(struct cmdreq *)) != 0)
		fatalx("command: ring_init");
	if (pthread_rwlock_init(&c->flock, NULL) != 0)
		fatalx("command: pthread_rwlock_init");
	c->loop = loop;
	c->fleet = f;
	c->map = map;
	c->poller = p;
	c->router = r;
	c->producer = producer;
	c->view = v;
	ev_async_init(&c->wake, cmd_wake_cb);
	ev_async_start(loop, &c->wake);
	ev_init(&c->retry, cmd_retry_cb);
	c->retry.repeat = COMMAND_RETRY_MS / 1000.0;
	return c;
}

void
command_set_fleet(struct command *c, const struct fleet *f,
    const struct mbmap *map)
{
	pthread_rwlock_wrlock(&c->flock);
	c->fleet = f;
	c->map = map;
	pthread_rwlock_unlock(&c->flock);
}

void
command_set_poller(struct command *c, struct poller *p)
{
	c->poller = p;
}

void
command_stop(struct command *c)
{
	if (c == NULL)
		return;
	c->stopping = 1;
	cmd_wake_cb(c->loop, &c->wake, 0);	/* queued: 503 */
	cmd_retry_cb(c->loop, &c->retry, 0);	/* waiting notes: logged */
}

void
command_stats(struct command *c, struct command_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->requests = ring_load_relaxed(&c->requests);
	out->refused_busy = ring_load_relaxed(&c->refused_busy);
	out->notes = ring_load_relaxed(&c->notes);
	out->notes_waits = ring_load_relaxed(&c->notes_waits);
	for (int i = 0; i < POLLER__OUTCOMES; i++)
		out->outcomes[i] = ring_load_relaxed(&c->outcomes[i]);
}

void
command_free(struct command *c)
{
	if (c == NULL)
		return;
	c->stopping = 1;
	cmd_wake_cb(c->loop, &c->wake, 0);
	cmd_retry_cb(c->loop, &c->retry, 0);
	ev_async_stop(c->loop, &c->wake);
	ev_timer_stop(c->loop, &c->retry);
	ring_fini(&c->in);
	pthread_rwlock_destroy(&c->flock);
	xfree(c);
}
