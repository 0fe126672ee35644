/*
 * tgupdate.c — Update JSON -> bm_input, bm_effect -> Bot API calls.
 */
#include "telegram/tgupdate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/jsonscan.h"
#include "base/jsonw.h"
#include "base/markdown.h"
#include "base/text.h"
#include "telegram/tg.h"

#define TGU_DESC_MAX 256 /* BotCommand.description limit */
#define TGU_MAX_COMMANDS 100

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, what);
    return TGU_ERROR;
}

/* ---- parsing ------------------------------------------------------------ */

/* One parse: where strings are decoded to and where a reason goes. The
 * whole update was validated by its first jscan_members, so every span
 * below is one well-formed value and its first byte tells its type. */
typedef struct tgu_px {
    tgu_strings *s;
    char *err;
    size_t errlen;
} tgu_px;

static bool present(jscan_span v) { return v.p != NULL; }
static bool is_null(jscan_span v) { return v.p && *v.p == 'n'; }
static bool is_obj(jscan_span v) { return v.p && *v.p == '{'; }
static bool is_str(jscan_span v) { return v.p && *v.p == '"'; }
static bool is_true(jscan_span v) { return v.p && *v.p == 't'; }

/* The members keys[0..n) of the object v (out[i] absent: {NULL, NULL}),
 * inside the update checked whole by its first lookup. */
static void members(jscan_span v, const char *const *keys, jscan_span *out, int n)
{
    jscan_members_of(v, keys, out, n);
}

/* The string v decoded into the parse's space: 0, or -1 with a reason
 * naming `what` (a bad escape; invalid UTF-8 and lone surrogates are
 * replaced, not refused). */
static int str(tgu_px *x, jscan_span v, const char **out, const char *what)
{
    tgu_strings *s = x->s;
    long n = jscan_str(v, s->p + s->len, s->cap - s->len);
    if (n < 0)
        return fail(x->err, x->errlen, "%s is not a valid JSON string (a bad escape)", what);
    *out = s->p + s->len;
    s->len += (size_t)n + 1;
    return 0;
}

/* Optional string: absent or null -> NULL, a string -> it (0); 1 for
 * another type (the caller says why); -1 when it does not decode (str
 * said why). */
static int opt_str(tgu_px *x, jscan_span v, const char **out, const char *what)
{
    *out = NULL;
    if (!present(v) || is_null(v))
        return 0;
    if (!is_str(v))
        return 1;
    return str(x, v, out, what);
}

/* user: {id, is_bot?, first_name?, last_name?, username?, language_code?};
 * *is_bot (may be NULL) is whether is_bot is true. */
static int parse_user(tgu_px *x, jscan_span from, bm_user *u, bool *is_bot,
                      const char *where)
{
    static const char *const keys[] = {"id", "is_bot", "first_name", "last_name",
                                       "username", "language_code"};
    jscan_span v[6];
    if (!is_obj(from))
        return fail(x->err, x->errlen, "%s without a `from` user", where);
    members(from, keys, v, 6);
    if (jscan_i64(v[0], &u->id) != 0)
        return fail(x->err, x->errlen, "%s: from.id is not an integer", where);
    if (is_bot)
        *is_bot = is_true(v[1]);
    int r;
    if ((r = opt_str(x, v[2], &u->first_name, "from.first_name")) ||
        (r = opt_str(x, v[3], &u->last_name, "from.last_name")) ||
        (r = opt_str(x, v[4], &u->username, "from.username")) ||
        (r = opt_str(x, v[5], &u->language_code, "from.language_code")))
        return r < 0 ? TGU_ERROR
                     : fail(x->err, x->errlen, "%s: a name field of `from` is not a string",
                            where);
    return 0;
}

/* chat: {id, ...} */
static int parse_chat(tgu_px *x, jscan_span chat, int64_t *chat_id, const char *where)
{
    static const char *const keys[] = {"id"};
    jscan_span id;
    if (!is_obj(chat))
        return fail(x->err, x->errlen, "%s without a `chat`", where);
    members(chat, keys, &id, 1);
    if (jscan_i64(id, chat_id) != 0)
        return fail(x->err, x->errlen, "%s: chat.id is not an integer", where);
    return 0;
}

/* The string member `key` of the object v, or absent when v is not an
 * object or has no such string. */
static jscan_span str_member(jscan_span v, const char *key)
{
    jscan_span m = {NULL, NULL};
    if (is_obj(v))
        members(v, &key, &m, 1);
    return is_str(m) ? m : (jscan_span){NULL, NULL};
}

/* The members of a message the parse reads, in one pass: the fixed ones,
 * then (from M_OTHER on) the fields that carry user content without text,
 * which an `any:` fallback may take. Everything else in a message (members
 * joining, pins, topic changes, payments, ...) is a service message and
 * skipped. */
enum { M_FROM, M_CHAT, M_ID, M_THREAD, M_TEXT, M_CONTACT, M_VOICE, M_CAPTION, M_OTHER };
static const char *const message_keys[] = {
    "from", "chat", "message_id", "message_thread_id", "text", "contact", "voice",
    "caption",
    "photo", "sticker", "document", "video", "audio", "animation",
    "video_note", "live_photo", "paid_media", "story", "location", "venue",
    "poll", "dice", "game", "checklist", "invoice", "giveaway",
    "web_app_data", "passport_data",
};
#define N_MESSAGE_KEYS ((int)(sizeof message_keys / sizeof message_keys[0]))

/* Recordings other than voice notes: an `audio` (MP3, M4A, ...), a
 * `video_note` (MP4) and a `document` whose mime_type is audio/... They stay
 * OTHER inputs (the caption their text: a spec without `voice:` hands them
 * to `any:` as before), with the file in in->voice, so that a spec with
 * `voice:` has them transcribed like a voice note (dialogue/bot.c). A
 * recording without a file_id string is only OTHER. */
static tgu_status parse_recording(tgu_px *x, const char *what, jscan_span o, bm_input *in)
{
    bool video_note = !strcmp(what, "video_note");
    if (strcmp(what, "audio") && !video_note && strcmp(what, "document"))
        return TGU_OK;
    jscan_span fid = str_member(o, "file_id");
    jscan_span mime = str_member(o, "mime_type");
    if (!present(fid))
        return TGU_OK;
    const char *m = NULL;
    if (present(mime) && str(x, mime, &m, "message.audio.mime_type"))
        return TGU_ERROR;
    if (!strcmp(what, "document") && (!m || strncmp(m, "audio/", 6)))
        return TGU_OK; /* a document of another kind: only a file */
    static const char *const keys[] = {"duration", "file_size"};
    jscan_span n[2] = {{NULL, NULL}, {NULL, NULL}};
    members(o, keys, n, 2);
    if ((present(n[0]) && jscan_i64(n[0], &in->voice.duration) != 0) ||
        (present(n[1]) && jscan_i64(n[1], &in->voice.file_size) != 0))
        return fail(x->err, x->errlen, "message.%s: duration or file_size is not an integer",
                    what);
    /* Telegram gives a video note no mime_type: it is always MP4 */
    in->voice.mime = m ? m : video_note ? "video/mp4" : NULL;
    jscan_span name = str_member(o, "file_name");
    if (present(name) && str(x, name, &in->voice.file_name, "message.audio.file_name"))
        return TGU_ERROR;
    return str(x, fid, &in->voice.file_id, "message.audio.file_id") ? TGU_ERROR : TGU_OK;
}

/* message -> TEXT | CONTACT | VOICE | OTHER, service messages skipped */
static tgu_status parse_message(tgu_px *x, jscan_span msg, bm_input *in)
{
    jscan_span v[N_MESSAGE_KEYS];
    if (!is_obj(msg))
        return fail(x->err, x->errlen, "%s is not an object", "message");
    members(msg, message_keys, v, N_MESSAGE_KEYS);
    if (parse_user(x, v[M_FROM], &in->user, &in->from_bot, "message"))
        return TGU_ERROR;
    if (parse_chat(x, v[M_CHAT], &in->user.chat_id, "message"))
        return TGU_ERROR;
    /* what operator handoff routes by (runtime/people/handoff.h); absent = 0 */
    jscan_i64(v[M_ID], &in->msg_id);
    jscan_i64(v[M_THREAD], &in->thread_id);

    if (present(v[M_TEXT])) {
        if (!is_str(v[M_TEXT]))
            return fail(x->err, x->errlen, "%s is not a string", "message.text");
        in->kind = BM_IN_TEXT;
        return str(x, v[M_TEXT], &in->text, "message.text") ? TGU_ERROR : TGU_OK;
    }
    if (present(v[M_CONTACT])) {
        static const char *const ckeys[] = {"phone_number", "user_id"};
        jscan_span c[2] = {{NULL, NULL}, {NULL, NULL}};
        if (is_obj(v[M_CONTACT]))
            members(v[M_CONTACT], ckeys, c, 2);
        if (!is_str(c[0]))
            return fail(x->err, x->errlen, "%s without a phone_number string", "message.contact");
        if (present(c[1]) && jscan_i64(c[1], &in->contact_user_id) != 0)
            return fail(x->err, x->errlen, "%s is not an integer", "message.contact.user_id");
        in->kind = BM_IN_CONTACT;
        return str(x, c[0], &in->text, "message.contact.phone_number") ? TGU_ERROR : TGU_OK;
    }
    if (present(v[M_VOICE])) {
        jscan_span fid = str_member(v[M_VOICE], "file_id");
        if (!present(fid))
            return fail(x->err, x->errlen, "%s without a file_id string", "message.voice");
        /* the file_id is for the download only: never the text (a model
         * or a log would get it); the transcript becomes the text later */
        in->kind = BM_IN_VOICE;
        in->text = "";
        static const char *const vkeys[] = {"duration", "file_size"};
        jscan_span n[2] = {{NULL, NULL}, {NULL, NULL}};
        members(v[M_VOICE], vkeys, n, 2);
        if ((present(n[0]) && jscan_i64(n[0], &in->voice.duration) != 0) ||
            (present(n[1]) && jscan_i64(n[1], &in->voice.file_size) != 0))
            return fail(x->err, x->errlen, "%s: duration or file_size is not an integer",
                        "message.voice");
        jscan_span mime = str_member(v[M_VOICE], "mime_type");
        if (present(mime) && str(x, mime, &in->voice.mime, "message.voice.mime_type"))
            return TGU_ERROR;
        return str(x, fid, &in->voice.file_id, "message.voice.file_id") ? TGU_ERROR : TGU_OK;
    }
    for (int i = M_OTHER; i < N_MESSAGE_KEYS; i++) {
        if (present(v[i])) {
            const char *cap;
            int r = opt_str(x, v[M_CAPTION], &cap, "message.caption");
            if (r)
                return r < 0 ? TGU_ERROR
                             : fail(x->err, x->errlen, "%s is not a string", "message.caption");
            in->kind = BM_IN_OTHER;
            in->text = cap ? cap : "";
            return parse_recording(x, message_keys[i], v[i], in);
        }
    }
    return TGU_SKIP;
}

/* callback_query {id, from, message{message_id, chat}, data} -> CALLBACK */
static tgu_status parse_callback(tgu_px *x, jscan_span cq, bm_input *in)
{
    static const char *const keys[] = {"id", "from", "data", "message"};
    jscan_span v[4];
    if (!is_obj(cq))
        return fail(x->err, x->errlen, "%s is not an object", "callback_query");
    members(cq, keys, v, 4);
    if (!is_str(v[0]))
        return fail(x->err, x->errlen, "%s without an id string", "callback_query");
    if (parse_user(x, v[1], &in->user, NULL, "callback_query"))
        return TGU_ERROR;
    if (!present(v[2]))
        return TGU_SKIP; /* a game button: nothing in the spec presses it */
    if (!is_str(v[2]))
        return fail(x->err, x->errlen, "%s is not a string", "callback_query.data");
    if (!present(v[3]))
        return TGU_SKIP; /* a button under an inline-mode message: no chat */
    if (!is_obj(v[3]))
        return fail(x->err, x->errlen, "%s is not an object", "callback_query.message");
    static const char *const mkeys[] = {"chat", "message_id"};
    jscan_span m[2];
    members(v[3], mkeys, m, 2);
    if (parse_chat(x, m[0], &in->user.chat_id, "callback_query.message"))
        return TGU_ERROR;
    if (jscan_i64(m[1], &in->message_id) != 0)
        return fail(x->err, x->errlen, "%s is not an integer",
                    "callback_query.message.message_id");
    in->kind = BM_IN_CALLBACK;
    if (str(x, v[0], &in->callback_id, "callback_query.id") ||
        str(x, v[2], &in->text, "callback_query.data"))
        return TGU_ERROR;
    return TGU_OK;
}

tgu_status tgu_parse_text(const char *json, size_t n, tgu_strings *owned,
                          int64_t *update_id, bm_input *in, char *err, size_t errlen)
{
    static const char *const keys[] = {"update_id", "message", "callback_query"};
    jscan_span v[3];
    tgu_px x = {.s = owned, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    memset(in, 0, sizeof *in);
    in->text = "";
    owned->len = 0;
    /* one pass checks the whole text and finds the top-level members */
    if (!json || jscan_members(json, n, keys, v, 3) < 0)
        return fail(err, errlen, "%s is not a JSON object", "update");
    int64_t uid;
    if (jscan_i64(v[0], &uid) != 0)
        return fail(err, errlen, "%s without an integer update_id", "update");
    *update_id = uid;
    if (owned->cap < n)
        return fail(err, errlen, "%s", "no room for the update's strings");

    tgu_status st;
    if (present(v[1]))
        st = parse_message(&x, v[1], in);
    else if (present(v[2]))
        st = parse_callback(&x, v[2], in);
    else
        st = TGU_SKIP; /* edited_message, channel_post, my_chat_member, ... */
    if (st != TGU_OK) {
        memset(in, 0, sizeof *in);
        in->text = "";
    } else {
        in->update_id = uid; /* bot_handle de-duplicates by it */
    }
    return st;
}

bool tgu_for_other_bot(const bm_input *in, const char *me)
{
    if (!me || !*me || in->kind != BM_IN_TEXT || in->user.chat_id >= 0 || !in->text)
        return false;
    const char *t = in->text;
    if (*t++ != '/')
        return false;
    while ((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
           *t == '_')
        t++;
    if (*t++ != '@')
        return false;
    size_t n = strcspn(t, " \t\n\r");
    return n != strlen(me) || strncasecmp(t, me, n) != 0;
}

const char *tgu_update_kind(const char *json, size_t n, int *index)
{
    /* Update's fields in the Bot API (update_id aside), "unknown" last */
    static const char *const kinds[TGU_KINDS] = {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "guest_message", "message_reaction",
        "message_reaction_count", "inline_query", "chosen_inline_result", "callback_query",
        "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
        "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost", "managed_bot", "unknown"};
    jscan_span v[TGU_KINDS - 1];
    *index = TGU_KINDS - 1;
    if (!json || jscan_members(json, n, kinds, v, TGU_KINDS - 1) < 0)
        return kinds[TGU_KINDS - 1];
    for (int i = 0; i < TGU_KINDS - 1; i++)
        if (present(v[i])) {
            *index = i;
            return kinds[i];
        }
    return kinds[TGU_KINDS - 1];
}

/* ---- call list ------------------------------------------------------------ */

void tgu_calls_init(tgu_calls *c)
{
    c->v = NULL;
    c->n = c->cap = 0;
}

void tgu_calls_clear(tgu_calls *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->v[i].body);
    c->n = 0;
}

void tgu_calls_free(tgu_calls *c)
{
    tgu_calls_clear(c);
    free(c->v);
    tgu_calls_init(c);
}

/* Appends; takes body (malloc'd; NULL = out of memory) in every case. */
static int calls_add(tgu_calls *c, const char *method, int64_t chat_id, char *body)
{
    if (!body)
        return -1;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        tgu_call *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(body);
            return -1;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (tgu_call){.method = method, .chat_id = chat_id, .body = body};
    return 0;
}

int tgu_calls_add(tgu_calls *c, const char *method, int64_t chat_id, char *body)
{
    return calls_add(c, method, chat_id, body);
}

/* Drops calls appended after `mark` (on failure, out is left as it was). */
static void calls_truncate(tgu_calls *c, int mark)
{
    while (c->n > mark)
        free(c->v[--c->n].body);
}

/* ---- rendering ---------------------------------------------------------- */

static bool markup_ok(const bm_markup *mk)
{
    if (mk->kind == BM_MK_REMOVE)
        return true;
    if (mk->kind != BM_MK_INLINE && mk->kind != BM_MK_REPLY)
        return false;
    bool inl = mk->kind == BM_MK_INLINE;
    int k = 0, rows = 0;
    for (int r = 0; r < mk->n_rows; r++) {
        int len = mk->row_len ? mk->row_len[r] : 0;
        if (len <= 0)
            continue; /* Telegram rejects empty rows: left out */
        if (len > mk->n_buttons - k)
            return false;
        for (int i = 0; i < len; i++, k++)
            if (inl && (!mk->buttons[k].data || !*mk->buttons[k].data))
                return false; /* an inline button must do something */
        rows++;
    }
    return rows > 0;
}

/* The reply_markup value of mk (checked by markup_ok). */
static void write_markup(jw *w, const bm_markup *mk)
{
    jw_obj(w);
    if (mk->kind == BM_MK_REMOVE) {
        jw_key(w, "remove_keyboard");
        jw_bool(w, true);
        jw_end(w);
        return;
    }
    bool inl = mk->kind == BM_MK_INLINE;
    jw_key(w, inl ? "inline_keyboard" : "keyboard");
    jw_arr(w);
    int k = 0;
    for (int r = 0; r < mk->n_rows; r++) {
        int len = mk->row_len ? mk->row_len[r] : 0;
        if (len <= 0)
            continue;
        jw_arr(w);
        for (int i = 0; i < len; i++, k++) {
            const bm_button_out *b = &mk->buttons[k];
            jw_obj(w);
            jw_key(w, "text");
            jw_str(w, b->label ? b->label : "");
            if (inl) {
                jw_key(w, b->kind == BM_BTN_URL ? "url" : "callback_data");
                jw_str(w, b->data);
            } else if (b->kind == BM_BTN_CONTACT) {
                jw_key(w, "request_contact");
                jw_bool(w, true);
            }
            jw_end(w);
        }
        jw_end(w);
    }
    jw_end(w);
    if (!inl) {
        jw_key(w, "resize_keyboard");
        jw_bool(w, true);
        jw_key(w, "is_persistent");
        jw_bool(w, true);
    }
    jw_end(w);
}

/* sendMessage {chat_id, text, entities?, reply_markup?} or, with
 * message_id > 0, editMessageText {chat_id, message_id, text, entities?,
 * reply_markup?}. fmt (may be NULL) gives the entities of text. */
static char *text_body(int64_t chat_id, int64_t message_id, const char *text,
                       const md_text *fmt, const bm_markup *mk)
{
    jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "chat_id");
    jw_i64(&w, chat_id);
    if (message_id > 0) {
        jw_key(&w, "message_id");
        jw_i64(&w, message_id);
    }
    jw_key(&w, "text");
    jw_str(&w, text);
    if (fmt && fmt->n > 0) {
        jw_key(&w, "entities");
        md_write_entities(&w, fmt);
    }
    if (mk) {
        jw_key(&w, "reply_markup");
        write_markup(&w, mk);
    }
    jw_end(&w);
    return jw_take(&w);
}

/* A Markdown effect's text as formatted parts (base/markdown.h). A text
 * that is only markup (renders empty) goes as written rather than not at
 * all. 0, or -1 on out-of-memory. */
static int format_parts(const char *md, md_text **fparts, int *n)
{
    md_text t;
    if (md_render(md, strlen(md), &t))
        return -1;
    if (t.len == 0 && *md) {
        md_text_free(&t);
        t.text = strdup(md);
        if (!t.text)
            return -1;
        t.len = strlen(md);
    }
    int rc = md_split(&t, TGU_TEXT_MAX, fparts, n);
    md_text_free(&t);
    return rc;
}

/* SEND / EDIT: split the text; the first part edits (EDIT) or sends, the
 * rest send; the markup rides on the last. The model's Markdown
 * (fx->markdown) goes as text + entities, never as a parse_mode string. */
static int render_text(const bm_effect *fx, tgu_calls *out, char *err, size_t errlen)
{
    bool edit = fx->kind == BM_FX_EDIT;
    char **parts = NULL;
    md_text *fparts = NULL;
    int n = 0;
    if (fx->markdown) {
        if (format_parts(fx->text ? fx->text : "", &fparts, &n) != 0)
            return fail(err, errlen, "%s", "out of memory");
        parts = calloc(n > 0 ? (size_t)n : 1, sizeof *parts);
        if (!parts) {
            md_parts_free(fparts, n);
            return fail(err, errlen, "%s", "out of memory");
        }
        for (int i = 0; i < n; i++)
            parts[i] = fparts[i].text; /* borrowed from fparts */
    } else if (text_split(fx->text ? fx->text : "", TGU_TEXT_MAX, &parts, &n) != 0) {
        return fail(err, errlen, "%s", "out of memory");
    }
#define PARTS_FREE()                      \
    do {                                  \
        if (fx->markdown) {               \
            md_parts_free(fparts, n);     \
            free(parts);                  \
        } else {                          \
            text_parts_free(parts, n);    \
        }                                 \
    } while (0)
    if (n == 0) {
        PARTS_FREE();
        return 0; /* nothing to say: Telegram refuses empty texts */
    }
    /* editMessageText takes only an inline keyboard; a reply keyboard can
     * only arrive with a new message, so it is dropped from an edit. */
    const bm_markup *markup = NULL;
    if (fx->markup.kind != BM_MK_NONE && (!edit || fx->markup.kind == BM_MK_INLINE)) {
        if (!markup_ok(&fx->markup)) {
            PARTS_FREE();
            return fail(err, errlen, "%s", "malformed keyboard in an effect");
        }
        markup = &fx->markup;
    }
    int mark = out->n;
    for (int i = 0; i < n; i++) {
        bool first_edit = edit && i == 0;
        char *body = text_body(fx->chat_id, first_edit ? fx->message_id : 0, parts[i],
                               fparts ? &fparts[i] : NULL, i == n - 1 ? markup : NULL);
        if (calls_add(out, first_edit ? "editMessageText" : "sendMessage", fx->chat_id,
                      body) != 0) {
            calls_truncate(out, mark);
            PARTS_FREE();
            return fail(err, errlen, "%s", "out of memory");
        }
    }
    PARTS_FREE();
#undef PARTS_FREE
    return 0;
}

int tgu_render(const bm_effect *fx, tgu_calls *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    switch (fx->kind) {
    case BM_FX_SEND:
    case BM_FX_EDIT:
        return render_text(fx, out, err, errlen);
    case BM_FX_ANSWER: {
        if (!fx->callback_id || !*fx->callback_id)
            return fail(err, errlen, "%s without a callback id", "answerCallbackQuery");
        jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "callback_query_id");
        jw_str(&w, fx->callback_id);
        if (fx->text) {
            jw_key(&w, "text");
            jw_str(&w, fx->text);
        }
        jw_end(&w);
        if (calls_add(out, "answerCallbackQuery", fx->chat_id, jw_take(&w)) != 0)
            return fail(err, errlen, "%s", "out of memory");
        return 0;
    }
    case BM_FX_CALL: {
        /* only the calls handoff makes: the method name must be static */
        static const char *const ok_methods[] = {
            "sendMessage", "copyMessage", "forwardMessage", "closeForumTopic",
            "reopenForumTopic", "createForumTopic",
        };
        const char *method = NULL;
        for (size_t i = 0; fx->method && i < sizeof ok_methods / sizeof *ok_methods; i++)
            if (!strcmp(fx->method, ok_methods[i]))
                method = ok_methods[i];
        if (!method)
            return fail(err, errlen, "%s is not a call effects may make",
                        fx->method ? fx->method : "(none)");
        /* the params as handoff.c printed them: checked, passed on as text */
        const char *t = fx->text ? fx->text : "";
        if (!jscan_is_object(t, strlen(t)))
            return fail(err, errlen, "%s params are not a JSON object", method);
        if (calls_add(out, method, fx->chat_id, strdup(t)) != 0)
            return fail(err, errlen, "%s", "out of memory");
        return 0;
    }
    case BM_FX_DOCUMENT: {
        if (!fx->file_name || !*fx->file_name || !fx->text)
            return fail(err, errlen, "%s without a file", "sendDocument");
        /* the file travels inside the params, so the outbox row holds the
         * whole call; tg.c uploads it (tg.h, "Uploads") */
        jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "chat_id");
        jw_i64(&w, fx->chat_id);
        jw_key(&w, "document");
        jw_obj(&w);
        jw_key(&w, TG_UPLOAD_NAME);
        jw_str(&w, fx->file_name);
        jw_key(&w, TG_UPLOAD_CONTENT);
        jw_str(&w, fx->text);
        jw_end(&w);
        jw_end(&w);
        if (calls_add(out, "sendDocument", fx->chat_id, jw_take(&w)) != 0)
            return fail(err, errlen, "%s", "out of memory");
        return 0;
    }
    case BM_FX_ACTION:
    case BM_FX_RECORD:
        return 0;
    }
    return fail(err, errlen, "%s", "unknown effect kind");
}

/* ---- setMyCommands ----------------------------------------------------- */

/* {commands: [...], language_code?} in language `lang`; NULL on OOM.
 * *n_visible receives how many commands it lists. */
static cJSON *commands_params(const bm_machine *m, int lang, const char *code,
                              int *n_visible)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *arr = p ? cJSON_AddArrayToObject(p, "commands") : NULL;
    if (!arr)
        goto fail;
    *n_visible = 0;
    for (int i = 0; i < m->n_commands && *n_visible < TGU_MAX_COMMANDS; i++) {
        const bm_command *c = &m->commands[i];
        if (c->description == BM_NONE)
            continue; /* hidden: works when typed, never advertised */
        char *d = text_truncate(bm_text(m, c->description, lang), TGU_DESC_MAX);
        if (!d)
            goto fail;
        if (!*d) { /* Telegram wants 1-256 characters: fall back to the name */
            free(d);
            d = text_truncate(c->name, TGU_DESC_MAX);
            if (!d)
                goto fail;
        }
        cJSON *o = cJSON_CreateObject();
        bool good = o && cJSON_AddStringToObject(o, "command", c->name) &&
                    cJSON_AddStringToObject(o, "description", d);
        free(d);
        if (!good || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        (*n_visible)++;
    }
    if (code && !cJSON_AddStringToObject(p, "language_code", code))
        goto fail;
    return p;
fail:
    cJSON_Delete(p);
    return NULL;
}

int tgu_commands(const bm_machine *m, tgu_calls *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    int mark = out->n;
    for (int l = 0; l <= m->n_langs; l++) {
        /* l == n_langs: the default list, for every other language */
        bool dflt = l == m->n_langs;
        int lang = dflt ? m->default_lang : l;
        const char *code = dflt ? NULL : m->langs[l];
        int n_visible = 0;
        cJSON *p = commands_params(m, lang, code, &n_visible);
        const char *method = "setMyCommands";
        if (p && n_visible == 0) {
            /* an empty list is refused; deleting says the same thing */
            cJSON_Delete(p);
            p = cJSON_CreateObject();
            if (p && code && !cJSON_AddStringToObject(p, "language_code", code)) {
                cJSON_Delete(p);
                p = NULL;
            }
            method = "deleteMyCommands";
        }
        char *body = p ? cJSON_PrintUnformatted(p) : NULL;
        cJSON_Delete(p);
        if (calls_add(out, method, 0, body) != 0) {
            calls_truncate(out, mark);
            return fail(err, errlen, "%s", "out of memory");
        }
    }
    return 0;
}
