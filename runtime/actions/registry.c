/*
 * registry.c — the action table and the part table, derived from
 * dialogue/action_list.h and registry.h.
 */
#include "actions/registry.h"

#include <inttypes.h>

#include "base/log.h"
#include "dialogue/action.h"

#define ACTION_DECL_(E, name, row) extern const bot_action row;
BM_ACTIONS(ACTION_DECL_)
#undef ACTION_DECL_

#define PART_DECL_(E, row) extern const bot_part row;
BOT_PARTS(PART_DECL_)
#undef PART_DECL_

#define ACTION_ROW_(E, name, row) [BM_ACT_##E] = &row,
const bot_action *const bot_actions[BM_ACT_COUNT] = {BM_ACTIONS(ACTION_ROW_)};
#undef ACTION_ROW_

#define PART_ROW_(E, row) [BOT_PART_##E] = &row,
const bot_part *const bot_parts[] = {BOT_PARTS(PART_ROW_)};
#undef PART_ROW_
const int bot_n_parts = BOT_PART_COUNT;

_Static_assert(sizeof bot_parts / sizeof bot_parts[0] == BOT_PART_COUNT,
               "bot_parts has a row per BOT_PARTS entry");

/* Actions a spec may name that this build cannot perform. */
static int unavailable_run(bot_act *c)
{
    log_info("bot", "action %s for user %" PRId64 " is not available in this build",
             bm_action_name(c->action), c->s->user_id);
    return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
}

const bot_action act_unavailable = {.name = "unavailable", .run = unavailable_run};
