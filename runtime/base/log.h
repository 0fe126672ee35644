/*
 * log.h — leveled logging to stderr.
 *
 *   2026-11-21T12:00:00Z INFO  tg: getUpdates ok (3 updates)
 *
 * The level comes from BOT_LOG_LEVEL (debug, info, warn, error; default
 * info). Every line goes through log_redact first, so a secret registered
 * with log_add_secret (the bot token, the webhook secret, API keys) never
 * reaches the log, even inside a URL.
 */
#ifndef BOTC_LOG_H
#define BOTC_LOG_H

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_init_from_env(void);
void log_set_level(log_level l);
int log_enabled(log_level l);

/* Remember a secret to mask as "***" in every later line. The string is
 * copied; empty strings are ignored. Up to 8 secrets. */
void log_add_secret(const char *secret);

void log_msg(log_level l, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
