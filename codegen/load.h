/*
 * load.h — read a spec file and run the front half of botc on it:
 * front-end (by extension: .yaml/.yml → yaml_front, .lua → lua_front),
 * build_spec, check_spec.
 */
#ifndef BOTC_LOAD_H
#define BOTC_LOAD_H

#include "arena.h"
#include "diag.h"
#include "ir.h"

/* Load and check `path`. *diags is always set: a new list the caller frees
 * with diag_free (it holds its own copy of the path and the source).
 * Returns the checked IR (in arena `a`), or NULL when no tree could be
 * built (unreadable file, unknown extension, syntax or Lua error). A
 * non-NULL result may still carry errors: see diag_errors(*diags). */
ir_spec *load_spec(arena *a, const char *path, diag_list **diags);

#endif
