/*
 * emit_re.c — the re2c side of a generated bot (see emit_re.h).
 */
#include "emit_re.h"

#include "emit_c.h"
#include "strbuf.h"

#define CMT_MAX 80

/* The re2c configuration every block repeats (blocks are independent). */
static void put_block_open(strbuf *sb)
{
    sb_puts(sb, "    const unsigned char *YYMARKER = NULL;\n"
                "    (void)YYMARKER; /* not every DFA needs to back up */\n"
                "    /*!re2c\n"
                "        re2c:define:YYCTYPE = \"unsigned char\";\n"
                "        re2c:yyfill:enable = 0;\n\n");
}

static void put_rules(strbuf *sb, const low_rule *rules, int n)
{
    for (int i = 0; i < n; i++) {
        sb_puts(sb, "        /* ");
        sb_put_comment(sb, rules[i].comment, CMT_MAX);
        sb_printf(sb, " */\n        %s \"\\x00\" { return %d; }\n", rules[i].re,
                  rules[i].transition);
    }
}

const char *emit_re(arena *a, const low_machine *m)
{
    strbuf sbv;
    strbuf *sb = &sbv;
    sb_init(sb, a);
    emit_banner(sb, m);
    sb_printf(sb, "\n/*\n * Text triggers of the %s bot as re2c rules; re2c turns each block into\n"
                  " * a DFA (re2c -W -Werror --utf8). Every rule ends at the input's NUL, so\n"
                  " * the first rule that matches the whole text wins. Matchers return a\n"
                  " * transition index of %s_machine, or BM_NONE.\n */\n",
              m->name, m->name);
    sb_printf(sb, "#include <stddef.h>\n\n#include \"%s.h\"\n\n", m->name);

    /* global commands */
    sb_puts(sb, "/* Global commands: valid in every state. */\n"
                "static int match_global(const unsigned char *YYCURSOR)\n{\n");
    if (m->n_global_rules == 0) {
        /* an empty DFA would leave re2c's yych unused */
        sb_puts(sb, "    (void)YYCURSOR;\n    return BM_NONE;\n}\n\n");
    } else {
        put_block_open(sb);
        put_rules(sb, m->global_rules, m->n_global_rules);
        sb_puts(sb, "        * { return BM_NONE; }\n    */\n}\n\n");
    }

    /* one block per state with triggers */
    for (int s = 0; s < m->n_states; s++) {
        const low_state *st = &m->states[s];
        if (st->n_rules == 0)
            continue;
        sb_printf(sb, "/* State %s. */\nstatic int match_state_%d(const unsigned char *YYCURSOR)\n{\n",
                  st->name, s);
        put_block_open(sb);
        put_rules(sb, st->rules, st->n_rules);
        sb_puts(sb, "        * { return BM_NONE; }\n    */\n}\n\n");
    }

    const char *up = emit_upper(a, m->name);
    sb_printf(sb, "int %s_match_text(int state, const char *s)\n{\n"
                  "    const unsigned char *in = (const unsigned char *)s;\n"
                  "    int r = BM_NONE;\n\n", m->name);
    int any = 0;
    for (int s = 0; s < m->n_states; s++)
        any |= m->states[s].n_rules > 0;
    if (any) {
        sb_puts(sb, "    switch (state) {\n");
        for (int s = 0; s < m->n_states; s++) {
            if (m->states[s].n_rules == 0)
                continue;
            sb_printf(sb, "    case %s_S_%s:\n        r = match_state_%d(in);\n        break;\n",
                      up, emit_upper(a, m->states[s].name), s);
        }
        sb_puts(sb, "    default:\n        break;\n    }\n");
    } else {
        sb_puts(sb, "    (void)state;\n");
    }
    sb_puts(sb, "    if (r == BM_NONE)\n        r = match_global(in);\n    return r;\n}\n\n");

    /* everywhere: triggers, a matcher of their own: the runtime tries them
     * after the state's triggers, the global commands and the reply
     * buttons still on screen (bm_machine.match_everywhere) */
    if (m->n_everywhere_rules > 0) {
        sb_printf(sb, "/* everywhere: text triggers of every state. */\n"
                      "int %s_match_everywhere(const char *s)\n{\n"
                      "    const unsigned char *YYCURSOR = (const unsigned char *)s;\n",
                  m->name);
        put_block_open(sb);
        put_rules(sb, m->everywhere_rules, m->n_everywhere_rules);
        sb_puts(sb, "        * { return BM_NONE; }\n    */\n}\n\n");
    }

    /* form validators */
    for (int i = 0; i < m->n_regexes; i++) {
        const low_regex *rx = &m->regexes[i];
        sb_printf(sb, "/* %s of %s: ", rx->trigger ? "Pattern" : "Validator", rx->origin);
        sb_put_comment(sb, rx->pattern, 200);
        sb_printf(sb, " */\nstatic int match_regex_%d(const unsigned char *YYCURSOR)\n{\n", i);
        put_block_open(sb);
        sb_printf(sb, "        %s \"\\x00\" { return 1; }\n", rx->re);
        sb_puts(sb, "        * { return 0; }\n    */\n}\n\n");
    }
    sb_printf(sb, "int %s_match_regex(int id, const char *s)\n{\n", m->name);
    if (m->n_regexes == 0) {
        sb_puts(sb, "    (void)id;\n    (void)s;\n    return 0;\n}\n");
    } else {
        sb_puts(sb, "    const unsigned char *in = (const unsigned char *)s;\n\n"
                    "    switch (id) {\n");
        for (int i = 0; i < m->n_regexes; i++)
            sb_printf(sb, "    case %d:\n        return match_regex_%d(in);\n", i, i);
        sb_puts(sb, "    default:\n        return 0;\n    }\n}\n");
    }
    return sb->s;
}
