/*
 * botmain.c — see botmain.h.
 */
#include "front/botmain.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dialogue/bot.h"
#include "front/console.h"
#include "front/convtest.h"
#include "base/log.h"
#include "delivery/tgbot.h"

#define ENV_LINE_MAX 4096

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    /* SIGHUP asks for a reload (scripts/run-dev.sh sends it after a
     * rebuild); a stop asked for by SIGINT/SIGTERM wins over it */
    if (sig != SIGHUP)
        g_stop = CONSOLE_STOP;
    else if (!g_stop)
        g_stop = CONSOLE_RELOAD;
}

/* Replace this process with the binary it was started from, same argv (a
 * reload). The linker writes a new file rather than into the running one,
 * so /proc/self/exe names the old image, "PATH (deleted)": exec PATH.
 * SIGHUP stays blocked across the exec until the new process has its
 * handler, so a second reload asked for meanwhile waits instead of killing
 * it. Returns only when the exec failed (logged). */
static void reexec(char **argv)
{
    static const char deleted[] = " (deleted)";
    char self[4096];
    if (!argv || !argv[0]) {
        log_error("main", "reload failed: no argv[0] to execute again");
        return;
    }
    const char *path = argv[0];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        size_t dl = sizeof deleted - 1;
        if ((size_t)n > dl && !strcmp(self + n - dl, deleted))
            self[n - dl] = '\0';
        path = self;
    }
    sigset_t hup, old;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, &old);
    log_info("main", "reloading: executing %s", path);
    fflush(stdout);
    fflush(stderr);
    execvp(path, argv);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    log_error("main", "reload failed: cannot execute %s: %s", path, strerror(e));
}

static void usage(FILE *f, const bm_machine *m, const char *argv0)
{
    fprintf(f,
            "usage: %s [--help]\n"
            "       %s --test [--min-states PCT] [--min-transitions PCT] FILE.yaml...\n"
            "\n"
            "Runs the %s bot: on Telegram when TELEGRAM_BOT_TOKEN is set, else in\n"
            "this terminal (type a button's number to press it, /quit to leave).\n"
            "Settings come from the environment and an optional ./.env file\n"
            "(KEY=VALUE lines; variables already set take precedence).\n"
            "\n"
            "Environment:\n"
            "  TELEGRAM_BOT_TOKEN  Bot API token; unset = console mode\n"
            "  TELEGRAM_API_BASE   Bot API base URL (default https://api.telegram.org)\n"
            "  WEBHOOK_URL         https URL Telegram POSTs updates to; set = webhook\n"
            "                      mode instead of long polling\n"
            "  WEBHOOK_LISTEN      host:port the webhook server binds (default\n"
            "                      127.0.0.1:8080; TLS is a reverse proxy's job)\n"
            "  WEBHOOK_SECRET      secret_token (default: random at every start)\n"
            "  TELEGRAM_RATE_GLOBAL, TELEGRAM_RATE_CHAT, TELEGRAM_RATE_CHAT_BURST,\n"
            "  TELEGRAM_RATE_GROUP_PER_MIN\n"
            "                      flood limits (default 30/s, 1/s, 3, 20/min; 0 = off)\n"
            "  BOT_HTTP_GET_URL    what the http_get action asks (unset = unavailable)\n"
            "  BOT_DB              SQLite database (default var/%s.db)\n"
            "  BOT_LOG_LEVEL       debug, info, warn or error (default info)\n"
            "  BOT_CONSOLE_LANG    console user's language (default: from $LANG)\n"
            "  BOT_CONSOLE_PHONE   number /contact shares in the console\n"
            "                      (default +15550100000)\n"
            "\n"
            "--test runs conversation tests (spec/%s/tests/*.yaml) in-process, with\n"
            "no network, and prints their coverage; exit 0 all passed, 1 not. Only the\n"
            "test build has it (%s-test; `botc test` runs it), not the production bot.\n"
            "\n"
            "SIGINT/SIGTERM stop the bot; SIGHUP restarts it from its binary (rebuilt\n"
            "by `make run` when the spec changes), every user keeping their state.\n"
            "\n"
            "Exit status: 0 clean stop, 1 runtime failure, 2 usage or configuration.\n",
            argv0, argv0, m->name, m->name, m->name, m->name);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int botmain_load_env(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[ENV_LINE_MAX];
    int set = 0;
    while (fgets(line, sizeof line, f)) {
        char *l = trim(line);
        if (!*l || *l == '#')
            continue;
        if (!strncmp(l, "export ", 7))
            l = trim(l + 7);
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *key = trim(l);
        char *val = trim(eq + 1);
        size_t vn = strlen(val);
        if (vn >= 2 && (val[0] == '"' || val[0] == '\'') && val[vn - 1] == val[0]) {
            val[vn - 1] = '\0';
            val++;
        }
        if (!*key || getenv(key))
            continue;
        if (setenv(key, val, 0) == 0)
            set++;
    }
    fclose(f);
    return set;
}

int botmain_run(const bm_machine *m, int argc, char **argv)
{
    const char *argv0 = argc > 0 ? argv[0] : m->name;
    if (argc > 1 && !strcmp(argv[1], "--test"))
        return ct_main(m, argc, argv);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, m, argv0);
            return 0;
        }
        fprintf(stderr, "%s: unknown argument '%s'\n", argv0, argv[i]);
        usage(stderr, m, argv0);
        return 2;
    }
    if (botmain_load_env(".env") < 0) {
        fprintf(stderr, "%s: cannot read .env: %s\n", argv0, strerror(errno));
        return 2;
    }
    log_init_from_env();
    const char *token = getenv("TELEGRAM_BOT_TOKEN");
    bool telegram = token && *token;
    if (telegram)
        log_add_secret(token);

    char dbdef[256];
    const char *db = getenv("BOT_DB");
    if (!db || !*db) {
        if (mkdir("var", 0755) && errno != EEXIST) {
            log_error("main", "cannot create var/: %s", strerror(errno));
            return 2;
        }
        snprintf(dbdef, sizeof dbdef, "var/%s.db", m->name);
        db = dbdef;
    }
    char err[512];
    bot *b = bot_new(m, db, err, sizeof err);
    if (!b) {
        log_error("main", "%s", err);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking read returns on a signal */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* a reload blocked SIGHUP across its exec (reexec); take it now */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &hup, NULL);

    int rc;
    for (;;) {
        bool stopped = false; /* serving ended on g_stop, not /quit or end of input */
        if (telegram) {
            bm_effects pending;
            bm_effects_init(&pending);
            if (bot_migrate(b, &pending) < 0) {
                rc = 1;
            } else {
                log_info("main", "%s: serving Telegram (database %s)", m->name, db);
                rc = tgbot_run(b, &pending, &g_stop);
                rc = rc == 0 ? 0 : rc == 2 ? 2 : 1;
                stopped = g_stop != 0;
            }
            bm_effects_free(&pending);
        } else {
            log_info("main", "%s: no TELEGRAM_BOT_TOKEN, running in the console (database %s)",
                     m->name, db);
            int c = console_run(b, stdin, stdout, &g_stop);
            rc = c < 0 ? 1 : 0;
            stopped = c == 1;
        }
        bot_free(b); /* the store is closed before the new binary opens it */
        if (!stopped || rc != 0 || g_stop != CONSOLE_RELOAD)
            break;
        if (!telegram) {
            fputs("(spec reloaded)\n", stdout);
            fflush(stdout);
        }
        reexec(argv); /* returns only when it failed: serve on with this binary */
        if (!telegram)
            fputs("(reload failed; still running the previous bot)\n", stdout);
        g_stop = 0;
        b = bot_new(m, db, err, sizeof err);
        if (!b) {
            log_error("main", "%s", err);
            return 1;
        }
    }
    if (g_stop)
        log_info("main", "stopped by signal");
    return rc;
}
