/* SPDX-License-Identifier: MIT */
/*
 * The unit tests' one harness (in the manner of curl's curlcheck.h): each
 * tests/unit/check_<module>.c includes this header once and defines
 * mid_check_tests(), which names its suite and adds its tests to the three
 * test cases every suite has, "core", "limits" and "errors". main() is
 * here, so every test program runs, reports and exits the same way: 0
 * when every test passed, 1 otherwise.
 */
#ifndef MID_CHECK_H
#define MID_CHECK_H

#include <check.h>
#include <stdlib.h>

struct mid_check {
	const char *name; /* the suite, e.g. "client"; set by mid_check_tests */
	TCase *core, *limits, *errors;
};

/* Defined by the test file: set 't->name', add tests, timeouts, fixtures. */
static void mid_check_tests(struct mid_check *t);

int main(void)
{
	struct mid_check t = {
		.core = tcase_create("core"),
		.limits = tcase_create("limits"),
		.errors = tcase_create("errors"),
	};
	SRunner *sr;
	Suite *s;
	int failed;

	mid_check_tests(&t);
	s = suite_create(t.name);
	suite_add_tcase(s, t.core);
	suite_add_tcase(s, t.limits);
	suite_add_tcase(s, t.errors);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
