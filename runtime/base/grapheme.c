/*
 * grapheme.c — see grapheme.h. The property table is generated
 * (scripts/gen-grapheme.py); the rules are UAX #29's, in its order.
 */
#include "base/grapheme.h"

#include <stdbool.h>

#include "base/text.h"

enum {
    GC_OTHER, GC_CR, GC_LF, GC_CONTROL, GC_EXTEND, GC_ZWJ, GC_RI, GC_PREPEND,
    GC_SPACING, GC_L, GC_V, GC_T, GC_LV, GC_LVT, GC_EXT_PICT,
};

#include "base/grapheme_table.h"

static int prop_of(uint32_t cp)
{
    if (cp < 0x80) /* ASCII: no binary search */
        return cp == '\r' ? GC_CR : cp == '\n' ? GC_LF : cp < 0x20 || cp == 0x7F ? GC_CONTROL : GC_OTHER;
    size_t lo = 0, hi = sizeof gc_ranges / sizeof gc_ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < gc_ranges[mid].lo)
            hi = mid;
        else if (cp > gc_ranges[mid].hi)
            lo = mid + 1;
        else
            return gc_ranges[mid].prop;
    }
    return GC_OTHER;
}

/* The property of the code point at s[0..n), its byte length in *len; an
 * invalid byte is a Control of its own (a cluster by itself). */
static int prop_at(const char *s, size_t n, size_t *len)
{
    uint32_t cp = text_utf8_get(s, n, len);
    if (*len == 1 && (unsigned char)s[0] >= 0x80)
        return GC_CONTROL;
    return prop_of(cp);
}

size_t gc_next(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    /* printable ASCII before ASCII (or the end): a cluster of its own, as
     * nothing ASCII extends or joins (most text the bot sends) */
    unsigned char u0 = (unsigned char)s[0];
    if (u0 >= 0x20 && u0 < 0x7F && (n == 1 || (unsigned char)s[1] < 0x80))
        return 1;
    size_t len;
    int prev = prop_at(s, n, &len);
    size_t i = len;
    /* GB11: Extended_Pictographic Extend* ZWJ × Extended_Pictographic */
    bool pict = prev == GC_EXT_PICT;  /* an ExtPict, then only Extend so far */
    bool pict_zwj = false;            /* ... and then a ZWJ right before */
    int ri = prev == GC_RI;           /* regional indicators in a row */
    while (i < n) {
        int cur = prop_at(s + i, n - i, &len);
        bool join;
        if (prev == GC_CR && cur == GC_LF)
            join = true;                                               /* GB3 */
        else if (prev == GC_CR || prev == GC_LF || prev == GC_CONTROL)
            join = false;                                              /* GB4 */
        else if (cur == GC_CR || cur == GC_LF || cur == GC_CONTROL)
            join = false;                                              /* GB5 */
        else if (prev == GC_L &&
                 (cur == GC_L || cur == GC_V || cur == GC_LV || cur == GC_LVT))
            join = true;                                               /* GB6 */
        else if ((prev == GC_LV || prev == GC_V) && (cur == GC_V || cur == GC_T))
            join = true;                                               /* GB7 */
        else if ((prev == GC_LVT || prev == GC_T) && cur == GC_T)
            join = true;                                               /* GB8 */
        else if (cur == GC_EXTEND || cur == GC_ZWJ)
            join = true;                                               /* GB9 */
        else if (cur == GC_SPACING)
            join = true;                                               /* GB9a */
        else if (prev == GC_PREPEND)
            join = true;                                               /* GB9b */
        else if (pict_zwj && cur == GC_EXT_PICT)
            join = true;                                               /* GB11 */
        else if (prev == GC_RI && cur == GC_RI && ri % 2 == 1)
            join = true;                                               /* GB12/13 */
        else
            join = false;                                              /* GB999 */
        if (!join)
            break;
        pict_zwj = pict && cur == GC_ZWJ;
        if (cur == GC_EXT_PICT)
            pict = true;
        else if (cur != GC_EXTEND)
            pict = false;
        ri = cur == GC_RI ? ri + 1 : 0;
        prev = cur;
        i += len;
    }
    return i;
}

size_t gc_prefix16(const char *s, size_t n, size_t max_units)
{
    size_t i = 0, units = 0;
    while (i < n) {
        size_t g = gc_next(s + i, n - i);
        size_t w = text_utf16_len(s + i, g);
        if (units + w > max_units)
            break;
        units += w;
        i += g;
    }
    if (i == 0)
        return text_utf16_prefix(s, n, max_units);
    return i;
}
