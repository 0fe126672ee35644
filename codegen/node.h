/*
 * node.h — the document tree both front-ends produce.
 *
 * yaml_front.c (libyaml) and lua_front.c (a sandboxed Lua 5.4 table) each
 * turn a spec file into this tree; build.c turns the tree into the IR. So
 * the two spec languages share one schema, one set of messages, one IR.
 *
 * Scalars are kept as text exactly as written (YAML plain scalars; Lua
 * numbers formatted with %.17g and integers with %lld; booleans as
 * "true"/"false" with NODE_BOOL). Maps keep the order of their keys as
 * written (YAML) or sorted by key (Lua tables that are not sequences).
 */
#ifndef BOTC_NODE_H
#define BOTC_NODE_H

#include "diag.h"

typedef enum node_kind {
    NODE_NULL = 0, /* YAML ~ / empty, Lua nil (never in tables) */
    NODE_STR,
    NODE_NUM,
    NODE_BOOL,
    NODE_SEQ,
    NODE_MAP,
} node_kind;

typedef struct node node;

struct node {
    node_kind kind;
    src_pos pos;      /* where the value starts */
    const char *str;  /* STR/NUM/BOOL: the text; else NULL */
    int n;            /* SEQ: items; MAP: pairs */
    node **items;     /* SEQ: [n] values; MAP: [n] values */
    const char **keys; /* MAP: [n] keys */
    src_pos *key_pos; /* MAP: [n] where each key is written */
};

/* Value of `key` in a MAP node, or NULL. */
node *node_get(const node *map, const char *key);
const char *node_kind_name(node_kind k); /* "string", "list", ... */

#endif
