/*
 * log.h - one-line, key=value logging for tocsind and its tools.
 *
 * Modelled on OpenBSD's log.h: log_warn() appends strerror(errno), log_warnx()
 * does not; fatal()/fatalx() log and exit(1).  Every line is
 *
 *     2026-11-23T13:45:01.123Z level=warn msg...
 *
 * so that both a person and a machine can read it.  Messages should carry
 * their variable parts as key=value fields ("device=rect-1 err=timeout").
 * Secrets are never passed to these functions.
 *
 * Logging is thread-safe: each line is formatted into a stack buffer and
 * written with one write(2), which POSIX keeps whole for pipes under
 * PIPE_BUF and which is good enough for files opened O_APPEND.
 */
#ifndef TOCSIN_LOG_H
#define TOCSIN_LOG_H

#include <stdint.h>

#include <stdarg.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
};

/* Sets where lines go (an fd, default 2) and the lowest level written. */
void	log_init(int fd, enum log_level min);
/* Parses "debug|info|warn|error"; returns 0 or -EINVAL for an unknown name. */
int	log_level_parse(const char *name, enum log_level *out);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * A complaint that may repeat (a refused input, a failing peer): logged
 * at most once per LOG_RL_MS, the repeats in between counted, so a flood
 * is a counter and a line every 10 s.  Zeroed: nothing logged yet.
 */
#define LOG_RL_MS	10000
struct log_rl {
	int64_t		 at;		/* last line (ms, monotonic), or 0 */
	uint64_t	 quiet;		/* repeats not logged since */
};
/* 1 if the complaint is to be logged now, *quiet then the repeats not
 * logged since the last line; 0 (counted) if not. */
int	log_rl_ok(struct log_rl *rl, uint64_t *quiet);

/* Number of lines written at each level since start (for /metrics). */
unsigned long log_count(enum log_level lvl);

#endif
