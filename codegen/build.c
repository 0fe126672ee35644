/*
 * build.c — walk the node tree and fill the IR, reporting schema errors.
 *
 * Inline texts ({en: ..., ru: ...} written where a text is expected) are
 * appended to spec->texts named after their place: "main.say.0",
 * "main.keyboard.1.0.text", "command.help.description",
 * "form.booking.days.ask", ...
 */
#include "build.h"
#include "strbuf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bld {
    arena *a;
    diag_list *d;
    ir_spec *s;
    int texts_cap;
} bld;

static const src_pos BL_NOWHERE = { 0, 0 };

/* ---- did you mean ------------------------------------------------------ */

static int bl_distance(const char *x, const char *y)
{
    size_t n = strlen(x), m = strlen(y);
    if (n > 64 || m > 64)
        return 1000;
    /* Optimal string alignment: a swap of two neighbours ("mian") costs 1. */
    int dist[65][65];
    for (size_t i = 0; i <= n; i++)
        dist[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        dist[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int best = dist[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1);
            if (dist[i - 1][j] + 1 < best)
                best = dist[i - 1][j] + 1;
            if (dist[i][j - 1] + 1 < best)
                best = dist[i][j - 1] + 1;
            if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] &&
                dist[i - 2][j - 2] + 1 < best)
                best = dist[i - 2][j - 2] + 1;
            dist[i][j] = best;
        }
    }
    return dist[n][m];
}

const char *build_suggest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int best_d = 1000;
    int limit = (int)strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    for (int i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], word) == 0)
            continue;
        int dist = bl_distance(word, cands[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

/* ---- helpers ------------------------------------------------------------ */

static int bl_is_map(const node *n)
{
    /* An empty Lua table reads as an empty list; accept it as a map. */
    return n && (n->kind == NODE_MAP || (n->kind == NODE_SEQ && n->n == 0));
}

static int bl_in(const char *key, const char *const *allowed)
{
    for (int i = 0; allowed[i]; i++)
        if (strcmp(key, allowed[i]) == 0)
            return 1;
    return 0;
}

/* Report unknown keys (with a suggestion) and duplicate keys of `map`. */
static void bl_keys(bld *b, const node *map, const char *const *allowed, const char *what)
{
    if (!map || map->kind != NODE_MAP)
        return;
    int n_allowed = 0;
    while (allowed[n_allowed])
        n_allowed++;
    for (int i = 0; i < map->n; i++) {
        const char *k = map->keys[i];
        if (!bl_in(k, allowed)) {
            const char *sug = build_suggest(k, allowed, n_allowed);
            char hint[256];
            if (sug) {
                snprintf(hint, sizeof hint, "did you mean '%s'?", sug);
            } else {
                size_t off = (size_t)snprintf(hint, sizeof hint, "expected one of:");
                for (int j = 0; j < n_allowed && off < sizeof hint; j++)
                    off += (size_t)snprintf(hint + off, sizeof hint - off, "%s %s",
                                            j ? "," : "", allowed[j]);
            }
            diag_error(b->d, map->key_pos[i], hint, "unknown key '%s' in %s", k, what);
            continue;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(map->keys[j], k) == 0) {
                char hint[64];
                snprintf(hint, sizeof hint, "first written at line %u", map->key_pos[j].line);
                diag_error(b->d, map->key_pos[i], hint, "duplicate key '%s' in %s", k, what);
                break;
            }
        }
    }
}

static void bl_type_error(bld *b, const node *n, const char *expected, const char *hint)
{
    diag_error(b->d, n->pos, hint, "expected %s, got %s%s", expected,
               n->kind == NODE_NULL ? "" : "a ", n->kind == NODE_NULL ? "nothing"
                                                                       : node_kind_name(n->kind));
}

/* A scalar as a string (strings only unless `any_scalar`), or NULL after an
 * error. */
static const char *bl_str(bld *b, const node *n, const char *expected, int any_scalar)
{
    if (!n)
        return NULL;
    if (n->kind == NODE_STR || (any_scalar && (n->kind == NODE_NUM || n->kind == NODE_BOOL)))
        return n->str;
    bl_type_error(b, n, expected, NULL);
    return NULL;
}

static int bl_true(bld *b, const node *n, const char *key)
{
    if (n->kind == NODE_BOOL)
        return strcmp(n->str, "true") == 0;
    diag_error(b->d, n->pos, NULL, "expected `%s: true`, got %s%s", key,
               n->kind == NODE_NULL ? "" : "a ",
               n->kind == NODE_NULL ? "nothing" : node_kind_name(n->kind));
    return 0;
}

static ir_text *bl_new_text(bld *b)
{
    ir_spec *s = b->s;
    if (s->n_texts == b->texts_cap) {
        int cap = b->texts_cap ? b->texts_cap * 2 : 16;
        ir_text *v = ARENA_ARRAY(b->a, ir_text, cap);
        if (s->n_texts)
            memcpy(v, s->texts, sizeof *v * (size_t)s->n_texts);
        s->texts = v;
        b->texts_cap = cap;
    }
    return &s->texts[s->n_texts++];
}

/* Translations of a text body: a map language → string. */
static void bl_translations(bld *b, ir_text *t, const node *body, const char *skip)
{
    t->trs = ARENA_ARRAY(b->a, ir_tr, body->n ? body->n : 1);
    for (int i = 0; i < body->n; i++) {
        if (skip && strcmp(body->keys[i], skip) == 0)
            continue;
        const node *v = body->items[i];
        const char *str = bl_str(b, v, "the text in this language", 1);
        if (!str)
            continue;
        ir_tr *tr = &t->trs[t->n_trs++];
        tr->lang = body->keys[i];
        tr->lang_pos = body->key_pos[i];
        tr->value = str;
        tr->pos = v->pos;
    }
}

/* textref -> text-name | {lang: string, ...} */
static ir_textref bl_textref(bld *b, const node *n, const char *place)
{
    ir_textref r = { NULL, BL_NOWHERE, -1 };
    if (!n)
        return r;
    r.pos = n->pos;
    if (n->kind == NODE_STR) {
        r.key = n->str;
    } else if (n->kind == NODE_MAP) {
        ir_text *t = bl_new_text(b);
        t->name = place;
        t->pos = n->pos;
        t->is_inline = true;
        bl_translations(b, t, n, NULL);
        r.key = place;
    } else {
        bl_type_error(b, n, "a text name or a {language: text} map",
                      "a text is the name of an entry under texts:, or written in place as {en: \"...\"}");
    }
    return r;
}


/* transition -> {set?, say?, action?, form?, goto?} (other keys: caller's) */
static void bl_transition(bld *b, const node *map, ir_transition *tr, const char *place)
{
    memset(tr, 0, sizeof *tr);
    tr->say.idx = -1;
    tr->go_idx = tr->form_idx = -1;
    tr->action_id = 0;
    if (!map || map->kind != NODE_MAP)
        return;
    tr->pos = map->pos;
    for (int i = 0; i < map->n; i++) {
        const char *k = map->keys[i];
        const node *v = map->items[i];
        if (strcmp(k, "say") == 0) {
            tr->say = bl_textref(b, v, arena_printf(b->a, "%s.say", place));
        } else if (strcmp(k, "goto") == 0) {
            if ((tr->go = bl_str(b, v, "a state name", 0)))
                tr->go_pos = v->pos;
        } else if (strcmp(k, "form") == 0) {
            if ((tr->form = bl_str(b, v, "a form name", 0)))
                tr->form_pos = v->pos;
        } else if (strcmp(k, "action") == 0) {
            if ((tr->action = bl_str(b, v, "an action name", 0)))
                tr->action_pos = v->pos;
        } else if (strcmp(k, "set") == 0) {
            if (!bl_is_map(v)) {
                bl_type_error(b, v, "a map of variable: value", NULL);
                continue;
            }
            /* a second set: (a duplicate key, which check.c reports) adds
             * to the first: the array grows, never written past its end */
            ir_assign *grown = ARENA_ARRAY(b->a, ir_assign, tr->n_set + (v->n ? v->n : 1));
            if (tr->n_set)
                memcpy(grown, tr->set, (size_t)tr->n_set * sizeof *grown);
            tr->set = grown;
            for (int j = 0; j < v->n; j++) {
                const node *val = v->items[j];
                const char *str = val->kind == NODE_NULL ? "" : bl_str(b, val, "a value", 1);
                if (!str)
                    continue;
                ir_assign *as = &tr->set[tr->n_set++];
                as->var = v->keys[j];
                as->pos = v->key_pos[j];
                as->value = str;
                as->var_idx = -1;
            }
        }
    }
}

bool ir_transition_present(const ir_transition *t)
{
    return t->n_set > 0 || t->say.key || t->go || t->form || t->action;
}

typedef void (*bl_entry_fn)(bld *b, const char *name, src_pos name_pos, const node *body,
                            int listed, int index);

/* collection -> {name: body, ...} | [{name: ..., ...}, ...] */
static void bl_collection(bld *b, const node *n, const char *what, bl_entry_fn fn)
{
    if (!n || n->kind == NODE_NULL)
        return;
    if (n->kind == NODE_MAP) {
        for (int i = 0; i < n->n; i++)
            fn(b, n->keys[i], n->key_pos[i], n->items[i], 0, i);
        return;
    }
    if (n->kind != NODE_SEQ) {
        char exp[96];
        snprintf(exp, sizeof exp, "a map of %s (or a list of them with name:)", what);
        bl_type_error(b, n, exp, NULL);
        return;
    }
    for (int i = 0; i < n->n; i++) {
        const node *it = n->items[i];
        if (it->kind != NODE_MAP) {
            char exp[96];
            snprintf(exp, sizeof exp, "an entry of %s with name:", what);
            bl_type_error(b, it, exp, NULL);
            continue;
        }
        const node *nm = node_get(it, "name");
        if (!nm) {
            diag_error(b->d, it->pos, "in a list, each entry names itself: name: ...",
                       "missing required key 'name' in an entry of %s", what);
            continue;
        }
        const char *name = bl_str(b, nm, "a name", 0);
        if (name)
            fn(b, name, nm->pos, it, 1, i);
    }
}

/* Copy of `allowed` plus "name" when the entry is in the listed form. */
static const char *const *bl_allowed(bld *b, const char *const *allowed, int listed)
{
    if (!listed)
        return allowed;
    int n = 0;
    while (allowed[n])
        n++;
    const char **v = ARENA_ARRAY(b->a, const char *, n + 2);
    memcpy(v, allowed, sizeof *v * (size_t)n);
    v[n] = "name";
    return v;
}

/* ---- sections ----------------------------------------------------------- */

static void bl_text_entry(bld *b, const char *name, src_pos pos, const node *body, int listed,
                          int index)
{
    ir_text *t = bl_new_text(b);
    t->name = name;
    t->pos = pos;
    if (!bl_is_map(body)) {
        bl_type_error(b, body, "a map of language: text", "e.g. {en: \"Hello\", ru: \"Привет\"}");
        return;
    }
    bl_translations(b, t, body, listed ? "name" : NULL);
    for (int i = 0; i < body->n; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(body->keys[i], body->keys[j]) == 0) {
                diag_error(b->d, body->key_pos[i], NULL, "duplicate translation '%s' of text '%s'",
                           body->keys[i], name);
                break;
            }
        }
    }
}

static void bl_command_entry(bld *b, const char *name, src_pos pos, const node *body,
                             int listed, int index)
{
    static const char *const keys[] = { "description", "set", "say", "action", "form", "goto", NULL };
    ir_command *c = &b->s->commands[b->s->n_commands++];
    c->name = name;
    c->pos = pos;
    c->description.idx = -1;
    bl_transition(b, NULL, &c->tr, "");
    if (!body || body->kind == NODE_NULL)
        return;
    if (!bl_is_map(body)) {
        bl_type_error(b, body, "a map with description:, goto:, ...", NULL);
        return;
    }
    bl_keys(b, body, bl_allowed(b, keys, listed), "a command");
    const char *place = arena_printf(b->a, "command.%s", name);
    c->description = bl_textref(b, node_get(body, "description"),
                                arena_printf(b->a, "%s.description", place));
    bl_transition(b, body, &c->tr, place);
}

static void bl_button(bld *b, const node *n, ir_button *btn, int is_inline, const char *place)
{
    static const char *const keys[] = { "text", "data", "url", "contact", "set", "say",
                                         "action", "form", "goto", NULL };
    btn->pos = n->pos;
    btn->kind = is_inline ? IR_BTN_CALLBACK : IR_BTN_REPLY;
    btn->label.idx = -1;
    bl_transition(b, NULL, &btn->tr, place);
    if (n->kind != NODE_MAP) {
        bl_type_error(b, n, "a button {text: ..., goto: ...}", NULL);
        return;
    }
    bl_keys(b, n, keys, "a button");
    const node *text = node_get(n, "text");
    if (!text)
        diag_error(b->d, n->pos, "a button shows a text: text: name", "button has no 'text'");
    else
        btn->label = bl_textref(b, text, arena_printf(b->a, "%s.text", place));
    bl_transition(b, n, &btn->tr, place);
    const node *v;
    if ((v = node_get(n, "data"))) {
        if (!is_inline)
            diag_error(b->d, v->pos, "a reply button sends its label; data: is for inline: buttons",
                       "'data' applies to inline buttons only");
        else if ((btn->data = bl_str(b, v, "callback data (a string)", 1)))
            btn->data_pos = v->pos;
    }
    if ((v = node_get(n, "url"))) {
        if (!is_inline) {
            diag_error(b->d, v->pos, "move this button under inline:",
                       "url buttons belong in an inline keyboard");
        } else if ((btn->url = bl_str(b, v, "a URL", 0))) {
            btn->url_pos = v->pos;
            btn->kind = IR_BTN_URL;
            if (ir_transition_present(&btn->tr))
                diag_error(b->d, v->pos, "a URL button opens the link; it cannot also move",
                           "url button cannot have a transition");
        }
    }
    if ((v = node_get(n, "contact"))) {
        if (is_inline)
            diag_error(b->d, v->pos, "move this button under keyboard:",
                       "contact buttons belong in a reply keyboard");
        else if (bl_true(b, v, "contact"))
            btn->kind = IR_BTN_CONTACT;
    }
}

/* keyboard -> remove | [[button, ...], ...] */
static void bl_keyboard(bld *b, const node *n, ir_keyboard *kb, int is_inline, const char *state)
{
    const char *kname = is_inline ? "inline" : "keyboard";
    kb->present = true;
    kb->pos = n->pos;
    if (n->kind == NODE_STR && strcmp(n->str, "remove") == 0) {
        kb->remove = true;
        return;
    }
    if (n->kind != NODE_SEQ) {
        bl_type_error(b, n, "a list of rows",
                      is_inline ? "a row is a list of buttons: - [ {text: t, goto: s} ]; "
                                  "or `remove`: the pressed message loses its buttons"
                                : "a row is a list of buttons: - [ {text: t, goto: s} ]; "
                                  "or `remove` to remove the keyboard");
        return;
    }
    kb->rows = ARENA_ARRAY(b->a, ir_row, n->n ? n->n : 1);
    kb->n_rows = n->n;
    for (int r = 0; r < n->n; r++) {
        const node *row = n->items[r];
        ir_row *ir = &kb->rows[r];
        ir->pos = row->pos;
        if (row->kind != NODE_SEQ) {
            bl_type_error(b, row, "a list of buttons", "wrap the row in [ ]: - [ {text: t, goto: s} ]");
            continue;
        }
        ir->buttons = ARENA_ARRAY(b->a, ir_button, row->n ? row->n : 1);
        ir->n_buttons = row->n;
        for (int c = 0; c < row->n; c++)
            bl_button(b, row->items[c], &ir->buttons[c], is_inline,
                      arena_printf(b->a, "%s.%s.%d.%d", state, kname, r, c));
    }
}

static void bl_on(bld *b, const node *n, ir_on *on, const char *place)
{
    static const char *const keys[] = { "command", "pattern", "text", "contact", "voice", "any",
                                        "set", "say", "action", "form", "goto", NULL };
    static const char *const triggers[] = { "command", "pattern", "text", "contact", "voice",
                                            "any", NULL };
    on->pos = n->pos;
    on->text.idx = -1;
    bl_transition(b, NULL, &on->tr, place);
    if (n->kind != NODE_MAP) {
        bl_type_error(b, n, "a trigger {command|pattern|text|contact|voice|any: ..., goto: ...}", NULL);
        return;
    }
    bl_keys(b, n, keys, "an on: entry");
    int found = -1;
    for (int i = 0; i < n->n; i++) {
        int t;
        for (t = 0; triggers[t]; t++)
            if (strcmp(n->keys[i], triggers[t]) == 0)
                break;
        if (!triggers[t])
            continue;
        if (found >= 0) {
            diag_error(b->d, n->key_pos[i], "split it into two entries",
                       "an on: entry has one trigger; this one has '%s' and '%s'",
                       n->keys[found], n->keys[i]);
            continue;
        }
        found = i;
        const node *v = n->items[i];
        on->trigger = (ir_trigger)t;
        on->arg_pos = v->pos;
        switch (on->trigger) {
        case IR_ON_COMMAND:
            on->arg = bl_str(b, v, "a command name", 0);
            break;
        case IR_ON_PATTERN:
            on->arg = bl_str(b, v, "a regular expression (a string)", 0);
            break;
        case IR_ON_TEXT:
            on->text = bl_textref(b, v, arena_printf(b->a, "%s.text", place));
            break;
        default:
            bl_true(b, v, n->keys[i]);
            break;
        }
    }
    if (found < 0)
        diag_error(b->d, n->pos, "add one of: command, pattern, text, contact, voice, any",
                   "on: entry has no trigger");
    bl_transition(b, n, &on->tr, place);
}

static void bl_names(bld *b, const node *n, const char ***out, src_pos **pos, int *count,
                     const char *what)
{
    if (n->kind == NODE_STR) {
        *out = ARENA_ARRAY(b->a, const char *, 1);
        *pos = ARENA_ARRAY(b->a, src_pos, 1);
        (*out)[0] = n->str;
        (*pos)[0] = n->pos;
        *count = 1;
        return;
    }
    if (n->kind != NODE_SEQ) {
        bl_type_error(b, n, what, NULL);
        return;
    }
    *out = ARENA_ARRAY(b->a, const char *, n->n ? n->n : 1);
    *pos = ARENA_ARRAY(b->a, src_pos, n->n ? n->n : 1);
    for (int i = 0; i < n->n; i++) {
        const char *s = bl_str(b, n->items[i], "a name", 0);
        if (!s)
            continue;
        (*out)[*count] = s;
        (*pos)[*count] = n->items[i]->pos;
        (*count)++;
    }
}

static void bl_state_entry(bld *b, const char *name, src_pos pos, const node *body, int listed,
                           int index)
{
    static const char *const keys[] = { "say", "keyboard", "inline", "on", "renamed_from", NULL };
    ir_state *st = &b->s->states[b->s->n_states++];
    st->name = name;
    st->pos = pos;
    if (!body || body->kind == NODE_NULL)
        return;
    if (!bl_is_map(body)) {
        bl_type_error(b, body, "a map with say:, keyboard:, inline:, on:", NULL);
        return;
    }
    bl_keys(b, body, bl_allowed(b, keys, listed), "a state");
    const node *v;
    if ((v = node_get(body, "say"))) {
        if (v->kind == NODE_SEQ) {
            st->say = ARENA_ARRAY(b->a, ir_textref, v->n ? v->n : 1);
            for (int i = 0; i < v->n; i++)
                st->say[st->n_say++] =
                    bl_textref(b, v->items[i], arena_printf(b->a, "%s.say.%d", name, i));
        } else {
            st->say = ARENA_ARRAY(b->a, ir_textref, 1);
            st->say[0] = bl_textref(b, v, arena_printf(b->a, "%s.say.0", name));
            st->n_say = st->say[0].key ? 1 : 0;
        }
    }
    if ((v = node_get(body, "keyboard")))
        bl_keyboard(b, v, &st->reply, 0, name);
    if ((v = node_get(body, "inline")))
        bl_keyboard(b, v, &st->inl, 1, name);
    if ((v = node_get(body, "on"))) {
        if (v->kind != NODE_SEQ) {
            bl_type_error(b, v, "a list of triggers", "- {command: help, goto: help}");
        } else {
            st->on = ARENA_ARRAY(b->a, ir_on, v->n ? v->n : 1);
            st->n_on = v->n;
            for (int i = 0; i < v->n; i++)
                bl_on(b, v->items[i], &st->on[i], arena_printf(b->a, "%s.on.%d", name, i));
        }
    }
    if ((v = node_get(body, "renamed_from")))
        bl_names(b, v, &st->renamed_from, &st->renamed_pos, &st->n_renamed,
                 "a state name or a list of them");
}

/* everywhere -> [{text|pattern: ..., transition...}, ...] */
static void bl_everywhere(bld *b, const node *n)
{
    if (!n || n->kind == NODE_NULL)
        return;
    if (n->kind != NODE_SEQ) {
        bl_type_error(b, n, "a list of triggers",
                      "- {pattern: \"operator|manager\", action: handoff}");
        return;
    }
    ir_spec *s = b->s;
    s->everywhere = ARENA_ARRAY(b->a, ir_on, n->n ? n->n : 1);
    s->n_everywhere = n->n;
    for (int i = 0; i < n->n; i++) {
        ir_on *on = &s->everywhere[i];
        bl_on(b, n->items[i], on, arena_printf(b->a, "everywhere.%d", i));
        if (n->items[i]->kind == NODE_MAP && on->trigger != IR_ON_TEXT &&
            on->trigger != IR_ON_PATTERN && on->arg_pos.line)
            diag_error(b->d, on->arg_pos,
                       on->trigger == IR_ON_COMMAND ? "a command for every state goes under commands:"
                                                    : "everywhere: applies to typed text; put "
                                                      "contact:, voice: and any: in a state's on:",
                       "everywhere: takes text: and pattern: triggers only");
    }
}

static void bl_bound(bld *b, const node *n, bool *has, double *out)
{
    if (n->kind == NODE_NULL)
        return;
    if (n->kind != NODE_NUM) {
        bl_type_error(b, n, "a number or null", NULL);
        return;
    }
    *has = true;
    *out = strtod(n->str, NULL);
}

/* date-bound -> today | +N days | -N days (days from the bot's today) */
static void bl_date_bound(bld *b, const node *n, bool *has, double *out, src_pos *pos)
{
    *pos = n->pos;
    const char *v = n->kind == NODE_STR ? n->str : NULL;
    if (v && strcmp(v, "today") == 0) {
        *has = true;
        *out = 0;
        return;
    }
    char sign = v ? v[0] : 0;
    char *end = NULL;
    long days = (sign == '+' || sign == '-') ? strtol(v + 1, &end, 10) : -1;
    if (end && end != v + 1 && days >= 0 && days <= 36500 &&
        (strcmp(end, " days") == 0 || strcmp(end, " day") == 0)) {
        *has = true;
        *out = sign == '-' ? -(double)days : (double)days;
        return;
    }
    diag_error(b->d, n->pos, "today, or a number of days from it: \"+365 days\", \"-1 day\"",
               "a date bound is today or +N days / -N days (N up to 36500)");
}

/* date-bounds -> {min: date-bound, max: date-bound} */
static void bl_date_bounds(bld *b, const node *arg, ir_field *f)
{
    static const char *const keys[] = { "min", "max", NULL };
    if (arg->kind != NODE_MAP) {
        bl_type_error(b, arg, "a map {min:, max:}", "{date: {min: today, max: \"+365 days\"}}");
        return;
    }
    bl_keys(b, arg, keys, "a date validator");
    const node *v;
    if ((v = node_get(arg, "min")))
        bl_date_bound(b, v, &f->has_min, &f->min, &f->min_pos);
    if ((v = node_get(arg, "max")))
        bl_date_bound(b, v, &f->has_max, &f->max, &f->max_pos);
}

static const char *const BL_VALIDATORS[] = { "text", "integer", "number", "date", "phone",
                                             "regex", "choice", NULL };

/* validate -> text | date | phone | integer | number
 *           | {integer|number: [min, max]} | {date: date-bounds}
 *           | {phone: {country: XX}} | {regex: re} | {choice: [textref...]} */
static void bl_validator(bld *b, const node *n, ir_field *f, const char *place)
{
    f->v_pos = n->pos;
    const char *kind = NULL;
    const node *arg = NULL;
    src_pos kpos = n->pos;
    if (n->kind == NODE_STR) {
        kind = n->str;
    } else if (n->kind == NODE_MAP && n->n == 1) {
        kind = n->keys[0];
        arg = n->items[0];
        kpos = n->key_pos[0];
    } else {
        bl_type_error(b, n, "a validator", "text, date, phone, {integer: [1, 30]}, "
                                           "{number: [0.5, 10]}, {regex: \"...\"} or {choice: [...]}");
        return;
    }
    int v;
    for (v = 0; BL_VALIDATORS[v]; v++)
        if (strcmp(kind, BL_VALIDATORS[v]) == 0)
            break;
    if (!BL_VALIDATORS[v]) {
        const char *sug = build_suggest(kind, BL_VALIDATORS, 7);
        char hint[160];
        if (sug)
            snprintf(hint, sizeof hint, "did you mean '%s'?", sug);
        else
            snprintf(hint, sizeof hint, "validators: text, integer, number, date, phone, regex, choice");
        diag_error(b->d, kpos, hint, "unknown validator '%s'", kind);
        return;
    }
    static const ir_validator map[] = { IR_V_TEXT, IR_V_INTEGER, IR_V_NUMBER, IR_V_DATE,
                                        IR_V_PHONE, IR_V_REGEX, IR_V_CHOICE };
    f->v = map[v];
    if (f->v == IR_V_REGEX) {
        if (!arg) {
            diag_error(b->d, kpos, "write {regex: \"^[0-9]+$\"}", "regex validator needs a pattern");
        } else if ((f->regex = bl_str(b, arg, "a regular expression (a string)", 0))) {
            f->regex_pos = arg->pos;
        }
    } else if (f->v == IR_V_CHOICE) {
        if (!arg || arg->kind == NODE_NULL) {
            /* no choices at all: check.c reports it */
        } else if (arg->kind != NODE_SEQ) {
            bl_type_error(b, arg, "a list of choices", "{choice: [class_economy, class_suv]}");
        } else {
            f->choices = ARENA_ARRAY(b->a, ir_textref, arg->n ? arg->n : 1);
            for (int i = 0; i < arg->n; i++)
                f->choices[f->n_choices++] =
                    bl_textref(b, arg->items[i], arena_printf(b->a, "%s.choice.%d", place, i));
        }
    } else if (f->v == IR_V_INTEGER || f->v == IR_V_NUMBER) {
        if (arg && arg->kind != NODE_NULL) {
            if (arg->kind != NODE_SEQ || arg->n != 2) {
                bl_type_error(b, arg, "a list [min, max]", "bounds are optional: [1, null]");
            } else {
                bl_bound(b, arg->items[0], &f->has_min, &f->min);
                bl_bound(b, arg->items[1], &f->has_max, &f->max);
            }
        }
    } else if (f->v == IR_V_TEXT && arg && arg->kind != NODE_NULL) {
        static const char *const keys[] = { "max", NULL };
        const node *m = arg->kind == NODE_MAP ? node_get(arg, "max") : NULL;
        if (arg->kind != NODE_MAP) {
            bl_type_error(b, arg, "a map {max: N}", "{text: {max: 500}}");
        } else {
            bl_keys(b, arg, keys, "a text validator");
            char *end = NULL;
            long mx = m && m->kind == NODE_NUM ? strtol(m->str, &end, 10) : 0;
            if (m && (m->kind != NODE_NUM || !end || *end || mx < 1 || mx > 4096))
                diag_error(b->d, m->pos, "the longest answer in characters, e.g. {text: {max: 500}}",
                           "max: expects a whole number from 1 to 4096");
            else if (m) {
                f->has_max = true;
                f->max = (double)mx;
            }
        }
    } else if (f->v == IR_V_DATE && arg && arg->kind != NODE_NULL) {
        bl_date_bounds(b, arg, f);
    } else if (f->v == IR_V_PHONE && arg && arg->kind != NODE_NULL) {
        static const char *const keys[] = { "country", NULL };
        const node *c = arg->kind == NODE_MAP ? node_get(arg, "country") : NULL;
        if (arg->kind != NODE_MAP) {
            bl_type_error(b, arg, "a map {country: XX}", "{phone: {country: RS}}");
        } else {
            bl_keys(b, arg, keys, "a phone validator");
            if (c && (f->country = bl_str(b, c, "a country code (ISO 3166, e.g. RS)", 0)))
                f->country_pos = c->pos;
        }
    } else if (arg && arg->kind != NODE_NULL) {
        diag_error(b->d, arg->pos, NULL, "validator '%s' takes no argument", kind);
    }
}

static void bl_field(bld *b, const char *form, const char *name, src_pos pos, const node *body,
                     int listed, ir_field *f)
{
    static const char *const keys[] = { "ask", "validate", "retry", "button", NULL };
    f->name = name;
    f->pos = pos;
    f->ask.idx = f->retry.idx = f->button.idx = -1;
    if (!bl_is_map(body)) {
        bl_type_error(b, body, "a field {name:, ask:, validate:}", NULL);
        return;
    }
    bl_keys(b, body, bl_allowed(b, keys, listed), "a form field");
    const char *place = arena_printf(b->a, "form.%s.%s", form, name);
    const node *v;
    if ((v = node_get(body, "ask")))
        f->ask = bl_textref(b, v, arena_printf(b->a, "%s.ask", place));
    else
        diag_error(b->d, pos, "the question to send: ask: text_name",
                   "missing required key 'ask' in form field '%s'", name);
    if ((v = node_get(body, "retry")))
        f->retry = bl_textref(b, v, arena_printf(b->a, "%s.retry", place));
    if ((v = node_get(body, "button")))
        f->button = bl_textref(b, v, arena_printf(b->a, "%s.button", place));
    if ((v = node_get(body, "validate")))
        bl_validator(b, v, f, place);
}

/* lead -> chat | topic | {topic: name} */
static void bl_lead(bld *b, const node *v, ir_form *fm)
{
    static const char *const keys[] = { "topic", NULL };
    static const char *const hint = "lead: topic (a topic per lead), lead: {topic: Leads} "
                                    "(one topic) or lead: chat (plain messages)";
    fm->lead_pos = v->pos;
    if (v->kind == NODE_MAP) {
        bl_keys(b, v, keys, "lead:");
        const node *t = node_get(v, "topic");
        const char *name = t ? bl_str(b, t, "a topic name", 1) : NULL;
        if (!t)
            diag_error(b->d, v->pos, hint, "missing required key 'topic' in lead:");
        if (name) {
            fm->lead = IR_LEAD_NAMED;
            fm->lead_topic = name;
            fm->lead_pos = t->pos;
        }
        return;
    }
    const char *w = v->kind == NODE_STR ? v->str : NULL;
    if (w && strcmp(w, "chat") == 0)
        fm->lead = IR_LEAD_CHAT;
    else if (w && strcmp(w, "topic") == 0)
        fm->lead = IR_LEAD_TOPIC;
    else
        diag_error(b->d, v->pos, hint, "lead: expects topic, chat or {topic: NAME}");
}

static void bl_form_entry(bld *b, const char *name, src_pos pos, const node *body, int listed,
                          int index)
{
    static const char *const keys[] = { "fields", "done", "cancel", "lead", NULL };
    ir_form *fm = &b->s->forms[b->s->n_forms++];
    fm->name = name;
    fm->pos = pos;
    const char *place = arena_printf(b->a, "form.%s", name);
    bl_transition(b, NULL, &fm->done, place);
    bl_transition(b, NULL, &fm->cancel, place);
    if (!bl_is_map(body)) {
        bl_type_error(b, body, "a map with fields:, done:, cancel:", NULL);
        return;
    }
    bl_keys(b, body, bl_allowed(b, keys, listed), "a form");
    const node *fields = node_get(body, "fields");
    if (!fields) {
        diag_error(b->d, pos, "fields: - {name: x, ask: ask_x, validate: text}",
                   "missing required key 'fields' in form '%s'", name);
    } else if (fields->kind == NODE_SEQ) {
        fm->fields = ARENA_ARRAY(b->a, ir_field, fields->n ? fields->n : 1);
        for (int i = 0; i < fields->n; i++) {
            const node *it = fields->items[i];
            const node *nm = it->kind == NODE_MAP ? node_get(it, "name") : NULL;
            const char *fname = nm ? bl_str(b, nm, "a field name", 0) : NULL;
            if (!nm && it->kind == NODE_MAP)
                diag_error(b->d, it->pos, NULL, "missing required key 'name' in a form field");
            if (it->kind != NODE_MAP) {
                bl_type_error(b, it, "a field {name:, ask:, validate:}", NULL);
                continue;
            }
            if (!fname)
                continue;
            bl_field(b, name, fname, nm->pos, it, 1, &fm->fields[fm->n_fields++]);
        }
    } else if (fields->kind == NODE_MAP) {
        fm->fields = ARENA_ARRAY(b->a, ir_field, fields->n ? fields->n : 1);
        for (int i = 0; i < fields->n; i++)
            bl_field(b, name, fields->keys[i], fields->key_pos[i], fields->items[i], 0,
                     &fm->fields[fm->n_fields++]);
    } else {
        bl_type_error(b, fields, "a list of fields", NULL);
    }
    static const char *const tr_keys[] = { "set", "say", "action", "form", "goto", NULL };
    const node *v;
    if ((v = node_get(body, "done"))) {
        if (v->kind != NODE_MAP)
            bl_type_error(b, v, "a transition {say:, goto:}", NULL);
        bl_keys(b, v, tr_keys, "done:");
        bl_transition(b, v, &fm->done, arena_printf(b->a, "%s.done", place));
    }
    if ((v = node_get(body, "cancel"))) {
        if (v->kind != NODE_MAP)
            bl_type_error(b, v, "a transition {say:, goto:}", NULL);
        bl_keys(b, v, tr_keys, "cancel:");
        bl_transition(b, v, &fm->cancel, arena_printf(b->a, "%s.cancel", place));
    }
    if ((v = node_get(body, "lead")))
        bl_lead(b, v, fm);
}

static void bl_bot(bld *b, const node *bot, src_pos at)
{
    static const char *const keys[] = { "name", "default_language", "languages", "start", NULL };
    ir_spec *s = b->s;
    if (!bot) {
        diag_error(b->d, at, "start the spec with bot: {name:, languages:, start:}",
                   "missing required key 'bot'");
        return;
    }
    if (bot->kind != NODE_MAP) {
        bl_type_error(b, bot, "a map with name:, languages:, start:", NULL);
        return;
    }
    bl_keys(b, bot, keys, "bot:");
    const node *v;
    if ((v = node_get(bot, "name"))) {
        if ((s->name = bl_str(b, v, "the bot's name", 0)))
            s->name_pos = v->pos;
    } else {
        diag_error(b->d, bot->pos, "name: mybot (a C identifier)", "missing required key 'name' in bot:");
    }
    if ((v = node_get(bot, "languages"))) {
        bl_names(b, v, &s->langs, &s->lang_pos, &s->n_langs, "a list of language codes");
    } else {
        diag_error(b->d, bot->pos, "languages: [en, ru]", "missing required key 'languages' in bot:");
    }
    if ((v = node_get(bot, "default_language"))) {
        if ((s->default_lang = bl_str(b, v, "a language code", 0)))
            s->default_lang_pos = v->pos;
    } else if (s->n_langs > 0) {
        s->default_lang = s->langs[0];
        s->default_lang_pos = s->lang_pos[0];
    }
    if ((v = node_get(bot, "start"))) {
        if ((s->start = bl_str(b, v, "a state name", 0)))
            s->start_pos = v->pos;
    }
    /* A missing start is check.c's to report (it knows the states). */
    if (!s->start)
        s->start_pos = bot->pos;
}

/* variable -> initial-value | {initial: value, max: characters}
 * Returns the initial value ("" when absent); *max gets `max:` or 0. */
static const char *bl_var_body(bld *b, const node *val, int *max)
{
    static const char *const keys[] = { "initial", "max", NULL };
    *max = 0;
    if (val->kind == NODE_NULL)
        return "";
    if (val->kind != NODE_MAP) {
        const char *init = bl_str(b, val, "a value, or {initial: value, max: characters}", 1);
        return init ? init : "";
    }
    bl_keys(b, val, keys, "a variable");
    const char *init = "";
    const node *n = node_get(val, "initial");
    if (n && n->kind != NODE_NULL) {
        const char *str = bl_str(b, n, "a value", 1);
        init = str ? str : "";
    }
    n = node_get(val, "max");
    if (n) {
        char *end = NULL;
        long m = n->kind == NODE_NUM ? strtol(n->str, &end, 10) : 0;
        if (n->kind != NODE_NUM || !end || *end || m < 1 || m > 4096)
            diag_error(b->d, n->pos, "the longest value in characters, e.g. max: 32",
                       "max: expects a whole number from 1 to 4096");
        else
            *max = (int)m;
    }
    return init;
}

/* synonyms -> {lang: ["word = word = ...", ...], ...} */
static void bl_synonyms(bld *b, const node *n, ir_llm *l)
{
    if (n->kind != NODE_MAP) {
        bl_type_error(b, n, "a map from a language to its groups",
                      "synonyms: {en: [\"crash = accident\"], ru: [\"машина = автомобиль\"]}");
        return;
    }
    int total = 0;
    for (int i = 0; i < n->n; i++)
        total += n->items[i]->kind == NODE_SEQ ? n->items[i]->n : 1;
    total = total ? total : 1;
    l->synonyms = ARENA_ARRAY(b->a, const char *, total);
    l->synonym_pos = ARENA_ARRAY(b->a, src_pos, total);
    l->synonym_lang = ARENA_ARRAY(b->a, const char *, total);
    l->synonym_lang_pos = ARENA_ARRAY(b->a, src_pos, total);
    for (int i = 0; i < n->n; i++) {
        const char **groups = NULL;
        src_pos *pos = NULL;
        int count = 0;
        bl_names(b, n->items[i], &groups, &pos, &count, "a list of groups like \"a = b\"");
        for (int k = 0; k < count; k++) {
            l->synonyms[l->n_synonyms] = groups[k];
            l->synonym_pos[l->n_synonyms] = pos[k];
            l->synonym_lang[l->n_synonyms] = n->keys[i];
            l->synonym_lang_pos[l->n_synonyms] = n->key_pos[i];
            l->n_synonyms++;
        }
    }
}

/* personas -> [{name: code, prompt: textref, label?: textref}...] */
static void bl_personas(bld *b, const node *n, ir_llm *l)
{
    static const char *const keys[] = { "name", "prompt", "label", NULL };
    l->personas_pos = n->pos;
    if (n->kind != NODE_SEQ) {
        bl_type_error(b, n, "a list of personas",
                      "personas: [{name: coder, prompt: prompt_coder}, ...]");
        return;
    }
    l->personas = ARENA_ARRAY(b->a, ir_persona, n->n ? n->n : 1);
    for (int i = 0; i < n->n; i++) {
        const node *p = n->items[i];
        if (p->kind != NODE_MAP) {
            bl_type_error(b, p, "a persona {name:, prompt:}", "{name: coder, prompt: prompt_coder}");
            continue;
        }
        bl_keys(b, p, keys, "a persona");
        ir_persona *ps = &l->personas[l->n_personas];
        ps->pos = p->pos;
        ps->prompt.idx = ps->label.idx = -1;
        const node *v = node_get(p, "name");
        ps->name = v ? bl_str(b, v, "a persona name (the value of the variable persona)", 0) : NULL;
        if (!v)
            diag_error(b->d, p->pos, "the value the variable persona holds for it: name: coder",
                       "missing required key 'name' in a persona");
        if ((v = node_get(p, "prompt")))
            ps->prompt = bl_textref(b, v, arena_printf(b->a, "llm.personas.%d.prompt", i));
        else
            diag_error(b->d, p->pos, "the system prompt of the role: prompt: prompt_coder",
                       "missing required key 'prompt' in a persona");
        if ((v = node_get(p, "label")))
            ps->label = bl_textref(b, v, arena_printf(b->a, "llm.personas.%d.label", i));
        if (ps->name && ps->prompt.key)
            l->n_personas++;
    }
}

/* llm -> {knowledge: [file...], persona: textref, policy: textref,
 *         strict: bool, daily_tokens: int, timezone: name, model: name,
 *         handoff_patterns: [regex...], feedback: bool, ask_without_context: bool,
 *         synonyms: {lang: [group...]}, personas: [...],
 *         session_idle_minutes: int, max_tool_calls: int} */
static void bl_llm(bld *b, const node *n)
{
    static const char *const keys[] = { "knowledge", "persona", "policy", "strict",
                                        "daily_tokens", "timezone", "model",
                                        "handoff_patterns", "feedback", "ask_without_context",
                                        "synonyms", "personas", "session_idle_minutes",
                                        "max_tool_calls", NULL };
    ir_llm *l = &b->s->llm;
    l->strict = true;
    l->feedback = true;
    l->persona.idx = l->policy.idx = -1;
    if (!n || n->kind == NODE_NULL)
        return;
    if (n->kind != NODE_MAP) {
        bl_type_error(b, n, "a map with knowledge:, persona:, strict:, ...",
                      "llm: {knowledge: [company_context.txt], strict: true}");
        return;
    }
    l->present = true;
    l->pos = n->pos;
    bl_keys(b, n, keys, "llm:");
    const node *v;
    if ((v = node_get(n, "knowledge"))) {
        const char **files = NULL;
        src_pos *pos = NULL;
        int count = 0;
        bl_names(b, v, &files, &pos, &count, "a file name or a list of them");
        l->knowledge = ARENA_ARRAY(b->a, ir_knowledge, count ? count : 1);
        for (int i = 0; i < count; i++) {
            ir_knowledge *k = &l->knowledge[l->n_knowledge++];
            k->file = files[i];
            k->pos = pos[i];
            k->lang = -1;
        }
    }
    if ((v = node_get(n, "persona")))
        l->persona = bl_textref(b, v, "llm.persona");
    if ((v = node_get(n, "policy")))
        l->policy = bl_textref(b, v, "llm.policy");
    if ((v = node_get(n, "strict"))) {
        if (v->kind == NODE_BOOL)
            l->strict = strcmp(v->str, "true") == 0;
        else
            bl_type_error(b, v, "true or false", NULL);
    }
    if ((v = node_get(n, "feedback"))) {
        if (v->kind == NODE_BOOL)
            l->feedback = strcmp(v->str, "true") == 0;
        else
            bl_type_error(b, v, "true or false", "feedback: false leaves the vote buttons out");
    }
    if ((v = node_get(n, "daily_tokens"))) {
        char *end = NULL;
        long t = v->kind == NODE_NUM ? strtol(v->str, &end, 10) : -1;
        if (v->kind != NODE_NUM || !end || *end || t < 0 || t > 1000000000L)
            diag_error(b->d, v->pos, "tokens per user per day, e.g. daily_tokens: 20000 (0 = no limit)",
                       "daily_tokens: expects a whole number from 0 to 1000000000");
        else
            l->daily_tokens = t;
    }
    if ((v = node_get(n, "timezone")) && (l->timezone = bl_str(b, v, "a time zone name", 0)))
        l->timezone_pos = v->pos;
    if ((v = node_get(n, "model")))
        l->model = bl_str(b, v, "a model name", 0);
    if ((v = node_get(n, "handoff_patterns")))
        bl_names(b, v, &l->handoff, &l->handoff_pos, &l->n_handoff,
                 "a regular expression or a list of them");
    if ((v = node_get(n, "ask_without_context"))) {
        if (v->kind == NODE_BOOL)
            l->ask_without_context = strcmp(v->str, "true") == 0;
        else
            bl_type_error(b, v, "true or false", NULL);
    }
    if ((v = node_get(n, "synonyms")))
        bl_synonyms(b, v, l);
    if ((v = node_get(n, "personas")))
        bl_personas(b, v, l);
    if ((v = node_get(n, "session_idle_minutes"))) {
        char *end = NULL;
        long t = v->kind == NODE_NUM ? strtol(v->str, &end, 10) : -1;
        if (v->kind != NODE_NUM || !end || *end || t < 0 || t > 10080)
            diag_error(b->d, v->pos, "minutes without a message before a session closes itself, "
                       "e.g. session_idle_minutes: 30 (0 = never)",
                       "session_idle_minutes: expects a whole number from 0 to 10080");
        else
            l->session_idle_minutes = t;
    }
    if ((v = node_get(n, "max_tool_calls"))) {
        char *end = NULL;
        long t = v->kind == NODE_NUM ? strtol(v->str, &end, 10) : -1;
        if (v->kind != NODE_NUM || !end || *end || t < 1 || t > 10)
            diag_error(b->d, v->pos, "tool calls the model may make for one answer, e.g. max_tool_calls: 3",
                       "max_tool_calls: expects a whole number from 1 to 10");
        else
            l->max_tool_calls = (int)t;
    }
}

/* ---- tools ------------------------------------------------------------------- */

/* A node as JSON text into sb (scalars as written: numbers and booleans
 * bare, the rest as strings). */
static void bl_json(strbuf *sb, const node *n)
{
    switch (n->kind) {
    case NODE_NULL:
        sb_puts(sb, "null");
        return;
    case NODE_NUM:
    case NODE_BOOL:
        sb_puts(sb, n->str);
        return;
    case NODE_STR:
        sb_putc(sb, '"');
        for (const unsigned char *c = (const unsigned char *)n->str; *c; c++) {
            if (*c == '"' || *c == '\\')
                sb_printf(sb, "\\%c", *c);
            else if (*c < 0x20)
                sb_printf(sb, "\\u%04x", *c);
            else
                sb_putc(sb, (char)*c);
        }
        sb_putc(sb, '"');
        return;
    case NODE_SEQ:
        sb_putc(sb, '[');
        for (int i = 0; i < n->n; i++) {
            if (i)
                sb_putc(sb, ',');
            bl_json(sb, n->items[i]);
        }
        sb_putc(sb, ']');
        return;
    case NODE_MAP: {
        sb_putc(sb, '{');
        for (int i = 0; i < n->n; i++) {
            node key = {.kind = NODE_STR, .str = n->keys[i]};
            if (i)
                sb_putc(sb, ',');
            bl_json(sb, &key);
            sb_putc(sb, ':');
            bl_json(sb, n->items[i]);
        }
        sb_putc(sb, '}');
        return;
    }
    }
}

static bool bl_param_name_ok(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

/* One property of a tool's schema: {type: string|integer|number|boolean,
 * description: text, enum: [values]}. */
static void bl_tool_param(bld *b, ir_tool *t, const char *name, src_pos pos, const node *p)
{
    static const char *const keys[] = { "type", "description", "enum", NULL };
    static const char *const types[] = { "string", "integer", "number", "boolean", NULL };
    if (!bl_param_name_ok(name))
        diag_error(b->d, pos, "letters, digits and _, e.g. city; {user.id} and the like are "
                   "filled by the runtime, never by the model",
                   "tool '%s': bad argument name '%s'", t->name, name);
    t->params[t->n_params++] = (ir_tool_param){.name = name, .pos = pos};
    if (!p || p->kind != NODE_MAP) {
        bl_type_error(b, p ? p : NULL, "a map with type: and description:",
                      "city: {type: string, description: \"a city name\"}");
        return;
    }
    bl_keys(b, p, keys, "a tool argument's schema");
    const node *ty = node_get(p, "type");
    const char *type = ty ? bl_str(b, ty, "a JSON schema type", 0) : NULL;
    if (!ty)
        diag_error(b->d, p->pos, "type: string (or integer, number, boolean)",
                   "tool '%s': argument '%s' has no type", t->name, name);
    else if (type && !bl_in(type, types)) {
        type = NULL; /* its enum is not checked against it */
        const char *sug = build_suggest(ty->str, types, 4);
        char hint[96];
        if (sug)
            snprintf(hint, sizeof hint, "did you mean '%s'?", sug);
        else
            snprintf(hint, sizeof hint, "string, integer, number or boolean");
        diag_error(b->d, ty->pos, hint, "tool '%s': argument '%s' has unknown type '%s'", t->name,
                   name, ty->str);
    }
    const node *d = node_get(p, "description");
    if (d)
        bl_str(b, d, "a description for the model", 0);
    const node *en = node_get(p, "enum");
    if (en && (en->kind != NODE_SEQ || en->n == 0))
        bl_type_error(b, en, "a list of the allowed values", "enum: [celsius, fahrenheit]");
    for (int i = 0; en && en->kind == NODE_SEQ && i < en->n; i++) {
        const node *v = en->items[i];
        bool ok = type && ((!strcmp(type, "string") && v->kind == NODE_STR) ||
                           (strcmp(type, "string") && strcmp(type, "boolean") && v->kind == NODE_NUM) ||
                           (!strcmp(type, "boolean") && v->kind == NODE_BOOL));
        if (type && !ok)
            diag_error(b->d, v->pos, NULL, "tool '%s': enum value of '%s' is not a %s", t->name,
                       name, type);
    }
}

/* parameters -> {type: object, properties: {name: {type:, description:}},
 *                required: [name...]} */
static void bl_tool_schema(bld *b, ir_tool *t, const node *n)
{
    static const char *const keys[] = { "type", "properties", "required", "description", NULL };
    t->parameters_pos = n->pos;
    if (n->kind != NODE_MAP) {
        bl_type_error(b, n, "a JSON schema of an object",
                      "parameters: {type: object, properties: {city: {type: string}}, required: [city]}");
        return;
    }
    bl_keys(b, n, keys, "a tool's parameters");
    const node *ty = node_get(n, "type");
    if (!ty || ty->kind != NODE_STR || strcmp(ty->str, "object"))
        diag_error(b->d, ty ? ty->pos : n->pos, "the arguments are an object: type: object",
                   "tool '%s': parameters must have type: object", t->name);
    const node *props = node_get(n, "properties");
    if (props && props->kind != NODE_MAP && !(props->kind == NODE_SEQ && props->n == 0)) {
        bl_type_error(b, props, "a map of argument: schema", "properties: {city: {type: string}}");
        props = NULL;
    }
    int np = props && props->kind == NODE_MAP ? props->n : 0;
    t->params = ARENA_ARRAY(b->a, ir_tool_param, np ? np : 1);
    for (int i = 0; i < np; i++)
        bl_tool_param(b, t, props->keys[i], props->key_pos[i], props->items[i]);
    const node *req = node_get(n, "required");
    if (req && req->kind != NODE_SEQ)
        bl_type_error(b, req, "a list of argument names", "required: [city]");
    for (int i = 0; req && req->kind == NODE_SEQ && i < req->n; i++) {
        const char *r = bl_str(b, req->items[i], "an argument name", 0);
        bool found = false;
        for (int k = 0; r && k < t->n_params; k++)
            found |= !strcmp(t->params[k].name, r);
        if (r && !found)
            diag_error(b->d, req->items[i]->pos, "required names an argument under properties:",
                       "tool '%s': required argument '%s' is not among its properties", t->name, r);
    }
    /* the JSON the model gets: properties always present (Lua's empty
     * table is a list) */
    strbuf sb;
    sb_init(&sb, b->a);
    sb_puts(&sb, "{\"type\":\"object\",\"properties\":");
    if (np)
        bl_json(&sb, props);
    else
        sb_puts(&sb, "{}");
    if (req && req->kind == NODE_SEQ && req->n) {
        sb_puts(&sb, ",\"required\":");
        bl_json(&sb, req);
    }
    const node *d = node_get(n, "description");
    if (d && d->kind == NODE_STR) {
        sb_puts(&sb, ",\"description\":");
        bl_json(&sb, d);
    }
    sb_putc(&sb, '}');
    t->parameters = arena_strdup(b->a, sb_str(&sb));
}

/* tools -> {name: {description:, parameters:, request: {method:, url:,
 *                  headers: [...], body:, result:}}} (or a list with name:) */
static void bl_tool_entry(bld *b, const char *name, src_pos pos, const node *body, int listed,
                          int index)
{
    static const char *const keys[] = { "description", "parameters", "request", NULL };
    static const char *const rkeys[] = { "method", "url", "headers", "body", "result", NULL };
    (void)index;
    ir_tool *t = &b->s->tools[b->s->n_tools++];
    t->name = name;
    t->pos = pos;
    t->method = "GET";
    if (!body || body->kind != NODE_MAP) {
        bl_type_error(b, body, "a map with description:, parameters:, request:", NULL);
        return;
    }
    bl_keys(b, body, bl_allowed(b, keys, listed), "a tool");
    const node *v = node_get(body, "description");
    if (!v)
        diag_error(b->d, pos, "description: what the tool does, for the model",
                   "tool '%s' has no description", name);
    else if ((t->description = bl_str(b, v, "a description for the model", 0)))
        t->description_pos = v->pos;
    v = node_get(body, "parameters");
    if (v)
        bl_tool_schema(b, t, v);
    else {
        t->parameters = "{\"type\":\"object\",\"properties\":{}}";
        t->params = ARENA_ARRAY(b->a, ir_tool_param, 1);
    }
    const node *r = node_get(body, "request");
    if (!r || r->kind != NODE_MAP) {
        if (!r)
            diag_error(b->d, pos, "request: {url: \"${WEATHER_API_BASE}/forecast?city={city}\"}",
                       "tool '%s' has no request", name);
        else
            bl_type_error(b, r, "a map with url:, method:, ...", NULL);
        return;
    }
    t->request_pos = r->pos;
    bl_keys(b, r, rkeys, "a tool's request");
    if ((v = node_get(r, "method")) && (t->method = bl_str(b, v, "GET or POST", 0)))
        t->method_pos = v->pos;
    if (!t->method)
        t->method = "GET";
    if ((v = node_get(r, "url")) && (t->url = bl_str(b, v, "a URL template", 0)))
        t->url_pos = v->pos;
    else if (!v)
        diag_error(b->d, r->pos, "url: \"${WEATHER_API_BASE}/forecast?city={city}\"",
                   "tool '%s': request has no url", name);
    if ((v = node_get(r, "headers")))
        bl_names(b, v, &t->headers, &t->header_pos, &t->n_headers,
                 "a list of \"Name: value\" lines");
    if ((v = node_get(r, "body")) && (t->body = bl_str(b, v, "a body template (JSON text)", 0)))
        t->body_pos = v->pos;
    if ((v = node_get(r, "result")) && (t->result = bl_str(b, v, "a dotted path, e.g. current", 0)))
        t->result_pos = v->pos;
}

/* voice -> {max_seconds: int, echo: bool, reply: text | voice | both} */
static void bl_voice(bld *b, const node *n)
{
    static const char *const keys[] = { "max_seconds", "echo", "reply", NULL };
    static const char *const hint = "reply: voice answers a voice note with voice notes only, "
                                    "reply: both with the text and voice notes, reply: text "
                                    "with text (the default)";
    ir_voice *vo = &b->s->voice;
    if (!n || n->kind == NODE_NULL)
        return;
    if (n->kind != NODE_MAP) {
        bl_type_error(b, n, "a map with max_seconds:, echo:, reply:", "voice: {max_seconds: 60, echo: true}");
        return;
    }
    vo->present = true;
    vo->pos = n->pos;
    bl_keys(b, n, keys, "voice:");
    const node *x;
    if ((x = node_get(n, "max_seconds"))) {
        char *end = NULL;
        long t = x->kind == NODE_NUM ? strtol(x->str, &end, 10) : -1;
        if (x->kind != NODE_NUM || !end || *end || t < 1 || t > 3600)
            diag_error(b->d, x->pos, "the longest voice note transcribed, e.g. max_seconds: 60",
                       "max_seconds: expects a whole number of seconds from 1 to 3600");
        else
            vo->max_seconds = t;
    }
    if ((x = node_get(n, "echo"))) {
        if (x->kind == NODE_BOOL)
            vo->echo = strcmp(x->str, "true") == 0;
        else
            bl_type_error(b, x, "true or false", "echo: true shows the transcript back");
    }
    const node *v = node_get(n, "reply");
    if (!v)
        return;
    vo->reply_pos = v->pos;
    const char *w = v->kind == NODE_STR ? v->str : NULL;
    if (w && strcmp(w, "text") == 0)
        vo->reply = IR_VOICE_REPLY_TEXT;
    else if (w && strcmp(w, "voice") == 0)
        vo->reply = IR_VOICE_REPLY_VOICE;
    else if (w && strcmp(w, "both") == 0)
        vo->reply = IR_VOICE_REPLY_BOTH;
    else
        diag_error(b->d, v->pos, hint, "reply: expects text, voice or both");
}

static int bl_count(const node *n)
{
    return n && (n->kind == NODE_MAP || n->kind == NODE_SEQ) ? n->n : 0;
}

ir_spec *build_spec(arena *a, diag_list *d, const node *root, const char *path)
{
    static const char *const keys[] = { "bot", "variables", "texts", "commands", "states",
                                        "forms", "moved", "llm", "voice", "everywhere", "tools",
                                        NULL };
    bld b = { a, d, ARENA_NEW(a, ir_spec), 0 };
    ir_spec *s = b.s;
    s->path = path;
    s->start_idx = -1;
    if (!root || root->kind != NODE_MAP) {
        if (root)
            bl_type_error(&b, root, "a map with bot:, texts:, states:, ...", NULL);
        return s;
    }
    bl_keys(&b, root, keys, "the spec");
    src_pos top = root->pos;
    bl_bot(&b, node_get(root, "bot"), top);

    const node *v = node_get(root, "variables");
    if (v && v->kind != NODE_NULL) {
        if (!bl_is_map(v)) {
            bl_type_error(&b, v, "a map of variable: initial value", NULL);
        } else {
            s->vars = ARENA_ARRAY(a, ir_var, v->n ? v->n : 1);
            for (int i = 0; i < v->n; i++) {
                ir_var *var = &s->vars[s->n_vars++];
                var->name = v->keys[i];
                var->pos = v->key_pos[i];
                var->initial = bl_var_body(&b, v->items[i], &var->max);
                var->declared = true;
            }
        }
    }
    bl_collection(&b, node_get(root, "texts"), "texts", bl_text_entry);
    v = node_get(root, "commands");
    s->commands = ARENA_ARRAY(a, ir_command, bl_count(v) ? bl_count(v) : 1);
    bl_collection(&b, v, "commands", bl_command_entry);
    v = node_get(root, "states");
    s->states = ARENA_ARRAY(a, ir_state, bl_count(v) ? bl_count(v) : 1);
    if (!v)
        diag_error(d, top, "states: {welcome: {say: welcome}}", "missing required key 'states'");
    bl_collection(&b, v, "states", bl_state_entry);
    v = node_get(root, "forms");
    s->forms = ARENA_ARRAY(a, ir_form, bl_count(v) ? bl_count(v) : 1);
    bl_collection(&b, v, "forms", bl_form_entry);

    bl_llm(&b, node_get(root, "llm"));
    bl_voice(&b, node_get(root, "voice"));
    bl_everywhere(&b, node_get(root, "everywhere"));
    v = node_get(root, "tools");
    s->tools = ARENA_ARRAY(a, ir_tool, bl_count(v) ? bl_count(v) : 1);
    bl_collection(&b, v, "tools", bl_tool_entry);

    v = node_get(root, "moved");
    if (v && v->kind != NODE_NULL) {
        if (!bl_is_map(v)) {
            bl_type_error(&b, v, "a map of old_state: new_state", NULL);
        } else {
            s->moves = ARENA_ARRAY(a, ir_move, v->n ? v->n : 1);
            for (int i = 0; i < v->n; i++) {
                const char *to = bl_str(&b, v->items[i], "a state name", 0);
                if (!to)
                    continue;
                ir_move *m = &s->moves[s->n_moves++];
                m->from = v->keys[i];
                m->pos = v->key_pos[i];
                m->to = to;
                m->to_pos = v->items[i]->pos;
                m->to_idx = -1;
            }
        }
    }
    return s;
}
