/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the policy module: every kind's matchers, first match,
 * defaults, settings, the built-in policy and rule descriptions ("core");
 * the hard caps and the matcher's bounded work ("limits"); and the exact
 * FILE:LINE message of each way a policy can be wrong ("errors").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pol_glob.h"
#include "policy.h"
#include "mid_check.h"

/* ---- helpers -------------------------------------------------------- */

static char err[1024];

static struct mid_policy *parse(const char *text)
{
	struct mid_policy *pol = NULL;
	enum mid_rc rc = mid_policy_parse(text, strlen(text), "t.json", &pol, err, sizeof(err));

	ck_assert_msg(rc == MID_OK, "parse failed: %s", err);
	ck_assert_ptr_nonnull(pol);
	return pol;
}

/* Parse must fail with exactly 'want'. */
static void expect_err(const char *text, const char *want)
{
	struct mid_policy *pol = (struct mid_policy *)&err; /* must be reset */
	enum mid_rc rc = mid_policy_parse(text, strlen(text), "t.json", &pol, err, sizeof(err));

	ck_assert_msg(rc != MID_OK, "parsed, expected: %s", want);
	ck_assert_ptr_null(pol);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(strchr(err, '\n'));
}

/* As expect_err, for a message of which 'part' is known. */
static void expect_err_part(const char *text, const char *part)
{
	struct mid_policy *pol = NULL;

	ck_assert_int_ne(mid_policy_parse(text, strlen(text), "t.json", &pol, err, sizeof(err)),
			 MID_OK);
	ck_assert_ptr_null(pol);
	ck_assert_msg(strstr(err, part), "error: %s (want %s)", err, part);
}

static struct mid_event ev_exec(const char *path, char *const *argv)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_EXEC;
	ev.path = path;
	ev.argv = argv;
	return ev;
}

static struct mid_event ev_net(enum mid_kind kind, const char *addr, uint16_t port,
			       const char *host)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.port = port;
	ev.host = host;
	ev.fdkind = kind == MID_EV_SEND ? MID_FD_SOCKET : MID_FD_UNKNOWN;
	if(inet_pton(AF_INET, addr, ev.addr) == 1)
		ev.family = AF_INET;
	else if(inet_pton(AF_INET6, addr, ev.addr) == 1)
		ev.family = AF_INET6;
	else
		ck_abort_msg("bad test address %s", addr);
	return ev;
}

static struct mid_event ev_unix(enum mid_kind kind, const char *path)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.family = AF_UNIX;
	ev.path = path;
	ev.fdkind = kind == MID_EV_SEND ? MID_FD_SOCKET : MID_FD_UNKNOWN;
	return ev;
}

static struct mid_event ev_write(const char *path, enum mid_fdkind fd)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_WRITE;
	ev.path = path;
	ev.fdkind = fd;
	return ev;
}

static struct mid_event ev_fs(enum mid_fsop op, const char *path, const char *path2)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_FS;
	ev.op = op;
	ev.path = path;
	ev.path2 = path2;
	return ev;
}

static struct mid_event ev_signal(int pid, const char *exe)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_SIGNAL;
	ev.pid = pid;
	ev.sig = 15;
	ev.path = exe;
	return ev;
}

/* The action for 'ev', asserting which rule (0-based, -1 default) decided. */
static enum mid_action decide(const struct mid_policy *pol, struct mid_event ev, int want_rule)
{
	int rule = -2;
	enum mid_action a = mid_policy_match(pol, &ev, &rule);

	ck_assert_int_eq(rule, want_rule);
	return a;
}

/* A policy of 'n' rules, each denying one exec path. Caller frees. */
static char *many_rules(size_t n)
{
	size_t cap = 64 + n * 64, len = 0, i;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	len += (size_t)snprintf(s + len, cap - len, "{\"version\":1,\"rules\":[\n");
	for(i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"%s{\"on\":\"exec\",\"path\":\"/bin/p%zu\",\"action\":\"deny\"}\n",
					i ? "," : "", i);
	snprintf(s + len, cap - len, "]}");
	return s;
}

/* ---- core ------------------------------------------------------------ */

START_TEST(test_policy_exec_path_and_argv)
{
	char *rm[] = {"rm", "-rf", "/", NULL};
	char *rm_f[] = {"rm", "-f", "x", NULL};
	char *ls[] = {"ls", NULL};
	struct mid_policy *pol = parse(
		"{\"version\":1,\"default\":\"allow\",\"rules\":[\n"
		"{\"on\":\"exec\",\"path\":\"/usr/bin/rm\",\"argv\":\"rm -rf *\",\"action\":\"deny\"},\n"
		"{\"on\":\"exec\",\"path\":[\"/usr/sbin/*\",\"/opt/**\"],\"action\":\"validate\"}]}");

	ck_assert_int_eq(decide(pol, ev_exec("/usr/bin/rm", rm), 0), MID_ACT_DENY);
	/* both matchers must agree */
	ck_assert_int_eq(decide(pol, ev_exec("/usr/bin/rm", rm_f), -1), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_exec("/bin/rm", rm), -1), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_exec("/usr/sbin/ip", ls), 1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_exec("/usr/sbin/x/ip", ls), -1), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_exec("/opt/a/b/c", ls), 1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_exec(NULL, ls), -1), MID_ACT_ALLOW);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_argv_is_matched_as_joined)
{
	char *a[] = {"sh", "-c", "echo hi", NULL};
	char *b[] = {"sh", "", "x", NULL};
	char *one[] = {"sh", NULL};
	char *none[] = {NULL};

	ck_assert(mid_glob_argv("sh -c echo hi", a));
	ck_assert(mid_glob_argv("sh -c *", a));
	ck_assert(mid_glob_argv("*-c echo*", a));
	ck_assert(mid_glob_argv("sh?-c?echo?hi", a));
	ck_assert(!mid_glob_argv("sh -c", a));
	ck_assert(!mid_glob_argv("sh  -c echo hi", a));
	/* an empty word still has its separators */
	ck_assert(mid_glob_argv("sh  x", b));
	ck_assert(mid_glob_argv("sh", one));
	ck_assert(!mid_glob_argv("sh ", one));
	ck_assert(mid_glob_argv("", none));
	ck_assert(mid_glob_argv("*", NULL));
	ck_assert(!mid_glob_argv("?", NULL));
}
END_TEST

START_TEST(test_policy_connect_addr_port_host)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"default\":{\"connect\":\"deny\"},\"rules\":[\n"
		"{\"on\":\"connect\",\"addr\":[\"127.0.0.0/8\",\"::1\"],\"action\":\"allow\"},\n"
		"{\"on\":\"connect\",\"host\":\"*.Example.com\",\"port\":[443,\"8000-8080\"],"
		"\"action\":\"validate\"},\n"
		"{\"on\":\"connect\",\"addr\":\"fd00::/8\",\"port\":53,\"action\":\"allow\"},\n"
		"{\"on\":\"connect\",\"path\":\"/run/*.sock\",\"action\":\"allow\"}]}");

	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "127.1.2.3", 9, NULL), 0),
			 MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "::1", 9, NULL), 0), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "128.0.0.1", 9, NULL), -1),
			 MID_ACT_DENY);
	/* families never cross: ::2 is not 127/8, ::ffff:127.0.0.1 is not given as v6 */
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "::2", 9, NULL), -1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "::ffff:127.0.0.1", 9, NULL), -1),
			 MID_ACT_DENY);
	/* host globs ignore case, need a host, and ports must agree */
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 443, "API.example.COM"),
				1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 8080, "a.example.com"),
				1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 8081, "a.example.com"),
				-1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 443, NULL), -1),
			 MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 443, "example.com"),
				-1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "fdab::1", 53, NULL), 2), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "fe00::1", 53, NULL), -1), MID_ACT_DENY);
	/* unix sockets: only "path" rules, never a port or address rule */
	ck_assert_int_eq(decide(pol, ev_unix(MID_EV_CONNECT, "/run/x.sock"), 3), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_unix(MID_EV_CONNECT, "/run/a/x.sock"), -1), MID_ACT_DENY);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_unix_never_matches_port)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"default\":\"deny\",\"rules\":[\n"
		"{\"on\":\"send\",\"port\":\"1-65535\",\"action\":\"allow\"},\n"
		"{\"on\":\"send\",\"fd\":\"socket\",\"path\":\"@abstract\",\"action\":\"validate\"}]}");

	ck_assert_int_eq(decide(pol, ev_unix(MID_EV_SEND, "/tmp/s"), -1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_unix(MID_EV_SEND, "@abstract"), 1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_SEND, "10.0.0.1", 1, NULL), 0), MID_ACT_ALLOW);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_write_path_and_fd)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"rules\":[\n"
		"{\"on\":\"write\",\"fd\":[\"tty\",\"pipe\"],\"action\":\"allow\"},\n"
		"{\"on\":\"write\",\"path\":\"/tmp/**\",\"action\":\"allow\"},\n"
		"{\"on\":\"write\",\"fd\":\"file\",\"action\":\"deny\"}]}");

	ck_assert_int_eq(decide(pol, ev_write(NULL, MID_FD_TTY), 0), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_write("/tmp/a/b", MID_FD_FILE), 1), MID_ACT_ALLOW);
	/* an unknown path never matches a path rule */
	ck_assert_int_eq(decide(pol, ev_write(NULL, MID_FD_FILE), 2), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_write("/etc/x", MID_FD_FILE), 2), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_write(NULL, MID_FD_UNKNOWN), -1), MID_ACT_VALIDATE);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_fs_op_and_either_path)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"default\":\"allow\",\"rules\":[\n"
		"{\"on\":\"fs\",\"op\":[\"delete\",\"rename\"],\"path\":\"/etc/**\",\"action\":\"deny\"},\n"
		"{\"on\":\"fs\",\"op\":\"chmod\",\"action\":\"validate\"}]}");

	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_DELETE, "/etc/passwd", NULL), 0), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_CREATE, "/etc/passwd", NULL), -1), MID_ACT_ALLOW);
	/* rename's target counts too */
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_RENAME, "/tmp/x", "/etc/passwd"), 0),
			 MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_RENAME, "/tmp/x", "/tmp/y"), -1), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_CHMOD, "/x", NULL), 1), MID_ACT_VALIDATE);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_first_match_wins)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"rules\":[\n"
		"{\"on\":\"write\",\"path\":\"/srv/out/keep\",\"action\":\"deny\"},\n"
		"{\"on\":\"exec\",\"action\":\"deny\"},\n"
		"{\"on\":\"write\",\"path\":\"/srv/out/*\",\"action\":\"allow\"},\n"
		"{\"on\":\"write\",\"action\":\"deny\"}]}");

	ck_assert_int_eq(decide(pol, ev_write("/srv/out/keep", MID_FD_FILE), 0), MID_ACT_DENY);
	/* the rule index counts every rule, not only this kind's */
	ck_assert_int_eq(decide(pol, ev_write("/srv/out/x", MID_FD_FILE), 2), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_write("/srv/x", MID_FD_FILE), 3), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_exec("/bin/true", NULL), 1), MID_ACT_DENY);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_defaults_string_and_object)
{
	struct mid_policy *pol = parse("{\"version\":1}");
	struct mid_event fs = ev_fs(MID_FS_DELETE, "/x", NULL);

	ck_assert_int_eq(decide(pol, ev_exec("/x", NULL), -1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, fs, -1), MID_ACT_VALIDATE);
	mid_policy_free(pol);

	pol = parse("{\"version\":1,\"default\":\"deny\"}");
	ck_assert_int_eq(decide(pol, ev_write("/x", MID_FD_FILE), -1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_SEND, "::1", 1, NULL), -1), MID_ACT_DENY);
	mid_policy_free(pol);

	pol = parse("{\"version\":1,\"default\":{\"exec\":\"deny\",\"write\":\"allow\"}}");
	ck_assert_int_eq(decide(pol, ev_exec("/x", NULL), -1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_write("/x", MID_FD_FILE), -1), MID_ACT_ALLOW);
	/* kinds not named validate */
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "::1", 1, NULL), -1),
			 MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, fs, -1), MID_ACT_VALIDATE);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_settings_parsed)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"device\":\"svc:prod:runner:02\",\"url\":\"unix:/run/midd.sock\","
		"\"ttl_ms\":0,\"timeout_ms\":60000,\"on_deny\":\"exit:42\",\"mode\":\"audit\","
		"\"unfollowable\":\"deny\"}");
	const struct mid_policy_settings *s = mid_policy_settings(pol);

	ck_assert_uint_eq(s->set, MID_SET_DEVICE | MID_SET_URL | MID_SET_TTL | MID_SET_TIMEOUT |
				  MID_SET_ON_DENY | MID_SET_MODE | MID_SET_UNFOLLOWABLE);
	ck_assert_str_eq(s->device, "svc:prod:runner:02");
	ck_assert_str_eq(s->url, "unix:/run/midd.sock");
	ck_assert_int_eq(s->ttl_ms, 0);
	ck_assert_int_eq(s->timeout_ms, 60000);
	ck_assert_int_eq(s->on_deny, MID_DENY_EXIT);
	ck_assert_int_eq(s->exit_code, 42);
	ck_assert_int_eq(s->mode, MID_MODE_AUDIT);
	ck_assert_int_eq(s->unfollowable, MID_UNFOLLOW_DENY);
	mid_policy_free(pol);

	/* nothing named: no bits, and the defaults */
	pol = parse("{\"version\":1,\"on_deny\":\"errno\"}");
	s = mid_policy_settings(pol);
	ck_assert_uint_eq(s->set, MID_SET_ON_DENY);
	ck_assert_int_eq(s->on_deny, MID_DENY_ERRNO);
	ck_assert_int_eq(s->ttl_ms, MID_TTL_DEFAULT_MS);
	ck_assert_int_eq(s->timeout_ms, MID_TIMEOUT_DEFAULT_MS);
	ck_assert_int_eq(s->mode, MID_MODE_ENFORCE);
	ck_assert_str_eq(s->device, "");
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_on_deny_parse)
{
	enum mid_on_deny d = MID_DENY_ERRNO;
	int code = -1;

	ck_assert_int_eq(mid_on_deny_parse("kill", &d, &code), MID_OK);
	ck_assert_int_eq(d, MID_DENY_KILL);
	ck_assert_int_eq(mid_on_deny_parse("abort", &d, &code), MID_OK);
	ck_assert_int_eq(d, MID_DENY_ABORT);
	ck_assert_int_eq(mid_on_deny_parse("exit:0", &d, &code), MID_OK);
	ck_assert_int_eq(d, MID_DENY_EXIT);
	ck_assert_int_eq(code, 0);
	ck_assert_int_eq(mid_on_deny_parse("exit:255", &d, &code), MID_OK);
	ck_assert_int_eq(code, 255);
	ck_assert_int_eq(mid_on_deny_parse("errno", &d, &code), MID_OK);
	ck_assert_int_eq(d, MID_DENY_ERRNO);
	ck_assert_int_eq(mid_on_deny_parse("exit:256", &d, &code), MID_ERR_INVAL);
	ck_assert_int_eq(mid_on_deny_parse("exit:", &d, &code), MID_ERR_INVAL);
	ck_assert_int_eq(mid_on_deny_parse("exit:-1", &d, &code), MID_ERR_INVAL);
	ck_assert_int_eq(mid_on_deny_parse("exit:0001", &d, &code), MID_ERR_INVAL);
	ck_assert_int_eq(mid_on_deny_parse("Kill", &d, &code), MID_ERR_INVAL);
	ck_assert_int_eq(mid_on_deny_parse(NULL, &d, &code), MID_ERR_INVAL);
	ck_assert_int_eq(code, 255);
}
END_TEST

START_TEST(test_policy_builtin)
{
	struct mid_policy *pol = NULL;
	char buf[128];

	ck_assert_int_eq(mid_policy_builtin(&pol), MID_OK);
	ck_assert_uint_eq(mid_policy_rule_count(pol), 1);
	ck_assert_uint_eq(mid_policy_settings(pol)->set, 0);
	ck_assert_int_eq(decide(pol, ev_write(NULL, MID_FD_TTY), 0), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_write(NULL, MID_FD_PIPE), 0), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_write("/dev/null", MID_FD_CHR), 0), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_write("/tmp/x", MID_FD_FILE), -1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_SEND, "::1", 1, NULL), -1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_exec("/bin/sh", NULL), -1), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_CREATE, "/x", NULL), -1), MID_ACT_VALIDATE);
	ck_assert(!mid_policy_needs_target(pol, MID_EV_WRITE));
	mid_policy_rule_describe(pol, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "rule 1 (built-in): write fd tty,pipe,chr -> allow");
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_describe)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"rules\":[\n"
		"{\"on\":\"exec\",\"action\":\"deny\"},\n"
		"\n"
		"{\"on\":\"fs\",\"op\":\"delete\",\"path\":\"/etc/**\",\"action\":\"deny\"},\n"
		"{\"on\":\"connect\",\"host\":\"API.example.com\",\"addr\":[\"10.0.0.0/8\",\"::1\"],"
		"\"port\":[443,\"8000-8080\"],\"action\":\"validate\"},\n"
		"{\"on\":\"exec\",\"path\":\"/bin/sh\",\"argv\":\"sh -c *\",\"action\":\"allow\"}]}");
	char buf[256], small[12];

	mid_policy_rule_describe(pol, 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "rule 1 (line 2): exec (any) -> deny");
	mid_policy_rule_describe(pol, 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "rule 2 (line 4): fs op delete path /etc/** -> deny");
	mid_policy_rule_describe(pol, 2, buf, sizeof(buf));
	ck_assert_str_eq(buf, "rule 3 (line 5): connect host api.example.com addr 10.0.0.0/8,::1 "
			      "port 443,8000-8080 -> validate");
	mid_policy_rule_describe(pol, 3, buf, sizeof(buf));
	ck_assert_str_eq(buf, "rule 4 (line 6): exec path /bin/sh argv \"sh -c *\" -> allow");
	mid_policy_rule_describe(pol, 4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "no rule 5");
	/* a small buffer is cut short and terminated */
	memset(small, 'x', sizeof(small));
	mid_policy_rule_describe(pol, 1, small, sizeof(small));
	ck_assert_str_eq(small, "rule 2 (lin");
	mid_policy_free(pol);
}
END_TEST

/* Signals match by the target's program; a group has none, so only a
 * rule without "path" decides it. tty-inject matches the terminal. */
START_TEST(test_policy_signal_and_tty_inject)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"default\":{\"signal\":\"deny\",\"tty-inject\":\"validate\"},"
		"\"rules\":[{\"on\":\"signal\",\"path\":\"/usr/bin/sleep\",\"action\":\"allow\"},"
		"{\"on\":\"tty-inject\",\"path\":\"/dev/pts/*\",\"action\":\"deny\"}]}");
	struct mid_event tty;

	ck_assert_int_eq(decide(pol, ev_signal(42, "/usr/bin/sleep"), 0), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_signal(42, "/usr/bin/bash"), -1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_signal(-42, NULL), -1), MID_ACT_DENY);
	memset(&tty, 0, sizeof(tty));
	tty.kind = MID_EV_TTY_INJECT;
	tty.fdkind = MID_FD_TTY;
	tty.path = "/dev/pts/3";
	ck_assert_int_eq(decide(pol, tty, 1), MID_ACT_DENY);
	tty.path = "/dev/tty1";
	ck_assert_int_eq(decide(pol, tty, -1), MID_ACT_VALIDATE);
	ck_assert(mid_policy_needs_target(pol, MID_EV_SIGNAL));
	ck_assert_str_eq(mid_kind_name(MID_EV_TTY_INJECT), "tty-inject");
	mid_policy_free(pol);
	/* only "path" is a signal matcher */
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"signal\", \"port\": 1, "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): field \"port\" is not valid for on=\"signal\" "
		   "(valid: path)");
}
END_TEST

START_TEST(test_policy_names)
{
	int i;

	ck_assert_str_eq(mid_kind_name(MID_EV_EXEC), "exec");
	ck_assert_str_eq(mid_kind_name(MID_EV_FS), "fs");
	ck_assert_str_eq(mid_kind_name(MID_EV_KIND_COUNT), "?");
	ck_assert_str_eq(mid_fsop_name(MID_FS_XATTR), "xattr");
	ck_assert_str_eq(mid_fsop_name(MID_FS_NONE), "none");
	ck_assert_str_eq(mid_fdkind_name(MID_FD_UNKNOWN), "unknown");
	ck_assert_str_eq(mid_fdkind_name(MID_FD_CHR), "chr");
	ck_assert_str_eq(mid_action_name(MID_ACT_VALIDATE), "validate");
	ck_assert_str_eq(mid_action_name(MID_ACT_COUNT), "?");
	/* every op a policy can name is accepted by the parser */
	for(i = 1; i < MID_FS_OP_COUNT; i++) {
		char text[128];
		struct mid_policy *pol;
		snprintf(text, sizeof(text),
			 "{\"version\":1,\"rules\":[{\"on\":\"fs\",\"op\":\"%s\",\"action\":\"deny\"}]}",
			 mid_fsop_name((enum mid_fsop)i));
		pol = parse(text);
		ck_assert_int_eq(decide(pol, ev_fs((enum mid_fsop)i, "/x", NULL), 0), MID_ACT_DENY);
		mid_policy_free(pol);
	}
	for(i = 0; i < MID_FD_KIND_COUNT; i++) {
		char text[128];
		struct mid_policy *pol;
		snprintf(text, sizeof(text),
			 "{\"version\":1,\"rules\":[{\"on\":\"write\",\"fd\":\"%s\",\"action\":\"deny\"}]}",
			 mid_fdkind_name((enum mid_fdkind)i));
		pol = parse(text);
		ck_assert_int_eq(decide(pol, ev_write(NULL, (enum mid_fdkind)i), 0), MID_ACT_DENY);
		mid_policy_free(pol);
	}
}
END_TEST

START_TEST(test_policy_needs_target)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"rules\":[\n"
		"{\"on\":\"write\",\"fd\":\"tty\",\"action\":\"allow\"},\n"
		"{\"on\":\"fs\",\"op\":\"delete\",\"action\":\"deny\"},\n"
		"{\"on\":\"exec\",\"argv\":\"x *\",\"action\":\"deny\"},\n"
		"{\"on\":\"connect\",\"port\":22,\"action\":\"deny\"}]}");

	ck_assert(!mid_policy_needs_target(pol, MID_EV_WRITE));
	ck_assert(!mid_policy_needs_target(pol, MID_EV_FS));
	ck_assert(!mid_policy_needs_target(pol, MID_EV_SEND));
	ck_assert(mid_policy_needs_target(pol, MID_EV_EXEC));
	ck_assert(mid_policy_needs_target(pol, MID_EV_CONNECT));
	mid_policy_free(pol);
}
END_TEST

/* Uniform: no rule names the kind, whatever the rule looks at (an
 * op-only rule makes fs events differ by op). */
START_TEST(test_policy_uniform)
{
	struct mid_policy *pol = parse(
		"{\"version\":1,\"default\":{\"send\":\"deny\"},\"rules\":[\n"
		"{\"on\":\"fs\",\"op\":\"delete\",\"action\":\"deny\"}]}");
	struct mid_policy *builtin = NULL;
	enum mid_action a = MID_ACT_ALLOW;

	ck_assert(!mid_policy_uniform(pol, MID_EV_FS, &a));
	ck_assert(mid_policy_uniform(pol, MID_EV_CONNECT, &a));
	ck_assert_int_eq(a, MID_ACT_VALIDATE);
	ck_assert(mid_policy_uniform(pol, MID_EV_SEND, &a));
	ck_assert_int_eq(a, MID_ACT_DENY);
	ck_assert(!mid_policy_uniform(NULL, MID_EV_FS, &a));
	ck_assert(!mid_policy_uniform(pol, MID_EV_KIND_COUNT, &a));
	mid_policy_free(pol);
	ck_assert_int_eq(mid_policy_builtin(&builtin), MID_OK);
	ck_assert(mid_policy_uniform(builtin, MID_EV_FS, &a));
	ck_assert_int_eq(a, MID_ACT_VALIDATE);
	ck_assert(!mid_policy_uniform(builtin, MID_EV_WRITE, &a));
}
END_TEST

START_TEST(test_policy_glob_path)
{
	ck_assert(mid_glob_path("/tmp/**", "/tmp/a"));
	ck_assert(mid_glob_path("/tmp/**", "/tmp/a/b/c"));
	ck_assert(!mid_glob_path("/tmp/**", "/tmp"));
	ck_assert(!mid_glob_path("/tmp/**", "/tmpx/a"));
	ck_assert(mid_glob_path("/tmp/**/x", "/tmp/x"));
	ck_assert(mid_glob_path("/tmp/**/x", "/tmp/a/b/x"));
	ck_assert(!mid_glob_path("/tmp/**/x", "/tmp/ax"));
	ck_assert(mid_glob_path("**/core", "/var/crash/core"));
	ck_assert(mid_glob_path("/a/**/b*/c", "/a/x/bb/y/b1/c"));
	ck_assert(mid_glob_path("/tmp/*", "/tmp/a"));
	ck_assert(!mid_glob_path("/tmp/*", "/tmp/a/b"));
	ck_assert(!mid_glob_path("/tmp/?", "/tmp//"));
	ck_assert(mid_glob_path("/tmp/*.log", "/tmp/x.log"));
	ck_assert(!mid_glob_path("/tmp/*.log", "/tmp/d/x.log"));
	/* '**' inside a segment is a '*' */
	ck_assert(mid_glob_path("/a**", "/abc"));
	ck_assert(!mid_glob_path("/a**", "/ab/c"));
	ck_assert(mid_glob_path("/dev/tty[0-9]", "/dev/tty7"));
	ck_assert(!mid_glob_path("/dev/tty[!0-9]", "/dev/tty7"));
	ck_assert(mid_glob_path("/dev/tty[!0-9]", "/dev/ttyS"));
	ck_assert(!mid_glob_path("/a[!x]b", "/a/b"));
	ck_assert(mid_glob_path("/x/\\*", "/x/*"));
	ck_assert(!mid_glob_path("/x/\\*", "/x/a"));
	ck_assert(mid_glob_path("/[]]", "/]"));
	ck_assert(!mid_glob_path("/tmp/**", NULL));
	ck_assert(!mid_glob_path(NULL, "/tmp"));
}
END_TEST

START_TEST(test_policy_glob_text)
{
	ck_assert(mid_glob_text("rm -rf *", "rm -rf /a/b"));
	ck_assert(mid_glob_text("*/b", "x/a/b"));
	ck_assert(mid_glob_text("a?c", "a/c"));
	ck_assert(!mid_glob_text("a?c", "ac"));
	ck_assert(!mid_glob_text("ABC", "abc"));
	ck_assert(mid_glob_host("*.example.com", "API.EXAMPLE.com"));
	ck_assert(mid_glob_host("[a-c]pi.example.com", "Bpi.example.com"));
	ck_assert(!mid_glob_host("*.example.com", "example.com"));
	ck_assert(!mid_glob_host("*.example.com", NULL));
}
END_TEST

START_TEST(test_policy_comment_anywhere)
{
	struct mid_policy *pol = parse(
		"{\"comment\":{\"any\":[1,{\"x\":null}],\"any\":true},\"version\":1,\"rules\":[\n"
		"{\"comment\":\"why\",\"on\":\"exec\",\"action\":\"deny\"}]}");

	ck_assert_uint_eq(mid_policy_rule_count(pol), 1);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_examples_parse)
{
	DIR *d = opendir("policy/examples");
	struct dirent *e;
	int n = 0;

	ck_assert_msg(d != NULL, "run from the repository root");
	while((e = readdir(d))) {
		char path[512];
		struct mid_policy *pol = NULL;
		size_t len = strlen(e->d_name);
		if(len < 6 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "policy/examples/%s", e->d_name);
		ck_assert_msg(mid_policy_load(path, &pol, err, sizeof(err)) == MID_OK, "%s", err);
		ck_assert_uint_gt(mid_policy_rule_count(pol), 0);
		mid_policy_free(pol);
		n++;
	}
	closedir(d);
	ck_assert_int_ge(n, 3);
}
END_TEST

START_TEST(test_policy_examples_decide)
{
	char *gz[] = {"gzip", "-9", "r.csv", NULL};
	struct mid_policy *pol = NULL;

	ck_assert_int_eq(mid_policy_load("policy/examples/cron-output-only.json", &pol, err,
					 sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_policy_match(pol, &(struct mid_event){.kind = MID_EV_WRITE,
				.path = "/var/lib/report/out/r.csv", .fdkind = MID_FD_FILE}, NULL),
			 MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_write("/etc/cron.d/x", MID_FD_FILE), 2), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_exec("/usr/bin/gzip", gz), 7), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_exec("/bin/sh", NULL), 8), MID_ACT_DENY);
	/* bash opens /dev/tty at its start, under cron too. */
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_OPEN, "/dev/tty", NULL), 5), MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_DELETE, "/dev/tty", NULL), 6), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_fs(MID_FS_RENAME, "/etc/passwd", "/tmp/p"), 3),
			 MID_ACT_VALIDATE);
	mid_policy_free(pol);

	ck_assert_int_eq(mid_policy_load("policy/examples/agent-one-api.json", &pol, err,
					 sizeof(err)), MID_OK);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "127.0.0.53", 53, NULL), 1),
			 MID_ACT_ALLOW);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 443,
					    "api.example.com"), 3), MID_ACT_VALIDATE);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "93.184.216.34", 80,
					    "api.example.com"), -1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "1.1.1.1", 443, "evil.example"), -1),
			 MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_write("/home/a/x", MID_FD_FILE), -1), MID_ACT_VALIDATE);
	mid_policy_free(pol);

	ck_assert_int_eq(mid_policy_load("policy/examples/deny-exec.json", &pol, err,
					 sizeof(err)), MID_OK);
	ck_assert_int_eq(decide(pol, ev_exec("/bin/true", NULL), 1), MID_ACT_DENY);
	ck_assert_int_eq(decide(pol, ev_write(NULL, MID_FD_TTY), 0), MID_ACT_ALLOW);
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_load_file)
{
	char path[] = "/tmp/check_policy.XXXXXX";
	static const char text[] = "{\n  \"version\": 1,\n  \"ttl_ms\": 500\n}\n";
	struct mid_policy *pol = NULL;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(mid_policy_load(path, &pol, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_policy_settings(pol)->ttl_ms, 500);
	mid_policy_free(pol);
	unlink(path);

	pol = (struct mid_policy *)err;
	ck_assert_int_eq(mid_policy_load(path, &pol, err, sizeof(err)), MID_ERR_IO);
	ck_assert_ptr_null(pol);
	ck_assert_ptr_nonnull(strstr(err, "cannot read the policy: No such file or directory"));
	ck_assert_int_eq(mid_policy_load("/tmp", &pol, err, sizeof(err)), MID_ERR_INVAL);
	ck_assert_str_eq(err, "/tmp: the policy is not a regular file");
	mid_policy_free(NULL);
}
END_TEST

/* The matcher's promise: no allocation on any path through it. */
START_TEST(test_policy_match_allocates_nothing)
{
	char *argv[] = {"rm", "-rf", "/", NULL};
	struct mid_policy *pol = parse(
		"{\"version\":1,\"rules\":[\n"
		"{\"on\":\"exec\",\"argv\":[\"x *\",\"rm * /\"],\"path\":\"/**/rm\",\"action\":\"deny\"},\n"
		"{\"on\":\"connect\",\"host\":\"*.x\",\"addr\":\"::/0\",\"port\":\"1-9\",\"action\":\"deny\"},\n"
		"{\"on\":\"fs\",\"path\":\"/a/**/b\",\"op\":\"rename\",\"action\":\"deny\"}]}");
	struct mid_event evs[] = {
		ev_exec("/usr/bin/rm", argv),
		ev_net(MID_EV_CONNECT, "::1", 5, "a.x"),
		ev_fs(MID_FS_RENAME, "/q", "/a/c/d/b"),
		ev_write("/x", MID_FD_FILE),
	};
	struct mallinfo2 before, after;
	size_t i, hits = 0;

	before = mallinfo2();
	for(i = 0; i < 1000; i++)
		hits += mid_policy_match(pol, &evs[i % MID_ARRAY_LEN(evs)], NULL) == MID_ACT_DENY;
	after = mallinfo2();
	ck_assert_uint_eq(hits, 750);
	ck_assert_uint_eq(after.uordblks, before.uordblks);
	ck_assert_uint_eq(after.hblkhd, before.hblkhd);
	mid_policy_free(pol);
}
END_TEST

/* ---- limits ---------------------------------------------------------- */

START_TEST(test_policy_device_256_bytes)
{
	char text[400], dev[258];
	struct mid_policy *pol;

	memset(dev, 'd', 256);
	dev[256] = '\0';
	snprintf(text, sizeof(text), "{\"version\":1,\n\"device\":\"%s\"}", dev);
	pol = parse(text);
	ck_assert_str_eq(mid_policy_settings(pol)->device, dev);
	mid_policy_free(pol);
	dev[256] = 'd';
	dev[257] = '\0';
	snprintf(text, sizeof(text), "{\"version\":1,\n\"device\":\"%s\"}", dev);
	expect_err(text, "t.json:2: \"device\" must be 1 to 256 printable ASCII characters "
			 "without spaces (it has 257 bytes)");
	expect_err("{\"version\":1,\"device\":\"\"}",
		   "t.json:1: \"device\" must be 1 to 256 printable ASCII characters "
		   "without spaces (it has 0 bytes)");
	expect_err("{\"version\":1,\"device\":\"a b\"}",
		   "t.json:1: \"device\" must be 1 to 256 printable ASCII characters "
		   "without spaces (it has 3 bytes, one of them not allowed)");
}
END_TEST

START_TEST(test_policy_ttl_30000)
{
	struct mid_policy *pol = parse("{\"version\":1,\"ttl_ms\":30000}");

	ck_assert_int_eq(mid_policy_settings(pol)->ttl_ms, 30000);
	mid_policy_free(pol);
	expect_err("{\"version\":1,\n\"ttl_ms\":30001}",
		   "t.json:2: ttl_ms 30001 is over the maximum 30000");
	expect_err("{\"version\":1,\"ttl_ms\":60000}",
		   "t.json:1: ttl_ms 60000 is over the maximum 30000");
	expect_err("{\"version\":1,\"ttl_ms\":-1}", "t.json:1: ttl_ms -1 is below the minimum 0");
	expect_err("{\"version\":1,\"ttl_ms\":1.5}",
		   "t.json:1: ttl_ms must be a whole number (0..30000), not 1.5");
	expect_err("{\"version\":1,\"timeout_ms\":0}",
		   "t.json:1: timeout_ms 0 is below the minimum 1");
	expect_err("{\"version\":1,\"timeout_ms\":60001}",
		   "t.json:1: timeout_ms 60001 is over the maximum 60000");
}
END_TEST

START_TEST(test_policy_4096_rules)
{
	char *text = many_rules(4096);
	struct mid_policy *pol = parse(text);
	char *argv[] = {"p", NULL};

	ck_assert_uint_eq(mid_policy_rule_count(pol), 4096);
	ck_assert_int_eq(decide(pol, ev_exec("/bin/p4095", argv), 4095), MID_ACT_DENY);
	mid_policy_free(pol);
	free(text);
	text = many_rules(4097);
	expect_err(text, "t.json:1: \"rules\" has 4097 rules, over the limit of 4096");
	free(text);
}
END_TEST

/* A valid policy of exactly 'len' bytes: padding in a comment. */
static char *sized_policy(size_t len)
{
	static const char head[] = "{\"version\":1,\"comment\":\"";
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - 2);
	memcpy(s + len - 2, "\"}", 2);
	s[len] = '\0';
	return s;
}

START_TEST(test_policy_one_mib)
{
	char path[] = "/tmp/check_policy_big.XXXXXX";
	char *text = sized_policy(1024 * 1024);
	struct mid_policy *pol = parse(text);
	int fd;

	mid_policy_free(pol);
	free(text);
	text = sized_policy(1024 * 1024 + 1);
	ck_assert_int_eq(mid_policy_parse(text, strlen(text), "t.json", &pol, err, sizeof(err)),
			 MID_ERR_TOO_BIG);
	ck_assert_str_eq(err, "t.json: the policy is 1048577 bytes, over the limit of 1048576 "
			      "(1 MiB)");
	/* the same through a file */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(mid_policy_load(path, &pol, err, sizeof(err)), MID_ERR_TOO_BIG);
	ck_assert_ptr_nonnull(strstr(err, "over the limit of 1048576"));
	unlink(path);
	free(text);
}
END_TEST

START_TEST(test_policy_deep_nesting)
{
	char text[512];
	size_t n = 0, i;
	struct mid_policy *pol;

	/* the root object is level 1; the comment adds 63 more */
	n += (size_t)snprintf(text, sizeof(text), "{\"version\":1,\"comment\":");
	for(i = 0; i < 63; i++)
		text[n++] = '[';
	for(i = 0; i < 63; i++)
		text[n++] = ']';
	snprintf(text + n, sizeof(text) - n, "}");
	pol = parse(text);
	mid_policy_free(pol);

	n = (size_t)snprintf(text, sizeof(text), "{\"version\":1,\n\"comment\":");
	for(i = 0; i < 64; i++)
		text[n++] = '[';
	for(i = 0; i < 64; i++)
		text[n++] = ']';
	snprintf(text + n, sizeof(text) - n, "}");
	expect_err(text, "t.json:2: nesting deeper than 64 levels");
}
END_TEST

START_TEST(test_policy_long_argv)
{
	enum { WORDS = 20000 };
	static char *argv[WORDS + 2];
	struct mid_policy *pol = parse(
		"{\"version\":1,\"rules\":[\n"
		"{\"on\":\"exec\",\"argv\":\"tar * --to-command=*\",\"action\":\"deny\"},\n"
		"{\"on\":\"exec\",\"argv\":\"tar c*f *\",\"action\":\"allow\"}]}");
	struct mallinfo2 before, after;
	size_t i;

	/* 20000 words of 5 bytes: about 120 KB joined */
	argv[0] = "tar";
	for(i = 1; i <= WORDS; i++)
		argv[i] = i == 1 ? "cf" : "aaaa";
	argv[WORDS + 1] = NULL;
	before = mallinfo2();
	ck_assert_int_eq(decide(pol, ev_exec("/bin/tar", argv), 1), MID_ACT_ALLOW);
	argv[WORDS] = "--to-command=sh";
	ck_assert_int_eq(decide(pol, ev_exec("/bin/tar", argv), 0), MID_ACT_DENY);
	after = mallinfo2();
	ck_assert_uint_eq(after.uordblks, before.uordblks);
	/* the last word is seen though far past any fixed buffer */
	ck_assert(mid_glob_argv("* --to-command=sh", argv));
	ck_assert(!mid_glob_argv("* --to-command=s", argv));
	mid_policy_free(pol);
}
END_TEST

START_TEST(test_policy_glob_pathology)
{
	enum { N = 4000 };
	static char s[N + 2];
	const char *w[2] = {s, NULL};
	const char *pat;
	size_t steps = 0, bound;

	memset(s, 'a', N);
	/* text: a backtracking matcher would take about N^5 steps here */
	pat = "a*a*a*a*a*b";
	ck_assert(!glob_run(pat, w, 0, &steps));
	bound = (strlen(pat) + 1) * (N + 1);
	ck_assert_msg(steps <= bound, "%zu steps, bound %zu", steps, bound);
	ck_assert_uint_gt(steps, N);
	/* the worst case for one resume point is the product, not worse */
	pat = "*aaaaaaaaaaaaaaaaaaaab";
	ck_assert(!glob_run(pat, w, 0, &steps));
	bound = (strlen(pat) + 1) * (N + 1);
	ck_assert_msg(steps <= bound, "%zu steps, bound %zu", steps, bound);

	/* paths: the same with '**' between segments of "a/a/a/..." */
	for(size_t i = 1; i < N; i += 2)
		s[i] = '/';
	pat = "**/a*/**/a*/**/a*/**/b";
	ck_assert(!glob_run(pat, w, MID_GLOB_PATH, &steps));
	bound = (strlen(pat) + 1) * (N + 1);
	ck_assert_msg(steps <= bound, "%zu steps, bound %zu", steps, bound);

	/* and a match still needs no more */
	s[N - 2] = 'b';
	s[N - 1] = '\0';
	ck_assert(glob_run(pat, w, MID_GLOB_PATH, &steps));
	ck_assert_msg(steps <= bound, "%zu steps, bound %zu", steps, bound);
}
END_TEST

START_TEST(test_policy_list_256_entries)
{
	size_t cap = 256 * 16 + 128, len, i;
	char *text = malloc(cap);
	struct mid_policy *pol;

	ck_assert_ptr_nonnull(text);
	for(int round = 0; round < 2; round++) {
		size_t n = 256 + (size_t)round;
		len = (size_t)snprintf(text, cap, "{\"version\":1,\"rules\":[\n{\"on\":\"connect\",\n\"port\":[");
		for(i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, cap - len, "%s%zu", i ? "," : "", i + 1);
		snprintf(text + len, cap - len, "],\"action\":\"deny\"}]}");
		if(!round) {
			pol = parse(text);
			ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "::1", 256, NULL), 0),
					 MID_ACT_DENY);
			ck_assert_int_eq(decide(pol, ev_net(MID_EV_CONNECT, "::1", 257, NULL), -1),
					 MID_ACT_VALIDATE);
			mid_policy_free(pol);
		} else {
			expect_err(text, "t.json:3: rule 1 (line 2): \"port\" has 257 entries, over "
					 "the limit of 256");
		}
	}
	free(text);
}
END_TEST

START_TEST(test_policy_glob_4096_bytes)
{
	size_t cap = 4096 + 256;
	char *text = malloc(cap), *g = malloc(4098);
	struct mid_policy *pol;

	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(g);
	g[0] = '/';
	memset(g + 1, 'x', 4095);
	g[4096] = '\0';
	snprintf(text, cap, "{\"version\":1,\"rules\":[{\"on\":\"write\",\"path\":\"%s\","
		 "\"action\":\"deny\"}]}", g);
	pol = parse(text);
	ck_assert_int_eq(decide(pol, ev_write(g, MID_FD_FILE), 0), MID_ACT_DENY);
	mid_policy_free(pol);
	g[4096] = 'x';
	g[4097] = '\0';
	snprintf(text, cap, "{\"version\":1,\"rules\":[{\"on\":\"write\",\"path\":\"%s\","
		 "\"action\":\"deny\"}]}", g);
	ck_assert_int_ne(mid_policy_parse(text, strlen(text), "t.json", &pol, err, sizeof(err)),
			 MID_OK);
	ck_assert_ptr_nonnull(strstr(err, "is 4097 bytes, over the limit of 4096"));
	ck_assert(strncmp(err, "t.json:1: rule 1 (line 1): path \"/xxx", 37) == 0);
	free(text);
	free(g);
}
END_TEST

/* The longest host name the client takes is 255 bytes; "url" is read by
 * the same parser, so a longer one is refused at policy check, not at
 * the program's start. The field itself is capped at 511 bytes. */
START_TEST(test_policy_url_longest_host)
{
	char text[700], url[520];
	struct mid_policy *pol;

	memcpy(url, "http://", 7);
	memset(url + 7, 'h', 255);
	memcpy(url + 262, ":7070", 6);
	snprintf(text, sizeof(text), "{\"version\":1,\"url\":\"%s\"}", url);
	pol = parse(text);
	ck_assert_str_eq(mid_policy_settings(pol)->url, url);
	mid_policy_free(pol);
	memset(url + 7, 'h', 256);
	memcpy(url + 263, ":7070", 6);
	snprintf(text, sizeof(text), "{\"version\":1,\"url\":\"%s\"}", url);
	expect_err_part(text, "the host name is too long");
	memset(url + 7, 'h', 505);
	url[512] = '\0';
	snprintf(text, sizeof(text), "{\"version\":1,\"url\":\"%s\"}", url);
	expect_err(text, "t.json:1: \"url\" is 512 bytes, over the limit of 511");
}
END_TEST

/* ---- errors ---------------------------------------------------------- */

START_TEST(test_policy_err_unknown_top_level)
{
	expect_err("{\n  \"version\": 1,\n  \"rule\": []\n}",
		   "t.json:3: unknown top-level field \"rule\" (valid: version, device, url, ttl_ms, "
		   "timeout_ms, on_deny, mode, unfollowable, default, rules, comment)");
}
END_TEST

START_TEST(test_policy_err_unknown_rule_key)
{
	expect_err("{\"version\": 1, \"rules\": [\n  {\"on\": \"write\",\n   \"pth\": \"/x\", "
		   "\"action\": \"deny\"}\n]}",
		   "t.json:3: rule 1 (line 2): unknown field \"pth\" (valid: on, action, path, argv, "
		   "addr, port, host, op, fd, comment)");
}
END_TEST

START_TEST(test_policy_err_bad_kind)
{
	expect_err("{\"version\": 1, \"rules\": [\n{\"on\":\"write\",\"action\":\"deny\"},\n"
		   "{\"on\": \"exe\", \"action\": \"deny\"}]}",
		   "t.json:3: rule 2 (line 3): \"on\" must be one of exec, connect, send, write, fs, "
		   "signal, tty-inject, not \"exe\"");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": [\"exec\"], \"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): \"on\" must be one of exec, connect, send, write, fs, "
		   "signal, tty-inject, not an array");
}
END_TEST

START_TEST(test_policy_err_bad_action)
{
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"exec\",\n\"action\": \"block\"}]}",
		   "t.json:2: rule 1 (line 1): \"action\" must be one of allow, deny, validate, "
		   "not \"block\"");
	expect_err("{\"version\": 1,\n\"default\": \"permit\"}",
		   "t.json:2: \"default\" must be one of allow, deny, validate, not \"permit\"");
	expect_err("{\"version\": 1,\n\"default\": {\"exec\": \"deny\",\n\"fs\": true}}",
		   "t.json:3: \"default.fs\" must be one of allow, deny, validate, not a boolean");
	expect_err("{\"version\": 1,\n\"default\": {\"exec\": \"deny\",\n\"file\": \"deny\"}}",
		   "t.json:3: unknown kind \"file\" in \"default\" (valid: exec, connect, send, "
		   "write, fs, signal, tty-inject)");
	expect_err("{\"version\": 1,\n\"default\": 1}",
		   "t.json:2: \"default\" must be an action (allow, deny, validate) or an object of "
		   "kinds to actions, not a number");
}
END_TEST

START_TEST(test_policy_err_bad_op_and_fd)
{
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"fs\",\n\"op\": [\"delete\",\n\"remove\"],"
		   " \"action\": \"deny\"}]}",
		   "t.json:3: rule 1 (line 1): unknown op \"remove\" (valid: open, create, truncate, "
		   "delete, rename, link, mkdir, mknod, chmod, chown, utime, xattr)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"write\", \"fd\": \"fifo\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): unknown fd kind \"fifo\" (valid: file, dir, tty, pipe, "
		   "chr, blk, socket, other, unknown)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"fs\", \"op\": [], \"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): \"op\" must be an op name or an array of them; the "
		   "array is empty");
}
END_TEST

START_TEST(test_policy_err_bad_cidr)
{
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\",\n\"addr\": \"10.0.0.256\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:2: rule 1 (line 1): addr 10.0.0.256 is not an IPv4 or IPv6 address "
		   "(e.g. 10.0.0.0/8, ::1)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"addr\": \"10.0.0.0/33\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): addr 10.0.0.0/33 has a bad prefix length (expected "
		   "/0 to /32)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"addr\": \"fd00::/129\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): addr fd00::/129 has a bad prefix length (expected "
		   "/0 to /128)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"addr\": \"10.0.0.0/\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): addr 10.0.0.0/ has a bad prefix length (expected "
		   "/0 to /32)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"addr\": "
		   "\"::ffff:10.0.0.1\", \"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): addr ::ffff:10.0.0.1 is IPv4-mapped, and such peers "
		   "are matched as IPv4: write it as an IPv4 address");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"addr\": 10, "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): \"addr\" must be an address or CIDR block "
		   "(\"10.0.0.0/8\", \"::1\") or an array of them, not a number");
}
END_TEST

START_TEST(test_policy_err_host_bits)
{
	expect_err("{\"version\": 1, \"rules\": [\n{\"on\": \"connect\",\n\"addr\": [\"::1\", "
		   "\"10.0.0.1/8\"], \"action\": \"deny\"}]}",
		   "t.json:3: rule 1 (line 2): addr 10.0.0.1/8 has host bits set; did you mean "
		   "10.0.0.0/8?");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"send\", \"addr\": \"fd00::1/8\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): addr fd00::1/8 has host bits set; did you mean "
		   "fd00::/8?");
}
END_TEST

START_TEST(test_policy_err_bad_port)
{
	static const char pre[] = "{\"version\": 1, \"rules\": [{\"on\": \"connect\",\n\"port\": ";
	char text[256];

	snprintf(text, sizeof(text), "%s0, \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:2: rule 1 (line 1): port 0 is below the minimum 1");
	snprintf(text, sizeof(text), "%s65536, \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:2: rule 1 (line 1): port 65536 is over the maximum 65535");
	snprintf(text, sizeof(text), "%s\"9-3\", \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:2: rule 1 (line 1): port \"9-3\" is not a range of ports "
			 "1..65535 with LO <= HI");
	snprintf(text, sizeof(text), "%s\"0-3\", \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:2: rule 1 (line 1): port \"0-3\" is not a range of ports "
			 "1..65535 with LO <= HI");
	snprintf(text, sizeof(text), "%s\"443\", \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:2: rule 1 (line 1): port \"443\" is not a range \"LO-HI\" (a "
			 "single port is a number, e.g. 443)");
	snprintf(text, sizeof(text), "%s[80,\n 44.3], \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:3: rule 1 (line 1): port must be a whole number (1..65535), "
			 "not 44.3");
	snprintf(text, sizeof(text), "%s{}, \"action\": \"deny\"}]}", pre);
	expect_err(text, "t.json:2: rule 1 (line 1): \"port\" must be a port number (1..65535), "
			 "a range \"LO-HI\" or an array of them, not an object");
}
END_TEST

START_TEST(test_policy_err_wrong_types)
{
	expect_err("{\"version\": 1,\n\"ttl_ms\": \"1000\"}",
		   "t.json:2: \"ttl_ms\" must be an integer (0..30000), not a string");
	expect_err("{\"version\": 1,\n\"rules\": {}}",
		   "t.json:2: \"rules\" must be an array of rule objects, not an object");
	expect_err("{\"version\": 1, \"rules\": [\n\"exec\"]}",
		   "t.json:2: rule 1 (line 2): a rule must be an object such as {\"on\": \"exec\", "
		   "\"path\": \"/usr/bin/rm\", \"action\": \"deny\"}, not a string");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"exec\",\n\"path\": 7, "
		   "\"action\": \"deny\"}]}",
		   "t.json:2: rule 1 (line 1): \"path\" must be a glob string or an array of them, "
		   "not a number");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"exec\", \"path\": [\"/a\",\n[\"/b\"]], "
		   "\"action\": \"deny\"}]}",
		   "t.json:2: rule 1 (line 1): \"path\" must be a glob string or an array of them, "
		   "not an array");
	expect_err("{\"version\": 1,\n\"device\": 12}",
		   "t.json:2: \"device\" must be a string such as \"service:env:role:instance\", "
		   "not a number");
	expect_err("{\"version\": \"1\"}", "t.json:1: \"version\" must be the number 1, not a string");
	expect_err("{\"version\": 2}",
		   "t.json:1: \"version\" must be 1 (the only format this program reads), not 2");
	expect_err("{\"version\": 1, \"mode\": \"strict\"}",
		   "t.json:1: \"mode\" must be one of enforce, audit, not \"strict\"");
	expect_err("{\"version\": 1, \"unfollowable\": null}",
		   "t.json:1: \"unfollowable\" must be one of warn, deny, not null");
	expect_err("{\"version\": 1, \"on_deny\": \"exit:300\"}",
		   "t.json:1: \"on_deny\" must be one of kill, abort, exit:N (N 0..255) or errno, "
		   "not \"exit:300\"");
	expect_err("{\"version\": 1, \"url\": \"ftp://x\"}",
		   "t.json:1: \"url\" 'ftp://x': unsupported scheme; accepted forms: "
		   "http://HOST[:PORT], https://HOST[:PORT], unix:/PATH");
	expect_err("[{\"version\": 1}]",
		   "t.json:1: a policy must be a JSON object such as {\"version\": 1, \"rules\": []}, "
		   "not an array");
}
END_TEST

START_TEST(test_policy_err_duplicate_key)
{
	expect_err("{\"version\": 1,\n\"mode\": \"audit\",\n\n\"mode\": \"enforce\"}",
		   "t.json:4: duplicate field \"mode\" (first at line 2)");
	expect_err("{\"version\": 1, \"rules\": [\n{\"on\": \"write\", \"path\": \"/a\",\n"
		   "\"path\": \"/b\", \"action\": \"deny\"}]}",
		   "t.json:3: rule 1 (line 2): duplicate field \"path\" (first at line 2)");
	expect_err("{\"version\": 1, \"default\": {\"exec\": \"deny\",\n\"exec\": \"allow\"}}",
		   "t.json:2: duplicate field \"exec\" (first at line 1)");
}
END_TEST

START_TEST(test_policy_err_syntax_line)
{
	expect_err("{\n  \"version\": 1,\n  \"rules\": [\n    {\"on\": \"exec\" \"action\": \"deny\"}\n"
		   "  ]\n}",
		   "t.json:4: JSON syntax error at column 19 near '\"action\": \"deny\"}'");
}
END_TEST

START_TEST(test_policy_err_syntax_forms)
{
	expect_err("{\"version\": 1,\n\"rules\": [1,]}",
		   "t.json:2: JSON syntax error at column 13 near ']}'");
	expect_err("{\"version\": 1}\n\n x",
		   "t.json:3: JSON syntax error at column 2 near 'x'");
	expect_err("{\"version\": 1,\n",
		   "t.json:2: JSON syntax error at column 1: the text ends early");
	expect_err("", "t.json:1: the policy is empty; it needs at least {\"version\": 1}");
	expect_err(" \n\t", "t.json:1: the policy is empty; it needs at least {\"version\": 1}");
	expect_err("{\"version\": 1, \"comment\":\n\"a\\u0000b\"}",
		   "t.json:2: a string holds \\u0000, which is not allowed");
}
END_TEST

START_TEST(test_policy_err_nul_byte)
{
	static const char text[] = "{\"version\":\n 1\0}";
	struct mid_policy *pol = NULL;

	ck_assert_int_eq(mid_policy_parse(text, sizeof(text) - 1, "t.json", &pol, err, sizeof(err)),
			 MID_ERR_PARSE);
	ck_assert_str_eq(err, "t.json:2: a NUL byte at column 3; a policy is JSON text");
	ck_assert_ptr_null(pol);
}
END_TEST

START_TEST(test_policy_err_missing_fields)
{
	expect_err("{\n\"rules\": []}", "t.json:1: missing \"version\": 1 (the policy format version)");
	expect_err("{\"version\": 1, \"rules\": [\n{\"on\": \"exec\"},\n\n{\"action\": \"deny\"}]}",
		   "t.json:2: rule 1 (line 2): missing \"action\" (one of: allow, deny, validate)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\":\"exec\",\"action\":\"deny\"},\n\n"
		   "{\"action\": \"deny\"}]}",
		   "t.json:3: rule 2 (line 3): missing \"on\" (one of: exec, connect, send, write, fs, signal, tty-inject)");
}
END_TEST

START_TEST(test_policy_err_field_not_valid_for_kind)
{
	expect_err("{\"version\": 1, \"rules\": [\n{\"on\": \"write\",\n\"addr\": \"10.0.0.0/8\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:3: rule 1 (line 2): field \"addr\" is not valid for on=\"write\" (valid: "
		   "path, fd)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"exec\", \"op\": \"delete\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): field \"op\" is not valid for on=\"exec\" (valid: "
		   "path, argv)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"fs\", \"fd\": \"file\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): field \"fd\" is not valid for on=\"fs\" (valid: "
		   "path, op)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"argv\": \"x\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): field \"argv\" is not valid for on=\"connect\" (valid: "
		   "path, addr, port, host)");
}
END_TEST

START_TEST(test_policy_err_bad_glob)
{
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"write\",\n\"path\": \"/tmp/[a-z\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:2: rule 1 (line 1): path \"/tmp/[a-z\" has a '[' class without its ']' "
		   "(write '\\[' for a bracket)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"exec\", \"argv\": \"x \\\\\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): argv \"x \\\" ends in a lone '\\' (write '\\\\' for a "
		   "backslash)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"write\", \"path\": \"tmp/**\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): path \"tmp/**\" is not absolute (start it with \"/\", "
		   "or with \"**/\" to match in any directory)");
	expect_err("{\"version\": 1, \"rules\": [{\"on\": \"connect\", \"host\": \"\", "
		   "\"action\": \"deny\"}]}",
		   "t.json:1: rule 1 (line 1): host \"\" is empty");
}
END_TEST

START_TEST(test_policy_err_one_line)
{
	/* a value with a newline in it does not break the message in two */
	expect_err("{\"version\": 1, \"mode\": \"a\\nb\"}",
		   "t.json:1: \"mode\" must be one of enforce, audit, not \"a?b\"");
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static void mid_check_tests(struct mid_check *t)
{
	TCase *core = t->core, *limits = t->limits, *errors = t->errors;

	t->name = "policy";

	tcase_add_test(core, test_policy_exec_path_and_argv);
	tcase_add_test(core, test_policy_argv_is_matched_as_joined);
	tcase_add_test(core, test_policy_connect_addr_port_host);
	tcase_add_test(core, test_policy_unix_never_matches_port);
	tcase_add_test(core, test_policy_write_path_and_fd);
	tcase_add_test(core, test_policy_signal_and_tty_inject);
	tcase_add_test(core, test_policy_fs_op_and_either_path);
	tcase_add_test(core, test_policy_first_match_wins);
	tcase_add_test(core, test_policy_defaults_string_and_object);
	tcase_add_test(core, test_policy_settings_parsed);
	tcase_add_test(core, test_policy_on_deny_parse);
	tcase_add_test(core, test_policy_builtin);
	tcase_add_test(core, test_policy_describe);
	tcase_add_test(core, test_policy_names);
	tcase_add_test(core, test_policy_needs_target);
	tcase_add_test(core, test_policy_uniform);
	tcase_add_test(core, test_policy_glob_path);
	tcase_add_test(core, test_policy_glob_text);
	tcase_add_test(core, test_policy_comment_anywhere);
	tcase_add_test(core, test_policy_examples_parse);
	tcase_add_test(core, test_policy_examples_decide);
	tcase_add_test(core, test_policy_load_file);
	tcase_add_test(core, test_policy_match_allocates_nothing);

	tcase_add_test(limits, test_policy_device_256_bytes);
	tcase_add_test(limits, test_policy_ttl_30000);
	tcase_add_test(limits, test_policy_4096_rules);
	tcase_add_test(limits, test_policy_one_mib);
	tcase_add_test(limits, test_policy_deep_nesting);
	tcase_add_test(limits, test_policy_long_argv);
	tcase_add_test(limits, test_policy_glob_pathology);
	tcase_add_test(limits, test_policy_list_256_entries);
	tcase_add_test(limits, test_policy_glob_4096_bytes);
	tcase_add_test(limits, test_policy_url_longest_host);

	tcase_add_test(errors, test_policy_err_unknown_top_level);
	tcase_add_test(errors, test_policy_err_unknown_rule_key);
	tcase_add_test(errors, test_policy_err_bad_kind);
	tcase_add_test(errors, test_policy_err_bad_action);
	tcase_add_test(errors, test_policy_err_bad_op_and_fd);
	tcase_add_test(errors, test_policy_err_bad_cidr);
	tcase_add_test(errors, test_policy_err_host_bits);
	tcase_add_test(errors, test_policy_err_bad_port);
	tcase_add_test(errors, test_policy_err_wrong_types);
	tcase_add_test(errors, test_policy_err_duplicate_key);
	tcase_add_test(errors, test_policy_err_syntax_line);
	tcase_add_test(errors, test_policy_err_syntax_forms);
	tcase_add_test(errors, test_policy_err_nul_byte);
	tcase_add_test(errors, test_policy_err_missing_fields);
	tcase_add_test(errors, test_policy_err_field_not_valid_for_kind);
	tcase_add_test(errors, test_policy_err_bad_glob);
	tcase_add_test(errors, test_policy_err_one_line);
}
