/*
 * usage.c — see usage.h.
 */
#include "ai/usage.h"

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "storage/store_usage.h"

#define USAGE_KEEP_DAYS 40 /* enough for any monthly report, bounded for ever */

struct usage {
    store_usage *t;
};

usage *usage_open(store *st, char *err, size_t errlen)
{
    usage *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->t = store_usage_open(st, err, errlen);
    if (!u->t) {
        free(u);
        return NULL;
    }
    return u;
}

void usage_free(usage *u)
{
    if (!u)
        return;
    store_usage_free(u->t);
    free(u);
}

int usage_add(usage *u, int64_t user_id, const char *day, int64_t tokens)
{
    if (store_usage_add(u->t, user_id, day, tokens))
        return -1;
    /* days counted in UTC: a day either side of the zone's date does not
     * matter for a report's horizon */
    store_usage_prune(u->t, USAGE_KEEP_DAYS);
    return 0;
}

int64_t usage_today(usage *u, int64_t user_id, const char *day)
{
    return store_usage_get(u->t, user_id, day);
}

int usage_delete_user(usage *u, int64_t user_id)
{
    return store_usage_delete_user(u->t, user_id);
}

int usage_export_user(usage *u, int64_t user_id, cJSON *root)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "llm_usage");
    if (!arr || store_usage_export(u->t, user_id, arr) < 0)
        return -1;
    return 0;
}
