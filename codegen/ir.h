/*
 * ir.h — the intermediate representation of one spec.
 *
 * build.c fills it from a node tree (names as written, positions for every
 * element); check.c resolves names into indices (the *_idx fields, -1 until
 * resolved or when absent) and reports every error; lower.c flattens it into
 * the tables of runtime/dialogue/machine.h; emit_c.c and emit_re.c render text.
 *
 * All memory belongs to the compilation's arena.
 */
#ifndef BOTC_IR_H
#define BOTC_IR_H

#include <stdbool.h>

#include "diag.h"

/* A translation of a text into one language. */
typedef struct ir_tr {
    const char *lang;
    src_pos lang_pos;
    const char *value;
    src_pos pos;
} ir_tr;

/* A text: named (under `texts:`) or inline (a {en:, ru:} map written where a
 * text is expected; build.c names it after its place, e.g. "main.say.0"). */
typedef struct ir_text {
    const char *name;
    src_pos pos;
    bool is_inline;
    ir_tr *trs;
    int n_trs;
    bool used;      /* check.c: referenced somewhere */
} ir_text;

/* A reference to a text. key == NULL means absent. */
typedef struct ir_textref {
    const char *key;
    src_pos pos;
    int idx;        /* check.c: index into spec->texts, -1 */
} ir_textref;

typedef struct ir_assign {
    const char *var;
    src_pos pos;
    const char *value;
    int var_idx;    /* check.c */
} ir_assign;

/* What happens: set variables, say something, run an action, then start a
 * form or go to a state. */
typedef struct ir_transition {
    src_pos pos;         /* where the transition is written */
    ir_textref say;
    const char *go;      /* `goto:` target state, NULL = stay */
    src_pos go_pos;
    int go_idx;
    const char *form;    /* `form:` to start, NULL */
    src_pos form_pos;
    int form_idx;
    const char *action;  /* `action:` name, NULL */
    src_pos action_pos;
    int action_id;       /* check.c: bm_action value */
    ir_assign *set;
    int n_set;
} ir_transition;

/* true when the transition does anything at all */
bool ir_transition_present(const ir_transition *t);

typedef enum ir_button_kind {
    IR_BTN_REPLY = 0, /* in `keyboard:` */
    IR_BTN_CALLBACK,  /* in `inline:` with a transition */
    IR_BTN_URL,       /* in `inline:` with `url:` */
    IR_BTN_CONTACT,   /* in `keyboard:` with `contact: true` */
} ir_button_kind;

typedef struct ir_button {
    src_pos pos;
    ir_button_kind kind;
    ir_textref label;    /* `text:` */
    const char *data;    /* explicit callback `data:`, NULL = botc picks */
    src_pos data_pos;
    const char *url;
    src_pos url_pos;
    ir_transition tr;
} ir_button;

typedef struct ir_row {
    src_pos pos;
    ir_button *buttons;
    int n_buttons;
} ir_row;

typedef struct ir_keyboard {
    bool present;
    bool remove;         /* `keyboard: remove`, `inline: remove` */
    src_pos pos;
    ir_row *rows;
    int n_rows;
} ir_keyboard;

typedef enum ir_trigger {
    IR_ON_COMMAND = 0, /* `command: name` */
    IR_ON_PATTERN,     /* `pattern: regex` */
    IR_ON_TEXT,        /* `text: textref`: exact text in any language */
    IR_ON_CONTACT,     /* `contact: true` */
    IR_ON_VOICE,       /* `voice: true` */
    IR_ON_ANY,         /* `any: true`: fallback */
} ir_trigger;

typedef struct ir_on {
    src_pos pos;
    ir_trigger trigger;
    const char *arg;     /* command name / pattern */
    src_pos arg_pos;
    ir_textref text;     /* IR_ON_TEXT */
    ir_transition tr;
} ir_on;

typedef struct ir_state {
    const char *name;
    src_pos pos;
    ir_textref *say;
    int n_say;
    ir_keyboard reply;   /* `keyboard:` */
    ir_keyboard inl;     /* `inline:` */
    ir_on *on;
    int n_on;
    const char **renamed_from;
    src_pos *renamed_pos;
    int n_renamed;
    bool reachable;      /* check.c */
    bool dead_end;       /* check.c: no way out (the "no way out" warning) */
} ir_state;

typedef enum ir_validator {
    IR_V_NONE = 0,  /* missing: an error */
    IR_V_TEXT,
    IR_V_INTEGER,
    IR_V_NUMBER,
    IR_V_DATE,
    IR_V_PHONE,
    IR_V_REGEX,
    IR_V_CHOICE,
} ir_validator;

typedef struct ir_field {
    const char *name;
    src_pos pos;
    ir_textref ask;
    ir_textref retry;
    ir_textref button;   /* PHONE: label of the request_contact button */
    ir_validator v;
    src_pos v_pos;
    bool has_min, has_max;
    double min, max;     /* INTEGER/NUMBER bounds; DATE: days from today */
    src_pos min_pos, max_pos;
    const char *country; /* PHONE: `{phone: {country: RS}}`, NULL */
    src_pos country_pos;
    const char *regex;
    src_pos regex_pos;
    ir_textref *choices;
    int n_choices;
} ir_field;

/* `lead:` of a form: where its completed records go for the managers. */
typedef enum ir_lead {
    IR_LEAD_NONE = 0, /* absent */
    IR_LEAD_CHAT,     /* `lead: chat` */
    IR_LEAD_TOPIC,    /* `lead: topic` (a forum topic per lead) */
    IR_LEAD_NAMED,    /* `lead: {topic: NAME}` (one topic for all) */
} ir_lead;

typedef struct ir_form {
    const char *name;
    src_pos pos;
    ir_field *fields;
    int n_fields;
    ir_transition done;   /* `done:` */
    ir_transition cancel; /* `cancel:` */
    ir_lead lead;         /* `lead:` */
    const char *lead_topic; /* IR_LEAD_NAMED: the topic's name */
    src_pos lead_pos;     /* of the value (the name for IR_LEAD_NAMED) */
} ir_form;

typedef struct ir_command {
    const char *name;
    src_pos pos;
    ir_textref description; /* absent = hidden (not published) */
    ir_transition tr;        /* may be absent: states handle it */
} ir_command;

typedef struct ir_var {
    const char *name;
    src_pos pos;
    const char *initial;     /* "" unless declared */
    bool declared;           /* under `variables:` (else implied by set:) */
    int max;                 /* `max:` characters its value may reach, 0 = not
                              * declared (check.c derives one for length checks) */
} ir_var;

typedef struct ir_move {
    const char *from;
    src_pos pos;
    const char *to;
    src_pos to_pos;
    int to_idx;
} ir_move;

/* A knowledge file of `llm: knowledge:`. check.c reads it (relative to the
 * spec's folder) and fills lang, text and len. */
typedef struct ir_knowledge {
    const char *file;        /* as written */
    src_pos pos;
    int lang;                /* check.c: index into langs */
    const char *text;        /* check.c: the content, NUL-terminated */
    size_t len;
} ir_knowledge;

/* `voice:` — voice notes. present = false when absent. */
typedef enum ir_voice_reply {
    IR_VOICE_REPLY_TEXT = 0, /* answers as text (the default) */
    IR_VOICE_REPLY_VOICE,    /* a voice note answered with voice notes only */
    IR_VOICE_REPLY_BOTH,     /* with the text, then voice notes */
} ir_voice_reply;

typedef struct ir_voice {
    bool present;
    src_pos pos;
    ir_voice_reply reply;    /* `reply:` */
    src_pos reply_pos;
    long max_seconds;        /* longer notes get sys_voice_too_long; 0 = the default */
    bool echo;               /* the transcript is shown back ("🎤 ...") */
} ir_voice;
/* One of `llm: personas:` — a role the user picks (the variable `persona`
 * holds its name) and the system prompt it adds. */
typedef struct ir_persona {
    const char *name;
    src_pos pos;
    ir_textref prompt;
    ir_textref label;        /* what {persona_label} shows, key NULL = the name */
} ir_persona;

/* `llm:` — grounding and limits of AI answers. present = false when absent. */
typedef struct ir_llm {
    bool present;
    src_pos pos;
    ir_knowledge *knowledge;
    int n_knowledge;
    ir_textref persona;      /* key NULL = none */
    ir_textref policy;
    bool strict;             /* default true */
    bool feedback;           /* vote buttons under answers, default true */
    long daily_tokens;       /* 0 = no limit */
    const char *timezone;    /* NULL = UTC */
    src_pos timezone_pos;
    const char *model;       /* NULL = from the environment */
    const char **handoff;    /* `handoff_patterns:` regexes */
    src_pos *handoff_pos;
    int n_handoff;
    bool ask_without_context; /* strict: ask the model when retrieval finds nothing */
    const char **synonyms;   /* `synonyms:` groups, "crash = accident", all languages */
    src_pos *synonym_pos;
    const char **synonym_lang; /* the language each group is listed under */
    src_pos *synonym_lang_pos;
    int n_synonyms;
    ir_persona *personas;    /* `personas:`, in spec order */
    int n_personas;
    src_pos personas_pos;
    long session_idle_minutes; /* `session_idle_minutes:`, 0 = sessions never idle out */
    int max_tool_calls;      /* `max_tool_calls:`, 0 = the runtime's default (3) */
} ir_llm;

/* A property of a tool's argument schema (`parameters: properties:`). */
typedef struct ir_tool_param {
    const char *name;
    src_pos pos;
} ir_tool_param;

/* `tools:` — an HTTP request the model may ask for (spec/REFERENCE.md,
 * "Tools"). build.c checks the schema's shape and keeps it as JSON text;
 * check.c checks the request template against it. */
typedef struct ir_tool {
    const char *name;
    src_pos pos;
    const char *description;
    src_pos description_pos;
    const char *parameters;  /* the JSON schema, compact JSON text */
    src_pos parameters_pos;
    ir_tool_param *params;   /* its properties */
    int n_params;
    const char *method;      /* "GET" (default) or "POST" */
    src_pos method_pos;
    const char *url;         /* the template: ${ENV}, {arg}, {user.id} */
    src_pos url_pos;
    const char **headers;    /* "Name: value" templates */
    src_pos *header_pos;
    int n_headers;
    const char *body;        /* POST: the body template (JSON), NULL */
    src_pos body_pos;
    const char *result;      /* a dotted path into the JSON answer, NULL */
    src_pos result_pos;
    src_pos request_pos;
} ir_tool;

typedef struct ir_spec {
    const char *path;        /* the spec file as given */
    const char *name;        /* bot.name */
    src_pos name_pos;
    const char *default_lang;
    src_pos default_lang_pos;
    const char **langs;
    src_pos *lang_pos;
    int n_langs;
    const char *start;
    src_pos start_pos;
    int start_idx;

    ir_text *texts;
    int n_texts;
    ir_command *commands;
    int n_commands;
    ir_state *states;
    int n_states;
    ir_form *forms;
    int n_forms;
    ir_var *vars;            /* declared ones first; check.c appends the
                              * implied ones and "form.field" ones */
    int n_vars;
    ir_move *moves;
    int n_moves;
    ir_llm llm;
    ir_voice voice;
    ir_on *everywhere;       /* `everywhere:` triggers (text and pattern) */
    int n_everywhere;
    ir_tool *tools;          /* `tools:` */
    int n_tools;
} ir_spec;

#endif
