/* SPDX-License-Identifier: MIT */
/*
 * A shim loaded late, by dlopen into a running program (`midshim adopt
 * --inject`), comes after libc in the search order: none of the
 * program's calls would reach its hooks. So it binds them itself: every
 * loaded object's relocations that name a function the shim exports
 * (jump slots, GOT entries, absolute pointers in data) are pointed at the
 * hook, as the dynamic linker would have bound them had the shim been
 * preloaded. Read-only (RELRO) pages are opened for the writes and
 * closed again. Objects loaded later are bound at the next call to the
 * control plane (mid_late_rebind), so a library the program dlopens
 * after the injection is gated from then on.
 *
 * What this cannot reach: a function pointer the program took before
 * the injection and keeps in its own memory, and calls inside libc
 * itself (as with a preload).
 */
#define _GNU_SOURCE
#include "hooks.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)

MID_HOT static int late;             /* loaded after libc */
MID_HOT static unsigned long long adds; /* dlpi_adds at the last binding */
MID_HOT static Elf64_Addr self_base; /* set before main */

/* Start-up code: no libc string function (base.h). */
static inline __attribute__((always_inline)) int is_libc(const char *name)
{
	const char *b = name;

	for(const char *p = name; *p; p++)
		if(*p == '/')
			b = p + 1;
	return MID_STARTS(b, "libc.so") || MID_STARTS(b, "libc-");
}

/* The hook the shim exports as 'name', or NULL when it has none: only
 * functions defined in the shim itself count. */
static void *hook_for(const char *name)
{
	static void *self;
	const Elf64_Sym *sym = NULL;
	void *p, *ent = NULL;
	Dl_info info;

	/* Through the shim's own handle: RTLD_DEFAULT would find libc's. */
	if(!self && dladdr(&self_base, &info))
		self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
	p = self ? dlsym(self, name) : NULL;
	if(!p || !dladdr1(p, &info, &ent, RTLD_DL_SYMENT) || !(sym = ent) ||
	   (Elf64_Addr)info.dli_fbase != self_base)
		return NULL;
	if(ELF64_ST_TYPE(sym->st_info) != STT_FUNC && ELF64_ST_TYPE(sym->st_info) != STT_GNU_IFUNC)
		return NULL;
	return p;
}

struct relro {
	Elf64_Addr lo, hi;
};

/* Point the slot at 'where' to 'value', opening a RELRO page for it. */
static void put(Elf64_Addr where, Elf64_Addr value, const struct relro *r)
{
	long pg = sysconf(_SC_PAGESIZE);
	Elf64_Addr page = where & ~(Elf64_Addr)(pg - 1);
	int ro = where >= r->lo && where < r->hi;

	if(*(Elf64_Addr *)where == value)
		return;
	if(ro && mprotect((void *)page, (size_t)pg, PROT_READ | PROT_WRITE))
		return;
	*(Elf64_Addr *)where = value;
	if(ro)
		mprotect((void *)page, (size_t)pg, PROT_READ);
}

static void bind_table(Elf64_Addr base, const Elf64_Rela *rel, size_t size,
		       const Elf64_Sym *symtab, const char *strtab, const struct relro *r)
{
	for(size_t i = 0; rel && i < size / sizeof(*rel); i++) {
		unsigned long type = ELF64_R_TYPE(rel[i].r_info), si = ELF64_R_SYM(rel[i].r_info);
		const Elf64_Sym *s;
		void *hook;

		if(!si || (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
			   type != R_X86_64_64))
			continue;
		s = &symtab[si];
		if(s->st_shndx != SHN_UNDEF || !s->st_name)
			continue;
		hook = hook_for(strtab + s->st_name);
		if(!hook)
			continue;
		put(base + rel[i].r_offset,
		    (Elf64_Addr)hook + (type == R_X86_64_64 ? (Elf64_Addr)rel[i].r_addend : 0), r);
	}
}

/* Bind one object's relocations to the shim's hooks. */
static int bind_object(struct dl_phdr_info *i, size_t n, void *arg)
{
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Rela *rela = NULL, *jmprel = NULL;
	const Elf64_Sym *symtab = NULL;
	const char *strtab = NULL, *name = i->dlpi_name ? i->dlpi_name : "";
	size_t relasz = 0, pltsz = 0;
	struct relro r = {0, 0};

	(void)n;
	(void)arg;
	if(i->dlpi_addr == self_base || strstr(name, "ld-linux") || strstr(name, "linux-vdso"))
		return 0;
	for(int k = 0; k < i->dlpi_phnum; k++) {
		if(i->dlpi_phdr[k].p_type == PT_DYNAMIC)
			dyn = (const Elf64_Dyn *)(i->dlpi_addr + i->dlpi_phdr[k].p_vaddr);
		else if(i->dlpi_phdr[k].p_type == PT_GNU_RELRO) {
			r.lo = i->dlpi_addr + i->dlpi_phdr[k].p_vaddr;
			r.hi = r.lo + i->dlpi_phdr[k].p_memsz;
		}
	}
	for(; dyn && dyn->d_tag != DT_NULL; dyn++) {
		/* The loader has relocated these, the vDSO aside. */
		Elf64_Addr p = dyn->d_un.d_ptr;

		switch(dyn->d_tag) {
		case DT_RELA: rela = (const Elf64_Rela *)p; break;
		case DT_RELASZ: relasz = dyn->d_un.d_val; break;
		case DT_JMPREL: jmprel = (const Elf64_Rela *)p; break;
		case DT_PLTRELSZ: pltsz = dyn->d_un.d_val; break;
		case DT_SYMTAB: symtab = (const Elf64_Sym *)p; break;
		case DT_STRTAB: strtab = (const char *)p; break;
		default: break;
		}
	}
	if(!symtab || !strtab)
		return 0;
	bind_table(i->dlpi_addr, rela, relasz, symtab, strtab, &r);
	bind_table(i->dlpi_addr, jmprel, pltsz, symtab, strtab, &r);
	return 0;
}

static int count(struct dl_phdr_info *i, size_t n, void *arg)
{
	(void)n;
	*(unsigned long long *)arg = i->dlpi_adds;
	return 1;
}

MID_STARTUP int mid_late_bind(void)
{
	struct dl_find_object o;

	/* A preloaded shim comes right after the program; one loaded late
	 * comes after libc. A look back along the link map tells. */
	if(_dl_find_object(&self_base, &o) || !o.dlfo_link_map)
		return 0;
	self_base = o.dlfo_link_map->l_addr;
	for(const struct link_map *l = o.dlfo_link_map->l_prev; l && !late; l = l->l_prev)
		late = l->l_name && is_libc(l->l_name);
	if(!late)
		return 0;
	dl_iterate_phdr(count, &adds);
	dl_iterate_phdr(bind_object, NULL);
	return 1;
}

void mid_late_rebind(void)
{
	unsigned long long now = 0;

	if(!late)
		return;
	dl_iterate_phdr(count, &now);
	if(now == adds)
		return;
	adds = now;
	dl_iterate_phdr(bind_object, NULL);
}

#else

MID_STARTUP int mid_late_bind(void)
{
	return 0;
}

void mid_late_rebind(void)
{
}

#endif
