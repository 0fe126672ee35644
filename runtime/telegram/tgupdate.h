/*
 * tgupdate.h — between Telegram's JSON and the machine: an Update object
 * becomes a bm_input; a bm_effect becomes the Bot API calls that deliver it.
 *
 * Pure functions: no I/O, so every mapping is unit-tested. An update is
 * read from its JSON text as it arrived (runtime/base/jsonscan.h: no tree, no
 * allocation).
 */
#ifndef BOTC_TGUPDATE_H
#define BOTC_TGUPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/jsonscan.h"
#include "dialogue/machine.h"

/* Telegram's limit on a message text, in UTF-16 code units. */
#define TGU_TEXT_MAX 4096

typedef enum tgu_status {
    TGU_ERROR = -1, /* malformed update: err says why */
    TGU_OK = 0,     /* *in holds the input to step */
    TGU_SKIP = 1,   /* a kind the bot does not handle (edits, channel posts,
                       chat member changes, service messages, ...) */
} tgu_status;

/* Space the strings of a parsed update are decoded into: p[0..cap) is the
 * caller's (e.g. the tail of the buffer holding the update's text, freed
 * with it); len is how much the last parse used.
 * TGU_STRINGS_CAP(the text's length) is always enough (a decoded string
 * with invalid UTF-8 replaced can be three times its quoted source:
 * jsonscan.h, jscan_str). */
typedef struct tgu_strings {
    char *p;
    size_t cap, len;
} tgu_strings;
#define TGU_STRINGS_CAP(text_len) (JSCAN_STR_CAP(text_len) + 1)

/* Parses one Update from its JSON text json[0..n) (need not be
 * NUL-terminated; must be exactly one object, blanks around it allowed).
 *   message + text                 -> BM_IN_TEXT
 *   message + contact              -> BM_IN_CONTACT (text = phone_number,
 *                                     contact_user_id = contact.user_id or 0)
 *   message + voice                -> BM_IN_VOICE (text = "", the note in in->voice)
 *   message + photo/sticker/...    -> BM_IN_OTHER (text = caption or "")
 *     (an audio, a video_note, a document of audio/...: also its file in
 *     in->voice: file_id, mime, duration, file_size, file_name)
 *   callback_query + data          -> BM_IN_CALLBACK (text = data,
 *                                     callback_id, message_id; chat from
 *                                     message.chat.id)
 *   anything else                  -> TGU_SKIP
 * *update_id is set whenever the update carries one, also for SKIP and for
 * most errors, so the caller can move its offset past it; it is left
 * untouched when the update has no usable update_id.
 * Ids are exact int64 integers: a fraction, an exponent or a value out of
 * range is "not an integer". Strings the bot reads (text, data, caption,
 * names, language_code, callback id, phone_number, file_id) are unescaped
 * into owned->p, \uXXXX surrogate pairs included; *in points there (or to
 * static ""), so *in lives as long as that space and is not touched by
 * another parse into it. They are always valid UTF-8: invalid bytes, lone
 * surrogate escapes and \u0000 become U+FFFD (one rule at the door, for
 * raw bytes and escapes alike: jscan_str), so a name like "Al\xffice"
 * cannot make a sendMessage or a model request fail later. A bad escape
 * (\x, \u without four hex digits) in one of them is an error; strings the bot does not read are only
 * checked against the JSON grammar. Keys are matched as written (Telegram
 * escapes none); of duplicate keys the first counts. Other members, known
 * or not, are skipped. Text that is not one well-formed JSON object is an
 * error ("update is not a JSON object"). On TGU_ERROR a reason is written
 * into err. */
tgu_status tgu_parse_text(const char *json, size_t n, tgu_strings *owned,
                          int64_t *update_id, bm_input *in, char *err, size_t errlen);

/* The kind of an update (its first member of Bot API's Update fields
 * after update_id, in that list's order): "message", "edited_message",
 * "my_chat_member", ...; "unknown" for none of them. *index is set to the
 * kind's place in that list (0..TGU_KINDS-1), for a per-kind bitmask.
 * Static strings; json[0..n) need not be NUL-terminated. */
#define TGU_KINDS 26

/* Whether in is a command addressed to another bot in a group: its text
 * starts "/name@Bot" with Bot not `me` (compared without case, as Telegram
 * does). Private chats, other texts and me NULL or "" give false. */
bool tgu_for_other_bot(const bm_input *in, const char *me);
const char *tgu_update_kind(const char *json, size_t n, int *index);

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
/* Appends method (a static string) for chat_id with body (malloc'd, taken
 * in every case; NULL = out of memory). 0 or -1. */
int tgu_calls_add(tgu_calls *c, const char *method, int64_t chat_id, char *body);

/* Appends the calls that deliver fx:
 *   SEND   -> sendMessage {chat_id, text, reply_markup?}; a text over
 *             TGU_TEXT_MAX UTF-16 units becomes several messages, the markup
 *             on the last one.
 *   EDIT   -> editMessageText {chat_id, message_id, text, reply_markup?
 *             (inline only: any other keyboard is dropped, Telegram cannot
 *             edit one in)}; an over-long text edits with its first part
 *             and sends the rest, the markup on the last message.
 *   ANSWER -> answerCallbackQuery {callback_query_id, text?}
 *   CALL   -> the method with the effect's params (a JSON object's text)
 *   DOCUMENT -> sendDocument {chat_id, document: the file as an upload
 *             (tg.h: {"file_name", "content"})}
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
