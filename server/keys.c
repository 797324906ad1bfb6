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

static enum mid_rc write_one(const char *dir, const char *name, const char *key,
			     char *err, size_t errlen)
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
	if(write(fd, key, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd)) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = MID_ERR_IO;
	}
	if(close(fd) && rc == MID_OK) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = MID_ERR_IO;
	}
	return rc;
}

enum mid_rc mid_keys_write(const char *dir, const char *org_key, const char *admin_key,
			   char *err, size_t errlen)
{
	struct stat sb;
	enum mid_rc rc;

	if(mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create key directory %s: %s", dir, strerror(errno));
		return MID_ERR_IO;
	}
	if(stat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return MID_ERR_IO;
	}
	rc = write_one(dir, "org.key", org_key, err, errlen);
	if(rc)
		return rc;
	return write_one(dir, "admin.key", admin_key, err, errlen);
}
