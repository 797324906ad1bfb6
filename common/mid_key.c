/* SPDX-License-Identifier: MIT */
/*
 * The one key-file reader, for the shim's MIDSHIM_ORG_KEY_FILE, midctl's
 * key files and the benchmarks. See mid_key.h.
 */
#define _GNU_SOURCE
#include "mid_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool mid_key_ok(const char *key)
{
	size_t i;

	for(i = 0; key[i]; i++)
		if((unsigned char)key[i] <= ' ' || (unsigned char)key[i] == 0x7f)
			return false;
	return i > 0 && i <= MID_KEY_MAX;
}

/* Read the first line, up to 'keylen' - 1 bytes, into 'key'. */
static enum mid_rc first_line(int fd, char *key, size_t keylen, char *err, size_t errlen)
{
	size_t got = 0;

	while(got < keylen - 1) {
		ssize_t n = read(fd, key + got, keylen - 1 - got);

		if(n < 0 && errno == EINTR)
			continue;
		if(n < 0) {
			snprintf(err, errlen, "cannot read it: %s", strerror(errno));
			return MID_ERR_IO;
		}
		if(n == 0)
			break;
		if(memchr(key + got, '\n', (size_t)n)) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	key[got] = '\0';
	if(got == keylen - 1 && !memchr(key, '\n', got)) {
		char next = '\n';

		/* The buffer is full: the line fits only if it ends here. */
		if(read(fd, &next, 1) == 1 && next != '\n' && next != '\r') {
			snprintf(err, errlen, "its first line is longer than %zu bytes",
			         keylen - 1);
			return MID_ERR_TOO_BIG;
		}
	}
	key[strcspn(key, "\n")] = '\0';
	return MID_OK;
}

enum mid_rc mid_key_read_file(const char *path, char *key, size_t keylen, bool *shared,
                              char *err, size_t errlen)
{
	enum mid_rc rc = MID_ERR_IO;
	struct stat st;
	size_t n;
	int fd;

	key[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		goto out;
	}
	rc = MID_ERR_INVAL;
	if(!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "it is not a regular file");
		goto out;
	}
	if(shared)
		*shared = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
	rc = first_line(fd, key, keylen, err, errlen);
	if(rc)
		goto out;
	n = strlen(key);
	while(n > 0 && (key[n - 1] == ' ' || key[n - 1] == '\t' || key[n - 1] == '\r'))
		key[--n] = '\0';
	rc = MID_ERR_INVAL;
	if(!n)
		snprintf(err, errlen, "its first line is empty; it should hold the key");
	else if(n > MID_KEY_MAX)
		snprintf(err, errlen, "the key is longer than %d bytes", MID_KEY_MAX);
	else if(!mid_key_ok(key))
		snprintf(err, errlen, "the key holds a space or a control character");
	else
		rc = MID_OK;
out:
	if(fd >= 0)
		close(fd);
	if(rc)
		explicit_bzero(key, keylen);
	return rc;
}
