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
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
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
 * (or is not ELF at all: a script, or a format of binfmt_misc). */
static const char *elf_unfollowable(int fd, const unsigned char *b, size_t got)
{
	char interp[PATH_MAX];
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
		if(!read_interp(fd, b, got, off, interp, sizeof(interp)))
			return NULL;
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

/* Why the program at 'path' will not load the shim, or NULL. A script
 * is judged by its interpreter, which the kernel starts directly. */
static const char *unfollowable(const char *path, int depth)
{
	unsigned char b[1024];
	char interp[256];
	const char *why = NULL;
	struct stat st;
	ssize_t got;
	int fd;

	/* Never wait: a FIFO's open would block until a writer comes. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if(fd < 0)
		return NULL; /* the exec fails as well */
	if(fstat(fd, &st) == 0) {
		if((st.st_mode & S_ISUID) && st.st_uid != geteuid())
			why = "setuid";
		else if((st.st_mode & S_ISGID) && st.st_gid != getegid())
			why = "setgid";
		else if((got = pread(fd, b, sizeof(b), 0)) > 0) {
			why = elf_unfollowable(fd, b, (size_t)got);
			if(!why && script_interp(b, (size_t)got, interp, sizeof(interp))) {
				close(fd);
				if(depth >= SCRIPT_DEPTH)
					return NULL; /* the kernel refuses it: ELOOP */
				why = unfollowable(interp, depth + 1);
				return why ? "a script whose interpreter is unfollowable" : NULL;
			}
		}
	}
	close(fd);
	return why;
}

bool mid_exec_followable(const char *path, const char **why)
{
	sigset_t mask;

	mid_shim_enter(&mask);
	*why = unfollowable(path, 0);
	mid_shim_leave(&mask);
	return *why == NULL;
}
