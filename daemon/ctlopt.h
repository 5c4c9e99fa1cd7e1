/*
 * ctlopt.h - tocsinctl's command line and where its settings come from.
 *
 * A command line is `tocsinctl [OPTIONS] COMMAND [ARGS] [OPTIONS]`:
 * options may stand before or after the command, `--opt=value` or
 * `--opt value`, `-s value`; `--` ends the options.  Each option belongs
 * to the commands it applies to; anywhere else it is a usage error that
 * names it.  Parsing is pure (argv in, struct out) so tests call it
 * directly.
 *
 * The server address and the token file are each taken from the first
 * place that sets them: the flag (-s/--server, -t/--token-file), the
 * environment (TOCSIN_SERVER, TOCSIN_TOKEN_FILE), the configuration file
 * (`server`, `token_file` keys), the default (http://127.0.0.1:8471; no
 * token file).  The actor: --actor, the file's `actor`, then $USER (a
 * name set on purpose wins over the login name).  The report's history
 * directory: --history, the file's `history`, then
 * CTLOPT_DEFAULT_HISTORY.
 * The file is --config FILE, else $TOCSIN_CTL_CONFIG, else
 * $XDG_CONFIG_HOME/tocsin/ctl.conf, else ~/.config/tocsin/ctl.conf; a
 * file named by --config or $TOCSIN_CTL_CONFIG must exist, the default
 * one may not.
 */
#ifndef TOCSIN_CTLOPT_H
#define TOCSIN_CTLOPT_H

#include <stddef.h>

/* Exit codes (docs/tocsinctl.md). */
enum ctl_exit {
	CTL_EXIT_OK = 0,		/* done */
	CTL_EXIT_REFUSED = 1,		/* the server said no (4xx), the
					 * daemon is unhealthy, a command was
					 * not done by the device */
	CTL_EXIT_USAGE = 2,		/* bad command line or local setup
					 * (config file, token file) */
	CTL_EXIT_UNREACHABLE = 3,	/* no answer, or a 5xx */
};

/* The exit code of an HTTP status, or of -errno (no answer). */
enum ctl_exit ctlopt_exit_of(int status);

enum ctl_cmd {
	CTL_NONE,
	CTL_STATUS, CTL_INCIDENTS, CTL_SHOW, CTL_SITE,
	/* the incident actions, in enum corr_action_type's order */
	CTL_ACK, CTL_DISPATCH, CTL_ON_SITE, CTL_RESOLVE, CTL_CLOSE, CTL_NOTE,
	CTL_PAUSE, CTL_RESUME, CTL_COMPLAINT,
	CTL_MAINT_ADD, CTL_MAINT_LIST, CTL_MAINT_DELETE,
	CTL_COMMAND, CTL_WATCH, CTL_REPORT, CTL_HELP, CTL_VERSION,
	CTL__NCMD
};

#define CTLOPT_DEFAULT_SERVER	"http://127.0.0.1:8471"
/* tocsind's history with etc/tocsin.yaml's daemon.state_dir */
#define CTLOPT_DEFAULT_HISTORY	"/var/lib/tocsin/history"

struct ctlopt {
	enum ctl_cmd	 cmd;
	const char	*arg[2];	/* ID, TEXT / DEVICE, NAME / TEXT */
	char		*text;		/* note, pause, complaint: the last
					 * words joined by spaces (malloc'd) */
	/* settings, resolved by ctlopt_resolve (NULL: unset) */
	const char	*server, *token_file, *actor, *config;
	int		 json;		/* print the server's JSON */
	int		 timeout_ms;	/* per request, default 10 s */
	/* incidents */
	const char	*state, *site, *area, *customer, *tier, *severity;
	int		 planned, flapping, chronic;
	long		 limit;		/* at most this many, 0: all */
	/* close, command, maintenance add, complaint */
	int		 satisfaction;	/* 1-5, 0: none */
	const char	*incident;
	const char	*start, *end, *reason;
	/* watch */
	int		 plain;		/* lines, even on a terminal */
	int		 once;		/* one board, then exit */
	/* report (and --customer) */
	const char	*month;		/* YYYY-MM */
	const char	*out;		/* directory written, default "." */
	const char	*history;	/* resolved: flag, file, default */
	/* storage for values read from the file and environment */
	char		 f_server[512], f_token[1024], f_actor[128],
			 f_history[1024];
	char		 f_where[1100];	/* where server came from, for errors */
};

/*
 * Parses argv into o (zeroed first).  0, or -EINVAL with a one-line
 * reason in err (an unknown command or option, an option that does not
 * apply to the command, a missing or extra argument, a bad number).
 * --help and --version set cmd to CTL_HELP / CTL_VERSION.  Free with
 * ctlopt_fini.
 */
int	 ctlopt_parse(int argc, char *const argv[], struct ctlopt *o, char *err,
	    size_t errlen);
void	 ctlopt_fini(struct ctlopt *o);

/* The environment ctlopt_resolve reads (tests pass their own). */
struct ctlopt_env {
	const char	*server;	/* TOCSIN_SERVER */
	const char	*token_file;	/* TOCSIN_TOKEN_FILE */
	const char	*config;	/* TOCSIN_CTL_CONFIG */
	const char	*xdg_config_home; /* XDG_CONFIG_HOME */
	const char	*home;		/* HOME */
	const char	*user;		/* USER */
};

/* The process environment. */
void	 ctlopt_env_get(struct ctlopt_env *env);

/*
 * Fills o's server, token_file and actor from env and the configuration
 * file as described above.  0, or -EINVAL with a reason in err (a file
 * named explicitly that cannot be read, a line of the file that is not
 * `key = value` or has an unknown key, with FILE:LINE).
 */
int	 ctlopt_resolve(struct ctlopt *o, const struct ctlopt_env *env,
	    char *err, size_t errlen);

/* The usage text (tocsinctl --help). */
extern const char ctlopt_usage[];

/* The action path segment of an incident command ("ack", "on_site"...),
 * or NULL for a command that is not one. */
const char *ctlopt_action(enum ctl_cmd c);

#endif
