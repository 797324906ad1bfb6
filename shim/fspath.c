/* SPDX-License-Identifier: MIT */
/*
 * Paths for file-system events: a hook is handed a path relative to the
 * working directory or to a directory descriptor, and a rule names an
 * absolute one. The path is made absolute and lexically normal ('.', '..'
 * and repeated '/' removed) without asking the file system what it is:
 * the file may not exist yet, and a realpath per open would cost several
 * system calls. Everything works in the caller's buffer, no allocation.
 */
#define _GNU_SOURCE
#include "fspath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Append the components of 'path' to the normal absolute path held in
 * 'out' ('*len' bytes, no trailing '/', "" for the root). '..' drops the
 * last component and stops at the root, as the kernel does for "/..".
 */
static enum mid_rc append(char *out, size_t outlen, size_t *len, const char *path)
{
	const char *p = path, *end;
	size_t n;

	while(*p) {
		while(*p == '/')
			p++;
		end = p;
		while(*end && *end != '/')
			end++;
		n = (size_t)(end - p);
		if(n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing: an empty or "." component */
		} else if(n == 2 && p[0] == '.' && p[1] == '.') {
			while(*len > 0 && out[*len - 1] != '/')
				(*len)--;
			if(*len > 0)
				(*len)--;
		} else {
			if(*len + 1 + n + 1 > outlen)
				return MID_ERR_TOO_BIG;
			out[(*len)++] = '/';
			memcpy(out + *len, p, n);
			*len += n;
		}
		p = end;
	}
	return MID_OK;
}

static enum mid_rc finish(char *out, size_t outlen, size_t len)
{
	if(outlen < 2)
		return MID_ERR_TOO_BIG;
	if(len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return MID_OK;
}

enum mid_rc mid_path_join(const char *base, const char *path, char *out, size_t outlen)
{
	size_t len = 0;
	enum mid_rc rc = MID_OK;

	if(!out || outlen < 2)
		return MID_ERR_TOO_BIG;
	if(!path)
		path = "";
	if(path[0] != '/') {
		if(!base || base[0] != '/')
			return MID_ERR_INVAL;
		rc = append(out, outlen, &len, base);
	}
	if(rc == MID_OK)
		rc = append(out, outlen, &len, path);
	if(rc == MID_OK)
		rc = finish(out, outlen, len);
	if(rc)
		out[0] = '\0';
	return rc;
}

void mid_path_fd(int fd, char *out, size_t outlen)
{
	char link[64];
	ssize_t n;
	int e = errno;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = outlen > 1 ? readlink(link, out, outlen - 1) : -1;
	if(n > 0 && (size_t)n < outlen - 1)
		out[n] = '\0';
	else
		mid_strlcpy(out, link, outlen);
	errno = e;
}

/* Write the directory 'dirfd' stands for into 'out'. On MID_ERR_IO errno
 * says why, as the call itself would have failed. */
static enum mid_rc base_of(int dirfd, char *out, size_t outlen)
{
	char link[64];
	ssize_t n;

	if(dirfd == AT_FDCWD) {
		if(getcwd(out, outlen))
			return MID_OK;
		return errno == ERANGE ? MID_ERR_TOO_BIG : MID_ERR_IO;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, out, outlen - 1);
	if(n < 0) {
		/* No such link: the descriptor is not open. */
		if(errno == ENOENT)
			errno = EBADF;
		return MID_ERR_IO;
	}
	if((size_t)n >= outlen - 1)
		return MID_ERR_TOO_BIG;
	out[n] = '\0';
	if(out[0] != '/') {
		/* A socket, pipe or anonymous inode: not a directory. */
		errno = ENOTDIR;
		return MID_ERR_IO;
	}
	return MID_OK;
}

enum mid_rc mid_path_abs(int dirfd, const char *path, char *out, size_t outlen)
{
	enum mid_rc rc = MID_OK;
	size_t len = 0;
	int e = errno;

	if(!out || outlen < 2) {
		rc = MID_ERR_TOO_BIG;
		goto out;
	}
	if(!path)
		path = "";
	if(path[0] != '/') {
		/* The base comes from the kernel, already absolute and
		 * normal, so it goes straight into 'out'. */
		rc = base_of(dirfd, out, outlen);
		if(rc == MID_ERR_IO)
			e = errno;
		if(rc)
			goto out;
		len = strlen(out);
		if(len == 1)
			len = 0; /* the root is held as "" while appending */
	}
	rc = append(out, outlen, &len, path);
	if(rc == MID_OK)
		rc = finish(out, outlen, len);
out:
	if(rc && out && outlen > 0)
		out[0] = '\0';
	if(rc == MID_ERR_TOO_BIG)
		e = ENAMETOOLONG;
	errno = e;
	return rc;
}

enum mid_fsop mid_open_op(int dirfd, const char *path, int flags)
{
	enum mid_fsop op = MID_FS_OPEN;
	int e;

	if((flags & O_TMPFILE) == O_TMPFILE) {
		op = MID_FS_CREATE;
	} else if(flags & O_CREAT) {
		e = errno;
		if((flags & O_EXCL) || faccessat(dirfd, path, F_OK, 0) != 0)
			op = MID_FS_CREATE;
		else if(flags & O_TRUNC)
			op = MID_FS_TRUNCATE;
		errno = e;
	} else if(flags & O_TRUNC) {
		op = MID_FS_TRUNCATE;
	}
	return op;
}
