/*
 * phone.h — phone numbers as typed, normalised to E.164 ("+381601234567").
 *
 * The few numbering-plan rules a bot needs to accept what people type in
 * the countries of runtime/base/phone_list.h: international prefixes,
 * trunk prefixes and the national numbers' lengths; any other calling code
 * gets the general rule (7 to 15 digits, no leading 0).
 */
#ifndef BOTC_PHONE_H
#define BOTC_PHONE_H

#include <stdbool.h>

#define PHONE_E164_MAX 17 /* '+', at most 15 digits, NUL */

/* true when `iso` (e.g. "RS") is a country of phone_list.h. */
bool phone_country_known(const char *iso);

/* Normalise `typed` — digits with spaces, dashes, dots and parentheses,
 * led by '+', "00" (or the country's own international prefix) for an
 * international number, else a national number of `country` (ISO code,
 * NULL or unknown: international numbers only) with or without its trunk
 * prefix — into out as '+' and digits. Returns false when it is no
 * possible number; out is then "". */
bool phone_e164(const char *typed, const char *country, char out[PHONE_E164_MAX]);

#endif
