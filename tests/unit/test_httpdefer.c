/*
 * test_httpdefer.c - daemon/http's deferred answers (http_resp_defer,
 * http_pending_done): without a socket (http_resp_ready), then on a real
 * server where another thread answers later, answers before the
 * connection is even suspended, and where http_stop() must answer what
 * is still suspended.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "daemon/http.h"
#include "tests/support/httpfix.h"

#define TOKEN	"s3cret-token-0123456789"

/* The handlers hand their pending here; a test thread answers it. */
static struct http_pending *volatile Handed;
static pthread_mutex_t Hlock = PTHREAD_MUTEX_INITIALIZER;
static int Delay_ms;		/* the answering thread waits this long */

static void
answer(struct http_pending *p, int status)
{
	struct http_resp rs;

	http_resp_init(&rs);
	http_resp_printf(&rs, "{\"answered\":%d}\n", status);
	rs.status = status;
	http_pending_done(p, &rs);
	http_resp_fini(&rs);
}

static void *
answer_later(void *arg)
{
	struct timespec ts = { Delay_ms / 1000, (Delay_ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	answer(arg, 202);
	return NULL;
}

/* Defers; a thread answers after Delay_ms. */
static void
h_later(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	pthread_t t;

	(void)arg;
	(void)rq;
	cr_assert_eq(pthread_create(&t, NULL, answer_later,
	    http_resp_defer(rs)), 0);
	pthread_detach(t);
}

/* Defers and answers before returning (faster than the suspend). */
static void
h_at_once(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	(void)rq;
	answer(http_resp_defer(rs), 201);
}

/* Defers and keeps the pending for the test. */
static void
h_keep(void *arg, const struct http_req *rq, struct http_resp *rs)
{
	(void)arg;
	(void)rq;
	pthread_mutex_lock(&Hlock);
	Handed = http_resp_defer(rs);
	pthread_mutex_unlock(&Hlock);
}

static const struct http_route routes[] = {
	{ "GET", "/later", 0, h_later, NULL },
	{ "GET", "/at-once", 0, h_at_once, NULL },
	{ "POST", "/keep", 0, h_keep, NULL },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

Test(httpdefer, socketless)
{
	struct http_in in = { "POST", "/keep", "Bearer " TOKEN, "", 0, 0,
	    NULL, NULL };
	struct http_resp rs;
	struct http_pending *p;

	http_handle(routes, NROUTES, TOKEN, 64, &in, &rs);
	cr_assert_not_null(rs.pending);
	cr_assert_eq(http_resp_ready(&rs), 0);
	p = Handed;
	answer(p, 409);
	cr_assert_eq(http_resp_ready(&rs), 1);
	cr_assert_null(rs.pending);
	cr_assert_eq(rs.status, 409);
	cr_assert_str_eq(rs.body, "{\"answered\":409}\n");
	http_resp_fini(&rs);

	/* the caller gives up first: the completer's done still works */
	http_handle(routes, NROUTES, TOKEN, 64, &in, &rs);
	p = Handed;
	http_resp_fini(&rs);
	answer(p, 200);

	/* a gate's answer is never deferred */
	in.authorization = NULL;
	http_handle(routes, NROUTES, TOKEN, 64, &in, &rs);
	cr_assert_null(rs.pending);
	cr_assert_eq(http_resp_ready(&rs), 1);
	cr_assert_eq(rs.status, 401);
	http_resp_fini(&rs);
}

static struct http_server *
serve(void)
{
	struct http_config c;
	struct http_server *s;
	char err[256];

	memset(&c, 0, sizeof(c));
	http_config_defaults(&c);
	c.listen = "127.0.0.1:0";
	cr_assert_eq(http_start(&c, routes, NROUTES, TOKEN, &s, err,
	    sizeof(err)), 0, "%s", err);
	return s;
}

struct client {
	int		 port;
	const char	*method, *path;
	struct httpfix_resp r;
	int		 status;
};

static void *
client_main(void *arg)
{
	struct client *cl = arg;

	cl->status = httpfix_do(cl->port, cl->method, cl->path,
	    "Authorization: Bearer " TOKEN "\r\n", NULL, &cl->r);
	return NULL;
}

Test(httpdefer, server_answers_later_and_serves_others_meanwhile)
{
	struct http_server *s = serve();
	struct client slow = { (int)http_port(s), "GET", "/later", { 0 }, 0 };
	struct httpfix_resp r;
	pthread_t t;

	Delay_ms = 600;
	cr_assert_eq(pthread_create(&t, NULL, client_main, &slow), 0);
	/* while /later waits, the HTTP thread answers another request */
	cr_assert_eq(httpfix_do((int)http_port(s), "GET", "/at-once", NULL,
	    NULL, &r), 201);
	cr_assert_str_eq(r.body, "{\"answered\":201}\n");
	httpfix_free(&r);
	pthread_join(t, NULL);
	cr_assert_eq(slow.status, 202);
	cr_assert_str_eq(slow.r.body, "{\"answered\":202}\n");
	httpfix_free(&slow.r);
	http_stop(s);
}

Test(httpdefer, stop_answers_what_is_suspended)
{
	struct http_server *s = serve();
	struct client cl = { (int)http_port(s), "POST", "/keep", { 0 }, 0 };
	struct timespec ts = { 0, 10 * 1000000L };
	struct http_pending *p = NULL;
	pthread_t t;

	Handed = NULL;
	cr_assert_eq(pthread_create(&t, NULL, client_main, &cl), 0);
	for (int i = 0; i < 1000 && p == NULL; i++) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&Hlock);
		p = Handed;
		pthread_mutex_unlock(&Hlock);
	}
	cr_assert_not_null(p, "the handler never ran");
	http_stop(s);
	pthread_join(t, NULL);
	cr_assert_eq(cl.status, 503, "%d", cl.status);
	httpfix_free(&cl.r);
	/* the completer comes too late: only its reference goes */
	answer(p, 200);
}
