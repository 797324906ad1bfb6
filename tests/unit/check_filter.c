/* SPDX-License-Identifier: MIT */
/*
 * Property tests of the supervise mode's seccomp filter
 * (cli/midshim_filter.c). A small classic-BPF interpreter runs the built
 * program on struct seccomp_data inputs, and each answer is compared with
 * a model written here from the documented routes (README, "Supervise
 * mode"): every listed call with every combination of the open flags that
 * matter, every other call number, random arguments, foreign
 * architectures and the x32 ABI. The kernel then loads the program for
 * real in a child, where it must route opens and io_uring as documented.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "mid.h"
#include "midshim_filter.h"
#include "mid_check.h"

#define ALLOW SECCOMP_RET_ALLOW
#define NOTIFY SECCOMP_RET_USER_NOTIF
#define ENOSYS_RET (SECCOMP_RET_ERRNO | ENOSYS)
#define KILL SECCOMP_RET_KILL_PROCESS

/* The documented routes (x86_64 numbers): 'how' is 'n' always notify,
 * 'o' notify on write-intent open flags in argument 'arg', 'p' notify
 * when pointer argument 'arg' is set, 'e' ENOSYS, 's' notify when the
 * signal in argument 'arg' is not 0 (as an int), 't' the same and the
 * tgid in argument 0 is > 0 (as an int), 'i' notify for the ioctl
 * requests TIOCSTI and TIOCLINUX in argument 'arg' (as an unsigned int). */
static const struct {
	const char *name;
	int nr;
	char how;
	int arg;
} doc[] = {
	{"execve", 59, 'n', 0},       {"execveat", 322, 'n', 0},   {"connect", 42, 'n', 0},
	{"sendto", 44, 'p', 4},       {"sendmsg", 46, 'n', 0},     {"sendmmsg", 307, 'n', 0},
	{"bind", 49, 'n', 0},         {"open", 2, 'o', 1},         {"openat", 257, 'o', 2},
	{"creat", 85, 'n', 0},        {"truncate", 76, 'n', 0},    {"ftruncate", 77, 'n', 0},
	{"fallocate", 285, 'n', 0},   {"unlink", 87, 'n', 0},      {"rmdir", 84, 'n', 0},
	{"unlinkat", 263, 'n', 0},    {"rename", 82, 'n', 0},      {"renameat", 264, 'n', 0},
	{"renameat2", 316, 'n', 0},   {"link", 86, 'n', 0},        {"linkat", 265, 'n', 0},
	{"symlink", 88, 'n', 0},      {"symlinkat", 266, 'n', 0},  {"mkdir", 83, 'n', 0},
	{"mkdirat", 258, 'n', 0},     {"mknod", 133, 'n', 0},      {"mknodat", 259, 'n', 0},
	{"chmod", 90, 'n', 0},        {"fchmod", 91, 'n', 0},      {"fchmodat", 268, 'n', 0},
	{"fchmodat2", 452, 'n', 0},   {"chown", 92, 'n', 0},       {"fchown", 93, 'n', 0},
	{"lchown", 94, 'n', 0},       {"fchownat", 260, 'n', 0},   {"utime", 132, 'n', 0},
	{"utimes", 235, 'n', 0},      {"futimesat", 261, 'n', 0},  {"utimensat", 280, 'n', 0},
	{"setxattr", 188, 'n', 0},    {"lsetxattr", 189, 'n', 0},  {"fsetxattr", 190, 'n', 0},
	{"setxattrat", 463, 'n', 0},  {"removexattr", 197, 'n', 0}, {"lremovexattr", 198, 'n', 0},
	{"fremovexattr", 199, 'n', 0}, {"removexattrat", 466, 'n', 0},
	{"io_uring_setup", 425, 'e', 0}, {"openat2", 437, 'e', 0},
	{"open_by_handle_at", 304, 'e', 0}, {"ptrace", 101, 'e', 0},
	{"process_vm_writev", 311, 'e', 0}, {"pidfd_getfd", 438, 'e', 0},
	{"setuid", 105, 'n', 0},      {"setgid", 106, 'n', 0},     {"setreuid", 113, 'n', 0},
	{"setregid", 114, 'n', 0},    {"setresuid", 117, 'n', 0},  {"setresgid", 119, 'n', 0},
	{"setfsuid", 122, 'n', 0},    {"setfsgid", 123, 'n', 0},   {"setgroups", 116, 'n', 0},
	{"capset", 126, 'n', 0},      {"umask", 95, 'n', 0},
	{"kill", 62, 's', 1},         {"tkill", 200, 's', 1},      {"tgkill", 234, 't', 2},
	{"rt_sigqueueinfo", 129, 's', 1}, {"rt_tgsigqueueinfo", 297, 't', 2},
	{"pidfd_send_signal", 424, 's', 1}, {"ioctl", 16, 'i', 1},
};

/* The open flags whose every combination is tried. */
static const int open_bits[] = {O_WRONLY, O_RDWR,   O_CREAT,    O_TRUNC,     O_APPEND,
				O_EXCL,   O_PATH,   O_TMPFILE,  O_CLOEXEC,   O_NONBLOCK,
				O_DIRECTORY, O_NOFOLLOW, O_NOCTTY, O_SYNC, O_LARGEFILE};

static struct sock_filter prog[MID_FILTER_MAX];
static int prog_len;

/* Classic BPF as seccomp runs it: the instructions the filter may use. */
static uint32_t run(const struct seccomp_data *d)
{
	uint32_t acc = 0;
	const unsigned char *mem = (const unsigned char *)d;

	for(int pc = 0, steps = 0; pc < prog_len && steps < 10000; pc++, steps++) {
		const struct sock_filter *f = &prog[pc];

		switch(f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if(f->k + 4 > sizeof(*d) || f->k % 4)
				ck_abort_msg("instruction %d loads at offset %u", pc, f->k);
			memcpy(&acc, mem + f->k, 4);
			break;
		case BPF_JMP | BPF_JEQ | BPF_K: pc += acc == f->k ? f->jt : f->jf; break;
		case BPF_JMP | BPF_JSET | BPF_K: pc += (acc & f->k) ? f->jt : f->jf; break;
		case BPF_JMP | BPF_JGE | BPF_K: pc += acc >= f->k ? f->jt : f->jf; break;
		case BPF_JMP | BPF_JA: pc += (int)f->k; break;
		case BPF_RET | BPF_K: return f->k;
		default: ck_abort_msg("instruction %d has an unexpected code 0x%x", pc, f->code);
		}
	}
	ck_abort_msg("the program ran off its end");
	return 0;
}

/* The model: what the documentation says for 'd'. */
static uint32_t expect(const struct seccomp_data *d)
{
	if(d->arch != AUDIT_ARCH_X86_64 || (d->nr & 0x40000000))
		return KILL;
	for(size_t i = 0; i < MID_ARRAY_LEN(doc); i++) {
		int flags;

		if(doc[i].nr != d->nr)
			continue;
		switch(doc[i].how) {
		case 'n': return NOTIFY;
		case 'e': return ENOSYS_RET;
		case 'p': return d->args[doc[i].arg] ? NOTIFY : ALLOW;
		case 't':
			if((int)(uint32_t)d->args[0] <= 0)
				return ALLOW;
			/* fall through */
		case 's': return (int)(uint32_t)d->args[doc[i].arg] ? NOTIFY : ALLOW;
		case 'i': {
			unsigned req = (unsigned)d->args[doc[i].arg];

			return req == TIOCSTI || req == TIOCLINUX ? NOTIFY : ALLOW;
		}
		case 'o':
			flags = (int)(uint32_t)d->args[doc[i].arg];
			if(flags & O_PATH)
				return ALLOW;
			return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) ? NOTIFY
											    : ALLOW;
		}
	}
	return ALLOW;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void fill(struct seccomp_data *d, int nr)
{
	memset(d, 0, sizeof(*d));
	d->arch = AUDIT_ARCH_X86_64;
	d->nr = nr;
	d->instruction_pointer = rnd();
	for(int i = 0; i < 6; i++)
		d->args[i] = rnd();
}

/* Compare the program with the model on 'd'; the first mismatch is kept
 * for the message (check's own assertions cost a write each). */
static size_t mismatches;
static char first_bad[256];

static uint32_t agree(const struct seccomp_data *d, const char *what)
{
	uint32_t got = run(d), want = expect(d);

	if(got != want && !mismatches++)
		snprintf(first_bad, sizeof(first_bad), "%s: nr %d arch 0x%x args 0x%llx 0x%llx 0x%llx: "
			 "0x%x, documented 0x%x", what, d->nr, d->arch, (unsigned long long)d->args[1],
			 (unsigned long long)d->args[2], (unsigned long long)d->args[4], got, want);
	return got;
}

#define ASSERT_AGREED() ck_assert_msg(mismatches == 0, "%zu mismatches; first %s", mismatches, first_bad)

static void setup(void)
{
	mismatches = 0;
	prog_len = mid_filter_build(prog, MID_FILTER_MAX);
	ck_assert_int_gt(prog_len, 0);
}

/* ---- core -------------------------------------------------------------- */

START_TEST(test_filter_table_is_the_documented_one)
{
	ck_assert_uint_eq(mid_filter_ncalls, MID_ARRAY_LEN(doc));
	for(size_t i = 0; i < MID_ARRAY_LEN(doc); i++) {
		const struct mid_filter_call *c = mid_filter_call(doc[i].nr);

		ck_assert_msg(c != NULL, "%s is not in the filter", doc[i].name);
		ck_assert_str_eq(c->name, doc[i].name);
	}
}
END_TEST

START_TEST(test_filter_every_listed_call)
{
	struct seccomp_data d;

	for(size_t i = 0; i < MID_ARRAY_LEN(doc); i++) {
		for(int round = 0; round < 64; round++) {
			fill(&d, doc[i].nr);
			if(round == 0)
				memset(d.args, 0, sizeof(d.args));
			agree(&d, doc[i].name);
		}
	}
	ASSERT_AGREED();
}
END_TEST

/* open and openat: every combination of the flags that matter, with
 * anything in the upper half of the register (the kernel reads an int). */
START_TEST(test_filter_open_flags_every_combination)
{
	static const uint64_t high[] = {0, 0xffffffff00000000ull, 0x1234567800000000ull};
	const size_t nbits = MID_ARRAY_LEN(open_bits);
	struct seccomp_data d;
	size_t notified = 0, allowed = 0;

	for(int which = 0; which < 2; which++) {
		int nr = which ? __NR_openat : __NR_open, arg = which ? 2 : 1;

		for(uint32_t m = 0; m < (1u << nbits); m++) {
			int flags = 0;

			for(size_t b = 0; b < nbits; b++)
				if(m & (1u << b))
					flags |= open_bits[b];
			for(size_t h = 0; h < MID_ARRAY_LEN(high); h++) {
				uint32_t got;

				fill(&d, nr);
				d.args[arg] = high[h] | (uint32_t)flags;
				got = agree(&d, which ? "openat" : "open");
				if(got == NOTIFY)
					notified++;
				else
					allowed++;
			}
		}
	}
	ASSERT_AGREED();
	/* Both routes are taken: the read-only half stays in the kernel. */
	ck_assert_uint_gt(notified, 0);
	ck_assert_uint_gt(allowed, 0);
	fill(&d, __NR_openat);
	d.args[2] = O_RDONLY | O_CLOEXEC;
	ck_assert_uint_eq(run(&d), ALLOW);
	d.args[2] = O_WRONLY | O_PATH;
	ck_assert_uint_eq(run(&d), ALLOW);
	d.args[2] = O_TMPFILE | O_RDWR;
	ck_assert_uint_eq(run(&d), NOTIFY);
	d.args[1] = O_WRONLY; /* the wrong argument says nothing */
	d.args[2] = O_RDONLY;
	ck_assert_uint_eq(run(&d), ALLOW);
}
END_TEST

START_TEST(test_filter_sendto_only_with_a_destination)
{
	static const uint64_t ptrs[] = {0, 1, 0x100000000ull, 0x7ffd12345678ull, UINT64_MAX};
	struct seccomp_data d;

	for(size_t i = 0; i < MID_ARRAY_LEN(ptrs); i++) {
		fill(&d, __NR_sendto);
		d.args[4] = ptrs[i];
		ck_assert_uint_eq(run(&d), ptrs[i] ? NOTIFY : ALLOW);
	}
}
END_TEST

/* Every signal call with signals and targets around the edges the
 * kernel reads (ints in 64-bit registers): signal 0 and a tgid <= 0 stay
 * in the kernel, every other signal is sent whatever the target. */
START_TEST(test_filter_signals_every_edge)
{
	static const uint64_t sigs[] = {0, 1, 9, 15, 64, 0xffffffffull, 0x100000000ull,
					0xffffffff00000000ull, 0x7fffffff0000000full};
	static const uint64_t pids[] = {0, 1, 12345, 0xffffffffull /* -1 */, 0x80000000ull,
					0x7fffffffull, 0x100000000ull, 0xffffffff00000001ull};
	static const int nrs[] = {__NR_kill, __NR_tkill, __NR_tgkill, __NR_rt_sigqueueinfo,
				  __NR_rt_tgsigqueueinfo, __NR_pidfd_send_signal};
	struct seccomp_data d;
	size_t notified = 0, allowed = 0;

	for(size_t n = 0; n < MID_ARRAY_LEN(nrs); n++)
		for(size_t si = 0; si < MID_ARRAY_LEN(sigs); si++)
			for(size_t p = 0; p < MID_ARRAY_LEN(pids); p++) {
				int tg = nrs[n] == __NR_tgkill || nrs[n] == __NR_rt_tgsigqueueinfo;

				fill(&d, nrs[n]);
				d.args[0] = pids[p];
				d.args[tg ? 2 : 1] = sigs[si];
				if(agree(&d, "signal") == NOTIFY)
					notified++;
				else
					allowed++;
			}
	ASSERT_AGREED();
	ck_assert_uint_gt(notified, 0);
	ck_assert_uint_gt(allowed, 0);
	fill(&d, __NR_kill);
	d.args[0] = 4242;
	d.args[1] = 0;
	ck_assert_uint_eq(run(&d), ALLOW);
	d.args[1] = SIGTERM;
	ck_assert_uint_eq(run(&d), NOTIFY);
	d.args[0] = (uint32_t)-1; /* every process */
	ck_assert_uint_eq(run(&d), NOTIFY);
	fill(&d, __NR_tgkill);
	d.args[0] = (uint32_t)-5;
	d.args[2] = SIGTERM;
	ck_assert_uint_eq(run(&d), ALLOW); /* EINVAL from the kernel */
	d.args[0] = 77;
	ck_assert_uint_eq(run(&d), NOTIFY);
	d.args[1] = SIGTERM; /* tgkill's signal is its third argument */
	d.args[2] = 0;
	ck_assert_uint_eq(run(&d), ALLOW);
}
END_TEST

/* ioctl: only TIOCSTI and TIOCLINUX leave the kernel, compared as the
 * kernel's unsigned int, whatever the upper half of the register. */
START_TEST(test_filter_ioctl_only_tty_inject)
{
	static const uint64_t high[] = {0, 0xffffffff00000000ull, 0x100000000ull};
	static const unsigned reqs[] = {TIOCSTI, TIOCLINUX, TCGETS, TCSETS, TIOCGWINSZ, FIONREAD,
					FIONBIO, TIOCSCTTY, TIOCSTI + 1, TIOCLINUX - 1, 0, 0xffffffffu};
	struct seccomp_data d;

	for(size_t r = 0; r < MID_ARRAY_LEN(reqs); r++)
		for(size_t h = 0; h < MID_ARRAY_LEN(high); h++) {
			uint32_t want = reqs[r] == TIOCSTI || reqs[r] == TIOCLINUX ? NOTIFY : ALLOW;

			fill(&d, __NR_ioctl);
			d.args[1] = high[h] | reqs[r];
			ck_assert_uint_eq(agree(&d, "ioctl"), want);
		}
	for(int i = 0; i < 100000; i++) {
		fill(&d, __NR_ioctl);
		if(i % 3 == 0)
			d.args[1] = (d.args[1] & 0xffffffff00000000ull) | TIOCSTI;
		agree(&d, "ioctl random");
	}
	fill(&d, __NR_ioctl);
	d.args[0] = TIOCSTI; /* the descriptor says nothing */
	d.args[1] = TCGETS;
	ck_assert_uint_eq(run(&d), ALLOW);
	ASSERT_AGREED();
}
END_TEST

START_TEST(test_filter_every_other_call_stays_in_the_kernel)
{
	struct seccomp_data d;

	for(int nr = 0; nr < 1024; nr++) {
		fill(&d, nr);
		agree(&d, "unlisted");
	}
	ASSERT_AGREED();
	fill(&d, __NR_write);
	ck_assert_uint_eq(run(&d), ALLOW);
	fill(&d, __NR_io_uring_enter);
	ck_assert_uint_eq(run(&d), ALLOW);
}
END_TEST

START_TEST(test_filter_random_inputs_match_the_model)
{
	struct seccomp_data d;

	for(int i = 0; i < 200000; i++) {
		uint64_t r = rnd();

		fill(&d, (int)(r % 3 == 0 ? doc[(r >> 8) % MID_ARRAY_LEN(doc)].nr : (int)(r >> 16) % 600));
		if(r % 17 == 0)
			d.nr |= 0x40000000;
		if(r % 23 == 0)
			d.arch = (uint32_t)rnd();
		agree(&d, "random");
	}
	ASSERT_AGREED();
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(test_filter_foreign_arch_and_x32_are_killed)
{
	static const uint32_t arches[] = {AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, 0};
	struct seccomp_data d;

	for(size_t a = 0; a < MID_ARRAY_LEN(arches); a++)
		for(int nr = 0; nr < 512; nr++) {
			fill(&d, nr);
			d.arch = arches[a];
			if(agree(&d, "foreign arch") != KILL)
				mismatches++;
		}
	for(int nr = 0; nr < 512; nr++) {
		fill(&d, nr | 0x40000000);
		if(agree(&d, "x32") != KILL)
			mismatches++;
	}
	ASSERT_AGREED();
}
END_TEST

START_TEST(test_filter_too_small_a_buffer_fails)
{
	static struct sock_filter other[MID_FILTER_MAX];

	ck_assert_int_eq(mid_filter_build(other, 16), -1);
	ck_assert_int_eq(mid_filter_build(other, (size_t)prog_len - 1), -1);
	ck_assert_int_eq(mid_filter_build(other, (size_t)prog_len), prog_len);
	ck_assert_int_eq(memcmp(other, prog, sizeof(prog[0]) * (size_t)prog_len), 0);
}
END_TEST

/* ---- errors: the kernel runs it ------------------------------------------ */

/* In a child: load the filter without a listener, so every call it would
 * hand to a supervisor fails with ENOSYS, and check the routes. */
static int kernel_child(const char *dir)
{
	struct sock_fprog fp = {.len = (unsigned short)prog_len, .filter = prog};
	char path[512];
	int fd;

	if(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	   syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp))
		return 10;
	snprintf(path, sizeof(path), "%s/x", dir);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if(fd < 0)
		return 11;
	close(fd);
	if(open(path, O_WRONLY | O_CREAT, 0600) >= 0 || errno != ENOSYS)
		return 12;
	if(syscall(__NR_openat, AT_FDCWD, path, O_RDWR | O_CREAT, 0600) >= 0 || errno != ENOSYS)
		return 13;
	if(access(path, F_OK) == 0)
		return 14;
	if(syscall(__NR_io_uring_setup, 4, NULL) >= 0 || errno != ENOSYS)
		return 15;
	if(syscall(__NR_openat2, AT_FDCWD, path, NULL, 0) >= 0 || errno != ENOSYS)
		return 16;
	if(mkdir(path, 0700) == 0 || errno != ENOSYS)
		return 17;
	fd = open(dir, O_PATH | O_WRONLY);
	if(fd < 0)
		return 18;
	close(fd);
	if(getpid() <= 0 || write(1, "", 0) != 0)
		return 19;
	/* Signal 0 and a tgid <= 0 stay in the kernel; a signal does not
	 * (no supervisor here: ENOSYS). */
	if(kill(getppid(), 0) || syscall(__NR_tgkill, -1, 1, SIGTERM) >= 0 || errno != EINVAL)
		return 20;
	if(kill(getppid(), SIGWINCH) >= 0 || errno != ENOSYS)
		return 21;
	if(syscall(__NR_tgkill, getpid(), gettid(), SIGWINCH) >= 0 || errno != ENOSYS)
		return 22;
	/* Every ioctl request but the two reaches the driver. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if(fd < 0 || ioctl(fd, TCGETS, &(struct termios){0}) >= 0 || errno != ENOTTY)
		return 23;
	if(ioctl(fd, TIOCSTI, "x") >= 0 || errno != ENOSYS)
		return 24;
	if(syscall(__NR_ioctl, fd, TIOCSTI | 0x500000000ul, "x") >= 0 || errno != ENOSYS)
		return 25;
	close(fd);
	return 0;
}

START_TEST(test_filter_kernel_routes)
{
	char dir[] = "/tmp/check_filter.XXXXXX";
	pid_t pid;
	int st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0)
		_exit(kernel_child(dir));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	rmdir(dir);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
}
END_TEST

/* A child that makes one call through the 32-bit ABI (int 0x80; 20 is
 * getpid there), with the filter or without; its wait status. */
static int int80_child(int filtered)
{
	struct sock_fprog fp = {.len = (unsigned short)prog_len, .filter = prog};
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if(pid == 0) {
		long r = 20;

		/* A kernel without the 32-bit ABI answers with SIGSEGV: let it
		 * end the child (a sanitizer's handler would exit instead). */
		signal(SIGSEGV, SIG_DFL);
		if(filtered && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
				syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp)))
			_exit(10);
		__asm__ volatile("int $0x80" : "+a"(r) : : "memory");
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* The 32-bit ABI kills the process: by SIGSYS from the filter where the
 * kernel runs 32-bit calls at all (an unfiltered child's call returns),
 * else the call never runs either way. */
START_TEST(test_filter_kernel_kills_int80)
{
	int plain = int80_child(0), st = int80_child(1);

	if(WIFEXITED(plain) && WEXITSTATUS(plain) == 0)
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "child status 0x%x", st);
	else
		ck_assert_msg(WIFSIGNALED(st), "child status 0x%x", st);
}
END_TEST

static void mid_check_tests(struct mid_check *t)
{
	t->name = "filter";
	tcase_add_checked_fixture(t->core, setup, NULL);
	tcase_add_checked_fixture(t->limits, setup, NULL);
	tcase_add_checked_fixture(t->errors, setup, NULL);
	tcase_set_timeout(t->core, 60);
	tcase_add_test(t->core, test_filter_table_is_the_documented_one);
	tcase_add_test(t->core, test_filter_every_listed_call);
	tcase_add_test(t->core, test_filter_open_flags_every_combination);
	tcase_add_test(t->core, test_filter_sendto_only_with_a_destination);
	tcase_add_test(t->core, test_filter_signals_every_edge);
	tcase_add_test(t->core, test_filter_ioctl_only_tty_inject);
	tcase_add_test(t->core, test_filter_every_other_call_stays_in_the_kernel);
	tcase_add_test(t->core, test_filter_random_inputs_match_the_model);
	tcase_add_test(t->limits, test_filter_foreign_arch_and_x32_are_killed);
	tcase_add_test(t->limits, test_filter_too_small_a_buffer_fails);
	tcase_add_test(t->errors, test_filter_kernel_routes);
	tcase_add_test(t->errors, test_filter_kernel_kills_int80);
}
