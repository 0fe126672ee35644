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
 * letters of $LANG. Typing a shown number presses that button: the
 * newest keyboard printed owns the numbers, from 1 in the order printed
 * (a reply keyboard and the inline ones of the same answer together), so
 * a screen always gets the same numbers; an edited message's inline
 * buttons stop counting. At start a user the store knows sees their
 * screen again (bot_show). A press's pop-up (answerCallbackQuery text) is
 * printed in parentheses; a file the bot sends is written to the working
 * directory under its name, and its path printed.
 *
 * With OPENAI_API_BASE set the console runs an event loop and the model's
 * client for the llm action's deferred request (dialogue/bot.h,
 * bot_handle_tx), printing the answer as it streams, then runs the input
 * again with it; other actions' deferred I/O stays off, as without a loop.
 * `/contact [+NUMBER]` shares a contact (default BOT_CONSOLE_PHONE, else
 * +15550100000), `/voice FILE` sends a recording (OGG/Opus or WAV, transcribed offline
 * as a bot would; `/voice` alone a note with nothing to hear), `/quit` or end of input
 * ends. When `in` is not a terminal every line read is echoed as "you> ..."
 * so the output reads as a transcript.
 *
 * Reading never goes past the current line: when `in` has a file descriptor
 * (stdin, a pipe) the console reads it directly, one byte at a time, so
 * whatever the user typed after the line being handled is still unread when
 * console_run returns — a bot that re-executes itself (a reload) reads it
 * next. Streams without a descriptor (memory streams) are read with stdio.
 *
 * Live reload: a reload returns with the numbered buttons on screen put in
 * the environment variable BOT_CONSOLE_SCREEN, and console_run takes them
 * back (and unsets it) at start, so after the re-exec typing a number still
 * presses the button shown before, as a Telegram keyboard stays on screen
 * across a bot update.
 */
#ifndef BOTC_CONSOLE_H
#define BOTC_CONSOLE_H

#include <signal.h>
#include <stdio.h>

#include "dialogue/bot.h"

#define CONSOLE_USER_ID 1

/* Values for *stop. Any non-zero value ends the dialogue before the next
 * line is read; CONSOLE_RELOAD first finishes a line whose first bytes were
 * already read (only a pipe delivers part of a line), so no input is split
 * between the old and the new process. */
#define CONSOLE_STOP 1
#define CONSOLE_RELOAD 2
#define CONSOLE_SCREEN_ENV "BOT_CONSOLE_SCREEN"

/* Runs bot_migrate (printing what it says to the console user), then the
 * dialogue until /quit, end of input or *stop (looked at between lines and
 * at least every quarter second while waiting for input). Returns 0 after
 * /quit or the end of input, 1 when *stop ended it (with CONSOLE_RELOAD the
 * screen is in CONSOLE_SCREEN_ENV), -1 when the bot's storage failed at
 * start. An input the bot could not handle is reported in the transcript and
 * the dialogue goes on. */
int console_run(bot *b, FILE *in, FILE *out, volatile sig_atomic_t *stop);

#endif
