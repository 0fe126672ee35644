/*
 * check.c — resolve names, enforce the spec's rules and Telegram's limits,
 * compute reachability. Reports everything; never stops at the first error.
 */
#include "check.h"

#include "dialogue/machine.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/phone_list.h"
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
    int unknown_targets; /* transitions to a state or form that does not exist */
    bool llm_missing_told; /* `action: llm` without `llm:` was reported once */
} ck;

/* The action names a spec may write (runtime/dialogue/action_list.h):
 * CK_ACTIONS[i] is bm_action i + 1 (0 is BM_ACT_NONE). */
#define CK_ACTION_NAME_(E, name, row) #name,
static const char *const CK_ACTIONS[] = { BM_ACTIONS(CK_ACTION_NAME_) NULL };
#undef CK_ACTION_NAME_
#define CK_N_ACTIONS (BM_ACT_COUNT - 1)
_Static_assert(sizeof CK_ACTIONS / sizeof CK_ACTIONS[0] == CK_N_ACTIONS + 1,
               "CK_ACTIONS is bm_action without BM_ACT_NONE");

/* The countries a phone validator may name (runtime/base/phone_list.h). */
#define CK_COUNTRY_NAME_(iso, cc, trunk, intl, min, max) #iso,
static const char *const CK_COUNTRIES[] = { PHONE_COUNTRIES(CK_COUNTRY_NAME_) NULL };
#undef CK_COUNTRY_NAME_
#define CK_N_COUNTRIES ((int)(sizeof CK_COUNTRIES / sizeof CK_COUNTRIES[0]) - 1)

static const char *const CK_BUILTIN_PLACEHOLDERS[] = { "first_name", "last_name", "username",
                                                       "user_id", "language", "text",
                                                       "persona_label", NULL };
#define CK_N_BUILTIN_PLACEHOLDERS 7

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

/* "actions: llm, handoff, ..." for a hint (in the arena). */
static const char *ck_action_list(ck *c)
{
    size_t n = sizeof "actions:";
    for (int i = 0; i < CK_N_ACTIONS; i++)
        n += strlen(CK_ACTIONS[i]) + 2;
    char *s = arena_alloc(c->a, n);
    strcpy(s, "actions:");
    for (int i = 0; i < CK_N_ACTIONS; i++) {
        strcat(s, i ? ", " : " ");
        strcat(s, CK_ACTIONS[i]);
    }
    return s;
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

/* `str` cut to at most `max` bytes at a character boundary, "..." marking
 * the cut: long values stay readable in one diagnostic line. */
static const char *ck_clip(ck *c, const char *str, size_t max)
{
    size_t n = strlen(str);
    if (n <= max)
        return str;
    size_t cut = max - 3;
    while (cut > 0 && ((unsigned char)str[cut] & 0xC0) == 0x80)
        cut--;
    return arena_printf(c->a, "%.*s...", (int)cut, str);
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
    v->max = 0;
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
    if ((t->go && t->go_idx < 0) || (t->form && t->form_idx < 0))
        c->unknown_targets++;
    t->action_id = 0;
    if (t->action) {
        int i = ck_find(CK_ACTIONS, CK_N_ACTIONS, t->action);
        if (i < 0)
            CK_ERR(c, t->action_pos,
                   ck_hint(c, t->action, CK_ACTIONS, CK_N_ACTIONS, ck_action_list(c)),
                   "unknown action '%s'", t->action);
        else
            t->action_id = i + 1;
        /* Without llm: the action can only answer "not available". */
        if (i >= 0 && !strcmp(t->action, "llm") && !c->s->llm.present && !c->llm_missing_told) {
            c->llm_missing_told = true;
            diag_warning(c->d, t->action_pos,
                         "add an llm: section (a persona, a policy, knowledge: files): the model "
                         "answers with OPENAI_API_BASE set, the knowledge files without it",
                         "action 'llm' without an llm: section answers every message "
                         "\"not available\"");
        }
    }
    for (int i = 0; i < t->n_set; i++) {
        ir_assign *as = &t->set[i];
        as->var_idx = ck_var(c, as->var);
        if (as->var_idx < 0) {
            /* Setting an undeclared variable declares it, so a typo would
             * silently make a second variable: warn when it looks like one. */
            const char **known = ARENA_ARRAY(c->a, const char *, c->s->n_vars + 1);
            int n_known = 0;
            for (int k = 0; k < c->s->n_vars; k++)
                if (c->s->vars[k].declared || strchr(c->s->vars[k].name, '.'))
                    known[n_known++] = c->s->vars[k].name;
            const char *sug = build_suggest(as->var, known, n_known);
            if (sug)
                diag_warning(c->d, as->pos, arena_printf(c->a, "did you mean '%s'?", sug),
                             "variable '%s' is not declared", as->var);
            as->var_idx = ck_add_var(c, as->var, as->pos);
        }
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

/* The first translation of text `a` equal to some translation of text `b`
 * (in any language: a reply keyboard matches labels in every language), or
 * NULL. */
static const char *ck_same_label(const ir_spec *s, int a, int b)
{
    if (a < 0 || b < 0)
        return NULL;
    const ir_text *ta = &s->texts[a], *tb = &s->texts[b];
    for (int i = 0; i < ta->n_trs; i++)
        for (int k = 0; k < tb->n_trs; k++)
            if (strcmp(ta->trs[i].value, tb->trs[k].value) == 0)
                return ta->trs[i].value;
    return NULL;
}

/* Warn once per button whose label repeats an earlier one of the keyboard:
 * in a reply keyboard only the first of them can ever be pressed (the label
 * is all Telegram sends back); in an inline one users cannot tell them apart. */
static void ck_repeated_labels(ck *c, const ir_keyboard *kb)
{
    for (int r = 0; r < kb->n_rows; r++)
        for (int b = 0; b < kb->rows[r].n_buttons; b++) {
            const ir_button *btn = &kb->rows[r].buttons[b];
            const char *same = NULL;
            const ir_button *first = NULL;
            for (int r2 = 0; r2 <= r && !same; r2++)
                for (int b2 = 0; b2 < (r2 == r ? b : kb->rows[r2].n_buttons) && !same; b2++) {
                    first = &kb->rows[r2].buttons[b2];
                    same = ck_same_label(c->s, btn->label.idx, first->label.idx);
                }
            if (!same)
                continue;
            const char *shown = ck_clip(c, same, 60);
            diag_warning(c->d, btn->pos,
                         arena_printf(c->a, "the button at line %u has the same label; %s",
                                      first->pos.line,
                                      btn->kind == IR_BTN_REPLY || btn->kind == IR_BTN_CONTACT
                                          ? "a press sends only the label, so the first button "
                                            "always wins"
                                          : "users cannot tell the buttons apart"),
                         "button label '%s' repeats in this keyboard", shown);
        }
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
        ck_repeated_labels(c, &st->reply);
        ck_repeated_labels(c, &st->inl);
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

/* `everywhere:` triggers: resolved and checked as a state's on: entries. */
static void ck_everywhere(ck *c)
{
    for (int k = 0; k < c->s->n_everywhere; k++) {
        ir_on *on = &c->s->everywhere[k];
        if (on->trigger == IR_ON_PATTERN && on->arg)
            ck_regex(c, on->arg, on->arg_pos, RX_TRIGGER);
        else if (on->trigger == IR_ON_TEXT)
            ck_textref(c, &on->text);
        ck_transition(c, &on->tr);
        if (!ir_transition_present(&on->tr))
            CK_ERR(c, on->pos, "add goto:, form:, action:, say: or set:", "trigger does nothing");
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
        if (f->lead == IR_LEAD_NAMED) {
            /* createForumTopic takes a name of 1-128 characters */
            size_t n = ck_utf16_len(f->lead_topic);
            if (n < 1 || n > 128)
                CK_ERR(c, f->lead_pos, "a short name, e.g. lead: {topic: Leads}",
                       "topic name is %zu characters long; Telegram allows 1-128", n);
        }
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
            case IR_V_DATE:
                if (fd->has_min && fd->has_max && fd->min > fd->max)
                    CK_ERR(c, fd->max_pos, "max: is a day on or after min:",
                           "date max (%+g days) is before min (%+g days)", fd->max, fd->min);
                break;
            case IR_V_PHONE:
                if (fd->country && ck_find(CK_COUNTRIES, CK_N_COUNTRIES, fd->country) < 0)
                    CK_ERR(c, fd->country_pos,
                           ck_hint(c, fd->country, CK_COUNTRIES, CK_N_COUNTRIES,
                                   arena_printf(c->a, "countries: %s",
                                                ck_list(c, CK_COUNTRIES, CK_N_COUNTRIES))),
                           "unknown country '%s' for phone numbers", fd->country);
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
        if (!strcmp(name, "persona_label") && c->s->llm.n_personas == 0) {
            CK_ERR(c, diag_locate(c->d, pos, whole, 0),
                   "declare the roles under llm: personas: (each with a label:)",
                   "placeholder '%s' needs llm.personas", whole);
        } else if (ck_find(CK_BUILTIN_PLACEHOLDERS, CK_N_BUILTIN_PLACEHOLDERS, name) < 0 &&
                   ck_var(c, name) < 0) {
            int n = c->s->n_vars + CK_N_BUILTIN_PLACEHOLDERS;
            const char **cands = ARENA_ARRAY(c->a, const char *, n);
            for (int i = 0; i < CK_N_BUILTIN_PLACEHOLDERS; i++)
                cands[i] = CK_BUILTIN_PLACEHOLDERS[i];
            for (int i = 0; i < c->s->n_vars; i++)
                cands[CK_N_BUILTIN_PLACEHOLDERS + i] = c->s->vars[i].name;
            CK_ERR(c, diag_locate(c->d, pos, whole, 0),
                   ck_hint(c, name, cands, n,
                           "placeholders: first_name, last_name, username, user_id, language, "
                           "text, persona_label, a variable, or form.field"),
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
    for (int i = 0; i < s->n_everywhere; i++)
        ck_tr_templates(c, &s->everywhere[i].tr);
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

/* ---- length after placeholders ------------------------------------------ */

/* A message never exceeds this: Telegram's limit, so also the longest text a
 * user can send ({text}, a form answer). Sums saturate here. */
#define CK_LEN_CAP CK_TEXT_MAX

static long ck_sat(long n)
{
    return n > CK_LEN_CAP ? CK_LEN_CAP : n;
}

/* UTF-16 units of the character starting at `p` (2 outside the BMP). */
static int ck_units(const unsigned char *p)
{
    return *p >= 0xF0 ? 2 : 1;
}

/* The longest answer (UTF-16 units, capped) a validator regex accepts; it
 * was checked by rx already. Unbounded repetition gives the cap. Grammar:
 *   alt -> concat ('|' concat)* ; concat -> (atom quant?)*
 *   atom -> '(' ['?:'] alt ')' | '[' class ']' | '\' escape | '.' | '^' | '$' | char */
static long ck_rx_alt(const unsigned char **pp, int depth);

/* A decimal count at *pp, saturating at 100000 (rx allows up to 1000). */
static long ck_rx_count(const unsigned char **pp)
{
    long n = 0;
    for (; **pp >= '0' && **pp <= '9'; (*pp)++)
        if (n < 100000)
            n = n * 10 + (**pp - '0');
    return n;
}

/* {n} {n,} {n,m} at p: its length in bytes, *hi = m (-1 unbounded); 0 when
 * p starts no quantifier. */
static int ck_rx_braces(const unsigned char *p, long *hi)
{
    const unsigned char *q = p + 1;
    if (*p != '{' || *q < '0' || *q > '9')
        return 0;
    long m = ck_rx_count(&q);
    if (*q == ',') {
        q++;
        m = *q == '}' ? -1 : ck_rx_count(&q);
    }
    if (*q != '}')
        return 0;
    *hi = m;
    return (int)(q + 1 - p);
}

static long ck_rx_atom(const unsigned char **pp, int depth)
{
    const unsigned char *p = *pp;
    long len = 1;
    if (*p == '(') {
        p++;
        if (p[0] == '?' && p[1] == ':')
            p += 2;
        len = depth > 50 ? CK_LEN_CAP : ck_rx_alt(&p, depth + 1);
        if (*p == ')')
            p++;
    } else if (*p == '[') {
        p++;
        len = 1;
        if (*p == '^') {
            len = 2; /* anything but ...: possibly outside the BMP */
            p++;
        }
        if (*p == ']')
            p++; /* a leading ] is literal */
        while (*p && *p != ']') {
            if (*p == '\\' && p[1])
                p++;
            if (ck_units(p) == 2)
                len = 2;
            p++;
            while ((*p & 0xC0) == 0x80)
                p++;
        }
        if (*p == ']')
            p++;
    } else if (*p == '\\' && p[1]) {
        p++;
        len = (*p == 'D' || *p == 'W' || *p == 'S') ? 2 : 1;
        if (*p == 'x' && p[1] && p[2])
            p += 2;
        p++;
    } else if (*p == '^' || *p == '$') {
        len = 0;
        p++;
    } else if (*p == '.') {
        len = 2;
        p++;
    } else {
        len = ck_units(p);
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
    }
    *pp = p;
    return len;
}

static long ck_rx_concat(const unsigned char **pp, int depth)
{
    const unsigned char *p = *pp;
    long total = 0;
    while (*p && *p != '|' && *p != ')') {
        long len = ck_rx_atom(&p, depth);
        long hi;
        int q;
        if (*p == '*' || *p == '+') {
            len = len ? CK_LEN_CAP : 0;
            p++;
        } else if (*p == '?') {
            p++;
        } else if ((q = ck_rx_braces(p, &hi)) > 0) {
            len = hi < 0 ? (len ? CK_LEN_CAP : 0) : ck_sat(len * hi);
            p += q;
        }
        total = ck_sat(total + len);
    }
    *pp = p;
    return total;
}

static long ck_rx_alt(const unsigned char **pp, int depth)
{
    long best = ck_rx_concat(pp, depth);
    while (**pp == '|') {
        (*pp)++;
        long n = ck_rx_concat(pp, depth);
        if (n > best)
            best = n;
    }
    return best;
}

static long ck_rx_max(const char *pattern)
{
    const unsigned char *p = (const unsigned char *)pattern;
    return ck_rx_alt(&p, 0);
}

static long ck_text_max_len(ck *c, int text_idx)
{
    long best = 0;
    if (text_idx < 0)
        return 0;
    const ir_text *t = &c->s->texts[text_idx];
    for (int k = 0; k < t->n_trs; k++) {
        long n = (long)ck_utf16_len(t->trs[k].value);
        if (n > best)
            best = n;
    }
    return best;
}

/* The longest value of a form field's variable, by its validator. */
static long ck_field_max(ck *c, const ir_field *fd)
{
    switch (fd->v) {
    case IR_V_INTEGER: return 20;
    case IR_V_NUMBER: return 24;
    case IR_V_DATE: return 10;
    case IR_V_PHONE: return 16;
    case IR_V_CHOICE: {
        long best = 0;
        for (int j = 0; j < fd->n_choices; j++) {
            long n = ck_text_max_len(c, fd->choices[j].idx);
            if (n > best)
                best = n;
        }
        return best;
    }
    case IR_V_REGEX: return fd->regex ? ck_rx_max(fd->regex) : CK_LEN_CAP;
    case IR_V_TEXT: return fd->has_max ? (long)fd->max : CK_LEN_CAP;
    default: return CK_LEN_CAP;
    }
}

typedef struct ck_len {
    ck *c;
    long *var_max;   /* per variable: -1 unknown yet, -2 being computed */
    int target;      /* ck_len_assign: the variable looked for */
    long found;      /* ck_len_assign: its longest value so far */
} ck_len;

static long ck_template_max(ck_len *L, const char *v);

/* Call fn on every transition of the spec (commands, everywhere, forms,
 * states). */
static void ck_each_transition(ck *c, void (*fn)(ck_len *, const ir_transition *), ck_len *L)
{
    ir_spec *s = c->s;
    for (int i = 0; i < s->n_commands; i++)
        fn(L, &s->commands[i].tr);
    for (int i = 0; i < s->n_everywhere; i++)
        fn(L, &s->everywhere[i].tr);
    for (int i = 0; i < s->n_forms; i++) {
        fn(L, &s->forms[i].done);
        fn(L, &s->forms[i].cancel);
    }
    for (int i = 0; i < s->n_states; i++) {
        ir_state *st = &s->states[i];
        for (int k = 0; k < st->n_on; k++)
            fn(L, &st->on[k].tr);
        ir_keyboard *kbs[2] = { &st->reply, &st->inl };
        for (int q = 0; q < 2; q++)
            for (int r = 0; r < kbs[q]->n_rows; r++)
                for (int b = 0; b < kbs[q]->rows[r].n_buttons; b++)
                    fn(L, &kbs[q]->rows[r].buttons[b].tr);
    }
}

static void ck_len_assign(ck_len *L, const ir_transition *t)
{
    for (int i = 0; i < t->n_set; i++)
        if (t->set[i].var_idx == L->target) {
            long n = ck_template_max(L, t->set[i].value);
            if (n > L->found)
                L->found = n;
        }
}

/* The longest value variable `v` can hold: its `max:`, else a form field's
 * by the validator, else the longest of its initial value and every `set:`
 * of it (a cycle of variables set from each other gives the cap). */
static long ck_var_max(ck_len *L, int v)
{
    ck *c = L->c;
    if (L->var_max[v] >= 0)
        return L->var_max[v];
    if (L->var_max[v] == -2)
        return CK_LEN_CAP;
    const ir_var *var = &c->s->vars[v];
    long n = -1;
    if (var->max > 0)
        n = var->max;
    for (int i = 0; i < c->s->n_forms && n < 0; i++) {
        const ir_form *f = &c->s->forms[i];
        size_t fl = strlen(f->name);
        if (strncmp(var->name, f->name, fl) != 0 || var->name[fl] != '.')
            continue;
        for (int k = 0; k < f->n_fields && n < 0; k++)
            if (strcmp(var->name + fl + 1, f->fields[k].name) == 0)
                n = ck_field_max(c, &f->fields[k]);
    }
    if (n < 0) {
        L->var_max[v] = -2;
        long best = (long)ck_utf16_len(var->initial ? var->initial : "");
        int saved_target = L->target; /* ck_template_max may recurse here */
        long saved_found = L->found;
        L->target = v;
        L->found = best;
        ck_each_transition(c, ck_len_assign, L);
        n = L->found;
        L->target = saved_target;
        L->found = saved_found;
    }
    L->var_max[v] = ck_sat(n);
    return L->var_max[v];
}

/* Built-in placeholders: Telegram's limits on profile fields. */
static long ck_builtin_max(const char *name)
{
    static const struct { const char *name; long max; } b[] = {
        { "first_name", 64 }, { "last_name", 64 }, { "username", 32 },
        { "user_id", 20 },    { "language", 8 },   { "text", CK_LEN_CAP },
        { "persona_label", 128 }, /* a role's label: a button's text, 64 or so */
    };
    for (size_t i = 0; i < sizeof b / sizeof *b; i++)
        if (strcmp(b[i].name, name) == 0)
            return b[i].max;
    return -1;
}

/* The longest expansion of template `v` (capped); unknown placeholders
 * (already errors) count as nothing. */
static long ck_template_max(ck_len *L, const char *v)
{
    long n = 0;
    for (const char *p = v; *p; p++) {
        if ((*p == '{' && p[1] == '{') || (*p == '}' && p[1] == '}')) {
            p++;
            n++;
            continue;
        }
        if (*p != '{') {
            if (((unsigned char)*p & 0xC0) != 0x80)
                n += ck_units((const unsigned char *)p);
            continue;
        }
        const char *e = strchr(p, '}');
        if (!e)
            break;
        char name[256];
        size_t len = (size_t)(e - p - 1);
        if (len < sizeof name) {
            memcpy(name, p + 1, len);
            name[len] = '\0';
            long m = ck_builtin_max(name);
            if (m < 0) {
                int vi = ck_var(L->c, name);
                m = vi >= 0 ? ck_var_max(L, vi) : 0;
            }
            n += m;
        }
        p = e;
    }
    return n;
}

/* Warn about texts that fit Telegram's limit as written but not once their
 * placeholders hold the longest values they can. */
static void ck_expanded_lengths(ck *c)
{
    ir_spec *s = c->s;
    ck_len L = { c, ARENA_ARRAY(c->a, long, s->n_vars + 1), -1, 0 };
    for (int i = 0; i < s->n_vars; i++)
        L.var_max[i] = -1;
    for (int i = 0; i < s->n_texts; i++) {
        const ir_text *t = &s->texts[i];
        for (int k = 0; k < t->n_trs; k++) {
            if (!strchr(t->trs[k].value, '{') || ck_utf16_len(t->trs[k].value) > CK_TEXT_MAX)
                continue;
            long n = ck_template_max(&L, t->trs[k].value);
            if (n > CK_TEXT_MAX)
                diag_warning(c->d, t->trs[k].pos,
                             "the runtime splits a longer message in several; declare a smaller "
                             "max: for its variables, or shorten the text",
                             "text '%s' can reach %ld characters after placeholders (limit %d)",
                             t->name, n, CK_TEXT_MAX);
        }
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
    /* everywhere: triggers work in every state, as global commands do */
    for (int i = 0; i < s->n_everywhere; i++) {
        ck_targets(s, &s->everywhere[i].tr, roots, forms_seen);
        if (s->everywhere[i].tr.go_idx >= 0 || s->everywhere[i].tr.form_idx >= 0)
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
    /* A transition to a mistyped state or form is an error already; the
     * states it would have reached, or that it would have left by, would be
     * reported again as unreachable or without a way out. Those warnings
     * wait until the names are fixed. */
    int follow_on = c->unknown_targets > 0;
    for (int i = 0; i < n; i++) {
        ir_state *st = &s->states[i];
        st->reachable = reached[i];
        /* One warning per name: duplicates are already errors. */
        if (follow_on || ck_find(c->state_names, i, st->name) >= 0)
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
        st->dead_end = !out;
        if (!out)
            diag_warning(c->d, st->pos,
                         "add a button or trigger with goto:, or a global command with goto: "
                         "(e.g. /start)",
                         "state '%s' has no way out", st->name);
    }
}

/* ---- llm: ------------------------------------------------------------------ */

#define CK_KNOWLEDGE_MAX ((size_t)1 << 20) /* bytes per knowledge file */

static int ck_utf8_ok(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t k = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (!k || i + k > n || c == 0)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xC0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

/* Read knowledge file `k` (relative to the spec's folder) into the arena. */
static void ck_knowledge(ck *c, ir_knowledge *k)
{
    const char *path = c->s->path ? c->s->path : "";
    const char *slash = strrchr(path, '/');
    const char *file = k->file;
    if (file[0] == '/' || !strncmp(file, "../", 3) || strstr(file, "/../")) {
        CK_ERR(c, k->pos, "name a file in the spec's folder (or below it)",
               "knowledge file '%s' is outside the spec's folder", file);
        return;
    }
    const char *full = slash ? arena_printf(c->a, "%.*s/%s", (int)(slash - path), path, file)
                             : file;
    FILE *f = fopen(full, "rb");
    if (!f) {
        CK_ERR(c, k->pos, arena_printf(c->a, "looked for %s", full),
               "cannot read knowledge file '%s': %s", file, strerror(errno));
        return;
    }
    char *buf = arena_alloc(c->a, CK_KNOWLEDGE_MAX + 2);
    size_t n = fread(buf, 1, CK_KNOWLEDGE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        CK_ERR(c, k->pos, NULL, "cannot read knowledge file '%s'", file);
        return;
    }
    if (n > CK_KNOWLEDGE_MAX) {
        CK_ERR(c, k->pos, "split it into several files, or keep only what customers ask about",
               "knowledge file '%s' is larger than 1 MiB", file);
        return;
    }
    buf[n] = '\0';
    if (!ck_utf8_ok((const unsigned char *)buf, n)) {
        CK_ERR(c, k->pos, "save it as UTF-8 text", "knowledge file '%s' is not UTF-8 text", file);
        return;
    }
    if (n == 0)
        diag_warning(c->d, k->pos, "the bot has nothing to answer from", "knowledge file '%s' is empty",
                     file);
    k->text = buf;
    k->len = n;
    /* "name.<lang>.txt" is in that language; any other name in the default one */
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    k->lang = -1;
    for (int i = 0; i < c->s->n_langs; i++)
        if (strstr(base, arena_printf(c->a, ".%s.", c->s->langs[i])))
            k->lang = i;
    for (int i = 0; k->lang < 0 && i < c->s->n_langs; i++)
        if (c->s->default_lang && !strcmp(c->s->langs[i], c->s->default_lang))
            k->lang = i;
    if (k->lang < 0)
        k->lang = 0;
}

/* One synonym group: listed under a language of the bot, two or more
 * members separated by '=', each with a letter (runtime/ai/retr.h). */
static void ck_synonyms(ck *c, const ir_llm *l, int i)
{
    const ir_spec *s = c->s;
    const char *lang = l->synonym_lang[i], *g = l->synonyms[i];
    if (ck_find(s->langs, s->n_langs, lang) < 0 &&
        (i == 0 || strcmp(l->synonym_lang[i - 1], lang)))
        CK_ERR(c, l->synonym_lang_pos[i],
               ck_hint(c, lang, s->langs, s->n_langs,
                       arena_printf(c->a, "declared languages: %s",
                                    ck_list(c, s->langs, s->n_langs))),
               "unknown language '%s' in llm.synonyms", lang);
    int members = 0;
    bool empty = false;
    for (const char *p = g;;) {
        size_t n = strcspn(p, "=");
        bool letter = false;
        for (size_t k = 0; k < n && !letter; k++)
            letter = (unsigned char)p[k] >= 0x80 || isalpha((unsigned char)p[k]);
        members += letter;
        empty = empty || !letter;
        if (!p[n])
            break;
        p += n + 1;
    }
    if (members < 2 || empty)
        CK_ERR(c, l->synonym_pos[i], "words that mean the same, e.g. \"crash = accident = collision\"",
               "synonym group '%s' needs two or more members with a word each, separated by '='",
               g);
}

/* `personas:`: names unique, prompts defined, and the variable `persona`
 * that says which one is active declared, starting at one of them. */
static void ck_personas(ck *c, ir_llm *l)
{
    if (l->n_personas == 0)
        return;
    const char **names = ARENA_ARRAY(c->a, const char *, l->n_personas + 1);
    for (int i = 0; i < l->n_personas; i++) {
        ir_persona *p = &l->personas[i];
        names[i] = p->name;
        ck_textref(c, &p->prompt);
        if (p->label.key)
            ck_textref(c, &p->label);
        if (!p->name[0])
            CK_ERR(c, p->pos, "name: coder", "empty persona name");
        for (int j = 0; j < i; j++)
            if (!strcmp(p->name, l->personas[j].name)) {
                CK_ERR(c, p->pos, arena_printf(c->a, "first listed at line %u",
                                               l->personas[j].pos.line),
                       "duplicate persona '%s'", p->name);
                break;
            }
    }
    const ir_var *var = NULL;
    for (int i = 0; i < c->s->n_vars; i++)
        if (!strcmp(c->s->vars[i].name, "persona"))
            var = &c->s->vars[i];
    if (!var || !var->declared) {
        CK_ERR(c, l->personas_pos, arena_printf(c->a, "declare it: variables: {persona: %s}",
                                                names[0]),
               "llm.personas needs the variable 'persona' (it holds the active persona's name)");
        return;
    }
    bool found = false;
    for (int i = 0; i < l->n_personas; i++)
        found = found || !strcmp(var->initial, names[i]);
    if (!found)
        CK_ERR(c, var->pos, ck_hint(c, var->initial, names, l->n_personas,
                                    arena_printf(c->a, "personas: %s", names[0])),
               "the initial value '%s' of variable 'persona' is no persona of llm.personas",
               var->initial);
}

static void ck_llm(ck *c)
{
    ir_llm *l = &c->s->llm;
    if (!l->present)
        return;
    for (int i = 0; i < l->n_knowledge; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(l->knowledge[i].file, l->knowledge[j].file)) {
                CK_ERR(c, l->knowledge[i].pos, arena_printf(c->a, "first listed at line %u",
                                                            l->knowledge[j].pos.line),
                       "duplicate knowledge file '%s'", l->knowledge[i].file);
                break;
            }
        ck_knowledge(c, &l->knowledge[i]);
    }
    ck_textref(c, &l->persona);
    ck_textref(c, &l->policy);
    ck_personas(c, l);
    for (int i = 0; i < l->n_handoff; i++)
        ck_regex(c, l->handoff[i], l->handoff_pos[i], RX_TRIGGER);
    for (int i = 0; i < l->n_synonyms; i++)
        ck_synonyms(c, l, i);
    if (l->timezone) {
        int ok = l->timezone[0] != '\0' && l->timezone[0] != '/' && !strstr(l->timezone, "..");
        for (const char *p = l->timezone; *p && ok; p++)
            ok = isalnum((unsigned char)*p) || strchr("/_+-", *p);
        if (!ok)
            CK_ERR(c, l->timezone_pos, "an IANA time zone name, e.g. Europe/Belgrade or UTC",
                   "invalid time zone '%s'", l->timezone);
    }
}

/* ---- tools ------------------------------------------------------------------- */

/* The values the runtime fills in a tool's request: who is asking. */
static const char *const ck_tool_vars[] = { "user.id", "user.lang", NULL };

/* The placeholders of a template: {arg} among t's arguments or a runtime
 * value, ${ENV} a well-formed environment variable name. what: "url",
 * "header", "body". 0 when well-formed (unknown names are reported too). */
static int ck_tool_template(ck *c, const ir_tool *t, const char *tmpl, src_pos pos,
                            const char *what)
{
    int bad = 0;
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '$' && p[1] == '{') {
            const char *e = p + 2;
            while (isupper((unsigned char)*e) || isdigit((unsigned char)*e) || *e == '_')
                e++;
            if (*e != '}' || e == p + 2 || isdigit((unsigned char)p[2])) {
                CK_ERR(c, pos, "an environment variable in capitals, e.g. ${WEATHER_API_BASE}",
                       "tool '%s': bad ${...} in its %s", t->name, what);
                return -1;
            }
            p = e;
            continue;
        }
        if (*p != '{' || !(isalpha((unsigned char)p[1]) || p[1] == '_'))
            continue;
        const char *e = p + 1;
        while (isalnum((unsigned char)*e) || *e == '_' || *e == '.')
            e++;
        if (*e != '}')
            continue; /* literal text (a JSON body's braces) */
        const char *name = arena_strndup(c->a, p + 1, (size_t)(e - p - 1));
        bool known = false;
        for (int i = 0; i < t->n_params; i++)
            known |= !strcmp(t->params[i].name, name);
        for (int i = 0; ck_tool_vars[i]; i++)
            known |= !strcmp(ck_tool_vars[i], name);
        if (!known) {
            int n = t->n_params + 2;
            const char **cands = ARENA_ARRAY(c->a, const char *, n + 1);
            for (int i = 0; i < t->n_params; i++)
                cands[i] = t->params[i].name;
            cands[t->n_params] = ck_tool_vars[0];
            cands[t->n_params + 1] = ck_tool_vars[1];
            CK_ERR(c, pos, ck_hint(c, name, cands, n,
                                   "an argument under parameters: properties:, or {user.id}, {user.lang}"),
                   "tool '%s': unknown placeholder {%s} in its %s", t->name, name, what);
            bad = 1;
        }
        p = e;
    }
    return bad ? -1 : 0;
}

static void ck_tool(ck *c, const ir_tool *t)
{
    bool name_ok = t->name[0] != '\0' && strlen(t->name) <= 64;
    for (const char *p = t->name; *p && name_ok; p++)
        name_ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    if (!name_ok)
        CK_ERR(c, t->pos, "letters, digits, _ and -, at most 64 (the model calls it by this name)",
               "bad tool name '%s'", t->name);
    if (strcmp(t->method, "GET") && strcmp(t->method, "POST"))
        CK_ERR(c, t->method_pos, "method: GET or method: POST",
               "tool '%s': unknown method '%s'", t->name, t->method);
    if (t->body && strcmp(t->method, "POST"))
        CK_ERR(c, t->body_pos, "method: POST sends a body",
               "tool '%s': a body needs method: POST", t->name);
    if (t->url) {
        const char *u = t->url;
        bool ok = !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8) || !strncmp(u, "${", 2);
        for (const char *p = u; *p && ok; p++)
            ok = (unsigned char)*p > ' ' && *p != '"' && *p != '<' && *p != '>';
        if (!ok)
            CK_ERR(c, t->url_pos, "an http(s) URL or one starting with ${ENV_BASE}, without spaces, "
                   "e.g. \"${WEATHER_API_BASE}/forecast?city={city}\"",
                   "tool '%s': bad URL '%s'", t->name, u);
        else
            ck_tool_template(c, t, u, t->url_pos, "url");
    }
    for (int i = 0; i < t->n_headers; i++) {
        const char *h = t->headers[i], *colon = strchr(h, ':');
        bool ok = colon && colon > h;
        for (const char *p = h; ok && p < colon; p++)
            ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_';
        if (!ok)
            CK_ERR(c, t->header_pos[i], "\"Name: value\", e.g. \"Authorization: Bearer ${SEARCH_API_KEY}\"",
                   "tool '%s': bad header '%s'", t->name, h);
        else
            ck_tool_template(c, t, h, t->header_pos[i], "header");
    }
    if (t->body)
        ck_tool_template(c, t, t->body, t->body_pos, "body");
    if (t->result) {
        bool ok = t->result[0] && t->result[0] != '.';
        for (const char *p = t->result; *p && ok; p++)
            ok = isalnum((unsigned char)*p) || *p == '_' || (*p == '.' && p[1] && p[1] != '.');
        if (!ok)
            CK_ERR(c, t->result_pos, "keys and list indexes joined by dots, e.g. current or data.0.price",
                   "tool '%s': bad result path '%s'", t->name, t->result);
    }
}

static void ck_tools(ck *c)
{
    const ir_spec *s = c->s;
    for (int i = 0; i < s->n_tools; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(s->tools[i].name, s->tools[j].name)) {
                CK_ERR(c, s->tools[i].pos, arena_printf(c->a, "first declared at line %u",
                                                        s->tools[j].pos.line),
                       "duplicate tool '%s'", s->tools[i].name);
                break;
            }
        ck_tool(c, &s->tools[i]);
    }
    if (s->n_tools > 0 && !s->llm.present)
        CK_ERR(c, s->tools[0].pos, "the model calls tools: add an llm: section",
               "tools: without llm:");
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
    ck_llm(&c);
    ck_tools(&c);
    ck_form_vars(&c);
    ck_commands(&c);
    ck_everywhere(&c);
    ck_states(&c);
    ck_forms(&c);
    ck_moves(&c);
    ck_placeholders(&c);
    if (c.errors == 0)
        ck_expanded_lengths(&c);
    ck_reach(&c);
    return c.errors;
}
