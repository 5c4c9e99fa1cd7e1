/*
 * pb_redis.c - see pb_redis.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/pb_redis.h"

static int
pb_reply_ok(redisContext *c, redisReply *r, const char *who)
{
	if (r == NULL) {
		fprintf(stderr, "%s: %s\n", who, c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "%s: error reply: %s\n", who, r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* Reads the replies of the pending commands. */
static int
pb_drain(redisContext *c, unsigned *pending, const char *who)
{
	int rc = 0;

	for (; *pending > 0 && rc == 0; (*pending)--) {
		void *r = NULL;

		if (redisGetReply(c, &r) != REDIS_OK)
			r = NULL;
		rc = pb_reply_ok(c, r, who);
	}
	return rc;
}

/* One command: sent and answered (batch 1) or appended (flushed at batch). */
static int
pb_command(redisContext *c, int nargs, const char **argv, const size_t *len,
    unsigned batch, unsigned *pending, const char *who)
{
	if (batch <= 1)
		return pb_reply_ok(c, redisCommandArgv(c, nargs, argv, len),
		    who);
	if (redisAppendCommandArgv(c, nargs, argv, len) != REDIS_OK) {
		fprintf(stderr, "%s: append: %s\n", who, c->errstr);
		return -1;
	}
	if (++*pending < batch)
		return 0;
	return pb_drain(c, pending, who);
}

/* SCRIPT LOAD of the sink's scripts, as it does at a connect: EVALSHA. */
static int
pb_scripts(redisContext *c, struct redis_config *cfg, const char *who)
{
	for (unsigned i = 0; i < REDIS_NSCRIPTS; i++) {
		redisReply *r = redisCommand(c, "SCRIPT LOAD %s",
		    redis_script_text((enum redis_script)i));

		if (r == NULL || r->type != REDIS_REPLY_STRING ||
		    r->len != 40) {
			fprintf(stderr, "%s: SCRIPT LOAD failed\n", who);
			if (r != NULL)
				freeReplyObject(r);
			return -1;
		}
		memcpy(cfg->script_sha[i], r->str, 41);
		freeReplyObject(r);
	}
	return 0;
}

int
pb_redis_blocking(redisContext *c, const struct redis_config *cfg,
    const struct pub_rec *const *recs, size_t n, unsigned batch, int multi,
    const char *who, uint64_t *ncmd)
{
	static const char *mx[2] = { "MULTI", "EXEC" };
	static const size_t mxlen[2] = { 5, 4 };
	struct redis_config cc = *cfg;
	struct redis_argv a;
	unsigned pending = 0;
	int rc = 0;

	if (pb_scripts(c, &cc, who) != 0)
		return -1;
	redis_argv_init(&a);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int k = redis_record_argv(&cc, recs[i], &a);

		/* multi: each record wrapped in MULTI/EXEC (commands -1, k) */
		for (int j = multi ? -1 : 0; j < k + (multi ? 1 : 0) &&
		    rc == 0; j++) {
			int edge = j < 0 || j == k;

			(*ncmd)++;
			rc = pb_command(c, edge ? 1 : (int)a.argc[j],
			    edge ? &mx[j < 0 ? 0 : 1] : a.argv + a.first[j],
			    edge ? &mxlen[j < 0 ? 0 : 1] : a.argvlen + a.first[j],
			    batch, &pending, who);
		}
	}
	if (rc == 0)
		rc = pb_drain(c, &pending, who);
	redis_argv_fini(&a);
	return rc;
}

void
pb_redis_cleanup(redisContext *c, const char *prefix)
{
	char cursor[32] = "0";

	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000",
		    cursor, prefix);

		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2) {
			if (r != NULL)
				freeReplyObject(r);
			return;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			redisReply *d = redisCommand(c, "UNLINK %b",
			    r->element[1]->element[i]->str,
			    r->element[1]->element[i]->len);

			if (d != NULL)
				freeReplyObject(d);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
}

/* A port nobody listens on now (bound to 0, read back, released). */
static int
pb_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int
pb_redis_ping(int port)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r;
	int ok;

	if (c == NULL || c->err) {
		if (c != NULL)
			redisFree(c);
		return 0;
	}
	r = redisCommand(c, "PING");
	ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return ok;
}

pid_t
pb_redis_start(const char *dir, int *port)
{
	char ports[16];
	pid_t pid;

	if ((*port = pb_free_port()) < 0) {
		fprintf(stderr, "redis-server: no free port\n");
		return -1;
	}
	snprintf(ports, sizeof(ports), "%d", *port);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-server", "redis-server", "--port", ports,
		    "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--dir", dir, "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (pb_redis_ping(*port))
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(50000);
	}
	fprintf(stderr, "redis-server on port %d did not start\n", *port);
	pb_redis_stop(pid);
	return -1;
}

void
pb_proc_stop(pid_t pid, int seconds)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < seconds * 20; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void
pb_redis_stop(pid_t pid)
{
	pb_proc_stop(pid, 5);
}

double
pb_proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* the comm field may hold spaces: count from the last ')' */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
