/*
 * call_params.c — see call_params.h.
 */
#include "call_params.h"

#include <CUnit/Basic.h>

#define HELD_MAX 512

static cJSON *g_held[HELD_MAX];
static int g_n;

const cJSON *params_of(const tgu_call *c)
{
    cJSON *j = c && c->body ? cJSON_Parse(c->body) : NULL;
    CU_ASSERT_PTR_NOT_NULL(j);
    if (!j || g_n >= HELD_MAX) {
        cJSON_Delete(j);
        return NULL;
    }
    g_held[g_n++] = j;
    return j;
}

void call_params_free(void)
{
    while (g_n > 0)
        cJSON_Delete(g_held[--g_n]);
}
