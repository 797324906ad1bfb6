/* SPDX-License-Identifier: MIT */
/*
 * stdio output. glibc's streams write through internal calls that never
 * reach the write hook, so every entry point that puts bytes into a
 * stream is hooked by name and gates the stream's descriptor, exactly as
 * a write to it would be gated. A stream with no descriptor (fmemopen,
 * open_memstream, fopencookie) writes to memory or through the program's
 * own functions, whose writes meet the hooks themselves: not gated here.
 * Variadic entry points forward to the real va_list function.
 */
#undef _FORTIFY_SOURCE /* the fortified inline printf would clash with ours */
#define _GNU_SOURCE
/* With optimisation glibc's headers define putchar, vprintf and the
 * *_unlocked putc family as extern inline functions; a compiler may then
 * keep our definitions inline too. This asks the headers for plain
 * declarations, as at -O0. */
#ifndef __NO_INLINE__
#define __NO_INLINE__ 1
#endif
#include "hooks.h"

#include <stdarg.h>
#include <stdio.h>
#include <wchar.h>

/* A macro under optimisation; hooked here as the function it also is. */
#undef fwrite_unlocked

/* Entry points the headers declare only for fortified or old builds. */
int _IO_putc(int c, FILE *f);
wint_t __woverflow(FILE *f, wint_t wc);
int __printf_chk(int flag, const char *fmt, ...);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __dprintf_chk(int fd, int flag, const char *fmt, ...);
int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
int __wprintf_chk(int flag, const wchar_t *fmt, ...);
int __fwprintf_chk(FILE *f, int flag, const wchar_t *fmt, ...);
int __vwprintf_chk(int flag, const wchar_t *fmt, va_list ap);
int __vfwprintf_chk(FILE *f, int flag, const wchar_t *fmt, va_list ap);

REAL_DECL(fwrite);
REAL_DECL(fwrite_unlocked);
REAL_DECL(fputs);
REAL_DECL(fputs_unlocked);
REAL_DECL(fputc);
REAL_DECL(fputc_unlocked);
REAL_DECL(putc);
REAL_DECL(putc_unlocked);
REAL_DECL(_IO_putc);
REAL_DECL(putchar);
REAL_DECL(putchar_unlocked);
REAL_DECL(puts);
REAL_DECL(putw);
REAL_DECL(__overflow);
REAL_DECL(fputws);
REAL_DECL(fputws_unlocked);
REAL_DECL(fputwc);
REAL_DECL(fputwc_unlocked);
REAL_DECL(putwc);
REAL_DECL(putwc_unlocked);
REAL_DECL(putwchar);
REAL_DECL(putwchar_unlocked);
REAL_DECL(__woverflow);
REAL_DECL(vprintf);
REAL_DECL(vfprintf);
REAL_DECL(vdprintf);
REAL_DECL(__vprintf_chk);
REAL_DECL(__vfprintf_chk);
REAL_DECL(__vdprintf_chk);
REAL_DECL(vwprintf);
REAL_DECL(vfwprintf);
REAL_DECL(__vwprintf_chk);
REAL_DECL(__vfwprintf_chk);
REAL_DECL(fflush);
REAL_DECL(fflush_unlocked);

/* The descriptor behind 'f', or -1 when it has none. fileno sets errno
 * for a memory stream; the caller's errno is kept. */
static int stream_fd(FILE *f)
{
	int e = errno, fd;

	fd = f ? fileno_unlocked(f) : -1;
	errno = e;
	return fd;
}

#define GATE_STREAM_OR_FAIL(f, ret) \
	do { \
		if(!mid_in_shim) { \
			int fd_ = stream_fd(f); \
			if(fd_ >= 0) \
				GATE_FD_OR_FAIL(fd_, ret); \
		} \
	} while(0)

/* ---- bytes and strings --------------------------------------------------- */

MID_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, 0);
	return REAL(fwrite)(p, size, n, f);
}

MID_EXPORT size_t fwrite_unlocked(const void *p, size_t size, size_t n, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, 0);
	return REAL(fwrite_unlocked)(p, size, n, f);
}

MID_EXPORT int fputs(const char *s, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(fputs)(s, f);
}

MID_EXPORT int fputs_unlocked(const char *s, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(fputs_unlocked)(s, f);
}

MID_EXPORT int fputc(int c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(fputc)(c, f);
}

MID_EXPORT int fputc_unlocked(int c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(fputc_unlocked)(c, f);
}

MID_EXPORT int putc(int c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(putc)(c, f);
}

MID_EXPORT int putc_unlocked(int c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(putc_unlocked)(c, f);
}

MID_EXPORT int _IO_putc(int c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(_IO_putc)(c, f);
}

MID_EXPORT int putchar(int c)
{
	GATE_STREAM_OR_FAIL(stdout, EOF);
	return REAL(putchar)(c);
}

MID_EXPORT int putchar_unlocked(int c)
{
	GATE_STREAM_OR_FAIL(stdout, EOF);
	return REAL(putchar_unlocked)(c);
}

MID_EXPORT int puts(const char *s)
{
	GATE_STREAM_OR_FAIL(stdout, EOF);
	return REAL(puts)(s);
}

MID_EXPORT int putw(int w, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(putw)(w, f);
}

/* With optimisation the headers inline putc_unlocked and friends into
 * the program; they call __overflow when the buffer is full. */
MID_EXPORT int __overflow(FILE *f, int c)
{
	GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(__overflow)(f, c);
}

/* ---- wide characters ----------------------------------------------------- */

MID_EXPORT int fputws(const wchar_t *s, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return REAL(fputws)(s, f);
}

MID_EXPORT int fputws_unlocked(const wchar_t *s, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return REAL(fputws_unlocked)(s, f);
}

MID_EXPORT wint_t fputwc(wchar_t c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, WEOF);
	return REAL(fputwc)(c, f);
}

MID_EXPORT wint_t fputwc_unlocked(wchar_t c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, WEOF);
	return REAL(fputwc_unlocked)(c, f);
}

MID_EXPORT wint_t putwc(wchar_t c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, WEOF);
	return REAL(putwc)(c, f);
}

MID_EXPORT wint_t putwc_unlocked(wchar_t c, FILE *f)
{
	GATE_STREAM_OR_FAIL(f, WEOF);
	return REAL(putwc_unlocked)(c, f);
}

MID_EXPORT wint_t putwchar(wchar_t c)
{
	GATE_STREAM_OR_FAIL(stdout, WEOF);
	return REAL(putwchar)(c);
}

MID_EXPORT wint_t putwchar_unlocked(wchar_t c)
{
	GATE_STREAM_OR_FAIL(stdout, WEOF);
	return REAL(putwchar_unlocked)(c);
}

MID_EXPORT wint_t __woverflow(FILE *f, wint_t wc)
{
	GATE_STREAM_OR_FAIL(f, WEOF);
	return REAL(__woverflow)(f, wc);
}

/* ---- printf -------------------------------------------------------------- */

MID_EXPORT int printf(const char *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(stdout, -1);
	va_start(ap, fmt);
	rc = REAL(vfprintf)(stdout, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(f, -1);
	va_start(ap, fmt);
	rc = REAL(vfprintf)(f, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_FD_OR_FAIL(fd, -1);
	va_start(ap, fmt);
	rc = REAL(vdprintf)(fd, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int vprintf(const char *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(stdout, -1);
	return REAL(vprintf)(fmt, ap);
}

MID_EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return REAL(vfprintf)(f, fmt, ap);
}

MID_EXPORT int vdprintf(int fd, const char *fmt, va_list ap)
{
	GATE_FD_OR_FAIL(fd, -1);
	return REAL(vdprintf)(fd, fmt, ap);
}

/* The fortified printf family (-D_FORTIFY_SOURCE=2): 'flag' asks for
 * the %n and positional-argument checks. */
MID_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(stdout, -1);
	va_start(ap, fmt);
	rc = REAL(__vfprintf_chk)(stdout, flag, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(f, -1);
	va_start(ap, fmt);
	rc = REAL(__vfprintf_chk)(f, flag, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_FD_OR_FAIL(fd, -1);
	va_start(ap, fmt);
	rc = REAL(__vdprintf_chk)(fd, flag, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(stdout, -1);
	return REAL(__vprintf_chk)(flag, fmt, ap);
}

MID_EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return REAL(__vfprintf_chk)(f, flag, fmt, ap);
}

MID_EXPORT int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	GATE_FD_OR_FAIL(fd, -1);
	return REAL(__vdprintf_chk)(fd, flag, fmt, ap);
}

MID_EXPORT int wprintf(const wchar_t *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(stdout, -1);
	va_start(ap, fmt);
	rc = REAL(vfwprintf)(stdout, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int fwprintf(FILE *f, const wchar_t *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(f, -1);
	va_start(ap, fmt);
	rc = REAL(vfwprintf)(f, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int vwprintf(const wchar_t *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(stdout, -1);
	return REAL(vwprintf)(fmt, ap);
}

MID_EXPORT int vfwprintf(FILE *f, const wchar_t *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return REAL(vfwprintf)(f, fmt, ap);
}

MID_EXPORT int __wprintf_chk(int flag, const wchar_t *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(stdout, -1);
	va_start(ap, fmt);
	rc = REAL(__vfwprintf_chk)(stdout, flag, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int __fwprintf_chk(FILE *f, int flag, const wchar_t *fmt, ...)
{
	va_list ap;
	int rc;

	GATE_STREAM_OR_FAIL(f, -1);
	va_start(ap, fmt);
	rc = REAL(__vfwprintf_chk)(f, flag, fmt, ap);
	va_end(ap);
	return rc;
}

MID_EXPORT int __vwprintf_chk(int flag, const wchar_t *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(stdout, -1);
	return REAL(__vwprintf_chk)(flag, fmt, ap);
}

MID_EXPORT int __vfwprintf_chk(FILE *f, int flag, const wchar_t *fmt, va_list ap)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return REAL(__vfwprintf_chk)(f, flag, fmt, ap);
}

/* ---- flush --------------------------------------------------------------- */

/* A flush is a boundary only when it has bytes to write: programs (bash
 * before every fork) flush empty streams all the time. glibc's FILE
 * keeps pending output between _IO_write_base and _IO_write_ptr.
 * fflush(NULL) flushes every stream: bytes that were gated when they
 * entered their buffers. */
static int pending(FILE *f)
{
	return f && f->_IO_write_ptr > f->_IO_write_base;
}

MID_EXPORT int fflush(FILE *f)
{
	if(pending(f))
		GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(fflush)(f);
}

MID_EXPORT int fflush_unlocked(FILE *f)
{
	if(pending(f))
		GATE_STREAM_OR_FAIL(f, EOF);
	return REAL(fflush_unlocked)(f);
}
