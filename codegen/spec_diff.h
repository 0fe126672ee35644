/*
 * spec_diff.h — what changes for live users between two versions of a spec.
 *
 * Lists states, form fields and commands added, removed and renamed (a state
 * is renamed when the new spec names the old one in `renamed_from:`; moved
 * when `moved:` sends its users elsewhere). A removed state without such a
 * destination strands its users on the next start only in the sense that
 * they restart from the start state; when a database is given, a removed
 * state that still holds users and has no declared destination is a
 * blocking problem.
 */
#ifndef BOTC_SPEC_DIFF_H
#define BOTC_SPEC_DIFF_H

#include <stdio.h>

#include "ir.h"

/* Write the report to `out`. `db_path` may be NULL (no user counts).
 * Returns the number of blocking problems (0 = safe to deploy), or -1 when
 * the database cannot be read (the reason is written to `out`). */
int spec_diff(const ir_spec *old_spec, const ir_spec *new_spec,
              const char *db_path, FILE *out);

#endif
