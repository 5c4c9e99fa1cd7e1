/*
 * test_report.c - `tocsinctl report` on a replayed month with known
 * outcomes (issue 14, "How it is checked").
 *
 * The test writes two months of a fleet's life on etc/demo.yaml as a
 * replay file: 49 faults, one every 30 h from 1 October, each with its
 * operators' actions (ack, dispatch and on site at premium sites, resolve,
 * close with or without the customer's rating), two of them inside
 * announced maintenance windows, and one site+fault three times (chronic).
 * `tocsind --replay` turns it into events; the closed ones go into the
 * history files by the month of their time, as tocsind's history sink
 * writes them (drivers/file, closed_monthly), and `tocsinctl report`
 * reads them.
 *
 * Every figure the CSV holds is then computed again here from the plan
 * alone (the delays the test chose and etc/demo.yaml's SLA table, written
 * out below), never from tocsind's events: each CSV row must be one the
 * test expects, with its value, and each expected row must be there.  Two
 * runs give the same bytes; --customer gives that customer's rows; the
 * page opens in headless Chromium with no error, every drawn bar is a CSV
 * row, and a screenshot is saved in build/artefacts/report/.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/support/proc.h"
#include "tests/support/tenv.h"

#define S	INT64_C(1000)
#define MIN	(60 * S)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)
/* 2026-10-01T00:00:00Z, 2026-11-01, 2026-12-01 */
#define OCT1	1790812800000LL
#define NOV1	(OCT1 + 31 * DAY)
#define DEC1	(NOV1 + 30 * DAY)

/* etc/demo.yaml's sites: region class, effective tier, tenants */
static const struct {
	const char	*id;
	const char	*region;
	int		 premium;
	const char	*tenants[3];
} sites[12] = {
	{ "SH-001", "A", 1, { "china-mobile" } },
	{ "SH-002", "A", 0, { "china-mobile", "china-unicom" } },
	{ "SH-003", "A", 1, { "china-telecom", "china-unicom", "china-mobile" } },
	{ "SH-004", "A", 0, { "china-unicom" } },
	{ "SZ-001", "B", 0, { "china-mobile", "china-unicom" } },
	{ "SZ-002", "B", 1, { "china-telecom", "china-unicom", "china-mobile" } },
	{ "SZ-003", "B", 0, { "china-unicom" } },
	{ "SZ-004", "B", 1, { "china-mobile" } },
	{ "DX-001", "C", 1, { "china-telecom", "china-unicom", "china-mobile" } },
	{ "DX-002", "C", 0, { "china-unicom" } },
	{ "DX-003", "C", 1, { "china-mobile" } },
	{ "DX-004", "C", 0, { "china-mobile", "china-unicom" } },
};
#define CHRONIC_SITE	5	/* SZ-002 */

/* faults: the device (a suffix of the site's id) and the code */
static const struct {
	const char	*dev;
	const char	*code;
} faults[6] = {
	{ "rect", "MAINS_FAIL" }, { "rect", "RECT_FAIL" }, { "batt", "BATT_LOW" },
	{ "ac", "HIGH_TEMP" }, { "ac", "AC_FAIL" }, { "fsu", "DOOR_OPEN" },
};
#define CHRONIC_FAULT	3	/* HIGH_TEMP */

static const char *const customers[3] = { "china-mobile", "china-telecom",
	"china-unicom" };

/*
 * etc/demo.yaml's SLA table, written out: ack premium 60 s, standard 1 h;
 * arrive by region A 2 h, B 12 h, C 48 h (from dispatch); resolve premium
 * 24 h, standard 8 h (no standard fault here is critical, so none is
 * complex); the station told at the first warning (50 %), the branch at the
 * breach, headquarters 4 h of clock time after it; scores under 1 h 5,
 * 3 h 4, 24 h 3, else 1; grades under 1 h immediate, 24 h within a day.
 */
#define NCLK	3
enum { ACK, ARRIVE, RESOLVE };
static const char *const clocks[NCLK] = { "ack", "arrive", "resolve" };

struct plan {
	int		 site, fault, planned;
	int64_t		 t0;		/* the raise */
	int64_t		 ack, onsite;	/* delays: after t0; after dispatch,
					 * -1: no dispatch */
	int64_t		 clear, resolve, close;	/* after t0 */
	int		 sat;		/* 0: not rated */
	const char	*sev;
	char		 id[16];
	/* what the SLA table makes of it */
	int		 ran[NCLK], met[NCLK];
	int64_t		 used[NCLK];
	int		 level, score;
	const char	*grade;
	int		 chronic;
};

#define NPLAN	49
static struct plan P[NPLAN];

static int64_t
budget(const struct plan *p, int k)
{
	int prem = sites[p->site].premium;

	switch (k) {
	case ACK:
		return prem ? 60 * S : HOUR;
	case ARRIVE:
		return sites[p->site].region[0] == 'A' ? 2 * HOUR :
		    sites[p->site].region[0] == 'B' ? 12 * HOUR : 48 * HOUR;
	default:
		return prem ? 24 * HOUR : 8 * HOUR;
	}
}

static unsigned
rnd(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
make_plan(void)
{
	static const int64_t pack[4] = { 20 * S, 45 * S, 5 * MIN, 5 * HOUR };
	static const int64_t sack[4] = { 10 * MIN, 40 * MIN, 2 * HOUR,
	    6 * HOUR };
	static const int64_t onsite[4] = { 30 * MIN, 90 * MIN, 10 * HOUR,
	    30 * HOUR };
	static const int64_t extra[3] = { 15 * MIN, 3 * HOUR, 9 * HOUR };
	int combos[71][2], nc = 0, seen_chronic = 0;
	unsigned s = 20261101;

	/* every (site, fault) once, but SZ-002 HIGH_TEMP: faults 2, 15 and
	 * 30 (3 October, 19 October, 7 November: the third is chronic) */
	for (int f = 0; f < 6; f++)
		for (int si = 0; si < 12; si++)
			if (!(si == CHRONIC_SITE && f == CHRONIC_FAULT)) {
				combos[nc][0] = si;
				combos[nc++][1] = f;
			}
	for (int i = 0; i < NPLAN; i++) {
		struct plan *p = &P[i];
		int prem;

		memset(p, 0, sizeof(*p));
		if (i == 2 || i == 15 || i == 30) {
			p->site = CHRONIC_SITE;
			p->fault = CHRONIC_FAULT;
			p->chronic = ++seen_chronic == 3;
		} else {
			p->site = combos[(i * 7) % 71][0];
			p->fault = combos[(i * 7) % 71][1];
		}
		prem = sites[p->site].premium;
		p->planned = i == 33 || i == 36;
		p->t0 = OCT1 + i * 30 * HOUR;
		p->sev = prem ? (p->fault == 0 ? "critical" : "major") :
		    (p->fault == 0 ? "major" : "minor");
		snprintf(p->id, sizeof(p->id), "DEMO-0-%d", i + 1);
		p->sat = (int)(rnd(&s) % 6);
		p->level = -1;
		if (p->planned) {
			p->ack = 10 * MIN;
			p->onsite = -1;
			p->clear = HOUR;
			p->resolve = HOUR + 17 * MIN;
			p->close = p->resolve + 30 * MIN;
			continue;	/* no clock runs */
		}
		p->ack = prem ? pack[rnd(&s) % 4] : sack[rnd(&s) % 4];
		p->onsite = prem ? onsite[rnd(&s) % 4] : -1;
		p->clear = p->ack + (prem ? MIN + p->onsite : 0) +
		    extra[rnd(&s) % 3];
		/* 17 min: no resolve lands on a threshold of the table */
		p->resolve = p->clear + 17 * MIN;
		p->close = p->resolve + 30 * MIN;
		p->used[ACK] = p->ack;
		p->used[ARRIVE] = p->onsite;
		p->used[RESOLVE] = p->resolve;
		for (int k = 0; k < NCLK; k++) {
			int64_t b = budget(p, k);

			p->ran[k] = k != ARRIVE || prem;
			if (!p->ran[k])
				continue;
			p->met[k] = p->used[k] < b;
			if (p->used[k] >= b / 2 && p->level < 0)
				p->level = 0;
			if (p->used[k] >= b && p->level < 1)
				p->level = 1;
			if (p->used[k] >= b + 4 * HOUR)
				p->level = 2;
		}
		p->score = p->ack < HOUR ? 5 : p->ack < 3 * HOUR ? 4 :
		    p->ack < 24 * HOUR ? 3 : 1;
		p->grade = p->resolve < HOUR ? "immediate" :
		    p->resolve < 24 * HOUR ? "within_a_day" : "over_a_day";
	}
}

/* ---- the replay file ---- */

struct line {
	int64_t		 at;
	int		 order;
	char		 text[512];
};

static int
line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->order - y->order;
}

static void
fmt_time(int64_t ms, char *buf)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void
write_replay(const char *path)
{
	struct line *v = calloc(NPLAN * 10, sizeof(*v));
	size_t n = 0;
	FILE *fp;

	cr_assert_not_null(v);
#define L(t, ...) do { v[n].at = (t); v[n].order = (int)n; \
	snprintf(v[n].text, sizeof(v[n].text), __VA_ARGS__); n++; } while (0)
	for (int i = 0; i < NPLAN; i++) {
		const struct plan *p = &P[i];
		const char *site = sites[p->site].id;
		char t[64], dev[32];

		snprintf(dev, sizeof(dev), "%s-%s", site, faults[p->fault].dev);
		if (p->planned) {
			char s0[64], s1[64];

			fmt_time(p->t0 - HOUR, s0);
			fmt_time(p->t0 + 6 * HOUR, s1);
			fmt_time(p->t0 - 2 * HOUR, t);
			L(p->t0 - 2 * HOUR, "{\"at\":\"%s\",\"maintenance\":"
			    "\"add\",\"id\":%d,\"site\":\"%s\",\"start\":\"%s\","
			    "\"end\":\"%s\",\"reason\":\"works %d\"}", t, 100 + i,
			    site, s0, s1, i);
		}
		fmt_time(p->t0, t);
		L(p->t0, "{\"at\":\"%s\",\"device\":\"%s\",\"site\":\"%s\","
		    "\"code\":\"%s\",\"edge\":\"raise\",\"severity\":\"%s\"}", t,
		    dev, site, faults[p->fault].code, p->sev);
		fmt_time(p->t0 + p->ack, t);
		L(p->t0 + p->ack, "{\"at\":\"%s\",\"incident\":\"%s\","
		    "\"action\":\"ack\",\"actor\":\"noc-%d\"}", t, p->id, i % 3);
		if (p->onsite >= 0) {
			fmt_time(p->t0 + p->ack + MIN, t);
			L(p->t0 + p->ack + MIN, "{\"at\":\"%s\",\"incident\":"
			    "\"%s\",\"action\":\"dispatch\",\"actor\":\"noc-%d\"}",
			    t, p->id, i % 3);
			fmt_time(p->t0 + p->ack + MIN + p->onsite, t);
			L(p->t0 + p->ack + MIN + p->onsite, "{\"at\":\"%s\","
			    "\"incident\":\"%s\",\"action\":\"on_site\","
			    "\"actor\":\"tech-%d\"}", t, p->id, i % 5);
		}
		fmt_time(p->t0 + p->clear, t);
		L(p->t0 + p->clear, "{\"at\":\"%s\",\"device\":\"%s\",\"site\":"
		    "\"%s\",\"code\":\"%s\",\"edge\":\"clear\",\"severity\":"
		    "\"%s\"}", t, dev, site, faults[p->fault].code, p->sev);
		fmt_time(p->t0 + p->resolve, t);
		L(p->t0 + p->resolve, "{\"at\":\"%s\",\"incident\":\"%s\","
		    "\"action\":\"resolve\",\"actor\":\"noc-%d\"}", t, p->id,
		    i % 3);
		fmt_time(p->t0 + p->close, t);
		if (p->sat > 0)
			L(p->t0 + p->close, "{\"at\":\"%s\",\"incident\":\"%s\","
			    "\"action\":\"close\",\"actor\":\"noc-%d\","
			    "\"note\":\"follow-up visit\",\"satisfaction\":%d}",
			    t, p->id, i % 3, p->sat);
		else
			L(p->t0 + p->close, "{\"at\":\"%s\",\"incident\":\"%s\","
			    "\"action\":\"close\",\"actor\":\"noc-%d\"}", t,
			    p->id, i % 3);
	}
#undef L
	qsort(v, n, sizeof(*v), line_cmp);
	cr_assert_not_null(fp = fopen(path, "w"));
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "%s\n", v[i].text);
	cr_assert_eq(fclose(fp), 0);
	free(v);
}

/* ---- the expected figures ---- */

struct fig {
	char	 key[256];	/* section,group,item,measure */
	char	 value[32];
	int	 seen;
};

struct figs {
	struct fig v[2048];
	size_t	 n;
};

static void __attribute__((format(printf, 3, 4)))
fig(struct figs *f, const char *value, const char *fmt, ...)
{
	va_list ap;

	cr_assert_lt(f->n, sizeof(f->v) / sizeof(f->v[0]));
	va_start(ap, fmt);
	vsnprintf(f->v[f->n].key, sizeof(f->v[f->n].key), fmt, ap);
	va_end(ap);
	snprintf(f->v[f->n].value, sizeof(f->v[f->n].value), "%s", value);
	f->v[f->n].seen = 0;
	f->n++;
}

static const char *
num(int64_t v)
{
	static char b[8][32];
	static int k;

	k = (k + 1) % 8;
	snprintf(b[k], sizeof(b[k]), "%" PRId64, v);
	return b[k];
}

/* num/den rounded half up to `places` decimals; "" without a den */
static const char *
dec(int64_t n, int64_t d, int places)
{
	static char b[8][32];
	static int k;
	int64_t scale = places == 1 ? 10 : 100, q;

	k = (k + 1) % 8;
	if (d == 0)
		return "";
	q = (2 * n * scale + d) / (2 * d);
	snprintf(b[k], sizeof(b[k]), "%" PRId64 ".%0*" PRId64, q / scale,
	    places, q % scale);
	return b[k];
}

static int
names(const struct plan *p, const char *c)
{
	for (int t = 0; t < 3 && sites[p->site].tenants[t]; t++)
		if (strcmp(sites[p->site].tenants[t], c) == 0)
			return 1;
	return 0;
}

/* the plans of customer c closed in [from, to) */
static int
in_month(const struct plan *p, const char *c, int64_t from, int64_t to)
{
	int64_t closed = p->t0 + p->close;

	return names(p, c) && closed >= from && closed < to;
}

static int
i64cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* met, breached, attainment and nearest-rank times of a list of clocks */
static void
clock_figs(struct figs *f, const char *sec, const char *grp,
    const char *item, int64_t *used, int *met, size_t n)
{
	int64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m += met[i];
	fig(f, num(m), "%s,%s,%s,met", sec, grp, item);
	fig(f, num((int64_t)n - m), "%s,%s,%s,breached", sec, grp, item);
	fig(f, dec(100 * m, (int64_t)n, 1), "%s,%s,%s,attainment_pct", sec,
	    grp, item);
	qsort(used, n, sizeof(*used), i64cmp);
	fig(f, n ? num(used[(50 * n + 99) / 100 - 1] / S) : "",
	    "%s,%s,%s,p50_s", sec, grp, item);
	fig(f, n ? num(used[(90 * n + 99) / 100 - 1] / S) : "",
	    "%s,%s,%s,p90_s", sec, grp, item);
	fig(f, n ? num(used[n - 1] / S) : "", "%s,%s,%s,max_s", sec, grp, item);
}

struct head {
	int64_t	 incidents, breached, ackmet, ackn, resmet, resn, scored,
		 ssum, rated, rsum;
};

static void
head_of(const char *c, int64_t from, int64_t to, struct head *h)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < NPLAN; i++) {
		const struct plan *p = &P[i];

		if (!in_month(p, c, from, to))
			continue;
		h->incidents++;
		if (!p->planned) {
			h->breached += !p->met[ACK] || !p->met[RESOLVE] ||
			    (p->ran[ARRIVE] && !p->met[ARRIVE]);
			h->ackmet += p->met[ACK];
			h->ackn++;
			h->resmet += p->met[RESOLVE];
			h->resn++;
			h->scored++;
			h->ssum += p->score;
		}
		if (p->sat > 0) {
			h->rated++;
			h->rsum += p->sat;
		}
	}
}

static void
expect_month(const char *c, struct figs *f)
{
	static const char *const sevs[4] = { "critical", "major", "minor",
	    "warning" };
	static const char *const grades[3] = { "immediate", "within_a_day",
	    "over_a_day" };
	static const char *const levels[3] = { "station", "branch",
	    "headquarters" };
	int64_t planned = 0, chronic = 0, escal = 0, longest = -1;
	int64_t bycode[6] = { 0 }, bysev[6][4] = { { 0 } };
	int64_t score[6] = { 0 }, grade[3] = { 0 }, level[3] = { 0 },
	    sat[6] = { 0 }, pms = 0, pn = 0;
	const char *longest_id = NULL;
	struct head h, hp;
	int64_t used[NPLAN];
	int met[NPLAN];
	size_t n;

	head_of(c, NOV1, DEC1, &h);
	head_of(c, OCT1, NOV1, &hp);
	for (int i = 0; i < NPLAN; i++) {
		const struct plan *p = &P[i];

		if (!in_month(p, c, NOV1, DEC1))
			continue;
		planned += p->planned;
		chronic += p->chronic;
		escal += p->level >= 0;
		bycode[p->fault]++;
		for (int s = 0; s < 4; s++)
			bysev[p->fault][s] += strcmp(p->sev, sevs[s]) == 0;
		if (!p->planned) {
			score[p->score]++;
			for (int g = 0; g < 3; g++)
				grade[g] += strcmp(p->grade, grades[g]) == 0;
		}
		if (p->level >= 0)
			level[p->level]++;
		sat[p->sat]++;
		/* ties go to the first id in byte order */
		if (p->clear > longest || (p->clear == longest &&
		    strcmp(p->id, longest_id) < 0)) {
			longest = p->clear;
			longest_id = p->id;
		}
		if (p->fault == 0) {
			pms += p->clear;
			pn++;
		}
	}
	fig(f, num(h.incidents), "summary,all,all,incidents");
	fig(f, num(h.incidents), "summary,all,all,site_incidents");
	fig(f, "0", "summary,all,all,complaints");
	fig(f, "0", "summary,all,all,area_storms");
	fig(f, num(planned), "summary,all,all,planned");
	fig(f, num(chronic), "summary,all,all,chronic");
	fig(f, num(h.breached), "summary,all,all,breached_incidents");
	fig(f, num(escal), "summary,all,all,escalated");
	for (int k = 0; k < 6; k++) {
		if (bycode[k] == 0)
			continue;
		fig(f, num(bycode[k]), "by_cause,%s,all,incidents",
		    faults[k].code);
		for (int s = 0; s < 4; s++)
			if (bysev[k][s] > 0)
				fig(f, num(bysev[k][s]),
				    "by_cause,%s,%s,incidents", faults[k].code,
				    sevs[s]);
	}
	for (int k = 0; k < NCLK; k++) {
		static const char *const tiers[2] = { "standard", "premium" };
		static const char *const regs[3] = { "A", "B", "C" };

		for (int t = -1; t < 2; t++)
			for (int r = 0; r < 3; r++) {
				char item[32];

				if (t < 0 && r > 0)
					break;
				n = 0;
				for (int i = 0; i < NPLAN; i++) {
					const struct plan *p = &P[i];

					if (!in_month(p, c, NOV1, DEC1) ||
					    p->planned || !p->ran[k] ||
					    (t >= 0 && (sites[p->site].premium
					    != t || sites[p->site].region[0] !=
					    regs[r][0])))
						continue;
					used[n] = p->used[k];
					met[n++] = p->met[k];
				}
				if (t < 0)
					snprintf(item, sizeof(item), "all");
				else if (n == 0)
					continue;
				else
					snprintf(item, sizeof(item), "%s/%s",
					    tiers[t], regs[r]);
				clock_figs(f, "clock", clocks[k], item, used,
				    met, n);
			}
	}
	for (int v = 5; v >= 1; v--)
		fig(f, num(score[v]), "response_score,all,%d,incidents", v);
	fig(f, num(h.scored), "response_score,all,all,scored");
	fig(f, dec(h.ssum, h.scored, 2), "response_score,all,all,average");
	for (int g = 0; g < 3; g++)
		fig(f, num(grade[g]), "resolution_grade,all,%s,incidents",
		    grades[g]);
	for (int l = 0; l < 3; l++)
		fig(f, num(level[l]), "escalation,all,%s,incidents", levels[l]);
	for (int v = 5; v >= 1; v--)
		fig(f, num(sat[v]), "satisfaction,all,%d,closes", v);
	fig(f, num(h.rated), "satisfaction,all,all,rated");
	fig(f, dec(h.rsum, h.rated, 2), "satisfaction,all,all,average");
	if (longest_id != NULL)
		fig(f, num(longest / S), "outage,longest,%s,seconds",
		    longest_id);
	fig(f, num(pn), "outage,power_loss,all,alarms");
	fig(f, dec(pms, pn * S, 1), "outage,power_loss,all,average_s");
	if (chronic > 0)
		fig(f, "1", "chronic,%s,%s,incidents", sites[CHRONIC_SITE].id,
		    faults[CHRONIC_FAULT].code);
	/* the chronic device failed three times in October-November */
	if (names(&P[30], c))
		fig(f, "3", "repeat,%s-%s,%s,incidents_3m",
		    sites[CHRONIC_SITE].id, faults[CHRONIC_FAULT].dev,
		    faults[CHRONIC_FAULT].code);
	for (int i = 0; i < NPLAN; i++)
		if (P[i].planned && in_month(&P[i], c, NOV1, DEC1))
			fig(f, "1", "planned,%s,works %d,incidents",
			    sites[P[i].site].id, i);
	for (int k = 0; k < 2; k++) {
		const char *clk = k == 0 ? "ack" : "resolve";

		clock_figs(f, "complaint", clk, "all", used, met, 0);
	}
	fig(f, num(hp.incidents), "trend,incidents,previous,value");
	fig(f, num(h.incidents), "trend,incidents,current,value");
	fig(f, num(hp.breached), "trend,breached_incidents,previous,value");
	fig(f, num(h.breached), "trend,breached_incidents,current,value");
	fig(f, dec(100 * hp.ackmet, hp.ackn, 1),
	    "trend,ack_attainment_pct,previous,value");
	fig(f, dec(100 * h.ackmet, h.ackn, 1),
	    "trend,ack_attainment_pct,current,value");
	fig(f, dec(100 * hp.resmet, hp.resn, 1),
	    "trend,resolve_attainment_pct,previous,value");
	fig(f, dec(100 * h.resmet, h.resn, 1),
	    "trend,resolve_attainment_pct,current,value");
	fig(f, dec(hp.ssum, hp.scored, 2),
	    "trend,response_score_average,previous,value");
	fig(f, dec(h.ssum, h.scored, 2),
	    "trend,response_score_average,current,value");
	fig(f, dec(hp.rsum, hp.rated, 2),
	    "trend,satisfaction_average,previous,value");
	fig(f, dec(h.rsum, h.rated, 2),
	    "trend,satisfaction_average,current,value");
}

/* ---- running it ---- */

static char dir[PATH_MAX];

static void
rm_dir(void)
{
	char cmd[PATH_MAX + 16];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
	dir[0] = '\0';
}

TestSuite(report, .fini = rm_dir, .timeout = 120);

/* The month's replay -> events -> history/closed-YYYY-MM.jsonl. */
static void
make_history(void)
{
	char replay[PATH_MAX + 32], hist[PATH_MAX + 16], tocsind[PATH_MAX];
	char *argv[] = { tocsind, "--replay", replay, "-c", "etc/demo.yaml",
	    "--strict", NULL };
	struct proc_result r;
	char *line, *save = NULL;
	int nclosed = 0;

	snprintf(dir, sizeof(dir), "/tmp/tocsin-report-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	make_plan();
	snprintf(replay, sizeof(replay), "%s/months.jsonl", dir);
	write_replay(replay);
	snprintf(tocsind, sizeof(tocsind), "%s", proc_build_path("tocsind"));
	cr_assert_eq(proc_run(argv, 60000, &r), 0);
	cr_assert_eq(r.status, 0, "replay: %s", r.err);
	cr_assert(strstr(r.err, "actions_rejected=0") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "maintenance_rejected=0") != NULL, "%s",
	    r.err);
	snprintf(hist, sizeof(hist), "%s/history", dir);
	cr_assert_eq(mkdir(hist, 0755), 0);
	/* what drivers/file's closed_monthly sink does: each closed event
	 * into the file of its month */
	for (line = strtok_r(r.out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *at;
		char path[PATH_MAX + 64];
		FILE *fp;

		if (strstr(line, "\"event\":\"closed\"") == NULL)
			continue;
		at = strstr(line, "\"at\":\"");
		cr_assert_not_null(at);
		snprintf(path, sizeof(path), "%s/closed-%.7s.jsonl", hist,
		    at + 6);
		cr_assert_not_null(fp = fopen(path, "a"));
		fprintf(fp, "%s\n", line);
		fclose(fp);
		nclosed++;
	}
	/* every fault was closed (the last ones in December) */
	cr_assert_eq(nclosed, NPLAN, "%d closed events", nclosed);
	proc_result_free(&r);
}

static void
run_report(const char *out, const char *customer, struct proc_result *r)
{
	char ctl[PATH_MAX], hist[PATH_MAX + 16];
	char *argv[] = { ctl, "report", "--month", "2026-11", "--history",
	    hist, "--out", (char *)out, customer ? "--customer" : NULL,
	    (char *)customer, NULL };

	snprintf(ctl, sizeof(ctl), "%s", proc_build_path("tocsinctl"));
	snprintf(hist, sizeof(hist), "%s/history", dir);
	cr_assert_eq(mkdir(out, 0755), 0);
	cr_assert_eq(proc_run(argv, 30000, r), 0);
}

static char *
out_file(const char *out, const char *name)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", out, name);
	return tenv_read_file(path);
}

/* The CSV's rows of customer c, each checked against f and marked. */
static size_t
check_csv(const char *csv, const char *c, struct figs *f)
{
	char *copy = strdup(csv), *line, *save = NULL;
	size_t rows = 0;

	cr_assert_not_null(copy);
	line = strtok_r(copy, "\n", &save);
	cr_assert_str_eq(line, "month,customer,section,group,item,measure,"
	    "value");
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char prefix[64], *key, *val;
		size_t k;

		snprintf(prefix, sizeof(prefix), "2026-11,%s,", c);
		if (strncmp(line, prefix, strlen(prefix)) != 0)
			continue;
		rows++;
		key = line + strlen(prefix);
		val = strrchr(key, ',');
		cr_assert_not_null(val);
		*val++ = '\0';
		for (k = 0; k < f->n; k++)
			if (strcmp(f->v[k].key, key) == 0)
				break;
		cr_expect_lt(k, f->n, "%s: a row the test does not expect: "
		    "%s = %s", c, key, val);
		if (k == f->n)
			continue;
		cr_expect_eq(f->v[k].seen, 0, "%s: %s twice", c, key);
		f->v[k].seen = 1;
		cr_expect_str_eq(val, f->v[k].value, "%s: %s is %s, the plan "
		    "says %s", c, key, val, f->v[k].value);
	}
	for (size_t k = 0; k < f->n; k++)
		cr_expect(f->v[k].seen, "%s: no row %s (want %s)", c,
		    f->v[k].key, f->v[k].value);
	free(copy);
	return rows;
}

Test(report, every_figure_matches_the_plan)
{
	struct proc_result r;
	char out[PATH_MAX + 8];
	char *csv, *incs;
	size_t total = 0;

	make_history();
	snprintf(out, sizeof(out), "%s/a", dir);
	run_report(out, NULL, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "2026-11: ") != NULL, "%s", r.out);
	csv = out_file(out, "tocsin-report-2026-11.csv");
	incs = out_file(out, "tocsin-report-2026-11-incidents.csv");
	for (int i = 0; i < 3; i++) {
		static struct figs f;

		memset(&f, 0, sizeof(f));
		expect_month(customers[i], &f);
		cr_assert_gt(f.n, 50);
		total += check_csv(csv, customers[i], &f);
	}
	cr_expect_gt(total, 200);
	/* each incident's own row: its clock times and outcome */
	for (int i = 0; i < NPLAN; i++) {
		const struct plan *p = &P[i];

		for (int c = 0; c < 3; c++) {
			char want[256], res[NCLK][48];

			if (!in_month(p, customers[c], NOV1, DEC1))
				continue;
			for (int k = 0; k < NCLK; k++)
				if (p->ran[k] && !p->planned)
					snprintf(res[k], sizeof(res[k]),
					    "%" PRId64 ",%s", p->used[k] / S,
					    p->met[k] ? "met" : "breached");
				else
					snprintf(res[k], sizeof(res[k]), ",");
			snprintf(want, sizeof(want), ",%s,%s,%s,%" PRId64 ",",
			    res[0], res[1], res[2], p->clear / S);
			{
				char key[64], *row;

				snprintf(key, sizeof(key), "2026-11,%s,%s,",
				    customers[c], p->id);
				row = strstr(incs, key);
				cr_assert_not_null(row, "no row %s", key);
				cr_expect(strstr(row, want) != NULL &&
				    strstr(row, want) < strchr(row, '\n'),
				    "%s: want %s in %.400s", p->id, want, row);
			}
		}
	}
	free(csv);
	free(incs);
	proc_result_free(&r);
}

Test(report, same_history_same_bytes_and_one_customer)
{
	static const char *const files[3] = { "tocsin-report-2026-11.html",
	    "tocsin-report-2026-11.csv", "tocsin-report-2026-11-incidents.csv" };
	struct proc_result r1, r2, r3;
	char a[PATH_MAX + 8], b[PATH_MAX + 8], c[PATH_MAX + 8];
	char *x, *y, *one, *all, *line, *save = NULL;
	size_t rows = 0;

	make_history();
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(c, sizeof(c), "%s/c", dir);
	run_report(a, NULL, &r1);
	run_report(b, NULL, &r2);
	cr_assert_eq(r1.status, 0, "%s", r1.err);
	cr_assert_eq(r2.status, 0, "%s", r2.err);
	for (int i = 0; i < 3; i++) {
		x = out_file(a, files[i]);
		y = out_file(b, files[i]);
		cr_assert_gt(strlen(x), 1000, "%s", files[i]);
		cr_expect_str_eq(x, y, "%s differs between two runs", files[i]);
		free(x);
		free(y);
	}
	/* --customer: that customer's rows, in their own files */
	run_report(c, "china-telecom", &r3);
	cr_assert_eq(r3.status, 0, "%s", r3.err);
	one = out_file(c, "tocsin-report-2026-11-china-telecom.csv");
	all = out_file(a, "tocsin-report-2026-11.csv");
	cr_assert_gt(strlen(one), 100);
	for (line = strtok_r(one, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char key[1024];

		snprintf(key, sizeof(key), "\n%s\n", line);
		if (rows++ > 0)
			cr_expect(strncmp(line, "2026-11,china-telecom,", 22)
			    == 0 && strstr(all, key) != NULL, "%s", line);
	}
	cr_expect_gt(rows, 50);
	free(one);
	free(all);
	proc_result_free(&r1);
	proc_result_free(&r2);
	proc_result_free(&r3);
}

Test(report, bad_usage_and_missing_history)
{
	struct proc_result r;
	char ctl[PATH_MAX];
	char *argv1[] = { ctl, "report", NULL };
	char *argv2[] = { ctl, "report", "--month", "2026-13", "--history",
	    "/nonexistent-tocsin", NULL };
	char *argv3[] = { ctl, "report", "--month", "2026-11", "--history",
	    "/nonexistent-tocsin", NULL };

	snprintf(ctl, sizeof(ctl), "%s", proc_build_path("tocsinctl"));
	cr_assert_eq(proc_run(argv1, 10000, &r), 0);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "usage: tocsinctl report --month YYYY-MM")
	    != NULL, "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(proc_run(argv2, 10000, &r), 0);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "--month \"2026-13\" is not YYYY-MM") != NULL,
	    "%s", r.err);
	proc_result_free(&r);
	cr_assert_eq(proc_run(argv3, 10000, &r), 0);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "history directory /nonexistent-tocsin: No "
	    "such file or directory") != NULL, "%s", r.err);
	proc_result_free(&r);
}

/* ---- in a browser ---- */

static const char *
chromium_path(void)
{
	const char *c = getenv("TOCSIN_CHROMIUM");

	return c != NULL && c[0] != '\0' ? c : "/usr/bin/chromium";
}

Test(report, the_page_in_chromium)
{
	struct proc_result r, nr;
	char out[PATH_MAX + 8], cwd[PATH_MAX], script[PATH_MAX + 32],
	    cfgpath[PATH_MAX + 32], html[PATH_MAX * 2], shot[PATH_MAX + 64];
	char *argv[] = { "node", script, cfgpath, NULL };
	char *csv;
	json_t *j, *bars, *b, *cfg;
	json_error_t jerr;
	size_t i;

	if (access(chromium_path(), X_OK) != 0 ||
	    access("tests/browser/node_modules/playwright-core/package.json",
	    R_OK) != 0) {
		cr_skip_test("no Chromium or tests/browser/node_modules "
		    "(make deps installs both)");
		return;
	}
	make_history();
	snprintf(out, sizeof(out), "%s/a", dir);
	run_report(out, NULL, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(script, sizeof(script), "%s/tests/browser/report.mjs", cwd);
	snprintf(html, sizeof(html), "%s/tocsin-report-2026-11.html", out);
	snprintf(shot, sizeof(shot), "%s/build/artefacts/report", cwd);
	{
		char cmd[sizeof(shot) + 16];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", shot);
		cr_assert_eq(system(cmd), 0);
	}
	strcat(shot, "/report-2026-11.png");
	snprintf(cfgpath, sizeof(cfgpath), "%s/report.json", dir);
	cfg = json_pack("{s:s, s:s, s:s}", "html", html, "screenshot", shot,
	    "chromium", chromium_path());
	cr_assert_eq(json_dump_file(cfg, cfgpath, 0), 0);
	json_decref(cfg);
	cr_assert_eq(proc_run(argv, 90000, &nr), 0);
	cr_assert_eq(nr.status, 0, "node: %s\n%s", nr.out, nr.err);
	j = json_loads(nr.out, 0, &jerr);
	cr_assert_not_null(j, "%s: %s", jerr.text, nr.out);
	cr_expect_eq(json_array_size(json_object_get(j, "errors")), 0,
	    "the page says: %s", nr.out);
	cr_expect_eq(json_integer_value(json_object_get(j, "sections")), 3);
	cr_expect(strstr(json_string_value(json_object_get(j, "title")),
	    "2026-11") != NULL);
	/* every drawn number is a row of the CSV with the same value */
	csv = out_file(out, "tocsin-report-2026-11.csv");
	bars = json_object_get(j, "bars");
	cr_expect_gt(json_array_size(bars), 30);
	json_array_foreach(bars, i, b) {
		const char *row = json_string_value(json_object_get(b, "row")),
		    *val = json_string_value(json_object_get(b, "value"));
		char key[512], *p;
		int found = 0;

		cr_assert_not_null(row);
		snprintf(key, sizeof(key), ",%s,%s\n", row, val);
		for (p = key; *p; p++)
			if (*p == '|')
				*p = ',';
		/* the customer is in the row before it: any customer */
		found = strstr(csv, key) != NULL;
		cr_expect(found, "bar %s = %s is not in the CSV", row, val);
	}
	cr_expect_eq(access(shot, R_OK), 0, "no screenshot %s", shot);
	free(csv);
	json_decref(j);
	proc_result_free(&r);
	proc_result_free(&nr);
}
