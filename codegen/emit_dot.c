/*
 * emit_dot.c — render a checked spec as a Graphviz graph (see emit_dot.h).
 *
 * Works on the IR after check_spec, so every *_idx is resolved; an index
 * that is still -1 (the spec had errors) is drawn as nothing rather than
 * guessed at.
 */
#include "emit_dot.h"

#include <string.h>

#define LABEL_MAX 40 /* characters of a text shown on a node or an edge */

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

/* Write `str` as the inside of a DOT string: its first line, at most
 * LABEL_MAX characters (never cutting a UTF-8 sequence), quotes escaped. */
static void put_label(FILE *out, const char *str)
{
    if (!str)
        return;
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

/* A node id: never truncated, so two long names cannot collide. */
static void put_id(FILE *out, const char *prefix, const char *name)
{
    fputc('"', out);
    fputs(prefix, out);
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

/* Where a transition leads, as a node id; NULL when it stays put. */
static void put_target(FILE *out, const ir_spec *s, const ir_transition *tr)
{
    if (tr->form_idx >= 0 && tr->form_idx < s->n_forms) {
        const ir_form *f = &s->forms[tr->form_idx];
        if (f->n_fields > 0) {
            char id[512];
            snprintf(id, sizeof id, "%s.%s", f->name, f->fields[0].name);
            put_id(out, "field:", id);
            return;
        }
    }
    if (tr->go_idx >= 0 && tr->go_idx < s->n_states)
        put_id(out, "state:", s->states[tr->go_idx].name);
}

static int leads_somewhere(const ir_spec *s, const ir_transition *tr)
{
    return (tr->form_idx >= 0 && tr->form_idx < s->n_forms &&
            s->forms[tr->form_idx].n_fields > 0) ||
           (tr->go_idx >= 0 && tr->go_idx < s->n_states);
}

/* One edge (or two, when the transition also runs an action) from `from`. */
static void put_edge(FILE *out, const ir_spec *s, const char *from_prefix,
                     const char *from, const char *label, const ir_transition *tr,
                     const char *style)
{
    if (tr->action) {
        const char *sink = strcmp(tr->action, "handoff") == 0 ? "action:handoff"
                         : strcmp(tr->action, "llm") == 0 ? "action:llm"
                         : NULL;
        put_id(out, from_prefix, from);
        fputs(" -> ", out);
        if (sink)
            fprintf(out, "\"%s\"", sink);
        else
            put_id(out, "action:", tr->action);
        fputs(" [style=dashed, label=\"", out);
        put_label(out, label);
        fputs("\"];\n", out);
    }
    if (!leads_somewhere(s, tr))
        return;
    put_id(out, from_prefix, from);
    fputs(" -> ", out);
    put_target(out, s, tr);
    fprintf(out, " [label=\"");
    put_label(out, label);
    fprintf(out, "\"%s%s];\n", style ? ", " : "", style ? style : "");
}

static void put_on_label(FILE *out, const ir_spec *s, const ir_on *on, char *buf, size_t n)
{
    (void)out;
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

static int state_is_dead_end(const ir_spec *s, const ir_state *st)
{
    for (int r = 0; r < st->reply.n_rows; r++)
        for (int b = 0; b < st->reply.rows[r].n_buttons; b++)
            if (leads_somewhere(s, &st->reply.rows[r].buttons[b].tr))
                return 0;
    for (int r = 0; r < st->inl.n_rows; r++)
        for (int b = 0; b < st->inl.rows[r].n_buttons; b++)
            if (leads_somewhere(s, &st->inl.rows[r].buttons[b].tr))
                return 0;
    for (int i = 0; i < st->n_on; i++)
        if (leads_somewhere(s, &st->on[i].tr))
            return 0;
    for (int i = 0; i < s->n_commands; i++)
        if (leads_somewhere(s, &s->commands[i].tr))
            return 0;
    return 1;
}

static void put_keyboard_edges(FILE *out, const ir_spec *s, const ir_state *st,
                               const ir_keyboard *kb, const char *style)
{
    for (int r = 0; r < kb->n_rows; r++)
        for (int b = 0; b < kb->rows[r].n_buttons; b++) {
            const ir_button *btn = &kb->rows[r].buttons[b];
            const char *label = text_value(s, btn->label.idx);
            put_edge(out, s, "state:", st->name, label ? label : "", &btn->tr, style);
        }
}

int emit_dot(const ir_spec *s, FILE *out)
{
    fputs("// Generated by botc graph from ", out);
    fputs(s->path ? s->path : "?", out);
    fputs(". DO NOT EDIT.\n", out);
    fputs("digraph \"", out);
    put_label(out, s->name ? s->name : "bot");
    fputs("\" {\n"
          "  rankdir=LR;\n"
          "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef4ff\", fontname=\"Helvetica\"];\n"
          "  edge [fontname=\"Helvetica\", fontsize=10];\n",
          out);

    /* The entry point and the runtime's exits. */
    fputs("  \"entry\" [shape=circle, label=\"\", width=0.2, fillcolor=black];\n", out);
    fputs("  \"action:llm\" [shape=ellipse, style=\"filled,dashed\", fillcolor=\"#f3e8ff\", label=\"🤖 LLM answer\"];\n", out);
    fputs("  \"action:handoff\" [shape=hexagon, fillcolor=\"#ffe9d6\", label=\"👤 operator\"];\n", out);
    if (s->start_idx >= 0 && s->start_idx < s->n_states) {
        fputs("  \"entry\" -> ", out);
        put_id(out, "state:", s->states[s->start_idx].name);
        fputs(";\n", out);
    }

    for (int i = 0; i < s->n_states; i++) {
        const ir_state *st = &s->states[i];
        const char *fill = !st->reachable ? "#ffd6d6"
                         : state_is_dead_end(s, st) ? "#fff0b3" : NULL;
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
            fputs("\\n(unreachable)", out);
        else if (fill)
            fputs("\\n(dead end)", out);
        fputc('"', out);
        if (fill)
            fprintf(out, ", fillcolor=\"%s\"", fill);
        fputs("];\n", out);
    }

    for (int i = 0; i < s->n_forms; i++) {
        const ir_form *f = &s->forms[i];
        fputs("  subgraph \"cluster_form_", out);
        put_label(out, f->name);
        fputs("\" {\n    label=\"form ", out);
        put_label(out, f->name);
        fputs("\"; style=dashed;\n", out);
        char id[512], prev[512] = "";
        for (int k = 0; k < f->n_fields; k++) {
            snprintf(id, sizeof id, "%s.%s", f->name, f->fields[k].name);
            fputs("    ", out);
            put_id(out, "field:", id);
            fputs(" [shape=note, fillcolor=\"#eaffea\", label=\"", out);
            put_label(out, f->fields[k].name);
            fputs("\"];\n", out);
            if (prev[0]) {
                fputs("    ", out);
                put_id(out, "field:", prev);
                fputs(" -> ", out);
                put_id(out, "field:", id);
                fputs(" [label=\"valid\"];\n", out);
            }
            memcpy(prev, id, sizeof prev);
        }
        fputs("  }\n", out);
        if (prev[0]) {
            put_edge(out, s, "field:", prev, "done", &f->done, NULL);
            if (f->n_fields > 0) {
                snprintf(id, sizeof id, "%s.%s", f->name, f->fields[0].name);
                put_edge(out, s, "field:", id, "/cancel", &f->cancel, "style=dotted");
            }
        }
    }

    for (int i = 0; i < s->n_states; i++) {
        const ir_state *st = &s->states[i];
        put_keyboard_edges(out, s, st, &st->reply, NULL);
        put_keyboard_edges(out, s, st, &st->inl, "color=\"#3060c0\"");
        for (int k = 0; k < st->n_on; k++) {
            char label[160];
            put_on_label(out, s, &st->on[k], label, sizeof label);
            put_edge(out, s, "state:", st->name, label, &st->on[k].tr, "style=bold");
        }
    }

    /* Global commands work from every state: draw them from one node. */
    int any_cmd = 0;
    for (int i = 0; i < s->n_commands; i++)
        if (ir_transition_present(&s->commands[i].tr))
            any_cmd = 1;
    if (any_cmd) {
        fputs("  \"commands\" [shape=plaintext, style=\"\", label=\"any state\"];\n", out);
        for (int i = 0; i < s->n_commands; i++) {
            char label[80];
            snprintf(label, sizeof label, "/%s", s->commands[i].name);
            put_edge(out, s, "", "commands", label, &s->commands[i].tr, "color=gray40");
        }
    }
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}
