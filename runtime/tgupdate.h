/*
 * tgupdate.h — between Telegram's JSON and the machine: an Update object
 * becomes a bm_input; a bm_effect becomes the Bot API calls that deliver it.
 *
 * Pure functions over cJSON: no I/O, so every mapping is unit-tested.
 */
#ifndef BOTC_TGUPDATE_H
#define BOTC_TGUPDATE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "machine.h"

/* Telegram's limit on a message text, in UTF-16 code units. */
#define TGU_TEXT_MAX 4096

typedef enum tgu_status {
    TGU_ERROR = -1, /* malformed update: err says why */
    TGU_OK = 0,     /* *in holds the input to step */
    TGU_SKIP = 1,   /* a kind the bot does not handle (edits, channel posts,
                       chat member changes, service messages, ...) */
} tgu_status;

/* Parses one Update object.
 *   message + text                 -> BM_IN_TEXT
 *   message + contact              -> BM_IN_CONTACT (text = phone_number,
 *                                     contact_user_id = contact.user_id or 0)
 *   message + voice                -> BM_IN_VOICE (text = voice.file_id)
 *   message + photo/sticker/...    -> BM_IN_OTHER (text = caption or "")
 *   callback_query + data          -> BM_IN_CALLBACK (text = data,
 *                                     callback_id, message_id; chat from
 *                                     message.chat.id)
 *   anything else                  -> TGU_SKIP
 * *update_id is set whenever the update carries one, also for SKIP and for
 * most errors, so the caller can move its offset past it; it is left
 * untouched when the update has no usable update_id.
 * Strings in *in are borrowed from `update` and live as long as it does.
 * On TGU_ERROR a reason is written into err. */
tgu_status tgu_parse(const cJSON *update, int64_t *update_id, bm_input *in,
                     char *err, size_t errlen);

/* One Bot API call to make. */
typedef struct tgu_call {
    const char *method; /* static string, e.g. "sendMessage" */
    int64_t chat_id;    /* chat whose order it keeps; 0 for bot-wide calls */
    char *body;         /* its params as a JSON object's text (written, not
                         * built as a tree: the outbox stores and sends the
                         * text); owned by the list until taken (NULL) */
} tgu_call;

typedef struct tgu_calls {
    tgu_call *v;
    int n, cap;
} tgu_calls;

void tgu_calls_init(tgu_calls *c);
/* Frees every body still owned and empties the list (keeps capacity). */
void tgu_calls_clear(tgu_calls *c);
void tgu_calls_free(tgu_calls *c);

/* Appends the calls that deliver fx:
 *   SEND   -> sendMessage {chat_id, text, reply_markup?}; a text over
 *             TGU_TEXT_MAX UTF-16 units becomes several messages, the markup
 *             on the last one.
 *   EDIT   -> editMessageText {chat_id, message_id, text, reply_markup?
 *             (inline only: any other keyboard is dropped, Telegram cannot
 *             edit one in)}; an over-long text edits with its first part
 *             and sends the rest, the markup on the last message.
 *   ANSWER -> answerCallbackQuery {callback_query_id}
 *   CALL   -> the method with the effect's params (a JSON object's text)
 *   ACTION, RECORD -> nothing (bot.c answers them).
 * reply_markup: REPLY  -> {keyboard:[[{text, request_contact?}]],
 *                          resize_keyboard:true, is_persistent:true}
 *               INLINE -> {inline_keyboard:[[{text, callback_data | url}]]}
 *               REMOVE -> {remove_keyboard:true}
 * (empty rows left out; a keyboard with no button, or an inline button
 * with no data, is an error).
 * An empty SEND/EDIT text adds nothing (Telegram refuses empty texts).
 * Returns 0, or -1 with a reason in err (out is left as it was). */
int tgu_render(const bm_effect *fx, tgu_calls *out, char *err, size_t errlen);

/* Appends setMyCommands calls publishing m's commands: one per language
 * with language_code and the descriptions in that language, then one
 * without language_code in the default language. Hidden commands
 * (description == BM_NONE) are left out; with none visible at all,
 * deleteMyCommands calls are appended instead. Returns 0 or -1. */
int tgu_commands(const bm_machine *m, tgu_calls *out, char *err, size_t errlen);

#endif
