/*
 * action.h — the action table's interface: what an action module exports
 * (one bot_action row per action a spec can name, dialogue/action_list.h)
 * and what a part exports (a service with state that the bot opens with
 * it: the knowledge, limits, feedback, leads, operators), and what both
 * may ask of the step that runs them.
 *
 * dialogue/bot.c runs one input: the parts' `take` hooks (before the
 * session loads), their `pre_step` hooks, else the machine's step; then
 * every BM_FX_ACTION effect through bot_actions[] (gate, then run, or
 * resume when the input runs again with its deferred I/O answered); then
 * the parts' `record` hooks for completed forms, the commit, and their
 * `after_input` hooks. bot.c includes no action's or part's header: the
 * tables are the only tie (actions/registry.c fills them).
 */
#ifndef BOTC_ACTION_H
#define BOTC_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialogue/bot.h"
#include "dialogue/deferred.h"
#include "dialogue/machine.h"

struct cJSON;

/* One action being answered, inside the input's transaction. */
typedef struct bot_act {
    bot *b;
    bm_session *s;
    const bm_input *in;
    bm_action action;          /* which action */
    const char *text;          /* the action's input text, never NULL */
    bm_effects *out;           /* its messages go here, in order */
    int first;                 /* out->n when the action started */
    const bot_io_res *io_res;  /* resume: the answer to its request; else NULL */
    bot_io_req *io_req;        /* where run asks for deferred I/O; NULL when no
                                * event loop can answer (console, tests) */
    /* set by the action: */
    bool deleted;              /* the user's data is gone: do not save them */
    bool ai_answered;          /* out->v[ai_from..ai_to) is the model's answer */
    int ai_from, ai_to;
} bot_act;

/* An action's row. gate (may be NULL) runs first: 1 lets the action run,
 * 0 when it answered in its place (a limit reached), -1 fails the input.
 * run answers the action; when it filled c->io_req the input is deferred
 * and runs again later, and then `resume` (NULL: run again) gets the answer
 * in c->io_res. Both return 0, or -1 to fail the whole input (rolled back). */
typedef struct bot_action {
    const char *name;
    int (*gate)(bot_act *c);
    int (*run)(bot_act *c);
    int (*resume)(bot_act *c);
} bot_action;

/* How an input's savepoint ended (bot_part.after_input). */
enum { BOT_INPUT_COMMITTED = 0, BOT_INPUT_DEFERRED = 1, BOT_INPUT_FAILED = 2 };

/* A part's row. Every hook but open may be NULL. State is the part's own:
 * open makes it (NULL is a valid state: the part is off), close frees it.
 * Hooks run inside the input's transaction; ints are 0 or -1 (fail the
 * input) unless said otherwise. */
typedef struct bot_part {
    const char *name;
    int (*open)(bot *b, void **state, char *err, size_t errlen);
    void (*close)(void *state);
    /* before the session loads: 1 when the input is the part's business
     * (its effects appended to fx; the machine never sees it), 0 to pass */
    int (*take)(void *state, const bm_input *in, bm_effects *fx);
    /* instead of the machine's step: 1 when it made the step (effects,
     * BM_FX_ACTION ones included, appended to step_fx), 0 to pass */
    int (*pre_step)(void *state, const bm_machine *m, bm_session *s, const bm_input *in,
                    bm_effects *step_fx);
    /* before the machine's step: true when the text is a question the
     * part answers in the state's any:, which then goes before the state's
     * pattern triggers (bm_input.answer_first) */
    bool (*answers_first)(void *state, const bm_machine *m, const bm_session *s,
                          const bm_input *in);
    /* a completed form's record (json), stored by bot.c already */
    int (*record)(void *state, const bm_machine *m, const bm_session *s, const bm_input *in,
                  int form, const char *json);
    /* after the input's savepoint ended (BOT_INPUT_*), outside it */
    void (*after_input)(void *state, int outcome);
    /* delete_data / export_data: the part's rows about the user */
    int (*forget_user)(void *state, int64_t user_id);
    int (*export_user)(void *state, int64_t user_id, struct cJSON *root);
} bot_part;

/* The tables (actions/registry.c). Every row of bot_actions has a run. */
extern const bot_action *const bot_actions[BM_ACT_COUNT];
extern const bot_part *const bot_parts[];
extern const int bot_n_parts;

/* Part i's state (an index into bot_parts), NULL when it is off. */
void *bot_part_state(bot *b, int part);

/* ---- what actions say ------------------------------------------------- */

/* Appends a message with `text` (malloc'd, taken in every case). 0 or -1. */
int bot_act_say(bot_act *c, char *text);
/* The sys text t in the user's language ({text} = the action's text). */
int bot_act_say_sys(bot_act *c, bm_sys_text t);
/* text cut into messages of at most 4096 UTF-16 units (text_split);
 * text is borrowed. */
int bot_act_say_long(bot_act *c, const char *text);
/* The model's answer as one message marked Markdown (bm_effect.markdown):
 * the transport formats it as entities and splits it (md_split), history
 * stores it as the model wrote it. text is borrowed. 0 or -1. */
int bot_act_say_markdown(bot_act *c, const char *text);
/* Whether c may ask for deferred I/O now: an event loop is there and no
 * other action of the step asked. */
bool bot_act_can_defer(const bot_act *c);

#endif
