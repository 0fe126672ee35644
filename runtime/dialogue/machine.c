/*
 * machine.c — the interpreter of the tables botc emits (see machine.h).
 *
 * Pure: a session and an input in, effects out, no I/O. One step keeps a
 * snapshot of the session's variables so that an out-of-memory failure
 * halfway through leaves the session as it was.
 */
#include "dialogue/machine.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/phone.h"
#include "base/text.h"

/* Cap on one expanded text. Telegram takes 4096 UTF-16 units per message;
 * transports split longer ones, this only bounds memory when a variable
 * holds something huge. */
#define BM_TEXT_MAX (64 * 1024)
#define BM_FIELD_TEXT_MAX 4096 /* TEXT validator: Telegram's own limit */

/* ---- effects ----------------------------------------------------------- */

static void markup_free(bm_markup *mk)
{
    for (int i = 0; i < mk->n_buttons; i++) {
        free(mk->buttons[i].label);
        free(mk->buttons[i].data);
    }
    free(mk->buttons);
    free(mk->row_len);
    memset(mk, 0, sizeof *mk);
}

static void effect_free(bm_effect *e)
{
    free(e->text);
    free(e->callback_id);
    free(e->file_name);
    markup_free(&e->markup);
}

void bm_effects_init(bm_effects *fx)
{
    fx->v = NULL;
    fx->n = fx->cap = 0;
}

void bm_effects_truncate(bm_effects *fx, int n)
{
    if (n < 0)
        n = 0;
    for (int i = n; i < fx->n; i++)
        effect_free(&fx->v[i]);
    if (n < fx->n)
        fx->n = n;
}

void bm_effects_clear(bm_effects *fx) { bm_effects_truncate(fx, 0); }

void bm_effects_free(bm_effects *fx)
{
    bm_effects_clear(fx);
    free(fx->v);
    bm_effects_init(fx);
}

bm_effect *bm_effects_add(bm_effects *fx, bm_effect_kind kind, int64_t chat_id)
{
    if (fx->n == fx->cap) {
        int nc = fx->cap ? fx->cap * 2 : 8;
        bm_effect *nv = realloc(fx->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return NULL;
        fx->v = nv;
        fx->cap = nc;
    }
    bm_effect *e = &fx->v[fx->n++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->chat_id = chat_id;
    e->markup.kind = BM_MK_NONE;
    e->form = BM_NONE;
    return e;
}

/* ---- lookups ----------------------------------------------------------- */

const char *bm_text(const bm_machine *m, int text, int lang)
{
    if (text < 0 || text >= m->n_texts || m->n_langs <= 0)
        return "";
    if (lang < 0 || lang >= m->n_langs)
        lang = m->default_lang;
    const char *t = m->texts[(size_t)text * (size_t)m->n_langs + (size_t)lang];
    if (!t)
        t = m->texts[(size_t)text * (size_t)m->n_langs + (size_t)m->default_lang];
    return t ? t : "";
}

int bm_lang_for(const bm_machine *m, const char *code)
{
    if (!code || !*code)
        return m->default_lang;
    for (int i = 0; i < m->n_langs; i++)
        if (!strcasecmp(m->langs[i], code))
            return i;
    size_t primary = strcspn(code, "-_");
    for (int i = 0; i < m->n_langs; i++)
        if (strlen(m->langs[i]) == primary && !strncasecmp(m->langs[i], code, primary))
            return i;
    return m->default_lang;
}

int bm_state_by_name(const bm_machine *m, const char *name)
{
    if (!name)
        return BM_NONE;
    for (int i = 0; i < m->n_states; i++)
        if (!strcmp(m->states[i].name, name))
            return i;
    for (int i = 0; i < m->n_moves; i++)
        if (!strcmp(m->moves[i].from, name))
            return m->moves[i].to;
    return BM_NONE;
}

int bm_form_by_name(const bm_machine *m, const char *name)
{
    if (!name)
        return BM_NONE;
    for (int i = 0; i < m->n_forms; i++)
        if (!strcmp(m->forms[i].name, name))
            return i;
    return BM_NONE;
}

int bm_var_by_name(const bm_machine *m, const char *name)
{
    if (!name)
        return BM_NONE;
    for (int i = 0; i < m->n_vars; i++)
        if (!strcmp(m->vars[i].name, name))
            return i;
    return BM_NONE;
}

/* ---- sessions ---------------------------------------------------------- */

int bm_session_init(const bm_machine *m, bm_session *s, const bm_user *user)
{
    memset(s, 0, sizeof *s);
    s->user_id = user ? user->id : 0;
    s->chat_id = user ? user->chat_id : 0;
    s->lang = bm_lang_for(m, user ? user->language_code : NULL);
    s->state = m->start_state;
    s->form = BM_NONE;
    s->field = BM_NONE;
    s->is_new = true;
    if (m->n_vars > 0) {
        s->vars = calloc((size_t)m->n_vars, sizeof *s->vars);
        if (!s->vars)
            return -1;
    }
    return 0;
}

void bm_session_free(const bm_machine *m, bm_session *s)
{
    if (s->vars)
        for (int i = 0; i < m->n_vars; i++)
            free(s->vars[i]);
    free(s->vars);
    s->vars = NULL;
}

/* ---- one step's context ------------------------------------------------ */

typedef struct step {
    const bm_machine *m;
    bm_session *s;
    const bm_user *user;  /* may be NULL */
    const char *input;    /* what {text} stands for */
    bm_effects *fx;
    char **snap;          /* vars at step start; NULL outside bm_step */
    char idbuf[24];
} step;

static const char *var_value(const step *st, int i)
{
    if (st->s->vars && st->s->vars[i])
        return st->s->vars[i];
    const char *v = st->m->vars[i].initial;
    return v ? v : "";
}

/* {persona_label}: the label of the persona the variable `persona` names
 * (llm: personas:), in the user's language; the variable's value when no
 * persona has that name or a label. */
static const char *persona_label(const step *st)
{
    const bm_llm *l = st->m->llm;
    if (!l || l->n_personas <= 0 || l->persona_var < 0 || l->persona_var >= st->m->n_vars)
        return "";
    const char *v = var_value(st, l->persona_var);
    for (int i = 0; i < l->n_personas; i++)
        if (!strcmp(l->personas[i].name, v))
            return l->personas[i].label >= 0 ? bm_text(st->m, l->personas[i].label, st->s->lang)
                                             : v;
    return v;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && !memcmp(name, want, len);
}

static const char *lookup(void *ud, const char *name, size_t len)
{
    step *st = ud;
    const bm_user *u = st->user;
    if (name_is(name, len, "first_name"))
        return u && u->first_name ? u->first_name : "";
    if (name_is(name, len, "last_name"))
        return u && u->last_name ? u->last_name : "";
    if (name_is(name, len, "username"))
        return u && u->username ? u->username : "";
    if (name_is(name, len, "user_id")) {
        snprintf(st->idbuf, sizeof st->idbuf, "%lld",
                 (long long)(u ? u->id : st->s->user_id));
        return st->idbuf;
    }
    if (name_is(name, len, "language")) {
        int l = st->s->lang;
        if (l < 0 || l >= st->m->n_langs)
            l = st->m->default_lang;
        return st->m->langs[l];
    }
    if (name_is(name, len, "text"))
        return st->input ? st->input : "";
    if (name_is(name, len, "persona_label"))
        return persona_label(st);
    for (int i = 0; i < st->m->n_vars; i++)
        if (name_is(name, len, st->m->vars[i].name))
            return var_value(st, i);
    return NULL;
}

static char *expand(step *st, const char *tmpl)
{
    return text_expand(tmpl, lookup, st, BM_TEXT_MAX);
}

static char *render(step *st, int text)
{
    return expand(st, bm_text(st->m, text, st->s->lang));
}

char *bm_render(const bm_machine *m, const bm_session *s, const bm_user *user,
                int text, const char *input)
{
    step st = {.m = m, .s = (bm_session *)s, .user = user, .input = input};
    return render(&st, text);
}

/* Replace variable i with v (owned). A value set earlier in this same step
 * is freed at once; the value from before the step stays alive in the
 * snapshot until the step commits. */
static void set_var(step *st, int i, char *v)
{
    char *old = st->s->vars[i];
    if (old && (!st->snap || old != st->snap[i]))
        free(old);
    st->s->vars[i] = v;
}

/* ---- emitting ---------------------------------------------------------- */

/* Append a SEND/EDIT; takes ownership of text and *mk in every case. */
static int emit(step *st, bm_effect_kind kind, int64_t message_id, char *text,
                bm_markup *mk)
{
    bm_markup none = {0};
    if (!mk)
        mk = &none;
    if (!text) {
        markup_free(mk);
        return -1;
    }
    bm_effect *e = bm_effects_add(st->fx, kind, st->s->chat_id);
    if (!e) {
        free(text);
        markup_free(mk);
        return -1;
    }
    e->message_id = message_id;
    e->text = text;
    e->markup = *mk;
    memset(mk, 0, sizeof *mk);
    return 0;
}

static int send_text(step *st, int text, bm_markup *mk)
{
    return emit(st, BM_FX_SEND, 0, render(st, text), mk);
}

/* Start a markup of n_rows rows and n_buttons buttons (zeroed). */
static int markup_alloc(bm_markup *mk, bm_markup_kind kind, int n_rows, int n_buttons)
{
    memset(mk, 0, sizeof *mk);
    mk->kind = kind;
    mk->row_len = calloc((size_t)(n_rows ? n_rows : 1), sizeof *mk->row_len);
    mk->buttons = calloc((size_t)(n_buttons ? n_buttons : 1), sizeof *mk->buttons);
    if (!mk->row_len || !mk->buttons) {
        free(mk->row_len);
        free(mk->buttons);
        memset(mk, 0, sizeof *mk);
        return -1;
    }
    mk->n_rows = n_rows;
    return 0;
}

/* Add one button to the markup being built (label owned, NULL = OOM). */
static int markup_push(bm_markup *mk, bm_button_kind kind, char *label, const char *data)
{
    bm_button_out *b = &mk->buttons[mk->n_buttons];
    if (!label)
        return -1;
    b->kind = kind;
    b->label = label;
    if (data) {
        b->data = strdup(data);
        if (!b->data) {
            free(label);
            b->label = NULL;
            return -1;
        }
    }
    mk->n_buttons++;
    return 0;
}

static int contact_label(const bm_machine *m, int label)
{
    return label >= 0 ? label : m->sys_texts[BM_SYS_SHARE_CONTACT];
}

static int build_kb(step *st, int kb, bm_markup_kind kind, bm_markup *mk)
{
    const bm_machine *m = st->m;
    const bm_keyboard *k = &m->keyboards[kb];
    int total = 0;
    for (int r = 0; r < k->n_rows; r++)
        total += m->rows[k->first_row + r].n_buttons;
    if (markup_alloc(mk, kind, k->n_rows, total))
        return -1;
    for (int r = 0; r < k->n_rows; r++) {
        const bm_row *row = &m->rows[k->first_row + r];
        mk->row_len[r] = row->n_buttons;
        for (int i = 0; i < row->n_buttons; i++) {
            const bm_button *b = &m->buttons[row->first_button + i];
            int label = b->kind == BM_BTN_CONTACT ? contact_label(m, b->label) : b->label;
            const char *data = (b->kind == BM_BTN_CALLBACK || b->kind == BM_BTN_URL) ? b->data : NULL;
            if (markup_push(mk, b->kind, render(st, label), data)) {
                markup_free(mk);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- entering states --------------------------------------------------- */

/* The messages and keyboards of `state` (entering it, or showing it again). */
static int say_state(step *st, int state, int64_t edit_id)
{
    const bm_machine *m = st->m;
    const bm_state *S = &m->states[state];
    for (int i = 0; i < S->n_say; i++) {
        bm_markup mk = {0};
        int rc = 0;
        if (i == 0 && S->reply_kb >= 0)
            rc = build_kb(st, S->reply_kb, BM_MK_REPLY, &mk);
        else if (i == 0 && S->reply_kb == BM_KB_REMOVE)
            mk.kind = BM_MK_REMOVE;
        else if (i == S->n_say - 1 && S->inline_kb >= 0)
            rc = build_kb(st, S->inline_kb, BM_MK_INLINE, &mk);
        if (rc)
            return -1;
        bm_effect_kind kind = edit_id && S->n_say == 1 ? BM_FX_EDIT : BM_FX_SEND;
        if (emit(st, kind, kind == BM_FX_EDIT ? edit_id : 0,
                 render(st, m->says[S->first_say + i]), &mk))
            return -1;
    }
    return 0;
}

static int enter(step *st, int state, int64_t edit_id)
{
    st->s->state = state;
    if (st->s->trace && st->s->trace->enter)
        st->s->trace->enter(st->s->trace->ud, state);
    return say_state(st, state, edit_id);
}

int bm_enter(const bm_machine *m, bm_session *s, const bm_user *user, int state,
             bm_effects *fx)
{
    if (state < 0 || state >= m->n_states)
        return -1;
    step st = {.m = m, .s = s, .user = user, .input = "", .fx = fx};
    return enter(&st, state, 0);
}

/* ---- forms ------------------------------------------------------------- */

static const bm_field *cur_field(const step *st)
{
    const bm_form *F = &st->m->forms[st->s->form];
    return &st->m->fields[F->first_field + st->s->field];
}

/* Ask the current field, with the keyboard its validator needs. */
static int ask(step *st)
{
    const bm_machine *m = st->m;
    const bm_field *f = cur_field(st);
    bm_markup mk = {0};
    if (f->validator == BM_V_CHOICE && f->n_choices > 0) {
        if (markup_alloc(&mk, BM_MK_REPLY, f->n_choices, f->n_choices))
            return -1;
        for (int i = 0; i < f->n_choices; i++) {
            mk.row_len[i] = 1;
            if (markup_push(&mk, BM_BTN_REPLY, render(st, m->choices[f->first_choice + i]), NULL)) {
                markup_free(&mk);
                return -1;
            }
        }
    } else if (f->validator == BM_V_PHONE) {
        if (markup_alloc(&mk, BM_MK_REPLY, 1, 1))
            return -1;
        mk.row_len[0] = 1;
        if (markup_push(&mk, BM_BTN_CONTACT, render(st, contact_label(m, f->button)), NULL)) {
            markup_free(&mk);
            return -1;
        }
    } else {
        /* a keyboard from the state or an earlier field would offer
         * answers that do not fit this question */
        mk.kind = BM_MK_REMOVE;
    }
    return send_text(st, f->ask, &mk);
}

int bm_show(const bm_machine *m, bm_session *s, const bm_user *user, bm_effects *fx)
{
    step st = {.m = m, .s = s, .user = user, .input = "", .fx = fx};
    if (s->form >= 0 && s->form < m->n_forms && s->field >= 0 &&
        s->field < m->forms[s->form].n_fields)
        return ask(&st);
    if (s->state < 0 || s->state >= m->n_states)
        return -1;
    return say_state(&st, s->state, 0);
}

static int start_form(step *st, int form)
{
    if (form < 0 || form >= st->m->n_forms || st->m->forms[form].n_fields <= 0)
        return 0;
    st->s->form = form;
    st->s->field = 0;
    return ask(st);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* malloc'd copy of s without leading/trailing whitespace */
static char *trim_dup(const char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        n--;
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

static bool parse_integer(const char *t, long long *out)
{
    const char *p = t;
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    char *end;
    long long v = strtoll(t, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Decimal with '.' or ',' as the separator; writes the '.' form to norm. */
static bool parse_number(const char *t, double *out, char *norm, size_t normlen)
{
    size_t n = strlen(t);
    if (n == 0 || n >= normlen)
        return false;
    const char *p = t;
    size_t j = 0;
    if (*p == '-' || *p == '+') {
        if (*p == '-')
            norm[j++] = '-';
        p++;
    }
    int digits = 0, seps = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
            norm[j++] = *p;
        } else if ((*p == '.' || *p == ',') && seps == 0) {
            seps++;
            norm[j++] = '.';
        } else {
            return false;
        }
    }
    norm[j] = '\0';
    if (!digits)
        return false;
    errno = 0;
    char *end;
    double v = strtod(norm, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in(int y, int mo)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mo == 2 && leap(y) ? 29 : d[mo - 1];
}

/* Read 1..maxd digits; returns digits read (0 = none). */
static int read_num(const char **pp, int maxd, int *v)
{
    const char *p = *pp;
    int n = 0, x = 0;
    while (*p >= '0' && *p <= '9' && n < maxd + 1) {
        x = x * 10 + (*p - '0');
        p++;
        n++;
    }
    if (n == 0 || n > maxd)
        return 0;
    *pp = p;
    *v = x;
    return n;
}

static bool parse_date(const char *t, char *out, size_t outlen)
{
    const char *p = t;
    int a, b, c;
    int na = read_num(&p, 4, &a);
    if (!na)
        return false;
    char s1 = *p++;
    if (s1 != '-' && s1 != '.' && s1 != '/')
        return false;
    if (!read_num(&p, 2, &b))
        return false;
    char s2 = *p++;
    if (s2 != s1)
        return false;
    int nc = read_num(&p, 4, &c);
    if (!nc || *p)
        return false;
    int y, mo, d;
    if (s1 == '-' && na == 4 && nc <= 2) {
        y = a, mo = b, d = c;
    } else if (s1 != '-' && na <= 2 && nc == 4) {
        d = a, mo = b, y = c;
    } else {
        return false;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo))
        return false;
    snprintf(out, outlen, "%04d-%02d-%02d", y % 10000, mo % 100, d % 100);
    return true;
}

/* A phone number in E.164: typed (national numbers in the field's
 * country), or a shared contact's, which Telegram sends with or without
 * its '+' but always international. */
static bool parse_phone(const bm_field *f, const char *t, bool contact,
                        char out[PHONE_E164_MAX])
{
    if (contact && *t != '+') {
        char intl[64];
        if ((size_t)snprintf(intl, sizeof intl, "+%s", t) >= sizeof intl)
            return false;
        return phone_e164(intl, NULL, out);
    }
    return phone_e164(t, contact ? NULL : f->country, out);
}

/* Days from 1970-01-01 to y-mo-d (proleptic Gregorian). */
static long days_from_civil(int y, int mo, int d)
{
    y -= mo <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The bot's today in days from 1970-01-01: its local date (the process's
 * zone is the spec's `llm: timezone`), or BOT_TODAY (YYYY-MM-DD), which
 * conversation and end-to-end tests set to pin the day. */
static long today(void)
{
    const char *fixed = getenv("BOT_TODAY");
    int y, mo, d;
    if (fixed && sscanf(fixed, "%4d-%2d-%2d", &y, &mo, &d) == 3)
        return days_from_civil(y, mo, d);
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        return (long)(now / 86400);
    return days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* A valid date (YYYY-MM-DD in norm) within the field's bounds, which are
 * days from the bot's today. */
static bool date_in_bounds(const bm_field *f, const char *norm)
{
    if (isinf(f->min) && isinf(f->max))
        return true;
    int y, mo, d;
    if (sscanf(norm, "%4d-%2d-%2d", &y, &mo, &d) != 3)
        return false;
    double rel = (double)(days_from_civil(y, mo, d) - today());
    return rel >= f->min && rel <= f->max;
}

/* The label of the choice `t` names (in any language), in language `lang`;
 * NULL when `t` is no choice of f. Borrowed from the machine. */
static const char *choice_label(const bm_machine *m, const bm_field *f, const char *t, int lang)
{
    for (int i = 0; i < f->n_choices; i++) {
        int text = m->choices[f->first_choice + i];
        for (int l = 0; l < m->n_langs; l++)
            if (text_equal_fold(t, bm_text(m, text, l)))
                return bm_text(m, text, lang);
    }
    return NULL;
}

static char *dup_or_oom(const char *s, int *rc)
{
    char *d = strdup(s);
    *rc = d ? 1 : -1;
    return d;
}

/* 1 valid (*value malloc'd), 0 invalid, -1 out of memory. */
static int validate(step *st, const bm_field *f, const bm_input *in, char **value)
{
    const bm_machine *m = st->m;
    *value = NULL;
    if (in->kind == BM_IN_CONTACT) {
        if (f->validator != BM_V_PHONE)
            return 0;
        if (in->contact_user_id != 0 && in->contact_user_id != in->user.id)
            return 0; /* someone else's contact card */
    } else if (in->kind != BM_IN_TEXT) {
        return 0;
    }
    char *t = trim_dup(st->input);
    if (!t)
        return -1;
    int rc = 0;
    char buf[64];
    switch (f->validator) {
    case BM_V_TEXT: /* `{text: {max: N}}`: N characters at most (N >= 1; else 4096) */
        if (*t && text_utf16_len(t, strlen(t)) <=
                      (f->max >= 1 && f->max < BM_FIELD_TEXT_MAX ? f->max : BM_FIELD_TEXT_MAX)) {
            *value = t;
            return 1;
        }
        break;
    case BM_V_INTEGER: {
        long long v;
        if (parse_integer(t, &v) && (double)v >= f->min && (double)v <= f->max) {
            snprintf(buf, sizeof buf, "%lld", v);
            *value = dup_or_oom(buf, &rc);
        }
        break;
    }
    case BM_V_NUMBER: {
        double v;
        if (parse_number(t, &v, buf, sizeof buf) && v >= f->min && v <= f->max)
            *value = dup_or_oom(buf, &rc);
        break;
    }
    case BM_V_DATE:
        if (parse_date(t, buf, sizeof buf) && date_in_bounds(f, buf))
            *value = dup_or_oom(buf, &rc);
        break;
    case BM_V_PHONE:
        if (parse_phone(f, t, in->kind == BM_IN_CONTACT, buf))
            *value = dup_or_oom(buf, &rc);
        break;
    case BM_V_REGEX:
        if (*t && m->match_regex && m->match_regex(f->regex, t)) {
            *value = t;
            return 1;
        }
        break;
    case BM_V_CHOICE: {
        /* typed in any case ("economy", "ЭКОНОМ"); the variable speaks the
         * user's language ({booking.car_class} in a Russian confirmation);
         * the stored record is canonical */
        const char *label = choice_label(m, f, t, st->s->lang);
        if (label)
            *value = dup_or_oom(label, &rc);
        break;
    }
    }
    free(t);
    return rc;
}

static char *record_json(step *st, int form)
{
    const bm_machine *m = st->m;
    const bm_form *F = &m->forms[form];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (int i = 0; i < F->n_fields; i++) {
        const bm_field *f = &m->fields[F->first_field + i];
        const char *v = f->var >= 0 ? var_value(st, f->var) : "";
        if (f->validator == BM_V_CHOICE) {
            const char *canonical = choice_label(m, f, v, m->default_lang);
            if (canonical)
                v = canonical;
        }
        if (!cJSON_AddStringToObject(o, f->name, v)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    char *js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!js)
        return NULL;
    char *out = strdup(js); /* effects own malloc'd strings */
    cJSON_free(js);
    return out;
}

static int run_tr(step *st, int tr, int64_t edit_id);

static void end_form(step *st)
{
    st->s->form = BM_NONE;
    st->s->field = BM_NONE;
}

static bool is_cancel(const char *t)
{
    while (is_space(*t))
        t++;
    if (strncmp(t, "/cancel", 7))
        return false;
    t += 7;
    return *t == '\0' || *t == '@' || is_space(*t);
}

static int form_input(step *st, const bm_input *in)
{
    const bm_machine *m = st->m;
    bm_session *s = st->s;
    const bm_form *F = &m->forms[s->form];
    if (in->kind == BM_IN_TEXT) {
        if (is_cancel(st->input)) {
            end_form(st);
            if (F->cancel_tr >= 0)
                return run_tr(st, F->cancel_tr, 0);
            /* stay; the field's keyboard replaced the state's menu, so the
             * notice brings it back */
            bm_markup mk = {0};
            const bm_state *S = &m->states[s->state];
            if (S->reply_kb >= 0 && build_kb(st, S->reply_kb, BM_MK_REPLY, &mk))
                return -1;
            if (S->reply_kb < 0)
                mk.kind = BM_MK_REMOVE;
            return send_text(st, m->sys_texts[BM_SYS_CANCELLED], &mk);
        }
        int g = m->match_text ? m->match_text(BM_NONE, st->input) : BM_NONE;
        if (g >= 0) {
            const bm_transition *T = &m->transitions[g];
            if (T->target < 0 && T->form < 0) {
                /* a command that only answers (/help): answer, then ask
                 * the same question again; the form goes on */
                if (run_tr(st, g, 0))
                    return -1;
                return ask(st);
            }
            end_form(st);
            return run_tr(st, g, 0);
        }
    }
    const bm_field *f = cur_field(st);
    char *value;
    int ok = validate(st, f, in, &value);
    if (ok < 0)
        return -1;
    if (!ok) {
        int retry = f->retry >= 0 ? f->retry : m->sys_texts[BM_SYS_INVALID];
        if (send_text(st, retry, NULL))
            return -1;
        return ask(st);
    }
    if (f->var >= 0 && s->vars)
        set_var(st, f->var, value);
    else
        free(value);
    if (s->field + 1 < F->n_fields) {
        s->field++;
        return ask(st);
    }
    int form = s->form;
    char *js = record_json(st, form);
    if (!js)
        return -1;
    bm_effect *e = bm_effects_add(st->fx, BM_FX_RECORD, s->chat_id);
    if (!e) {
        free(js);
        return -1;
    }
    e->text = js;
    e->form = form;
    end_form(st);
    if (F->done_tr >= 0)
        return run_tr(st, F->done_tr, 0);
    return enter(st, s->state, 0);
}

/* ---- transitions ------------------------------------------------------- */

static int run_tr(step *st, int tr, int64_t edit_id)
{
    const bm_machine *m = st->m;
    if (tr < 0 || tr >= m->n_transitions)
        return 0;
    const bm_transition *t = &m->transitions[tr];
    if (st->s->trace && st->s->trace->transition)
        st->s->trace->transition(st->s->trace->ud, tr);
    for (int i = 0; i < t->n_assign; i++) {
        const bm_assign *a = &m->assigns[t->first_assign + i];
        if (a->var < 0 || a->var >= m->n_vars || !st->s->vars)
            continue;
        char *v = expand(st, a->value);
        if (!v)
            return -1;
        set_var(st, a->var, v);
    }
    if (t->say >= 0 && send_text(st, t->say, NULL))
        return -1;
    if (t->action != BM_ACT_NONE) {
        bm_effect *e = bm_effects_add(st->fx, BM_FX_ACTION, st->s->chat_id);
        if (!e)
            return -1;
        e->action = t->action;
        e->text = strdup(st->input ? st->input : "");
        if (!e->text)
            return -1;
    }
    if (t->form >= 0)
        return start_form(st, t->form);
    if (t->target >= 0 && t->target < m->n_states) {
        const bm_state *T = &m->states[t->target];
        /* An inline menu leading to another inline menu edits the message
         * in place instead of stacking new ones; leading to a state with
         * `inline: remove`, the message becomes its text with no buttons. */
        bool edit = edit_id != 0 && t->say < 0 &&
                    (T->inline_kb >= 0 || T->inline_kb == BM_KB_REMOVE) &&
                    T->reply_kb == BM_NONE && T->n_say == 1;
        return enter(st, t->target, edit ? edit_id : 0);
    }
    return 0;
}

/* Whether `t` is shaped like a command: "/name", "/name@bot", "/name arg". */
static bool is_command(const char *t)
{
    if (*t++ != '/' || !((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z')))
        return false;
    while ((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
           *t == '_')
        t++;
    return *t == '\0' || *t == '@' || is_space(*t);
}

/* Send system text `sys` followed by the bot's published commands, one a
 * line ("/help — Help"). Returns 1 when sent, 0 when the bot publishes
 * none (the text would point at nothing), -1 on out-of-memory. */
static int say_with_commands(step *st, bm_sys_text sys)
{
    const bm_machine *m = st->m;
    text_buf b;
    text_buf_init(&b, BM_TEXT_MAX);
    int listed = 0;
    for (int i = 0; i < m->n_commands; i++) {
        if (m->commands[i].description < 0)
            continue;
        char *desc = render(st, m->commands[i].description);
        int rc = !desc || text_buf_adds(&b, "\n/") || text_buf_adds(&b, m->commands[i].name) ||
                 text_buf_adds(&b, " — ") || text_buf_adds(&b, desc);
        free(desc);
        if (rc) {
            text_buf_free(&b);
            return -1;
        }
        listed++;
    }
    char *list = text_buf_take(&b);
    char *head = listed && list ? render(st, m->sys_texts[sys]) : NULL;
    char *msg = head ? malloc(strlen(head) + strlen(list) + 1) : NULL;
    if (msg) {
        strcpy(msg, head);
        strcat(msg, list);
    }
    free(head);
    free(list);
    if (!listed)
        return 0;
    return msg && !emit(st, BM_FX_SEND, 0, msg, NULL) ? 1 : -1;
}

/* Nothing matched: an unknown command is told so (before the state's
 * fallback, which would take it for a question); else the fallback; else
 * a hint to use the buttons, with them, where the state has some, or the
 * bot's commands where it has none. */
static int no_match(step *st, const bm_input *in)
{
    const bm_machine *m = st->m;
    const bm_state *S = &m->states[st->s->state];
    if (in->kind == BM_IN_TEXT && is_command(st->input)) {
        int rc = say_with_commands(st, BM_SYS_UNKNOWN_COMMAND);
        if (rc)
            return rc < 0 ? -1 : 0;
    }
    if (S->fallback_tr >= 0)
        return run_tr(st, S->fallback_tr, 0);
    if (S->reply_kb >= 0 || S->inline_kb >= 0) {
        /* the buttons come along: a user who never saw the state's screen
         * (a new user, an inline menu scrolled away) has them below */
        bm_markup mk = {0};
        if (S->reply_kb >= 0 && build_kb(st, S->reply_kb, BM_MK_REPLY, &mk))
            return -1;
        if (S->reply_kb < 0 && build_kb(st, S->inline_kb, BM_MK_INLINE, &mk))
            return -1;
        return send_text(st, m->sys_texts[BM_SYS_USE_BUTTONS], &mk);
    }
    return say_with_commands(st, BM_SYS_NOT_UNDERSTOOD) < 0 ? -1 : 0;
}

static int find_callback(const bm_machine *m, int kb, const char *data)
{
    if (kb < 0)
        return BM_NONE;
    const bm_keyboard *k = &m->keyboards[kb];
    for (int r = 0; r < k->n_rows; r++) {
        const bm_row *row = &m->rows[k->first_row + r];
        for (int i = 0; i < row->n_buttons; i++) {
            const bm_button *b = &m->buttons[row->first_button + i];
            if (b->kind == BM_BTN_CALLBACK && b->data && !strcmp(b->data, data))
                return row->first_button + i;
        }
    }
    return BM_NONE;
}

static int on_callback(step *st, const bm_input *in)
{
    const bm_machine *m = st->m;
    bm_effect *e = bm_effects_add(st->fx, BM_FX_ANSWER, st->s->chat_id);
    if (!e)
        return -1;
    e->callback_id = strdup(in->callback_id ? in->callback_id : "");
    if (!e->callback_id)
        return -1;
    int b = find_callback(m, m->states[st->s->state].inline_kb, st->input);
    /* a button of a menu the user has since left still does what it says */
    for (int i = 0; b < 0 && i < m->n_states; i++)
        b = find_callback(m, m->states[i].inline_kb, st->input);
    if (b < 0 || m->buttons[b].transition < 0)
        return 0;
    if (st->s->form >= 0)
        end_form(st); /* pressing a menu button means leaving the form */
    return run_tr(st, m->buttons[b].transition, in->message_id);
}

static int contact_button_tr(const bm_machine *m, const bm_state *S)
{
    if (S->reply_kb < 0)
        return BM_NONE;
    const bm_keyboard *k = &m->keyboards[S->reply_kb];
    for (int r = 0; r < k->n_rows; r++) {
        const bm_row *row = &m->rows[k->first_row + r];
        for (int i = 0; i < row->n_buttons; i++) {
            const bm_button *b = &m->buttons[row->first_button + i];
            if (b->kind == BM_BTN_CONTACT && b->transition >= 0)
                return b->transition;
        }
    }
    return BM_NONE;
}

/* A reply keyboard stays on the user's screen until another replaces it,
 * so a state without one of its own still receives presses of the last
 * one shown: the exact label (any language) of a reply button of any
 * state runs that button's transition, like a stale inline button. */
static int stale_reply_tr(const bm_machine *m, const char *text)
{
    for (int s = 0; s < m->n_states; s++) {
        int kb = m->states[s].reply_kb;
        if (kb < 0)
            continue;
        const bm_keyboard *k = &m->keyboards[kb];
        for (int r = 0; r < k->n_rows; r++) {
            const bm_row *row = &m->rows[k->first_row + r];
            for (int i = 0; i < row->n_buttons; i++) {
                const bm_button *b = &m->buttons[row->first_button + i];
                if (b->kind != BM_BTN_REPLY || b->transition < 0)
                    continue;
                for (int l = 0; l < m->n_langs; l++)
                    if (!strcmp(text, bm_text(m, b->label, l)))
                        return b->transition;
            }
        }
    }
    return BM_NONE;
}

static int dispatch(step *st, const bm_input *in)
{
    const bm_machine *m = st->m;
    bm_session *s = st->s;
    const bm_state *S = &m->states[s->state];
    if (in->kind == BM_IN_CALLBACK)
        return on_callback(st, in);
    if (s->form >= 0)
        return form_input(st, in);
    int t = BM_NONE;
    switch (in->kind) {
    case BM_IN_TEXT:
        t = m->match_text ? m->match_text(s->state, st->input) : BM_NONE;
        if (t >= 0 && in->answer_first && S->fallback_tr >= 0)
            t = S->fallback_tr;
        if (t < 0)
            t = stale_reply_tr(m, st->input);
        if (t < 0 && m->match_everywhere)
            t = m->match_everywhere(st->input);
        break;
    case BM_IN_CONTACT:
        t = S->contact_tr >= 0 ? S->contact_tr : contact_button_tr(m, S);
        break;
    case BM_IN_VOICE:
        t = S->voice_tr;
        break;
    default:
        break;
    }
    if (t >= 0)
        return run_tr(st, t, 0);
    return no_match(st, in);
}

int bm_step(const bm_machine *m, bm_session *s, const bm_input *in, bm_effects *fx)
{
    step st = {.m = m, .s = s, .user = &in->user,
               .input = in->text ? in->text : "", .fx = fx};
    if (m->n_vars > 0) {
        if (!s->vars) {
            s->vars = calloc((size_t)m->n_vars, sizeof *s->vars);
            if (!s->vars)
                return -1;
        }
        st.snap = malloc((size_t)m->n_vars * sizeof *st.snap);
        if (!st.snap)
            return -1;
        memcpy(st.snap, s->vars, (size_t)m->n_vars * sizeof *st.snap);
    }
    bm_session saved = *s;

    /* a session from an older store may point past this machine's tables */
    if (s->state < 0 || s->state >= m->n_states)
        s->state = m->start_state;
    if (s->form >= m->n_forms || (s->form >= 0 && (s->field < 0 || s->field >= m->forms[s->form].n_fields)))
        end_form(&st);
    if (s->form < 0)
        s->field = BM_NONE;
    if (in->user.language_code && *in->user.language_code)
        s->lang = bm_lang_for(m, in->user.language_code);
    if (in->user.chat_id)
        s->chat_id = in->user.chat_id;

    int rc = dispatch(&st, in);

    for (int i = 0; i < m->n_vars; i++) {
        if (s->vars[i] == st.snap[i])
            continue;
        if (rc < 0) {
            free(s->vars[i]);
            s->vars[i] = st.snap[i];
        } else {
            free(st.snap[i]);
        }
    }
    if (rc < 0) {
        char **vars = s->vars;
        *s = saved;
        s->vars = vars;
    }
    free(st.snap);
    if (rc >= 0 && s->trace && s->trace->done)
        s->trace->done(s->trace->ud, s);
    return rc < 0 ? -1 : 0;
}
