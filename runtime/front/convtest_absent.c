/*
 * convtest_absent.c — ct_main in the production bin/<bot>: the
 * conversation-test runner (convtest.c, and libyaml with it) is linked
 * into the test build bin/<bot>-test only, so `--test` here names that
 * binary instead of running anything.
 */
#include "front/convtest.h"

#include <stdio.h>

int ct_main(const bm_machine *m, int argc, char **argv)
{
    const char *argv0 = argv[0]; /* botmain.c calls it with argv[1] == "--test" */
    fprintf(stderr,
            "%s: --test: this is the production bot, built without conversation tests.\n"
            "Run them with its test build: %s-test --test FILE.yaml...\n"
            "(or botc test SPEC_DIR, which runs that; make builds both)\n",
            argv0, argv0);
    return 2;
}
