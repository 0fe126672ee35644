/*
 * main.c — `fake_tg`: the fake Telegram Bot API as a standalone server, for
 * manual runs and benchmarks. Prints every call it answers to stderr.
 *
 *   bin/fake_tg [--port N] [--token T] [--schema PATH] [--any-chat] [--quiet]
 *
 * Then point a bot at it:
 *   TELEGRAM_API_BASE=http://127.0.0.1:N TELEGRAM_BOT_TOKEN=T bin/rental
 *
 * Lines on stdin play users (user ids are also chat ids):
 *   text ID LANG TEXT...     a text message (LANG e.g. en, ru; "-" for none)
 *   contact ID PHONE         the user's own contact
 *   tap ID MSG_ID DATA       an inline button press on bot message MSG_ID
 *   calls                    the number of calls so far
 * Serves until SIGINT/SIGTERM (EOF on stdin only stops the reading).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_tg.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fake_tg [--port N] [--token T] [--schema PATH] [--any-chat] [--quiet]\n"
               "stdin: text ID LANG TEXT... | contact ID PHONE | tap ID MSG_ID DATA | calls\n");
}

static void play(fake_tg *ft, char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    char verb[16] = "";
    long long id = 0;
    int off = 0;
    if (sscanf(line, "%15s %lld %n", verb, &id, &off) < 1) return;
    char *rest = line + off;
    fake_tg_user u = { .id = id, .first_name = "Tester" };
    if (!strcmp(verb, "calls")) {
        printf("%" PRIu64 " calls\n", fake_tg_ncalls(ft));
    } else if (!strcmp(verb, "text") && off) {
        char lang[16] = "";
        int n = 0;
        if (sscanf(rest, "%15s %n", lang, &n) < 1) return;
        u.language_code = strcmp(lang, "-") ? lang : NULL;
        printf("update %" PRId64 "\n", fake_tg_push_text(ft, &u, rest + n));
    } else if (!strcmp(verb, "contact") && off) {
        printf("update %" PRId64 "\n", fake_tg_push_contact(ft, &u, rest, true));
    } else if (!strcmp(verb, "tap") && off) {
        long long mid = 0;
        int n = 0;
        if (sscanf(rest, "%lld %n", &mid, &n) < 1) return;
        int64_t r = fake_tg_push_callback(ft, &u, mid, rest + n, NULL, 0);
        if (r < 0)
            printf("no bot message %lld in chat %lld\n", mid, id);
        else
            printf("update %" PRId64 "\n", r);
    } else {
        usage(stdout);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    fake_tg_opts o = { .verbose = true };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--port") && val) {
            o.port = (uint16_t)atoi(val);
            i++;
        } else if (!strcmp(a, "--token") && val) {
            o.token = val;
            i++;
        } else if (!strcmp(a, "--schema") && val) {
            o.schema_path = val;
            i++;
        } else if (!strcmp(a, "--any-chat")) {
            o.allow_unknown_chats = true;
        } else if (!strcmp(a, "--quiet")) {
            o.verbose = false;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    char err[256];
    fake_tg *ft = fake_tg_new(&o, err, sizeof err);
    if (!ft) {
        fprintf(stderr, "fake_tg: %s\n", err);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char base[64];
    fake_tg_base_url(ft, base, sizeof base);
    printf("TELEGRAM_API_BASE=%s TELEGRAM_BOT_TOKEN=%s\n", base, fake_tg_token(ft));
    fflush(stdout);

    char line[8192];
    bool stdin_open = true;
    while (!g_stop) {
        if (stdin_open) {
            if (fgets(line, sizeof line, stdin))
                play(ft, line);
            else
                stdin_open = false; /* keep serving until a signal */
        } else {
            pause();
        }
    }
    fake_tg_free(ft);
    return 0;
}
