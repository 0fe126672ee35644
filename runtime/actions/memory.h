/*
 * memory.h — long-term memory: what the bot keeps about a user across
 * sessions (a closed session's summary, a fact the user asked it to keep:
 * "remember that I prefer Python"), and what it recalls of it for each
 * question the model answers.
 *
 * Items live in the bot's database (storage/store_memory.h), analysed for
 * retrieval when kept (ai/retr.h: stems, the built-in synonyms and the
 * spec's llm.synonyms). For a question, the asking user's items — and only
 * theirs: the query that reads them names the user — are ranked by bm25
 * (retr_rank) and the best ones, within MEMORY_TOKENS, go into the model's
 * system prompt under a "long-term memory" heading (actions/llm.c).
 *
 * Hybrid: with an embeddings server (EMBEDDINGS_BASE and EMBEDDINGS_MODEL)
 * a fact kept by `remember` is embedded first (deferred I/O, BOT_IO_EMBED)
 * and its vector stored with it; a question of a user who has vectors is
 * embedded too (actions/llm.c), and the items whose cosine to it reaches
 * MEMORY_MIN_COSINE (env, default 0.5) join the bm25 ranking by
 * reciprocal rank fusion (ai/vec.h). Items kept without a vector (by
 * memory_keep: session summaries; offline; when the fact's embedding
 * failed) get one later on the transport's loop (ai/memvec.h:
 * memory_embed_start/pump/stop); until then their words recall them.
 *
 * The part (registry.h: MEMORY) also answers the buttons of /memory (forget
 * one item) and of /forget's confirmation, and takes the items into
 * export_data and delete_data. The actions (`remember`, `memory_list`,
 * `memory_forget`) are in memory.c.
 */
#ifndef BOTC_ACT_MEMORY_H
#define BOTC_ACT_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "ai/embed.h"
#include "dialogue/bot.h"

#define MEMORY_MAX_ITEMS 1000 /* per user: a new item pushes the oldest out */
#define MEMORY_MAX_TEXT 1500  /* bytes of one item (cut at a character): fits MEMORY_TOKENS */
#define MEMORY_TOKENS 400     /* of recalled items in one request (about 4 bytes a token) */
#define MEMORY_HITS 5         /* items recalled for one question at most */

/* Keeps text as a memory item of user_id: kind "summary" (a closed
 * session's summary) or "fact" (what the user asked to keep); session_id
 * the session it came from, 0 for none. Runs inside the input's
 * transaction (rolled back with it). Blank text keeps nothing (0). 0, or
 * -1 on a database error or out-of-memory, or when the bot has no memory
 * part. */
int memory_keep(bot *b, int64_t user_id, const char *kind, const char *text, int64_t session_id);

/* What the model should recall of user_id's memory for question q: a
 * malloc'd block for the system prompt (a heading, then one line per
 * item, best first, at most MEMORY_HITS and MEMORY_TOKENS), or NULL when
 * nothing of their memory concerns q (or on an error, logged: the answer
 * goes on without memory). */
char *memory_recall(bot *b, int64_t user_id, const char *q);
/* The same with the question's embedding qv (dims floats; NULL: words
 * only): hybrid when the user's items have vectors of that size. */
char *memory_recall_hybrid(bot *b, int64_t user_id, const char *q, const float *qv, int dims);
/* Whether q's embedding would help recall user_id's memory: an embeddings
 * model is configured and some of their items have vectors by it. */
bool memory_wants_vector(bot *b, int64_t user_id);

/* The transport's side (delivery/tgbot.c): memory_embed_start gives the
 * part ec (borrowed until memory_embed_stop) to embed the items kept
 * without a vector; pump, every turn of the loop, starts a call when some
 * wait (cheap otherwise); stop abandons a call in flight, before ec is
 * freed. Without an embeddings model (EMBEDDINGS_MODEL) they do nothing.
 * start: 0, or -1 on out-of-memory. */
int memory_embed_start(bot *b, embed_client *ec);
void memory_embed_pump(bot *b);
void memory_embed_stop(bot *b);

#endif
