/*
 * fake_tool.h — a fake of the HTTP services desk's example tools call, for
 * end-to-end tests (libmicrohttpd on 127.0.0.1, a thread per connection),
 * strict as the real ones are about what they accept:
 *
 *   GET  /wttr/<city>?format=j1&lang=<en|ru>      wttr.in's JSON weather
 *   GET  /coingecko/simple/price?ids=<coin>&vs_currencies=<cur>
 *                                                 CoinGecko's simple price
 *   POST /tavily/search  Authorization: Bearer <key>, a JSON body
 *        {"query": "...", "max_results": N}       Tavily's web search
 *   GET  /notes?user=<digits>&q=<text>            a per-user service (the
 *                                                 e2e fixture bot's tool)
 *
 * Another path is 404, another method 405, a missing or malformed
 * parameter, header or body 400 (each with the reason in the body and in
 * the record). Every request is recorded as "METHOD /path?k=v&k=v" with
 * decoded values in the order sent, and its body.
 */
#ifndef BOTC_FAKE_TOOL_H
#define BOTC_FAKE_TOOL_H

#include <stddef.h>

#define FAKETOOL_KEY "test-search-key" /* the Bearer token /tavily/search wants */

typedef struct faketool faketool;

/* On a free port; NULL with a reason on failure. */
faketool *faketool_start(char *err, size_t errlen);
void faketool_stop(faketool *t);
/* "http://127.0.0.1:<port>" (owned by t) */
const char *faketool_base(const faketool *t);

/* The next `times` requests (-1 = all) wait delay_ms, then answer status
 * (0 = as usual) with a typical error body. */
void faketool_fault(faketool *t, int status, int delay_ms, int times);

/* Requests so far; request i as "METHOD /path?query\nBODY" (malloc'd), or
 * NULL when out of range. Rejections (400) are recorded with "\n! why". */
int faketool_requests(faketool *t);
char *faketool_request(faketool *t, int i);

#endif
