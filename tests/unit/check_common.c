/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of common/: the vocabulary every part speaks (deviceId rule,
 * UUIDs and their fallback when getrandom is refused, small number and
 * string helpers).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bind.h"
#include "mid.h"
#include "mid_key.h"
#include "mid_url.h"
#include "mid_check.h"

/* ---- core -------------------------------------------------------------- */

START_TEST(test_common_device_id_rules)
{
	static const char punct[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

	ck_assert(mid_device_ok("tool:prod:payment-runner:02", 27));
	ck_assert(mid_device_ok("a", 1));
	ck_assert(mid_device_ok(punct, strlen(punct)));
	ck_assert(!mid_device_ok("", 0));
	ck_assert(!mid_device_ok("a b", 3));
	ck_assert(!mid_device_ok("a\tb", 3));
	ck_assert(!mid_device_ok("a\x7f", 2));
	ck_assert(!mid_device_ok("caf\xc3\xa9", 5));
	ck_assert(!mid_device_ok("a\0b", 3));
}
END_TEST

/* 8-4-4-4-12 lower-case hex, version 4, RFC 4122 variant. */
static int uuid4_shape(const char *u)
{
	size_t i;

	if(strlen(u) != 36 || u[14] != '4' || !strchr("89ab", u[19]))
		return 0;
	for(i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if(dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]))
			return 0;
	}
	return 1;
}

START_TEST(test_common_uuid4_shape)
{
	static const unsigned char ff[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	char a[37], b[37];

	mid_uuid4(a);
	mid_uuid4(b);
	ck_assert_msg(uuid4_shape(a), "not a v4 UUID: %s", a);
	ck_assert_str_ne(a, b);
	mid_uuid4_format(ff, a);
	ck_assert_str_eq(a, "ffffffff-ffff-4fff-bfff-ffffffffffff");
}
END_TEST

START_TEST(test_common_json_str_escapes)
{
	char out[64];

	ck_assert_uint_eq(mid_json_str(out, sizeof(out), "a\"b\\c\n\x1f\x7f"), 22);
	ck_assert_str_eq(out, "\"a\\\"b\\\\c\\u000a\\u001f\x7f\"");
}
END_TEST

/* One parser for every reader of a URL: schemes in any case, a unix
 * socket as "unix:" and an absolute path. */
START_TEST(test_common_url_forms)
{
	struct mid_url u;
	char err[512];

	ck_assert_int_eq(mid_url_parse("HTTP://127.0.0.1:7070", &u, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(u.scheme, MID_SCHEME_HTTP);
	ck_assert_str_eq(u.port, "7070");
	ck_assert_int_eq(mid_url_parse("Https://midd.example", &u, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(u.scheme, MID_SCHEME_HTTPS);
	ck_assert_str_eq(u.port, "443");
	ck_assert_int_eq(mid_url_parse("UNIX:/run/midd.sock", &u, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(u.scheme, MID_SCHEME_UNIX);
	ck_assert_str_eq(u.path, "/run/midd.sock");
	ck_assert_int_eq(mid_url_parse("unix:run/midd.sock", &u, err, sizeof(err)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "must be absolute"));
	ck_assert_ptr_nonnull(strstr(err, "accepted forms"));
}
END_TEST

/* Several control planes, comma-separated, in order; written back. */
START_TEST(test_common_url_list)
{
	struct mid_url u[MID_URLS_MAX];
	char err[512], out[MID_URL_MAX];
	size_t n;

	ck_assert_int_eq(mid_url_parse_list("http://127.0.0.1:7070 , unix:/run/m.sock,http://[::1]:80",
					    u, &n, err, sizeof(err)), MID_OK);
	ck_assert_uint_eq(n, 3);
	mid_url_format(&u[0], out, sizeof(out));
	ck_assert_str_eq(out, "http://127.0.0.1:7070");
	mid_url_format(&u[1], out, sizeof(out));
	ck_assert_str_eq(out, "unix:/run/m.sock");
	mid_url_format(&u[2], out, sizeof(out));
	ck_assert_str_eq(out, "http://[::1]:80");
	ck_assert_int_eq(mid_url_parse_list("http://a:1", u, &n, err, sizeof(err)), MID_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(mid_url_parse_list("http://a:1,,http://b:2", u, &n, err, sizeof(err)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "is empty"));
	ck_assert_int_eq(mid_url_parse_list("http://a:1,https://b", u, &n, err, sizeof(err)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "cannot be mixed"));
	ck_assert_int_eq(mid_url_parse_list("http://a:1,ftp://b", u, &n, err, sizeof(err)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "unsupported scheme"));
	ck_assert_int_eq(mid_url_parse_list("http://a,http://a,http://a,http://a,http://a,"
					    "http://a,http://a,http://a,http://a", u, &n, err,
					    sizeof(err)), MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "more than 8"));
}
END_TEST

/* Write 'text' to a fresh file with 'mode'; its path goes to 'path'. */
static void key_file(char *path, const char *text, mode_t mode)
{
	int fd;

	strcpy(path, "/tmp/check_common.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Read 'text' as a key file; returns the code, the key in 'key'. */
static enum mid_rc read_key_text(const char *text, char *key, size_t keylen, bool *shared,
				 char *why, size_t whylen)
{
	char path[64];
	enum mid_rc rc;

	key_file(path, text, 0600);
	rc = mid_key_read_file(path, key, keylen, shared, why, whylen);
	unlink(path);
	return rc;
}

START_TEST(test_common_key_file_first_line)
{
	char key[MID_KEY_MAX + 1], why[160], path[64];
	bool shared = true;

	ck_assert_int_eq(read_key_text("mid_org_abc \t\r\nsecond line\n", key, sizeof(key),
				       &shared, why, sizeof(why)), MID_OK);
	ck_assert_str_eq(key, "mid_org_abc");
	ck_assert(!shared);
	ck_assert_int_eq(read_key_text("no-newline", key, sizeof(key), NULL, why, sizeof(why)),
			 MID_OK);
	ck_assert_str_eq(key, "no-newline");
	key_file(path, "k\n", 0644);
	ck_assert_int_eq(mid_key_read_file(path, key, sizeof(key), &shared, why, sizeof(why)),
			 MID_OK);
	ck_assert(shared);
	unlink(path);
	ck_assert(mid_key_ok("mid_adm_0123"));
	ck_assert(!mid_key_ok(""));
	ck_assert(!mid_key_ok("a b"));
	ck_assert(!mid_key_ok("a\x7f"));
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_common_json_str_cap)
{
	char out[8];

	ck_assert_uint_eq(mid_json_str(out, sizeof(out), "ab"), 4);
	ck_assert_str_eq(out, "\"ab\"");
	ck_assert_uint_eq(mid_json_str(out, sizeof(out), "abcde"), 7);
	ck_assert_uint_eq(mid_json_str(out, sizeof(out), "abcdef"), 0);
	ck_assert_uint_eq(mid_json_str(out, 2, ""), 0);
}
END_TEST

START_TEST(test_common_key_file_limit)
{
	char text[MID_KEY_MAX + 3], key[MID_KEY_MAX + 1], why[160];

	memset(text, 'k', MID_KEY_MAX);
	strcpy(text + MID_KEY_MAX, "\n");
	ck_assert_int_eq(read_key_text(text, key, sizeof(key), NULL, why, sizeof(why)), MID_OK);
	ck_assert_uint_eq(strlen(key), MID_KEY_MAX);
	strcpy(text + MID_KEY_MAX, "k\n");
	ck_assert_int_eq(read_key_text(text, key, sizeof(key), NULL, why, sizeof(why)),
			 MID_ERR_TOO_BIG);
	ck_assert_str_eq(key, "");
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

/* From here on getrandom(2) fails with ENOSYS in this process, as in a
 * sandbox that refuses it. */
static void refuse_getrandom(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = (unsigned short)MID_ARRAY_LEN(f), .filter = f};

	if(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	   prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(3);
}

START_TEST(test_common_key_file_refusals)
{
	char key[MID_KEY_MAX + 1], why[160];

	ck_assert_int_eq(read_key_text("\n", key, sizeof(key), NULL, why, sizeof(why)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "empty"));
	ck_assert_int_eq(read_key_text("a b\n", key, sizeof(key), NULL, why, sizeof(why)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "space"));
	ck_assert_ptr_null(strstr(why, "a b"));
	ck_assert_int_eq(mid_key_read_file("/tmp", key, sizeof(key), NULL, why, sizeof(why)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a regular file"));
	ck_assert_int_eq(mid_key_read_file("/nonexistent/k", key, sizeof(key), NULL, why,
					   sizeof(why)), MID_ERR_IO);
	ck_assert_ptr_nonnull(strstr(why, "No such file"));
}
END_TEST

/* With getrandom refused for good, mid_uuid4 still returns distinct v4
 * UUIDs, and mid_random says it failed. Run in a child with an alarm, so
 * a loop that never ends fails the test instead of hanging it. */
START_TEST(test_common_hmac_vectors)
{
	/* RFC 4231, test cases 2 (a short key) and 6 (a key longer than a
	 * block, hashed first). */
	static const char want2[] =
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	static const char want6[] =
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
	unsigned char key6[131], mac[MID_SHA256_LEN];
	char hex[2 * MID_SHA256_LEN + 1];
	struct mid_hmac m;

	mid_hmac_init(&m, "Jefe", 4);
	mid_hmac_update(&m, "what do ya want ", 16);
	mid_hmac_update(&m, "for nothing?", 12);
	mid_hmac_final(&m, mac);
	mid_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, want2);
	memset(key6, 0xaa, sizeof(key6));
	mid_hmac_init(&m, key6, sizeof(key6));
	mid_hmac_update(&m, "Test Using Larger Than Block-Size Key - Hash Key First", 54);
	mid_hmac_final(&m, mac);
	mid_hex(mac, sizeof(mac), hex);
	ck_assert_str_eq(hex, want6);
	ck_assert(mid_unhex(want6, mac, sizeof(mac)));
	ck_assert_uint_eq(mac[0], 0x60);
	ck_assert(!mid_unhex("60E4", mac, 2));
	ck_assert(!mid_unhex("60e4x", mac, 2));
}
END_TEST

START_TEST(test_common_bind_proof)
{
	static const unsigned char secret[MID_SHA256_LEN] = {1, 2, 3};
	unsigned char k1[MID_BIND_KEY_BYTES], k2[MID_BIND_KEY_BYTES];
	char p1[65], p2[65];
	const char *sid = "00112233445566778899aabbccddeeff";

	ck_assert(mid_bind_id_ok(sid));
	ck_assert(!mid_bind_id_ok("00112233445566778899aabbccddeef"));
	ck_assert(!mid_bind_id_ok("00112233445566778899AABBCCDDEEFF"));
	ck_assert(!mid_bind_id_ok("00112233445566778899aabbccddeeff0"));
	/* A key per org, device and session. */
	mid_bind_session_key(secret, 1, "a:b:c:d", sid, k1);
	mid_bind_session_key(secret, 2, "a:b:c:d", sid, k2);
	ck_assert(memcmp(k1, k2, sizeof(k1)) != 0);
	mid_bind_session_key(secret, 1, "a:b:c:e", sid, k2);
	ck_assert(memcmp(k1, k2, sizeof(k1)) != 0);
	/* A proof per nonce and decision; fields cannot slide into each other. */
	mid_bind_proof(k1, sid, "a:b:c:d", true, "ALLOW", "r", p1);
	mid_bind_proof(k1, sid, "a:b:c:d", false, "ALLOW", "r", p2);
	ck_assert_str_ne(p1, p2);
	mid_bind_proof(k1, sid, "a:b:c:d", true, "ALLO", "Wr", p2);
	ck_assert_str_ne(p1, p2);
	mid_bind_proof(k1, "ffeeddccbbaa99887766554433221100", "a:b:c:d", true, "ALLOW", "r", p2);
	ck_assert_str_ne(p1, p2);
	mid_bind_proof(k1, sid, "a:b:c:d", true, "ALLOW", "r", p2);
	ck_assert_str_eq(p1, p2);
}
END_TEST

START_TEST(test_common_uuid4_without_getrandom)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if(pid == 0) {
		char a[37], b[37];
		unsigned char k[8];

		alarm(5);
		refuse_getrandom();
		if(mid_random(k, sizeof(k)) != MID_ERR_IO)
			_exit(4);
		mid_uuid4(a);
		mid_uuid4(b);
		_exit(uuid4_shape(a) && uuid4_shape(b) && strcmp(a, b) ? 0 : 5);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!WIFSIGNALED(status), "the child died of signal %d (SIGALRM: %d): "
		      "mid_uuid4 did not return", WTERMSIG(status), SIGALRM);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static void mid_check_tests(struct mid_check *t)
{
	t->name = "common";
	tcase_set_timeout(t->errors, 20);
	tcase_add_test(t->core, test_common_device_id_rules);
	tcase_add_test(t->core, test_common_uuid4_shape);
	tcase_add_test(t->core, test_common_json_str_escapes);
	tcase_add_test(t->core, test_common_url_forms);
	tcase_add_test(t->core, test_common_url_list);
	tcase_add_test(t->core, test_common_key_file_first_line);
	tcase_add_test(t->core, test_common_hmac_vectors);
	tcase_add_test(t->core, test_common_bind_proof);
	tcase_add_test(t->limits, test_common_json_str_cap);
	tcase_add_test(t->limits, test_common_key_file_limit);
	tcase_add_test(t->errors, test_common_key_file_refusals);
	tcase_add_test(t->errors, test_common_uuid4_without_getrandom);
}
