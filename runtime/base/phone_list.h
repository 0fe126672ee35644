/*
 * phone_list.h — the countries whose phone numbers botc knows, listed once.
 *
 * X(ISO, "calling code", "trunk prefix", "international prefix", min, max):
 * ISO 3166-1 alpha-2 code; the country calling code; the prefix dialled
 * before a national number inside the country ("0", "8"; "" when none);
 * the prefix dialled before an international number besides "00" ("011"
 * in North America, else ""); the shortest and longest national
 * significant number (after the trunk prefix), in digits. phone.c derives
 * its table from it; botc (codegen/check.c) the names a spec's
 * `{phone: {country: XX}}` may give. Two countries may share a calling
 * code (US and CA): a number is checked by its code's first row.
 */
#ifndef BOTC_PHONE_LIST_H
#define BOTC_PHONE_LIST_H

#define PHONE_COUNTRIES(X) \
    X(RS, "381", "0", "", 6, 12) /* Serbia */ \
    X(ME, "382", "0", "", 8, 9) /* Montenegro */ \
    X(BA, "387", "0", "", 8, 9) /* Bosnia and Herzegovina */ \
    X(HR, "385", "0", "", 6, 9) /* Croatia */ \
    X(SI, "386", "0", "", 8, 8) /* Slovenia */ \
    X(MK, "389", "0", "", 8, 8) /* North Macedonia */ \
    X(RU, "7", "8", "", 10, 10) /* Russia */ \
    X(UA, "380", "0", "", 9, 9) /* Ukraine */ \
    X(US, "1", "1", "011", 10, 10) /* United States */ \
    X(CA, "1", "1", "011", 10, 10) /* Canada */ \
    X(GB, "44", "0", "", 7, 10) /* United Kingdom */ \
    X(DE, "49", "0", "", 6, 13) /* Germany */ \
    X(AT, "43", "0", "", 4, 13) /* Austria */ \
    X(FR, "33", "0", "", 9, 9) /* France */ \
    X(ES, "34", "", "", 9, 9) /* Spain */

#endif
