/*
 * lead.h — completed forms posted to the managers' group as leads.
 *
 * A form with `lead:` in the spec (bm_form.lead) makes every completed
 * record a lead: lead_add writes it to the `leads` table in the transaction
 * that stores the record, so a lead exists exactly when its record does.
 * The transport's event loop then posts it (lead_pump) to
 * MANAGER_GROUP_CHAT_ID: as a plain message (`lead: chat`), in a new forum
 * topic per lead (`lead: topic`), or in one named topic (`lead: {topic:
 * Leads}`) whose thread id is remembered. The message goes through the
 * outbox (durable, flood-limited); the lead is marked posted in the same
 * transaction that stages it. Creating a topic is a direct call: the
 * lead's thread_id (or the named topic's row) is set to -2 ("creating")
 * and committed before the call goes out, and the answer's thread id
 * replaces it at once. A -2 found at the next pump means the bot stopped
 * in between; an answer lost on the wire (tg_result.maybe_taken, a 5xx)
 * means the same: Telegram may have made the topic, and there is no way to
 * find it, so the bot logs "a topic may have been created twice for lead
 * N (...)" / "the leads topic 'X' may have been created twice (...)" and
 * creates it again — a second topic, never a lost lead. A group that refuses topics (not a forum,
 * no right to manage topics: a 400) gets the lead as a plain message.
 * Without MANAGER_GROUP_CHAT_ID leads stay in the database only.
 *
 * Tables (storage/store_lead.h; created when missing):
 *   leads(id PK, user_id, form, text, thread_id, posted, created)
 *         thread_id: the topic of a `lead: topic` lead once created (and
 *         where a posted lead went), -1 = without a topic, -2 = its
 *         createForumTopic is out; posted: 1 once staged in the outbox
 *   lead_topics(chat_id, name, thread_id)  the named topics, per group
 *         (PK chat_id, name: a thread id means nothing in another group;
 *         thread_id -2 while createForumTopic is out)
 *
 * The lead's text is in the managers' language (ho_mgr_lang: MANAGER_LANGUAGE,
 * else the default language; sys_lead and sys_mgr_lead_client):
 *   📝 New lead · booking
 *   👤 Ann Smith @ann, id 1001, language en
 *   Pickup date: 2025-07-15
 *   ...
 * (sys_lead, the client line, then each field's name made readable and its
 * stored value, in field order). A per-lead topic is named "#<lead id> ·
 * <the client line up to its first comma>": "#12 · Ann Smith @ann".
 * After a group refused a topic (400/403: not a forum, no right to manage
 * topics) leads go without topics for an hour, then the next one asks
 * again (an admin may have fixed the group).
 */
#ifndef BOTC_LEAD_H
#define BOTC_LEAD_H

#include <stddef.h>
#include <stdint.h>

#include "dialogue/machine.h"
#include "telegram/outq.h"
#include "storage/store.h"
#include "telegram/tg.h"

typedef struct lead_book lead_book;

/* group_chat_id: MANAGER_GROUP_CHAT_ID, 0 = none (leads are only stored).
 * st and m borrowed (must outlive the book). NULL with the reason in err. */
lead_book *lead_open(store *st, const bm_machine *m, int64_t group_chat_id, char *err,
                     size_t errlen);
/* Call after the transport's client is gone (its callbacks may use the book). */
void lead_free(lead_book *lb);

/* MANAGER_GROUP_CHAT_ID as a chat id, 0 when unset or malformed (logged). */
int64_t lead_group_from_env(void);

/* The text of a lead of form `form` whose record is `record_json` (the
 * BM_FX_RECORD JSON), from user u (language_code may be NULL; lang_code is
 * the language the bot speaks with them). malloc'd, NULL on out-of-memory. */
char *lead_render(const bm_machine *m, int form, const char *record_json, const bm_user *u,
                  const char *lang_code);

/* Stores a lead for a completed record when the form has `lead:` (else
 * does nothing), inside the caller's open transaction. 0 or -1. */
int lead_add(lead_book *lb, int form, const char *record_json, const bm_user *u,
             const char *lang_code);

/* From the event loop, every turn: posts the leads waiting (creating their
 * topics first where the spec wants them). Cheap when there is nothing to
 * do. tg and q borrowed. */
void lead_pump(lead_book *lb, tg_client *tg, outq *q);

/* Leads waiting to be posted, -1 on a database error. */
int lead_pending(lead_book *lb);

/* delete_data: erases the user's leads, posted or not (a lead not yet
 * posted never will be). The message already in the managers' group is
 * Telegram's and stays there: the business record of a booking request;
 * our copy goes. 0 or -1; NULL lb is fine. */
int lead_forget_user(lead_book *lb, int64_t user_id);
/* export_data: adds "leads" ({"id", "form", "text", "thread_id", "posted",
 * "created"}...) to root. 0 or -1. */
struct cJSON;
int lead_export_user(lead_book *lb, int64_t user_id, struct cJSON *root);

#endif
