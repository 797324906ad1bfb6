/* SPDX-License-Identifier: MIT */
/*
 * Private to the hook files: how a hook finds the real libc function and
 * makes sure the shim is set up before it decides anything.
 */
#ifndef MID_HOOKS_H
#define MID_HOOKS_H

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "base.h"
#include "fdtab.h"
#include "gate.h"
#include "side.h"

/* Set once the constructor finished. */
extern int mid_shim_ready;

/* Run the constructor now if a hook fires before it (another preloaded
 * library's constructor, say). Returns 1. */
int mid_shim_init_now(void);

/* dlsym(RTLD_NEXT, name), or a clear message and exit 127 when libc has
 * no such function (the symbol test keeps that from happening). */
void *mid_real(const char *name);

/* Close the shim's own connection when the program closes, dup2s over or
 * close_ranges its descriptor; true when 'fd' was the shim's. */
int mid_shim_release_fd(int fd);
void mid_shim_release_range(unsigned lo, unsigned hi);

/* Resolve the real exec functions and bind the calls the exec gate makes
 * (once, before the first fork: see hook_init.c). */
void mid_hook_exec_warm(void);

/* Gate an open of 'path' (seen from 'dirfd') with open flags 'flags', as
 * the open hooks do; for openat2, which has no libc wrapper. 0: go on;
 * -1: fail the call, errno set. */
int mid_fs_gate_open(int dirfd, const char *path, int flags);

/* Gate 'op' on 'path' seen from 'dirfd', as the fs hooks do (bind to a
 * unix socket path). 0: go on; -1: fail the call, errno set. */
int mid_fs_gate_path(enum mid_fsop op, int dirfd, const char *path);

/* In a fork child: reset the lock of the posix_spawn chdir table. */
void mid_spawn_atfork_child(void);

/* Register the shim's fork handlers, once; the fork hooks call it
 * before the real fork, with no lock of the shim held (hook_init.c). */
void mid_fork_handlers_register(void);

/* Gate signal 'sig' to 'pid' (as kill takes it), or to the thread 'tid'
 * (tkill): 0 when it may go on (no other process touched, or allowed),
 * -1 with errno EPERM (hook_signal.c). */
int mid_signal_gate(int pid, int sig);
int mid_signal_gate_tkill(int tid, int sig);

/* Before fclose writes what is pending in 'f': gate it (hook_stdio.c). */
void mid_stdio_gate_close(FILE *f);

/* Loaded late (dlopen into a running program, after libc): bind every
 * loaded object's calls of hooked functions to the hooks; 1 when it was
 * late. mid_late_rebind binds objects loaded since (hook_late.c). */
int mid_late_bind(void);
void mid_late_rebind(void);

#define READY() (__builtin_expect(mid_shim_ready, 1) || mid_shim_init_now())

/* Declare and fetch the real 'fn' with the hook's own prototype. The
 * address is fetched at the hook's first call: zero until then, so it
 * lives in .bss, apart from the state every start writes (MID_HOT), which
 * then fits on the one page of .data beside .got.plt. The hot path's own
 * (writes and sends on descriptors, REAL_DECL_HOT) stay in MID_HOT,
 * beside the rest of what that path reads. */
#define MID_COLD __attribute__((section(".bss.mid_real")))
#define REAL_DECL(fn) MID_COLD static __typeof__(fn) *real_##fn
#define REAL_DECL_HOT(fn) MID_HOT static __typeof__(fn) *real_##fn
#define REAL(fn) \
	(real_##fn ? real_##fn : (*(void **)&real_##fn = mid_real(#fn), real_##fn))

/* The one errno/EPERM check every hook makes: ask the gate about 'ev';
 * 0: go on, errno back to 'e'; -1: fail the call, errno EPERM. */
static inline int mid_hook_check(const struct mid_event *ev, int e)
{
	if(mid_gate_check(ev)) {
		errno = EPERM;
		return -1;
	}
	errno = e;
	return 0;
}

/* A write or send on 'fd': the same answer. A fresh descriptor (see
 * mid_gate_fd_fresh) goes straight through: this is the hot path. */
#define GATE_FD_OR_FAIL(fd, ret) \
	do { \
		if(__builtin_expect(mid_gate_fd_fresh(fd), 1)) \
			break; \
		int e_ = errno; \
		if(!mid_in_shim && READY() && mid_gate_fd(fd)) { \
			errno = EPERM; \
			return ret; \
		} \
		errno = e_; \
	} while(0)

/*
 * The hot path reaches its TLS through offsets from the thread pointer
 * kept on a page it touches anyway (MID_HOT, beside the real functions'
 * addresses), not through the GOT, where a shared object otherwise finds
 * the offsets of its TLS. Where a system call flushes the TLB (page-table
 * isolation without PCID), each page a write touches after it is a TLB
 * miss, and the GOT's page made counting cost about 1.5% of a write to
 * /dev/null (bench/counts.sh). The offsets are the same in every thread
 * (initial-exec TLS), set at the first count (0: not yet); the fd table
 * is declared hidden here so that its address needs no GOT either.
 */
struct mid_side_off {
	_Atomic long tls;     /* of mid_side_tls */
	_Atomic long in_shim; /* of mid_in_shim */
};
extern struct mid_side_off mid_side_off __attribute__((visibility("hidden")));
extern _Atomic unsigned char mid_fd_table[MID_FD_TABLE] __attribute__((visibility("hidden")));

#ifdef MIDSHIM_NO_COUNTS
/* Only for the benchmark's second preload (bench/counts.sh; never
 * installed): the hooks count no writes, bytes or connects, so the hot
 * path is the one without budgets and the difference from the shipped
 * shim is counting's own cost. Gating is unchanged; execs are still
 * counted (exec.c, off the hot path). */
#define mid_side_add(k, n) ((void)(k), (void)(n))
static inline int mid_side_write(int fd)
{
	(void)fd;
	return 1;
}
static inline void mid_side_sent(long r)
{
	(void)r;
}
#else
/* mid_side_add, the same counts by the cached offsets. */
static inline void mid_side_add_hot(enum mid_side k, uint64_t n)
{
	char *tp = __builtin_thread_pointer();
	long o = atomic_load_explicit(&mid_side_off.tls, memory_order_acquire);
	long s = atomic_load_explicit(&mid_side_off.in_shim, memory_order_relaxed);
	struct mid_side_tls *t = (struct mid_side_tls *)(tp + o);

	if(__builtin_expect(o == 0, 0)) {
		atomic_store_explicit(&mid_side_off.in_shim,
				      (long)((uintptr_t)&mid_in_shim - (uintptr_t)tp),
				      memory_order_relaxed);
		atomic_store_explicit(&mid_side_off.tls,
				      (long)((uintptr_t)&mid_side_tls - (uintptr_t)tp),
				      memory_order_release);
	}
	/* The shim's own call, a thread's first count: the plain way. */
	if(__builtin_expect(o == 0 || *(int *)(tp + s) || t->reg != 1, 0)) {
		mid_side_add(k, n);
		return;
	}
	atomic_store_explicit(&t->n[k], atomic_load_explicit(&t->n[k], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Count a write on 'fd' for the budgets (side.c), before the call so
 * the hook can still end in a jump to libc: 1 when it was one (anything
 * but a socket); 0 for a socket, whose bytes mid_side_sent counts from
 * the result. The kind comes from the table the gate just read. */
static inline int mid_side_write(int fd)
{
	unsigned k = (unsigned)fd < MID_FD_TABLE ?
			     atomic_load_explicit(&mid_fd_table[fd], memory_order_relaxed) & 0x0f :
			     0;

	if(k == MID_FD_SOCKET + 1)
		return 0;
	mid_side_add_hot(MID_SIDE_WRITES, 1);
	return 1;
}

/* The bytes a send took. */
static inline void mid_side_sent(long r)
{
	if(r > 0)
		mid_side_add_hot(MID_SIDE_BYTES_OUT, (uint64_t)r);
}
#endif

/*
 * Hooks by shape. Each shape macro takes the hooked names first, as one
 * parenthesised list (a call and its twins: the *64 variant, the *_unlocked
 * one, glibc's __X alias when it is a function of its own), then what the
 * gate needs, the return type, the value that fails the call, the
 * parameters and the arguments passed on. For each name it declares the
 * real pointer and defines the exported hook; tests/static/symbols.sh reads
 * the names from these lines. glibc's plain aliases of a hooked function
 * (the same address under another name: __write, _IO_fputs) are exported
 * with MID_ALIAS, pointing at the one hook.
 */
#define MID_ALIAS(fn, other) \
	extern __typeof__(fn) other __attribute__((alias(#fn), copy(fn), visibility("default")));

/* Answer also to the old versions libc keeps of 'fn' (aio_write@GLIBC_2.2.5,
 * from when it lived in librt): binaries built then ask for it by that
 * version. The linker keeps a name's plain definition out once it has an
 * old version, so the default one is given by hand too: MID_VERSIONS(fn,
 * "GLIBC_2.34", "GLIBC_2.2.5"[, second old]). */
#define MID_VERSION_LABEL(fn, tag, at, version) \
	__asm__(".globl mid_" #fn "_" tag "\n.set mid_" #fn "_" tag ", " #fn "\n" \
		".symver mid_" #fn "_" tag ", " #fn at version "\n");
#define MID_VERSIONS(fn, def, old) \
	MID_VERSION_LABEL(fn, "def", "@@", def) MID_VERSION_LABEL(fn, "old", "@", old)
#define MID_VERSIONS2(fn, def, old, old2) \
	MID_VERSIONS(fn, def, old) MID_VERSION_LABEL(fn, "old2", "@", old2)

#define MID_UNPACK(...) __VA_ARGS__
#define MID_CALL(m, ...) m(__VA_ARGS__)
#define MID_NTH(_1, _2, _3, _4, n, ...) n
#define MID_EACH(m, a, ...) \
	MID_NTH(__VA_ARGS__, MID_EACH4, MID_EACH3, MID_EACH2, MID_EACH1, -)(m, a, __VA_ARGS__)
#define MID_EACH1(m, a, n1) m(a, n1)
#define MID_EACH2(m, a, n1, n2) m(a, n1) m(a, n2)
#define MID_EACH3(m, a, n1, n2, n3) m(a, n1) m(a, n2) m(a, n3)
#define MID_EACH4(m, a, n1, n2, n3, n4) m(a, n1) m(a, n2) m(a, n3) m(a, n4)
#define MID_HOOKS(names, shape, ...) MID_EACH(shape, (__VA_ARGS__), MID_UNPACK names)

/* Define one hook: 'gate' is a statement that returns 'fail' when the
 * call must not happen; 'after' runs on the result (as 'r_'). */
#define MID_HOOK_BODY(name, gate, after, ret, params, args) \
	REAL_DECL(name); \
	MID_EXPORT ret name params \
	{ \
		gate; \
		ret r_ = REAL(name) args; \
		after; \
		return r_; \
	}

/* A write or send on the descriptor 'fd': FD_HOOK((write), fd, ssize_t, -1,
 * (int fd, const void *b, size_t n), (fd, b, n)). */
#define FD_HOOK(names, ...) MID_HOOKS(names, MID_FD_HOOK1, __VA_ARGS__)
#define MID_FD_HOOK1(a, name) MID_CALL(MID_FD_HOOK, name, MID_UNPACK a)
#define MID_FD_HOOK(name, fd, ret, fail, params, args) \
	REAL_DECL_HOT(name); \
	MID_EXPORT ret name params \
	{ \
		GATE_FD_OR_FAIL(fd, fail); \
		if(__builtin_expect(mid_side_write(fd), 1)) \
			return REAL(name) args; \
		ret r_ = REAL(name) args; \
		mid_side_sent((long)r_); \
		return r_; \
	}

#endif
