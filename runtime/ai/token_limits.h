/*
 * token_limits.h — the daily LLM token limit of each user (the spec's
 * `llm: daily_tokens`, 0 = none), counted per local day of the spec's time
 * zone (`llm: timezone`, an IANA name; default UTC).
 *
 * Usage lives in usage.c's llm_usage table (one row per user and local
 * day, "YYYY-MM-DD"), so a day's total starts from zero at that zone's
 * midnight: there is nothing to reset, the next day is a new row.
 *
 * The local day. glibc's localtime_r reads the zone from $TZ, and changing
 * $TZ while other threads may read it is a data race. So the zone is set
 * once, in lim_zone_setup, at start (before the webhook or any other thread
 * exists), and every later lim_day is a plain localtime_r. That is safe for
 * the rest of the process because nothing else in botc uses local time:
 * logs and the database stamp UTC (gmtime_r, SQLite 'now').
 *
 * Exempt from the limit: ADMIN_USER_ID and the managers (the caller says
 * who is a manager: the handoff module keeps them).
 */
#ifndef BOTC_TOKEN_LIMITS_H
#define BOTC_TOKEN_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "storage/store.h"

typedef struct lim lim;

/* Makes `tz` (NULL or "" = UTC) the zone of localtime_r for this process:
 * once, at start, single-threaded. An unknown zone (no file under
 * /usr/share/zoneinfo or $TZDIR) is logged and UTC used. A $TZ already set
 * to another zone is replaced (logged): the limit's day must end where the
 * spec says. Returns 0, or -1 when it fell back to UTC. */
int lim_zone_setup(const char *tz);

/* The local date of t in the zone lim_zone_setup set, "YYYY-MM-DD" into
 * out (at least 11 bytes). */
void lim_day(time_t t, char *out, size_t outlen);

/* The limit in effect: $BOT_DAILY_TOKENS when set to a whole number
 * (tests and operators; 0 = no limit), else the spec's value. A bad value
 * is logged and ignored. */
long lim_tokens_from_env(long spec_tokens);

/* $ADMIN_USER_ID as a user id, 0 when unset or not a number (logged). */
int64_t lim_admin_from_env(void);

/* A limit of `daily` tokens per user per day (0 = none) over st's
 * llm_usage table (st borrowed; must outlive the handle); admin_id (0 =
 * none) is exempt. NULL on failure with the reason in err. */
lim *lim_new(store *st, long daily, int64_t admin_id, char *err, size_t errlen);
void lim_free(lim *l);

/* The clock lim_check reads (tests inject a fake one); NULL = time(). */
typedef time_t (*lim_clock)(void *ud);
void lim_set_clock(lim *l, lim_clock fn, void *ud);

/* May user_id have an LLM answer now? is_manager: the user is a manager
 * (exempt). Returns 1 yes, 0 no (today's tokens reached the limit), -1 on a
 * database error (the caller decides; bot.c lets the answer through). */
int lim_check(lim *l, int64_t user_id, int is_manager);

/* Adds tokens to user_id's count for the current local day (what the
 * online LLM path calls when an answer's usage is known). 0 or -1. */
int lim_record(lim *l, int64_t user_id, int64_t tokens);

/* The limit (0 = none). */
long lim_daily(const lim *l);

/* delete_data: the user's usage rows go too (today's included: a user who
 * erases everything starts the day's count again, as a new user would).
 * 0 or -1. NULL l is fine. */
int lim_forget_user(lim *l, int64_t user_id);
/* export_data: adds "llm_usage" (the user's days and tokens) to root. */
struct cJSON;
int lim_export_user(lim *l, int64_t user_id, struct cJSON *root);

#endif
