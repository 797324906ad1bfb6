/* SPDX-License-Identifier: MIT */
/*
 * midd: the midshim control plane. `midd init` creates the database and
 * an org and prints its two keys once; plain `midd` serves the API until
 * SIGTERM or SIGINT, then flushes what is pending and exits 0.
 * Exit status: 0 ok, 1 runtime error, 2 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "api.h"
#include "console.h"
#include "keeper.h"
#include "journal.h"
#include "keys.h"
#include "listen.h"
#include "log.h"
#include "mid.h"
#include "notify.h"
#include "quota.h"
#include "service.h"
#include "store.h"
#include "wire.h"

#define DEFAULT_DB "/var/lib/midshim/midd.db"
#define DEFAULT_STATE_DIR "/var/lib/midshim"
#define DEFAULT_MAX_STALE_S 5
#define DB_FILE_MAX 4096
#define DEFAULT_LISTEN "127.0.0.1:7070"
#define DEFAULT_LIMIT 1000
#define THREADS_MAX 256

enum { EXIT_USAGE = 2 };

static const char usage_text[] =
"Usage: midd [--db FILE|URL | --db-file FILE] [--listen ADDR:PORT|none]\n"
"            [--socket PATH] [--replica-name NAME] [--max-stale SECONDS]\n"
"            [--state-dir DIR]\n"
"            [--allow-remote] [--threads N] [--quiet]\n"
"            [--max-connections N] [--peer-connections N] [--head-timeout-ms N]\n"
"            [--register-rate N] [--register-burst N] [--audit-checkpoint N]\n"
"            [--no-console] [--console-tls] [--console-session-s N]\n"
"       midd init [--db FILE|URL | --db-file FILE] [--name ORG] [--device-limit N]\n"
"                 [--write-keys DIR [--admin-key-dir ADIR] [--key-group GROUP]]\n"
"       midd --help | --version\n"
"\n"
"midd is the midshim control plane: it answers the shims' register and\n"
"validate calls and the operators' revoke, restore, remove and org-wide\n"
"disable, with a MachineID v1 compatible JSON API over HTTP. State lives\n"
"in SQLite, or in PostgreSQL shared by several midd replicas; validate is\n"
"answered from memory.\n"
"\n"
"Serving (no command):\n"
"  --db FILE|URL        database: a SQLite file, or a postgresql:// URL\n"
"                       (default $MIDD_DB, else " DEFAULT_DB ")\n"
"  --db-file FILE       read the postgresql:// URL from FILE, so that no\n"
"                       password shows on a command line\n"
"  --replica-name NAME  with PostgreSQL: this replica's name in /healthz\n"
"                       and its local files (default: the host name)\n"
"  --max-stale SECONDS  with PostgreSQL: after losing the database, answer\n"
"                       validates from memory this long, then deny them\n"
"                       with MIDD_STALE until it is back (default 5)\n"
"  --state-dir DIR      with PostgreSQL: where the replica keeps its deny\n"
"                       journal and push keeper (default " DEFAULT_STATE_DIR ")\n"
"  --listen ADDR:PORT   TCP address: 127.0.0.1:PORT, [::1]:PORT or\n"
"                       localhost:PORT (default " DEFAULT_LISTEN "); 'none'\n"
"                       serves only on --socket\n"
"  --socket PATH        also serve HTTP on a unix socket (mode 0660); a\n"
"                       stale socket file is replaced, a live one refused\n"
"  --allow-remote       permit a --listen address that is not loopback\n"
"                       (the API is plain HTTP: put TLS in front of it)\n"
"  --threads N          worker threads (default: number of CPUs)\n"
"  --quiet              do not log refused requests (401, 403)\n"
"  --max-connections N  connections held at once, over all listeners\n"
"                       (default: RLIMIT_NOFILE, raised to 65536 when\n"
"                       allowed, less 64); near it the idle kept-alive\n"
"                       connection answered last of the peer holding the\n"
"                       most is closed\n"
"  --peer-connections N most connections of one peer: a uid on the unix\n"
"                       socket or loopback, else an address (default: the\n"
"                       maximum less an eighth)\n"
"  --head-timeout-ms N  a new connection must send a whole request head\n"
"                       within N ms, however it trickles (default 5000)\n"
"  --register-rate N    new devices an org may register a second, after a\n"
"                       burst (default 20; 0 = no limit); over it register\n"
"                       answers 429 RATE_LIMITED with Retry-After\n"
"  --register-burst N   new devices an org may register at once (default 200)\n"
"  --no-console         do not serve the browser console at /console\n"
"  --console-tls        midd sits behind TLS: console cookies get Secure\n"
"  --console-session-s N  a console session's lifetime in seconds\n"
"                       (default 28800, from 60 to 604800)\n"
"  --audit-checkpoint N sign a checkpoint of the audit chain every N rows\n"
"                       (default 1000) and at stop, with the key DB.audit-key\n"
"\n";

/* In parts: C11 promises string literals of 4095 bytes only. */
static const char usage_more[] =
"midd init:\n"
"  --db FILE|URL        database to create or extend (default as above);\n"
"                       PostgreSQL gets its schema migrations applied\n"
"  --db-file FILE       read the postgresql:// URL from FILE\n"
"  --name ORG           org name (default 'default'); printable ASCII\n"
"  --device-limit N     most devices the org may register; removed devices\n"
"                       do not count; 0 = unlimited (default 1000)\n"
"  --write-keys DIR     write DIR/org.key (0600) and ADIR/admin.key (0400)\n"
"                       instead of printing the keys; run it as the operator\n"
"  --admin-key-dir ADIR where admin.key goes (default DIR/admin)\n"
"  --key-group GROUP    org.key 0640 in GROUP, for gated programs in it\n"
"  Without --write-keys, init prints both keys once. The database keeps\n"
"  only their SHA-256 hashes.\n"
"\n";

static const char usage_routes[] =
"Routes (keys in x-org-key / x-admin-key; the admin key works wherever\n"
"the org key does, except validate and the shim's register: 403):\n"
"  POST /api/v1/devices/register   org    {\"deviceId\":\"...\"}\n"
"  POST /api/v1/devices/validate   org    {\"deviceId\":\"...\"}\n"
"  POST /api/v1/devices/revoke     admin  {\"deviceId\":\"...\"}\n"
"  POST /api/v1/devices/unrevoke   admin  (alias /restore)\n"
"  POST /api/v1/devices/remove     admin\n"
"  GET  /api/v1/devices/list       org    [?deviceId=ID]\n"
"  GET  /api/v1/usage              org\n"
"  POST /api/v1/org/disable        admin  (and /api/v1/org/enable)\n"
"  POST /api/v1/org/rotate-key     admin  {\"key\":\"org\"} or {\"key\":\"admin\"}\n"
"  GET  /api/v1/audit              admin  [?deviceId=ID][&limit=N]\n"
"  GET  /api/v1/audit/chain        admin  [?after=ID][&limit=N] rows, hashes, checkpoints\n"
"  POST /api/v1/devices/revoke-match admin {\"match\":\"GLOB\"[,\"dryRun\":true]}\n"
"  GET  /api/v1/alerts             admin  webhooks and their delivery counts\n"
"  POST /api/v1/alerts/add         admin  {\"url\":URL,\"events\":\"revoke,deny\"[,\"format\":\"slack\"]}\n"
"  POST /api/v1/alerts/remove      admin  {\"id\":N}\n"
"  GET  /healthz                   none\n"
"  GET  /console                   the browser console (log in with the admin key)\n"
"\n"
"Signals: SIGTERM and SIGINT stop midd cleanly (exit 0).\n"
"Exit status: 0 success, 1 runtime error, 2 usage error.\n"
"See midd(8) for the full reference.\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "midd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'midd --help'.\n");
}

/* A whole number 0..'max' from 'arg'; -1 when it is not one. */
static long parse_count(const char *arg, long max)
{
	char *end;
	long v;

	if(!*arg || *arg == '-' || *arg == '+')
		return -1;
	errno = 0;
	v = strtol(arg, &end, 10);
	if(errno || *end || v > max)
		return -1;
	return v;
}

static const char *default_db(void)
{
	const char *e = getenv("MIDD_DB");

	return e && *e ? e : DEFAULT_DB;
}

/* The postgresql:// URL in 'path' (its first line) into 'out'. */
static int read_db_file(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if(!f) {
		usage_error("--db-file: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(out, 1, outlen - 1, f);
	fclose(f);
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if(n == outlen - 1 || !mid_store_is_url(out)) {
		usage_error("--db-file: %s must hold one postgresql:// URL on its first line"
			    " (at most %zu bytes)", path, outlen - 2);
		return -1;
	}
	return 0;
}

/* How to name 'db' in messages: a URL may hold a password. */
static const char *db_name(const char *db)
{
	return mid_store_is_url(db) ? "the PostgreSQL database" : db;
}

/* Create the database's directory if it alone is missing. */
static void make_parent(const char *db)
{
	char buf[4096];
	char *dir;

	if(mid_strlcpy(buf, db, sizeof(buf)) >= sizeof(buf))
		return;
	dir = dirname(buf);
	if(mkdir(dir, 0700) == 0)
		fprintf(stderr, "midd: created directory %s\n", dir);
}

/* The audit chain's signing key beside the database, 0400, made once; its
 * public key printed for whoever verifies exports elsewhere. */
static int audit_key(const char *db, char *err, size_t errlen)
{
	char path[4200], hex[2 * MID_ED25519_PUB + 1];
	unsigned char pub[MID_ED25519_PUB];
	struct mid_signer *s = NULL;
	enum mid_rc rc;

	snprintf(path, sizeof(path), "%s" MID_CHAIN_KEY_SUFFIX, db);
	rc = mid_signer_load(path, &s, err, errlen);
	if(rc == MID_ERR_NOT_FOUND) {
		rc = mid_signer_create(path, err, errlen);
		if(!rc)
			rc = mid_signer_load(path, &s, err, errlen);
	}
	if(rc)
		return -1;
	mid_signer_public(s, pub);
	mid_signer_free(s);
	mid_hex(pub, sizeof(pub), hex);
	printf("audit signing key %s (0400, apart from the API keys); its public key, to"
	       " verify exports elsewhere: %s\n", path, hex);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"db-file", required_argument, NULL, 'f'},
		{"name", required_argument, NULL, 'n'},
		{"device-limit", required_argument, NULL, 'l'},
		{"write-keys", required_argument, NULL, 'w'},
		{"admin-key-dir", required_argument, NULL, 'A'},
		{"key-group", required_argument, NULL, 'g'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = default_db(), *name = "default", *keydir = NULL, *admindir = NULL;
	char org_key[MID_KEY_LEN + 1], admin_key[MID_KEY_LEN + 1], err[512] = "";
	char admindef[4096], url[DB_FILE_MAX];
	gid_t gid = (gid_t)-1;
	unsigned char oh[MID_SHA256_LEN], ah[MID_SHA256_LEN];
	struct mid_store *store = NULL;
	long limit = DEFAULT_LIMIT;
	int64_t id;
	int c, ret = 1;

	optind = 1;
	while((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch(c) {
		case 'd': db = optarg; break;
		case 'f':
			if(read_db_file(optarg, url, sizeof(url)))
				return EXIT_USAGE;
			db = url;
			break;
		case 'n': name = optarg; break;
		case 'w': keydir = optarg; break;
		case 'A': admindir = optarg; break;
		case 'g': {
			struct group *g = getgrnam(optarg);

			if(!g) {
				usage_error("--key-group: no group '%s'", optarg);
				return EXIT_USAGE;
			}
			gid = g->gr_gid;
			break;
		}
		case 'l':
			limit = parse_count(optarg, 1000000000L);
			if(limit < 0) {
				usage_error("--device-limit wants a whole number (0 = unlimited), not '%s'",
					    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(usage_more, stdout);
			fputs(usage_routes, stdout);
			return 0;
		default: fprintf(stderr, "Try 'midd --help'.\n"); return EXIT_USAGE;
		}
	}
	if(optind < argc) {
		usage_error("init takes no argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if((admindir || gid != (gid_t)-1) && !keydir) {
		usage_error("--admin-key-dir and --key-group go with --write-keys DIR");
		return EXIT_USAGE;
	}
	if(keydir && !admindir) {
		if(snprintf(admindef, sizeof(admindef), "%s/admin", keydir) >= (int)sizeof(admindef)) {
			usage_error("--write-keys: the directory name is too long");
			return EXIT_USAGE;
		}
		admindir = admindef;
	}
	if(strlen(name) > MID_ORG_NAME_MAX || !mid_device_ok(name, strlen(name))) {
		usage_error("--name wants 1 to 64 bytes of printable ASCII without spaces, not '%s'",
			    name);
		return EXIT_USAGE;
	}
	/* The database holds only hashes, but nobody else needs to read it. */
	umask(077);
	if(!mid_store_is_url(db))
		make_parent(db);
	if(mid_store_open(db, 1, &store, err, sizeof(err)))
		goto out;
	if(mid_keys_generate(MID_KEY_ORG, org_key) || mid_keys_generate(MID_KEY_ADMIN, admin_key)) {
		snprintf(err, sizeof(err), "cannot read random bytes for the keys");
		goto out;
	}
	mid_keys_hash(org_key, oh);
	mid_keys_hash(admin_key, ah);
	/* Key files first: if they cannot be written, no org exists whose
	 * keys nobody holds. */
	if(keydir && mid_keys_write(keydir, admindir, gid, org_key, admin_key, err, sizeof(err)))
		goto out;
	if(mid_store_org_create(store, name, oh, ah, (uint64_t)limit, &id, err, sizeof(err))) {
		if(keydir) {
			char p[4096 + 16];
			snprintf(p, sizeof(p), "%s/org.key", keydir);
			unlink(p);
			snprintf(p, sizeof(p), "%.4096s/admin.key", admindir);
			unlink(p);
		}
		goto out;
	}
	printf("created org '%s' in %s (device limit %ld%s)\n", name, db_name(db), limit,
	       limit ? "" : ": unlimited");
	/* The PostgreSQL backend keeps no hash chain (yet): no key for it. */
	if(!mid_store_is_url(db) && audit_key(db, err, sizeof(err)))
		goto out;
	/* Written to files, the keys stay off the terminal, its scrollback
	 * and any log that captures stdout. */
	if(keydir) {
		printf("keys written to %s/org.key (for shims: MIDSHIM_ORG_KEY_FILE) and "
		       "%s/admin.key (for operators: MIDSHIM_ADMIN_KEY_FILE)\n", keydir, admindir);
		printf("only this user can read admin.key: run gated programs as another "
		       "user.\n");
		printf("midd stores only their SHA-256 hashes; keep the files safe.\n");
	} else {
		printf("org key:   %s   (for shims: MIDSHIM_ORG_KEY)\n", org_key);
		printf("admin key: %s   (for operators: MIDSHIM_ADMIN_KEY)\n", admin_key);
		printf("These keys are shown only once; midd stores only their SHA-256 "
		       "hashes.\n");
	}
	if(fflush(stdout)) {
		snprintf(err, sizeof(err), "cannot write the keys to stdout: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	memset(org_key, 0, sizeof(org_key));
	memset(admin_key, 0, sizeof(admin_key));
	if(ret)
		fprintf(stderr, "midd: init: %s\n", err[0] ? err : "failed");
	mid_store_free(store);
	return ret;
}

/* One midd per database: a second one would answer validate from its
 * own memory and miss the first one's revocations. The lock lives as long
 * as the process; it is an flock, independent of SQLite's own locks. */
static int lock_db(const char *db, char *err, size_t errlen)
{
	int fd = open(db, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);

	if(fd < 0) {
		snprintf(err, errlen, "cannot open %.300s: %s", db, strerror(errno));
		return -1;
	}
	if(flock(fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "another midd already serves %.300s; stop it first (replicas"
			 " on one PostgreSQL database each need their own --replica-name)", db);
		close(fd);
		return -1;
	}
	return fd;
}

struct serve_opts {
	const char *db;
	char url[DB_FILE_MAX];
	char replica[MID_REPLICA_MAX];
	const char *state_dir;
	long max_stale_s;
	const char *listen;
	const char *socket;
	int allow_remote;
	long threads;
	int quiet;
	struct mid_conn_opts conn;
	long reg_rate, reg_burst;
	int no_console;
	struct mid_console_opts console;
	long checkpoint; /* audit rows between signed checkpoints */
};

static int parse_serve(int argc, char **argv, struct serve_opts *o)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"db-file", required_argument, NULL, 'f'},
		{"replica-name", required_argument, NULL, 'N'},
		{"max-stale", required_argument, NULL, 'X'},
		{"state-dir", required_argument, NULL, 'D'},
		{"listen", required_argument, NULL, 'l'},
		{"socket", required_argument, NULL, 's'},
		{"allow-remote", no_argument, NULL, 'r'},
		{"threads", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		{"max-connections", required_argument, NULL, 'm'},
		{"peer-connections", required_argument, NULL, 'p'},
		{"head-timeout-ms", required_argument, NULL, 'H'},
		{"register-rate", required_argument, NULL, 'R'},
		{"register-burst", required_argument, NULL, 'B'},
		{"no-console", no_argument, NULL, 'n'},
		{"console-tls", no_argument, NULL, 'T'},
		{"console-session-s", required_argument, NULL, 'S'},
		{"audit-checkpoint", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	long v;
	int c;

	o->db = default_db();
	o->state_dir = DEFAULT_STATE_DIR;
	o->max_stale_s = DEFAULT_MAX_STALE_S;
	if(gethostname(o->replica, sizeof(o->replica)))
		mid_strlcpy(o->replica, "midd", sizeof(o->replica));
	o->replica[sizeof(o->replica) - 1] = '\0';
	o->listen = DEFAULT_LISTEN;
	o->reg_rate = MID_QUOTA_RATE;
	o->reg_burst = MID_QUOTA_BURST;
	o->threads = sysconf(_SC_NPROCESSORS_ONLN);
	if(o->threads < 1)
		o->threads = 1;
	if(o->threads > THREADS_MAX)
		o->threads = THREADS_MAX;
	while((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch(c) {
		case 'd': o->db = optarg; break;
		case 'f':
			if(read_db_file(optarg, o->url, sizeof(o->url)))
				return EXIT_USAGE;
			o->db = o->url;
			break;
		case 'N':
			if(strlen(optarg) >= sizeof(o->replica) || !mid_device_ok(optarg, strlen(optarg)) ||
			   strchr(optarg, '/')) {
				usage_error("--replica-name wants 1 to 64 bytes of printable ASCII without"
					    " spaces or '/', not '%s'", optarg);
				return EXIT_USAGE;
			}
			mid_strlcpy(o->replica, optarg, sizeof(o->replica));
			break;
		case 'X':
			o->max_stale_s = parse_count(optarg, 3600);
			if(o->max_stale_s < 0) {
				usage_error("--max-stale wants seconds from 0 to 3600, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'D': o->state_dir = optarg; break;
		case 'l': o->listen = optarg; break;
		case 's': o->socket = optarg; break;
		case 'r': o->allow_remote = 1; break;
		case 'q': o->quiet = 1; break;
		case 'n': o->no_console = 1; break;
		case 'T': o->console.secure = 1; break;
		case 'S':
			v = parse_count(optarg, 604800);
			if(v < 60) {
				usage_error("--console-session-s wants a number from 60 to 604800, not '%s'",
					    optarg);
				return EXIT_USAGE;
			}
			o->console.ttl_s = (unsigned)v;
			break;
		case 't':
			o->threads = parse_count(optarg, THREADS_MAX);
			if(o->threads < 1) {
				usage_error("--threads wants a number from 1 to 256, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
		case 'p':
			v = parse_count(optarg, 1000000);
			if(v < MID_CONN_MIN) {
				usage_error("--%s wants a number from %d to 1000000, not '%s'",
					    c == 'm' ? "max-connections" : "peer-connections",
					    MID_CONN_MIN, optarg);
				return EXIT_USAGE;
			}
			*(c == 'm' ? &o->conn.max : &o->conn.per_peer) = (unsigned)v;
			break;
		case 'H':
			v = parse_count(optarg, 600000);
			if(v < 100) {
				usage_error("--head-timeout-ms wants a number from 100 to 600000, not '%s'",
					    optarg);
				return EXIT_USAGE;
			}
			o->conn.head_ms = (unsigned)v;
			break;
		case 'R':
		case 'B':
			v = parse_count(optarg, 1000000);
			if(v < (c == 'B')) {
				usage_error("--%s wants a number from %d to 1000000, not '%s'",
					    c == 'R' ? "register-rate" : "register-burst", c == 'B',
					    optarg);
				return EXIT_USAGE;
			}
			*(c == 'R' ? &o->reg_rate : &o->reg_burst) = v;
			break;
		case 'C':
			o->checkpoint = parse_count(optarg, 1000000);
			if(o->checkpoint < 1) {
				usage_error("--audit-checkpoint wants a number from 1 to 1000000, not"
					    " '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(usage_more, stdout);
			fputs(usage_routes, stdout);
			return -1;
		case 'V': printf("midd %s\n", MIDD_VERSION); return -1;
		default: fprintf(stderr, "Try 'midd --help'.\n"); return EXIT_USAGE;
		}
	}
	if(optind < argc) {
		usage_error("unknown command '%s' (commands: init)", argv[optind]);
		return EXIT_USAGE;
	}
	if(!strcmp(o->listen, "none") && !o->socket) {
		usage_error("%s", "--listen none needs --socket PATH, or midd would serve nothing");
		return EXIT_USAGE;
	}
	return 0;
}

/* Push channels, kept by a keeper on DB.push (see keeper.h). The keeper
 * is this program, found before any fork: under a tool that runs midd
 * (valgrind), /proc/self/exe names the tool. */
static int start_push(struct mid_service *svc, const char *db, size_t limit, char *err,
		      size_t errlen)
{
	char path[4096], exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int w = snprintf(path, sizeof(path), "%s.push", db);

	if(n <= 0 || w < 0 || (size_t)w >= sizeof(path)) {
		snprintf(err, errlen, "cannot name the push keeper for %.300s", db);
		return -1;
	}
	exe[n] = '\0';
	return mid_service_push_start(svc, path, exe, limit, err, errlen) ? -1 : 0;
}

/* Say why a replica waits for its database, and what its deny journal
 * at 'local'-pending keeps for it meanwhile. */
static void log_waiting(const char *local, const char *why)
{
	char path[4200], e[256];
	struct mid_journal *j;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s" MID_JOURNAL_SUFFIX, local);
	if(mid_journal_open(path, &j, e, sizeof(e)) == MID_OK) {
		n = mid_journal_used(j);
		mid_journal_free(j);
	}
	mid_log("waiting for the database: %s; trying again every second; the deny journal %s"
		" keeps %zu change(s) toward deny for it", why, path, n);
	(void)mid_notify("STATUS=waiting for the database");
}

/* Open the service. A replica whose database is out of reach at start
 * waits for it, a try a second, until SIGTERM or SIGINT in 'sigs': what
 * its deny journal keeps is replayed and committed once the database
 * answers, and exiting would only restart into the same error. 0 when
 * open, 1 when stopped while waiting, -1 on any other error. */
static int open_service(const struct serve_opts *o, const char *local, const sigset_t *sigs,
			struct mid_service **svc, char *err, size_t errlen)
{
	const struct timespec second = {1, 0};
	uint64_t t0 = mid_now_ms();
	enum mid_rc rc;
	int waited = 0;

	for(;;) {
		rc = mid_service_open_at(o->db, local, svc, err, errlen);
		if(rc != MID_ERR_UNREACHABLE || !mid_store_is_url(o->db))
			break;
		if(!waited++)
			log_waiting(local, err);
		if(sigtimedwait(sigs, NULL, &second) > 0) {
			mid_log("stopping: a signal came while waiting for the database");
			return 1;
		}
	}
	if(!rc && waited)
		mid_log("database reachable after %llu ms of waiting",
			(unsigned long long)(mid_now_ms() - t0));
	return rc ? -1 : 0;
}

/* CPU time this process has used, ms: what its start cost, whatever
 * else the machine was doing meanwhile. */
static unsigned long long cpu_ms(void)
{
	struct rusage u;

	if(getrusage(RUSAGE_SELF, &u))
		return 0;
	return (unsigned long long)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 +
	       (unsigned long long)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

static int serve(int argc, char **argv)
{
	struct serve_opts o = {0};
	struct mid_service *svc = NULL;
	struct mid_api *tcp = NULL, *unx = NULL;
	struct mid_conns *conns = NULL;
	uint64_t t0_ns = mid_now_ns();
	struct mid_console *con = NULL;
	struct mid_alert *alerts = NULL;
	struct mid_conn_opts lim;
	struct mid_listen l;
	char err[512] = "", local[4096], lockpath[4200];
	sigset_t sigs;
	int fd, sig = 0, ret = 1, r, lockfd = -1, made_socket = 0;

	r = parse_serve(argc, argv, &o);
	if(r)
		return r < 0 ? 0 : r;
	if(strcmp(o.listen, "none")) {
		if(mid_listen_parse(o.listen, &l, err, sizeof(err))) {
			usage_error("%s", err);
			return EXIT_USAGE;
		}
		if(!l.loopback && !o.allow_remote) {
			usage_error("refusing to listen on %s, which is not loopback: pass "
				    "--allow-remote if that is intended", o.listen);
			return EXIT_USAGE;
		}
	}
	mid_log_set_quiet(o.quiet);
	umask(077);
	/* Signals are taken by sigwait in this thread only: block them
	 * before any thread exists so every thread inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* A replica's files that are its own: the deny journal, the push
	 * keeper and the lock that keeps a second midd off them. */
	if(!mid_store_is_url(o.db))
		mid_strlcpy(local, o.db, sizeof(local));
	else if(snprintf(local, sizeof(local), "%s/midd-%s", o.state_dir, o.replica) >=
		(int)sizeof(local)) {
		usage_error("--state-dir: the directory name is too long");
		return EXIT_USAGE;
	}
	snprintf(lockpath, sizeof(lockpath), "%s%s", local, mid_store_is_url(o.db) ? ".lock" : "");
	r = open_service(&o, local, &sigs, &svc, err, sizeof(err));
	if(r) {
		ret = r > 0 ? 0 : 1;
		goto out;
	}
	mid_service_set_register_rate(svc, (unsigned)o.reg_rate, (unsigned)o.reg_burst);
	if(o.checkpoint)
		mid_service_set_chain_every(svc, (unsigned)o.checkpoint);
	lockfd = lock_db(lockpath, err, sizeof(err));
	if(lockfd < 0)
		goto out;
	if(mid_conns_new(&o.conn, &conns, err, sizeof(err)))
		goto out;
	mid_conns_limits(conns, &lim);
	if(start_push(svc, local, lim.push, err, sizeof(err)))
		goto out;
	if(mid_store_is_url(o.db) &&
	   mid_service_follow(svc, o.replica, o.max_stale_s * 1000, err, sizeof(err)))
		goto out;
	o.console.assets = mid_console_assets;
	if(!o.no_console && mid_console_new(svc, &o.console, &con)) {
		snprintf(err, sizeof(err), "cannot start the console: out of memory");
		goto out;
	}
	if(strcmp(o.listen, "none")) {
		if(mid_listen_tcp(&l, &fd, err, sizeof(err)) ||
		   mid_api_start(svc, conns, fd, (unsigned)o.threads, 0, &tcp, err, sizeof(err)))
			goto out;
		mid_api_set_console(tcp, con);
	}
	if(o.socket) {
		if(mid_listen_unix(o.socket, &fd, err, sizeof(err)))
			goto out;
		made_socket = 1;
		if(mid_api_start(svc, conns, fd, (unsigned)o.threads, 1, &unx, err, sizeof(err)))
			goto out;
		mid_api_set_console(unx, con);
	}
	if(mid_alert_start(mid_service_store(svc), &alerts, err, sizeof(err)))
		goto out;
	if(mid_store_is_url(o.db))
		mid_log("replica name=%s backend=postgresql max_stale=%lds state=%s", o.replica,
			o.max_stale_s, local);
	mid_log("start version=%s pid=%ld db=%s listen=%s%s%s threads=%ld max_connections=%u"
		" push_channels=%u peer_connections=%u head_timeout_ms=%u register_rate=%ld/s"
		" register_burst=%ld"
		" ready_ms=%llu cpu_ms=%llu",
		MIDD_VERSION, (long)getpid(), db_name(o.db), o.listen, o.socket ? " socket=" : "",
		o.socket ? o.socket : "", o.threads, lim.max,
		lim.push > MID_PUSH_MAX ? MID_PUSH_MAX : lim.push, lim.per_peer, lim.head_ms,
		o.reg_rate, o.reg_burst, (unsigned long long)((mid_now_ns() - t0_ns) / 1000000),
		cpu_ms());
	if(con && tcp)
		mid_log("console url=http://%s/console", o.listen);
	/* Under systemd (Type=notify), units ordered after midd start only
	 * now that its sockets accept calls. */
	{
		char st[96];

		snprintf(st, sizeof(st), "READY=1\nMAINPID=%ld\nSTATUS=serving", (long)getpid());
		if(mid_notify(st) < 0)
			mid_log("warning: cannot notify systemd at $NOTIFY_SOCKET: %s", strerror(errno));
	}
	while(sigwait(&sigs, &sig) != 0)
		;
	mid_log("stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
	(void)mid_notify("STOPPING=1");
	ret = 0;
out:
	mid_console_stop(con); /* its long polls end before the servers */
	mid_api_stop(tcp);
	mid_api_stop(unx);
	mid_conns_free(conns);
	mid_console_free(con);
	mid_alert_stop(alerts);
	if(made_socket)
		unlink(o.socket);
	mid_service_close(svc);
	if(lockfd >= 0)
		close(lockfd);
	if(ret)
		mid_log("error: %s", err[0] ? err : "startup failed");
	else
		mid_log("stop");
	return ret;
}

int main(int argc, char **argv)
{
	if(argc > 1 && !strcmp(argv[1], "init"))
		return cmd_init(argc - 1, argv + 1);
	/* Started by midd itself, never by hand (see keeper.h). */
	if(argc == 3 && !strcmp(argv[1], "push-keeper"))
		return mid_keeper_main(argv[2]);
	return serve(argc, argv);
}
