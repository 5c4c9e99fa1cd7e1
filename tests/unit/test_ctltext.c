/*
 * test_ctltext.c - daemon/ctltext: the `key = value` lines of tocsinctl's
 * config file (comments, quotes, spaces, every error with its line) and
 * the /metrics sample sums `tocsinctl status` prints.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ctltext.h"

struct kv {
	int	 n;
	char	 k[4][32], v[4][128];
};

static int
take(void *arg, const char *key, const char *value, char *err, size_t errlen)
{
	struct kv *kv = arg;

	if (strcmp(key, "refuse") == 0) {
		snprintf(err, errlen, "refused");
		return -EINVAL;
	}
	cr_assert_lt(kv->n, 4);
	snprintf(kv->k[kv->n], sizeof(kv->k[0]), "%s", key);
	snprintf(kv->v[kv->n], sizeof(kv->v[0]), "%s", value);
	kv->n++;
	return 0;
}

Test(ctltext, conf_lines)
{
	struct kv kv = { 0 };
	char err[128];

	cr_assert_eq(ctltext_conf("# tocsinctl\n\n  server = http://h:1  \r\n"
	    "token_file=\"/etc/tocsin/my token\"\n\tactor =\n", take, &kv, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(kv.n, 3);
	cr_assert_str_eq(kv.k[0], "server");
	cr_assert_str_eq(kv.v[0], "http://h:1");
	cr_assert_str_eq(kv.v[1], "/etc/tocsin/my token");
	cr_assert_str_eq(kv.v[2], "");
}

Test(ctltext, conf_errors)
{
	static const struct {
		const char *text, *err;
	} t[] = {
		{ "server\n", "1: expected key = value" },
		{ "\n# c\n = x\n", "3: bad key \"\"" },
		{ "Server = x\n", "1: bad key \"Server\"" },
		{ "a-b = x\n", "1: bad key \"a-b\"" },
		{ "ok = 1\nrefuse = 1\n", "2: refused" },
	};
	char err[128], big[1100];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct kv kv = { 0 };

		cr_expect_eq(ctltext_conf(t[i].text, take, &kv, err,
		    sizeof(err)), -EINVAL);
		cr_expect_str_eq(err, t[i].err);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(ctltext_conf(big, take, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "1: line over 1023 bytes");
}

Test(ctltext, metrics)
{
	static const char m[] =
	    "# HELP tocsin_incidents Open incidents.\n"
	    "# TYPE tocsin_incidents gauge\n"
	    "tocsin_incidents{state=\"open\",tier=\"premium\"} 2\n"
	    "tocsin_incidents{state=\"open\",tier=\"standard\"} 3\n"
	    "tocsin_incidents{tier=\"none\",state=\"acknowledged\"} 1\n"
	    "tocsin_incidents_by_area{area=\"north\"} 9\n"
	    "tocsin_sla_breaches_total 4\n"
	    "tocsin_odd{a=\"x}y\",state=\"open\"} 7\n"
	    "tocsin_bad{state=\"open\"} notanumber\n"
	    "tocsin_cut{state=\"open\"";
	double d;

	cr_assert_eq(ctltext_metric(m, "tocsin_incidents", "state", "open", &d),
	    2);
	cr_assert_eq(d, 5.0);
	cr_assert_eq(ctltext_metric(m, "tocsin_incidents", NULL, NULL, &d), 3);
	cr_assert_eq(d, 6.0, "not the _by_area family");
	cr_assert_eq(ctltext_metric(m, "tocsin_incidents", "state",
	    "acknowledged", &d), 1);
	cr_assert_eq(ctltext_metric(m, "tocsin_incidents", "state", "ope", &d),
	    0);
	cr_assert_eq(ctltext_metric(m, "tocsin_sla_breaches_total", NULL, NULL,
	    &d), 1);
	cr_assert_eq(d, 4.0);
	cr_assert_eq(ctltext_metric(m, "tocsin_odd", "state", "open", &d), 1);
	cr_assert_eq(d, 7.0);
	cr_assert_eq(ctltext_metric(m, "tocsin_bad", NULL, NULL, &d), 0);
	cr_assert_eq(ctltext_metric(m, "tocsin_cut", NULL, NULL, &d), 0);
	cr_assert_eq(ctltext_metric("", "x", NULL, NULL, &d), 0);
}
