/*
 * e2e.c — the end-to-end driver: runs real bot binaries against the fake
 * Telegram Bot API over loopback, following transcripts (tests/e2e/NAME.e2e;
 * the format is in tests/e2e/README.md).
 *
 *   e2e FILE.e2e...          BIN (default "bin") holds the bots
 *
 * For each transcript: a fresh fake server and temp dir, the bot started
 * with TELEGRAM_API_BASE / TELEGRAM_BOT_TOKEN / BOT_DB / TELEGRAM_POLL_TIMEOUT
 * pointing at them, the steps run in order; the first failure ends the
 * transcript and prints `FILE:LINE: expected ..., got ...` plus the bot's
 * log. Any call the fake rejected (4xx other than a 409 poll conflict) or
 * accepted with a warning (unknown field) fails the transcript unless an
 * `allow` step expected it. Prints PASS/FAIL per transcript and a last line
 * `N passed, M failed`; exits 1 if any failed.
 */
#define _GNU_SOURCE /* strsignal, nftw flags */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/markdown.h"

#include "../fake_llm/fake_llm.h"
#include "../fake_llm/fake_speech.h"
#include "../fake_tool/fake_tool.h"
#include "../fake_llm/fake_whisper.h"
#include "../fake_tg/fake_tg.h"
#include "../unit/support/slurp.h"
#include "proc.h"
#include "slowclient.h"
#include "slowhttp.h"

#define MAX_TOKENS 256
#define MAX_USERS 64
#define MAX_ALLOW 32
#define MAX_QUERIES 256
#define LOG_TAIL_LINES 60
#define MAX_ENVS 16

/* ---- tokens ---------------------------------------------------------------- */

typedef struct token {
    char *s;
    bool quoted;
} token;

/* Splits a line into words and "quoted strings" (escapes \" \\ \n \t); a
 * bare word starting with # begins a comment. Returns the count, -1 on an
 * unterminated quote. Strings are malloc'd. */
static int tokenize(const char *line, token *tok, int max)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p || *p == '#') break;
        if (n == max) return -1;
        size_t cap = strlen(p) + 1, len = 0;
        char *s = malloc(cap);
        if (!s) abort();
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1]) {
                    p++;
                    s[len++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                } else {
                    s[len++] = *p;
                }
                p++;
            }
            if (*p != '"') {
                free(s);
                for (int i = 0; i < n; i++) free(tok[i].s);
                return -1;
            }
            p++;
            tok[n].quoted = true;
        } else {
            while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') s[len++] = *p++;
            tok[n].quoted = false;
        }
        s[len] = 0;
        tok[n++].s = s;
    }
    return n;
}

/* ---- transcript state -------------------------------------------------------- */

typedef struct user {
    char name[32];
    char first[64], last[64], username[64], lang[16], phone[32];
    fake_tg_user u;
    size_t cur[FAKE_TG_EVENT_KINDS]; /* events consumed by expect, per kind */
    cJSON *last_inline;              /* inline markup of the last consumed message */
    /* forum groups (`group NAME id=-N forum`) and their managers */
    bool forum;                      /* a declared forum supergroup */
    int64_t topic;                   /* its current topic (`expect topic`), 0 = none */
    uint64_t topic_seq, close_seq;   /* calls already consumed by expect topic / closed */
    int group;                       /* a manager: index of their group in users, else -1 */
    uint64_t draft_seq;              /* calls already consumed by expect draft */
    uint64_t doc_seq;                /* calls already consumed by expect document */
    uint64_t voice_seq;              /* calls already consumed by expect voice */
} user;

typedef struct allow {
    int status;
    char *desc;
    int line;
    bool used;
} allow;

typedef struct query {
    char id[32];
    int line;
    int64_t chat;
} query;

typedef struct run {
    const char *file;
    int line;
    fake_tg *ft;
    char dir[512], db[600], log[600], bin[512];
    char botname[64];
    proc bot;
    bool stopped;      /* the driver stopped the bot (stop, sql): not a death */
    user users[MAX_USERS];
    int nusers;
    user *load_users;  /* `load` step users */
    int nload;
    int64_t load_next; /* load users so far: each load step gets fresh ids */
    allow allows[MAX_ALLOW];
    int nallows;
    query queries[MAX_QUERIES];
    int nqueries;
    uint64_t checked;  /* calls already scanned for rejections */
    int timeout_ms;    /* how long an expect waits */
    int quiet_ms;      /* how long `expect nothing` listens */
    bool failed;
    bool webhook;      /* updates by webhook (E2E_MODE=webhook or `mode webhook`) */
    char *envs[MAX_ENVS]; /* `env KEY=VALUE` steps, for the bot's next start */
    int nenvs;
    slowhttp *http;    /* `httpserver MS`: the service http_get asks */
    fakellm *llm;      /* `llm ...` steps: the fake OpenAI-compatible server */
    char *llm_answer;  /* the model's scripted answer (`llm answer` / `answer-file`) */
    int llm_style;     /* `llm style` (fakellm_style), for `llm error 400 overflow` */
    char *embed_model; /* `llm embeddings MODEL`: the fake serves EMBEDDINGS_BASE too */
    fakespeech *tts;   /* `tts ...` steps: the fake speech server (TTS_API_BASE) */
    faketool *tools;   /* `tools ...` steps: the services desk's example tools call */
    fakewhisper *asr;  /* `whisper ...` steps: the fake transcription server (ASR_API_BASE) */
    uint16_t wh_port;  /* where the bot's webhook server listens */
    uint64_t calls_mark; /* `calls mark`: where `calls METHOD <= N` counts from */
    int stop_ms;         /* `stoptime`: how long a SIGTERM stop may take (5 s) */
    slowclient *slow[8]; /* `slowloris` steps: slow clients on the webhook port */
    int nslow;
} run;

static int g_default_timeout_ms = 5000;
static bool g_webhook; /* E2E_MODE=webhook */

/* A port nothing listens on right now, for the bot's webhook server (the
 * fake delivers there, standing in for the TLS-terminating proxy). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void fail(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(run *r, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = true;
    fprintf(stdout, "%s:%d: ", r->file, r->line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the bot process ----------------------------------------------------------- */

static bool bot_start(run *r)
{
    if (r->bot.pid > 0) return true;
    if (!r->botname[0]) {
        fail(r, "expected a `bot NAME` line before the first step, got none");
        return false;
    }
    char base[128], db[640];
    fake_tg_base_url(r->ft, base, sizeof base);
    char e_base[160], e_token[160], e_db[700], e_level[64];
    snprintf(e_base, sizeof e_base, "TELEGRAM_API_BASE=%s", base);
    snprintf(e_token, sizeof e_token, "TELEGRAM_BOT_TOKEN=%s", fake_tg_token(r->ft));
    snprintf(db, sizeof db, "%s", r->db);
    snprintf(e_db, sizeof e_db, "BOT_DB=%s", db);
    const char *lvl = getenv("E2E_LOG_LEVEL");
    snprintf(e_level, sizeof e_level, "BOT_LOG_LEVEL=%s", lvl ? lvl : "info");
    /* Webhook mode: Telegram (the fake) is told an https URL; it delivers to
     * the bot's plain-HTTP listener as a reverse proxy would. */
    char e_whurl[128] = "WEBHOOK_URL", e_whlisten[64] = "WEBHOOK_LISTEN";
    if (r->webhook) {
        snprintf(e_whurl, sizeof e_whurl, "WEBHOOK_URL=https://bot.e2e.invalid/tg/webhook");
        snprintf(e_whlisten, sizeof e_whlisten, "WEBHOOK_LISTEN=127.0.0.1:%u", (unsigned)r->wh_port);
    }
    /* Hermetic: no real LLM, operator group or web app from the caller's env. */
    char *env[] = { e_base, e_token, e_db, "TELEGRAM_POLL_TIMEOUT=1", e_level,
                    "OPENAI_API_BASE", "OPENAI_API_KEY", "OPENAI_MODEL_NAME",
                    "EMBEDDINGS_BASE", "EMBEDDINGS_MODEL", "EMBEDDINGS_API_KEY",
                    "TTS_API_BASE", "TTS_API_KEY", "TTS_MODEL", "TTS_VOICE",
                    "MANAGER_GROUP_CHAT_ID", "ADMIN_USER_ID", "WEB_APP_URL",
                    e_whurl, e_whlisten, "WEBHOOK_SECRET",
                    "WEATHER_API_BASE", "RATES_API_BASE", "SEARCH_API_BASE", "SEARCH_API_KEY",
                    "NOTES_API_BASE", NULL };
    /* Flood limits off unless a transcript turns them on with `env` (the
     * reliability transcripts do): most transcripts test dialogue, not
     * pacing, and 1,000 users at 30 messages/s would take minutes. */
    char *all[80];
    int na = 0;
    for (int i = 0; env[i] && na < 40; i++) all[na++] = env[i];
    all[na++] = "TELEGRAM_RATE_GLOBAL=0";
    all[na++] = "TELEGRAM_RATE_CHAT=0";
    all[na++] = "TELEGRAM_RATE_GROUP_PER_MIN=0";
    all[na++] = "BOT_HTTP_GET_URL";
    char e_http[160];
    if (r->http) {
        char u[128];
        slowhttp_url(r->http, u, sizeof u);
        snprintf(e_http, sizeof e_http, "BOT_HTTP_GET_URL=%s", u);
        all[na++] = e_http;
    }
    char e_llm[160], e_emb[160], e_embm[160];
    if (r->llm) {
        snprintf(e_llm, sizeof e_llm, "OPENAI_API_BASE=%s", fakellm_base(r->llm));
        all[na++] = e_llm;
    }
    if (r->llm && r->embed_model) {
        snprintf(e_emb, sizeof e_emb, "EMBEDDINGS_BASE=%s", fakellm_base(r->llm));
        snprintf(e_embm, sizeof e_embm, "EMBEDDINGS_MODEL=%s", r->embed_model);
        all[na++] = e_emb;
        all[na++] = e_embm;
    }
    char e_tts[160];
    if (r->tts) {
        snprintf(e_tts, sizeof e_tts, "TTS_API_BASE=%s", fakespeech_base(r->tts));
        all[na++] = e_tts;
    }
    char e_asr[160];
    if (r->asr) {
        snprintf(e_asr, sizeof e_asr, "ASR_API_BASE=%s", fakewhisper_base(r->asr));
        all[na++] = e_asr;
    }
    char e_tool[5][160];
    if (r->tools) {
        const char *tb = faketool_base(r->tools);
        snprintf(e_tool[0], sizeof e_tool[0], "WEATHER_API_BASE=%s/wttr/", tb); /* a trailing slash is fine */
        snprintf(e_tool[1], sizeof e_tool[1], "RATES_API_BASE=%s/coingecko", tb);
        snprintf(e_tool[2], sizeof e_tool[2], "SEARCH_API_BASE=%s/tavily", tb);
        snprintf(e_tool[3], sizeof e_tool[3], "SEARCH_API_KEY=%s", FAKETOOL_KEY);
        snprintf(e_tool[4], sizeof e_tool[4], "NOTES_API_BASE=%s", tb);
        for (int i = 0; i < 5; i++) all[na++] = e_tool[i];
    }
    for (int i = 0; i < r->nenvs; i++) all[na++] = r->envs[i];
    all[na] = NULL;
    char err[600];
    r->stopped = false;
    if (proc_start(&r->bot, r->bin, all, r->log, err, sizeof err) != 0) {
        fail(r, "expected the bot to start, got %s", err);
        return false;
    }
    return true;
}

/* Stops the bot; a SIGTERM stop must end with exit status 0. */
static void bot_stop(run *r, int sig)
{
    if (r->bot.pid <= 0) return;
    r->stopped = true;
    int limit = r->stop_ms > 0 ? r->stop_ms : 5000;
    bool in_time = proc_stop(&r->bot, sig, limit);
    if (sig == SIGKILL) return;
    char why[128];
    if (!in_time)
        fail(r, "expected the bot to exit within %.1f s of SIGTERM, got no exit (killed)",
             limit / 1000.0);
    else if (!WIFEXITED(r->bot.status) || WEXITSTATUS(r->bot.status) != 0)
        fail(r, "expected exit status 0 after SIGTERM, got %s",
             proc_describe(&r->bot, why, sizeof why));
}

/* Fails if the bot died on its own. */
static bool bot_check_alive(run *r)
{
    if (r->stopped || (r->bot.pid <= 0 && !r->bot.exited)) return true; /* stopped or never started */
    if (r->bot.pid > 0 && proc_alive(&r->bot)) return true;
    if (r->bot.pid <= 0 && r->bot.exited) {
        char why[128];
        fail(r, "expected the bot to keep running, got %s", proc_describe(&r->bot, why, sizeof why));
        return false;
    }
    return true;
}

static void show_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char **lines = calloc(LOG_TAIL_LINES, sizeof *lines);
    if (!lines) abort();
    size_t n = 0;
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) {
        free(lines[n % LOG_TAIL_LINES]);
        lines[n % LOG_TAIL_LINES] = strdup(buf);
        n++;
    }
    fclose(f);
    size_t first = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0;
    printf("---- bot log (%s, last %zu of %zu lines) ----\n", path, n - first, n);
    for (size_t i = first; i < n; i++) fputs(lines[i % LOG_TAIL_LINES], stdout);
    printf("---- end of bot log ----\n");
    for (size_t i = 0; i < LOG_TAIL_LINES; i++) free(lines[i]);
    free(lines);
}

/* ---- rejected calls ------------------------------------------------------------ */

/* Scans calls since the last check: a rejection or warning nobody allowed
 * fails the transcript. */
static void check_calls(run *r)
{
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(r->ft, r->checked, &n);
    for (size_t i = 0; i < n && !r->failed; i++) {
        r->checked = c[i].seq + 1;
        if (c[i].faulted) continue; /* the transcript asked for that answer */
        char *params = c[i].params ? cJSON_PrintUnformatted(c[i].params) : NULL;
        if (c[i].status >= 400 && c[i].status != 409) {
            bool ok = false;
            for (int a = 0; a < r->nallows && !ok; a++) {
                allow *al = &r->allows[a];
                if (!al->used && al->status == c[i].status && c[i].description &&
                    strstr(c[i].description, al->desc)) {
                    al->used = true;
                    ok = true;
                }
            }
            if (!ok)
                fail(r, "expected every bot call to be accepted, got %s rejected: %d %s\n  params: %.600s",
                     c[i].method, c[i].status, c[i].description ? c[i].description : "",
                     params ? params : "{}");
        }
        for (int w = 0; w < c[i].n_warnings && !r->failed; w++)
            if (c[i].status < 400)
                fail(r, "expected bot calls without unknown fields, got a warning: %s", c[i].warnings[w]);
        free(params);
    }
    fake_tg_calls_free(c, n);
}

/* ---- users ------------------------------------------------------------------------ */

static user *find_user(run *r, const char *name)
{
    for (int i = 0; i < r->nusers; i++)
        if (!strcmp(r->users[i].name, name)) return &r->users[i];
    fail(r, "expected a user declared with `user %s id=...`, got none", name);
    return NULL;
}

static void user_fix_ptrs(user *u)
{
    u->u.first_name = u->first[0] ? u->first : "User";
    u->u.last_name = u->last[0] ? u->last : NULL;
    u->u.username = u->username[0] ? u->username : NULL;
    u->u.language_code = u->lang[0] ? u->lang : NULL;
}

static void user_free(user *u)
{
    cJSON_Delete(u->last_inline);
    u->last_inline = NULL;
}

/* ---- markup helpers ----------------------------------------------------------------- */

/* Renders keyboard rows as `"A" | "B" / "C"`. */
static void render_rows(const cJSON *rows, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    int ri = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        if (ri++ && o < len) o += (size_t)snprintf(buf + o, len - o, " / ");
        int bi = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, row) {
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(b, "text"));
            if (o < len) o += (size_t)snprintf(buf + o, len - o, "%s\"%s\"", bi++ ? " | " : "", t ? t : "?");
        }
    }
    if (!rows && len) snprintf(buf, len, "none");
}

/* Parses `"A" | "B" / "C"` (or `none`) from tokens into rows; NULL on a
 * syntax error. */
static cJSON *parse_rows(run *r, token *t, int n)
{
    cJSON *rows = cJSON_CreateArray();
    if (n == 1 && !t[0].quoted && !strcmp(t[0].s, "none")) return rows;
    cJSON *row = cJSON_CreateArray();
    cJSON_AddItemToArray(rows, row);
    bool want_label = true;
    for (int i = 0; i < n; i++) {
        if (want_label) {
            if (!t[i].quoted) {
                fail(r, "expected a quoted button label, got %s", t[i].s);
                cJSON_Delete(rows);
                return NULL;
            }
            cJSON_AddItemToArray(row, cJSON_CreateString(t[i].s));
            want_label = false;
        } else if (!t[i].quoted && !strcmp(t[i].s, "|")) {
            want_label = true;
        } else if (!t[i].quoted && !strcmp(t[i].s, "/")) {
            row = cJSON_CreateArray();
            cJSON_AddItemToArray(rows, row);
            want_label = true;
        } else {
            fail(r, "expected | or / between labels, got %s", t[i].s);
            cJSON_Delete(rows);
            return NULL;
        }
    }
    if (want_label) {
        fail(r, "expected a label after the last separator, got the end of the line");
        cJSON_Delete(rows);
        return NULL;
    }
    return rows;
}

/* Compares keyboard rows (arrays of button objects) with expected labels. */
static bool rows_match(const cJSON *kb_rows, const cJSON *want)
{
    if (!kb_rows) return cJSON_GetArraySize(want) == 0;
    if (cJSON_GetArraySize(kb_rows) != cJSON_GetArraySize(want)) return false;
    for (int i = 0; i < cJSON_GetArraySize(want); i++) {
        const cJSON *kr = cJSON_GetArrayItem(kb_rows, i), *wr = cJSON_GetArrayItem(want, i);
        if (cJSON_GetArraySize(kr) != cJSON_GetArraySize(wr)) return false;
        for (int j = 0; j < cJSON_GetArraySize(wr); j++) {
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(kr, j), "text"));
            if (!t || strcmp(t, cJSON_GetArrayItem(wr, j)->valuestring)) return false;
        }
    }
    return true;
}

static const cJSON *find_button(const cJSON *rows, const char *label)
{
    const cJSON *row, *b;
    cJSON_ArrayForEach(row, rows) cJSON_ArrayForEach(b, row) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(b, "text"));
        if (t && !strcmp(t, label)) return b;
    }
    return NULL;
}

/* The reply keyboard the user sees after the first `upto` messages: the
 * latest ReplyKeyboardMarkup among them, unless a later one removed it. */
static cJSON *keyboard_after(run *r, user *u, size_t upto)
{
    cJSON *kb = NULL;
    for (size_t i = 0; i < upto; i++) {
        fake_tg_event ev;
        if (!fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_SENT, i, 0, &ev)) break;
        const cJSON *mk = ev.reply_markup;
        if (mk && cJSON_GetObjectItem(mk, "keyboard")) {
            cJSON_Delete(kb);
            kb = cJSON_Duplicate(mk, 1);
        } else if (mk && cJSON_GetObjectItem(mk, "remove_keyboard")) {
            cJSON_Delete(kb);
            kb = NULL;
        }
        fake_tg_event_clear(&ev);
    }
    return kb;
}

/* ---- actions ---------------------------------------------------------------------- */

static void do_send(run *r, user *u, const char *text)
{
    if (!bot_start(r)) return;
    fake_tg_push_text(r->ft, &u->u, text);
}

/* voice USER FILE [duration=N] [as=audio|video_note|document] [mime=TYPE]
 * [name=NAME]: a voice note whose audio is FILE (the repository's path),
 * downloadable from the fake through getFile; or the same file sent as
 * another kind of message, under Telegram's folder for it. */
typedef struct voice_opts {
    int duration;
    const char *as;   /* "voice" (default), "audio", "video_note", "document" */
    const char *mime; /* NULL: audio/ogg for a voice note, none else */
    const char *name; /* file_name of an audio or a document, NULL none */
} voice_opts;

static void do_voice(run *r, user *u, const char *path, const voice_opts *o)
{
    static int seq;
    if (!bot_start(r)) return;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(r, "expected a readable audio file, got %s", path);
        return;
    }
    static unsigned char buf[4 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char id[64];
    snprintf(id, sizeof id, "AwACAgIAAxkBAAE2E%d", ++seq);
    bool is_voice = !strcmp(o->as, "voice");
    const char *dot = strrchr(path, '.');
    if (is_voice)
        fake_tg_add_file(r->ft, id, buf, len);
    else
        fake_tg_add_file_as(r->ft, id,
                            !strcmp(o->as, "audio")        ? "music"
                            : !strcmp(o->as, "video_note") ? "video_notes"
                                                           : "documents",
                            dot ? dot + 1 : "bin", buf, len);
    cJSON *up = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(up, "message");
    cJSON_AddNumberToObject(m, "message_id", 9000 + seq);
    cJSON_AddNumberToObject(m, "date", 1700000000);
    cJSON *chat = cJSON_AddObjectToObject(m, "chat");
    cJSON_AddNumberToObject(chat, "id", (double)u->u.id);
    cJSON_AddStringToObject(chat, "type", "private");
    cJSON *from = cJSON_AddObjectToObject(m, "from");
    cJSON_AddNumberToObject(from, "id", (double)u->u.id);
    cJSON_AddFalseToObject(from, "is_bot");
    cJSON_AddStringToObject(from, "first_name", u->u.first_name ? u->u.first_name : "User");
    if (u->u.language_code)
        cJSON_AddStringToObject(from, "language_code", u->u.language_code);
    cJSON *v = cJSON_AddObjectToObject(m, o->as);
    cJSON_AddStringToObject(v, "file_id", id);
    cJSON_AddStringToObject(v, "file_unique_id", id + 10);
    if (strcmp(o->as, "document")) /* a document has no duration */
        cJSON_AddNumberToObject(v, "duration", o->duration);
    if (!strcmp(o->as, "video_note")) /* Telegram's VideoNote: no mime_type */
        cJSON_AddNumberToObject(v, "length", 240);
    else if (o->mime || is_voice)
        cJSON_AddStringToObject(v, "mime_type", o->mime ? o->mime : "audio/ogg");
    if (o->name && !is_voice)
        cJSON_AddStringToObject(v, "file_name", o->name);
    cJSON_AddNumberToObject(v, "file_size", (double)len);
    fake_tg_push_update(r->ft, up);
}

static void do_contact(run *r, user *u, const char *phone, bool own)
{
    if (!bot_start(r)) return;
    fake_tg_push_contact(r->ft, &u->u, phone, own);
}

/* A reply-keyboard button: it must be on the keyboard the user sees (after
 * the messages consumed so far, or, failing that, after everything the bot
 * has sent within the timeout). */
static void do_press(run *r, user *u, const char *label, int timeout_ms)
{
    if (!bot_start(r)) return;
    cJSON *kb = keyboard_after(r, u, u->cur[FAKE_TG_SENT]);
    const cJSON *b = kb ? find_button(cJSON_GetObjectItem(kb, "keyboard"), label) : NULL;
    double until = now_s() + timeout_ms / 1000.0;
    while (!b && now_s() < until) {
        cJSON_Delete(kb);
        kb = fake_tg_reply_keyboard(r->ft, u->u.id);
        b = kb ? find_button(cJSON_GetObjectItem(kb, "keyboard"), label) : NULL;
        if (!b) sleep_ms(20);
    }
    if (!b) {
        char have[2048];
        render_rows(kb ? cJSON_GetObjectItem(kb, "keyboard") : NULL, have, sizeof have);
        fail(r, "expected \"%s\" on %s's reply keyboard, got %s", label, u->name, have);
    } else if (cJSON_IsTrue(cJSON_GetObjectItem(b, "request_contact"))) {
        if (!u->phone[0])
            fail(r, "expected phone=... on `user %s` to press a contact button, got none", u->name);
        else
            fake_tg_push_contact(r->ft, &u->u, u->phone, true);
    } else {
        fake_tg_push_text(r->ft, &u->u, label);
    }
    cJSON_Delete(kb);
}

/* An inline button: found on the latest bot message in the chat that has an
 * inline keyboard (as it stands after edits). */
static void do_tap(run *r, user *u, const char *label, int timeout_ms)
{
    if (!bot_start(r)) return;
    double until = now_s() + timeout_ms / 1000.0;
    cJSON *mk = NULL;
    const cJSON *b = NULL;
    int64_t mid = 0;
    for (;;) {
        mk = fake_tg_last_inline(r->ft, u->u.id, &mid);
        b = mk ? find_button(cJSON_GetObjectItem(mk, "inline_keyboard"), label) : NULL;
        if (b || now_s() >= until) break;
        cJSON_Delete(mk);
        mk = NULL;
        sleep_ms(20);
    }
    if (!b) {
        char have[2048];
        render_rows(mk ? cJSON_GetObjectItem(mk, "inline_keyboard") : NULL, have, sizeof have);
        fail(r, "expected an inline button \"%s\" in %s's chat, got %s", label, u->name, have);
    } else {
        const char *data = cJSON_GetStringValue(cJSON_GetObjectItem(b, "callback_data"));
        if (!data) {
            fail(r, "expected \"%s\" to be a callback button, got a button without callback_data", label);
        } else {
            query *q = r->nqueries < MAX_QUERIES ? &r->queries[r->nqueries++] : NULL;
            char qid[32];
            if (fake_tg_push_callback(r->ft, &u->u, mid, data, qid, sizeof qid) < 0)
                fail(r, "expected message %" PRId64 " to exist, got none", mid);
            else if (q) {
                snprintf(q->id, sizeof q->id, "%s", qid);
                q->line = r->line;
                q->chat = u->u.id;
            }
        }
    }
    cJSON_Delete(mk);
}

/* ---- expectations ----------------------------------------------------------------- */

typedef enum match_kind { M_CONTAINS, M_TEXT, M_REGEX } match_kind;

static bool text_matches(run *r, match_kind k, const char *want, const char *got)
{
    if (!got) got = "";
    if (k == M_CONTAINS) return strstr(got, want) != NULL;
    if (k == M_TEXT) return !strcmp(got, want);
    regex_t re;
    if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB) != 0) {
        fail(r, "expected a valid POSIX regex, got \"%s\"", want);
        return false;
    }
    bool ok = regexec(&re, got, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static const char *kind_word(match_kind k)
{
    return k == M_CONTAINS ? "containing" : k == M_TEXT ? "exactly" : "matching";
}

static void why_nothing(run *r, char *buf, size_t len)
{
    if (r->bot.pid > 0 && !proc_alive(&r->bot)) {
        char d[128];
        snprintf(buf, len, "nothing (the bot is gone: %s)", proc_describe(&r->bot, d, sizeof d));
    } else {
        snprintf(buf, len, "nothing");
    }
}

static void expect_text_all(run *r, user *u, fake_tg_event_kind kind, match_kind k,
                            token *wants, int nwants, int timeout_ms);

static void expect_text(run *r, user *u, fake_tg_event_kind kind, match_kind k, const char *want,
                        int timeout_ms)
{
    token t = { (char *)want, true };
    expect_text_all(r, u, kind, k, &t, 1, timeout_ms);
}

/* Consumes the next message (or edit) to u; every one of wants must match
 * it (several only make sense with contains). */
static void expect_text_all(run *r, user *u, fake_tg_event_kind kind, match_kind k,
                            token *wants, int nwants, int timeout_ms)
{
    const char *want = wants[0].s;
    if (!bot_start(r)) return;
    fake_tg_event ev;
    const char *what = kind == FAKE_TG_EDITED ? "an edit" : "a message";
    if (!fake_tg_wait_event(r->ft, u->u.id, kind, u->cur[kind], timeout_ms, &ev)) {
        char got[256];
        why_nothing(r, got, sizeof got);
        fail(r, "expected %s to %s %s \"%s\" within %d ms, got %s", what, u->name, kind_word(k), want,
             timeout_ms, got);
        return;
    }
    u->cur[kind]++;
    if (kind == FAKE_TG_SENT || kind == FAKE_TG_EDITED) {
        cJSON_Delete(u->last_inline);
        u->last_inline = NULL;
        if (ev.reply_markup && cJSON_GetObjectItem(ev.reply_markup, "inline_keyboard"))
            u->last_inline = cJSON_Duplicate(ev.reply_markup, 1);
    }
    if (kind == FAKE_TG_SENT && u->forum && u->topic && ev.thread_id != u->topic)
        fail(r, "expected a message in %s's topic %" PRId64 ", got one in thread %" PRId64 ": \"%s\"",
             u->name, u->topic, ev.thread_id, ev.text ? ev.text : "");
    for (int i = 0; i < nwants && !r->failed; i++)
        if (!text_matches(r, k, wants[i].s, ev.text) && !r->failed)
            fail(r, "expected %s to %s %s \"%s\", got \"%s\"", what, u->name, kind_word(k),
                 wants[i].s, ev.text ? ev.text : "");
    fake_tg_event_clear(&ev);
}

static void expect_keyboard(run *r, user *u, token *t, int n, bool inline_kb)
{
    cJSON *want = parse_rows(r, t, n);
    if (!want) return;
    cJSON *kb = NULL;
    const cJSON *rows;
    if (inline_kb) {
        rows = u->last_inline ? cJSON_GetObjectItem(u->last_inline, "inline_keyboard") : NULL;
    } else {
        kb = keyboard_after(r, u, u->cur[FAKE_TG_SENT]);
        rows = kb ? cJSON_GetObjectItem(kb, "keyboard") : NULL;
    }
    if (!rows_match(rows, want)) {
        char have[4096], exp[4096];
        render_rows(rows, have, sizeof have);
        size_t o = 0; /* want holds plain strings: render it here */
        exp[0] = 0;
        int ri = 0;
        const cJSON *row, *s;
        cJSON_ArrayForEach(row, want) {
            if (ri++ && o < sizeof exp) o += (size_t)snprintf(exp + o, sizeof exp - o, " / ");
            int bi = 0;
            cJSON_ArrayForEach(s, row) if (o < sizeof exp)
                o += (size_t)snprintf(exp + o, sizeof exp - o, "%s\"%s\"", bi++ ? " | " : "", s->valuestring);
        }
        if (!ri) snprintf(exp, sizeof exp, "none");
        fail(r, "expected %s keyboard %s, got %s", inline_kb ? "inline" : "reply", exp, have);
    }
    cJSON_Delete(kb);
    cJSON_Delete(want);
}

/* The next answer to USER's taps; with want, its pop-up text must be want
 * (NULL: any, or none). */
static void expect_answered(run *r, user *u, const char *want)
{
    if (!bot_start(r)) return;
    fake_tg_event ev;
    if (!fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_ANSWERED, u->cur[FAKE_TG_ANSWERED], r->timeout_ms, &ev)) {
        char got[256];
        why_nothing(r, got, sizeof got);
        fail(r, "expected the bot to answer %s's callback query within %d ms, got %s", u->name,
             r->timeout_ms, got);
        return;
    }
    u->cur[FAKE_TG_ANSWERED]++;
    if (want && (!ev.text || strcmp(ev.text, want)))
        fail(r, "expected the answer to %s's tap to say \"%s\", got %s%s%s", u->name, want,
             ev.text ? "\"" : "no text", ev.text ? ev.text : "", ev.text ? "\"" : "");
    fake_tg_event_clear(&ev);
}

static void expect_nothing(run *r, user *u)
{
    if (!bot_start(r)) return;
    sleep_ms(r->quiet_ms);
    fake_tg_event ev;
    if (fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_SENT, u->cur[FAKE_TG_SENT], 0, &ev)) {
        fail(r, "expected no more messages to %s, got \"%s\"", u->name, ev.text ? ev.text : "");
        fake_tg_event_clear(&ev);
    } else if (fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_EDITED, u->cur[FAKE_TG_EDITED], 0, &ev)) {
        fail(r, "expected no more edits in %s's chat, got \"%s\"", u->name, ev.text ? ev.text : "");
        fake_tg_event_clear(&ev);
    }
}

/* ---- the model (fake_llm) ---------------------------------------------------- */

typedef struct draft_pred {
    int64_t chat;
    token *want;
    int n;
    bool open_pre; /* and a pre entity running to the text's end */
} draft_pred;

static size_t utf16_units(const char *s);

static bool is_draft(const fake_tg_call *c, void *ud)
{
    draft_pred *p = ud;
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(c->params, "chat_id");
    if (strcmp(c->method, "sendMessageDraft") || c->status != 200 || !cJSON_IsNumber(chat) ||
        (int64_t)chat->valuedouble != p->chat)
        return false;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->params, "text");
    for (int i = 0; i < p->n; i++)
        if (!cJSON_IsString(t) || !strstr(t->valuestring, p->want[i].s))
            return false;
    if (!p->open_pre)
        return true;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c->params, "entities")) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "offset");
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(e, "length");
        if (cJSON_IsString(ty) && !strcmp(ty->valuestring, "pre") && cJSON_IsNumber(off) &&
            cJSON_IsNumber(len) && cJSON_IsString(t) &&
            (size_t)(off->valuedouble + len->valuedouble) == utf16_units(t->valuestring))
            return true;
    }
    return false;
}

/* expect USER draft contains|pre "A"...: a sendMessageDraft to USER's chat,
 * after the drafts consumed so far, whose text contains every string
 * (`pre`: and that shows a code block still open, a pre entity running to
 * the text's end). */
static void expect_draft(run *r, user *u, token *want, int n, bool open_pre)
{
    if (!bot_start(r)) return;
    draft_pred p = {.chat = u->u.id, .want = want, .n = n, .open_pre = open_pre};
    fake_tg_call c;
    if (!fake_tg_wait_call(r->ft, u->draft_seq, is_draft, &p, r->timeout_ms, &c)) {
        fail(r, "expected a draft to %s containing \"%s\", got none", u->name,
             n > 0 ? want[0].s : "");
        return;
    }
    u->draft_seq = c.seq + 1;
    fake_tg_call_clear(&c);
}

/* expect USER typing: the next sendChatAction in USER's chat is "typing". */
static void expect_typing(run *r, user *u)
{
    if (!bot_start(r)) return;
    fake_tg_event ev;
    if (!fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_ACTION, u->cur[FAKE_TG_ACTION],
                            r->timeout_ms, &ev)) {
        fail(r, "expected \"typing\" in %s's chat, got none", u->name);
        return;
    }
    u->cur[FAKE_TG_ACTION]++;
    if (!ev.text || strcmp(ev.text, "typing"))
        fail(r, "expected \"typing\" in %s's chat, got \"%s\"", u->name, ev.text ? ev.text : "");
    fake_tg_event_clear(&ev);
}

static void set_answer(run *r, char *text)
{
    if (!text) abort();
    free(r->llm_answer);
    r->llm_answer = text;
}

/* The file at `rel` (relative to the transcript's directory), malloc'd and
 * NUL-terminated; NULL after a failure is reported. */
static char *read_beside(run *r, const char *rel)
{
    char path[1024];
    const char *slash = strrchr(r->file, '/');
    int dl = slash ? (int)(slash - r->file) : 1;
    snprintf(path, sizeof path, "%.*s/%s", dl, slash ? r->file : ".", rel);
    char *buf = slurp(path);
    if (!buf)
        fail(r, "expected a readable file %s, got %s", path, strerror(errno));
    return buf;
}

/* Length in UTF-16 code units, as Telegram counts a message. */
static size_t utf16_units(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) n += (*p >= 0xF0) ? 2 : 1;
    return n;
}

/* The code point at s (valid UTF-8 assumed), its length in *len. */
static uint32_t cp_at(const char *s, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) { *len = 1; return u[0]; }
    if (u[0] < 0xE0) { *len = 2; return (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F); }
    if (u[0] < 0xF0) {
        *len = 3;
        return (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
    }
    *len = 4;
    return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3F) << 12 |
           (uint32_t)(u[2] & 0x3F) << 6 | (u[3] & 0x3F);
}

static bool is_ri(uint32_t c) { return c >= 0x1F1E6 && c <= 0x1F1FF; }

/* Whether a cut between a[0..at) and a[at..] with no separator keeps the
 * emoji sequences and accents whole (checked here on its own, not with the
 * runtime's grapheme code): nothing joins across it (ZWJ, a variation
 * selector, a skin tone, a combining mark) and no flag is halved. */
static bool cut_between_clusters(const char *a, size_t at)
{
    size_t l;
    uint32_t next = cp_at(a + at, &l);
    if (next == 0x200D || (next >= 0xFE00 && next <= 0xFE0F) ||
        (next >= 0x1F3FB && next <= 0x1F3FF) || (next >= 0x0300 && next <= 0x036F))
        return false;
    size_t b = at;
    while (b > 0 && ((unsigned char)a[b - 1] & 0xC0) == 0x80) b--;
    if (b == 0) return true;
    b--;
    while (b > 0 && ((unsigned char)a[b] & 0xC0) == 0x80) b--;
    if (cp_at(a + b, &l) == 0x200D) return false;
    int ris = 0; /* regional indicators right before the cut */
    for (size_t q = at; q >= 4 && is_ri(cp_at(a + q - 4, &l)); q -= 4) ris++;
    return !(is_ri(next) && ris % 2 == 1);
}

/* Whether a part's entities (as the fake took them) are the answer's own
 * entities cut at the part's bounds: each piece with its type, language or
 * URL, re-based to the part (start: the part's offset in the answer, in
 * UTF-16 units). Writes what differs into why. */
static bool part_entities_ok(const md_text *whole, size_t start, size_t units,
                             const cJSON *got, char *why, size_t whylen)
{
    int want_n = 0;
    for (int k = 0; k < whole->n; k++) {
        const md_entity *e = &whole->ents[k];
        size_t a = e->off > start ? e->off : start;
        size_t b = e->off + e->len < start + units ? e->off + e->len : start + units;
        if (b <= a) continue;
        want_n++;
        bool found = false;
        const cJSON *g;
        cJSON_ArrayForEach(g, got) {
            const cJSON *ty = cJSON_GetObjectItem(g, "type");
            const cJSON *off = cJSON_GetObjectItem(g, "offset");
            const cJSON *ln = cJSON_GetObjectItem(g, "length");
            const cJSON *arg = cJSON_GetObjectItem(g, e->kind == MD_LINK ? "url" : "language");
            if (!cJSON_IsString(ty) || strcmp(ty->valuestring, md_kind_name(e->kind)) ||
                !cJSON_IsNumber(off) || (size_t)off->valuedouble != a - start ||
                !cJSON_IsNumber(ln) || (size_t)ln->valuedouble != b - a)
                continue;
            if (e->arg ? !cJSON_IsString(arg) || strcmp(arg->valuestring, e->arg) : arg != NULL)
                continue;
            found = true;
            break;
        }
        if (!found) {
            snprintf(why, whylen, "a %s entity at %zu+%zu%s%s", md_kind_name(e->kind), a - start,
                     b - a, e->arg ? " " : "", e->arg ? e->arg : "");
            return false;
        }
    }
    if (cJSON_GetArraySize(got) != want_n) {
        snprintf(why, whylen, "%d entities, not %d", cJSON_GetArraySize(got), want_n);
        return false;
    }
    return true;
}

/* expect USER parts N [cut=paragraph|line|word|cluster]: the model's long
 * answer (the last `llm answer` / `answer-file`), formatted as the bot
 * formats the model's Markdown (base/markdown.h: the text without its
 * markup, the markup as entities), as the next N messages to USER: each at
 * most 4096 UTF-16 units, none but the last with an inline keyboard,
 * together the answer's text with one separator dropped at each cut
 * ("\n\n" paragraph, "\n" line, " " word; none at a cut between two
 * grapheme clusters, which must not halve an emoji sequence or a flag) —
 * with cut=K, every cut of that kind — and each carrying exactly the
 * answer's entities cut at its bounds (the fake has checked their UTF-16
 * offsets). An answer with no Markdown is its own text. The last part's
 * keyboard is what `expect USER inline` then sees. */
static void expect_parts(run *r, user *u, token *t, int n)
{
    int want = atoi(t[3].s);
    const char *cut = n == 5 && !strncmp(t[4].s, "cut=", 4) ? t[4].s + 4 : NULL;
    if (want < 1 || (n == 5 && !cut) ||
        (cut && strcmp(cut, "paragraph") && strcmp(cut, "line") && strcmp(cut, "word") &&
         strcmp(cut, "cluster"))) {
        fail(r, "expected `expect USER parts N [cut=paragraph|line|word|cluster]`, got %d words", n);
        return;
    }
    if (!r->llm_answer) {
        fail(r, "expected an `llm answer` or `llm answer-file` before `parts`, got none");
        return;
    }
    if (!bot_start(r)) return;
    md_text whole;
    if (md_render(r->llm_answer, strlen(r->llm_answer), &whole)) {
        fail(r, "expected to format the answer, got out of memory");
        return;
    }
    const char *a = whole.text;
    size_t pos = 0, alen = whole.len, upos = 0;
    for (int i = 0; i < want && !r->failed; i++) {
        fake_tg_event ev;
        if (!fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_SENT, u->cur[FAKE_TG_SENT], r->timeout_ms, &ev)) {
            char got[256];
            why_nothing(r, got, sizeof got);
            fail(r, "expected part %d of %d of the answer to %s within %d ms, got %s", i + 1, want,
                 u->name, r->timeout_ms, got);
            break;
        }
        u->cur[FAKE_TG_SENT]++;
        const char *txt = ev.text ? ev.text : "";
        size_t units = utf16_units(txt), tl = strlen(txt);
        bool has_kb = ev.reply_markup && cJSON_GetObjectItem(ev.reply_markup, "inline_keyboard");
        if (units > 4096)
            fail(r, "expected part %d to %s of at most 4096 UTF-16 units, got %zu", i + 1, u->name, units);
        else if (tl == 0 || strncmp(a + pos, txt, tl))
            fail(r, "expected part %d to %s to continue the answer at byte %zu (\"%.40s...\"), got "
                    "\"%.40s...\"", i + 1, u->name, pos, a + pos, txt);
        else if (has_kb && i < want - 1)
            fail(r, "expected no inline keyboard on part %d of %d (only on the last), got one", i + 1, want);
        char why[160];
        if (!r->failed && !part_entities_ok(&whole, upos, units, ev.entities, why, sizeof why))
            fail(r, "expected part %d to %s to carry the answer's entities cut at its bounds, got "
                    "no match for %s", i + 1, u->name, why);
        pos += tl;
        upos += units;
        if (!r->failed && i < want - 1) {
            const char *kind = !strncmp(a + pos, "\n\n", 2) ? "paragraph"
                               : a[pos] == '\n' ? "line" : a[pos] == ' ' ? "word"
                               : a[pos] && cut_between_clusters(a, pos) ? "cluster" : NULL;
            if (!kind)
                fail(r, "expected part %d to end at a paragraph, line or word break or between "
                        "grapheme clusters, got a cut before \"%.20s\"", i + 1, a + pos);
            else if (cut && strcmp(cut, kind))
                fail(r, "expected part %d cut at a %s break, got a %s break", i + 1, cut, kind);
            else if (strcmp(kind, "cluster")) {
                size_t sl = !strcmp(kind, "paragraph") ? 2 : 1;
                pos += sl;
                upos += sl;
            }
        }
        if (i == want - 1) {
            cJSON_Delete(u->last_inline);
            u->last_inline = has_kb ? cJSON_Duplicate(ev.reply_markup, 1) : NULL;
        }
        fake_tg_event_clear(&ev);
    }
    if (!r->failed && pos != alen)
        fail(r, "expected the %d parts to end with the answer (%zu bytes), got %zu bytes of it: "
                "\"...%.40s\" is missing", want, alen, pos, a + pos);
    md_text_free(&whole);
}

/* drafts USER max N: USER's chat got at least one draft, and no draft (a
 * sendMessageDraft Telegram took) longer than N UTF-16 units. */
static void step_drafts(run *r, token *t, int n)
{
    user *u = n == 4 && !strcmp(t[2].s, "max") ? find_user(r, t[1].s) : NULL;
    if (!u) {
        if (n != 4 || strcmp(t[2].s, "max")) fail(r, "expected `drafts USER max N`, got %d words", n);
        return;
    }
    size_t nc = 0, seen = 0, longest = 0;
    fake_tg_call *calls = fake_tg_calls_since(r->ft, 0, &nc);
    for (size_t i = 0; i < nc; i++) {
        const cJSON *chat = cJSON_GetObjectItemCaseSensitive(calls[i].params, "chat_id");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(calls[i].params, "text");
        if (strcmp(calls[i].method, "sendMessageDraft") || !cJSON_IsNumber(chat) ||
            (int64_t)chat->valuedouble != u->u.id || !cJSON_IsString(tx))
            continue;
        seen++;
        size_t units = utf16_units(tx->valuestring);
        if (units > longest) longest = units;
    }
    fake_tg_calls_free(calls, nc);
    if (!seen)
        fail(r, "expected drafts in %s's chat, got none", u->name);
    else if (longest > (size_t)atol(t[3].s))
        fail(r, "expected no draft in %s's chat longer than %s UTF-16 units, got one of %zu",
             u->name, t[3].s, longest);
}

/* llm answer "TEXT" | style openai|ollama|vllm|llamacpp | usage on|off |
 * delay FIRST_MS [BETWEEN_MS] | cut N | error STATUS [times=N] [retry_after=S] |
 * stream-error N | chunk N | request contains "TEXT" | requests N */
static void step_llm(run *r, token *t, int n)
{
    char err[256];
    if (!r->llm) {
        if (r->bot.pid > 0) {
            fail(r, "expected the first `llm` step before the bot starts, got it after");
            return;
        }
        r->llm = fakellm_start(0, err, sizeof err);
        if (!r->llm) {
            fail(r, "expected the fake LLM to start, got %s", err);
            return;
        }
    }
    const char *w = n > 1 ? t[1].s : "";
    if (!strcmp(w, "answer") && n == 3) {
        fakellm_answer(r->llm, t[2].s);
        set_answer(r, strdup(t[2].s));
    } else if (!strcmp(w, "summary") && n == 3) {
        fakellm_summary(r->llm, t[2].s);
    } else if (!strcmp(w, "answer-file") && n == 3) {
        char *text = read_beside(r, t[2].s);
        if (!text) return;
        fakellm_answer(r->llm, text);
        set_answer(r, text);
    } else if (!strcmp(w, "embeddings") && n == 3) {
        /* llm embeddings MODEL: the bot's next start has EMBEDDINGS_BASE
         * (this fake) and EMBEDDINGS_MODEL */
        free(r->embed_model);
        r->embed_model = strdup(t[2].s);
    } else if (!strcmp(w, "alias") && n == 4) {
        /* llm alias WORD AS: the fake embeds WORD as it embeds AS */
        fakellm_embed_alias(r->llm, t[2].s, t[3].s);
    } else if (!strcmp(w, "embedded") && n == 3) {
        /* llm embedded N: texts embedded so far (chunks and questions) */
        int inputs = 0;
        fakellm_embed_requests(r->llm, &inputs);
        if (inputs != atoi(t[2].s))
            fail(r, "expected %s text(s) embedded, got %d", t[2].s, inputs);
    } else if (!strcmp(w, "style") && n == 3 && fakellm_style_by_name(t[2].s) >= 0) {
        r->llm_style = fakellm_style_by_name(t[2].s);
        fakellm_set_style(r->llm, (fakellm_style)r->llm_style);
    } else if (!strcmp(w, "usage") && n == 3) {
        fakellm_usage(r->llm, !strcmp(t[2].s, "on"));
    } else if (!strcmp(w, "delay") && (n == 3 || n == 4)) {
        fakellm_delay(r->llm, atoi(t[2].s), n == 4 ? atoi(t[3].s) : 0);
    } else if (!strcmp(w, "stall") && n == 4) {
        fakellm_stall(r->llm, atoi(t[2].s), atoi(t[3].s));
    } else if (!strcmp(w, "cut") && n == 3) {
        fakellm_cut(r->llm, atoi(t[2].s));
    } else if (!strcmp(w, "chunk") && n == 3) {
        fakellm_chunk(r->llm, atoi(t[2].s));
    } else if (!strcmp(w, "stream-error") && (n == 3 || (n == 4 && !strcmp(t[3].s, "old")))) {
        fakellm_stream_error(r->llm, atoi(t[2].s), n == 4);
    } else if (!strcmp(w, "error") && n >= 3) {
        int times = -1, ra = 0;
        const char *body = NULL;
        for (int i = 3; i < n; i++) {
            if (!strncmp(t[i].s, "times=", 6)) times = atoi(t[i].s + 6);
            else if (!strncmp(t[i].s, "retry_after=", 12)) ra = atoi(t[i].s + 12);
            else if (!strcmp(t[i].s, "overflow")) body = fakellm_overflow_body((fakellm_style)r->llm_style);
            else {
                fail(r, "expected times=N, retry_after=S or overflow, got %s", t[i].s);
                return;
            }
        }
        fakellm_error(r->llm, atoi(t[2].s), body, times, ra);
    } else if (!strcmp(w, "request") && n >= 4 &&
               (!strcmp(t[2].s, "contains") || !strcmp(t[2].s, "lacks") ||
                (n >= 5 && atoi(t[2].s) > 0 && (!strcmp(t[3].s, "contains") || !strcmp(t[3].s, "lacks"))))) {
        /* llm request [N] contains|lacks "A"...: request N (from 1), else the last */
        int k = atoi(t[2].s) > 0 ? 3 : 2;
        int idx = k == 3 ? atoi(t[2].s) - 1 : fakellm_requests(r->llm) - 1;
        bool lacks = !strcmp(t[k].s, "lacks");
        char *body = fakellm_request(r->llm, idx);
        if (!body) {
            fail(r, "expected model request %d, got %d request(s)", idx + 1, fakellm_requests(r->llm));
            return;
        }
        for (int i = k + 1; i < n; i++) {
            const char *at = strstr(body, t[i].s);
            if (!lacks && !at) {
                fail(r, "expected model request %d to contain \"%s\", got %.300s", idx + 1, t[i].s, body);
                break;
            }
            if (lacks && at) {
                fail(r, "expected model request %d not to contain \"%s\", got it in "
                        "...%.200s", idx + 1, t[i].s, at > body + 100 ? at - 100 : body);
                break;
            }
        }
        free(body);
    } else if (!strcmp(w, "waited") && n == 3) {
        /* llm waited MS: the last request came at least MS after the one before */
        int k = fakellm_requests(r->llm);
        long gap = k >= 2 ? fakellm_request_at(r->llm, k - 1) - fakellm_request_at(r->llm, k - 2) : -1;
        if (k < 2)
            fail(r, "expected two model requests, got %d", k);
        else if (gap < atol(t[2].s))
            fail(r, "expected the last model request at least %s ms after the one before, got %ld ms",
                 t[2].s, gap);
    } else if (!strcmp(w, "tool-call") && n == 4) {
        /* llm tool-call NAME ARGS: the next fresh question with tools gets this call */
        fakellm_tool_call(r->llm, t[2].s, t[3].s);
    } else if (!strcmp(w, "no-tools") && n == 2) {
        fakellm_no_tools(r->llm, 1);
    } else if (!strcmp(w, "requests") && n == 3) {
        if (fakellm_requests(r->llm) != atoi(t[2].s))
            fail(r, "expected %s model requests, got %d", t[2].s, fakellm_requests(r->llm));
    } else {
        fail(r, "expected `llm answer|answer-file|summary|style|usage|delay|stall|cut|chunk|error|stream-error|request|requests|waited|tool-call|no-tools ...`, "
                "got `%s` with %d words", w, n);
    }
}

/* tts start | error STATUS [times=N] | delay MS | wrong-format on|off |
 * requests N | request [K] contains "A"...: the fake speech server. */
/* whisper start | answer "TEXT" | error STATUS [times=N] | delay MS |
 * requests N | request [K] contains "A"...: the fake transcription server. */
static void step_whisper(run *r, token *t, int n)
{
    char err[256];
    if (!r->asr) {
        if (r->bot.pid > 0) {
            fail(r, "expected the first `whisper` step before the bot starts, got it after");
            return;
        }
        r->asr = fakewhisper_start(0, err, sizeof err);
        if (!r->asr) {
            fail(r, "expected the fake whisper server to start, got %s", err);
            return;
        }
    }
    const char *w = n > 1 ? t[1].s : "";
    if (!strcmp(w, "start") && n == 2) {
        /* started above */
    } else if (!strcmp(w, "answer") && n == 3) {
        fakewhisper_answer(r->asr, t[2].s);
    } else if (!strcmp(w, "error") && (n == 3 || n == 4)) {
        int times = n == 4 && !strncmp(t[3].s, "times=", 6) ? atoi(t[3].s + 6) : -1;
        fakewhisper_error(r->asr, atoi(t[2].s), times);
    } else if (!strcmp(w, "delay") && n == 3) {
        fakewhisper_delay(r->asr, atoi(t[2].s));
    } else if (!strcmp(w, "requests") && n == 3) {
        if (fakewhisper_requests(r->asr) != atoi(t[2].s))
            fail(r, "expected %s transcription requests, got %d", t[2].s,
                 fakewhisper_requests(r->asr));
    } else if (!strcmp(w, "request") && n >= 4) {
        int k = strcmp(t[2].s, "contains") ? 3 : 2;
        int idx = k == 3 ? atoi(t[2].s) - 1 : fakewhisper_requests(r->asr) - 1;
        char *body = fakewhisper_request(r->asr, idx);
        if (!body || strcmp(t[k].s, "contains")) {
            fail(r, "expected transcription request %d with `contains`, got %d request(s)",
                 idx + 1, fakewhisper_requests(r->asr));
        } else {
            for (int i = k + 1; i < n && !r->failed; i++)
                if (!strstr(body, t[i].s))
                    fail(r, "expected transcription request %d to contain \"%s\"; it is:\n%s",
                         idx + 1, t[i].s, body);
        }
        free(body);
    } else {
        fail(r, "expected `whisper start|answer|error|delay|requests|request ...`, got `%s` "
                "with %d words", w, n);
    }
}

static void step_tts(run *r, token *t, int n)
{
    char err[256];
    if (!r->tts) {
        if (r->bot.pid > 0) {
            fail(r, "expected the first `tts` step before the bot starts, got it after");
            return;
        }
        r->tts = fakespeech_start(0, err, sizeof err);
        if (!r->tts) {
            fail(r, "expected the fake speech server to start, got %s", err);
            return;
        }
    }
    const char *w = n > 1 ? t[1].s : "";
    if (!strcmp(w, "start") && n == 2) {
        /* started above */
    } else if (!strcmp(w, "error") && (n == 3 || n == 4)) {
        int times = n == 4 && !strncmp(t[3].s, "times=", 6) ? atoi(t[3].s + 6) : -1;
        fakespeech_error(r->tts, atoi(t[2].s), times);
    } else if (!strcmp(w, "delay") && n == 3) {
        fakespeech_delay(r->tts, atoi(t[2].s));
    } else if (!strcmp(w, "wrong-format") && n == 3) {
        fakespeech_wrong_format(r->tts, !strcmp(t[2].s, "on"));
    } else if (!strcmp(w, "requests") && n == 3) {
        if (fakespeech_requests(r->tts) != atoi(t[2].s))
            fail(r, "expected %s speech requests, got %d", t[2].s, fakespeech_requests(r->tts));
    } else if (!strcmp(w, "request") && n >= 4) {
        int k = strcmp(t[2].s, "contains") ? 3 : 2;
        int idx = k == 3 ? atoi(t[2].s) - 1 : fakespeech_requests(r->tts) - 1;
        char *body = fakespeech_request(r->tts, idx);
        if (!body || strcmp(t[k].s, "contains")) {
            fail(r, "expected speech request %d with `contains`, got %d request(s)", idx + 1,
                 fakespeech_requests(r->tts));
        } else {
            for (int i = k + 1; i < n && !r->failed; i++)
                if (!strstr(body, t[i].s))
                    fail(r, "expected speech request %d to contain \"%s\"; it is:\n%s", idx + 1,
                         t[i].s, body);
        }
        free(body);
    } else {
        fail(r, "expected `tts start|error|delay|wrong-format|requests|request ...`, got `%s` "
                "with %d words", w, n);
    }
}

/* tools start | fault STATUS|slow [ms=MS] [times=N] | requests N |
 * request [K] is "LINE" | request [K] contains|lacks "A"... */
static void step_tools(run *r, token *t, int n)
{
    char err[256];
    if (!r->tools) {
        if (r->bot.pid > 0) {
            fail(r, "expected the first `tools` step before the bot starts, got it after");
            return;
        }
        r->tools = faketool_start(err, sizeof err);
        if (!r->tools) {
            fail(r, "expected the fake tool server to start, got %s", err);
            return;
        }
    }
    const char *w = n > 1 ? t[1].s : "";
    if (!strcmp(w, "start") && n == 2) {
        return;
    } else if (!strcmp(w, "fault") && n >= 3) {
        int times = -1, ms = 0;
        for (int i = 3; i < n; i++) {
            if (!strncmp(t[i].s, "times=", 6)) times = atoi(t[i].s + 6);
            else if (!strncmp(t[i].s, "ms=", 3)) ms = atoi(t[i].s + 3);
            else {
                fail(r, "expected times=N or ms=MS, got %s", t[i].s);
                return;
            }
        }
        faketool_fault(r->tools, strcmp(t[2].s, "slow") ? atoi(t[2].s) : 0, ms, times);
    } else if (!strcmp(w, "requests") && n == 3) {
        if (faketool_requests(r->tools) != atoi(t[2].s))
            fail(r, "expected %s tool request(s), got %d", t[2].s, faketool_requests(r->tools));
    } else if (!strcmp(w, "request") && n >= 4) {
        int k = atoi(t[2].s) > 0 ? 3 : 2;
        int idx = k == 3 ? atoi(t[2].s) - 1 : faketool_requests(r->tools) - 1;
        if (k + 1 >= n) {
            fail(r, "expected `tools request [K] is|contains|lacks \"...\"`");
            return;
        }
        char *rec = faketool_request(r->tools, idx);
        if (!rec) {
            fail(r, "expected tool request %d, got %d request(s)", idx + 1,
                 faketool_requests(r->tools));
            return;
        }
        size_t line = strcspn(rec, "\n");
        if (!strcmp(t[k].s, "is")) {
            if (strlen(t[k + 1].s) != line || strncmp(rec, t[k + 1].s, line))
                fail(r, "expected tool request %d to be \"%s\", got \"%s\"", idx + 1, t[k + 1].s, rec);
        } else if (!strcmp(t[k].s, "contains") || !strcmp(t[k].s, "lacks")) {
            bool lacks = !strcmp(t[k].s, "lacks");
            for (int i = k + 1; i < n; i++) {
                bool at = strstr(rec, t[i].s) != NULL;
                if (at == lacks) {
                    fail(r, "expected tool request %d %s \"%s\", got \"%s\"", idx + 1,
                         lacks ? "not to contain" : "to contain", t[i].s, rec);
                    break;
                }
            }
        } else {
            fail(r, "expected is, contains or lacks, got %s", t[k].s);
        }
        free(rec);
    } else {
        fail(r, "expected `tools start|fault|requests|request ...`, got `%s` with %d words", w, n);
    }
}

static bool parse_match_kind(run *r, const char *w, match_kind *k)
{
    if (!strcmp(w, "contains")) *k = M_CONTAINS;
    else if (!strcmp(w, "text")) *k = M_TEXT;
    else if (!strcmp(w, "regex")) *k = M_REGEX;
    else {
        fail(r, "expected contains, text or regex, got %s", w);
        return false;
    }
    return true;
}

/* ---- forum topics (operator handoff) --------------------------------------- */

typedef struct topic_pred {
    const char *method;
    int64_t chat, thread; /* thread 0 = any */
} topic_pred;

static bool is_topic_call(const fake_tg_call *c, void *ud)
{
    const topic_pred *p = ud;
    if (strcmp(c->method, p->method) || c->status != 200) return false;
    const cJSON *ch = cJSON_GetObjectItem(c->params, "chat_id");
    const cJSON *th = cJSON_GetObjectItem(c->params, "message_thread_id");
    return cJSON_IsNumber(ch) && (int64_t)ch->valuedouble == p->chat &&
           (!p->thread || (cJSON_IsNumber(th) && (int64_t)th->valuedouble == p->thread));
}

/* expect USER document "NAME_REGEX" [contains "S"...] [lacks "S"...]: the
 * bot's next sendDocument to USER (an upload the fake accepted) has a file
 * name matching NAME_REGEX and a content holding every `contains` string and
 * none of the `lacks` ones. It is USER's next message too. */
static void expect_document(run *r, user *u, token *t, int n)
{
    if (!bot_start(r)) return;
    topic_pred p = { "sendDocument", u->u.id, 0 };
    fake_tg_call c;
    if (!fake_tg_wait_call(r->ft, u->doc_seq, is_topic_call, &p, r->timeout_ms, &c)) {
        char got[256];
        why_nothing(r, got, sizeof got);
        fail(r, "expected a document for %s within %d ms, got %s", u->name, r->timeout_ms, got);
        return;
    }
    u->doc_seq = c.seq + 1;
    fake_tg_event ev;
    if (fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_SENT, u->cur[FAKE_TG_SENT], r->timeout_ms, &ev)) {
        if (ev.seq != c.seq)
            fail(r, "expected the document as %s's next message, got \"%s\" first", u->name,
                 ev.text ? ev.text : "");
        u->cur[FAKE_TG_SENT]++;
        fake_tg_event_clear(&ev);
    }
    const cJSON *doc = cJSON_GetObjectItem(c.params, "document");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "file_name"));
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "content"));
    regex_t re;
    if (regcomp(&re, t[0].s, REG_EXTENDED | REG_NOSUB) != 0) {
        fail(r, "bad regex \"%s\"", t[0].s);
    } else {
        if (!name || !content || regexec(&re, name, 0, NULL, 0) != 0)
            fail(r, "expected an uploaded file named like \"%s\", got %s", t[0].s,
                 name ? name : "no file (document not uploaded)");
        regfree(&re);
    }
    bool lacks = false;
    for (int i = 1; i < n && content && !r->failed; i++) {
        if (!strcmp(t[i].s, "contains") || !strcmp(t[i].s, "lacks")) {
            lacks = t[i].s[0] == 'l';
            continue;
        }
        if (!lacks != !!strstr(content, t[i].s))
            fail(r, "expected %s's document to %s \"%s\"; it is:\n%s", u->name,
                 lacks ? "lack" : "contain", t[i].s, content);
    }
    fake_tg_call_clear(&c);
}

/* expect USER voice [min=S] [max=S] [keyboard]: the bot's next sendVoice to
 * USER, an upload the fake accepted (an Ogg/Opus voice note: fake_tg.c
 * checks its pages), lasting from min to max seconds by its granule
 * positions, its `duration` parameter those seconds rounded up; with
 * `keyboard`, it carries a reply_markup. It is USER's next message too. */
static void expect_voice(run *r, user *u, token *t, int n)
{
    if (!bot_start(r)) return;
    double lo = 0, hi = 1e9;
    bool markup = false;
    for (int i = 0; i < n; i++) {
        if (!strncmp(t[i].s, "min=", 4)) lo = atof(t[i].s + 4);
        else if (!strncmp(t[i].s, "max=", 4)) hi = atof(t[i].s + 4);
        else if (!strcmp(t[i].s, "keyboard")) markup = true;
        else {
            fail(r, "expected `expect USER voice [min=S] [max=S] [keyboard]`, got %s", t[i].s);
            return;
        }
    }
    topic_pred p = { "sendVoice", u->u.id, 0 };
    fake_tg_call c;
    if (!fake_tg_wait_call(r->ft, u->voice_seq, is_topic_call, &p, r->timeout_ms, &c)) {
        char got[256];
        why_nothing(r, got, sizeof got);
        fail(r, "expected a voice note for %s within %d ms, got %s", u->name, r->timeout_ms, got);
        return;
    }
    u->voice_seq = c.seq + 1;
    fake_tg_event ev;
    if (fake_tg_wait_event(r->ft, u->u.id, FAKE_TG_SENT, u->cur[FAKE_TG_SENT], r->timeout_ms, &ev)) {
        if (ev.seq != c.seq)
            fail(r, "expected the voice note as %s's next message, got \"%s\" first", u->name,
                 ev.text ? ev.text : "");
        u->cur[FAKE_TG_SENT]++;
        fake_tg_event_clear(&ev);
    }
    const cJSON *v = cJSON_GetObjectItem(c.params, "voice");
    const cJSON *secs = cJSON_GetObjectItem(v, "ogg_opus_seconds");
    const cJSON *dur = cJSON_GetObjectItem(c.params, "duration");
    if (!r->failed && !cJSON_IsNumber(secs)) {
        fail(r, "expected an uploaded Ogg/Opus voice note, got %s",
             cJSON_IsObject(v) ? "a file that is not one" : "no upload");
    } else if (!r->failed && (secs->valuedouble < lo || secs->valuedouble > hi)) {
        fail(r, "expected a voice note of %g to %g s, got %.2f s", lo, hi, secs->valuedouble);
    } else if (!r->failed && (!cJSON_IsNumber(dur) || dur->valueint < (int)secs->valuedouble ||
                              dur->valueint > (int)secs->valuedouble + 1)) {
        fail(r, "expected the duration parameter to be the note's %.2f s rounded up, got %s",
             secs->valuedouble, cJSON_IsNumber(dur) ? "another number" : "none");
    } else if (!r->failed && markup != (cJSON_GetObjectItem(c.params, "reply_markup") != NULL)) {
        fail(r, "expected the voice note %s a keyboard", markup ? "with" : "without");
    }
    fake_tg_call_clear(&c);
}

/* expect topic GROUP "NAME": the bot's next createForumTopic in GROUP has
 * that name; its thread becomes GROUP's current topic. */
static void expect_topic(run *r, user *g, const char *name)
{
    if (!bot_start(r)) return;
    topic_pred p = { "createForumTopic", g->u.id, 0 };
    fake_tg_call c;
    if (!fake_tg_wait_call(r->ft, g->topic_seq, is_topic_call, &p, r->timeout_ms, &c)) {
        char got[256];
        why_nothing(r, got, sizeof got);
        fail(r, "expected a topic \"%s\" created in %s within %d ms, got %s", name, g->name,
             r->timeout_ms, got);
        return;
    }
    g->topic_seq = c.seq + 1;
    const char *got = cJSON_GetStringValue(cJSON_GetObjectItem(c.params, "name"));
    cJSON *resp = cJSON_Parse(c.response);
    const cJSON *th = cJSON_GetObjectItem(cJSON_GetObjectItem(resp, "result"), "message_thread_id");
    g->topic = cJSON_IsNumber(th) ? (int64_t)th->valuedouble : 0;
    cJSON_Delete(resp);
    if (!got || strcmp(got, name))
        fail(r, "expected a topic named \"%s\" in %s, got \"%s\"", name, g->name, got ? got : "");
    fake_tg_call_clear(&c);
}

/* expect closed GROUP: the bot closes GROUP's current topic. */
static void expect_closed(run *r, user *g)
{
    if (!bot_start(r)) return;
    if (!g->topic) {
        fail(r, "expected `expect topic %s ...` before `expect closed %s`, got none", g->name, g->name);
        return;
    }
    topic_pred p = { "closeForumTopic", g->u.id, g->topic };
    fake_tg_call c;
    if (!fake_tg_wait_call(r->ft, g->close_seq, is_topic_call, &p, r->timeout_ms, &c)) {
        fail(r, "expected topic %" PRId64 " of %s closed within %d ms, got nothing", g->topic,
             g->name, r->timeout_ms);
        return;
    }
    g->close_seq = c.seq + 1;
    fake_tg_call_clear(&c);
}

/* topics GROUP N: the bot created exactly N topics in GROUP so far. */
static void step_topics(run *r, token *t, int n)
{
    user *g = n == 3 ? find_user(r, t[1].s) : NULL;
    if (!g) {
        if (n != 3) fail(r, "expected `topics GROUP N`, got %d words", n);
        return;
    }
    sleep_ms(r->quiet_ms);
    size_t nc = 0, made = 0;
    fake_tg_call *calls = fake_tg_calls_since(r->ft, 0, &nc);
    topic_pred p = { "createForumTopic", g->u.id, 0 };
    for (size_t i = 0; i < nc; i++) made += is_topic_call(&calls[i], &p);
    fake_tg_calls_free(calls, nc);
    if (made != (size_t)atoi(t[2].s))
        fail(r, "expected %s topics created in %s, got %zu", t[2].s, g->name, made);
}

/* expect USER (contains STR... | text STR | regex STR) | edit (same) |
 *        keyboard ROWS | inline ROWS | answered [TEXT] | nothing |
 *        document NAME_REGEX [contains S...] [lacks S...] */
static void step_expect(run *r, token *t, int n)
{
    if (n < 3) {
        fail(r, "expected `expect USER WHAT ...`, got %d words", n);
        return;
    }
    if (!strcmp(t[1].s, "topic") && n == 4) {
        user *g = find_user(r, t[2].s);
        if (g) expect_topic(r, g, t[3].s);
        return;
    }
    if (!strcmp(t[1].s, "closed") && n == 3) {
        user *g = find_user(r, t[2].s);
        if (g) expect_closed(r, g);
        return;
    }
    user *u = find_user(r, t[1].s);
    if (!u) return;
    const char *w = t[2].s;
    match_kind k;
    if (!strcmp(w, "keyboard") || !strcmp(w, "inline")) {
        if (!bot_start(r)) return;
        expect_keyboard(r, u, t + 3, n - 3, w[0] == 'i');
    } else if (!strcmp(w, "answered") && (n == 3 || n == 4)) {
        expect_answered(r, u, n == 4 ? t[3].s : NULL);
    } else if (!strcmp(w, "nothing") && n == 3) {
        expect_nothing(r, u);
    } else if (!strcmp(w, "document") && n >= 4) {
        expect_document(r, u, t + 3, n - 3);
    } else if (!strcmp(w, "voice") && n >= 3) {
        expect_voice(r, u, t + 3, n - 3);
    } else if (!strcmp(w, "typing") && n == 3) {
        expect_typing(r, u);
    } else if (!strcmp(w, "parts") && (n == 4 || n == 5)) {
        expect_parts(r, u, t, n);
    } else if (!strcmp(w, "draft") && n >= 5 &&
               (!strcmp(t[3].s, "contains") || !strcmp(t[3].s, "pre"))) {
        expect_draft(r, u, t + 4, n - 4, !strcmp(t[3].s, "pre"));
    } else if (!strcmp(w, "edit") && (n == 5 || (n > 5 && !strcmp(t[3].s, "contains")))) {
        if (parse_match_kind(r, t[3].s, &k))
            expect_text_all(r, u, FAKE_TG_EDITED, k, t + 4, n - 4, r->timeout_ms);
    } else if (n == 4 || (n > 4 && !strcmp(w, "contains"))) {
        if (parse_match_kind(r, w, &k)) expect_text_all(r, u, FAKE_TG_SENT, k, t + 3, n - 3, r->timeout_ms);
    } else {
        fail(r, "expected `expect USER contains|text|regex \"...\"` (or edit, keyboard, inline, answered, "
                "nothing), got `%s` with %d words", w, n);
    }
}

/* ---- the other steps ---------------------------------------------------------------- */

/* user NAME id=N [lang=L] [first=F] [last=L] [username=U] [phone=P] */
static void step_user(run *r, token *t, int n)
{
    if (n < 3) {
        fail(r, "expected `user NAME id=N ...`, got %d words", n);
        return;
    }
    if (r->nusers == MAX_USERS) {
        fail(r, "expected at most %d users, got more", MAX_USERS);
        return;
    }
    user *u = &r->users[r->nusers];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", t[1].s);
    for (int i = 2; i < n; i++) {
        char *eq = strchr(t[i].s, '=');
        const char *v = eq ? eq + 1 : "";
        if (eq && eq[1] == 0 && i + 1 < n && t[i + 1].quoted) v = t[++i].s; /* first= "Anna Maria" */
        if (!eq) {
            fail(r, "expected key=value, got %s", t[i].s);
            return;
        }
        size_t kl = (size_t)(eq - t[i].s);
        if (kl == 2 && !strncmp(t[i].s, "id", 2)) u->u.id = strtoll(v, NULL, 10);
        else if (kl == 4 && !strncmp(t[i].s, "lang", 4)) snprintf(u->lang, sizeof u->lang, "%s", v);
        else if (kl == 5 && !strncmp(t[i].s, "first", 5)) snprintf(u->first, sizeof u->first, "%s", v);
        else if (kl == 4 && !strncmp(t[i].s, "last", 4)) snprintf(u->last, sizeof u->last, "%s", v);
        else if (kl == 8 && !strncmp(t[i].s, "username", 8)) snprintf(u->username, sizeof u->username, "%s", v);
        else if (kl == 5 && !strncmp(t[i].s, "phone", 5)) snprintf(u->phone, sizeof u->phone, "%s", v);
        else {
            fail(r, "expected id, lang, first, last, username or phone, got %.*s", (int)kl, t[i].s);
            return;
        }
    }
    if (u->u.id == 0) {
        fail(r, "expected id=N (a user id, or a negative group id to expect messages in), got none");
        return;
    }
    u->group = -1;
    user_fix_ptrs(u);
    r->nusers++;
}

static void join(token *t, int from, int n, char *buf, size_t len);

/* group NAME id=-N [forum] [title=T]: a forum supergroup, or a group
 * without topics when `forum` is missing (expect its messages
 * with `expect NAME ...`). */
static void step_group(run *r, token *t, int n)
{
    token ut[MAX_TOKENS];
    int m = 0;
    bool forum = false;
    const char *title = NULL;
    for (int i = 0; i < n && m < MAX_TOKENS; i++) {
        if (!strcmp(t[i].s, "forum")) forum = true;
        else if (!strncmp(t[i].s, "title=", 6)) title = t[i].s + 6;
        else ut[m++] = t[i];
    }
    step_user(r, ut, m);
    if (r->failed) return;
    user *g = &r->users[r->nusers - 1];
    if (g->u.id >= 0) {
        fail(r, "expected a negative group id, got %" PRId64, g->u.id);
        return;
    }
    g->forum = forum;
    if (forum)
        fake_tg_declare_forum(r->ft, g->u.id, title && *title ? title : "Managers");
    else
        fake_tg_declare_group(r->ft, g->u.id, title && *title ? title : "Managers");
}

/* manager NAME id=N in GROUP [first=F] [username=U]: someone who writes in GROUP. */
static void step_manager(run *r, token *t, int n)
{
    token ut[MAX_TOKENS];
    int m = 0, gi = -1;
    for (int i = 0; i < n && m < MAX_TOKENS; i++) {
        if (!strcmp(t[i].s, "in") && i + 1 < n) {
            user *g = find_user(r, t[++i].s);
            if (!g) return;
            gi = (int)(g - r->users);
        } else {
            ut[m++] = t[i];
        }
    }
    if (gi < 0) {
        fail(r, "expected `manager NAME id=N in GROUP`, got no `in GROUP`");
        return;
    }
    step_user(r, ut, m);
    if (!r->failed) r->users[r->nusers - 1].group = gi;
}

/* say_in_topic MANAGER TEXT...: in the current topic of the manager's group. */
static void step_say_in_topic(run *r, token *t, int n)
{
    user *u = n >= 3 ? find_user(r, t[1].s) : NULL;
    if (!u) {
        if (n < 3) fail(r, "expected `say_in_topic MANAGER TEXT`, got %d words", n);
        return;
    }
    if (u->group < 0) {
        fail(r, "expected %s declared with `manager ... in GROUP`, got a plain user", u->name);
        return;
    }
    user *g = &r->users[u->group];
    if (!g->topic) {
        fail(r, "expected `expect topic %s ...` before `say_in_topic`, got none", g->name);
        return;
    }
    if (!bot_start(r)) return;
    char text[4096];
    join(t, 2, n, text, sizeof text);
    fake_tg_push_topic_text(r->ft, &u->u, g->u.id, g->topic, text);
}

/* gtap MANAGER "DATA": MANAGER presses a callback button carrying DATA on
 * the bot's last consumed message in their group (the bot puts no buttons
 * there: a stale or foreign button; its answer still stops the spinner). */
static void step_gtap(run *r, token *t, int n)
{
    user *u = n == 3 ? find_user(r, t[1].s) : NULL;
    if (!u) {
        if (n != 3) fail(r, "expected `gtap MANAGER \"DATA\"`, got %d words", n);
        return;
    }
    if (u->group < 0) {
        fail(r, "expected %s declared with `manager ... in GROUP`, got a plain user", u->name);
        return;
    }
    user *g = &r->users[u->group];
    if (!bot_start(r)) return;
    fake_tg_event ev;
    if (g->cur[FAKE_TG_SENT] == 0 ||
        !fake_tg_wait_event(r->ft, g->u.id, FAKE_TG_SENT, g->cur[FAKE_TG_SENT] - 1, 0, &ev)) {
        fail(r, "expected a consumed bot message in %s to press on, got none", g->name);
        return;
    }
    query *q = r->nqueries < MAX_QUERIES ? &r->queries[r->nqueries++] : NULL;
    char qid[32];
    if (fake_tg_push_callback_in(r->ft, &u->u, g->u.id, ev.message_id, t[2].s, qid,
                                 sizeof qid) < 0) {
        fail(r, "expected message %" PRId64 " to exist, got none", ev.message_id);
    } else if (q) {
        snprintf(q->id, sizeof q->id, "%s", qid);
        q->line = r->line;
        q->chat = g->u.id;
    }
    fake_tg_event_clear(&ev);
}

/* Joins tokens [from, n) with spaces: `send ann hello there`. */
static void join(token *t, int from, int n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = from; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i > from ? " " : "", t[i].s);
}

/* sql "STATEMENTS" [== "VALUE"]: the bot is stopped first (cleanly); with
 * == the first column of the first row must equal VALUE. */
static void step_sql(run *r, token *t, int n)
{
    if (n != 2 && !(n == 4 && !strcmp(t[2].s, "=="))) {
        fail(r, "expected `sql \"...\"` or `sql \"SELECT ...\" == \"value\"`, got %d words", n);
        return;
    }
    bot_stop(r, SIGTERM);
    if (r->failed) return;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(r->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fail(r, "expected the bot's database at %s, got %s", r->db, db ? sqlite3_errmsg(db) : "no handle");
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, 5000);
    if (n == 2) {
        char *err = NULL;
        if (sqlite3_exec(db, t[1].s, NULL, NULL, &err) != SQLITE_OK)
            fail(r, "expected the SQL to run, got %s", err ? err : "an error");
        else if (sqlite3_changes(db) == 0 && strncasecmp(t[1].s, "update", 6) == 0)
            fail(r, "expected the UPDATE to change a row, got 0 rows changed");
        sqlite3_free(err);
    } else {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, t[1].s, -1, &st, NULL) != SQLITE_OK) {
            fail(r, "expected the SQL to compile, got %s", sqlite3_errmsg(db));
        } else {
            int rc = sqlite3_step(st);
            const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
            if (!got || strcmp(got, t[3].s))
                fail(r, "expected \"%s\", got %s%s%s", t[3].s, got ? "\"" : "", got ? got : "no row",
                     got ? "\"" : "");
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* commands LANG NAME...: the commands setMyCommands published for LANG
 * ("-" = without language_code), in order. */
static void step_commands(run *r, token *t, int n)
{
    if (n < 2) {
        fail(r, "expected `commands LANG \"name\"...`, got nothing");
        return;
    }
    if (!bot_start(r)) return;
    const char *lang = strcmp(t[1].s, "-") ? t[1].s : NULL;
    cJSON *cmds = NULL;
    double until = now_s() + r->timeout_ms / 1000.0;
    while (!(cmds = fake_tg_commands(r->ft, lang)) && now_s() < until) sleep_ms(20);
    char want[2048], got[2048];
    join(t, 2, n, want, sizeof want);
    size_t o = 0;
    got[0] = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cmds) if (o < sizeof got)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", o ? " " : "",
                              cJSON_GetStringValue(cJSON_GetObjectItem(c, "command")));
    if (!cmds)
        fail(r, "expected setMyCommands for language %s, got none", lang ? lang : "-");
    else if (strcmp(want, got))
        fail(r, "expected commands %s for language %s, got %s", want, lang ? lang : "-", got);
    cJSON_Delete(cmds);
}

/* allow STATUS "description": the next bot call rejected so is expected. */
static void step_allow(run *r, token *t, int n)
{
    if (n != 3 || r->nallows == MAX_ALLOW) {
        fail(r, "expected `allow STATUS \"description\"`, got %d words", n);
        return;
    }
    allow *a = &r->allows[r->nallows++];
    a->status = atoi(t[1].s);
    a->desc = strdup(t[2].s);
    a->line = r->line;
    a->used = false;
}

/* ---- load ------------------------------------------------------------------------------ */

typedef enum sub_kind { S_SEND, S_PRESS, S_TAP, S_CONTACT, S_EXPECT } sub_kind;

typedef struct sub {
    sub_kind kind;
    match_kind match;
    const char *arg;
} sub;

/* load N [lang=L] (send X | press X | tap X | contact X | expect KIND X)...
 * N fresh users run the sub-steps in lockstep: every user does step 1, then
 * every user step 2, ..., so the bot sees N chats at once. */
static void step_load(run *r, token *t, int n)
{
    if (n < 3) {
        fail(r, "expected `load N step...`, got %d words", n);
        return;
    }
    int count = atoi(t[1].s);
    if (count < 1 || count > 100000) {
        fail(r, "expected 1..100000 users, got %s", t[1].s);
        return;
    }
    const char *lang = NULL;
    int i = 2;
    if (!strncmp(t[i].s, "lang=", 5)) lang = t[i++].s + 5;
    sub subs[64];
    int nsub = 0;
    while (i < n && nsub < 64) {
        const char *v = t[i].s;
        sub *s = &subs[nsub];
        if (!strcmp(v, "expect") && i + 2 < n) {
            s->kind = S_EXPECT;
            if (!parse_match_kind(r, t[i + 1].s, &s->match)) return;
            s->arg = t[i + 2].s;
            i += 3;
        } else if (i + 1 < n && (!strcmp(v, "send") || !strcmp(v, "press") || !strcmp(v, "tap") ||
                                 !strcmp(v, "contact"))) {
            s->kind = v[0] == 's' ? S_SEND : v[0] == 'p' ? S_PRESS : v[0] == 't' ? S_TAP : S_CONTACT;
            s->arg = t[i + 1].s;
            i += 2;
        } else {
            fail(r, "expected send, press, tap, contact or expect in a load step, got %s", v);
            return;
        }
        nsub++;
    }
    if (!bot_start(r)) return;
    free(r->load_users);
    r->load_users = calloc((size_t)count, sizeof *r->load_users);
    if (!r->load_users) abort();
    r->nload = count;
    for (int k = 0; k < count; k++) {
        user *u = &r->load_users[k];
        int64_t no = r->load_next + k + 1;
        snprintf(u->name, sizeof u->name, "load%" PRId64, no);
        snprintf(u->first, sizeof u->first, "Load%" PRId64, no);
        snprintf(u->lang, sizeof u->lang, "%s", lang ? lang : "");
        snprintf(u->phone, sizeof u->phone, "+38160%07" PRId64, no % 10000000);
        /* Above 2^32, so a bot that keeps ids in an int fails here. */
        u->u.id = INT64_C(7000000000) + no;
        user_fix_ptrs(u);
    }
    r->load_next += count;
    double t0 = now_s();
    int load_timeout = r->timeout_ms > 60000 ? r->timeout_ms : 60000;
    for (int s = 0; s < nsub && !r->failed; s++) {
        for (int k = 0; k < count && !r->failed; k++) {
            user *u = &r->load_users[k];
            switch (subs[s].kind) {
            case S_SEND: do_send(r, u, subs[s].arg); break;
            case S_CONTACT: do_contact(r, u, subs[s].arg, true); break;
            case S_PRESS: do_press(r, u, subs[s].arg, load_timeout); break;
            case S_TAP: do_tap(r, u, subs[s].arg, load_timeout); break;
            case S_EXPECT: expect_text(r, u, FAKE_TG_SENT, subs[s].match, subs[s].arg, load_timeout); break;
            }
            if (r->failed) printf("%s:%d:   (load user %s, id %" PRId64 ", step %d)\n", r->file, r->line,
                                  u->name, u->u.id, s + 1);
        }
        check_calls(r);
    }
    for (int k = 0; k < count; k++) user_free(&r->load_users[k]);
    if (!r->failed)
        printf("  load: %d users x %d steps in %.2f s\n", count, nsub, now_s() - t0);
}

/* ---- reliability: env, faults, floods, crashes, rates --------------------------------- */

/* env KEY=VALUE: set for the bot from its next start on. */
static void step_env(run *r, token *t, int n)
{
    if (n != 2 || !strchr(t[1].s, '=') || r->nenvs == MAX_ENVS) {
        fail(r, "expected `env KEY=VALUE`, got %d words", n);
        return;
    }
    r->envs[r->nenvs++] = strdup(t[1].s);
}

/* httpserver MS: a slow HTTP service (answers after MS ms) the bot's
 * http_get action asks (BOT_HTTP_GET_URL, from the bot's next start). */
/* slowloris N [from=ADDR] [every=MS]: N slow clients on the webhook port
 * (until the end); slowloris stop: stop them all and print what they saw;
 * slowloris cut|refused >= N: the server closed at least N of their
 * connections after a while (a deadline) / at once (a per-address cap). */
static void step_slowloris(run *r, token *t, int n)
{
    if (n >= 2 && !strcmp(t[1].s, "stop")) {
        for (int i = 0; i < r->nslow; i++) {
            slowclient_stats st = slowclient_get_stats(r->slow[i]);
            printf("  slowloris %d: %lu connections, %lu cut, %lu refused, longest %lu ms\n", i,
                   st.opened, st.cut, st.refused, st.max_life_ms);
            slowclient_stop(r->slow[i]);
        }
        r->nslow = 0;
        return;
    }
    if (n == 4 && (!strcmp(t[1].s, "cut") || !strcmp(t[1].s, "refused")) && !strcmp(t[2].s, ">=")) {
        unsigned long got = 0;
        for (int i = 0; i < r->nslow; i++) {
            slowclient_stats st = slowclient_get_stats(r->slow[i]);
            got += !strcmp(t[1].s, "cut") ? st.cut : st.refused;
        }
        if (got < strtoul(t[3].s, NULL, 10))
            fail(r, "expected the server to have %s at least %s slow connections, got %lu",
                 !strcmp(t[1].s, "cut") ? "cut" : "refused", t[3].s, got);
        return;
    }
    if (n < 2 || atoi(t[1].s) < 1) {
        fail(r, "expected `slowloris N [from=ADDR] [every=MS]`, `slowloris stop` or "
                "`slowloris cut|refused >= N`");
        return;
    }
    if (!r->webhook) {
        fail(r, "expected webhook mode (`mode webhook`) for slowloris, got polling");
        return;
    }
    if (r->nslow == (int)(sizeof r->slow / sizeof r->slow[0])) {
        fail(r, "expected at most %d slowloris steps", r->nslow);
        return;
    }
    const char *from = NULL;
    int every = 500;
    for (int i = 2; i < n; i++) {
        if (!strncmp(t[i].s, "from=", 5)) from = t[i].s + 5;
        else if (!strncmp(t[i].s, "every=", 6)) every = atoi(t[i].s + 6);
        else {
            fail(r, "expected from= or every=, got %s", t[i].s);
            return;
        }
    }
    if (!bot_start(r)) return;
    char err[256];
    slowclient *c = slowclient_start(r->wh_port, atoi(t[1].s), from, every, err, sizeof err);
    if (!c)
        fail(r, "expected slow clients to start, got %s", err);
    else
        r->slow[r->nslow++] = c;
}

static void step_httpserver(run *r, token *t, int n)
{
    char err[128];
    if (n != 2 || r->http) {
        fail(r, "expected one `httpserver MS`, got %d words", n);
        return;
    }
    r->http = slowhttp_start(atoi(t[1].s), err, sizeof err);
    if (!r->http) fail(r, "expected the slow HTTP service to start, got %s", err);
}

/* The chat id a `chat=` names: a declared user (or group) or a number. */
static int64_t chat_of(run *r, const char *v)
{
    for (int i = 0; i < r->nusers; i++)
        if (!strcmp(r->users[i].name, v)) return r->users[i].u.id;
    char *end;
    long long id = strtoll(v, &end, 10);
    if (*end || !id) {
        fail(r, "expected a declared user or a chat id, got %s", v);
        return 0;
    }
    return id;
}

/* fault METHOD|* WHAT [chat=C] [count=N] [retry_after=S] [migrate=ID] [ms=MS]
 *       [performed] ["description"]
 * WHAT: an HTTP status (a Bot API error answer), or html (status= sets the
 * page's status, default 502), drop, truncate, mistyped, slow, trickle. */
static void step_fault(run *r, token *t, int n)
{
    if (n < 3) {
        fail(r, "expected `fault METHOD WHAT [key=value...]`, got %d words", n);
        return;
    }
    fake_tg_fault f;
    memset(&f, 0, sizeof f);
    f.count = 1;
    f.method = strcmp(t[1].s, "*") ? t[1].s : NULL;
    const char *w = t[2].s;
    if (!strcmp(w, "html")) { f.kind = FAKE_TG_FAULT_HTML; f.status = 502; }
    else if (!strcmp(w, "drop")) f.kind = FAKE_TG_FAULT_DROP;
    else if (!strcmp(w, "truncate")) f.kind = FAKE_TG_FAULT_TRUNCATE;
    else if (!strcmp(w, "mistyped")) f.kind = FAKE_TG_FAULT_MISTYPED;
    else if (!strcmp(w, "slow")) f.kind = FAKE_TG_FAULT_SLOW;
    else if (!strcmp(w, "trickle")) f.kind = FAKE_TG_FAULT_TRICKLE;
    else if (atoi(w) >= 300 && atoi(w) < 600) { f.kind = FAKE_TG_FAULT_ERROR; f.status = atoi(w); }
    else {
        fail(r, "expected a status or html|drop|truncate|mistyped|slow|trickle, got %s", w);
        return;
    }
    for (int i = 3; i < n && !r->failed; i++) {
        const char *a = t[i].s;
        if (t[i].quoted) f.description = a;
        else if (!strncmp(a, "chat=", 5)) f.chat_id = chat_of(r, a + 5);
        else if (!strncmp(a, "count=", 6)) f.count = atoi(a + 6);
        else if (!strncmp(a, "retry_after=", 12)) f.retry_after = atoi(a + 12);
        else if (!strncmp(a, "migrate=", 8)) f.migrate_to = strtoll(a + 8, NULL, 10);
        else if (!strncmp(a, "ms=", 3)) f.delay_ms = atoi(a + 3);
        else if (!strncmp(a, "status=", 7)) f.status = atoi(a + 7);
        else if (!strcmp(a, "performed")) f.performed = true;
        else fail(r, "expected chat=, count=, retry_after=, migrate=, ms=, status=, performed or "
                     "a \"description\", got %s", a);
    }
    if (!f.description && f.kind == FAKE_TG_FAULT_ERROR)
        f.description = f.status == 429 ? "Too Many Requests: retry after" :
                        f.status == 403 ? "Forbidden: bot was blocked by the user" :
                        f.status == 409 ? "Conflict: terminated by other getUpdates request" :
                        f.migrate_to ? "Bad Request: group chat was upgraded to a supergroup chat" :
                        "Internal Server Error";
    if (!r->failed) fake_tg_add_fault(r->ft, &f);
}

/* Waits until every fault added so far has answered its calls. */
static void expect_faults_used(run *r)
{
    if (!bot_start(r)) return;
    double until = now_s() + r->timeout_ms / 1000.0;
    while (fake_tg_faults_left(r->ft) > 0 && now_s() < until) sleep_ms(20);
    if (fake_tg_faults_left(r->ft) > 0)
        fail(r, "expected every fault to be hit within %d ms, got %zu still armed", r->timeout_ms,
             fake_tg_faults_left(r->ft));
}

/* expect log "TEXT": a line of the bot's log contains TEXT (waits). */
static void expect_log(run *r, const char *want)
{
    double until = now_s() + r->timeout_ms / 1000.0;
    for (;;) {
        FILE *f = fopen(r->log, "r");
        char line[4096];
        bool found = false;
        while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, want) != NULL;
        if (f) fclose(f);
        if (found) return;
        if (now_s() >= until) break;
        sleep_ms(50);
    }
    fail(r, "expected a line in the bot's log containing \"%s\", got none", want);
}

/* log "TEXT" <=|== N: how many lines of the bot's log so far contain TEXT
 * (no waiting: put it after what must have happened). */
static void count_log(run *r, const char *want, const char *op, const char *nstr)
{
    long limit = strtol(nstr, NULL, 10);
    FILE *f = fopen(r->log, "r");
    char line[4096];
    long got = 0;
    while (f && fgets(line, sizeof line, f)) got += strstr(line, want) != NULL;
    if (f) fclose(f);
    if (!strcmp(op, "<=") ? got > limit : got != limit)
        fail(r, "expected %s %ld line(s) of the bot's log containing \"%s\", got %ld",
             !strcmp(op, "<=") ? "at most" : "exactly", limit, want, got);
}

/* calls mark: remember where the calls stand; calls METHOD <=|>= N: how
 * many METHOD calls the fake got since the mark (or the start). */
static void step_calls(run *r, token *t, int n)
{
    if (n == 2 && !strcmp(t[1].s, "mark")) {
        r->calls_mark = fake_tg_ncalls(r->ft);
        return;
    }
    if (n != 4 || (strcmp(t[2].s, "<=") && strcmp(t[2].s, ">="))) {
        fail(r, "expected `calls mark` or `calls METHOD <=|>= N`, got %d words", n);
        return;
    }
    size_t nc = 0;
    fake_tg_call *c = fake_tg_calls_since(r->ft, r->calls_mark, &nc);
    long got = 0, want = strtol(t[3].s, NULL, 10);
    for (size_t i = 0; i < nc; i++) got += !strcmp(c[i].method, t[1].s);
    fake_tg_calls_free(c, nc);
    bool le = !strcmp(t[2].s, "<=");
    if (le ? got > want : got < want)
        fail(r, "expected %s %ld %s call(s) since the mark, got %ld", le ? "at most" : "at least",
             want, t[1].s, got);
}

/* rate all|chat|group <= N per SECONDS: the fake's measured message rate. */
static void step_rate(run *r, token *t, int n)
{
    if (n != 6 || strcmp(t[2].s, "<=") || strcmp(t[4].s, "per")) {
        fail(r, "expected `rate all|chat|group <= N per SECONDS`, got %d words", n);
        return;
    }
    fake_tg_scope sc = !strcmp(t[1].s, "all") ? FAKE_TG_ALL
                       : !strcmp(t[1].s, "chat") ? FAKE_TG_PER_CHAT : FAKE_TG_PER_GROUP;
    size_t limit = (size_t)atoi(t[3].s);
    double w = atof(t[5].s);
    int64_t chat = 0;
    /* 30 ms less than the window: arrival times jitter on a loaded machine */
    size_t got = fake_tg_max_in_window(r->ft, sc, w - 0.03, &chat);
    printf("  rate %s: at most %zu message(s) in %g s (chat %" PRId64 "), limit %zu\n", t[1].s,
           got, w, chat, limit);
    if (got > limit)
        fail(r, "expected at most %zu messages %s in any %g s, got %zu (chat %" PRId64 ")", limit,
             t[1].s, w, got, chat);
    else if (got == 0)
        fail(r, "expected messages to measure, got none");
}

typedef struct flood_user {
    fake_tg_user u;
    char first[32];
    int next_send;  /* messages pushed */
    size_t seen;    /* replies consumed (private chats) */
    int got;        /* replies matched in order */
} flood_user;

/* Collects the replies of chat `chat` since index *cur and matches them to
 * the users' messages: each new reply must be the next message of its user
 * (a repeat of an earlier reply is a resend after a crash, counted). Returns
 * false on a mismatch (failed). */
static bool flood_match(run *r, flood_user *fu, int users, int64_t chat, size_t *cur,
                        const char *prefix, size_t *dups)
{
    fake_tg_event ev;
    while (fake_tg_wait_event(r->ft, chat, FAKE_TG_SENT, *cur, 0, &ev)) {
        (*cur)++;
        int k = -1, j = -1;
        const char *tx = ev.text ? ev.text : "";
        size_t pl = strlen(prefix);
        if (!strncmp(tx, prefix, pl) && sscanf(tx + pl, "%d-%d", &k, &j) == 2 && k >= 0 &&
            k < users) {
            flood_user *u = &fu[k];
            if (j == u->got) {
                u->got++;
            } else if (j >= 0 && j < u->got) {
                /* an earlier reply again: a resend of a call Telegram took
                 * just before a crash (counted, and bounded by the
                 * transcript); a new reply must still be the next one */
                (*dups)++;
            } else {
                fail(r, "expected reply %s%d-%d in chat %" PRId64 ", got \"%s\" (out of order or "
                        "twice)", prefix, k, u->got, chat, tx);
                fake_tg_event_clear(&ev);
                return false;
            }
        }
        fake_tg_event_clear(&ev);
    }
    return true;
}

/* A chat's replies as "text#call" with "|" where each kill fell: what a
 * failure message shows. */
static void flood_history(run *r, int64_t chat, int chat_i, int nchats, const size_t *snap,
                          int kills, char *out, size_t len)
{
    size_t n = fake_tg_count_events(r->ft, chat, FAKE_TG_SENT), at = 0;
    int w = 0;
    out[0] = 0;
    for (size_t e = 0; e <= n; e++) {
        for (; w < kills && snap[(size_t)w * nchats + chat_i] <= e; w++)
            at += (size_t)snprintf(out + at, at < len ? len - at : 0, "| ");
        fake_tg_event ev;
        if (e == n || !fake_tg_wait_event(r->ft, chat, FAKE_TG_SENT, e, 0, &ev)) break;
        at += (size_t)snprintf(out + at, at < len ? len - at : 0, "%s#%" PRIu64 " ",
                               ev.text ? ev.text : "", ev.seq);
        fake_tg_event_clear(&ev);
    }
}

/* The chat and kill with the most resends so far. */
typedef struct flood_worst {
    int n, kill;
    int64_t chat;
    char list[256];
} flood_worst;

/* The epoch that ended (after kill epoch - 1) gave chat i in_epoch
 * resends, list naming them: the worst so far? (Its history is kept for
 * the report when a kill cost a chat more than one.) */
static void note_epoch(run *r, flood_worst *fw, int in_epoch, int epoch, const int64_t *chats,
                       int i, int nchats, const size_t *snap, int kills, const char *list,
                       char *hist, size_t histlen)
{
    if (in_epoch <= fw->n)
        return;
    fw->n = in_epoch;
    fw->kill = epoch - 1;
    fw->chat = chats[i];
    snprintf(fw->list, sizeof fw->list, "%s", list);
    if (fw->n > 1)
        flood_history(r, chats[i], i, nchats, snap, kills, hist, histlen);
}

/* After the flood: the resends each kill caused, chat by chat. snap[w *
 * nchats + i] is how many replies chat i had got when kill w (0-based)
 * happened, so a chat's replies from snap[w] on came after kill w. A kill
 * may cost a chat at most one resend, and only of the chat's last reply
 * before it: the call in flight at the kill, or the one Telegram had
 * accepted whose outbox row was not yet deleted (outq.c deletes that row
 * durably before the chat's next call starts). Prints the worst chat; fails
 * if the bound is broken. */
static void flood_kill_report(run *r, int users, const int64_t *chats, int nchats,
                              const size_t *snap, int kills, const char *prefix)
{
    int *got = calloc((size_t)users, sizeof *got);
    if (!got) abort();
    int bad = 0, replays = 0, kills_with = 0;
    flood_worst fw = {.kill = -1};
    char bad_text[512] = "", hist[2048] = "";
    int *hit = calloc((size_t)kills + 1, sizeof *hit); /* resends after each kill */
    if (!hit) abort();
    size_t pl = strlen(prefix);
    for (int i = 0; i < nchats; i++) {
        int epoch = 0, in_epoch = 0;
        char list[256] = "";
        size_t n = fake_tg_count_events(r->ft, chats[i], FAKE_TG_SENT);
        for (size_t e = 0; e <= n; e++) {
            /* close the kills whose snapshot this event reaches */
            while (epoch < kills && (e == n || snap[(size_t)epoch * nchats + i] <= e)) {
                note_epoch(r, &fw, in_epoch, epoch, chats, i, nchats, snap, kills, list, hist,
                           sizeof hist);
                epoch++;
                in_epoch = 0;
                list[0] = 0;
            }
            if (e == n) break;
            fake_tg_event ev, last;
            if (!fake_tg_wait_event(r->ft, chats[i], FAKE_TG_SENT, e, 0, &ev)) break;
            int k = -1, j = -1;
            const char *tx = ev.text ? ev.text : "";
            if (!strncmp(tx, prefix, pl) && sscanf(tx + pl, "%d-%d", &k, &j) == 2 && k >= 0 &&
                k < users) {
                if (j >= got[k]) {
                    got[k] = j + 1;
                } else if (epoch == 0) {
                    bad++; /* a resend with no kill before it */
                    if (!bad_text[0])
                        snprintf(bad_text, sizeof bad_text, "chat %" PRId64 ": \"%s\" again "
                                 "before any kill", chats[i], tx);
                } else {
                    replays++;
                    hit[epoch]++;
                    in_epoch++;
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", tx);
                    /* the chat's last reply before the kill */
                    size_t at = snap[(size_t)(epoch - 1) * nchats + i];
                    bool same = at > 0 &&
                                fake_tg_wait_event(r->ft, chats[i], FAKE_TG_SENT, at - 1, 0, &last);
                    if (!same || !last.text || strcmp(last.text, tx)) {
                        bad++;
                        if (!bad_text[0] && !hist[0])
                            flood_history(r, chats[i], i, nchats, snap, kills, hist, sizeof hist);
                        if (!bad_text[0])
                            snprintf(bad_text, sizeof bad_text, "chat %" PRId64 " after kill %d: "
                                     "\"%s\" again, but its last reply before the kill was "
                                     "\"%s\"", chats[i], epoch, tx,
                                     same && last.text ? last.text : "(none)");
                    }
                    if (same) fake_tg_event_clear(&last);
                }
            }
            fake_tg_event_clear(&ev);
        }
        /* the last epoch (after the last kill) */
        note_epoch(r, &fw, in_epoch, epoch, chats, i, nchats, snap, kills, list, hist,
                   sizeof hist);
    }
    int most = 0;
    for (int w = 1; w <= kills; w++) {
        kills_with += hit[w] > 0;
        if (hit[w] > most) most = hit[w];
    }
    printf("  flood: %d resend(s) after %d of %d kill(s), at most %d after one; at most %d in "
           "one chat after one kill", replays, kills_with, kills, most, fw.n);
    if (fw.n > 0)
        printf(" (chat %" PRId64 ", kill %d: %s)", fw.chat, fw.kill + 1, fw.list);
    printf("\n");
    if (hist[0]) printf("  replies of that chat (| = a kill): %s\n", hist);
    if (fw.n > 1)
        fail(r, "expected at most one resend per chat per kill, got %d in chat %" PRId64
                " after kill %d: %s", fw.n, fw.chat, fw.kill + 1, fw.list);
    else if (bad)
        fail(r, "expected a resend only of a chat's last reply before a kill, got %d other(s); "
                "first: %s", bad, bad_text);
    free(hit);
    free(got);
}

/* flood USERS MSGS [group=ID] [kills=K] [prefix=P]: USERS fresh users each
 * send MSGS messages "P<user>-<n>" to the echo bot (in private chats, or
 * all in group ID), spread over K+1 waves; between waves the bot is killed
 * with SIGKILL at a random moment and started again. Then every message
 * must be answered by its own text, exactly once and in order per user;
 * the one repeat allowed is a resend after a kill, at most one per chat
 * per kill and only of the chat's last reply before it (flood_kill_report:
 * counted and printed). */
static void step_flood(run *r, token *t, int n)
{
    if (n < 3) {
        fail(r, "expected `flood USERS MSGS [group=ID] [kills=K] [prefix=P]`, got %d words", n);
        return;
    }
    int users = atoi(t[1].s), msgs = atoi(t[2].s), kills = 0;
    int64_t group = 0;
    const char *prefix = "f";
    for (int i = 3; i < n; i++) {
        if (!strncmp(t[i].s, "group=", 6)) group = strtoll(t[i].s + 6, NULL, 10);
        else if (!strncmp(t[i].s, "kills=", 6)) kills = atoi(t[i].s + 6);
        else if (!strncmp(t[i].s, "prefix=", 7)) prefix = t[i].s + 7;
        else {
            fail(r, "expected group=, kills= or prefix=, got %s", t[i].s);
            return;
        }
    }
    if (users < 1 || users > 5000 || msgs < 1 || msgs > 1000 || group > 0) {
        fail(r, "expected 1..5000 users, 1..1000 messages and a negative group id");
        return;
    }
    if (!bot_start(r)) return;
    flood_user *fu = calloc((size_t)users, sizeof *fu);
    if (!fu) abort();
    for (int k = 0; k < users; k++) {
        snprintf(fu[k].first, sizeof fu[k].first, "F%d", k);
        fu[k].u.id = INT64_C(8000000000) + r->load_next + k;
        fu[k].u.first_name = fu[k].first;
        fu[k].u.language_code = "en";
    }
    r->load_next += users;
    int nchats = group ? 1 : users;
    int64_t *chats = calloc((size_t)nchats, sizeof *chats);
    size_t *snap = calloc((size_t)(kills > 0 ? kills : 1) * nchats, sizeof *snap);
    if (!chats || !snap) abort();
    for (int i = 0; i < nchats; i++) chats[i] = group ? group : fu[i].u.id;
    double t0 = now_s();
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int waves = kills + 1, total = users * msgs, sent = 0;
    char text[96];
    for (int wv = 0; wv < waves && !r->failed; wv++) {
        int upto = (int)((long)total * (wv + 1) / waves);
        /* round-robin over users, so every wave mixes every chat */
        for (; sent < upto; sent++) {
            int k = sent % users, j = fu[k].next_send++;
            snprintf(text, sizeof text, "%s%d-%d", prefix, k, j);
            if (group)
                fake_tg_push_group_text(r->ft, &fu[k].u, group, "Flood group", text);
            else
                fake_tg_push_text(r->ft, &fu[k].u, text);
        }
        if (wv < kills) {
            /* a random moment while the bot works through the wave */
            sleep_ms(2 + (int)(rand_r(&seed) % 60));
            bot_stop(r, SIGKILL);
            /* What the dead bot had sent: the fake may still be reading
             * requests it wrote just before the kill; recorded after the
             * next run's first calls, a resend would look like two. Idle
             * twice, 5 ms apart (a connection still in the listen queue). */
            for (int waited = 0, idle = 0; idle < 2 && waited < 2000; waited += 5) {
                idle = fake_tg_busy_connections(r->ft) ? 0 : idle + 1;
                if (idle < 2) sleep_ms(5);
            }
            for (int i = 0; i < nchats; i++)
                snap[(size_t)wv * nchats + i] = fake_tg_count_events(r->ft, chats[i], FAKE_TG_SENT);
            bot_start(r);
        }
    }
    /* everything answered, in order, once */
    size_t dups = 0, *cur = calloc((size_t)users, sizeof *cur), gcur = 0;
    if (!cur) abort();
    int wait_ms = r->timeout_ms > 60000 ? r->timeout_ms : 60000;
    double until = now_s() + wait_ms / 1000.0;
    for (;;) {
        bool ok = true;
        if (group) {
            ok = flood_match(r, fu, users, group, &gcur, prefix, &dups);
        } else {
            for (int k = 0; k < users && ok; k++)
                ok = flood_match(r, fu, users, fu[k].u.id, &cur[k], prefix, &dups);
        }
        if (!ok) break;
        int missing = 0;
        for (int k = 0; k < users; k++) missing += msgs - fu[k].got;
        if (!missing) break;
        if (now_s() >= until || !bot_check_alive(r)) {
            if (!r->failed)
                fail(r, "expected all %d messages answered within %d ms, got %d missing", total,
                     wait_ms, missing);
            break;
        }
        sleep_ms(20);
    }
    if (!r->failed)
        printf("  flood: %d users x %d messages, %d kill(s), %zu identical resend(s), %.2f s\n",
               users, msgs, kills, dups, now_s() - t0);
    if (!r->failed && kills > 0)
        flood_kill_report(r, users, chats, nchats, snap, kills, prefix);
    else if (!r->failed && dups > 0)
        fail(r, "expected no resend without a kill, got %zu", dups);
    free(snap);
    free(chats);
    free(cur);
    free(fu);
}

/* gsend USER GROUP_ID TEXT...: USER writes in group GROUP_ID. */
static void step_gsend(run *r, token *t, int n)
{
    if (n < 4) {
        fail(r, "expected `gsend USER GROUP_ID TEXT`, got %d words", n);
        return;
    }
    user *u = find_user(r, t[1].s);
    if (!u || !bot_start(r)) return;
    char text[4096];
    join(t, 3, n, text, sizeof text);
    fake_tg_push_group_text(r->ft, &u->u, strtoll(t[2].s, NULL, 10), "Group", text);
}

/* ---- one transcript ------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void run_step(run *r, token *t, int n)
{
    const char *v = t[0].s;
    if (!strcmp(v, "bot") && n == 2) {
        snprintf(r->botname, sizeof r->botname, "%s", t[1].s);
        const char *bindir = getenv("BIN");
        snprintf(r->bin, sizeof r->bin, "%s/%s", bindir && *bindir ? bindir : "bin", t[1].s);
        if (access(r->bin, X_OK) != 0) fail(r, "expected an executable %s, got %s", r->bin, strerror(errno));
    } else if (!strcmp(v, "user")) {
        step_user(r, t, n);
    } else if (!strcmp(v, "start") && n == 1) {
        bot_start(r);
    } else if (!strcmp(v, "stop") && n == 1) {
        bot_stop(r, SIGTERM);
    } else if (!strcmp(v, "restart") && n == 1) {
        bot_stop(r, SIGTERM);
        if (!r->failed) bot_start(r);
    } else if (!strcmp(v, "crash") && n == 1) {
        /* Between steps, not mid-send: a reply Telegram took in the last
         * milliseconds, before the outbox row went, is sent again after a
         * crash (the one duplicate the design allows), which would read as
         * the next message. `flood ... kills=` kills mid-work on purpose. */
        sleep_ms(150);
        bot_stop(r, SIGKILL);
        bot_start(r);
    } else if (!strcmp(v, "send") && n >= 3) {
        user *u = find_user(r, t[1].s);
        char text[8192];
        join(t, 2, n, text, sizeof text);
        if (u) do_send(r, u, text);
    } else if (!strcmp(v, "press") && n == 3) {
        user *u = find_user(r, t[1].s);
        if (u) do_press(r, u, t[2].s, r->timeout_ms);
    } else if (!strcmp(v, "tap") && n == 3) {
        user *u = find_user(r, t[1].s);
        if (u) do_tap(r, u, t[2].s, r->timeout_ms);
    } else if (!strcmp(v, "voice") && n >= 3) {
        user *u = find_user(r, t[1].s);
        voice_opts o = {.duration = 2, .as = "voice"};
        bool ok = true;
        for (int i = 3; i < n && ok; i++) {
            if (!strncmp(t[i].s, "duration=", 9))
                o.duration = atoi(t[i].s + 9);
            else if (!strncmp(t[i].s, "mime=", 5))
                o.mime = t[i].s + 5;
            else if (!strncmp(t[i].s, "name=", 5))
                o.name = t[i].s + 5;
            else if (!strcmp(t[i].s, "as=audio") || !strcmp(t[i].s, "as=video_note") ||
                     !strcmp(t[i].s, "as=document") || !strcmp(t[i].s, "as=voice"))
                o.as = t[i].s + 3;
            else
                ok = false;
        }
        if (!ok)
            fail(r, "expected `voice USER FILE [duration=N] [as=audio|video_note|document] "
                    "[mime=TYPE] [name=NAME]`, got `%s`", t[n - 1].s);
        else if (u)
            do_voice(r, u, t[2].s, &o);
    } else if (!strcmp(v, "contact") && (n == 3 || (n == 4 && !strcmp(t[3].s, "other")))) {
        user *u = find_user(r, t[1].s);
        if (u) do_contact(r, u, t[2].s, n == 3);
    } else if (!strcmp(v, "expect")) {
        step_expect(r, t, n);
    } else if (!strcmp(v, "sql")) {
        step_sql(r, t, n);
    } else if (!strcmp(v, "commands")) {
        step_commands(r, t, n);
    } else if (!strcmp(v, "allow")) {
        step_allow(r, t, n);
    } else if (!strcmp(v, "timeout") && n == 2) {
        r->timeout_ms = (int)(atof(t[1].s) * 1000);
    } else if (!strcmp(v, "sleep") && n == 2) {
        sleep_ms((int)(atof(t[1].s) * 1000));
    } else if (!strcmp(v, "load")) {
        step_load(r, t, n);
    } else if (!strcmp(v, "env")) {
        step_env(r, t, n);
    } else if (!strcmp(v, "httpserver")) {
        step_httpserver(r, t, n);
    } else if (!strcmp(v, "llm")) {
        step_llm(r, t, n);
    } else if (!strcmp(v, "tts")) {
        step_tts(r, t, n);
    } else if (!strcmp(v, "tools")) {
        step_tools(r, t, n);
    } else if (!strcmp(v, "whisper")) {
        step_whisper(r, t, n);
    } else if (!strcmp(v, "fault")) {
        step_fault(r, t, n);
    } else if (!strcmp(v, "faults") && n == 2 && !strcmp(t[1].s, "used")) {
        expect_faults_used(r);
    } else if (!strcmp(v, "log") && n == 4 && (!strcmp(t[2].s, "<=") || !strcmp(t[2].s, "=="))) {
        count_log(r, t[1].s, t[2].s, t[3].s);
    } else if (!strcmp(v, "log") && n == 2) {
        expect_log(r, t[1].s);
    } else if (!strcmp(v, "rate")) {
        step_rate(r, t, n);
    } else if (!strcmp(v, "retries") && n == 3 && !strcmp(t[1].s, "on") && !strcmp(t[2].s, "time")) {
        if (fake_tg_early_retries(r->ft))
            fail(r, "expected no call before its 429's retry_after ran out, got %zu",
                 fake_tg_early_retries(r->ft));
    } else if (!strcmp(v, "resends") && n == 2) {
        size_t d = fake_tg_identical_resends(r->ft);
        if (d > (size_t)atoi(t[1].s))
            fail(r, "expected at most %s identical resends, got %zu", t[1].s, d);
    } else if (!strcmp(v, "flood")) {
        step_flood(r, t, n);
    } else if (!strcmp(v, "gsend")) {
        step_gsend(r, t, n);
    } else if (!strcmp(v, "group")) {
        step_group(r, t, n);
    } else if (!strcmp(v, "manager")) {
        step_manager(r, t, n);
    } else if (!strcmp(v, "say_in_topic")) {
        step_say_in_topic(r, t, n);
    } else if (!strcmp(v, "topics")) {
        step_topics(r, t, n);
    } else if (!strcmp(v, "drafts")) {
        step_drafts(r, t, n);
    } else if (!strcmp(v, "update") && n == 3 && !strcmp(t[2].s, "badid")) {
        /* getUpdates serves its update_id as a string */
        if (bot_start(r) && fake_tg_push_update_bad_id(r->ft, cJSON_Parse(t[1].s)) < 0)
            fail(r, "expected a JSON object, got %s", t[1].s);
    } else if (!strcmp(v, "update") && n == 2) {
        /* a raw Update object, e.g. a malformed one */
        if (bot_start(r) && fake_tg_push_update(r->ft, cJSON_Parse(t[1].s)) < 0)
            fail(r, "expected a JSON object, got %s", t[1].s);
    } else if (!strcmp(v, "http") && n == 4 && !strcmp(t[1].s, "parallel") && !strcmp(t[2].s, ">=")) {
        unsigned got = r->http ? slowhttp_max_parallel(r->http) : 0;
        if (got < (unsigned)atoi(t[3].s))
            fail(r, "expected at least %s requests in flight at once, got %u", t[3].s, got);
    } else if (!strcmp(v, "stoptime") && n == 2 && atof(t[1].s) > 0) {
        r->stop_ms = (int)(atof(t[1].s) * 1000);
    } else if (!strcmp(v, "gtap")) {
        step_gtap(r, t, n);
    } else if (!strcmp(v, "calls")) {
        step_calls(r, t, n);
    } else if (!strcmp(v, "slowloris")) {
        step_slowloris(r, t, n);
    } else if (!strcmp(v, "mode") && n == 2 && (!strcmp(t[1].s, "webhook") || !strcmp(t[1].s, "polling"))) {
        if (r->bot.pid > 0)
            fail(r, "expected `mode` before the bot starts, got it after");
        r->webhook = !strcmp(t[1].s, "webhook");
    } else {
        fail(r, "expected a step (bot, user, send, press, tap, contact, expect, restart, crash, stop, "
                "start, sql, commands, allow, timeout, sleep, load, mode), got `%s` with %d words", v, n);
    }
}

/* Runs one transcript; returns true if it passed. */
static bool run_file(const char *path, bool verbose)
{
    run r;
    memset(&r, 0, sizeof r);
    r.file = path;
    r.timeout_ms = g_default_timeout_ms;
    r.quiet_ms = 500;
    double t0 = now_s();

    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s:0: expected a readable transcript, got %s\n", path, strerror(errno));
        printf("FAIL %s\n", path);
        return false;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(r.dir, sizeof r.dir, "%s/botc-e2e-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r.dir)) {
        printf("%s:0: expected a temp dir, got %s\n", path, strerror(errno));
        fclose(f);
        return false;
    }
    snprintf(r.db, sizeof r.db, "%s/bot.db", r.dir);
    snprintf(r.log, sizeof r.log, "%s/bot.log", r.dir);

    char err[256];
    r.webhook = g_webhook;
    r.wh_port = free_port();
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", (unsigned)r.wh_port);
    fake_tg_opts o = { .verbose = verbose, .webhook_proxy = proxy };
    r.ft = fake_tg_new(&o, err, sizeof err);
    if (!r.ft) {
        printf("%s:0: expected the fake Bot API to start, got %s\n", path, err);
        fclose(f);
        return false;
    }

    char line[16384];
    while (!r.failed && fgets(line, sizeof line, f)) {
        r.line++;
        token t[MAX_TOKENS];
        int n = tokenize(line, t, MAX_TOKENS);
        if (n < 0) {
            fail(&r, "expected a closing quote, got the end of the line");
            break;
        }
        if (n > 0) {
            run_step(&r, t, n);
            if (!r.failed) check_calls(&r);
            if (!r.failed) bot_check_alive(&r);
        }
        for (int i = 0; i < n; i++) free(t[i].s);
    }
    fclose(f);
    r.line++; /* end-of-file checks report the line after the last */

    if (!r.failed) {
        for (int i = 0; i < r.nqueries && !r.failed; i++) {
            double until = now_s() + r.timeout_ms / 1000.0;
            while (!fake_tg_callback_answered(r.ft, r.queries[i].id) && now_s() < until) sleep_ms(20);
            if (!fake_tg_callback_answered(r.ft, r.queries[i].id)) {
                r.line = r.queries[i].line;
                fail(&r, "expected the callback query of this tap to be answered, got no answerCallbackQuery");
            }
        }
    }
    if (!r.failed) check_calls(&r);
    for (int i = 0; i < r.nallows && !r.failed; i++)
        if (!r.allows[i].used) {
            r.line = r.allows[i].line;
            fail(&r, "expected a bot call rejected with %d \"%s\", got none", r.allows[i].status,
                 r.allows[i].desc);
        }
    if (!r.failed)
        bot_stop(&r, SIGTERM);
    else
        proc_stop(&r.bot, SIGTERM, 3000);

    bool ok = !r.failed;
    if (!ok) {
        show_log(r.log);
        printf("  (temp dir kept: %s)\n", r.dir);
    } else {
        nftw(r.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    printf("%s %s%s (%.1f s)\n", ok ? "PASS" : "FAIL", path, r.webhook ? " [webhook]" : "",
           now_s() - t0);
    fflush(stdout);
    for (int i = 0; i < r.nusers; i++) user_free(&r.users[i]);
    free(r.load_users);
    for (int i = 0; i < r.nallows; i++) free(r.allows[i].desc);
    fake_tg_free(r.ft);
    for (int i = 0; i < r.nslow; i++)
        slowclient_stop(r.slow[i]);
    slowhttp_stop(r.http);
    fakellm_stop(r.llm);
    fakespeech_stop(r.tts);
    faketool_stop(r.tools);
    fakewhisper_stop(r.asr);
    free(r.embed_model);
    free(r.llm_answer);
    for (int i = 0; i < r.nenvs; i++) free(r.envs[i]);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: e2e FILE.e2e...\n"
                "  BIN=dir          where the bots are (default bin)\n"
                "  E2E_TIMEOUT=s    how long an expect waits (default 5)\n"
                "  E2E_VERBOSE=1    print every Bot API call\n"
                "  E2E_LOG_LEVEL=l  BOT_LOG_LEVEL for the bot (default info)\n"
                "  E2E_MODE=webhook updates by webhook instead of long polling\n");
        return argc < 2 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *to = getenv("E2E_TIMEOUT");
    if (to && atof(to) > 0) g_default_timeout_ms = (int)(atof(to) * 1000);
    const char *mode = getenv("E2E_MODE");
    g_webhook = mode && !strcmp(mode, "webhook");
    const char *vb = getenv("E2E_VERBOSE");
    bool verbose = vb && *vb && strcmp(vb, "0");
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        if (run_file(argv[i], verbose))
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
