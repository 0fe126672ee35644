/*
 * lua_front.h — the Lua front-end: a spec in Lua → node tree (node.h).
 *
 * The file runs in an embedded Lua 5.4 sandbox: base functions without
 * dofile/loadfile/load/collectgarbage (print writes to stderr), plus the
 * string (no string.dump), table, math and utf8 libraries; no io, os,
 * package or debug. Memory is capped at 64 MiB and execution at a budget of
 * VM instructions ("spec runs too long"). math.random is seeded with 0 so a
 * spec gives the same machine every time.
 *
 * The chunk must return a table. A table whose keys are exactly 1..n is a
 * list; any other table is a map whose keys must be strings. Lua tables are
 * unordered, so map keys come out sorted (byte order); where order matters
 * a spec writes a list of entries with `name = "..."`.
 *
 * Lua values carry no source positions, so each node is located
 * heuristically in the source text: a map entry at its `key =` (or
 * `["key"] =`) inside the parent's table constructor, a list item at the
 * n-th positional field of the constructor, an item built by code at its
 * `name = "X"` field; failing that, at the parent's position.
 */
#ifndef BOTC_LUA_FRONT_H
#define BOTC_LUA_FRONT_H

#include <stddef.h>

#include "arena.h"
#include "diag.h"
#include "node.h"

/* Run `source` (len bytes) named `chunkname` (the path, for Lua's own
 * messages). Returns the root node (in arena `a`), or NULL after reporting
 * why into `d`: a Lua syntax or runtime error (at Lua's reported line), a
 * result that is not a table, or an exhausted memory/instruction budget.
 * Values that cannot be converted are reported too, but still yield a tree. */
node *lua_front_parse(arena *a, diag_list *d, const char *source, size_t len,
                      const char *chunkname);

#endif
