/*
 * walsync.h — fdatasync of one file on a thread of its own.
 *
 * Polling confirms updates to Telegram with the next getUpdates offset, and
 * Telegram then forgets them: the inbox rows must be on disk first. Syncing
 * the WAL inside the commit (synchronous=FULL) stopped the event loop for
 * the length of an fdatasync (0.5-2 ms on a virtual disk) once per batch;
 * with walsync the commit stays NORMAL, the loop goes on handling the batch
 * it just stored, and only the next getUpdates waits for the sync.
 *
 *   walsync *w = walsync_new(wal_path, wake, ud);
 *   ... commit ...
 *   uint64_t t = walsync_request(w);   // covers everything written so far
 *   ... later, on the loop's thread ...
 *   if (walsync_done(w) >= t) confirm;
 *
 * fdatasync flushes the file's data whichever descriptor wrote it, so the
 * thread syncs its own read-only descriptor of SQLite's WAL file. A request
 * made while a sync runs is covered by the next one; requests that pile up
 * meanwhile share it.
 */
#ifndef BOTC_WALSYNC_H
#define BOTC_WALSYNC_H

#include <stdint.h>

typedef struct walsync walsync;

/* Starts the thread. path is copied; the file may not exist yet (it is
 * opened at the first request). wake(ud) is called on the sync thread after
 * each sync (or failure), e.g. tg_wakeup to end the loop's wait; it may be
 * NULL. NULL on failure (out of memory, no thread). */
walsync *walsync_new(const char *path, void (*wake)(void *ud), void *ud);
/* Joins the thread (a sync in progress finishes first). NULL is a no-op. */
void walsync_free(walsync *w);

/* Asks for a sync of everything written to the file before this call.
 * Returns its ticket (1, 2, ...). Never blocks on the disk. */
uint64_t walsync_request(walsync *w);
/* The highest ticket whose sync has succeeded: everything written before
 * walsync_request returned it is on disk. */
uint64_t walsync_done(walsync *w);
/* Waits until ticket is done or a sync fails. 0 once done, -1 on failure.
 * Blocks: for shutdown, not for the event loop. */
int walsync_wait(walsync *w, uint64_t ticket);
/* How many syncs have failed (open or fdatasync errors, logged). A failed
 * sync leaves walsync_done where it was; the next request tries again. */
unsigned long walsync_failures(walsync *w);

#endif
