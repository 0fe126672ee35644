/*
 * bot.h — one running bot: a machine, its store, and the step that turns an
 * input into persisted state plus effects to deliver. Transports (console.c,
 * tgbot.c) feed it inputs and deliver its effects; it knows no transport.
 */
#ifndef BOTC_BOT_H
#define BOTC_BOT_H

#include <stddef.h>
#include <stdint.h>

#include "machine.h"

typedef struct bot bot;

/* Opens (creating when needed) the SQLite database at db_path. On failure
 * returns NULL and writes a reason into err. */
bot *bot_new(const bm_machine *m, const char *db_path, char *err, size_t errlen);
void bot_free(bot *b);

const bm_machine *bot_machine(const bot *b);

/* Users whose stored state no longer exists in the machine are moved (to the
 * `moved:`/`renamed_from:` target, else to the start state with the
 * sys_migrated text). Appends the messages for them to fx. Returns the number
 * of users moved, or -1 on a storage error. Call once at start. */
int bot_migrate(bot *b, bm_effects *fx);

/* Handle one input: load the user's session, step the machine, run the
 * actions the runtime answers itself (delete_data, export_data, ...), and
 * commit the new session and any form record in one transaction. Effects to
 * deliver are appended to fx. An input carrying an update_id that was handled
 * before does nothing and returns 0. Returns 0, or -1 when the input could not be
 * handled (nothing was committed; the reason is logged). */
int bot_handle(bot *b, const bm_input *in, bm_effects *fx);
/* What bot_handle and bot_migrate append: SEND, EDIT and ANSWER effects
 * only. ACTION effects are answered inside (unsupported actions become the
 * sys_unavailable text) and RECORD effects are stored, not passed on. */

/* 1 when the store knows user_id, 0 when not, -1 on a storage error. */
int bot_user_exists(bot *b, int64_t user_id);

#endif
