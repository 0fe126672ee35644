/*
 * listen.h — the executor of BOT_IO_VOICE (dialogue/deferred.h): a voice
 * note's transcript, on the event loop.
 *
 *   getFile (the Bot API) -> download of the file URL (the token is in it:
 *   the HTTP client logs no URL; capped at 20 MB) -> a remote engine
 *   (ai/whisper.h, when ASR_API_BASE is set) or the offline one
 *   (ai/asr.h: decode and recognise on a worker thread, the answer posted
 *   back to the loop) -> the answer.
 *
 * The worker is one thread, taking notes in arrival order; the inbox keeps
 * each chat's order (a chat's later updates wait behind its voice note).
 * The transport calls listen_pump on its loop turn (the worker wakes the
 * loop when a note is done).
 */
#ifndef BOTC_LISTEN_H
#define BOTC_LISTEN_H

#include <stdbool.h>

#include "dialogue/deferred.h"
#include "net/loop.h"
#include "telegram/tg.h"

#define LISTEN_MAX_BYTES (20L * 1024 * 1024) /* the Bot API's download cap */

typedef struct listen_ctx listen_ctx;

/* lp and tg borrowed. Never NULL but on out-of-memory; the offline model
 * and the remote client are made on the first note. */
listen_ctx *listen_new(loop *lp, tg_client *tg);
/* Stops the worker (the note it recognises finishes first); notes not
 * answered get their callbacks now, failed (their owners have abandoned
 * them by then, or free what they hold). */
void listen_free(listen_ctx *v);

typedef void (*listen_done_fn)(void *ud, const bot_io_res *res);

/* Starts req (BOT_IO_VOICE). 0: done runs exactly once, later (res.ok:
 * body = the transcript; else res.status = a bm_voice_fail); -1 with a
 * reason in *why. */
typedef struct listen_job listen_job;
listen_job *listen_start(listen_ctx *v, const bot_io_req *req, listen_done_fn done, void *ud,
                       const char **why);

/* Runs the callbacks of notes the worker finished (loop thread). */
void listen_pump(listen_ctx *v);
/* Whether listen_pump has something to do (any thread). */
bool listen_ready(const listen_ctx *v);

#endif
