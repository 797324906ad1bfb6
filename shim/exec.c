/* SPDX-License-Identifier: MIT */
/*
 * Keeping children gated. Every exec path gives the child exactly the
 * LD_PRELOAD and MIDSHIM_* settings this process started with, whatever
 * the caller passed or added (a MIDSHIM_MODE=audit set by the program is
 * dropped), removes the loader variables that could unload the preload,
 * and hands down the cached allow so a child started within the parent's
 * TTL need not ask again. The environment is
 * built on the caller's stack, or in one mmap'd block when it is large,
 * never with malloc: execve may run in a vfork child that shares the
 * parent's heap.
 */
#define _GNU_SOURCE
#include "exec.h"
#include "base.h"
#include "execfile.h"
#include "gate.h"
#include "record.h"
#include "side.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SAVED_MAX 24
#define SAVED_TEXT 1024

/* Captured at start: "LD_PRELOAD=..." and every "MIDSHIM_...=..." except
 * the two the shim computes per exec. The strings are copied (a program
 * may rewrite its environment block, as setproctitle does) into static
 * storage, so a process start allocates nothing for them. */
MID_HOT static char *saved[SAVED_MAX];
MID_HOT static size_t nsaved;
MID_HOT static char saved_text[SAVED_TEXT];
MID_HOT static size_t saved_used;
MID_HOT static int saved_lost; /* some setting did not fit, nor on the heap */

/* A setting a child gets only from what was captured at start. These
 * three are inline: the start-up code calls them, and a call into the
 * rest of the text is a page fault at every start. */
static inline __attribute__((always_inline)) int is_ours(const char *e)
{
	return MID_STARTS(e, "LD_PRELOAD=") || MID_STARTS(e, MID_ENV_PREFIX);
}

/* Loader variables no child gets. LD_AUDIT loads a library whose
 * la_objsearch may refuse to load the preload, and the child would run
 * ungated. (LD_PRELOAD is rebuilt from what was captured; the shim's own
 * entry there is an absolute path, so LD_LIBRARY_PATH cannot put another
 * library in its place.) */
static inline __attribute__((always_inline)) int is_dropped(const char *e)
{
	return MID_STARTS(e, "LD_AUDIT=");
}

static inline __attribute__((always_inline)) int is_computed(const char *e)
{
	return MID_STARTS(e, MID_ENV_ALLOW_UNTIL "=") || MID_STARTS(e, MID_ENV_REGISTERED "=");
}

/* Keep the concatenation of 'a' to 'd' (all but 'a' may be NULL) for
 * children; on the heap only when the static block is full. */
MID_STARTUP static void save(const char *a, const char *b, const char *c, const char *d)
{
	const char *part[4] = {a, b, c, d};
	size_t len[4], n = 1;
	char *p;
	int i;

	if(nsaved >= SAVED_MAX) {
		saved_lost = 1;
		return;
	}
	for(i = 0; i < 4; i++)
		n += len[i] = part[i] ? mid_len(part[i]) : 0;
	if(n <= SAVED_TEXT - saved_used) {
		p = saved_text + saved_used;
		saved_used += n;
	} else if(!(p = malloc(n))) {
		saved_lost = 1;
		return;
	}
	saved[nsaved++] = p;
	for(i = 0; i < 4; i++) {
		if(part[i])
			mid_copy(p, part[i], len[i]);
		p += len[i];
	}
	*p = '\0';
}

/* The path this library was loaded from, when LD_PRELOAD does not name
 * it as libmidshim.so (loaded by another name, or from /etc/ld.so.preload):
 * the loader's own string, which lives as long as the library (a
 * preloaded object is never unloaded), so a start copies nothing. */
MID_STARTUP static const char *self_path(void)
{
	MID_HOT static const char *self;
	struct dl_find_object o;

	/* _dl_find_object, not dladdr: dladdr also looks for the nearest
	 * symbol, a walk of the shim's whole symbol table at every start. */
	if(!self && _dl_find_object((void *)&saved_used, &o) == 0 && o.dlfo_link_map &&
	   o.dlfo_link_map->l_name && o.dlfo_link_map->l_name[0])
		self = o.dlfo_link_map->l_name;
	return self;
}

/* Is the LD_PRELOAD entry 'p' ('n' bytes) this library, by its own
 * path or a bare name the loader looked up in the library path? */
MID_STARTUP static int names_self(const char *p, size_t n, const char *self)
{
	size_t b;

	if(self && mid_len(self) == n && mid_mem_eq(p, self, n))
		return 1;
	for(b = n; b > 0 && p[b - 1] != '/'; b--)
		;
	return b == 0 && n >= 13 && mid_mem_eq(p, "libmidshim.so", 13);
}

/* Save LD_PRELOAD for children from the list 'list' this process got:
 * its entries in their order (a sanitizer's runtime must stay first),
 * with the shim's own entry as its absolute path, and that path first
 * when the list did not name the shim (/etc/ld.so.preload, say). */
MID_STARTUP static void save_preload(const char *list)
{
	char buf[SAVED_TEXT];
	const char *self = self_path(), *p = list;
	size_t o = 0;
	int found = 0;

	if(!self || self[0] != '/') {
		save("LD_PRELOAD=", list, NULL, NULL);
		return;
	}
	while(*p) {
		const char *ent = p;
		size_t n = 0;

		while(p[n] && p[n] != ':' && p[n] != ' ')
			n++;

		if(n && names_self(p, n, self)) {
			if(found)
				n = 0; /* named twice: once is enough */
			ent = self;
			found = 1;
		}
		if(n) {
			size_t len = ent == self ? mid_len(self) : n;

			if(o + len + 2 >= sizeof(buf)) {
				save("LD_PRELOAD=", self, ":", list);
				return;
			}
			if(o)
				buf[o++] = ':';
			mid_copy(buf + o, ent, len);
			o += len;
		}
		p += n;
		p += *p != '\0';
	}
	buf[o] = '\0';
	if(found)
		save("LD_PRELOAD=", buf, NULL, NULL);
	else
		save("LD_PRELOAD=", self, o ? ":" : NULL, o ? buf : NULL);
}

MID_STARTUP void mid_exec_init(void)
{
	const char *self;
	char **e;
	int have_preload = 0;

	for(e = environ; e && *e; e++) {
		if(!is_ours(*e) || is_computed(*e))
			continue;
		if(MID_STARTS(*e, "LD_PRELOAD=")) {
			if(!have_preload)
				save_preload(*e + 11);
			have_preload = 1;
			continue;
		}
		save(*e, NULL, NULL, NULL);
	}
	if(!have_preload && (self = self_path()))
		save("LD_PRELOAD=", self, NULL, NULL);
}

char **mid_exec_env(char *const envp[], struct mid_envbuf *buf)
{
	char until[64], *p, **out;
	size_t n = 0, i, k = 0, bytes;
	uint64_t u = mid_gate_allow_until();
	size_t *base;

	for(i = 0; envp && envp[i]; i++)
		n++;
	until[0] = '\0';
	/* Formatted by hand: a forked child runs this, and printf's pages
	 * are pages the child may not have touched yet. */
	if(u) {
		memcpy(until, "MIDSHIM_ALLOW_UNTIL=", 20);
		mid_format_u64(u, until + 20);
	}
	bytes = sizeof(size_t) + (n + nsaved + 3) * sizeof(char *) + sizeof(until) + 32;
	if(buf && bytes <= sizeof(buf->space)) {
		/* On the caller's stack: no system call, and no page fault,
		 * which costs more here than the rest of the hook. */
		base = (size_t *)(void *)buf->space;
		base[0] = 0;
	} else {
		base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if(base == MAP_FAILED)
			return NULL;
		base[0] = bytes;
	}
	out = (char **)(base + 1);
	p = (char *)(out + n + nsaved + 3);
	for(i = 0; i < n; i++)
		if(!is_ours(envp[i]) && !is_dropped(envp[i]))
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
	if(base[0])
		munmap(base, base[0]);
}

/* Is 'e' ("NAME=...") one of the captured settings, by name? */
static int saved_name(const char *e)
{
	for(size_t i = 0; i < nsaved; i++) {
		const char *s = saved[i];
		size_t j = 0;

		while(e[j] && e[j] != '=' && s[j] == e[j])
			j++;
		if((!e[j] || e[j] == '=') && s[j] == '=')
			return 1;
	}
	return 0;
}

MID_STARTUP const char *mid_exec_setting(const char *name)
{
	for(size_t i = 0; i < nsaved; i++) {
		const char *v = mid_env_value(saved[i], name);

		if(v)
			return v;
	}
	return saved_lost ? getenv(name) : NULL;
}

void mid_exec_fix_environ(void)
{
	char until[32];
	size_t i;
	uint64_t u = mid_gate_allow_until();

	/* What the program added since start goes first: every MIDSHIM_*
	 * and LD_PRELOAD not captured (the computed two are set below), and
	 * LD_AUDIT. Removing one shifts environ, so look again from the
	 * start after each; an entry unsetenv cannot remove (no '=') is
	 * blanked to an empty name. */
	for(size_t left = 4096; left > 0; left--) {
		char name[256], **e;
		size_t n;

		for(e = environ; e && *e; e++)
			if((is_ours(*e) && !is_computed(*e) && !saved_name(*e)) || is_dropped(*e))
				break;
		if(!e || !*e)
			break;
		n = strcspn(*e, "=");
		if((*e)[n] != '=' || n >= sizeof(name)) {
			*e = (char *)(uintptr_t)"=";
			continue;
		}
		memcpy(name, *e, n);
		name[n] = '\0';
		if(unsetenv(name))
			*e = (char *)(uintptr_t)"=";
	}
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
		setenv(MID_ENV_ALLOW_UNTIL, until, 1);
	else
		unsetenv(MID_ENV_ALLOW_UNTIL);
	setenv(MID_ENV_REGISTERED, "1", 1);
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
	if(mid_exec_followable(path, &why))
		why = NULL;
	if(mid_gate_exec(&ev, why))
		return -1;
	/* Atomic, into the counters a fork child shares with its parent:
	 * this image may be gone before its next validate. */
	mid_side_add_common(MID_SIDE_EXECS, 1);
	/* Counts of repeated denials die with this image unless written now. */
	mid_record_flush();
	return 0;
}
