/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the paths fs events carry: lexical normalisation, joining
 * a relative path to the working directory or to a directory descriptor,
 * the hard cap on the result, and the errno a hook fails with when a path
 * cannot be placed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fspath.h"
#include "mid_check.h"

static char out[PATH_MAX];

/* Normalise 'path' against 'base' and compare with 'want'. */
static void join_is(const char *base, const char *path, const char *want)
{
	ck_assert_int_eq(mid_path_join(base, path, out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, want);
}

/* A fresh directory under /tmp (removed by the caller). */
static void make_dir(char *dir, size_t len)
{
	mid_strlcpy(dir, "/tmp/check_paths.XXXXXX", len);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* ---- core -------------------------------------------------------------- */

START_TEST(test_paths_absolute_is_normalised)
{
	join_is("/ignored", "/etc/passwd", "/etc/passwd");
	join_is("/ignored", "//etc///passwd", "/etc/passwd");
	join_is("/ignored", "/etc/./ssh/../passwd", "/etc/passwd");
	join_is("/ignored", "/etc/ssh/", "/etc/ssh");
	join_is("/ignored", "/a/b/c/../../d", "/a/d");
	join_is("/ignored", "/.../x", "/.../x");
	join_is("/ignored", "/a/..b/c", "/a/..b/c");
}
END_TEST

START_TEST(test_paths_relative_joins_base)
{
	join_is("/srv/app", "out.txt", "/srv/app/out.txt");
	join_is("/srv/app", "./logs/../out.txt", "/srv/app/out.txt");
	join_is("/srv/app", "../../etc/passwd", "/etc/passwd");
	join_is("/srv/app/", "x", "/srv/app/x");
	join_is("/srv//app/.", "x", "/srv/app/x");
	join_is("/", "x", "/x");
}
END_TEST

START_TEST(test_paths_root_and_empty)
{
	join_is("/ignored", "/", "/");
	join_is("/ignored", "/..", "/");
	join_is("/ignored", "/../../..", "/");
	join_is("/srv", "", "/srv");
	join_is("/srv", NULL, "/srv");
	join_is("/srv", ".", "/srv");
	join_is("/srv", "..", "/");
}
END_TEST

START_TEST(test_paths_abs_uses_working_directory)
{
	char dir[64], old[PATH_MAX], want[PATH_MAX];

	make_dir(dir, sizeof(dir));
	ck_assert_ptr_nonnull(getcwd(old, sizeof(old)));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(mid_path_abs(AT_FDCWD, "new/../file.txt", out, sizeof(out)), MID_OK);
	snprintf(want, sizeof(want), "%s/file.txt", dir);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(mid_path_abs(AT_FDCWD, "/etc//hosts", out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, "/etc/hosts");
	ck_assert_int_eq(chdir(old), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_paths_abs_uses_dirfd)
{
	char dir[64], want[PATH_MAX];
	int fd;

	make_dir(dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mid_path_abs(fd, "a/./b", out, sizeof(out)), MID_OK);
	snprintf(want, sizeof(want), "%s/a/b", dir);
	ck_assert_str_eq(out, want);
	/* An empty or NULL path (AT_EMPTY_PATH, futimesat) is the directory. */
	ck_assert_int_eq(mid_path_abs(fd, "", out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, dir);
	ck_assert_int_eq(mid_path_abs(fd, NULL, out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, dir);
	/* An absolute path ignores the descriptor. */
	ck_assert_int_eq(mid_path_abs(fd, "/x/../y", out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, "/y");
	close(fd);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_paths_abs_keeps_errno)
{
	errno = EINTR;
	ck_assert_int_eq(mid_path_abs(AT_FDCWD, "x", out, sizeof(out)), MID_OK);
	ck_assert_int_eq(errno, EINTR);
}
END_TEST

START_TEST(test_paths_fd_names_open_file)
{
	char dir[64], file[128], got[PATH_MAX];
	int fd;

	make_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	errno = EINTR;
	mid_path_fd(fd, got, sizeof(got));
	ck_assert_int_eq(errno, EINTR);
	ck_assert_str_eq(got, file);
	close(fd);
	unlink(file);
	rmdir(dir);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_paths_result_is_capped)
{
	char small[8];

	ck_assert_int_eq(mid_path_join("/", "/abcdef", small, sizeof(small)), MID_OK);
	ck_assert_str_eq(small, "/abcdef");
	ck_assert_int_eq(mid_path_join("/", "/abcdefg", small, sizeof(small)), MID_ERR_TOO_BIG);
	ck_assert_str_eq(small, "");
	/* '..' can shorten a path that would not fit on the way. */
	ck_assert_int_eq(mid_path_join("/", "/abc/../def", small, sizeof(small)), MID_OK);
	ck_assert_str_eq(small, "/def");
	ck_assert_int_eq(mid_path_join("/", "/", small, 1), MID_ERR_TOO_BIG);
}
END_TEST

START_TEST(test_paths_long_input_too_big)
{
	static char longp[3 * PATH_MAX];
	size_t i;

	for(i = 0; i + 2 < sizeof(longp); i += 2) {
		longp[i] = '/';
		longp[i + 1] = 'a';
	}
	longp[i] = '\0';
	errno = 0;
	ck_assert_int_eq(mid_path_abs(AT_FDCWD, longp, out, sizeof(out)), MID_ERR_TOO_BIG);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(out, "");
	/* Many '..' never climb above the root, however many there are. */
	for(i = 0; i + 3 < sizeof(longp); i += 3)
		memcpy(longp + i, "/..", 3);
	longp[i] = '\0';
	ck_assert_int_eq(mid_path_abs(AT_FDCWD, longp, out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, "/");
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_paths_bad_dirfd_is_ebadf)
{
	errno = 0;
	ck_assert_int_eq(mid_path_abs(987654, "x", out, sizeof(out)), MID_ERR_IO);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_paths_socket_dirfd_is_enotdir)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	errno = 0;
	ck_assert_int_eq(mid_path_abs(sv[0], "x", out, sizeof(out)), MID_ERR_IO);
	ck_assert_int_eq(errno, ENOTDIR);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_paths_relative_base_is_inval)
{
	ck_assert_int_eq(mid_path_join("srv", "x", out, sizeof(out)), MID_ERR_INVAL);
	ck_assert_int_eq(mid_path_join(NULL, "x", out, sizeof(out)), MID_ERR_INVAL);
	/* An absolute path needs no base. */
	ck_assert_int_eq(mid_path_join(NULL, "/x", out, sizeof(out)), MID_OK);
	ck_assert_str_eq(out, "/x");
}
END_TEST

START_TEST(test_paths_fd_unreadable_names_link)
{
	char got[PATH_MAX];

	mid_path_fd(987654, got, sizeof(got));
	ck_assert_str_eq(got, "/proc/self/fd/987654");
}
END_TEST

static void mid_check_tests(struct mid_check *t)
{
	TCase *core = t->core, *limits = t->limits, *errors = t->errors;

	t->name = "paths";

	tcase_add_test(core, test_paths_absolute_is_normalised);
	tcase_add_test(core, test_paths_relative_joins_base);
	tcase_add_test(core, test_paths_root_and_empty);
	tcase_add_test(core, test_paths_abs_uses_working_directory);
	tcase_add_test(core, test_paths_abs_uses_dirfd);
	tcase_add_test(core, test_paths_abs_keeps_errno);
	tcase_add_test(core, test_paths_fd_names_open_file);
	tcase_add_test(limits, test_paths_result_is_capped);
	tcase_add_test(limits, test_paths_long_input_too_big);
	tcase_add_test(errors, test_paths_bad_dirfd_is_ebadf);
	tcase_add_test(errors, test_paths_socket_dirfd_is_enotdir);
	tcase_add_test(errors, test_paths_relative_base_is_inval);
	tcase_add_test(errors, test_paths_fd_unreadable_names_link);
}
