/*
 * spec_diff.h — what changes for live users between two versions of a spec.
 *
 * Lists states, form fields and commands added, removed and renamed (a state
 * is renamed when the new spec names the old one in `renamed_from:`, merged
 * when that state existed before too; moved when `moved:` sends its users
 * elsewhere). Without a database, a removed state with no destination is
 * only listed: its users (if any) would restart from the start state. With
 * a database (the runtime's store, see runtime/storage/store.h), a removed state
 * that holds users and has no destination is a blocking problem, and users
 * in the middle of a form at a removed field are counted (the runtime
 * drops such a form when it loads them: they stay in their state and no
 * record is stored).
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
