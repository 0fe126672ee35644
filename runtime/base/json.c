/*
 * json.c — see json.h.
 */
#include "base/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define JSON_I64_EXACT 9007199254740992.0 /* 2^53 */

int json_i64(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (cJSON_IsRaw(it) && it->valuestring) {
        /* written by json_add_i64 */
        char *end;
        errno = 0;
        long long v = strtoll(it->valuestring, &end, 10);
        if (errno || end == it->valuestring || *end || llabs(v) > (long long)JSON_I64_EXACT)
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return -1;
    double d = it->valuedouble;
    /* valueint saturates at INT_MAX; the double is exact up to 2^53. */
    if (!isfinite(d) || d != floor(d) || fabs(d) > JSON_I64_EXACT)
        return -1;
    *out = (int64_t)d;
    return 0;
}

cJSON *json_add_i64(cJSON *obj, const char *key, int64_t v)
{
    /* A raw item printed verbatim: cJSON prints a number with "%1.15g",
     * reads it back with sscanf and may print it again with "%1.17g", the
     * most expensive part of printing a Bot API call's body. */
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    return cJSON_AddRawToObject(obj, key, digits);
}

const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}
