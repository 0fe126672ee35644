/*
 * test_tg.c — the Bot API client and the outbox against a tiny Bot API
 * served in-process by libmicrohttpd on 127.0.0.1 (random port).
 *
 * The server answers by method name (see serve()); sendMessage behaves by
 * the text it is given, so the outbox tests script retries through data.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "base/json.h"
#include "base/log.h"
#include "telegram/outq.h"
#include "telegram/tg.h"
#include "net/loop.h"

#define TOKEN "123456789:AAH-TestSecretToken_xyz"
#define BIG (2u << 20) /* 2 MiB: over the 1 MiB cap, under the 8 MiB one */

/* ---- the server --------------------------------------------------------- */

static struct MHD_Daemon *g_d;
static uint16_t g_port;
static char g_base[64];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_connections;    /* TCP connections accepted */
static int g_active, g_max_active;
static char g_content_type[128];
static char g_log[256][48];  /* "chat:text" of each sendMessage answered ok */
static int g_n_log;
static struct { char text[32]; int seen; } g_seen[64];
static int g_n_seen;
static int g_send_delay_ms;

typedef struct req_ctx {
    char *body;
    size_t len;
} req_ctx;

static void on_conn(void *cls, struct MHD_Connection *c, void **sock_ctx,
                    enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&g_mu);
        g_connections++;
        pthread_mutex_unlock(&g_mu);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_ctx *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static int seen_count(const char *text)
{
    for (int i = 0; i < g_n_seen; i++)
        if (!strcmp(g_seen[i].text, text))
            return ++g_seen[i].seen;
    if (g_n_seen < 64) {
        snprintf(g_seen[g_n_seen].text, sizeof g_seen[0].text, "%s", text);
        g_seen[g_n_seen++].seen = 1;
    }
    return 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result json(struct MHD_Connection *c, unsigned status, const char *body)
{
    return reply(c, status, "application/json", body, strlen(body));
}

/* {"ok":true,"result":"xxx..."} of n bytes in total */
static char *big_body(size_t n)
{
    char *b = malloc(n + 1);
    const char *head = "{\"ok\":true,\"result\":\"";
    size_t h = strlen(head);
    memcpy(b, head, h);
    memset(b + h, 'x', n - h - 2);
    memcpy(b + n - 2, "\"}", 2);
    b[n] = '\0';
    return b;
}

static ssize_t chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    /* endless "x": only the client's cap ends it */
    memset(buf, 'x', max);
    if (pos == 0 && max > 0)
        buf[0] = '{';
    return (ssize_t)max;
}

static enum MHD_Result send_message(struct MHD_Connection *c, const char *body)
{
    cJSON *p = cJSON_Parse(body);
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(p, "chat_id");
    const char *text = json_str(p, "text");
    if (!cJSON_IsNumber(chat) || !text) {
        cJSON_Delete(p);
        return json(c, 400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: "
                            "chat_id and text required\"}");
    }
    long long chat_id = (long long)chat->valuedouble;
    pthread_mutex_lock(&g_mu);
    if (++g_active > g_max_active) /* sendMessage calls being served at once */
        g_max_active = g_active;
    int delay = g_send_delay_ms;
    pthread_mutex_unlock(&g_mu);
    if (delay)
        usleep((useconds_t)delay * 1000);
    pthread_mutex_lock(&g_mu);
    g_active--;
    int n = seen_count(text);
    const char *err = NULL;
    unsigned status = 200;
    if (!strncmp(text, "rate", 4) && n == 1) {
        status = 429;
        err = "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry "
              "after 1\",\"parameters\":{\"retry_after\":1}}";
    } else if (!strncmp(text, "boom", 4) && n <= 2) {
        status = 502;
        err = "<html><body>Bad Gateway</body></html>";
    } else if (!strncmp(text, "bad", 3)) {
        status = 400;
        err = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}";
    } else if (!strncmp(text, "mig", 3) && chat_id == 111) {
        status = 400;
        err = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: group chat was "
              "upgraded to a supergroup chat\",\"parameters\":{\"migrate_to_chat_id\":"
              "-1001234567890123}}";
    } else if (g_n_log < 256) {
        snprintf(g_log[g_n_log++], sizeof g_log[0], "%lld:%s", chat_id, text);
    }
    pthread_mutex_unlock(&g_mu);
    cJSON_Delete(p);
    if (err)
        return reply(c, status, status == 502 ? "text/html" : "application/json", err,
                     strlen(err));
    return json(c, 200, "{\"ok\":true,\"result\":{\"message_id\":1}}");
}

static enum MHD_Result serve(struct MHD_Connection *c, const char *method, const char *body)
{
    if (!strcmp(method, "getMe"))
        return json(c, 200, "{\"ok\":true,\"result\":{\"id\":5000000001,\"is_bot\":true,"
                            "\"first_name\":\"T\",\"unknown_field\":[1,{\"a\":null}]}}");
    if (!strcmp(method, "echo")) {
        size_t n = strlen(body) + 32;
        char *out = malloc(n);
        snprintf(out, n, "{\"ok\":true,\"result\":%s}", body);
        enum MHD_Result r = json(c, 200, out);
        free(out);
        return r;
    }
    if (!strcmp(method, "tooMany"))
        return json(c, 429, "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many "
                            "Requests: retry after 1\",\"parameters\":{\"retry_after\":1}}");
    if (!strcmp(method, "fail500")) {
        const char *h = "<html><body><h1>500 Internal Server Error</h1></body></html>";
        return reply(c, 500, "text/html", h, strlen(h));
    }
    if (!strcmp(method, "notJson"))
        return reply(c, 200, "text/plain", "hello", 5);
    if (!strcmp(method, "huge") || !strcmp(method, "getUpdates")) {
        char *b = big_body(BIG);
        enum MHD_Result r = json(c, 200, b);
        free(b);
        return r;
    }
    if (!strcmp(method, "hugeChunked")) {
        struct MHD_Response *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, chunked_reader, NULL, NULL);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        enum MHD_Result r = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return r;
    }
    if (!strcmp(method, "slow")) {
        usleep(1500 * 1000);
        return json(c, 200, "{\"ok\":true,\"result\":true}");
    }
    if (!strcmp(method, "sendMessage"))
        return send_message(c, body);
    return json(c, 404, "{\"ok\":false,\"error_code\":404,\"description\":\"Not Found\"}");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *http_method, const char *version,
                               const char *upload, size_t *upload_size, void **con_cls)
{
    req_ctx *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        r->body = realloc(r->body, r->len + *upload_size + 1);
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        r->body[r->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    pthread_mutex_lock(&g_mu);
    snprintf(g_content_type, sizeof g_content_type, "%s", ct ? ct : "");
    pthread_mutex_unlock(&g_mu);

    enum MHD_Result ret;
    const char *prefix = "/bot" TOKEN "/";
    if (strcmp(http_method, "POST") != 0)
        ret = json(c, 405, "{\"ok\":false,\"error_code\":405,\"description\":\"POST only\"}");
    else if (strncmp(url, prefix, strlen(prefix)) != 0)
        ret = json(c, 401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}");
    else
        ret = serve(c, url + strlen(prefix), r->body ? r->body : "");
    return ret;
}

static int server_start(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                           0, NULL, NULL, handler, NULL,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                           MHD_OPTION_NOTIFY_CONNECTION, on_conn, NULL,
                           MHD_OPTION_END);
    if (!g_d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_d, MHD_DAEMON_INFO_BIND_PORT);
    g_port = info->port;
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%u", g_port);
    return 0;
}

static int server_stop(void)
{
    MHD_stop_daemon(g_d);
    return 0;
}

/* ---- a synchronous call for the tests -------------------------------------- */

typedef struct outcome {
    int calls;
    tg_err err;
    long http_status;
    int error_code, retry_after;
    int64_t migrate;
    char desc[256];
    char *result; /* printed JSON */
} outcome;

static void on_done(const tg_result *r, void *ud)
{
    outcome *o = ud;
    o->calls++;
    o->err = r->err;
    o->http_status = r->http_status;
    o->error_code = r->error_code;
    o->retry_after = r->retry_after;
    o->migrate = r->migrate_to_chat_id;
    snprintf(o->desc, sizeof o->desc, "%s", r->description);
    o->result = r->result ? cJSON_PrintUnformatted(r->result)
                : r->result_raw ? strndup(r->result_raw, r->result_raw_len) : NULL;
}

static long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Each test's client runs on a loop of its own (a fresh connection cache). */
static loop *g_lp;

static loop *new_loop(void)
{
    g_lp = loop_new(NULL, NULL, 0);
    return g_lp;
}

static tg_client *client(const char *base, long timeout_ms)
{
    tg_options o = {.api_base = base, .token = TOKEN, .timeout_ms = timeout_ms,
                    .connect_timeout_ms = 2000, .poll_margin_ms = 2000};
    char err[128];
    tg_client *tg = tg_new(new_loop(), &o, err, sizeof err);
    if (!tg)
        fprintf(stderr, "tg_new: %s\n", err);
    return tg;
}

static void client_free(tg_client *tg)
{
    tg_free(tg);
    loop_free(g_lp);
    g_lp = NULL;
}

static outcome run(tg_client *tg, const char *method, cJSON *params)
{
    outcome o = {0};
    tg_err e = tg_call(tg, method, params, on_done, &o);
    CU_ASSERT_EQUAL(e, TG_OK);
    long end = ms_now() + 10000;
    while (e == TG_OK && o.calls == 0 && ms_now() < end)
        loop_poll(g_lp, 200);
    CU_ASSERT_EQUAL(o.calls, e == TG_OK ? 1 : 0);
    return o;
}

/* ---- tg tests ------------------------------------------------------------- */

static void test_ok_roundtrip(void)
{
    tg_client *tg = client(g_base, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    outcome o = run(tg, "getMe", NULL);
    CU_ASSERT_EQUAL(o.err, TG_OK);
    CU_ASSERT_EQUAL(o.http_status, 200);
    cJSON *res = cJSON_Parse(o.result ? o.result : "null");
    int64_t id = 0;
    CU_ASSERT(json_i64(res, "id", &id) == 0 && id == 5000000001LL);
    cJSON_Delete(res);
    free(o.result);

    /* the body arrives as JSON, 64-bit ids and UTF-8 intact */
    cJSON *p = cJSON_CreateObject();
    json_add_i64(p, "chat_id", -1001234567890123LL);
    cJSON_AddStringToObject(p, "text", "Привет 😀");
    o = run(tg, "echo", p);
    CU_ASSERT_EQUAL(o.err, TG_OK);
    CU_ASSERT_STRING_EQUAL(g_content_type, "application/json");
    CU_ASSERT_STRING_EQUAL(o.result,
                           "{\"chat_id\":-1001234567890123,\"text\":\"Привет 😀\"}");
    free(o.result);
    CU_ASSERT_EQUAL(tg_in_flight(tg), 0);
    client_free(tg);
}

static void test_connection_reuse(void)
{
    tg_client *tg = client(g_base, 5000);
    pthread_mutex_lock(&g_mu);
    int before = g_connections;
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < 5; i++) {
        outcome o = run(tg, "getMe", NULL);
        CU_ASSERT_EQUAL(o.err, TG_OK);
        free(o.result);
    }
    pthread_mutex_lock(&g_mu);
    int used = g_connections - before;
    pthread_mutex_unlock(&g_mu);
    CU_ASSERT_EQUAL(used, 1); /* one kept-alive connection for all five */
    client_free(tg);
}

static void test_api_errors(void)
{
    tg_client *tg = client(g_base, 5000);
    outcome o = run(tg, "tooMany", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_API);
    CU_ASSERT_EQUAL(o.error_code, 429);
    CU_ASSERT_EQUAL(o.http_status, 429);
    CU_ASSERT_EQUAL(o.retry_after, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.desc, "Too Many Requests"));
    CU_ASSERT_PTR_NULL(o.result);

    o = run(tg, "fail500", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_HTTP);
    CU_ASSERT_EQUAL(o.error_code, 500);
    CU_ASSERT_EQUAL(o.retry_after, 0);

    o = run(tg, "notJson", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_PARSE);

    o = run(tg, "noSuchMethod", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_API);
    CU_ASSERT_EQUAL(o.error_code, 404);
    client_free(tg);

    /* a wrong token: 401 */
    tg_options opt = {.api_base = g_base, .token = "1:wrong"};
    tg = tg_new(new_loop(), &opt, NULL, 0);
    o = run(tg, "getMe", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_API);
    CU_ASSERT_EQUAL(o.error_code, 401);
    client_free(tg);
}

static void test_body_caps(void)
{
    tg_client *tg = client(g_base, 10000);
    outcome o = run(tg, "huge", NULL); /* Content-Length over 1 MiB */
    CU_ASSERT_EQUAL(o.err, TG_ERR_TOOBIG);
    CU_ASSERT_PTR_NULL(o.result);

    o = run(tg, "hugeChunked", NULL); /* endless chunked body */
    CU_ASSERT_EQUAL(o.err, TG_ERR_TOOBIG);

    /* getUpdates may carry up to 8 MiB */
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "timeout", 0);
    o = run(tg, "getUpdates", p);
    CU_ASSERT_EQUAL(o.err, TG_OK);
    CU_ASSERT(o.result && strlen(o.result) > (1u << 20));
    free(o.result);
    client_free(tg);
}

static void test_network_errors(void)
{
    /* a port nobody listens on */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    bind(s, (struct sockaddr *)&sa, sizeof sa);
    getsockname(s, (struct sockaddr *)&sa, &sl);
    close(s);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u/", ntohs(sa.sin_port));
    tg_client *tg = client(base, 2000);
    outcome o = run(tg, "getMe", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_NETWORK);
    CU_ASSERT_EQUAL(o.http_status, 0);
    CU_ASSERT(o.desc[0] != '\0');
    client_free(tg);

    /* the total timeout ends a stalled call */
    tg = client(g_base, 400);
    long t0 = ms_now();
    o = run(tg, "slow", NULL);
    CU_ASSERT_EQUAL(o.err, TG_ERR_NETWORK);
    CU_ASSERT(ms_now() - t0 < 1400);
    client_free(tg);
}

static void test_refusals_and_cancel(void)
{
    tg_client *tg = client(g_base, 5000);
    outcome o = {0};
    /* a method that would change the URL is refused; params are consumed */
    CU_ASSERT_EQUAL(tg_call(tg, "../getMe", cJSON_CreateObject(), on_done, &o), TG_ERR_CONFIG);
    CU_ASSERT_EQUAL(o.calls, 0);

    CU_ASSERT_EQUAL(tg_call(tg, "slow", NULL, on_done, &o), TG_OK);
    loop_poll(g_lp, 50);
    CU_ASSERT_EQUAL(tg_in_flight(tg), 1);
    tg_cancel_all(tg);
    CU_ASSERT_EQUAL(o.calls, 1);
    CU_ASSERT_EQUAL(o.err, TG_ERR_CANCELLED);
    CU_ASSERT_EQUAL(tg_in_flight(tg), 0);

    /* wakeup makes a waiting poll return at once */
    loop_wakeup(g_lp);
    long t0 = ms_now();
    loop_poll(g_lp, 3000);
    CU_ASSERT(ms_now() - t0 < 1000);

    /* freeing with a call in flight runs its callback, cancelled */
    outcome o2 = {0};
    CU_ASSERT_EQUAL(tg_call(tg, "slow", NULL, on_done, &o2), TG_OK);
    client_free(tg);
    CU_ASSERT_EQUAL(o2.calls, 1);
    CU_ASSERT_EQUAL(o2.err, TG_ERR_CANCELLED);

    char err[128] = "";
    loop *lp = loop_new(NULL, err, sizeof err);
    tg_options none = {.api_base = g_base, .token = ""};
    unsetenv("TELEGRAM_BOT_TOKEN");
    CU_ASSERT_PTR_NULL(tg_new(lp, &none, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "TELEGRAM_BOT_TOKEN"));
    tg_options bad = {.api_base = g_base, .token = "12/../x"};
    CU_ASSERT_PTR_NULL(tg_new(lp, &bad, err, sizeof err));
    CU_ASSERT_PTR_NULL(tg_new(NULL, &bad, err, sizeof err));
    loop_free(lp);
}

static void test_env_config(void)
{
    setenv("TELEGRAM_API_BASE", g_base, 1);
    setenv("TELEGRAM_BOT_TOKEN", TOKEN, 1);
    char err[128];
    tg_client *tg = tg_new(new_loop(), NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    outcome o = run(tg, "getMe", NULL);
    CU_ASSERT_EQUAL(o.err, TG_OK);
    free(o.result);
    client_free(tg);
    unsetenv("TELEGRAM_API_BASE");
    unsetenv("TELEGRAM_BOT_TOKEN");
}

/* Every line logged during ordinary and failing calls, at debug level, is
 * free of the token. */
static void test_token_never_logged(void)
{
    char path[] = "/tmp/test_tg_log_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    log_set_level(LOG_DEBUG);

    tg_client *tg = client(g_base, 400);
    outcome o = run(tg, "getMe", NULL);
    free(o.result);
    o = run(tg, "fail500", NULL);
    o = run(tg, "slow", NULL);
    o = run(tg, "huge", NULL);
    client_free(tg);
    tg = client("http://127.0.0.1:1", 400);
    o = run(tg, "getMe", NULL);
    client_free(tg);
    log_msg(LOG_INFO, "test", "a careless line: %s/bot%s/getMe", g_base, TOKEN);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    log_set_level(LOG_INFO);

    char buf[65536];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    CU_ASSERT_FATAL(n > 0);
    buf[n] = '\0';
    CU_ASSERT_PTR_NULL(strstr(buf, TOKEN));
    CU_ASSERT_PTR_NULL(strstr(buf, "TestSecretToken"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "getMe ok"));   /* methods are logged */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "fail500 failed"));
}

/* ---- outq tests ------------------------------------------------------------ */

static int log_index(const char *entry)
{
    for (int i = 0; i < g_n_log; i++)
        if (!strcmp(g_log[i], entry))
            return i;
    return -1;
}

static void push_send(outq *q, int64_t chat, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    json_add_i64(p, "chat_id", chat);
    cJSON_AddStringToObject(p, "text", text);
    CU_ASSERT_EQUAL(outq_push(q, chat, "sendMessage", p), 0);
}

static void drain(tg_client *tg, outq *q, long max_ms)
{
    long end = ms_now() + max_ms;
    while (outq_pending(q) > 0 && ms_now() < end) {
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 100 ? 100 : (int)w);
    }
}

static void test_outq_order_and_retries(void)
{
    pthread_mutex_lock(&g_mu);
    g_n_log = 0;
    g_n_seen = 0;
    pthread_mutex_unlock(&g_mu);
    tg_client *tg = client(g_base, 5000);
    outq_options oo = {.backoff_base_ms = 40, .backoff_max_ms = 200};
    outq *q = outq_new(tg, &oo);
    push_send(q, 1, "a1");
    push_send(q, 1, "rate-a2"); /* 429 retry_after 1, then ok */
    push_send(q, 1, "a3");
    push_send(q, 2, "b1");
    push_send(q, 2, "boom-b2"); /* 502 HTML twice, then ok */
    push_send(q, 2, "b3");
    push_send(q, 3, "bad-c1");  /* 400: dropped */
    push_send(q, 3, "c2");
    push_send(q, 111, "mig-d1"); /* group upgraded: resent to the new id */
    push_send(q, 111, "d2");
    CU_ASSERT_EQUAL(outq_pending(q), 10);
    long t0 = ms_now();
    drain(tg, q, 8000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT(ms_now() - t0 >= 900); /* retry_after was honoured */

    pthread_mutex_lock(&g_mu);
    const char *order[][3] = {{"1:a1", "1:rate-a2", "1:a3"}, {"2:b1", "2:boom-b2", "2:b3"}};
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++)
            CU_ASSERT(log_index(order[c][i]) >= 0 &&
                      log_index(order[c][i]) < log_index(order[c][i + 1]));
    CU_ASSERT_EQUAL(log_index("3:bad-c1"), -1);
    CU_ASSERT(log_index("3:c2") >= 0);
    CU_ASSERT(log_index("-1001234567890123:mig-d1") >= 0);
    /* the chat is re-keyed: what was queued behind goes to the new id too */
    CU_ASSERT(log_index("-1001234567890123:d2") > log_index("-1001234567890123:mig-d1"));
    /* chat 2 did not wait for chat 1's rate limit */
    CU_ASSERT(log_index("2:b3") < log_index("1:a3"));
    CU_ASSERT_EQUAL(g_n_log, 9);
    pthread_mutex_unlock(&g_mu);

    outq_stats s = outq_get_stats(q);
    CU_ASSERT_EQUAL(s.sent, 9);
    CU_ASSERT_EQUAL(s.dropped, 1);
    CU_ASSERT_EQUAL(s.retried, 4);
    outq_free(q);
    client_free(tg);
}

static void test_outq_concurrency_bound(void)
{
    pthread_mutex_lock(&g_mu);
    g_n_log = 0;
    g_max_active = 0;
    g_send_delay_ms = 40;
    pthread_mutex_unlock(&g_mu);
    tg_client *tg = client(g_base, 5000);
    outq_options oo = {.max_in_flight = 4};
    outq *q = outq_new(tg, &oo);
    char text[16];
    for (int c = 1; c <= 12; c++)
        for (int i = 0; i < 2; i++) {
            snprintf(text, sizeof text, "m%d", i);
            push_send(q, 1000 + c, text);
        }
    outq_pump(q);
    CU_ASSERT_EQUAL(outq_in_flight(q), 4);
    drain(tg, q, 8000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    pthread_mutex_lock(&g_mu);
    CU_ASSERT_EQUAL(g_n_log, 24);
    CU_ASSERT(g_max_active >= 2 && g_max_active <= 4);
    for (int c = 1; c <= 12; c++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%d:m0", 1000 + c);
        snprintf(b, sizeof b, "%d:m1", 1000 + c);
        CU_ASSERT(log_index(a) >= 0 && log_index(a) < log_index(b));
    }
    g_send_delay_ms = 0;
    pthread_mutex_unlock(&g_mu);
    outq_free(q);
    client_free(tg);
}

static void test_outq_free_with_calls_in_flight(void)
{
    tg_client *tg = client(g_base, 5000);
    outq *q = outq_new(tg, NULL);
    push_send(q, 5, "x1");
    push_send(q, 5, "x2");
    outq_pump(q);
    CU_ASSERT_EQUAL(outq_in_flight(q), 1);
    outq_free(q);   /* x2 dropped; x1 stays with tg */
    client_free(tg);    /* cancels x1: its callback frees it (ASan checks) */
}

int main(void)
{
    log_init_from_env();
    if (server_start() != 0) {
        fprintf(stderr, "cannot start the test server\n");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("tg", NULL, NULL);
    CU_add_test(s, "ok round trip, JSON body", test_ok_roundtrip);
    CU_add_test(s, "connection reuse", test_connection_reuse);
    CU_add_test(s, "429 / 500 HTML / not JSON / 404 / 401", test_api_errors);
    CU_add_test(s, "response caps", test_body_caps);
    CU_add_test(s, "connect refused, timeout", test_network_errors);
    CU_add_test(s, "refusals, cancel, wakeup", test_refusals_and_cancel);
    CU_add_test(s, "config from environment", test_env_config);
    CU_add_test(s, "token never logged", test_token_never_logged);
    CU_pSuite q = CU_add_suite("outq", NULL, NULL);
    CU_add_test(q, "per-chat order, 429, 5xx, 400, migration", test_outq_order_and_retries);
    CU_add_test(q, "in-flight bound, chats concurrent", test_outq_concurrency_bound);
    CU_add_test(q, "free with calls in flight", test_outq_free_with_calls_in_flight);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    server_stop();
    return fails ? 1 : 0;
}
