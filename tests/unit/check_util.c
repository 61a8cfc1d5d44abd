/* util: argv splitting, trimming, clocks. */
#include "autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

START_TEST(test_argv_split_words)
{
	const char *err = NULL;
	char **av = argv_split("  /bin/echo  a\tb ", &err);

	ck_assert_ptr_nonnull(av);
	ck_assert_uint_eq(argv_len(av), 3);
	ck_assert_str_eq(av[0], "/bin/echo");
	ck_assert_str_eq(av[1], "a");
	ck_assert_str_eq(av[2], "b");
	ck_assert_ptr_null(av[3]);
	argv_free(av);
}
END_TEST

START_TEST(test_argv_split_quotes)
{
	const char *err = NULL;
	char **av = argv_split("cmd \"a b\" 'c \"d\"' e\\ f \"\" x\"y\"z", &err);

	ck_assert_ptr_nonnull(av);
	ck_assert_uint_eq(argv_len(av), 6);
	ck_assert_str_eq(av[1], "a b");
	ck_assert_str_eq(av[2], "c \"d\"");
	ck_assert_str_eq(av[3], "e f");
	ck_assert_str_eq(av[4], "");
	ck_assert_str_eq(av[5], "xyz");
	argv_free(av);
}
END_TEST

START_TEST(test_argv_split_errors)
{
	const char *err = NULL;

	ck_assert_ptr_null(argv_split("a \"b", &err));
	ck_assert_str_eq(err, "unterminated quote");
	ck_assert_ptr_null(argv_split("a b\\", &err));
	ck_assert_str_eq(err, "trailing backslash");
	ck_assert_ptr_null(argv_split("   ", &err));
	ck_assert_str_eq(err, "empty command");
}
END_TEST

START_TEST(test_trim)
{
	char buf[] = " \t hello world \r\n";

	ck_assert_str_eq(str_trim(buf), "hello world");
}
END_TEST

START_TEST(test_clock)
{
	uint64_t a = now_mono_us(), b = now_mono_us();
	struct timeval tv = us_to_tv(2500001);

	ck_assert_uint_ge(b, a);
	ck_assert_uint_gt(now_wall_us(), 1600000000ull * 1000000u);
	ck_assert_int_eq(tv.tv_sec, 2);
	ck_assert_int_eq(tv.tv_usec, 500001);
}
END_TEST

START_TEST(test_xasprintf)
{
	char *s = xasprintf("%s-%d", "a", 7);

	ck_assert_str_eq(s, "a-7");
	free(s);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_argv_split_words);
	tcase_add_test(tc, test_argv_split_quotes);
	tcase_add_test(tc, test_argv_split_errors);
	tcase_add_test(tc, test_trim);
	tcase_add_test(tc, test_clock);
	tcase_add_test(tc, test_xasprintf);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
