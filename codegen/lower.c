/*
 * lower.c — flatten the checked IR into machine tables (see lower.h).
 *
 * Two passes over the spec: the first counts (so every table is one arena
 * array of the right size), the second fills in spec order. Nothing here
 * renders text; the emitters do that from the low_machine.
 */
#include "lower.h"

#include <stdlib.h>
#include <string.h>

#include "rx.h"
#include "strbuf.h"

#define LOW_CB_MAX 64 /* Telegram's callback_data limit, in bytes */

typedef struct lower_ctx {
    arena *a;
    const ir_spec *spec;
    diag_list *d;
    low_machine *m;
    int errors;
    /* shape description lines */
    const char **shape;
    int n_shape, cap_shape;
} lower_ctx;

/* ---- hashes --------------------------------------------------------------- */

uint32_t low_fnv32(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

uint64_t low_fnv64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- built-in system texts ------------------------------------------------ */

/* From runtime/dialogue/sys_text_list.h, indexed by bm_sys_text. */
#define SYS_DEFAULT_(E, name, en, ru) [BM_SYS_##E] = {#name, en, ru},
static const struct {
    const char *name, *en, *ru;
} sys_defaults[BM_SYS_COUNT] = { BM_SYS_TEXTS(SYS_DEFAULT_) };
#undef SYS_DEFAULT_

const char *low_sys_text_name(bm_sys_text t)
{
    return (t >= 0 && t < BM_SYS_COUNT) ? sys_defaults[t].name : NULL;
}

/* ---- small helpers ---------------------------------------------------------- */

static bool tr_present(const ir_transition *t)
{
    return t->say.key || t->go || t->form || t->action || t->n_set > 0;
}

static void shape_add(lower_ctx *c, const char *line)
{
    if (c->n_shape == c->cap_shape) {
        int cap = c->cap_shape ? c->cap_shape * 2 : 64;
        const char **v = ARENA_ARRAY(c->a, const char *, cap);
        if (c->n_shape)
            memcpy(v, c->shape, sizeof *v * (size_t)c->n_shape);
        c->shape = v;
        c->cap_shape = cap;
    }
    c->shape[c->n_shape++] = line;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The text index of a reference; reports an unresolved one. */
static int text_idx(lower_ctx *c, const ir_textref *r)
{
    if (!r->key)
        return BM_NONE;
    if (r->idx < 0 || r->idx >= c->spec->n_texts) {
        diag_error(c->d, r->pos, NULL, "unresolved text '%s'", r->key);
        c->errors++;
        return BM_NONE;
    }
    return r->idx;
}

static const char *text_name(lower_ctx *c, const ir_textref *r)
{
    return r->key ? r->key : "-";
}

/* ---- texts -------------------------------------------------------------------- */

static void lower_texts(lower_ctx *c)
{
    const ir_spec *s = c->spec;
    low_machine *m = c->m;
    int n_sys_missing = 0;
    int sys_idx[BM_SYS_COUNT];
    for (int k = 0; k < BM_SYS_COUNT; k++) {
        sys_idx[k] = BM_NONE;
        for (int i = 0; i < s->n_texts; i++)
            if (strcmp(s->texts[i].name, sys_defaults[k].name) == 0) {
                sys_idx[k] = i;
                break;
            }
        if (sys_idx[k] == BM_NONE)
            n_sys_missing++;
    }
    m->texts = ARENA_ARRAY(c->a, low_text, s->n_texts + n_sys_missing + 1);
    for (int i = 0; i < s->n_texts; i++) {
        const ir_text *t = &s->texts[i];
        low_text *lt = &m->texts[m->n_texts++];
        lt->name = t->name;
        lt->pos = t->pos;
        lt->values = ARENA_ARRAY(c->a, const char *, m->n_langs);
        lt->value_pos = ARENA_ARRAY(c->a, src_pos, m->n_langs);
        const char *fallback = NULL;
        for (int k = 0; k < t->n_trs; k++)
            if (t->trs[k].lang && strcmp(t->trs[k].lang, m->langs[m->default_lang]) == 0)
                fallback = t->trs[k].value;
        if (!fallback)
            fallback = t->n_trs > 0 && t->trs[0].value ? t->trs[0].value : "";
        for (int l = 0; l < m->n_langs; l++) {
            lt->values[l] = fallback;
            for (int k = 0; k < t->n_trs; k++)
                if (t->trs[k].lang && t->trs[k].value &&
                    strcmp(t->trs[k].lang, m->langs[l]) == 0) {
                    lt->values[l] = t->trs[k].value;
                    lt->value_pos[l] = t->trs[k].pos;
                    break;
                }
        }
    }
    const char *def = m->langs[m->default_lang];
    for (int k = 0; k < BM_SYS_COUNT; k++) {
        if (sys_idx[k] != BM_NONE) {
            m->sys_texts[k] = sys_idx[k];
            continue;
        }
        low_text *lt = &m->texts[m->n_texts];
        m->sys_texts[k] = m->n_texts++;
        lt->name = sys_defaults[k].name;
        lt->values = ARENA_ARRAY(c->a, const char *, m->n_langs);
        lt->value_pos = ARENA_ARRAY(c->a, src_pos, m->n_langs);
        const char *dflt = strcmp(def, "ru") == 0 ? sys_defaults[k].ru : sys_defaults[k].en;
        for (int l = 0; l < m->n_langs; l++) {
            if (strcmp(m->langs[l], "en") == 0)
                lt->values[l] = sys_defaults[k].en;
            else if (strcmp(m->langs[l], "ru") == 0)
                lt->values[l] = sys_defaults[k].ru;
            else
                lt->values[l] = dflt;
        }
    }
}

/* ---- transitions ---------------------------------------------------------------- */

static const char *action_name(bm_action a)
{
    const char *n = bm_action_name(a);
    return n ? n : "?";
}

/* Append transition `t` (origin names it in comments, source in the shape
 * description). Returns its index. */
static int add_tr(lower_ctx *c, const ir_transition *t, const char *origin,
                  const char *source)
{
    const ir_spec *s = c->spec;
    low_machine *m = c->m;
    int idx = m->n_transitions++;
    low_transition *lt = &m->transitions[idx];
    lt->origin = origin;
    lt->pos = t->pos;
    lt->target = BM_NONE;
    lt->form = BM_NONE;
    lt->say = text_idx(c, &t->say);
    if (t->go) {
        if (t->go_idx < 0 || t->go_idx >= s->n_states) {
            diag_error(c->d, t->go_pos, NULL, "unknown state '%s'", t->go);
            c->errors++;
        } else {
            lt->target = t->go_idx;
        }
    }
    if (t->form) {
        if (t->form_idx < 0 || t->form_idx >= s->n_forms) {
            diag_error(c->d, t->form_pos, NULL, "unknown form '%s'", t->form);
            c->errors++;
        } else {
            lt->form = t->form_idx;
        }
    }
    lt->action = BM_ACT_NONE;
    if (t->action) {
        if (t->action_id <= BM_ACT_NONE || t->action_id >= BM_ACT_COUNT) {
            diag_error(c->d, t->action_pos, NULL, "unknown action '%s'", t->action);
            c->errors++;
        } else {
            lt->action = (bm_action)t->action_id;
        }
    }
    lt->first_assign = m->n_assigns;
    lt->n_assign = t->n_set;
    strbuf sh;
    sb_init(&sh, c->a);
    sb_printf(&sh, "tr %s ->", source);
    for (int i = 0; i < t->n_set; i++) {
        low_assign *la = &m->assigns[m->n_assigns++];
        la->var_name = t->set[i].var;
        la->value = t->set[i].value ? t->set[i].value : "";
        la->pos = t->set[i].pos;
        la->var = t->set[i].var_idx;
        if (la->var < 0 || la->var >= s->n_vars) {
            diag_error(c->d, t->set[i].pos, NULL, "unknown variable '%s'", t->set[i].var);
            c->errors++;
            la->var = 0;
        }
        sb_printf(&sh, " set %s", t->set[i].var);
    }
    if (lt->action != BM_ACT_NONE)
        sb_printf(&sh, " action %s", action_name(lt->action));
    if (lt->form != BM_NONE)
        sb_printf(&sh, " form %s", t->form);
    if (lt->target != BM_NONE)
        sb_printf(&sh, " goto %s", t->go);
    shape_add(c, sh.s);
    return idx;
}

/* ---- text rules --------------------------------------------------------------- */

/* A text with {placeholders} as an re2c regex: literal parts as strings,
 * each placeholder as any text (a label with {first_name} still matches
 * once expanded). Returns NULL for invalid UTF-8. */
static const char *literal_re(arena *a, const char *text)
{
    strbuf out, run;
    sb_init(&out, a);
    sb_init(&run, a);
    int items = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            sb_putc(&run, (char)p[0]);
            p += 2;
            continue;
        }
        if (p[0] == '{') {
            const unsigned char *e = (const unsigned char *)strchr((const char *)p, '}');
            if (e) {
                if (run.len) {
                    const char *lit = literal_re(a, run.s);
                    if (!lit)
                        return NULL;
                    sb_printf(&out, "%s%s", items++ ? " " : "", lit);
                    run.len = 0;
                    run.s[0] = '\0';
                }
                sb_printf(&out, "%s[^\\x00]*", items++ ? " " : "");
                p = e + 1;
                continue;
            }
        }
        sb_putc(&run, (char)*p++);
    }
    if (items == 0) {
        /* plain literal: one escaped string */
        strbuf lit;
        sb_init(&lit, a);
        sb_putc(&lit, '"');
        const char *q = run.s;
        while (*q) {
            const unsigned char *u = (const unsigned char *)q;
            uint32_t cp;
            int n;
            if (u[0] < 0x80) {
                cp = u[0];
                n = 1;
            } else if ((u[0] & 0xE0) == 0xC0 && (u[1] & 0xC0) == 0x80) {
                cp = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
                n = 2;
            } else if ((u[0] & 0xF0) == 0xE0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80) {
                cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
                n = 3;
            } else if ((u[0] & 0xF8) == 0xF0 && (u[1] & 0xC0) == 0x80 &&
                       (u[2] & 0xC0) == 0x80 && (u[3] & 0xC0) == 0x80) {
                cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
                     ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
                n = 4;
            } else {
                return NULL;
            }
            if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return NULL;
            if (cp >= 0x10000)
                sb_printf(&lit, "\\U%08X", (unsigned)cp);
            else if (cp >= 0x80)
                sb_printf(&lit, "\\u%04X", (unsigned)cp);
            else if (cp == '"' || cp == '\\')
                sb_printf(&lit, "\\%c", (char)cp);
            else if (cp < 0x20 || cp == 0x7F)
                sb_printf(&lit, "\\x%02X", (unsigned)cp);
            else
                sb_putc(&lit, (char)cp);
            q += n;
        }
        sb_putc(&lit, '"');
        return lit.s;
    }
    if (run.len) {
        const char *lit = literal_re(a, run.s);
        if (!lit)
            return NULL;
        sb_printf(&out, " %s", lit);
    }
    return out.s;
}

/* Append a rule unless an identical regex is already there (a duplicate
 * would be an unreachable rule, which re2c -Werror rejects): the first
 * one wins, as it would at run time. */
static void add_rule(lower_ctx *c, low_rule *rules, int *n, low_rule_kind kind,
                     const char *re, int tr, const char *comment)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(rules[i].re, re) == 0)
            return;
    rules[*n].kind = kind;
    rules[*n].re = re;
    rules[*n].transition = tr;
    rules[*n].comment = comment;
    (*n)++;
}

static const char *command_re(arena *a, const char *name)
{
    const char *lit = literal_re(a, arena_printf(a, "/%s", name));
    return arena_printf(a, "%s ([ @] [^\\x00]*)?", lit ? lit : "\"/\"");
}

/* Rules for an exact text in every language. */
static void add_text_rules(lower_ctx *c, low_rule *rules, int *n, low_rule_kind kind,
                           int text, int tr, const char *what, src_pos pos)
{
    if (text < 0)
        return;
    const low_machine *m = c->m;
    for (int l = 0; l < m->n_langs; l++) {
        const char *v = m->texts[text].values[l];
        if (!v || !*v)
            continue;
        const char *re = literal_re(c->a, v);
        if (!re) {
            diag_error(c->d, pos, NULL, "%s: text '%s' is not valid UTF-8",
                       what, m->texts[text].name);
            c->errors++;
            continue;
        }
        add_rule(c, rules, n, kind, re, tr,
                 arena_printf(c->a, "%s (%s): %s", what, m->langs[l], v));
    }
}

/* ---- keyboards -------------------------------------------------------------------- */

static int lower_keyboard(lower_ctx *c, const ir_state *st, const ir_keyboard *kb,
                          const char *which, low_state *ls)
{
    low_machine *m = c->m;
    if (!kb->present)
        return BM_NONE;
    if (kb->remove)
        return BM_KB_REMOVE;
    int k = m->n_keyboards++;
    m->keyboards[k].first_row = m->n_rows;
    m->keyboards[k].n_rows = kb->n_rows;
    m->keyboards[k].origin = arena_printf(c->a, "%s %s", st->name, which);
    int first_row = m->n_rows;
    m->n_rows += kb->n_rows;
    for (int r = 0; r < kb->n_rows; r++) {
        const ir_row *row = &kb->rows[r];
        low_row *lr = &m->rows[first_row + r];
        lr->first_button = m->n_buttons;
        lr->n_buttons = row->n_buttons;
        int first = m->n_buttons;
        m->n_buttons += row->n_buttons;
        for (int b = 0; b < row->n_buttons; b++) {
            const ir_button *btn = &row->buttons[b];
            low_button *lb = &m->buttons[first + b];
            lb->kind = (bm_button_kind)btn->kind;
            lb->label = text_idx(c, &btn->label);
            lb->pos = btn->pos;
            lb->transition = BM_NONE;
            lb->data = NULL;
            if (btn->kind == IR_BTN_URL) {
                lb->data = btn->url;
            } else if (tr_present(&btn->tr)) {
                const char *kind = btn->kind == IR_BTN_CALLBACK ? "inline" :
                                   btn->kind == IR_BTN_CONTACT ? "contact" : "button";
                lb->transition = add_tr(c, &btn->tr,
                    arena_printf(c->a, "state %s: %s %s", st->name, kind,
                                 text_name(c, &btn->label)),
                    arena_printf(c->a, "%s %s %s", st->name, kind,
                                 text_name(c, &btn->label)));
            }
            if (btn->kind == IR_BTN_CALLBACK)
                lb->data = btn->data; /* NULL: picked later */
            if (btn->kind == IR_BTN_CONTACT && ls->contact_tr == BM_NONE)
                ls->contact_tr = lb->transition;
        }
    }
    return k;
}

/* Give every callback button without `data:` a unique value ≤ 64 bytes. */
static void pick_callback_data(lower_ctx *c)
{
    low_machine *m = c->m;
    /* explicit values are taken first, so picked ones never steal them */
    const char **taken = ARENA_ARRAY(c->a, const char *, m->n_buttons + 1);
    int n_taken = 0;
    for (int b = 0; b < m->n_buttons; b++)
        if (m->buttons[b].kind == BM_BTN_CALLBACK && m->buttons[b].data)
            taken[n_taken++] = m->buttons[b].data;
    for (int s = 0; s < m->n_states; s++) {
        int kb = m->states[s].inline_kb;
        if (kb < 0)
            continue;
        const char *name = m->states[s].name;
        const char *base = name;
        if (strlen(name) > 48)
            base = arena_printf(c->a, "%.40s~%08x", name, (unsigned)low_fnv32(name));
        int n = 0;
        for (int r = 0; r < m->keyboards[kb].n_rows; r++) {
            const low_row *row = &m->rows[m->keyboards[kb].first_row + r];
            for (int b = 0; b < row->n_buttons; b++, n++) {
                low_button *lb = &m->buttons[row->first_button + b];
                if (lb->kind != BM_BTN_CALLBACK || lb->data)
                    continue;
                const char *d = arena_printf(c->a, "%s.%d", base, n);
                for (int k = 1;; k++) {
                    int clash = 0;
                    for (int i = 0; i < n_taken; i++)
                        if (strcmp(taken[i], d) == 0)
                            clash = 1;
                    if (!clash)
                        break;
                    d = arena_printf(c->a, "%s.%d~%d", base, n, k);
                }
                lb->data = d;
                taken[n_taken++] = d;
            }
        }
    }
}

/* ---- shadowed patterns ------------------------------------------------------- */

/* Split an unanchored pattern made only of literal alternatives ("price|
 * cost") into lower-cased (ASCII) alternatives. Returns the count, 0 when
 * the pattern uses any other syntax. */
static int literal_alts(arena *a, const char *pat, char ***out)
{
    if (!*pat)
        return 0;
    int n = 1;
    for (const char *p = pat; *p; p++) {
        if (strchr(".[](){}*+?^$\\", *p))
            return 0;
        n += *p == '|';
    }
    char **v = ARENA_ARRAY(a, char *, n);
    char *copy = arena_strdup(a, pat);
    int k = 0;
    for (char *p = copy, *bar; p; p = bar) {
        bar = strchr(p, '|');
        if (bar)
            *bar++ = '\0';
        if (!*p)
            return 0; /* an empty alternative matches everything anyway */
        for (char *q = p; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q + 32);
        v[k++] = p;
    }
    *out = v;
    return k;
}

/* re2c -Werror rejects a rule no input can reach; catch the common case
 * here, with the spec's positions: a literal pattern every text of which
 * already contains an earlier literal pattern ("price" before "price list"). */
static void check_shadowed(lower_ctx *c, const ir_on *on, int n_on, const char *where)
{
    for (int j = 0; j < n_on; j++) {
        const ir_on *b = &on[j];
        char **bv;
        int nb;
        if (b->trigger != IR_ON_PATTERN || !b->arg || !(nb = literal_alts(c->a, b->arg, &bv)))
            continue;
        for (int i = 0; i < j; i++) {
            const ir_on *a = &on[i];
            char **av;
            int na;
            if (a->trigger != IR_ON_PATTERN || !a->arg || !(na = literal_alts(c->a, a->arg, &av)))
                continue;
            int all = 1;
            for (int y = 0; y < nb && all; y++) {
                int hit = 0;
                for (int x = 0; x < na && !hit; x++)
                    hit = strstr(bv[y], av[x]) != NULL;
                all = hit;
            }
            if (all) {
                diag_error(c->d, b->arg_pos,
                           "put the more specific pattern first, or remove this one",
                           "pattern '%s' can never match in %s: the earlier pattern "
                           "'%s' (line %u) takes every text it would", b->arg, where,
                           a->arg, a->arg_pos.line);
                c->errors++;
                break;
            }
        }
    }
}

/* ---- states ------------------------------------------------------------------------- */

static const char *trigger_name(ir_trigger t)
{
    switch (t) {
    case IR_ON_COMMAND: return "command";
    case IR_ON_PATTERN: return "pattern";
    case IR_ON_TEXT: return "text";
    case IR_ON_CONTACT: return "contact";
    case IR_ON_VOICE: return "voice";
    default: return "any";
    }
}

static void lower_state(lower_ctx *c, int si)
{
    const ir_state *st = &c->spec->states[si];
    low_machine *m = c->m;
    low_state *ls = &m->states[si];
    ls->name = st->name;
    ls->id = low_fnv32(st->name);
    ls->pos = st->pos;
    ls->contact_tr = ls->voice_tr = ls->fallback_tr = BM_NONE;
    shape_add(c, arena_printf(c->a, "state %s", st->name));

    ls->first_say = m->n_says;
    ls->n_say = st->n_say;
    for (int i = 0; i < st->n_say; i++)
        m->says[m->n_says++] = text_idx(c, &st->say[i]);

    /* buttons' contact transitions count only when no `on: contact` */
    int on_contact = 0;
    for (int i = 0; i < st->n_on; i++)
        if (st->on[i].trigger == IR_ON_CONTACT)
            on_contact = 1;
    ls->reply_kb = lower_keyboard(c, st, &st->reply, "reply", ls);
    ls->inline_kb = lower_keyboard(c, st, &st->inl, "inline", ls);
    if (on_contact)
        ls->contact_tr = BM_NONE;

    int *on_tr = ARENA_ARRAY(c->a, int, st->n_on + 1);
    for (int i = 0; i < st->n_on; i++) {
        const ir_on *on = &st->on[i];
        const char *arg = on->trigger == IR_ON_TEXT ? text_name(c, &on->text) :
                          on->arg ? on->arg : "";
        on_tr[i] = add_tr(c, &on->tr,
            arena_printf(c->a, "state %s: on %s%s%s", st->name, trigger_name(on->trigger),
                         *arg ? " " : "", arg),
            arena_printf(c->a, "%s on %s %s", st->name, trigger_name(on->trigger), arg));
        switch (on->trigger) {
        case IR_ON_CONTACT:
            if (ls->contact_tr == BM_NONE)
                ls->contact_tr = on_tr[i];
            break;
        case IR_ON_VOICE:
            if (ls->voice_tr == BM_NONE)
                ls->voice_tr = on_tr[i];
            break;
        case IR_ON_ANY:
            if (ls->fallback_tr == BM_NONE)
                ls->fallback_tr = on_tr[i];
            break;
        default:
            break;
        }
    }

    /* text rules, in matching priority order */
    int cap = st->n_on * m->n_langs + 1;
    if (st->reply.present && !st->reply.remove)
        for (int r = 0; r < st->reply.n_rows; r++)
            cap += st->reply.rows[r].n_buttons * m->n_langs;
    low_rule *rules = ARENA_ARRAY(c->a, low_rule, cap);
    int n = 0;
    for (int i = 0; i < st->n_on; i++)
        if (st->on[i].trigger == IR_ON_COMMAND && st->on[i].arg)
            add_rule(c, rules, &n, LOW_R_COMMAND, command_re(c->a, st->on[i].arg), on_tr[i],
                     arena_printf(c->a, "on command /%s", st->on[i].arg));
    if (ls->reply_kb >= 0) {
        const low_keyboard *kb = &m->keyboards[ls->reply_kb];
        for (int r = 0; r < kb->n_rows; r++) {
            const low_row *row = &m->rows[kb->first_row + r];
            for (int b = 0; b < row->n_buttons; b++) {
                const low_button *lb = &m->buttons[row->first_button + b];
                if (lb->kind != BM_BTN_REPLY || lb->transition < 0)
                    continue;
                add_text_rules(c, rules, &n, LOW_R_LABEL, lb->label, lb->transition,
                               "button", lb->pos);
            }
        }
    }
    for (int i = 0; i < st->n_on; i++)
        if (st->on[i].trigger == IR_ON_TEXT)
            add_text_rules(c, rules, &n, LOW_R_TEXT, text_idx(c, &st->on[i].text), on_tr[i],
                           "on text", st->on[i].pos);
    for (int i = 0; i < st->n_on; i++) {
        const ir_on *on = &st->on[i];
        if (on->trigger != IR_ON_PATTERN || !on->arg)
            continue;
        rx_error err;
        const char *re = rx_to_re2c(c->a, on->arg, RX_TRIGGER, &err);
        if (!re) {
            src_pos p = on->arg_pos;
            diag_error(c->d, p, err.hint, "invalid pattern: %s (at byte %zu)",
                       err.message, err.offset);
            c->errors++;
            continue;
        }
        add_rule(c, rules, &n, LOW_R_PATTERN, re, on_tr[i],
                 arena_printf(c->a, "on pattern %s", on->arg));
    }
    ls->rules = rules;
    ls->n_rules = n;
    check_shadowed(c, st->on, st->n_on, arena_printf(c->a, "state '%s'", st->name));
}

/* `everywhere:`: its transitions, and its rules (texts, then patterns) for
 * the matcher tried after the state's own and the global commands. */
static void lower_everywhere(lower_ctx *c)
{
    const ir_spec *s = c->spec;
    low_machine *m = c->m;
    int *tr = ARENA_ARRAY(c->a, int, s->n_everywhere + 1);
    for (int i = 0; i < s->n_everywhere; i++) {
        const ir_on *on = &s->everywhere[i];
        const char *arg = on->trigger == IR_ON_TEXT ? text_name(c, &on->text) :
                          on->arg ? on->arg : "";
        tr[i] = add_tr(c, &on->tr,
                       arena_printf(c->a, "everywhere: on %s %s", trigger_name(on->trigger), arg),
                       arena_printf(c->a, "everywhere on %s %s", trigger_name(on->trigger), arg));
    }
    check_shadowed(c, s->everywhere, s->n_everywhere, "the everywhere triggers");
    m->everywhere_rules = ARENA_ARRAY(c->a, low_rule, s->n_everywhere * m->n_langs + 1);
    for (int i = 0; i < s->n_everywhere; i++)
        if (s->everywhere[i].trigger == IR_ON_TEXT)
            add_text_rules(c, m->everywhere_rules, &m->n_everywhere_rules, LOW_R_TEXT,
                           text_idx(c, &s->everywhere[i].text), tr[i], "everywhere text",
                           s->everywhere[i].pos);
    for (int i = 0; i < s->n_everywhere; i++) {
        const ir_on *on = &s->everywhere[i];
        if (on->trigger != IR_ON_PATTERN || !on->arg)
            continue;
        rx_error err;
        const char *re = rx_to_re2c(c->a, on->arg, RX_TRIGGER, &err);
        if (!re) {
            diag_error(c->d, on->arg_pos, err.hint, "invalid pattern: %s (at byte %zu)",
                       err.message, err.offset);
            c->errors++;
            continue;
        }
        add_rule(c, m->everywhere_rules, &m->n_everywhere_rules, LOW_R_PATTERN, re, tr[i],
                 arena_printf(c->a, "everywhere pattern %s", on->arg));
    }
}

/* ---- forms ---------------------------------------------------------------------------- */

static int var_by_name(const ir_spec *s, const char *name)
{
    for (int i = 0; i < s->n_vars; i++)
        if (strcmp(s->vars[i].name, name) == 0)
            return i;
    return BM_NONE;
}

static void lower_form(lower_ctx *c, int fi)
{
    const ir_spec *s = c->spec;
    const ir_form *f = &s->forms[fi];
    low_machine *m = c->m;
    low_form *lf = &m->forms[fi];
    lf->name = f->name;
    lf->id = low_fnv32(f->name);
    lf->pos = f->pos;
    lf->first_field = m->n_fields;
    lf->n_fields = f->n_fields;
    shape_add(c, arena_printf(c->a, "form %s", f->name));
    static const char *vnames[] = {"none", "text", "integer", "number", "date",
                                   "phone", "regex", "choice"};
    for (int i = 0; i < f->n_fields; i++) {
        const ir_field *fd = &f->fields[i];
        low_field *lf2 = &m->fields[m->n_fields++];
        lf2->name = fd->name;
        lf2->full_name = arena_printf(c->a, "%s.%s", f->name, fd->name);
        lf2->id = low_fnv32(lf2->full_name);
        lf2->pos = fd->pos;
        lf2->ask = text_idx(c, &fd->ask);
        lf2->retry = fd->retry.key ? text_idx(c, &fd->retry) : m->sys_texts[BM_SYS_INVALID];
        lf2->button = BM_NONE;
        lf2->regex = BM_NONE;
        lf2->var = var_by_name(s, lf2->full_name);
        if (lf2->var < 0) {
            diag_error(c->d, fd->pos, NULL, "no variable '%s' for form field", lf2->full_name);
            c->errors++;
        }
        lf2->has_min = fd->has_min;
        lf2->has_max = fd->has_max;
        lf2->min = fd->min;
        lf2->max = fd->max;
        lf2->first_choice = m->n_choices;
        lf2->country = fd->v == IR_V_PHONE ? fd->country : NULL;
        switch (fd->v) {
        case IR_V_TEXT: lf2->validator = BM_V_TEXT; break;
        case IR_V_INTEGER: lf2->validator = BM_V_INTEGER; break;
        case IR_V_NUMBER: lf2->validator = BM_V_NUMBER; break;
        case IR_V_DATE: lf2->validator = BM_V_DATE; break;
        case IR_V_PHONE:
            lf2->validator = BM_V_PHONE;
            lf2->button = fd->button.key ? text_idx(c, &fd->button)
                                         : m->sys_texts[BM_SYS_SHARE_CONTACT];
            break;
        case IR_V_REGEX: {
            lf2->validator = BM_V_REGEX;
            rx_error err;
            const char *re = fd->regex ? rx_to_re2c(c->a, fd->regex, RX_VALIDATOR, &err) : NULL;
            if (!re) {
                diag_error(c->d, fd->regex_pos, fd->regex ? err.hint : NULL,
                           "invalid regex: %s", fd->regex ? err.message : "missing");
                c->errors++;
                break;
            }
            lf2->regex = m->n_regexes;
            low_regex *lr = &m->regexes[m->n_regexes++];
            lr->pattern = fd->regex;
            lr->re = re;
            lr->origin = lf2->full_name;
            break;
        }
        case IR_V_CHOICE:
            lf2->validator = BM_V_CHOICE;
            for (int k = 0; k < fd->n_choices; k++)
                m->choices[m->n_choices++] = text_idx(c, &fd->choices[k]);
            lf2->n_choices = fd->n_choices;
            break;
        default:
            diag_error(c->d, fd->pos, NULL, "form field '%s' has no validator", lf2->full_name);
            c->errors++;
            break;
        }
        shape_add(c, arena_printf(c->a, "field %s %s", lf2->full_name,
                                  vnames[fd->v >= 0 && fd->v <= IR_V_CHOICE ? fd->v : 0]));
    }
    lf->done_tr = tr_present(&f->done)
        ? add_tr(c, &f->done, arena_printf(c->a, "form %s: done", f->name),
                 arena_printf(c->a, "%s done", f->name))
        : BM_NONE;
    lf->cancel_tr = tr_present(&f->cancel)
        ? add_tr(c, &f->cancel, arena_printf(c->a, "form %s: cancel", f->name),
                 arena_printf(c->a, "%s cancel", f->name))
        : BM_NONE;
    /* a lead is where records go, not part of the dialogue: not in the shape */
    lf->lead = f->lead == IR_LEAD_CHAT ? BM_LEAD_CHAT
             : f->lead == IR_LEAD_TOPIC ? BM_LEAD_TOPIC
             : f->lead == IR_LEAD_NAMED ? BM_LEAD_NAMED : BM_LEAD_NONE;
    lf->lead_topic = lf->lead == BM_LEAD_NAMED ? f->lead_topic : NULL;
}

/* ---- the machine ------------------------------------------------------------------------ */

static int count_buttons(const ir_keyboard *kb, int *rows)
{
    int n = 0;
    if (!kb->present || kb->remove)
        return 0;
    *rows += kb->n_rows;
    for (int r = 0; r < kb->n_rows; r++)
        n += kb->rows[r].n_buttons;
    return n;
}

/* `voice:`: how a voice note is answered. */
static void lower_voice(lower_ctx *c)
{
    switch (c->spec->voice.reply) {
    case IR_VOICE_REPLY_TEXT: c->m->voice_reply = BM_VOICE_REPLY_TEXT; break;
    case IR_VOICE_REPLY_VOICE: c->m->voice_reply = BM_VOICE_REPLY_VOICE; break;
    case IR_VOICE_REPLY_BOTH: c->m->voice_reply = BM_VOICE_REPLY_BOTH; break;
    }
}

/* `llm:`: its texts, and its handoff patterns as trigger regexes after the
 * form validators. */
static void lower_llm(lower_ctx *c)
{
    const ir_llm *l = &c->spec->llm;
    low_machine *m = c->m;
    low_llm *ll = &m->llm;
    ll->present = l->present;
    ll->persona = ll->policy = BM_NONE;
    if (!l->present)
        return;
    ll->pos = l->pos;
    ll->knowledge = l->knowledge;
    ll->n_knowledge = l->n_knowledge;
    ll->persona = text_idx(c, &l->persona);
    ll->policy = text_idx(c, &l->policy);
    ll->strict = l->strict;
    ll->no_feedback = !l->feedback;
    ll->daily_tokens = l->daily_tokens;
    ll->timezone = l->timezone;
    ll->model = l->model;
    ll->ask_without_context = l->ask_without_context;
    ll->synonyms = l->synonyms;
    ll->n_synonyms = l->n_synonyms;
    ll->session_idle = l->session_idle_minutes * 60;
    ll->persona_var = l->n_personas > 0 ? var_by_name(c->spec, "persona") : BM_NONE;
    ll->n_personas = l->n_personas;
    ll->persona_names = ARENA_ARRAY(c->a, const char *, l->n_personas ? l->n_personas : 1);
    ll->persona_prompts = ARENA_ARRAY(c->a, int, l->n_personas ? l->n_personas : 1);
    ll->persona_labels = ARENA_ARRAY(c->a, int, l->n_personas ? l->n_personas : 1);
    for (int i = 0; i < l->n_personas; i++) {
        ll->persona_names[i] = l->personas[i].name;
        ll->persona_prompts[i] = text_idx(c, &l->personas[i].prompt);
        ll->persona_labels[i] = l->personas[i].label.key ? text_idx(c, &l->personas[i].label)
                                                         : BM_NONE;
    }
    ll->max_tool_calls = l->max_tool_calls;
    ll->first_handoff = m->n_regexes;
    for (int i = 0; i < l->n_handoff; i++) {
        rx_error err;
        const char *re = rx_to_re2c(c->a, l->handoff[i], RX_TRIGGER, &err);
        if (!re) {
            diag_error(c->d, l->handoff_pos[i], err.hint, "invalid regex: %s", err.message);
            c->errors++;
            continue;
        }
        low_regex *lr = &m->regexes[m->n_regexes++];
        lr->pattern = l->handoff[i];
        lr->re = re;
        lr->origin = arena_printf(c->a, "llm.handoff_patterns.%d", i);
        lr->trigger = true;
        ll->n_handoff++;
    }
}

static int count_sets(const ir_transition *t)
{
    return t->n_set;
}

low_machine *low_lower(arena *a, const ir_spec *s, diag_list *d)
{
    lower_ctx cx = {.a = a, .spec = s, .d = d};
    lower_ctx *c = &cx;
    low_machine *m = ARENA_NEW(a, low_machine);
    c->m = m;
    m->name = s->name ? s->name : "bot";
    m->spec_path = s->path ? s->path : "";

    /* languages */
    m->n_langs = s->n_langs;
    m->langs = ARENA_ARRAY(a, const char *, s->n_langs + 1);
    for (int i = 0; i < s->n_langs; i++) {
        m->langs[i] = s->langs[i];
        if (s->default_lang && strcmp(s->langs[i], s->default_lang) == 0)
            m->default_lang = i;
    }
    if (m->n_langs == 0) {
        m->langs[0] = s->default_lang ? s->default_lang : "en";
        m->n_langs = 1;
    }

    /* sizes */
    int n_tr = s->n_commands + 2 * s->n_forms + s->n_everywhere, n_btn = 0, n_rows = 0;
    int n_kb = 0, n_set = 0, n_say = 0, n_fields = 0, n_choices = 0;
    for (int i = 0; i < s->n_commands; i++)
        n_set += count_sets(&s->commands[i].tr);
    for (int i = 0; i < s->n_everywhere; i++)
        n_set += count_sets(&s->everywhere[i].tr);
    for (int i = 0; i < s->n_states; i++) {
        const ir_state *st = &s->states[i];
        int nb = count_buttons(&st->reply, &n_rows) + count_buttons(&st->inl, &n_rows);
        n_btn += nb;
        n_tr += nb + st->n_on;
        n_kb += 2;
        n_say += st->n_say;
        const ir_keyboard *kbs[2] = {&st->reply, &st->inl};
        for (int k = 0; k < 2; k++)
            if (kbs[k]->present && !kbs[k]->remove)
                for (int r = 0; r < kbs[k]->n_rows; r++)
                    for (int b = 0; b < kbs[k]->rows[r].n_buttons; b++)
                        n_set += count_sets(&kbs[k]->rows[r].buttons[b].tr);
        for (int k = 0; k < st->n_on; k++)
            n_set += count_sets(&st->on[k].tr);
    }
    for (int i = 0; i < s->n_forms; i++) {
        n_fields += s->forms[i].n_fields;
        n_set += count_sets(&s->forms[i].done) + count_sets(&s->forms[i].cancel);
        for (int k = 0; k < s->forms[i].n_fields; k++)
            n_choices += s->forms[i].fields[k].n_choices;
    }
    m->transitions = ARENA_ARRAY(a, low_transition, n_tr + 1);
    m->assigns = ARENA_ARRAY(a, low_assign, n_set + 1);
    m->buttons = ARENA_ARRAY(a, low_button, n_btn + 1);
    m->rows = ARENA_ARRAY(a, low_row, n_rows + 1);
    m->keyboards = ARENA_ARRAY(a, low_keyboard, n_kb + 1);
    m->says = ARENA_ARRAY(a, int, n_say + 1);
    m->states = ARENA_ARRAY(a, low_state, s->n_states + 1);
    m->n_states = s->n_states;
    m->forms = ARENA_ARRAY(a, low_form, s->n_forms + 1);
    m->n_forms = s->n_forms;
    m->fields = ARENA_ARRAY(a, low_field, n_fields + 1);
    m->choices = ARENA_ARRAY(a, int, n_choices + 1);
    m->regexes = ARENA_ARRAY(a, low_regex, n_fields + s->llm.n_handoff + 1);

    lower_texts(c);

    /* variables */
    m->n_vars = s->n_vars;
    m->vars = ARENA_ARRAY(a, low_var, s->n_vars + 1);
    for (int i = 0; i < s->n_vars; i++) {
        m->vars[i].name = s->vars[i].name;
        m->vars[i].initial = s->vars[i].initial ? s->vars[i].initial : "";
        shape_add(c, arena_printf(a, "var %s", s->vars[i].name));
    }

    /* global commands */
    m->n_commands = s->n_commands;
    m->commands = ARENA_ARRAY(a, low_command, s->n_commands + 1);
    m->global_rules = ARENA_ARRAY(a, low_rule, s->n_commands + 1);
    for (int i = 0; i < s->n_commands; i++) {
        const ir_command *cmd = &s->commands[i];
        low_command *lc = &m->commands[i];
        lc->name = cmd->name;
        lc->pos = cmd->pos;
        lc->description = text_idx(c, &cmd->description);
        lc->transition = BM_NONE;
        if (tr_present(&cmd->tr)) {
            lc->transition = add_tr(c, &cmd->tr, arena_printf(a, "command /%s", cmd->name),
                                    arena_printf(a, "cmd /%s", cmd->name));
            add_rule(c, m->global_rules, &m->n_global_rules, LOW_R_COMMAND,
                     command_re(a, cmd->name), lc->transition,
                     arena_printf(a, "command /%s", cmd->name));
        } else {
            shape_add(c, arena_printf(a, "cmd /%s", cmd->name));
        }
    }

    for (int i = 0; i < s->n_states; i++)
        lower_state(c, i);
    for (int i = 0; i < s->n_forms; i++)
        lower_form(c, i);
    lower_everywhere(c);
    lower_llm(c);
    c->m->tools = c->spec->tools;
    c->m->n_tools = c->spec->n_tools;
    lower_voice(c);
    m->voice = (low_voice){.present = s->voice.present, .pos = s->voice.pos,
                           .max_seconds = s->voice.max_seconds, .echo = s->voice.echo};
    pick_callback_data(c);

    m->start_state = s->start_idx;
    if (s->n_states > 0 && (s->start_idx < 0 || s->start_idx >= s->n_states)) {
        diag_error(d, s->start_pos, NULL, "unknown start state '%s'", s->start ? s->start : "");
        c->errors++;
    }
    shape_add(c, arena_printf(a, "start %s", s->start ? s->start : ""));

    /* moves: `moved:` first, then every state's renamed_from */
    int n_moves = s->n_moves;
    for (int i = 0; i < s->n_states; i++)
        n_moves += s->states[i].n_renamed;
    m->moves = ARENA_ARRAY(a, low_move, n_moves + 1);
    for (int i = 0; i < s->n_moves; i++) {
        low_move *mv = &m->moves[m->n_moves++];
        mv->from = s->moves[i].from;
        mv->pos = s->moves[i].pos;
        mv->to = s->moves[i].to_idx;
        if (mv->to < 0 || mv->to >= s->n_states) {
            diag_error(d, s->moves[i].to_pos, NULL, "unknown state '%s'",
                       s->moves[i].to ? s->moves[i].to : "");
            c->errors++;
        }
    }
    for (int i = 0; i < s->n_states; i++)
        for (int k = 0; k < s->states[i].n_renamed; k++) {
            low_move *mv = &m->moves[m->n_moves++];
            mv->from = s->states[i].renamed_from[k];
            mv->pos = s->states[i].renamed_pos ? s->states[i].renamed_pos[k] : s->states[i].pos;
            mv->to = i;
        }

    /* shape: sorted lines, so reordering the spec keeps the hash */
    qsort(c->shape, (size_t)c->n_shape, sizeof *c->shape, cmp_str);
    uint64_t h = LOW_FNV64_INIT;
    for (int i = 0; i < c->n_shape; i++) {
        h = low_fnv64(c->shape[i], strlen(c->shape[i]), h);
        h = low_fnv64("\n", 1, h);
    }
    m->shape_hash = h;

    return c->errors ? NULL : m;
}
