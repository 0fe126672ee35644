/*
 * tiny_machine.h — a small hand-written machine for the runtime's unit
 * tests: the tables botc would emit for a two-language bot with a reply
 * menu, inline menus, a fallback, a contact button, variables, and two
 * forms (one with every validator). Indices are named so tests read well.
 */
#ifndef TINY_MACHINE_H
#define TINY_MACHINE_H

#include "dialogue/machine.h"

enum { TS_MAIN, TS_INFO, TS_MORE, TS_ECHO, TS_GOT, TS_COUNT };
enum { TF_BOOKING, TF_QUICK };
enum {
    TV_LAST, TV_NICK, TV_CONTACT, TV_B_NAME, TV_B_AGE, TV_B_WEIGHT, TV_B_DATE,
    TV_B_PHONE, TV_B_CODE, TV_B_CLASS, TV_Q_Q, TV_COUNT
};

extern const bm_machine tiny_machine;

/* The next version of the bot: state "info" renamed to "information"
 * (renamed_from: info) and state "more" deleted with no forwarding. */
void tiny_machine_v2(bm_machine *out);

#endif
