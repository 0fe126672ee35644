/*
 * slowclient.h — slowloris clients for end-to-end tests of the webhook
 * server: N real TCP connections to 127.0.0.1:PORT (from a chosen local
 * address of 127/8, so a test can be one address or many) that send a
 * POST's request line and then one header byte every few hundred ms,
 * never finishing the headers. A connection the server closes is counted
 * and opened again at once, as an attacker would. One thread, poll(2).
 */
#ifndef BOTC_E2E_SLOWCLIENT_H
#define BOTC_E2E_SLOWCLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct slowclient slowclient;

/* Starts n clients (1..1000) connecting to 127.0.0.1:port from address
 * `from` (dotted, of 127/8; NULL = 127.0.0.1), each sending a byte every
 * every_ms. NULL with a reason in err on failure. */
slowclient *slowclient_start(uint16_t port, int n, const char *from, int every_ms, char *err,
                             size_t errlen);
/* Stops the thread and closes every socket. NULL is fine. */
void slowclient_stop(slowclient *c);

typedef struct slowclient_stats {
    unsigned long opened;     /* connections made (the first n and every reopening) */
    unsigned long refused;    /* closed by the server within 1 s of connecting (a cap) */
    unsigned long cut;        /* closed by the server later (a deadline) */
    unsigned long max_life_ms;/* the longest a connection stayed open */
    int open_now;             /* connected right now */
} slowclient_stats;
slowclient_stats slowclient_get_stats(slowclient *c);

#endif
