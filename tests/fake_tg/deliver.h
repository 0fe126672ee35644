/*
 * deliver.h — webhook delivery of the fake Bot API (internal to tests/fake_tg).
 *
 * While a webhook is set (setWebhook), worker threads POST the queued
 * updates, one per request, to the webhook URL with the
 * X-Telegram-Bot-Api-Secret-Token header, as Telegram does:
 *   - up to max_connections requests at once (setWebhook's, default 40);
 *   - one chat's updates in order: an update waits while an earlier update
 *     of its chat is queued or in flight;
 *   - an update leaves the queue only on a 2xx answer; any other status, a
 *     refused or dropped connection or a timeout is retried after a delay
 *     that doubles from opts.webhook_retry_ms up to 10 times that.
 * Deliveries go to opts.webhook_proxy + the URL's path when a proxy is set
 * (a stand-in for the TLS-terminating reverse proxy in front of a bot);
 * otherwise to the URL itself with https:// read as http://.
 *
 * fake_dl_start / fake_dl_stop expect the fake's lock NOT to be held.
 */
#ifndef BOTC_FAKE_TG_DELIVER_H
#define BOTC_FAKE_TG_DELIVER_H

#include <pthread.h>
#include <time.h>

#include "fake_tg.h"

typedef struct fake_dl fake_dl;

/* Starts the workers (idle until a webhook is set). NULL on failure. */
fake_dl *fake_dl_start(fake_tg *ft, const fake_tg_opts *o);
/* The fake calls this (its lock held) after setWebhook / deleteWebhook:
 * workers are started on the first webhook and woken. */
void fake_dl_webhook_changed(fake_dl *d);
/* Stops the workers (in-flight requests are aborted) and frees d. */
void fake_dl_stop(fake_dl *d);

/* ---- hooks fake_tg.c provides for deliver.c ------------------------------ */

void fake__lock(fake_tg *ft);
void fake__unlock(fake_tg *ft);
/* pthread_cond_timedwait on the fake's condition (lock held); abs is
 * CLOCK_REALTIME. */
void fake__wait(fake_tg *ft, const struct timespec *abs);
void fake__broadcast(fake_tg *ft);
/* The same wait on another condition variable (with the fake's mutex). */
void fake__wait_on(fake_tg *ft, pthread_cond_t *cv, const struct timespec *abs);
bool fake__stopping(const fake_tg *ft);
/* The webhook set, or NULL; its secret_token ("" if none) and
 * max_connections. Borrowed under the lock. */
const char *fake__webhook_url(const fake_tg *ft);
const char *fake__webhook_secret(const fake_tg *ft);
int fake__webhook_max_connections(const fake_tg *ft);
/* The update queue (ascending update_id), under the lock. */
size_t fake__nupdates(const fake_tg *ft);
const cJSON *fake__update(const fake_tg *ft, size_t i);
bool fake__update_allowed(const fake_tg *ft, const cJSON *u);
/* Removes the update with this id from the queue (delivered). */
void fake__remove_update(fake_tg *ft, int64_t update_id);

#endif
