/*
 * bench.c — the benchmark driver (run by scripts/bench/run.sh, `make bench`).
 *
 *   bench [--bot bin/rental] [--only menu|far|slow|ceiling|floor|calls|llm-draft|llm-500] [--users N]
 *         [--runs N]   (menu and far: the best of N runs, default 3)
 *
 * Each scenario starts a fresh fake Bot API (tests/fake_tg, in this process)
 * and a fresh bot (a child process on a temp database), lets simulated users
 * talk to it and prints one table row. Users are closed loops: a user's next
 * update goes out once the bot's answer to the previous one has arrived
 * (as a person waits for the reply before pressing the next button); the
 * 200 users run at once. How many messages, edits and callback answers each
 * step produces is measured first with one calibration user.
 *
 *   menu     5,000 updates from 200 users: /start, reply-keyboard presses,
 *            inline taps (answerCallbackQuery + editMessageText)
 *   far      the same menu walk, 2,000 updates, the fake answering every
 *            call after 20 ms (a Bot API far away)
 *   slow     200 users each asking something answered through a 1 s HTTP
 *            call (needs an asynchronous HTTP action in the runtime)
 *   llm-draft   the model's first token after 200 ms (tests/fake_llm): time
 *            from a user's question to the first sendMessageDraft the fake
 *            receives, 20 questions one after another (median and worst)
 *   llm-500     500 users ask at once, the model streams every answer
 *            (first token 200 ms, 12 chunks 50 ms apart) under Telegram's
 *            default flood limits: every final message must arrive and the
 *            limits must hold (fake-measured message calls per 1 s window)
 *   ceiling  the fake's own capacity: 50,000 sendMessage calls from 64
 *            parallel keep-alive connections over libcurl multi, made by
 *            bin/bench-floor in a process of its own (as the bot is),
 *            requests/s
 *   floor    the memory under the bot: peak RSS of bin/bench-floor
 *            (scripts/bench/floor.c), linked with exactly the bot's
 *            libraries, which only initializes libcurl and SQLite
 *   calls    the libcurl call floor: bin/bench-floor making the menu
 *            walk's 7,000 Bot API calls over 200 connections with libcurl
 *            multi and nothing else; its CPU and memory are what the
 *            calls cost before the bot parses, handles or stores anything
 *
 * Bot CPU seconds are utime + stime of the bot process from /proc/PID/stat
 * over the measured interval; peak RSS is its VmHWM at the end, "private"
 * its largest RssAnon sampled every 10 ms (RSS without the shared library
 * pages), "idle" its VmHWM before the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include "../../tests/e2e/proc.h"
#include "../../tests/fake_llm/fake_llm.h"
#include "../../tests/fake_tg/fake_tg.h"

#define MAX_USERS 2000
/* the call floor's calls: about what the menu walk's 5,000 updates make
 * (7,038 with 200 users) */
#define FLOOR_CALLS 7000
#define RUN_TIMEOUT_S 120.0

/* ---- the menu walk ---------------------------------------------------------- */

typedef enum act { A_SEND, A_PRESS, A_TAP } act;
typedef struct step {
    act a;
    const char *arg;
} step;

/* 25 steps over the rental bot's menus; 5,000 updates = 200 users x 25. */
static const step WALK[] = {
    {A_SEND, "/start"},
    {A_PRESS, "🚗 Cars and prices"},
    {A_TAP, "SUV · from €50"},
    {A_TAP, "⬅️ All classes"},
    {A_TAP, "Minivan · from €75"},
    {A_TAP, "⬅️ All classes"},
    {A_PRESS, "⬅️ Back"},
    {A_PRESS, "📋 Rental conditions"},
    {A_PRESS, "🛡 Insurance"},
    {A_PRESS, "⬅️ Back"},
    {A_PRESS, "⬅️ Back"},
    {A_PRESS, "🚚 Delivery"},
    {A_PRESS, "⬅️ Back"},
    {A_PRESS, "🚗 Cars and prices"},
    {A_TAP, "Economy · from €25"},
    {A_TAP, "⬅️ All classes"},
    {A_TAP, "Compact · from €35"},
    {A_TAP, "⬅️ All classes"},
    {A_PRESS, "⬅️ Back"},
    {A_PRESS, "📋 Rental conditions"},
    {A_PRESS, "⬅️ Back"},
    {A_PRESS, "🚚 Delivery"},
    {A_PRESS, "⬅️ Back"},
    {A_SEND, "/menu"},
    {A_SEND, "/start"},
};
#define WALK_LEN ((int)(sizeof WALK / sizeof WALK[0]))

typedef struct delta {
    size_t sent, edited, answered;
} delta;

typedef struct user {
    fake_tg_user u;
    char first[32];
    int next;          /* next step */
    delta want;        /* counts that mean "answered" */
    bool done;
} user;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static delta counts(fake_tg *ft, int64_t chat)
{
    size_t n[FAKE_TG_EVENT_KINDS];
    fake_tg_event_counts(ft, chat, n);
    delta d = {n[FAKE_TG_SENT], n[FAKE_TG_EDITED], n[FAKE_TG_ANSWERED]};
    return d;
}

static bool reached(delta have, delta want)
{
    return have.sent >= want.sent && have.edited >= want.edited && have.answered >= want.answered;
}

/* Sends step s for u. Returns false when a tap finds no such button. */
static bool act_step(fake_tg *ft, const fake_tg_user *u, const step *s)
{
    if (s->a != A_TAP) {
        fake_tg_push_text(ft, u, s->arg);
        return true;
    }
    int64_t mid = 0;
    cJSON *mk = fake_tg_last_inline(ft, u->id, &mid);
    const char *data = NULL;
    const cJSON *row, *b;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(mk, "inline_keyboard")) cJSON_ArrayForEach(b, row) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(b, "text"));
        if (t && !strcmp(t, s->arg) && !data)
            data = cJSON_GetStringValue(cJSON_GetObjectItem(b, "callback_data"));
    }
    bool ok = data && fake_tg_push_callback(ft, u, mid, data, NULL, 0) >= 0;
    cJSON_Delete(mk);
    return ok;
}

/* One user walks the steps slowly, waiting for quiet after each: what each
 * step produces. */
static bool calibrate(fake_tg *ft, delta per[WALK_LEN])
{
    fake_tg_user u = {.id = 9990001, .first_name = "Calib", .language_code = "en"};
    delta before = counts(ft, u.id);
    for (int i = 0; i < WALK_LEN; i++) {
        if (!act_step(ft, &u, &WALK[i])) {
            fprintf(stderr, "bench: calibration: no button \"%s\" at step %d\n", WALK[i].arg, i + 1);
            return false;
        }
        double quiet_since = now_s(), until = now_s() + 10;
        delta last = counts(ft, u.id);
        while (now_s() < until) {
            sleep_us(5000);
            delta c = counts(ft, u.id);
            if (memcmp(&c, &last, sizeof c)) {
                last = c;
                quiet_since = now_s();
            } else if (now_s() - quiet_since > 0.25 && memcmp(&c, &before, sizeof c)) {
                break;
            }
        }
        per[i].sent = last.sent - before.sent;
        per[i].edited = last.edited - before.edited;
        per[i].answered = last.answered - before.answered;
        if (!per[i].sent && !per[i].edited && !per[i].answered) {
            fprintf(stderr, "bench: calibration: step %d (%s) got no answer\n", i + 1, WALK[i].arg);
            return false;
        }
        before = last;
    }
    return true;
}

/* ---- the bot process ---------------------------------------------------------- */

typedef struct botrun {
    proc p;
    char dir[256], db[300], log[300];
} botrun;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static bool is_method(const fake_tg_call *c, void *ud)
{
    return !strcmp(c->method, (const char *)ud);
}

/* How a bot is started: everything but the fake and the binary. */
typedef struct bot_opts {
    const char *llm_base;  /* OPENAI_API_BASE, NULL = offline */
    bool limits;           /* Telegram's default flood limits; else off (the fake is local) */
    const char *extra_env; /* one more KEY=VALUE, NULL = none */
} bot_opts;

/* Starts bin on a fresh database against ft; true once it polls. */
static bool bot_up(botrun *b, fake_tg *ft, const char *bin, const bot_opts *o)
{
    snprintf(b->dir, sizeof b->dir, "/tmp/botc-bench-XXXXXX");
    if (!mkdtemp(b->dir))
        return false;
    snprintf(b->db, sizeof b->db, "%s/bot.db", b->dir);
    snprintf(b->log, sizeof b->log, "%s/bot.log", b->dir);
    char base[96], e_base[128], e_tok[160], e_db[320], e_llm[160];
    fake_tg_base_url(ft, base, sizeof base);
    snprintf(e_base, sizeof e_base, "TELEGRAM_API_BASE=%s", base);
    snprintf(e_tok, sizeof e_tok, "TELEGRAM_BOT_TOKEN=%s", fake_tg_token(ft));
    snprintf(e_db, sizeof e_db, "BOT_DB=%s", b->db);
    if (o->llm_base)
        snprintf(e_llm, sizeof e_llm, "OPENAI_API_BASE=%s", o->llm_base);
    else
        snprintf(e_llm, sizeof e_llm, "OPENAI_API_BASE");
    /* a bare name unsets it; "BOT_HTTP_GET_URL" stands in for no extra */
    char *env[] = {e_base, e_tok, e_db, e_llm,
                   getenv("BENCH_LOG_INFO") ? "BOT_LOG_LEVEL=info" : "BOT_LOG_LEVEL=warn",
                   "TELEGRAM_POLL_TIMEOUT=25",
                   o->limits ? "TELEGRAM_RATE_GLOBAL" : "TELEGRAM_RATE_GLOBAL=0",
                   o->limits ? "TELEGRAM_RATE_CHAT" : "TELEGRAM_RATE_CHAT=0",
                   o->limits ? "TELEGRAM_RATE_GROUP_PER_MIN" : "TELEGRAM_RATE_GROUP_PER_MIN=0",
                   "BOT_DAILY_TOKENS=0", "WEBHOOK_URL", "OPENAI_API_KEY",
                   (char *)(o->extra_env ? o->extra_env : "BOT_HTTP_GET_URL"), NULL};
    char err[256];
    if (proc_start(&b->p, bin, env, b->log, err, sizeof err) != 0) {
        fprintf(stderr, "bench: cannot start %s: %s\n", bin, err);
        return false;
    }
    /* ready once it publishes its commands (right before the first poll;
     * a long poll is recorded only when it ends) */
    if (!fake_tg_wait_call(ft, 0, is_method, "setMyCommands", 15000, NULL)) {
        fprintf(stderr, "bench: the bot never polled (log %s)\n", b->log);
        return false;
    }
    return true;
}

static void bot_down(botrun *b, bool keep)
{
    proc_stop(&b->p, SIGTERM, 10000);
    if (getenv("BENCH_KEEP")) {
        keep = true;
        fprintf(stderr, "bench: bot log kept in %s\n", b->log);
    }
    if (!keep)
        nftw(b->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* utime + stime of pid in seconds. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    if (getenv("BENCH_CPU_SPLIT")) /* where the bot's CPU goes: user vs kernel */
        fprintf(stderr, "bench: pid %d user %.2f s, system %.2f s (cumulative)\n", (int)pid,
                (double)ut / (double)sysconf(_SC_CLK_TCK), (double)st / (double)sysconf(_SC_CLK_TCK));
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A line of /proc/PID/status ("VmHWM:", "RssAnon:") in MiB, -1 if none. */
static double status_mb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    double mb = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen))
            mb = strtod(line + klen, NULL) / 1024.0;
    fclose(f);
    return mb;
}

/* VmHWM: the peak resident set, shared library pages included. */
static double peak_rss_mb(pid_t pid) { return status_mb(pid, "VmHWM:"); }

/* RssAnon now: the bot's own memory (heap, stacks, written data pages),
 * without the pages of shared libraries it maps (libcrypto, libc, ...),
 * which count in RSS though every process shares them. Sampled during a
 * run; the kernel keeps no peak of it. */
static double private_mb(pid_t pid) { return status_mb(pid, "RssAnon:"); }

/* ---- scenarios -------------------------------------------------------------------- */

typedef struct result {
    bool ok;
    int updates, users;
    double wall, cpu, rss;
    double rss_idle;   /* VmHWM when the measured run starts */
    double rss_private; /* the largest RssAnon sampled during the run */
    double calls;      /* Bot API calls the fake answered during the run */
    double self_cpu;   /* CPU of this process (fake + simulated users) */
} result;

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static result run_menu(const char *bin, int nusers, int steps, int latency_ms)
{
    result r = {.users = nusers};
    char err[256];
    fake_tg_opts o = {.latency_ms = latency_ms};
    fake_tg *ft = fake_tg_new(&o, err, sizeof err);
    if (!ft) {
        fprintf(stderr, "bench: fake: %s\n", err);
        return r;
    }
    botrun b;
    memset(&b, 0, sizeof b);
    delta per[WALK_LEN];
    user *us = calloc((size_t)nusers, sizeof *us);
    if (!us)
        abort();
    if (!bot_up(&b, ft, bin, &(bot_opts){0}) || !calibrate(ft, per))
        goto out;

    for (int i = 0; i < nusers; i++) {
        snprintf(us[i].first, sizeof us[i].first, "U%d", i + 1);
        us[i].u.id = INT64_C(7100000001) + i;
        us[i].u.first_name = us[i].first;
        us[i].u.language_code = "en";
    }
    r.rss_idle = peak_rss_mb(b.p.pid);
    uint64_t calls0 = fake_tg_ncalls(ft);
    double self0 = self_cpu_s();
    double cpu0 = cpu_s(b.p.pid);
    double t0 = now_s();
    int left = nusers, sent = 0;
    bool stuck = false;
    double sampled = 0;
    while (left > 0) {
        bool progress = false;
        for (int i = 0; i < nusers; i++) {
            user *u = &us[i];
            if (u->done)
                continue;
            if (u->next > 0 && !reached(counts(ft, u->u.id), u->want))
                continue;
            if (u->next == steps) {
                u->done = true;
                left--;
                progress = true;
                continue;
            }
            const step *s = &WALK[u->next % WALK_LEN];
            const delta *d = &per[u->next % WALK_LEN];
            u->want.sent += d->sent;
            u->want.edited += d->edited;
            u->want.answered += d->answered;
            if (!act_step(ft, &u->u, s)) {
                fprintf(stderr, "bench: user %d: no button \"%s\"\n", i + 1, s->arg);
                stuck = true;
                break;
            }
            u->next++;
            sent++;
            progress = true;
        }
        if (stuck)
            break;
        if (now_s() - t0 > RUN_TIMEOUT_S) {
            fprintf(stderr, "bench: timed out with %d users unfinished\n", left);
            stuck = true;
            break;
        }
        if (now_s() - sampled > 0.01) {
            double p = private_mb(b.p.pid);
            if (p > r.rss_private)
                r.rss_private = p;
            sampled = now_s();
        }
        if (!progress) /* sleep until the bot's next call, not a fixed time */
            fake_tg_wait_call(ft, fake_tg_ncalls(ft), NULL, NULL, 2, NULL);
    }
    r.wall = now_s() - t0;
    r.cpu = cpu_s(b.p.pid) - cpu0;
    r.rss = peak_rss_mb(b.p.pid);
    r.self_cpu = self_cpu_s() - self0;
    r.calls = (double)(fake_tg_ncalls(ft) - calls0);
    r.updates = sent;
    r.ok = !stuck;
out:
    bot_down(&b, !r.ok);
    if (!r.ok)
        fprintf(stderr, "bench: bot log kept in %s\n", b.log);
    free(us);
    fake_tg_free(ft);
    return r;
}

/* ---- slow: every answer needs a 1 s HTTP call ------------------------------ */

static pthread_mutex_t g_slow_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_slow_active, g_slow_max, g_slow_total;

/* GET /ask?text=..&user=..: answered after 1 s, like a slow backend. */
static enum MHD_Result slow_answer(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    pthread_mutex_lock(&g_slow_mu);
    if (++g_slow_active > g_slow_max)
        g_slow_max = g_slow_active;
    g_slow_total++;
    pthread_mutex_unlock(&g_slow_mu);
    sleep_us(1000000);
    pthread_mutex_lock(&g_slow_mu);
    g_slow_active--;
    pthread_mutex_unlock(&g_slow_mu);
    static const char body[] = "Here is the slow answer.";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static result run_slow(const char *bin, int nusers)
{
    result r = {.users = nusers};
    char err[256];
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        slow_answer, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000, MHD_OPTION_END);
    fake_tg *ft = d ? fake_tg_new(NULL, err, sizeof err) : NULL;
    if (!ft) {
        fprintf(stderr, "bench: slow: cannot start the servers\n");
        if (d)
            MHD_stop_daemon(d);
        return r;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char env[128];
    snprintf(env, sizeof env, "BOT_HTTP_GET_URL=http://127.0.0.1:%u/ask", (unsigned)info->port);
    botrun b;
    memset(&b, 0, sizeof b);
    user *us = calloc((size_t)nusers, sizeof *us);
    if (!us)
        abort();
    if (!bot_up(&b, ft, bin, &(bot_opts){.extra_env = env}))
        goto out;
    for (int i = 0; i < nusers; i++) {
        snprintf(us[i].first, sizeof us[i].first, "S%d", i + 1);
        us[i].u.id = INT64_C(7200000001) + i;
        us[i].u.first_name = us[i].first;
        us[i].u.language_code = "en";
        fake_tg_push_text(ft, &us[i].u, "/start");
    }
    double until = now_s() + 30;
    for (int i = 0; i < nusers && now_s() < until; i++)
        while (fake_tg_count_events(ft, us[i].u.id, FAKE_TG_SENT) < 1 && now_s() < until)
            sleep_us(1000);
    r.rss_idle = peak_rss_mb(b.p.pid);
    uint64_t calls0 = fake_tg_ncalls(ft);
    double self0 = self_cpu_s(), cpu0 = cpu_s(b.p.pid), t0 = now_s();
    for (int i = 0; i < nusers; i++)
        fake_tg_push_text(ft, &us[i].u, "When is my car ready?");
    int left = nusers;
    until = now_s() + RUN_TIMEOUT_S;
    while (left > 0 && now_s() < until) {
        left = 0;
        for (int i = 0; i < nusers; i++)
            left += fake_tg_count_events(ft, us[i].u.id, FAKE_TG_SENT) < 2;
        if (left)
            fake_tg_wait_call(ft, fake_tg_ncalls(ft), NULL, NULL, 5, NULL);
    }
    r.wall = now_s() - t0;
    r.cpu = cpu_s(b.p.pid) - cpu0;
    r.rss = peak_rss_mb(b.p.pid);
    r.self_cpu = self_cpu_s() - self0;
    r.calls = (double)(fake_tg_ncalls(ft) - calls0);
    r.updates = nusers;
    r.ok = left == 0;
    if (left)
        fprintf(stderr, "bench: slow: %d users without an answer after %.0f s\n", left,
                RUN_TIMEOUT_S);
    fake_tg_event ev;
    memset(&ev, 0, sizeof ev);
    if (r.ok && (!fake_tg_wait_event(ft, us[0].u.id, FAKE_TG_SENT, 1, 0, &ev) || !ev.text ||
                 !strstr(ev.text, "slow answer"))) {
        fprintf(stderr, "bench: slow: the answer was \"%s\", not the HTTP body\n",
                ev.text ? ev.text : "");
        r.ok = false;
    }
    fake_tg_event_clear(&ev);
    fprintf(stderr, "bench: slow: %d HTTP calls, at most %d at once\n", g_slow_total, g_slow_max);
out:
    bot_down(&b, !r.ok);
    if (!r.ok)
        fprintf(stderr, "bench: bot log kept in %s\n", b.log);
    free(us);
    fake_tg_free(ft);
    MHD_stop_daemon(d);
    return r;
}

/* ---- the model: drafts and streams (fake_llm) ------------------------------------ */

typedef struct draft_for {
    int64_t chat;
} draft_for;

static bool is_draft_for(const fake_tg_call *c, void *ud)
{
    const cJSON *chat = cJSON_GetObjectItemCaseSensitive(c->params, "chat_id");
    return !strcmp(c->method, "sendMessageDraft") && cJSON_IsNumber(chat) &&
           (int64_t)chat->valuedouble == ((draft_for *)ud)->chat;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define LLM_Q "can I rent a bicycle?"
#define LLM_A "We rent cars only: Economy, Compact, SUV and Minivan classes, from 25 EUR a day."

/* Question -> first draft at the fake, one user after another. */
static bool run_llm_draft(const char *bin, double *median_ms, double *worst_ms)
{
    char err[256];
    fakellm *fl = fakellm_start(0, err, sizeof err);
    fake_tg *ft = fl ? fake_tg_new(NULL, err, sizeof err) : NULL;
    bool ok = false;
    botrun b;
    memset(&b, 0, sizeof b);
    enum { N = 20 };
    double ms[N];
    if (!ft)
        goto out;
    fakellm_answer(fl, LLM_A);
    fakellm_delay(fl, 200, 20);
    if (!bot_up(&b, ft, bin, &(bot_opts){.llm_base = fakellm_base(fl)}))
        goto out;
    ok = true;
    for (int i = 0; i < N && ok; i++) {
        char first[16];
        snprintf(first, sizeof first, "D%d", i);
        fake_tg_user u = {.id = INT64_C(7300000001) + i, .first_name = first, .language_code = "en"};
        uint64_t since = fake_tg_ncalls(ft);
        draft_for p = {u.id};
        fake_tg_call c;
        double t0 = now_s();
        fake_tg_push_text(ft, &u, LLM_Q);
        if (!fake_tg_wait_call(ft, since, is_draft_for, &p, 10000, &c)) {
            fprintf(stderr, "bench: llm-draft: no draft for user %d\n", i);
            ok = false;
            break;
        }
        ms[i] = (c.at - t0) * 1000.0;
        fake_tg_call_clear(&c);
        /* the final message, so the next question starts on a quiet bot */
        double until = now_s() + 10;
        while (fake_tg_count_events(ft, u.id, FAKE_TG_SENT) < 1 && now_s() < until)
            sleep_us(1000);
    }
    if (ok) {
        qsort(ms, N, sizeof *ms, cmp_double);
        *median_ms = ms[N / 2];
        *worst_ms = ms[N - 1];
    }
out:
    if (b.p.pid > 0)
        bot_down(&b, !ok);
    if (!ok)
        fprintf(stderr, "bench: llm-draft failed%s%s\n", b.log[0] ? "; bot log kept in " : "",
                b.log);
    fake_tg_free(ft);
    fakellm_stop(fl);
    return ok;
}

/* 500 users ask at once; every final message must arrive within the limits. */
static result run_llm_many(const char *bin, int nusers, size_t *worst_1s, size_t *drafts)
{
    result r = {.users = nusers, .updates = nusers};
    char err[256];
    fakellm *fl = fakellm_start(0, err, sizeof err);
    fake_tg *ft = fl ? fake_tg_new(NULL, err, sizeof err) : NULL;
    botrun b;
    memset(&b, 0, sizeof b);
    user *us = calloc((size_t)nusers, sizeof *us);
    if (!ft || !us)
        goto out;
    fakellm_answer(fl, LLM_A);
    fakellm_chunk(fl, 6);
    fakellm_delay(fl, 200, 50);
    if (!bot_up(&b, ft, bin, &(bot_opts){.llm_base = fakellm_base(fl), .limits = true}))
        goto out;
    r.rss_idle = peak_rss_mb(b.p.pid);
    uint64_t calls0 = fake_tg_ncalls(ft);
    double self0 = self_cpu_s(), cpu0 = cpu_s(b.p.pid), t0 = now_s();
    for (int i = 0; i < nusers; i++) {
        snprintf(us[i].first, sizeof us[i].first, "L%d", i + 1);
        us[i].u.id = INT64_C(7400000001) + i;
        us[i].u.first_name = us[i].first;
        us[i].u.language_code = "en";
        fake_tg_push_text(ft, &us[i].u, LLM_Q);
    }
    int left = nusers;
    double until = now_s() + RUN_TIMEOUT_S;
    while (left > 0 && now_s() < until) {
        left = 0;
        for (int i = 0; i < nusers; i++)
            left += fake_tg_count_events(ft, us[i].u.id, FAKE_TG_SENT) < 1;
        if (left)
            fake_tg_wait_call(ft, fake_tg_ncalls(ft), NULL, NULL, 20, NULL);
    }
    r.wall = now_s() - t0;
    r.cpu = cpu_s(b.p.pid) - cpu0;
    r.rss = peak_rss_mb(b.p.pid);
    r.self_cpu = self_cpu_s() - self0;
    r.calls = (double)(fake_tg_ncalls(ft) - calls0);
    *worst_1s = fake_tg_max_in_window(ft, FAKE_TG_ALL, 1.0, NULL);
    size_t n = 0;
    fake_tg_call *cs = fake_tg_calls_since(ft, calls0, &n);
    *drafts = 0;
    for (size_t i = 0; i < n; i++)
        *drafts += !strcmp(cs[i].method, "sendMessageDraft") && cs[i].status == 200;
    fake_tg_calls_free(cs, n);
    r.ok = left == 0 && *worst_1s <= 30;
    int wrong = 0;
    for (int i = 0; r.ok && i < nusers; i++) {
        fake_tg_event ev;
        if (fake_tg_wait_event(ft, us[i].u.id, FAKE_TG_SENT, 0, 0, &ev)) {
            wrong += !ev.text || strcmp(ev.text, LLM_A) != 0;
            fake_tg_event_clear(&ev);
        }
    }
    if (left || wrong || *worst_1s > 30) {
        fprintf(stderr, "bench: llm-500: %d without a final, %d wrong, %zu message calls in the "
                "worst second\n", left, wrong, *worst_1s);
        r.ok = false;
    }
out:
    if (b.p.pid > 0)
        bot_down(&b, !r.ok);
    if (!r.ok && b.log[0])
        fprintf(stderr, "bench: bot log kept in %s\n", b.log);
    free(us);
    fake_tg_free(ft);
    fakellm_stop(fl);
    return r;
}

/* ---- library floor ----------------------------------------------------------------- */

/* floor_bin making `calls` sendMessage calls over `par` keep-alive
 * connections to a fresh fake (bench-floor URL CALLS PAR): its own CPU and
 * memory in r.cpu and r.rss/r.rss_private, the wall time and this
 * process's CPU (the fake's) around it. */
static result floor_calls(const char *floor_bin, int calls, int par)
{
    result r = {0};
    char err[256];
    fake_tg_opts o = {.allow_unknown_chats = true};
    fake_tg *ft = fake_tg_new(&o, err, sizeof err);
    if (!ft) {
        fprintf(stderr, "bench: calls: %s\n", err);
        return r;
    }
    char base[96], cmd[1400];
    fake_tg_base_url(ft, base, sizeof base);
    snprintf(cmd, sizeof cmd, "'%s' '%s/bot%s/sendMessage' %d %d", floor_bin, base,
             fake_tg_token(ft), calls, par);
    double self0 = self_cpu_s(), t0 = now_s();
    FILE *p = popen(cmd, "r");
    long hwm = -1, anon = -1;
    int failed = -1;
    double cpu = -1;
    int got = p ? fscanf(p, "%ld %ld %lf %d", &hwm, &anon, &cpu, &failed) : 0;
    int st = p ? pclose(p) : -1;
    r.wall = now_s() - t0;
    r.self_cpu = self_cpu_s() - self0;
    fake_tg_free(ft);
    if (got != 4 || st != 0 || failed != 0) {
        fprintf(stderr, "bench: %s failed (%d of %d calls failed)\n", floor_bin, failed, calls);
        return r;
    }
    r.ok = true;
    r.calls = calls;
    r.users = par;
    r.cpu = cpu;
    r.rss = hwm / 1024.0;
    r.rss_private = anon / 1024.0;
    return r;
}

/* The libcurl call floor: what the menu walk's Bot API calls cost by
 * themselves, with no bot code, the part of the bot's CPU no change to the
 * bot can remove. The best of `runs` (by CPU). */
static result run_call_floor(const char *floor_bin, int calls, int par, int runs)
{
    result best = {0};
    double cpus[20];
    int n_ok = 0;
    for (int i = 0; i < runs; i++) {
        result r = floor_calls(floor_bin, calls, par);
        if (!r.ok)
            return r;
        fprintf(stderr, "bench: call floor run %d: %.3f s wall, %.2f CPU s, %.1f MB peak RSS\n",
                i + 1, r.wall, r.cpu, r.rss);
        cpus[n_ok++] = r.cpu;
        if (!best.ok || r.cpu < best.cpu)
            best = r;
    }
    fprintf(stderr, "bench: call floor median of %d runs: %.2f CPU s\n", n_ok, median(cpus, n_ok));
    return best;
}

/* Runs floor_bin and reads its "VmHWM RssAnon" (KiB). false on failure. */
static bool run_floor(const char *floor_bin, double *peak_mb, double *private_mb)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s'", floor_bin);
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    long hwm = -1, anon = -1;
    int n = fscanf(p, "%ld %ld", &hwm, &anon);
    int st = pclose(p);
    if (n != 2 || st != 0 || hwm <= 0 || anon < 0)
        return false;
    *peak_mb = hwm / 1024.0;
    *private_mb = anon / 1024.0;
    return true;
}

/* ---- table ------------------------------------------------------------------------- */

static void row(const char *name, const result *r, const char *target)
{
    if (!r->ok) {
        printf("| %-22s | %-93s | %s |\n", name, "FAILED (see stderr)", target);
        return;
    }
    char priv[16] = "-";
    if (r->rss_private > 0)
        snprintf(priv, sizeof priv, "%.1f", r->rss_private);
    printf("| %-22s | %6d | %5d | %7.3f | %9.0f | %8.0f | %6.3f | %6.3f | %4.1f (%4s, %4.1f) | %6.2f | %s |\n",
           name, r->updates, r->users, r->wall, r->updates / r->wall, r->calls / r->wall, r->cpu,
           r->updates ? r->cpu * 5000.0 / r->updates : 0, r->rss, priv, r->rss_idle, r->self_cpu,
           target);
}

/* The menu walk `runs` times, each on a fresh bot and database: the run
 * with the shortest wall time. A shared 2-core machine is noisy (other
 * work, the hypervisor); the best run is what the bot can do. Every run's
 * figures go to stderr. */
static result best_menu(const char *bin, int nusers, int steps, int latency_ms, int runs)
{
    result best = {0};
    double walls[20], cpus[20];
    const char *name = latency_ms ? "far" : "menu";
    for (int i = 0; i < runs; i++) {
        result r = run_menu(bin, nusers, steps, latency_ms);
        fprintf(stderr, "bench: %s run %d: %.3f s wall, %.2f CPU s, %.1f MB peak RSS%s\n",
                name, i + 1, r.wall, r.cpu, r.rss, r.ok ? "" : " (failed)");
        if (!r.ok)
            return r;
        walls[i] = r.wall;
        cpus[i] = r.cpu;
        if (i == 0 || r.wall < best.wall)
            best = r;
    }
    /* the table shows the best run; the median says what a typical one does */
    fprintf(stderr, "bench: %s median of %d runs: %.3f s wall, %.2f CPU s\n", name, runs,
            median(walls, runs), median(cpus, runs));
    return best;
}

int main(int argc, char **argv)
{
    const char *bin = "bin/rental", *only = NULL, *slow_bin = "bin/slowbench";
    const char *floor_bin = "bin/bench-floor";
    int users = 200, runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bot") && i + 1 < argc)
            bin = argv[++i];
        else if (!strcmp(argv[i], "--slow-bot") && i + 1 < argc)
            slow_bin = argv[++i];
        else if (!strcmp(argv[i], "--floor-bin") && i + 1 < argc)
            floor_bin = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--users") && i + 1 < argc)
            users = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench [--bot bin/rental] [--slow-bot bin/slowbench] "
                            "[--floor-bin bin/bench-floor] "
                            "[--only menu|far|slow|ceiling|floor|calls|llm-draft|llm-500] "
                            "[--users N] [--runs N]\n");
            return 2;
        }
    }
    if (users < 1 || users > MAX_USERS)
        users = 200;
    if (runs < 1 || runs > 20)
        runs = 3;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    printf("| %-22s | %6s | %5s | %7s | %9s | %8s | %6s | %6s | %17s | %6s | %s |\n", "scenario",
           "updates", "users", "wall s", "updates/s", "calls/s", "CPU s", "CPU/5k",
           "RSS MB (private, idle)", "fake CPU", "target");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------", "--------",
           "-------", "---------", "-----------", "----------", "--------", "--------",
           "---------------------", "--------", "--------");
    fflush(stdout);
    int rc = 0;
    result ceil_r = {0};
    if (!only || !strcmp(only, "ceiling")) {
        ceil_r = floor_calls(floor_bin, 50000, 64); /* the client in its own process */
        if (ceil_r.ok)
            printf("| %-22s | %6s | %5s | %7.3f | %9s | %8.0f | %6s | %6s | %17s | %6.2f | %s |\n",
                   "fake ceiling", "-", "-", ceil_r.wall, "-", ceil_r.calls / ceil_r.wall, "-",
                   "-", "-", ceil_r.self_cpu, "sendMessage calls, 64 connections");
        else
            rc = 1;
        fflush(stdout);
    }
    if (!only || !strcmp(only, "floor")) {
        double peak = 0, priv = 0;
        if (run_floor(floor_bin, &peak, &priv))
            printf("| %-22s | %6s | %5s | %7s | %9s | %8s | %6s | %6s | %4.1f (%4.1f, %4s) | %6s | %s |\n",
                   "library floor", "-", "-", "-", "-", "-", "-", "-", peak, priv, "-", "-",
                   "the bot's libraries loaded, libcurl and SQLite initialized, no bot code");
        else
            printf("| %-22s | FAILED (could not run %s) | - |\n", "library floor", floor_bin), rc = 1;
        fflush(stdout);
    }
    if (!only || !strcmp(only, "calls")) {
        result r = run_call_floor(floor_bin, FLOOR_CALLS, users, runs);
        if (r.ok)
            printf("| %-22s | %6s | %5d | %7.3f | %9s | %8.0f | %6.3f | %6s | %4.1f (%4.1f, %4s) | "
                   "%6.2f | %s |\n", "libcurl call floor", "-", r.users, r.wall, "-",
                   r.calls / r.wall, r.cpu, "-", r.rss, r.rss_private, "-", r.self_cpu,
                   "the menu's Bot API calls alone: no parsing, handling or storage (best of runs)");
        else
            printf("| %-22s | FAILED (see stderr) | - |\n", "libcurl call floor"), rc = 1;
        fflush(stdout);
    }
    if (!only || !strcmp(only, "menu")) {
        result r = best_menu(bin, users, 25, 0, runs);
        char target[160];
        snprintf(target, sizeof target, ">= 20000/s (or 50%% of ceiling), < 0.25 CPU s, < 10 MB "
                 "(best of %d)", runs);
        row("menu", &r, target);
        rc |= !r.ok;
        fflush(stdout);
    }
    if (!only || !strcmp(only, "far")) {
        result r = best_menu(bin, users, 10, 20, runs);
        char target[160];
        snprintf(target, sizeof target, "2000 updates <= 0.6 s (best of %d)", runs);
        row("menu, far (20 ms)", &r, target);
        rc |= !r.ok;
        fflush(stdout);
    }
    if (!only || !strcmp(only, "slow")) {
        result r = run_slow(slow_bin, users);
        row("slow (1 s HTTP each)", &r, "<= 1.1 s");
        rc |= !r.ok;
    }
    if (!only || !strcmp(only, "llm-draft")) {
        double med = 0, worst = 0;
        if (run_llm_draft(bin, &med, &worst))
            printf("| %-22s | question -> first draft: median %.0f ms, worst %.0f ms "
                   "(first token after 200 ms) | <= 250 ms |\n", "llm first draft", med, worst);
        else
            printf("| %-22s | FAILED (see stderr) | <= 250 ms |\n", "llm first draft"), rc = 1;
        fflush(stdout);
    }
    if (!only || !strcmp(only, "llm-500")) {
        size_t worst = 0, drafts = 0;
        result r = run_llm_many(bin, 500, &worst, &drafts);
        char target[160];
        snprintf(target, sizeof target, "every final arrives; <= 30 msg/s (worst 1 s: %zu; "
                 "%zu drafts)", worst, drafts);
        row("llm 500 streams", &r, target);
        rc |= !r.ok;
        fflush(stdout);
    }
    curl_global_cleanup();
    return rc;
}
