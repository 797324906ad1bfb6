/* SPDX-License-Identifier: MIT */
/*
 * midctl: the operator's console for midd. It registers, revokes, restores
 * and removes devices, shows their state and the audit trail, flips the
 * org-wide switch and rotates keys. This file reads the command line and
 * the keys, then hands over to the commands in midctl_cmd.c. Keys are
 * taken only from files or the environment, never from argv, where every
 * user of the machine could read them.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mid_key.h"
#include "midctl.h"

#ifndef MIDSHIM_VERSION
#define MIDSHIM_VERSION "0.1.0"
#endif

#define DEFAULT_URL "http://127.0.0.1:7070"

struct command {
	const char *name;
	const char *args;    /* synopsis after the name */
	const char *summary; /* one line for --help */
	const char *detail;  /* for `midctl help NAME` */
	int min, max;        /* positional arguments */
};

static const struct command commands[] = {
	{"register", "DEVICE", "add a device (idempotent)",
	 "Registers DEVICE with the org, as a gated program does at its first start.\n"
	 "Registering a device that exists changes nothing and succeeds; it never\n"
	 "restores a revoked device. Fails (exit 1) when the org's device limit is\n"
	 "reached or the device was removed (use restore). Works with the org key.\n",
	 1, 1},
	{"revoke", "DEVICE|--match GLOB [--yes]", "stop a device (or all matching GLOB) at its next boundary",
	 "Revokes DEVICE: from now on validate answers DEVICE_REVOKED, and a gated\n"
	 "program is stopped at its next side effect (at most one allow-cache TTL\n"
	 "later). Needs the admin key. Exit 1 with DEVICE_NOT_FOUND for an unknown\n"
	 "device.\n"
	 "With --match GLOB (a shell pattern, e.g. 'svc:prod:*'; '*' also matches\n"
	 "':'), revokes every active device whose ID matches: midctl lists them,\n"
	 "then asks for their count on the terminal; --yes skips the question\n"
	 "(without a terminal it is required). midd revokes them only if the count\n"
	 "is still the one confirmed (else exit 1, MATCH_CHANGED), all under one\n"
	 "request_id.\n",
	 0, 1},
	{"restore", "DEVICE", "allow a revoked/removed device again (alias: unrevoke)",
	 "Makes DEVICE active again after revoke or remove. Programs that were\n"
	 "stopped stay stopped; start them again. Needs the admin key.\n",
	 1, 1},
	{"unrevoke", "DEVICE", NULL, "Same as restore.\n", 1, 1},
	{"remove", "DEVICE", "remove a device (frees a slot)",
	 "Removes DEVICE: validate answers DEVICE_REMOVED, register does not bring it\n"
	 "back, and its slot counts against the org's limit no more. restore undoes\n"
	 "it. Needs the admin key.\n",
	 1, 1},
	{"status", "[DEVICE]", "midd's storage health, or one device and what validate would answer",
	 "Without DEVICE: whether midd's database takes changes, and how many\n"
	 "changes toward deny (revoke, remove, org disable) are in force but not yet\n"
	 "persisted, since when; exit 1 while any are pending or the database fails.\n"
	 "With DEVICE: its state (and whether that state is persisted yet), when it\n"
	 "was created and last seen, how many validates it made, whether the org is\n"
	 "disabled, whether changes are pending persistence, and what validate would\n"
	 "answer now (allowed, DEVICE_REVOKED, DEVICE_REMOVED, ORG_DISABLED). The\n"
	 "answer is worked out from the device list: asking validate itself would\n"
	 "count as the device's own traffic. Exit 1 when the device is unknown.\n"
	 "With --json, prints midd's /healthz answer, or the device object with\n"
	 "\"registered\", \"org_disabled\", \"pending_persistence\" and \"validate\":\n"
	 "{\"allowed\", \"code\"} added.\n",
	 0, 1},
	{"list", "[--state S]", "all devices, or those in state S",
	 "Lists every device of the org with its state, the mode its processes run\n"
	 "in, creation time, last validate and validate count. --state S (active,\n"
	 "revoked or removed) shows only the devices in that state, --json too.\n",
	 0, 0},
	{"usage", "", "counts",
	 "Shows how many devices the org has in each state, its device limit, the\n"
	 "number of validates, and whether the org is disabled.\n",
	 0, 0},
	{"org", "disable|enable", "stop / allow every device of the org",
	 "org disable makes every validate answer ORG_DISABLED, so every gated\n"
	 "program of the org stops at its next boundary; device states are kept.\n"
	 "org enable undoes it. Needs the admin key.\n",
	 1, 1},
	{"audit", "[--device D] [--limit N] [--before CURSOR | --since TIME] [--follow] | export | verify [--from FILE] [--public-key HEX]",
	 "recent decisions, newest first",
	 "Shows recent decisions of midd, newest first: time, device, route,\n"
	 "decision, code, request_id and peer. --device D shows only D's, --limit N\n"
	 "at most N entries (default 100, up to 1000000: midd is asked page by\n"
	 "page). When older entries remain, the last line on stderr names the\n"
	 "cursor; --before CURSOR starts there. With --json: one object with\n"
	 "\"entries\" and \"next\" (the cursor, or null). --since TIME (RFC 3339,\n"
	 "like 2026-12-02T15:00:00Z, or how long ago: 30s, 10m, 2h, 1d) shows the\n"
	 "entries since then, oldest first, one a line (at most --limit). --follow\n"
	 "then prints each new entry as midd records it (it asks once a second),\n"
	 "after the last --limit (default 10) or those --since, until Ctrl-C or\n"
	 "until its output is closed; a midd that cannot be reached meanwhile is\n"
	 "named once and asked again. With --json: one object a line.\n"
	 "audit export prints the org's whole trail as JSON lines (a header with\n"
	 "midd's public key, each row with its place and hash in the chain, each\n"
	 "signed checkpoint). audit verify checks the chain and the checkpoints,\n"
	 "of midd's trail or, with --from FILE, of an export (no midd or key\n"
	 "needed), against --public-key HEX (as midd init printed it; default:\n"
	 "the key midd or the file names), and names the first row that was\n"
	 "edited, removed or inserted (exit 1).\n"
	 "Needs the admin key.\n",
	 0, 1},
	{"rotate-key", "org [--grace D]|admin", "new key, printed once",
	 "Issues a new org or admin key and prints it alone on one line of stdout,\n"
	 "once; store it right away. The old org key keeps working for --grace D\n"
	 "(seconds, or with s, m, h; default 10m, at most 7 days; 0 ends it at\n"
	 "once), so running programs can be given the new one without being cut\n"
	 "off; a second rotation ends the first one's overlap. The old admin key\n"
	 "stops working at once, and midctl itself then needs the new one. Needs\n"
	 "the admin key.\n",
	 1, 1},
	{"keys", "", "which keys work now",
	 "Shows whether the org key before the last rotation still works, and\n"
	 "until when. Needs the admin key.\n",
	 0, 0},
	{"alert", "add URL --events LIST [--format json|slack] | list | status | remove ID",
	 "webhooks told of revokes, denials, ...",
	 "alert add URL --events LIST registers a webhook: midd posts each event of\n"
	 "the kinds in LIST (comma-separated: revoke, restore, remove, org, deny,\n"
	 "budget) to URL as JSON, signed with HMAC-SHA256 in the header\n"
	 "X-Midd-Signature: sha256=HEX, its ID in X-Midd-Event-Id. URL is https://,\n"
	 "or http:// to a loopback address. --format slack posts {\"text\": ...} as\n"
	 "a chat channel shows it instead. The secret is printed alone on stdout,\n"
	 "once; store it with the receiver. Events are queued in midd's database\n"
	 "with the change that causes them and delivered at least once (a retry\n"
	 "repeats the event ID), with exponential backoff, 10 tries at most.\n"
	 "alert list shows the webhooks; alert status their pending, delivered and\n"
	 "failed events and the last error; alert remove ID removes one, with its\n"
	 "queued events. Needs the admin key.\n",
	 1, 2},
	{"budget", "set|show|clear DEVICE [--execs|--connects|--bytes-out|--writes N/W]",
	 "cap a device's side effects per window",
	 "budget set DEVICE gives DEVICE a budget of side effects: at most N execs\n"
	 "(exec family, posix_spawn, system, popen), connects, bytes sent on sockets\n"
	 "(SIZE with K, M or G: KiB, MiB, GiB) or writes (calls that write to\n"
	 "anything but a socket) per window W (a number with s, m, h or d: 1m,\n"
	 "24h), e.g. --connects 100/1m --bytes-out 10M/1h. Any subset; limits not\n"
	 "named stay as they were. Windows slide: an event counts for one window\n"
	 "after it was reported. Past a limit, validate answers BUDGET_EXCEEDED, so\n"
	 "the device's programs stop at their next boundary (at once with a push\n"
	 "channel), until the use in the window is back under the limit. The shim\n"
	 "reports its counts with each validate, so a program may go up to one TTL\n"
	 "of side effects past a limit. budget show DEVICE prints each limit with\n"
	 "the use in its window now; budget clear DEVICE removes the budget. set and\n"
	 "clear need the admin key.\n",
	 2, 2},
	{"console", "[--device D]", "interactive prompt: revoke, restore, status, list, ...",
	 "Reads commands from stdin, one per line (on a terminal with line editing\n"
	 "and a history in ~/.midctl_history): revoke [DEVICE], restore\n"
	 "[DEVICE], status [DEVICE], list, disable, enable, help, quit (or exit, or\n"
	 "end of input). With --device D, DEVICE may be left out. Shows the prompt\n"
	 "'midctl> ' when stdin is a terminal. disable asks to type \"disable org\"\n"
	 "first. An error is printed and the console\n"
	 "goes on; it exits 0, or 3 when midd was unreachable for the last command.\n",
	 0, 0},
	{"help", "[COMMAND]", "this text, or more about one command",
	 "Prints the overview, or the details of COMMAND.\n", 0, 1},
};

static const char usage_head[] =
	"usage: midctl [--url URL] [--admin-key-file FILE] [--org-key-file FILE]\n"
	"              [--json] [--timeout-ms N] COMMAND [ARGS]\n"
	"\n"
	"Operate midd, the control plane that decides whether gated programs may\n"
	"act: register, revoke and restore devices, see their state and the audit\n"
	"trail, stop the whole org, rotate keys.\n"
	"\n"
	"commands:\n";

static const char usage_tail[] =
	"\n"
	"options (before or after the command):\n"
	"  --url URL              where midd listens: http://HOST:PORT, https://...,\n"
	"                         unix:/PATH (default: MIDSHIM_URL, else\n"
	"                         " DEFAULT_URL ")\n"
	"  --admin-key-file FILE  file whose first line is the admin key\n"
	"  --org-key-file FILE    file whose first line is the org key\n"
	"  --json                 print midd's JSON answer instead of text\n"
	"  --timeout-ms N         give up on midd after N ms (default 5000)\n"
	"  -h, --help             this text; COMMAND --help for one command\n"
	"  --version              print the version\n"
	"\n"
	"keys: the admin key, from --admin-key-file, MIDSHIM_ADMIN_KEY or\n"
	"MIDSHIM_ADMIN_KEY_FILE, is sent as x-admin-key and works for every command.\n"
	"Without it the org key (--org-key-file, MIDSHIM_ORG_KEY, MIDSHIM_ORG_KEY_FILE)\n"
	"is sent as x-org-key: enough for register, list, status and usage. Keys are\n"
	"never taken from the command line.\n"
	"\n"
	"exit status: 0 done; 1 midd refused or failed (its message on stderr);\n"
	"2 usage error or no key; 3 midd unreachable or no answer in time.\n"
	"\n"
	"See midctl(1), midd(8), midshim(1).\n";

static void usage(FILE *f)
{
	size_t i;

	fputs(usage_head, f);
	for(i = 0; i < MID_ARRAY_LEN(commands); i++) {
		char left[64];

		if(!commands[i].summary)
			continue;
		snprintf(left, sizeof(left), "%s %s", commands[i].name, commands[i].args);
		if(strlen(left) > 22)
			fprintf(f, "  %s\n  %-22s %s\n", left, "", commands[i].summary);
		else
			fprintf(f, "  %-22s %s\n", left, commands[i].summary);
	}
	fputs(usage_tail, f);
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(commands); i++)
		if(!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static void command_help(const struct command *cmd)
{
	printf("usage: midctl [OPTIONS] %s%s%s\n\n%s", cmd->name, cmd->args[0] ? " " : "",
	       cmd->args, cmd->detail);
}

static int die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die_usage(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mid_ctl_err("%s (see midctl --help)", msg);
	return MID_CTL_EXIT_USAGE;
}

/* ---- keys ----------------------------------------------------------- */

static int read_key_file(const char *path, char *key, size_t keylen)
{
	char why[160];
	bool shared = false;

	if(mid_key_read_file(path, key, keylen, &shared, why, sizeof(why))) {
		mid_ctl_err("key file %s: %s", path, why);
		return MID_CTL_EXIT_USAGE;
	}
	if(shared)
		mid_ctl_err("warning: key file %s is readable by other users (chmod 600 %s)",
			    path, path);
	return MID_CTL_EXIT_OK;
}

/*
 * Find one key: the file named by the option, else the variable holding
 * the key, else the variable naming a file. '*found' says whether any was
 * configured; the return is an exit status.
 */
static int load_key(const char *file_opt, const char *env_key, const char *env_file,
		    char *key, size_t keylen, bool *found)
{
	const char *v;

	*found = false;
	if(file_opt) {
		*found = true;
		return read_key_file(file_opt, key, keylen);
	}
	v = getenv(env_key);
	if(v && *v) {
		*found = true;
		if(!mid_key_ok(v)) {
			mid_ctl_err("the key in %s must be 1 to %d bytes without a space or control "
				    "character", env_key, MID_KEY_MAX);
			return MID_CTL_EXIT_USAGE;
		}
		mid_strlcpy(key, v, keylen);
		return MID_CTL_EXIT_OK;
	}
	v = getenv(env_file);
	if(v && *v) {
		*found = true;
		return read_key_file(v, key, keylen);
	}
	return MID_CTL_EXIT_OK;
}

/* ---- command line --------------------------------------------------- */

struct opts {
	const char *url, *admin_file, *org_file, *device, *before, *state, *match;
	const char *from, *public_key; /* audit verify */
	const char *events, *format;   /* alert add */
	const char *budget[MID_CTL_BUDGET_KINDS]; /* budget set */
	long timeout_ms, limit, grace_s;
	long long since_ms;
	bool json, help, grace_set, yes, since_set, follow;
};

static int parse_long(const char *s, long lo, long hi, const char *what, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if(errno || end == s || *end || v < lo || v > hi)
		return die_usage("%s must be a number from %ld to %ld, not '%.64s'", what, lo,
				 hi, s);
	*out = v;
	return MID_CTL_EXIT_OK;
}

/* "600", "600s", "10m", "1h": seconds, at most a week. */
static int parse_duration(const char *s, long *out)
{
	char *end;
	long v, unit = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if(end != s && *end && !end[1])
		unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
	if(errno || end == s || v < 0 || !unit || (*end && end[1]) || v > 604800 / unit)
		return die_usage("--grace %.32s: give seconds, or a number with s, m or h, "
				 "at most 7 days", s);
	*out = v * unit;
	return MID_CTL_EXIT_OK;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},
		{"admin-key-file", required_argument, NULL, 'A'},
		{"org-key-file", required_argument, NULL, 'O'},
		{"grace", required_argument, NULL, 'g'},
		{"json", no_argument, NULL, 'j'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"device", required_argument, NULL, 'd'},
		{"state", required_argument, NULL, 'S'},
		{"limit", required_argument, NULL, 'l'},
		{"before", required_argument, NULL, 'b'},
		{"match", required_argument, NULL, 'M'},
		{"since", required_argument, NULL, 's'},
		{"follow", no_argument, NULL, 'f'},
		{"from", required_argument, NULL, 'F'},
		{"public-key", required_argument, NULL, 'P'},
		{"yes", no_argument, NULL, 'y'},
		{"events", required_argument, NULL, 'E'},
		{"format", required_argument, NULL, 'm'},
		{"execs", required_argument, NULL, 'X'},
		{"connects", required_argument, NULL, 'C'},
		{"bytes-out", required_argument, NULL, 'B'},
		{"writes", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch, ex, i;

	/* getopt_long takes any unique prefix, so "--admin-key SECRET" would
	 * read a file named after the key and print its name. Only whole
	 * option names pass, and a value after '=' is never echoed. */
	for(i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		size_t n, k;

		if(!MID_HAS_PREFIX(argv[i], "--"))
			continue;
		n = strcspn(argv[i] + 2, "=");
		for(k = 0; longopts[k].name; k++)
			if(strlen(longopts[k].name) == n && !strncmp(longopts[k].name, argv[i] + 2, n))
				break;
		if(!longopts[k].name)
			return die_usage("unknown option '--%.*s'", (int)(n > 64 ? 64 : n),
					 argv[i] + 2);
	}
	opterr = 0;
	while((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch(ch) {
		case 'u': o->url = optarg; break;
		case 'A': o->admin_file = optarg; break;
		case 'O': o->org_file = optarg; break;
		case 'j': o->json = true; break;
		case 'd': o->device = optarg; break;
		case 'b':
			o->before = optarg;
			if(!*optarg || optarg[strspn(optarg, "0123456789.")] || strlen(optarg) > 40)
				return die_usage("--before wants the cursor an earlier audit named, "
						 "not '%.64s'", optarg);
			break;
		case 'S': o->state = optarg; break;
		case 'M': o->match = optarg; break;
		case 'y': o->yes = true; break;
		case 'E': o->events = optarg; break;
		case 'm': o->format = optarg; break;
		case 'X': o->budget[0] = optarg; break;
		case 'C': o->budget[1] = optarg; break;
		case 'B': o->budget[2] = optarg; break;
		case 'W': o->budget[3] = optarg; break;
		case 'f': o->follow = true; break;
		case 'F': o->from = optarg; break;
		case 'P': o->public_key = optarg; break;
		case 's':
			if(mid_ctl_parse_since(optarg, &o->since_ms))
				return die_usage("--since wants a time like 2026-12-02T15:00:00Z, or "
						 "how long ago: 30s, 10m, 2h, 1d; not '%.64s'", optarg);
			o->since_set = true;
			break;
		case 't':
			ex = parse_long(optarg, 1, MID_CTL_TIMEOUT_MAX_MS, "--timeout-ms", &o->timeout_ms);
			if(ex)
				return ex;
			break;
		case 'l':
			ex = parse_long(optarg, 1, 1000000, "--limit", &o->limit);
			if(ex)
				return ex;
			break;
		case 'g':
			ex = parse_duration(optarg, &o->grace_s);
			if(ex)
				return ex;
			o->grace_set = true;
			break;
		case 'h': o->help = true; break;
		case 'V':
			printf("midctl %s\n", MIDSHIM_VERSION);
			return -1;
		case ':':
			return die_usage("option %.64s needs a value", argv[optind - 1]);
		default:
			return die_usage("unknown option '%.64s'", argv[optind - 1]);
		}
	}
	return MID_CTL_EXIT_OK;
}

/* alert add URL --events LIST | list | status | remove ID. */
static int check_alert(const struct opts *o, int nargs, char **args)
{
	const char *a = args[0];

	if(!strcmp(a, "add")) {
		if(nargs != 2)
			return die_usage("alert add needs the URL");
		if(!o->events)
			return die_usage("alert add needs --events LIST (revoke, restore, remove,"
					 " org, deny, budget)");
		if(o->format && strcmp(o->format, "json") && strcmp(o->format, "slack"))
			return die_usage("--format takes json or slack, not '%.64s'", o->format);
		return MID_CTL_EXIT_OK;
	}
	if(!strcmp(a, "remove")) {
		if(nargs != 2 || !args[1][0] || args[1][strspn(args[1], "0123456789")] ||
		   strlen(args[1]) > 18)
			return die_usage("alert remove needs the webhook's ID (a number, as alert"
					 " list shows it)");
		return MID_CTL_EXIT_OK;
	}
	if(strcmp(a, "list") && strcmp(a, "status"))
		return die_usage("alert takes add, list, status or remove, not '%.64s'", a);
	if(nargs != 1)
		return die_usage("too many arguments for alert %s", a);
	return MID_CTL_EXIT_OK;
}

/* budget's action and limits; the others take none of its options. */
static int check_budget(const char *n, const struct opts *o, int nargs, char **args)
{
	unsigned long long lim, win;
	int any = 0;

	for(int k = 0; k < MID_CTL_BUDGET_KINDS; k++) {
		if(!o->budget[k])
			continue;
		any = 1;
		if(strcmp(n, "budget") || strcmp(args[0], "set"))
			return die_usage("%s is for budget set", mid_ctl_budget_flag(k));
		if(mid_ctl_budget_parse(o->budget[k], k == 2, &lim, &win))
			return die_usage("%s wants N/WINDOW like %s, with a window of 1s to 366d"
					 " in s, m, h or d, not '%.64s'", mid_ctl_budget_flag(k),
					 k == 2 ? "10M/1h (K, M, G for KiB, MiB, GiB)" : "100/1m",
					 o->budget[k]);
	}
	if(strcmp(n, "budget") || nargs < 2)
		return MID_CTL_EXIT_OK;
	if(strcmp(args[0], "set") && strcmp(args[0], "show") && strcmp(args[0], "clear"))
		return die_usage("budget takes set, show or clear, not '%.64s'", args[0]);
	if(!strcmp(args[0], "set") && !any)
		return die_usage("budget set needs at least one of --execs, --connects, "
				 "--bytes-out, --writes");
	return mid_ctl_check_device(args[1]);
}

/* Check the command's words before any key or network is touched, so a
 * typo is a usage error (2) whatever else is configured. */
static int check_args(const struct command *cmd, const struct opts *o, int nargs,
		      char **args)
{
	const char *n = cmd->name;
	int ex;

	if((o->match || o->yes) && strcmp(n, "revoke"))
		return die_usage("--match and --yes are for revoke, not %s", n);
	if(o->yes && !o->match)
		return die_usage("--yes goes with revoke --match GLOB");
	if(o->match) {
		if(nargs)
			return die_usage("revoke takes DEVICE or --match GLOB, not both");
		if(!mid_device_ok(o->match, strlen(o->match)) || !strpbrk(o->match, "*?["))
			return die_usage("--match wants a pattern of 1 to %d printable bytes with"
					 " * ? or [, not '%.64s'", MID_DEVICE_MAX, o->match);
		return MID_CTL_EXIT_OK;
	}
	if(!strcmp(n, "revoke") && nargs == 0)
		return die_usage("revoke needs DEVICE or --match GLOB");
	if(nargs < cmd->min)
		return die_usage("%s needs %s", n, cmd->args);
	if(nargs > cmd->max)
		return die_usage("too many arguments for %s", n);
	if(o->device && strcmp(n, "audit") && strcmp(n, "console"))
		return die_usage("--device is for audit and console, not %s", n);
	if(o->state && strcmp(n, "list"))
		return die_usage("--state is for list, not %s", n);
	if(o->state && strcmp(o->state, "active") && strcmp(o->state, "revoked") &&
	   strcmp(o->state, "removed"))
		return die_usage("--state takes active, revoked or removed, not '%.64s'", o->state);
	if(o->limit && strcmp(n, "audit"))
		return die_usage("--limit is for audit, not %s", n);
	if(o->before && strcmp(n, "audit"))
		return die_usage("--before is for audit, not %s", n);
	if((o->since_set || o->follow) && strcmp(n, "audit"))
		return die_usage("--since and --follow are for audit, not %s", n);
	if((o->since_set || o->follow) && o->before)
		return die_usage("--before goes back from a cursor; --since and --follow go "
				 "forward in time: give one or the other");
	if(!strcmp(n, "audit") && nargs && strcmp(args[0], "verify") && strcmp(args[0], "export"))
		return die_usage("audit takes verify or export, not '%.64s'", args[0]);
	if((o->from || o->public_key) && (strcmp(n, "audit") || !nargs || strcmp(args[0], "verify")))
		return die_usage("--from and --public-key are for audit verify");
	if(!strcmp(n, "audit") && nargs && (o->device || o->limit || o->before || o->since_set ||
					    o->follow))
		return die_usage("audit %s takes the whole trail: no --device, --limit, --before,"
				 " --since or --follow", args[0]);
	if((o->events || o->format) && (strcmp(n, "alert") || strcmp(args[0], "add")))
		return die_usage("--events and --format are for alert add");
	if(!strcmp(n, "alert")) {
		ex = check_alert(o, nargs, args);
		if(ex)
			return ex;
	}
	if(!strcmp(n, "org") && strcmp(args[0], "disable") && strcmp(args[0], "enable"))
		return die_usage("org takes disable or enable, not '%.64s'", args[0]);
	if(!strcmp(n, "rotate-key") && strcmp(args[0], "org") && strcmp(args[0], "admin"))
		return die_usage("rotate-key takes org or admin, not '%.64s'", args[0]);
	if(o->grace_set && (strcmp(n, "rotate-key") || strcmp(args[0], "org")))
		return die_usage("--grace is for rotate-key org: the old admin key always stops "
				 "at once");
	ex = check_budget(n, o, nargs, args);
	if(ex || !strcmp(n, "budget"))
		return ex;
	if(!strcmp(cmd->args, "DEVICE") || (cmd->args[0] != '[' && !strcmp(n, "revoke")) ||
	   (!strcmp(cmd->args, "[DEVICE]") && nargs == 1))
		return mid_ctl_check_device(args[0]);
	if(o->device)
		return mid_ctl_check_device(o->device);
	return MID_CTL_EXIT_OK;
}

static int run(struct mid_ctl *c, const struct command *cmd, const struct opts *o,
	       char **args)
{
	const char *n = cmd->name;

	if(o->match)
		return mid_ctl_revoke_match(c, o->match, o->yes);
	if(!strcmp(n, "register") || !strcmp(n, "revoke") || !strcmp(n, "remove"))
		return mid_ctl_device(c, n, args[0]);
	if(!strcmp(n, "restore") || !strcmp(n, "unrevoke"))
		return mid_ctl_device(c, "restore", args[0]);
	if(!strcmp(n, "status"))
		return args[0] ? mid_ctl_status(c, args[0]) : mid_ctl_health(c);
	if(!strcmp(n, "list"))
		return mid_ctl_list(c, o->state);
	if(!strcmp(n, "usage"))
		return mid_ctl_usage(c);
	if(!strcmp(n, "org"))
		return mid_ctl_org(c, !strcmp(args[0], "disable"));
	if(!strcmp(n, "audit") && args[0] && !strcmp(args[0], "export"))
		return mid_ctl_audit_export(c);
	if(!strcmp(n, "audit") && args[0])
		return mid_ctl_audit_verify(c, NULL, o->public_key);
	if(!strcmp(n, "audit") && (o->since_set || o->follow))
		return mid_ctl_audit_since(c, o->device, o->since_set ? o->since_ms : 0,
					   o->limit ? o->limit : o->since_set ? 1000000 : 10,
					   o->follow);
	if(!strcmp(n, "audit"))
		return mid_ctl_audit(c, o->device, o->limit, o->before);
	if(!strcmp(n, "rotate-key"))
		return mid_ctl_rotate_key(c, args[0], o->grace_set ? o->grace_s : MID_CTL_GRACE_DEFAULT);
	if(!strcmp(n, "keys"))
		return mid_ctl_keys(c);
	if(!strcmp(n, "alert") && !strcmp(args[0], "add"))
		return mid_ctl_alert_add(c, args[1], o->events, o->format);
	if(!strcmp(n, "alert") && !strcmp(args[0], "remove"))
		return mid_ctl_alert_remove(c, args[1]);
	if(!strcmp(n, "alert"))
		return mid_ctl_alert_list(c, !strcmp(args[0], "status"));
	if(!strcmp(n, "budget"))
		return mid_ctl_budget(c, args[0], args[1], o->budget);
	return mid_ctl_console(c, o->device, stdin);
}

/* Connect the pieces: URL, timeout, the one key to send. */
static int setup(struct mid_ctl *c, const struct opts *o, char *key, size_t keylen)
{
	char err[MID_URL_MAX + 256];
	const char *hdr = "x-admin-key";
	bool found;
	int ex;

	c->url = o->url ? o->url : getenv(MID_ENV_URL);
	if(!c->url || !*c->url)
		c->url = DEFAULT_URL;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : MID_CTL_TIMEOUT_DEFAULT;
	c->json = o->json;
	ex = load_key(o->admin_file, MID_ENV_ADMIN_KEY, MID_ENV_ADMIN_KEY_FILE, key,
		      keylen, &found);
	if(ex)
		return ex;
	c->admin = found;
	if(!found) {
		hdr = "x-org-key";
		ex = load_key(o->org_file, MID_ENV_ORG_KEY, MID_ENV_ORG_KEY_FILE, key,
			      keylen, &found);
		if(ex)
			return ex;
	}
	if(!found) {
		mid_ctl_err("no key configured: give --admin-key-file FILE or set "
			    "MIDSHIM_ADMIN_KEY_FILE (or the org key: --org-key-file, "
			    "MIDSHIM_ORG_KEY_FILE)");
		return MID_CTL_EXIT_USAGE;
	}
	if(mid_ctl_http_new(c->url, hdr, key, c->timeout_ms, &c->http, err, sizeof(err))) {
		mid_ctl_err("%s", err);
		return MID_CTL_EXIT_USAGE;
	}
	return MID_CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct mid_ctl c = {0};
	const struct command *cmd;
	char key[MID_KEY_MAX + 1];
	int ex;

	ex = parse_opts(argc, argv, &o);
	if(ex)
		return ex < 0 ? MID_CTL_EXIT_OK : ex;
	if(optind >= argc) {
		if(o.help) {
			usage(stdout);
			return MID_CTL_EXIT_OK;
		}
		return die_usage("which command? register, revoke, restore, remove, status, "
				 "list, usage, org, audit, rotate-key, keys, alert, budget or console");
	}
	cmd = find_command(argv[optind]);
	if(!cmd)
		return die_usage("unknown command '%.64s'", argv[optind]);
	if(o.help && strcmp(cmd->name, "help")) {
		command_help(cmd);
		return MID_CTL_EXIT_OK;
	}
	if(!strcmp(cmd->name, "help")) {
		const struct command *about;

		if(optind + 1 >= argc) {
			usage(stdout);
			return MID_CTL_EXIT_OK;
		}
		about = find_command(argv[optind + 1]);
		if(!about || optind + 2 < argc)
			return die_usage("help takes one command name, not '%.64s'",
					 argv[optind + 1]);
		command_help(about);
		return MID_CTL_EXIT_OK;
	}
	ex = check_args(cmd, &o, argc - optind - 1, argv + optind + 1);
	if(ex)
		return ex;
	/* An export on file is checked with no midd and no key. */
	if(o.from)
		return mid_ctl_audit_verify(NULL, o.from, o.public_key);
	if(curl_global_init(CURL_GLOBAL_DEFAULT)) {
		mid_ctl_err("cannot initialise libcurl");
		return MID_CTL_EXIT_REFUSED;
	}
	ex = setup(&c, &o, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	if(!ex)
		ex = run(&c, cmd, &o, argv + optind + 1);
	mid_ctl_http_free(c.http);
	curl_global_cleanup();
	return ex;
}
