/*
 * sql_int.h — a test's look into a store's database, for checks: the
 * SQLite handle behind a store (the store's own, reached through the
 * storage files' internal header, as no module above storage/ may) and one
 * integer read from it.
 */
#ifndef BOTC_TEST_SQL_INT_H
#define BOTC_TEST_SQL_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "storage/store.h"

/* The first column of sql's first row as an integer; -1 when the query
 * does not prepare or returns no row (a negative answer, e.g. a PRAGMA's,
 * comes back as it is). */
int64_t sql_int(sqlite3 *db, const char *sql);
/* The SQLite connection of st, owned by st. */
sqlite3 *sql_store_db(store *st);
/* sql_int on a store's database. */
int64_t store_int(store *st, const char *sql);

#endif
