/* SPDX-License-Identifier: MIT */
/*
 * The system calls that syscall() may make without the gate: they read,
 * wait, or manage this process's own memory, signals, descriptors and
 * time, and change nothing outside it. The syscall() hook hands every
 * call the gate knows to its libc hook and refuses any number that is on
 * neither list, so a call added to the kernel later (fchmodat2 came in
 * 6.6) is refused until someone has looked at it.
 */
#define _GNU_SOURCE
#include "syscalls.h"

#include <sys/syscall.h>

bool mid_syscall_harmless(long nr)
{
	switch(nr) {
	/* reading files, directories and metadata */
	case SYS_read: case SYS_pread64: case SYS_readv: case SYS_preadv: case SYS_preadv2:
	case SYS_lseek: case SYS_fstat: case SYS_newfstatat: case SYS_statx: case SYS_statfs:
	case SYS_fstatfs: case SYS_getdents64: case SYS_readlinkat: case SYS_faccessat:
	case SYS_faccessat2: case SYS_getcwd: case SYS_fgetxattr: case SYS_getxattr:
	case SYS_lgetxattr: case SYS_flistxattr: case SYS_listxattr: case SYS_llistxattr:
	case SYS_fadvise64: case SYS_readahead: case SYS_chdir: case SYS_fchdir:
#ifdef SYS_stat
	case SYS_stat: case SYS_lstat: case SYS_access: case SYS_readlink: case SYS_getdents:
#endif
	/* receiving and socket state */
	case SYS_recvfrom: case SYS_recvmsg: case SYS_recvmmsg: case SYS_getsockname:
	case SYS_getpeername: case SYS_getsockopt: case SYS_setsockopt: case SYS_listen:
	case SYS_shutdown:
	/* waiting */
	case SYS_futex: case SYS_futex_waitv: case SYS_ppoll: case SYS_pselect6:
	case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_epoll_ctl: case SYS_nanosleep:
	case SYS_clock_nanosleep: case SYS_sched_yield: case SYS_wait4: case SYS_waitid:
#ifdef SYS_poll
	case SYS_poll: case SYS_select: case SYS_epoll_wait: case SYS_pause:
#endif
	/* this process's memory */
	case SYS_brk: case SYS_mmap: case SYS_munmap: case SYS_mremap: case SYS_mprotect:
	case SYS_madvise: case SYS_mincore: case SYS_mlock: case SYS_mlock2: case SYS_munlock:
	case SYS_mlockall: case SYS_munlockall: case SYS_membarrier: case SYS_msync:
	case SYS_memfd_create:
	/* signals and threads of this process */
	case SYS_rt_sigaction: case SYS_rt_sigprocmask: case SYS_rt_sigreturn:
	case SYS_rt_sigpending: case SYS_rt_sigtimedwait: case SYS_rt_sigsuspend:
	case SYS_sigaltstack: case SYS_set_robust_list: case SYS_get_robust_list:
	case SYS_set_tid_address: case SYS_rseq: case SYS_arch_prctl: case SYS_prctl:
	case SYS_sched_getaffinity: case SYS_sched_getparam: case SYS_sched_getscheduler:
	case SYS_sched_get_priority_max: case SYS_sched_get_priority_min: case SYS_getcpu:
	case SYS_exit: case SYS_exit_group:
	/* identity and time */
	case SYS_getpid: case SYS_gettid: case SYS_getppid: case SYS_getuid: case SYS_geteuid:
	case SYS_getgid: case SYS_getegid: case SYS_getresuid: case SYS_getresgid:
	case SYS_getgroups: case SYS_getpgid: case SYS_getsid: case SYS_capget:
	case SYS_getrlimit: case SYS_getrusage: case SYS_times: case SYS_uname: case SYS_sysinfo:
	case SYS_getrandom: case SYS_clock_gettime: case SYS_clock_getres: case SYS_gettimeofday:
	case SYS_time: case SYS_getitimer: case SYS_setitimer: case SYS_alarm: case SYS_umask:
	case SYS_getpriority: case SYS_ioprio_get:
#ifdef SYS_getpgrp
	case SYS_getpgrp:
#endif
	/* descriptors the program makes for itself (their numbers are
	 * forgotten by the fd table when first seen) */
	case SYS_eventfd2: case SYS_timerfd_create: case SYS_timerfd_settime:
	case SYS_timerfd_gettime: case SYS_signalfd4: case SYS_epoll_create1:
	case SYS_inotify_init1: case SYS_inotify_add_watch: case SYS_inotify_rm_watch:
	case SYS_pidfd_open: case SYS_pidfd_getfd: case SYS_flock:
	case SYS_timer_create: case SYS_timer_settime: case SYS_timer_gettime:
	case SYS_timer_getoverrun: case SYS_timer_delete:
		return true;
	default:
		return false;
	}
}
