/*
 * convtest.c — conversation tests as data (see convtest.h).
 *
 * A transcript is parsed with libyaml's document API, whose nodes keep
 * their line, so every failure names the step's line. Each file gets a
 * fresh bot over an in-memory SQLite store: the same bot_handle path the
 * transports use (sessions persisted and reloaded, records stored,
 * export/delete answered), minus the network. The messages the bot sends
 * are kept in order, with the keyboards they carry, so `press` finds a
 * button the way a user would: on the reply keyboard on screen, or on a
 * message's inline keyboard as it stands after edits.
 */
#include "front/convtest.h"

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "actions/session.h"
#include "dialogue/bot.h"
#include "base/log.h"

#define CT_USER_ID 1001
#define CT_DEFAULT_NAME "Ann"
#define CT_DEFAULT_PHONE "+15550100000"
#define CT_DIFF_MAX 400 /* lines per side the LCS diff handles */

struct ct_run {
    const bm_machine *m;
    unsigned char *entered; /* [n_states] */
    unsigned char *taken;   /* [n_transitions] */
    int passed, failed;
};

/* One transcript being run. */
typedef struct conv {
    ct_run *r;
    const bm_machine *m;
    const char *path;
    FILE *out;
    yaml_document_t *doc;
    bot *b;
    bm_trace trace;
    bm_user user;
    const char *phone;
    bm_effects msgs;      /* every SEND and EDIT, in order; SENDs numbered */
    int next;             /* first message no step consumed yet */
    int last;             /* the last consumed message, -1 before any */
    int64_t msg_seq, update_seq, cb_seq;
    int state, form, field; /* after the last step (trace `done`) */
    bool stepped;
    const char *llm;      /* the scripted LLM answer of this step, or NULL */
    bool llm_used;
} conv;

/* ---- run ----------------------------------------------------------------- */

ct_run *ct_new(const bm_machine *m)
{
    ct_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->m = m;
    r->entered = calloc((size_t)(m->n_states > 0 ? m->n_states : 1), 1);
    r->taken = calloc((size_t)(m->n_transitions > 0 ? m->n_transitions : 1), 1);
    if (!r->entered || !r->taken) {
        ct_free(r);
        return NULL;
    }
    return r;
}

void ct_free(ct_run *r)
{
    if (!r)
        return;
    free(r->entered);
    free(r->taken);
    free(r);
}

void ct_counts(const ct_run *r, int *passed, int *failed)
{
    *passed = r->passed;
    *failed = r->failed;
}

static void on_transition(void *ud, int tr)
{
    conv *c = ud;
    if (tr >= 0 && tr < c->m->n_transitions)
        c->r->taken[tr] = 1;
}

static void on_enter(void *ud, int state)
{
    conv *c = ud;
    if (state >= 0 && state < c->m->n_states)
        c->r->entered[state] = 1;
}

static void on_done(void *ud, const bm_session *s)
{
    conv *c = ud;
    c->state = s->state;
    c->form = s->form;
    c->field = s->field;
    c->stepped = true;
}

/* The scripted LLM: answers an llm action with this step's `llm:` text,
 * kept in the user's session as the model's answer would be (so that the
 * session actions see the turn); everything else goes to the bot's own
 * handlers. */
static int action_hook(void *ud, const bm_effect *act, const bm_session *s,
                       const bm_input *in, bm_effects *out)
{
    conv *c = ud;
    if (act->action != BM_ACT_LLM || !c->llm)
        return 0;
    char *t = strdup(c->llm);
    bm_effect *e = t ? bm_effects_add(out, BM_FX_SEND, s->chat_id) : NULL;
    if (!e) {
        free(t);
        return -1;
    }
    e->text = t;
    c->llm_used = true;
    return act_session_record_user(c->b, s->user_id, s->chat_id, act->text ? act->text : "",
                                   c->llm) ? -1 : 1;
}

/* ---- output -------------------------------------------------------------- */

static void failf(conv *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void failf(conv *c, int line, const char *fmt, ...)
{
    fprintf(c->out, "%s:%d: ", c->path, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
}

/* Lines of a text, as pointers into one owned copy. */
typedef struct lines {
    char *buf;
    const char **v;
    int n;
} lines;

static void lines_free(lines *l)
{
    free(l->buf);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int lines_split(lines *l, const char *s)
{
    memset(l, 0, sizeof *l);
    l->buf = strdup(s ? s : "");
    if (!l->buf)
        return -1;
    int n = 1;
    for (const char *p = l->buf; *p; p++)
        n += *p == '\n';
    l->v = malloc((size_t)n * sizeof *l->v);
    if (!l->v) {
        lines_free(l);
        return -1;
    }
    char *p = l->buf;
    for (;;) {
        l->v[l->n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return 0;
}

static void print_quoted(FILE *out, const lines *l)
{
    for (int i = 0; i < l->n; i++)
        fprintf(out, "  | %s\n", l->v[i]);
}

/* A unified-style diff of two line lists: ' ' both, '-' expected only,
 * '+' got only (longest common subsequence; plain -/+ when huge). */
static void print_diff(FILE *out, const lines *a, const lines *b)
{
    fputs("  --- expected\n  +++ got\n", out);
    int na = a->n, nb = b->n;
    int *dp = NULL;
    if (na <= CT_DIFF_MAX && nb <= CT_DIFF_MAX)
        dp = calloc((size_t)(na + 1) * (size_t)(nb + 1), sizeof *dp);
    if (!dp) {
        for (int i = 0; i < na; i++)
            fprintf(out, "  -%s\n", a->v[i]);
        for (int j = 0; j < nb; j++)
            fprintf(out, "  +%s\n", b->v[j]);
        return;
    }
#define DP(i, j) dp[(size_t)(i) * (size_t)(nb + 1) + (size_t)(j)]
    for (int i = na - 1; i >= 0; i--)
        for (int j = nb - 1; j >= 0; j--)
            DP(i, j) = !strcmp(a->v[i], b->v[j]) ? DP(i + 1, j + 1) + 1
                       : DP(i + 1, j) >= DP(i, j + 1) ? DP(i + 1, j) : DP(i, j + 1);
    int i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && !strcmp(a->v[i], b->v[j])) {
            fprintf(out, "   %s\n", a->v[i]);
            i++, j++;
        } else if (j >= nb || (i < na && DP(i + 1, j) >= DP(i, j + 1))) {
            fprintf(out, "  -%s\n", a->v[i++]);
        } else {
            fprintf(out, "  +%s\n", b->v[j++]);
        }
    }
#undef DP
    free(dp);
}

/* ---- YAML helpers -------------------------------------------------------- */

static yaml_node_t *ynode(conv *c, int i) { return yaml_document_get_node(c->doc, i); }

static int yline(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static const char *yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool ytrue(const yaml_node_t *n)
{
    const char *s = yscalar(n);
    return s && (!strcmp(s, "true") || !strcmp(s, "yes"));
}

/* The value of `key` in mapping n, or NULL. */
static yaml_node_t *yget(conv *c, const yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = yscalar(ynode(c, p->key));
        if (k && !strcmp(k, key))
            return ynode(c, p->value);
    }
    return NULL;
}

/* ---- messages ------------------------------------------------------------ */

static const char *msg_text(const bm_effect *e) { return e->text ? e->text : ""; }

/* A later EDIT replaced message i's text and keyboard. */
static bool superseded(const conv *c, int i)
{
    for (int j = i + 1; j < c->msgs.n; j++)
        if (c->msgs.v[j].message_id == c->msgs.v[i].message_id)
            return true;
    return false;
}

/* The reply keyboard on screen after message `upto` (NULL: none). */
static const bm_markup *reply_kb_at(const conv *c, int upto)
{
    for (int i = upto; i >= 0; i--) {
        const bm_effect *e = &c->msgs.v[i];
        if (e->kind != BM_FX_SEND)
            continue;
        if (e->markup.kind == BM_MK_REPLY)
            return &e->markup;
        if (e->markup.kind == BM_MK_REMOVE)
            return NULL;
    }
    return NULL;
}

static int find_label(const bm_markup *mk, const char *label)
{
    for (int i = 0; mk && i < mk->n_buttons; i++)
        if (mk->buttons[i].label && !strcmp(mk->buttons[i].label, label))
            return i;
    return -1;
}

/* "A | B" per row. */
static int markup_lines(const bm_markup *mk, lines *l)
{
    size_t cap = 1;
    for (int i = 0; mk && i < mk->n_buttons; i++)
        cap += strlen(mk->buttons[i].label ? mk->buttons[i].label : "") + 4;
    char *s = malloc(cap);
    if (!s)
        return -1;
    size_t n = 0;
    s[0] = '\0';
    int k = 0;
    for (int r = 0; mk && r < mk->n_rows; r++) {
        for (int i = 0; i < mk->row_len[r] && k < mk->n_buttons; i++, k++)
            n += (size_t)snprintf(s + n, cap - n, "%s%s", i ? " | " : "", mk->buttons[k].label);
        if (r + 1 < mk->n_rows)
            n += (size_t)snprintf(s + n, cap - n, "\n");
    }
    int rc = lines_split(l, s);
    if (rc == 0 && (!mk || mk->n_rows == 0))
        l->n = 0; /* no keyboard: no rows at all */
    free(s);
    return rc;
}

static void print_screen(conv *c)
{
    lines l;
    const bm_markup *rk = reply_kb_at(c, c->msgs.n - 1);
    if (rk && markup_lines(rk, &l) == 0) {
        fputs("  reply keyboard on screen:\n", c->out);
        print_quoted(c->out, &l);
        lines_free(&l);
    } else {
        fputs("  no reply keyboard on screen\n", c->out);
    }
    for (int i = c->msgs.n - 1; i >= 0; i--) {
        const bm_effect *e = &c->msgs.v[i];
        if (e->markup.kind != BM_MK_INLINE || superseded(c, i))
            continue;
        if (markup_lines(&e->markup, &l) == 0) {
            fputs("  inline keyboard of the latest message that has one:\n", c->out);
            print_quoted(c->out, &l);
            lines_free(&l);
        }
        break;
    }
}

/* ---- inputs -------------------------------------------------------------- */

static bm_input mkinput(conv *c, bm_input_kind kind, const char *text)
{
    bm_input in;
    memset(&in, 0, sizeof in);
    in.kind = kind;
    in.user = c->user;
    in.text = text;
    in.update_id = ++c->update_seq;
    return in;
}

/* Hand one input to the bot and collect what it sends. Messages the
 * previous steps did not consume are left behind. */
static int deliver(conv *c, const bm_input *in, int line, const char *key)
{
    c->next = c->msgs.n;
    c->llm_used = false;
    bm_effects fx;
    bm_effects_init(&fx);
    if (bot_handle(c->b, in, &fx)) {
        bm_effects_free(&fx);
        failf(c, line, "%s: the bot could not handle this input (see the log above)", key);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < fx.n && rc == 0; i++) {
        bm_effect *e = &fx.v[i];
        /* a file the bot sends reads as a message: its content */
        if (e->kind != BM_FX_SEND && e->kind != BM_FX_EDIT && e->kind != BM_FX_DOCUMENT)
            continue;
        bm_effect *d = bm_effects_add(&c->msgs, e->kind, e->chat_id);
        if (!d) {
            rc = -1;
            failf(c, line, "%s: out of memory", key);
            break;
        }
        *d = *e;
        memset(e, 0, sizeof *e);
        if (d->kind != BM_FX_EDIT)
            d->message_id = ++c->msg_seq;
    }
    bm_effects_free(&fx);
    if (rc == 0 && c->llm && !c->llm_used) {
        failf(c, line, "llm: this step's input did not reach the LLM (no llm action ran)");
        rc = -1;
    }
    return rc;
}

static int do_press(conv *c, const char *label, int line)
{
    const bm_markup *rk = reply_kb_at(c, c->msgs.n - 1);
    int i = find_label(rk, label);
    if (i >= 0) {
        if (rk->buttons[i].kind == BM_BTN_CONTACT) {
            bm_input in = mkinput(c, BM_IN_CONTACT, c->phone);
            in.contact_user_id = c->user.id;
            return deliver(c, &in, line, "press");
        }
        bm_input in = mkinput(c, BM_IN_TEXT, label);
        return deliver(c, &in, line, "press");
    }
    /* an inline button of any message, as it stands after edits, newest first */
    for (int m = c->msgs.n - 1; m >= 0; m--) {
        const bm_effect *e = &c->msgs.v[m];
        if (e->markup.kind != BM_MK_INLINE || superseded(c, m))
            continue;
        i = find_label(&e->markup, label);
        if (i < 0)
            continue;
        const bm_button_out *b = &e->markup.buttons[i];
        if (b->kind == BM_BTN_URL) {
            failf(c, line, "press: \"%s\" is a link (url button); it opens %s and cannot be pressed",
                  label, b->data ? b->data : "a page");
            return -1;
        }
        char cb[32];
        snprintf(cb, sizeof cb, "cb%lld", (long long)++c->cb_seq);
        bm_input in = mkinput(c, BM_IN_CALLBACK, b->data ? b->data : "");
        in.message_id = e->message_id;
        in.callback_id = cb;
        return deliver(c, &in, line, "press");
    }
    failf(c, line, "press: no button \"%s\" is shown", label);
    print_screen(c);
    return -1;
}

/* ---- expectations -------------------------------------------------------- */

static const bm_effect *consume(conv *c, int line, const char *key, const char *want)
{
    if (c->next >= c->msgs.n) {
        failf(c, line, "%s: expected a message, but the bot sent nothing more", key);
        lines l;
        if (want && lines_split(&l, want) == 0) {
            fputs("  expected:\n", c->out);
            print_quoted(c->out, &l);
            lines_free(&l);
        }
        return NULL;
    }
    c->last = c->next;
    return &c->msgs.v[c->next++];
}

static int expect_say(conv *c, const char *want, int line)
{
    const bm_effect *e = consume(c, line, "say", want);
    if (!e)
        return -1;
    if (!strcmp(msg_text(e), want))
        return 0;
    failf(c, line, "say: the %s differs", e->kind == BM_FX_EDIT ? "edited message" : "message");
    lines a = {0}, b = {0};
    if (lines_split(&a, want) == 0 && lines_split(&b, msg_text(e)) == 0)
        print_diff(c->out, &a, &b);
    lines_free(&a);
    lines_free(&b);
    return -1;
}

static void print_got(conv *c, const bm_effect *e)
{
    lines l;
    if (lines_split(&l, msg_text(e)) == 0) {
        print_quoted(c->out, &l);
        lines_free(&l);
    }
}

static int expect_contains(conv *c, const char *want, int line)
{
    const bm_effect *e = consume(c, line, "say_contains", NULL);
    if (!e)
        return -1;
    if (strstr(msg_text(e), want))
        return 0;
    failf(c, line, "say_contains: expected a message containing \"%s\", got:", want);
    print_got(c, e);
    return -1;
}

static int expect_matches(conv *c, const char *re, int line)
{
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[128];
        regerror(rc, &rx, msg, sizeof msg);
        failf(c, line, "say_matches: invalid regex \"%s\": %s", re, msg);
        return -1;
    }
    const bm_effect *e = consume(c, line, "say_matches", NULL);
    int ok = e && regexec(&rx, msg_text(e), 0, NULL, 0) == 0;
    regfree(&rx);
    if (!e)
        return -1;
    if (ok)
        return 0;
    failf(c, line, "say_matches: expected a message matching \"%s\", got:", re);
    print_got(c, e);
    return -1;
}

/* buttons: [[A, B], [C]] — one list per row. */
static int expect_buttons(conv *c, const yaml_node_t *v, int line)
{
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        failf(c, line, "buttons: expected a list of rows, like [[\"A\", \"B\"], [\"C\"]]");
        return -1;
    }
    if (c->last < 0) {
        failf(c, line, "buttons: no message to look at yet (use say first)");
        return -1;
    }
    /* the expected rows as "A | B" lines */
    size_t cap = 1;
    for (yaml_node_item_t *r = v->data.sequence.items.start; r < v->data.sequence.items.top; r++) {
        yaml_node_t *row = ynode(c, *r);
        if (!row || row->type != YAML_SEQUENCE_NODE) {
            failf(c, yline(row), "buttons: each row is a list of labels, like [\"A\", \"B\"]");
            return -1;
        }
        for (yaml_node_item_t *b = row->data.sequence.items.start; b < row->data.sequence.items.top; b++) {
            const char *s = yscalar(ynode(c, *b));
            if (!s) {
                failf(c, yline(ynode(c, *b)), "buttons: a button is its label, a string");
                return -1;
            }
            cap += strlen(s) + 4;
        }
    }
    char *want = malloc(cap);
    if (!want)
        return -1;
    size_t n = 0;
    want[0] = '\0';
    int n_rows = 0;
    for (yaml_node_item_t *r = v->data.sequence.items.start; r < v->data.sequence.items.top; r++) {
        yaml_node_t *row = ynode(c, *r);
        if (n_rows++)
            n += (size_t)snprintf(want + n, cap - n, "\n");
        for (yaml_node_item_t *b = row->data.sequence.items.start; b < row->data.sequence.items.top; b++)
            n += (size_t)snprintf(want + n, cap - n, "%s%s",
                                  b > row->data.sequence.items.start ? " | " : "",
                                  yscalar(ynode(c, *b)));
    }
    const bm_effect *e = &c->msgs.v[c->last];
    const bm_markup *mk = e->markup.kind == BM_MK_INLINE || e->markup.kind == BM_MK_REPLY
                              ? &e->markup
                              : e->markup.kind == BM_MK_REMOVE ? NULL : reply_kb_at(c, c->last);
    lines a = {0}, b = {0};
    int rc = -1;
    if (lines_split(&a, want) == 0 && markup_lines(mk, &b) == 0) {
        if (n_rows == 0)
            a.n = 0;
        bool same = a.n == b.n;
        for (int i = 0; same && i < a.n; i++)
            same = !strcmp(a.v[i], b.v[i]);
        if (same) {
            rc = 0;
        } else {
            failf(c, line, "buttons: the %s differs", !mk ? "keyboard"
                           : mk->kind == BM_MK_INLINE ? "inline keyboard" : "reply keyboard");
            print_diff(c->out, &a, &b);
        }
    }
    lines_free(&a);
    lines_free(&b);
    free(want);
    return rc;
}

static int expect_state(conv *c, const char *name, int line)
{
    const bm_machine *m = c->m;
    int want = -1;
    for (int i = 0; i < m->n_states; i++)
        if (!strcmp(m->states[i].name, name))
            want = i;
    if (want < 0) {
        failf(c, line, "state: this bot has no state '%s'", name);
        return -1;
    }
    int known = bot_user_exists(c->b, c->user.id);
    /* a user the store does not know (new, or whose data was deleted) is
     * where every new user is */
    int cur = known == 1 && c->stepped ? c->state : m->start_state;
    if (cur == want)
        return 0;
    if (known == 1 && c->stepped && c->form >= 0 && c->form < m->n_forms) {
        const bm_form *F = &m->forms[c->form];
        const char *field = c->field >= 0 && c->field < F->n_fields
                                ? m->fields[F->first_field + c->field].name : "?";
        failf(c, line, "state: expected '%s', got '%s' (in form '%s', field '%s')", name,
              m->states[cur].name, F->name, field);
    } else {
        failf(c, line, "state: expected '%s', got '%s'", name, m->states[cur].name);
    }
    return -1;
}

static int expect_nothing(conv *c, int line)
{
    if (c->next >= c->msgs.n)
        return 0;
    int extra = c->msgs.n - c->next;
    failf(c, line, "nothing: expected no more messages, got %d more; the next:", extra);
    print_got(c, &c->msgs.v[c->next]);
    return -1;
}

/* ---- steps --------------------------------------------------------------- */

static const char *const input_keys[] = {"send", "press", "contact", "voice", "document", "photo", NULL};
static const char *const other_keys[] = {"llm", "say", "say_contains", "say_matches", "buttons",
                                         "state", "nothing", NULL};

static bool in_list(const char *const *l, const char *k)
{
    for (int i = 0; l[i]; i++)
        if (!strcmp(l[i], k))
            return true;
    return false;
}

static int need_scalar(conv *c, const char *key, const yaml_node_t *v, const char **out)
{
    *out = yscalar(v);
    if (*out)
        return 0;
    failf(c, yline(v), "%s: expected a string", key);
    return -1;
}

static int need_true(conv *c, const char *key, const yaml_node_t *v)
{
    if (ytrue(v))
        return 0;
    failf(c, yline(v), "%s: write `%s: true`", key, key);
    return -1;
}

/* One key of a step; `line` is the key's (a value may start below it). */
static int run_key(conv *c, const char *k, const yaml_node_t *v, int line)
{
    const char *s;
    if (!strcmp(k, "llm"))
        return 0; /* applied with the step's input */
    if (!strcmp(k, "send")) {
        if (need_scalar(c, k, v, &s))
            return -1;
        bm_input in = mkinput(c, BM_IN_TEXT, s);
        return deliver(c, &in, line, k);
    }
    if (!strcmp(k, "press"))
        return need_scalar(c, k, v, &s) ? -1 : do_press(c, s, line);
    if (!strcmp(k, "contact")) {
        if (need_scalar(c, k, v, &s))
            return -1;
        bm_input in = mkinput(c, BM_IN_CONTACT, s);
        in.contact_user_id = c->user.id;
        return deliver(c, &in, line, k);
    }
    if (!strcmp(k, "voice")) {
        if (need_true(c, k, v))
            return -1;
        bm_input in = mkinput(c, BM_IN_VOICE, "voice-note");
        return deliver(c, &in, line, k);
    }
    if (!strcmp(k, "document") || !strcmp(k, "photo")) {
        if (need_true(c, k, v))
            return -1;
        bm_input in = mkinput(c, BM_IN_OTHER, "");
        return deliver(c, &in, line, k);
    }
    if (!strcmp(k, "say"))
        return need_scalar(c, k, v, &s) ? -1 : expect_say(c, s, line);
    if (!strcmp(k, "say_contains"))
        return need_scalar(c, k, v, &s) ? -1 : expect_contains(c, s, line);
    if (!strcmp(k, "say_matches"))
        return need_scalar(c, k, v, &s) ? -1 : expect_matches(c, s, line);
    if (!strcmp(k, "buttons"))
        return expect_buttons(c, v, line);
    if (!strcmp(k, "state"))
        return need_scalar(c, k, v, &s) ? -1 : expect_state(c, s, line);
    if (!strcmp(k, "nothing"))
        return need_true(c, k, v) ? -1 : expect_nothing(c, line);
    return -1;
}

/* step -> {input?, llm?, expectation...}: the keys run in the order written. */
static int run_step(conv *c, const yaml_node_t *st)
{
    if (!st || st->type != YAML_MAPPING_NODE) {
        failf(c, yline(st), "a step is a map, like `- send: \"/start\"` or `- say: \"Hello\"`");
        return -1;
    }
    int inputs = 0;
    const yaml_node_t *llm = NULL;
    for (yaml_node_pair_t *p = st->data.mapping.pairs.start; p < st->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = ynode(c, p->key);
        const char *k = yscalar(kn);
        if (!k || (!in_list(input_keys, k) && !in_list(other_keys, k))) {
            failf(c, yline(kn), "unknown step '%s'; a step is one of send, press, contact, voice, "
                  "document, photo, say, say_contains, say_matches, buttons, state, nothing (and llm "
                  "beside an input)", k ? k : "?");
            return -1;
        }
        inputs += in_list(input_keys, k);
        if (!strcmp(k, "llm"))
            llm = ynode(c, p->value);
    }
    if (inputs > 1) {
        failf(c, yline(st), "one input per step (send, press, contact, voice, document or photo)");
        return -1;
    }
    c->llm = NULL;
    if (llm) {
        if (!inputs) {
            failf(c, yline(llm), "llm: scripts the answer to this step's input; add send: or press: to it");
            return -1;
        }
        if (need_scalar(c, "llm", llm, &c->llm))
            return -1;
        /* A bot without llm: answers every llm action "not available",
         * whatever the model could say: a scripted answer would be one it
         * can never give. */
        if (!c->m->llm) {
            failf(c, yline(llm), "llm: scripts a model's answer, but the bot has no llm: section "
                                 "(its llm action answers \"not available\"); add llm: to the spec");
            return -1;
        }
    }
    int rc = 0;
    for (yaml_node_pair_t *p = st->data.mapping.pairs.start; p < st->data.mapping.pairs.top && !rc; p++)
        rc = run_key(c, yscalar(ynode(c, p->key)), ynode(c, p->value), yline(ynode(c, p->key)));
    c->llm = NULL;
    return rc;
}

/* user: {first_name, last_name, username, language, phone} */
static int read_user(conv *c, const yaml_node_t *u)
{
    static const char *const keys[] = {"first_name", "last_name", "username", "language", "phone", NULL};
    if (u->type != YAML_MAPPING_NODE) {
        failf(c, yline(u), "user: expected a map, like {first_name: Ann, language: ru}");
        return -1;
    }
    for (yaml_node_pair_t *p = u->data.mapping.pairs.start; p < u->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = ynode(c, p->key);
        const char *k = yscalar(kn), *v;
        if (!k || !in_list(keys, k)) {
            failf(c, yline(kn), "user: unknown key '%s'; expected first_name, last_name, username, "
                  "language or phone", k ? k : "?");
            return -1;
        }
        if (need_scalar(c, k, ynode(c, p->value), &v))
            return -1;
        if (!strcmp(k, "first_name"))
            c->user.first_name = v;
        else if (!strcmp(k, "last_name"))
            c->user.last_name = v;
        else if (!strcmp(k, "username"))
            c->user.username = v;
        else if (!strcmp(k, "language"))
            c->user.language_code = v;
        else
            c->phone = v;
    }
    return 0;
}

/* today: YYYY-MM-DD — the bot's today for this transcript (date bounds of
 * form fields are days from it), set as BOT_TODAY; ct_run_file puts the
 * previous value back. */
static int read_today(conv *c, yaml_node_t *n)
{
    const char *v = yscalar(n);
    int y, mo, d;
    char end;
    if (!v || sscanf(v, "%4d-%2d-%2d%c", &y, &mo, &d, &end) != 3 || mo < 1 || mo > 12 || d < 1 ||
        d > 31) {
        failf(c, yline(n), "today: expected a date YYYY-MM-DD");
        return -1;
    }
    return setenv("BOT_TODAY", v, 1);
}

/* transcript -> {user?, today?, steps} */
static int run_doc(conv *c, int *n_steps)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (!root) {
        failf(c, 1, "the transcript is empty; it needs steps:");
        return -1;
    }
    if (root->type != YAML_MAPPING_NODE) {
        failf(c, yline(root), "a transcript is a map with user: and steps:");
        return -1;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = ynode(c, p->key);
        const char *k = yscalar(kn);
        if (!k || (strcmp(k, "user") && strcmp(k, "today") && strcmp(k, "steps"))) {
            failf(c, yline(kn), "unknown key '%s'; a transcript has user:, today: and steps:",
                  k ? k : "?");
            return -1;
        }
    }
    yaml_node_t *u = yget(c, root, "user");
    if (u && read_user(c, u))
        return -1;
    yaml_node_t *today = yget(c, root, "today");
    if (today && read_today(c, today))
        return -1;
    yaml_node_t *steps = yget(c, root, "steps");
    if (!steps || steps->type != YAML_SEQUENCE_NODE) {
        failf(c, steps ? yline(steps) : yline(root), "steps: expected a list of steps");
        return -1;
    }
    for (yaml_node_item_t *i = steps->data.sequence.items.start; i < steps->data.sequence.items.top; i++) {
        if (run_step(c, ynode(c, *i)))
            return -1;
        (*n_steps)++;
    }
    return 0;
}

int ct_run_file(ct_run *r, const char *path, FILE *out)
{
    conv c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.m = r->m;
    c.path = path;
    c.out = out;
    c.last = -1;
    c.phone = CT_DEFAULT_PHONE;
    c.user.id = CT_USER_ID;
    c.user.chat_id = CT_USER_ID;
    c.user.first_name = CT_DEFAULT_NAME;
    c.user.language_code = r->m->langs[r->m->default_lang];
    c.trace = (bm_trace){.transition = on_transition, .enter = on_enter, .done = on_done, .ud = &c};
    bm_effects_init(&c.msgs);

    int rc = 1, n_steps = 0;
    bool parsed = false;
    yaml_parser_t parser;
    yaml_document_t doc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(out, "%s: cannot open the transcript\n", path);
        goto done;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        fprintf(out, "%s:%d:%d: invalid YAML: %s", path, (int)parser.problem_mark.line + 1,
                (int)parser.problem_mark.column + 1, parser.problem ? parser.problem : "?");
        if (parser.context)
            fprintf(out, " %s (which starts at line %d)", parser.context,
                    (int)parser.context_mark.line + 1);
        fputc('\n', out);
        yaml_parser_delete(&parser);
        fclose(f);
        goto done;
    }
    yaml_parser_delete(&parser);
    fclose(f);
    parsed = true;
    c.doc = &doc;

    char err[256];
    c.b = bot_new(r->m, ":memory:", err, sizeof err);
    if (!c.b) {
        fprintf(out, "%s: cannot open the in-memory store: %s\n", path, err);
        goto done;
    }
    bot_set_trace(c.b, &c.trace);
    bot_set_action_hook(c.b, action_hook, &c);
    const char *env_today = getenv("BOT_TODAY");
    char *saved_today = env_today ? strdup(env_today) : NULL;
    rc = run_doc(&c, &n_steps) ? 1 : 0;
    if (saved_today)
        setenv("BOT_TODAY", saved_today, 1);
    else
        unsetenv("BOT_TODAY");
    free(saved_today);
done:
    if (rc == 0)
        fprintf(out, "PASS %s (%d steps)\n", path, n_steps);
    else
        fprintf(out, "FAIL %s\n", path);
    if (rc)
        r->failed++;
    else
        r->passed++;
    bot_free(c.b);
    bm_effects_free(&c.msgs);
    if (parsed)
        yaml_document_delete(&doc);
    return rc;
}

/* ---- coverage ------------------------------------------------------------ */

enum { W_NONE, W_COMMAND, W_BUTTON, W_CONTACT, W_VOICE, W_ANY, W_TEXT, W_PATTERN, W_DONE, W_CANCEL,
       W_EVERYWHERE };

/* Where a transition comes from, recovered from the tables: the tables do
 * not name a trigger, so text triggers are found by probing the DFA with
 * every text, and what is left inside a state's range is a pattern. */
typedef struct where {
    int kind;
    int owner; /* state, command or form index */
    int label; /* text index (BUTTON, TEXT) */
} where;

static void mark(where *w, int tr, int n, int kind, int owner, int label)
{
    if (tr >= 0 && tr < n && w[tr].kind == W_NONE)
        w[tr] = (where){kind, owner, label};
}

static where *find_origins(const bm_machine *m)
{
    int n = m->n_transitions;
    where *w = calloc((size_t)(n > 0 ? n : 1), sizeof *w);
    if (!w)
        return NULL;
    for (int i = 0; i < n; i++)
        w[i] = (where){W_NONE, -1, -1};
    for (int i = 0; i < m->n_commands; i++)
        mark(w, m->commands[i].transition, n, W_COMMAND, i, -1);
    for (int s = 0; s < m->n_states; s++) {
        const bm_state *S = &m->states[s];
        int kbs[2] = {S->reply_kb, S->inline_kb};
        for (int k = 0; k < 2; k++) {
            if (kbs[k] < 0)
                continue;
            const bm_keyboard *kb = &m->keyboards[kbs[k]];
            for (int r = 0; r < kb->n_rows; r++) {
                const bm_row *row = &m->rows[kb->first_row + r];
                for (int b = 0; b < row->n_buttons; b++) {
                    const bm_button *B = &m->buttons[row->first_button + b];
                    int label = B->kind == BM_BTN_CONTACT && B->label < 0
                                    ? m->sys_texts[BM_SYS_SHARE_CONTACT] : B->label;
                    mark(w, B->transition, n, W_BUTTON, s, label);
                }
            }
        }
        mark(w, S->contact_tr, n, W_CONTACT, s, -1);
        mark(w, S->voice_tr, n, W_VOICE, s, -1);
        mark(w, S->fallback_tr, n, W_ANY, s, -1);
    }
    for (int f = 0; f < m->n_forms; f++) {
        mark(w, m->forms[f].done_tr, n, W_DONE, f, -1);
        mark(w, m->forms[f].cancel_tr, n, W_CANCEL, f, -1);
    }
    for (int s = 0; m->match_text && s < m->n_states; s++)
        for (int t = 0; t < m->n_texts; t++)
            for (int l = 0; l < m->n_langs; l++) {
                const char *txt = bm_text(m, t, l);
                int tr = *txt ? m->match_text(s, txt) : BM_NONE;
                if (tr < 0 || tr >= n || w[tr].kind != W_NONE)
                    continue;
                /* a text trigger takes the exact label only; a pattern
                 * that happens to match the label takes more */
                size_t len = strlen(txt);
                char *more = malloc(len + 4);
                if (!more)
                    continue;
                memcpy(more, txt, len);
                memcpy(more + len, " zq", 4);
                if (m->match_text(s, more) != tr)
                    w[tr] = (where){W_TEXT, s, t};
                free(more);
            }
    /* `everywhere:` transitions come last (codegen/lower.h): its texts are
     * found by probing, and whatever is left after every other origin */
    int last = -1;
    for (int i = 0; i < n; i++)
        if (w[i].kind != W_NONE)
            last = i;
    for (int t = 0; m->match_everywhere && t < m->n_texts; t++)
        for (int l = 0; l < m->n_langs; l++) {
            const char *txt = bm_text(m, t, l);
            int tr = *txt ? m->match_everywhere(txt) : BM_NONE;
            if (tr <= last || tr >= n || w[tr].kind != W_NONE)
                continue;
            /* as above: a text trigger takes the exact text only */
            size_t len = strlen(txt);
            char *more = malloc(len + 4);
            if (!more)
                continue;
            memcpy(more, txt, len);
            memcpy(more + len, " zq", 4);
            if (m->match_everywhere(more) != tr)
                w[tr] = (where){W_EVERYWHERE, -1, t};
            free(more);
        }
    for (int i = last + 1; m->match_everywhere && i < n; i++)
        if (w[i].kind == W_NONE)
            w[i] = (where){W_EVERYWHERE, -1, -1};
    for (int i = 0; i < n; i++) {
        if (w[i].kind != W_NONE)
            continue;
        for (int j = i - 1; j >= 0; j--) {
            if (w[j].kind == W_BUTTON || w[j].kind == W_TEXT || w[j].kind == W_PATTERN ||
                w[j].kind == W_CONTACT || w[j].kind == W_VOICE) {
                w[i] = (where){W_PATTERN, w[j].owner, -1};
                break;
            }
            if (w[j].kind != W_NONE)
                break;
        }
    }
    return w;
}

static const char *const action_names[BM_ACT_COUNT] = {
    [BM_ACT_LLM] = "llm", [BM_ACT_HANDOFF] = "handoff", [BM_ACT_TRANSCRIBE] = "transcribe",
    [BM_ACT_EXPORT_DATA] = "export_data", [BM_ACT_DELETE_DATA] = "delete_data",
    [BM_ACT_SESSION_START] = "session_start", [BM_ACT_SESSION_END] = "session_end",
    [BM_ACT_SESSION_LIST] = "session_list",
};

static void print_where(FILE *out, const bm_machine *m, const where *w, int tr)
{
    const char *sn = w->owner >= 0 && w->owner < m->n_states ? m->states[w->owner].name : "?";
    switch (w->kind) {
    case W_COMMAND: fprintf(out, "command /%s", m->commands[w->owner].name); break;
    case W_BUTTON: fprintf(out, "state %s: button '%s'", sn, bm_text(m, w->label, m->default_lang)); break;
    case W_CONTACT: fprintf(out, "state %s: on a contact", sn); break;
    case W_VOICE: fprintf(out, "state %s: on a voice note", sn); break;
    case W_ANY: fprintf(out, "state %s: on any other message", sn); break;
    case W_TEXT: fprintf(out, "state %s: on text '%s'", sn, bm_text(m, w->label, m->default_lang)); break;
    case W_PATTERN: fprintf(out, "state %s: on a pattern", sn); break;
    case W_DONE: fprintf(out, "form %s: done", m->forms[w->owner].name); break;
    case W_CANCEL: fprintf(out, "form %s: cancel", m->forms[w->owner].name); break;
    case W_EVERYWHERE:
        if (w->label >= 0)
            fprintf(out, "everywhere: on text '%s'", bm_text(m, w->label, m->default_lang));
        else
            fprintf(out, "everywhere: on a pattern");
        break;
    default: fprintf(out, "transition #%d", tr); break;
    }
    const bm_transition *t = &m->transitions[tr];
    if (t->form >= 0 && t->form < m->n_forms)
        fprintf(out, " -> form %s", m->forms[t->form].name);
    else if (t->target >= 0 && t->target < m->n_states)
        fprintf(out, " -> %s", m->states[t->target].name);
    if (t->action > BM_ACT_NONE && t->action < BM_ACT_COUNT && action_names[t->action])
        fprintf(out, " (%s)", action_names[t->action]);
    else if (t->action != BM_ACT_NONE)
        fprintf(out, " (action %d)", (int)t->action);
    else if (t->form < 0 && t->target < 0)
        fputs(" (stays)", out);
    fputc('\n', out);
}

static double pct(int a, int b) { return b > 0 ? 100.0 * a / b : 100.0; }

int ct_report(const ct_run *r, FILE *out, double min_states, double min_transitions)
{
    const bm_machine *m = r->m;
    int ns = 0, nt = 0;
    for (int i = 0; i < m->n_states; i++)
        ns += r->entered[i];
    for (int i = 0; i < m->n_transitions; i++)
        nt += r->taken[i];
    fprintf(out, "coverage: states %d/%d (%.1f%%), transitions %d/%d (%.1f%%)\n", ns, m->n_states,
            pct(ns, m->n_states), nt, m->n_transitions, pct(nt, m->n_transitions));
    if (ns < m->n_states) {
        fputs("  states never entered:", out);
        for (int i = 0; i < m->n_states; i++)
            if (!r->entered[i])
                fprintf(out, " %s", m->states[i].name);
        fputc('\n', out);
    }
    where *w = nt < m->n_transitions ? find_origins(m) : NULL;
    if (w) {
        bool head = false;
        for (int i = 0; i < m->n_transitions; i++) {
            if (r->taken[i] || w[i].kind != W_BUTTON)
                continue;
            if (!head)
                fputs("  buttons never pressed:\n", out);
            head = true;
            fputs("    ", out);
            print_where(out, m, &w[i], i);
        }
        head = false;
        for (int i = 0; i < m->n_transitions; i++) {
            if (r->taken[i] || w[i].kind == W_BUTTON)
                continue;
            if (!head)
                fputs("  other transitions never taken:\n", out);
            head = true;
            fputs("    ", out);
            print_where(out, m, &w[i], i);
        }
        free(w);
    }
    int rc = 0;
    if (min_states > 0 && pct(ns, m->n_states) < min_states) {
        fprintf(out, "coverage: states %.1f%% is below --min-states %g\n", pct(ns, m->n_states), min_states);
        rc = 1;
    }
    if (min_transitions > 0 && pct(nt, m->n_transitions) < min_transitions) {
        fprintf(out, "coverage: transitions %.1f%% is below --min-transitions %g\n",
                pct(nt, m->n_transitions), min_transitions);
        rc = 1;
    }
    return rc;
}

/* ---- --test -------------------------------------------------------------- */

static int parse_pct(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0 || v > 100)
        return -1;
    *out = v;
    return 0;
}

int ct_main(const bm_machine *m, int argc, char **argv)
{
    const char *argv0 = argv[0];
    double min_states = 0, min_tr = 0;
    int first = 2; /* past PROGRAM --test */
    while (first < argc && !strncmp(argv[first], "--", 2)) {
        const char *o = argv[first];
        double *dst = !strcmp(o, "--min-states") ? &min_states
                      : !strcmp(o, "--min-transitions") ? &min_tr : NULL;
        if (!dst || first + 1 >= argc || parse_pct(argv[first + 1], dst)) {
            fprintf(stderr, "%s --test: %s\nusage: %s --test [--min-states PCT] "
                    "[--min-transitions PCT] FILE.yaml...\n", argv0,
                    dst ? "expected a percentage 0-100" : "unknown option", argv0);
            return 2;
        }
        first += 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s --test [--min-states PCT] [--min-transitions PCT] FILE.yaml...\n",
                argv0);
        return 2;
    }
    /* no network: tests never reach Telegram or a model server */
    static const char *const offline[] = {"TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE",
                                          "OPENAI_API_BASE", "OPENAI_API_KEY", NULL};
    for (int i = 0; offline[i]; i++)
        unsetenv(offline[i]);
    log_init_from_env();
    const char *lvl = getenv("BOT_LOG_LEVEL");
    if (!lvl || !*lvl)
        log_set_level(LOG_WARN);

    ct_run *r = ct_new(m);
    if (!r) {
        fprintf(stderr, "%s --test: out of memory\n", argv0);
        return 1;
    }
    for (int i = first; i < argc; i++)
        ct_run_file(r, argv[i], stdout);
    int below = ct_report(r, stdout, min_states, min_tr);
    printf("%d passed, %d failed\n", r->passed, r->failed);
    int rc = r->failed || below ? 1 : 0;
    ct_free(r);
    fflush(stdout);
    return rc;
}
