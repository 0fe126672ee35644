/*
 * handoff.c — the `handoff` action and the part behind it: people/handoff.c
 * does the mechanics (the managers' group, topics, relaying); this module
 * wires it into the step (see people/handoff.h for the contract).
 */
#include "actions/handoff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "people/handoff.h"
#include "actions/registry.h"

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    ho *h = ho_open(bot_store(b), bot_machine(b), err, errlen);
    *state = h;
    return h ? 0 : -1;
}

static void part_close(void *state) { ho_free(state); }

static int part_take(void *state, const bm_input *in, bm_effects *fx)
{
    return ho_take(state, in, fx);
}

/* A press of the operator button: the handoff action. */
static int part_pre_step(void *state, const bm_machine *m, bm_session *s, const bm_input *in,
                         bm_effects *step_fx)
{
    if (in->kind != BM_IN_CALLBACK || !in->text || strcmp(in->text, ACT_CB_OPERATOR))
        return 0;
    return act_operator_step(m, s, in, step_fx) ? -1 : 1;
}

static void part_after_input(void *state, int outcome)
{
    ho_after_input(state, outcome == BOT_INPUT_COMMITTED  ? HO_INPUT_COMMITTED
                          : outcome == BOT_INPUT_DEFERRED ? HO_INPUT_DEFERRED
                                                          : HO_INPUT_FAILED);
}

static int part_forget(void *state, int64_t user_id) { return ho_forget_user(state, user_id); }

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    return ho_export_user(state, user_id, root);
}

const bot_part part_handoff = {
    .name = "handoff",
    .open = part_open,
    .close = part_close,
    .take = part_take,
    .pre_step = part_pre_step,
    .after_input = part_after_input,
    .forget_user = part_forget,
    .export_user = part_export,
};

/* Reuses the open topic, or creates one: that waits in the event loop
 * (createForumTopic through deferred I/O) like http_get. */
static int handoff_run(bot_act *c)
{
    ho *h = bot_part_state(c->b, BOT_PART_HANDOFF);
    return ho_start(h, c->s, c->in, c->io_res, c->io_req, c->out);
}

const bot_action act_handoff = {.name = "handoff", .run = handoff_run};

int act_operator_step(const bm_machine *m, bm_session *s, const bm_input *in, bm_effects *fx)
{
    if (in->user.chat_id)
        s->chat_id = in->user.chat_id;
    if (in->user.language_code && *in->user.language_code)
        s->lang = bm_lang_for(m, in->user.language_code);
    bm_effect *e = bm_effects_add(fx, BM_FX_ANSWER, s->chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    e = bm_effects_add(fx, BM_FX_ACTION, s->chat_id);
    if (!e || !(e->text = strdup("")))
        return -1;
    e->action = BM_ACT_HANDOFF;
    return 0;
}

/* Whether the spec hands users to operators anywhere (some transition
 * runs `handoff`): a bot without operators (desk) offers none. */
static bool spec_has_operators(const bm_machine *m)
{
    for (int i = 0; i < m->n_transitions; i++)
        if (m->transitions[i].action == BM_ACT_HANDOFF)
            return true;
    return false;
}

int act_offer_operator(bot_act *c, bm_sys_text t)
{
    const bm_machine *m = bot_machine(c->b);
    if (!spec_has_operators(m))
        return bot_act_say_sys(c, t);
    char *text = bm_render(m, c->s, &c->in->user, m->sys_texts[t], c->text);
    char *label = bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_OPERATOR], "");
    char *data = strdup(ACT_CB_OPERATOR);
    int *row_len = malloc(sizeof *row_len);
    bm_button_out *btn = calloc(1, sizeof *btn);
    bm_effect *e = text && label && data && row_len && btn
                       ? bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id) : NULL;
    if (!e) {
        free(text);
        free(label);
        free(data);
        free(row_len);
        free(btn);
        return -1;
    }
    e->text = text;
    row_len[0] = 1;
    *btn = (bm_button_out){.label = label, .data = data, .kind = BM_BTN_CALLBACK};
    e->markup = (bm_markup){.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                            .n_buttons = 1, .buttons = btn};
    return 0;
}
