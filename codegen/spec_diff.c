/*
 * spec_diff.c — compare two checked specs for the people who deploy them
 * (see spec_diff.h). Names are what users' stored data refers to (the
 * runtime stores states, forms and fields by name), so everything here is
 * compared by name.
 */
#include "spec_diff.h"

#include <sqlite3.h>
#include <string.h>

static const ir_state *find_state(const ir_spec *s, const char *name)
{
    for (int i = 0; i < s->n_states; i++)
        if (strcmp(s->states[i].name, name) == 0)
            return &s->states[i];
    return NULL;
}

static const ir_form *find_form(const ir_spec *s, const char *name)
{
    for (int i = 0; i < s->n_forms; i++)
        if (strcmp(s->forms[i].name, name) == 0)
            return &s->forms[i];
    return NULL;
}

static int has_field(const ir_form *f, const char *name)
{
    for (int i = 0; f && i < f->n_fields; i++)
        if (strcmp(f->fields[i].name, name) == 0)
            return 1;
    return 0;
}

static int has_command(const ir_spec *s, const char *name)
{
    for (int i = 0; i < s->n_commands; i++)
        if (strcmp(s->commands[i].name, name) == 0)
            return 1;
    return 0;
}

/* The new state that declares `old` in its renamed_from, or NULL. */
static const ir_state *renamed_to(const ir_spec *s, const char *old)
{
    for (int i = 0; i < s->n_states; i++)
        for (int k = 0; k < s->states[i].n_renamed; k++)
            if (strcmp(s->states[i].renamed_from[k], old) == 0)
                return &s->states[i];
    return NULL;
}

static const char *moved_to(const ir_spec *s, const char *old)
{
    for (int i = 0; i < s->n_moves; i++)
        if (strcmp(s->moves[i].from, old) == 0)
            return s->moves[i].to;
    return NULL;
}

/* Users stored in `state` (or mid-form in form.field when field != NULL);
 * 0 without a database, -1 on a read error. */
static long count_users(sqlite3 *db, const char *form, const char *field, const char *state)
{
    if (!db)
        return 0;
    const char *sql = field
        ? "SELECT COUNT(*) FROM users WHERE form = ?1 AND field = ?2"
        : "SELECT COUNT(*) FROM users WHERE state = ?3";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (field) {
        sqlite3_bind_text(st, 1, form, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
    }
    long n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* "  none" under a section heading that listed nothing: `changes` is the
 * running count, *mark its value when the section started. */
static void none_note(FILE *out, int changes, int *mark)
{
    if (changes == *mark)
        fputs("  none\n", out);
    *mark = changes;
}

/* Report a failed read; closes the database. Returns -1 for spec_diff. */
static int read_error(FILE *out, sqlite3 *db, const char *db_path)
{
    fprintf(out, "error: cannot read users from %s: %s\n", db_path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return -1;
}

static void users_note(FILE *out, sqlite3 *db, long n)
{
    if (db)
        fprintf(out, " (%ld user%s)", n, n == 1 ? "" : "s");
    fputc('\n', out);
}

int spec_diff(const ir_spec *o, const ir_spec *n, const char *db_path, FILE *out)
{
    sqlite3 *db = NULL;
    if (db_path) {
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            fprintf(out, "error: cannot open %s: %s\n", db_path,
                    db ? sqlite3_errmsg(db) : "out of memory");
            sqlite3_close(db);
            return -1;
        }
        sqlite3_busy_timeout(db, 2000);
    }

    int problems = 0, changes = 0, unchecked = 0, section = 0;
    fprintf(out, "states:\n");
    for (int i = 0; i < n->n_states; i++) {
        const ir_state *st = &n->states[i];
        if (find_state(o, st->name))
            continue;
        int was_renamed = 0;
        for (int k = 0; k < st->n_renamed; k++)
            if (find_state(o, st->renamed_from[k])) {
                long users = count_users(db, NULL, NULL, st->renamed_from[k]);
                if (users < 0)
                    return read_error(out, db, db_path);
                fprintf(out, "  renamed  %s -> %s", st->renamed_from[k], st->name);
                users_note(out, db, users);
                was_renamed = 1;
                changes++;
            }
        if (!was_renamed) {
            fprintf(out, "  added    %s\n", st->name);
            changes++;
        }
    }
    for (int i = 0; i < o->n_states; i++) {
        const char *name = o->states[i].name;
        if (find_state(n, name))
            continue;
        long users = count_users(db, NULL, NULL, name);
        if (users < 0)
            return read_error(out, db, db_path);
        const ir_state *into = renamed_to(n, name);
        if (into && !find_state(o, into->name))
            continue; /* listed above as renamed */
        const char *dest = moved_to(n, name);
        changes++;
        if (into) {
            /* renamed_from: into a state that existed already */
            fprintf(out, "  merged   %s -> %s", name, into->name);
            users_note(out, db, users);
        } else if (dest) {
            fprintf(out, "  moved    %s -> %s", name, dest);
            users_note(out, db, users);
        } else if (users > 0) {
            fprintf(out, "  REMOVED  %s: %ld user%s stored there and no destination;"
                         " add `renamed_from: [%s]` to a state or `moved: {%s: STATE}`\n",
                    name, users, users == 1 ? "" : "s", name, name);
            problems++;
        } else {
            fprintf(out, "  removed  %s", name);
            if (db)
                fputs(" (no users)", out);
            else
                unchecked++;
            fputs(db ? "\n" : " (users there restart from the start state)\n", out);
        }
    }

    none_note(out, changes, &section);
    fprintf(out, "form fields:\n");
    for (int i = 0; i < n->n_forms; i++) {
        const ir_form *nf = &n->forms[i];
        const ir_form *of = find_form(o, nf->name);
        for (int k = 0; k < nf->n_fields; k++)
            if (!has_field(of, nf->fields[k].name)) {
                fprintf(out, "  added    %s.%s\n", nf->name, nf->fields[k].name);
                changes++;
            }
    }
    for (int i = 0; i < o->n_forms; i++) {
        const ir_form *of = &o->forms[i];
        const ir_form *nf = find_form(n, of->name);
        for (int k = 0; k < of->n_fields; k++) {
            if (has_field(nf, of->fields[k].name))
                continue;
            long users = count_users(db, of->name, of->fields[k].name, NULL);
            if (users < 0)
                return read_error(out, db, db_path);
            fprintf(out, "  removed  %s.%s", of->name, of->fields[k].name);
            /* store_load_session drops a form whose form or field is gone */
            if (users > 0)
                fprintf(out, " (%ld user%s answering it leave%s the form: they stay in their"
                             " state and no record is stored)\n",
                        users, users == 1 ? "" : "s", users == 1 ? "s" : "");
            else
                fputc('\n', out);
            changes++;
        }
    }

    none_note(out, changes, &section);
    fprintf(out, "commands:\n");
    for (int i = 0; i < n->n_commands; i++)
        if (!has_command(o, n->commands[i].name)) {
            fprintf(out, "  added    /%s\n", n->commands[i].name);
            changes++;
        }
    for (int i = 0; i < o->n_commands; i++)
        if (!has_command(n, o->commands[i].name)) {
            fprintf(out, "  removed  /%s\n", o->commands[i].name);
            changes++;
        }

    none_note(out, changes, &section);
    if (problems)
        fprintf(out, "%d blocking problem%s: users would lose their place\n",
                problems, problems == 1 ? "" : "s");
    else if (unchecked)
        fprintf(out, "%d change%s; %d removed state%s without a destination: run again with"
                     " --db var/<bot>.db to count the users there\n",
                changes, changes == 1 ? "" : "s", unchecked, unchecked == 1 ? "" : "s");
    else
        fprintf(out, "%d change%s, safe to deploy\n", changes, changes == 1 ? "" : "s");
    sqlite3_close(db);
    return problems;
}
