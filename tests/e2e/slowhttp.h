/*
 * slowhttp.h — a slow HTTP service for end-to-end tests of actions that
 * wait for an answer (action: http_get): GET /ask?text=T&user=U answers
 * "answer: T" after a delay, so a test sees whether the bot keeps serving
 * other chats meanwhile. libmicrohttpd, a thread per connection, 127.0.0.1.
 */
#ifndef BOTC_E2E_SLOWHTTP_H
#define BOTC_E2E_SLOWHTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct slowhttp slowhttp;

/* Starts the service on a free port; every answer waits delay_ms. NULL
 * with a reason in err on failure. */
slowhttp *slowhttp_start(int delay_ms, char *err, size_t errlen);
void slowhttp_stop(slowhttp *s);
/* "http://127.0.0.1:PORT/ask" into buf. */
void slowhttp_url(const slowhttp *s, char *buf, size_t len);
/* Requests answered so far, and the most in progress at once. */
unsigned slowhttp_served(slowhttp *s);
unsigned slowhttp_max_parallel(slowhttp *s);

#endif
