/*
 * console.h — the terminal transport: one user talking to the bot through
 * a pair of streams (stdin/stdout, or pipes and memory streams in tests).
 *
 *   bot> Main menu
 *        [1] 🚗 Cars  [2] 📄 Terms
 *   you> 1
 *
 * The console user is id 1 in chat 1; the first name comes from $USER
 * (else "you"), the language from BOT_CONSOLE_LANG, else the first two
 * letters of $LANG. Typing a shown number presses that button; reply
 * buttons are numbered first and keep their numbers while the keyboard
 * stays, inline buttons of the latest messages continue the count.
 * `/contact [+NUMBER]` shares a contact (default BOT_CONSOLE_PHONE, else
 * +15550100000), `/voice` sends a fake voice note, `/quit` or end of input
 * ends. When `in` is not a terminal every line read is echoed as "you> ..."
 * so the output reads as a transcript.
 */
#ifndef BOTC_CONSOLE_H
#define BOTC_CONSOLE_H

#include <signal.h>
#include <stdio.h>

#include "bot.h"

#define CONSOLE_USER_ID 1

/* Runs bot_migrate (printing what it says to the console user), then the
 * dialogue until /quit, end of input or *stop. Returns 0 on a clean end,
 * -1 when the bot's storage failed at start. An input the bot could not
 * handle is reported in the transcript and the dialogue goes on. */
int console_run(bot *b, FILE *in, FILE *out, volatile sig_atomic_t *stop);

#endif
