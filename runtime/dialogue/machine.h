/*
 * machine.h — the tables botc emits for one bot, and the generic interpreter
 * (machine.c) that runs them.
 *
 * A generated bot is a `const bm_machine` plus two DFA matcher functions that
 * re2c compiles from the generated .re file. Everything is indices into flat
 * const arrays; -1 means "none" wherever an index is optional.
 *
 * The interpreter is pure: it takes a session (what we know of one user), one
 * input, and appends effects (messages to send, edits, actions for the
 * runtime) to a bm_effects list. It performs no I/O. Persisting the session
 * and delivering the effects is the caller's job (bot.c, console.c, tgbot.c),
 * which keeps the interpreter usable from conversation tests in-process.
 */
#ifndef BOTC_MACHINE_H
#define BOTC_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialogue/action_list.h"
#include "dialogue/sys_text_list.h"

#define BM_NONE (-1)
#define BM_KB_REMOVE (-2) /* reply_kb: send ReplyKeyboardRemove on entry;
                           * inline_kb: entered from an inline button, the
                           * message holding it is edited with no buttons */

/* What a transition asks the runtime to do besides moving: one of the
 * actions of action_list.h, reported as a BM_FX_ACTION effect (the
 * interpreter performs none; dialogue/bot.c dispatches them through the
 * action table). */
#define BM_ACT_ENUM_(E, name, row) BM_ACT_##E,
typedef enum bm_action {
    BM_ACT_NONE = 0,
    BM_ACTIONS(BM_ACT_ENUM_)
    BM_ACT_COUNT
} bm_action;
#undef BM_ACT_ENUM_

/* The spec's name of action a ("llm", "handoff", ...); "none" for
 * BM_ACT_NONE, NULL out of range. */
static inline const char *bm_action_name(bm_action a)
{
#define BM_ACT_NAME_(E, name, row) #name,
    static const char *const names[BM_ACT_COUNT] = {"none", BM_ACTIONS(BM_ACT_NAME_)};
#undef BM_ACT_NAME_
    return a >= 0 && a < BM_ACT_COUNT ? names[a] : NULL;
}

/* Texts the runtime itself needs (sys_text_list.h). botc always fills
 * them: from the spec's texts of the same name (e.g. `sys_migrated`) or
 * from the list's en/ru defaults. Indices into bm_machine.sys_texts. */
#define BM_SYS_ENUM_(E, name, en, ru) BM_SYS_##E,
typedef enum bm_sys_text {
    BM_SYS_TEXTS(BM_SYS_ENUM_)
    BM_SYS_COUNT
} bm_sys_text;
#undef BM_SYS_ENUM_

typedef enum bm_button_kind {
    BM_BTN_REPLY = 0, /* reply keyboard: pressing sends its label as text */
    BM_BTN_CALLBACK,  /* inline: pressing sends callback_data */
    BM_BTN_URL,       /* inline: opens a URL, no transition */
    BM_BTN_CONTACT,   /* reply keyboard: request_contact */
} bm_button_kind;

typedef struct bm_assign {
    int var;          /* index into bm_machine.vars */
    const char *value; /* template: may hold {placeholders}, incl. {text} */
} bm_assign;

typedef struct bm_transition {
    int target;      /* state index, BM_NONE = stay (no re-entry) */
    int say;         /* text index sent before entering target, BM_NONE */
    int form;        /* form index to start instead of entering target */
    int first_assign;
    int n_assign;
    bm_action action;
} bm_transition;

typedef struct bm_button {
    bm_button_kind kind;
    int label;       /* text index */
    int transition;  /* BM_NONE for URL buttons */
    const char *data; /* callback_data (CALLBACK), url (URL), else NULL */
} bm_button;

typedef struct bm_row {
    int first_button;
    int n_buttons;
} bm_row;

typedef struct bm_keyboard {
    int first_row;
    int n_rows;
} bm_keyboard;

typedef struct bm_state {
    const char *name;
    uint32_t id;     /* stable id: FNV-1a 32 of name */
    int first_say;   /* indices into bm_machine.says (text indices) */
    int n_say;
    int reply_kb;    /* keyboard index, BM_NONE, or BM_KB_REMOVE */
    int inline_kb;   /* keyboard index, BM_NONE, or BM_KB_REMOVE */
    int contact_tr;  /* transition on a shared contact, BM_NONE */
    int voice_tr;    /* transition on a voice note, BM_NONE */
    int fallback_tr; /* transition on any other text, BM_NONE */
} bm_state;

typedef enum bm_validator {
    BM_V_TEXT = 0, /* any non-empty text */
    BM_V_INTEGER,  /* whole number within [min, max] */
    BM_V_NUMBER,   /* decimal number within [min, max] */
    BM_V_DATE,     /* a real calendar date: YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY */
    BM_V_PHONE,    /* contact via request_contact button, or a typed number
                    * (base/phone.h), stored in E.164 */
    BM_V_REGEX,    /* the generated regex matcher accepts it */
    BM_V_CHOICE,   /* one of the choice labels (in any language, any case) */
} bm_validator;

typedef struct bm_field {
    const char *name;
    uint32_t id;     /* stable id: FNV-1a 32 of "form.field" */
    int ask;         /* text index */
    int retry;       /* text index (BM_SYS_INVALID's text when unset) */
    int button;      /* request_contact label text for PHONE, else BM_NONE */
    int var;         /* variable that receives the value ("form.field") */
    bm_validator validator;
    int regex;       /* regex id for match_regex (BM_V_REGEX), else BM_NONE */
    double min, max; /* INTEGER/NUMBER bounds; TEXT: max = the longest answer
                      * in characters (+inf or below 1: 4096); DATE: days from the bot's
                      * today (0 = today); -inf/+inf when open */
    int first_choice; /* indices into bm_machine.choices (text indices) */
    int n_choices;
    const char *country; /* PHONE: ISO code national numbers are read in
                          * ("RS"), NULL = international numbers only */
} bm_field;

/* Where a completed form goes as a lead for the managers (`lead:`). */
typedef enum bm_lead {
    BM_LEAD_NONE = 0, /* nowhere: the record stays in the database */
    BM_LEAD_CHAT,     /* `lead: chat`: a plain message in MANAGER_GROUP_CHAT_ID */
    BM_LEAD_TOPIC,    /* `lead: topic`: a new forum topic per lead */
    BM_LEAD_NAMED,    /* `lead: {topic: NAME}`: one forum topic for every lead */
} bm_lead;

typedef struct bm_form {
    const char *name;
    uint32_t id;
    int first_field;
    int n_fields;
    int done_tr;     /* transition taken when the last field is valid */
    int cancel_tr;   /* transition taken on /cancel, BM_NONE = stay + sys text */
    bm_lead lead;    /* where a completed record is posted as a lead */
    const char *lead_topic; /* BM_LEAD_NAMED: the topic's name, else NULL */
} bm_form;

typedef struct bm_command {
    const char *name;   /* without the slash */
    int description;    /* text index, BM_NONE for hidden commands */
    int transition;     /* global transition, BM_NONE if only states handle it */
} bm_command;

typedef struct bm_var {
    const char *name;
    const char *initial; /* value before anything sets it ("" by default) */
} bm_var;

typedef struct bm_move {   /* a stored state name that no longer exists */
    const char *from;
    int to;                /* state index */
} bm_move;

/* One knowledge file of the spec's `llm:`, embedded in the binary. */
typedef struct bm_knowledge {
    const char *name;  /* the file name as written in the spec */
    int lang;          /* index into langs: the `.<lang>.` in the name, else
                        * the default language */
    const char *text;  /* the whole file (UTF-8, NUL-terminated) */
    size_t len;        /* bytes */
} bm_knowledge;

/* One of `llm: personas:`: the value of the variable `persona` that picks
 * it, and the system prompt it adds. */
typedef struct bm_persona {
    const char *name;
    int prompt;           /* text index */
    int label;            /* text index of what {persona_label} shows, BM_NONE: the name */
} bm_persona;

/* The spec's `llm:` policy (runtime/ai/kb.h grounds answers in it). */
typedef struct bm_llm {
    const bm_knowledge *knowledge;
    int n_knowledge;
    int persona;          /* text index of the system prompt's persona, BM_NONE */
    int policy;           /* text index of extra rules for the model, BM_NONE */
    bool strict;          /* answer only from the knowledge (default true) */
    bool no_feedback;     /* `feedback: false`: answers carry no vote buttons */
    long daily_tokens;    /* per user per day; 0 = no limit */
    const char *timezone; /* where the day ends, e.g. "Europe/Belgrade"; NULL = UTC */
    const char *model;    /* model name, NULL = $OPENAI_MODEL_NAME */
    const int *handoff;   /* match_regex ids: questions that always go to a human */
    int n_handoff;
    bool ask_without_context; /* strict: ask the model even when retrieval finds nothing */
    const char *const *synonyms; /* groups "crash = accident" (ai/retr.h), all languages */
    int n_synonyms;
    const bm_persona *personas; /* the roles a user picks; the active one's prompt
                                 * follows `persona` in the system prompt */
    int n_personas;
    int persona_var;      /* index into vars of `persona` (valid when n_personas > 0) */
    long session_idle;    /* seconds without a turn before a session closes itself; 0 = never */
    int max_tool_calls;   /* tool calls per answer; 0 = 3 */
} bm_llm;

/* One phrase a user may say in a state (a reply button, a command, a
 * choice of the field asked): the words as spoken (lower case, single
 * spaces) and the text they stand for, exactly as the machine matches it
 * ("🚗 Cars and prices", "/help"). */
typedef struct bm_voice_phrase {
    const char *words;
    const char *text;
} bm_voice_phrase;

/* The speech grammar of one state or form field (codegen/emit_jsgf.c):
 * JSGF text over its phrases' words, English only. n = 0: none. */
typedef struct bm_voice_grammar {
    const char *jsgf;
    const bm_voice_phrase *phrases;
    int n;
} bm_voice_grammar;

/* The spec's `voice:`: voice notes are transcribed and handled as text. */
typedef struct bm_voice {
    int max_seconds;                  /* longer notes are refused politely */
    bool echo;                        /* the transcript is shown back */
    const bm_voice_grammar *states;   /* [n_states] */
    const bm_voice_grammar *fields;   /* [fields of all forms] */
} bm_voice;

/* A tool the model may call (`tools:`, spec/REFERENCE.md "Tools"): an HTTP
 * request made from a template (ai/tool.h). */
typedef struct bm_tool {
    const char *name;
    const char *description;   /* for the model */
    const char *parameters;    /* the arguments' JSON schema, JSON text */
    const char *method;        /* "GET" or "POST" */
    const char *url;           /* ${ENV}, {arg} and {user.id}-style placeholders */
    const char *const *headers; /* "Name: value" templates */
    int n_headers;
    const char *body;          /* POST's body template, NULL */
    const char *result;        /* a dotted path into the JSON answer, NULL */
} bm_tool;

/* The spec's `voice: reply:`: how the bot answers a user who spoke (a
 * voice note, or a text transcribed from one). */
typedef enum bm_voice_reply {
    BM_VOICE_REPLY_TEXT = 0, /* text messages only (the default) */
    BM_VOICE_REPLY_VOICE,    /* voice notes only; the text stays the record (history) */
    BM_VOICE_REPLY_BOTH,     /* the text, then the same as voice notes */
} bm_voice_reply;

typedef struct bm_machine {
    const char *name;        /* the bot's name, a C identifier */
    uint64_t shape_hash;     /* FNV-1a 64 over states, fields, transitions */

    const char *const *langs; /* language codes, e.g. "en", "ru" */
    int n_langs;
    int default_lang;

    const char *const *texts; /* [n_texts * n_langs]; never NULL: botc fills
                               * a missing translation from default_lang */
    int n_texts;
    int sys_texts[BM_SYS_COUNT];

    const bm_state *states;
    int n_states;
    int start_state;
    const int *says;          /* text indices for bm_state.first_say */

    const bm_transition *transitions;
    int n_transitions;
    const bm_assign *assigns;

    const bm_button *buttons;
    const bm_row *rows;
    const bm_keyboard *keyboards;

    const bm_form *forms;
    int n_forms;
    const bm_field *fields;
    const int *choices;       /* text indices for bm_field.first_choice */

    const bm_command *commands;
    int n_commands;

    const bm_var *vars;
    int n_vars;

    const bm_move *moves;     /* from `moved:` and `renamed_from:` */
    int n_moves;

    /* The generated DFA. `s` is NUL-terminated UTF-8. match_text returns
     * the transition index for a text typed or a reply button pressed in
     * `state` (state-local triggers first, then global commands; pass
     * BM_NONE for global commands only), or BM_NONE. match_everywhere
     * returns the transition of the spec's `everywhere:` triggers (tried
     * after the state's own and the global commands; NULL = none) for `s`,
     * or BM_NONE. match_regex returns 1 when regex `id` accepts `s`. */
    int (*match_text)(int state, const char *s);
    int (*match_regex)(int id, const char *s);
    int (*match_everywhere)(const char *s);

    const bm_llm *llm;        /* NULL: the spec has no `llm:` */
    const bm_voice *voice;    /* NULL: the spec has no `voice:` */
    const bm_tool *tools;     /* `tools:`, NULL when none */
    int n_tools;
    bm_voice_reply voice_reply; /* `voice: reply:` (delivery/voice.h) */
} bm_machine;

/* ---- Interpreter I/O ----------------------------------------------- */

typedef struct bm_user {
    int64_t id;
    int64_t chat_id;
    const char *first_name;    /* may be NULL */
    const char *last_name;     /* may be NULL */
    const char *username;      /* may be NULL */
    const char *language_code; /* may be NULL; "ru", "en-US", ... */
} bm_user;

typedef enum bm_input_kind {
    BM_IN_TEXT = 0,  /* a text message (commands included) */
    BM_IN_CALLBACK,  /* an inline button press: text = callback_data */
    BM_IN_CONTACT,   /* a shared contact: text = phone number */
    BM_IN_VOICE,     /* a voice note: text = "" (its file in `voice`) */
    BM_IN_OTHER,     /* photo, sticker, ...: only a fallback may take it */
} bm_input_kind;

typedef struct bm_input {
    bm_input_kind kind;
    bm_user user;
    const char *text;         /* see kind; never NULL (may be "") */
    bool from_voice;          /* the text came from a voice note (transcribed) */
    int64_t contact_user_id;  /* CONTACT: whose contact it is, 0 unknown */
    int64_t message_id;       /* CALLBACK: the message holding the button */
    const char *callback_id;  /* CALLBACK: callback_query id to answer */
    int64_t update_id;        /* Telegram update_id, 0 when none (console) */
    /* Telegram messages only (0 / false elsewhere), for operator handoff
     * (runtime/people/handoff.h): */
    int64_t msg_id;           /* the message's own message_id */
    int64_t thread_id;        /* message_thread_id of a forum topic message */
    bool from_bot;            /* the sender is a bot (the bot itself included) */
    /* TEXT: a question the state's answerer (its any: runs llm) answers:
     * the state's pattern triggers give way to it (spec/REFERENCE.md,
     * "Triggers and the answerer"; set by dialogue/bot.c) */
    bool answer_first;
    /* VOICE (and TEXT from_voice): the note. The file_id is for the
     * runtime's download only: it never reaches a text, a log or a model.
     * Other recordings (an audio file, a video note, a document of audio)
     * are OTHER inputs with their file here too (mime set: "video/mp4"
     * for a video note); a spec with `voice:` has them transcribed. */
    struct {
        const char *file_id;  /* NULL when none */
        const char *mime;     /* "audio/ogg", "audio/mpeg", ... NULL unknown */
        const char *file_name; /* the sender's name of an audio file, NULL none */
        int64_t duration;     /* seconds, as Telegram says; 0 unknown */
        int64_t file_size;    /* bytes, 0 unknown */
        int failed;           /* a bm_voice_fail: transcription was tried
                               * and gave no text (the machine gets the
                               * voice note itself) */
    } voice;
} bm_input;

/* Why a voice note has no transcript (bm_input.voice.failed). */
typedef enum bm_voice_fail {
    BM_VOICE_OK = 0,
    BM_VOICE_TOO_LONG,   /* over `voice: max_seconds` or 20 MB */
    BM_VOICE_NO_ENGINE,  /* no engine for the user's language (offline: English only) */
    BM_VOICE_FORMAT,     /* offline: not OGG/Opus (MP3, M4A, video notes) */
    BM_VOICE_ERROR,      /* download or recognition failed */
    BM_VOICE_EMPTY,      /* nothing heard */
} bm_voice_fail;

/* An optional observer of the interpreter, for coverage (conversation
 * tests, runtime/front/convtest.c). Any callback may be NULL. `transition` gets
 * the index (into m->transitions) of every transition a step runs, `enter`
 * every state it enters, `done` the session after each successful step. */
struct bm_session;
typedef struct bm_trace {
    void (*transition)(void *ud, int tr);
    void (*enter)(void *ud, int state);
    void (*done)(void *ud, const struct bm_session *s);
    void *ud;
} bm_trace;

/* A user's conversation state. Owned by the caller; the interpreter updates
 * it in place. vars has machine->n_vars heap strings (NULL = initial). */
typedef struct bm_session {
    int64_t user_id;
    int64_t chat_id;
    int lang;        /* index into machine->langs */
    int state;       /* index into machine->states */
    int form;        /* active form index or BM_NONE */
    int field;       /* active field index within the form */
    char **vars;     /* [machine->n_vars], malloc'd strings or NULL */
    bool is_new;     /* no stored row yet */
    const bm_trace *trace; /* NULL (bm_session_init), or an observer; not stored */
} bm_session;

typedef enum bm_markup_kind {
    BM_MK_NONE = 0,
    BM_MK_REPLY,
    BM_MK_INLINE,
    BM_MK_REMOVE,
} bm_markup_kind;

typedef struct bm_button_out {
    char *label;          /* expanded, in the user's language */
    char *data;           /* callback_data or url (by kind), else NULL */
    bm_button_kind kind;
} bm_button_out;

typedef struct bm_markup {
    bm_markup_kind kind;
    int n_rows;
    int *row_len;         /* [n_rows] */
    int n_buttons;
    bm_button_out *buttons; /* [n_buttons], row-major */
} bm_markup;

typedef enum bm_effect_kind {
    BM_FX_SEND = 0,  /* sendMessage(chat_id, text, markup) */
    BM_FX_EDIT,      /* editMessageText(chat_id, message_id, text, inline) */
    BM_FX_ANSWER,    /* answerCallbackQuery(callback_id), `text` its pop-up or NULL */
    BM_FX_ACTION,    /* run `action` for the user (input text attached) */
    BM_FX_RECORD,    /* a completed form: store `text` (JSON) for `form` */
    BM_FX_CALL,      /* a Bot API call as it is: `method`, params JSON in `text`
                      * (copyMessage, closeForumTopic, ... for handoff) */
    BM_FX_DOCUMENT,  /* a file for the user: `file_name`, its content in `text`
                      * (sendDocument; the terminal writes it to a file) */
} bm_effect_kind;

typedef struct bm_effect {
    bm_effect_kind kind;
    int64_t chat_id;
    int64_t message_id;   /* EDIT */
    char *text;           /* SEND/EDIT text, ACTION input, RECORD JSON, ANSWER pop-up */
    char *callback_id;    /* ANSWER */
    bm_markup markup;     /* SEND/EDIT */
    bm_action action;     /* ACTION */
    int form;             /* RECORD */
    const char *method;   /* CALL: a static method name (not freed) */
    char *file_name;      /* DOCUMENT: the name the user sees, no directory */
    bool markdown;        /* SEND: text is the model's Markdown, delivered as
                             text + entities and split by the transport
                             (base/markdown.h); history keeps it as written */
} bm_effect;

/* Effects of one step, in order. Owns every string in it. */
typedef struct bm_effects {
    bm_effect *v;
    int n, cap;
} bm_effects;

void bm_effects_init(bm_effects *fx);
void bm_effects_clear(bm_effects *fx); /* frees contents, keeps capacity */
void bm_effects_free(bm_effects *fx);
/* Append a zeroed effect of `kind` for `chat_id` (markup BM_MK_NONE, form
 * BM_NONE) and return it for the caller to fill with malloc'd strings the
 * list then owns; NULL on out-of-memory. For runtime code that adds
 * messages of its own (action handlers, transports). */
bm_effect *bm_effects_add(bm_effects *fx, bm_effect_kind kind, int64_t chat_id);
/* Free the effects from index `n` on, leaving the first n. */
void bm_effects_truncate(bm_effects *fx, int n);

/* Pick the language index for a Telegram language_code ("ru-RU" -> "ru"),
 * falling back to the machine's default. */
int bm_lang_for(const bm_machine *m, const char *language_code);

/* Prepare a fresh session for `user` in the start state (does not enter it). */
int bm_session_init(const bm_machine *m, bm_session *s, const bm_user *user);
void bm_session_free(const bm_machine *m, bm_session *s);

/* Enter state `state`: append its messages and keyboards to fx. */
int bm_enter(const bm_machine *m, bm_session *s, const bm_user *user,
             int state, bm_effects *fx);

/* The current screen again: the active form's question (with its
 * keyboard), else the state's messages and keyboards. s is read, not
 * changed. Appends to fx; 0, or -1 on out-of-memory or a session outside
 * the machine. */
int bm_show(const bm_machine *m, bm_session *s, const bm_user *user, bm_effects *fx);

/* Run one input. Returns 0, or -1 on out-of-memory (session unchanged
 * as far as stored fields go; fx may hold partial effects to discard). */
int bm_step(const bm_machine *m, bm_session *s, const bm_input *in,
            bm_effects *fx);

/* Look up a state by stored name, following moves. BM_NONE if gone. */
int bm_state_by_name(const bm_machine *m, const char *name);
int bm_form_by_name(const bm_machine *m, const char *name);
int bm_var_by_name(const bm_machine *m, const char *name);

/* The text `text` in language `lang` (never NULL). */
const char *bm_text(const bm_machine *m, int text, int lang);

/* Text `text` in the session's language with its {placeholders} expanded
 * for `user` (may be NULL) and the session's variables; `input` is what
 * {text} stands for (NULL = ""). Returns a malloc'd string, NULL on OOM. */
char *bm_render(const bm_machine *m, const bm_session *s, const bm_user *user,
                int text, const char *input);

#endif
