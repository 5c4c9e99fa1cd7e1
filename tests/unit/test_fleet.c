/*
 * test_fleet.c - the fleet's id look-ups: fleet_find_many() of ids left in
 * place (not NUL-terminated, as a snapshot's name table holds them) finds
 * what fleet_find() finds, for short ids and for ids past the 24 bytes an
 * index slot keeps, and nothing for an id that is another's prefix or
 * extension.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlator/fleet.h"

Test(fleet, find_many_finds_what_find_finds)
{
	enum { NDEV = 3000, NQ = 2 * NDEV + 8 };
	struct fleet *f = fleet_new();
	static char buf[NQ][80], want_name[NQ][80];
	static const char *ids[NQ];
	static uint32_t lens[NQ], out[NQ], want[NQ];
	static uint8_t kinds[NQ];
	size_t n = 0;

	for (int i = 0; i < NDEV; i++) {
		/* short ids and ids well past a slot's 24 bytes */
		snprintf(buf[0], sizeof(buf[0]), i % 2 ? "d%d" :
		    "a-long-area-name/site-%04d/rectifier-%d", i, i % 7);
		cr_assert_neq(fleet_add(f, FLEET_DEVICE, buf[0]), FLEET_NONE);
	}
	cr_assert_neq(fleet_add(f, FLEET_SITE, "S1"), FLEET_NONE);
	for (int i = 0; i < NDEV; i++) {
		/* each device, then a name that is not: one byte more or less */
		snprintf(want_name[n], sizeof(want_name[n]), i % 2 ? "d%d" :
		    "a-long-area-name/site-%04d/rectifier-%d", i, i % 7);
		kinds[n++] = FLEET_DEVICE;
		snprintf(want_name[n], sizeof(want_name[n]), "%s%s",
		    want_name[n - 1], i % 3 ? "x" : "");
		if (i % 3 == 0)		/* a prefix instead */
			want_name[n][strlen(want_name[n]) - 1] = '\0';
		kinds[n++] = FLEET_DEVICE;
	}
	strcpy(want_name[n], "S1");		/* a site, not a device */
	kinds[n++] = FLEET_SITE;
	strcpy(want_name[n], "S1");
	kinds[n++] = FLEET_DEVICE;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(want_name[i]);

		/* in place: followed by other bytes, no NUL */
		memcpy(buf[i], want_name[i], len);
		memset(buf[i] + len, 'z', sizeof(buf[i]) - len);
		ids[i] = buf[i];
		lens[i] = (uint32_t)len;
		want[i] = fleet_find(f, (enum fleet_kind)kinds[i],
		    want_name[i]);
	}
	fleet_find_many(f, kinds, ids, lens, n, out);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(out[i], want[i], "%zu \"%s\": %u, want %u", i,
		    want_name[i], out[i], want[i]);
	cr_assert_eq(out[0], 0, "the first device found");
	cr_assert_eq(out[1], FLEET_NONE, "a prefix of a long id");
	cr_assert_eq(out[n - 2], 0, "the site");
	cr_assert_eq(out[n - 1], FLEET_NONE, "no device S1");
	fleet_free(f);
}
