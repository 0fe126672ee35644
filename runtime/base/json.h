/*
 * json.h — cJSON helpers: 64-bit integers and strings read and written safely.
 *
 * cJSON keeps numbers as double, and valueint is an int, so 64-bit ids
 * (Telegram's chat ids, for one) are read with json_i64 (exact up to 2^53,
 * which covers every Telegram id) and written with json_add_i64.
 */
#ifndef BOTC_JSON_H
#define BOTC_JSON_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* Reads obj[key] as an integral number (or json_add_i64's raw digits)
 * into *out. Returns 0, or -1 when it is missing, not a number, not
 * integral or beyond ±2^53 (*out untouched). obj may be NULL. */
int json_i64(const cJSON *obj, const char *key, int64_t *out);

/* Adds key: v as a JSON number (exact for |v| <= 2^53). The item is a
 * cJSON raw item holding the decimal digits (cheaper to print than a
 * cJSON number), so read it back with json_i64, not valuedouble.
 * Returns the new item (owned by obj), or NULL on out-of-memory. */
cJSON *json_add_i64(cJSON *obj, const char *key, int64_t v);

/* obj[key] when it is a string, else NULL. Borrowed from obj. */
const char *json_str(const cJSON *obj, const char *key);

#endif
