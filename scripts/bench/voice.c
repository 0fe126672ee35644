/*
 * voice.c — voice notes under load (`make bench-voice`, part of `make
 * bench`): does a burst of voice notes, recognised offline, slow the menu
 * for everyone else?
 *
 *   bench-voice [--bot bin/rental] [--pairs N] [--seconds S] [--menu-users U]
 *               [--notes K]
 *
 * One rental bot (a child process on a temp database, offline speech:
 * pocketsphinx with botc's grammars) against the fake Bot API (tests/fake_tg,
 * in this process, real sockets over loopback). Runs alternate:
 *
 *   quiet   U menu users (default 10) walk the rental menus for S seconds
 *           (default 6): each sends its next step once the bot's answer to
 *           the previous one has arrived, then thinks 50 ms;
 *   loaded  the same menu traffic, and half a second in, K voice notes
 *           (default 20) arrive at once from K other users, each a speech
 *           fixture (tests/voice/) saying a main-menu button or command.
 *
 * N pairs (default 3), quiet then loaded. Each run reports its menu steps'
 * reply latency (update queued -> the last message of the answer at the
 * fake) p50 and p99; the loaded run also the voice notes' latency (update
 * queued -> the last message of the answer, the transcript's echo and the
 * button's screen) p50, p99, max. The summary takes the medians over the
 * runs of each kind and the ratio of the menu's p99, loaded to quiet (the
 * issue's target: at most 1.5).
 *
 * What each step and each note produces (how many messages, edits and
 * callback answers mean "answered") is measured first with one calibration
 * user, whose first voice note also loads the speech model (so no run pays
 * for it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../tests/e2e/proc.h"
#include "../../tests/fake_tg/fake_tg.h"

#define MAX_MENU_USERS 200
#define MAX_NOTES 200
#define MAX_SAMPLES 200000
#define THINK_US 50000L

/* ---- time ------------------------------------------------------------------------ */

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

/* ---- what the users do ------------------------------------------------------------ */

/* The menu walk: reply-keyboard presses and commands over the main menu's
 * screens (each step's answer is a message or two). */
static const char *const WALK[] = {
    "/start",          "🚗 Cars and prices", "⬅️ Back",  "📋 Rental conditions",
    "🛡 Insurance",     "⬅️ Back",            "⬅️ Back",  "🚚 Delivery",
    "⬅️ Back",          "/menu",
};
#define WALK_LEN ((int)(sizeof WALK / sizeof WALK[0]))

/* The voice notes: phrases said in the main menu (grammar of that state). */
static const char *const NOTES[] = {
    "tests/voice/g_rental_btn_cars.ogg",     "tests/voice/g_rental_btn_terms.ogg",
    "tests/voice/g_rental_btn_delivery.ogg", "tests/voice/g_rental_btn_contacts.ogg",
    "tests/voice/g_rental_help.ogg",
};
#define N_NOTE_FILES ((int)(sizeof NOTES / sizeof NOTES[0]))

typedef struct delta {
    size_t sent, edited, answered;
} delta;

static delta counts(fake_tg *ft, int64_t chat)
{
    size_t n[FAKE_TG_EVENT_KINDS];
    fake_tg_event_counts(ft, chat, n);
    return (delta){n[FAKE_TG_SENT], n[FAKE_TG_EDITED], n[FAKE_TG_ANSWERED]};
}

static bool reached(delta have, delta want)
{
    return have.sent >= want.sent && have.edited >= want.edited && have.answered >= want.answered;
}

static delta plus(delta a, delta b)
{
    return (delta){a.sent + b.sent, a.edited + b.edited, a.answered + b.answered};
}

typedef struct note_file {
    unsigned char *data;
    size_t len;
} note_file;

static note_file g_files[N_NOTE_FILES];

static bool load_notes(void)
{
    for (int i = 0; i < N_NOTE_FILES; i++) {
        FILE *f = fopen(NOTES[i], "rb");
        if (!f) {
            fprintf(stderr, "bench-voice: cannot read %s (run from the repository root)\n",
                    NOTES[i]);
            return false;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        g_files[i].data = malloc(n > 0 ? (size_t)n : 1);
        g_files[i].len = g_files[i].data ? fread(g_files[i].data, 1, (size_t)n, f) : 0;
        fclose(f);
        if (!g_files[i].len)
            return false;
    }
    return true;
}

/* A voice note from u saying fixture k, as Telegram sends one. */
static void push_note(fake_tg *ft, const fake_tg_user *u, int k)
{
    static int seq;
    char id[64];
    snprintf(id, sizeof id, "AwACAgIAAxkBAAEbench%d", ++seq);
    fake_tg_add_file(ft, id, g_files[k].data, g_files[k].len);
    cJSON *up = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(up, "message");
    cJSON_AddNumberToObject(m, "message_id", 50000 + seq);
    cJSON_AddNumberToObject(m, "date", 1700000000);
    cJSON *chat = cJSON_AddObjectToObject(m, "chat");
    cJSON_AddNumberToObject(chat, "id", (double)u->id);
    cJSON_AddStringToObject(chat, "type", "private");
    cJSON *from = cJSON_AddObjectToObject(m, "from");
    cJSON_AddNumberToObject(from, "id", (double)u->id);
    cJSON_AddFalseToObject(from, "is_bot");
    cJSON_AddStringToObject(from, "first_name", u->first_name);
    cJSON_AddStringToObject(from, "language_code", "en");
    cJSON *v = cJSON_AddObjectToObject(m, "voice");
    cJSON_AddStringToObject(v, "file_id", id);
    cJSON_AddStringToObject(v, "file_unique_id", id + 10);
    cJSON_AddNumberToObject(v, "duration", 3);
    cJSON_AddStringToObject(v, "mime_type", "audio/ogg");
    cJSON_AddNumberToObject(v, "file_size", (double)g_files[k].len);
    fake_tg_push_update(ft, up);
}

/* Waits until u's chat has been quiet for 0.3 s after something arrived;
 * what arrived since before. */
static delta settle(fake_tg *ft, int64_t chat, delta before, double limit_s)
{
    double quiet_since = now_s(), until = now_s() + limit_s;
    delta last = counts(ft, chat);
    while (now_s() < until) {
        sleep_us(5000);
        delta c = counts(ft, chat);
        if (memcmp(&c, &last, sizeof c)) {
            last = c;
            quiet_since = now_s();
        } else if (now_s() - quiet_since > 0.3 && memcmp(&c, &before, sizeof c)) {
            break;
        }
    }
    return (delta){last.sent - before.sent, last.edited - before.edited,
                   last.answered - before.answered};
}

static bool nothing(delta d) { return !d.sent && !d.edited && !d.answered; }

/* One user walks the steps slowly; then, back at the main menu, says each
 * note: what each produces. */
static bool calibrate(fake_tg *ft, delta walk[WALK_LEN], delta notes[N_NOTE_FILES])
{
    fake_tg_user u = {.id = 9990001, .first_name = "Calib", .language_code = "en"};
    for (int i = 0; i < WALK_LEN; i++) {
        delta before = counts(ft, u.id);
        fake_tg_push_text(ft, &u, WALK[i]);
        walk[i] = settle(ft, u.id, before, 10);
        if (nothing(walk[i])) {
            fprintf(stderr, "bench-voice: calibration: step %d (%s) got no answer\n", i + 1,
                    WALK[i]);
            return false;
        }
    }
    for (int k = 0; k < N_NOTE_FILES; k++) {
        delta before = counts(ft, u.id);
        fake_tg_push_text(ft, &u, "/menu");
        settle(ft, u.id, before, 10);
        before = counts(ft, u.id);
        push_note(ft, &u, k);
        notes[k] = settle(ft, u.id, before, 30); /* the first loads the model */
        if (nothing(notes[k]) || notes[k].sent < 2) {
            fprintf(stderr, "bench-voice: calibration: %s got no transcribed answer\n",
                    NOTES[k]);
            return false;
        }
    }
    return true;
}

/* ---- the bot process ---------------------------------------------------------------- */

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

static bool bot_up(botrun *b, fake_tg *ft, const char *bin)
{
    snprintf(b->dir, sizeof b->dir, "/tmp/botc-bench-voice-XXXXXX");
    if (!mkdtemp(b->dir))
        return false;
    snprintf(b->db, sizeof b->db, "%s/bot.db", b->dir);
    snprintf(b->log, sizeof b->log, "%s/bot.log", b->dir);
    char base[96], e_base[128], e_tok[160], e_db[320];
    fake_tg_base_url(ft, base, sizeof base);
    snprintf(e_base, sizeof e_base, "TELEGRAM_API_BASE=%s", base);
    snprintf(e_tok, sizeof e_tok, "TELEGRAM_BOT_TOKEN=%s", fake_tg_token(ft));
    snprintf(e_db, sizeof e_db, "BOT_DB=%s", b->db);
    /* offline speech (no ASR_API_BASE), no model, no flood limits (the fake
     * is local: the bench measures the bot, not Telegram's pacing) */
    char *env[] = {e_base, e_tok, e_db, "OPENAI_API_BASE", "OPENAI_API_KEY", "ASR_API_BASE",
                   "TTS_API_BASE", "WEBHOOK_URL", "BOT_LOG_LEVEL=warn", "TELEGRAM_POLL_TIMEOUT=25",
                   "TELEGRAM_RATE_GLOBAL=0", "TELEGRAM_RATE_CHAT=0",
                   "TELEGRAM_RATE_GROUP_PER_MIN=0", "BOT_DAILY_TOKENS=0", NULL};
    char err[256];
    if (proc_start(&b->p, bin, env, b->log, err, sizeof err) != 0) {
        fprintf(stderr, "bench-voice: cannot start %s: %s\n", bin, err);
        return false;
    }
    if (!fake_tg_wait_call(ft, 0, is_method, "setMyCommands", 15000, NULL)) {
        fprintf(stderr, "bench-voice: the bot never polled (log %s)\n", b->log);
        return false;
    }
    return true;
}

static void bot_down(botrun *b, bool keep)
{
    proc_stop(&b->p, SIGTERM, 10000);
    if (keep || getenv("BENCH_KEEP"))
        fprintf(stderr, "bench-voice: bot log kept in %s\n", b->log);
    else
        nftw(b->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- one run ---------------------------------------------------------------------------- */

typedef struct actor {
    fake_tg_user u;
    char first[32];
    int next;        /* menu: the next step */
    delta want;      /* counts meaning the last input is answered */
    double sent_at;  /* when the last input went, 0 = none waiting */
    double ready_at; /* menu: when the next step may go (think time) */
} actor;

typedef struct samples {
    double *v;
    size_t n;
} samples;

static void add(samples *s, double x)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = x;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q quantile (nearest rank) of s, sorted in place; -1 when empty. */
static double quantile(samples *s, double q)
{
    if (!s->n)
        return -1;
    qsort(s->v, s->n, sizeof *s->v, cmp_d);
    size_t i = (size_t)(q * (double)s->n + 0.999999);
    if (i < 1)
        i = 1;
    if (i > s->n)
        i = s->n;
    return s->v[i - 1];
}

typedef struct run_result {
    bool ok;
    double menu_p50, menu_p99; /* ms */
    size_t menu_steps;
    double burst_p99;       /* ms: menu steps answered while notes were in flight, -1 none */
    size_t burst_steps;
    double voice_p50, voice_p99, voice_max; /* ms, -1 none */
    int notes_answered;
} run_result;

static int64_t g_next_id = INT64_C(7300000001);

static run_result run(fake_tg *ft, const delta walk[WALK_LEN], const delta notes[N_NOTE_FILES],
                      int menu_users, int n_notes, double seconds)
{
    run_result r = {.voice_p50 = -1, .voice_p99 = -1, .voice_max = -1, .burst_p99 = -1};
    actor *menu = calloc((size_t)menu_users, sizeof *menu);
    actor *voice = calloc((size_t)(n_notes ? n_notes : 1), sizeof *voice);
    samples ms = {calloc(MAX_SAMPLES, sizeof(double)), 0};
    samples vs = {calloc((size_t)(n_notes ? n_notes : 1), sizeof(double)), 0};
    samples bs = {calloc(MAX_SAMPLES, sizeof(double)), 0};
    if (!menu || !voice || !ms.v || !vs.v || !bs.v)
        abort();
    for (int i = 0; i < menu_users; i++) {
        actor *a = &menu[i];
        snprintf(a->first, sizeof a->first, "M%d", i + 1);
        a->u = (fake_tg_user){.id = g_next_id++, .first_name = a->first, .language_code = "en"};
    }
    /* the voice users are at the main menu before the run starts */
    for (int i = 0; i < n_notes; i++) {
        actor *a = &voice[i];
        snprintf(a->first, sizeof a->first, "V%d", i + 1);
        a->u = (fake_tg_user){.id = g_next_id++, .first_name = a->first, .language_code = "en"};
        a->want = plus(counts(ft, a->u.id), walk[0]);
        fake_tg_push_text(ft, &a->u, WALK[0]);
    }
    double until = now_s() + 30;
    for (int i = 0; i < n_notes; i++)
        while (!reached(counts(ft, voice[i].u.id), voice[i].want) && now_s() < until)
            sleep_us(2000);
    sleep_us(300000); /* their /start settled */

    double t0 = now_s(), burst = t0 + 0.5, end = t0 + seconds;
    bool burst_done = n_notes == 0;
    int voice_left = n_notes;
    bool stuck = false;
    for (;;) {
        double t = now_s();
        if (!burst_done && t >= burst) {
            for (int i = 0; i < n_notes; i++) {
                actor *a = &voice[i];
                a->want = plus(counts(ft, a->u.id), notes[i % N_NOTE_FILES]);
                a->sent_at = now_s();
                push_note(ft, &a->u, i % N_NOTE_FILES);
            }
            burst_done = true;
        }
        for (int i = 0; i < n_notes; i++) {
            actor *a = &voice[i];
            if (a->sent_at > 0 && reached(counts(ft, a->u.id), a->want)) {
                add(&vs, (now_s() - a->sent_at) * 1000);
                a->sent_at = 0;
                voice_left--;
            }
        }
        bool menu_busy = false;
        for (int i = 0; i < menu_users; i++) {
            actor *a = &menu[i];
            if (a->sent_at > 0) {
                if (!reached(counts(ft, a->u.id), a->want)) {
                    menu_busy = true;
                    continue;
                }
                double done = now_s();
                add(&ms, (done - a->sent_at) * 1000);
                if (n_notes && burst_done && voice_left > 0)
                    add(&bs, (done - a->sent_at) * 1000);
                a->sent_at = 0;
                a->ready_at = done + THINK_US / 1e6;
            }
            if (t < end && now_s() >= a->ready_at) {
                int k = a->next % WALK_LEN;
                a->want = plus(counts(ft, a->u.id), walk[k]);
                a->sent_at = now_s();
                fake_tg_push_text(ft, &a->u, WALK[k]);
                a->next++;
                menu_busy = true;
            }
        }
        if (t >= end && !menu_busy && voice_left == 0 && burst_done)
            break;
        if (t > end + 60) {
            fprintf(stderr, "bench-voice: answers missing 60 s after the run (%d notes)\n",
                    voice_left);
            stuck = true;
            break;
        }
        /* wake at the bot's next call, or in a millisecond */
        fake_tg_wait_call(ft, fake_tg_ncalls(ft), NULL, NULL, 1, NULL);
    }
    r.ok = !stuck;
    r.menu_steps = ms.n;
    r.menu_p50 = quantile(&ms, 0.50);
    r.menu_p99 = quantile(&ms, 0.99);
    r.notes_answered = (int)vs.n;
    r.burst_steps = bs.n;
    r.burst_p99 = quantile(&bs, 0.99);
    if (vs.n) {
        r.voice_p50 = quantile(&vs, 0.50);
        r.voice_p99 = quantile(&vs, 0.99);
        r.voice_max = vs.v[vs.n - 1];
    }
    free(menu);
    free(voice);
    free(ms.v);
    free(vs.v);
    free(bs.v);
    return r;
}

static double median(double *v, int n)
{
    samples s = {v, (size_t)n};
    return quantile(&s, 0.5);
}

int main(int argc, char **argv)
{
    const char *bin = "bin/rental";
    int pairs = 3, menu_users = 10, n_notes = 20;
    double seconds = 6;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bot") && i + 1 < argc)
            bin = argv[++i];
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--menu-users") && i + 1 < argc)
            menu_users = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--notes") && i + 1 < argc)
            n_notes = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-voice [--bot BIN] [--pairs N] [--seconds S] "
                            "[--menu-users U] [--notes K]\n");
            return 2;
        }
    }
    if (pairs < 1 || pairs > 50 || menu_users < 1 || menu_users > MAX_MENU_USERS ||
        n_notes < 1 || n_notes > MAX_NOTES || seconds < 1 || seconds > 600) {
        fprintf(stderr, "bench-voice: pairs 1..50, menu users 1..%d, notes 1..%d, seconds "
                        "1..600\n", MAX_MENU_USERS, MAX_NOTES);
        return 2;
    }
    if (!load_notes())
        return 1;
    char err[256];
    fake_tg *ft = fake_tg_new(NULL, err, sizeof err);
    if (!ft) {
        fprintf(stderr, "bench-voice: fake: %s\n", err);
        return 1;
    }
    botrun b;
    memset(&b, 0, sizeof b);
    delta walk[WALK_LEN], notes[N_NOTE_FILES];
    int rc = 1;
    if (!bot_up(&b, ft, bin) || !calibrate(ft, walk, notes))
        goto out;

    printf("voice notes under load: %s, offline speech (pocketsphinx, botc's grammars), "
           "%d menu users (50 ms think time), %.0f s a run, %d voice notes at once in "
           "the loaded runs, %d pairs\n\n",
           bin, menu_users, seconds, n_notes, pairs);
    printf("| run | menu steps | menu p50 ms | menu p99 ms | steps during the notes | their p99 ms "
           "| notes | voice p50 ms | voice p99 ms | voice max ms |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    double qp50[50], qp99[50], lp50[50], lp99[50], bp99[50], v50[50], v99[50], vmax[50];
    for (int p = 0; p < pairs; p++) {
        for (int loaded = 0; loaded < 2; loaded++) {
            run_result r = run(ft, walk, notes, menu_users, loaded ? n_notes : 0, seconds);
            if (!r.ok)
                goto out;
            if (loaded) {
                lp50[p] = r.menu_p50;
                lp99[p] = r.menu_p99;
                v50[p] = r.voice_p50;
                v99[p] = r.voice_p99;
                vmax[p] = r.voice_max;
                bp99[p] = r.burst_p99;
                printf("| loaded %d | %zu | %.1f | %.1f | %zu | %.1f | %d | %.0f | %.0f | %.0f |\n",
                       p + 1, r.menu_steps, r.menu_p50, r.menu_p99, r.burst_steps, r.burst_p99,
                       r.notes_answered, r.voice_p50, r.voice_p99, r.voice_max);
            } else {
                qp50[p] = r.menu_p50;
                qp99[p] = r.menu_p99;
                printf("| quiet %d | %zu | %.1f | %.1f | - | - | - | - | - | - |\n", p + 1, r.menu_steps,
                       r.menu_p50, r.menu_p99);
            }
            fflush(stdout);
        }
    }
    double q99 = median(qp99, pairs), l99 = median(lp99, pairs);
    printf("\nmedians: quiet menu p50 %.1f ms, p99 %.1f ms; loaded menu p50 %.1f ms, p99 %.1f ms; "
           "ratio of p99 %.2f (target <= 1.5: %s)\n",
           median(qp50, pairs), q99, median(lp50, pairs), l99, q99 > 0 ? l99 / q99 : -1,
           q99 > 0 && l99 / q99 <= 1.5 ? "holds" : "missed");
    printf("menu steps answered while the notes were in flight: p99 %.1f ms (median), %.2f x the "
           "quiet p99\n", median(bp99, pairs), q99 > 0 ? median(bp99, pairs) / q99 : -1);
    printf("voice notes, update -> answer: p50 %.0f ms, p99 %.0f ms, max %.0f ms (medians over "
           "the loaded runs)\n",
           median(v50, pairs), median(v99, pairs), median(vmax, pairs));
    rc = 0;
out:
    bot_down(&b, rc != 0);
    fake_tg_free(ft);
    for (int i = 0; i < N_NOTE_FILES; i++)
        free(g_files[i].data);
    return rc;
}
