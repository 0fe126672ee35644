/*
 * test_tgupdate.c — Update JSON text -> bm_input (cases in
 * tests/unit/data/tgupdate/updates.json and texts.txt), effects -> Bot API
 * calls, and setMyCommands per language.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "dialogue/machine.h"
#include "base/text.h"
#include "base/json.h"
#include "support/call_params.h"
#include "support/slurp.h"
#include "telegram/tg.h"
#include "telegram/tgupdate.h"

#define UPDATES_FILE "tests/unit/data/tgupdate/updates.json"
#define TEXTS_FILE "tests/unit/data/tgupdate/texts.txt"

/* ---- parsing: data-driven ------------------------------------------------ */

static const char *kind_name(bm_input_kind k)
{
    switch (k) {
    case BM_IN_TEXT: return "text";
    case BM_IN_CALLBACK: return "callback";
    case BM_IN_CONTACT: return "contact";
    case BM_IN_VOICE: return "voice";
    case BM_IN_OTHER: return "other";
    }
    return "?";
}


#define CHECK_CASE(cond, name, what)                                              \
    do {                                                                          \
        CU_ASSERT(cond);                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "\n  case \"%s\": %s\n", name, what);                \
        }                                                                         \
    } while (0)

/* expected 64-bit values are strings, so the check does not itself go
 * through cJSON's doubles */
static void check_i64(const cJSON *exp, const char *key, int64_t got, const char *name)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, key);
    if (!e)
        return;
    long long want = strtoll(e->valuestring, NULL, 10);
    char msg[160];
    snprintf(msg, sizeof msg, "%s: want %lld got %lld", key, want, (long long)got);
    CHECK_CASE(want == got, name, msg);
}

static void check_str(const cJSON *exp, const char *key, const char *got, const char *name)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, key);
    if (!e)
        return;
    char msg[200];
    if (cJSON_IsNull(e)) {
        snprintf(msg, sizeof msg, "%s: want NULL got \"%s\"", key, got ? got : "");
        CHECK_CASE(got == NULL, name, msg);
        return;
    }
    snprintf(msg, sizeof msg, "%s: want \"%s\" got \"%s\"", key, e->valuestring,
             got ? got : "(NULL)");
    CHECK_CASE(got && strcmp(got, e->valuestring) == 0, name, msg);
}

static void check_bool(const cJSON *exp, const char *key, bool got, const char *name)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, key);
    if (!e)
        return;
    char msg[120];
    snprintf(msg, sizeof msg, "%s: want %d got %d", key, cJSON_IsTrue(e), got);
    CHECK_CASE(cJSON_IsTrue(e) == got, name, msg);
}

/* A string of *in lies in the owned space (or is the static ""). */
static bool owned_or_empty(const char *str, const tgu_strings *s)
{
    return !str || (str >= s->p && str < s->p + s->cap) || (str[0] == '\0');
}

/* Parses json[0..n) with exactly TGU_STRINGS_CAP(n) bytes of owned space
 * (the bound the header promises is enough: ASan catches a write past it) and compares
 * with exp: {status, update_id (null: untouched), error_has, kind, text,
 * user_id, chat_id, contact_user_id, message_id, msg_id, thread_id,
 * from_bot, callback_id, first_name, last_name, username,
 * language_code}. */
static void check_case(const char *name, const char *json, size_t n, const cJSON *exp)
{
    const char *status = json_str(exp, "status");
    int64_t uid = -777;
    bm_input in;
    char err[256];
    /* a copy of just n bytes: the parse must not read past them */
    char *text = malloc(n ? n : 1);
    char *space = malloc(TGU_STRINGS_CAP(n));
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(space);
    memcpy(text, json, n);
    tgu_strings owned = {.p = space, .cap = TGU_STRINGS_CAP(n)};
    tgu_status st = tgu_parse_text(text, n, &owned, &uid, &in, err, sizeof err);

    const char *got_status = st == TGU_OK ? "ok" : st == TGU_SKIP ? "skip" : "error";
    char msg[400];
    snprintf(msg, sizeof msg, "status: want %s got %s (%s)", status, got_status, err);
    CHECK_CASE(status && strcmp(status, got_status) == 0, name, msg);

    const cJSON *eu = cJSON_GetObjectItemCaseSensitive(exp, "update_id");
    if (cJSON_IsNull(eu)) {
        CHECK_CASE(uid == -777, name, "update_id should be left untouched");
    } else {
        check_i64(exp, "update_id", uid, name);
    }

    if (st == TGU_ERROR) {
        const char *has = json_str(exp, "error_has");
        snprintf(msg, sizeof msg, "error \"%s\" should mention \"%s\"", err, has);
        CHECK_CASE(err[0] && has && strstr(err, has), name, msg);
        CU_ASSERT_PTR_NOT_NULL(in.text); /* never NULL, even on error */
    } else if (st == TGU_OK) {
        check_str(exp, "kind", kind_name(in.kind), name);
        check_str(exp, "text", in.text, name);
        check_i64(exp, "user_id", in.user.id, name);
        check_i64(exp, "chat_id", in.user.chat_id, name);
        check_i64(exp, "contact_user_id", in.contact_user_id, name);
        check_i64(exp, "message_id", in.message_id, name);
        check_i64(exp, "msg_id", in.msg_id, name);
        check_i64(exp, "thread_id", in.thread_id, name);
        check_bool(exp, "from_bot", in.from_bot, name);
        check_str(exp, "callback_id", in.callback_id, name);
        /* a voice note's file_id is never its text (issue 16, point 5) */
        check_str(exp, "voice_file_id", in.voice.file_id, name);
        check_i64(exp, "voice_duration", in.voice.duration, name);
        check_i64(exp, "voice_file_size", in.voice.file_size, name);
        check_str(exp, "voice_mime", in.voice.mime, name);
        check_str(exp, "voice_file_name", in.voice.file_name, name);
        check_str(exp, "first_name", in.user.first_name, name);
        check_str(exp, "last_name", in.user.last_name, name);
        check_str(exp, "username", in.user.username, name);
        check_str(exp, "language_code", in.user.language_code, name);
        CHECK_CASE(in.update_id == uid, name, "in.update_id");
        /* every string is decoded into the owned space, none borrowed from
         * the text (the caller may free the text) */
        const char *strs[] = {in.text, in.callback_id, in.user.first_name, in.user.last_name,
                              in.user.username, in.user.language_code};
        for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
            CHECK_CASE(owned_or_empty(strs[i], &owned), name, "a string outside the space");
        CHECK_CASE(owned.len <= owned.cap, name, "space overrun");
    }
    free(text);
    free(space);
}

/* The tree cases (updates.json): each update printed to text, then parsed
 * as text. */
static void test_parse_cases(void)
{
    char *text = slurp(UPDATES_FILE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    cJSON *cases = cJSON_Parse(text);
    free(text);
    CU_ASSERT_FATAL(cJSON_IsArray(cases));
    CU_ASSERT(cJSON_GetArraySize(cases) >= 30);

    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        char *u = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "update"));
        CU_ASSERT_PTR_NOT_NULL_FATAL(u);
        check_case(json_str(c, "name"), u, strlen(u),
                   cJSON_GetObjectItemCaseSensitive(c, "expect"));
        cJSON_free(u);
    }
    cJSON_Delete(cases);
}

/* The text cases (texts.txt): blocks of "name: ", "update: " (the raw
 * text, to the end of the line) and "expect: " (a JSON object as above);
 * '#' lines are comments. Escapes, ids at the edges of int64, key order,
 * duplicates and the grammar are what the raw text shows. */
static void test_parse_texts(void)
{
    char *text = slurp(TEXTS_FILE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    char name[200] = "";
    const char *upd = NULL;
    size_t upd_len = 0;
    int n_cases = 0;
    for (char *line = text, *next; line && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "name: ", 6)) {
            snprintf(name, sizeof name, "%s", line + 6);
        } else if (!strncmp(line, "update: ", 8)) {
            upd = line + 8;
            upd_len = strlen(upd);
        } else if (!strncmp(line, "expect: ", 8)) {
            cJSON *exp = cJSON_Parse(line + 8);
            CHECK_CASE(exp && upd, name, "a bad expect line, or no update before it");
            if (exp && upd)
                check_case(name, upd, upd_len, exp);
            cJSON_Delete(exp);
            upd = NULL;
            n_cases++;
        }
    }
    CU_ASSERT(n_cases >= 40);
    free(text);
}

/* 1 when every string *in holds lies inside [lo, hi) or is the static "". */
static int strings_inside(const bm_input *in, const char *lo, const char *hi)
{
    const char *v[] = {in->text, in->callback_id, in->user.first_name, in->user.last_name,
                       in->user.username, in->user.language_code};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] && *v[i] && (v[i] < lo || v[i] + strlen(v[i]) >= hi))
            return 0;
    return 1;
}

/* Parses text[0..n) from an exact-size copy, its strings into an
 * exact-size space (the promised cap: TGU_STRINGS_CAP(n)), so the sanitizer build sees any
 * byte read or written past either. Returns the status. */
static tgu_status parse_exact(const char *text, size_t n, bool *inside)
{
    size_t cap = TGU_STRINGS_CAP(n);
    char *copy = malloc(n ? n : 1), *space = malloc(cap);
    memcpy(copy, text, n);
    int64_t uid = -1;
    bm_input in;
    char err[128];
    tgu_strings owned = {.p = space, .cap = cap};
    tgu_status st = tgu_parse_text(copy, n, &owned, &uid, &in, err, sizeof err);
    *inside = st != TGU_OK || strings_inside(&in, space, space + cap);
    free(copy);
    free(space);
    return st;
}

/* What the network can do to an update: every text case cut at every
 * length, and every byte of it replaced by each byte that matters to the
 * grammar (and a NUL, a control byte, a byte no UTF-8 has). A cut text is
 * never accepted; nothing ever reads or writes outside the text and the
 * space (run under ASan by make test SANITIZE=1); an accepted input's
 * strings are inside the space. */
static void test_parse_damaged(void)
{
    char *text = slurp(TEXTS_FILE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    static const char subst[] = {'"', '\\', '{', '}', '[', ']', ',', ':', 'u', '0', '\0',
                                 '\x1f', '\xff'};
    int n_texts = 0, cut_ok = 0, outside = 0;
    long parses = 0;
    for (char *line = text, *next; line && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, "update: ", 8))
            continue;
        const char *u = line + 8;
        size_t n = len - 8;
        n_texts++;
        bool inside;
        for (size_t cut = 0; cut < n; cut++) {
            /* a cut that leaves only blanks behind is the whole text */
            size_t rest = cut;
            while (rest < n && strchr(" \t\r\n", u[rest]))
                rest++;
            tgu_status st = parse_exact(u, cut, &inside);
            cut_ok += st == TGU_OK && rest < n;
            outside += !inside;
            parses++;
        }
        char *m = malloc(n);
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < sizeof subst; k++) {
                memcpy(m, u, n);
                m[i] = subst[k];
                parse_exact(m, n, &inside);
                outside += !inside;
                parses++;
            }
        }
        free(m);
    }
    CU_ASSERT(n_texts >= 40);
    CU_ASSERT(parses > 100000);
    CU_ASSERT_EQUAL(cut_ok, 0);
    CU_ASSERT_EQUAL(outside, 0);
    free(text);
}

static void test_parse_null(void)
{
    int64_t uid = -1;
    bm_input in;
    char err[64], space[128];
    tgu_strings owned = {.p = space, .cap = sizeof space};
    CU_ASSERT_EQUAL(tgu_parse_text(NULL, 0, &owned, &uid, &in, err, sizeof err), TGU_ERROR);
    CU_ASSERT_EQUAL(uid, -1);
    CU_ASSERT_EQUAL(tgu_parse_text("", 0, &owned, &uid, &in, err, sizeof err), TGU_ERROR);
    CU_ASSERT_EQUAL(uid, -1);
    /* the text is read to n only: what follows is not part of it */
    const char *u = "{\"update_id\":5,\"message\":{\"from\":{\"id\":1},\"chat\":{\"id\":1},"
                    "\"text\":\"hi\"}}garbage";
    size_t n = strlen(u) - strlen("garbage");
    CU_ASSERT_EQUAL(tgu_parse_text(u, n, &owned, &uid, &in, err, sizeof err), TGU_OK);
    CU_ASSERT_EQUAL(uid, 5);
    CU_ASSERT_STRING_EQUAL(in.text, "hi");
    CU_ASSERT_EQUAL(tgu_parse_text(u, n - 1, &owned, &uid, &in, err, sizeof err), TGU_ERROR);
    /* too little space is an error, never an overrun */
    owned.cap = 4;
    uid = -1;
    CU_ASSERT_EQUAL(tgu_parse_text(u, n, &owned, &uid, &in, err, sizeof err), TGU_ERROR);
    CU_ASSERT_EQUAL(uid, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "room"));
}

/* ---- rendering --------------------------------------------------------- */

static bm_button_out btn(bm_button_kind k, const char *label, const char *data)
{
    return (bm_button_out){.label = (char *)label, .data = (char *)data, .kind = k};
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const cJSON *at(const cJSON *a, int i)
{
    return cJSON_GetArrayItem(a, i);
}

static void test_render_reply_keyboard(void)
{
    int row_len[] = {2, 1};
    bm_button_out b[] = {
        btn(BM_BTN_REPLY, "Cars", NULL), btn(BM_BTN_REPLY, "Terms", NULL),
        btn(BM_BTN_CONTACT, "Share phone", NULL),
    };
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = 5000000001LL, .text = "Menu",
                    .markup = {.kind = BM_MK_REPLY, .n_rows = 2, .row_len = row_len,
                               .n_buttons = 3, .buttons = b}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    char err[128];
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_STRING_EQUAL(calls.v[0].method, "sendMessage");
    CU_ASSERT_EQUAL(calls.v[0].chat_id, 5000000001LL);
    const cJSON *p = params_of(&calls.v[0]);
    int64_t chat = 0;
    CU_ASSERT_EQUAL(json_i64(p, "chat_id", &chat), 0);
    CU_ASSERT_EQUAL(chat, 5000000001LL);
    CU_ASSERT_STRING_EQUAL(json_str(p, "text"), "Menu");
    const cJSON *mk = get(p, "reply_markup");
    CU_ASSERT_FATAL(cJSON_IsObject(mk));
    CU_ASSERT(cJSON_IsTrue(get(mk, "resize_keyboard")));
    CU_ASSERT_PTR_NULL(get(mk, "inline_keyboard"));
    const cJSON *kb = get(mk, "keyboard");
    CU_ASSERT_FATAL(cJSON_IsArray(kb));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(kb), 2);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(at(kb, 0)), 2);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(at(kb, 1)), 1);
    CU_ASSERT_STRING_EQUAL(json_str(at(at(kb, 0), 1), "text"), "Terms");
    CU_ASSERT_PTR_NULL(get(at(at(kb, 0), 0), "request_contact"));
    CU_ASSERT_STRING_EQUAL(json_str(at(at(kb, 1), 0), "text"), "Share phone");
    CU_ASSERT(cJSON_IsTrue(get(at(at(kb, 1), 0), "request_contact")));

    /* the wire form keeps the 64-bit id exact */
    char *s = cJSON_PrintUnformatted(p);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"chat_id\":5000000001"));
    free(s);
    tgu_calls_free(&calls);
}

static void test_render_inline_keyboard(void)
{
    int row_len[] = {1, 1};
    bm_button_out b[] = {
        btn(BM_BTN_CALLBACK, "More", "more:1"),
        btn(BM_BTN_URL, "Site", "https://example.com"),
    };
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = -1001234567890123LL, .text = "Pick",
                    .markup = {.kind = BM_MK_INLINE, .n_rows = 2, .row_len = row_len,
                               .n_buttons = 2, .buttons = b}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    const cJSON *mk = get(params_of(&calls.v[0]), "reply_markup");
    const cJSON *kb = get(mk, "inline_keyboard");
    CU_ASSERT_FATAL(cJSON_IsArray(kb));
    CU_ASSERT_PTR_NULL(get(mk, "keyboard"));
    CU_ASSERT_PTR_NULL(get(mk, "resize_keyboard"));
    const cJSON *b0 = at(at(kb, 0), 0), *b1 = at(at(kb, 1), 0);
    CU_ASSERT_STRING_EQUAL(json_str(b0, "text"), "More");
    CU_ASSERT_STRING_EQUAL(json_str(b0, "callback_data"), "more:1");
    CU_ASSERT_PTR_NULL(get(b0, "url"));
    CU_ASSERT_STRING_EQUAL(json_str(b1, "url"), "https://example.com");
    CU_ASSERT_PTR_NULL(get(b1, "callback_data"));
    char *s = cJSON_PrintUnformatted(params_of(&calls.v[0]));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"chat_id\":-1001234567890123"));
    free(s);
    tgu_calls_free(&calls);
}

static void test_render_remove_and_none(void)
{
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = 1, .text = "Bye",
                    .markup = {.kind = BM_MK_REMOVE}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    const cJSON *mk = get(params_of(&calls.v[0]), "reply_markup");
    CU_ASSERT(cJSON_IsTrue(get(mk, "remove_keyboard")));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(mk), 1);

    fx.markup.kind = BM_MK_NONE;
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_PTR_NULL(get(params_of(&calls.v[0]), "reply_markup"));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(params_of(&calls.v[0])), 2); /* chat_id, text */
    tgu_calls_free(&calls);
}

static void test_render_edit_answer_skip(void)
{
    int row_len[] = {1};
    bm_button_out b[] = {btn(BM_BTN_CALLBACK, "Back", "back")};
    bm_effect fx = {.kind = BM_FX_EDIT, .chat_id = 77, .message_id = 3000000000LL,
                    .text = "Edited",
                    .markup = {.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                               .n_buttons = 1, .buttons = b}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_STRING_EQUAL(calls.v[0].method, "editMessageText");
    const cJSON *p = params_of(&calls.v[0]);
    int64_t v = 0;
    CU_ASSERT(json_i64(p, "message_id", &v) == 0 && v == 3000000000LL);
    CU_ASSERT(json_i64(p, "chat_id", &v) == 0 && v == 77);
    CU_ASSERT_STRING_EQUAL(json_str(p, "text"), "Edited");
    CU_ASSERT(cJSON_IsArray(get(get(p, "reply_markup"), "inline_keyboard")));

    /* a reply keyboard cannot be edited in: it is left out */
    fx.markup.kind = BM_MK_REPLY;
    b[0].kind = BM_BTN_REPLY;
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_PTR_NULL(get(params_of(&calls.v[0]), "reply_markup"));

    bm_effect ans = {.kind = BM_FX_ANSWER, .chat_id = 77, .callback_id = "cb-123"};
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&ans, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_STRING_EQUAL(calls.v[0].method, "answerCallbackQuery");
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[0]), "callback_query_id"), "cb-123");
    CU_ASSERT_EQUAL(calls.v[0].chat_id, 77);
    CU_ASSERT_PTR_NULL(get(params_of(&calls.v[0]), "text"));
    ans.text = "Thank you!"; /* the press's pop-up */
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&ans, &calls, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[0]), "text"), "Thank you!");

    /* a file: sendDocument with the upload in its params (tg.h), so the
     * outbox row holds the whole call */
    bm_effect doc = {.kind = BM_FX_DOCUMENT, .chat_id = 77, .text = "{\"user\": null}",
                     .file_name = "my-data-2026-12-07.json"};
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&doc, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_STRING_EQUAL(calls.v[0].method, "sendDocument");
    const cJSON *d = get(params_of(&calls.v[0]), "document");
    CU_ASSERT_STRING_EQUAL(json_str(d, TG_UPLOAD_NAME), "my-data-2026-12-07.json");
    CU_ASSERT_STRING_EQUAL(json_str(d, TG_UPLOAD_CONTENT), "{\"user\": null}");

    bm_effect act = {.kind = BM_FX_ACTION, .chat_id = 77, .text = "hi", .action = BM_ACT_LLM};
    bm_effect rec = {.kind = BM_FX_RECORD, .chat_id = 77, .text = "{}", .form = 0};
    bm_effect empty = {.kind = BM_FX_SEND, .chat_id = 77, .text = ""};
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL(tgu_render(&act, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL(tgu_render(&rec, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL(tgu_render(&empty, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL(calls.n, 0);
    tgu_calls_free(&calls);
}

static void test_render_malformed(void)
{
    int row_len[] = {1};
    bm_button_out b[] = {btn(BM_BTN_CALLBACK, "Broken", NULL)};
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = 1, .text = "x",
                    .markup = {.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                               .n_buttons = 1, .buttons = b}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    char err[128] = "";
    CU_ASSERT_EQUAL(tgu_render(&fx, &calls, err, sizeof err), -1);
    CU_ASSERT(err[0] != '\0');
    CU_ASSERT_EQUAL(calls.n, 0);

    int bad_len[] = {3}; /* more buttons than there are */
    bm_effect fx2 = {.kind = BM_FX_SEND, .chat_id = 1, .text = "x",
                     .markup = {.kind = BM_MK_REPLY, .n_rows = 1, .row_len = bad_len,
                                .n_buttons = 1, .buttons = b}};
    CU_ASSERT_EQUAL(tgu_render(&fx2, &calls, err, sizeof err), -1);
    bm_effect ans = {.kind = BM_FX_ANSWER, .chat_id = 1, .callback_id = NULL};
    CU_ASSERT_EQUAL(tgu_render(&ans, &calls, err, sizeof err), -1);
    CU_ASSERT_EQUAL(calls.n, 0);
    tgu_calls_free(&calls);
}

/* A text longer than 4096 UTF-16 units becomes several messages, each within
 * the limit, the keyboard only on the last. */
static void test_render_split(void)
{
    /* 3000 emoji (2 UTF-16 units each, 4 bytes) in words, then a tail */
    size_t cap = 3000 * 5 + 64;
    char *text = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 3000; i++) {
        memcpy(text + n, "\xF0\x9F\x98\x80", 4); /* U+1F600 */
        n += 4;
        if (i % 10 == 9)
            text[n++] = ' ';
    }
    n += (size_t)snprintf(text + n, cap - n, "THE END");
    size_t units = text_utf16_len(text, n);
    CU_ASSERT(units > TGU_TEXT_MAX);

    int row_len[] = {1};
    bm_button_out b[] = {btn(BM_BTN_REPLY, "OK", NULL)};
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = 9, .text = text,
                    .markup = {.kind = BM_MK_REPLY, .n_rows = 1, .row_len = row_len,
                               .n_buttons = 1, .buttons = b}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 2);
    size_t total = 0;
    for (int i = 0; i < calls.n; i++) {
        CU_ASSERT_STRING_EQUAL(calls.v[i].method, "sendMessage");
        const char *t = json_str(params_of(&calls.v[i]), "text");
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        size_t u = text_utf16_len(t, strlen(t));
        CU_ASSERT(u >= 1 && u <= TGU_TEXT_MAX);
        CU_ASSERT(text_utf8_valid(t, strlen(t)));
        total += u;
        CU_ASSERT_EQUAL(get(params_of(&calls.v[i]), "reply_markup") != NULL, i == calls.n - 1);
    }
    /* only the separators at the cuts are dropped */
    CU_ASSERT(total >= units - (size_t)calls.n && total <= units);
    const char *last = json_str(params_of(&calls.v[calls.n - 1]), "text");
    CU_ASSERT(strlen(last) >= 7 && strcmp(last + strlen(last) - 7, "THE END") == 0);

    /* an over-long edit: the first part edits, the rest is sent */
    int irow[] = {1};
    bm_button_out ib[] = {btn(BM_BTN_CALLBACK, "Back", "back")};
    bm_effect ed = {.kind = BM_FX_EDIT, .chat_id = 9, .message_id = 5, .text = text,
                    .markup = {.kind = BM_MK_INLINE, .n_rows = 1, .row_len = irow,
                               .n_buttons = 1, .buttons = ib}};
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&ed, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 2);
    CU_ASSERT_STRING_EQUAL(calls.v[0].method, "editMessageText");
    CU_ASSERT_PTR_NULL(get(params_of(&calls.v[0]), "reply_markup"));
    CU_ASSERT_STRING_EQUAL(calls.v[1].method, "sendMessage");
    CU_ASSERT(cJSON_IsArray(get(get(params_of(&calls.v[1]), "reply_markup"), "inline_keyboard")));
    tgu_calls_free(&calls);
    free(text);
}

/* The model's Markdown (bm_effect.markdown): text without its markup plus
 * entities in UTF-16 units; a long code block in several messages, each
 * with its own pre; the keyboard on the last; a spec text with the same
 * characters stays as written. */
static void test_render_markdown(void)
{
    int row_len[] = {1};
    bm_button_out b[] = {btn(BM_BTN_CALLBACK, "👍 Helped", "fb:1:h")};
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = 9, .markdown = true,
                    .text = "Привет 😀 **мир** and [docs](https://x.io)",
                    .markup = {.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                               .n_buttons = 1, .buttons = b}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    const cJSON *p = params_of(&calls.v[0]);
    CU_ASSERT_STRING_EQUAL(json_str(p, "text"), "Привет 😀 мир and docs");
    CU_ASSERT_PTR_NULL(get(p, "parse_mode"));
    const cJSON *ents = get(p, "entities");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(ents), 2);
    const cJSON *e0 = at(ents, 0), *e1 = at(ents, 1);
    int64_t v = -1;
    CU_ASSERT_STRING_EQUAL(json_str(e0, "type"), "bold");
    CU_ASSERT(json_i64(e0, "offset", &v) == 0 && v == 10); /* 6 + 1 + 2 + 1 */
    CU_ASSERT(json_i64(e0, "length", &v) == 0 && v == 3);
    CU_ASSERT_STRING_EQUAL(json_str(e1, "type"), "text_link");
    CU_ASSERT(json_i64(e1, "offset", &v) == 0 && v == 18);
    CU_ASSERT_STRING_EQUAL(json_str(e1, "url"), "https://x.io");
    CU_ASSERT_PTR_NOT_NULL(get(p, "reply_markup"));

    /* the same text from the spec: as written, no entities */
    fx.markdown = false;
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[0]), "text"), fx.text);
    CU_ASSERT_PTR_NULL(get(params_of(&calls.v[0]), "entities"));

    /* a 9,000-character code block */
    size_t cap = 12000, n = 0;
    char *md = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    n += (size_t)snprintf(md + n, cap - n, "Code:\n```go\n");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(md + n, cap - n, "x%03d := f(%03d) // step\n", i, i);
    snprintf(md + n, cap - n, "```\nDone.");
    fx.markdown = true;
    fx.text = md;
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_FATAL(calls.n >= 3);
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[0]), "text"), "Code:");
    for (int i = 1; i < calls.n; i++) {
        const cJSON *q = params_of(&calls.v[i]);
        const char *t = json_str(q, "text");
        size_t u = text_utf16_len(t, strlen(t));
        CU_ASSERT(u <= TGU_TEXT_MAX);
        const cJSON *pre = at(get(q, "entities"), 0);
        CU_ASSERT_STRING_EQUAL(json_str(pre, "type"), "pre");
        CU_ASSERT_STRING_EQUAL(json_str(pre, "language"), "go");
        CU_ASSERT(json_i64(pre, "offset", &v) == 0 && v == 0);
        CU_ASSERT(json_i64(pre, "length", &v) == 0 && (size_t)v <= u);
        CU_ASSERT_EQUAL(get(q, "reply_markup") != NULL, i == calls.n - 1);
    }
    const char *last = json_str(params_of(&calls.v[calls.n - 1]), "text");
    CU_ASSERT(strlen(last) > 5 && !strcmp(last + strlen(last) - 5, "Done."));
    /* only markup: sent as written rather than not at all */
    fx.text = "**";
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[0]), "text"), "**");
    fx.text = "```\n```";
    tgu_calls_clear(&calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&fx, &calls, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 1);
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[0]), "text"), "```\n```");
    tgu_calls_free(&calls);
    free(md);
}

/* ---- setMyCommands ------------------------------------------------------- */

static const char *const langs[] = {"en", "ru"};
static const char *const texts[] = {
    "Start over", "Начать заново",  /* 0 */
    "Get help", "Помощь",           /* 1 */
};
static const bm_command commands[] = {
    {.name = "start", .description = 0, .transition = BM_NONE},
    {.name = "debug", .description = BM_NONE, .transition = BM_NONE},
    {.name = "help", .description = 1, .transition = BM_NONE},
};

static const cJSON *find_command(const cJSON *arr, const char *name)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, arr) {
        const char *n = json_str(c, "command");
        if (n && !strcmp(n, name))
            return c;
    }
    return NULL;
}

static void test_commands(void)
{
    bm_machine m = {.name = "t", .langs = langs, .n_langs = 2, .default_lang = 1,
                    .texts = texts, .n_texts = 2, .commands = commands, .n_commands = 3};
    tgu_calls calls;
    tgu_calls_init(&calls);
    char err[128];
    CU_ASSERT_EQUAL_FATAL(tgu_commands(&m, &calls, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 3);
    const char *want_lang[] = {"en", "ru", NULL};
    const char *want_start[] = {"Start over", "Начать заново", "Начать заново"};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(calls.v[i].method, "setMyCommands");
        CU_ASSERT_EQUAL(calls.v[i].chat_id, 0);
        const cJSON *p = params_of(&calls.v[i]);
        const char *lc = json_str(p, "language_code");
        if (want_lang[i]) {
            CU_ASSERT(lc && !strcmp(lc, want_lang[i]));
        } else {
            CU_ASSERT_PTR_NULL(get(p, "language_code"));
        }
        const cJSON *arr = get(p, "commands");
        CU_ASSERT_FATAL(cJSON_IsArray(arr));
        CU_ASSERT_EQUAL(cJSON_GetArraySize(arr), 2);
        CU_ASSERT_PTR_NULL(find_command(arr, "debug")); /* hidden */
        const cJSON *st = find_command(arr, "start");
        CU_ASSERT_PTR_NOT_NULL_FATAL(st);
        CU_ASSERT_STRING_EQUAL(json_str(st, "description"), want_start[i]);
        CU_ASSERT_PTR_NOT_NULL(find_command(arr, "help"));
    }
    tgu_calls_free(&calls);

    /* only hidden commands: nothing to publish, the lists are deleted */
    bm_machine h = m;
    h.commands = &commands[1];
    h.n_commands = 1;
    CU_ASSERT_EQUAL_FATAL(tgu_commands(&h, &calls, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(calls.n, 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(calls.v[i].method, "deleteMyCommands");
        CU_ASSERT_PTR_NULL(get(params_of(&calls.v[i]), "commands"));
    }
    CU_ASSERT_STRING_EQUAL(json_str(params_of(&calls.v[1]), "language_code"), "ru");
    tgu_calls_free(&calls);
}

/* ---- JSON helpers ---------------------------------------------------------- */

static void test_json_i64(void)
{
    cJSON *o = cJSON_Parse("{\"a\":9007199254740991,\"b\":-1001234567890123,"
                           "\"c\":1.5,\"d\":\"7\",\"e\":1e300,\"f\":2147483648}");
    int64_t v = 0;
    CU_ASSERT(json_i64(o, "a", &v) == 0 && v == 9007199254740991LL);
    CU_ASSERT(json_i64(o, "b", &v) == 0 && v == -1001234567890123LL);
    CU_ASSERT(json_i64(o, "f", &v) == 0 && v == 2147483648LL);
    v = 5;
    CU_ASSERT_EQUAL(json_i64(o, "c", &v), -1);
    CU_ASSERT_EQUAL(json_i64(o, "d", &v), -1);
    CU_ASSERT_EQUAL(json_i64(o, "e", &v), -1);
    CU_ASSERT_EQUAL(json_i64(o, "missing", &v), -1);
    CU_ASSERT_EQUAL(v, 5);
    cJSON_Delete(o);

    cJSON *w = cJSON_CreateObject();
    json_add_i64(w, "id", 5000000001234LL);
    json_add_i64(w, "neg", -1001234567890123LL);
    char *s = cJSON_PrintUnformatted(w);
    CU_ASSERT_STRING_EQUAL(s, "{\"id\":5000000001234,\"neg\":-1001234567890123}");
    cJSON *back = cJSON_Parse(s);
    CU_ASSERT(json_i64(back, "neg", &v) == 0 && v == -1001234567890123LL);
    cJSON_Delete(back);
    free(s);
    cJSON_Delete(w);
}

/* Commands in groups addressed to another bot; every kind of update named. */
static void test_other_bot(void)
{
    bm_input in;
    memset(&in, 0, sizeof in);
    in.kind = BM_IN_TEXT;
    in.user.chat_id = -100500;
    in.text = "/help@SomeOtherBot";
    CU_ASSERT_TRUE(tgu_for_other_bot(&in, "fake_test_bot"));
    in.text = "/help@fake_test_bot_two now";
    CU_ASSERT_TRUE(tgu_for_other_bot(&in, "fake_test_bot"));
    in.text = "/help@Fake_Test_Bot now";
    CU_ASSERT_FALSE(tgu_for_other_bot(&in, "fake_test_bot"));
    in.text = "/help";
    CU_ASSERT_FALSE(tgu_for_other_bot(&in, "fake_test_bot"));
    in.text = "mail me@SomeOtherBot";
    CU_ASSERT_FALSE(tgu_for_other_bot(&in, "fake_test_bot"));
    in.text = "/help@SomeOtherBot";
    CU_ASSERT_FALSE(tgu_for_other_bot(&in, ""));   /* unknown username */
    in.user.chat_id = 1001;                          /* a private chat */
    CU_ASSERT_FALSE(tgu_for_other_bot(&in, "fake_test_bot"));

    int k;
    const char *u = "{\"update_id\":1,\"edited_message\":{}}";
    CU_ASSERT_STRING_EQUAL(tgu_update_kind(u, strlen(u), &k), "edited_message");
    CU_ASSERT_EQUAL(k, 1);
    u = "{\"update_id\":1,\"something_new\":{}}";
    CU_ASSERT_STRING_EQUAL(tgu_update_kind(u, strlen(u), &k), "unknown");
    CU_ASSERT_EQUAL(k, TGU_KINDS - 1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("tgupdate", NULL, NULL);
    CU_add_test(s, "parse cases from data file", test_parse_cases);
    CU_add_test(s, "parse cases as raw text (escapes, ids, order)", test_parse_texts);
    CU_add_test(s, "parse NULL, bounds, too little space", test_parse_null);
    CU_add_test(s, "parse every cut and damaged byte", test_parse_damaged);
    CU_add_test(s, "render reply keyboard", test_render_reply_keyboard);
    CU_add_test(s, "render inline keyboard", test_render_inline_keyboard);
    CU_add_test(s, "render remove / no markup", test_render_remove_and_none);
    CU_add_test(s, "render edit, answer, skipped kinds", test_render_edit_answer_skip);
    CU_add_test(s, "render malformed", test_render_malformed);
    CU_add_test(s, "render split long text", test_render_split);
    CU_add_test(s, "render the model's Markdown", test_render_markdown);
    CU_add_test(s, "commands for other bots, update kinds", test_other_bot);
    CU_add_test(s, "setMyCommands per language", test_commands);
    CU_add_test(s, "64-bit JSON ids", test_json_i64);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    call_params_free();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
