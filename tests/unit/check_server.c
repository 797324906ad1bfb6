/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of midd's pure pieces and its state below HTTP: SHA-256
 * vectors, key format, deviceId rules, request bodies and answers, the
 * in-memory table, the audit queue, the store and the service over a
 * temporary database ("core"); the edges of every cap ("limits"); and
 * each refusal with its message ("errors").
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "api.h"
#include "audit.h"
#include "budget.h"
#include "journal.h"
#include "keys.h"
#include "listen.h"
#include "quota.h"
#include "service.h"
#include "sha256.h"
#include "state.h"
#include "store.h"
#include "wire.h"
#include "mid_check.h"

/* ---- helpers -------------------------------------------------------- */

static char tmpdir[64];
static char err[512];

static void tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/check_server.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *tmp_path(const char *name)
{
	static char p[2][128];
	static int i;

	i ^= 1;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

static void sha_hex(const void *data, size_t n, char out[65])
{
	unsigned char h[MID_SHA256_LEN];

	mid_sha256(data, n, h);
	mid_hex(h, sizeof(h), out);
}

static int is_uuid4(const char *s)
{
	size_t i;

	if(strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
		return 0;
	for(i = 0; i < 36; i++) {
		if(i == 8 || i == 13 || i == 18 || i == 23) {
			if(s[i] != '-')
				return 0;
		} else if(!strchr("0123456789abcdef", s[i])) {
			return 0;
		}
	}
	return 1;
}

/* A database with one org (limit 'limit') whose keys land in 'org_key'
 * and 'admin_key'. */
static void make_db(const char *path, uint64_t limit, char org_key[MID_KEY_LEN + 1],
		    char admin_key[MID_KEY_LEN + 1])
{
	unsigned char oh[MID_SHA256_LEN], ah[MID_SHA256_LEN];
	struct mid_store *s = NULL;
	int64_t id = 0;

	ck_assert_int_eq(mid_store_open(path, 1, &s, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_keys_generate(MID_KEY_ORG, org_key), MID_OK);
	ck_assert_int_eq(mid_keys_generate(MID_KEY_ADMIN, admin_key), MID_OK);
	mid_keys_hash(org_key, oh);
	mid_keys_hash(admin_key, ah);
	ck_assert_int_eq(mid_store_org_create(s, "acme", oh, ah, limit, &id, err, sizeof(err)),
			 MID_OK);
	ck_assert_int_eq(id, 1);
	mid_store_free(s);
}

static const struct mid_caller who = {"127.0.0.1", "00000000-0000-4000-8000-000000000000",
				      MID_PROC_UNKNOWN, NULL};

/* ---- core ----------------------------------------------------------- */

START_TEST(test_server_sha256_vectors)
{
	/* FIPS 180-4 examples plus the million-'a' vector. */
	static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct mid_sha256 s;
	unsigned char h[MID_SHA256_LEN];
	char hex[65], chunk[997];
	size_t left = 1000000;

	sha_hex("", 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha_hex("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha_hex(m448, strlen(m448), hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* Fed in odd-sized pieces, so blocks straddle update calls. */
	memset(chunk, 'a', sizeof(chunk));
	mid_sha256_init(&s);
	while(left) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
		mid_sha256_update(&s, chunk, n);
		left -= n;
	}
	mid_sha256_final(&s, h);
	mid_hex(h, sizeof(h), hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_server_key_format)
{
	char a[MID_KEY_LEN + 1], b[MID_KEY_LEN + 1], hex[65];
	unsigned char h[MID_SHA256_LEN];
	size_t i;

	ck_assert_int_eq(mid_keys_generate(MID_KEY_ORG, a), MID_OK);
	ck_assert_int_eq(mid_keys_generate(MID_KEY_ADMIN, b), MID_OK);
	ck_assert_uint_eq(strlen(a), MID_KEY_LEN);
	ck_assert_uint_eq(strlen(b), MID_KEY_LEN);
	ck_assert_int_eq(strncmp(a, "mid_org_", 8), 0);
	ck_assert_int_eq(strncmp(b, "mid_adm_", 8), 0);
	for(i = 8; i < MID_KEY_LEN; i++) {
		ck_assert_ptr_nonnull(strchr("0123456789abcdef", a[i]));
		ck_assert_ptr_nonnull(strchr("0123456789abcdef", b[i]));
	}
	ck_assert_str_ne(a + 8, b + 8);
	mid_keys_hash(a, h);
	mid_hex(h, sizeof(h), hex);
	sha_hex(a, strlen(a), b);
	ck_assert_str_eq(hex, b);
}
END_TEST

START_TEST(test_server_body_device)
{
	static const char body[] = "{\"other\":1,\"deviceId\":\"svc:prod:a:01\"}";
	char dev[MID_DEVICE_MAX + 1];
	struct mid_wire_err e;

	ck_assert_int_eq(mid_wire_body_string(body, strlen(body), "deviceId", 1, dev, sizeof(dev),
					      &e), MID_OK);
	ck_assert_str_eq(dev, "svc:prod:a:01");
	/* The body need not be terminated: only 'len' bytes count. */
	ck_assert_int_eq(mid_wire_body_string("{\"key\":\"org\"}xxxx", 13, "key", 0, dev, sizeof(dev),
					      &e), MID_OK);
	ck_assert_str_eq(dev, "org");
}
END_TEST

/* A validate's counts: optional, whole, not negative; a budget's sliding
 * window lets go of them one window after they came. */
START_TEST(test_server_budget_window)
{
	static const char ok[] = "{\"deviceId\":\"a:b\",\"counts\":{\"connects\":6,\"writes\":2}}";
	static const char neg[] = "{\"deviceId\":\"a:b\",\"counts\":{\"execs\":-1}}";
	struct mid_budget lim = {0};
	struct mid_budget_over o;
	struct mid_budgets *b;
	struct mid_wire_err e;
	uint64_t n[4], five[4] = {0, 5, 0, 0}, used[4];
	char dev[MID_DEVICE_MAX + 1], mode[8];

	ck_assert_int_eq(mid_wire_body_validate(ok, sizeof(ok) - 1, dev, sizeof(dev), mode, n, &e),
			 MID_OK);
	ck_assert_uint_eq(n[MID_BUDGET_CONNECTS], 6);
	ck_assert_uint_eq(n[MID_BUDGET_WRITES], 2);
	ck_assert_uint_eq(n[MID_BUDGET_EXECS], 0);
	ck_assert_int_eq(mid_wire_body_validate(neg, sizeof(neg) - 1, dev, sizeof(dev), mode, n,
						&e), MID_ERR_PARSE);

	ck_assert_int_eq(mid_budgets_new(&b), MID_OK);
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:b", n, 0, &o), 0); /* none set: nothing */
	lim.k[MID_BUDGET_CONNECTS].limit = 10;
	lim.k[MID_BUDGET_CONNECTS].window_ms = 60000;
	ck_assert_int_eq(mid_budgets_put(b, 1, "a:b", &lim), MID_OK);
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:b", five, 0, &o), 0);
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:c", five, 0, &o), 0); /* another device */
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:b", five, 30000, &o), 0); /* 10: at the limit */
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:b", five, 31000, &o), 1);
	ck_assert_int_eq(o.kind, MID_BUDGET_CONNECTS);
	ck_assert_uint_eq(o.used, 15);
	ck_assert_int_eq(o.crossed, 1);
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:b", NULL, 40000, &o), 1);
	ck_assert_int_eq(o.crossed, 0);
	/* The first five leave the window a minute after they came. */
	ck_assert_int_eq(mid_budgets_add(b, 1, "a:b", NULL, 61000, &o), 0);
	ck_assert_int_eq(mid_budgets_get(b, 1, "a:b", 61000, &lim, used), 1);
	ck_assert_uint_eq(used[MID_BUDGET_CONNECTS], 10);
	ck_assert_int_eq(mid_budgets_get(b, 1, "a:b", 92000, &lim, used), 1);
	ck_assert_uint_eq(used[MID_BUDGET_CONNECTS], 0);
	memset(&lim, 0, sizeof(lim));
	ck_assert_int_eq(mid_budgets_put(b, 1, "a:b", &lim), MID_OK);
	ck_assert_int_eq(mid_budgets_get(b, 1, "a:b", 0, &lim, used), 0);
	mid_budgets_free(b);
}
END_TEST

START_TEST(test_server_body_validate_mode)
{
	char dev[MID_DEVICE_MAX + 1], mode[8];
	struct mid_wire_err e;
	struct mid_org *org;
	struct mid_state *st;
	struct mid_dev_info info;
	enum mid_dev_state s;
	int dis;
	unsigned char h[MID_SHA256_LEN] = {0}, h2[MID_SHA256_LEN] = {1};

	ck_assert_int_eq(mid_wire_body_validate("{\"deviceId\":\"a:b\"}", 19, dev, sizeof(dev),
						mode, NULL, &e), MID_OK);
	ck_assert_str_eq(dev, "a:b");
	ck_assert_str_eq(mode, "");
	ck_assert_int_eq(mid_wire_body_validate("{\"deviceId\":\"a:b\",\"mode\":\"audit\"}", 34, dev,
						sizeof(dev), mode, NULL, &e), MID_OK);
	ck_assert_str_eq(mode, "audit");
	ck_assert_int_eq(mid_wire_body_validate("{\"deviceId\":\"a:b\",\"mode\":\"auditing\"}", 37,
						dev, sizeof(dev), mode, NULL, &e), MID_ERR_PARSE);
	ck_assert_str_eq(e.code, MID_E_BAD_REQUEST);
	ck_assert_int_eq(mid_wire_body_validate("{\"deviceId\":\"a:b\",\"mode\":1}", 28, dev,
						sizeof(dev), mode, NULL, &e), MID_ERR_PARSE);

	/* The table keeps the latest mode; two within a minute are mixed. */
	ck_assert_int_eq(mid_state_new(&st), MID_OK);
	ck_assert_int_eq(mid_state_add_org(st, 1, "o", h, h2, 0, 0, 0, &org), MID_OK);
	ck_assert_int_eq(mid_state_put(org, "d", MID_DEV_ACTIVE, 1, 0, 0), MID_OK);
	ck_assert_int_eq(mid_state_get(org, "d", &info), MID_OK);
	ck_assert_str_eq(mid_proc_mode_name(info.mode), "unknown");
	mid_state_validate_mode(org, "d", 1000, MID_PROC_AUDIT, &s, &dis);
	ck_assert_int_eq(mid_state_get(org, "d", &info), MID_OK);
	ck_assert_str_eq(mid_proc_mode_name(info.mode), "audit");
	mid_state_validate_mode(org, "d", 1000 + MID_MODE_MIXED_MS, MID_PROC_ENFORCE, &s, &dis);
	ck_assert_int_eq(mid_state_get(org, "d", &info), MID_OK);
	ck_assert_str_eq(mid_proc_mode_name(info.mode), "mixed");
	mid_state_validate_mode(org, "d", 1001 + 2 * MID_MODE_MIXED_MS, MID_PROC_ENFORCE, &s, &dis);
	mid_state_validate(org, "d", 1002 + 2 * MID_MODE_MIXED_MS, &s, &dis);
	ck_assert_int_eq(mid_state_get(org, "d", &info), MID_OK);
	ck_assert_str_eq(mid_proc_mode_name(info.mode), "enforce");
	ck_assert_int_eq(mid_proc_mode_parse("audit"), MID_PROC_AUDIT);
	ck_assert_int_eq(mid_proc_mode_parse("bogus"), MID_PROC_UNKNOWN);
	mid_state_free(st);
}
END_TEST

START_TEST(test_server_verdict_json)
{
	struct mid_verdict v = {0, "DEVICE_REVOKED", "revoked", "device was revoked"};
	char *s = mid_api_verdict_json(&v, "we\"ird\\id", "11111111-1111-4111-8111-111111111111");
	cJSON *o;

	ck_assert_ptr_nonnull(s);
	o = cJSON_Parse(s);
	ck_assert_ptr_nonnull(o);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "allowed")));
	ck_assert_str_eq(cJSON_GetObjectItem(o, "code")->valuestring, "DEVICE_REVOKED");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "revoked");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "reason")->valuestring, "device was revoked");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "deviceId")->valuestring, "we\"ird\\id");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring,
			 "11111111-1111-4111-8111-111111111111");
	cJSON_Delete(o);
	free(s);
	v.allowed = 1;
	s = mid_api_verdict_json(&v, "x", "r");
	ck_assert_ptr_nonnull(strstr(s, "\"allowed\":true"));
	free(s);
}
END_TEST

START_TEST(test_server_error_json)
{
	char *s = mid_wire_error("BAD_JSON", "say \"hi\"", "rid");
	cJSON *o = cJSON_Parse(s);

	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "error")->valuestring, "BAD_JSON");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "message")->valuestring, "say \"hi\"");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "request_id")->valuestring, "rid");
	cJSON_Delete(o);
	free(s);
}
END_TEST

START_TEST(test_server_request_id_uuid4)
{
	char ids[100][37];
	int i, j;

	/* More than one pool refill's worth. */
	for(i = 0; i < 100; i++) {
		mid_wire_request_id(ids[i]);
		ck_assert_msg(is_uuid4(ids[i]), "not a UUID v4: %s", ids[i]);
		for(j = 0; j < i; j++)
			ck_assert_str_ne(ids[i], ids[j]);
	}
}
END_TEST

START_TEST(test_server_time_iso)
{
	char t[32];

	mid_wire_time(0, t);
	ck_assert_str_eq(t, "1970-01-01T00:00:00.000Z");
	mid_wire_time(1700000000123LL, t);
	ck_assert_str_eq(t, "2023-11-14T22:13:20.123Z");
}
END_TEST

START_TEST(test_server_state_validate)
{
	unsigned char oh[MID_SHA256_LEN], ah[MID_SHA256_LEN], other[MID_SHA256_LEN];
	struct mid_state *st = NULL;
	struct mid_org *org = NULL, *got = NULL;
	struct mid_dev_info info;
	struct mid_usage u;
	enum mid_dev_state s;
	enum mid_role role;
	int disabled;

	mid_sha256("o", 1, oh);
	mid_sha256("a", 1, ah);
	mid_sha256("x", 1, other);
	ck_assert_int_eq(mid_state_new(&st), MID_OK);
	ck_assert_int_eq(mid_state_add_org(st, 7, "acme", oh, ah, 10, 0, 0, &org), MID_OK);
	ck_assert_int_eq(mid_state_auth(st, oh, &got, &role), MID_OK);
	ck_assert_ptr_eq(got, org);
	ck_assert_int_eq(role, MID_ROLE_ORG);
	ck_assert_int_eq(mid_state_auth(st, ah, &got, &role), MID_OK);
	ck_assert_int_eq(role, MID_ROLE_ADMIN);
	ck_assert_int_eq(mid_state_auth(st, other, &got, &role), MID_ERR_DENIED);

	ck_assert_int_eq(mid_state_put(org, "d1", MID_DEV_ACTIVE, 1000, 0, 0), MID_OK);
	ck_assert_int_eq(mid_state_put(org, "d2", MID_DEV_ACTIVE, 1000, 0, 0), MID_OK);
	ck_assert_int_eq(mid_state_put(org, "d2", MID_DEV_REVOKED, 0, 0, 0), MID_OK);
	mid_state_validate(org, "d1", 5000, &s, &disabled);
	ck_assert_int_eq(s, MID_DEV_ACTIVE);
	ck_assert_int_eq(disabled, 0);
	mid_state_validate(org, "d2", 6000, &s, &disabled);
	ck_assert_int_eq(s, MID_DEV_REVOKED);
	mid_state_validate(org, "nope", 6000, &s, &disabled);
	ck_assert_int_eq(s, MID_DEV_NONE);
	ck_assert_int_eq(mid_state_get(org, "d1", &info), MID_OK);
	ck_assert_int_eq(info.validates, 1);
	ck_assert_int_eq(info.last_seen_ms, 5000);
	ck_assert_int_eq(info.created_ms, 1000);
	/* A state change keeps the creation time. */
	ck_assert_int_eq(mid_state_get(org, "d2", &info), MID_OK);
	ck_assert_int_eq(info.created_ms, 1000);

	mid_state_set_disabled(org, 1);
	mid_state_validate(org, "d1", 7000, &s, &disabled);
	ck_assert_int_eq(disabled, 1);
	ck_assert_int_eq(s, MID_DEV_ACTIVE);
	mid_state_usage(org, &u);
	ck_assert_int_eq(u.devices, 2);
	ck_assert_int_eq(u.active, 1);
	ck_assert_int_eq(u.revoked, 1);
	ck_assert_int_eq(u.validates, 4);
	ck_assert_int_eq(u.limit, 10);
	ck_assert_int_eq(u.disabled, 1);

	/* Rotation: the old hash stops matching at once. */
	mid_state_set_key(org, MID_ROLE_ORG, other);
	ck_assert_int_eq(mid_state_auth(st, oh, &got, &role), MID_ERR_DENIED);
	ck_assert_int_eq(mid_state_auth(st, other, &got, &role), MID_OK);
	mid_state_free(st);
}
END_TEST

START_TEST(test_server_state_dirty)
{
	unsigned char h[MID_SHA256_LEN] = {0};
	struct mid_state *st = NULL;
	struct mid_org *org = NULL;
	struct mid_dirty *d = NULL;
	enum mid_dev_state s;
	size_t n = 9;
	int dis;

	ck_assert_int_eq(mid_state_new(&st), MID_OK);
	ck_assert_int_eq(mid_state_add_org(st, 1, "o", h, h, 0, 0, 5, &org), MID_OK);
	ck_assert_int_eq(mid_state_put(org, "a", MID_DEV_ACTIVE, 1, 0, 3), MID_OK);
	ck_assert_int_eq(mid_state_put(org, "b", MID_DEV_ACTIVE, 1, 0, 0), MID_OK);
	ck_assert_int_eq(mid_state_dirty(st, &d, &n), MID_OK);
	ck_assert_uint_eq(n, 0);
	free(d);
	mid_state_validate(org, "a", 99, &s, &dis);
	ck_assert_int_eq(mid_state_dirty(st, &d, &n), MID_OK);
	ck_assert_uint_eq(n, 2); /* device a and the org total */
	ck_assert_str_eq(d[0].id, "a");
	ck_assert_int_eq(d[0].validates, 4);
	ck_assert_int_eq(d[0].last_seen_ms, 99);
	ck_assert_ptr_null(d[1].id);
	ck_assert_int_eq(d[1].validates, 6);
	mid_state_mark_flushed(d, n);
	free(d);
	ck_assert_int_eq(mid_state_dirty(st, &d, &n), MID_OK);
	ck_assert_uint_eq(n, 0);
	free(d);
	mid_state_free(st);
}
END_TEST

START_TEST(test_server_audit_queue)
{
	struct mid_audit *q = NULL;
	struct mid_audit_row r = {0}, out;
	struct mid_audit_batch b;
	uint64_t dropped = 9;

	ck_assert_int_eq(mid_audit_new(4096, &q), MID_OK);
	r.time_ms = 1234;
	r.org_id = 7;
	strcpy(r.device, "svc:prod:a:01");
	strcpy(r.route, "validate");
	strcpy(r.decision, "allow");
	strcpy(r.code, "ALLOW");
	strcpy(r.request_id, "11111111-1111-4111-8111-111111111111");
	strcpy(r.peer, "127.0.0.1");
	ck_assert_int_eq(mid_audit_push(q, &r), 0);
	strcpy(r.code, "DEVICE_REVOKED");
	r.device[0] = '\0';
	ck_assert_int_eq(mid_audit_push(q, &r), 0);
	ck_assert_uint_gt(mid_audit_take(q, &b, &dropped), 0);
	ck_assert_uint_eq(b.rows, 2);
	ck_assert_uint_eq(dropped, 0);
	ck_assert_int_eq(mid_audit_next(&b, &out), 1);
	ck_assert_int_eq(out.time_ms, 1234);
	ck_assert_int_eq(out.org_id, 7);
	ck_assert_str_eq(out.device, "svc:prod:a:01");
	ck_assert_str_eq(out.route, "validate");
	ck_assert_str_eq(out.decision, "allow");
	ck_assert_str_eq(out.code, "ALLOW");
	ck_assert_str_eq(out.request_id, "11111111-1111-4111-8111-111111111111");
	ck_assert_str_eq(out.peer, "127.0.0.1");
	ck_assert_int_eq(mid_audit_next(&b, &out), 1);
	ck_assert_str_eq(out.device, "");
	ck_assert_str_eq(out.code, "DEVICE_REVOKED");
	ck_assert_int_eq(mid_audit_next(&b, &out), 0);
	ck_assert_uint_eq(mid_audit_take(q, &b, &dropped), 0);
	ck_assert_int_eq(mid_audit_next(&b, &out), 0);
	mid_audit_free(q);
	mid_audit_free(NULL);
}
END_TEST

START_TEST(test_server_store_roundtrip)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1];
	const char *db = tmp_path("m.db");
	struct mid_service *svc = NULL;
	struct mid_org *org = NULL;
	enum mid_role role;
	enum mid_reg_status rs;
	unsigned retry;
	struct mid_verdict v;
	struct mid_change res;
	char newkey[MID_KEY_LEN + 1];

	make_db(db, 0, ok, ak);
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ok, &org, &role), MID_OK);
	ck_assert_int_eq(role, MID_ROLE_ORG);
	ck_assert_str_eq(mid_org_name(org), "acme");
	ck_assert_int_eq(mid_service_register(svc, org, "d1", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "d1", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_EXISTS);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_int_eq(v.allowed, 1);
	ck_assert_str_eq(v.code, "ALLOW");
	ck_assert_int_eq(mid_service_set_state(svc, org, "d1", "revoke", MID_DEV_REVOKED, &who,
					       &res), MID_OK);
	ck_assert_int_eq(res.persisted, 1);
	ck_assert_int_eq(mid_service_set_disabled(svc, org, 1, &who, &res), MID_OK);
	ck_assert_int_eq(res.persisted, 1);
	ck_assert_int_eq(mid_service_rotate(svc, org, MID_ROLE_ADMIN, 0, &who, newkey, NULL), MID_OK);
	ck_assert_int_eq(strncmp(newkey, "mid_adm_", 8), 0);
	mid_service_close(svc);

	/* Everything above is on disk. */
	svc = NULL;
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ak, &org, &role), MID_ERR_DENIED);
	ck_assert_int_eq(mid_service_auth(svc, newkey, &org, &role), MID_OK);
	ck_assert_int_eq(role, MID_ROLE_ADMIN);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_str_eq(v.code, "ORG_DISABLED");
	ck_assert_int_eq(mid_service_set_disabled(svc, org, 0, &who, &res), MID_OK);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_str_eq(v.code, "DEVICE_REVOKED");
	ck_assert_str_eq(v.status, "revoked");
	mid_service_close(svc);
	mid_service_close(NULL);
}
END_TEST

START_TEST(test_server_listen_parse)
{
	struct mid_listen l;

	ck_assert_int_eq(mid_listen_parse("127.0.0.1:7070", &l, err, sizeof(err)), MID_OK);
	ck_assert(l.loopback);
	ck_assert_str_eq(l.text, "127.0.0.1:7070");
	ck_assert_int_eq(mid_listen_parse("127.9.8.7:1", &l, err, sizeof(err)), MID_OK);
	ck_assert(l.loopback);
	ck_assert_int_eq(mid_listen_parse("[::1]:65535", &l, err, sizeof(err)), MID_OK);
	ck_assert(l.loopback);
	ck_assert_int_eq(l.addr.ss_family, AF_INET6);
	ck_assert_int_eq(mid_listen_parse("localhost:80", &l, err, sizeof(err)), MID_OK);
	ck_assert(l.loopback);
	ck_assert_int_eq(mid_listen_parse("0.0.0.0:7070", &l, err, sizeof(err)), MID_OK);
	ck_assert(!l.loopback);
	ck_assert_int_eq(mid_listen_parse("[::]:7070", &l, err, sizeof(err)), MID_OK);
	ck_assert(!l.loopback);
	ck_assert_int_eq(mid_listen_parse("[::ffff:127.0.0.1]:7070", &l, err, sizeof(err)), MID_OK);
	ck_assert(!l.loopback); /* mapped addresses are not taken on trust */
}
END_TEST

/* ---- limits --------------------------------------------------------- */

START_TEST(test_server_device_id_length)
{
	char id[MID_DEVICE_MAX + 2], dev[MID_DEVICE_MAX + 1], body[400];
	struct mid_wire_err e;

	memset(id, 'x', sizeof(id));
	ck_assert(mid_device_ok(id, MID_DEVICE_MAX));
	ck_assert(!mid_device_ok(id, MID_DEVICE_MAX + 1));
	snprintf(body, sizeof(body), "{\"deviceId\":\"%.*s\"}", MID_DEVICE_MAX, id);
	ck_assert_int_eq(mid_wire_body_string(body, strlen(body), "deviceId", 1, dev, sizeof(dev),
					      &e), MID_OK);
	ck_assert_uint_eq(strlen(dev), MID_DEVICE_MAX);
	snprintf(body, sizeof(body), "{\"deviceId\":\"%.*s\"}", MID_DEVICE_MAX + 1, id);
	ck_assert_int_eq(mid_wire_body_string(body, strlen(body), "deviceId", 1, dev, sizeof(dev),
					      &e), MID_ERR_PARSE);
	ck_assert_str_eq(e.code, MID_E_BAD_DEVICE_ID);
}
END_TEST

START_TEST(test_server_sha256_block_edges)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
		{56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
		{63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
		{64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
		{119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
	};
	char a[128], hex[65];
	size_t i;

	memset(a, 'a', sizeof(a));
	for(i = 0; i < MID_ARRAY_LEN(v); i++) {
		sha_hex(a, v[i].n, hex);
		ck_assert_msg(!strcmp(hex, v[i].hex), "length %zu: %s", v[i].n, hex);
	}
}
END_TEST

START_TEST(test_server_audit_queue_full)
{
	struct mid_audit *q = NULL;
	struct mid_audit_row r = {0}, out;
	struct mid_audit_batch b;
	uint64_t dropped = 0;
	size_t one;
	int i;

	/* Measure one packed row, then make a queue of exactly three. */
	strcpy(r.device, "d");
	strcpy(r.code, "ALLOW");
	ck_assert_int_eq(mid_audit_new(4096, &q), MID_OK);
	ck_assert_int_eq(mid_audit_push(q, &r), 0);
	one = mid_audit_take(q, &b, &dropped);
	mid_audit_free(q);
	ck_assert_int_eq(mid_audit_new(3 * one, &q), MID_OK);
	for(i = 0; i < 3; i++)
		ck_assert_int_eq(mid_audit_push(q, &r), 0);
	ck_assert_int_eq(mid_audit_push(q, &r), -1);
	ck_assert_int_eq(mid_audit_push(q, &r), -1);
	ck_assert_uint_eq(mid_audit_take(q, &b, &dropped), 3 * one);
	ck_assert_uint_eq(b.rows, 3);
	ck_assert_uint_eq(dropped, 2);
	/* The other buffer is free again at once. */
	ck_assert_int_eq(mid_audit_push(q, &r), 0);
	for(i = 0; i < 3; i++)
		ck_assert_int_eq(mid_audit_next(&b, &out), 1);
	ck_assert_int_eq(mid_audit_take(q, &b, &dropped), one);
	ck_assert_uint_eq(dropped, 0);
	/* A full-size row (every field at its cap) still round-trips. */
	memset(r.device, 'x', MID_DEVICE_MAX);
	r.device[MID_DEVICE_MAX] = '\0';
	mid_audit_free(q);
	ck_assert_int_eq(mid_audit_new(4096, &q), MID_OK);
	ck_assert_int_eq(mid_audit_push(q, &r), 0);
	mid_audit_take(q, &b, &dropped);
	ck_assert_int_eq(mid_audit_next(&b, &out), 1);
	ck_assert_str_eq(out.device, r.device);
	mid_audit_free(q);
}
END_TEST

START_TEST(test_server_state_many_devices)
{
	unsigned char h[MID_SHA256_LEN] = {0};
	struct mid_state *st = NULL;
	struct mid_org *org = NULL;
	struct mid_dev_info info;
	char id[32];
	int i;

	ck_assert_int_eq(mid_state_new(&st), MID_OK);
	ck_assert_int_eq(mid_state_add_org(st, 1, "o", h, h, 0, 0, 0, &org), MID_OK);
	for(i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "svc:prod:x:%05d", i);
		ck_assert_int_eq(mid_state_put(org, id, i % 3 ? MID_DEV_ACTIVE : MID_DEV_REMOVED,
					       i, 0, 0), MID_OK);
	}
	for(i = 0; i < 20000; i += 997) {
		snprintf(id, sizeof(id), "svc:prod:x:%05d", i);
		ck_assert_int_eq(mid_state_get(org, id, &info), MID_OK);
		ck_assert_str_eq(info.id, id);
		ck_assert_int_eq(info.created_ms, i);
	}
	ck_assert_int_eq(mid_state_get(org, "svc:prod:x:20000", &info), MID_ERR_NOT_FOUND);
	ck_assert_uint_eq(mid_state_slots_used(org), 20000 - 6667);
	mid_state_free(st);
}
END_TEST

static struct mid_audit_row journal_row(const char *dev, const char *rid)
{
	struct mid_audit_row r;

	memset(&r, 0, sizeof(r));
	r.time_ms = 1700000000123;
	r.org_id = 7;
	mid_strlcpy(r.device, dev, sizeof(r.device));
	mid_strlcpy(r.route, dev[0] ? "revoke" : "org/disable", sizeof(r.route));
	mid_strlcpy(r.decision, dev[0] ? "revoked" : "disabled", sizeof(r.decision));
	mid_strlcpy(r.request_id, rid, sizeof(r.request_id));
	mid_strlcpy(r.peer, "127.0.0.1", sizeof(r.peer));
	return r;
}

struct seen {
	struct mid_audit_row rows[4];
	int slots[4];
	int n;
};

static void collect(int slot, const struct mid_audit_row *row, void *arg)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 4);
	s->slots[s->n] = slot;
	s->rows[s->n++] = *row;
}

static struct seen journal_read(const char *path)
{
	struct mid_journal *j = NULL;
	struct seen s = {0};

	ck_assert_int_eq(mid_journal_open(path, &j, err, sizeof(err)), MID_OK);
	mid_journal_each(j, collect, &s);
	ck_assert_int_eq(mid_journal_used(j), (size_t)s.n);
	mid_journal_free(j);
	return s;
}

START_TEST(test_server_journal_roundtrip)
{
	const char *path = tmp_path("j-pending");
	struct mid_audit_row a = journal_row("svc:prod:a:01", "r1"), b = journal_row("", "r2");
	char big[MID_DEVICE_MAX + 1];
	struct mid_journal *j = NULL;
	struct seen s;
	struct stat sb;
	int sa = -1, sb2 = -1;

	ck_assert_int_eq(mid_journal_open(path, &j, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, (MID_JOURNAL_SLOTS + 1) * MID_JOURNAL_SLOT_BYTES);
	ck_assert_int_eq(mid_journal_put(j, &sa, &a), MID_OK);
	ck_assert_int_eq(mid_journal_put(j, &sb2, &b), MID_OK);
	ck_assert_int_ne(sa, sb2);
	/* Written again in place: the newer one comes last. */
	ck_assert_int_eq(mid_journal_put(j, &sa, &a), MID_OK);
	mid_journal_free(j);
	s = journal_read(path);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.rows[0].request_id, "r2");
	ck_assert_str_eq(s.rows[0].device, "");
	ck_assert_str_eq(s.rows[1].device, "svc:prod:a:01");
	ck_assert_str_eq(s.rows[1].decision, "revoked");
	ck_assert_str_eq(s.rows[1].peer, "127.0.0.1");
	ck_assert_int_eq(s.rows[1].time_ms, 1700000000123);
	ck_assert_int_eq(s.rows[1].org_id, 7);
	ck_assert_int_eq(s.slots[1], sa);
	/* The largest row fits its slot. */
	memset(big, 'x', MID_DEVICE_MAX);
	big[MID_DEVICE_MAX] = '\0';
	a = journal_row(big, "00000000-0000-4000-8000-000000000000");
	memset(a.peer, 'p', sizeof(a.peer) - 1);
	ck_assert_int_eq(mid_journal_open(path, &j, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_journal_put(j, &sa, &a), MID_OK);
	ck_assert_int_eq(mid_journal_clear(j, sb2), MID_OK);
	mid_journal_free(j);
	s = journal_read(path);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.rows[0].device, big);
	ck_assert_str_eq(s.rows[0].peer, a.peer);
}
END_TEST

START_TEST(test_server_journal_damage)
{
	const char *path = tmp_path("d-pending");
	struct mid_audit_row a = journal_row("svc:prod:a:01", "r1");
	struct mid_journal *j = NULL;
	unsigned char byte;
	int slot = -1, fd;

	ck_assert_int_eq(mid_journal_open(path, &j, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_journal_put(j, &slot, &a), MID_OK);
	slot = -1;
	a = journal_row("svc:prod:b:01", "r2");
	ck_assert_int_eq(mid_journal_put(j, &slot, &a), MID_OK);
	mid_journal_free(j);
	/* A torn slot reads as empty; the other one is kept. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &byte, 1, (off_t)(slot + 1) * MID_JOURNAL_SLOT_BYTES + 40), 1);
	byte ^= 0x20;
	ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)(slot + 1) * MID_JOURNAL_SLOT_BYTES + 40), 1);
	ck_assert_int_eq(journal_read(path).n, 1);
	ck_assert_str_eq(journal_read(path).rows[0].request_id, "r1");
	/* A file that is not a journal is refused, not overwritten. */
	ck_assert_int_eq(pwrite(fd, "x", 1, 0), 1);
	close(fd);
	ck_assert_int_eq(mid_journal_open(path, &j, err, sizeof(err)), MID_ERR_PARSE);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "move it aside"));
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(mid_journal_open(path, &j, err, sizeof(err)), MID_ERR_PARSE);
}
END_TEST

/* The database file unlinked under a running service: a revoke applies
 * at once and goes to the journal; a restore is refused; the next start,
 * over a database that lacks the device, still has it revoked. */
START_TEST(test_server_deny_unlinked)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1], wal[512];
	const char *db = tmp_path("x.db");
	struct mid_service *svc = NULL;
	struct mid_org *org = NULL;
	struct mid_change res;
	struct mid_health h;
	enum mid_reg_status rs;
	enum mid_role role;
	struct mid_verdict v;
	unsigned retry;

	make_db(db, 0, ok, ak);
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ak, &org, &role), MID_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "d1", &who, &rs, &retry), MID_OK);
	mid_service_health(svc, &h);
	ck_assert_int_eq(h.pending, 0);
	ck_assert_int_eq(h.db, MID_STORE_OK);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	ck_assert_int_eq(unlink(db), 0);
	ck_assert_int_eq(unlink(wal), 0);
	ck_assert_int_eq(mid_service_set_state(svc, org, "d1", "revoke", MID_DEV_REVOKED, &who,
					       &res), MID_OK);
	ck_assert_int_eq(res.persisted, 0);
	ck_assert_int_eq(res.journaled, 1);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_str_eq(v.code, "DEVICE_REVOKED");
	ck_assert_int_eq(mid_service_set_state(svc, org, "d1", "restore", MID_DEV_ACTIVE, &who,
					       &res), MID_ERR_IO);
	ck_assert_int_eq(mid_service_register(svc, org, "d2", &who, &rs, &retry), MID_ERR_IO);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_str_eq(v.code, "DEVICE_REVOKED");
	mid_service_health(svc, &h);
	ck_assert_int_eq(h.pending, 1);
	ck_assert_int_eq(h.db, MID_STORE_UNLINKED);
	ck_assert_int_eq(h.journal_used, 1);
	ck_assert_int_gt(h.pending_since_ms, 0);
	mid_service_close(svc);

	/* A new database in its place, without the device. */
	make_db(db, 0, ok, ak);
	svc = NULL;
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ok, &org, &role), MID_OK);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_str_eq(v.code, "DEVICE_REVOKED");
	mid_service_health(svc, &h);
	ck_assert_int_eq(h.pending, 0);
	ck_assert_int_eq(h.journal_used, 0);
	mid_service_close(svc);
	/* ... and in the database itself. */
	svc = NULL;
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ok, &org, &role), MID_OK);
	mid_service_validate(svc, org, "d1", &who, &v);
	ck_assert_str_eq(v.code, "DEVICE_REVOKED");
	mid_service_close(svc);
}
END_TEST

START_TEST(test_server_register_limit)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1];
	const char *db = tmp_path("l.db");
	struct mid_service *svc = NULL;
	struct mid_org *org = NULL;
	enum mid_role role;
	enum mid_reg_status rs;
	struct mid_change res;
	unsigned retry;

	make_db(db, 2, ok, ak);
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ak, &org, &role), MID_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "a", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "b", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "c", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_LIMIT);
	ck_assert_int_eq(mid_service_set_state(svc, org, "a", "remove", MID_DEV_REMOVED, &who,
					       &res), MID_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "a", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_REMOVED);
	ck_assert_int_eq(mid_service_register(svc, org, "c", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_OK);
	/* Under the limit, the rate of new devices: only a registration
	 * that would create one is counted. */
	ck_assert_int_eq(mid_service_set_state(svc, org, "b", "remove", MID_DEV_REMOVED, &who,
					       &res), MID_OK);
	ck_assert_int_eq(mid_service_set_state(svc, org, "c", "remove", MID_DEV_REMOVED, &who,
					       &res), MID_OK);
	mid_service_set_register_rate(svc, 1, 1);
	ck_assert_int_eq(mid_service_register(svc, org, "e", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "f", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_RATE);
	ck_assert_uint_gt(retry, 0);
	ck_assert_int_eq(mid_service_register(svc, org, "e", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(rs, MID_REG_EXISTS);
	ck_assert_str_eq(mid_reg_status_name(MID_REG_RATE), "rate_limited");
	mid_service_close(svc);
}
END_TEST

START_TEST(test_server_register_rate)
{
	struct mid_quota q;
	unsigned retry, i;

	/* The bucket: 'burst' at once, then 'rate' a second. */
	mid_quota_init(&q, 10, 3);
	for(i = 0; i < 3; i++)
		ck_assert(mid_quota_take(&q, 1, 1000, &retry));
	ck_assert(!mid_quota_take(&q, 1, 1000, &retry));
	ck_assert_uint_ge(retry, 100);
	ck_assert_uint_le(retry, 101);
	ck_assert(!mid_quota_take(&q, 1, 1099, &retry));
	ck_assert(mid_quota_take(&q, 1, 1100, &retry));
	ck_assert(mid_quota_take(&q, 2, 1100, &retry)); /* another org has its own */
	ck_assert(mid_quota_take(&q, 1, 100000, &retry));
	ck_assert(mid_quota_take(&q, 1, 100000, &retry));
	ck_assert(mid_quota_take(&q, 1, 100000, &retry));
	ck_assert(!mid_quota_take(&q, 1, 100000, &retry)); /* no more than the burst */
	/* Past MID_QUOTA_ORGS, orgs share one bucket. */
	for(i = 3; i <= MID_QUOTA_ORGS; i++)
		ck_assert(mid_quota_take(&q, i, 100000, &retry));
	ck_assert(mid_quota_take(&q, MID_QUOTA_ORGS + 10, 100000, &retry));
	ck_assert(mid_quota_take(&q, MID_QUOTA_ORGS + 11, 100000, &retry));
	ck_assert(mid_quota_take(&q, MID_QUOTA_ORGS + 12, 100000, &retry));
	ck_assert(!mid_quota_take(&q, MID_QUOTA_ORGS + 13, 100000, &retry));
	mid_quota_init(&q, 0, 0);
	for(i = 0; i < 1000; i++)
		ck_assert(mid_quota_take(&q, 1, 5, &retry));
}
END_TEST

/* ---- errors --------------------------------------------------------- */

START_TEST(test_server_body_errors)
{
	static const struct {
		const char *body;
		const char *code;
		const char *msg;
	} v[] = {
		{"", MID_E_BAD_JSON, "empty body"},
		{"nope", MID_E_BAD_JSON, "not JSON"},
		{"[\"a\"]", MID_E_BAD_JSON, "must be a JSON object"},
		{"{\"deviceId\":\"a\"", MID_E_BAD_JSON, "not JSON"},
		{"{}", MID_E_BAD_DEVICE_ID, "is missing"},
		{"{\"deviceId\":1}", MID_E_BAD_DEVICE_ID, "must be a string"},
		{"{\"deviceId\":[]}", MID_E_BAD_DEVICE_ID, "must be a string"},
		{"{\"deviceId\":\"\"}", MID_E_BAD_DEVICE_ID, "printable ASCII"},
		{"{\"deviceId\":\"a b\"}", MID_E_BAD_DEVICE_ID, "printable ASCII"},
		{"{\"deviceId\":\"a\\nb\"}", MID_E_BAD_DEVICE_ID, "printable ASCII"},
		{"{\"deviceId\":\"a\\u0000b\"}", MID_E_BAD_DEVICE_ID, "NUL"},
		{"{\"deviceId\":\"a\\u0000\"}", MID_E_BAD_DEVICE_ID, "NUL"},
		{"{\"x\":\"\\u0000\",\"deviceId\":\"a\"}", MID_E_BAD_DEVICE_ID, "NUL"},
	};
	char dev[MID_DEVICE_MAX + 1];
	struct mid_wire_err e;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(v); i++) {
		ck_assert_int_eq(mid_wire_body_string(v[i].body, strlen(v[i].body), "deviceId", 1,
						      dev, sizeof(dev), &e), MID_ERR_PARSE);
		ck_assert_msg(!strcmp(e.code, v[i].code), "%s: code %s", v[i].body, e.code);
		ck_assert_msg(strstr(e.message, v[i].msg), "%s: message %s", v[i].body, e.message);
	}
	/* A raw NUL inside the string is refused too; an escaped backslash
	 * followed by the text u0000 is a valid deviceId. */
	ck_assert_int_eq(mid_wire_body_string("{\"deviceId\":\"a\0b\"}", 18, "deviceId", 1, dev,
					      sizeof(dev), &e), MID_ERR_PARSE);
	ck_assert_str_eq(e.code, MID_E_BAD_DEVICE_ID);
	ck_assert_int_eq(mid_wire_body_string("{\"deviceId\":\"a\\\\u0000\"}", 23, "deviceId", 1,
					      dev, sizeof(dev), &e), MID_OK);
	ck_assert_str_eq(dev, "a\\u0000");
	/* A value longer than the caller's buffer is refused, not cut. */
	ck_assert_int_eq(mid_wire_body_string("{\"key\":\"administrator\"}", 23, "key", 0, dev, 6,
					      &e), MID_ERR_PARSE);
	ck_assert_str_eq(e.code, MID_E_BAD_REQUEST);
}
END_TEST

START_TEST(test_server_listen_errors)
{
	static const char *const bad[] = {
		"", "7070", ":7070", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:70a", "::1:7070", "[::1:7070", "example.com:80", "127.0.0.1:1234567",
	};
	struct mid_listen l;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(mid_listen_parse(bad[i], &l, err, sizeof(err)) == MID_ERR_INVAL,
			      "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "--listen"));
	}
}
END_TEST

START_TEST(test_server_open_errors)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1];
	struct mid_store *s = (struct mid_store *)&err;
	struct mid_service *svc = (struct mid_service *)&err;
	unsigned char h[MID_SHA256_LEN] = {0};
	int64_t id;

	ck_assert_int_eq(mid_store_open(tmp_path("missing.db"), 0, &s, err, sizeof(err)),
			 MID_ERR_NOT_FOUND);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "midd init --db"));

	/* A database without an org: the service refuses to serve it. */
	ck_assert_int_eq(mid_store_open(tmp_path("empty.db"), 1, &s, err, sizeof(err)), MID_OK);
	mid_store_free(s);
	ck_assert_int_eq(mid_service_open(tmp_path("empty.db"), &svc, err, sizeof(err)),
			 MID_ERR_NOT_FOUND);
	ck_assert_ptr_null(svc);
	ck_assert_ptr_nonnull(strstr(err, "holds no org"));
	ck_assert_ptr_nonnull(strstr(err, "midd init --db"));

	/* A taken org name. */
	make_db(tmp_path("o.db"), 0, ok, ak);
	ck_assert_int_eq(mid_store_open(tmp_path("o.db"), 0, &s, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_store_org_create(s, "acme", h, h, 0, &id, err, sizeof(err)),
			 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "already exists"));
	mid_store_free(s);
}
END_TEST

START_TEST(test_server_unknown_device_errors)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1];
	const char *db = tmp_path("u.db");
	struct mid_service *svc = NULL;
	struct mid_org *org = NULL;
	enum mid_role role;
	struct mid_verdict v;
	struct mid_change res;

	make_db(db, 0, ok, ak);
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ok, &org, &role), MID_OK);
	ck_assert_int_eq(mid_service_set_state(svc, org, "ghost", "revoke", MID_DEV_REVOKED, &who,
					       &res), MID_ERR_NOT_FOUND);
	mid_service_validate(svc, org, "ghost", &who, &v);
	ck_assert_int_eq(v.allowed, 0);
	ck_assert_str_eq(v.code, "DEVICE_NOT_FOUND");
	ck_assert_int_eq(mid_service_auth(svc, "", &org, &role), MID_ERR_DENIED);
	ck_assert_int_eq(mid_service_auth(svc, "mid_org_00", &org, &role), MID_ERR_DENIED);
	mid_service_close(svc);
}
END_TEST

START_TEST(test_server_keys_write_errors)
{
	char dir[128], admin[128];
	struct stat sb;

	mid_strlcpy(dir, tmp_path("keys"), sizeof(dir));
	mid_strlcpy(admin, tmp_path("keys/admin"), sizeof(admin));
	ck_assert_int_eq(mid_keys_write(dir, admin, (gid_t)-1, "mid_org_1", "mid_adm_1", err,
					sizeof(err)), MID_OK);
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(tmp_path("keys/org.key"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sb.st_size, 10);
	/* The admin key in its own directory, readable by its owner only. */
	ck_assert_int_eq(stat(admin, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(tmp_path("keys/admin/admin.key"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0400);
	ck_assert_int_eq(stat(tmp_path("keys/admin.key"), &sb), -1);
	/* Existing key files are never overwritten. */
	ck_assert_int_eq(mid_keys_write(dir, admin, (gid_t)-1, "mid_org_2", "mid_adm_2", err,
					sizeof(err)), MID_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "remove the old key file first"));
	/* A group for the org key: 0640 in that group, the admin key as before. */
	mid_strlcpy(dir, tmp_path("gkeys"), sizeof(dir));
	mid_strlcpy(admin, tmp_path("gadmin"), sizeof(admin));
	ck_assert_int_eq(mid_keys_write(dir, admin, getgid(), "mid_org_1", "mid_adm_1", err,
					sizeof(err)), MID_OK);
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0750);
	ck_assert_int_eq(stat(tmp_path("gkeys/org.key"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	ck_assert_int_eq(stat(tmp_path("gadmin/admin.key"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0400);
	ck_assert_int_eq(mid_audit_new(0, &(struct mid_audit *){NULL}), MID_ERR_INVAL);
}
END_TEST

static struct mid_audit_row alert_row(const char *route, const char *decision, const char *code,
				      const char *dev)
{
	struct mid_audit_row a;

	memset(&a, 0, sizeof(a));
	mid_strlcpy(a.route, route, sizeof(a.route));
	mid_strlcpy(a.decision, decision, sizeof(a.decision));
	mid_strlcpy(a.code, code, sizeof(a.code));
	mid_strlcpy(a.device, dev, sizeof(a.device));
	return a;
}

static const char *kind_of(const char *route, const char *decision, const char *code,
			   const char *dev)
{
	struct mid_audit_row a = alert_row(route, decision, code, dev);
	const char *k = mid_alert_kind(&a);

	return k ? k : "-";
}

START_TEST(test_server_alert_kind)
{
	ck_assert_str_eq(kind_of("revoke", "revoked", "OK", "d"), "revoke");
	ck_assert_str_eq(kind_of("revoke", "revoked", "PERSIST_PENDING", "d"), "revoke");
	/* The later row saying the change became durable raises nothing more. */
	ck_assert_str_eq(kind_of("revoke", "revoked", "PERSISTED", "d"), "-");
	ck_assert_str_eq(kind_of("revoke", "none", "DEVICE_NOT_FOUND", "d"), "-");
	ck_assert_str_eq(kind_of("unrevoke", "active", "OK", "d"), "restore");
	ck_assert_str_eq(kind_of("register", "active", "OK", "d"), "-");
	ck_assert_str_eq(kind_of("remove", "removed", "OK", "d"), "remove");
	ck_assert_str_eq(kind_of("org/disable", "disabled", "OK", ""), "org");
	ck_assert_str_eq(kind_of("org/enable", "enabled", "OK", ""), "org");
	ck_assert_str_eq(kind_of("report", "POLICY_DENY", "POLICY_DENY", "d"), "deny");
	ck_assert_str_eq(kind_of("budget", "alert", "BUDGET_EXCEEDED", "d"), "budget");
	ck_assert_str_eq(kind_of("reboot", "alert", "X", "d"), "-");
	ck_assert_str_eq(kind_of("validate", "deny", "DEVICE_REVOKED", "d"), "-");
	ck_assert_str_eq(kind_of("push", "kill", "DEVICE_REVOKED", "d"), "-");
}
END_TEST

START_TEST(test_server_alert_checks)
{
	static const char *const good[] = {
		"https://hooks.example.org/x/y?z=1", "https://h:8443", "http://127.0.0.1:9/hook",
		"http://localhost/", "http://[::1]:80/a",
	};
	static const char *const bad[] = {
		"http://example.org/x", "http://10.0.0.1/", "ftp://h/", "https://u:p@h/",
		"https:///x", "https://h/a b", "https://h/#frag", "http://[::1/x", "",
	};
	char sig[72];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(good); i++)
		ck_assert_msg(mid_alert_url_ok(good[i], err, sizeof(err)), "%s: %s", good[i], err);
	for(i = 0; i < MID_ARRAY_LEN(bad); i++)
		ck_assert_msg(!mid_alert_url_ok(bad[i], err, sizeof(err)), "%s passed", bad[i]);
	ck_assert(mid_alert_events_ok("revoke"));
	ck_assert(mid_alert_events_ok("revoke,restore,remove,org,deny,budget"));
	ck_assert(!mid_alert_events_ok(""));
	ck_assert(!mid_alert_events_ok("revoke,"));
	ck_assert(!mid_alert_events_ok("revoke,revoke"));
	ck_assert(!mid_alert_events_ok("revoke,reboot"));
	ck_assert(!mid_alert_events_ok("Revoke"));
	/* RFC 4231-style check with the well-known example. */
	mid_alert_sign("key", "The quick brown fox jumps over the lazy dog", 43, sig);
	ck_assert_str_eq(sig, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}
END_TEST

struct claimed {
	struct mid_alert_item it[8];
	size_t n;
};

static void claim_one(const struct mid_alert_item *it, void *arg)
{
	struct claimed *c = arg;

	if(c->n < MID_ARRAY_LEN(c->it))
		c->it[c->n++] = *it;
}

static int hook_seen(const struct mid_alert_hook *h, void *arg)
{
	*(struct mid_alert_hook *)arg = *h;
	return 0;
}

/* Events are queued with their audit row, for the hooks that asked for
 * their kind; a claim leases them; retries count; the last try fails. */
START_TEST(test_server_alert_queue)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1];
	const char *db = tmp_path("al.db");
	struct mid_service *svc = NULL;
	struct mid_org *org = NULL;
	struct mid_alert_hook h, seen;
	struct mid_change res;
	struct claimed c = {0};
	enum mid_reg_status rs;
	enum mid_role role;
	uint64_t pending, failed;
	unsigned retry;
	int64_t id2;
	char *body;

	make_db(db, 0, ok, ak);
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ok, &org, &role), MID_OK);
	memset(&h, 0, sizeof(h));
	h.org_id = mid_org_id(org);
	mid_strlcpy(h.url, "http://127.0.0.1:9/a", sizeof(h.url));
	mid_strlcpy(h.events, "revoke,org", sizeof(h.events));
	mid_strlcpy(h.format, "json", sizeof(h.format));
	memset(h.secret, 'a', MID_ALERT_SECRET_HEX);
	ck_assert_int_eq(mid_store_alert_hook_add(mid_service_store(svc), &h, &h.id), MID_OK);
	mid_strlcpy(h.events, "deny", sizeof(h.events));
	ck_assert_int_eq(mid_store_alert_hook_add(mid_service_store(svc), &h, &id2), MID_OK);
	ck_assert_int_eq(mid_service_register(svc, org, "d1", &who, &rs, &retry), MID_OK);
	ck_assert_int_eq(mid_service_set_state(svc, org, "d1", "revoke", MID_DEV_REVOKED, &who,
					       &res), MID_OK);
	ck_assert_int_eq(mid_service_set_state(svc, org, "d1", "restore", MID_DEV_ACTIVE, &who,
					       &res), MID_OK);
	ck_assert_int_eq(mid_store_alert_depth(mid_service_store(svc), &pending, &failed), MID_OK);
	ck_assert_uint_eq(pending, 1); /* the revoke, for hook 1 only */
	ck_assert_int_eq(mid_store_alert_claim(mid_service_store(svc), mid_wire_now_ms(), 60000,
					       8, claim_one, &c), MID_OK);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_str_eq(c.it[0].kind, "revoke");
	ck_assert_str_eq(c.it[0].device, "d1");
	ck_assert_str_eq(c.it[0].org, "acme");
	ck_assert_int_eq(c.it[0].hook_id, h.id);
	ck_assert_str_eq(c.it[0].secret, h.secret);
	ck_assert_ptr_nonnull(strstr(c.it[0].detail, "\"route\":\"revoke\""));
	body = mid_alert_body(&c.it[0]);
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(strstr(body, c.it[0].event_id));
	free(body);
	/* Leased: not taken again at once. */
	c.n = 0;
	ck_assert_int_eq(mid_store_alert_claim(mid_service_store(svc), mid_wire_now_ms(), 60000,
					       8, claim_one, &c), MID_OK);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_int_eq(mid_store_alert_result(mid_service_store(svc), &c.it[0], MID_ALERT_RETRY,
						1, 2, "refused"), MID_OK);
	ck_assert_int_eq(mid_store_alert_claim(mid_service_store(svc), 3, 60000, 8, claim_one, &c),
			 MID_OK);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.it[0].attempts, 1);
	ck_assert_int_eq(mid_store_alert_result(mid_service_store(svc), &c.it[0], MID_ALERT_FAILED,
						4, 0, "still refused"), MID_OK);
	ck_assert_int_eq(mid_store_alert_depth(mid_service_store(svc), &pending, &failed), MID_OK);
	ck_assert_uint_eq(pending, 0);
	ck_assert_uint_eq(failed, 1);
	ck_assert_int_eq(mid_store_alert_hooks(mid_service_store(svc), mid_org_id(org), hook_seen,
					       &seen), MID_OK);
	ck_assert_int_eq(seen.id, id2); /* the last one listed */
	ck_assert_int_eq(mid_store_alert_hook_remove(mid_service_store(svc), mid_org_id(org), h.id),
			 MID_OK);
	ck_assert_int_eq(mid_store_alert_hook_remove(mid_service_store(svc), mid_org_id(org), h.id),
			 MID_ERR_NOT_FOUND);
	ck_assert_int_eq(mid_store_alert_depth(mid_service_store(svc), &pending, &failed), MID_OK);
	ck_assert_uint_eq(failed, 0);
	mid_service_close(svc);
}
END_TEST

START_TEST(test_server_alert_hook_cap)
{
	char ok[MID_KEY_LEN + 1], ak[MID_KEY_LEN + 1];
	const char *db = tmp_path("cap.db");
	struct mid_service *svc = NULL;
	struct mid_org *org = NULL;
	struct mid_alert_hook h;
	enum mid_role role;
	int64_t id;
	int i;

	make_db(db, 0, ok, ak);
	ck_assert_int_eq(mid_service_open(db, &svc, err, sizeof(err)), MID_OK);
	ck_assert_int_eq(mid_service_auth(svc, ok, &org, &role), MID_OK);
	memset(&h, 0, sizeof(h));
	h.org_id = mid_org_id(org);
	mid_strlcpy(h.url, "https://h/", sizeof(h.url));
	mid_strlcpy(h.events, "deny", sizeof(h.events));
	mid_strlcpy(h.format, "json", sizeof(h.format));
	mid_strlcpy(h.secret, "s", sizeof(h.secret));
	for(i = 0; i < MID_ALERT_HOOKS_MAX; i++)
		ck_assert_int_eq(mid_store_alert_hook_add(mid_service_store(svc), &h, &id), MID_OK);
	ck_assert_int_eq(mid_store_alert_hook_add(mid_service_store(svc), &h, &id), MID_ERR_TOO_BIG);
	mid_service_close(svc);
}
END_TEST

static void mid_check_tests(struct mid_check *t)
{
	TCase *core = t->core, *limits = t->limits, *errors = t->errors;

	t->name = "server";

	tcase_add_checked_fixture(core, tmp_setup, tmp_teardown);
	tcase_add_checked_fixture(limits, tmp_setup, tmp_teardown);
	tcase_add_checked_fixture(errors, tmp_setup, tmp_teardown);
	tcase_set_timeout(core, 30);
	tcase_set_timeout(limits, 30);
	tcase_add_test(core, test_server_sha256_vectors);
	tcase_add_test(core, test_server_key_format);
	tcase_add_test(core, test_server_body_device);
	tcase_add_test(core, test_server_body_validate_mode);
	tcase_add_test(core, test_server_budget_window);
	tcase_add_test(core, test_server_verdict_json);
	tcase_add_test(core, test_server_error_json);
	tcase_add_test(core, test_server_request_id_uuid4);
	tcase_add_test(core, test_server_time_iso);
	tcase_add_test(core, test_server_state_validate);
	tcase_add_test(core, test_server_state_dirty);
	tcase_add_test(core, test_server_audit_queue);
	tcase_add_test(core, test_server_store_roundtrip);
	tcase_add_test(core, test_server_listen_parse);
	tcase_add_test(core, test_server_journal_roundtrip);
	tcase_add_test(core, test_server_deny_unlinked);
	tcase_add_test(core, test_server_alert_kind);
	tcase_add_test(core, test_server_alert_checks);
	tcase_add_test(core, test_server_alert_queue);
	tcase_add_test(limits, test_server_alert_hook_cap);
	tcase_add_test(limits, test_server_device_id_length);
	tcase_add_test(limits, test_server_sha256_block_edges);
	tcase_add_test(limits, test_server_audit_queue_full);
	tcase_add_test(limits, test_server_state_many_devices);
	tcase_add_test(limits, test_server_register_limit);
	tcase_add_test(limits, test_server_register_rate);
	tcase_add_test(errors, test_server_body_errors);
	tcase_add_test(errors, test_server_listen_errors);
	tcase_add_test(errors, test_server_open_errors);
	tcase_add_test(errors, test_server_unknown_device_errors);
	tcase_add_test(errors, test_server_keys_write_errors);
	tcase_add_test(errors, test_server_journal_damage);
}
