/* SPDX-License-Identifier: MIT */
/*
 * The org key a gated program is given, read and checked the same way by
 * the shim at start and by the launcher: it must not be the admin key, and
 * no admin key may lie readable beside it, since with the admin key a
 * gated program could restore its own device.
 */
#define _GNU_SOURCE
#include "orgkey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Can this process read a regular file at 'dir'/'name'? Then 'found'
 * gets its path. */
static int readable(const char *dir, size_t dlen, const char *name, char *found,
                    size_t foundlen)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, ok;

	if(snprintf(path, sizeof(path), "%.*s/%s", (int)dlen, dir, name) >=
	   (int)sizeof(path))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if(fd < 0)
		return 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	close(fd);
	if(ok)
		snprintf(found, foundlen, "%s", path);
	return ok;
}

/* An admin key file in the directory of 'file' (as named, 'n' bytes of
 * it), in the default place `midd init --write-keys` puts it. */
static int beside(const char *file, char *found, size_t foundlen)
{
	const char *slash = strrchr(file, '/');
	const char *dir = slash ? file : ".";
	size_t dlen = slash ? (size_t)(slash - file) : 1;

	if(slash && dlen == 0)
		dlen = 1; /* "/org.key": the root */
	return readable(dir, dlen, MID_ADMIN_KEY_NAME, found, foundlen) ||
	       readable(dir, dlen, "admin/" MID_ADMIN_KEY_NAME, found, foundlen);
}

enum mid_rc mid_org_key_check(const char *key, const char *file, char *err, size_t errlen)
{
	char found[PATH_MAX], real[PATH_MAX];
	struct stat st;

	if(!strncmp(key, MID_ADMIN_KEY_PREFIX, strlen(MID_ADMIN_KEY_PREFIX))) {
		snprintf(
		    err, errlen,
		    "%s%.256s holds an admin key (%s...): a gated program must "
		    "hold only the org key, or it could restore its own device; give it "
		    "the org key (org.key of `midd init --write-keys`)",
		    file ? "MIDSHIM_ORG_KEY_FILE=" : "MIDSHIM_ORG_KEY", file ? file : "",
		    MID_ADMIN_KEY_PREFIX);
		return MID_ERR_INVAL;
	}
	/* The kernel resolves a linked directory on the way to 'file' the
	 * same way for the admin key beside it; only a link as the file
	 * itself points to another directory (realpath costs a system call
	 * per component, in every gated start). */
	if(file && (beside(file, found, sizeof(found)) ||
	            (lstat(file, &st) == 0 && S_ISLNK(st.st_mode) &&
	             realpath(file, real) && beside(real, found, sizeof(found))))) {
		snprintf(err, errlen,
		         "%.256s, beside the org key, is readable by this program: "
		         "with the admin key it could restore its own device; make it "
		         "readable "
		         "by the operator only (0400, another owner) or move it away, or "
		         "run the "
		         "program as another user",
		         found);
		return MID_ERR_INVAL;
	}
	return MID_OK;
}
