/* SPDX-License-Identifier: MIT */
/*
 * The journal file is a header block and MID_JOURNAL_SLOTS slots, all of
 * MID_JOURNAL_SLOT_BYTES. It is created under a temporary name, filled
 * with zeros (not fallocate: an extent that is only reserved may still
 * need metadata blocks at its first write), synced and renamed, so a
 * journal that exists is whole. A slot is a small header (magic, payload
 * length, sequence number, the first 16 bytes of a SHA-256 over header
 * and payload) and the payload: time, org, and five length-prefixed
 * strings of the change's audit row.
 */
#define _GNU_SOURCE
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

#define HEADER_TEXT "midshim deny journal 1\n"
#define SLOT_MAGIC 0x4a444d31u
#define SLOT_HEAD 32
#define SUM_LEN 16
#define FILE_BYTES ((size_t)(MID_JOURNAL_SLOTS + 1) * MID_JOURNAL_SLOT_BYTES)

struct mid_journal {
	int fd;
	uint64_t seq;                      /* of the next write */
	uint64_t slot_seq[MID_JOURNAL_SLOTS]; /* 0: free */
	size_t used;
};

static void put_str(unsigned char **p, const char *s)
{
	uint16_t n = (uint16_t)strlen(s);

	memcpy(*p, &n, 2);
	memcpy(*p + 2, s, n);
	*p += 2 + n;
}

/* Read a string written by put_str; 0 when it does not fit 'out' or runs
 * past 'end'. */
static int get_str(const unsigned char **p, const unsigned char *end, char *out, size_t outlen)
{
	uint16_t n;

	if(end - *p < 2)
		return 0;
	memcpy(&n, *p, 2);
	if((size_t)n >= outlen || end - *p - 2 < n)
		return 0;
	memcpy(out, *p + 2, n);
	out[n] = '\0';
	*p += 2 + n;
	return 1;
}

static void checksum(const unsigned char *slot, size_t payload, unsigned char sum[SUM_LEN])
{
	unsigned char h[MID_SHA256_LEN];
	struct mid_sha256 s;

	mid_sha256_init(&s);
	mid_sha256_update(&s, slot, 16);
	mid_sha256_update(&s, slot + SLOT_HEAD, payload);
	mid_sha256_final(&s, h);
	memcpy(sum, h, SUM_LEN);
}

static void encode(unsigned char slot[MID_JOURNAL_SLOT_BYTES], uint64_t seq,
		   const struct mid_audit_row *r)
{
	uint32_t magic = SLOT_MAGIC;
	unsigned char *p = slot + SLOT_HEAD;
	uint16_t len;

	memset(slot, 0, MID_JOURNAL_SLOT_BYTES);
	memcpy(p, &r->time_ms, 8);
	memcpy(p + 8, &r->org_id, 8);
	p += 16;
	/* Every field is bounded by its array in the row: the largest
	 * payload, 16 + 5 * 2 + 256 + 23 + 23 + 63 + 63 bytes, fits. */
	put_str(&p, r->device);
	put_str(&p, r->route);
	put_str(&p, r->decision);
	put_str(&p, r->request_id);
	put_str(&p, r->peer);
	len = (uint16_t)(p - slot - SLOT_HEAD);
	memcpy(slot, &magic, 4);
	memcpy(slot + 4, &len, 2);
	memcpy(slot + 8, &seq, 8);
	checksum(slot, len, slot + 16);
}

/* The change in 'slot' and its sequence number; 0 for an empty or torn
 * slot. */
static int decode(const unsigned char slot[MID_JOURNAL_SLOT_BYTES], uint64_t *seq,
		  struct mid_audit_row *r)
{
	const unsigned char *p = slot + SLOT_HEAD, *end;
	unsigned char sum[SUM_LEN];
	uint32_t magic;
	uint16_t len;

	memcpy(&magic, slot, 4);
	memcpy(&len, slot + 4, 2);
	if(magic != SLOT_MAGIC || len < 16 || len > MID_JOURNAL_SLOT_BYTES - SLOT_HEAD)
		return 0;
	checksum(slot, len, sum);
	if(!mid_ct_equal(sum, slot + 16, SUM_LEN))
		return 0;
	end = p + len;
	memset(r, 0, sizeof(*r));
	memcpy(seq, slot + 8, 8);
	memcpy(&r->time_ms, p, 8);
	memcpy(&r->org_id, p + 8, 8);
	p += 16;
	return get_str(&p, end, r->device, sizeof(r->device)) &&
	       get_str(&p, end, r->route, sizeof(r->route)) &&
	       get_str(&p, end, r->decision, sizeof(r->decision)) &&
	       get_str(&p, end, r->request_id, sizeof(r->request_id)) &&
	       get_str(&p, end, r->peer, sizeof(r->peer)) && *seq != 0;
}

static void header(unsigned char block[MID_JOURNAL_SLOT_BYTES])
{
	uint32_t v[2] = {MID_JOURNAL_SLOTS, MID_JOURNAL_SLOT_BYTES};

	memset(block, 0, MID_JOURNAL_SLOT_BYTES);
	memcpy(block, HEADER_TEXT, sizeof(HEADER_TEXT) - 1);
	memcpy(block + 32, v, sizeof(v));
}

static int write_all(int fd, const void *buf, size_t n, off_t off)
{
	const unsigned char *p = buf;

	while(n) {
		ssize_t w = pwrite(fd, p, n, off);
		if(w < 0 && errno == EINTR)
			continue;
		if(w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static void sync_dir(const char *path)
{
	char buf[4096];
	int fd;

	if(mid_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return;
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Make a new, whole journal at 'path'; its descriptor, or -1 with 'err'. */
static int create(const char *path, char *err, size_t errlen)
{
	unsigned char *buf = calloc(1, FILE_BYTES);
	char tmp[4200];
	int fd = -1;

	if(!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	header(buf);
	if(fd < 0 || write_all(fd, buf, FILE_BYTES, 0) || fsync(fd) || rename(tmp, path)) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		if(fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		fd = -1;
	} else {
		sync_dir(path);
	}
	free(buf);
	return fd;
}

enum mid_rc mid_journal_open(const char *path, struct mid_journal **out, char *err, size_t errlen)
{
	unsigned char *buf = NULL, want[MID_JOURNAL_SLOT_BYTES];
	struct mid_journal *j;
	enum mid_rc rc = MID_ERR_IO;
	struct mid_audit_row r;
	struct stat sb;
	size_t i;
	ssize_t n;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if(!j)
		return MID_ERR_NOMEM;
	j->seq = 1;
	j->fd = open(path, O_RDWR | O_CLOEXEC);
	if(j->fd < 0 && errno == ENOENT)
		j->fd = create(path, err, errlen);
	else if(j->fd < 0)
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if(j->fd < 0)
		goto out;
	buf = malloc(FILE_BYTES);
	if(!buf) {
		rc = MID_ERR_NOMEM;
		goto out;
	}
	header(want);
	if(fstat(j->fd, &sb) || (size_t)sb.st_size != FILE_BYTES ||
	   (n = pread(j->fd, buf, FILE_BYTES, 0)) < 0 || (size_t)n != FILE_BYTES ||
	   memcmp(buf, want, sizeof(want))) {
		snprintf(err, errlen, "%s is not a midd deny journal of %zu bytes; it may hold "
			 "revocations not yet in the database: inspect it, then move it aside to "
			 "start", path, FILE_BYTES);
		rc = MID_ERR_PARSE;
		goto out;
	}
	for(i = 0; i < MID_JOURNAL_SLOTS; i++) {
		uint64_t seq;
		if(!decode(buf + (i + 1) * MID_JOURNAL_SLOT_BYTES, &seq, &r))
			continue;
		j->slot_seq[i] = seq;
		j->used++;
		if(seq >= j->seq)
			j->seq = seq + 1;
	}
	rc = MID_OK;
out:
	free(buf);
	if(rc) {
		mid_journal_free(j);
		j = NULL;
	}
	*out = j;
	return rc;
}

void mid_journal_free(struct mid_journal *j)
{
	if(!j)
		return;
	if(j->fd >= 0)
		close(j->fd);
	free(j);
}

void mid_journal_each(struct mid_journal *j, mid_journal_fn fn, void *arg)
{
	unsigned char slot[MID_JOURNAL_SLOT_BYTES];
	uint64_t last = 0;

	/* Oldest first: the few slots in use, by ascending sequence. */
	for(;;) {
		struct mid_audit_row r;
		uint64_t best = 0, seq;
		size_t i, at = 0;

		for(i = 0; i < MID_JOURNAL_SLOTS; i++)
			if(j->slot_seq[i] > last && (!best || j->slot_seq[i] < best)) {
				best = j->slot_seq[i];
				at = i;
			}
		if(!best)
			return;
		last = best;
		if(pread(j->fd, slot, sizeof(slot), (off_t)((at + 1) * MID_JOURNAL_SLOT_BYTES)) ==
			   (ssize_t)sizeof(slot) && decode(slot, &seq, &r))
			fn((int)at, &r, arg);
	}
}

/* The journal file is still in the file system: a write to an unlinked
 * one would be acknowledged and lost. */
static int linked(const struct mid_journal *j)
{
	struct stat sb;

	return !fstat(j->fd, &sb) && sb.st_nlink > 0;
}

enum mid_rc mid_journal_put(struct mid_journal *j, int *slot, const struct mid_audit_row *row)
{
	unsigned char buf[MID_JOURNAL_SLOT_BYTES];
	int at = *slot;

	if(at < 0) {
		for(at = 0; at < MID_JOURNAL_SLOTS && j->slot_seq[at]; at++)
			;
		if(at == MID_JOURNAL_SLOTS)
			return MID_ERR_TOO_BIG;
	}
	if(!linked(j))
		return MID_ERR_IO;
	encode(buf, j->seq, row);
	if(write_all(j->fd, buf, sizeof(buf), (off_t)(at + 1) * MID_JOURNAL_SLOT_BYTES) ||
	   fdatasync(j->fd))
		return MID_ERR_IO;
	if(!j->slot_seq[at])
		j->used++;
	j->slot_seq[at] = j->seq++;
	*slot = at;
	return MID_OK;
}

enum mid_rc mid_journal_clear(struct mid_journal *j, int slot)
{
	unsigned char buf[MID_JOURNAL_SLOT_BYTES] = {0};

	if(slot < 0 || slot >= MID_JOURNAL_SLOTS || !j->slot_seq[slot])
		return MID_OK;
	if(write_all(j->fd, buf, sizeof(buf), (off_t)(slot + 1) * MID_JOURNAL_SLOT_BYTES) ||
	   fdatasync(j->fd))
		return MID_ERR_IO;
	j->slot_seq[slot] = 0;
	j->used--;
	return MID_OK;
}

size_t mid_journal_used(const struct mid_journal *j)
{
	return j->used;
}
