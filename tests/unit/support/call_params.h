/*
 * call_params.h — a rendered Bot API call's body as a cJSON tree, for the
 * checks of unit tests (tgu_render writes bodies as text).
 */
#ifndef BOTC_TEST_CALL_PARAMS_H
#define BOTC_TEST_CALL_PARAMS_H

#include <cjson/cJSON.h>

#include "telegram/tgupdate.h"

/* The call's body parsed (a CUnit failure when it does not parse); kept
 * until call_params_free, so checks can hold several at once. NULL when it
 * does not parse or too many are held. */
const cJSON *params_of(const tgu_call *c);
/* Frees every tree params_of returned. */
void call_params_free(void);

#endif
