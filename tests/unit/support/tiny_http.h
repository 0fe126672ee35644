/*
 * tiny_http.h — a tiny HTTP server on 127.0.0.1 for the net/ tests
 * (libmicrohttpd, a thread per connection, a random port). Its routes:
 *
 *   GET  /hello                 200 "hello"
 *   GET  /bytes?n=N             200, N bytes of 'x' (Content-Length)
 *   GET  /endless               200, a chunked body that never ends
 *   GET  /status?code=C&retry_after=S   C, body "status C", Retry-After: S if given
 *   GET  /slow?ms=M             200 "slow" after M ms
 *   POST /echo                  200 "<Content-Type>|<X-Test>|<body>"
 */
#ifndef BOTC_TINY_HTTP_H
#define BOTC_TINY_HTTP_H

#include <stddef.h>

/* Starts the server; its base URL ("http://127.0.0.1:PORT") into base.
 * Returns 0, or -1. One server per process. */
int tiny_http_start(char *base, size_t len);
void tiny_http_stop(void);

/* TCP connections accepted so far. */
int tiny_http_connections(void);

/* Requests for path (without the query) that reached the server so far,
 * counted as their headers arrive. */
int tiny_http_hits(const char *path);

#endif
