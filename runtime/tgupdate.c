/*
 * tgupdate.c — Update JSON -> bm_input, bm_effect -> Bot API calls.
 */
#include "tgupdate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "jsonw.h"
#include "text.h"
#include "tg.h"

#define TGU_DESC_MAX 256 /* BotCommand.description limit */
#define TGU_MAX_COMMANDS 100

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, what);
    return TGU_ERROR;
}

/* ---- parsing ------------------------------------------------------------ */

/* Message fields that carry user content without text: an `any:` fallback
 * may take them. Everything else in a message (members joining, pins,
 * topic changes, payments, ...) is a service message and skipped. */
static const char *const other_kinds[] = {
    "photo", "sticker", "document", "video", "audio", "animation",
    "video_note", "live_photo", "paid_media", "story", "location", "venue",
    "poll", "dice", "game", "checklist", "invoice", "giveaway",
    "web_app_data", "passport_data",
};

/* Optional string member: absent or null -> NULL, a string -> it, else
 * a type error. */
static int opt_str(const cJSON *obj, const char *key, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it))
        return -1;
    *out = it->valuestring;
    return 0;
}

/* user: {id, first_name?, last_name?, username?, language_code?} */
static int parse_user(const cJSON *from, bm_user *u, char *err, size_t errlen,
                      const char *where)
{
    if (!cJSON_IsObject(from))
        return fail(err, errlen, "%s without a `from` user", where);
    if (tg_json_i64(from, "id", &u->id) != 0)
        return fail(err, errlen, "%s: from.id is not an integer", where);
    if (opt_str(from, "first_name", &u->first_name) ||
        opt_str(from, "last_name", &u->last_name) ||
        opt_str(from, "username", &u->username) ||
        opt_str(from, "language_code", &u->language_code))
        return fail(err, errlen, "%s: a name field of `from` is not a string", where);
    return 0;
}

/* chat: {id, ...} */
static int parse_chat(const cJSON *msg, int64_t *chat_id, char *err, size_t errlen,
                      const char *where)
{
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(msg, "chat");
    if (!cJSON_IsObject(chat))
        return fail(err, errlen, "%s without a `chat`", where);
    if (tg_json_i64(chat, "id", chat_id) != 0)
        return fail(err, errlen, "%s: chat.id is not an integer", where);
    return 0;
}

/* message -> TEXT | CONTACT | VOICE | OTHER, service messages skipped */
static tgu_status parse_message(const cJSON *msg, bm_input *in, char *err, size_t errlen)
{
    if (!cJSON_IsObject(msg))
        return fail(err, errlen, "%s is not an object", "message");
    if (parse_user(cJSON_GetObjectItemCaseSensitive(msg, "from"), &in->user, err,
                   errlen, "message"))
        return TGU_ERROR;
    if (parse_chat(msg, &in->user.chat_id, err, errlen, "message"))
        return TGU_ERROR;
    /* what operator handoff routes by (runtime/handoff.h); absent = 0 */
    tg_json_i64(msg, "message_id", &in->msg_id);
    tg_json_i64(msg, "message_thread_id", &in->thread_id);
    in->from_bot = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(msg, "from"), "is_bot"));

    const cJSON *it;
    if ((it = cJSON_GetObjectItemCaseSensitive(msg, "text"))) {
        if (!cJSON_IsString(it))
            return fail(err, errlen, "%s is not a string", "message.text");
        in->kind = BM_IN_TEXT;
        in->text = it->valuestring;
        return TGU_OK;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(msg, "contact"))) {
        const char *phone = tg_json_str(it, "phone_number");
        if (!cJSON_IsObject(it) || !phone)
            return fail(err, errlen, "%s without a phone_number string", "message.contact");
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(it, "user_id");
        if (uid && tg_json_i64(it, "user_id", &in->contact_user_id) != 0)
            return fail(err, errlen, "%s is not an integer", "message.contact.user_id");
        in->kind = BM_IN_CONTACT;
        in->text = phone;
        return TGU_OK;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(msg, "voice"))) {
        const char *fid = tg_json_str(it, "file_id");
        if (!cJSON_IsObject(it) || !fid)
            return fail(err, errlen, "%s without a file_id string", "message.voice");
        in->kind = BM_IN_VOICE;
        in->text = fid;
        return TGU_OK;
    }
    for (size_t i = 0; i < sizeof other_kinds / sizeof other_kinds[0]; i++) {
        if (cJSON_GetObjectItemCaseSensitive(msg, other_kinds[i])) {
            const char *cap;
            if (opt_str(msg, "caption", &cap))
                return fail(err, errlen, "%s is not a string", "message.caption");
            in->kind = BM_IN_OTHER;
            in->text = cap ? cap : "";
            return TGU_OK;
        }
    }
    return TGU_SKIP;
}

/* callback_query {id, from, message{message_id, chat}, data} -> CALLBACK */
static tgu_status parse_callback(const cJSON *cq, bm_input *in, char *err, size_t errlen)
{
    if (!cJSON_IsObject(cq))
        return fail(err, errlen, "%s is not an object", "callback_query");
    const char *id = tg_json_str(cq, "id");
    if (!id)
        return fail(err, errlen, "%s without an id string", "callback_query");
    if (parse_user(cJSON_GetObjectItemCaseSensitive(cq, "from"), &in->user, err,
                   errlen, "callback_query"))
        return TGU_ERROR;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cq, "data");
    if (!data)
        return TGU_SKIP; /* a game button: nothing in the spec presses it */
    if (!cJSON_IsString(data))
        return fail(err, errlen, "%s is not a string", "callback_query.data");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cq, "message");
    if (!msg)
        return TGU_SKIP; /* a button under an inline-mode message: no chat */
    if (!cJSON_IsObject(msg))
        return fail(err, errlen, "%s is not an object", "callback_query.message");
    if (parse_chat(msg, &in->user.chat_id, err, errlen, "callback_query.message"))
        return TGU_ERROR;
    if (tg_json_i64(msg, "message_id", &in->message_id) != 0)
        return fail(err, errlen, "%s is not an integer", "callback_query.message.message_id");
    in->kind = BM_IN_CALLBACK;
    in->text = data->valuestring;
    in->callback_id = id;
    return TGU_OK;
}

tgu_status tgu_parse(const cJSON *update, int64_t *update_id, bm_input *in,
                     char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    memset(in, 0, sizeof *in);
    in->text = "";
    if (!cJSON_IsObject(update))
        return fail(err, errlen, "%s is not a JSON object", "update");
    int64_t uid;
    if (tg_json_i64(update, "update_id", &uid) != 0)
        return fail(err, errlen, "%s without an integer update_id", "update");
    *update_id = uid;

    tgu_status st;
    const cJSON *it;
    if ((it = cJSON_GetObjectItemCaseSensitive(update, "message")))
        st = parse_message(it, in, err, errlen);
    else if ((it = cJSON_GetObjectItemCaseSensitive(update, "callback_query")))
        st = parse_callback(it, in, err, errlen);
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

/* sendMessage {chat_id, text, reply_markup?} or, with message_id > 0,
 * editMessageText {chat_id, message_id, text, reply_markup?}. */
static char *text_body(int64_t chat_id, int64_t message_id, const char *text,
                       const bm_markup *mk)
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
    if (mk) {
        jw_key(&w, "reply_markup");
        write_markup(&w, mk);
    }
    jw_end(&w);
    return jw_take(&w);
}

/* SEND / EDIT: split the text; the first part edits (EDIT) or sends, the
 * rest send; the markup rides on the last. */
static int render_text(const bm_effect *fx, tgu_calls *out, char *err, size_t errlen)
{
    bool edit = fx->kind == BM_FX_EDIT;
    char **parts = NULL;
    int n = 0;
    if (text_split(fx->text ? fx->text : "", TGU_TEXT_MAX, &parts, &n) != 0)
        return fail(err, errlen, "%s", "out of memory");
    if (n == 0) {
        text_parts_free(parts, n);
        return 0; /* nothing to say: Telegram refuses empty texts */
    }
    /* editMessageText takes only an inline keyboard; a reply keyboard can
     * only arrive with a new message, so it is dropped from an edit. */
    const bm_markup *markup = NULL;
    if (fx->markup.kind != BM_MK_NONE && (!edit || fx->markup.kind == BM_MK_INLINE)) {
        if (!markup_ok(&fx->markup)) {
            text_parts_free(parts, n);
            return fail(err, errlen, "%s", "malformed keyboard in an effect");
        }
        markup = &fx->markup;
    }
    int mark = out->n;
    for (int i = 0; i < n; i++) {
        bool first_edit = edit && i == 0;
        char *body = text_body(fx->chat_id, first_edit ? fx->message_id : 0, parts[i],
                               i == n - 1 ? markup : NULL);
        if (calls_add(out, first_edit ? "editMessageText" : "sendMessage", fx->chat_id,
                      body) != 0) {
            calls_truncate(out, mark);
            text_parts_free(parts, n);
            return fail(err, errlen, "%s", "out of memory");
        }
    }
    text_parts_free(parts, n);
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
