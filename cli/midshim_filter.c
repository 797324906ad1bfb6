/* SPDX-License-Identifier: MIT */
/*
 * The supervise mode's seccomp filter, classic BPF written by hand. Its
 * shape:
 *
 *   arch != ours ───────────────────────────── kill the process
 *   nr has the x32 bit ─────────────────────── kill the process
 *   nr == one listed call? ─ jump to its route:
 *     notify / ENOSYS ──────────────────────── return it
 *     open flags block: O_PATH ─ allow; write intent ─ notify; else allow
 *     pointer block: argument not NULL ─ notify; else allow
 *     signal block: signal 0 ─ allow (tgkill: tgid <= 0 too); else notify
 *     ioctl block: TIOCSTI or TIOCLINUX ─ notify; else allow
 *   anything else ──────────────────────────── allow
 *
 * Classic BPF jumps only forward: the chain of comparisons comes first,
 * then the test blocks, then the shared returns.
 *
 * One comparison per listed call until a match: a read-only open or an
 * unlisted call never leaves the kernel. Jumps are resolved in a second
 * pass; classic BPF's conditional jumps reach 255 instructions, which the
 * builder checks.
 */
#define _GNU_SOURCE
#include "midshim_filter.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

/* Calls newer than the system's headers (the numbers are shared by every
 * architecture from 424 on). */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#define X32_BIT 0x40000000u
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "midshim's supervise mode knows x86_64 and aarch64"
#endif

#define N(nr) #nr, __NR_##nr
#define NOTIFY(nr) {N(nr), MID_ROUTE_NOTIFY, MID_WHEN_ALWAYS, 0}
#define OPEN(nr, arg) {N(nr), MID_ROUTE_NOTIFY, MID_WHEN_WRITE_INTENT, arg}
#define IFARG(nr, arg) {N(nr), MID_ROUTE_NOTIFY, MID_WHEN_ARG_SET, arg}
#define NOSYS(nr) {N(nr), MID_ROUTE_ENOSYS, MID_WHEN_ALWAYS, 0}
#define SIG(nr, arg) {N(nr), MID_ROUTE_NOTIFY, MID_WHEN_SIGNAL, arg}
#define TGSIG(nr, arg) {N(nr), MID_ROUTE_NOTIFY, MID_WHEN_TG_SIGNAL, arg}

const struct mid_filter_call mid_filter_calls[] = {
	/* exec */
	NOTIFY(execve), NOTIFY(execveat),
	/* connect and send: sendto only with a destination; sendmsg's is
	 * inside its message, which the filter cannot read */
	NOTIFY(connect), IFARG(sendto, 4), NOTIFY(sendmsg), NOTIFY(sendmmsg),
	/* bind to a unix socket path makes a file (fs mknod) */
	NOTIFY(bind),
	/* opens with write intent */
#ifdef __NR_open
	OPEN(open, 1),
#endif
	OPEN(openat, 2),
#ifdef __NR_creat
	NOTIFY(creat),
#endif
	/* truncate */
	NOTIFY(truncate), NOTIFY(ftruncate), NOTIFY(fallocate),
	/* delete */
#ifdef __NR_unlink
	NOTIFY(unlink), NOTIFY(rmdir),
#endif
	NOTIFY(unlinkat),
	/* rename and link */
#ifdef __NR_rename
	NOTIFY(rename), NOTIFY(link), NOTIFY(symlink),
#endif
#ifdef __NR_renameat
	NOTIFY(renameat),
#endif
	NOTIFY(renameat2), NOTIFY(linkat), NOTIFY(symlinkat),
	/* mkdir and mknod */
#ifdef __NR_mkdir
	NOTIFY(mkdir), NOTIFY(mknod),
#endif
	NOTIFY(mkdirat), NOTIFY(mknodat),
	/* metadata */
#ifdef __NR_chmod
	NOTIFY(chmod), NOTIFY(chown), NOTIFY(lchown),
#endif
	NOTIFY(fchmod), NOTIFY(fchmodat), NOTIFY(fchmodat2), NOTIFY(fchown), NOTIFY(fchownat),
#ifdef __NR_utime
	NOTIFY(utime), NOTIFY(utimes), NOTIFY(futimesat),
#endif
	NOTIFY(utimensat),
	NOTIFY(setxattr), NOTIFY(lsetxattr), NOTIFY(fsetxattr), NOTIFY(setxattrat),
	NOTIFY(removexattr), NOTIFY(lremovexattr), NOTIFY(fremovexattr), NOTIFY(removexattrat),
	/* roads the supervisor cannot follow: programs fall back to others */
	NOSYS(io_uring_setup), NOSYS(openat2), NOSYS(open_by_handle_at),
	/* reaching into another process (outside the tree too) */
	NOSYS(ptrace), NOSYS(process_vm_writev), NOSYS(pidfd_getfd),
	/* not gated, only noted: until one of these, every process of the
	 * tree has the launcher's credentials and umask, and the launcher
	 * opens for it without reading /proc/PID/status (midshim_sup.c) */
	NOTIFY(setuid), NOTIFY(setgid), NOTIFY(setreuid), NOTIFY(setregid),
	NOTIFY(setresuid), NOTIFY(setresgid), NOTIFY(setfsuid), NOTIFY(setfsgid),
	NOTIFY(setgroups), NOTIFY(capset), NOTIFY(umask),
	/* signals and terminal input, the preload's "signal" and
	 * "tty-inject": signal 0 only asks whether the target exists, and a
	 * tgid of 0 or less is the kernel's to refuse, so neither leaves
	 * the kernel; nor does any other ioctl request. A signal to the
	 * sender itself is told apart by the supervisor (the filter does
	 * not know the caller's PID). */
	SIG(kill, 1), SIG(tkill, 1), TGSIG(tgkill, 2), SIG(rt_sigqueueinfo, 1),
	TGSIG(rt_tgsigqueueinfo, 2), SIG(pidfd_send_signal, 1),
	{N(ioctl), MID_ROUTE_NOTIFY, MID_WHEN_TTY_INJECT, 1},
};
const size_t mid_filter_ncalls = sizeof(mid_filter_calls) / sizeof(mid_filter_calls[0]);

unsigned mid_filter_arch(void)
{
	return ARCH;
}

const struct mid_filter_call *mid_filter_call(int nr)
{
	for(size_t i = 0; i < mid_filter_ncalls; i++)
		if(mid_filter_calls[i].nr == nr)
			return &mid_filter_calls[i];
	return NULL;
}

/* The two halves of a 64-bit argument in struct seccomp_data. */
#define ARG_OFF(i) ((uint32_t)offsetof(struct seccomp_data, args) + 8u * (uint32_t)(i))
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG_LO(i) ARG_OFF(i)
#define ARG_HI(i) (ARG_OFF(i) + 4u)
#else
#define ARG_LO(i) (ARG_OFF(i) + 4u)
#define ARG_HI(i) ARG_OFF(i)
#endif

/* Jump targets before they are resolved: an instruction index, or one of
 * the shared returns, or the test block of call 'i' (BLOCK + i). */
enum { T_NEXT = -1, T_ALLOW = -2, T_NOTIFY = -3, T_ENOSYS = -4, T_KILL = -5, BLOCK = 1000 };

struct asm_ {
	struct sock_filter *p;
	int jt[MID_FILTER_MAX], jf[MID_FILTER_MAX];
	size_t n, cap;
	int bad;
};

static void emit(struct asm_ *a, uint16_t code, uint32_t k, int jt, int jf)
{
	if(a->n >= a->cap || a->n >= MID_FILTER_MAX) {
		a->bad = 1;
		return;
	}
	a->p[a->n] = (struct sock_filter)BPF_STMT(code, k);
	a->jt[a->n] = jt;
	a->jf[a->n] = jf;
	a->n++;
}

static void ld(struct asm_ *a, uint32_t off)
{
	emit(a, BPF_LD | BPF_W | BPF_ABS, off, T_NEXT, T_NEXT);
}

static void ret(struct asm_ *a, uint32_t k)
{
	emit(a, BPF_RET | BPF_K, k, T_NEXT, T_NEXT);
}

static void jump(struct asm_ *a, uint16_t op, uint32_t k, int jt, int jf)
{
	emit(a, BPF_JMP | op | BPF_K, k, jt, jf);
}

/* Turn a target into a forward offset from instruction 'at'. */
static int offset(struct asm_ *a, size_t at, int target, const int *where)
{
	long to;

	if(target == T_NEXT)
		return 0;
	to = target >= BLOCK ? where[target - BLOCK] : where[mid_filter_ncalls + (size_t)(-target)];
	if(to <= (long)at || to - (long)at - 1 > 255) {
		a->bad = 1;
		return 0;
	}
	return (int)(to - (long)at - 1);
}

int mid_filter_build(struct sock_filter *prog, size_t cap)
{
	/* where[i]: the block of call i; where[ncalls + t]: return t. */
	int where[sizeof(mid_filter_calls) / sizeof(mid_filter_calls[0]) + 6];
	struct asm_ a = {.p = prog, .cap = cap};

	ld(&a, (uint32_t)offsetof(struct seccomp_data, arch));
	jump(&a, BPF_JEQ, ARCH, T_NEXT, T_KILL);
	ld(&a, (uint32_t)offsetof(struct seccomp_data, nr));
#ifdef X32_BIT
	jump(&a, BPF_JSET, X32_BIT, T_KILL, T_NEXT);
#endif
	for(size_t i = 0; i < mid_filter_ncalls; i++) {
		const struct mid_filter_call *c = &mid_filter_calls[i];
		int to = c->route == MID_ROUTE_ENOSYS ? T_ENOSYS :
			 c->when == MID_WHEN_ALWAYS   ? T_NOTIFY :
							BLOCK + (int)i;

		jump(&a, BPF_JEQ, (uint32_t)c->nr, to, T_NEXT);
	}
	/* The chain's end: no listed call. Jumps only go forward, so the
	 * test blocks come next and the shared returns last. */
	ret(&a, SECCOMP_RET_ALLOW);
	for(size_t i = 0; i < mid_filter_ncalls; i++) {
		const struct mid_filter_call *c = &mid_filter_calls[i];

		where[i] = (int)a.n;
		if(c->when == MID_WHEN_WRITE_INTENT) {
			/* Open flags are an int: the low half is all of them. */
			ld(&a, ARG_LO(c->arg));
			jump(&a, BPF_JSET, O_PATH, T_ALLOW, T_NEXT);
			jump(&a, BPF_JSET, MID_FILTER_WRITE_INTENT, T_NOTIFY, T_ALLOW);
		} else if(c->when == MID_WHEN_ARG_SET) {
			ld(&a, ARG_LO(c->arg));
			jump(&a, BPF_JEQ, 0, T_NEXT, T_NOTIFY);
			ld(&a, ARG_HI(c->arg));
			jump(&a, BPF_JEQ, 0, T_ALLOW, T_NOTIFY);
		} else if(c->when == MID_WHEN_TG_SIGNAL || c->when == MID_WHEN_SIGNAL) {
			/* The kernel reads pids and signals as ints: the low
			 * halves, the sign bit for "<= 0". */
			if(c->when == MID_WHEN_TG_SIGNAL) {
				ld(&a, ARG_LO(0));
				jump(&a, BPF_JEQ, 0, T_ALLOW, T_NEXT);
				jump(&a, BPF_JSET, 0x80000000u, T_ALLOW, T_NEXT);
			}
			ld(&a, ARG_LO(c->arg));
			jump(&a, BPF_JEQ, 0, T_ALLOW, T_NOTIFY);
		} else if(c->when == MID_WHEN_TTY_INJECT) {
			/* The kernel's request is an unsigned int: high bits
			 * in the register make no other request. */
			ld(&a, ARG_LO(c->arg));
			jump(&a, BPF_JEQ, TIOCSTI, T_NOTIFY, T_NEXT);
			jump(&a, BPF_JEQ, TIOCLINUX, T_NOTIFY, T_ALLOW);
		}
	}
	where[mid_filter_ncalls + (size_t)-T_ALLOW] = (int)a.n;
	ret(&a, SECCOMP_RET_ALLOW);
	where[mid_filter_ncalls + (size_t)-T_NOTIFY] = (int)a.n;
	ret(&a, SECCOMP_RET_USER_NOTIF);
	where[mid_filter_ncalls + (size_t)-T_ENOSYS] = (int)a.n;
	ret(&a, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
	where[mid_filter_ncalls + (size_t)-T_KILL] = (int)a.n;
	ret(&a, SECCOMP_RET_KILL_PROCESS);
	for(size_t i = 0; i < a.n && !a.bad; i++) {
		if(BPF_CLASS(prog[i].code) != BPF_JMP)
			continue;
		prog[i].jt = (uint8_t)offset(&a, i, a.jt[i], where);
		prog[i].jf = (uint8_t)offset(&a, i, a.jf[i], where);
	}
	return a.bad ? -1 : (int)a.n;
}
