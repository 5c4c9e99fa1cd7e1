/*
 * procself.c - see procself.h.
 *
 * /proc/self/stat is one line whose second field, the command name in
 * parentheses, may itself hold spaces and parentheses: the fields after it
 * are read from the last ')' on (proc(5)).  utime and stime are in clock
 * ticks (sysconf _SC_CLK_TCK), vsize in bytes, rss in pages.  Open
 * descriptors are the entries of /proc/self/fd less the one the listing
 * itself holds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon/procself.h"

/* Fields of /proc/self/stat by their proc(5) number (1-based). */
#define PS_UTIME	14
#define PS_VSIZE	23
#define PS_RSS		24

static int
procself_stat(struct procself *ps)
{
	char buf[1024], *p;
	unsigned long long utime = 0, stime = 0, vsize = 0, rss = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int fd, field;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || tck <= 0 || page <= 0)
		return -EINVAL;
	/* p + 1 starts field 3 (state) */
	for (field = 3, p++; *p != '\0' && field <= PS_RSS; field++) {
		char *end;
		unsigned long long v;

		while (*p == ' ')
			p++;
		v = strtoull(p, &end, 10);
		if (field == PS_UTIME)
			utime = v;
		else if (field == PS_UTIME + 1)
			stime = v;
		else if (field == PS_VSIZE)
			vsize = v;
		else if (field == PS_RSS)
			rss = v;
		p = end;
		while (*p != ' ' && *p != '\0')	/* the state is a letter */
			p++;
	}
	if (field <= PS_RSS)
		return -EINVAL;
	ps->cpu_seconds = (double)(utime + stime) / (double)tck;
	ps->vsize_bytes = vsize;
	ps->rss_bytes = rss * (unsigned long long)page;
	return 0;
}

static int
procself_fds(struct procself *ps)
{
	struct dirent *de;
	struct rlimit rl;
	uint64_t n = 0;
	DIR *d;
	int self;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return -errno;
	self = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long fd;

		if (de->d_name[0] == '.')
			continue;
		fd = strtol(de->d_name, &end, 10);
		if (*end == '\0' && fd != self)
			n++;
	}
	closedir(d);
	ps->open_fds = n;
	ps->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX :
	    (uint64_t)rl.rlim_cur;
	return 0;
}

int
procself_read(struct procself *ps)
{
	int rc;

	memset(ps, 0, sizeof(*ps));
	if ((rc = procself_stat(ps)) == 0)
		rc = procself_fds(ps);
	if (rc != 0)
		memset(ps, 0, sizeof(*ps));
	return rc;
}
