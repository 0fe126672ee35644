/*
 * convtest.h — conversation tests as data: run YAML transcripts
 * (spec/<bot>/tests/NAME.yaml, format in spec/REFERENCE.md "Conversation
 * tests") against a machine in-process, over an in-memory store, with no
 * network, and measure which states and transitions they exercised.
 *
 * A bot's test build, bin/<bot>-test, runs them with `--test FILE...`
 * (botmain.c calls ct_main); `botc test SPEC` finds that binary and the
 * spec's tests and runs it. The production bin/<bot> links
 * convtest_absent.c instead, so it carries neither this runner nor libyaml.
 *
 * A failure prints `FILE:LINE: what: expected ..., got ...` (with a small
 * unified-style diff for texts and keyboards) and ends that transcript;
 * the next file starts afresh (a new user in a new database).
 */
#ifndef BOTC_CONVTEST_H
#define BOTC_CONVTEST_H

#include <stdio.h>

#include "dialogue/machine.h"

/* Coverage and pass/fail counts over the transcripts of one machine. */
typedef struct ct_run ct_run;

/* NULL on out-of-memory. `m` is borrowed and must outlive the run. */
ct_run *ct_new(const bm_machine *m);
void ct_free(ct_run *r);

/* Run the transcript at `path`, printing `PASS path (N steps)` or the
 * failure and `FAIL path` to out. Returns 0 when it passed, 1 when not
 * (a mismatch, an unreadable or malformed file, a bot failure). */
int ct_run_file(ct_run *r, const char *path, FILE *out);

/* Print the coverage of every transcript run so far: the counts, then the
 * states, buttons and other transitions no transcript exercised, by name.
 * Returns 1 when states or transitions are below the given percentages
 * (0 = no threshold; the shortfall is printed), else 0. */
int ct_report(const ct_run *r, FILE *out, double min_states, double min_transitions);

void ct_counts(const ct_run *r, int *passed, int *failed);

/* The `--test` mode: argv as main got it, `PROGRAM --test [--min-states P]
 * [--min-transitions P] FILE...`. Prints per-file results, the coverage
 * and `N passed, M failed` to stdout. Returns 0 when every file passed and
 * coverage met the thresholds, 1 otherwise, 2 on a usage error. Defined
 * twice, and a bot links one of them (the Makefile's BOT_BUILD): here, in
 * bin/<bot>-test; in convtest_absent.c, in bin/<bot>, where it names the
 * test build and returns 2. */
int ct_main(const bm_machine *m, int argc, char **argv);

#endif
