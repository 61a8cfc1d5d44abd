/* Hysteresis: rise/fall transitions, intervals, reason strings. */
#include "autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "probe.h"

static struct check_conf chk;
static struct health h;
static uint64_t clock_us;

static void
setup(void)
{
	memset(&chk, 0, sizeof(chk));
	chk.interval_ms = 1000;
	chk.fastinter_ms = 200;
	chk.downinter_ms = 5000;
	chk.timeout_ms = 800;
	chk.rise = 3;
	chk.fall = 2;
	clock_us = 1000000;
	health_init(&h, clock_us, 42);
}

static bool
feed(enum probe_result r)
{
	struct probe_outcome o;

	memset(&o, 0, sizeof(o));
	o.result = r;
	o.latency_us = 100;
	clock_us += 1000;
	return health_update(&h, &chk, &o, clock_us, clock_us);
}

START_TEST(test_unknown_until_rise)
{
	ck_assert_int_eq(h.state, HEALTH_UNKNOWN);
	ck_assert(!feed(PROBE_OK));
	ck_assert(!feed(PROBE_OK));
	ck_assert_int_eq(h.state, HEALTH_UNKNOWN);
	ck_assert(feed(PROBE_OK));
	ck_assert_int_eq(h.state, HEALTH_UP);
	ck_assert_uint_eq(h.since_mono_us, clock_us);
	ck_assert_uint_eq(h.checks, 3);
}
END_TEST

START_TEST(test_unknown_to_down_after_fall)
{
	ck_assert(!feed(PROBE_REFUSED));
	ck_assert(feed(PROBE_REFUSED));
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	ck_assert_int_eq(h.cause.result, PROBE_REFUSED);
}
END_TEST

START_TEST(test_up_to_down_needs_consecutive_failures)
{
	feed(PROBE_OK);
	feed(PROBE_OK);
	feed(PROBE_OK);
	ck_assert(!feed(PROBE_TIMEOUT));
	ck_assert(!feed(PROBE_OK)); /* the run is broken */
	ck_assert(!feed(PROBE_TIMEOUT));
	ck_assert_int_eq(h.state, HEALTH_UP);
	ck_assert(feed(PROBE_TIMEOUT));
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	ck_assert_int_eq(h.cause.result, PROBE_TIMEOUT);
}
END_TEST

START_TEST(test_down_to_up_needs_rise)
{
	feed(PROBE_REFUSED);
	feed(PROBE_REFUSED);
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	ck_assert(!feed(PROBE_OK));
	ck_assert(!feed(PROBE_OK));
	ck_assert(!feed(PROBE_REFUSED));
	ck_assert(!feed(PROBE_OK));
	ck_assert(!feed(PROBE_OK));
	ck_assert(feed(PROBE_OK));
	ck_assert_int_eq(h.state, HEALTH_UP);
}
END_TEST

START_TEST(test_flapping_never_changes_state)
{
	feed(PROBE_OK);
	feed(PROBE_OK);
	feed(PROBE_OK);
	for (int i = 0; i < 50; i++) {
		ck_assert(!feed(PROBE_RESET));
		ck_assert(!feed(PROBE_OK));
	}
	ck_assert_int_eq(h.state, HEALTH_UP);
}
END_TEST

START_TEST(test_rise_fall_one)
{
	chk.rise = 1;
	chk.fall = 1;
	ck_assert(feed(PROBE_OK));
	ck_assert(feed(PROBE_HTTP_STATUS));
	ck_assert(feed(PROBE_OK));
	ck_assert_int_eq(h.state, HEALTH_UP);
}
END_TEST

START_TEST(test_intervals)
{
	ck_assert_uint_eq(health_next_interval_ms(&h, &chk), 200); /* unknown: fast */
	feed(PROBE_OK);
	feed(PROBE_OK);
	feed(PROBE_OK);
	ck_assert(!health_in_transition(&h));
	ck_assert_uint_eq(health_next_interval_ms(&h, &chk), 1000);
	feed(PROBE_TIMEOUT);
	ck_assert(health_in_transition(&h));
	ck_assert_uint_eq(health_next_interval_ms(&h, &chk), 200);
	feed(PROBE_TIMEOUT);
	ck_assert_int_eq(h.state, HEALTH_DOWN);
	ck_assert_uint_eq(health_next_interval_ms(&h, &chk), 5000);
	feed(PROBE_OK);
	ck_assert_uint_eq(health_next_interval_ms(&h, &chk), 200);
}
END_TEST

START_TEST(test_last_outcome_kept)
{
	feed(PROBE_OK);
	feed(PROBE_OK);
	feed(PROBE_OK);
	feed(PROBE_EXPECT_MISMATCH);
	ck_assert(h.have_last);
	ck_assert_int_eq(h.last.result, PROBE_EXPECT_MISMATCH);
	ck_assert_int_eq(h.cause.result, PROBE_OK);
}
END_TEST

START_TEST(test_reason_strings)
{
	struct probe_outcome o;
	char buf[64];

	memset(&o, 0, sizeof(o));
	o.result = PROBE_HTTP_STATUS;
	o.code = 503;
	ck_assert_str_eq(probe_outcome_str(&o, buf, sizeof(buf)), "http-status 503");
	o.result = PROBE_EXEC_EXIT;
	o.code = 2;
	ck_assert_str_eq(probe_outcome_str(&o, buf, sizeof(buf)), "exec-exit 2");
	o.result = PROBE_EXEC_SIGNAL;
	o.code = 9;
	ck_assert_str_eq(probe_outcome_str(&o, buf, sizeof(buf)), "exec-signal 9");
	o.result = PROBE_REFUSED;
	ck_assert_str_eq(probe_outcome_str(&o, buf, sizeof(buf)), "refused");
	ck_assert_str_eq(probe_result_str(PROBE_OK), "ok");
	ck_assert_str_eq(probe_result_str(PROBE_TIMEOUT), "timeout");
	ck_assert_str_eq(probe_result_str(PROBE_EXPECT_MISMATCH), "expect-mismatch");
	ck_assert_str_eq(probe_result_str(PROBE_TLS_ERROR), "tls-error");
	ck_assert_str_eq(probe_result_str(PROBE_RESULT_MAX), "?");
	for (int r = 0; r < PROBE_RESULT_MAX; r++)
		ck_assert_str_ne(probe_result_str((enum probe_result)r), "?");
	ck_assert_str_eq(health_state_str(HEALTH_UP), "up");
	ck_assert_str_eq(health_state_str(HEALTH_DOWN), "down");
	ck_assert_str_eq(health_state_str(HEALTH_UNKNOWN), "unknown");
}
END_TEST

static Suite *
health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("hysteresis");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_unknown_until_rise);
	tcase_add_test(tc, test_unknown_to_down_after_fall);
	tcase_add_test(tc, test_up_to_down_needs_consecutive_failures);
	tcase_add_test(tc, test_down_to_up_needs_rise);
	tcase_add_test(tc, test_flapping_never_changes_state);
	tcase_add_test(tc, test_rise_fall_one);
	tcase_add_test(tc, test_intervals);
	tcase_add_test(tc, test_last_outcome_kept);
	tcase_add_test(tc, test_reason_strings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(health_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
