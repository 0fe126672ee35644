/*
 * test_fake_tg.c — the fake Telegram Bot API, over real HTTP (libcurl to
 * 127.0.0.1): every rejection gives the exact error JSON the real server
 * gives, valid calls pass, getUpdates confirms by offset and long-polls;
 * uploads (multipart/form-data) are read as strictly, and the runtime's
 * client (telegram/tg.c) sends one the fake accepts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <curl/curl.h>

#include "../fake_tg/fake_tg.h"
#include "net/loop.h"
#include "telegram/tg.h"

static fake_tg *g_ft;
static char g_base[128];

/* ---- HTTP helper ------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) return 0;
    b->p = q;
    memcpy(b->p + b->n, ptr, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

/* Calls base + path. ctype NULL = GET. Returns the status; *resp is malloc'd. */
static long http(const char *base, const char *path, const char *ctype, const char *body,
                 char **resp)
{
    CURL *h = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "%s%s", base, path);
    buf b = { NULL, 0 };
    struct curl_slist *hdr = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    if (ctype) {
        char line[128];
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        hdr = curl_slist_append(hdr, line);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    *resp = b.p ? b.p : strdup("");
    return status;
}

/* POST JSON to /bot<token>/<method>. */
static long post(const char *method, const char *json, char **resp)
{
    char path[256];
    snprintf(path, sizeof path, "/bot%s/%s", FAKE_TG_TOKEN, method);
    return http(g_base, path, "application/json", json, resp);
}

/* Asserts the exact answer to a JSON POST. */
#define EXPECT_CALL(method, json, status, answer)                                   \
    do {                                                                            \
        char *r_;                                                                   \
        long s_ = post(method, json, &r_);                                          \
        CU_ASSERT_EQUAL(s_, status);                                                \
        CU_ASSERT_STRING_EQUAL(r_, answer);                                         \
        if (s_ != (status) || strcmp(r_, answer))                                   \
            fprintf(stderr, "\n  %s %s\n  -> %ld %s\n", method, json, s_, r_);      \
        free(r_);                                                                   \
    } while (0)

#define BAD(desc) "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: " desc "\"}"

static bool ok_answer(const char *method, const char *json)
{
    char *r;
    long s = post(method, json, &r);
    bool ok = s == 200 && strstr(r, "\"ok\":true");
    if (!ok) fprintf(stderr, "\n  %s %s\n  -> %ld %s\n", method, json, s, r);
    free(r);
    return ok;
}

static const fake_tg_user ann = { 1001, "Ann", NULL, "ann", "en" };

static int suite_init(void)
{
    char err[256];
    fake_tg_opts o = { 0 };
    g_ft = fake_tg_new(&o, err, sizeof err);
    if (!g_ft) {
        fprintf(stderr, "fake_tg_new: %s\n", err);
        return 1;
    }
    fake_tg_base_url(g_ft, g_base, sizeof g_base);
    /* Ann writes first, so her chat exists; drain that update. */
    int64_t id = fake_tg_push_text(g_ft, &ann, "/start");
    char *r, json[64];
    snprintf(json, sizeof json, "{\"offset\":%lld}", (long long)id + 1);
    post("getUpdates", json, &r);
    free(r);
    return 0;
}

static int suite_clean(void)
{
    fake_tg_free(g_ft);
    return 0;
}

/* ---- routing and auth ---------------------------------------------------- */

static void test_token_and_method(void)
{
    char *r;
    long s = http(g_base, "/bot123:wrong/getMe", "application/json", "{}", &r);
    CU_ASSERT_EQUAL(s, 401);
    CU_ASSERT_STRING_EQUAL(r, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}");
    free(r);
    EXPECT_CALL("sendMassage", "{}", 404, "{\"ok\":false,\"error_code\":404,\"description\":\"Not Found\"}");
    s = http(g_base, "/nothing", NULL, NULL, &r);
    CU_ASSERT_EQUAL(s, 404);
    free(r);
    /* Method names are case-insensitive, as on the real server. */
    CU_ASSERT(ok_answer("getme", "{}"));
    char path[256];
    snprintf(path, sizeof path, "/bot%s/getMe", FAKE_TG_TOKEN);
    s = http(g_base, path, NULL, NULL, &r);
    CU_ASSERT_EQUAL(s, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"is_bot\":true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"id\":123456789"));
    free(r);
}

/* ---- field validation --------------------------------------------------- */

static void test_required_and_types(void)
{
    EXPECT_CALL("sendMessage", "{\"text\":\"hi\"}", 400, BAD("chat_id is empty"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001}", 400, BAD("message text is empty"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":true,\"text\":\"hi\"}", 400,
                BAD("parameter \\\"chat_id\\\" must be of type Integer or String"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001.5,\"text\":\"hi\"}", 400,
                BAD("parameter \\\"chat_id\\\" must be of type Integer or String"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":42}", 400,
                BAD("parameter \\\"text\\\" must be of type String"));
    /* Strict JSON types: an Integer as a string is refused in JSON... */
    EXPECT_CALL("editMessageText", "{\"chat_id\":1001,\"message_id\":\"1\",\"text\":\"x\"}", 400,
                BAD("parameter \\\"message_id\\\" must be of type Integer"));
    EXPECT_CALL("getUpdates", "{\"timeout\":\"0\"}", 400,
                BAD("parameter \\\"timeout\\\" must be of type Integer"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":\"hi\",\"disable_notification\":1}", 400,
                BAD("parameter \\\"disable_notification\\\" must be of type Boolean"));
    EXPECT_CALL("answerCallbackQuery", "{}", 400, BAD("callback_query_id is empty"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":\"hi\",\"entities\":{}}", 400,
                BAD("parameter \\\"entities\\\" must be an Array of MessageEntity"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":\"hi\",\"entities\":[{\"type\":\"bold\"}]}",
                400, BAD("field \\\"offset\\\" of the MessageEntity is required"));
    EXPECT_CALL("sendMessage", "[1,2]", 400, BAD("can't parse JSON object"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":999,\"text\":\"hi\"}", 400, BAD("chat not found"));
    /* ...but accepted in a form body, and in a query string. */
    char path[256], *r;
    snprintf(path, sizeof path, "/bot%s/sendMessage", FAKE_TG_TOKEN);
    long s = http(g_base, path, "application/x-www-form-urlencoded",
                  "chat_id=1001&text=hello+form%21&disable_notification=true", &r);
    CU_ASSERT_EQUAL(s, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"text\":\"hello form!\""));
    free(r);
    s = http(g_base, path, "application/x-www-form-urlencoded", "chat_id=1001&text=x&disable_notification=maybe", &r);
    CU_ASSERT_EQUAL(s, 400);
    CU_ASSERT_STRING_EQUAL(r, BAD("parameter \\\"disable_notification\\\" must be of type Boolean"));
    free(r);
    snprintf(path, sizeof path, "/bot%s/sendChatAction?chat_id=1001&action=typing", FAKE_TG_TOKEN);
    s = http(g_base, path, NULL, NULL, &r);
    CU_ASSERT_EQUAL(s, 200);
    CU_ASSERT_STRING_EQUAL(r, "{\"ok\":true,\"result\":true}");
    free(r);
    EXPECT_CALL("sendChatAction", "{\"chat_id\":1001,\"action\":\"dancing\"}", 400,
                BAD("wrong parameter action in request"));
}

static void test_text_length(void)
{
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":\"\"}", 400, BAD("message text is empty"));
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":\" \\n\\t \"}", 400, BAD("message text is empty"));

    /* 4096 ASCII characters pass, 4097 fail; trailing spaces do not count. */
    char *json = malloc(5 * 4200 + 100);
    char *t = malloc(5 * 4200);
    memset(t, 'a', 4096);
    memcpy(t + 4096, "   ", 4);
    snprintf(json, 5 * 4200 + 100, "{\"chat_id\":1001,\"text\":\"%s\"}", t);
    CU_ASSERT(ok_answer("sendMessage", json));
    memset(t, 'a', 4097);
    t[4097] = 0;
    snprintf(json, 5 * 4200 + 100, "{\"chat_id\":1001,\"text\":\"%s\"}", t);
    EXPECT_CALL("sendMessage", json, 400, BAD("message is too long"));

    /* Cyrillic: 2 UTF-8 bytes, 1 UTF-16 unit. 4096 letters pass. */
    t[0] = 0;
    for (int i = 0; i < 4096; i++) strcat(t + 2 * i, "я");
    snprintf(json, 5 * 4200 + 100, "{\"chat_id\":1001,\"text\":\"%s\"}", t);
    CU_ASSERT(ok_answer("sendMessage", json));
    /* Emoji outside the BMP: 2 UTF-16 units each. 2048 pass, 2049 fail. */
    t[0] = 0;
    for (int i = 0; i < 2048; i++) memcpy(t + 4 * i, "\xF0\x9F\x9A\x97", 5);
    snprintf(json, 5 * 4200 + 100, "{\"chat_id\":1001,\"text\":\"%s\"}", t);
    CU_ASSERT(ok_answer("sendMessage", json));
    memcpy(t + 4 * 2048, "\xF0\x9F\x9A\x97", 5);
    snprintf(json, 5 * 4200 + 100, "{\"chat_id\":1001,\"text\":\"%s\"}", t);
    EXPECT_CALL("sendMessage", json, 400, BAD("message is too long"));
    free(t);
    free(json);
}

/* Entities are checked as Telegram checks them: a known type, offset and
 * length in UTF-16 units inside the text, no end inside a surrogate pair,
 * a text_link's url. "😀" is 2 units, "я" 1. */
static void test_entities(void)
{
#define SEND(ents) "{\"chat_id\":1001,\"text\":\"я😀 bold\",\"entities\":" ents "}"
    CU_ASSERT(ok_answer("sendMessage", SEND("[{\"type\":\"bold\",\"offset\":4,\"length\":4}]")));
    CU_ASSERT(ok_answer("sendMessage", SEND("[{\"type\":\"pre\",\"offset\":0,\"length\":8,"
                                            "\"language\":\"c\"},{\"type\":\"text_link\","
                                            "\"offset\":1,\"length\":2,\"url\":\"https://x.io\"}]")));
    /* as a JSON string, as form bodies send it */
    CU_ASSERT(ok_answer("sendMessage", SEND("\"[{\\\"type\\\":\\\"italic\\\",\\\"offset\\\":0,"
                                            "\\\"length\\\":1}]\"")));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"bold\",\"offset\":4,\"length\":5}]"), 400,
                BAD("can't parse entities: entity 0 (bold) at 4+5 is outside the text of 8 UTF-16 units"));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"bold\",\"offset\":2,\"length\":2}]"), 400,
                BAD("can't parse entities: entity 0 (bold) at 2+2 splits a surrogate pair"));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"bold\",\"offset\":0,\"length\":0}]"), 400,
                BAD("can't parse entities: entity 0 (bold) at 0+0 is outside the text of 8 UTF-16 units"));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"bold\",\"offset\":0,\"length\":1},"
                                    "{\"type\":\"shiny\",\"offset\":0,\"length\":1}]"), 400,
                BAD("can't parse entities: unsupported entity type \\\"shiny\\\" in entity 1"));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"text_link\",\"offset\":0,\"length\":1}]"), 400,
                BAD("can't parse entities: text_link entity 0 without a url"));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"text_link\",\"offset\":0,\"length\":1,"
                                    "\"url\":\"javascript:x\"}]"), 400,
                BAD("can't parse entities: wrong HTTP URL in entity 0"));
    EXPECT_CALL("sendMessage", SEND("[{\"type\":\"pre\",\"offset\":0,\"length\":1,\"language\":7}]"),
                400, BAD("field \\\"language\\\" of the MessageEntity must be of type String"));
#undef SEND
    /* more than 100: accepted, with a warning (Telegram formats 100) */
    char json[8192];
    size_t o = (size_t)snprintf(json, sizeof json, "{\"chat_id\":1001,\"text\":\"%0101d\","
                                                    "\"entities\":[", 0);
    for (int i = 0; i < 101; i++)
        o += (size_t)snprintf(json + o, sizeof json - o, "%s{\"type\":\"bold\",\"offset\":%d,"
                              "\"length\":1}", i ? "," : "", i);
    snprintf(json + o, sizeof json - o, "]}");
    uint64_t since = fake_tg_ncalls(g_ft);
    CU_ASSERT(ok_answer("sendMessage", json));
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL_FATAL(c[0].n_warnings, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c[0].warnings[0], "101 entities"));
    fake_tg_calls_free(c, n);
    /* a draft's entities are checked the same way */
    EXPECT_CALL("sendMessageDraft", "{\"chat_id\":1001,\"draft_id\":5,\"text\":\"ab\","
                                    "\"entities\":[{\"type\":\"code\",\"offset\":1,\"length\":2}]}",
                400, BAD("can't parse entities: entity 0 (code) at 1+2 is outside the text of 2 UTF-16 units"));
}

static void test_reply_markup(void)
{
    const char *head = "{\"chat_id\":1001,\"text\":\"menu\",\"reply_markup\":";
    char json[2048];
#define MK(markup) (snprintf(json, sizeof json, "%s%s}", head, markup), json)
    CU_ASSERT(ok_answer("sendMessage", MK("{\"keyboard\":[[{\"text\":\"A\"},{\"text\":\"B\"}],"
                                          "[{\"text\":\"Phone\",\"request_contact\":true}]],"
                                          "\"resize_keyboard\":true}")));
    CU_ASSERT(ok_answer("sendMessage", MK("{\"inline_keyboard\":[[{\"text\":\"More\",\"callback_data\":\"m\"},"
                                          "{\"text\":\"Site\",\"url\":\"https://example.com\"}]]}")));
    CU_ASSERT(ok_answer("sendMessage", MK("{\"remove_keyboard\":true}")));
    CU_ASSERT(ok_answer("sendMessage", MK("{\"force_reply\":true}")));
    /* A JSON-serialized markup inside a JSON body is fine too (as on Telegram). */
    CU_ASSERT(ok_answer("sendMessage", MK("\"{\\\"remove_keyboard\\\":true}\"")));

    EXPECT_CALL("sendMessage", MK("[[\"A\"]]"), 400, BAD("object expected as reply markup"));
    EXPECT_CALL("sendMessage", MK("5"), 400, BAD("object expected as reply markup"));
    EXPECT_CALL("sendMessage", MK("{\"buttons\":[]}"), 400,
                BAD("can't parse reply keyboard markup JSON object"));
    EXPECT_CALL("sendMessage", MK("{\"keyboard\":[[\"A\"]]}"), 400,
                BAD("field \\\"keyboard\\\" of the ReplyKeyboardMarkup must be an Array of Array of KeyboardButton"));
    EXPECT_CALL("sendMessage", MK("{\"keyboard\":[{\"text\":\"A\"}]}"), 400,
                BAD("field \\\"keyboard\\\" of the ReplyKeyboardMarkup must be an Array of Array of KeyboardButton"));
    EXPECT_CALL("sendMessage", MK("{\"keyboard\":{}}"), 400,
                BAD("field \\\"keyboard\\\" of the ReplyKeyboardMarkup must be an Array of Array of KeyboardButton"));
    EXPECT_CALL("sendMessage", MK("{\"keyboard\":[[{\"label\":\"A\"}]]}"), 400,
                BAD("field \\\"text\\\" of the KeyboardButton is required"));
    EXPECT_CALL("sendMessage", MK("{\"keyboard\":[[{\"text\":\"A\",\"request_contact\":\"yes\"}]]}"), 400,
                BAD("field \\\"request_contact\\\" of the KeyboardButton must be of type Boolean"));
    EXPECT_CALL("sendMessage", MK("{\"inline_keyboard\":[[{\"text\":\"A\"}]]}"), 400,
                BAD("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"));
    EXPECT_CALL("sendMessage", MK("{\"remove_keyboard\":1}"), 400,
                BAD("field \\\"remove_keyboard\\\" of the ReplyKeyboardRemove must be of type Boolean"));
    /* editMessageText takes only an inline keyboard. */
    EXPECT_CALL("editMessageText",
                "{\"chat_id\":1001,\"message_id\":1,\"text\":\"x\",\"reply_markup\":{\"keyboard\":[]}}",
                400, BAD("field \\\"inline_keyboard\\\" of the InlineKeyboardMarkup is required"));
#undef MK
}

static void test_callback_data(void)
{
    char json[1024];
    const char *fmt = "{\"chat_id\":1001,\"text\":\"m\",\"reply_markup\":{\"inline_keyboard\":"
                      "[[{\"text\":\"X\",\"callback_data\":\"%s\"}]]}}";
    snprintf(json, sizeof json, fmt, "");
    EXPECT_CALL("sendMessage", json, 400, BAD("BUTTON_DATA_INVALID"));
    char data[80];
    memset(data, 'd', 65);
    data[65] = 0;
    snprintf(json, sizeof json, fmt, data);
    EXPECT_CALL("sendMessage", json, 400, BAD("BUTTON_DATA_INVALID"));
    data[64] = 0;
    snprintf(json, sizeof json, fmt, data);
    CU_ASSERT(ok_answer("sendMessage", json));
    /* 64 bytes, not characters: 22 Cyrillic letters are 44 bytes, 33 are 66. */
    char cyr[100] = "";
    for (int i = 0; i < 33; i++) strcat(cyr, "ж");
    snprintf(json, sizeof json, fmt, cyr);
    EXPECT_CALL("sendMessage", json, 400, BAD("BUTTON_DATA_INVALID"));
}

static void test_unknown_field_warning(void)
{
    uint64_t since = fake_tg_ncalls(g_ft);
    CU_ASSERT(ok_answer("sendMessage", "{\"chat_id\":1001,\"text\":\"w\",\"colour\":\"red\","
                                       "\"reply_markup\":{\"keyboard\":[[{\"text\":\"A\",\"size\":2}]]}}"));
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(c[0].method, "sendMessage");
    CU_ASSERT_EQUAL(c[0].status, 200);
    CU_ASSERT_EQUAL(c[0].n_warnings, 2);
    bool top = false, nested = false;
    for (int i = 0; i < c[0].n_warnings; i++) {
        if (strstr(c[0].warnings[i], "\"colour\"")) top = true;
        if (strstr(c[0].warnings[i], "\"size\"") && strstr(c[0].warnings[i], "reply_markup.keyboard[0][0]"))
            nested = true;
    }
    CU_ASSERT(top);
    CU_ASSERT(nested);
    fake_tg_calls_free(c, n);
}

static void test_commands(void)
{
    CU_ASSERT(ok_answer("setMyCommands", "{\"commands\":[{\"command\":\"start\",\"description\":\"Start\"},"
                                         "{\"command\":\"help\",\"description\":\"Help\"}]}"));
    CU_ASSERT(ok_answer("setMyCommands", "{\"commands\":[{\"command\":\"start\",\"description\":\"Начать\"}],"
                                         "\"language_code\":\"ru\",\"scope\":{\"type\":\"default\"}}"));
    cJSON *en = fake_tg_commands(g_ft, NULL);
    cJSON *ru = fake_tg_commands(g_ft, "ru");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(en), 2);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(ru), 1);
    CU_ASSERT_PTR_NULL(fake_tg_commands(g_ft, "de"));
    cJSON_Delete(en);
    cJSON_Delete(ru);
    EXPECT_CALL("getMyCommands", "{\"language_code\":\"ru\"}", 200,
                "{\"ok\":true,\"result\":[{\"command\":\"start\",\"description\":\"Начать\"}]}");
    EXPECT_CALL("setMyCommands", "{\"commands\":[{\"command\":\"Start\",\"description\":\"x\"}]}", 400,
                BAD("BOT_COMMAND_INVALID"));
    EXPECT_CALL("setMyCommands", "{\"commands\":[{\"command\":\"start\",\"description\":\"\"}]}", 400,
                BAD("command description is empty"));
    EXPECT_CALL("setMyCommands", "{\"commands\":[],\"scope\":{\"type\":\"everyone\"}}", 400,
                BAD("can't parse BotCommandScope JSON object"));
    EXPECT_CALL("setMyCommands", "{\"commands\":[],\"scope\":{\"type\":\"chat\"}}", 400,
                BAD("can't parse BotCommandScope JSON object"));
    CU_ASSERT(ok_answer("setMyCommands", "{\"commands\":[],\"scope\":{\"type\":\"chat\",\"chat_id\":1001}}"));
}

/* ---- behaviour ------------------------------------------------------------ */

static int64_t sent_id(const char *resp)
{
    cJSON *j = cJSON_Parse(resp);
    const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "message_id");
    int64_t v = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

static void test_send_edit_answer(void)
{
    char *r;
    CU_ASSERT_EQUAL(post("sendMessage", "{\"chat_id\":1001,\"text\":\"one\"}", &r), 200);
    int64_t a = sent_id(r);
    free(r);
    CU_ASSERT_EQUAL(post("sendMessage", "{\"chat_id\":1001,\"text\":\"two\",\"reply_markup\":"
                                        "{\"inline_keyboard\":[[{\"text\":\"More\",\"callback_data\":\"more\"}]]}}",
                         &r), 200);
    int64_t b = sent_id(r);
    CU_ASSERT(b > a);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"inline_keyboard\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"chat\":{\"id\":1001,\"type\":\"private\""));
    free(r);

    int64_t mid = 0;
    cJSON *mk = fake_tg_last_inline(g_ft, 1001, &mid);
    CU_ASSERT_PTR_NOT_NULL(mk);
    CU_ASSERT_EQUAL(mid, b);
    cJSON_Delete(mk);

    char json[512];
    snprintf(json, sizeof json, "{\"chat_id\":1001,\"message_id\":%lld,\"text\":\"x\"}", (long long)(b + 1000));
    EXPECT_CALL("editMessageText", json, 400, BAD("message to edit not found"));
    snprintf(json, sizeof json, "{\"chat_id\":1001,\"message_id\":%lld,\"text\":\"two\",\"reply_markup\":"
                                "{\"inline_keyboard\":[[{\"text\":\"More\",\"callback_data\":\"more\"}]]}}",
             (long long)b);
    EXPECT_CALL("editMessageText", json, 400,
                BAD("message is not modified: specified new message content and reply markup are exactly "
                    "the same as a current content and reply markup of the message"));
    size_t edits = fake_tg_count_events(g_ft, 1001, FAKE_TG_EDITED);
    snprintf(json, sizeof json, "{\"chat_id\":1001,\"message_id\":%lld,\"text\":\"two, edited\"}", (long long)b);
    CU_ASSERT(ok_answer("editMessageText", json));
    CU_ASSERT_EQUAL(fake_tg_count_events(g_ft, 1001, FAKE_TG_EDITED), edits + 1);
    char *t = fake_tg_message_text(g_ft, 1001, b);
    CU_ASSERT_STRING_EQUAL(t, "two, edited");
    free(t);
    /* The edit carried no markup, so the inline keyboard is gone. */
    int64_t before = mid;
    mk = fake_tg_last_inline(g_ft, 1001, &mid);
    CU_ASSERT(mk == NULL || mid != before);
    cJSON_Delete(mk);

    /* Callback queries: only ids the fake issued, answered once. */
    EXPECT_CALL("answerCallbackQuery", "{\"callback_query_id\":\"12345\"}", 400,
                BAD("query is too old and response timeout expired or query ID is invalid"));
    CU_ASSERT_EQUAL(fake_tg_push_callback(g_ft, &ann, 999999, "x", NULL, 0), -1);
    char qid[32];
    CU_ASSERT(fake_tg_push_callback(g_ft, &ann, a, "more", qid, sizeof qid) > 0);
    CU_ASSERT(!fake_tg_callback_answered(g_ft, qid));
    snprintf(json, sizeof json, "{\"callback_query_id\":\"%s\"}", qid);
    CU_ASSERT(ok_answer("answerCallbackQuery", json));
    CU_ASSERT(fake_tg_callback_answered(g_ft, qid));
    EXPECT_CALL("answerCallbackQuery", json, 400,
                BAD("query is too old and response timeout expired or query ID is invalid"));
    fake_tg_event ev;
    size_t na = fake_tg_count_events(g_ft, 1001, FAKE_TG_ANSWERED);
    CU_ASSERT_FATAL(na >= 1);
    CU_ASSERT(fake_tg_wait_event(g_ft, 1001, FAKE_TG_ANSWERED, na - 1, 0, &ev));
    CU_ASSERT_STRING_EQUAL(ev.query_id, qid);
    CU_ASSERT_EQUAL(ev.message_id, a);
    fake_tg_event_clear(&ev);
    /* drain the callback update */
    post("getUpdates", "{\"offset\":-1}", &r);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"callback_query\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, qid));
    free(r);
    post("getUpdates", "{\"offset\":870999999,\"timeout\":0}", &r);
    free(r);
}

static void test_reply_keyboard_state(void)
{
    CU_ASSERT(ok_answer("sendMessage", "{\"chat_id\":1001,\"text\":\"k\",\"reply_markup\":"
                                       "{\"keyboard\":[[{\"text\":\"Cars\"}]]}}"));
    CU_ASSERT(ok_answer("sendMessage", "{\"chat_id\":1001,\"text\":\"plain\"}"));
    cJSON *kb = fake_tg_reply_keyboard(g_ft, 1001);
    CU_ASSERT_PTR_NOT_NULL(kb);
    char *kbs = kb ? cJSON_PrintUnformatted(kb) : NULL;
    CU_ASSERT(kbs && strstr(kbs, "Cars"));
    free(kbs);
    cJSON_Delete(kb);
    CU_ASSERT(ok_answer("sendMessage", "{\"chat_id\":1001,\"text\":\"r\",\"reply_markup\":{\"remove_keyboard\":true}}"));
    CU_ASSERT_PTR_NULL(fake_tg_reply_keyboard(g_ft, 1001));
}

/* ---- getUpdates ------------------------------------------------------------ */

static int count_updates(const char *resp)
{
    cJSON *j = cJSON_Parse(resp);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "result"));
    cJSON_Delete(j);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_offsets(void)
{
    char *r;
    int64_t a = fake_tg_push_text(g_ft, &ann, "one");
    int64_t b = fake_tg_push_text(g_ft, &ann, "two");
    int64_t c = fake_tg_push_text(g_ft, &ann, "/three x");
    CU_ASSERT(a > 0 && b == a + 1 && c == b + 1);
    CU_ASSERT_EQUAL(fake_tg_pending_updates(g_ft), 3);

    post("getUpdates", "{}", &r); /* no offset: all, none confirmed */
    CU_ASSERT_EQUAL(count_updates(r), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"type\":\"bot_command\",\"offset\":0,\"length\":6"));
    free(r);
    post("getUpdates", "{\"limit\":1}", &r);
    CU_ASSERT_EQUAL(count_updates(r), 1);
    free(r);
    char json[128];
    snprintf(json, sizeof json, "{\"offset\":%lld}", (long long)b);
    post("getUpdates", json, &r); /* confirms a */
    CU_ASSERT_EQUAL(count_updates(r), 2);
    free(r);
    CU_ASSERT_EQUAL(fake_tg_pending_updates(g_ft), 2);
    post("getUpdates", "{}", &r); /* a is gone for good */
    CU_ASSERT_EQUAL(count_updates(r), 2);
    free(r);
    snprintf(json, sizeof json, "{\"offset\":%lld,\"timeout\":0}", (long long)c + 1);
    post("getUpdates", json, &r);
    CU_ASSERT_EQUAL(count_updates(r), 0);
    CU_ASSERT_STRING_EQUAL(r, "{\"ok\":true,\"result\":[]}");
    free(r);
    CU_ASSERT_EQUAL(fake_tg_pending_updates(g_ft), 0);

    /* allowed_updates filters (and sticks, as on Telegram). */
    fake_tg_push_text(g_ft, &ann, "filtered");
    post("getUpdates", "{\"allowed_updates\":[\"callback_query\"],\"timeout\":0}", &r);
    CU_ASSERT_EQUAL(count_updates(r), 0);
    free(r);
    CU_ASSERT_EQUAL(fake_tg_pending_updates(g_ft), 0);
    post("getUpdates", "{\"allowed_updates\":[],\"timeout\":0}", &r);
    free(r);
}

static void test_long_poll_timeout(void)
{
    char *r;
    double t0 = now_s();
    CU_ASSERT_EQUAL(post("getUpdates", "{\"timeout\":1}", &r), 200);
    double dt = now_s() - t0;
    CU_ASSERT_STRING_EQUAL(r, "{\"ok\":true,\"result\":[]}");
    CU_ASSERT(dt >= 0.9 && dt < 3.0);
    free(r);
}

static void *poll_thread(void *arg)
{
    char **out = arg;
    post("getUpdates", "{\"timeout\":10}", out);
    return NULL;
}

static void test_long_poll_wakes(void)
{
    pthread_t th;
    char *r = NULL;
    double t0 = now_s();
    pthread_create(&th, NULL, poll_thread, &r);
    usleep(300 * 1000);
    /* Other calls are served while the poll waits. */
    CU_ASSERT(ok_answer("getMe", "{}"));
    CU_ASSERT(now_s() - t0 < 2.0);
    int64_t id = fake_tg_push_text(g_ft, &ann, "wake up");
    pthread_join(th, NULL);
    CU_ASSERT(now_s() - t0 < 3.0);
    CU_ASSERT_EQUAL(count_updates(r), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "wake up"));
    free(r);
    char json[64];
    snprintf(json, sizeof json, "{\"offset\":%lld,\"timeout\":0}", (long long)id + 1);
    post("getUpdates", json, &r);
    free(r);
}

static void test_poll_conflict(void)
{
    pthread_t th;
    char *r = NULL, *r2;
    pthread_create(&th, NULL, poll_thread, &r);
    usleep(300 * 1000);
    post("getUpdates", "{\"timeout\":0}", &r2); /* a second instance */
    pthread_join(th, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"error_code\":409"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "terminated by other getUpdates request"));
    free(r);
    free(r2);

    CU_ASSERT(ok_answer("setWebhook", "{\"url\":\"https://example.com/hook\"}"));
    EXPECT_CALL("getUpdates", "{}", 409,
                "{\"ok\":false,\"error_code\":409,\"description\":\"Conflict: can't use getUpdates method "
                "while webhook is active; use deleteWebhook to delete the webhook first\"}");
    EXPECT_CALL("getWebhookInfo", "{}", 200,
                "{\"ok\":true,\"result\":{\"url\":\"https://example.com/hook\",\"has_custom_certificate\":false,"
                "\"pending_update_count\":0}}");
    EXPECT_CALL("setWebhook", "{\"url\":\"http://example.com/hook\"}", 400,
                BAD("bad webhook: An HTTPS URL must be provided for webhook"));
    CU_ASSERT(ok_answer("deleteWebhook", "{\"drop_pending_updates\":true}"));
    CU_ASSERT(ok_answer("getUpdates", "{\"timeout\":0}"));
}

static void test_other_methods_and_faults(void)
{
    /* Any other schema-valid method: true. Invalid: 400. */
    CU_ASSERT(ok_answer("setMyDescription", "{\"description\":\"hello\"}"));
    EXPECT_CALL("banChatMember", "{\"chat_id\":1001}", 400, BAD("user_id is empty"));
    fake_tg_fail_next(g_ft, "sendMessage", 429, "Too Many Requests: retry after 3", 3, 1);
    EXPECT_CALL("sendMessage", "{\"chat_id\":1001,\"text\":\"x\"}", 429,
                "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 3\","
                "\"parameters\":{\"retry_after\":3}}");
    CU_ASSERT(ok_answer("sendMessage", "{\"chat_id\":1001,\"text\":\"x\"}"));
}

static bool is_send(const fake_tg_call *c, void *ud)
{
    const char *t = c->params ? cJSON_GetStringValue(cJSON_GetObjectItem(c->params, "text")) : NULL;
    return !strcmp(c->method, "sendMessage") && t && !strcmp(t, (const char *)ud);
}

static void *delayed_send(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    char *r;
    post("sendMessage", "{\"chat_id\":1001,\"text\":\"later\"}", &r);
    free(r);
    return NULL;
}

static void test_wait_helpers(void)
{
    uint64_t since = fake_tg_ncalls(g_ft);
    size_t nsent = fake_tg_count_events(g_ft, 1001, FAKE_TG_SENT);
    pthread_t th;
    pthread_create(&th, NULL, delayed_send, NULL);
    fake_tg_call call;
    CU_ASSERT(fake_tg_wait_call(g_ft, since, is_send, "later", 5000, &call));
    CU_ASSERT_EQUAL(call.status, 200);
    CU_ASSERT(call.seq >= since);
    fake_tg_call_clear(&call);
    fake_tg_event ev;
    CU_ASSERT(fake_tg_wait_event(g_ft, 1001, FAKE_TG_SENT, nsent, 5000, &ev));
    CU_ASSERT_STRING_EQUAL(ev.text, "later");
    fake_tg_event_clear(&ev);
    pthread_join(th, NULL);
    CU_ASSERT(!fake_tg_wait_call(g_ft, fake_tg_ncalls(g_ft), NULL, NULL, 100, NULL));
    CU_ASSERT(!fake_tg_wait_event(g_ft, 1001, FAKE_TG_SENT, nsent + 1, 100, NULL));
}

/* ---- uploads ------------------------------------------------------------- */

#define MP "multipart/form-data; boundary=XyZ"
#define PART(name) "--XyZ\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n"
#define FILEPART(name, file) "--XyZ\r\nContent-Disposition: form-data; name=\"" name \
                             "\"; filename=\"" file "\"\r\nContent-Type: application/json\r\n\r\n"
#define END "--XyZ--\r\n"

static long upload(const char *method, const char *ctype, const char *body, char **resp)
{
    char path[256];
    snprintf(path, sizeof path, "/bot%s/%s", FAKE_TG_TOKEN, method);
    return http(g_base, path, ctype, body, resp);
}

#define EXPECT_UPLOAD(ctype, body, status, answer)                                  \
    do {                                                                            \
        char *r_;                                                                   \
        long s_ = upload("sendDocument", ctype, body, &r_);                         \
        CU_ASSERT_EQUAL(s_, status);                                                \
        CU_ASSERT_STRING_EQUAL(r_, answer);                                         \
        if (s_ != (status) || strcmp(r_, answer))                                   \
            fprintf(stderr, "\n  sendDocument %s\n  -> %ld %s\n", body, s_, r_);    \
        free(r_);                                                                   \
    } while (0)

static bool is_document(const fake_tg_call *c, void *ud)
{
    (void)ud;
    return !strcmp(c->method, "sendDocument") && c->status == 200;
}

static void test_multipart(void)
{
    uint64_t since = fake_tg_ncalls(g_ft);
    char *r;
    long st = upload("sendDocument", MP,
                     PART("chat_id") "1001\r\n" PART("caption") "your data\r\n"
                     FILEPART("document", "my-data.json") "{\"a\": 1}\r\n" END, &r);
    CU_ASSERT_EQUAL(st, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"ok\":true"));
    free(r);
    fake_tg_call c;
    CU_ASSERT_FATAL(fake_tg_wait_call(g_ft, since, is_document, NULL, 1000, &c));
    const cJSON *doc = cJSON_GetObjectItem(c.params, "document");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "file_name")), "my-data.json");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "content")), "{\"a\": 1}");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(c.params, "chat_id")->valuedouble, 1001);
    fake_tg_call_clear(&c);

    /* what the real server refuses */
    EXPECT_UPLOAD(MP, PART("chat_id") "1001\r\n" END, 400, BAD("document is empty"));
    EXPECT_UPLOAD(MP, FILEPART("document", "a.json") "x\r\n" END, 400, BAD("chat_id is empty"));
    EXPECT_UPLOAD(MP, PART("chat_id") "1001\r\n" FILEPART("document", "a.json") "\r\n" END, 400,
                  BAD("file must be non-empty"));
    EXPECT_UPLOAD(MP, FILEPART("chat_id", "a.txt") "1001\r\n" FILEPART("document", "a.json") "x\r\n" END,
                  400, BAD("can't use a file as chat_id (Integer or String expected)"));
    EXPECT_UPLOAD(MP, PART("chat_id") "1001\r\n" PART("disable_notification") "maybe\r\n"
                  FILEPART("document", "a.json") "x\r\n" END, 400,
                  BAD("parameter \\\"disable_notification\\\" must be of type Boolean"));
    EXPECT_UPLOAD(MP, PART("chat_id") "1001\r\n" FILEPART("document", "a.json") "x\r\n"
                  FILEPART("thumbnail2", "t.jpg") "x\r\n" END, 400, BAD("unexpected file \\\"thumbnail2\\\""));
    /* malformed bodies */
    EXPECT_UPLOAD("multipart/form-data", PART("chat_id") "1001\r\n" END, 400,
                  BAD("multipart body without a valid boundary"));
    EXPECT_UPLOAD(MP, PART("chat_id") "1001\r\n" FILEPART("document", "a.json") "x", 400,
                  BAD("multipart body without its closing boundary"));
    EXPECT_UPLOAD(MP, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n" END, 400,
                  BAD("multipart part without a name"));
    EXPECT_UPLOAD(MP, "hello\r\n" PART("chat_id") "1001\r\n" END, 400,
                  BAD("multipart body does not start with its boundary"));
    /* a JSON body cannot carry a file */
    EXPECT_CALL("sendDocument", "{\"chat_id\":1001,\"document\":{\"file_name\":\"a\",\"content\":\"x\"}}",
                400, BAD("parameter \\\"document\\\" must be of type InputFile or String"));
}

typedef struct up_done {
    int calls;
    tg_err err;
    char desc[256];
} up_done;

static void on_upload(const tg_result *r, void *ud)
{
    up_done *d = ud;
    d->calls++;
    d->err = r->err;
    snprintf(d->desc, sizeof d->desc, "%s", r->description);
}

/* The runtime's client turns an upload in the params (tg.h, "Uploads") into
 * a multipart call the fake takes; the next JSON call on the client works. */
static void test_client_upload(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lp);
    tg_options o = {.api_base = g_base, .token = FAKE_TG_TOKEN};
    char err[128];
    tg_client *tg = tg_new(lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    uint64_t since = fake_tg_ncalls(g_ft);
    up_done d = {0};
    const char *body = "{\"chat_id\":1001,\"caption\":\"a \\\"quoted\\\" caption\","
                       "\"document\":{\"" TG_UPLOAD_NAME "\":\"my-data-2026-01-02.json\","
                       "\"" TG_UPLOAD_CONTENT "\":\"{\\n  \\\"user\\\": null\\n}\"}}";
    CU_ASSERT_EQUAL(tg_call_body(tg, "sendDocument", body, on_upload, &d), TG_OK);
    for (int i = 0; i < 100 && !d.calls; i++)
        loop_poll(lp, 100);
    CU_ASSERT_EQUAL(d.calls, 1);
    CU_ASSERT_EQUAL(d.err, TG_OK);
    if (d.err != TG_OK) fprintf(stderr, "\n  upload: %s\n", d.desc);
    fake_tg_call c;
    CU_ASSERT_FATAL(fake_tg_wait_call(g_ft, since, is_document, NULL, 1000, &c));
    const cJSON *doc = cJSON_GetObjectItem(c.params, "document");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "file_name")),
                           "my-data-2026-01-02.json");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "content")),
                           "{\n  \"user\": null\n}");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(c.params, "caption")),
                           "a \"quoted\" caption");
    CU_ASSERT_EQUAL(c.n_warnings, 0);
    fake_tg_call_clear(&c);
    d = (up_done){0};
    CU_ASSERT_EQUAL(tg_call_body(tg, "sendMessage", "{\"chat_id\":1001,\"text\":\"after\"}",
                                 on_upload, &d), TG_OK);
    for (int i = 0; i < 100 && !d.calls; i++)
        loop_poll(lp, 100);
    CU_ASSERT_EQUAL(d.err, TG_OK);
    tg_free(tg);
    loop_free(lp);
}

static void test_body_cap(void)
{
    char err[256];
    fake_tg_opts o = { .max_body = 1024 };
    fake_tg *small = fake_tg_new(&o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    char base[128], path[256];
    fake_tg_base_url(small, base, sizeof base);
    snprintf(path, sizeof path, "/bot%s/getMe", FAKE_TG_TOKEN);
    char *big = malloc(4096);
    memset(big, ' ', 4095);
    big[0] = '{';
    big[4093] = '}';
    big[4095] = 0;
    char *r;
    CU_ASSERT_EQUAL(http(base, path, "application/json", big, &r), 413);
    CU_ASSERT_STRING_EQUAL(r, "{\"ok\":false,\"error_code\":413,\"description\":\"Request Entity Too Large\"}");
    free(r);
    free(big);
    fake_tg_free(small);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite s = CU_add_suite("fake_tg", suite_init, suite_clean);
    CU_add_test(s, "token and method", test_token_and_method);
    CU_add_test(s, "required fields and types", test_required_and_types);
    CU_add_test(s, "text length", test_text_length);
    CU_add_test(s, "reply_markup", test_reply_markup);
    CU_add_test(s, "entities", test_entities);
    CU_add_test(s, "callback_data", test_callback_data);
    CU_add_test(s, "unknown field warning", test_unknown_field_warning);
    CU_add_test(s, "commands", test_commands);
    CU_add_test(s, "send, edit, answer", test_send_edit_answer);
    CU_add_test(s, "reply keyboard state", test_reply_keyboard_state);
    CU_add_test(s, "getUpdates offsets", test_offsets);
    CU_add_test(s, "long poll timeout", test_long_poll_timeout);
    CU_add_test(s, "long poll wakes", test_long_poll_wakes);
    CU_add_test(s, "poll conflict and webhook", test_poll_conflict);
    CU_add_test(s, "other methods and faults", test_other_methods_and_faults);
    CU_add_test(s, "wait helpers", test_wait_helpers);
    CU_add_test(s, "body cap", test_body_cap);
    CU_add_test(s, "multipart uploads", test_multipart);
    CU_add_test(s, "the client's upload", test_client_upload);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    curl_global_cleanup();
    return failures ? 1 : 0;
}
