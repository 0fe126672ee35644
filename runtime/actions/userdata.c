/*
 * userdata.c — `export_data` and `delete_data`: everything the bot stores
 * about the user (the store's tables and every part's, dialogue/bot.h:
 * bot_export_user, bot_delete_user), sent to them as a file or erased.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "dialogue/action.h"

/* One file, my-data-<UTC date>.json: JSON split into chat messages breaks
 * mid-string, and a message would enter the history the next export holds. */
static int export_run(bot_act *c)
{
    char name[40];
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(name, sizeof name, "my-data-%Y-%m-%d.json", &tm))
        snprintf(name, sizeof name, "my-data.json");
    char *js = bot_export_user(c->b, c->s->user_id);
    bm_effect *e = js ? bm_effects_add(c->out, BM_FX_DOCUMENT, c->s->chat_id) : NULL;
    if (!e || !(e->file_name = strdup(name))) {
        free(js);
        return -1;
    }
    e->text = js;
    return 0;
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
