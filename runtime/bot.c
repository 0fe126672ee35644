/*
 * bot.c — one running bot: load a session, step the machine, answer the
 * actions the runtime owns, persist, all in one transaction (see bot.h).
 *
 * Actions go through a table of handlers indexed by bm_action. This issue
 * answers export_data and delete_data; every other action gets the
 * sys_unavailable text until a later issue plugs its handler into the
 * table (LLM, handoff, transcription, AI sessions).
 */
#include "bot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "text.h"

struct bot {
    const bm_machine *m;
    store *st;
};

/* What an action handler sees and may change. */
typedef struct act_ctx {
    bot *b;
    bm_session *s;
    const bm_input *in;
    const bm_effect *act;  /* the BM_FX_ACTION effect being answered */
    bm_effects *out;       /* where its messages go, in order */
    bool deleted;          /* the user's data is gone: do not save */
} act_ctx;

/* Returns 0, or -1 to fail the whole input (rolled back). */
typedef int (*act_fn)(act_ctx *c);

static int send_owned(act_ctx *c, char *text)
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

static int send_sys(act_ctx *c, bm_sys_text t)
{
    const bm_machine *m = c->b->m;
    return send_owned(c, bm_render(m, c->s, &c->in->user, m->sys_texts[t], c->in->text));
}

static int act_unavailable(act_ctx *c)
{
    log_info("bot", "action %d for user %" PRId64 " is not available in this build",
             (int)c->act->action, c->s->user_id);
    return send_sys(c, BM_SYS_UNAVAILABLE);
}

static int act_delete(act_ctx *c)
{
    if (store_delete_user(c->b->st, c->s->user_id))
        return -1;
    c->deleted = true;
    log_info("bot", "deleted the data of user %" PRId64, c->s->user_id);
    return send_sys(c, BM_SYS_DATA_DELETED);
}

static int act_export(act_ctx *c)
{
    char *js = store_export_user(c->b->st, c->s->user_id);
    if (!js)
        return -1;
    char **parts;
    int n;
    int rc = text_split(js, TEXT_TG_MAX, &parts, &n);
    free(js);
    if (rc)
        return -1;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = send_owned(c, parts[i]);
        parts[i] = NULL;
    }
    text_parts_free(parts, n);
    return rc;
}

static const act_fn actions[BM_ACT_COUNT] = {
    [BM_ACT_EXPORT_DATA] = act_export,
    [BM_ACT_DELETE_DATA] = act_delete,
};

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
    return b;
}

void bot_free(bot *b)
{
    if (!b)
        return;
    store_close(b->st);
    free(b);
}

const bm_machine *bot_machine(const bot *b) { return b->m; }

int bot_user_exists(bot *b, int64_t user_id) { return store_user_exists(b->st, user_id); }

int bot_handle(bot *b, const bm_input *in, bm_effects *fx)
{
    const bm_machine *m = b->m;
    int n0 = fx->n;
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
            return 0;
        }
    }
    int found = store_load_session(b->st, in->user.id, &s);
    if (found < 0)
        goto fail;
    if (!found && bm_session_init(m, &s, &in->user))
        goto fail;
    have = true;
    if (bm_step(m, &s, in, &step_fx)) {
        log_error("bot", "user %" PRId64 ": out of memory in the step", in->user.id);
        goto fail;
    }

    act_ctx c = {.b = b, .s = &s, .in = in, .out = fx};
    /* Effects go out in the order the machine made them; an action's
     * answer takes the action's place. */
    for (int i = 0; i < step_fx.n; i++) {
        bm_effect *e = &step_fx.v[i];
        if (e->kind == BM_FX_ACTION) {
            act_fn fn = e->action > BM_ACT_NONE && e->action < BM_ACT_COUNT && actions[e->action]
                            ? actions[e->action] : act_unavailable;
            c.act = e;
            if (fn(&c))
                goto fail;
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
    if (!c.deleted) {
        if (store_save_session(b->st, &s, &in->user))
            goto fail;
        for (int i = 0; i < step_fx.n; i++) {
            const bm_effect *e = &step_fx.v[i];
            if (e->kind == BM_FX_RECORD && store_add_record(b->st, s.user_id, e->form, e->text))
                goto fail;
        }
    }
    if (store_commit(b->st))
        goto fail;
    bm_session_free(m, &s);
    bm_effects_free(&step_fx);
    return 0;
fail:
    store_rollback(b->st);
    bm_effects_truncate(fx, n0);
    if (have)
        bm_session_free(m, &s);
    bm_effects_free(&step_fx);
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
