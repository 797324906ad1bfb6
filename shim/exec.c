/* SPDX-License-Identifier: MIT */
/*
 * Keeping children gated. Every exec path puts LD_PRELOAD and the
 * MIDSHIM_* settings back into the child's environment, even when the
 * caller passed a cleaned one, and hands down the cached allow so a child
 * started within the parent's TTL need not ask again. The environment is
 * built in one mmap'd block, never with malloc: execve may run in a vfork
 * child that shares the parent's heap.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAVED_MAX 24

/* Captured at start: "LD_PRELOAD=..." and every "MIDSHIM_...=..." except
 * the two the shim computes per exec. */
static char *saved[SAVED_MAX];
static size_t nsaved;
static char self[4096];

static int is_ours(const char *e)
{
	return !strncmp(e, "LD_PRELOAD=", 11) || !strncmp(e, "MIDSHIM_", 8);
}

static int is_computed(const char *e)
{
	return !strncmp(e, "MIDSHIM_ALLOW_UNTIL=", 20) || !strncmp(e, "MIDSHIM_REGISTERED=", 19);
}

void mid_exec_init(const char *self_path)
{
	char **e;
	int have_preload = 0;

	mid_strlcpy(self, self_path ? self_path : "", sizeof(self));
	for(e = environ; e && *e && nsaved < SAVED_MAX - 1; e++) {
		if(!is_ours(*e) || is_computed(*e))
			continue;
		if(!strncmp(*e, "LD_PRELOAD=", 11)) {
			have_preload = 1;
			/* Preloaded from /etc/ld.so.preload or by path
			 * elsewhere: make sure our own path is in the list. */
			if(self[0] && !strstr(*e, self) && !strstr(*e, "libmidshim.so")) {
				size_t n = strlen(*e) + strlen(self) + 2;
				char *v = malloc(n);
				if(v) {
					snprintf(v, n, "LD_PRELOAD=%s:%s", self, *e + 11);
					saved[nsaved++] = v;
				}
				continue;
			}
		}
		saved[nsaved] = strdup(*e);
		if(saved[nsaved])
			nsaved++;
	}
	if(!have_preload && self[0] && nsaved < SAVED_MAX) {
		size_t n = strlen(self) + 12;
		char *v = malloc(n);
		if(v) {
			snprintf(v, n, "LD_PRELOAD=%s", self);
			saved[nsaved++] = v;
		}
	}
}

char **mid_exec_env(char *const envp[])
{
	char until[64], *p, **out;
	size_t n = 0, i, k = 0, bytes;
	uint64_t u = mid_gate_allow_until();
	size_t *base;

	for(i = 0; envp && envp[i]; i++)
		n++;
	until[0] = '\0';
	if(u)
		snprintf(until, sizeof(until), "MIDSHIM_ALLOW_UNTIL=%llu", (unsigned long long)u);
	bytes = sizeof(size_t) + (n + nsaved + 3) * sizeof(char *) + sizeof(until) + 32;
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if(base == MAP_FAILED)
		return NULL;
	base[0] = bytes;
	out = (char **)(base + 1);
	p = (char *)(out + n + nsaved + 3);
	for(i = 0; i < n; i++)
		if(!is_ours(envp[i]))
			out[k++] = envp[i];
	for(i = 0; i < nsaved; i++)
		out[k++] = saved[i];
	if(until[0]) {
		memcpy(p, until, strlen(until) + 1);
		out[k++] = p;
		p += strlen(until) + 1;
	}
	memcpy(p, "MIDSHIM_REGISTERED=1", 21);
	out[k++] = p;
	out[k] = NULL;
	return out;
}

void mid_exec_env_free(char **env)
{
	size_t *base;

	if(!env)
		return;
	base = (size_t *)env - 1;
	munmap(base, base[0]);
}

void mid_exec_fix_environ(void)
{
	char until[32];
	size_t i;
	uint64_t u = mid_gate_allow_until();

	for(i = 0; i < nsaved; i++) {
		const char *eq = strchr(saved[i], '=');
		char name[64];
		const char *cur;

		if(!eq || (size_t)(eq - saved[i]) >= sizeof(name))
			continue;
		memcpy(name, saved[i], (size_t)(eq - saved[i]));
		name[eq - saved[i]] = '\0';
		cur = getenv(name);
		if(!cur || strcmp(cur, eq + 1))
			setenv(name, eq + 1, 1);
	}
	snprintf(until, sizeof(until), "%llu", (unsigned long long)u);
	if(u)
		setenv("MIDSHIM_ALLOW_UNTIL", until, 1);
	else
		unsetenv("MIDSHIM_ALLOW_UNTIL");
	setenv("MIDSHIM_REGISTERED", "1", 1);
}

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

/* True when the ELF file on 'fd' asks for a program interpreter. */
static bool has_interp(int fd, bool *is_elf)
{
	unsigned char id[EI_NIDENT];
	*is_elf = false;
	if(pread(fd, id, sizeof(id), 0) != (ssize_t)sizeof(id) || memcmp(id, ELFMAG, SELFMAG))
		return true;
	*is_elf = true;
	if(id[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
		int i;
		if(pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
			return true;
		for(i = 0; i < eh.e_phnum && i < 256; i++) {
			if(pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize)) !=
			   (ssize_t)sizeof(ph))
				return true;
			if(ph.p_type == PT_INTERP)
				return true;
		}
		return false;
	}
	if(id[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;
		Elf32_Phdr ph;
		int i;
		if(pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
			return true;
		for(i = 0; i < eh.e_phnum && i < 256; i++) {
			if(pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf32_Off)i * eh.e_phentsize)) !=
			   (ssize_t)sizeof(ph))
				return true;
			if(ph.p_type == PT_INTERP)
				return true;
		}
		return false;
	}
	return true;
}

bool mid_exec_followable(const char *path, const char **why)
{
	struct stat st;
	bool ok = true, elf;
	int fd;

	*why = NULL;
	mid_in_shim++;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd >= 0) {
		if(fstat(fd, &st) == 0) {
			if((st.st_mode & S_ISUID) && st.st_uid != geteuid()) {
				ok = false;
				*why = "setuid";
			} else if((st.st_mode & S_ISGID) && st.st_gid != getegid()) {
				ok = false;
				*why = "setgid";
			} else if(!has_interp(fd, &elf)) {
				ok = false;
				*why = "statically linked";
			}
		}
		close(fd);
	}
	mid_in_shim--;
	return ok;
}

int mid_exec_gate(const char *path, char *const argv[])
{
	struct mid_event ev;
	const char *why;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_EXEC;
	ev.path = path;
	ev.argv = argv;
	if(mid_in_shim)
		return 0;
	if(!mid_exec_followable(path, &why)) {
		if(mid_shim_config && mid_shim_config->unfollowable == MID_UNFOLLOW_DENY)
			return mid_enforce(&ev, "UNFOLLOWABLE", "-", -1);
		mid_shim_say("warning: %s is %s: the shim cannot gate what it does "
			     "(policy \"unfollowable\": \"deny\" refuses such programs)", path, why);
	}
	return mid_gate_check(&ev);
}
