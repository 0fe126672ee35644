/*
 * check.c — resolve names, enforce the spec's rules and Telegram's limits,
 * compute reachability. Reports everything; never stops at the first error.
 */
#include "check.h"

#include <ctype.h>
#include <string.h>

#include "build.h"
#include "rx.h"

#define CK_TEXT_MAX 4096      /* Telegram: message text, UTF-16 code units */
#define CK_DESC_MAX 256       /* Telegram: BotCommand.description */
#define CK_DATA_MAX 64        /* Telegram: callback_data, bytes */

typedef struct ck {
    arena *a;
    diag_list *d;
    ir_spec *s;
    int vars_cap;
    int errors;
    const char **state_names;
    const char **text_names; /* named texts only: suggestions */
    int n_text_names;
    const char **form_names;
} ck;

/* Indices match bm_action (runtime/machine.h): 0 is BM_ACT_NONE. */
static const char *const CK_ACTIONS[] = { "llm", "handoff", "transcribe", "export_data",
                                          "delete_data", "session_start", "session_end",
                                          "session_list", NULL };

static const char *const CK_BUILTIN_PLACEHOLDERS[] = { "first_name", "last_name", "username",
                                                       "user_id", "language", "text", NULL };

#define CK_ERR(c, pos, hint, ...) ((c)->errors++, diag_error((c)->d, pos, hint, __VA_ARGS__))

/* "did you mean 'x'?" for `word` among `cands`, else `fallback` (may be
 * NULL). The returned hint lives in the arena. */
static const char *ck_hint(ck *c, const char *word, const char *const *cands, int n,
                           const char *fallback)
{
    const char *sug = build_suggest(word, cands, n);
    if (sug)
        return arena_printf(c->a, "did you mean '%s'?", sug);
    return fallback;
}

static int ck_find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static size_t ck_utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        n += *p >= 0xF0 ? 2 : 1; /* outside the BMP: a surrogate pair */
    }
    return n;
}

static const char *ck_list(ck *c, const char *const *names, int n)
{
    const char *out = "";
    int shown = 0;
    for (int i = 0; i < n && shown < 12; i++) {
        if (ck_find(names, i, names[i]) >= 0)
            continue; /* a duplicate name: listed once */
        out = arena_printf(c->a, "%s%s%s", out, shown++ ? ", " : "", names[i]);
    }
    if (n > 12)
        out = arena_printf(c->a, "%s, ...", out);
    return out;
}

/* ---- names -------------------------------------------------------------- */

static void ck_textref(ck *c, ir_textref *r)
{
    r->idx = -1;
    if (!r->key)
        return;
    for (int i = 0; i < c->s->n_texts; i++) {
        if (strcmp(c->s->texts[i].name, r->key) == 0) {
            r->idx = i;
            c->s->texts[i].used = true;
            return;
        }
    }
    CK_ERR(c, r->pos,
           ck_hint(c, r->key, c->text_names, c->n_text_names,
                   "declare it under texts:, or write it in place as {en: \"...\"}"),
           "unknown text '%s'", r->key);
}

static int ck_state(ck *c, const char *name, src_pos pos)
{
    int i = ck_find(c->state_names, c->s->n_states, name);
    if (i < 0)
        CK_ERR(c, pos,
               ck_hint(c, name, c->state_names, c->s->n_states,
                       c->s->n_states ? arena_printf(c->a, "states: %s",
                                                     ck_list(c, c->state_names, c->s->n_states))
                                      : NULL),
               "unknown state '%s'", name);
    return i;
}

static int ck_var(ck *c, const char *name)
{
    for (int i = 0; i < c->s->n_vars; i++)
        if (strcmp(c->s->vars[i].name, name) == 0)
            return i;
    return -1;
}

static int ck_add_var(ck *c, const char *name, src_pos pos)
{
    ir_spec *s = c->s;
    if (c->vars_cap == 0)
        c->vars_cap = s->n_vars; /* build.c allocated exactly n_vars */
    if (s->n_vars == c->vars_cap) {
        int cap = c->vars_cap ? c->vars_cap * 2 : 16;
        ir_var *v = ARENA_ARRAY(c->a, ir_var, cap);
        if (s->n_vars)
            memcpy(v, s->vars, sizeof *v * (size_t)s->n_vars);
        s->vars = v;
        c->vars_cap = cap;
    }
    ir_var *v = &s->vars[s->n_vars];
    v->name = name;
    v->pos = pos;
    v->initial = "";
    v->declared = false;
    return s->n_vars++;
}

static void ck_transition(ck *c, ir_transition *t)
{
    ck_textref(c, &t->say);
    t->go_idx = t->go ? ck_state(c, t->go, t->go_pos) : -1;
    t->form_idx = -1;
    if (t->form) {
        t->form_idx = ck_find(c->form_names, c->s->n_forms, t->form);
        if (t->form_idx < 0)
            CK_ERR(c, t->form_pos,
                   ck_hint(c, t->form, c->form_names, c->s->n_forms, "declare it under forms:"),
                   "unknown form '%s'", t->form);
        if (t->go)
            CK_ERR(c, t->go_pos, "the form's done: decides where to go after it",
                   "a transition starts a form or goes to a state, not both");
    }
    t->action_id = 0;
    if (t->action) {
        int i = ck_find(CK_ACTIONS, 8, t->action);
        if (i < 0)
            CK_ERR(c, t->action_pos,
                   ck_hint(c, t->action, CK_ACTIONS, 8,
                           "actions: llm, handoff, transcribe, export_data, delete_data, "
                           "session_start, session_end, session_list"),
                   "unknown action '%s'", t->action);
        else
            t->action_id = i + 1;
    }
    for (int i = 0; i < t->n_set; i++) {
        ir_assign *as = &t->set[i];
        as->var_idx = ck_var(c, as->var);
        if (as->var_idx < 0)
            as->var_idx = ck_add_var(c, as->var, as->pos);
    }
}

static int ck_command_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_'))
            return 0;
    return 1;
}

static void ck_command_name(ck *c, const char *name, src_pos pos)
{
    if (ck_command_name_ok(name))
        return;
    const char *hint = "Telegram commands are 1-32 characters: lowercase letters, digits and _";
    if (name[0] == '/')
        hint = "write the command without the slash";
    CK_ERR(c, pos, hint, "invalid command name '%s'", name);
}

static void ck_regex(ck *c, const char *pattern, src_pos pos, rx_mode mode)
{
    rx_error err;
    memset(&err, 0, sizeof err);
    if (rx_to_re2c(c->a, pattern, mode, &err))
        return;
    size_t len = strlen(pattern);
    src_pos at = diag_locate(c->d, pos, pattern, err.offset <= len ? err.offset : len);
    CK_ERR(c, at, err.hint, "invalid regex: %s", err.message[0] ? err.message : "cannot compile");
}

/* ---- sections ------------------------------------------------------------ */

static void ck_bot(ck *c)
{
    ir_spec *s = c->s;
    if (s->name) {
        int ok = islower((unsigned char)s->name[0]);
        for (const char *p = s->name; *p && ok; p++)
            ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
        if (!ok)
            CK_ERR(c, s->name_pos, "names bin/<name> and generated symbols: [a-z][a-z0-9_]*",
                   "bot name '%s' is not a C identifier", s->name);
    }
    for (int i = 0; i < s->n_langs; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(s->langs[i], s->langs[j]) == 0)
                CK_ERR(c, s->lang_pos[i], NULL, "duplicate language '%s'", s->langs[i]);
    if (s->default_lang && ck_find(s->langs, s->n_langs, s->default_lang) < 0)
        CK_ERR(c, s->default_lang_pos,
               ck_hint(c, s->default_lang, s->langs, s->n_langs,
                       arena_printf(c->a, "languages: %s", ck_list(c, s->langs, s->n_langs))),
               "default language '%s' is not one of languages", s->default_lang);
}

static void ck_texts(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_texts; i++) {
        ir_text *t = &s->texts[i];
        if (!t->is_inline) {
            for (int j = 0; j < i; j++) {
                if (!s->texts[j].is_inline && strcmp(s->texts[j].name, t->name) == 0) {
                    CK_ERR(c, t->pos, arena_printf(c->a, "first defined at line %u",
                                                   s->texts[j].pos.line),
                           "duplicate text '%s'", t->name);
                    break;
                }
            }
        }
        const char *what = t->is_inline ? "inline text" : arena_printf(c->a, "text '%s'", t->name);
        for (int k = 0; k < t->n_trs; k++) {
            ir_tr *tr = &t->trs[k];
            if (ck_find(s->langs, s->n_langs, tr->lang) < 0)
                CK_ERR(c, tr->lang_pos,
                       ck_hint(c, tr->lang, s->langs, s->n_langs,
                               arena_printf(c->a, "declared languages: %s",
                                            ck_list(c, s->langs, s->n_langs))),
                       "unknown language '%s' in %s", tr->lang, what);
            size_t n = ck_utf16_len(tr->value);
            if (n > CK_TEXT_MAX)
                CK_ERR(c, tr->pos, "split it into several messages (say: takes a list)",
                       "text is %zu characters long; Telegram allows %d", n, CK_TEXT_MAX);
            else if (n == 0)
                CK_ERR(c, tr->pos, "Telegram rejects empty messages", "text is empty");
        }
        for (int l = 0; l < s->n_langs && t->trs; l++) { /* no trs: body was no map */
            int found = 0;
            for (int k = 0; k < t->n_trs && !found; k++)
                found = strcmp(t->trs[k].lang, s->langs[l]) == 0;
            if (!found)
                CK_ERR(c, t->pos,
                       arena_printf(c->a, "every text needs all of: %s",
                                    ck_list(c, s->langs, s->n_langs)),
                       "missing '%s' translation of %s", s->langs[l], what);
        }
    }
}

static void ck_button(ck *c, ir_button *b)
{
    ck_textref(c, &b->label);
    ck_transition(c, &b->tr);
    if (b->data) {
        size_t n = strlen(b->data);
        if (n == 0 || n > CK_DATA_MAX)
            CK_ERR(c, b->data_pos, "or leave data: out and botc picks one",
                   "callback data is %zu bytes; Telegram allows 1-%d", n, CK_DATA_MAX);
    }
    if ((b->kind == IR_BTN_REPLY || b->kind == IR_BTN_CALLBACK) && !ir_transition_present(&b->tr))
        CK_ERR(c, b->pos,
               b->kind == IR_BTN_REPLY
                   ? "add goto:, form:, action:, say: or set: (or contact: true)"
                   : "add goto:, form:, action:, say: or set: (or url:)",
               "button does nothing");
}

static void ck_keyboard(ck *c, ir_keyboard *kb)
{
    for (int r = 0; r < kb->n_rows; r++)
        for (int b = 0; b < kb->rows[r].n_buttons; b++)
            ck_button(c, &kb->rows[r].buttons[b]);
}

static void ck_states(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_states; i++) {
        ir_state *st = &s->states[i];
        int first = ck_find(c->state_names, i, st->name);
        if (first >= 0)
            CK_ERR(c, st->pos,
                   arena_printf(c->a, "first defined at line %u", s->states[first].pos.line),
                   "duplicate state '%s'", st->name);
        for (int k = 0; k < st->n_say; k++)
            ck_textref(c, &st->say[k]);
        ck_keyboard(c, &st->reply);
        ck_keyboard(c, &st->inl);
        if (st->reply.present && st->inl.present && st->n_say < 2)
            CK_ERR(c, st->pos,
                   "the reply keyboard rides on the first message and the inline keyboard on "
                   "the last: give say: a list of two texts",
                   "state '%s' has a keyboard and an inline keyboard but %s", st->name,
                   st->n_say ? "only one message" : "no message");
        else if ((st->reply.present || st->inl.present) && st->n_say == 0)
            CK_ERR(c, st->pos, "a keyboard is sent with a message: add say:",
                   "state '%s' has a keyboard but says nothing", st->name);
        for (int k = 0; k < st->n_on; k++) {
            ir_on *on = &st->on[k];
            if (on->trigger == IR_ON_COMMAND && on->arg)
                ck_command_name(c, on->arg, on->arg_pos);
            else if (on->trigger == IR_ON_PATTERN && on->arg)
                ck_regex(c, on->arg, on->arg_pos, RX_TRIGGER);
            else if (on->trigger == IR_ON_TEXT)
                ck_textref(c, &on->text);
            ck_transition(c, &on->tr);
            if (!ir_transition_present(&on->tr))
                CK_ERR(c, on->pos, "add goto:, form:, action:, say: or set:",
                       "trigger does nothing");
        }
        for (int k = 0; k < st->n_renamed; k++)
            if (ck_find(c->state_names, s->n_states, st->renamed_from[k]) >= 0)
                CK_ERR(c, st->renamed_pos[k], "renamed_from: lists old names that no longer exist",
                       "renamed_from names state '%s', which still exists", st->renamed_from[k]);
    }
}

static void ck_commands(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_commands; i++) {
        ir_command *cmd = &s->commands[i];
        ck_command_name(c, cmd->name, cmd->pos);
        for (int j = 0; j < i; j++) {
            if (strcmp(s->commands[j].name, cmd->name) == 0) {
                CK_ERR(c, cmd->pos,
                       arena_printf(c->a, "first defined at line %u", s->commands[j].pos.line),
                       "duplicate command '%s'", cmd->name);
                break;
            }
        }
        ck_textref(c, &cmd->description);
        if (cmd->description.idx >= 0) {
            ir_text *t = &s->texts[cmd->description.idx];
            for (int k = 0; k < t->n_trs; k++) {
                size_t n = ck_utf16_len(t->trs[k].value);
                if (n > CK_DESC_MAX)
                    CK_ERR(c, t->trs[k].pos, NULL,
                           "command description is %zu characters long; Telegram allows %d", n,
                           CK_DESC_MAX);
            }
        }
        ck_transition(c, &cmd->tr);
    }
}

static void ck_form_vars(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_forms; i++) {
        ir_form *f = &s->forms[i];
        for (int k = 0; k < f->n_fields; k++) {
            const char *name = arena_printf(c->a, "%s.%s", f->name, f->fields[k].name);
            if (ck_var(c, name) < 0)
                ck_add_var(c, name, f->fields[k].pos);
        }
    }
}

static void ck_forms(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_forms; i++) {
        ir_form *f = &s->forms[i];
        int first = ck_find(c->form_names, i, f->name);
        if (first >= 0)
            CK_ERR(c, f->pos, arena_printf(c->a, "first defined at line %u", s->forms[first].pos.line),
                   "duplicate form '%s'", f->name);
        for (int k = 0; k < f->n_fields; k++) {
            ir_field *fd = &f->fields[k];
            for (int j = 0; j < k; j++) {
                if (strcmp(f->fields[j].name, fd->name) == 0) {
                    CK_ERR(c, fd->pos,
                           arena_printf(c->a, "first defined at line %u", f->fields[j].pos.line),
                           "duplicate field '%s' in form '%s'", fd->name, f->name);
                    break;
                }
            }
            ck_textref(c, &fd->ask);
            ck_textref(c, &fd->retry);
            ck_textref(c, &fd->button);
            for (int j = 0; j < fd->n_choices; j++)
                ck_textref(c, &fd->choices[j]);
            switch (fd->v) {
            case IR_V_NONE:
                if (!fd->v_pos.line) /* else build.c reported a bad one */
                    CK_ERR(c, fd->pos,
                           "add validate: text | integer | number | date | phone | "
                           "{regex: ...} | {choice: [...]}",
                           "form field '%s' has no validator", fd->name);
                break;
            case IR_V_CHOICE:
                if (fd->n_choices == 0)
                    CK_ERR(c, fd->v_pos, "list the options: {choice: [text_a, text_b]}",
                           "choice validator has no choices");
                break;
            case IR_V_INTEGER:
            case IR_V_NUMBER:
                if (fd->has_min && fd->has_max && fd->min > fd->max)
                    CK_ERR(c, fd->v_pos, "write [min, max]", "min %g is greater than max %g",
                           fd->min, fd->max);
                break;
            case IR_V_REGEX:
                if (fd->regex)
                    ck_regex(c, fd->regex, fd->regex_pos, RX_VALIDATOR);
                break;
            default:
                break;
            }
        }
        ck_transition(c, &f->done);
        ck_transition(c, &f->cancel);
    }
}

static void ck_moves(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_moves; i++) {
        ir_move *m = &s->moves[i];
        if (ck_find(c->state_names, s->n_states, m->from) >= 0)
            CK_ERR(c, m->pos, "moved: is for deleted states; delete the state or this line",
                   "moved: state '%s' still exists", m->from);
        m->to_idx = ck_state(c, m->to, m->to_pos);
    }
}

/* ---- placeholders ------------------------------------------------------- */

static void ck_template(ck *c, const char *v, src_pos pos)
{
    for (const char *p = v; *p; p++) {
        if (*p == '{' && p[1] == '{') {
            p++;
            continue;
        }
        if (*p == '}' && p[1] == '}') {
            p++;
            continue;
        }
        if (*p == '}') {
            CK_ERR(c, diag_locate(c->d, pos, "}", 0), "write }} for a literal brace",
                   "unmatched '}' in text");
            continue;
        }
        if (*p != '{')
            continue;
        const char *e = strchr(p, '}');
        if (!e) {
            CK_ERR(c, diag_locate(c->d, pos, p, 0), "write {{ for a literal brace",
                   "unclosed '{' in text");
            return;
        }
        const char *name = arena_strndup(c->a, p + 1, (size_t)(e - p - 1));
        const char *whole = arena_strndup(c->a, p, (size_t)(e - p + 1));
        if (ck_find(CK_BUILTIN_PLACEHOLDERS, 6, name) < 0 && ck_var(c, name) < 0) {
            int n = c->s->n_vars + 6;
            const char **cands = ARENA_ARRAY(c->a, const char *, n);
            for (int i = 0; i < 6; i++)
                cands[i] = CK_BUILTIN_PLACEHOLDERS[i];
            for (int i = 0; i < c->s->n_vars; i++)
                cands[6 + i] = c->s->vars[i].name;
            CK_ERR(c, diag_locate(c->d, pos, whole, 0),
                   ck_hint(c, name, cands, n,
                           "placeholders: first_name, last_name, username, user_id, language, "
                           "text, a variable, or form.field"),
                   "unknown placeholder '%s'", whole);
        }
        p = e;
    }
}

static void ck_tr_templates(ck *c, const ir_transition *t)
{
    for (int i = 0; i < t->n_set; i++)
        ck_template(c, t->set[i].value, t->set[i].pos);
}

static void ck_placeholders(ck *c)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_texts; i++)
        for (int k = 0; k < s->texts[i].n_trs; k++)
            ck_template(c, s->texts[i].trs[k].value, s->texts[i].trs[k].pos);
    for (int i = 0; i < s->n_commands; i++)
        ck_tr_templates(c, &s->commands[i].tr);
    for (int i = 0; i < s->n_forms; i++) {
        ck_tr_templates(c, &s->forms[i].done);
        ck_tr_templates(c, &s->forms[i].cancel);
    }
    for (int i = 0; i < s->n_states; i++) {
        ir_state *st = &s->states[i];
        for (int k = 0; k < st->n_on; k++)
            ck_tr_templates(c, &st->on[k].tr);
        ir_keyboard *kbs[2] = { &st->reply, &st->inl };
        for (int q = 0; q < 2; q++)
            for (int r = 0; r < kbs[q]->n_rows; r++)
                for (int b = 0; b < kbs[q]->rows[r].n_buttons; b++)
                    ck_tr_templates(c, &kbs[q]->rows[r].buttons[b].tr);
    }
}

/* ---- reachability --------------------------------------------------------- */

/* Mark in `hit` the states transition `t` can lead to (through forms too). */
static void ck_targets(const ir_spec *s, const ir_transition *t, char *hit, char *forms_seen)
{
    if (t->go_idx >= 0)
        hit[t->go_idx] = 1;
    if (t->form_idx >= 0 && !forms_seen[t->form_idx]) {
        forms_seen[t->form_idx] = 1;
        ck_targets(s, &s->forms[t->form_idx].done, hit, forms_seen);
        ck_targets(s, &s->forms[t->form_idx].cancel, hit, forms_seen);
    }
}

static void ck_state_targets(const ir_spec *s, const ir_state *st, char *hit, char *forms_seen)
{
    for (int k = 0; k < st->n_on; k++)
        ck_targets(s, &st->on[k].tr, hit, forms_seen);
    const ir_keyboard *kbs[2] = { &st->reply, &st->inl };
    for (int q = 0; q < 2; q++)
        for (int r = 0; r < kbs[q]->n_rows; r++)
            for (int b = 0; b < kbs[q]->rows[r].n_buttons; b++)
                ck_targets(s, &kbs[q]->rows[r].buttons[b].tr, hit, forms_seen);
}

static void ck_reach(ck *c)
{
    ir_spec *s = c->s;
    int n = s->n_states;
    if (n == 0)
        return;
    char *reached = arena_alloc(c->a, (size_t)n);
    char *forms_seen = arena_alloc(c->a, (size_t)s->n_forms + 1);
    int *queue = ARENA_ARRAY(c->a, int, n);
    int head = 0, tail = 0;
    char *roots = arena_alloc(c->a, (size_t)n);
    if (s->start_idx >= 0)
        roots[s->start_idx] = 1;
    int global_exit = 0;
    for (int i = 0; i < s->n_commands; i++) {
        ck_targets(s, &s->commands[i].tr, roots, forms_seen);
        if (s->commands[i].tr.go_idx >= 0 || s->commands[i].tr.form_idx >= 0)
            global_exit = 1;
    }
    for (int i = 0; i < n; i++) {
        if (roots[i]) {
            reached[i] = 1;
            queue[tail++] = i;
        }
    }
    char *hit = arena_alloc(c->a, (size_t)n);
    while (head < tail) {
        int i = queue[head++];
        memset(hit, 0, (size_t)n);
        memset(forms_seen, 0, (size_t)s->n_forms + 1);
        ck_state_targets(s, &s->states[i], hit, forms_seen);
        for (int j = 0; j < n; j++) {
            if (hit[j] && !reached[j]) {
                reached[j] = 1;
                queue[tail++] = j;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        ir_state *st = &s->states[i];
        st->reachable = reached[i];
        /* One warning per name: duplicates are already errors. */
        if (ck_find(c->state_names, i, st->name) >= 0)
            continue;
        if (!reached[i] && s->start_idx >= 0)
            diag_warning(c->d, st->pos,
                         "no button, trigger or command leads here from the start state",
                         "state '%s' is unreachable", st->name);
        if (global_exit)
            continue;
        memset(hit, 0, (size_t)n);
        memset(forms_seen, 0, (size_t)s->n_forms + 1);
        ck_state_targets(s, st, hit, forms_seen);
        int out = 0;
        for (int j = 0; j < n && !out; j++)
            out = hit[j] && j != i;
        if (!out)
            diag_warning(c->d, st->pos,
                         "add a button or trigger with goto:, or a global command with goto: "
                         "(e.g. /start)",
                         "state '%s' has no way out", st->name);
    }
}

int check_spec(arena *a, diag_list *d, ir_spec *s)
{
    ck c;
    memset(&c, 0, sizeof c);
    c.a = a;
    c.d = d;
    c.s = s;
    c.state_names = ARENA_ARRAY(a, const char *, s->n_states + 1);
    for (int i = 0; i < s->n_states; i++)
        c.state_names[i] = s->states[i].name;
    c.form_names = ARENA_ARRAY(a, const char *, s->n_forms + 1);
    for (int i = 0; i < s->n_forms; i++)
        c.form_names[i] = s->forms[i].name;
    c.text_names = ARENA_ARRAY(a, const char *, s->n_texts + 1);
    for (int i = 0; i < s->n_texts; i++)
        if (!s->texts[i].is_inline)
            c.text_names[c.n_text_names++] = s->texts[i].name;

    ck_bot(&c);
    if (!s->start) {
        CK_ERR(&c, s->start_pos, "start: <state> names the state every user begins in",
               "missing required key 'start' in bot:");
    } else {
        s->start_idx = ck_state(&c, s->start, s->start_pos);
    }
    for (int i = 0; i < s->n_vars; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(s->vars[i].name, s->vars[j].name) == 0) {
                CK_ERR(&c, s->vars[i].pos,
                       arena_printf(a, "first declared at line %u", s->vars[j].pos.line),
                       "duplicate variable '%s'", s->vars[i].name);
                break;
            }
    ck_texts(&c);
    ck_form_vars(&c);
    ck_commands(&c);
    ck_states(&c);
    ck_forms(&c);
    ck_moves(&c);
    ck_placeholders(&c);
    ck_reach(&c);
    return c.errors;
}
