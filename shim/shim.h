/* SPDX-License-Identifier: MIT */
/*
 * What the shim's hook files share: the gate every hook asks, the per-fd
 * kind table, the resolver memory, the exec environment fix-up and the
 * re-entrancy guard. Hooks live in shim/hook_*.c (linked only into the
 * preload); everything declared here is in the shim's core library, which
 * the unit tests link too.
 */
#ifndef MID_SHIM_H
#define MID_SHIM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client.h"
#include "mid.h"
#include "policy.h"

#define MID_EXPORT __attribute__((visibility("default")))

/* For the little state every gated process writes before main or in its
 * hot path (configuration, gate, real functions): kept together in .data,
 * next to the page relocation has already copied, instead of spread over
 * .bss between large tables. Every fresh page written costs a new process
 * a page fault, and a start is mostly page faults. */
#define MID_HOT __attribute__((section(".data.mid_hot")))

/* A mutex that a fork child resets only when some thread held it, or
 * waited for it, at the fork: the child of a quiet parent then writes
 * nothing to it, and a page written after fork is a page copied. */
struct mid_forklock {
	pthread_mutex_t m;
	_Atomic int users; /* threads inside lock()..unlock() */
};
#define MID_FORKLOCK_INIT {PTHREAD_MUTEX_INITIALIZER, 0}

static inline void mid_forklock_lock(struct mid_forklock *l)
{
	atomic_fetch_add_explicit(&l->users, 1, memory_order_acq_rel);
	pthread_mutex_lock(&l->m);
}

static inline void mid_forklock_unlock(struct mid_forklock *l)
{
	pthread_mutex_unlock(&l->m);
	atomic_fetch_sub_explicit(&l->users, 1, memory_order_acq_rel);
}

/* In a fork child: no other thread exists any more. */
static inline void mid_forklock_atfork_child(struct mid_forklock *l)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	if(!atomic_load_explicit(&l->users, memory_order_relaxed))
		return;
	memcpy(&l->m, &fresh, sizeof(fresh));
	atomic_store_explicit(&l->users, 0, memory_order_relaxed);
}

/* Set while this thread runs the shim's own code (the client's socket I/O,
 * log writes): hooks then call the real function at once. Initial-exec TLS
 * so reading it is one instruction, with no lazy TLS allocation. */
extern __thread int mid_in_shim __attribute__((tls_model("initial-exec")));

/* Raise and lower the guard. Every signal is blocked while it is up: a
 * handler that ran then (during a blocking open or a network wait) would
 * have its own calls go through ungated. The only way the guard is
 * raised (tests/static/guard.sh checks). */
static inline void mid_shim_enter(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	mid_in_shim++;
}

static inline void mid_shim_leave(const sigset_t *old)
{
	mid_in_shim--;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* The shim's configuration, read once from the environment and the
 * policy file. Strings are owned by the configuration. */
struct mid_config {
	char device[MID_DEVICE_MAX + 1];
	char url[MID_URL_MAX];
	char org_key[MID_KEY_MAX + 1];
	char *audit_log; /* NULL: none; allocated only when set */
	long ttl_ms;
	long timeout_ms;
	enum mid_on_deny on_deny;
	int exit_code;
	enum mid_mode mode;
	enum mid_unfollowable unfollowable;
	int no_push; /* MIDSHIM_PUSH=off: no push channel, the TTL gate only */
	int quiet;   /* MIDSHIM_QUIET=1: no stderr line for what audit mode lets through */
	int syslog;  /* MIDSHIM_SYSLOG=1: each denial to syslog as well */
	char *syslog_socket; /* MIDSHIM_SYSLOG_SOCKET; NULL: /dev/log */
	/* Set by the launcher's supervisor (not from the environment): a
	 * denial is logged, then returned (-1) whatever on_deny says, and the
	 * supervisor carries the action out on the process tree. */
	int deny_returns;
	struct mid_policy *policy;
};

/*
 * Fill 'cfg' from the environment (MIDSHIM_*; see doc/design.md) and the
 * policy file it names. 'getenv_fn' reads a variable (getenv in the shim,
 * a table in tests); 'envp', when not NULL, is checked for misspelt
 * MIDSHIM_* names. Environment wins over the policy file, which wins
 * over built-in defaults. On error 'err' names the variable or file:line
 * and what to do. The caller frees cfg->policy with mid_config_cleanup().
 */
MID_WUR enum mid_rc mid_config_load(struct mid_config *cfg,
				    const char *(*getenv_fn)(const char *),
				    char *const *envp, char *err, size_t errlen);
void mid_config_cleanup(struct mid_config *cfg);

/* mid_config_load in two steps: every setting but the org key, and the
 * org key (MIDSHIM_ORG_KEY or the file MIDSHIM_ORG_KEY_FILE names, with
 * the admin-key checks). A start that inherits a fresh allow needs the
 * key only at its first call to the control plane, and reads it then. */
MID_WUR enum mid_rc mid_config_load_settings(struct mid_config *cfg,
					     const char *(*getenv_fn)(const char *),
					     char *const *envp, char *err, size_t errlen);
MID_WUR enum mid_rc mid_config_load_key(struct mid_config *cfg,
					const char *(*getenv_fn)(const char *), char *err,
					size_t errlen);

/* ---- side-effect counts (side.c) ---------------------------------------- */

/* What a budget counts (server/budget.h), sent with the next validate. */
enum mid_side {
	MID_SIDE_EXECS = 0, /* exec family, posix_spawn, system, popen */
	MID_SIDE_CONNECTS,  /* connect */
	MID_SIDE_BYTES_OUT, /* bytes a send or write on a socket took */
	MID_SIDE_WRITES,    /* writes to anything but a socket */
	MID_SIDE_KINDS
};

/* One thread's counts, in its TLS block: the page a hook already
 * touches for mid_in_shim, so counting adds no page to what a system
 * call's return may have left out of the TLB. Only the thread writes
 * them; 'reg' says whether a validating thread can find them. */
struct mid_side_tls {
	_Atomic uint64_t n[MID_SIDE_KINDS];
	int reg; /* 0 not yet, 1 registered, 2 no room: counts go to the common ones */
};
extern __thread struct mid_side_tls mid_side_tls __attribute__((tls_model("initial-exec")));

/* The first count of a thread, or any when it found no room. */
void mid_side_slow(enum mid_side k, uint64_t n);
/* An atomic add to the counters fork children share (execs). */
void mid_side_add_common(enum mid_side k, uint64_t n);

/* Count 'n' of 'k' for this thread: a load and a store in its own TLS.
 * The shim's own traffic is not counted. */
static inline void mid_side_add(enum mid_side k, uint64_t n)
{
	if(mid_in_shim)
		return;
	if(__builtin_expect(mid_side_tls.reg != 1, 0)) {
		mid_side_slow(k, n);
		return;
	}
	/* One writer: a plain add, without a locked instruction. */
	atomic_store_explicit(&mid_side_tls.n[k],
			      atomic_load_explicit(&mid_side_tls.n[k], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* What was counted since the last take, per kind (flight lock held). */
void mid_side_take(uint64_t out[MID_SIDE_KINDS]);
/* Before a fork: share the common counters with the child. */
void mid_side_share(void);
void mid_side_atfork_child(void);

/* ---- the gate ---------------------------------------------------------- */

/* Asks the control plane; the shim uses the client, tests a stub. Fills
 * 'd' and returns what mid_client_validate returns. */
typedef enum mid_rc (*mid_validate_fn)(void *ctx, struct mid_decision *d);

/* Install the configuration and validator. Called by the constructor. */
void mid_gate_setup(const struct mid_config *cfg, mid_validate_fn fn, void *ctx);

/*
 * Decide 'ev'. Returns 0 when the call may proceed; -1 when it must fail
 * with EPERM (on_deny=errno); does not return for kill, abort and exit.
 * Thread-safe; with a fresh cached allow it takes no lock, allocates
 * nothing and makes no system call beyond reading the clock.
 */
int mid_gate_check(const struct mid_event *ev);

/* Ask the control plane now, ignoring the cache (startup gate). Same
 * return as mid_gate_check for an event of kind 'what' ("start"). */
int mid_gate_startup(void);

/* Before fork: a process that only starts children (a shell loop whose
 * commands die at their exec) must itself stop after a revoke, so fork
 * asks the control plane when the cached allow is stale. Policy rules do
 * not apply: fork is no side effect, only a sign of life. */
int mid_gate_fork(void);

/* Cached allow: its expiry on CLOCK_MONOTONIC in ms (0 = none). A child
 * may inherit it across exec; it is never extended. */
uint64_t mid_gate_allow_until(void);
void mid_gate_inherit(uint64_t until_ms);

/* The configuration in force (NULL before the constructor ran). */
extern const struct mid_config *mid_shim_config;

/* Hold off validation while the shim's own connection is replaced. */
void mid_gate_lock(void);
/* The same, 0 without waiting when another thread holds it. */
int mid_gate_trylock(void);
void mid_gate_unlock(void);

/* After fork in the child: reset the flight lock if it was in use. */
void mid_gate_atfork_child(void);

/* Counters for tests and `midshim` diagnostics. */
struct mid_gate_stats {
	uint64_t validates;  /* calls to the control plane */
	uint64_t cache_hits;
	uint64_t denies;
};
void mid_gate_stats(struct mid_gate_stats *out);

/* Give the logger the configuration (the gate does this too). */
void mid_enforce_setup(const struct mid_config *cfg);
/* With several control planes, 'fn' names the one that decided, for the
 * denial line; NULL (or 'fn' returning NULL) names none. */
void mid_enforce_origin(const char *(*fn)(void));

/* Log one denial (stderr + audit log) and carry out the configured action.
 * 'code' and 'request_id' may be NULL. Returns like mid_gate_check. */
int mid_enforce(const struct mid_event *ev, const char *code,
		const char *request_id, int rule);

/* The process a denial is about, for the audit log (0: this one). The
 * launcher's supervisor sets it before each decision. */
extern pid_t mid_enforce_subject;
/* Its program (argv[0]) for a report to midd, when set: the supervisor
 * reads it only when a denial is reported. */
extern const char *(*mid_enforce_subject_name)(pid_t pid);
/* Send the JSON report 'body' ('len' bytes) of a denial to midd without
 * waiting; called with the re-entrancy guard up. */
typedef void (*mid_report_fn)(const char *body, size_t len);
#define MID_REPORT_PER_S 10 /* reports a process sends at most each second */

/* mid_enforce reports what the shim stops itself (POLICY_DENY,
 * UNFOLLOWABLE, UNREADABLE_ADDRESS, and their would-deny in audit mode)
 * through 'fn' after its log lines and before it acts. */
void mid_enforce_set_report(mid_report_fn fn);

/* Log a would-be denial in audit mode, or a warning, without acting. */
void mid_enforce_log(const struct mid_event *ev, const char *code,
		     const char *request_id, const char *action);

/* ---- the push channel (chan.c) ------------------------------------------ */

/* After an allow, with the flight lock held: open and arm this process's
 * push channel through 'c' unless it has one. A channel that cannot be
 * had leaves the process to the TTL gate. */
void mid_chan_open(struct mid_client *c, const char *device);

/* This process's channel descriptor, or -1. */
int mid_chan_fd(void);

/* In a fork child: close the parent's channel. */
void mid_chan_atfork_child(void);

/* The program closed the channel's descriptor. */
void mid_chan_forget(void);

/* Write one line to stderr, prefixed "midshim: ", with the real write. */
void mid_shim_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- fd kinds and the fast path ------------------------------------------ */

#define MID_FD_TABLE 4096

/* What a write or send on a descriptor needs, when the policy decides it
 * by the descriptor's kind alone: nothing, or a fresh cached allow. */
enum mid_fast {
	MID_FAST_NONE = 0, /* ask the gate */
	MID_FAST_ALLOW,    /* the policy allows it */
	MID_FAST_FRESH,    /* allowed while the cached allow is fresh */
};

/* Per descriptor below MID_FD_TABLE: bits 0-3 its kind + 1 (0: not known
 * yet), bits 4-5 its enum mid_fast. */
extern _Atomic unsigned char mid_fd_table[MID_FD_TABLE];

/* The cached allow's expiry on CLOCK_MONOTONIC_COARSE, in ms, already
 * moved earlier by the most that clock lags behind CLOCK_MONOTONIC; 0 when
 * there is none. */
extern _Atomic uint64_t mid_allow_coarse;

/* CLOCK_MONOTONIC_COARSE in ms (a few ns, no rdtsc), or 0. */
static inline uint64_t mid_coarse_ms(void)
{
	struct timespec ts;

	if(clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Is the cached allow fresh? Reads the coarse clock. False also when it
 * may be fresh: the caller then asks the precise clock. */
static inline bool mid_gate_fresh(void)
{
	uint64_t until = atomic_load_explicit(&mid_allow_coarse, memory_order_acquire);

	return until && mid_coarse_ms() < until;
}

/* May a write or send on 'fd' go ahead without asking the gate? One table
 * load, and a clock read when the policy says validate. Touches no errno. */
static inline bool mid_gate_fd_fresh(int fd)
{
	unsigned f;

	if((unsigned)fd >= MID_FD_TABLE)
		return false;
	f = atomic_load_explicit(&mid_fd_table[fd], memory_order_relaxed) >> 4;
	return f == MID_FAST_ALLOW || (f == MID_FAST_FRESH && mid_gate_fresh());
}

/* The gate's verdict per kind, stored with each kind learnt from now on. */
void mid_fd_setup(const enum mid_fast fast[MID_FD_KIND_COUNT]);

/* Kind of 'fd', from the table or one fstat on a miss. */
enum mid_fdkind mid_fd_kind(int fd);
/* Forget what is known of 'fd' (close, dup2 target, new fd). */
void mid_fd_forget(int fd);
void mid_fd_forget_range(unsigned lo, unsigned hi);

/* Fill 'ev' for a write or send on 'fd' of kind 'k'. With 'target', also
 * the file path (into 'buf') or the socket's peer: one system call, made
 * only when the policy looks at targets or a denial is logged. */
void mid_fd_event(int fd, enum mid_fdkind k, struct mid_event *ev,
		  char *buf, size_t buflen, bool target);

/* Gate a write or send on 'fd' (write, writev, pwrite*, sendfile,
 * splice, stdio). Returns like mid_gate_check. */
int mid_gate_fd(int fd);

/* ---- connect targets --------------------------------------------------- */

/* Describe a socket address as a connect/send event ('kind'). Returns
 * false for families the gate does not cover (netlink, packet...). */
bool mid_sockaddr_event(const struct sockaddr *sa, socklen_t len,
			enum mid_kind kind, struct mid_event *ev);

/* The denial code of an address the gate cannot read, on a socket with
 * no peer to decide it on. */
#define MID_CODE_BAD_ADDRESS "UNREADABLE_ADDRESS"

/* What the gate does with an address given to connect or a send. */
enum mid_addr_way {
	MID_ADDR_GATE,       /* 'ev' names the peer: gate it */
	MID_ADDR_PASS,       /* no peer is reached: netlink, connect(AF_UNSPEC) */
	MID_ADDR_ASK,        /* not readable alone: ask again with the socket */
	MID_ADDR_DESCRIPTOR, /* the data goes to the socket's peer: gate that */
	MID_ADDR_REFUSE,     /* nothing the gate can name: fail closed */
};

/* The socket an address is used on (SO_DOMAIN, SO_TYPE, getpeername). */
struct mid_sock {
	int domain, type;
	bool connected;
};

/* Decide 'sa' as the kernel will read it; 'sock' is NULL on the first
 * try and the socket's facts once MID_ADDR_ASK asked for them. Fills
 * 'ev' (kind set; family 0 when the address says nothing). */
enum mid_addr_way mid_sockaddr_way(const struct sockaddr *sa, socklen_t len, enum mid_kind kind,
				   const struct mid_sock *sock, struct mid_event *ev);

/* Remember that 'host' resolved to 'sa'; look a name up for an event. */
void mid_names_atfork_child(void);
void mid_names_remember(const char *host, const struct sockaddr *sa);
const char *mid_names_lookup(const struct mid_event *ev, char *buf, size_t buflen);

/* ---- paths of fs events ------------------------------------------------ */

/*
 * Join 'path' to the absolute 'base' (when 'path' is relative) and remove
 * '.', '..' and repeated '/' by text alone: no symlink is followed and
 * the file need not exist. '..' stops at the root. Writes "/" for the
 * root. MID_ERR_TOO_BIG when the result does not fit 'outlen',
 * MID_ERR_INVAL when a relative path meets a base that is not absolute.
 */
MID_WUR enum mid_rc mid_path_join(const char *base, const char *path, char *out,
				  size_t outlen);

/*
 * The absolute, normal form of 'path' as seen from 'dirfd' (AT_FDCWD: the
 * working directory; else the directory open as 'dirfd', found through
 * /proc/self/fd). A NULL or empty 'path' names 'dirfd' itself. Keeps
 * errno on success; on failure errno says why (ENAMETOOLONG, EBADF,
 * ENOTDIR, or getcwd's reason) and 'out' is "".
 */
MID_WUR enum mid_rc mid_path_abs(int dirfd, const char *path, char *out, size_t outlen);

/* The path open as 'fd', from /proc/self/fd, or the link's own name
 * when it cannot be read. Keeps errno. */
void mid_path_fd(int fd, char *out, size_t outlen);

/* What an open with write intent does to 'path' seen from 'dirfd': create
 * it (O_CREAT and it does not exist yet, one faccessat finds out unless
 * O_EXCL settles it; O_TMPFILE), truncate it, or open it for writing.
 * Keeps errno. */
enum mid_fsop mid_open_op(int dirfd, const char *path, int flags);

/* ---- signals (signal.c) ---------------------------------------------- */

/* A target the shim cannot name (a pidfd whose process it cannot read). */
#define MID_SIGNAL_UNKNOWN (-2147483647 - 1)

/*
 * Describe signal 'sig' to 'pid' (as kill(2) takes it) as a signal event
 * in 'ev', the target's program read into 'buf'. False when it is no
 * side effect: signal 0, or a signal to this process itself.
 */
bool mid_signal_event(int pid, int sig, struct mid_event *ev, char *buf, size_t buflen);

/* Is 'tid' a thread of this process (tkill's target)? */
bool mid_signal_own_thread(int tid);

/* The process a pidfd stands for, from /proc/self/fdinfo: -1 when it has
 * exited, MID_SIGNAL_UNKNOWN when it cannot be read. */
int mid_signal_pidfd_pid(int pidfd);

/* ---- syscall() ----------------------------------------------------------- */

/* May syscall() make call 'nr' without the gate (shim/syscalls.c)? */
bool mid_syscall_harmless(long nr);

/* ---- exec -------------------------------------------------------------- */

/* Capture LD_PRELOAD and MIDSHIM_* at start (the library's own path is
 * added to LD_PRELOAD when it is not named there). */
void mid_exec_init(void);

/* The value of the MIDSHIM_* setting 'name' as captured at start, or
 * NULL: what this process started with, whatever it did to environ since. */
const char *mid_exec_setting(const char *name);

/* Room for a child's environment on the caller's stack (4 KiB). */
struct mid_envbuf {
	void *space[512];
};

/*
 * Build the environment for a child: 'envp' without any LD_PRELOAD,
 * MIDSHIM_* or LD_AUDIT entries, plus the ones captured at start and the
 * inherited allow. The
 * result lives in 'buf' when it fits (buf may be NULL), else in one
 * mmap'd block (no malloc: safe in a vfork child); release it with
 * mid_exec_env_free() if the exec returns.
 */
MID_WUR char **mid_exec_env(char *const envp[], struct mid_envbuf *buf);
void mid_exec_env_free(char **env);

/* Make this process's environ hold exactly the captured settings (for
 * system and popen, which pass environ to the child themselves): every
 * other MIDSHIM_* and LD_AUDIT removed, the captured ones set again. */
void mid_exec_fix_environ(void);

/* Resolve 'file' the way execvp does (PATH search when it has no '/').
 * Returns false when not found. */
bool mid_exec_resolve(const char *file, const char *path_env, char *out, size_t outlen);

/* Can the shim follow an exec of 'path'? Sets '*why' to a reason when not
 * ("statically linked", "setuid"). Reads the ELF header. */
bool mid_exec_followable(const char *path, const char **why);

/* Gate an exec of 'path' with 'argv'; handles unfollowable binaries. */
int mid_exec_gate(const char *path, char *const argv[]);

#endif
