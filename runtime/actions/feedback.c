/*
 * feedback.c — the feedback part (see feedback.h).
 */
#include "actions/feedback.h"

#include <stdlib.h>
#include <string.h>

#include "actions/handoff.h"
#include "actions/registry.h"
#include "people/feedback.h"

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    fb *f = fb_open(bot_store(b), err, errlen);
    *state = f;
    return f ? 0 : -1;
}

static void part_close(void *state) { fb_free(state); }

/* A press of a feedback button: answered here (the vote stored when the
 * presser is the answer's user); "Call an operator" then runs the handoff,
 * "👍 Helped" gets sys_voted as the press's pop-up, so the user sees it
 * counted. */
static int part_pre_step(void *state, const bm_machine *m, bm_session *s, const bm_input *in,
                         bm_effects *step_fx)
{
    int k = fb_press(state, in);
    if (k < 0)
        return -1;
    if (k == FB_NOT_MINE)
        return 0;
    if (k == FB_OPERATOR)
        return act_operator_step(m, s, in, step_fx) ? -1 : 1;
    bm_effect *e = bm_effects_add(step_fx, BM_FX_ANSWER, s->chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    if (k == FB_HELPED && !(e->text = bm_render(m, s, &in->user, m->sys_texts[BM_SYS_VOTED], "")))
        return -1;
    return 1;
}

static int part_forget(void *state, int64_t user_id) { return fb_delete_user(state, user_id); }

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    return fb_export_user(state, user_id, root);
}

const bot_part part_feedback = {
    .name = "feedback",
    .open = part_open,
    .close = part_close,
    .pre_step = part_pre_step,
    .forget_user = part_forget,
    .export_user = part_export,
};

int act_feedback_attach(bot_act *c)
{
    fb *f = bot_part_state(c->b, BOT_PART_FEEDBACK);
    const bm_machine *m = bot_machine(c->b);
    for (int j = c->out->n - 1; f && j >= c->first; j--) {
        bm_effect *e = &c->out->v[j];
        if (e->kind != BM_FX_SEND)
            continue;
        /* "not available in this build" is no answer to vote on */
        char *na = bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_UNAVAILABLE], c->text);
        int unavailable = !na || (e->text && !strcmp(na, e->text));
        free(na);
        return unavailable ? 0 : fb_attach(f, m, c->s, &c->in->user, e);
    }
    return 0;
}
