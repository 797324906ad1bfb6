/* SPDX-License-Identifier: MIT */
/*
 * exec hooks. glibc's exec wrappers, posix_spawn, system and popen reach
 * the kernel through internal calls that never pass a preloaded execve, so
 * each entry point is hooked by its own name. Each gates the resolved
 * program and passes an environment that keeps the child gated.
 */
#define _GNU_SOURCE
#include "hooks.h"
#include "exec.h"
#include "execfile.h"
#include "fspath.h"

#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

REAL_DECL(execve);
REAL_DECL(execvpe);
REAL_DECL(fexecve);
REAL_DECL(execveat);
REAL_DECL(posix_spawn);
REAL_DECL(posix_spawnp);
REAL_DECL(system);
REAL_DECL(popen);
REAL_DECL(fork);

/* Gate 'path' and build the child's environment, in 'eb' when it fits.
 * Returns NULL with errno set when the exec must not happen. */
static char **prepare(const char *path, char *const argv[], char *const envp[],
		      struct mid_envbuf *eb)
{
	char **env;
	int e = errno;

	if(!READY() || mid_exec_gate(path, argv)) {
		errno = EPERM;
		return NULL;
	}
	env = mid_exec_env(envp, eb);
	if(!env) {
		errno = ENOMEM;
		return NULL;
	}
	errno = e;
	return env;
}

typedef int exec_fn(const char *file, char *const argv[], char *const envp[]);

/* Gate the program at 'path', then let 'real' start 'file' with the
 * environment the children get. */
static int exec_gated(exec_fn *real, const char *file, const char *path, char *const argv[],
		      char *const envp[])
{
	struct mid_envbuf eb;
	char **env;
	int rc;

	env = prepare(path, argv, envp, &eb);
	if(!env)
		return -1;
	rc = real(file, argv, env);
	mid_exec_env_free(env);
	return rc;
}

MID_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	if(mid_in_shim)
		return REAL(execve)(path, argv, envp);
	return exec_gated(REAL(execve), path, path, argv, envp);
}

/* execvp and friends: gate the program PATH search finds, then let the
 * real execvpe search again (it also handles ENOEXEC scripts). */
MID_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char path[PATH_MAX];

	if(mid_in_shim)
		return REAL(execvpe)(file, argv, envp);
	mid_exec_resolve(file, getenv("PATH"), path, sizeof(path));
	return exec_gated(REAL(execvpe), file, path, argv, envp);
}

MID_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

MID_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

MID_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct mid_envbuf eb;
	char link[64], path[PATH_MAX], **env;
	ssize_t n;
	int rc;

	if(mid_in_shim)
		return REAL(fexecve)(fd, argv, envp);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	env = prepare(n > 0 ? path : link, argv, envp, &eb);
	if(!env)
		return -1;
	rc = REAL(fexecve)(fd, argv, env);
	mid_exec_env_free(env);
	return rc;
}

MID_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
			int flags)
{
	struct mid_envbuf eb;
	char full[PATH_MAX], **env;
	int rc;

	if(mid_in_shim)
		return REAL(execveat)(dirfd, path, argv, envp, flags);
	if(path[0] == '/' || dirfd == AT_FDCWD) {
		mid_strlcpy(full, path, sizeof(full));
	} else {
		char link[64], dir[PATH_MAX];
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, dir, sizeof(dir) - 1);
		dir[n > 0 ? n : 0] = '\0';
		/* An empty path is AT_EMPTY_PATH: the directory fd is
		 * the program. */
		if(snprintf(full, sizeof(full), "%s%s%s", dir, path[0] ? "/" : "", path) >=
		   (int)sizeof(full)) {
			errno = ENAMETOOLONG;
			return -1;
		}
	}
	env = prepare(full, argv, envp, &eb);
	if(!env)
		return -1;
	rc = REAL(execveat)(dirfd, path, argv, env, flags);
	mid_exec_env_free(env);
	return rc;
}

/* Collect execl-style arguments into 'small' (ARGS_SMALL entries) or a
 * mmap'd argv (no malloc: these may run in a vfork child); '*bytes' is 0
 * for 'small'. */
#define ARGS_SMALL 64
static char **collect(const char *arg0, va_list ap, char ***envp_out, char **small,
		      size_t *bytes)
{
	va_list cp;
	size_t n = 1, i;
	char **argv = small;

	va_copy(cp, ap);
	while(va_arg(cp, char *))
		n++;
	va_end(cp);
	*bytes = 0;
	if(n + 1 > ARGS_SMALL) {
		*bytes = (n + 1) * sizeof(char *);
		argv = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			    0);
		if(argv == MAP_FAILED) {
			errno = E2BIG;
			return NULL;
		}
	}
	argv[0] = (char *)(uintptr_t)arg0;
	for(i = 1; i < n; i++)
		argv[i] = va_arg(ap, char *);
	argv[n] = va_arg(ap, char *); /* the terminating NULL */
	if(envp_out)
		*envp_out = va_arg(ap, char **);
	argv[n] = NULL;
	return argv;
}

static void release(char **argv, size_t bytes)
{
	if(bytes)
		munmap(argv, bytes);
}

/* execl, execle, execlp: the list made an argv (and, with 'withenv', the
 * environment taken from after it), then the hooked execve or execvpe,
 * which gate the program as usual. */
#define EXECL_HOOK(names, ...) MID_HOOKS(names, EXECL_HOOK1, __VA_ARGS__)
#define EXECL_HOOK1(a, name) MID_CALL(EXECL_HOOK_, name, MID_UNPACK a)
#define EXECL_HOOK_(name, withenv, call) \
	MID_EXPORT int name(const char *path, const char *arg, ...) \
	{ \
		va_list ap; \
		size_t bytes; \
		char **argv, **envp = environ, *small[ARGS_SMALL]; \
		int rc; \
		va_start(ap, arg); \
		argv = collect(arg, ap, (withenv) ? &envp : NULL, small, &bytes); \
		va_end(ap); \
		if(!argv) \
			return -1; \
		rc = call(path, argv, envp); \
		release(argv, bytes); \
		return rc; \
	}

EXECL_HOOK((execl), 0, execve)
EXECL_HOOK((execle), 1, execve)
EXECL_HOOK((execlp), 0, execvpe)

typedef int spawn_fn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		     const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);

/* posix_spawn through 'real'; 'path' is the program, 'file' what
 * 'real' is given (the name posix_spawnp searches PATH for). */
static int spawn(spawn_fn *real, const char *path, pid_t *pid, const char *file,
		 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
		 char *const argv[], char *const envp[])
{
	struct mid_envbuf eb;
	char **env;
	int rc;

	if(mid_in_shim)
		return real(pid, file, fa, attr, argv, envp);
	env = prepare(path, argv, envp, &eb);
	if(!env)
		return errno;
	rc = real(pid, file, fa, attr, argv, env);
	mid_exec_env_free(env);
	return rc;
}

static int spawnp(spawn_fn *real, pid_t *pid, const char *file,
		  const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
		  char *const argv[], char *const envp[])
{
	char path[PATH_MAX];

	if(!mid_in_shim)
		mid_exec_resolve(file, getenv("PATH"), path, sizeof(path));
	return spawn(real, path, pid, file, fa, attr, argv, envp);
}

/*
 * A file action opens its file in the child between fork and exec, where
 * no hook runs: the open is gated when it is added, as the program's own
 * open would be (the spawn that carries it out is gated again). A
 * relative path is resolved where the child will open it: in the
 * directory the chdir actions added before it lead to (kept per
 * file-actions object in a small table), else the program's working
 * directory now.
 */
#define SPAWN_DIRS 32
MID_HOT static struct mid_forklock spawn_lock = MID_FORKLOCK_INIT;
static struct {
	const posix_spawn_file_actions_t *fa;
	char *dir; /* absolute and normal, or the fd link it could not be made from */
} spawn_dirs[SPAWN_DIRS];

void mid_spawn_atfork_child(void)
{
	mid_forklock_atfork_child(&spawn_lock);
}

/* Forget 'fa' (init and destroy: its address may be reused). */
static void spawn_dir_drop(const posix_spawn_file_actions_t *fa)
{
	mid_forklock_lock(&spawn_lock);
	for(size_t i = 0; i < SPAWN_DIRS; i++) {
		if(spawn_dirs[i].fa == fa) {
			free(spawn_dirs[i].dir);
			spawn_dirs[i].fa = NULL;
			spawn_dirs[i].dir = NULL;
		}
	}
	mid_forklock_unlock(&spawn_lock);
}

/* The directory 'fa' leads to, into 'out' ("" when no chdir action). */
static void spawn_dir_get(const posix_spawn_file_actions_t *fa, char *out, size_t len)
{
	out[0] = '\0';
	mid_forklock_lock(&spawn_lock);
	for(size_t i = 0; i < SPAWN_DIRS; i++)
		if(spawn_dirs[i].fa == fa)
			mid_strlcpy(out, spawn_dirs[i].dir, len);
	mid_forklock_unlock(&spawn_lock);
}

/* Remember that 'fa' now leads to 'dir'; ENOMEM when the table is full. */
static int spawn_dir_set(const posix_spawn_file_actions_t *fa, const char *dir)
{
	char *copy = strdup(dir);
	size_t i, free_slot = SPAWN_DIRS;

	if(!copy)
		return ENOMEM;
	mid_forklock_lock(&spawn_lock);
	for(i = 0; i < SPAWN_DIRS; i++) {
		if(spawn_dirs[i].fa == fa)
			break;
		if(!spawn_dirs[i].fa && free_slot == SPAWN_DIRS)
			free_slot = i;
	}
	if(i == SPAWN_DIRS)
		i = free_slot;
	if(i < SPAWN_DIRS) {
		free(spawn_dirs[i].dir);
		spawn_dirs[i].fa = fa;
		spawn_dirs[i].dir = copy;
		copy = NULL;
	}
	mid_forklock_unlock(&spawn_lock);
	if(!copy)
		return 0;
	free(copy);
	mid_shim_say("posix_spawn: over %d file-action objects with a chdir action at once; "
		     "refused", SPAWN_DIRS);
	return ENOMEM;
}

/* 'path' as the child will see it after the chdir actions of 'fa', into
 * 'out'; false (errno set) when it cannot be told. */
static bool spawn_path(const posix_spawn_file_actions_t *fa, const char *path, char *out,
		       size_t len)
{
	char base[PATH_MAX];

	spawn_dir_get(fa, base, sizeof(base));
	if(!base[0] && mid_path_abs(AT_FDCWD, "", base, sizeof(base)))
		return false;
	if(mid_path_join(base, path, out, len)) {
		/* a chdir to a descriptor that named no directory */
		errno = ENAMETOOLONG;
		return false;
	}
	return true;
}

REAL_DECL(posix_spawn_file_actions_addopen);
MID_EXPORT int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int fd,
						const char *path, int oflag, mode_t mode)
{
	char full[PATH_MAX];
	const char *p = path;
	int e = errno, r = 0;

	if(!mid_in_shim && path[0] != '/') {
		if(spawn_path(fa, path, full, sizeof(full)))
			p = full;
		else
			r = errno ? errno : EPERM;
	}
	if(!r && mid_fs_gate_open(AT_FDCWD, p, oflag))
		r = errno ? errno : EPERM;
	errno = e;
	return r ? r : REAL(posix_spawn_file_actions_addopen)(fa, fd, path, oflag, mode);
}

REAL_DECL(posix_spawn_file_actions_addchdir_np);
MID_EXPORT int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *fa,
						    const char *path)
{
	char full[PATH_MAX];
	int r;

	if(mid_in_shim)
		return REAL(posix_spawn_file_actions_addchdir_np)(fa, path);
	if(!spawn_path(fa, path, full, sizeof(full)))
		return errno;
	r = REAL(posix_spawn_file_actions_addchdir_np)(fa, path);
	return r ? r : spawn_dir_set(fa, full);
}

REAL_DECL(posix_spawn_file_actions_addfchdir_np);
MID_EXPORT int posix_spawn_file_actions_addfchdir_np(posix_spawn_file_actions_t *fa, int fd)
{
	char dir[PATH_MAX];
	int r = REAL(posix_spawn_file_actions_addfchdir_np)(fa, fd);

	if(r || mid_in_shim)
		return r;
	/* The directory 'fd' is now; a link that is no path ("pipe:[..]")
	 * makes later relative opens fail to resolve, and be refused. */
	mid_path_fd(fd, dir, sizeof(dir));
	return spawn_dir_set(fa, dir);
}

REAL_DECL(posix_spawn_file_actions_init);
MID_EXPORT int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa)
{
	spawn_dir_drop(fa);
	return REAL(posix_spawn_file_actions_init)(fa);
}

REAL_DECL(posix_spawn_file_actions_destroy);
MID_EXPORT int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa)
{
	spawn_dir_drop(fa);
	return REAL(posix_spawn_file_actions_destroy)(fa);
}

MID_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(REAL(posix_spawn), path, pid, path, fa, attr, argv, envp);
}

MID_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawnp(REAL(posix_spawnp), pid, file, fa, attr, argv, envp);
}

/* Binaries built before glibc 2.15 call the old versions (which report
 * a failed exec differently): the same gate, in front of the same old
 * function. */
static spawn_fn *old_spawn(const char *name, spawn_fn **cache)
{
	if(!*cache)
		*(void **)cache = dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5");
	if(!*cache) {
		mid_shim_say("libc has no %s@GLIBC_2.2.5; this libmidshim.so was built for another libc",
			     name);
		_exit(127);
	}
	return *cache;
}

MID_HOT static spawn_fn *real_posix_spawn_old, *real_posix_spawnp_old;

int mid_posix_spawn_old(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int mid_posix_spawnp_old(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
__asm__(".symver mid_posix_spawn_old, posix_spawn@GLIBC_2.2.5");
__asm__(".symver mid_posix_spawnp_old, posix_spawnp@GLIBC_2.2.5");

MID_EXPORT int mid_posix_spawn_old(pid_t *pid, const char *path,
				   const posix_spawn_file_actions_t *fa,
				   const posix_spawnattr_t *attr, char *const argv[],
				   char *const envp[])
{
	return spawn(old_spawn("posix_spawn", &real_posix_spawn_old), path, pid, path, fa, attr,
		     argv, envp);
}

MID_EXPORT int mid_posix_spawnp_old(pid_t *pid, const char *file,
				    const posix_spawn_file_actions_t *fa,
				    const posix_spawnattr_t *attr, char *const argv[],
				    char *const envp[])
{
	return spawnp(old_spawn("posix_spawnp", &real_posix_spawnp_old), pid, file, fa, attr,
		      argv, envp);
}

void mid_hook_exec_warm(void)
{
	const char *why;

	(void)REAL(execve);
	(void)REAL(execvpe);
	(void)REAL(posix_spawn);
	(void)REAL(posix_spawnp);
	/* open, fstat, pread, close: bound through the PLT on first call. */
	(void)mid_exec_followable("/bin/sh", &why);
}

/* system and popen run "/bin/sh -c CMD" with this process's environ, so
 * the settings go back into environ first. */
static int gate_shell(const char *cmd)
{
	const char *argv[] = {"sh", "-c", cmd, NULL};
	char *const *av = (char *const *)(uintptr_t)argv;
	sigset_t mask;
	int e = errno;

	if(!READY() || mid_exec_gate("/bin/sh", av)) {
		errno = EPERM;
		return -1;
	}
	mid_shim_enter(&mask);
	mid_exec_fix_environ();
	mid_shim_leave(&mask);
	errno = e;
	return 0;
}

MID_EXPORT int system(const char *cmd)
{
	if(!mid_in_shim && cmd && gate_shell(cmd))
		return -1;
	return REAL(system)(cmd);
}

MID_EXPORT FILE *popen(const char *cmd, const char *type)
{
	if(!mid_in_shim && cmd && gate_shell(cmd))
		return NULL;
	return REAL(popen)(cmd, type);
}

/* pclose writes what is pending and closes the descriptor internally:
 * gated as fclose, and the fd table forgets the number. */
REAL_DECL(pclose);
MID_EXPORT int pclose(FILE *f)
{
	int e = errno;

	mid_stdio_gate_close(f);
	if(f)
		mid_fd_forget(fileno_unlocked(f));
	errno = e;
	return REAL(pclose)(f);
}

MID_ALIAS(system, __libc_system)
MID_ALIAS(popen, _IO_popen)

/* popen's inside, exported under its own name: it runs the command on a
 * stream the caller made. */
FILE *_IO_proc_open(FILE *f, const char *cmd, const char *type);
REAL_DECL(_IO_proc_open);
MID_EXPORT FILE *_IO_proc_open(FILE *f, const char *cmd, const char *type)
{
	if(!mid_in_shim && cmd && gate_shell(cmd))
		return NULL;
	return REAL(_IO_proc_open)(f, cmd, type);
}

/* fork is not a side effect, but a shell loop that only forks children
 * (each of which dies at its exec after a revoke) would spin forever:
 * the parent stops at its next fork instead. vfork is not hooked: a
 * hook cannot return into a vfork child safely; its exec is gated. */
MID_EXPORT pid_t fork(void)
{
	mid_fork_handlers_register();
	if(!mid_in_shim && READY() && mid_gate_fork()) {
		errno = EPERM;
		return -1;
	}
	if(!mid_in_shim)
		mid_side_share();
	return REAL(fork)();
}

MID_ALIAS(fork, __fork)
MID_ALIAS(fork, __libc_fork)

/* libc forks inside these two without its fork symbol: the handlers are
 * registered first, as by the fork hook. */
REAL_DECL(daemon);
MID_EXPORT int daemon(int nochdir, int noclose)
{
	mid_fork_handlers_register();
	return REAL(daemon)(nochdir, noclose);
}

/* forkpty@GLIBC_2.2.5, libutil's name for it, which programs linked
 * before glibc 2.34 ask for, is the same function in libc. */
REAL_DECL(forkpty);
MID_VERSIONS(forkpty, "GLIBC_2.34", "GLIBC_2.2.5")
MID_EXPORT pid_t forkpty(int *amaster, char *name, const struct termios *termp,
			 const struct winsize *winp)
{
	mid_fork_handlers_register();
	return REAL(forkpty)(amaster, name, termp, winp);
}
