/*
 * build.h — node tree → IR (ir.h), following the spec language of spec/REFERENCE.md.
 *
 * Schema errors (unknown key with a did-you-mean, wrong type, missing
 * required key) go to the diagnostics list; building goes on after each so
 * one run reports everything. Names stay unresolved (check.c resolves
 * them). Collections (texts, commands, states, forms, form fields) may be
 * a map name → body or a list of bodies each with `name:` (the ordered
 * form Lua specs need).
 */
#ifndef BOTC_BUILD_H
#define BOTC_BUILD_H

#include "arena.h"
#include "diag.h"
#include "ir.h"
#include "node.h"

/* The IR of `root` (in arena `a`, never NULL); `path` as given. */
ir_spec *build_spec(arena *a, diag_list *d, const node *root, const char *path);

/* The candidate closest to `word` by edit distance, when close enough to
 * be a likely typo; else NULL. Shared by check.c for names. */
const char *build_suggest(const char *word, const char *const *cands, int n);

#endif
