/*
 * botmain.c — see botmain.h.
 */
#include "botmain.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bot.h"
#include "console.h"
#include "log.h"
#include "tgbot.h"

#define ENV_LINE_MAX 4096

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f, const bm_machine *m, const char *argv0)
{
    fprintf(f,
            "usage: %s [--help]\n"
            "\n"
            "Runs the %s bot: on Telegram when TELEGRAM_BOT_TOKEN is set, else in\n"
            "this terminal (type a button's number to press it, /quit to leave).\n"
            "Settings come from the environment and an optional ./.env file\n"
            "(KEY=VALUE lines; variables already set take precedence).\n"
            "\n"
            "Environment:\n"
            "  TELEGRAM_BOT_TOKEN  Bot API token; unset = console mode\n"
            "  TELEGRAM_API_BASE   Bot API base URL (default https://api.telegram.org)\n"
            "  BOT_DB              SQLite database (default var/%s.db)\n"
            "  BOT_LOG_LEVEL       debug, info, warn or error (default info)\n"
            "  BOT_CONSOLE_LANG    console user's language (default: from $LANG)\n"
            "  BOT_CONSOLE_PHONE   number /contact shares in the console\n"
            "                      (default +15550100000)\n"
            "\n"
            "Exit status: 0 clean stop, 1 runtime failure, 2 usage or configuration.\n",
            argv0, m->name, m->name);
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
    signal(SIGPIPE, SIG_IGN);

    int rc;
    if (telegram) {
        bm_effects pending;
        bm_effects_init(&pending);
        if (bot_migrate(b, &pending) < 0) {
            rc = 1;
        } else {
            log_info("main", "%s: serving Telegram (database %s)", m->name, db);
            rc = tgbot_run(b, &pending, &g_stop);
            rc = rc == 0 ? 0 : rc == 2 ? 2 : 1;
        }
        bm_effects_free(&pending);
    } else {
        log_info("main", "%s: no TELEGRAM_BOT_TOKEN, running in the console (database %s)",
                 m->name, db);
        rc = console_run(b, stdin, stdout, &g_stop) == 0 ? 0 : 1;
    }
    bot_free(b);
    if (g_stop)
        log_info("main", "stopped by signal");
    return rc;
}
