/*
 * ctlopt.c - see ctlopt.h.  The options are one table (name, short
 * letter, kind, field offset, the commands they apply to), so the parser,
 * the per-command check and the error messages come from the same rows.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "correlator/corr.h"
#include "daemon/ctlopt.h"
#include "daemon/ctltext.h"
#include "daemon/mem.h"

#define B(c)	(1u << (c))
#define ALL	(~0u)

/* The incident commands stand in the engine's order of its actions, so a
 * command's path segment is the engine's own name of the action. */
#define CTL_ACT(c)	((c) - CTL_ACK)
_Static_assert(CTL_ACT(CTL_ACK) == CORR_ACT_ACK &&
    CTL_ACT(CTL_DISPATCH) == CORR_ACT_DISPATCH &&
    CTL_ACT(CTL_ON_SITE) == CORR_ACT_ON_SITE &&
    CTL_ACT(CTL_RESOLVE) == CORR_ACT_RESOLVE &&
    CTL_ACT(CTL_CLOSE) == CORR_ACT_CLOSE &&
    CTL_ACT(CTL_NOTE) == CORR_ACT_NOTE &&
    CTL_ACT(CTL_PAUSE) == CORR_ACT_PAUSE &&
    CTL_ACT(CTL_RESUME) == CORR_ACT_RESUME &&
    CTL_ACT(CTL_RESUME) + 1 == CORR_ACT__COUNT,
    "enum ctl_cmd's actions follow enum corr_action_type");

enum {
	O_STR,				/* const char * */
	O_FLAG,				/* int, set to 1 */
	O_INT,				/* int, from a number in min..max */
	O_LONG,				/* long, likewise */
	O_SECS,				/* int ms, from seconds in min..max */
	O_CMD,				/* no field: sets cmd to min */
};

struct opt {
	const char	*name;		/* --name */
	char		 shrt;		/* -x, or 0 */
	unsigned char	 kind;
	size_t		 off;		/* field in struct ctlopt */
	unsigned	 cmds;		/* B(cmd) it applies to */
	long		 min, max;	/* number range; O_CMD: the command */
};

#define OPT_VALUED(p)	((p)->kind != O_FLAG && (p)->kind != O_CMD)

#define S(f)	O_STR, offsetof(struct ctlopt, f)
#define F(f)	O_FLAG, offsetof(struct ctlopt, f)
#define I(f)	O_INT, offsetof(struct ctlopt, f)
#define L(f)	O_LONG, offsetof(struct ctlopt, f)
#define SECS(f)	O_SECS, offsetof(struct ctlopt, f)

static const struct opt opts[] = {
	{ "server", 's', S(server), ALL, 0, 0 },
	{ "token-file", 't', S(token_file), ALL, 0, 0 },
	{ "config", 0, S(config), ALL, 0, 0 },
	{ "json", 0, F(json), ALL & ~B(CTL_WATCH), 0, 0 },
	{ "timeout", 0, SECS(timeout_ms), ALL, 1, 3600 },
	/* global like the server: an alias `tocsinctl --actor ann` works
	 * with every command (reads ignore it) */
	{ "actor", 0, S(actor), ALL, 0, 0 },
	{ "state", 0, S(state), B(CTL_INCIDENTS), 0, 0 },
	{ "site", 0, S(site), B(CTL_INCIDENTS) | B(CTL_MAINT_ADD) |
	    B(CTL_COMPLAINT), 0, 0 },
	{ "area", 0, S(area), B(CTL_INCIDENTS) | B(CTL_MAINT_ADD), 0, 0 },
	{ "customer", 0, S(customer), B(CTL_INCIDENTS) | B(CTL_COMPLAINT) |
	    B(CTL_REPORT), 0, 0 },
	{ "tier", 0, S(tier), B(CTL_INCIDENTS), 0, 0 },
	{ "severity", 0, S(severity), B(CTL_INCIDENTS) | B(CTL_COMPLAINT), 0,
	    0 },
	{ "planned", 0, F(planned), B(CTL_INCIDENTS), 0, 0 },
	{ "flapping", 0, F(flapping), B(CTL_INCIDENTS), 0, 0 },
	{ "chronic", 0, F(chronic), B(CTL_INCIDENTS), 0, 0 },
	{ "limit", 0, L(limit), B(CTL_INCIDENTS), 1, 1000000 },
	{ "satisfaction", 0, I(satisfaction), B(CTL_CLOSE), 1, 5 },
	{ "incident", 0, S(incident), B(CTL_COMMAND), 0, 0 },
	{ "start", 0, S(start), B(CTL_MAINT_ADD), 0, 0 },
	{ "end", 0, S(end), B(CTL_MAINT_ADD), 0, 0 },
	{ "reason", 0, S(reason), B(CTL_MAINT_ADD), 0, 0 },
	{ "plain", 0, F(plain), B(CTL_WATCH), 0, 0 },
	{ "once", 0, F(once), B(CTL_WATCH), 0, 0 },
	{ "month", 0, S(month), B(CTL_REPORT), 0, 0 },
	{ "out", 0, S(out), B(CTL_REPORT), 0, 0 },
	{ "history", 0, S(history), B(CTL_REPORT), 0, 0 },
	{ "help", 'h', O_CMD, 0, ALL, CTL_HELP, 0 },
	{ "version", 'V', O_CMD, 0, ALL, CTL_VERSION, 0 },
};
#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

/* Commands: name, enum, positional arguments: N exactly N; -(K + 1): K
 * of them, then at least one word, all the rest joined by spaces into
 * one text (arg[K]). */
static const struct {
	const char	*name;
	enum ctl_cmd	 cmd;
	int		 nargs;
	const char	*args;		/* for the usage error */
} cmds[] = {
	{ "status", CTL_STATUS, 0, "" },
	{ "incidents", CTL_INCIDENTS, 0, "" },
	{ "show", CTL_SHOW, 1, "ID" },
	{ "site", CTL_SITE, 1, "ID" },
	{ "ack", CTL_ACK, 1, "ID" },
	{ "dispatch", CTL_DISPATCH, 1, "ID" },
	{ "on-site", CTL_ON_SITE, 1, "ID" },
	{ "on_site", CTL_ON_SITE, 1, "ID" },
	{ "resolve", CTL_RESOLVE, 1, "ID" },
	{ "close", CTL_CLOSE, 1, "ID" },
	{ "note", CTL_NOTE, -2, "ID TEXT" },
	{ "pause", CTL_PAUSE, -2, "ID REASON" },
	{ "complaint", CTL_COMPLAINT, -1, "--customer C --site X TEXT" },
	{ "resume", CTL_RESUME, 1, "ID" },
	{ "command", CTL_COMMAND, 2, "DEVICE NAME" },
	{ "watch", CTL_WATCH, 0, "" },
	{ "report", CTL_REPORT, 0, "--month YYYY-MM" },
	{ "help", CTL_HELP, 0, "" },
	{ "version", CTL_VERSION, 0, "" },
	{ "maintenance add", CTL_MAINT_ADD, 0, "" },
	{ "maintenance list", CTL_MAINT_LIST, 0, "" },
	{ "maintenance delete", CTL_MAINT_DELETE, 1, "ID" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

const char ctlopt_usage[] =
"usage: tocsinctl [-s URL] [-t TOKEN_FILE] [--json] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  status                          health, readiness and a few numbers\n"
"  incidents [--state S] [--site X] [--area A] [--customer C] [--tier T]\n"
"            [--severity V] [--planned] [--flapping] [--chronic]\n"
"            [--limit N]           open incidents, nearest deadline first\n"
"  show ID                         one incident and its timeline\n"
"  site ID                         a site: tenants, devices, open incidents\n"
"  ack|dispatch|on-site|resolve|resume ID\n"
"  close ID [--satisfaction 1-5]\n"
"  note ID TEXT                    add a note to the timeline\n"
"  pause ID REASON                 pause the SLA clocks\n"
"  complaint --customer C --site X [--severity V] TEXT\n"
"                                  a customer's complaint: a new incident\n"
"  maintenance add (--site X | --area A) --start T --end T --reason R\n"
"  maintenance list\n"
"  maintenance delete ID\n"
"  command DEVICE NAME [--incident ID]   a profile's remote command\n"
"  watch [--plain] [--once]        the live board (q quits, ? for keys)\n"
"  report --month YYYY-MM [--customer C] [--out DIR] [--history DIR]\n"
"                                  the monthly SLA report (HTML and CSV)\n"
"                                  from tocsind's history files\n"
"\n"
"options:\n"
"  -s, --server URL       tocsind's HTTP API ($TOCSIN_SERVER;\n"
"                         default " CTLOPT_DEFAULT_SERVER ")\n"
"  -t, --token-file FILE  the bearer token for writes ($TOCSIN_TOKEN_FILE;\n"
"                         mode 0600 or 0400)\n"
"  --config FILE          settings file: server, token_file, actor,\n"
"                         history\n"
"                         (default $TOCSIN_CTL_CONFIG,\n"
"                         else ~/.config/tocsin/ctl.conf)\n"
"  --actor NAME           who acts (default $USER)\n"
"  --json                 print the server's JSON\n"
"  --timeout SECONDS      per request (default 10)\n"
"  -h, --help, -V, --version\n"
"\n"
"exit: 0 done, 1 the server said no (4xx) or is unhealthy, 2 usage,\n"
"3 the server cannot be reached or failed (5xx).  See tocsinctl(1).\n";

const char *
ctlopt_action(enum ctl_cmd c)
{
	if (c < CTL_ACK || c > CTL_RESUME)
		return NULL;
	return corr_action_name((enum corr_action_type)CTL_ACT(c));
}

enum ctl_exit
ctlopt_exit_of(int status)
{
	if (status < 0 || status >= 500)
		return CTL_EXIT_UNREACHABLE;
	if (status >= 300)
		return CTL_EXIT_REFUSED;
	return CTL_EXIT_OK;
}

static const struct opt *
opt_find(const char *a, const char **val)
{
	*val = NULL;
	if (a[1] == '-') {
		const char *eq = strchr(a + 2, '=');
		size_t l = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

		for (size_t i = 0; i < NOPTS; i++)
			if (strlen(opts[i].name) == l &&
			    memcmp(opts[i].name, a + 2, l) == 0) {
				*val = eq ? eq + 1 : NULL;
				return &opts[i];
			}
		return NULL;
	}
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].shrt && opts[i].shrt == a[1]) {
			*val = a[2] ? a + 2 : NULL;
			return &opts[i];
		}
	return NULL;
}

/* Sets one option; 0 or -EINVAL. */
static int
opt_set(struct ctlopt *o, const struct opt *p, const char *v, char *err,
    size_t errlen)
{
	void *f = (char *)o + p->off;
	char *end;
	long n;

	switch (p->kind) {
	case O_CMD:
		o->cmd = (enum ctl_cmd)p->min;
		return 0;
	case O_STR:
		*(const char **)f = v;
		return 0;
	case O_FLAG:
		*(int *)f = 1;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno || n < p->min || n > p->max) {
		snprintf(err, errlen, "--%s: \"%.64s\" is not a number from %ld "
		    "to %ld", p->name, v, p->min, p->max);
		return -EINVAL;
	}
	if (p->kind == O_LONG)
		*(long *)f = n;
	else
		*(int *)f = p->kind == O_SECS ? (int)n * 1000 : (int)n;
	return 0;
}

int
ctlopt_parse(int argc, char *const argv[], struct ctlopt *o, char *err,
    size_t errlen)
{
	const struct opt *seen[64];
	const char *pos[64];
	size_t nseen = 0, npos = 0, c, fixed;
	int i, dashdash = 0;
	char name[64];

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		const struct opt *p;

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (npos == sizeof(pos) / sizeof(pos[0])) {
				snprintf(err, errlen, "too many arguments");
				return -EINVAL;
			}
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if ((p = opt_find(a, &v)) == NULL) {
			snprintf(err, errlen, "unknown option %.64s", a);
			return -EINVAL;
		}
		if (!OPT_VALUED(p) && v != NULL && a[1] == '-') {
			snprintf(err, errlen, "--%s takes no value", p->name);
			return -EINVAL;
		}
		if (OPT_VALUED(p) && v == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "--%s needs a value",
				    p->name);
				return -EINVAL;
			}
			v = argv[++i];
		}
		if (opt_set(o, p, v, err, errlen) < 0)
			return -EINVAL;
		if (o->cmd == CTL_HELP || o->cmd == CTL_VERSION)
			return 0;
		if (nseen == sizeof(seen) / sizeof(seen[0])) {
			snprintf(err, errlen, "too many options");
			return -EINVAL;
		}
		seen[nseen++] = p;
	}
	if (npos == 0) {
		snprintf(err, errlen, "no command (tocsinctl --help lists them)");
		return -EINVAL;
	}
	/* "maintenance SUB" is one command of two words */
	if (strcmp(pos[0], "maintenance") == 0) {
		if (npos < 2) {
			snprintf(err, errlen, "maintenance needs add, list or "
			    "delete");
			return -EINVAL;
		}
		snprintf(name, sizeof(name), "maintenance %.32s", pos[1]);
		memmove(pos, pos + 1, (--npos) * sizeof(pos[0]));
	} else {
		snprintf(name, sizeof(name), "%.40s", pos[0]);
	}
	for (c = 0; c < NCMDS; c++)
		if (strcmp(cmds[c].name, name) == 0)
			break;
	if (c == NCMDS) {
		snprintf(err, errlen, "unknown command \"%s\"", name);
		return -EINVAL;
	}
	o->cmd = cmds[c].cmd;
	npos--;				/* the command word */
	fixed = cmds[c].nargs >= 0 ? (size_t)cmds[c].nargs :
	    (size_t)(-cmds[c].nargs - 1);
	if ((cmds[c].nargs >= 0 && npos != fixed) ||
	    (cmds[c].nargs < 0 && npos < fixed + 1)) {
		snprintf(err, errlen, "usage: tocsinctl %s%s%s", cmds[c].name,
		    cmds[c].args[0] ? " " : "", cmds[c].args);
		return -EINVAL;
	}
	for (size_t k = 0; k < fixed && k < 2; k++)
		o->arg[k] = pos[1 + k];
	if (cmds[c].nargs < 0) {
		size_t len = 0, off = 0;

		for (size_t k = fixed + 1; k <= npos; k++)
			len += strlen(pos[k]) + 1;
		o->text = xmalloc(len + 1);
		o->text[0] = '\0';
		for (size_t k = fixed + 1; k <= npos; k++)
			off += (size_t)snprintf(o->text + off, len + 1 - off,
			    "%s%s", k > fixed + 1 ? " " : "", pos[k]);
		o->arg[fixed] = o->text;
	}
	for (size_t k = 0; k < nseen; k++)
		if (!(seen[k]->cmds & B(o->cmd))) {
			snprintf(err, errlen, "--%s does not apply to %s",
			    seen[k]->name, cmds[c].name);
			return -EINVAL;
		}
	if (o->cmd == CTL_MAINT_ADD) {
		if ((o->site == NULL) == (o->area == NULL) || !o->start ||
		    !o->end || !o->reason) {
			snprintf(err, errlen, "usage: tocsinctl maintenance add "
			    "(--site X | --area A) --start T --end T --reason R");
			return -EINVAL;
		}
	}
	if (o->cmd == CTL_COMPLAINT && (o->customer == NULL || o->site ==
	    NULL)) {
		snprintf(err, errlen, "usage: tocsinctl complaint --customer C "
		    "--site X [--severity V] TEXT");
		return -EINVAL;
	}
	if (o->cmd == CTL_REPORT && o->month == NULL) {
		snprintf(err, errlen, "usage: tocsinctl report --month YYYY-MM "
		    "[--customer C] [--out DIR] [--history DIR]");
		return -EINVAL;
	}
	if (o->timeout_ms == 0)
		o->timeout_ms = 10000;
	return 0;
}

void
ctlopt_fini(struct ctlopt *o)
{
	FREE_NULL(o->text);
}

void
ctlopt_env_get(struct ctlopt_env *env)
{
	env->server = getenv("TOCSIN_SERVER");
	env->token_file = getenv("TOCSIN_TOKEN_FILE");
	env->config = getenv("TOCSIN_CTL_CONFIG");
	env->xdg_config_home = getenv("XDG_CONFIG_HOME");
	env->home = getenv("HOME");
	env->user = getenv("USER");
}

/* The file's keys and the struct ctlopt buffers they fill. */
#define K(k, f)	{ k, offsetof(struct ctlopt, f), \
		  sizeof(((struct ctlopt *)0)->f) }
static const struct {
	const char	*key;
	size_t		 off, len;
} conf_keys[] = {
	K("server", f_server),
	K("token_file", f_token),
	K("actor", f_actor),
	K("history", f_history),
};
#undef K

static int
conf_key(void *arg, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct ctlopt *o = arg;
	char *dst;
	size_t k, len;

	for (k = 0; k < sizeof(conf_keys) / sizeof(conf_keys[0]); k++)
		if (strcmp(key, conf_keys[k].key) == 0)
			break;
	if (k == sizeof(conf_keys) / sizeof(conf_keys[0])) {
		snprintf(err, errlen, "unknown key \"%s\" (server, token_file, "
		    "actor, history)", key);
		return -EINVAL;
	}
	dst = (char *)o + conf_keys[k].off;
	len = conf_keys[k].len;
	if (strlen(value) >= len || *value == '\0') {
		snprintf(err, errlen, "%s: %s value", key, *value ? "too long "
		    "a" : "an empty");
		return -EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* Reads the file into o's f_* fields; a missing file is fine unless
 * named explicitly. */
static int
conf_read(struct ctlopt *o, const char *path, int must, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text, why[300];
	size_t n;
	int rc;

	if (f == NULL) {
		if (!must && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	text = xmalloc(65537);
	n = fread(text, 1, 65536, f);
	text[n] = '\0';
	if (n == 65536 || ferror(f) || memchr(text, '\0', n) != NULL) {
		snprintf(err, errlen, "%s: not a small text file", path);
		rc = -EINVAL;
	} else if ((rc = ctltext_conf(text, conf_key, o, why, sizeof(why))) < 0)
		snprintf(err, errlen, "%s:%s", path, why);
	fclose(f);
	xfree(text);
	return rc;
}

int
ctlopt_resolve(struct ctlopt *o, const struct ctlopt_env *env, char *err,
    size_t errlen)
{
	char path[1024];
	const char *cfg = o->config ? o->config : env->config;
	int rc;

	if (cfg && *cfg)
		rc = conf_read(o, cfg, 1, err, errlen);
	else {
		if (env->xdg_config_home && *env->xdg_config_home)
			snprintf(path, sizeof(path), "%s/tocsin/ctl.conf",
			    env->xdg_config_home);
		else if (env->home && *env->home)
			snprintf(path, sizeof(path), "%s/.config/tocsin/"
			    "ctl.conf", env->home);
		else
			path[0] = '\0';
		rc = path[0] ? conf_read(o, path, 0, err, errlen) : 0;
		cfg = path;
	}
	if (rc < 0)
		return rc;
	if (o->server)
		snprintf(o->f_where, sizeof(o->f_where), "--server");
	else if (env->server && *env->server) {
		o->server = env->server;
		snprintf(o->f_where, sizeof(o->f_where), "TOCSIN_SERVER");
	} else if (o->f_server[0]) {
		o->server = o->f_server;
		snprintf(o->f_where, sizeof(o->f_where), "%s", cfg);
	} else {
		o->server = CTLOPT_DEFAULT_SERVER;
		snprintf(o->f_where, sizeof(o->f_where), "the default");
	}
	if (o->token_file == NULL)
		o->token_file = env->token_file && *env->token_file ?
		    env->token_file : o->f_token[0] ? o->f_token : NULL;
	/* the file's actor names a person better than a login name */
	if (o->actor == NULL)
		o->actor = o->f_actor[0] ? o->f_actor : env->user &&
		    *env->user ? env->user : NULL;
	if (o->history == NULL)
		o->history = o->f_history[0] ? o->f_history :
		    CTLOPT_DEFAULT_HISTORY;
	return 0;
}
