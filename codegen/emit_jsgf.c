/*
 * emit_jsgf.c — see emit_jsgf.h.
 */
#include "emit_jsgf.h"

#include <string.h>

const char *jsgf_words(arena *a, const char *label)
{
    size_t n = strlen(label);
    char *w = arena_alloc(a, n + 1), *p = w;
    int gap = 0;
    for (const char *s = label; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '{' || (c >= '0' && c <= '9'))
            return NULL;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c == '\'' && p > w && !gap)) {
            if (gap && p > w)
                *p++ = ' ';
            gap = 0;
            *p++ = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        } else {
            gap = 1;
        }
    }
    *p = '\0';
    return *w ? w : NULL;
}

typedef struct phrase {
    const char *words, *text;
} phrase;

typedef struct plist {
    phrase *v;
    int n, cap;
} plist;

static void add(arena *a, plist *l, const char *text)
{
    const char *w = text ? jsgf_words(a, text[0] == '/' ? text + 1 : text) : NULL;
    if (!w)
        return;
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].words, w))
            return; /* the first phrase of these words wins */
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        phrase *v = arena_alloc(a, (size_t)cap * sizeof *v);
        if (l->n)
            memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (phrase){w, text};
}

static int english(const low_machine *m)
{
    for (int i = 0; i < m->n_langs; i++)
        if (!strcmp(m->langs[i], "en"))
            return i;
    return -1;
}

static void put_commands(arena *a, const low_machine *m, plist *l)
{
    for (int i = 0; i < m->n_commands; i++)
        add(a, l, arena_printf(a, "/%s", m->commands[i].name));
}

/* One grammar: its phrase table and JSGF text, named `name`. */
static void put_grammar(strbuf *sb, const char *name, const char *what, const plist *l)
{
    if (l->n == 0)
        return;
    sb_printf(sb, "/* %s */\nstatic const bm_voice_phrase %s_phrases[%d] = {\n", what, name, l->n);
    for (int i = 0; i < l->n; i++) {
        sb_puts(sb, "    {");
        sb_put_cstr(sb, l->v[i].words, "");
        sb_puts(sb, ", ");
        sb_put_cstr(sb, l->v[i].text, "");
        sb_puts(sb, "},\n");
    }
    sb_puts(sb, "};\n");
    sb_printf(sb, "static const char %s_jsgf[] =\n    \"#JSGF V1.0;\\n\"\n    \"grammar %s;\\n\"\n"
                  "    \"public <phrase> =\"\n", name, name);
    for (int i = 0; i < l->n; i++)
        sb_printf(sb, "    \"%s %s\"\n", i ? " |" : "", l->v[i].words);
    sb_puts(sb, "    \";\\n\";\n\n");
}

void emit_jsgf(strbuf *sb, arena *a, const low_machine *m)
{
    if (!m->voice.present)
        return;
    int en = english(m);
    sb_puts(sb, "/* ---- voice: the speech grammars (codegen/emit_jsgf.c) ---- */\n\n");
    plist *st = arena_alloc(a, (size_t)(m->n_states + 1) * sizeof *st);
    plist *fl = arena_alloc(a, (size_t)(m->n_fields + 1) * sizeof *fl);
    memset(st, 0, (size_t)(m->n_states + 1) * sizeof *st);
    memset(fl, 0, (size_t)(m->n_fields + 1) * sizeof *fl);
    for (int s = 0; s < m->n_states && en >= 0; s++) {
        const low_state *S = &m->states[s];
        if (S->reply_kb >= 0) {
            const low_keyboard *k = &m->keyboards[S->reply_kb];
            for (int r = k->first_row; r < k->first_row + k->n_rows; r++)
                for (int b = m->rows[r].first_button;
                     b < m->rows[r].first_button + m->rows[r].n_buttons; b++)
                    if (m->buttons[b].kind == BM_BTN_REPLY)
                        add(a, &st[s], m->texts[m->buttons[b].label].values[en]);
        }
        put_commands(a, m, &st[s]);
        put_grammar(sb, arena_printf(a, "voice_s%d", s), arena_printf(a, "state %s", S->name),
                    &st[s]);
    }
    for (int f = 0; f < m->n_fields && en >= 0; f++) {
        const low_field *F = &m->fields[f];
        for (int c = F->first_choice; c < F->first_choice + F->n_choices; c++)
            add(a, &fl[f], m->texts[m->choices[c]].values[en]);
        add(a, &fl[f], "/cancel");
        put_grammar(sb, arena_printf(a, "voice_f%d", f), arena_printf(a, "field %s", F->full_name),
                    &fl[f]);
    }
    if (m->n_states > 0) {
        sb_printf(sb, "static const bm_voice_grammar voice_states[%d] = {\n", m->n_states);
        for (int s = 0; s < m->n_states; s++)
            if (st[s].n)
                sb_printf(sb, "    {voice_s%d_jsgf, voice_s%d_phrases, %d}, /* %s */\n", s, s,
                          st[s].n, m->states[s].name);
            else
                sb_printf(sb, "    {NULL, NULL, 0}, /* %s */\n", m->states[s].name);
        sb_puts(sb, "};\n\n");
    }
    if (m->n_fields > 0) {
        sb_printf(sb, "static const bm_voice_grammar voice_fields[%d] = {\n", m->n_fields);
        for (int f = 0; f < m->n_fields; f++)
            if (fl[f].n)
                sb_printf(sb, "    {voice_f%d_jsgf, voice_f%d_phrases, %d}, /* %s */\n", f, f,
                          fl[f].n, m->fields[f].full_name);
            else
                sb_printf(sb, "    {NULL, NULL, 0}, /* %s */\n", m->fields[f].full_name);
        sb_puts(sb, "};\n\n");
    }
    sb_printf(sb, "static const bm_voice voice = {\n    .max_seconds = %ld,\n    .echo = %s,\n"
                  "    .states = %s,\n    .fields = %s,\n};\n\n",
              m->voice.max_seconds > 0 ? m->voice.max_seconds : 60L,
              m->voice.echo ? "true" : "false", m->n_states > 0 ? "voice_states" : "NULL",
              m->n_fields > 0 ? "voice_fields" : "NULL");
}
