/*
 * handoff.h — human operators: the managers' forum group, one topic per
 * client, messages relayed both ways while a handoff is open.
 *
 * Configuration (read by ho_open from the environment):
 *   MANAGER_GROUP_CHAT_ID  the managers' forum supergroup (-100...); unset or
 *                          0 = no operators (handoff answers sys_handoff_off)
 *   ADMIN_USER_ID          the one user who may /addmanager, /delmanager,
 *                          /managers; unset = nobody
 *
 * Tables (created by ho_open in the bot's database; storage/store_handoff.h):
 *   managers(user_id PK, name, added)
 *   handoffs(id PK, user_id, chat_id, thread_id, status, opened, closed,
 *            closed_by, rating, tries)   status 'creating' | 'open' | 'closed';
 *                                        opened / closed unix seconds; rating
 *                                        1..5 or NULL; tries: createForumTopic
 *                                        attempts while 'creating'
 * At most one open and one 'creating' handoff per user (partial unique
 * indexes). A 'creating' row is committed before createForumTopic goes out
 * and becomes the open handoff when its answer arrives; one still there at
 * the next attempt means a topic may exist twice (logged: see ho_start).
 *
 * Mechanics (actions/handoff.c calls these inside the input's transaction):
 *   ho_take   before the machine: updates from the managers' group, the
 *             handoff buttons ("ho:" callback data), admin commands, and
 *             everything a user with an open handoff sends, except a
 *             request for an operator and a feedback vote ("bm:fb:") under
 *             an earlier AI answer, which still count. Taken inputs never
 *             reach the machine (the AI stays quiet).
 *   ho_start  the `handoff` action: reuse the open topic, or ask for
 *             createForumTopic (deferred I/O, dialogue/deferred.h) and on
 *             its answer store the handoff and post the client card and the
 *             conversation so far. An answer lost (the connection broke
 *             after the request went out, the bot killed meanwhile) means
 *             the topic is asked for again, up to 3 attempts, each logged
 *             as "a topic may have been created twice for user N (...)".
 * Bot API calls the module makes (copyMessage, sendMessage with
 * message_thread_id, closeForumTopic) are BM_FX_CALL effects.
 *
 * Authority: nothing in callback data is trusted. A rating or "I'm
 * satisfied" press counts only from the handoff's own user; group messages
 * count only from managers (or the admin), never from a bot, and only in
 * MANAGER_GROUP_CHAT_ID; admin commands only from ADMIN_USER_ID.
 *
 * One handle per bot, used from the bot's thread only.
 */
#ifndef BOTC_HANDOFF_H
#define BOTC_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include "dialogue/deferred.h"
#include "dialogue/machine.h"
#include "storage/store.h"

typedef struct ho ho;

/* Creates the tables and reads the environment. st and m are borrowed and
 * must outlive the handle. NULL on failure with the reason in err. */
ho *ho_open(store *st, const bm_machine *m, char *err, size_t errlen);
void ho_free(ho *h);

/* MANAGER_GROUP_CHAT_ID, 0 when unset (no operators). */
int64_t ho_group_chat_id(const ho *h);
/* ADMIN_USER_ID, 0 when unset. */
int64_t ho_admin_id(const ho *h);
/* Overrides what ho_open read (tests). */
void ho_set_config(ho *h, int64_t group_chat_id, int64_t admin_user_id);

/* ---- managers ------------------------------------------------------------ */

/* 1 when user_id is a manager or the admin, 0 when not, -1 on a database
 * error. For exemptions (token limits) elsewhere too. */
int ho_is_manager(ho *h, int64_t user_id);
/* Insert or rename. 0, or -1 on a database error. */
int ho_add_manager(ho *h, int64_t user_id, const char *name);
/* 1 removed, 0 was not a manager, -1 on a database error. */
int ho_del_manager(ho *h, int64_t user_id);
/* "555 Mia\n556 Max\n" in id order, or "" when none; malloc'd, NULL on
 * error. */
char *ho_list_managers(ho *h);

/* ---- handoffs ------------------------------------------------------------ */

typedef enum ho_status { HO_OPEN = 0, HO_CLOSED = 1 } ho_status;

typedef struct ho_handoff {
    int64_t id;
    int64_t user_id;
    int64_t chat_id;    /* the user's private chat */
    int64_t thread_id;  /* the topic in the managers' group */
    ho_status status;
    int64_t opened, closed; /* unix seconds; closed 0 while open */
    int rating;         /* 1..5, 0 = none yet */
} ho_handoff;

/* The user's open handoff into *out: 1 found, 0 none, -1 error. */
int ho_find_open(ho *h, int64_t user_id, ho_handoff *out);
/* The open handoff of topic thread_id: 1 found, 0 none, -1 error. */
int ho_find_thread(ho *h, int64_t thread_id, ho_handoff *out);
/* The handoff with this id (open or closed): 1 found, 0 none, -1 error. */
int ho_find_id(ho *h, int64_t id, ho_handoff *out);
/* Records an open handoff; *id gets its id. 0 or -1. */
int ho_insert(ho *h, int64_t user_id, int64_t chat_id, int64_t thread_id, int64_t *id);
/* Closes handoff id (by = who: the manager's or the user's id). 1 closed
 * now, 0 it was not open, -1 error. */
int ho_close(ho *h, int64_t id, int64_t by);
/* Stores a 1..5 rating of closed handoff id, only for its own user and
 * only once: 1 stored, 0 refused, -1 error. */
int ho_rate(ho *h, int64_t id, int64_t user_id, int rating);
/* Removes every handoff row of the user (delete_data). A manager stays a
 * manager: that row is the admin's configuration (/delmanager removes
 * it). 0 or -1. */
int ho_forget_user(ho *h, int64_t user_id);
/* Adds "handoffs" (the user's, open and closed, with ratings) and
 * "manager" ({"name", "added"} or null) to root (export_data). 0 or -1. */
struct cJSON;
int ho_export_user(ho *h, int64_t user_id, struct cJSON *root);

/* ---- routing ------------------------------------------------------------- */

/* Who an input is, as far as handoff is concerned (pure: no I/O). */
typedef enum ho_route {
    HO_R_PASS = 0,      /* not ours: the machine steps it */
    HO_R_IGNORE,        /* drop silently (group noise, bots, strangers) */
    HO_R_GROUP_RELAY,   /* a manager writing in a topic */
    HO_R_GROUP_CLOSE,   /* /close in a topic */
    HO_R_ADMIN,         /* /addmanager, /delmanager, /managers from the admin */
    HO_R_BUTTON,        /* an "ho:" callback (satisfied, rating) */
    HO_R_USER_RELAY,    /* a user with an open handoff (decided by ho_take) */
} ho_route;

/* The decision for `in` given the configuration; is_manager says whether
 * in->user.id is a manager (the caller looks it up only when it matters).
 * HO_R_PASS for private messages: whether the user has an open handoff is
 * ho_take's business. */
ho_route ho_classify(int64_t group_chat_id, int64_t admin_id, int64_t bot_id,
                     const bm_input *in, int is_manager);

/* Parses "ho:r:<handoff id>:<1..5>" / "ho:ok:<handoff id>". Returns 'r'
 * (rating into *rating) or 's' (satisfied), 0 when not one of ours. */
int ho_parse_button(const char *data, int64_t *id, int *rating);

/* The topic name for a client: "Ann Smith (@ann) #1001", at most 128
 * bytes (Telegram's limit), never cutting a UTF-8 sequence. */
void ho_topic_name(const bm_user *u, char *out, size_t outlen);

/* ---- texts for the managers ------------------------------------------------ */

/* The managers' language: MANAGER_LANGUAGE when the spec speaks it (else a
 * warning, once), otherwise the spec's default language. An index into
 * m->langs. */
int ho_mgr_lang(const bm_machine *m);
/* The spec's sys text t (one of the sys_mgr_* texts, or sys_lead) in the
 * managers' language; its user placeholders ({first_name}, {user_id}, ...)
 * name u (the client, or the manager a command is about; NULL = none) and
 * {text} is text (NULL = ""). malloc'd, NULL on out-of-memory. */
char *ho_mgr_text(const bm_machine *m, bm_sys_text t, const bm_user *u, const char *text);

/* ---- mechanics (inside the input's transaction) --------------------------- */

/* Handles `in` when it is handoff business (see ho_route): appends the
 * effects (SEND, ANSWER, CALL) to out. Returns 1 when taken (the machine
 * must not see it), 0 to pass it to the machine, -1 on a storage error. */
int ho_take(ho *h, const bm_input *in, bm_effects *out);

/* The `handoff` action for session s (the user's own input `in`). Appends
 * what to send to out. With req NULL (no event loop: console, conversation
 * tests) or no MANAGER_GROUP_CHAT_ID it says sys_handoff_off. Without an
 * open handoff and without res it asks for createForumTopic in *req
 * (dialogue/deferred.h); run again with the answer in res, it records the
 * handoff and posts the card (or asks again). Returns 0 or -1 (storage
 * error, OOM). */
int ho_start(ho *h, const bm_session *s, const bm_input *in, const bot_io_res *res,
             bot_io_req *req, bm_effects *out);

/* How bot_handle_tx's savepoint for an input ended. */
enum { HO_INPUT_COMMITTED = 0, HO_INPUT_DEFERRED = 1, HO_INPUT_FAILED = 2 };

/* Called by bot_handle_tx after every input's savepoint ended, outside it
 * (in the caller's transaction, else autocommit): when ho_start deferred
 * for createForumTopic, writes the user's 'creating' mark (so it commits
 * before the request goes out); when the answer's thread id came and the
 * input then failed, stores it on that mark (the next request uses the
 * topic instead of creating one). 0, or -1 when the write failed (logged;
 * the input goes on as without the mark). */
int ho_after_input(ho *h, int outcome);

#endif
