/*
 * setting.h - a driver's table of numeric settings: each a YAML key, the
 * uint32_t field it fills, its range, default and meaning.  One mechanism
 * for every driver that has such a table (drivers/modbus, drivers/redis):
 * the config loader reads a section through the table, the driver fills
 * its defaults and checks ranges from it, docs list it, and a test keeps
 * docs and table equal.
 */
#ifndef TOCSIN_SETTING_H
#define TOCSIN_SETTING_H

#include <stdint.h>

/* What a setting's number means in the YAML and in docs. */
enum setting_kind {
	SETTING_COUNT,		/* a plain number */
	SETTING_MS,		/* a duration, ms ("500ms", "1s") */
};

/* One setting; a table ends with key NULL. */
struct setting {
	const char	*key;		/* "timeout" */
	uint8_t		 kind;		/* enum setting_kind */
	uint16_t	 off;		/* of its uint32_t in the config struct */
	uint32_t	 min, max;	/* accepted, inclusive */
	uint32_t	 def;		/* default */
	const char	*doc;		/* what it means, one line (markdown) */
};

/*
 * One problem a check found: key is the setting's YAML key after the
 * caller's prefix ("modbus.timeout"), why what is wrong.  Both are valid
 * during the call only.
 */
typedef void (*setting_report_cb)(void *arg, const char *key,
	    const char *why);

/* Sets every field of the table in base to its default. */
void	 setting_defaults(const struct setting *t, void *base);
/*
 * Reports (report may be NULL) every field of base outside its range, as
 * "V[ms] is out of range [MIN[ms], MAX[ms]]".  Returns 0 or -EINVAL.
 */
int	 setting_check(const struct setting *t, const void *base,
	    const char *prefix, setting_report_cb report, void *arg);
/* Formats one problem, the key after prefix, and hands it to report. */
void	 setting_report(setting_report_cb report, void *arg,
	    const char *prefix, const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#endif
