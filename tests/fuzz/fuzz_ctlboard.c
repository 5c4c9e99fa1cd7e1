/*
 * fuzz_ctlboard.c - libFuzzer target for the board of tocsinctl watch
 * (daemon/ctlboard): what it reads from the server and the terminal.
 * Input: lines; each is an incident event's JSON for ctlboard_apply, or,
 * after a line "KEYS", the rest is key bytes for ctlboard_key.  Any
 * input: apply answers 1, 0 or -EINVAL; the board stays sorted and holds
 * no id twice; every frame (several sizes, with and without colour) is
 * NUL-terminated at its length and holds no byte below 0x20 but ESC, CR
 * and LF (so nothing from the server reaches the terminal as a control).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctlboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_NOW	1764800000000LL

/* Frames of the first n sizes, with and without colour. */
static void
fz_frames(struct ctlboard *b, size_t n)
{
	static const unsigned sz[][2] = { { 80, 24 }, { 20, 4 }, { 300, 7 } };

	for (size_t i = 0; i < n; i++)
		for (int colour = 0; colour < 2; colour++) {
			size_t len;
			char *f = ctlboard_frame(b, FZ_NOW, sz[i][0], sz[i][1],
			    colour, "fuzz", &len);

			if (f[len] != '\0' || strlen(f) != len)
				abort();
			for (size_t k = 0; k < len; k++) {
				unsigned char c = (unsigned char)f[k];

				if (c < 0x20 && c != 0x1b && c != '\r' &&
				    c != '\n')
					abort();
				if (c >= 0x7f)
					abort();
			}
			free(f);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctlboard b;
	char *s = malloc(size + 1), *p, *nl;
	size_t used;

	memcpy(s, data, size);
	s[size] = '\0';
	ctlboard_init(&b);
	for (p = s; *p; p = nl + 1) {
		int rc;

		nl = strchr(p, '\n');
		if (strncmp(p, "KEYS\n", 5) == 0) {
			const char *k = p + 5;
			size_t n = size - (size_t)(k - s);

			unsigned nk = 0;

			while (n > 0) {
				enum ctlboard_act a = ctlboard_key(&b, k, n,
				    &used);

				if (used == 0 || used > n || a > CTLBOARD_ACK)
					abort();
				if (a == CTLBOARD_ACK && ctlboard_selected(&b) ==
				    NULL)
					abort();
				k += used;
				n -= used;
				if (++nk <= 16)	/* frames cost: not every key */
					fz_frames(&b, 1);
			}
			break;
		}
		rc = ctlboard_apply(&b, p, nl ? (size_t)(nl - p) : strlen(p));
		if (rc != 0 && rc != 1 && rc != -EINVAL)
			abort();
		if (nl == NULL)
			break;
	}
	for (size_t i = 0; i < b.n; i++)
		for (size_t k = i + 1; k < b.n; k++)
			if (strcmp(b.v[i].id, b.v[k].id) == 0)
				abort();
	for (size_t i = 1; i < b.n; i++) {
		const struct ctlboard_inc *x = &b.v[i - 1], *y = &b.v[i];

		if (x->deadline == 0 && y->deadline != 0)
			abort();	/* running deadlines first */
		if (x->deadline && y->deadline && x->deadline > y->deadline)
			abort();
	}
	fz_frames(&b, 3);
	ctlboard_fini(&b);
	free(s);
	return 0;
}
