/*
 * userdata.c — `export_data` and `delete_data`: everything the bot stores
 * about the user (the store's tables and every part's, dialogue/bot.h:
 * bot_export_user, bot_delete_user), sent to them or erased.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "base/log.h"
#include "dialogue/action.h"

static int export_run(bot_act *c)
{
    char *js = bot_export_user(c->b, c->s->user_id);
    if (!js)
        return -1;
    int rc = bot_act_say_long(c, js);
    free(js);
    return rc;
}

static int delete_run(bot_act *c)
{
    if (bot_delete_user(c->b, c->s->user_id))
        return -1;
    c->deleted = true;
    log_info("bot", "deleted the data of user %" PRId64, c->s->user_id);
    return bot_act_say_sys(c, BM_SYS_DATA_DELETED);
}

const bot_action act_export_data = {.name = "export_data", .run = export_run};
const bot_action act_delete_data = {.name = "delete_data", .run = delete_run};
