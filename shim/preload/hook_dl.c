/* SPDX-License-Identifier: MIT */
/*
 * dlsym and dlvsym. A lookup through a handle searches only that object
 * and what it loaded, never the preload: dlsym(dlopen("libc.so.6"),
 * "write") would hand the program libc's own write, past the hook. So
 * when a lookup through a handle lands on a libc function the shim hooks,
 * the hook is returned instead. RTLD_NEXT and RTLD_DEFAULT lookups depend
 * on who asks (the caller's place in the search order), so for them the
 * hook jumps straight to libc's dlsym with the caller's return address
 * untouched; that is a few instructions of assembly, for x86-64.
 *
 * libc's own dlsym is found by reading libc's dynamic symbol table: the
 * name "dlsym" itself now leads to the hook. A sanitizer's runtime, loaded
 * before the shim, calls dlsym while it sets itself up, before it can
 * serve instrumented code or its own string functions: the code on that
 * path is not instrumented and calls no libc string function.
 */
#define _GNU_SOURCE
#include "hooks.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)

#define MID_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

typedef void *dlsym_fn(void *, const char *);
typedef void *dlvsym_fn(void *, const char *, const char *);

/* Read by the assembly below. */
/* Found before main: beside the other state a start writes. */
__attribute__((visibility("hidden"))) MID_HOT dlsym_fn *mid_libc_dlsym;
__attribute__((visibility("hidden"))) MID_HOT dlvsym_fn *mid_libc_dlvsym;

/* strcmp(a, b) == 0, without libc. */
MID_NO_SANITIZE static int same(const char *a, const char *b)
{
	while(*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Look 'name' up in the dynamic symbol table of 'lm' (its GNU hash): its
 * default version, when it has several. */
MID_NO_SANITIZE static void *elf_lookup(const struct link_map *lm, const char *name)
{
	const ElfW(Sym) *sym = NULL;
	const char *str = NULL;
	const uint32_t *gh = NULL;
	const ElfW(Half) *versym = NULL;
	const ElfW(Dyn) *d;
	uint32_t h = 5381, nb, off, i, ch;
	const unsigned char *c;
	const uint32_t *buckets, *chain;

	for(d = lm->l_ld; d && d->d_tag != DT_NULL; d++) {
		/* The loader has already added the load address, except
		 * for objects it leaves as they are (the vDSO). */
		ElfW(Addr) p = d->d_un.d_ptr < lm->l_addr ? d->d_un.d_ptr + lm->l_addr : d->d_un.d_ptr;

		if(d->d_tag == DT_SYMTAB)
			sym = (const ElfW(Sym) *)p;
		else if(d->d_tag == DT_STRTAB)
			str = (const char *)p;
		else if(d->d_tag == DT_GNU_HASH)
			gh = (const uint32_t *)p;
		else if(d->d_tag == DT_VERSYM)
			versym = (const ElfW(Half) *)p;
	}
	if(!sym || !str || !gh || !gh[0])
		return NULL;
	for(c = (const unsigned char *)name; *c; c++)
		h = h * 33 + *c;
	nb = gh[0];
	off = gh[1];
	buckets = (const uint32_t *)((const ElfW(Addr) *)(gh + 4) + gh[2]);
	chain = buckets + nb;
	i = buckets[h % nb];
	if(i < off)
		return NULL;
	do {
		ch = chain[i - off];
		if((ch | 1) == (h | 1) && sym[i].st_shndx != SHN_UNDEF &&
		   !(versym && (versym[i] & 0x8000)) && same(str + sym[i].st_name, name))
			return (void *)(lm->l_addr + sym[i].st_value);
		i++;
	} while(!(ch & 1));
	return NULL;
}

/* A function's address as data (ISO C has no cast between the two). */
MID_NO_SANITIZE static void *code_addr(pid_t (*fn)(void))
{
	union {
		pid_t (*fn)(void);
		void *p;
	} u = {fn};

	return u.p;
}

/* Called by the assembly the first time, before it jumps. */
__attribute__((visibility("hidden"))) void mid_dl_init(void);
MID_NO_SANITIZE void mid_dl_init(void)
{
	struct dl_find_object fo;

	/* getpid is libc's: the shim does not hook it. */
	if(_dl_find_object(code_addr(getpid), &fo) || !fo.dlfo_link_map) {
		mid_shim_say("cannot find libc's symbol table; dlsym is not available");
		_exit(127);
	}
	*(void **)&mid_libc_dlvsym = elf_lookup(fo.dlfo_link_map, "dlvsym");
	*(void **)&mid_libc_dlsym = elf_lookup(fo.dlfo_link_map, "dlsym");
	if(!mid_libc_dlsym || !mid_libc_dlvsym) {
		mid_shim_say("libc has no dlsym; this libmidshim.so was built for another libc");
		_exit(127);
	}
}

/* The object 'p' lies in, or NULL (a lookup in a sorted table, unlike
 * dladdr, which reads the whole symbol table). */
static void *object_of(const void *p)
{
	struct dl_find_object fo;

	return p && !_dl_find_object((void *)(uintptr_t)p, &fo) ? fo.dlfo_link_map : NULL;
}

/* 'found' came from a lookup through a handle. When it is a libc
 * function that the shim hooks under the same name, the hook: read from
 * the shim's own symbol table, not looked up in the global scope, where a
 * sanitizer's interceptor may come first. (An old version asked for by
 * dlvsym gets the hook of the default one.) */
static void *prefer_hook(void *found, const char *name)
{
	struct dl_find_object self;
	void *hook;
	int e = errno;

	if(!found || object_of(found) != object_of(code_addr(getpid)) ||
	   _dl_find_object((void *)&mid_libc_dlsym, &self)) {
		errno = e;
		return found;
	}
	hook = elf_lookup(self.dlfo_link_map, name);
	errno = e;
	return hook ? hook : found;
}

__attribute__((visibility("hidden"))) void *mid_dlsym_handle(void *h, const char *name);
void *mid_dlsym_handle(void *h, const char *name)
{
	return prefer_hook(mid_libc_dlsym(h, name), name);
}

__attribute__((visibility("hidden"))) void *mid_dlvsym_handle(void *h, const char *name,
								const char *version);
void *mid_dlvsym_handle(void *h, const char *name, const char *version)
{
	return prefer_hook(mid_libc_dlvsym(h, name, version), name);
}

/*
 * The exported entries. RTLD_NEXT is (void *)-1, RTLD_DEFAULT 0: those go
 * to libc's function by a jump, so it sees the program as its caller. The
 * first call finds libc's functions, keeping the argument registers.
 * Programs built before glibc 2.34 ask for dlsym@GLIBC_2.2.5 (then in
 * libdl): the same entry answers to that version too.
 */
#define MID_DL_TRAMPOLINE(name, real, handle) \
	".globl mid_" #name "\n" \
	".type mid_" #name ", @function\n" \
	".symver mid_" #name ", " #name "@@GLIBC_2.34\n" \
	".globl mid_" #name "_old\n" \
	".type mid_" #name "_old, @function\n" \
	".symver mid_" #name "_old, " #name "@GLIBC_2.2.5\n" \
	"mid_" #name ":\n" \
	"mid_" #name "_old:\n" \
"	endbr64\n" \
	"	cmpq $0, " #real "(%rip)\n" \
	"	jne 1f\n" \
	"	pushq %rdi\n" \
	"	pushq %rsi\n" \
	"	pushq %rdx\n" \
	"	call mid_dl_init\n" \
	"	popq %rdx\n" \
	"	popq %rsi\n" \
	"	popq %rdi\n" \
	"1:	cmpq $-1, %rdi\n" \
	"	je 2f\n" \
	"	testq %rdi, %rdi\n" \
	"	je 2f\n" \
	"	jmp " #handle "\n" \
	"2:	jmp *" #real "(%rip)\n" \
	".size mid_" #name ", .-mid_" #name "\n"

__asm__(".text\n" MID_DL_TRAMPOLINE(dlsym, mid_libc_dlsym, mid_dlsym_handle)
		MID_DL_TRAMPOLINE(dlvsym, mid_libc_dlvsym, mid_dlvsym_handle));

#endif
