/*
 * test_front.c — the two front-ends: positions, duplicates and aliases in
 * YAML; the Lua sandbox, Lua errors, table conversion and located
 * positions; and YAML and Lua giving the same IR for the same bot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "build.h"
#include "check.h"
#include "load.h"
#include "lua_front.h"
#include "yaml_front.h"

static char *print_diags(diag_list *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    diag_print(d, mem);
    fclose(mem);
    return buf;
}

static node *yaml(arena *a, diag_list *d, const char *src)
{
    return yaml_front_parse(a, d, src, strlen(src));
}

static node *lua(arena *a, diag_list *d, const char *src)
{
    return lua_front_parse(a, d, src, strlen(src), "test.lua");
}

/* ---- YAML -------------------------------------------------------------- */

static void test_yaml_positions(void)
{
    const char *src = "bot:\n  name: x\nтексты:\n  ключ: значение\nlist: [a, 'b', 3, true, ~]\n";
    arena *a = arena_new();
    diag_list *d = diag_new("t.yaml", src);
    node *root = yaml(a, d, src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_EQUAL(diag_errors(d), 0);
    CU_ASSERT_EQUAL(root->kind, NODE_MAP);
    CU_ASSERT_EQUAL(root->n, 3);
    node *bot = node_get(root, "bot");
    CU_ASSERT_EQUAL(bot->pos.line, 2);
    CU_ASSERT_EQUAL(bot->pos.col, 3);
    CU_ASSERT_EQUAL(bot->key_pos[0].line, 2);
    CU_ASSERT_EQUAL(bot->key_pos[0].col, 3);
    CU_ASSERT_EQUAL(bot->items[0]->pos.col, 9);
    node *t = node_get(root, "тексты");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(root->key_pos[1].line, 3);
    /* columns count code points, not bytes: "  ключ: " is 8 characters */
    CU_ASSERT_EQUAL(t->items[0]->pos.line, 4);
    CU_ASSERT_EQUAL(t->items[0]->pos.col, 9);
    CU_ASSERT_STRING_EQUAL(t->items[0]->str, "значение");
    node *l = node_get(root, "list");
    CU_ASSERT_EQUAL_FATAL(l->n, 5);
    CU_ASSERT_EQUAL(l->items[0]->kind, NODE_STR);
    CU_ASSERT_EQUAL(l->items[1]->kind, NODE_STR);
    CU_ASSERT_EQUAL(l->items[2]->kind, NODE_NUM);
    CU_ASSERT_STRING_EQUAL(l->items[2]->str, "3");
    CU_ASSERT_EQUAL(l->items[3]->kind, NODE_BOOL);
    CU_ASSERT_EQUAL(l->items[4]->kind, NODE_NULL);
    CU_ASSERT_EQUAL(l->items[1]->pos.col, 11);
    diag_free(d);
    arena_free(a);
}

static void test_yaml_duplicates_kept_in_order(void)
{
    const char *src = "b: 1\na: 2\nb: 3\n";
    arena *a = arena_new();
    diag_list *d = diag_new("t.yaml", src);
    node *root = yaml(a, d, src);
    CU_ASSERT_EQUAL_FATAL(root->n, 3);
    CU_ASSERT_STRING_EQUAL(root->keys[0], "b");
    CU_ASSERT_STRING_EQUAL(root->keys[1], "a");
    CU_ASSERT_STRING_EQUAL(root->keys[2], "b");
    CU_ASSERT_STRING_EQUAL(root->items[2]->str, "3");
    CU_ASSERT_EQUAL(root->key_pos[2].line, 3);
    diag_free(d);
    arena_free(a);
}

static void test_yaml_aliases_and_errors(void)
{
    const char *src = "x: &t {en: Hi}\ny: *t\n";
    arena *a = arena_new();
    diag_list *d = diag_new("t.yaml", src);
    node *root = yaml(a, d, src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    node *y = node_get(root, "y");
    CU_ASSERT_EQUAL(y->kind, NODE_MAP);
    CU_ASSERT_STRING_EQUAL(node_get(y, "en")->str, "Hi");
    CU_ASSERT_EQUAL(y->pos.line, 2); /* the alias's own position */
    diag_free(d);

    const char *bad = "a: [1, 2\nb: 3\n";
    d = diag_new("t.yaml", bad);
    CU_ASSERT_PTR_NULL(yaml(a, d, bad));
    CU_ASSERT_EQUAL(diag_errors(d), 1);
    char *out = print_diags(d);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.yaml:2:2: error: invalid YAML"));
    free(out);
    diag_free(d);

    const char *two = "a: 1\n---\nb: 2\n";
    d = diag_new("t.yaml", two);
    CU_ASSERT_PTR_NULL(yaml(a, d, two));
    out = print_diags(d);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "t.yaml:2:1: error: a spec is a single YAML document"));
    free(out);
    diag_free(d);
    arena_free(a);
}

/* ---- Lua --------------------------------------------------------------- */

/* Run `src` and return the diagnostics text (caller frees). */
static char *lua_diags(const char *src, node **root)
{
    arena *a = arena_new();
    diag_list *d = diag_new("test.lua", src);
    node *r = lua(a, d, src);
    if (root)
        *root = r;
    char *out = print_diags(d);
    diag_free(d);
    arena_free(a);
    return out ? out : strdup("");
}

static void test_lua_sandbox(void)
{
    static const char *const blocked[] = {
        "return io.open('/etc/passwd')",
        "return os.execute('true')",
        "return require('os')",
        "return dofile('/etc/passwd')",
        "return load('return 1')()",
        "return loadfile('/etc/passwd')",
        "return string.dump(print)",
        "return debug.getinfo(1)",
        "return package.loaded",
        "return collectgarbage()",
    };
    for (size_t i = 0; i < sizeof blocked / sizeof *blocked; i++) {
        char *out = lua_diags(blocked[i], NULL);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "test.lua:1:"));
        CU_ASSERT_PTR_NOT_NULL(strstr(out, ": error: the spec's Lua code failed while running: "
                                           "attempt to"));
        if (!strstr(out, "attempt to"))
            fprintf(stderr, "\nnot blocked: %s\n%s", blocked[i], out);
        free(out);
    }
    /* the safe libraries are there */
    node *root = NULL;
    arena *a = arena_new();
    const char *ok = "return { s = string.format('%d', math.max(1, 2)), n = #table.pack(1, 2),"
                     " u = utf8.char(1046) }";
    diag_list *d = diag_new("test.lua", ok);
    root = lua(a, d, ok);
    CU_ASSERT_EQUAL(diag_errors(d), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_STRING_EQUAL(node_get(root, "s")->str, "2");
    CU_ASSERT_STRING_EQUAL(node_get(root, "n")->str, "2");
    CU_ASSERT_STRING_EQUAL(node_get(root, "u")->str, "Ж");
    diag_free(d);
    arena_free(a);
}

static void test_lua_limits(void)
{
    char *out = lua_diags("local x = 0\nwhile true do\n  x = x + 1\nend\nreturn {}\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "error: spec runs too long"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "test.lua:3:") ? strstr(out, "test.lua:3:")
                                                      : strstr(out, "test.lua:2:"));
    free(out);
    out = lua_diags("local t = {}\nfor i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end\n"
                    "return t\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "too much memory") ? strstr(out, "too much memory")
                                                          : strstr(out, "runs too long"));
    free(out);
    out = lua_diags("local s = string.rep('x', 1 << 30)\nreturn {}\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "too much memory"));
    free(out);
}

static void test_lua_errors_are_diagnostics(void)
{
    char *out = lua_diags("return {\n  a = 1,\n  b = = 2,\n}\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "test.lua:3:5: error: unexpected symbol near '='"));
    free(out);
    out = lua_diags("local t = {}\n\nerror('bad spec')\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "test.lua:3:1: error: bad spec"));
    free(out);
    out = lua_diags("return 42\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "must return a table, not number"));
    free(out);
    out = lua_diags("return { f = print }\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "test.lua:1:14: error: a function cannot appear in a spec"));
    free(out);
    out = lua_diags("local t = {}\nt.self = t\nreturn t\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "contains itself"));
    free(out);
    out = lua_diags("return { 1, 2, x = 3 }\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "mixes list items and named keys"));
    free(out);
    out = lua_diags("return { [1.5] = 'a' }\n", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "map keys must be strings"));
    free(out);
}

static void test_lua_conversion_and_positions(void)
{
    const char *src = "-- spec\n"
                      "local rows = { { text = 'b' } }\n"
                      "return {\n"
                      "  zeta = 1,\n"
                      "  alpha = { 'x', \"y\", 0.5, true },\n"
                      "  [\"quoted key\"] = { nested = { deep = -7 } },\n"
                      "  rows = rows,\n"
                      "  empty = {},\n"
                      "}\n";
    arena *a = arena_new();
    diag_list *d = diag_new("test.lua", src);
    node *root = lua(a, d, src);
    CU_ASSERT_EQUAL(diag_errors(d), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_EQUAL(root->kind, NODE_MAP);
    CU_ASSERT_EQUAL_FATAL(root->n, 5);
    /* Lua maps come out sorted */
    CU_ASSERT_STRING_EQUAL(root->keys[0], "alpha");
    CU_ASSERT_STRING_EQUAL(root->keys[1], "empty");
    CU_ASSERT_STRING_EQUAL(root->keys[2], "quoted key");
    CU_ASSERT_STRING_EQUAL(root->keys[3], "rows");
    CU_ASSERT_STRING_EQUAL(root->keys[4], "zeta");
    CU_ASSERT_EQUAL(root->key_pos[0].line, 5);
    CU_ASSERT_EQUAL(root->key_pos[0].col, 3);
    CU_ASSERT_EQUAL(root->key_pos[2].line, 6);
    CU_ASSERT_EQUAL(root->key_pos[4].line, 4);
    node *alpha = root->items[0];
    CU_ASSERT_EQUAL(alpha->kind, NODE_SEQ);
    CU_ASSERT_EQUAL_FATAL(alpha->n, 4);
    CU_ASSERT_EQUAL(alpha->items[1]->pos.line, 5);
    CU_ASSERT_EQUAL(alpha->items[1]->pos.col, 18);
    CU_ASSERT_STRING_EQUAL(alpha->items[2]->str, "0.5");
    CU_ASSERT_EQUAL(alpha->items[2]->kind, NODE_NUM);
    CU_ASSERT_EQUAL(alpha->items[3]->kind, NODE_BOOL);
    CU_ASSERT_EQUAL(root->items[1]->kind, NODE_SEQ);
    CU_ASSERT_EQUAL(root->items[1]->n, 0);
    node *deep = node_get(node_get(root->items[2], "nested"), "deep");
    CU_ASSERT_STRING_EQUAL(deep->str, "-7");
    CU_ASSERT_EQUAL(deep->pos.line, 6);
    /* `rows = rows` follows the variable to its constructor on line 2 */
    node *rows = root->items[3];
    CU_ASSERT_EQUAL(rows->pos.line, 2);
    CU_ASSERT_EQUAL(node_get(rows->items[0], "text")->pos.line, 2);
    CU_ASSERT_EQUAL(node_get(rows->items[0], "text")->pos.col, 25);
    diag_free(d);
    arena_free(a);
}

/* ---- YAML and Lua agree ------------------------------------------------- */

static void dump_tr(FILE *f, const ir_transition *t)
{
    fprintf(f, " tr[say=%s go=%s/%d form=%s/%d act=%s/%d", t->say.key ? t->say.key : "-",
            t->go ? t->go : "-", t->go_idx, t->form ? t->form : "-", t->form_idx,
            t->action ? t->action : "-", t->action_id);
    for (int i = 0; i < t->n_set; i++)
        fprintf(f, " %s=%s/%d", t->set[i].var, t->set[i].value, t->set[i].var_idx);
    fputs("]", f);
}

static void dump_kb(FILE *f, const ir_keyboard *kb)
{
    fprintf(f, " kb[%d %d", kb->present, kb->remove);
    for (int r = 0; r < kb->n_rows; r++) {
        fputs(" (", f);
        for (int b = 0; b < kb->rows[r].n_buttons; b++) {
            const ir_button *bt = &kb->rows[r].buttons[b];
            fprintf(f, " %d %s/%d %s %s", (int)bt->kind, bt->label.key, bt->label.idx,
                    bt->data ? bt->data : "-", bt->url ? bt->url : "-");
            dump_tr(f, &bt->tr);
        }
        fputs(")", f);
    }
    fputs("]", f);
}

/* Everything in the IR except source positions. */
static char *dump_ir(const ir_spec *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "bot %s %s start=%s/%d\n", s->name, s->default_lang, s->start, s->start_idx);
    for (int i = 0; i < s->n_langs; i++)
        fprintf(f, "lang %s\n", s->langs[i]);
    for (int i = 0; i < s->n_texts; i++) {
        fprintf(f, "text %s inline=%d used=%d", s->texts[i].name, s->texts[i].is_inline,
                s->texts[i].used);
        for (int k = 0; k < s->texts[i].n_trs; k++)
            fprintf(f, " %s=%s", s->texts[i].trs[k].lang, s->texts[i].trs[k].value);
        fputc('\n', f);
    }
    for (int i = 0; i < s->n_commands; i++) {
        fprintf(f, "command %s desc=%s/%d", s->commands[i].name,
                s->commands[i].description.key ? s->commands[i].description.key : "-",
                s->commands[i].description.idx);
        dump_tr(f, &s->commands[i].tr);
        fputc('\n', f);
    }
    for (int i = 0; i < s->n_states; i++) {
        const ir_state *st = &s->states[i];
        fprintf(f, "state %s reach=%d say", st->name, st->reachable);
        for (int k = 0; k < st->n_say; k++)
            fprintf(f, " %s/%d", st->say[k].key, st->say[k].idx);
        dump_kb(f, &st->reply);
        dump_kb(f, &st->inl);
        for (int k = 0; k < st->n_on; k++) {
            fprintf(f, " on[%d %s %s]", (int)st->on[k].trigger, st->on[k].arg ? st->on[k].arg : "-",
                    st->on[k].text.key ? st->on[k].text.key : "-");
            dump_tr(f, &st->on[k].tr);
        }
        fputc('\n', f);
    }
    for (int i = 0; i < s->n_forms; i++) {
        const ir_form *fm = &s->forms[i];
        fprintf(f, "form %s", fm->name);
        for (int k = 0; k < fm->n_fields; k++) {
            const ir_field *fd = &fm->fields[k];
            fprintf(f, " field[%s ask=%d v=%d %d:%g %d:%g %s n=%d]", fd->name, fd->ask.idx,
                    (int)fd->v, fd->has_min, fd->min, fd->has_max, fd->max,
                    fd->regex ? fd->regex : "-", fd->n_choices);
        }
        dump_tr(f, &fm->done);
        dump_tr(f, &fm->cancel);
        fputc('\n', f);
    }
    for (int i = 0; i < s->n_vars; i++)
        fprintf(f, "var %s=%s declared=%d\n", s->vars[i].name, s->vars[i].initial,
                s->vars[i].declared);
    fclose(f);
    return buf;
}

static void test_yaml_and_lua_same_ir(void)
{
    arena *a = arena_new();
    diag_list *dy = NULL, *dl = NULL;
    ir_spec *y = load_spec(a, "tests/codegen/diag/clean.yaml", &dy);
    ir_spec *l = load_spec(a, "tests/codegen/diag/lua_clean.lua", &dl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(diag_errors(dy) + diag_warnings(dy), 0);
    CU_ASSERT_EQUAL(diag_errors(dl) + diag_warnings(dl), 0);
    char *sy = dump_ir(y), *sl = dump_ir(l);
    if (strcmp(sy, sl) != 0)
        fprintf(stderr, "\n--- yaml IR:\n%s--- lua IR:\n%s", sy, sl);
    CU_ASSERT_STRING_EQUAL(sy, sl);
    /* and something real was compared */
    CU_ASSERT_PTR_NOT_NULL(strstr(sy, "state welcome reach=1 say welcome/0 menu/1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sy, "text welcome.inline.0.1.text inline=1 used=1 en=More ru=Ещё"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sy, "var booking.days= declared=0"));
    /* positions are each file's own */
    CU_ASSERT_EQUAL(y->states[1].pos.line, 37);
    CU_ASSERT_EQUAL(l->states[1].pos.line, 35);
    CU_ASSERT_EQUAL(l->states[1].on[0].arg_pos.line, 38);
    CU_ASSERT_EQUAL(l->forms[0].fields[1].pos.line, 47);
    free(sy);
    free(sl);
    diag_free(dy);
    diag_free(dl);
    arena_free(a);
}

static void test_load_errors(void)
{
    arena *a = arena_new();
    diag_list *d = NULL;
    CU_ASSERT_PTR_NULL(load_spec(a, "tests/codegen/diag/nope.yaml", &d));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *out = print_diags(d);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "tests/codegen/diag/nope.yaml: error: cannot read the spec"));
    free(out);
    diag_free(d);
    CU_ASSERT_PTR_NULL(load_spec(a, "tests/codegen/diag/bad_ext.txt", &d));
    CU_ASSERT_EQUAL(diag_errors(d), 1);
    diag_free(d);
    arena_free(a);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("front", NULL, NULL);
    CU_add_test(s, "yaml positions", test_yaml_positions);
    CU_add_test(s, "yaml duplicate keys kept in order", test_yaml_duplicates_kept_in_order);
    CU_add_test(s, "yaml aliases and errors", test_yaml_aliases_and_errors);
    CU_add_test(s, "lua sandbox", test_lua_sandbox);
    CU_add_test(s, "lua limits", test_lua_limits);
    CU_add_test(s, "lua errors are diagnostics", test_lua_errors_are_diagnostics);
    CU_add_test(s, "lua conversion and positions", test_lua_conversion_and_positions);
    CU_add_test(s, "yaml and lua give the same IR", test_yaml_and_lua_same_ir);
    CU_add_test(s, "load errors", test_load_errors);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}
