/*
 * bot.c — one running bot: load a session, step the machine, dispatch the
 * actions it reports through the action table, persist, all in one
 * transaction (see bot.h; the table's interface is dialogue/action.h).
 */
#include "dialogue/bot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "base/text.h"
#include "dialogue/action.h"
#include "storage/store.h"

struct bot {
    const bm_machine *m;
    store *st;
    void **parts;            /* [bot_n_parts]: each part's state */
    int n_open;              /* parts opened so far (closed in reverse) */
    char error[256];         /* why the last bot_handle failed */
    const bm_trace *trace;   /* bot_set_trace */
    bot_action_hook hook;    /* bot_set_action_hook */
    void *hook_ud;
};

void *bot_part_state(bot *b, int part)
{
    return part >= 0 && part < b->n_open ? b->parts[part] : NULL;
}

/* ---- what actions say ------------------------------------------------- */

int bot_act_say(bot_act *c, char *text)
{
    if (!text)
        return -1;
    bm_effect *e = bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id);
    if (!e) {
        free(text);
        return -1;
    }
    e->text = text;
    return 0;
}

int bot_act_say_sys(bot_act *c, bm_sys_text t)
{
    const bm_machine *m = c->b->m;
    return bot_act_say(c, bm_render(m, c->s, &c->in->user, m->sys_texts[t], c->text));
}

int bot_act_say_long(bot_act *c, const char *text)
{
    char **parts;
    int n;
    if (text_split(text, TEXT_TG_MAX, &parts, &n))
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = bot_act_say(c, parts[i]);
        parts[i] = NULL;
    }
    text_parts_free(parts, n);
    return rc;
}

int bot_act_say_markdown(bot_act *c, const char *text)
{
    char *copy = strdup(text);
    if (bot_act_say(c, copy))
        return -1;
    c->out->v[c->out->n - 1].markdown = true;
    return 0;
}

bool bot_act_can_defer(const bot_act *c)
{
    return c->io_req && c->io_req->kind == BOT_IO_NONE;
}

void bot_io_req_free(bot_io_req *r)
{
    switch (r->kind) {
    case BOT_IO_HTTP_GET:
        free(r->u.get.url);
        break;
    case BOT_IO_TG_CALL:
        free(r->u.tg.params);
        break;
    case BOT_IO_LLM:
        free(r->u.llm.messages);
        free(r->u.llm.model);
        free(r->u.llm.tools);
        break;
    case BOT_IO_EMBED:
        free(r->u.embed.text);
        break;
    case BOT_IO_VOICE:
        free(r->u.voice.file_id);
        free(r->u.voice.mime);
        free(r->u.voice.file_name);
        free(r->u.voice.lang);
        break;
    case BOT_IO_NONE:
        break;
    }
    memset(r, 0, sizeof *r);
}

/* ---- the parts ---------------------------------------------------------- */

int bot_delete_user(bot *b, int64_t user_id)
{
    if (store_delete_user(b->st, user_id))
        return -1;
    for (int i = 0; i < b->n_open; i++)
        if (bot_parts[i]->forget_user && bot_parts[i]->forget_user(b->parts[i], user_id))
            return -1;
    return 0;
}

char *bot_export_user(bot *b, int64_t user_id)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    int rc = !root || store_export_into(b->st, user_id, root);
    for (int i = 0; i < b->n_open && !rc; i++)
        if (bot_parts[i]->export_user)
            rc = bot_parts[i]->export_user(b->parts[i], user_id, root);
    if (!rc) {
        char *js = cJSON_Print(root);
        if (js) {
            out = strdup(js);
            cJSON_free(js);
        }
    }
    cJSON_Delete(root);
    return out;
}

static void after_input(bot *b, int outcome)
{
    for (int i = 0; i < b->n_open; i++)
        if (bot_parts[i]->after_input)
            bot_parts[i]->after_input(b->parts[i], outcome);
}

static void close_parts(bot *b)
{
    while (b->n_open > 0) {
        b->n_open--;
        if (bot_parts[b->n_open]->close)
            bot_parts[b->n_open]->close(b->parts[b->n_open]);
    }
    free(b->parts);
    b->parts = NULL;
}

/* The parts in table order (later ones may use earlier ones' state). */
static int open_parts(bot *b, char *err, size_t errlen)
{
    b->parts = calloc((size_t)bot_n_parts + 1, sizeof *b->parts);
    if (!b->parts) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < bot_n_parts; i++) {
        if (bot_parts[i]->open(b, &b->parts[i], err, errlen))
            return -1;
        b->n_open = i + 1;
    }
    return 0;
}

bot *bot_new(const bm_machine *m, const char *db_path, char *err, size_t errlen)
{
    bot *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->m = m;
    b->st = store_open(db_path, m, err, errlen);
    if (!b->st) {
        free(b);
        return NULL;
    }
    if (open_parts(b, err, errlen)) {
        close_parts(b);
        store_close(b->st);
        free(b);
        return NULL;
    }
    return b;
}

void bot_free(bot *b)
{
    if (!b)
        return;
    close_parts(b);
    store_close(b->st);
    free(b);
}

store *bot_store(bot *b) { return b->st; }

const char *bot_error(const bot *b) { return b->error; }

const bm_machine *bot_machine(const bot *b) { return b->m; }

void bot_set_trace(bot *b, const bm_trace *trace) { b->trace = trace; }

void bot_set_action_hook(bot *b, bot_action_hook fn, void *ud)
{
    b->hook = fn;
    b->hook_ud = ud;
}

int bot_user_exists(bot *b, int64_t user_id) { return store_user_exists(b->st, user_id); }

int bot_show(bot *b, const bm_user *user, bm_effects *fx)
{
    bm_session s;
    int found = store_load_session(b->st, user->id, &s);
    if (found <= 0)
        return found;
    int n0 = fx->n;
    int rc = bm_show(b->m, &s, user, fx);
    if (rc)
        bm_effects_truncate(fx, n0);
    bm_session_free(b->m, &s);
    return rc ? -1 : 1;
}

int bot_handle(bot *b, const bm_input *in, bm_effects *fx)
{
    int rc = bot_handle_tx(b, in, fx, NULL);
    return rc < 0 ? -1 : 0;
}

/* ---- one input ---------------------------------------------------------- */

/* The parts' take hooks: 1 when one took the input. */
static int take_input(bot *b, const bm_input *in, bm_effects *fx)
{
    for (int i = 0; i < b->n_open; i++) {
        if (!bot_parts[i]->take)
            continue;
        int k = bot_parts[i]->take(b->parts[i], in, fx);
        if (k)
            return k;
    }
    return 0;
}

/* A part's pre_step, else the machine's step. */
static int step_input(bot *b, bm_session *s, const bm_input *in, bm_effects *fx)
{
    for (int i = 0; i < b->n_open; i++) {
        if (!bot_parts[i]->pre_step)
            continue;
        int k = bot_parts[i]->pre_step(b->parts[i], b->m, s, in, fx);
        if (k)
            return k < 0 ? -1 : 0;
    }
    bm_input step_in = *in;
    for (int i = 0; i < b->n_open && !step_in.answer_first; i++)
        step_in.answer_first = bot_parts[i]->answers_first &&
                               bot_parts[i]->answers_first(b->parts[i], b->m, s, in);
    return bm_step(b->m, s, &step_in, fx);
}

/* What the step's actions did, for the history and the commit. */
typedef struct act_sum {
    bool deleted, deferred, ai_answered;
    int ai_from, ai_to;
} act_sum;

_Static_assert(BM_ACT_COUNT <= 64, "bot_tx.io_actions has a bit per action");

/* Answers action effect e (index idx of the step) into fx. 0 or -1. */
static int run_action(bot *b, bm_session *s, const bm_input *in, const bm_effect *e, int idx,
                      bm_effects *fx, bot_tx *tx, act_sum *sum)
{
    int hooked = b->hook ? b->hook(b->hook_ud, e, s, in, fx) : 0;
    if (hooked)
        return hooked < 0 ? -1 : 0;
    const bot_action *row = e->action > BM_ACT_NONE && e->action < BM_ACT_COUNT
                                ? bot_actions[e->action] : NULL;
    if (!row)
        return -1;
    bool resuming = tx && tx->io_res && tx->io_res->owner == idx;
    bool io = tx && (!tx->io_actions || (tx->io_actions >> e->action & 1));
    bot_act c = {.b = b, .s = s, .in = in, .action = e->action, .text = e->text ? e->text : "", .out = fx,
                 .first = fx->n, .io_res = resuming ? tx->io_res : NULL,
                 .io_req = io ? &tx->io_req : NULL};
    int allowed = resuming || !row->gate ? 1 : row->gate(&c);
    if (allowed < 0)
        return -1;
    if (allowed) {
        int rc = resuming && row->resume ? row->resume(&c) : row->run(&c);
        if (rc)
            return -1;
    }
    if (tx && tx->io_req.kind != BOT_IO_NONE) {
        tx->io_req.owner = idx;
        sum->deferred = true;
    }
    sum->deleted |= c.deleted;
    if (c.ai_answered) {
        sum->ai_answered = true;
        sum->ai_from = c.ai_from;
        sum->ai_to = c.ai_to;
    }
    return 0;
}

/* The one message log (store_history_*): what the user typed and what the
 * bot sent, for the operator's view of a handoff; a question the model
 * answered and its answer are marked `ai`, the model's next context. */
static int log_history(bot *b, const bm_input *in, const bm_effects *fx, int first,
                       const act_sum *c)
{
    store_hist_kind asked = c->ai_answered ? STORE_HIST_AI : STORE_HIST_MENU;
    int added = 0;
    if (in->kind == BM_IN_TEXT && in->text && *in->text) {
        if (store_history_add(b->st, in->user.id, "user", asked, in->text))
            return -1;
        added++;
    }
    for (int i = first; i < fx->n; i++) {
        const bm_effect *e = &fx->v[i];
        store_hist_kind k = c->ai_answered && i >= c->ai_from && i < c->ai_to ? STORE_HIST_AI
                                                                             : STORE_HIST_MENU;
        if ((e->kind == BM_FX_SEND || e->kind == BM_FX_EDIT) && e->chat_id == in->user.chat_id &&
            store_history_add(b->st, in->user.id, "bot", k, e->text))
            return -1;
        added += (e->kind == BM_FX_SEND || e->kind == BM_FX_EDIT) && e->chat_id == in->user.chat_id;
    }
    return store_history_trim_due(b->st, in->user.id, added);
}

/* The Bot API's cap on a file a bot may download. */
#define BOT_VOICE_MAX_BYTES (20L * 1024 * 1024)

/* A recording to transcribe: a voice note, or an audio file, a video note
 * or a document of audio (OTHER inputs with their file: telegram/tgupdate.c). */
static bool is_recording(const bm_input *in)
{
    return (in->kind == BM_IN_VOICE || in->kind == BM_IN_OTHER) && in->voice.file_id;
}

/* A recording (is_recording) in a bot with `voice:`: 1 when its transcript was asked for
 * (tx->io_req filled: the input waits, the transport turns the answer into
 * a TEXT input with from_voice, or sets voice.failed), 0 when the input
 * goes on as it is (*failed set when the note is refused at once). */
static int ask_transcript(bot *b, const bm_input *in, bot_tx *tx, int *failed)
{
    const bm_machine *m = b->m;
    if (!is_recording(in) || !m->voice || in->voice.failed)
        return 0;
    if (in->voice.duration > m->voice->max_seconds || in->voice.file_size > BOT_VOICE_MAX_BYTES) {
        *failed = BM_VOICE_TOO_LONG; /* refused before any download */
        return 0;
    }
    if (!tx || tx->io_req.kind != BOT_IO_NONE) {
        *failed = BM_VOICE_NO_ENGINE; /* conversation tests: no transport */
        return 0;
    }
    /* the grammar of where the user is: the field asked, else the state */
    const bm_voice_grammar *g = NULL;
    bm_session s;
    int found = store_load_session(b->st, in->user.id, &s);
    if (found < 0)
        return -1;
    if (found) {
        int field = s.form >= 0 && s.form < m->n_forms ? m->forms[s.form].first_field + s.field : -1;
        if (field >= 0 && m->voice->fields && m->voice->fields[field].n)
            g = &m->voice->fields[field];
        else if (s.state >= 0 && s.state < m->n_states && m->voice->states)
            g = &m->voice->states[s.state];
        bm_session_free(m, &s);
    } else if (m->voice->states) {
        g = &m->voice->states[m->start_state];
    }
    bot_io_req *r = &tx->io_req;
    r->kind = BOT_IO_VOICE;
    r->owner = -1; /* no action's: the transport rewrites the input */
    r->u.voice.file_id = strdup(in->voice.file_id);
    r->u.voice.mime = in->voice.mime ? strdup(in->voice.mime) : NULL;
    r->u.voice.file_name = in->voice.file_name ? strdup(in->voice.file_name) : NULL;
    r->u.voice.lang = in->user.language_code ? strdup(in->user.language_code) : NULL;
    r->u.voice.duration = in->voice.duration;
    r->u.voice.file_size = in->voice.file_size;
    r->u.voice.max_seconds = m->voice->max_seconds;
    r->u.voice.grammar = g && g->n ? g : NULL;
    if (!r->u.voice.file_id || (in->voice.mime && !r->u.voice.mime) ||
        (in->voice.file_name && !r->u.voice.file_name)) {
        bot_io_req_free(r);
        return -1;
    }
    return 1;
}

/* A voice note without a transcript: the answer for it (1 when given), or
 * 0 to let the machine take the note. Too long: always the polite answer.
 * Otherwise the spec's own answer wins (the state's voice: trigger), and
 * without one the runtime says why (no engine for the language, a
 * recording it cannot read, nothing made out). */
static int voice_failed(bot *b, bm_session *s, const bm_input *in, int failed, bm_effects *fx)
{
    const bm_machine *m = b->m;
    /* (an audio file or a video note always gets the runtime's answer: the
     * machine would hand it to `any:`, the answerer, with no text) */
    if (failed != BM_VOICE_TOO_LONG && in->kind == BM_IN_VOICE && s->form < 0 && s->state >= 0 &&
        s->state < m->n_states && m->states[s->state].voice_tr != BM_NONE)
        return 0;
    bm_sys_text t;
    switch (failed) {
    case BM_VOICE_TOO_LONG: t = BM_SYS_VOICE_TOO_LONG; break;
    case BM_VOICE_NO_ENGINE: t = BM_SYS_VOICE_NO_ENGINE; break;
    case BM_VOICE_FORMAT: t = BM_SYS_VOICE_FORMAT; break;
    default: t = BM_SYS_VOICE_FAILED; break;
    }
    char secs[24];
    snprintf(secs, sizeof secs, "%d", m->voice ? m->voice->max_seconds : 0);
    char *text = bm_render(m, s, &in->user, m->sys_texts[t], secs);
    bm_effect *e = text ? bm_effects_add(fx, BM_FX_SEND, s->chat_id) : NULL;
    if (!e) {
        free(text);
        return -1;
    }
    e->text = text;
    return 1;
}

int bot_handle_tx(bot *b, const bm_input *in, bm_effects *fx, bot_tx *tx)
{
    const bm_machine *m = b->m;
    int n0 = fx->n;
    b->error[0] = '\0';
    bm_effects step_fx;
    bm_effects_init(&step_fx);
    bm_session s;
    bool have = false;

    if (store_begin(b->st))
        return -1;
    if (in->update_id > 0) {
        /* the handled mark commits with the effects: a redelivered update
         * (the process died before its offset was confirmed) is a no-op */
        int fresh = store_mark_handled(b->st, in->update_id);
        if (fresh < 0)
            goto fail;
        if (!fresh) {
            store_rollback(b->st);
            log_info("bot", "update %" PRId64 " was handled before; skipped", in->update_id);
            return BOT_DUPLICATE;
        }
    }
    /* a voice note is transcribed first (before the parts: an operator
     * gets the transcript with the note) */
    int vfailed = in->voice.failed;
    int asked = ask_transcript(b, in, tx, &vfailed);
    if (asked) {
        store_rollback(b->st);
        if (asked < 0)
            return -1;
        bm_effects_free(&step_fx);
        return BOT_DEFERRED;
    }
    /* inputs a part answers without the user's session (the managers'
     * group, users talking to an operator): the machine never sees them */
    int taken = take_input(b, in, fx);
    if (taken < 0)
        goto fail;
    if (taken) {
        if ((tx && tx->fn && tx->fn(tx->ud, fx, n0)) || store_commit(b->st))
            goto fail;
        after_input(b, BOT_INPUT_COMMITTED);
        bm_effects_free(&step_fx);
        return 0;
    }
    int found = store_load_session(b->st, in->user.id, &s);
    if (found < 0)
        goto fail;
    if (!found && bm_session_init(m, &s, &in->user))
        goto fail;
    have = true;
    s.trace = b->trace;
    int said = 0;
    if (is_recording(in) && vfailed && m->voice &&
        (said = voice_failed(b, &s, in, vfailed, &step_fx)) < 0)
        goto fail;
    if (in->kind == BM_IN_TEXT && in->from_voice && m->voice && m->voice->echo) {
        /* the transcript shown back, so a misheard word is seen at once */
        size_t n = strlen(in->text) + 8;
        char *t = malloc(n);
        bm_effect *e = t ? bm_effects_add(&step_fx, BM_FX_SEND, s.chat_id) : NULL;
        if (!e) {
            free(t);
            goto fail;
        }
        snprintf(t, n, "🎤 %s", in->text);
        e->text = t;
    }
    if (!said && step_input(b, &s, in, &step_fx)) {
        snprintf(b->error, sizeof b->error, "out of memory in the step");
        log_error("bot", "user %" PRId64 ": out of memory in the step", in->user.id);
        goto fail;
    }

    act_sum sum = {0};
    /* Effects go out in the order the machine made them; an action's
     * answer takes the action's place. */
    for (int i = 0; i < step_fx.n; i++) {
        bm_effect *e = &step_fx.v[i];
        if (e->kind == BM_FX_ACTION) {
            /* after a deferral the step is rolled back: the actions after
             * it run when the input runs again with the answer */
            if (!sum.deferred && run_action(b, &s, in, e, i, fx, tx, &sum)) {
                snprintf(b->error, sizeof b->error, "action %s failed",
                         bm_action_name(e->action) ? bm_action_name(e->action) : "?");
                goto fail;
            }
            continue;
        }
        if (e->kind == BM_FX_RECORD)
            continue; /* stored below */
        bm_effect *d = bm_effects_add(fx, e->kind, e->chat_id);
        if (!d)
            goto fail;
        *d = *e; /* ownership moves to fx */
        memset(e, 0, sizeof *e);
    }
    if (sum.deferred) {
        /* nothing happens until the answer is there: the same input runs
         * again with it (the step is a pure function of session + input) */
        store_rollback(b->st);
        /* ...except what a part must make durable before the request goes
         * out (handoff's mark of a forum topic being created) */
        after_input(b, BOT_INPUT_DEFERRED);
        bm_effects_truncate(fx, n0);
        bm_session_free(m, &s);
        bm_effects_free(&step_fx);
        return BOT_DEFERRED;
    }
    if (!sum.deleted) {
        if (store_save_session(b->st, &s, &in->user) || log_history(b, in, fx, n0, &sum))
            goto fail;
        for (int i = 0; i < step_fx.n; i++) {
            const bm_effect *e = &step_fx.v[i];
            if (e->kind != BM_FX_RECORD)
                continue;
            if (store_add_record(b->st, s.user_id, e->form, e->text))
                goto fail;
            for (int k = 0; k < b->n_open; k++)
                if (bot_parts[k]->record &&
                    bot_parts[k]->record(b->parts[k], m, &s, in, e->form, e->text))
                    goto fail;
        }
    }
    if (tx && tx->fn && tx->fn(tx->ud, fx, n0)) {
        snprintf(b->error, sizeof b->error, "its effects could not be stored");
        goto fail;
    }
    if (store_commit(b->st))
        goto fail;
    after_input(b, BOT_INPUT_COMMITTED);
    bm_session_free(m, &s);
    bm_effects_free(&step_fx);
    return 0;
fail:
    if (!b->error[0])
        snprintf(b->error, sizeof b->error, "a storage error (see the log)");
    store_rollback(b->st);
    after_input(b, BOT_INPUT_FAILED); /* e.g. a topic's thread id outlives the failure */
    bm_effects_truncate(fx, n0);
    if (have)
        bm_session_free(m, &s);
    bm_effects_free(&step_fx);
    if (tx)
        bot_io_req_free(&tx->io_req);
    log_error("bot", "user %" PRId64 ": input not handled, nothing committed", in->user.id);
    return -1;
}

int bot_migrate(bot *b, bm_effects *fx)
{
    const bm_machine *m = b->m;
    int n0 = fx->n, n = 0, moved = 0;
    store_user *us = NULL;
    if (store_begin(b->st))
        return -1;
    if (store_list_stale(b->st, &us, &n))
        goto fail;
    for (int i = 0; i < n; i++) {
        const store_user *u = &us[i];
        bm_session s;
        if (store_load_session(b->st, u->user_id, &s) != 1)
            goto fail;
        bm_user user = {.id = u->user_id, .chat_id = u->chat_id, .first_name = u->first_name,
                        .username = u->username, .language_code = u->lang};
        int to = bm_state_by_name(m, u->state);
        int rc = 0;
        if (to >= 0) {
            s.state = to; /* renamed or moved: the user keeps going there */
            log_info("bot", "user %" PRId64 ": state '%s' is now '%s'", u->user_id, u->state,
                     m->states[to].name);
        } else {
            /* the state is gone with no forwarding address: start over,
             * and say why rather than leave the user in silence */
            s.state = m->start_state;
            s.form = BM_NONE;
            s.field = BM_NONE;
            log_info("bot", "user %" PRId64 ": state '%s' no longer exists, back to '%s'",
                     u->user_id, u->state, m->states[m->start_state].name);
            char *t = bm_render(m, &s, &user, m->sys_texts[BM_SYS_MIGRATED], "");
            bm_effect *e = t ? bm_effects_add(fx, BM_FX_SEND, s.chat_id) : NULL;
            if (e)
                e->text = t;
            else
                free(t);
            rc = !e || bm_enter(m, &s, &user, m->start_state, fx);
        }
        if (!rc)
            rc = store_save_session(b->st, &s, NULL);
        bm_session_free(m, &s);
        if (rc)
            goto fail;
        moved++;
    }
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, m->shape_hash);
    int found = 0;
    char *old = store_get_meta(b->st, "shape_hash", &found);
    if (found < 0)
        goto fail;
    if (old && strcmp(old, hash))
        log_info("bot", "the machine changed (shape %s -> %s)", old, hash);
    free(old);
    if (store_set_meta(b->st, "shape_hash", hash) || store_commit(b->st))
        goto fail;
    store_users_free(us, n);
    return moved;
fail:
    store_rollback(b->st);
    store_users_free(us, n);
    bm_effects_truncate(fx, n0);
    log_error("bot", "migration failed, nothing changed");
    return -1;
}
