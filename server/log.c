/* SPDX-License-Identifier: MIT */
/*
 * Line-oriented logging to stderr. Each line is formatted into one buffer
 * and written with a single write(2), so lines from concurrent threads do
 * not interleave.
 */
#define _GNU_SOURCE
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int quiet;

static void emit(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void emit(const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "midd: ");

	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if(n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if(write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}

void mid_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}

void mid_log_request(const char *fmt, ...)
{
	va_list ap;

	if(quiet)
		return;
	va_start(ap, fmt);
	emit(fmt, ap);
	va_end(ap);
}

void mid_log_set_quiet(int q)
{
	quiet = q;
}
