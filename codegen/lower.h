/*
 * lower.h — the checked IR flattened into the tables of runtime/dialogue/machine.h.
 *
 * low_lower() turns an ir_spec (after check, with no errors) into a
 * low_machine: the same flat arrays and indices the generated C holds, plus
 * what the emitters need to render them — a spec position for every state,
 * transition, text and trigger (for #line), names for comments, and the
 * text-matching rules of every state in priority order (for the .re file).
 *
 * Everything, the returned machine included, lives in the arena.
 *
 * Layout decisions (all deterministic, in spec order):
 *   texts        every ir_text in spec order, then a built-in text for each
 *                BM_SYS_* the spec does not define itself (`sys_migrated`,
 *                `sys_cancelled`, `sys_invalid`, `sys_share_contact`,
 *                `sys_unavailable`, `sys_use_buttons`, `sys_data_deleted`);
 *                a missing translation takes the default language's value.
 *   transitions  global commands, then per state: reply buttons, inline
 *                buttons, `on:` entries; then per form: done, cancel; then
 *                the `everywhere:` entries.
 *   callbacks    explicit `data:`, else "<state>.<n>" (n = the button's
 *                position in the inline keyboard); a state name too long for
 *                64 bytes is cut and followed by "~<fnv32 hex>"; a clash with
 *                an explicit value gets "~<k>".
 *   ids          FNV-1a 32 of the state / form name and of "form.field".
 *   shape_hash   FNV-1a 64 over the sorted lines of a canonical description,
 *                each followed by '\n': "state <name>", "form <name>",
 *                "field <form>.<field> <validator>", "var <name>",
 *                "start <state>", "cmd /<name>" (a command with no
 *                transition), and "tr <source> -> [set <var>]... [action
 *                <name>] [form <name>] [goto <state>]" for every transition,
 *                where source is "cmd /<name>", "<state> button|inline|contact
 *                <label text name>", "<state> on <trigger> <arg>", "everywhere
 *                on <trigger> <arg>", "<form> done" or "<form> cancel". Names only, never indices, and
 *                sorted, so reordering the spec keeps the hash; texts and
 *                their wording, descriptions, URLs, callback data and
 *                `moved:` are not part of the shape.
 *   rules        a state's text rules in matching priority order: `on:
 *                command`, reply button labels (every language), `on: text`,
 *                `on: pattern`; an exact duplicate keeps the first. A literal
 *                pattern that an earlier literal pattern always beats is an
 *                error here (re2c -Werror would reject the unreachable rule).
 *                The `everywhere:` rules likewise: `text` entries, then
 *                `pattern` entries, each in the order written.
 */
#ifndef BOTC_LOWER_H
#define BOTC_LOWER_H

#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "ir.h"
#include "dialogue/machine.h"

typedef struct low_text {
    const char *name;      /* spec name, or the sys text's name */
    src_pos pos;           /* line 0 for built-in texts */
    const char **values;   /* [n_langs], never NULL */
    src_pos *value_pos;    /* [n_langs], line 0 when filled in */
} low_text;

typedef struct low_assign {
    int var;
    const char *var_name;
    const char *value;
    src_pos pos;
} low_assign;

typedef struct low_transition {
    int target, say, form, first_assign, n_assign;
    bm_action action;
    const char *origin;    /* for comments: "state main: button btn_cars" */
    src_pos pos;
} low_transition;

typedef struct low_button {
    bm_button_kind kind;
    int label;
    int transition;
    const char *data;      /* callback data / url / NULL */
    src_pos pos;
} low_button;

typedef struct low_row {
    int first_button, n_buttons;
} low_row;

typedef struct low_keyboard {
    int first_row, n_rows;
    const char *origin;    /* "main reply", "main inline", "booking.car_class" */
} low_keyboard;

typedef enum low_rule_kind {
    LOW_R_COMMAND = 0,     /* "/name" with optional @bot / payload */
    LOW_R_LABEL,           /* exact text (a reply button label) */
    LOW_R_TEXT,            /* exact text (`on: text`) */
    LOW_R_PATTERN,         /* translated regex (re2c syntax) */
} low_rule_kind;

/* One text trigger; `re` is the rule's regex in re2c syntax, without the
 * "\x00" sentinel. */
typedef struct low_rule {
    low_rule_kind kind;
    const char *re;
    int transition;
    const char *comment;   /* names the spec element */
} low_rule;

typedef struct low_state {
    const char *name;
    uint32_t id;
    int first_say, n_say;
    int reply_kb, inline_kb;
    int contact_tr, voice_tr, fallback_tr;
    src_pos pos;
    low_rule *rules;       /* state-local text triggers in priority order */
    int n_rules;
} low_state;

typedef struct low_field {
    const char *name;      /* the field's own name */
    const char *full_name; /* "form.field" */
    uint32_t id;
    int ask, retry, button, var;
    bm_validator validator;
    int regex;
    int has_min, has_max;
    double min, max;       /* DATE: days from the bot's today */
    int first_choice, n_choices;
    const char *country;   /* PHONE: ISO code, NULL */
    src_pos pos;
} low_field;

typedef struct low_form {
    const char *name;
    uint32_t id;
    int first_field, n_fields;
    int done_tr, cancel_tr;
    bm_lead lead;
    const char *lead_topic; /* BM_LEAD_NAMED, else NULL */
    src_pos pos;
} low_form;

typedef struct low_command {
    const char *name;
    int description;
    int transition;
    src_pos pos;
} low_command;

typedef struct low_var {
    const char *name;
    const char *initial;
} low_var;

typedef struct low_move {
    const char *from;
    int to;
    src_pos pos;
} low_move;

/* A form `regex:` validator or an `llm: handoff_patterns:` entry (after
 * the validators): its id is its index. */
typedef struct low_regex {
    const char *pattern;   /* as written */
    const char *re;        /* re2c syntax, whole text */
    const char *origin;    /* "booking.full_name", "llm.handoff_patterns.0" */
    bool trigger;          /* a trigger pattern (anywhere, any case) */
} low_regex;

/* The spec's `llm:` (present = false without one). Knowledge files keep
 * their IR entries: name, language index, content. */
typedef struct low_llm {
    bool present;
    src_pos pos;
    const ir_knowledge *knowledge;
    int n_knowledge;
    int persona, policy;   /* text indices, BM_NONE */
    bool strict;
    bool no_feedback;      /* `feedback: false` */
    long daily_tokens;
    const char *timezone, *model; /* NULL when not given */
    int first_handoff, n_handoff; /* regex ids */
    bool ask_without_context;
    const char *const *synonyms;  /* groups, in spec order */
    int n_synonyms;
    const char **persona_names;   /* `personas:`, in spec order */
    int *persona_prompts;         /* their prompts' text indices */
    int *persona_labels;          /* their labels' text indices, BM_NONE */
    int n_personas;
    int persona_var;              /* index of the variable `persona`, BM_NONE */
    long session_idle;            /* seconds, 0 = never */
    int max_tool_calls;    /* 0 = the runtime's default */
} low_llm;

/* The spec's `voice:` (present = false without one). */
typedef struct low_voice {
    bool present;
    src_pos pos;
    long max_seconds;
    bool echo;
} low_voice;

typedef struct low_machine {
    const char *name;
    const char *spec_path;
    uint64_t shape_hash;

    const char **langs;
    int n_langs, default_lang;

    low_text *texts;
    int n_texts;
    int sys_texts[BM_SYS_COUNT];

    low_state *states;
    int n_states, start_state;
    int *says;
    int n_says;

    low_transition *transitions;
    int n_transitions;
    low_assign *assigns;
    int n_assigns;

    low_button *buttons;
    int n_buttons;
    low_row *rows;
    int n_rows;
    low_keyboard *keyboards;
    int n_keyboards;

    low_form *forms;
    int n_forms;
    low_field *fields;
    int n_fields;
    int *choices;
    int n_choices;

    low_command *commands;
    int n_commands;
    low_rule *global_rules; /* global commands with a transition */
    int n_global_rules;
    low_rule *everywhere_rules; /* `everywhere:` triggers in priority order */
    int n_everywhere_rules;

    low_var *vars;
    int n_vars;
    low_move *moves;
    int n_moves;

    low_regex *regexes;
    int n_regexes;

    low_llm llm;
    low_voice voice;
    const ir_tool *tools;  /* `tools:` as checked (ir.h) */
    int n_tools;
    bm_voice_reply voice_reply; /* `voice: reply:` */
} low_machine;

/* Lower a checked spec. Reports what check should already have caught
 * (unresolved names, bad regexes) into `d` and returns NULL then. */
low_machine *low_lower(arena *a, const ir_spec *spec, diag_list *d);

/* FNV-1a hashes as used for ids and shape_hash. */
uint32_t low_fnv32(const char *s);
uint64_t low_fnv64(const void *data, size_t n, uint64_t h);
#define LOW_FNV64_INIT 0xcbf29ce484222325ULL

/* The name of a BM_SYS_* text in a spec ("sys_migrated", ...). */
const char *low_sys_text_name(bm_sys_text t);

#endif
