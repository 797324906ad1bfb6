/* SPDX-License-Identifier: MIT */
/*
 * Key generation, hashing and the optional key files of `midd init`.
 */
#define _GNU_SOURCE
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum mid_rc mid_keys_generate(enum mid_key_kind kind, char out[MID_KEY_LEN + 1])
{
	unsigned char b[32];
	const char *prefix = kind == MID_KEY_ADMIN ? MID_KEY_ADMIN_PREFIX : MID_KEY_ORG_PREFIX;

	if(mid_random(b, sizeof(b)))
		return MID_ERR_IO;
	memcpy(out, prefix, 8);
	mid_hex(b, sizeof(b), out + 8);
	memset(b, 0, sizeof(b));
	return MID_OK;
}

void mid_keys_hash(const char *key, unsigned char out[MID_SHA256_LEN])
{
	mid_sha256(key, strlen(key), out);
}

/* Write 'key' and a newline to 'dir'/'name', created with 'mode'; a
 * 'gid' other than -1 becomes the file's group. */
static enum mid_rc write_one(const char *dir, const char *name, const char *key, mode_t mode,
			     gid_t gid, char *err, size_t errlen)
{
	char path[4096];
	enum mid_rc rc = MID_OK;
	size_t len = strlen(key);
	int fd;

	if(snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		snprintf(err, errlen, "key directory path too long: %s", dir);
		return MID_ERR_TOO_BIG;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if(fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (remove the old key file first)" : "");
		return MID_ERR_IO;
	}
	/* The mode is set on the open file, after the group: the key is
	 * never readable by anyone the caller did not name. */
	if((gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid)) || fchmod(fd, mode) ||
	   write(fd, key, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = MID_ERR_IO;
	}
	if(close(fd) && rc == MID_OK) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = MID_ERR_IO;
	}
	if(rc)
		unlink(path);
	return rc;
}

/* Make 'dir' a directory (created 0700, or 0750 with group 'gid'). */
static enum mid_rc make_dir(const char *dir, gid_t gid, char *err, size_t errlen)
{
	struct stat sb;

	if(mkdir(dir, 0700) == 0) {
		if(gid != (gid_t)-1 && (chown(dir, (uid_t)-1, gid) || chmod(dir, 0750))) {
			snprintf(err, errlen, "cannot give %s to group %u: %s", dir, (unsigned)gid,
				 strerror(errno));
			return MID_ERR_IO;
		}
	} else if(errno != EEXIST) {
		snprintf(err, errlen, "cannot create key directory %s: %s", dir, strerror(errno));
		return MID_ERR_IO;
	}
	if(stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return MID_ERR_IO;
	}
	return MID_OK;
}

enum mid_rc mid_keys_write(const char *dir, const char *admin_dir, gid_t gid,
			   const char *org_key, const char *admin_key, char *err, size_t errlen)
{
	enum mid_rc rc;

	rc = make_dir(dir, gid, err, errlen);
	if(!rc)
		rc = make_dir(admin_dir, (gid_t)-1, err, errlen);
	if(!rc)
		rc = write_one(dir, "org.key", org_key, gid != (gid_t)-1 ? 0640 : 0600, gid, err,
			       errlen);
	if(rc)
		return rc;
	rc = write_one(admin_dir, "admin.key", admin_key, 0400, (gid_t)-1, err, errlen);
	if(rc) {
		char p[4096];

		snprintf(p, sizeof(p), "%s/org.key", dir);
		unlink(p);
	}
	return rc;
}
