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
#include <pwd.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <sys/single_threaded.h>
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

/* A call into a stream counts as one write for the budgets (side.c),
 * whatever the buffer does with it. */
#define GATE_STREAM_OR_FAIL(f, ret) \
	do { \
		if(!mid_in_shim) { \
			int fd_ = stream_fd(f); \
			if(fd_ >= 0) \
				GATE_FD_OR_FAIL(fd_, ret); \
			mid_side_add(MID_SIDE_WRITES, 1); \
		} \
	} while(0)

/* Bytes into the stream 'f', gated as a write to its descriptor. */
#define STREAM_HOOK(names, ...) MID_HOOKS(names, STREAM_HOOK1, __VA_ARGS__)
#define STREAM_HOOK1(a, name) MID_CALL(STREAM_HOOK_, name, MID_UNPACK a)
#define STREAM_HOOK_(name, f, ret, fail, params, args) \
	MID_HOOK_BODY(name, GATE_STREAM_OR_FAIL(f, fail), (void)0, ret, params, args)

/* ---- bytes and strings --------------------------------------------------- */

STREAM_HOOK((fwrite, fwrite_unlocked), f, size_t, 0,
	    (const void *p, size_t size, size_t n, FILE *f), (p, size, n, f))
STREAM_HOOK((fputs, fputs_unlocked), f, int, EOF, (const char *s, FILE *f), (s, f))
STREAM_HOOK((fputc, fputc_unlocked, putc, putc_unlocked), f, int, EOF, (int c, FILE *f), (c, f))
STREAM_HOOK((_IO_putc, putw), f, int, EOF, (int c, FILE *f), (c, f))
STREAM_HOOK((putchar, putchar_unlocked), stdout, int, EOF, (int c), (c))
STREAM_HOOK((puts), stdout, int, EOF, (const char *s), (s))
/* With optimisation the headers inline putc_unlocked and friends into
 * the program; they call __overflow when the buffer is full. */
STREAM_HOOK((__overflow), f, int, EOF, (FILE *f, int c), (f, c))

/* putpwent writes a passwd line into the stream through internal calls. */
STREAM_HOOK((putpwent), f, int, -1, (const struct passwd *pw, FILE *f), (pw, f))

MID_ALIAS(fwrite, _IO_fwrite)
MID_ALIAS(fputs, _IO_fputs)
MID_ALIAS(puts, _IO_puts)

/* ---- wide characters ----------------------------------------------------- */

STREAM_HOOK((fputws, fputws_unlocked), f, int, -1, (const wchar_t *s, FILE *f), (s, f))
STREAM_HOOK((fputwc, fputwc_unlocked, putwc, putwc_unlocked), f, wint_t, WEOF,
	    (wchar_t c, FILE *f), (c, f))
STREAM_HOOK((putwchar, putwchar_unlocked), stdout, wint_t, WEOF, (wchar_t c), (c))
STREAM_HOOK((__woverflow), f, wint_t, WEOF, (FILE *f, wint_t wc), (f, wc))

/* ---- printf -------------------------------------------------------------- */

STREAM_HOOK((vprintf), stdout, int, -1, (const char *fmt, va_list ap), (fmt, ap))
STREAM_HOOK((vfprintf), f, int, -1, (FILE *f, const char *fmt, va_list ap), (f, fmt, ap))
FD_HOOK((vdprintf), fd, int, -1, (int fd, const char *fmt, va_list ap), (fd, fmt, ap))

STREAM_HOOK((__vprintf_chk), stdout, int, -1, (int flag, const char *fmt, va_list ap),
	    (flag, fmt, ap))
STREAM_HOOK((__vfprintf_chk), f, int, -1, (FILE *f, int flag, const char *fmt, va_list ap),
	    (f, flag, fmt, ap))
FD_HOOK((__vdprintf_chk), fd, int, -1, (int fd, int flag, const char *fmt, va_list ap),
	(fd, flag, fmt, ap))
STREAM_HOOK((vwprintf), stdout, int, -1, (const wchar_t *fmt, va_list ap), (fmt, ap))
STREAM_HOOK((vfwprintf), f, int, -1, (FILE *f, const wchar_t *fmt, va_list ap), (f, fmt, ap))
STREAM_HOOK((__vwprintf_chk), stdout, int, -1, (int flag, const wchar_t *fmt, va_list ap),
	    (flag, fmt, ap))
STREAM_HOOK((__vfwprintf_chk), f, int, -1, (FILE *f, int flag, const wchar_t *fmt, va_list ap),
	    (f, flag, fmt, ap))

/* The printf family with '...': gated by its stream (or descriptor) as
 * its va_list twin above, then handed to the real 'vreal' with the
 * leading arguments 'pre' before the format. The last named parameter
 * is always 'fmt'. */
#define VA_STREAM_HOOK(names, ...) MID_HOOKS(names, VA_STREAM_HOOK1, __VA_ARGS__)
#define VA_STREAM_HOOK1(a, name) MID_CALL(VA_STREAM_HOOK_, name, MID_UNPACK a)
#define VA_STREAM_HOOK_(name, vreal, f, params, pre) \
	MID_EXPORT int name params \
	{ \
		va_list ap; \
		int rc; \
		GATE_STREAM_OR_FAIL(f, -1); \
		va_start(ap, fmt); \
		rc = REAL(vreal)(MID_UNPACK pre, fmt, ap); \
		va_end(ap); \
		return rc; \
	}
/* The same for a descriptor: a socket's bytes are counted from the result. */
#define VA_FD_HOOK(names, ...) MID_HOOKS(names, VA_FD_HOOK1, __VA_ARGS__)
#define VA_FD_HOOK1(a, name) MID_CALL(VA_FD_HOOK_, name, MID_UNPACK a)
#define VA_FD_HOOK_(name, vreal, params, pre) \
	MID_EXPORT int name params \
	{ \
		va_list ap; \
		int rc, sock; \
		GATE_FD_OR_FAIL(fd, -1); \
		sock = !mid_side_write(fd); \
		va_start(ap, fmt); \
		rc = REAL(vreal)(MID_UNPACK pre, fmt, ap); \
		va_end(ap); \
		if(sock) \
			mid_side_sent(rc); \
		return rc; \
	}

VA_STREAM_HOOK((printf), vfprintf, stdout, (const char *fmt, ...), (stdout))
VA_STREAM_HOOK((fprintf), vfprintf, f, (FILE *f, const char *fmt, ...), (f))
VA_FD_HOOK((dprintf), vdprintf, (int fd, const char *fmt, ...), (fd))
/* The fortified ones (-D_FORTIFY_SOURCE=2): 'flag' asks for the %n and
 * positional-argument checks. */
VA_STREAM_HOOK((__printf_chk), __vfprintf_chk, stdout, (int flag, const char *fmt, ...),
	       (stdout, flag))
VA_STREAM_HOOK((__fprintf_chk), __vfprintf_chk, f, (FILE *f, int flag, const char *fmt, ...),
	       (f, flag))
VA_FD_HOOK((__dprintf_chk), __vdprintf_chk, (int fd, int flag, const char *fmt, ...), (fd, flag))
VA_STREAM_HOOK((wprintf), vfwprintf, stdout, (const wchar_t *fmt, ...), (stdout))
VA_STREAM_HOOK((fwprintf), vfwprintf, f, (FILE *f, const wchar_t *fmt, ...), (f))
VA_STREAM_HOOK((__wprintf_chk), __vfwprintf_chk, stdout, (int flag, const wchar_t *fmt, ...),
	       (stdout, flag))
VA_STREAM_HOOK((__fwprintf_chk), __vfwprintf_chk, f,
	       (FILE *f, int flag, const wchar_t *fmt, ...), (f, flag))

MID_ALIAS(printf, _IO_printf)
MID_ALIAS(fprintf, _IO_fprintf)
MID_ALIAS(vfprintf, _IO_vfprintf)

/* ---- flush --------------------------------------------------------------- */

/* A flush is a boundary only when it has bytes to write: programs (bash
 * before every fork) flush empty streams all the time. glibc's FILE
 * keeps pending output between _IO_write_base and _IO_write_ptr. */
static int pending(FILE *f)
{
	return f && f->_IO_write_ptr > f->_IO_write_base;
}

/* glibc's stream list, walked as its own fflush(NULL) walks it. */
typedef FILE *mid_io_iter;
void _IO_list_lock(void);
void _IO_list_unlock(void);
mid_io_iter _IO_iter_begin(void);
mid_io_iter _IO_iter_end(void);
mid_io_iter _IO_iter_next(mid_io_iter it);
FILE *_IO_iter_file(mid_io_iter it);
#define MID_IO_LINE_BUF 0x0200 /* glibc's _IO_LINE_BUF flag */

static int gate_stream(FILE *f)
{
	GATE_STREAM_OR_FAIL(f, -1);
	return 0;
}

/*
 * Before bytes already in a stream's buffer are written: they were gated
 * when they went in, except those put there by the inline putc_unlocked
 * family, which no hook sees. A stream whose descriptor may not be
 * written now loses its pending bytes instead (the gate has logged it, or
 * ended the process). With 'linebuf', only line-buffered streams (what
 * _flushlbf flushes); with 'f', that one stream.
 */
MID_STARTUP static void gate_pending(FILE *f, int linebuf)
{
	mid_io_iter it;

	if(mid_in_shim || !mid_shim_ready)
		return;
	if(f) {
		if(pending(f) && gate_stream(f))
			f->_IO_write_ptr = f->_IO_write_base;
		return;
	}
	_IO_list_lock();
	for(it = _IO_iter_begin(); it != _IO_iter_end(); it = _IO_iter_next(it)) {
		f = _IO_iter_file(it);
		if(linebuf && !(f->_flags & MID_IO_LINE_BUF))
			continue;
		if(pending(f) && gate_stream(f))
			f->_IO_write_ptr = f->_IO_write_base;
	}
	_IO_list_unlock();
}

/* fflush(NULL) flushes every stream. */
#define FLUSH_HOOK(names) MID_HOOKS(names, FLUSH_HOOK1, 0)
#define FLUSH_HOOK1(a, name) \
	MID_EXPORT int name(FILE *f) \
	{ \
		int e = errno; \
		if(f && pending(f)) \
			GATE_STREAM_OR_FAIL(f, EOF); \
		else if(!f) \
			gate_pending(NULL, 0); \
		errno = e; \
		return REAL(name)(f); \
	}
FLUSH_HOOK((fflush, fflush_unlocked))
MID_ALIAS(fflush, _IO_fflush)

/* Every stream at once: fcloseall, glibc's _IO_flush_all, and exit
 * (below); the line-buffered ones: _flushlbf. 'ret_kw' is return, or
 * nothing for a void function. */
#define FLUSH_ALL_HOOK(names, ...) MID_HOOKS(names, FLUSH_ALL_HOOK1, __VA_ARGS__)
#define FLUSH_ALL_HOOK1(a, name) MID_CALL(FLUSH_ALL_HOOK_, name, MID_UNPACK a)
#define FLUSH_ALL_HOOK_(name, linebuf, ret, ret_kw) \
	REAL_DECL(name); \
	MID_EXPORT ret name(void) \
	{ \
		int e = errno; \
		gate_pending(NULL, linebuf); \
		errno = e; \
		ret_kw REAL(name)(); \
	}
int _IO_flush_all(void);
void _IO_flush_all_linebuffered(void);
FLUSH_ALL_HOOK((fcloseall, _IO_flush_all), 0, int, return)
FLUSH_ALL_HOOK((_flushlbf, _IO_flush_all_linebuffered), 1, void, )

/* The head of glibc's stream list (its type there is struct
 * _IO_FILE_plus, which begins with the FILE). */
extern FILE *_IO_list_all;

/*
 * May some stream hold unwritten bytes at exit? Most processes end with
 * none, and the locked walk costs a start the lazy binding of six libc
 * functions (5,000 instructions) and a libc page no small program
 * touches. With one thread nothing can change the list under us, so it
 * is read as is; with more, the locked walk looks.
 */
MID_STARTUP static int exit_pending(void)
{
	FILE *f;

	if(!__libc_single_threaded)
		return 1;
	for(f = _IO_list_all; f; f = f->_chain)
		if(pending(f))
			return 1;
	return 0;
}

/* exit flushes every stream after the program's atexit functions and
 * the libraries' destructors, this one among them. */
__attribute__((destructor)) MID_STARTUP static void gate_exit_flush(void)
{
	int e = errno;

	if(exit_pending())
		gate_pending(NULL, 0);
	errno = e;
}

/* fclose writes what is pending before it closes. */
void mid_stdio_gate_close(FILE *f)
{
	int e = errno;

	gate_pending(f, 0);
	errno = e;
}

/* ---- glibc's stream internals ------------------------------------------------ */

/* Exported for programs built against the libio of the 1990s; each puts
 * bytes into, or out of, the stream it is given. */
int _IO_do_write(FILE *f, const char *p, size_t n);
ssize_t _IO_file_write(FILE *f, const void *p, ssize_t n);
size_t _IO_file_xsputn(FILE *f, const void *p, size_t n);
int _IO_file_overflow(FILE *f, int c);
int _IO_file_sync(FILE *f);
int _IO_wdo_write(FILE *f, const wchar_t *p, size_t n);
size_t _IO_wfile_xsputn(FILE *f, const void *p, size_t n);
wint_t _IO_wfile_overflow(FILE *f, wint_t c);
int _IO_wfile_sync(FILE *f);
ssize_t _IO_padn(FILE *f, int pad, ssize_t n);
size_t _IO_default_xsputn(FILE *f, const void *p, size_t n);
size_t _IO_wdefault_xsputn(FILE *f, const void *p, size_t n);

STREAM_HOOK((_IO_do_write), f, int, EOF, (FILE *f, const char *p, size_t n), (f, p, n))
STREAM_HOOK((_IO_file_write), f, ssize_t, -1, (FILE *f, const void *p, ssize_t n), (f, p, n))
STREAM_HOOK((_IO_file_xsputn, _IO_default_xsputn, _IO_wfile_xsputn, _IO_wdefault_xsputn), f,
	    size_t, 0, (FILE *f, const void *p, size_t n), (f, p, n))
STREAM_HOOK((_IO_file_overflow), f, int, EOF, (FILE *f, int c), (f, c))
STREAM_HOOK((_IO_file_sync, _IO_wfile_sync), f, int, EOF, (FILE *f), (f))
STREAM_HOOK((_IO_wdo_write), f, int, EOF, (FILE *f, const wchar_t *p, size_t n), (f, p, n))
STREAM_HOOK((_IO_wfile_overflow), f, wint_t, WEOF, (FILE *f, wint_t c), (f, c))
STREAM_HOOK((_IO_padn), f, ssize_t, -1, (FILE *f, int pad, ssize_t n), (f, pad, n))
