/*
 * inbox.c — see inbox.h.
 *
 * Waiting updates are one FIFO in arrival order (update_id order within a
 * batch and across a restore). inbox_run walks it: an update whose chat
 * already has an earlier update waiting in this walk (one waiting for an
 * answer, or one deferred just now) is skipped, so a chat never overtakes
 * itself, while every other chat is handled.
 */
#include "delivery/inbox.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "delivery/deferred.h"
#include "delivery/voice.h"
#include "base/jsonscan.h"
#include "net/loop.h"
#include "storage/store.h"
#include "telegram/tgupdate.h"

#define IB_REASON_MAX 300

typedef enum ib_io { IB_IO_NONE = 0, IB_IO_WAITING, IB_IO_DONE } ib_io;

typedef struct ib_item {
    struct ib_item *prev, *next;
    struct inbox *ib;
    int64_t update_id, chat_id;
    char *json;          /* the Update as stored, NUL-terminated; its
                          * parse's strings after the NUL (json_buf) */
    size_t json_len;
    bool parsed;         /* in holds its parse: from arrival, or from the
                          * first run after a restart (kept for a deferred
                          * update's second run) */
    bm_input in;         /* its strings point into json's buffer */
    ib_io io;
    deferred_job *job;   /* while IB_IO_WAITING */
    bot_io_res res;      /* IB_IO_DONE: body and error owned (below) */
    char *res_body, *res_error, *res_tools;
    char *transcript;    /* a voice note's: in.text once it arrived */
} ib_item;

struct inbox {
    bot *b;
    store *st;
    loop *lp;
    outq *q;
    inbox_options opt;
    ib_item *head, *tail;
    size_t n;
    int n_io;
    inbox_stats stats;
    bm_effects fx;
    tgu_calls calls;
    int64_t *seen;       /* open-addressing set of chats skipped in a walk */
    size_t seen_cap;
    bool kick;           /* something may have become runnable */
    deferred *io;        /* runs the requests of deferred updates */
    size_t voice_chars;  /* TTS_MAX_CHARS: a voice answer's piece (delivery/voice.h) */
    uint32_t skipped_kinds; /* update kinds (tgu_update_kind) already logged at INFO */
    char username[64];      /* the bot's (getMe); "" = unknown */
    bool no_id_warned;      /* an item without update_id was logged at WARN; reset by a
                             * batch without one */
};

inbox *inbox_new(bot *b, loop *lp, tg_client *tg, outq *q, const inbox_options *opts)
{
    inbox *ib = calloc(1, sizeof *ib);
    if (!ib)
        return NULL;
    if (opts)
        ib->opt = *opts;
    if (ib->opt.batch_max <= 0) ib->opt.batch_max = 128;
    if (ib->opt.io_timeout_ms <= 0) ib->opt.io_timeout_ms = 30000;
    if (!ib->opt.io_max_body) ib->opt.io_max_body = 65536;
    if (ib->opt.run_budget_ms <= 0) ib->opt.run_budget_ms = 50;
    ib->b = b;
    ib->st = bot_store(b);
    ib->lp = lp;
    ib->q = q;
    if (bot_machine(b)->voice_reply != BM_VOICE_REPLY_TEXT)
        ib->voice_chars = voice_max_chars_from_env();
    bm_effects_init(&ib->fx);
    tgu_calls_init(&ib->calls);
    ib->io = deferred_new(lp, tg, q, ib->opt.io_timeout_ms, ib->opt.io_max_body);
    if (!ib->io) {
        free(ib);
        return NULL;
    }
    return ib;
}

static void item_free(ib_item *it)
{
    deferred_abandon(it->job); /* its answer finds nothing to answer */
    free(it->json);
    free(it->res_body);
    free(it->res_error);
    free(it->transcript);
    free(it->res_tools);
    free(it);
}

static void unlink_item(inbox *ib, ib_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        ib->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        ib->tail = it->prev;
    ib->n--;
}

void inbox_free(inbox *ib)
{
    if (!ib)
        return;
    ib_item *it = ib->head;
    while (it) {
        ib_item *n = it->next;
        item_free(it);
        it = n;
    }
    deferred_free(ib->io); /* after the items: their answers find nothing */
    bm_effects_free(&ib->fx);
    tgu_calls_free(&ib->calls);
    free(ib->seen);
    free(ib);
}

size_t inbox_pending(const inbox *ib) { return ib->n; }
int inbox_waiting_io(const inbox *ib) { return ib->n_io; }
inbox_stats inbox_get_stats(const inbox *ib) { return ib->stats; }

/* A copy of text[0..n) NUL-terminated, with room for its parse's strings
 * after the NUL (TGU_STRINGS_CAP: invalid UTF-8 replaced by U+FFFD may
 * triple them), in one allocation. */
static char *json_buf(const char *text, size_t n, tgu_strings *strs)
{
    char *p = n < SIZE_MAX / 8 ? malloc(n + 1 + TGU_STRINGS_CAP(n)) : NULL;
    if (!p)
        return NULL;
    memcpy(p, text, n);
    p[n] = '\0';
    *strs = (tgu_strings){.p = p + n + 1, .cap = TGU_STRINGS_CAP(n)};
    return p;
}

/* Takes json (from json_buf). in: its parse (strings in json's buffer), or
 * NULL to parse it when it runs. */
static int append(inbox *ib, int64_t update_id, int64_t chat_id, char *json, size_t len,
                  const bm_input *in)
{
    ib_item *it = calloc(1, sizeof *it);
    if (!it) {
        free(json);
        return -1;
    }
    it->ib = ib;
    it->update_id = update_id;
    it->chat_id = chat_id;
    it->json = json;
    it->json_len = len;
    if (in) {
        it->in = *in;
        it->parsed = true;
    }
    it->prev = ib->tail;
    if (ib->tail)
        ib->tail->next = it;
    else
        ib->head = it;
    ib->tail = it;
    ib->n++;
    ib->kick = true;
    return 0;
}

static int restore_one(void *ud, int64_t update_id, int64_t chat_id, const char *json)
{
    tgu_strings strs;
    size_t n = strlen(json);
    char *copy = json_buf(json, n, &strs);
    return copy ? append(ud, update_id, chat_id, copy, n, NULL) : -1;
}

int inbox_restore(inbox *ib)
{
    int n = store_inbox_load(ib->st, restore_one, ib);
    if (n > 0)
        log_info("inbox", "%d update(s) stored by the last run are handled now", n);
    return n;
}

void inbox_set_username(inbox *ib, const char *username)
{
    snprintf(ib->username, sizeof ib->username, "%s", username ? username : "");
}

/* ---- arrival ------------------------------------------------------------- */

/* A staged new update (in memory only after the commit). */
typedef struct ib_new {
    int64_t update_id, chat_id;
    char *json; /* from json_buf; in's strings after its NUL */
    size_t len;
    bm_input in;
} ib_new;

/* Stores one update inside the open transaction: its bytes as received go
 * to the inbox row, its parse goes along to the handler (parsed once).
 * Returns 1 new (queued in *nw), 0 nothing to queue, -1 storage error. */
static int put_one(inbox *ib, jscan_span t, ib_new *nw, int64_t *max_id)
{
    char err[256];
    int64_t uid = -1;
    size_t n = (size_t)(t.end - t.p);
    tgu_strings strs;
    char *json = json_buf(t.p, n, &strs);
    if (!json)
        return -1;
    tgu_status st = tgu_parse_text(json, n, &strs, &uid, &nw->in, err, sizeof err);
    if (uid < 0) {
        /* without an id it can be neither confirmed nor de-duplicated */
        ib->stats.no_id++;
        if (!ib->no_id_warned)
            log_warn("inbox", "an update without an integer update_id ignored: %s (more "
                     "like it are logged at DEBUG until a batch comes without one)", err);
        else
            log_debug("inbox", "an update without an integer update_id ignored: %s", err);
        ib->no_id_warned = true;
        free(json);
        return 0;
    }
    if (uid + 1 > *max_id)
        *max_id = uid + 1;
    if (st == TGU_SKIP) {
        /* once per kind at INFO (an operator sees what Telegram sends that
         * the bot ignores), then at DEBUG */
        int k;
        const char *kind = tgu_update_kind(json, n, &k);
        if (!(ib->skipped_kinds & (1u << k))) {
            ib->skipped_kinds |= 1u << k;
            log_info("inbox", "update %" PRId64 " skipped: %s%s is not something this bot "
                     "handles (later ones of this kind are logged at DEBUG only)", uid, kind,
                     strcmp(kind, "message") ? "" : " of this content");
        } else {
            log_debug("inbox", "update %" PRId64 ": %s not handled; skipped", uid, kind);
        }
        free(json);
        return 0;
    }
    if (st == TGU_ERROR) {
        log_warn("inbox", "update %" PRId64 " is malformed (%s); dead-lettered", uid, err);
        int rc = store_dead_letter(ib->st, uid, 0, json, err);
        free(json);
        if (rc == 1)
            ib->stats.dead++;
        else if (rc == 0)
            ib->stats.duplicates++;
        return rc < 0 ? -1 : 0;
    }
    if (tgu_for_other_bot(&nw->in, ib->username)) {
        log_info("inbox", "update %" PRId64 ": a command for another bot in chat %" PRId64
                 "; ignored", uid, nw->in.user.chat_id);
        free(json);
        return 0;
    }
    int rc = store_inbox_put(ib->st, uid, nw->in.user.chat_id, json);
    if (rc <= 0) {
        free(json);
        if (rc == 0) {
            ib->stats.duplicates++;
            log_info("inbox", "update %" PRId64 " delivered again; ignored (stored or handled "
                     "before)", uid);
        }
        return rc;
    }
    nw->update_id = uid;
    nw->chat_id = nw->in.user.chat_id;
    nw->json = json;
    nw->len = n;
    return 1;
}

static int put_texts(inbox *ib, const jscan_span *texts, int total, int64_t *next_offset)
{
    ib_new *nw = calloc(total > 0 ? (size_t)total : 1, sizeof *nw);
    if (!nw)
        return -1;
    int n = 0, rc = 0;
    int64_t max_id = 0;
    unsigned long no_id0 = ib->stats.no_id;
    bool first_no_id = false;
    /* Telegram forgets an update once the offset passes it: the inbox rows
     * must survive a power loss, so this commit is synced (FULL). */
    store_set_durable(ib->st, 1);
    if (store_begin(ib->st)) {
        rc = -1;
    } else {
        for (int i = 0; i < total; i++) {
            unsigned long before = ib->stats.no_id;
            int r = put_one(ib, texts[i], &nw[n], &max_id);
            if (r < 0) {
                rc = -1;
                break;
            }
            if (i == 0 && ib->stats.no_id > before)
                first_no_id = true;
            n += r;
        }
        if (rc == 0 && store_commit(ib->st))
            rc = -1;
        if (rc)
            store_rollback(ib->st);
    }
    store_set_durable(ib->st, 0);
    for (int i = 0; i < n; i++) {
        if (rc == 0 && append(ib, nw[i].update_id, nw[i].chat_id, nw[i].json, nw[i].len,
                              &nw[i].in) == 0)
            ib->stats.stored++;
        else if (rc)
            free(nw[i].json);
    }
    free(nw);
    if (rc) {
        log_error("inbox", "could not store %d update(s); they are not confirmed and "
                  "come again", total);
        return -1;
    }
    if (next_offset && max_id > *next_offset)
        *next_offset = max_id;
    else if (next_offset && first_no_id && *next_offset > 0) {
        /* the oldest update held has no usable id and nothing newer moved
         * the offset: step past it (see inbox.h) */
        log_warn("inbox", "getUpdates keeps returning an update without an integer update_id "
                 "first; confirming offset %" PRId64 " to drop it", *next_offset + 1);
        *next_offset += 1;
    }
    if (ib->stats.no_id == no_id0 && total > 0)
        ib->no_id_warned = false;
    return n;
}

int inbox_put_raw(inbox *ib, const char *json, size_t len, int64_t *next_offset)
{
    jscan_iter it = jscan_items((jscan_span){json, json + len});
    jscan_span item;
    jscan_span *texts = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = jscan_next(&it, &item)) == 1) {
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            jscan_span *v = realloc(texts, (size_t)cap * sizeof *v);
            if (!v) {
                free(texts);
                return -1;
            }
            texts = v;
        }
        texts[n++] = item;
    }
    if (rc < 0) {
        free(texts);
        log_warn("inbox", "getUpdates answered something that is not an array of updates");
        return -1;
    }
    rc = put_texts(ib, texts, n, next_offset);
    free(texts);
    return rc;
}

int inbox_put_updates(inbox *ib, const jscan_span *updates, int n, int64_t *next_offset)
{
    return put_texts(ib, updates, n, next_offset);
}

/* ---- handling ------------------------------------------------------------ */

static bool seen_has(inbox *ib, int64_t chat)
{
    size_t mask = ib->seen_cap - 1;
    for (size_t i = (size_t)((uint64_t)chat * 0x9E3779B97F4A7C15ull >> 20) & mask;;
         i = (i + 1) & mask) {
        if (ib->seen[i] == INT64_MIN)
            return false;
        if (ib->seen[i] == chat)
            return true;
    }
}

static void seen_add(inbox *ib, int64_t chat)
{
    size_t mask = ib->seen_cap - 1;
    for (size_t i = (size_t)((uint64_t)chat * 0x9E3779B97F4A7C15ull >> 20) & mask;;
         i = (i + 1) & mask) {
        if (ib->seen[i] == chat)
            return;
        if (ib->seen[i] == INT64_MIN) {
            ib->seen[i] = chat;
            return;
        }
    }
}

/* A set for this walk, at most half full (every waiting update's chat). */
static int seen_reset(inbox *ib)
{
    size_t want = 16;
    while (want < ib->n * 2 + 2)
        want *= 2;
    if (want > ib->seen_cap) {
        int64_t *ns = realloc(ib->seen, want * sizeof *ns);
        if (!ns)
            return -1;
        ib->seen = ns;
        ib->seen_cap = want;
    }
    for (size_t i = 0; i < ib->seen_cap; i++)
        ib->seen[i] = INT64_MIN;
    return 0;
}

typedef struct stage_ctx {
    inbox *ib;
    ib_item *it;
} stage_ctx;

/* bot_tx hook: the replies become outbox rows and the update leaves the
 * inbox, inside the update's savepoint. */
static int stage_effects(void *ud, const bm_effects *fx, int first)
{
    stage_ctx *x = ud;
    inbox *ib = x->ib;
    char err[256];
    for (int i = first; i < fx->n; i++) {
        tgu_calls_clear(&ib->calls);
        if (tgu_render(&fx->v[i], &ib->calls, err, sizeof err) != 0) {
            log_error("inbox", "cannot render an effect for chat %" PRId64 ": %s",
                      fx->v[i].chat_id, err);
            continue;
        }
        /* a user who spoke hears the answer (the spec's voice: reply) */
        if (voice_stage(bot_machine(ib->b), &x->it->in, &fx->v[i], ib->voice_chars, &ib->calls, 0))
            return -1;
        for (int k = 0; k < ib->calls.n; k++) {
            tgu_call *c = &ib->calls.v[k];
            char *body = c->body;
            c->body = NULL; /* outq_stage_body takes it */
            if (outq_stage_body(ib->q, c->chat_id, c->method, body) != 0)
                return -1;
        }
    }
    tgu_calls_clear(&ib->calls);
    return store_inbox_done(ib->st, x->it->update_id);
}

/* A deferred update's answer: kept for its second run. */
static void on_answer(void *ud, const bot_io_res *res)
{
    ib_item *it = ud;
    inbox *ib = it->ib;
    it->job = NULL;
    ib->n_io--;
    ib->kick = true;
    if (res->kind == BOT_IO_VOICE) {
        /* the note becomes its transcript, typed text from then on (an
         * action it reaches may defer again); or it stays a voice note
         * whose failure is known. A restart transcribes it again. */
        it->io = IB_IO_NONE;
        free(it->transcript);
        it->transcript = res->ok && res->body ? strndup(res->body, res->len) : NULL;
        if (it->transcript) {
            it->in.kind = BM_IN_TEXT;
            it->in.text = it->transcript;
            it->in.from_voice = true;
        } else {
            it->in.voice.failed = res->status > 0 ? (int)res->status : BM_VOICE_ERROR;
        }
        return;
    }
    it->io = IB_IO_DONE;
    if (res->body) {
        it->res_body = malloc(res->len + 1);
        if (it->res_body) {
            memcpy(it->res_body, res->body, res->len);
            it->res_body[res->len] = '\0';
        }
    }
    if (res->error)
        it->res_error = strdup(res->error);
    if (res->tool_log)
        it->res_tools = strdup(res->tool_log);
    it->res = *res;
    it->res.tool_log = it->res_tools;
    it->res.ok = res->ok && it->res_body;
    it->res.body = it->res_body;
    it->res.len = it->res_body ? res->len : 0;
    it->res.error = it->res_error ? it->res_error : res->ok ? NULL : "failed";
}

/* Starts the request a deferred update waits for. */
static void start_io(inbox *ib, ib_item *it, const bot_io_req *req)
{
    /* a second request after an answer (createForumTopic asked again) */
    free(it->res_body);
    free(it->res_error);
    free(it->res_tools);
    it->res_body = it->res_error = it->res_tools = NULL;
    const char *why = NULL;
    it->job = deferred_start(ib->io, req, on_answer, it, &why);
    if (it->job) {
        it->io = IB_IO_WAITING;
        ib->n_io++;
        ib->stats.io_started++;
        log_debug("inbox", "update %" PRId64 ": waiting for an action's answer", it->update_id);
        return;
    }
    /* could not even start: answer it as a failed request, on the next
     * turn (kicked: no answer will come to wake it, and a model whose
     * circuit is open must get its apology out at once) */
    it->io = IB_IO_DONE;
    ib->kick = true;
    it->res_error = strdup(why ? why : "failed");
    it->res = (bot_io_res){.owner = req->owner, .kind = req->kind, .ok = 0, .error = it->res_error,
                           .prompt_tokens = -1, .completion_tokens = -1};
}

/* Handles `it` inside the open batch transaction. Returns 1 when the item
 * is finished (remove it), 0 when it waits (deferred), -1 when the batch
 * transaction is lost. */
static int handle_one(inbox *ib, ib_item *it)
{
    char err[256];
    /* parsed at arrival; parsed here after a restart (and kept for a
     * deferred update's second run) */
    tgu_status st = TGU_OK;
    if (!it->parsed) {
        int64_t uid = -1;
        tgu_strings strs = {.p = it->json + it->json_len + 1,
                            .cap = TGU_STRINGS_CAP(it->json_len)};
        st = tgu_parse_text(it->json, it->json_len, &strs, &uid, &it->in, err, sizeof err);
        it->parsed = st == TGU_OK;
    }
    const bm_input in = it->in;
    if (st != TGU_OK) {
        if (st == TGU_SKIP)
            return store_inbox_done(ib->st, it->update_id) ? -1 : 1;
        log_warn("inbox", "update %" PRId64 " is malformed (%s); dead-lettered", it->update_id,
                 err);
        if (store_dead_letter(ib->st, it->update_id, it->chat_id, it->json, err) < 0)
            return -1;
        ib->stats.dead++;
        return 1;
    }
    size_t staged = outq_staged(ib->q);
    stage_ctx x = {.ib = ib, .it = it};
    bot_tx tx = {.fn = stage_effects, .ud = &x,
                 .io_res = it->io == IB_IO_DONE ? &it->res : NULL};
    bm_effects_clear(&ib->fx);
    int rc = bot_handle_tx(ib->b, &in, &ib->fx, &tx);
    bm_effects_clear(&ib->fx);
    if (rc == 0) {
        ib->stats.handled++;
        return 1;
    }
    outq_stage_truncate(ib->q, staged); /* their rows went with the savepoint */
    if (!store_in_transaction(ib->st))
        return -1; /* SQLite rolled the whole batch back */
    if (rc == BOT_DUPLICATE)
        return store_inbox_done(ib->st, it->update_id) ? -1 : 1;
    if (rc == BOT_DEFERRED) {
        if (tx.io_req.kind != BOT_IO_NONE)
            start_io(ib, it, &tx.io_req);
        bot_io_req_free(&tx.io_req);
        return 0;
    }
    bot_io_req_free(&tx.io_req);
    char reason[IB_REASON_MAX];
    snprintf(reason, sizeof reason, "handling failed: %s", bot_error(ib->b));
    log_error("inbox", "update %" PRId64 " of chat %" PRId64 " %s; dead-lettered, the chat "
              "goes on", it->update_id, it->chat_id, reason);
    if (store_dead_letter(ib->st, it->update_id, it->chat_id, it->json, reason) < 0)
        return -1;
    ib->stats.dead++;
    return 1;
}

int inbox_runnable(const inbox *ib) { return ib->kick || deferred_ready(ib->io); }

/* After a failed batch: the updates it finished are not finished. */
static void put_back(inbox *ib, ib_item **done, int n_done)
{
    for (int i = n_done; i-- > 0;) {
        ib_item *it = done[i];
        it->prev = NULL;
        it->next = ib->head;
        if (ib->head)
            ib->head->prev = it;
        else
            ib->tail = it;
        ib->head = it;
        ib->n++;
    }
}

/* One transaction over up to batch_max runnable updates. Returns how many
 * were finished or started waiting, -1 on a storage error. */
static int run_batch(inbox *ib)
{
    if (!ib->head || seen_reset(ib))
        return 0;
    ib_item *done[256];
    int max = ib->opt.batch_max < 256 ? ib->opt.batch_max : 256;
    int n_done = 0, n_work = 0;
    if (store_begin(ib->st))
        return -1;
    /* the outbox rows of calls Telegram accepted go in this commit too */
    if (outq_stage_flush(ib->q)) {
        store_rollback(ib->st);
        outq_stage_abort(ib->q);
        return -1;
    }
    for (ib_item *it = ib->head; it && n_work < max;) {
        ib_item *next = it->next;
        if (it->io == IB_IO_WAITING || seen_has(ib, it->chat_id)) {
            seen_add(ib, it->chat_id); /* the chat's later updates wait */
            it = next;
            continue;
        }
        int r = handle_one(ib, it);
        if (r < 0) {
            store_rollback(ib->st);
            outq_stage_abort(ib->q);
            put_back(ib, done, n_done);
            log_error("inbox", "the handling transaction failed; the updates stay in the "
                      "inbox and are tried again");
            return -1;
        }
        n_work++;
        if (r == 1) {
            unlink_item(ib, it);
            done[n_done++] = it;
        } else {
            seen_add(ib, it->chat_id);
        }
        it = next;
    }
    if (store_commit(ib->st)) {
        store_rollback(ib->st);
        outq_stage_abort(ib->q);
        put_back(ib, done, n_done);
        log_error("inbox", "could not commit %d handled update(s); they are tried again",
                  n_done);
        return -1;
    }
    outq_stage_commit(ib->q);
    ib->stats.batches++;
    for (int i = 0; i < n_done; i++)
        item_free(done[i]);
    return n_work;
}

int inbox_run(inbox *ib)
{
    long until = loop_now_ms() + ib->opt.run_budget_ms;
    int total = 0;
    ib->kick = false;
    deferred_pump(ib->io); /* answers from other threads */
    for (;;) {
        int n = run_batch(ib);
        if (n < 0) {
            ib->kick = true; /* try again on the next turn */
            return total ? total : -1;
        }
        total += n;
        if (n < (ib->opt.batch_max < 256 ? ib->opt.batch_max : 256))
            break; /* it ran all it could: another batch would be empty */
        if (loop_now_ms() >= until) {
            ib->kick = true; /* more may be runnable: the loop comes back */
            break;
        }
        /* the replies just committed go out while the next batch is handled */
        outq_pump(ib->q);
        loop_kick(ib->lp);
    }
    return total;
}
