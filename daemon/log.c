/*
 * log.c - see log.h.  Lines are built in a fixed stack buffer (truncated,
 * never allocated) so logging works when memory is gone and from any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/log.h"
#include "daemon/names.h"
#include "daemon/ring.h"
#include "daemon/utc.h"

#define LOG_LINE_MAX 2048

static int log_fd = 2;
static enum log_level log_min = LOG_LVL_INFO;
static atomic_ulong log_counts[LOG_LVL_ERROR + 1];

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(int fd, enum log_level min)
{
	log_fd = fd;
	log_min = min;
}

NAMES_PARSE_FN(log_level_parse, enum log_level, log_names,
    sizeof(log_names) / sizeof(log_names[0]))

unsigned long
log_count(enum log_level lvl)
{
	return ring_load_relaxed(&log_counts[lvl]);
}

static void
log_vwrite(enum log_level lvl, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n;
	int r;

	ring_add_relaxed(&log_counts[lvl], 1);
	if (lvl < log_min)
		return;
	n = utc_format(clock_wall_ms(), line);
	r = snprintf(line + n, sizeof(line) - n, " level=%s ", log_names[lvl]);
	n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (errnum != 0) {
		r = snprintf(line + n, sizeof(line) - n, " err=\"%s\"",
		    strerror(errnum));
		n = r < 0 ? n : n + (size_t)r;
		if (n > sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* A failed log write has nowhere to be reported. */
	if (write(log_fd, line, n) < 0)
		return;
}

#define LOG_FN(name, lvl, witherr)				\
void								\
name(const char *fmt, ...)					\
{								\
	int saved = errno;					\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(lvl, witherr ? saved : 0, fmt, ap);		\
	va_end(ap);						\
	errno = saved;						\
}

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

int
log_rl_ok(struct log_rl *rl, uint64_t *quiet)
{
	int64_t now = clock_mono_ms();

	if (rl->at != 0 && now - rl->at < LOG_RL_MS) {
		rl->quiet++;
		return 0;
	}
	rl->at = now;
	*quiet = rl->quiet;
	rl->quiet = 0;
	return 1;
}
