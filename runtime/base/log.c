/*
 * log.c — leveled logging to stderr with secret redaction (see log.h).
 *
 * Lines are formatted into a fixed buffer first, so a secret can be masked
 * before anything reaches the stream, and one line is written with one
 * fwrite under the stream lock (lines of different threads do not mix).
 */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_MAX_SECRETS 8
#define LOG_LINE_MAX 4096
/* Each secret is masked raw and in its URL-encoded forms (upper and lower
 * hex), because tokens travel inside URLs ("123:AB" -> "123%3AAB"). */
#define LOG_FORMS 3

static log_level g_level = LOG_INFO;
static char *g_secrets[LOG_MAX_SECRETS][LOG_FORMS];
static int g_n_secrets;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(log_level l) { g_level = l; }

int log_enabled(log_level l) { return l >= g_level; }

void log_init_from_env(void)
{
    const char *v = getenv("BOT_LOG_LEVEL");
    if (!v || !*v)
        return;
    if (!strcasecmp(v, "debug"))
        g_level = LOG_DEBUG;
    else if (!strcasecmp(v, "info"))
        g_level = LOG_INFO;
    else if (!strcasecmp(v, "warn") || !strcasecmp(v, "warning"))
        g_level = LOG_WARN;
    else if (!strcasecmp(v, "error"))
        g_level = LOG_ERROR;
}

static int url_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

/* URL-encode s with the given hex digits; NULL on OOM. */
static char *url_encode(const char *s, const char *hex)
{
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (url_unreserved(c)) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    out[j] = '\0';
    return out;
}

void log_add_secret(const char *secret)
{
    if (!secret || !*secret)
        return;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_n_secrets; i++) {
        if (!strcmp(g_secrets[i][0], secret)) {
            pthread_mutex_unlock(&g_lock);
            return;
        }
    }
    if (g_n_secrets < LOG_MAX_SECRETS) {
        char **slot = g_secrets[g_n_secrets];
        slot[0] = strdup(secret);
        slot[1] = url_encode(secret, "0123456789ABCDEF");
        slot[2] = url_encode(secret, "0123456789abcdef");
        if (slot[0])
            g_n_secrets++;
    }
    pthread_mutex_unlock(&g_lock);
}

/* Replace every occurrence of `secret` in buf (NUL-terminated, capacity cap)
 * with "***". The mask is never longer than what it replaces unless the
 * secret is shorter than 3 bytes, in which case we still fit by truncating. */
static void redact_one(char *buf, size_t cap, const char *secret)
{
    size_t sl = strlen(secret);
    if (sl == 0)
        return;
    char tmp[2 * LOG_LINE_MAX];
    size_t j = 0;
    const char *p = buf;
    int changed = 0;
    while (*p) {
        if (!strncmp(p, secret, sl)) {
            for (const char *m = "***"; *m && j + 1 < sizeof tmp; m++)
                tmp[j++] = *m;
            p += sl;
            changed = 1;
        } else {
            if (j + 1 < sizeof tmp)
                tmp[j++] = *p;
            p++;
        }
    }
    if (!changed)
        return;
    tmp[j] = '\0';
    size_t n = j < cap - 1 ? j : cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

static void redact(char *buf, size_t cap)
{
    for (int i = 0; i < g_n_secrets; i++)
        for (int f = 0; f < LOG_FORMS; f++)
            if (g_secrets[i][f])
                redact_one(buf, cap, g_secrets[i][f]);
}

static const char *level_name(log_level l)
{
    switch (l) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO ";
    case LOG_WARN: return "WARN ";
    case LOG_ERROR: return "ERROR";
    }
    return "?    ";
}

void log_msg(log_level l, const char *module, const char *fmt, ...)
{
    if (!log_enabled(l))
        return;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);

    /* Formatted into twice the output cap and redacted before cutting, so
     * a secret straddling the cut cannot leak its first half. */
    char line[2 * LOG_LINE_MAX];
    int pre = snprintf(line, sizeof line, "%s %s %.40s: ", ts, level_name(l),
                       module ? module : "-");
    if (pre < 0 || (size_t)pre >= sizeof line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + pre, sizeof line - (size_t)pre, fmt, ap);
    va_end(ap);
    /* One record per line: a newline inside a message would let input
     * forge log lines. */
    for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    pthread_mutex_lock(&g_lock);
    redact(line, sizeof line);
    pthread_mutex_unlock(&g_lock);
    size_t n = strlen(line);
    if (n > LOG_LINE_MAX)
        n = LOG_LINE_MAX;
    flockfile(stderr);
    fwrite(line, 1, n, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
}
