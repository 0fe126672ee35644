/*
 * test_phone.c — phone numbers as typed, normalised to E.164 (base/phone.c).
 */
#include <string.h>

#include <CUnit/Basic.h>

#include "base/phone.h"

/* The E.164 form of `typed` in `country`, or "" when refused. */
static const char *norm(const char *typed, const char *country)
{
    static char out[PHONE_E164_MAX];
    if (!phone_e164(typed, country, out))
        CU_ASSERT_STRING_EQUAL(out, "");
    return out;
}

static void test_serbia(void)
{
    CU_ASSERT_STRING_EQUAL(norm("+381 60 123 4567", "RS"), "+381601234567");
    CU_ASSERT_STRING_EQUAL(norm("00381601234567", "RS"), "+381601234567");
    CU_ASSERT_STRING_EQUAL(norm("060 123 4567", "RS"), "+381601234567");
    CU_ASSERT_STRING_EQUAL(norm("60/123", "RS"), "");
    CU_ASSERT_STRING_EQUAL(norm("(011) 123-4567", "RS"), "+381111234567");
    CU_ASSERT_STRING_EQUAL(norm("+0000000000", "RS"), "");
    CU_ASSERT_STRING_EQUAL(norm("12", "RS"), "");
    CU_ASSERT_STRING_EQUAL(norm("+381 060 123 4567", "RS"), ""); /* (0) after the code */
    CU_ASSERT_STRING_EQUAL(norm("+381 6", "RS"), "");
    CU_ASSERT_STRING_EQUAL(norm("+381 60 123 4567 8901 2", "RS"), ""); /* over 15 digits */
    CU_ASSERT_STRING_EQUAL(norm("call me", "RS"), "");
    CU_ASSERT_STRING_EQUAL(norm("", "RS"), "");
    /* another country's number, typed internationally */
    CU_ASSERT_STRING_EQUAL(norm("+7 916 123-45-67", "RS"), "+79161234567");
}

static void test_russia(void)
{
    CU_ASSERT_STRING_EQUAL(norm("8 (916) 123-45-67", "RU"), "+79161234567");
    CU_ASSERT_STRING_EQUAL(norm("+7 916 123 45 67", "RU"), "+79161234567");
    CU_ASSERT_STRING_EQUAL(norm("916 123 45 67", "RU"), "+79161234567");
    CU_ASSERT_STRING_EQUAL(norm("8 800 555 35 35", "RU"), "+78005553535");
    CU_ASSERT_STRING_EQUAL(norm("800 555 35 35", "RU"), "+78005553535"); /* keeps its 8 */
    CU_ASSERT_STRING_EQUAL(norm("+7 916 123 45", "RU"), "");
}

static void test_others(void)
{
    CU_ASSERT_STRING_EQUAL(norm("(212) 555-0100", "US"), "+12125550100");
    CU_ASSERT_STRING_EQUAL(norm("1 212 555 0100", "US"), "+12125550100");
    CU_ASSERT_STRING_EQUAL(norm("011 44 20 7946 0958", "US"), "+442079460958");
    CU_ASSERT_STRING_EQUAL(norm("020 7946 0958", "GB"), "+442079460958");
    CU_ASSERT_STRING_EQUAL(norm("030 123456", "DE"), "+4930123456");
    CU_ASSERT_STRING_EQUAL(norm("0151 23456789", "DE"), "+4915123456789");
    /* a calling code without a row: the general rule */
    CU_ASSERT_STRING_EQUAL(norm("+86 138 0013 8000", NULL), "+8613800138000");
    CU_ASSERT_STRING_EQUAL(norm("+683 4002", NULL), "+6834002");
    CU_ASSERT_STRING_EQUAL(norm("+12 34", NULL), "");
    /* no country: national numbers cannot be read */
    CU_ASSERT_STRING_EQUAL(norm("060 123 4567", NULL), "");
    CU_ASSERT_STRING_EQUAL(norm("060 123 4567", "XX"), "");
    CU_ASSERT_STRING_EQUAL(norm("+381601234567", NULL), "+381601234567");
}

static void test_countries(void)
{
    CU_ASSERT_TRUE(phone_country_known("RS"));
    CU_ASSERT_TRUE(phone_country_known("RU"));
    CU_ASSERT_TRUE(phone_country_known("US"));
    CU_ASSERT_TRUE(phone_country_known("GB"));
    CU_ASSERT_TRUE(phone_country_known("DE"));
    CU_ASSERT_FALSE(phone_country_known("rs"));
    CU_ASSERT_FALSE(phone_country_known("XX"));
    CU_ASSERT_FALSE(phone_country_known(NULL));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("phone", NULL, NULL);
    CU_add_test(s, "Serbia", test_serbia);
    CU_add_test(s, "Russia", test_russia);
    CU_add_test(s, "other countries and the general rule", test_others);
    CU_add_test(s, "countries", test_countries);
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
