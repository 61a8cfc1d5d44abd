/* history: the event ring, its order, filter, limit and JSON form. */
#include "autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "history.h"
#include "util.h"

/* 2026-12-04T21:00:00Z in microseconds. */
#define T0_US (UINT64_C(1796418000) * 1000000u)

static const char *
field(json_t *arr, size_t i, const char *key)
{
	json_t *o = json_array_get(arr, i), *v;

	ck_assert_ptr_nonnull(o);
	v = json_object_get(o, key);
	ck_assert_ptr_nonnull(v);
	return json_is_null(v) ? NULL : json_string_value(v);
}

START_TEST(test_empty)
{
	struct history *h = history_new(4);
	json_t *arr = history_json(h, NULL, 0);

	ck_assert_uint_eq(history_count(h), 0);
	ck_assert(json_is_array(arr));
	ck_assert_uint_eq(json_array_size(arr), 0);
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_json_form)
{
	struct history *h = history_new(4);
	json_t *arr, *o;
	char *text;

	history_add(h, T0_US + 123456, "web", "+promoted", "member %s epoch %d", "b", 5);
	history_add(h, T0_US + 999, NULL, "+tilt", "loop stalled %dms", 4000);
	arr = history_json(h, NULL, 0);
	ck_assert_uint_eq(json_array_size(arr), 2);
	o = json_array_get(arr, 0);
	ck_assert_uint_eq(json_object_size(o), 4);
	ck_assert_str_eq(field(arr, 0, "time"), "2026-12-04T21:00:00.123Z");
	ck_assert_str_eq(field(arr, 0, "service"), "web");
	ck_assert_str_eq(field(arr, 0, "event"), "+promoted");
	ck_assert_str_eq(field(arr, 0, "detail"), "member b epoch 5");
	/* NULL service is JSON null; sub-millisecond is cut, not rounded. */
	ck_assert_str_eq(field(arr, 1, "time"), "2026-12-04T21:00:00.000Z");
	ck_assert(json_is_null(json_object_get(json_array_get(arr, 1), "service")));
	ck_assert_str_eq(field(arr, 1, "detail"), "loop stalled 4000ms");
	text = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(text,
	    "[{\"detail\":\"member b epoch 5\",\"event\":\"+promoted\",\"service\":\"web\","
	    "\"time\":\"2026-12-04T21:00:00.123Z\"},"
	    "{\"detail\":\"loop stalled 4000ms\",\"event\":\"+tilt\",\"service\":null,"
	    "\"time\":\"2026-12-04T21:00:00.000Z\"}]");
	free(text);
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_time_format)
{
	struct history *h = history_new(3);
	json_t *arr;

	history_add(h, 0, NULL, "e", "%s", "");
	history_add(h, 999, NULL, "e", "%s", "");
	history_add(h, UINT64_C(1700000000) * 1000000u + 999999, NULL, "e", "%s", "");
	arr = history_json(h, NULL, 0);
	ck_assert_str_eq(field(arr, 0, "time"), "1970-01-01T00:00:00.000Z");
	ck_assert_str_eq(field(arr, 1, "time"), "1970-01-01T00:00:00.000Z");
	ck_assert_str_eq(field(arr, 2, "time"), "2023-11-14T22:13:20.999Z");
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_wrap_around)
{
	struct history *h = history_new(5);
	json_t *arr;
	char want[32];

	for (int i = 0; i < 13; i++)
		history_add(h, T0_US + (uint64_t)i * 1000, "web", "+up", "n%d", i);
	ck_assert_uint_eq(history_count(h), 5);
	arr = history_json(h, NULL, 0);
	ck_assert_uint_eq(json_array_size(arr), 5);
	for (size_t i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "n%zu", i + 8);
		ck_assert_str_eq(field(arr, i, "detail"), want);
		snprintf(want, sizeof(want), "2026-12-04T21:00:00.%03zuZ", i + 8);
		ck_assert_str_eq(field(arr, i, "time"), want);
	}
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_filter_and_limit)
{
	struct history *h = history_new(8);
	json_t *arr;

	/* 10 events into 8 slots: w0 and d1 are gone. */
	for (int i = 0; i < 10; i++)
		history_add(h, T0_US + (uint64_t)i, i % 3 == 0 ? "web" : i % 3 == 1 ? "db" : NULL,
		    "+up", "%d", i);

	arr = history_json(h, "web", 0);        /* 3, 6, 9 */
	ck_assert_uint_eq(json_array_size(arr), 3);
	ck_assert_str_eq(field(arr, 0, "detail"), "3");
	ck_assert_str_eq(field(arr, 1, "detail"), "6");
	ck_assert_str_eq(field(arr, 2, "detail"), "9");
	ck_assert_str_eq(field(arr, 2, "service"), "web");
	json_decref(arr);

	arr = history_json(h, "web", 2);        /* the newest two, oldest first */
	ck_assert_uint_eq(json_array_size(arr), 2);
	ck_assert_str_eq(field(arr, 0, "detail"), "6");
	ck_assert_str_eq(field(arr, 1, "detail"), "9");
	json_decref(arr);

	arr = history_json(h, "web", 10);       /* a limit above the matches */
	ck_assert_uint_eq(json_array_size(arr), 3);
	json_decref(arr);

	arr = history_json(h, "db", 0);         /* 4, 7 (1 fell out) */
	ck_assert_uint_eq(json_array_size(arr), 2);
	ck_assert_str_eq(field(arr, 0, "detail"), "4");
	ck_assert_str_eq(field(arr, 1, "detail"), "7");
	json_decref(arr);

	/* Events without a service never match a service filter. */
	arr = history_json(h, "nope", 0);
	ck_assert_uint_eq(json_array_size(arr), 0);
	json_decref(arr);

	arr = history_json(h, NULL, 3);         /* everything, newest three */
	ck_assert_uint_eq(json_array_size(arr), 3);
	ck_assert_str_eq(field(arr, 0, "detail"), "7");
	ck_assert_str_eq(field(arr, 1, "detail"), "8");
	ck_assert_ptr_null(field(arr, 1, "service"));
	ck_assert_str_eq(field(arr, 2, "detail"), "9");
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_long_detail)
{
	struct history *h = history_new(3);
	char *big = xmalloc(2001), *want;
	json_t *arr;
	const char *got;

	memset(big, 'x', 2000);
	big[2000] = '\0';
	history_add(h, T0_US, "web", "+hook", "%s", big);
	/* A 2-byte character across the cut: dropped whole, never split. */
	big[511] = '\xc3';
	big[512] = '\xa9';
	history_add(h, T0_US, "web", "+hook", "%s", big);
	/* Invalid UTF-8 becomes '?' (JSON strings must be valid). */
	history_add(h, T0_US, "web\xff", "+hook", "a\xffz\xe2\x82");
	arr = history_json(h, NULL, 0);
	ck_assert_uint_eq(json_array_size(arr), 3);
	want = xmalloc(513);
	memset(want, 'x', 512);
	want[512] = '\0';
	ck_assert_str_eq(field(arr, 0, "detail"), want);
	got = field(arr, 1, "detail");
	ck_assert_uint_eq(strlen(got), 511);
	ck_assert(strncmp(got, want, 511) == 0);
	ck_assert_str_eq(field(arr, 2, "detail"), "a?z??");
	ck_assert_str_eq(field(arr, 2, "service"), "web?");
	free(want);
	free(big);
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_capacity_one)
{
	struct history *h = history_new(1);
	json_t *arr;

	history_add(h, T0_US, "web", "+up", "first");
	history_add(h, T0_US + 1000, "db", "+sdown", "second");
	ck_assert_uint_eq(history_count(h), 1);
	arr = history_json(h, NULL, 0);
	ck_assert_uint_eq(json_array_size(arr), 1);
	ck_assert_str_eq(field(arr, 0, "detail"), "second");
	ck_assert_str_eq(field(arr, 0, "service"), "db");
	json_decref(arr);
	arr = history_json(h, "web", 0);
	ck_assert_uint_eq(json_array_size(arr), 0);
	json_decref(arr);
	history_free(h);
}
END_TEST

START_TEST(test_capacity_zero)
{
	struct history *h = history_new(0);
	json_t *arr;

	history_add(h, T0_US, "web", "+up", "dropped");
	ck_assert_uint_eq(history_count(h), 0);
	arr = history_json(h, NULL, 0);
	ck_assert_uint_eq(json_array_size(arr), 0);
	json_decref(arr);
	history_free(h);
	history_free(NULL);
}
END_TEST

/* Strings are copied: the caller's buffers may change or go. */
START_TEST(test_strings_copied)
{
	struct history *h = history_new(HISTORY_DEFAULT_SIZE);
	char svc[] = "web", ev[] = "+up";
	json_t *arr;

	history_add(h, T0_US, svc, ev, "ok");
	svc[0] = 'X';
	ev[1] = 'X';
	arr = history_json(h, "web", 0);
	ck_assert_uint_eq(json_array_size(arr), 1);
	ck_assert_str_eq(field(arr, 0, "event"), "+up");
	json_decref(arr);
	history_free(h);
}
END_TEST

static Suite *
history_suite(void)
{
	Suite *s = suite_create("history");
	TCase *tc = tcase_create("history");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_json_form);
	tcase_add_test(tc, test_time_format);
	tcase_add_test(tc, test_wrap_around);
	tcase_add_test(tc, test_filter_and_limit);
	tcase_add_test(tc, test_long_detail);
	tcase_add_test(tc, test_capacity_one);
	tcase_add_test(tc, test_capacity_zero);
	tcase_add_test(tc, test_strings_copied);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(history_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
