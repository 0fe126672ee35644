/*
 * http_get.c — the `http_get` action: the answer is the body of
 * GET $BOT_HTTP_GET_URL?text=<the message>&user=<user id>.
 *
 * The first run of the input only asks for it (deferred I/O: the whole
 * input is rolled back and the chat waits); the transport runs the request
 * in its event loop and runs the input again with the answer, which is
 * sent in the action's place and committed with everything else.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/text.h"
#include "actions/registry.h"
#include "dialogue/action.h"

#define HTTP_GET_ANSWER_MAX 4096 /* UTF-16 units of an answer sent */

/* The part's state: the URL, NULL when unset or not http(s). */
static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    (void)b;
    *state = NULL;
    const char *u = getenv("BOT_HTTP_GET_URL");
    if (u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8))) {
        if (!(*state = strdup(u))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else if (u && *u) {
        log_warn("bot", "BOT_HTTP_GET_URL must start with http:// or https://; http_get is off");
    }
    return 0;
}

static void part_close(void *state) { free(state); }

const bot_part part_http_get = {.name = "http_get", .open = part_open, .close = part_close};

/* %-encodes s for a query string value. */
static int url_escape(text_buf *tb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = text_buf_addc(tb, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = text_buf_add(tb, e, 3);
        }
    }
    return rc;
}

static int http_get_run(bot_act *c)
{
    const char *base = bot_part_state(c->b, BOT_PART_HTTP_GET);
    if (!base || !c->io_req) {
        log_info("bot", "http_get for user %" PRId64 ": %s", c->s->user_id,
                 !base ? "BOT_HTTP_GET_URL is not set" : "no event loop to wait in (console)");
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    }
    if (!bot_act_can_defer(c))
        return 0;
    text_buf tb;
    text_buf_init(&tb, 16384);
    char uid[32];
    snprintf(uid, sizeof uid, "%" PRId64, c->s->user_id);
    int rc = text_buf_adds(&tb, base) ||
             text_buf_adds(&tb, strchr(base, '?') ? "&text=" : "?text=") ||
             url_escape(&tb, c->text) || text_buf_adds(&tb, "&user=") ||
             text_buf_adds(&tb, uid);
    char *url = rc ? NULL : text_buf_take(&tb);
    text_buf_free(&tb);
    if (!url)
        return -1;
    c->io_req->kind = BOT_IO_HTTP_GET;
    c->io_req->u.get.url = url;
    return 0;
}

static int http_get_resume(bot_act *c)
{
    const bot_io_res *res = c->io_res;
    if (!res->ok || !res->body || !res->len || !text_utf8_valid(res->body, res->len)) {
        log_warn("bot", "http_get for user %" PRId64 " failed (%s), answering sys_unavailable",
                 c->s->user_id, res->error ? res->error : "empty or not UTF-8 text");
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    }
    char *body = malloc(res->len + 1);
    if (!body)
        return -1;
    memcpy(body, res->body, res->len);
    body[res->len] = '\0';
    char *t = text_truncate(body, HTTP_GET_ANSWER_MAX);
    free(body);
    return bot_act_say(c, t);
}

const bot_action act_http_get = {.name = "http_get", .run = http_get_run,
                                 .resume = http_get_resume};
