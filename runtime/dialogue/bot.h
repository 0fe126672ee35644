/*
 * bot.h — one running bot: a machine, its store, and the step that turns an
 * input into persisted state plus effects to deliver. Transports (console.c,
 * tgbot.c) feed it inputs and deliver its effects; it knows no transport.
 */
#ifndef BOTC_BOT_H
#define BOTC_BOT_H

#include <stddef.h>
#include <stdint.h>

#include "dialogue/deferred.h"
#include "dialogue/machine.h"

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

/* Seams for conversation tests (runtime/front/convtest.c); NULL turns one off.
 *
 * bot_set_trace: every session bot_handle steps gets `trace` (coverage).
 * The pointer is borrowed and must outlive the calls that use it.
 *
 * bot_set_action_hook: asked first for every action the machine reports
 * (`act` is the BM_FX_ACTION effect: its action and input text). It returns
 * 1 when it answered (its SEND effects appended to `out`, which the bot
 * then owns), 0 to leave the action to the built-in handlers, -1 to fail
 * the input. Tests script the LLM's answers with it. */
typedef int (*bot_action_hook)(void *ud, const bm_effect *act, const bm_session *s,
                               const bm_input *in, bm_effects *out);
void bot_set_trace(bot *b, const bm_trace *trace);
void bot_set_action_hook(bot *b, bot_action_hook fn, void *ud);

/* ---- handling inside a transport's transaction and event loop ---------- */

typedef struct store store;
/* The bot's store, for the transport's inbox and outbox (borrowed). */
store *bot_store(bot *b);
/* Why the last bot_handle / bot_handle_tx failed (never NULL; "" if it
 * did not). Borrowed until the next call. */
const char *bot_error(const bot *b);

/* Runs inside the input's transaction once its effects are known (fx from
 * index `first` on), before the commit: a transport stores the calls that
 * deliver them (the outbox) and takes the update out of its inbox here, so
 * both commit with the new state. Return 0 to commit, -1 to roll back. */
typedef int (*bot_tx_fn)(void *ud, const bm_effects *fx, int first);

typedef struct bot_tx {
    bot_tx_fn fn;              /* may be NULL */
    void *ud;
    const bot_io_res *io_res;  /* the answer, when running a deferred input again */
    bot_io_req io_req;         /* out: what a deferred input waits for */
    uint64_t io_actions;       /* the actions whose deferred I/O the transport
                                * answers, bit (1 << bm_action); 0 = every one.
                                * The others run as without an event loop. */
} bot_tx;

enum { BOT_DEFERRED = 1, BOT_DUPLICATE = 2 };

/* bot_handle with a transport's hook. Returns 0 when handled (committed;
 * with the store already in a transaction this is a savepoint, committed
 * with the outer one), BOT_DUPLICATE when in->update_id was handled before
 * (nothing done, the hook not called), BOT_DEFERRED when an action needs
 * tx->io_req answered first (nothing committed: run the same input again
 * with tx->io_res set; the caller frees io_req), -1 on failure (nothing
 * committed; bot_error says why). */
int bot_handle_tx(bot *b, const bm_input *in, bm_effects *fx, bot_tx *tx);

/* 1 when the store knows user_id, 0 when not, -1 on a storage error. */
int bot_user_exists(bot *b, int64_t user_id);

/* The screen user is on (bm_show: the form's question, else the state's
 * messages), appended to fx; nothing is stored. 1 shown, 0 the store has
 * no session for the user, -1 on error (fx as it was). */
int bot_show(bot *b, const bm_user *user, bm_effects *fx);

/* delete_data for user_id, inside the caller's transaction (or its own
 * statements): every row about the user in the store's tables (users,
 * vars, records, history) and in every part's (bot_part.forget_user:
 * ai_answers and votes, handoffs, llm_usage, leads). Kept: a manager's
 * row in managers (the admin's configuration), and the delivery queues
 * (inbox, outbox, dead_letter, handled: updates and calls in transit,
 * keyed by chat and update id). 0 or -1. */
int bot_delete_user(bot *b, int64_t user_id);
/* export_data for user_id: all of those tables' rows about the user as
 * one pretty-printed JSON object with the keys user, variables, records,
 * history and the parts' (ai_answers, votes, handoffs, manager,
 * llm_usage, leads). malloc'd, NULL on error. */
char *bot_export_user(bot *b, int64_t user_id);

#endif
