/*
 * pb_redis.h - what the Redis benchmarks (bench/redisbase, bench/pubbench)
 * share: the plain hiredis baselines issuing exactly the sink's commands
 * (redis_record_argv()), key cleanup, and a private redis-server.
 *
 *   one by one  batch 1: redisCommandArgv() per command, each reply
 *               awaited before the next command;
 *   pipelined   batch B: redisAppendCommandArgv() for B commands, then
 *               redisGetReply() for each of them.
 */
#ifndef PB_REDIS_H
#define PB_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "drivers/redis/redis.h"

/*
 * Issues the commands of recs[0..n) under cfg (prefix etc.) on the
 * blocking context c, its scripts loaded first and sent by EVALSHA as
 * the sink does, batch commands per round trip (1: one by one);
 * multi wraps each record's commands in MULTI/EXEC.  Adds the commands
 * sent to *ncmd.  0, or -1 (said on stderr, naming who) on an error reply
 * or a broken connection.
 */
int	 pb_redis_blocking(redisContext *c, const struct redis_config *cfg,
	    const struct pub_rec *const *recs, size_t n, unsigned batch,
	    int multi, const char *who, uint64_t *ncmd);

/* Deletes every key under prefix (SCAN + UNLINK). */
void	 pb_redis_cleanup(redisContext *c, const char *prefix);

/*
 * Starts redis-server on a free 127.0.0.1 port (--save '' --appendonly no,
 * working directory dir), its output to /dev/null, and waits (10 s bound)
 * until it answers PING.  Returns its pid and sets *port, or -1 (said on
 * stderr).  Stop it with pb_redis_stop().
 */
pid_t	 pb_redis_start(const char *dir, int *port);
/* SIGTERM to pid, then SIGKILL after 5 s; reaps it. */
void	 pb_redis_stop(pid_t pid);
/* SIGTERM to pid, then SIGKILL after seconds; reaps it. */
void	 pb_proc_stop(pid_t pid, int seconds);

/* User + system CPU seconds of process pid so far (/proc/PID/stat), or -1. */
double	 pb_proc_cpu_s(pid_t pid);

#endif
