/*
 * leads.c — the leads part: a completed form with `lead:` goes to the
 * managers (people/lead.c queues and posts it; delivery/tgbot.c pumps the
 * queue through bot_part_state(b, BOT_PART_LEADS)).
 */
#include <inttypes.h>

#include "actions/registry.h"
#include "base/log.h"
#include "dialogue/action.h"
#include "people/lead.h"

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    const bm_machine *m = bot_machine(b);
    int64_t group = lead_group_from_env();
    lead_book *lb = lead_open(bot_store(b), m, group, err, errlen);
    *state = lb;
    if (!lb)
        return -1;
    for (int i = 0; i < m->n_forms; i++) {
        if (m->forms[i].lead != BM_LEAD_NONE && !group) {
            log_info("bot", "MANAGER_GROUP_CHAT_ID is not set: leads (form '%s') stay in the "
                     "database only (table leads)", m->forms[i].name);
            break;
        }
    }
    return 0;
}

static void part_close(void *state) { lead_free(state); }

static int part_record(void *state, const bm_machine *m, const bm_session *s,
                       const bm_input *in, int form, const char *json)
{
    return lead_add(state, form, json, &in->user, m->langs[s->lang]);
}

static int part_forget(void *state, int64_t user_id) { return lead_forget_user(state, user_id); }

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    return lead_export_user(state, user_id, root);
}

const bot_part part_leads = {
    .name = "leads",
    .open = part_open,
    .close = part_close,
    .record = part_record,
    .forget_user = part_forget,
    .export_user = part_export,
};
