/*
 * feedback.h — "👍 Helped" / "Call an operator" under every AI answer, and
 * the votes they leave.
 *
 * Tables (storage/store_feedback.h; created when missing, in the bot's
 * database):
 *   ai_answers(id PK, user_id, chat_id, at)   an AI answer that carries the
 *                                             buttons: whom it was for
 *   votes(answer_id PK, user_id, chat_id, message_id, vote, at)
 *                                             vote: 'helped' or 'operator';
 *                                             the first press; later ones
 *                                             count nothing
 * The buttons' callback data is "bm:fb:<answer id>:h" / ":o". Callback data
 * carries no authority (a client can send any data for a message): a press
 * counts only when the presser is the user ai_answers says the answer was
 * for; anyone else's press is answered and otherwise ignored.
 *
 * Statements run in whatever transaction the store has open (bot.c's, so
 * a vote commits with the update that brought it). One handle, one thread.
 */
#ifndef BOTC_FEEDBACK_H
#define BOTC_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dialogue/machine.h"
#include "storage/store.h"

typedef struct fb fb;

#define FB_CB_PREFIX "bm:fb:"

/* st borrowed (must outlive the handle). NULL with the reason in err. */
fb *fb_open(store *st, char *err, size_t errlen);
void fb_free(fb *f);

/* Makes e (a SEND effect without markup: the AI answer's last message for
 * s's user) carry the two buttons, labelled sys_helped and sys_operator in
 * the session's language, and records the answer. Returns 0, -1 on
 * out-of-memory or a database error (e unchanged). */
int fb_attach(fb *f, const bm_machine *m, const bm_session *s, const bm_user *u, bm_effect *e);

/* What a press asks for. */
typedef enum fb_press_kind {
    FB_NOT_MINE = 0,   /* not a feedback button: step the machine */
    FB_IGNORED,        /* a feedback button, but not the answer's user (or
                        * an unknown answer): answer the press, nothing else */
    FB_HELPED,         /* vote stored (or the answer had one already) */
    FB_OPERATOR,       /* likewise; the caller starts the handoff */
} fb_press_kind;

/* Looks at a BM_IN_CALLBACK input; stores the vote when the presser may
 * vote. Returns the kind, or -1 on a database error. */
int fb_press(fb *f, const bm_input *in);

/* Erase the user's answers and votes (delete_data). 0 or -1. */
int fb_delete_user(fb *f, int64_t user_id);
/* Adds "ai_answers" and "votes" (the user's rows) to root (export_data).
 * 0 or -1. */
int fb_export_user(fb *f, int64_t user_id, cJSON *root);

#endif
