/*
 * node.c — helpers over the document tree (node.h).
 */
#include "node.h"

#include <string.h>

node *node_get(const node *map, const char *key)
{
    if (!map || map->kind != NODE_MAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

const char *node_kind_name(node_kind k)
{
    switch (k) {
    case NODE_NULL: return "null";
    case NODE_STR: return "string";
    case NODE_NUM: return "number";
    case NODE_BOOL: return "boolean";
    case NODE_SEQ: return "list";
    case NODE_MAP: return "map";
    }
    return "?";
}
