/*
 * pb_tocsind.h - tocsind started as a user starts it, for a benchmark that
 * must measure the product as shipped (pubbench's restart): the time from
 * its exec to its start line (configuration loaded, journals restored, the
 * sinks and HTTP up, polling about to begin), its CPU (every thread) and
 * peak RSS at that moment, the restore_ms its shards logged, and the
 * time until its /readyz says 200 (asked every millisecond); then a
 * stop by SIGTERM, SIGKILL past a bound (a kill -9 loses nothing, by
 * design).  Stopped by pid only; its stdout (the file sink's default) goes
 * to /dev/null, its log is read from stderr.
 */
#ifndef PB_TOCSIND_H
#define PB_TOCSIND_H

#include <stddef.h>

struct pb_start {
	double		 wall_s;	/* exec -> the " start version=" line */
	double		 cpu_s;		/* its CPU then, every thread */
	long		 rss_kib;	/* its VmHWM then */
	double		 ready_s;	/* exec -> GET /readyz answered 200
					 * (the read API holds the restored
					 * incidents), -1: no HTTP logged */
	double		 restore_s;	/* the largest restore_ms logged */
	unsigned	 restored;	/* "restored shard=" lines seen */
	unsigned	 inputs;	/* their inputs_replayed, summed */
	int		 port;		/* its HTTP port, as logged, or 0 */
};

/*
 * Runs prog -c cfg and waits, up to bound_s, for its start line.  0 with
 * *out, or -1 with the reason (its last log line, or the wait's) in err.
 */
int	 pb_tocsind_start(const char *prog, const char *cfg, int bound_s,
	    struct pb_start *out, char *err, size_t errlen);

#endif
