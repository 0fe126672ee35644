/*
 * sql_int.c — see sql_int.h.
 */
#include "sql_int.h"

#include <stddef.h>

#include "storage/store_int.h"

int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

sqlite3 *sql_store_db(store *st) { return st->db; }

int64_t store_int(store *st, const char *sql) { return sql_int(sql_store_db(st), sql); }
