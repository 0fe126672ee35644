/*
 * tgbot.h — the Telegram transport: updates by long polling (getUpdates),
 * or by webhook when WEBHOOK_URL is set (webhook.h), replies through the
 * outbox, all in one event loop.
 *
 * Implemented in tgbot.c. Reads its configuration from the environment
 * itself: TELEGRAM_BOT_TOKEN (required), TELEGRAM_API_BASE (default
 * https://api.telegram.org), WEBHOOK_URL, WEBHOOK_LISTEN and WEBHOOK_SECRET,
 * and the other TELEGRAM_* settings it documents.
 */
#ifndef BOTC_TGBOT_H
#define BOTC_TGBOT_H

#include <signal.h>

#include "dialogue/bot.h"

/* Serve the bot on Telegram until *stop becomes non-zero (set from a
 * SIGINT/SIGTERM handler installed without SA_RESTART, so blocking calls
 * return early). `pending` holds effects produced before the transport
 * started (bot_migrate's messages to moved users); tgbot_run delivers them
 * first and may clear them; the caller still owns and frees the list.
 * Returns 0 on a clean stop, 2 on a configuration error (bad token, bad
 * TELEGRAM_API_BASE, a webhook set up wrong or unable to listen), 1 on
 * another runtime failure. */
int tgbot_run(bot *b, bm_effects *pending, volatile sig_atomic_t *stop);

#endif
