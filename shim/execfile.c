/* SPDX-License-Identifier: MIT */
/*
 * The file an exec runs: where a PATH search finds it, and whether the
 * shim can follow it there, that is whether the program will load the
 * preload (a dynamic ELF of this machine with this process's loader, or
 * a script whose interpreter is one), or is statically linked, setuid,
 * built for another machine. Reads the file's first bytes, never runs
 * it. The preload's exec gate and the launcher (which refuses or
 * supervises what the preload cannot follow) both ask here.
 */
#define _GNU_SOURCE
#include "execfile.h"
#include "base.h"
#include "mid.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool mid_exec_resolve(const char *file, const char *path_env, char *out, size_t outlen)
{
	const char *p, *end;

	if(!file || !*file)
		return false;
	if(strchr(file, '/')) {
		mid_strlcpy(out, file, outlen);
		return true;
	}
	if(!path_env)
		path_env = "/bin:/usr/bin";
	for(p = path_env;; p = end + 1) {
		size_t dl;

		end = strchr(p, ':');
		if(!end)
			end = p + strlen(p);
		dl = (size_t)(end - p);
		if(dl == 0) {
			snprintf(out, outlen, "%s", file); /* empty entry: cwd */
		} else if(dl + strlen(file) + 2 <= outlen) {
			memcpy(out, p, dl);
			out[dl] = '/';
			memcpy(out + dl + 1, file, strlen(file) + 1);
		} else {
			out[0] = '\0';
		}
		if(out[0] && access(out, X_OK) == 0)
			return true;
		if(!*end)
			break;
	}
	mid_strlcpy(out, file, outlen);
	return false;
}

/* The p_type of the program header at offset 'off' of the ELF file on
 * 'fd', whose first 'n' bytes are in 'head': from 'head' when it is there
 * (the usual case: one read for the whole check), else read. False on a
 * short file. 'off' comes from the file: it may be anything. */
static bool phdr_type(int fd, const unsigned char *head, size_t n, uint64_t off,
		      uint32_t *type)
{
	if(off < n && n - off >= sizeof(*type)) {
		memcpy(type, head + off, sizeof(*type));
		return true;
	}
	return pread(fd, type, sizeof(*type), (off_t)off) == (ssize_t)sizeof(*type);
}

#if defined(__x86_64__)
#define MID_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define MID_ELF_MACHINE EM_AARCH64
#else
#error "the ELF machine of this architecture is not named here"
#endif

/* This process's dynamic loader, the one that reads LD_PRELOAD: found
 * once, by the address the kernel loaded it at. */
static dev_t loader_dev;
static ino_t loader_ino;
static int loader_known; /* 0 not yet looked up, 1 known, -1 unknown */

static int find_loader(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct stat st;

	(void)size;
	if(info->dlpi_addr != (ElfW(Addr))(uintptr_t)arg || !info->dlpi_name ||
	   !info->dlpi_name[0] || stat(info->dlpi_name, &st))
		return 0;
	loader_dev = st.st_dev;
	loader_ino = st.st_ino;
	return 1;
}

/* Is 'path' (a PT_INTERP) this process's loader, so that the program
 * will load the shim as this one did? Unknown counts as yes: a loader
 * the shim cannot name is no reason to refuse every program. */
static bool our_loader(const char *path)
{
	struct stat st;

	if(!loader_known)
		loader_known = dl_iterate_phdr(find_loader, (void *)(uintptr_t)getauxval(AT_BASE)) ?
				       1 : -1;
	if(loader_known < 0)
		return true;
	return stat(path, &st) == 0 && st.st_dev == loader_dev && st.st_ino == loader_ino;
}

/* The program interpreter the 64-bit ELF on 'fd' names in the program
 * header at 'off' into 'out'; false when it cannot be read. */
static bool read_interp(int fd, const unsigned char *head, size_t n, uint64_t off, char *out,
			size_t outlen)
{
	Elf64_Phdr ph;

	if(off < n && n - off >= sizeof(ph))
		memcpy(&ph, head + off, sizeof(ph));
	else if(pread(fd, &ph, sizeof(ph), (off_t)off) != (ssize_t)sizeof(ph))
		return false;
	if(ph.p_filesz < 2 || ph.p_filesz > outlen ||
	   pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
		return false;
	out[ph.p_filesz - 1] = '\0';
	return strlen(out) == ph.p_filesz - 1;
}

/* Why the ELF file on 'fd' will not load the shim, or NULL when it will
 * (or is not ELF at all: a script, or a format of binfmt_misc). The
 * program interpreter it names, when that decided, into 'interp'
 * (PATH_MAX bytes; left as it is otherwise). */
static const char *elf_unfollowable(int fd, const unsigned char *b, size_t got, char *interp)
{
	Elf64_Ehdr e;
	uint64_t i;
	uint32_t type;

	if(got < EI_NIDENT || memcmp(b, ELFMAG, SELFMAG))
		return NULL;
	if(got >= sizeof(e))
		memcpy(&e, b, sizeof(e));
	/* The loader ignores a preload of another class or machine. */
	if(b[EI_CLASS] != ELFCLASS64 || got < sizeof(e) || e.e_machine != MID_ELF_MACHINE)
		return "built for another architecture";
	/* p_type is the first member of a program header. */
	for(i = 0; i < e.e_phnum && i < 256; i++) {
		uint64_t off = e.e_phoff + i * e.e_phentsize;

		/* Headers the kernel cannot read either: the exec fails. */
		if(!phdr_type(fd, b, got, off, &type))
			return NULL;
		if(type != PT_INTERP)
			continue;
		if(!read_interp(fd, b, got, off, interp, PATH_MAX)) {
			interp[0] = '\0';
			return NULL;
		}
		return our_loader(interp) ? NULL : "loaded by another program interpreter";
	}
	return "statically linked";
}

/* The interpreter a "#!" line in 'b' names, into 'out' (as the kernel
 * reads it: up to the first blank, in the first 256 bytes); false when
 * 'b' is not a script. */
static bool script_interp(const unsigned char *b, size_t got, char *out, size_t outlen)
{
	size_t i = 2, o = 0;

	if(got < 3 || b[0] != '#' || b[1] != '!')
		return false;
	if(got > 256)
		got = 256;
	while(i < got && (b[i] == ' ' || b[i] == '\t'))
		i++;
	while(i < got && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\0' &&
	      o + 1 < outlen)
		out[o++] = (char)b[i++];
	out[o] = '\0';
	return o > 0;
}

/* The kernel follows at most this many "#!" interpreters (and a fifth
 * level fails with ELOOP), as binfmt_script's BINPRM_MAX_RECURSION. */
#define SCRIPT_DEPTH 4

/*
 * What the files last exec'd were found to be. A shell loop or a build
 * execs the same few programs over and over, and reading one's headers
 * takes six system calls (and two more for the guard) where a stat
 * tells that the file has not changed. A verdict is kept only for a file
 * whose status last changed over a second before it was read: a later
 * change to its content, mode or owner sets a later st_ctime, so the
 * entry stops matching (the coarse clock that stamps st_ctime cannot
 * hide it within one tick). The interpreter an ELF program names is
 * looked at again at each use. One flag, taken or skipped, never waited
 * for: a vfork child, a signal handler and another thread may all get
 * here.
 */
#define SEEN_MAX 8
#define SEEN_INTERP 128

static struct seen {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	const char *why; /* the verdict, a string literal, or NULL */
	char interp[SEEN_INTERP]; /* to compare with the loader at each use; "" none */
	bool used;
} seen[SEEN_MAX];
static unsigned seen_next;
static atomic_bool seen_busy;

static bool seen_same(const struct seen *e, const struct stat *st)
{
	return e->used && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       e->ctime.tv_sec == st->st_ctim.tv_sec && e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* The kept verdict for the file 'st' describes into '*why', with its
 * interpreter into 'interp' (SEEN_INTERP bytes); false when none. */
static bool seen_get(const struct stat *st, const char **why, char *interp)
{
	bool hit = false;

	if(atomic_exchange_explicit(&seen_busy, true, memory_order_acquire))
		return false;
	for(size_t i = 0; i < SEEN_MAX && !hit; i++) {
		if(seen_same(&seen[i], st)) {
			*why = seen[i].why;
			memcpy(interp, seen[i].interp, SEEN_INTERP);
			hit = true;
		}
	}
	atomic_store_explicit(&seen_busy, false, memory_order_release);
	return hit;
}

static void seen_put(const struct stat *st, const char *why, const char *interp)
{
	struct timespec now;
	struct seen *e;

	if(strlen(interp) >= SEEN_INTERP || clock_gettime(CLOCK_REALTIME_COARSE, &now) ||
	   st->st_ctim.tv_sec >= now.tv_sec - 1)
		return;
	if(atomic_exchange_explicit(&seen_busy, true, memory_order_acquire))
		return;
	e = &seen[seen_next++ % SEEN_MAX];
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->why = why;
	mid_strlcpy(e->interp, interp, SEEN_INTERP);
	e->used = true;
	atomic_store_explicit(&seen_busy, false, memory_order_release);
}

void mid_exec_seen_atfork_child(void)
{
	/* Read first: a page the child writes is a page the kernel copies. */
	if(atomic_load_explicit(&seen_busy, memory_order_relaxed)) {
		memset(seen, 0, sizeof(seen));
		atomic_store_explicit(&seen_busy, false, memory_order_relaxed);
	}
}

/* A setuid or setgid file, which the loader runs without LD_PRELOAD. */
static const char *privileged(const struct stat *st)
{
	if((st->st_mode & S_ISUID) && st->st_uid != geteuid())
		return "setuid";
	if((st->st_mode & S_ISGID) && st->st_gid != getegid())
		return "setgid";
	return NULL;
}

/* The verdict for 'path' from what was kept, with one stat (and one of
 * its interpreter); false when nothing was kept for the file there. */
static bool unfollowable_seen(const char *path, const char **why)
{
	char interp[SEEN_INTERP];
	const char *priv;
	struct stat st;

	if(stat(path, &st) || !S_ISREG(st.st_mode) || !seen_get(&st, why, interp))
		return false;
	if((priv = privileged(&st)))
		*why = priv;
	else if(interp[0])
		*why = our_loader(interp) ? NULL : "loaded by another program interpreter";
	return true;
}

/* Why the program at 'path' will not load the shim, or NULL. A script
 * is judged by its interpreter, which the kernel starts directly. */
static const char *unfollowable(const char *path, int depth)
{
	unsigned char b[1024];
	char interp[PATH_MAX];
	const char *why = NULL;
	struct stat st;
	ssize_t got;
	int fd;

	/* Never wait: a FIFO's open would block until a writer comes. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if(fd < 0)
		return NULL; /* the exec fails as well */
	if(fstat(fd, &st) == 0 && !(why = privileged(&st)) &&
	   (got = pread(fd, b, sizeof(b), 0)) > 0) {
		interp[0] = '\0';
		why = elf_unfollowable(fd, b, (size_t)got, interp);
		if(!why && script_interp(b, (size_t)got, interp, sizeof(interp))) {
			close(fd);
			if(depth >= SCRIPT_DEPTH)
				return NULL; /* the kernel refuses it: ELOOP */
			why = unfollowable(interp, depth + 1);
			return why ? "a script whose interpreter is unfollowable" : NULL;
		}
		if(S_ISREG(st.st_mode))
			seen_put(&st, why, interp);
	}
	close(fd);
	return why;
}

bool mid_exec_followable(const char *path, const char **why)
{
	sigset_t mask;

	/* No guard: stat is no hook, and nothing here waits. */
	if(unfollowable_seen(path, why))
		return *why == NULL;
	mid_shim_enter(&mask);
	*why = unfollowable(path, 0);
	mid_shim_leave(&mask);
	return *why == NULL;
}
