/*
 * token_limits.c — see token_limits.h.
 */
#include "ai/token_limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "ai/usage.h"

struct lim {
    usage *u;
    long daily;
    int64_t admin;
    lim_clock clock;
    void *clock_ud;
};

/* A zone name is a relative path under the zoneinfo directory: no "..", no
 * leading '/', only the characters IANA names use. */
static int zone_exists(const char *tz)
{
    if (!tz[0] || tz[0] == '/' || strstr(tz, ".."))
        return 0;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return 0;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int lim_zone_setup(const char *tz)
{
    int rc = 0;
    if (!tz || !*tz || !strcmp(tz, "UTC")) {
        tz = "UTC0";
    } else if (!zone_exists(tz)) {
        log_warn("limits", "time zone '%s' is not installed (tzdata); daily limits use UTC", tz);
        tz = "UTC0";
        rc = -1;
    }
    const char *cur = getenv("TZ");
    if (cur && *cur && strcmp(cur, tz) && strcmp(tz, "UTC0"))
        log_info("limits", "TZ=%s replaced by the spec's time zone %s (logs stay in UTC)", cur,
                 tz);
    if (!cur || strcmp(cur, tz)) {
        /* (a leading ':' is what POSIX says for a file name; glibc takes both) */
        setenv("TZ", tz, 1);
    }
    tzset();
    return rc;
}

void lim_day(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    if (!localtime_r(&t, &tm))
        gmtime_r(&t, &tm);
    if (!strftime(out, outlen, "%Y-%m-%d", &tm) && outlen)
        out[0] = '\0';
}

long lim_tokens_from_env(long spec_tokens)
{
    const char *v = getenv("BOT_DAILY_TOKENS");
    if (!v || !*v)
        return spec_tokens;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 0) {
        log_warn("limits", "BOT_DAILY_TOKENS=%s is not a whole number >= 0; using the spec's %ld",
                 v, spec_tokens);
        return spec_tokens;
    }
    return n;
}

int64_t lim_admin_from_env(void)
{
    const char *v = getenv("ADMIN_USER_ID");
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n <= 0) {
        log_warn("limits", "ADMIN_USER_ID=%s is not a user id; ignored", v);
        return 0;
    }
    return (int64_t)n;
}

lim *lim_new(store *st, long daily, int64_t admin_id, char *err, size_t errlen)
{
    lim *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->u = usage_open(st, err, errlen);
    if (!l->u) {
        free(l);
        return NULL;
    }
    l->daily = daily;
    l->admin = admin_id;
    return l;
}

void lim_free(lim *l)
{
    if (!l)
        return;
    usage_free(l->u);
    free(l);
}

void lim_set_clock(lim *l, lim_clock fn, void *ud)
{
    l->clock = fn;
    l->clock_ud = ud;
}

static time_t lim_now(const lim *l)
{
    return l->clock ? l->clock(l->clock_ud) : time(NULL);
}

int lim_check(lim *l, int64_t user_id, int is_manager)
{
    if (l->daily <= 0 || is_manager || (l->admin && user_id == l->admin))
        return 1;
    char day[16];
    lim_day(lim_now(l), day, sizeof day);
    int64_t used = usage_today(l->u, user_id, day);
    if (used < 0)
        return -1;
    if (used < l->daily)
        return 1;
    log_info("limits", "user %" PRId64 ": %" PRId64 " of %ld tokens used on %s; limit reached",
             user_id, used, l->daily, day);
    return 0;
}

int lim_record(lim *l, int64_t user_id, int64_t tokens)
{
    char day[16];
    lim_day(lim_now(l), day, sizeof day);
    return usage_add(l->u, user_id, day, tokens);
}

long lim_daily(const lim *l) { return l->daily; }

int lim_forget_user(lim *l, int64_t user_id)
{
    return l ? usage_delete_user(l->u, user_id) : 0;
}

int lim_export_user(lim *l, int64_t user_id, cJSON *root)
{
    return l ? usage_export_user(l->u, user_id, root) : 0;
}
