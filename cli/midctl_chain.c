/* SPDX-License-Identifier: MIT */
/*
 * midctl audit export and audit verify: the org's audit trail with its
 * hash chain and signed checkpoints (common/chain.h), as JSON lines, and
 * their check, against midd or against a file exported before, which
 * needs only midd's public key.
 */
#define _GNU_SOURCE
#include "midctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"

#define PAGE 200        /* rows asked for at once: replies stay far below the cap */
#define CKPT_MAX 100000 /* checkpoints kept for one verify */
#define LINE_MAX 16384  /* one exported line */

struct ckpt {
	int64_t seq, time_ms;
	unsigned char hash[MID_SHA256_LEN], sig[MID_ED25519_SIG];
};

struct verify {
	int64_t org;
	unsigned char pub[MID_ED25519_PUB];
	int have_pub;
	struct ckpt *cp;
	size_t ncp, cap, next_cp; /* next_cp: the first checkpoint not yet met */
	struct mid_chain_check v;
	int failed;
};

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jnum(const cJSON *o, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if(!cJSON_IsNumber(v))
		return 0;
	*out = (int64_t)v->valuedouble;
	return 1;
}

static int take_ckpt(struct verify *x, const cJSON *o)
{
	const char *h = jstr(o, "hash"), *s = jstr(o, "signature");
	struct ckpt c;

	memset(&c, 0, sizeof(c));
	if(!jnum(o, "seq", &c.seq) || !jnum(o, "time_ms", &c.time_ms) || !h || !s ||
	   !mid_unhex(h, c.hash, sizeof(c.hash)) || !mid_unhex(s, c.sig, sizeof(c.sig))) {
		mid_ctl_err("audit verify: a checkpoint is malformed");
		return -1;
	}
	if(x->ncp == x->cap) {
		size_t n = x->cap ? 2 * x->cap : 64;
		struct ckpt *p = n <= CKPT_MAX ? realloc(x->cp, n * sizeof(*p)) : NULL;

		if(!p) {
			mid_ctl_err("audit verify: too many checkpoints");
			return -1;
		}
		x->cp = p;
		x->cap = n;
	}
	x->cp[x->ncp++] = c;
	return 0;
}

/* Every checkpoint's signature, before any row is looked at. */
static int check_sigs(struct verify *x)
{
	char text[256];
	size_t i, n;

	for(i = 0; i < x->ncp; i++) {
		if(i && x->cp[i].seq <= x->cp[i - 1].seq) {
			mid_ctl_err("audit verify: the checkpoints are out of order at seq %" PRId64,
				    x->cp[i].seq);
			return -1;
		}
		n = mid_chain_ckpt_text(x->org, x->cp[i].seq, x->cp[i].hash, x->cp[i].time_ms, text,
					sizeof(text));
		if(!mid_chain_sig_ok(x->pub, text, n, x->cp[i].sig)) {
			mid_ctl_err("audit verify: FAILED: the checkpoint at seq %" PRId64 " is not"
				    " signed by this public key (forged, edited, or another midd's)",
				    x->cp[i].seq);
			return -1;
		}
	}
	return 0;
}

/* One row, in the order written. 0 to go on, -1 when the chain broke. */
static int take_row(struct verify *x, const cJSON *o)
{
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	const char *hx = jstr(o, "hash");
	unsigned char hash[MID_SHA256_LEN];
	struct mid_chain_row r;
	int64_t id = 0;
	int has;

	memset(&r, 0, sizeof(r));
	if(!jnum(o, "id", &id) || !jnum(o, "time_ms", &r.time_ms)) {
		mid_ctl_err("audit verify: a row is malformed");
		return -1;
	}
	has = cJSON_IsNumber(seq) && hx && mid_unhex(hx, hash, sizeof(hash));
	if(has)
		r.seq = (int64_t)seq->valuedouble;
	r.org_id = x->org;
	r.device = jstr(o, "deviceId");
	r.route = jstr(o, "route");
	r.decision = jstr(o, "decision");
	r.code = jstr(o, "code");
	r.request_id = jstr(o, "request_id");
	r.peer = jstr(o, "peer");
	r.detail = jstr(o, "detail");
	if(!mid_chain_check_row(&x->v, id, has, &r, has ? hash : NULL)) {
		mid_ctl_err("audit verify: FAILED: %s", x->v.why);
		return -1;
	}
	if(has && x->next_cp < x->ncp && x->cp[x->next_cp].seq == r.seq) {
		if(memcmp(x->cp[x->next_cp].hash, x->v.prev, MID_SHA256_LEN)) {
			mid_ctl_err("audit verify: FAILED: the rows up to seq %" PRId64 " do not"
				    " match the checkpoint signed there: rewritten (edited, removed or"
				    " inserted, and hashed again) at or before row id %" PRId64,
				    r.seq, id);
			return -1;
		}
		x->next_cp++;
	}
	return 0;
}

/* After the last row: what the checkpoints cover must be there. */
static int finish(struct verify *x)
{
	int64_t last = x->v.next_seq - 1;

	if(x->next_cp < x->ncp) {
		mid_ctl_err("audit verify: FAILED: the rows after seq %" PRId64 " were removed: a"
			    " checkpoint signed at seq %" PRId64 " covers them", last,
			    x->cp[x->ncp - 1].seq);
		return MID_CTL_EXIT_REFUSED;
	}
	printf("audit chain verified: %" PRIu64 " rows, seq 1 to %" PRId64 ", %zu signed"
	       " checkpoint(s)%s", x->v.rows - x->v.prefix, last, x->ncp,
	       x->ncp ? "" : " (none yet: the order and content are proven, not the end)");
	if(x->ncp)
		printf(", the last at seq %" PRId64, x->cp[x->ncp - 1].seq);
	if(x->v.prefix)
		printf("; %" PRIu64 " older row(s) before the chain began", x->v.prefix);
	printf("\n");
	if(x->ncp && x->cp[x->ncp - 1].seq < last)
		printf("rows after seq %" PRId64 " are not yet under a checkpoint: midd signs one"
		       " every N rows and at stop\n", x->cp[x->ncp - 1].seq);
	return MID_CTL_EXIT_OK;
}

static int set_pub(struct verify *x, const char *hex, const char *what)
{
	if(!hex || !mid_unhex(hex, x->pub, sizeof(x->pub))) {
		mid_ctl_err("audit verify: %s is not a public key (64 hex digits)", what);
		return -1;
	}
	x->have_pub = 1;
	return 0;
}

/* One page of midd's chain after row 'after'; '*next' the row to go on
 * after, -1 at the end. The first page holds the header and checkpoints. */
static int page(struct mid_ctl *c, int64_t after, struct mid_ctl_reply *r, int64_t *next)
{
	char path[96], err[256];
	enum mid_rc rc;
	const cJSON *n;

	snprintf(path, sizeof(path), "/api/v1/audit/chain?after=%" PRId64 "&limit=%d", after, PAGE);
	rc = mid_ctl_http_call(c->http, "GET", path, NULL, r, err, sizeof(err));
	if(rc) {
		mid_ctl_err("audit: %s", err);
		return rc == MID_ERR_UNREACHABLE || rc == MID_ERR_TIMEOUT ? MID_CTL_EXIT_UNREACHABLE :
									     MID_CTL_EXIT_REFUSED;
	}
	if(r->status != 200 || !cJSON_IsObject(r->json) ||
	   !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r->json, "rows"))) {
		mid_ctl_err("audit: midd answered HTTP %ld to the chain: %.300s", r->status,
			    r->body ? r->body : "");
		return MID_CTL_EXIT_REFUSED;
	}
	n = cJSON_GetObjectItemCaseSensitive(r->json, "next");
	*next = cJSON_IsNumber(n) ? (int64_t)n->valuedouble : -1;
	return MID_CTL_EXIT_OK;
}

static void print_line(const char *type, cJSON *o)
{
	char *s;

	cJSON_DeleteItemFromObjectCaseSensitive(o, "type");
	cJSON_AddStringToObject(o, "type", type);
	s = cJSON_PrintUnformatted(o);
	if(s)
		puts(s);
	free(s);
}

/* Walk midd's chain: export prints each line, verify checks it. */
static int walk(struct mid_ctl *c, struct verify *x, int export, const char *pub)
{
	struct mid_ctl_reply r = {0};
	int64_t after = 0, next;
	cJSON *e, *cps = NULL;
	int ex;

	do {
		ex = page(c, after, &r, &next);
		if(ex)
			break;
		if(!after) {
			const cJSON *org = cJSON_GetObjectItemCaseSensitive(r.json, "org");

			x->org = cJSON_IsNumber(org) ? (int64_t)org->valuedouble : 0;
			cps = cJSON_DetachItemFromObjectCaseSensitive(r.json, "checkpoints");
			if(export) {
				cJSON *h = cJSON_CreateObject();

				cJSON_AddStringToObject(h, "format", MID_CHAIN_FORMAT);
				cJSON_AddNumberToObject(h, "org", (double)x->org);
				cJSON_AddStringToObject(h, "public_key", jstr(r.json, "public_key") ?
									 jstr(r.json, "public_key") : "");
				print_line("header", h);
				cJSON_Delete(h);
			} else {
				ex = MID_CTL_EXIT_REFUSED;
				if(set_pub(x, pub ? pub : jstr(r.json, "public_key"),
					   pub ? "--public-key" : "midd's key"))
					break;
				cJSON_ArrayForEach(e, cps) {
					if(take_ckpt(x, e))
						goto out;
				}
				if(check_sigs(x))
					break;
				ex = MID_CTL_EXIT_OK;
			}
		}
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.json, "rows")) {
			if(export) {
				print_line("row", e);
			} else if(take_row(x, e)) {
				ex = MID_CTL_EXIT_REFUSED;
				goto out;
			}
		}
		mid_ctl_reply_cleanup(&r);
		after = next;
	} while(next >= 0);
	if(!ex && export) {
		cJSON_ArrayForEach(e, cps) {
			print_line("checkpoint", e);
		}
	}
	if(!ex && !export)
		ex = finish(x);
out:
	mid_ctl_reply_cleanup(&r);
	cJSON_Delete(cps);
	return ex;
}

int mid_ctl_audit_export(struct mid_ctl *c)
{
	struct verify x;

	memset(&x, 0, sizeof(x));
	return walk(c, &x, 1, NULL);
}

/* The file's lines: the header and checkpoints first (pass 0), then the
 * rows (pass 1). */
static int verify_file(struct verify *x, const char *path, const char *pub)
{
	char *line = malloc(LINE_MAX);
	int pass, ex = MID_CTL_EXIT_REFUSED;
	unsigned long n;
	FILE *f = fopen(path, "re");

	if(!f || !line) {
		mid_ctl_err("audit verify: cannot read %s", path);
		goto out;
	}
	for(pass = 0; pass < 2; pass++) {
		rewind(f);
		for(n = 1; fgets(line, LINE_MAX, f); n++) {
			cJSON *o = cJSON_Parse(line);
			const char *type = jstr(o, "type");
			int bad = 0;

			if(!o || !type) {
				mid_ctl_err("audit verify: %s:%lu: not a line of an audit export", path, n);
				cJSON_Delete(o);
				goto out;
			}
			if(pass == 0 && !strcmp(type, "header")) {
				int64_t org = 0;

				bad = !jnum(o, "org", &org) ||
				      set_pub(x, pub ? pub : jstr(o, "public_key"),
					      pub ? "--public-key" : "the file's key");
				x->org = org;
			} else if(pass == 0 && !strcmp(type, "checkpoint")) {
				bad = take_ckpt(x, o) != 0;
			} else if(pass == 1 && !strcmp(type, "row")) {
				bad = take_row(x, o) != 0;
			}
			cJSON_Delete(o);
			if(bad)
				goto out;
		}
		if(pass == 0 && (!x->have_pub || check_sigs(x))) {
			if(!x->have_pub)
				mid_ctl_err("audit verify: %s has no header line", path);
			goto out;
		}
	}
	if(!pub)
		fprintf(stderr, "midctl: audit verify: checked against the public key the file"
			" names; give --public-key to check against the one you trust\n");
	ex = finish(x);
out:
	if(f)
		fclose(f);
	free(line);
	return ex;
}

int mid_ctl_audit_verify(struct mid_ctl *c, const char *from, const char *pub)
{
	struct verify x;
	int ex;

	memset(&x, 0, sizeof(x));
	mid_chain_check_init(&x.v);
	ex = from ? verify_file(&x, from, pub) : walk(c, &x, 0, pub);
	free(x.cp);
	return ex;
}
