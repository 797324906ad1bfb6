/* SPDX-License-Identifier: MIT */
/*
 * midshim: run a program under the gate, check a policy, or explain which
 * rule decides an event. The launcher sets the environment and keeps the
 * program's process tree (midshim_tree.c): all gating happens in
 * libmidshim.so inside the program; the launcher only carries out pushes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mid_key.h"
#include "midshim_adopt.h"
#include "midshim_conf.h"
#include "orgkey.h"
#include "midshim_suggest.h"
#include "midshim_sup.h"
#include "midshim_tree.h"
#include "policy.h"
#include "config.h"
#include "execfile.h"
#include "fspath.h"

#define EXIT_USAGE 2
#define EXIT_CANNOT 126
#define EXIT_NOTFOUND 127

#ifndef MIDSHIM_VERSION
#define MIDSHIM_VERSION "0.1.0"
#endif

static const char usage_text[] =
	"usage: midshim run [OPTIONS] -- COMMAND [ARGS...]\n"
	"       midshim adopt [OPTIONS] --device ID PID... (see midshim adopt --help)\n"
	"       midshim policy check FILE...\n"
	"       midshim policy suggest [--action validate|allow] [--fold N] [-o FILE] AUDIT.jsonl...\n"
	"       midshim explain [--policy FILE] EVENT...\n"
	"       midshim --help | --version\n"
	"\n"
	"Run an unmodified, dynamically linked program with libmidshim.so\n"
	"preloaded: before it execs, connects, sends, writes or changes a file,\n"
	"the local policy and the control plane decide; on a deny the program\n"
	"is stopped at once. A static or Go program, which the preload cannot\n"
	"see, is supervised through a seccomp filter instead (--supervise).\n"
	"\n"
	"run options (each sets the MIDSHIM_* variable of the same meaning):\n"
	"  --device ID          device identity, service:env:role:instance\n"
	"  --url URL            control plane: http://HOST:PORT, unix:/PATH, https://...\n"
	"  --ca-file FILE       https:// only: verify the control plane with the CA\n"
	"                       certificates in FILE (PEM) instead of the system store\n"
	"  --org-key-file FILE  file holding the org key (keys are never taken from argv);\n"
	"                       an admin key, or an admin.key readable in FILE's\n"
	"                       directory or its admin/, is refused (exit 126)\n"
	"  --policy FILE        JSON policy (see midshim-policy(5))\n"
	"  --ttl-ms N           allow cache lifetime, 0..30000 (default 1000)\n"
	"  --timeout-ms N       validate deadline (default 2000)\n"
	"  --on-deny ACTION     kill (default), abort, exit:N, errno\n"
	"  --audit              log would-be denials, never stop anything\n"
	"  --audit-log FILE     append one JSON line per denial to FILE (repeats of\n"
	"                       an event are counted, see midshim(1))\n"
	"  --quiet              no stderr line for what --audit lets through\n"
	"  --syslog             each denial to syslog (LOG_USER, ident midshim) too\n"
	"  --supervise          gate through a seccomp filter too: the launcher decides\n"
	"                       the program's exec, connect, send and file changes\n"
	"                       whatever it is written in (chosen by itself for\n"
	"                       static and Go programs); with a dynamically linked\n"
	"                       program the preload stays as well (both layers)\n"
	"  --no-supervise       refuse a static or Go program instead of supervising it\n"
	"  --allow-static       run a program the shim cannot follow (static or\n"
	"                       setuid) anyway, ungated, with a warning\n"
	"  --lib PATH           libmidshim.so to preload (default: found beside\n"
	"                       this program or in ../lib/midshim/)\n"
	"  --no-keeper          replace this process with the program (exec) instead\n"
	"                       of keeping its tree: a revoke then stops each process\n"
	"                       through its own push channel or at its next side effect\n"
	"                       (also with MIDSHIM_PUSH=off, which turns push off)\n"
	"\n"
	"run keeps the program's tree: the program runs as its child in a fresh\n"
	"cgroup (cgroup v2, when one can be made) or its own process group (the\n"
	"launcher being a child subreaper); run holds the device's push channel and,\n"
	"when the control plane revokes, removes or disables the device, kills\n"
	"every process of the tree with SIGKILL at once, daemons and static\n"
	"children included. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and\n"
	"SIGWINCH are forwarded to the program.\n"
	"\n"
	"explain events:\n"
	"  exec PATH [ARGS...]              connect ADDR PORT [HOST]\n"
	"  send ADDR PORT [HOST]            write PATH [FDKIND]\n"
	"  fs OP PATH [PATH2]               (OP: open create truncate delete rename\n"
	"                                    link mkdir mknod chmod chown utime xattr)\n"
	"\n"
	"Exit status: run exits with the program's status (128+N when a signal N\n"
	"killed it; 137 after a push kill); 126 when the program\n"
	"cannot be gated or the configuration is bad, 127 when it is not found,\n"
	"2 for usage errors. policy check: 0 valid, 1 invalid. explain: 0.\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

static int die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "midshim: %s%s%s%s\n(see midshim --help)\n", msg, arg ? " \"" : "",
		arg ? arg : "", arg ? "\"" : "");
	return EXIT_USAGE;
}

/* libmidshim.so next to this executable (build tree) or in
 * PREFIX/lib/midshim/ (installed tree). */
static int find_lib(char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	const char *try[] = {"/libmidshim.so", "/../lib/midshim/libmidshim.so"};
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if(n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if(!slash)
		return -1;
	*slash = '\0';
	for(i = 0; i < MID_ARRAY_LEN(try); i++) {
		char cand[PATH_MAX + 40];
		snprintf(cand, sizeof(cand), "%s%s", exe, try[i]);
		if(access(cand, R_OK) == 0 && realpath(cand, out) && strlen(out) < outlen)
			return 0;
	}
	return -1;
}

static int set(const char *name, const char *value)
{
	if(setenv(name, value, 1)) {
		fprintf(stderr, "midshim: cannot set %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Fill in what flags and the environment left unset from the
 * configuration file ('config', else $MIDSHIM_CONFIG, else the default
 * one if it exists), make every path absolute (the program may change
 * directory before the shim reads one) and check that the audit log can
 * be written: a log that silently goes nowhere is a configuration error.
 */
static int settle_config(const char *config)
{
	static const char *const paths[] = {MID_ENV_POLICY, MID_ENV_ORG_KEY_FILE,
					    MID_ENV_AUDIT_LOG, MID_ENV_CA_FILE};
	const char *env = getenv(MID_ENV_CONFIG), *log;
	char err[PATH_MAX + 256];
	size_t i;
	int fd;

	if(!config && env && *env)
		config = env;
	if(mid_conf_apply(config ? config : MID_CONF_DEFAULT, config != NULL, err, sizeof(err)))
		goto bad;
	unsetenv(MID_ENV_CONFIG);
	for(i = 0; i < MID_ARRAY_LEN(paths); i++)
		if(mid_conf_absolute(paths[i], err, sizeof(err)))
			goto bad;
	log = getenv(MID_ENV_AUDIT_LOG);
	if(log && *log) {
		fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if(fd < 0) {
			snprintf(err, sizeof(err), "audit log %.1024s: %s; make it writable for this "
				 "user or choose another file (--audit-log, audit_log in the "
				 "configuration)", log, strerror(errno));
			goto bad;
		}
		close(fd);
	}
	return 0;
bad:
	fprintf(stderr, "midshim: configuration error: %s\n", err);
	return -1;
}

/* The key the program will hold must be the org key, with no admin key
 * readable beside it (the shim checks the same at the program's start;
 * saying it here names the launcher's option). */
static int check_org_key(void)
{
	const char *file = getenv(MID_ENV_ORG_KEY_FILE), *key = getenv(MID_ENV_ORG_KEY);
	char buf[512] = "", err[1024];
	enum mid_rc rc = MID_OK;

	if(key && *key)
		rc = mid_org_key_check(key, NULL, err, sizeof(err));
	else if(file && *file) {
		char why[256];

		rc = mid_key_read_file(file, buf, sizeof(buf), NULL, why, sizeof(why));
		if(rc)
			snprintf(err, sizeof(err), "--org-key-file %.256s: %s", file, why);
		else
			rc = mid_org_key_check(buf, file, err, sizeof(err));
	}
	explicit_bzero(buf, sizeof(buf));
	if(rc)
		fprintf(stderr, "midshim: %s\n", err);
	return rc ? -1 : 0;
}

static const char *env(const char *name)
{
	return getenv(name);
}

/* Every MIDSHIM_* variable out of this process's environment: a program
 * supervised without the preload needs none, and must not hold the key. */
static void drop_settings(void)
{
	for(size_t i = 0; environ[i];) {
		char name[128];
		size_t n = strcspn(environ[i], "=");

		if(MID_HAS_PREFIX(environ[i], MID_ENV_PREFIX) && n < sizeof(name)) {
			memcpy(name, environ[i], n);
			name[n] = '\0';
			unsetenv(name);
			continue;
		}
		i++;
	}
}

/* Run 'prog' under the supervisor (midshim_sup.c), the launcher keeping
 * its tree; 'preload': the program has the preload too (both layers). */
static int run_supervised(const char *prog, char *const argv[], int preload)
{
	struct mid_config cfg;
	struct mid_sup *sup;
	char err[1024];
	int st;

	if(mid_config_load(&cfg, env, environ, err, sizeof(err))) {
		fprintf(stderr, "midshim: configuration error: %s\n", err);
		return EXIT_CANNOT;
	}
	if(mid_sup_new(&sup, &cfg, preload, err, sizeof(err))) {
		fprintf(stderr, "midshim: cannot supervise %s: %s\n", prog, err);
		mid_config_cleanup(&cfg);
		return EXIT_CANNOT;
	}
	if(!preload)
		drop_settings();
	st = mid_tree_run(prog, argv, &cfg, sup);
	mid_sup_free(sup);
	mid_config_cleanup(&cfg);
	return st;
}

/* What would let 'cmd_run' run a program it refuses as 'why'. */
static const char *refusal_hint(const char *why, int supervise)
{
	if((!strcmp(why, "setuid") || !strcmp(why, "setgid")) && !mid_sup_privileged_ok())
		return "a launcher holding CAP_SYS_ADMIN and CAP_SYS_PTRACE supervises it; ";
	return supervise == 0 ? "without --no-supervise it is supervised; " : "";
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'},
		{"url", required_argument, NULL, 'u'},
		{"ca-file", required_argument, NULL, 'C'},
		{"org-key-file", required_argument, NULL, 'k'},
		{"policy", required_argument, NULL, 'p'},
		{"ttl-ms", required_argument, NULL, 't'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"on-deny", required_argument, NULL, 'o'},
		{"audit", no_argument, NULL, 'a'},
		{"audit-log", required_argument, NULL, 'l'},
		{"allow-static", no_argument, NULL, 's'},
		{"lib", required_argument, NULL, 'L'},
		{"config", required_argument, NULL, 'c'},
		{"no-keeper", no_argument, NULL, 'n'},
		{"quiet", no_argument, NULL, 'q'},
		{"syslog", no_argument, NULL, 'S'},
		{"supervise", no_argument, NULL, 'V'},
		{"no-supervise", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char lib[PATH_MAX] = "", prog[PATH_MAX], preload_list[2 * PATH_MAX + 2];
	const char *why, *old, *config = NULL;
	int c, allow_static = 0, no_keeper = 0, supervise = -1, preload = 1;

	optind = 1;
	while((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		int rc = 0;
		switch(c) {
		case 'd': rc = set(MID_ENV_DEVICE_ID, optarg); break;
		case 'u': rc = set(MID_ENV_URL, optarg); break;
		case 'C': rc = set(MID_ENV_CA_FILE, optarg); break;
		case 'k': rc = set(MID_ENV_ORG_KEY_FILE, optarg); unsetenv(MID_ENV_ORG_KEY); break;
		case 'p': rc = set(MID_ENV_POLICY, optarg); break;
		case 't': rc = set(MID_ENV_TTL_MS, optarg); break;
		case 'T': rc = set(MID_ENV_TIMEOUT_MS, optarg); break;
		case 'o': rc = set(MID_ENV_ON_DENY, optarg); break;
		case 'a': rc = set(MID_ENV_MODE, "audit"); break;
		case 'l': rc = set(MID_ENV_AUDIT_LOG, optarg); break;
		case 'q': rc = set(MID_ENV_QUIET, "1"); break;
		case 'S': rc = set(MID_ENV_SYSLOG, "1"); break;
		case 'c': config = optarg; break;
		case 's': allow_static = 1; break;
		case 'n': no_keeper = 1; break;
		case 'V': supervise = 1; break;
		case 'N': supervise = 0; break;
		case 'L':
			if(!realpath(optarg, lib)) {
				fprintf(stderr, "midshim: --lib %s: %s\n", optarg, strerror(errno));
				return EXIT_CANNOT;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: return die_usage("bad option for run", NULL);
		}
		if(rc)
			return EXIT_CANNOT;
	}
	if(optind >= argc)
		return die_usage("run needs a command after --", NULL);
	if(settle_config(config))
		return EXIT_CANNOT;
	if(check_org_key())
		return EXIT_CANNOT;
	if(!lib[0] && find_lib(lib, sizeof(lib))) {
		fprintf(stderr, "midshim: cannot find libmidshim.so beside this program or in "
			"../lib/midshim/; pass --lib PATH\n");
		return EXIT_CANNOT;
	}
	if(!mid_exec_resolve(argv[optind], getenv("PATH"), prog, sizeof(prog))) {
		fprintf(stderr, "midshim: %s: command not found\n", argv[optind]);
		return EXIT_NOTFOUND;
	}
	if((supervise == 1 || (supervise == -1 && !allow_static)) && mid_sup_needed(prog, &why)) {
		/* The preload sees nothing of such a program's own calls. */
		supervise = 1;
		preload = 0;
	} else if(!mid_exec_followable(prog, &why)) {
		if(!allow_static) {
			fprintf(stderr, "midshim: %s is %s: a preloaded library cannot see what it "
				"does, so it cannot be gated; refusing to run it (%s--allow-static "
				"runs it ungated)\n", prog, why, refusal_hint(why, supervise));
			return EXIT_CANNOT;
		}
		fprintf(stderr, "midshim: warning: %s is %s and runs ungated\n", prog, why);
	}
	old = getenv("LD_PRELOAD");
	if(old && *old && !strstr(old, lib))
		snprintf(preload_list, sizeof(preload_list), "%s:%s", old, lib);
	else if(old && *old)
		snprintf(preload_list, sizeof(preload_list), "%s", old);
	else
		snprintf(preload_list, sizeof(preload_list), "%s", lib);
	if(preload && set("LD_PRELOAD", preload_list))
		return EXIT_CANNOT;
	unsetenv(MID_ENV_ALLOW_UNTIL);
	unsetenv(MID_ENV_REGISTERED);
	if(supervise == 1 && no_keeper) {
		fprintf(stderr, "midshim: %s%s needs the launcher to stay: --no-keeper and "
			"MIDSHIM_PUSH=off cannot be used with it\n", prog,
			preload ? " under --supervise" : " is supervised, which");
		return EXIT_CANNOT;
	}
	if(supervise == 1)
		return run_supervised(prog, argv + optind, preload);
	if(!no_keeper && getenv(MID_ENV_PUSH) && !strcmp(getenv(MID_ENV_PUSH), "off"))
		no_keeper = 1;
	if(!no_keeper) {
		struct mid_config cfg;
		char err[1024];
		int st;

		/* The same check the program's shim makes before its main:
		 * a bad setting stops here with its one line. */
		if(mid_config_load(&cfg, env, environ, err, sizeof(err))) {
			fprintf(stderr, "midshim: configuration error: %s\n", err);
			return EXIT_CANNOT;
		}
		st = mid_tree_run(prog, argv + optind, &cfg, NULL);
		mid_config_cleanup(&cfg);
		return st;
	}
	execv(prog, argv + optind);
	fprintf(stderr, "midshim: cannot run %s: %s\n", prog, strerror(errno));
	return errno == ENOENT ? EXIT_NOTFOUND : EXIT_CANNOT;
}

/* "--help" or "-h" among a subcommand's words. */
static int wants_help(int argc, char **argv)
{
	for(int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

static int cmd_policy(int argc, char **argv)
{
	int i, bad = 0;

	if(argc > 1 && !strcmp(argv[1], "suggest")) {
		if(wants_help(argc, argv)) {
			fputs(mid_suggest_usage, stdout);
			return 0;
		}
		return mid_suggest_main(argc - 1, argv + 1);
	}
	if(wants_help(argc, argv)) {
		printf("usage: midshim policy check FILE...\n"
		       "       midshim policy suggest [--action validate|allow] [--fold N] [-o FILE] "
		       "AUDIT.jsonl...\n\n"
		       "Check each JSON policy FILE: it must parse and name only known fields,\n"
		       "kinds, actions and operations. Prints FILE: ok (N rules), or the file,\n"
		       "line and reason. Exit 0 when every FILE is valid, 1 otherwise.\n"
		       "suggest writes a starting policy from audit logs (see\n"
		       "midshim policy suggest --help).\n"
		       "See midshim-policy(5).\n");
		return 0;
	}
	if(argc < 3 || strcmp(argv[1], "check"))
		return die_usage("usage: midshim policy check FILE...", NULL);
	for(i = 2; i < argc; i++) {
		struct mid_policy *pol = NULL;
		char err[1024];

		if(mid_policy_load(argv[i], &pol, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			bad = 1;
			continue;
		}
		printf("%s: ok (%zu rules)\n", argv[i], mid_policy_rule_count(pol));
		mid_policy_free(pol);
	}
	return bad;
}

static int parse_peer(struct mid_event *ev, int argc, char **argv, int i)
{
	char *end;
	long port;

	if(i + 1 >= argc)
		return -1;
	if(inet_pton(AF_INET, argv[i], ev->addr) == 1) {
		ev->family = AF_INET;
	} else if(inet_pton(AF_INET6, argv[i], ev->addr) == 1) {
		ev->family = AF_INET6;
	} else if(MID_HAS_PREFIX(argv[i], "unix:")) {
		ev->family = AF_UNIX;
		ev->path = argv[i] + strlen("unix:");
		return 0;
	} else {
		return -1;
	}
	port = strtol(argv[i + 1], &end, 10);
	if(*end || port < 0 || port > 65535)
		return -1;
	ev->port = (uint16_t)port;
	if(i + 2 < argc)
		ev->host = argv[i + 2];
	return 0;
}

/* A path as the runtime matches it: absolute (from the working
 * directory) and normalised by text, '.' and '..' removed. */
static int normal(const char *path, char *out, size_t outlen)
{
	if(mid_path_abs(AT_FDCWD, path, out, outlen)) {
		fprintf(stderr, "midshim: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int cmd_explain(int argc, char **argv)
{
	const char *file = getenv(MID_ENV_POLICY);
	struct mid_policy *pol = NULL;
	struct mid_event ev;
	enum mid_action a;
	char err[1024], desc[1024], abs1[PATH_MAX], abs2[PATH_MAX];
	int i = 1, rule, rc = EXIT_USAGE;

	if(wants_help(argc, argv)) {
		printf("usage: midshim explain [--policy FILE] EVENT...\n\n"
		       "Print the action (allow, deny, validate) the policy (FILE, else\n"
		       "MIDSHIM_POLICY, else the built-in policy) takes for one event, and the\n"
		       "rule or default that decides it. Paths are made absolute and normal as\n"
		       "at run time. Events:\n"
		       "  exec PATH [ARGS...]              connect ADDR PORT [HOST]\n"
		       "  send ADDR PORT [HOST]            write PATH [FDKIND]\n"
		       "  fs OP PATH [PATH2]               signal [PROGRAM]  (none: a group)\n"
		       "  tty-inject TTY\n");
		return 0;
	}
	if(argc > 2 && !strcmp(argv[1], "--policy")) {
		file = argv[2];
		i = 3;
	}
	if(i >= argc)
		return die_usage("explain needs an event: exec, connect, send, write, fs, signal "
				 "or tty-inject", NULL);
	memset(&ev, 0, sizeof(ev));
	if(mid_kind_from_name(argv[i], &ev.kind))
		return die_usage("unknown event kind (exec, connect, send, write, fs, signal, "
				 "tty-inject):", argv[i]);
	i++;
	switch(ev.kind) {
	case MID_EV_EXEC:
		if(i >= argc)
			return die_usage("explain exec needs a PATH", NULL);
		ev.path = argv[i];
		ev.argv = argv + i;
		break;
	case MID_EV_CONNECT:
	case MID_EV_SEND:
		if(parse_peer(&ev, argc, argv, i))
			return die_usage("expected ADDR PORT [HOST] or unix:PATH", NULL);
		if(ev.kind == MID_EV_SEND)
			ev.fdkind = MID_FD_SOCKET;
		break;
	case MID_EV_WRITE:
		if(i >= argc)
			return die_usage("explain write needs a PATH", NULL);
		if(normal(argv[i], abs1, sizeof(abs1)))
			return EXIT_USAGE;
		ev.path = abs1;
		ev.fdkind = MID_FD_FILE;
		if(i + 1 < argc && mid_fdkind_from_name(argv[i + 1], &ev.fdkind))
			return die_usage("unknown fd kind:", argv[i + 1]);
		break;
	case MID_EV_FS:
		if(i + 1 >= argc || mid_fsop_from_name(argv[i], &ev.op))
			return die_usage("explain fs needs OP PATH [PATH2]", NULL);
		if(normal(argv[i + 1], abs1, sizeof(abs1)))
			return EXIT_USAGE;
		ev.path = abs1;
		if(i + 2 < argc) {
			if(normal(argv[i + 2], abs2, sizeof(abs2)))
				return EXIT_USAGE;
			ev.path2 = abs2;
		}
		break;
	case MID_EV_SIGNAL:
		/* the target's program; without one, a process group */
		ev.sig = SIGTERM;
		ev.pid = i < argc ? 2 : -2;
		if(i < argc && normal(argv[i], abs1, sizeof(abs1)))
			return EXIT_USAGE;
		ev.path = i < argc ? abs1 : NULL;
		break;
	case MID_EV_TTY_INJECT:
		if(i >= argc)
			return die_usage("explain tty-inject needs a TTY", NULL);
		if(normal(argv[i], abs1, sizeof(abs1)))
			return EXIT_USAGE;
		ev.path = abs1;
		ev.fdkind = MID_FD_TTY;
		break;
	default:
		break;
	}
	if(file && *file) {
		if(mid_policy_load(file, &pol, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
	} else if(mid_policy_builtin(&pol)) {
		fprintf(stderr, "midshim: cannot build the built-in policy\n");
		return 1;
	}
	a = mid_policy_match(pol, &ev, &rule);
	if(rule >= 0) {
		mid_policy_rule_describe(pol, (size_t)rule, desc, sizeof(desc));
		printf("%s\n  decided by %s\n", mid_action_name(a), desc);
	} else {
		printf("%s\n  decided by the default for %s in %s\n", mid_action_name(a),
		       mid_kind_name(ev.kind), file && *file ? file : "the built-in policy");
	}
	if(a == MID_ACT_VALIDATE)
		printf("  the control plane is asked (an allow is cached for the TTL)\n");
	rc = 0;
	mid_policy_free(pol);
	return rc;
}

int main(int argc, char **argv)
{
	if(argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if(!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if(!strcmp(argv[1], "--version")) {
		printf("midshim %s\n", MIDSHIM_VERSION);
		return 0;
	}
	if(!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if(!strcmp(argv[1], "adopt")) {
		char lib[PATH_MAX] = "";

		if(find_lib(lib, sizeof(lib)))
			lib[0] = '\0';
		return mid_adopt_main(argc - 1, argv + 1, lib);
	}
	if(!strcmp(argv[1], "policy"))
		return cmd_policy(argc - 1, argv + 1);
	if(!strcmp(argv[1], "explain"))
		return cmd_explain(argc - 1, argv + 1);
	return die_usage("unknown command (run, adopt, policy, explain):", argv[1]);
}
