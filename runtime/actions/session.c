/*
 * session.c — `session_start`: a new conversation with the model. What the
 * user and the model said before stays stored (the operator's view, the
 * export) but is no longer sent as the model's context
 * (store_history_close_ai).
 */
#include <inttypes.h>

#include "base/log.h"
#include "dialogue/action.h"
#include "storage/store.h"

static int session_start_run(bot_act *c)
{
    if (store_history_close_ai(bot_store(c->b), c->s->user_id))
        return -1;
    log_info("bot", "user %" PRId64 ": a new AI session", c->s->user_id);
    return bot_act_say_sys(c, BM_SYS_SESSION_STARTED);
}

const bot_action act_session_start = {.name = "session_start", .run = session_start_run};
