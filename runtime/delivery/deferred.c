/*
 * deferred.c — see deferred.h.
 */
#include "delivery/deferred.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "delivery/draft.h"

#define DEFERRED_REASON_MAX 300

struct deferred {
    tg_client *tg;
    draft_ctx *drafts; /* model answers streaming into chats */
    long timeout_ms;
    size_t max_body;
};

/* One request in flight; fn NULL once abandoned. */
struct deferred_job {
    deferred_done_fn fn;
    void *ud;
    int owner;
};

deferred *deferred_new(tg_client *tg, outq *q, long timeout_ms, size_t max_body)
{
    deferred *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->tg = tg;
    d->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    d->max_body = max_body ? max_body : 65536;
    d->drafts = draft_new(tg, q);
    if (!d->drafts) {
        free(d);
        return NULL;
    }
    return d;
}

void deferred_free(deferred *d)
{
    if (!d)
        return;
    draft_free(d->drafts);
    free(d);
}

void deferred_abandon(deferred_job *job)
{
    if (job)
        job->fn = NULL;
}

static void finish(deferred_job *j, bot_io_res *res)
{
    res->owner = j->owner;
    if (j->fn)
        j->fn(j->ud, res);
    free(j);
}

/* The model's answer (draft.c). */
static void on_answer(void *ud, const bot_io_res *res)
{
    bot_io_res r = *res;
    finish(ud, &r);
}

/* An HTTP GET's or a Bot API call's answer. */
static void on_fetch(const tg_result *r, void *ud)
{
    char why[DEFERRED_REASON_MAX];
    bool ok = r->err == TG_OK && r->body;
    if (!ok)
        snprintf(why, sizeof why, "%s: %s", tg_err_str(r->err), r->description);
    bot_io_res res = {
        .ok = ok,
        .status = r->http_status,
        .body = ok ? r->body : NULL,
        .len = ok ? r->body_len : 0,
        .error = ok ? NULL : why,
        .maybe_taken = r->maybe_taken,
    };
    finish(ud, &res);
}

deferred_job *deferred_start(deferred *d, const bot_io_req *req, deferred_done_fn fn, void *ud,
                             const char **why)
{
    deferred_job *j = calloc(1, sizeof *j);
    if (!j) {
        *why = tg_err_str(TG_ERR_NOMEM);
        return NULL;
    }
    *j = (deferred_job){.fn = fn, .ud = ud, .owner = req->owner};
    tg_err e = TG_ERR_CONFIG;
    switch (req->kind) {
    case BOT_IO_LLM: /* a model answer, streamed to the chat meanwhile */
        e = draft_start(d->drafts, req, on_answer, j) == 0 ? TG_OK : TG_ERR_CONFIG;
        break;
    case BOT_IO_TG_CALL: /* a Bot API call (handoff's createForumTopic) */
        e = tg_call(d->tg, req->u.tg.method,
                    cJSON_Parse(req->u.tg.params ? req->u.tg.params : "{}"), on_fetch, j);
        break;
    case BOT_IO_HTTP_GET:
        e = tg_fetch(d->tg, req->u.get.url, d->timeout_ms, d->max_body, on_fetch, j);
        break;
    case BOT_IO_NONE:
        break;
    }
    if (e == TG_OK)
        return j;
    free(j);
    *why = tg_err_str(e);
    return NULL;
}
