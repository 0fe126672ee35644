/*
 * deferred.c — see deferred.h.
 */
#include "delivery/deferred.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ai/embed.h"
#include "ai/llm.h"
#include "base/log.h"
#include "delivery/draft.h"
#include "delivery/listen.h"
#include "net/http.h"

#define DEFERRED_REASON_MAX 300

struct deferred {
    loop *lp;
    tg_client *tg;
    draft_ctx *drafts; /* model answers streaming into chats */
    embed_client *ec;  /* questions' embeddings; made on the first request */
    bool ec_failed;    /* EMBEDDINGS_BASE unset or unusable: asked once */
    struct deferred_job *embeds; /* jobs waiting for ec (freed with it) */
    listen_ctx *listen;  /* voice notes' transcripts */
    long timeout_ms;
    size_t max_body;
};

/* One request in flight; fn NULL once abandoned. */
struct deferred_job {
    deferred_done_fn fn;
    void *ud;
    int owner;
    bot_io_kind kind;
    deferred *d;                        /* BOT_IO_EMBED: its list ... */
    struct deferred_job *prev, *next;   /* ... of d->embeds */
};

deferred *deferred_new(loop *lp, tg_client *tg, outq *q, long timeout_ms, size_t max_body)
{
    deferred *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->lp = lp;
    d->tg = tg;
    d->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    d->max_body = max_body ? max_body : 65536;
    d->drafts = draft_new(lp, q);
    d->listen = listen_new(lp, tg);
    if (!d->drafts || !d->listen) {
        draft_free(d->drafts);
        listen_free(d->listen);
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
    listen_free(d->listen);
    embed_free(d->ec); /* its callbacks never run: the jobs go here */
    while (d->embeds) {
        struct deferred_job *j = d->embeds;
        d->embeds = j->next;
        free(j);
    }
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
    res->kind = j->kind;
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

/* An answer whose body is the whole reply. why: the error's name when the
 * request failed, NULL when it succeeded. */
static void answer(deferred_job *j, const char *why, const char *desc, long status,
                   const char *body, size_t len, int maybe_taken)
{
    char text[DEFERRED_REASON_MAX];
    bool ok = !why && body;
    if (!ok)
        snprintf(text, sizeof text, "%s: %s", why ? why : "ok", desc ? desc : "no body");
    bot_io_res res = {
        .ok = ok,
        .status = status,
        .body = ok ? body : NULL,
        .len = ok ? len : 0,
        .error = ok ? NULL : text,
        .maybe_taken = maybe_taken,
    };
    finish(j, &res);
}

/* A Bot API call's answer: its whole reply is the body. */
static void on_call(const tg_result *r, void *ud)
{
    answer(ud, r->err == TG_OK ? NULL : tg_err_str(r->err), r->description, r->http_status,
           r->body, r->body_len, r->maybe_taken);
}

/* An HTTP GET's answer. */
static void on_fetch(const http_result *r, void *ud)
{
    answer(ud, r->err == HTTP_OK ? NULL : http_err_str(r->err), r->description, r->status,
           r->body, r->body_len, r->maybe_taken);
}

/* The question's embedding: its vector is the body (float32). */
static void on_embed(void *ud, const embed_result *r)
{
    deferred_job *j = ud;
    if (j->prev)
        j->prev->next = j->next;
    else
        j->d->embeds = j->next;
    if (j->next)
        j->next->prev = j->prev;
    bool ok = r->status == EMBED_OK && r->n == 1 && r->dims > 0;
    bot_io_res res = {
        .ok = ok,
        .status = r->http_status,
        .body = ok ? (const char *)r->vecs : NULL,
        .len = ok ? (size_t)r->dims * sizeof(float) : 0,
        .error = ok ? NULL : r->error && *r->error ? r->error : embed_status_str(r->status),
    };
    finish(j, &res);
}

/* Starts the embedding of text; NULL-free reason in the return. */
static const char *start_embed(deferred *d, deferred_job *j, const char *text)
{
    if (!d->ec && !d->ec_failed) {
        embed_options o = embed_options_from_env();
        char err[256];
        d->ec = o.base && *o.base ? embed_new(d->lp, &o, err, sizeof err) : NULL;
        if (!d->ec) {
            d->ec_failed = true;
            if (o.base && *o.base)
                log_error("deferred", "no embeddings client: %s", err);
        }
    }
    if (!d->ec)
        return "no embeddings server (EMBEDDINGS_BASE)";
    j->d = d;
    j->next = d->embeds;
    if (d->embeds)
        d->embeds->prev = j;
    d->embeds = j;
    if (embed_texts(d->ec, &text, 1, on_embed, j))
        return NULL;
    d->embeds = j->next;
    if (d->embeds)
        d->embeds->prev = NULL;
    return "the embeddings request could not start";
}

/* A voice note's transcript (delivery/voice.c). */
static void on_voice(void *ud, const bot_io_res *res)
{
    bot_io_res r = *res;
    finish(ud, &r);
}

void deferred_pump(deferred *d) { listen_pump(d->listen); }

bool deferred_ready(const deferred *d) { return listen_ready(d->listen); }

deferred_job *deferred_start(deferred *d, const bot_io_req *req, deferred_done_fn fn, void *ud,
                             const char **why)
{
    deferred_job *j = calloc(1, sizeof *j);
    if (!j) {
        *why = "out of memory";
        return NULL;
    }
    *j = (deferred_job){.fn = fn, .ud = ud, .owner = req->owner, .kind = req->kind};
    const char *failed = "nothing to do"; /* NULL once started */
    switch (req->kind) {
    case BOT_IO_LLM: { /* a model answer, streamed to the chat meanwhile */
        int rc = draft_start(d->drafts, req, on_answer, j);
        failed = rc == 0 ? NULL : rc == DRAFT_CIRCUIT_OPEN ? LLM_CIRCUIT_REASON
                                                            : "no model client";
        break;
    }
    case BOT_IO_TG_CALL: { /* a Bot API call (handoff's createForumTopic) */
        tg_err e = tg_call(d->tg, req->u.tg.method,
                           cJSON_Parse(req->u.tg.params ? req->u.tg.params : "{}"), on_call, j);
        failed = e == TG_OK ? NULL : tg_err_str(e);
        break;
    }
    case BOT_IO_HTTP_GET: {
        http_err e = http_get(d->lp, req->u.get.url, d->timeout_ms, d->max_body, on_fetch, j);
        failed = e == HTTP_OK ? NULL : http_err_str(e);
        break;
    }
    case BOT_IO_EMBED:
        failed = req->u.embed.text && *req->u.embed.text ? start_embed(d, j, req->u.embed.text)
                                                         : "nothing to embed";
        break;
    case BOT_IO_VOICE: {
        const char *vwhy = NULL;
        failed = listen_start(d->listen, req, on_voice, j, &vwhy) ? NULL : vwhy ? vwhy : "failed";
        break;
    }
    case BOT_IO_NONE:
        break;
    }
    if (!failed)
        return j;
    free(j);
    *why = failed;
    return NULL;
}
