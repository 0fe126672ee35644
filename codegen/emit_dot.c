/*
 * emit_dot.c — render a checked spec as a Graphviz graph (see emit_dot.h).
 *
 * Works on the IR after check_spec, so every *_idx is resolved; an index
 * that is still -1 (the spec had errors) is drawn as nothing rather than
 * guessed at. Node ids carry a kind prefix ("state:", "field:", "action:")
 * so a state named like a form field or an action can never share a node.
 */
#include "emit_dot.h"

#include <string.h>

#define LABEL_MAX 40 /* characters of a text shown on a node or an edge */

/* Colours: one place, so the README's legend and the picture agree. */
#define FILL_STATE "#eef4ff"
#define FILL_UNREACHABLE "#ffd6d6"
#define LINE_UNREACHABLE "#c00000"
#define FILL_DEAD_END "#fff0b3"
#define LINE_DEAD_END "#d08000"
#define FILL_FIELD "#eaffea"
#define COLOR_INLINE "#3060c0"
#define COLOR_LLM "#8a4fd0"
#define COLOR_HANDOFF "#d9731a"
#define COLOR_ACTION "#707070"

/* The default-language value of text `idx`, or NULL. */
static const char *text_value(const ir_spec *s, int idx)
{
    if (idx < 0 || idx >= s->n_texts)
        return NULL;
    const ir_text *t = &s->texts[idx];
    for (int i = 0; i < t->n_trs; i++)
        if (s->default_lang && t->trs[i].lang && strcmp(t->trs[i].lang, s->default_lang) == 0)
            return t->trs[i].value;
    return t->n_trs > 0 ? t->trs[0].value : NULL;
}

/* Write `str` as the inside of a DOT string: its first non-empty line, at
 * most LABEL_MAX characters (never cutting a UTF-8 sequence), quotes and
 * backslashes escaped (a backslash starts DOT's own escapes like \n). */
static void put_label(FILE *out, const char *str)
{
    if (!str)
        return;
    while (*str == '\n')
        str++;
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)str; *p && *p != '\n'; p++) {
        if ((*p & 0xC0) != 0x80 && ++chars > LABEL_MAX) {
            fputs("…", out);
            return;
        }
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
}

/* A quoted id: never truncated, so two long names cannot collide. */
static void put_id2(FILE *out, const char *prefix, const char *name, const char *name2)
{
    fputc('"', out);
    fputs(prefix, out);
    for (int part = 0; part < 2; part++) {
        const char *p = part ? name2 : name;
        if (!p)
            continue;
        if (part)
            fputc('.', out);
        for (; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', out);
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void put_id(FILE *out, const char *prefix, const char *name)
{
    put_id2(out, prefix, name, NULL);
}

static const ir_form *form_of(const ir_spec *s, const ir_transition *tr)
{
    if (tr->form_idx >= 0 && tr->form_idx < s->n_forms && s->forms[tr->form_idx].n_fields > 0)
        return &s->forms[tr->form_idx];
    return NULL;
}

static int leads_somewhere(const ir_spec *s, const ir_transition *tr)
{
    return form_of(s, tr) || (tr->go_idx >= 0 && tr->go_idx < s->n_states);
}

/* Where a transition leads: a form's first question, or a state. */
static void put_target(FILE *out, const ir_spec *s, const ir_transition *tr)
{
    const ir_form *f = form_of(s, tr);
    if (f)
        put_id2(out, "field:", f->name, f->fields[0].name);
    else
        put_id(out, "state:", s->states[tr->go_idx].name);
}

/* The node an action leads to: LLM and handoff have their own shapes,
 * every other action a small grey one. */
static void put_action_edge(FILE *out, const char *from_prefix, const char *from,
                            const char *from2, const char *label, const char *action)
{
    const char *color = !strcmp(action, "llm") ? COLOR_LLM
                      : !strcmp(action, "handoff") ? COLOR_HANDOFF : COLOR_ACTION;
    fputs("  ", out);
    put_id2(out, from_prefix, from, from2);
    fputs(" -> ", out);
    put_id(out, "action:", action);
    fprintf(out, " [style=dashed, color=\"%s\", fontcolor=\"%s\", label=\"", color, color);
    put_label(out, label);
    fputs("\"];\n", out);
}

/* The edges of one transition from `from` (+ `from2`, a field name): one to
 * the action when it runs one, one to where it leads when it moves. */
static void put_edge(FILE *out, const ir_spec *s, const char *from_prefix, const char *from,
                     const char *from2, const char *label, const ir_transition *tr,
                     const char *style)
{
    if (tr->action && tr->action_id > 0)
        put_action_edge(out, from_prefix, from, from2, label, tr->action);
    if (!leads_somewhere(s, tr))
        return;
    fputs("  ", out);
    put_id2(out, from_prefix, from, from2);
    fputs(" -> ", out);
    put_target(out, s, tr);
    fputs(" [label=\"", out);
    put_label(out, label);
    fprintf(out, "\"%s%s];\n", style ? ", " : "", style ? style : "");
}

static void on_label(const ir_spec *s, const ir_on *on, char *buf, size_t n)
{
    switch (on->trigger) {
    case IR_ON_COMMAND: snprintf(buf, n, "/%s", on->arg ? on->arg : ""); break;
    case IR_ON_PATTERN: snprintf(buf, n, "~/%s/", on->arg ? on->arg : ""); break;
    case IR_ON_TEXT: {
        const char *v = text_value(s, on->text.idx);
        snprintf(buf, n, "\"%s\"", v ? v : "");
        break;
    }
    case IR_ON_CONTACT: snprintf(buf, n, "📞 contact"); break;
    case IR_ON_VOICE: snprintf(buf, n, "🎤 voice"); break;
    case IR_ON_ANY: snprintf(buf, n, "anything else"); break;
    }
}

static void put_keyboard_edges(FILE *out, const ir_spec *s, const ir_state *st,
                               const ir_keyboard *kb, const char *style)
{
    for (int r = 0; r < kb->n_rows; r++)
        for (int b = 0; b < kb->rows[r].n_buttons; b++) {
            const ir_button *btn = &kb->rows[r].buttons[b];
            const char *label = text_value(s, btn->label.idx);
            if (!label && btn->kind == IR_BTN_CONTACT)
                label = "📞 share contact";
            put_edge(out, s, "state:", st->name, NULL, label ? label : "", &btn->tr, style);
        }
}

/* Declare the node of `action` unless seen[] has it already. */
static void put_action_node(FILE *out, const ir_transition *tr, const char **seen, int *n_seen,
                            int cap)
{
    if (!tr->action || tr->action_id <= 0)
        return;
    for (int i = 0; i < *n_seen; i++)
        if (!strcmp(seen[i], tr->action))
            return;
    if (*n_seen < cap)
        seen[(*n_seen)++] = tr->action;
    fputs("  ", out);
    put_id(out, "action:", tr->action);
    if (!strcmp(tr->action, "llm"))
        fputs(" [shape=ellipse, style=\"filled,dashed\", color=\"" COLOR_LLM "\", "
              "fillcolor=\"#f3e8ff\", label=\"🤖 LLM answers\"];\n", out);
    else if (!strcmp(tr->action, "handoff"))
        fputs(" [shape=hexagon, color=\"" COLOR_HANDOFF "\", fillcolor=\"#ffe9d6\", "
              "label=\"👤 operator (handoff)\"];\n", out);
    else {
        fputs(" [shape=component, style=\"filled\", fillcolor=\"#f0f0f0\", label=\"⚙ ", out);
        put_label(out, tr->action);
        fputs("\"];\n", out);
    }
}

/* The runtime's exits, each declared once, in the order the spec first
 * uses them (states, then forms, then commands: the order of the edges). */
static void put_action_nodes(FILE *out, const ir_spec *s)
{
    const char *seen[64];
    int n = 0, cap = (int)(sizeof seen / sizeof *seen);
    for (int i = 0; i < s->n_states; i++) {
        const ir_state *st = &s->states[i];
        const ir_keyboard *kbs[2] = { &st->reply, &st->inl };
        for (int q = 0; q < 2; q++)
            for (int r = 0; r < kbs[q]->n_rows; r++)
                for (int b = 0; b < kbs[q]->rows[r].n_buttons; b++)
                    put_action_node(out, &kbs[q]->rows[r].buttons[b].tr, seen, &n, cap);
        for (int k = 0; k < st->n_on; k++)
            put_action_node(out, &st->on[k].tr, seen, &n, cap);
    }
    for (int i = 0; i < s->n_forms; i++) {
        put_action_node(out, &s->forms[i].done, seen, &n, cap);
        put_action_node(out, &s->forms[i].cancel, seen, &n, cap);
    }
    for (int i = 0; i < s->n_commands; i++)
        put_action_node(out, &s->commands[i].tr, seen, &n, cap);
    for (int i = 0; i < s->n_everywhere; i++)
        put_action_node(out, &s->everywhere[i].tr, seen, &n, cap);
}

static void put_state(FILE *out, const ir_spec *s, int i)
{
    const ir_state *st = &s->states[i];
    fputs("  ", out);
    put_id(out, "state:", st->name);
    fputs(" [label=\"", out);
    put_label(out, st->name);
    if (st->n_say > 0) {
        const char *v = text_value(s, st->say[0].idx);
        if (v) {
            fputs("\\n", out);
            put_label(out, v);
        }
    }
    if (!st->reachable)
        fputs("\\n(unreachable)\", fillcolor=\"" FILL_UNREACHABLE "\", color=\"" LINE_UNREACHABLE
              "\", penwidth=2", out);
    else if (st->dead_end)
        fputs("\\n(dead end)\", fillcolor=\"" FILL_DEAD_END "\", color=\"" LINE_DEAD_END
              "\", penwidth=2", out);
    else
        fputc('"', out);
    if (i == s->start_idx)
        fputs(", peripheries=2", out);
    fputs("];\n", out);
}

/* A form: a cluster of its questions in order; done: from the last,
 * /cancel from the first (it works at every question). Without done: or
 * cancel: the user goes back to where the form started: a "↩" node. */
static void put_form(FILE *out, const ir_spec *s, const ir_form *f)
{
    fputs("  subgraph ", out);
    put_id(out, "cluster_form_", f->name);
    fputs(" {\n    label=\"form ", out);
    put_label(out, f->name);
    fputs("\"; style=\"dashed,rounded\"; color=\"#409040\";\n", out);
    for (int k = 0; k < f->n_fields; k++) {
        fputs("    ", out);
        put_id2(out, "field:", f->name, f->fields[k].name);
        fputs(" [shape=note, fillcolor=\"" FILL_FIELD "\", label=\"", out);
        put_label(out, f->fields[k].name);
        const char *ask = text_value(s, f->fields[k].ask.idx);
        if (ask) {
            fputs("\\n", out);
            put_label(out, ask);
        }
        fputs("\"];\n", out);
        if (k > 0) {
            fputs("    ", out);
            put_id2(out, "field:", f->name, f->fields[k - 1].name);
            fputs(" -> ", out);
            put_id2(out, "field:", f->name, f->fields[k].name);
            fputs(" [label=\"valid\", color=\"#409040\"];\n", out);
        }
    }
    int back = f->n_fields > 0 && (!leads_somewhere(s, &f->done) || !leads_somewhere(s, &f->cancel));
    if (back) {
        fputs("    ", out);
        put_id(out, "return:", f->name);
        fputs(" [shape=plaintext, style=\"\", label=\"↩ where the form started\"];\n", out);
    }
    fputs("  }\n", out);
    if (f->n_fields == 0)
        return;
    const char *last = f->fields[f->n_fields - 1].name, *first = f->fields[0].name;
    put_edge(out, s, "field:", f->name, last, "done", &f->done, "color=\"#409040\"");
    if (!leads_somewhere(s, &f->done)) {
        fputs("  ", out);
        put_id2(out, "field:", f->name, last);
        fputs(" -> ", out);
        put_id(out, "return:", f->name);
        fputs(" [label=\"done\", color=\"#409040\"];\n", out);
    }
    put_edge(out, s, "field:", f->name, first, "/cancel", &f->cancel, "style=dotted");
    if (!leads_somewhere(s, &f->cancel)) {
        fputs("  ", out);
        put_id2(out, "field:", f->name, first);
        fputs(" -> ", out);
        put_id(out, "return:", f->name);
        fputs(" [label=\"/cancel\", style=dotted];\n", out);
    }
}

int emit_dot(const ir_spec *s, FILE *out)
{
    fputs("// Generated by botc graph from ", out);
    fputs(s->path ? s->path : "?", out);
    fputs(". DO NOT EDIT.\n", out);
    fputs("digraph ", out);
    put_id(out, "", s->name ? s->name : "bot");
    fputs(" {\n"
          "  rankdir=LR;\n"
          "  graph [fontname=\"Helvetica\"];\n"
          "  node [shape=box, style=\"rounded,filled\", fillcolor=\"" FILL_STATE "\", "
          "fontname=\"Helvetica\"];\n"
          "  edge [fontname=\"Helvetica\", fontsize=10];\n",
          out);

    fputs("  \"entry\" [shape=circle, label=\"\", width=0.2, fillcolor=black];\n", out);
    put_action_nodes(out, s);
    if (s->start_idx >= 0 && s->start_idx < s->n_states) {
        fputs("  \"entry\" -> ", out);
        put_id(out, "state:", s->states[s->start_idx].name);
        fputs(";\n", out);
    }

    for (int i = 0; i < s->n_states; i++)
        put_state(out, s, i);
    for (int i = 0; i < s->n_forms; i++)
        put_form(out, s, &s->forms[i]);

    for (int i = 0; i < s->n_states; i++) {
        const ir_state *st = &s->states[i];
        put_keyboard_edges(out, s, st, &st->reply, NULL);
        put_keyboard_edges(out, s, st, &st->inl, "color=\"" COLOR_INLINE "\"");
        for (int k = 0; k < st->n_on; k++) {
            char label[160];
            on_label(s, &st->on[k], label, sizeof label);
            put_edge(out, s, "state:", st->name, NULL, label, &st->on[k].tr, "style=bold");
        }
    }

    /* Global commands and everywhere: triggers work from every state: draw
     * them from one node. */
    int any_cmd = 0;
    for (int i = 0; i < s->n_commands; i++)
        if (leads_somewhere(s, &s->commands[i].tr) || s->commands[i].tr.action_id > 0)
            any_cmd = 1;
    for (int i = 0; i < s->n_everywhere; i++)
        if (leads_somewhere(s, &s->everywhere[i].tr) || s->everywhere[i].tr.action_id > 0)
            any_cmd = 1;
    if (any_cmd) {
        fputs("  \"commands\" [shape=plaintext, style=\"\", label=\"from any state\"];\n", out);
        for (int i = 0; i < s->n_commands; i++) {
            char label[80];
            snprintf(label, sizeof label, "/%s", s->commands[i].name);
            put_edge(out, s, "", "commands", NULL, label, &s->commands[i].tr, "color=gray40");
        }
        for (int i = 0; i < s->n_everywhere; i++) {
            char label[160];
            on_label(s, &s->everywhere[i], label, sizeof label);
            put_edge(out, s, "", "commands", NULL, label, &s->everywhere[i].tr,
                     "color=gray40, style=bold");
        }
    }
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}
