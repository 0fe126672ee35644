/*
 * console.c — see console.h.
 */
#include "front/console.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ai/asr.h"
#include "ai/audio.h"
#include "ai/kb.h"
#include "ai/llm.h"
#include "ai/toolchat.h"
#include "base/log.h"
#include "base/markdown.h"
#include "base/text.h"
#include "net/loop.h"

#define CONSOLE_LINE_MAX 8192
#define CONSOLE_DEFAULT_PHONE "+15550100000"
#define INDENT "     "
#define CONSOLE_POLL_MS 250       /* longest wait for input before *stop is looked at */
#define CONSOLE_SCREEN_MAX 65536  /* a bigger screen is not handed to the next process */
#define SCREEN_FS "\x1f"          /* between the fields of a button */
#define SCREEN_RS "\x1e"          /* after each record */
#define CONSOLE_ANSWER_MAX (256 * 1024) /* a model's answer shown as it streams, as draft.c caps it */
#define CONSOLE_DEFER_MAX 8       /* deferred requests one input may make in a row */

typedef struct cbtn {
    bm_button_kind kind;
    char *label;
    char *data;
    int64_t message_id;
    bool gone;     /* its message was edited: the number presses nothing */
} cbtn;

typedef struct cbtns {
    cbtn *v;
    int n, cap;
} cbtns;

typedef struct console {
    bot *b;
    FILE *out;
    bm_user user;
    char lang[8];
    const char *phone;
    /* The numbered buttons: those of the latest reply that brought a
     * keyboard, numbered from 1 in the order printed. An earlier keyboard
     * loses its numbers then (its labels can still be typed), so a number
     * never presses a button printed screens ago, and the same screen
     * always gets the same numbers. */
    cbtns shown;
    int64_t next_msg_id;
    int next_cb;
    /* The model (OPENAI_API_BASE set): the console runs the event loop and
     * the client itself for the llm action's deferred request. NULL: the
     * action answers offline, as without an event loop. */
    loop *lp;
    llm_client *llm;
    volatile sig_atomic_t *stop;
    const char *streamed;  /* the answer printed as it streamed, not yet
                            * matched by its final message (borrowed) */
    asr *engine;           /* `/voice FILE`: the offline recogniser, made once */
} console;

static void btns_clear(cbtns *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->v[i].label);
        free(t->v[i].data);
    }
    t->n = 0;
}

static void btns_free(cbtns *t)
{
    btns_clear(t);
    free(t->v);
    t->v = NULL;
    t->cap = 0;
}

static int btns_push(cbtns *t, const bm_button_out *b, int64_t message_id)
{
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 8;
        cbtn *nv = realloc(t->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return -1;
        t->v = nv;
        t->cap = nc;
    }
    cbtn *c = &t->v[t->n];
    c->kind = b->kind;
    c->label = strdup(b->label ? b->label : "");
    c->data = b->data ? strdup(b->data) : NULL;
    c->message_id = message_id;
    c->gone = false;
    if (!c->label || (b->data && !c->data)) {
        free(c->label);
        free(c->data);
        return -1;
    }
    t->n++;
    return 0;
}

/* The model's Markdown md[0..n) as the terminal shows it: the text without
 * its markup (base/markdown.h), a code block's lines indented by four
 * spaces. malloc'd; NULL on out-of-memory. */
static char *md_plain(const char *md, size_t n)
{
    md_text t;
    if (md_render(md, n, &t))
        return NULL;
    text_buf b;
    text_buf_init(&b, t.len * 5 + 16);
    bool line_start = true;
    int e = 0; /* the first entity that may cover i (sorted by offset) */
    for (size_t i = 0; i < t.len; i++) {
        if (line_start) {
            bool in_pre = false;
            for (int k = e; k < t.n && t.ents[k].boff <= i && !in_pre; k++)
                in_pre = t.ents[k].kind == MD_PRE && i < t.ents[k].boff + t.ents[k].blen;
            if (in_pre)
                text_buf_adds(&b, "    ");
        }
        text_buf_addc(&b, t.text[i]);
        line_start = t.text[i] == '\n';
    }
    md_text_free(&t);
    char *out = b.overflow ? NULL : text_buf_take(&b);
    text_buf_free(&b);
    return out;
}

/* How much of a streamed answer s[0..n) is formatted for good: its whole
 * lines, and of the line still coming what no later character can change —
 * once its block is known (the first character a letter or digit, or a
 * space after its marker: "- ", "> "; a fence or a heading waits whole), up
 * to its first inline marker (* _ ~ ` [ ! \ <), since what follows may pair
 * with it. The formatted prefix then stays a prefix of the formatted whole. */
static size_t md_stable(const char *s, size_t n)
{
    size_t ls = n;
    while (ls > 0 && s[ls - 1] != '\n')
        ls--;
    size_t i = ls;
    while (i < n && s[i] == ' ')
        i++;
    if (i == n)
        return ls;
    unsigned char c = (unsigned char)s[i];
    if (!(c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) {
        size_t m = i; /* a marker run, then it must be followed by a space */
        while (m < n && s[m] == s[i])
            m++;
        if (c == '`' || c == '~' || c == '#' || m >= n || s[m] != ' ' ||
            memchr(s + m, s[i], n - m))
            return ls; /* a fence, a heading (its end is trimmed), a rule
                          ("- - -") or undecided: wait for the whole line */
        i = m;
    }
    for (; i < n; i++)
        if (strchr("*_~`[!\\<", s[i]))
            break;
    return i;
}

/* Print text, continuing lines under the first one's indent. */
static void print_text(console *c, const char *prefix, const char *text)
{
    fputs(prefix, c->out);
    for (const char *p = text; *p; p++) {
        fputc(*p, c->out);
        if (*p == '\n' && p[1])
            fputs(INDENT, c->out);
    }
    fputc('\n', c->out);
}

/* Print a keyboard's rows numbering from first; remember its buttons. */
static void print_markup(console *c, const bm_markup *mk, cbtns *t, int first, int64_t msg_id)
{
    int k = 0, num = first;
    for (int r = 0; r < mk->n_rows; r++) {
        fputs(INDENT, c->out);
        for (int i = 0; i < mk->row_len[r] && k < mk->n_buttons; i++, k++) {
            const bm_button_out *b = &mk->buttons[k];
            fprintf(c->out, "%s[%d] %s", i ? "  " : "", num++, b->label ? b->label : "");
            if (b->kind == BM_BTN_URL)
                fprintf(c->out, " <%s>", b->data ? b->data : "");
            else if (b->kind == BM_BTN_CONTACT)
                fputs(" (shares your contact)", c->out);
            if (btns_push(t, b, msg_id))
                log_warn("console", "out of memory: button %d will not be pressable", num - 1);
        }
        fputc('\n', c->out);
    }
}

/* A file the bot sends (export_data's) is written to the working
 * directory under its name; the path is printed. */
static void save_document(console *c, const bm_effect *e)
{
    const char *name = e->file_name ? e->file_name : "";
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        fputs("bot> (a file with a name the console will not write)\n", c->out);
        return;
    }
    FILE *f = fopen(name, "w");
    size_t len = e->text ? strlen(e->text) : 0;
    bool ok = f && fwrite(e->text ? e->text : "", 1, len, f) == len;
    if (f && fclose(f))
        ok = false;
    int err = errno;
    char cwd[4096];
    const char *dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    if (ok)
        fprintf(c->out, "bot> 📎 %s (%zu bytes), saved to %s/%s\n", name, len, dir, name);
    else
        fprintf(c->out, "bot> 📎 %s could not be saved in %s: %s\n", name, dir, strerror(err));
}

static void show(console *c, const bm_effects *fx)
{
    bool markup = false;
    for (int i = 0; i < fx->n; i++)
        if ((fx->v[i].kind == BM_FX_SEND || fx->v[i].kind == BM_FX_EDIT) &&
            fx->v[i].chat_id == c->user.chat_id && fx->v[i].markup.kind != BM_MK_NONE)
            markup = true;
    /* a new keyboard numbers its buttons from 1: the older ones' go */
    if (markup)
        btns_clear(&c->shown);
    for (int i = 0; i < fx->n; i++) {
        const bm_effect *e = &fx->v[i];
        if (e->kind == BM_FX_ANSWER && e->text && e->chat_id == c->user.chat_id)
            fprintf(c->out, INDENT "(%s)\n", e->text); /* a press's pop-up */
        if (e->kind == BM_FX_DOCUMENT && e->chat_id == c->user.chat_id)
            save_document(c, e);
        if (e->kind != BM_FX_SEND && e->kind != BM_FX_EDIT)
            continue;
        if (e->chat_id != c->user.chat_id) {
            log_info("console", "not shown: a message for chat %lld", (long long)e->chat_id);
            continue;
        }
        int64_t id = e->kind == BM_FX_EDIT ? e->message_id : ++c->next_msg_id;
        if (e->kind == BM_FX_EDIT) /* an edit replaces the message's inline buttons */
            for (int k = 0; k < c->shown.n; k++)
                if (c->shown.v[k].message_id == id && (c->shown.v[k].kind == BM_BTN_CALLBACK ||
                                                       c->shown.v[k].kind == BM_BTN_URL))
                    c->shown.v[k].gone = true;
        size_t sl = c->streamed && e->kind == BM_FX_SEND && e->text ? strlen(e->text) : 0;
        if (sl && !strncmp(c->streamed, e->text, sl)) {
            /* the terminal shows it already, as it streamed: only its
             * buttons are new (a long answer comes in several parts) */
            c->streamed += sl;
            while (*c->streamed == '\n' || *c->streamed == ' ')
                c->streamed++;
        } else {
            char *plain = e->markdown && e->text ? md_plain(e->text, strlen(e->text)) : NULL;
            print_text(c, e->kind == BM_FX_EDIT ? "bot (edited)> " : "bot> ",
                       plain ? plain : e->text ? e->text : "");
            free(plain);
        }
        if (e->markup.kind == BM_MK_REPLY || e->markup.kind == BM_MK_INLINE)
            print_markup(c, &e->markup, &c->shown, c->shown.n + 1, id);
    }
    fflush(c->out);
}

/* ---- the model, streamed into the terminal ------------------------------ */

typedef struct stream {
    console *c;
    kb_marker mk;      /* the operator marker never shows */
    text_buf shown;    /* what may be shown so far (the model's Markdown) */
    char *plain;       /* what of it is on screen, formatted (md_plain) */
    bool diverged;     /* the formatted prefix stopped being a prefix: the
                          rest shows once the answer is whole */
    size_t fed, printed;
    bool done;
    llm_status status;
    char *text;        /* the whole answer, from on_done (malloc'd) */
    size_t len;
    char error[256];
    long http_status, prompt_tokens, completion_tokens;
    bool quiet;        /* the request's u.llm.quiet: not printed as it streams */
    char *tool_log;    /* the tool calls made, from on_done (malloc'd), NULL */
} stream;

/* Prints what became showable since the last call, under "bot> ": the
 * answer formatted as far as it is settled (md_stable), all of it once
 * `whole`. st->printed counts the formatted bytes on screen. */
static void stream_print(stream *st, bool whole)
{
    console *c = st->c;
    if (st->diverged && !whole)
        return;
    const char *s = st->shown.p ? st->shown.p : "";
    char *plain = md_plain(s, whole ? st->shown.len : md_stable(s, st->shown.len));
    if (!plain)
        return;
    if (strncmp(plain, st->plain ? st->plain : "", st->printed) != 0) {
        /* a rare reading that changed (e.g. "- -" that became a rule):
         * nothing more as it streams; once it is whole, the final message
         * shows it again, formatted, on its own line (show) */
        st->diverged = true;
        if (whole && st->printed) {
            fputc('\n', c->out);
            st->printed = 0;
        }
        free(plain);
        fflush(c->out);
        return;
    }
    size_t n = strlen(plain);
    for (; st->printed < n; st->printed++) {
        if (st->printed == 0)
            fputs("bot> ", c->out);
        char ch = plain[st->printed];
        fputc(ch, c->out);
        if (ch == '\n')
            fputs(INDENT, c->out);
    }
    free(st->plain);
    st->plain = plain;
    fflush(c->out);
}

static void on_delta(void *ud, const char *text, size_t len)
{
    stream *st = ud;
    if (len <= st->fed)
        return;
    if (kb_marker_feed(&st->mk, text + st->fed, len - st->fed, &st->shown) == 0)
        st->fed = len;
    if (!st->quiet)
        stream_print(st, false);
}

/* A new round of the answer after tool calls: its text starts again
 * (what was printed stays: the model rarely says anything before a call). */
static void on_round(void *ud)
{
    stream *st = ud;
    st->fed = 0;
}

static void on_done(void *ud, const toolchat_result *r)
{
    stream *st = ud;
    st->done = true;
    free(st->tool_log);
    st->tool_log = r->tool_log ? strdup(r->tool_log) : NULL;
    st->status = r->status;
    st->text = strdup(r->text ? r->text : "");
    st->len = st->text ? r->len : 0;
    snprintf(st->error, sizeof st->error, "%s", r->error[0] ? r->error : llm_status_str(r->status));
    st->http_status = r->http_status;
    st->prompt_tokens = r->prompt_tokens;
    st->completion_tokens = r->completion_tokens;
    if (r->status == LLM_OK)
        kb_marker_end(&st->mk, &st->shown);
    if (!st->quiet)
        stream_print(st, true);
}

/* The terminal embeds nothing: a question's embedding (tx->io_req,
 * BOT_IO_EMBED: the user's long-term memory has vectors from Telegram)
 * is answered as failed, and the input runs again to go on by words
 * alone. Returns what bot_handle_tx returns. */
static int no_embedding(console *c, const bm_input *in, bot_tx *tx, bm_effects *fx)
{
    bot_io_res res = {.owner = tx->io_req.owner, .kind = BOT_IO_EMBED,
                      .error = "the terminal embeds nothing"};
    bot_io_req_free(&tx->io_req);
    tx->io_res = &res;
    int rc = bot_handle_tx(c->b, in, fx, tx);
    if (rc == 0)
        show(c, fx);
    tx->io_res = NULL;
    return rc;
}

/* Asks the model for tx->io_req (BOT_IO_LLM), printing the answer as it
 * streams, then runs the input again with it (see dialogue/bot.h). Returns
 * what bot_handle_tx returns; -1 too when *stop ended the wait (nothing
 * stored: the input was not handled). */
static int ask_model(console *c, const bm_input *in, bot_tx *tx, bm_effects *fx)
{
    stream st = {.c = c, .quiet = tx->io_req.u.llm.quiet != 0};
    kb_marker_init(&st.mk);
    text_buf_init(&st.shown, CONSOLE_ANSWER_MAX);
    /* the model with the spec's tools, as on Telegram */
    toolchat_hooks h = {.on_delta = on_delta, .on_done = on_done, .on_round = on_round, .ud = &st};
    toolchat *call = toolchat_start(c->llm, c->lp, tx->io_req.u.llm.model,
                                    tx->io_req.u.llm.messages, tx->io_req.u.llm.tools, &h);
    bool stopped = false;
    while (call && !st.done) {
        /* a reload waits for the answer: the input is then handled whole */
        if (c->stop && *c->stop && *c->stop != CONSOLE_RELOAD) {
            toolchat_cancel(call);
            stopped = true;
            break;
        }
        loop_poll(c->lp, CONSOLE_POLL_MS);
    }
    if (st.printed)
        fputc('\n', c->out);
    int rc = -1;
    char *shown = text_buf_take(&st.shown);
    if (stopped) {
        bot_io_req_free(&tx->io_req);
        fputs("(stopped before the answer was complete; nothing was stored)\n", c->out);
    } else {
        bot_io_res res = {
            .owner = tx->io_req.owner,
            .kind = BOT_IO_LLM,
            .ok = call && st.status == LLM_OK && st.text,
            .status = st.http_status,
            .body = st.text,
            .len = st.len,
            .error = !call ? (llm_circuit_open(c->llm) ? LLM_CIRCUIT_REASON
                                                       : "the request could not start")
                           : st.status == LLM_OK ? NULL : st.error,
            .prompt_tokens = call ? st.prompt_tokens : -1,
            .completion_tokens = call ? st.completion_tokens : -1,
            .tool_log = call ? st.tool_log : NULL,
        };
        bot_io_req_free(&tx->io_req);
        tx->io_res = &res;
        c->streamed = st.printed && shown ? shown : NULL;
        rc = bot_handle_tx(c->b, in, fx, tx);
        if (rc == 0)
            show(c, fx);
        c->streamed = NULL;
        tx->io_res = NULL; /* a new request (BOT_DEFERRED again) stays in tx */
    }
    free(shown);
    free(st.text);
    free(st.tool_log);
    free(st.plain);
    text_buf_free(&st.shown);
    return rc;
}

#define CONSOLE_MAX_AUDIO (20L * 1024 * 1024) /* as Telegram's download cap */

/* `/voice FILE`: the voice request answered here, with the file (OGG/Opus
 * or WAV) as the note and the offline recogniser, the same way a bot
 * transcribes (the state's grammar first). Fills *out as the input that
 * runs again: the transcript as typed text (in *text, malloc'd), or the
 * note with why it has none. */
static void transcribe_file(console *c, const bot_io_req *req, const bm_input *in, bm_input *out,
                            char **text)
{
    *out = *in;
    *text = NULL;
    char err[256] = "";
    int failed = BM_VOICE_ERROR;
    unsigned char *buf = NULL;
    FILE *f = fopen(req->u.voice.file_id, "rb");
    size_t n = 0;
    if (f) {
        buf = malloc(CONSOLE_MAX_AUDIO + 1);
        n = buf ? fread(buf, 1, CONSOLE_MAX_AUDIO + 1, f) : 0;
        fclose(f);
    }
    if (!buf) {
        snprintf(err, sizeof err, "cannot read %s", req->u.voice.file_id);
    } else if (n > CONSOLE_MAX_AUDIO) {
        failed = BM_VOICE_TOO_LONG;
    } else if (req->u.voice.lang && *req->u.voice.lang && strncmp(req->u.voice.lang, "en", 2)) {
        failed = BM_VOICE_NO_ENGINE; /* offline: English only */
    } else if (!c->engine && !(c->engine = asr_new(NULL, err, sizeof err))) {
        failed = BM_VOICE_NO_ENGINE;
    } else {
        audio_pcm pcm;
        audio_err ae = audio_decode(buf, n, req->u.voice.max_seconds, &pcm, err, sizeof err);
        if (ae == AUDIO_OK) {
            const bm_voice_grammar *g = req->u.voice.grammar;
            asr_grammar ag = {g ? g->jsgf : NULL, g ? (const asr_phrase *)g->phrases : NULL,
                              g ? g->n : 0};
            asr_result r;
            if (!asr_recognize(c->engine, pcm.s, pcm.n, g ? &ag : NULL, &r, err, sizeof err)) {
                fprintf(c->out, "(heard %.1f s: \"%s\"%s)\n", audio_seconds(&pcm), r.heard,
                        r.from_grammar ? ", a phrase of this screen" : "");
                failed = *r.text ? BM_VOICE_OK : BM_VOICE_EMPTY;
                *text = r.text;
                r.text = NULL;
                asr_result_free(&r);
            }
            audio_pcm_free(&pcm);
        } else {
            failed = ae == AUDIO_ERR_TOOLONG ? BM_VOICE_TOO_LONG
                     : ae == AUDIO_ERR_FORMAT ? BM_VOICE_FORMAT : BM_VOICE_ERROR;
        }
    }
    free(buf);
    if (*err)
        fprintf(c->out, "(voice: %s)\n", err);
    if (failed == BM_VOICE_OK) {
        out->kind = BM_IN_TEXT;
        out->text = *text;
        out->from_voice = true;
    } else {
        out->voice.failed = failed;
    }
}

static void handle(console *c, const bm_input *in)
{
    bm_effects fx;
    bm_effects_init(&fx);
    /* only the model's requests (answers, and the session actions'
     * summaries): the console has no managers' group nor a reason to fetch
     * URLs, so the other actions answer as offline */
    bot_tx tx = {.io_actions = (uint64_t)1 << BM_ACT_LLM | (uint64_t)1 << BM_ACT_SESSION_START |
                               (uint64_t)1 << BM_ACT_SESSION_END |
                               (uint64_t)1 << BM_ACT_SESSION_LIST};
    bool voice = in->kind == BM_IN_VOICE && in->voice.file_id;
    int rc = bot_handle_tx(c->b, in, &fx, c->llm || voice ? &tx : NULL);
    bm_input heard;
    char *transcript = NULL;
    if (rc == BOT_DEFERRED && tx.io_req.kind == BOT_IO_VOICE) {
        transcribe_file(c, &tx.io_req, in, &heard, &transcript);
        bot_io_req_free(&tx.io_req);
        in = &heard; /* the transcript runs as typed text from here on */
        rc = bot_handle_tx(c->b, in, &fx, c->llm ? &tx : NULL);
    }
    if (rc == 0)
        show(c, &fx);
    for (int k = 0; rc == BOT_DEFERRED && k < CONSOLE_DEFER_MAX; k++) {
        if (tx.io_req.kind == BOT_IO_EMBED) {
            rc = no_embedding(c, in, &tx, &fx);
            continue;
        }
        if (tx.io_req.kind != BOT_IO_LLM) {
            bot_io_req_free(&tx.io_req);
            rc = -1;
            break;
        }
        rc = ask_model(c, in, &tx, &fx);
    }
    bot_io_req_free(&tx.io_req);
    free(transcript);
    if (rc != 0 && !(c->stop && *c->stop))
        fputs("(the bot could not handle that; see the log)\n", c->out);
    bm_effects_free(&fx);
    fflush(c->out);
}

/* The model, when OPENAI_API_BASE names one. */
static void open_model(console *c)
{
    llm_options o = llm_options_from_env();
    if (!o.base || !*o.base)
        return;
    char err[256];
    c->lp = loop_new(NULL, err, sizeof err);
    c->llm = c->lp ? llm_new(c->lp, &o, err, sizeof err) : NULL;
    if (!c->llm) {
        log_warn("console", "no model (%s): AI answers come from the knowledge, offline", err);
        loop_free(c->lp);
        c->lp = NULL;
        return;
    }
    log_info("console", "AI answers by the model %s at %s, streamed", llm_model(c->llm), o.base);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Pressing button number n; false when no such button is shown. */
static bool press(console *c, long n)
{
    if (n < 1 || n > c->shown.n || c->shown.v[n - 1].gone)
        return false;
    const cbtn *b = &c->shown.v[n - 1];
    bm_input in = {.user = c->user, .text = ""};
    char cbid[32];
    /* the tables are rebuilt by handle(): work on copies */
    char *label = strdup(b->label), *data = b->data ? strdup(b->data) : NULL;
    if (!label || (b->data && !data)) {
        free(label);
        free(data);
        return true;
    }
    switch (b->kind) {
    case BM_BTN_REPLY:
        in.kind = BM_IN_TEXT;
        in.text = label;
        break;
    case BM_BTN_CONTACT:
        in.kind = BM_IN_CONTACT;
        in.text = c->phone;
        in.contact_user_id = c->user.id;
        break;
    case BM_BTN_CALLBACK:
        in.kind = BM_IN_CALLBACK;
        in.text = data ? data : "";
        in.message_id = b->message_id;
        snprintf(cbid, sizeof cbid, "console-%d", ++c->next_cb);
        in.callback_id = cbid;
        break;
    case BM_BTN_URL:
        fprintf(c->out, INDENT "(opens %s)\n", data ? data : "");
        free(label);
        free(data);
        return true;
    }
    handle(c, &in);
    free(label);
    free(data);
    return true;
}

static void init_user(console *c)
{
    const char *name = getenv("USER");
    c->user.id = CONSOLE_USER_ID;
    c->user.chat_id = CONSOLE_USER_ID;
    c->user.first_name = name && *name ? name : "you";
    const char *lang = getenv("BOT_CONSOLE_LANG");
    if (lang && *lang) {
        snprintf(c->lang, sizeof c->lang, "%s", lang);
    } else {
        lang = getenv("LANG");
        if (lang && isalpha((unsigned char)lang[0]) && isalpha((unsigned char)lang[1])) {
            c->lang[0] = (char)tolower((unsigned char)lang[0]);
            c->lang[1] = (char)tolower((unsigned char)lang[1]);
            c->lang[2] = '\0';
        }
    }
    c->user.language_code = c->lang[0] ? c->lang : NULL;
    const char *phone = getenv("BOT_CONSOLE_PHONE");
    c->phone = phone && *phone ? phone : CONSOLE_DEFAULT_PHONE;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* A console command word: "/name" alone or followed by a space. */
static bool is_cmd(const char *line, const char *cmd, const char **arg)
{
    size_t n = strlen(cmd);
    if (strncmp(line, cmd, n) || (line[n] && line[n] != ' ' && line[n] != '\t'))
        return false;
    if (arg)
        *arg = skip_space(line + n);
    return true;
}

/* The numbered buttons on screen, for the process a reload executes:
 *   "2 NEXT_MSG_ID NEXT_CB" RS, then per button in number order
 *   "KIND HAS_DATA MESSAGE_ID GONE" FS label FS data RS.
 * Labels holding a separator (no spec text does) leave the screen behind. */
static void screen_save(const console *c)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return;
    bool ok = true;
    fprintf(f, "2 %lld %d" SCREEN_RS, (long long)c->next_msg_id, c->next_cb);
    for (int i = 0; i < c->shown.n; i++) {
        const cbtn *b = &c->shown.v[i];
        const char *data = b->data ? b->data : "";
        if (strpbrk(b->label, SCREEN_FS SCREEN_RS) || strpbrk(data, SCREEN_FS SCREEN_RS))
            ok = false;
        fprintf(f, "%d %d %lld %d" SCREEN_FS "%s" SCREEN_FS "%s" SCREEN_RS, (int)b->kind,
                b->data != NULL, (long long)b->message_id, b->gone, b->label, data);
    }
    if (fclose(f) == 0 && ok && len < CONSOLE_SCREEN_MAX)
        setenv(CONSOLE_SCREEN_ENV, s, 1);
    free(s);
}

/* Take back the screen screen_save left in the environment (once).
 * 1 when there was one, else 0. */
static int screen_restore(console *c)
{
    const char *env = getenv(CONSOLE_SCREEN_ENV);
    if (!env)
        return 0;
    char *s = strlen(env) < CONSOLE_SCREEN_MAX ? strdup(env) : NULL;
    unsetenv(CONSOLE_SCREEN_ENV);
    if (!s)
        return 1;
    char *save = NULL;
    char *rec = strtok_r(s, SCREEN_RS, &save);
    long long next_msg;
    int ver, next_cb;
    if (!rec || sscanf(rec, "%d %lld %d", &ver, &next_msg, &next_cb) != 3 || ver != 2)
        goto bad;
    while ((rec = strtok_r(NULL, SCREEN_RS, &save))) {
        char *label = strchr(rec, SCREEN_FS[0]);
        char *data = label ? strchr(label + 1, SCREEN_FS[0]) : NULL;
        int kind, has_data, gone;
        long long msg_id;
        if (!data)
            goto bad;
        *label++ = '\0';
        *data++ = '\0';
        if (sscanf(rec, "%d %d %lld %d", &kind, &has_data, &msg_id, &gone) != 4 ||
            kind < BM_BTN_REPLY || kind > BM_BTN_CONTACT)
            goto bad;
        bm_button_out b = {.label = label, .data = has_data ? data : NULL,
                           .kind = (bm_button_kind)kind};
        if (btns_push(&c->shown, &b, msg_id))
            goto bad;
        c->shown.v[c->shown.n - 1].gone = gone != 0;
    }
    c->next_msg_id = next_msg;
    c->next_cb = next_cb;
    free(s);
    return 1;
bad:
    log_warn("console", "the buttons shown before the reload are not pressable by number");
    btns_clear(&c->shown);
    free(s);
    return 1;
}

/* read_line for a stream without a descriptor: stdio, whole lines. */
static int read_line_stdio(FILE *in, char *line, size_t cap, volatile sig_atomic_t *stop)
{
    for (;;) {
        if (stop && *stop)
            return -1;
        errno = 0;
        if (fgets(line, (int)cap, in))
            break;
        if (errno == EINTR && !feof(in)) {
            clearerr(in);
            continue;
        }
        return 0;
    }
    size_t n = strlen(line);
    if (n == cap - 1 && line[n - 1] != '\n') {
        int ch; /* drop the rest of an over-long line */
        while ((ch = fgetc(in)) != EOF && ch != '\n')
            ;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return 1;
}

/* One line of input into line (cap bytes, NUL-terminated, without its
 * newline; the rest of an over-long line is dropped). A descriptor is read
 * byte by byte so nothing past the line leaves the kernel's buffer (see
 * console.h); poll's timeout bounds how long a *stop set just before the
 * wait goes unseen. Returns 1 for a line (the last one may lack its
 * newline), 0 at the end of input or on a read error, -1 when *stop ended
 * the wait. */
static int read_line(FILE *in, char *line, size_t cap, volatile sig_atomic_t *stop)
{
    int fd = fileno(in);
    if (fd < 0)
        return read_line_stdio(in, line, cap, stop);
    size_t n = 0;
    bool started = false;
    for (;;) {
        if (stop && *stop && (*stop != CONSOLE_RELOAD || !started))
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, CONSOLE_POLL_MS);
        if (r == 0 || (r < 0 && errno == EINTR))
            continue;
        char ch;
        ssize_t k = read(fd, &ch, 1);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0 || ch == '\n') {
            line[n] = '\0';
            return k > 0 || started ? 1 : 0;
        }
        started = true;
        if (n + 1 < cap)
            line[n++] = ch;
    }
}

static void console_close(console *c)
{
    btns_free(&c->shown);
    llm_free(c->llm);
    loop_free(c->lp);
    asr_free(c->engine);
}

int console_run(bot *b, FILE *in, FILE *out, volatile sig_atomic_t *stop)
{
    console c = {.b = b, .out = out, .stop = stop};
    init_user(&c);
    open_model(&c);
    int reloaded = screen_restore(&c); /* before the migration's keyboards replace it */
    bool tty = isatty(fileno(in));

    bm_effects fx;
    bm_effects_init(&fx);
    int exists = bot_migrate(b, &fx) < 0 ? -1 : bot_user_exists(b, c.user.id);
    if (exists < 0) {
        bm_effects_free(&fx);
        console_close(&c);
        return -1;
    }
    bool moved = false;
    for (int i = 0; i < fx.n; i++)
        moved |= fx.v[i].chat_id == c.user.chat_id;
    show(&c, &fx);
    bm_effects_clear(&fx);
    if (tty)
        fprintf(out, "%s — console (/quit to leave)\n", bot_machine(b)->name);
    if (!exists)
        fputs("(a new conversation: type /start; /contact +NUMBER shares a phone,"
              " /voice FILE.ogg sends a recording, /quit leaves)\n", out);
    /* A new process starts with an empty terminal: the screen the user
     * left is shown again, so the numbers they type press what they see
     * (a reload's terminal still shows it, a migration just printed it). */
    if (exists && !reloaded && !moved) {
        int shown = bot_show(b, &c.user, &fx);
        if (shown > 0) {
            fputs("(where you left off)\n", out);
            show(&c, &fx);
        } else if (shown < 0) {
            log_warn("console", "the screen you left could not be shown again");
        }
    }
    bm_effects_free(&fx);
    fflush(out);

    char *line = malloc(CONSOLE_LINE_MAX);
    if (!line) {
        console_close(&c);
        return -1;
    }
    int ended_by_stop = 0;
    for (;;) {
        if (stop && *stop) {
            ended_by_stop = 1;
            break;
        }
        if (tty) {
            fputs("you> ", out);
            fflush(out);
        }
        int r = read_line(in, line, CONSOLE_LINE_MAX, stop);
        if (r <= 0) {
            ended_by_stop = r < 0;
            break;
        }
        size_t n = strlen(line);
        while (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (!tty)
            fprintf(out, "you> %s\n", line);
        const char *l = skip_space(line);
        const char *arg;
        if (!*l)
            continue;
        if (is_cmd(l, "/quit", NULL))
            break;
        bm_input inp = {.user = c.user, .text = l, .kind = BM_IN_TEXT};
        if (is_cmd(l, "/contact", &arg)) {
            inp.kind = BM_IN_CONTACT;
            inp.text = *arg ? arg : c.phone;
            inp.contact_user_id = c.user.id;
        } else if (is_cmd(l, "/voice", &arg)) {
            /* `/voice FILE.ogg` (or .wav): a real recording, transcribed
             * offline; `/voice` alone: a note with nothing to hear */
            inp.kind = BM_IN_VOICE;
            inp.text = "";
            inp.voice.file_id = *arg ? arg : NULL;
        } else if (all_digits(l) && strlen(l) < 6 && press(&c, strtol(l, NULL, 10))) {
            continue;
        }
        handle(&c, &inp);
    }
    if (tty)
        fputc('\n', out);
    fflush(out);
    if (ended_by_stop && *stop == CONSOLE_RELOAD)
        screen_save(&c);
    console_close(&c);
    free(line);
    return ended_by_stop;
}
