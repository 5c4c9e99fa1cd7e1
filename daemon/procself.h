/*
 * procself.h - the daemon's own resource use, as the process_* families
 * every Prometheus client library exports (CPU seconds, resident and
 * virtual memory, open and allowed descriptors), read from Linux's /proc
 * at the moment a scraper asks.
 *
 * tocsind holds one descriptor per Modbus connection and per HTTP client,
 * so "how close to RLIMIT_NOFILE" and "how big" are questions an operator
 * asks of it as of any server; answering with the usual names lets the
 * dashboards and alerts written for every other process work unchanged
 * (etc/grafana-tocsin.json, etc/prometheus-rules.yml, docs/monitoring.md).
 * Nothing is kept between calls: the kernel already keeps the counters.
 */
#ifndef TOCSIN_PROCSELF_H
#define TOCSIN_PROCSELF_H

#include <stdint.h>

struct procself {
	double		 cpu_seconds;	/* user + system, since the start */
	uint64_t	 rss_bytes;	/* resident set */
	uint64_t	 vsize_bytes;	/* virtual address space */
	uint64_t	 open_fds;	/* descriptors open now */
	uint64_t	 max_fds;	/* RLIMIT_NOFILE's soft limit */
};

/*
 * Fills *ps from /proc/self/stat, /proc/self/fd and getrlimit(2).
 * Returns 0, or -errno when one of them cannot be read (*ps then holds
 * zeros; the caller leaves the families out rather than report 0).  Any
 * thread; costs a file read and a directory listing as long as the
 * descriptor table (a few hundred microseconds for ten thousand).
 */
int	 procself_read(struct procself *ps);

#endif
