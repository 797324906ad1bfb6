/* SPDX-License-Identifier: MIT */
/*
 * `midshim adopt --inject`: make a running, dynamically linked x86-64
 * program load libmidshim.so through its own dlopen.
 *
 * Every thread is seized (PTRACE_SEIZE) and interrupted, so nothing runs
 * while the program is changed. One thread, the main one, then calls the
 * target's own setenv for each MIDSHIM_* setting and LD_PRELOAD (so the
 * shim finds its settings where it always reads them, and the program's
 * children start gated), and dlopen with the shim's path: the shim's
 * constructor reads the settings, registers, validates, and binds the
 * program's calls to its hooks (shim/preload/hook_late.c). Each call returns to
 * address 0, which stops the thread with SIGSEGV before any handler
 * runs; its registers are then put back as they were, and every thread
 * is let go. A call that has not returned after CALL_ALONE_MS lets the
 * other threads run (one of them may hold a lock it waits for). The settings are written by this process into the stopped
 * program's memory, so the program cannot forge them; nothing is read
 * from a file the program could have prepared.
 *
 * Refused before anything is changed: a static or setuid program, one
 * that ptrace may not attach to (Yama, another user, not dumpable), one
 * that does not map libc, and one with a thread inside a system call
 * that an interruption would end with EINTR rather than restart
 * (epoll_wait and its kin): seizing it would change what it sees.
 */
#define _GNU_SOURCE
#include "midshim_adopt.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mid.h"
#include "execfile.h"

#if defined(__x86_64__)
#include <sys/ptrace.h>
#include <sys/user.h>

#define MAX_THREADS 1024
#define CALL_ALONE_MS 5000    /* a remote call with every other thread stopped... */
#define CALL_TIMEOUT_MS 30000 /* ...then with them running (dlopen registers and validates) */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* System calls an interruption ends with EINTR instead of restarting. */
static const long no_restart[] = {
	232 /* epoll_wait */,   281 /* epoll_pwait */,     441 /* epoll_pwait2 */,
	65 /* semop */,         220 /* semtimedop */,      208 /* io_getevents */,
	333 /* io_pgetevents */, 128 /* rt_sigtimedwait */, 69 /* msgsnd */,
	70 /* msgrcv */,        242 /* mq_timedsend */,    243 /* mq_timedreceive */,
};

struct target {
	pid_t pid;
	pid_t tid[MAX_THREADS];
	size_t n;
	int mem; /* /proc/PID/mem */
	unsigned long libc_base;
	char libc_path[PATH_MAX];
	unsigned long dlopen_at, dlerror_at, setenv_at, getenv_at;
	struct user_regs_struct saved;
	pid_t worker; /* the thread that makes the calls */
	int pending;  /* a signal that came for it during a call */
};

/* The offset of 'name' (a global function) in the ELF file 'path'. */
static int elf_symbols(const char *path, const char *const names[], unsigned long out[],
		       size_t count)
{
	struct stat st;
	unsigned char *m;
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;

	if(fd < 0)
		return -1;
	if(fstat(fd, &st) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if(m == MAP_FAILED)
		return -1;
	eh = (const Elf64_Ehdr *)(const void *)m;
	if(memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	   eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size)
		goto out;
	sh = (const Elf64_Shdr *)(const void *)(m + eh->e_shoff);
	for(unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		size_t nsym;

		if(sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum ||
		   sh[i].sh_offset + sh[i].sh_size > (uint64_t)st.st_size ||
		   sh[sh[i].sh_link].sh_offset + sh[sh[i].sh_link].sh_size > (uint64_t)st.st_size)
			continue;
		sym = (const Elf64_Sym *)(const void *)(m + sh[i].sh_offset);
		str = (const char *)m + sh[sh[i].sh_link].sh_offset;
		nsym = sh[i].sh_size / sizeof(*sym);
		for(size_t k = 0; k < nsym; k++) {
			if(sym[k].st_name >= sh[sh[i].sh_link].sh_size || !sym[k].st_value ||
			   ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC ||
			   sym[k].st_shndx == SHN_UNDEF)
				continue;
			for(size_t j = 0; j < count; j++)
				if(!out[j] && !strcmp(str + sym[k].st_name, names[j])) {
					out[j] = sym[k].st_value;
					found++;
				}
		}
	}
out:
	munmap(m, (size_t)st.st_size);
	return found == (int)count ? 0 : -1;
}

/* The target's libc: its load address and file. */
static int find_libc(struct target *t)
{
	char path[64], line[PATH_MAX + 128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	f = fopen(path, "re");
	while(f && fgets(line, sizeof(line), f)) {
		unsigned long lo, off;
		char file[PATH_MAX] = "", *b;

		if(sscanf(line, "%lx-%*x %*s %lx %*s %*s %4095[^\n]", &lo, &off, file) != 3 || off)
			continue;
		b = strrchr(file, '/');
		if(b && (!strncmp(b + 1, "libc.so", 7) || !strncmp(b + 1, "libc-", 5))) {
			t->libc_base = lo;
			mid_strlcpy(t->libc_path, file, sizeof(t->libc_path));
			break;
		}
	}
	if(f)
		fclose(f);
	return t->libc_base ? 0 : -1;
}

/* One field of /proc/PID/status, e.g. "Uid:". */
static int status_field(pid_t pid, const char *key, long v[4])
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while(f && fgets(line, sizeof(line), f))
		if(!strncmp(line, key, strlen(key))) {
			n = sscanf(line + strlen(key), "%ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3]);
			break;
		}
	if(f)
		fclose(f);
	return n == 4 ? 0 : -1;
}

/* Can the target's user read 'path'? Checked as that user, in a child. */
static int target_reads(pid_t pid, const char *path)
{
	long uid[4], gid[4];
	pid_t c;
	int st;

	if(status_field(pid, "Uid:", uid) || status_field(pid, "Gid:", gid))
		return 0;
	if((uid_t)uid[1] == geteuid())
		return access(path, R_OK) == 0;
	c = fork();
	if(c == 0) {
		_exit(setgroups(0, NULL) || setgid((gid_t)gid[1]) || setuid((uid_t)uid[1]) ||
		      access(path, R_OK));
	}
	return c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void threads(struct target *t)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	d = opendir(path);
	t->n = 0;
	while(d && (e = readdir(d)) && t->n < MAX_THREADS) {
		long tid = strtol(e->d_name, NULL, 10);

		if(tid > 0)
			t->tid[t->n++] = (pid_t)tid;
	}
	if(d)
		closedir(d);
}

/* The system call thread 'tid' sleeps in, or -1. */
static long in_syscall(pid_t pid, pid_t tid)
{
	char path[96], buf[256];
	long nr = -1;
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if(r > 0) {
		buf[r] = '\0';
		if(sscanf(buf, "%ld", &nr) != 1)
			nr = -1;
	}
	return nr;
}

static int restartless(long nr)
{
	for(size_t i = 0; i < MID_ARRAY_LEN(no_restart); i++)
		if(no_restart[i] == nr)
			return 1;
	return 0;
}

/* Everything that can be checked without touching the target. */
static int check(struct target *t, const char *lib, char *const env[], char *err, size_t n)
{
	static const char *const names[] = {"dlopen", "dlerror", "setenv", "getenv"};
	unsigned long off[4] = {0, 0, 0, 0};
	char exe[64], buf[8];
	const char *why;
	long uid[4], gid[4];
	int fd;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)t->pid);
	if(!mid_exec_followable(exe, &why)) {
		snprintf(err, n, "it is %s: it has no dynamic linker to load the shim", why);
		return -1;
	}
	if(status_field(t->pid, "Uid:", uid) || status_field(t->pid, "Gid:", gid)) {
		snprintf(err, n, "cannot read its credentials");
		return -1;
	}
	if(uid[0] != uid[1] || uid[1] != uid[2] || gid[0] != gid[1] || gid[1] != gid[2]) {
		snprintf(err, n, "it runs setuid or setgid (real and effective IDs differ)");
		return -1;
	}
	fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
	if(fd >= 0) {
		ssize_t r = read(fd, buf, 1);

		close(fd);
		if(r == 1 && buf[0] == '3') {
			snprintf(err, n, "Yama forbids ptrace on this machine"
				 " (kernel.yama.ptrace_scope=3)");
			return -1;
		}
	}
	if(find_libc(t)) {
		snprintf(err, n, "it does not map libc");
		return -1;
	}
	if(elf_symbols(t->libc_path, names, off, 4)) {
		snprintf(err, n, "its libc %s has no dlopen (glibc older than 2.34?)", t->libc_path);
		return -1;
	}
	t->dlopen_at = t->libc_base + off[0];
	t->dlerror_at = t->libc_base + off[1];
	t->setenv_at = t->libc_base + off[2];
	t->getenv_at = t->libc_base + off[3];
	if(!target_reads(t->pid, lib)) {
		snprintf(err, n, "its user cannot read %s", lib);
		return -1;
	}
	for(size_t i = 0; env[i]; i++)
		if(MID_HAS_PREFIX(env[i], MID_ENV_ORG_KEY_FILE "=") &&
		   !target_reads(t->pid, env[i] + strlen(MID_ENV_ORG_KEY_FILE "="))) {
			snprintf(err, n, "its user cannot read the org key file %s (give it the org"
				 " key's group, see midd init --key-group)",
				 env[i] + strlen(MID_ENV_ORG_KEY_FILE "="));
			return -1;
		}
	threads(t);
	for(size_t i = 0; i < t->n; i++) {
		long nr = in_syscall(t->pid, t->tid[i]);

		if(restartless(nr)) {
			snprintf(err, n, "thread %d is inside system call %ld, which an interruption"
				 " would end with EINTR; try again when it is elsewhere",
				 (int)t->tid[i], nr);
			return -1;
		}
	}
	return 0;
}

/* Wait for a stop of 'tid'; its status in '*st'. 0, or -1 on timeout. */
static int wait_stop(pid_t tid, int *st, int timeout_ms)
{
	for(int waited = 0; waited <= timeout_ms; waited++) {
		pid_t r = waitpid(tid, st, __WALL | WNOHANG);

		if(r == tid)
			return 0;
		if(r < 0 && errno != EINTR)
			return -1;
		if(waited < 50)
			sched_yield();
		else
			usleep(1000);
	}
	return -1;
}

static void let_go(struct target *t, size_t upto)
{
	for(size_t i = 0; i < upto; i++)
		ptrace(PTRACE_DETACH, t->tid[i], NULL, NULL);
}

/* Seize and stop every thread; threads born meanwhile are found by
 * looking again. */
static int seize(struct target *t, char *err, size_t n)
{
	size_t done = 0;

	for(int round = 0; round < 10; round++) {
		size_t before = t->n;

		for(size_t i = done; i < t->n; i++) {
			int st;

			if(ptrace(PTRACE_SEIZE, t->tid[i], NULL, NULL)) {
				if(errno == ESRCH)
					continue; /* it ended */
				snprintf(err, n, "ptrace may not attach to it (%s; Yama's"
					 " ptrace_scope, another user, or a process that is not"
					 " dumpable)", strerror(errno));
				let_go(t, i);
				return -1;
			}
			if(ptrace(PTRACE_INTERRUPT, t->tid[i], NULL, NULL) ||
			   wait_stop(t->tid[i], &st, 2000)) {
				snprintf(err, n, "thread %d did not stop", (int)t->tid[i]);
				let_go(t, i + 1);
				return -1;
			}
		}
		done = t->n;
		{
			struct target now = *t;

			threads(&now);
			for(size_t i = 0; i < now.n; i++) {
				int known = 0;

				for(size_t k = 0; k < t->n; k++)
					known |= t->tid[k] == now.tid[i];
				if(!known && t->n < MAX_THREADS)
					t->tid[t->n++] = now.tid[i];
			}
		}
		if(t->n == before)
			return 0;
	}
	snprintf(err, n, "its threads kept multiplying");
	let_go(t, t->n);
	return -1;
}

static int mem_write(struct target *t, unsigned long at, const void *buf, size_t len)
{
	return pwrite(t->mem, buf, len, (off_t)at) == (ssize_t)len ? 0 : -1;
}

static int mem_read(struct target *t, unsigned long at, void *buf, size_t len)
{
	return pread(t->mem, buf, len, (off_t)at) > 0 ? 0 : -1;
}

/* Call 'fn' in the worker thread with up to three arguments: 'data'
 * (copied below its stack, passed as the address of its first byte plus
 * each offset in 'argoff', or a number where 'argoff' is -1 and 'num'
 * holds it). Returns 0 with the result in '*ret'. */
static int call(struct target *t, unsigned long fn, const char *data, size_t len,
		const long argoff[3], const unsigned long num[3], unsigned long *ret, char *err,
		size_t n)
{
	struct user_regs_struct r = t->saved;
	unsigned long base, sp, zero = 0;
	int st;

	/* Past the red zone, then the data, then the call's stack. */
	base = (t->saved.rsp - 128 - len) & ~15ul;
	sp = base - 256;
	sp &= ~15ul;
	sp -= 8; /* as if 'call' had pushed the return address */
	if((len && mem_write(t, base, data, len)) || mem_write(t, sp, &zero, sizeof(zero))) {
		snprintf(err, n, "cannot write its stack: %s", strerror(errno));
		return -1;
	}
	r.rip = fn;
	r.rsp = sp;
	r.rax = 0;
	r.orig_rax = (unsigned long)-1; /* no system call restart over our call */
	r.rdi = argoff[0] >= 0 ? base + (unsigned long)argoff[0] : num[0];
	r.rsi = argoff[1] >= 0 ? base + (unsigned long)argoff[1] : num[1];
	r.rdx = argoff[2] >= 0 ? base + (unsigned long)argoff[2] : num[2];
	if(ptrace(PTRACE_SETREGS, t->worker, NULL, &r) ||
	   ptrace(PTRACE_CONT, t->worker, NULL, NULL)) {
		snprintf(err, n, "cannot start the call: %s", strerror(errno));
		return -1;
	}
	for(int others_run = 0;;) {
		if(wait_stop(t->worker, &st, others_run ? CALL_TIMEOUT_MS : CALL_ALONE_MS)) {
			if(!others_run) {
				/* A stopped thread may hold a lock the call
				 * waits for: let the others run. */
				for(size_t i = 0; i < t->n; i++)
					if(t->tid[i] != t->worker)
						ptrace(PTRACE_DETACH, t->tid[i], NULL, NULL);
				others_run = 1;
				continue;
			}
			snprintf(err, n, "the call into it did not return within %d ms; it may be"
				 " stuck on a lock", CALL_ALONE_MS + CALL_TIMEOUT_MS);
			return -2;
		}
		if(!WIFSTOPPED(st)) {
			snprintf(err, n, "it ended during the call (status %d)", st);
			return -3;
		}
		if(WSTOPSIG(st) == SIGSEGV && ptrace(PTRACE_GETREGS, t->worker, NULL, &r) == 0 &&
		   r.rip == 0) {
			*ret = r.rax;
			return 0;
		}
		/* Another signal: kept for the thread's release, so the call
		 * runs on without it and the program still gets it. */
		if(!(st >> 16) && WSTOPSIG(st) != SIGSEGV && WSTOPSIG(st) != SIGTRAP)
			t->pending = WSTOPSIG(st);
		ptrace(PTRACE_CONT, t->worker, NULL, NULL);
	}
}

/* Put the worker back and let every thread go. */
static void restore(struct target *t)
{
	ptrace(PTRACE_SETREGS, t->worker, NULL, &t->saved);
	for(size_t i = 0; i < t->n; i++)
		ptrace(PTRACE_DETACH, t->tid[i], NULL,
		       (void *)(uintptr_t)(t->tid[i] == t->worker ? t->pending : 0));
}

static int inject(struct target *t, const char *lib, char *const env[], char *err, size_t n)
{
	static const long none[3] = {-1, -1, -1}, first[3] = {0, -1, -1};
	unsigned long num[3] = {0, 0, 0}, ret = 0;
	char path[64], buf[3 * PATH_MAX], preload[2 * PATH_MAX + 16] = "";
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)t->pid);
	if(seize(t, err, n))
		return -1;
	t->mem = open(path, O_RDWR | O_CLOEXEC);
	t->worker = t->pid;
	if(t->mem < 0 || ptrace(PTRACE_GETREGS, t->worker, NULL, &t->saved)) {
		snprintf(err, n, "cannot reach its memory or registers: %s", strerror(errno));
		if(t->mem >= 0)
			close(t->mem);
		let_go(t, t->n);
		return -1;
	}
	/* The program's own LD_PRELOAD stays, the shim after it. */
	rc = call(t, t->getenv_at, "LD_PRELOAD", sizeof("LD_PRELOAD"), first, num, &ret, err, n);
	if(rc)
		goto out;
	if(ret) {
		char old[PATH_MAX] = "";

		if(mem_read(t, ret, old, sizeof(old) - 1) == 0 && old[0] && !strstr(old, lib))
			snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", old, lib);
	}
	for(size_t i = 0; env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		size_t k = eq ? (size_t)(eq - env[i]) : 0;
		const long args[3] = {0, (long)k + 1, -1};

		const char *e = preload[0] && MID_HAS_PREFIX(env[i], "LD_PRELOAD=") ? preload : env[i];

		if(!eq || strlen(e) >= sizeof(buf))
			continue;
		memcpy(buf, e, strlen(e) + 1);
		buf[k] = '\0';
		num[2] = 1;
		rc = call(t, t->setenv_at, buf, strlen(e) + 1, args, num, &ret, err, n);
		if(rc)
			goto out;
	}
	num[1] = RTLD_NOW;
	rc = call(t, t->dlopen_at, lib, strlen(lib) + 1, first, num, &ret, err, n);
	if(rc == 0 && !ret) {
		unsigned long msg = 0;
		char text[256] = "";

		rc = call(t, t->dlerror_at, NULL, 0, none, num, &msg, err, n);
		if(rc == 0 && msg && mem_read(t, msg, text, sizeof(text) - 1) == 0)
			text[sizeof(text) - 1] = '\0';
		snprintf(err, n, "its dlopen refused the shim: %s", text[0] ? text : "no reason");
		rc = -1;
	}
out:
	if(rc == -2) {
		/* Mid-call: the thread cannot be given back its registers
		 * without abandoning the loader half-way. Let it finish. */
		let_go(t, t->n);
	} else if(rc != -3) {
		restore(t);
	}
	close(t->mem);
	return rc ? -1 : 0;
}

int mid_inject(pid_t pid, const char *lib, char *const env[], int dry, char *err, size_t errlen)
{
	static struct target t;

	memset(&t, 0, sizeof(t));
	t.pid = pid;
	if(check(&t, lib, env, err, errlen))
		return -1;
	return dry ? 0 : inject(&t, lib, env, err, errlen);
}

#else

int mid_inject(pid_t pid, const char *lib, char *const env[], int dry, char *err, size_t errlen)
{
	(void)pid;
	(void)lib;
	(void)env;
	(void)dry;
	snprintf(err, errlen, "--inject works on x86-64 only");
	return -1;
}

#endif
