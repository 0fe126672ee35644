/*
 * botmain.h — the program around a generated machine. <bot>_main.c is
 *
 *   int main(int argc, char **argv) { return botmain_run(&<bot>_machine, argc, argv); }
 *
 * botmain_run reads ./.env (KEY=VALUE lines; variables already set win),
 * configures logging, opens the database (BOT_DB, default var/<bot>.db),
 * migrates users whose state vanished, then serves Telegram when
 * TELEGRAM_BOT_TOKEN is set and the console otherwise, until SIGINT/SIGTERM
 * or the end of console input.
 *
 * SIGHUP reloads (scripts/run-dev.sh sends it after rebuilding the bot):
 * the console finishes the line being read and prints "(spec reloaded)",
 * Telegram serving stops as on SIGTERM; then the database is closed and the
 * process executes its binary again by path, same argv — the rebuilt one —
 * which migrates users of vanished states at start as usual. Input not yet
 * read stays for the new process (console.h). If the exec fails, the same
 * binary goes on serving.
 *
 * `<bot>-test --test [--min-states P] [--min-transitions P] FILE.yaml...`
 * runs conversation tests instead (convtest.h: in-process, no network) and
 * exits 0 when all passed and coverage met the thresholds, 1 otherwise.
 * Only the test build bin/<bot>-test has them; the production bin/<bot>
 * answers `--test` with the name of that build and exit status 2.
 *
 * Exit codes: 0 clean stop, 1 runtime failure, 2 usage or configuration.
 */
#ifndef BOTC_BOTMAIN_H
#define BOTC_BOTMAIN_H

#include "dialogue/machine.h"

int botmain_run(const bm_machine *m, int argc, char **argv);

/* Load KEY=VALUE lines from path into the environment without overriding
 * variables already set. Blank lines and '#' comments are skipped; an
 * optional `export ` prefix and single or double quotes around the value
 * are accepted. Returns the number of variables set, 0 when the file does
 * not exist, -1 when it cannot be read. */
int botmain_load_env(const char *path);

#endif
