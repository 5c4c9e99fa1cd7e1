/*
 * fuzz_action.c - libFuzzer target for the tocsin.actions parser
 * (kafka_action_parse): any bytes get an action or one of the documented
 * reasons, never a crash.  An accepted action must hold what the engine
 * requires: an incident id under CORR_ID_LEN bytes, a known verb, a
 * non-empty actor within CORR_ACTOR_MAX, a note within CORR_NOTE_MAX (and
 * one for note and pause), and a time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/kafka/kafka.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct corr_action a;
	json_t *root = NULL;
	const char *why;

	why = kafka_action_parse(data, size, 1796000000000LL, &root, &a);
	if (why == NULL) {
		if (a.incident == NULL || strlen(a.incident) == 0 ||
		    strlen(a.incident) >= CORR_ID_LEN ||
		    a.type >= CORR_ACT__COUNT || a.actor == NULL ||
		    strlen(a.actor) == 0 || strlen(a.actor) > CORR_ACTOR_MAX ||
		    (a.note != NULL && strlen(a.note) > CORR_NOTE_MAX) ||
		    a.satisfaction > 5 || (a.satisfaction != 0 &&
		    a.type != CORR_ACT_CLOSE) ||
		    ((a.type == CORR_ACT_NOTE || a.type == CORR_ACT_PAUSE) &&
		    a.note == NULL))
			abort();
	} else if (strlen(why) == 0)
		abort();
	json_decref(root);
	return 0;
}
