/*
 * phone.c — phone numbers normalised to E.164 (see phone.h).
 */
#include "base/phone.h"

#include <string.h>

#include "base/phone_list.h"

#define PHONE_DIGITS_MAX 15 /* E.164 */
#define PHONE_DIGITS_MIN 7  /* the shortest numbers in use (small islands) */

typedef struct phone_country {
    const char *iso, *cc, *trunk, *intl;
    int min, max; /* national significant number, digits */
} phone_country;

#define PHONE_ROW_(iso, cc, trunk, intl, min, max) {#iso, cc, trunk, intl, min, max},
static const phone_country phone_countries[] = {PHONE_COUNTRIES(PHONE_ROW_)};
#undef PHONE_ROW_
#define PHONE_N_COUNTRIES ((int)(sizeof phone_countries / sizeof phone_countries[0]))

static const phone_country *by_iso(const char *iso)
{
    for (int i = 0; iso && i < PHONE_N_COUNTRIES; i++)
        if (!strcmp(phone_countries[i].iso, iso))
            return &phone_countries[i];
    return NULL;
}

bool phone_country_known(const char *iso) { return by_iso(iso) != NULL; }

static bool starts(const char *s, const char *prefix)
{
    return *prefix && !strncmp(s, prefix, strlen(prefix));
}

/* Whether the international digits `d` (calling code first) are a possible
 * number: by its calling code's row when phone_list.h has one, else by the
 * general rule. */
static bool possible(const char *d)
{
    size_t n = strlen(d);
    if (n < PHONE_DIGITS_MIN || n > PHONE_DIGITS_MAX || d[0] == '0')
        return false;
    for (int i = 0; i < PHONE_N_COUNTRIES; i++) {
        const phone_country *c = &phone_countries[i];
        if (!starts(d, c->cc))
            continue;
        const char *nsn = d + strlen(c->cc);
        size_t len = strlen(nsn);
        /* where the trunk prefix is 0, no national number starts with it
         * ("+381 060..." is the national form written after the code) */
        return len >= (size_t)c->min && len <= (size_t)c->max &&
               !(nsn[0] == '0' && !strcmp(c->trunk, "0"));
    }
    return true;
}

bool phone_e164(const char *typed, const char *country, char out[PHONE_E164_MAX])
{
    char d[64]; /* the digits as typed */
    size_t n = 0;
    bool plus = false;
    const char *p = typed;
    while (*p == ' ')
        p++;
    if (*p == '+') {
        plus = true;
        p++;
    }
    out[0] = '\0';
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n + 1 >= sizeof d)
                return false;
            d[n++] = *p;
        } else if (!strchr(" -().", *p)) {
            return false;
        }
    }
    d[n] = '\0';
    const phone_country *c = by_iso(country);
    const char *intl = NULL; /* the digits from the calling code on */
    if (plus)
        intl = d;
    else if (starts(d, "00"))
        intl = d + 2;
    else if (c && starts(d, c->intl))
        intl = d + strlen(c->intl);
    char e[64];
    if (intl) {
        if (strlen(intl) >= sizeof e)
            return false;
        strcpy(e, intl);
    } else {
        if (!c)
            return false;
        /* the trunk prefix is optional; a number that fits only with its
         * first digit kept ("800 555 35 35" in Russia) keeps it */
        const char *nat = d;
        size_t tl = strlen(c->trunk);
        if (tl && starts(d, c->trunk) && n - tl >= (size_t)c->min && n - tl <= (size_t)c->max)
            nat = d + tl;
        if (strlen(c->cc) + strlen(nat) >= sizeof e)
            return false;
        strcpy(e, c->cc);
        strcat(e, nat);
    }
    if (!possible(e))
        return false;
    out[0] = '+';
    strcpy(out + 1, e);
    return true;
}
