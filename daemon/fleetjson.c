/*
 * fleetjson.c - see fleetjson.h.  jansson does the parsing; this file only
 * checks shapes and resolves ids (a device's `via` may name a device listed
 * after it, so gateways are resolved in a second pass).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "daemon/fleetjson.h"

static const char *
fj_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

struct fleet *
fleetjson_load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *sites, *devices, *v;
	struct fleet *f = NULL;
	size_t i;

	if ((root = json_load_file(path, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line,
		    jerr.column, jerr.text);
		return NULL;
	}
	sites = json_object_get(root, "sites");
	devices = json_object_get(root, "devices");
	if (!json_is_array(sites) || !json_is_array(devices)) {
		snprintf(err, errlen, "%s: want arrays sites and devices", path);
		goto err;
	}
	f = fleet_new();
	json_array_foreach(sites, i, v) {
		const char *id = fj_str(v, "id"), *area = fj_str(v, "area");
		const char *region = fj_str(v, "region");
		json_t *tenants = json_object_get(v, "tenants"), *t;
		enum region rg = REGION_A;
		uint32_t s;
		size_t k;

		if (id == NULL || area == NULL) {
			snprintf(err, errlen, "%s: sites[%zu]: want id and area",
			    path, i);
			goto err;
		}
		if (region != NULL && region_parse(region, &rg) != 0) {
			snprintf(err, errlen, "%s: sites[%zu].region: %s", path,
			    i, region);
			goto err;
		}
		if ((s = fleet_add_site(f, id)) == FLEET_NONE) {
			snprintf(err, errlen, "%s: sites[%zu]: duplicate id %s",
			    path, i, id);
			goto err;
		}
		f->sites[s].area = fleet_area(f, area);
		f->sites[s].region = (uint8_t)rg;
		json_array_foreach(tenants, k, t) {
			const char *c = fj_str(t, "customer");
			const char *tier = fj_str(t, "tier");
			enum tier tr;

			if (c == NULL || tier == NULL || tier_parse(tier, &tr)) {
				snprintf(err, errlen, "%s: sites[%zu].tenants[%zu]:"
				    " want customer and tier", path, i, k);
				goto err;
			}
			fleet_site_add_tenant(&f->sites[s], c, tr);
		}
	}
	json_array_foreach(devices, i, v) {
		const char *id = fj_str(v, "id"), *site = fj_str(v, "site");
		uint32_t d, s;

		if (id == NULL || site == NULL ||
		    (s = fleet_find_site(f, site)) == FLEET_NONE) {
			snprintf(err, errlen, "%s: devices[%zu]: want id and a "
			    "known site", path, i);
			goto err;
		}
		if ((d = fleet_add_device(f, id)) == FLEET_NONE) {
			snprintf(err, errlen, "%s: devices[%zu]: duplicate id %s",
			    path, i, id);
			goto err;
		}
		f->devices[d].site = s;
	}
	json_array_foreach(devices, i, v) {
		const char *via = fj_str(v, "via");
		uint32_t g;

		if (via == NULL)
			continue;
		if ((g = fleet_find_device(f, via)) == FLEET_NONE) {
			snprintf(err, errlen, "%s: devices[%zu].via: unknown %s",
			    path, i, via);
			goto err;
		}
		f->devices[i].via = g;
	}
	json_decref(root);
	return f;
err:
	fleet_free(f);
	json_decref(root);
	return NULL;
}
