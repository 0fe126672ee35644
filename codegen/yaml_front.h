/*
 * yaml_front.h — the YAML front-end: a spec in YAML → node tree (node.h).
 *
 * Built on libyaml's event API so every node and every map key keeps its
 * line and column (1-based, column in UTF-8 code points). Map keys stay in
 * written order, duplicates included (check.c reports them). Aliases are
 * resolved by reference; a second document is an error.
 */
#ifndef BOTC_YAML_FRONT_H
#define BOTC_YAML_FRONT_H

#include <stddef.h>

#include "arena.h"
#include "diag.h"
#include "node.h"

/* Parse `source` (len bytes). Returns the root node (in arena `a`), or NULL
 * after reporting why into `d` (syntax error, empty or multi-document). */
node *yaml_front_parse(arena *a, diag_list *d, const char *source, size_t len);

#endif
