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

/* The same for a spec already in memory: src[0..len) followed by a NUL
 * (borrowed; the language is told by `path`'s extension, as above). The
 * fuzz target of the front-ends (tests/fuzz/spec.c) feeds it bytes. */
ir_spec *load_spec_text(arena *a, const char *path, const char *src, size_t len,
                        diag_list **diags);

#endif
