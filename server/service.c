/* SPDX-License-Identifier: MIT */
/*
 * midd's operations over the database and the in-memory table. The order
 * is always: decide under the writer mutex, commit to SQLite, then update
 * memory, then log. A failed commit changes nothing anywhere.
 */
#define _GNU_SOURCE
#include "service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "flush.h"
#include "log.h"
#include "wire.h"

struct mid_service {
	struct mid_store *db;
	struct mid_state *st;
	struct mid_audit *q;
	struct mid_flush *flush;
	pthread_mutex_t wmu;
};

const char *mid_reg_status_name(enum mid_reg_status s)
{
	switch(s) {
	case MID_REG_OK: return "ok";
	case MID_REG_EXISTS: return "exists";
	case MID_REG_LIMIT: return "limit_reached";
	case MID_REG_REMOVED: return "removed";
	}
	return "unknown";
}

static int load_org(const struct mid_store_org *o, void *arg)
{
	struct mid_state *st = arg;

	return mid_state_add_org(st, o->id, o->name, o->org_hash, o->admin_hash, o->limit,
				 o->disabled, o->validates, NULL) != MID_OK;
}

static int load_dev(int64_t org_id, const struct mid_dev_info *d, void *arg)
{
	struct mid_org *org = mid_state_org_by_id(arg, org_id);

	return !org || mid_state_put(org, d->id, d->state, d->created_ms, d->last_seen_ms,
				     d->validates) != MID_OK;
}

enum mid_rc mid_service_open(const char *db, struct mid_service **out, char *err, size_t errlen)
{
	struct mid_service *svc = calloc(1, sizeof(*svc));
	enum mid_rc rc = MID_ERR_NOMEM;

	*out = NULL;
	err[0] = '\0';
	if(!svc)
		return rc;
	pthread_mutex_init(&svc->wmu, NULL);
	rc = mid_store_open(db, 0, &svc->db, err, errlen);
	if(rc)
		goto out;
	rc = mid_state_new(&svc->st);
	if(rc)
		goto out;
	rc = mid_store_each_org(svc->db, load_org, svc->st, err, errlen);
	if(rc)
		goto out;
	if(mid_state_org_count(svc->st) == 0) {
		snprintf(err, errlen, "database %s holds no org: run `midd init --db %s` first",
			 db, db);
		rc = MID_ERR_NOT_FOUND;
		goto out;
	}
	rc = mid_store_each_device(svc->db, load_dev, svc->st, err, errlen);
	if(rc)
		goto out;
	rc = mid_audit_new(MID_AUDIT_QUEUE_BYTES, &svc->q);
	if(rc)
		goto out;
	rc = mid_flush_start(svc->st, svc->db, svc->q, &svc->flush);
out:
	if(rc) {
		if(err[0] == '\0')
			snprintf(err, errlen, "cannot open %s: %s", db, mid_rc_str(rc));
		mid_service_close(svc);
		svc = NULL;
	}
	*out = svc;
	return rc;
}

void mid_service_close(struct mid_service *svc)
{
	if(!svc)
		return;
	mid_flush_stop(svc->flush);
	mid_audit_free(svc->q);
	mid_store_free(svc->db);
	mid_state_free(svc->st);
	pthread_mutex_destroy(&svc->wmu);
	free(svc);
}

enum mid_rc mid_service_auth(struct mid_service *svc, const char *key,
			     struct mid_org **org, enum mid_role *role)
{
	unsigned char h[MID_SHA256_LEN];

	if(!key || !*key || strlen(key) > MID_KEY_HEADER_MAX)
		return MID_ERR_DENIED;
	mid_keys_hash(key, h);
	return mid_state_auth(svc->st, h, org, role);
}

static void audit_fill(struct mid_audit_row *a, struct mid_org *org, const char *dev,
		       const char *route, const char *decision, const char *code,
		       const struct mid_caller *c)
{
	a->time_ms = mid_wire_now_ms();
	a->org_id = mid_org_id(org);
	mid_strlcpy(a->device, dev ? dev : "", sizeof(a->device));
	mid_strlcpy(a->route, route, sizeof(a->route));
	mid_strlcpy(a->decision, decision, sizeof(a->decision));
	mid_strlcpy(a->code, code, sizeof(a->code));
	mid_strlcpy(a->request_id, c->request_id, sizeof(a->request_id));
	mid_strlcpy(a->peer, c->peer, sizeof(a->peer));
}

enum mid_rc mid_service_register(struct mid_service *svc, struct mid_org *org, const char *dev,
				 const struct mid_caller *c, enum mid_reg_status *status)
{
	static const char *const codes[] = {
		[MID_REG_OK] = "REGISTERED",
		[MID_REG_EXISTS] = "EXISTS",
		[MID_REG_LIMIT] = "LIMIT_REACHED",
		[MID_REG_REMOVED] = "DEVICE_REMOVED",
	};
	struct mid_audit_row a;
	struct mid_dev_info info;
	struct mid_usage u;
	enum mid_reg_status s;
	enum mid_rc rc = MID_OK;
	int64_t now;

	pthread_mutex_lock(&svc->wmu);
	if(mid_state_get(org, dev, &info) == MID_OK) {
		s = info.state == MID_DEV_REMOVED ? MID_REG_REMOVED : MID_REG_EXISTS;
	} else {
		mid_state_usage(org, &u);
		s = u.limit && u.devices - u.removed >= u.limit ? MID_REG_LIMIT : MID_REG_OK;
	}
	audit_fill(&a, org, dev, "register", mid_reg_status_name(s), codes[s], c);
	if(s != MID_REG_OK) {
		/* Nothing changes, so the row may wait for the flush. */
		mid_audit_push(svc->q, &a);
		if(s == MID_REG_LIMIT)
			mid_log("register-refused org=%s device=%s reason=limit_reached limit=%llu"
				" peer=%s request_id=%s", mid_org_name(org), dev,
				(unsigned long long)u.limit, c->peer, c->request_id);
		goto out;
	}
	now = a.time_ms;
	rc = mid_store_device_add(svc->db, mid_org_id(org), dev, MID_DEV_ACTIVE, now, &a);
	if(rc)
		goto out;
	rc = mid_state_put(org, dev, MID_DEV_ACTIVE, now, 0, 0);
	if(rc)
		goto out;
	mid_log("register org=%s device=%s peer=%s request_id=%s", mid_org_name(org), dev,
		c->peer, c->request_id);
out:
	pthread_mutex_unlock(&svc->wmu);
	if(rc == MID_OK)
		*status = s;
	return rc;
}

void mid_service_validate(struct mid_service *svc, struct mid_org *org, const char *dev,
			  const struct mid_caller *c, struct mid_verdict *v)
{
	struct mid_audit_row a;
	enum mid_dev_state s;
	int disabled;

	mid_state_validate_mode(org, dev, mid_wire_now_ms(), c->mode, &s, &disabled);
	v->allowed = 0;
	if(disabled) {
		v->code = "ORG_DISABLED";
		v->status = "org_disabled";
		v->reason = "the organisation is disabled; every device is denied";
	} else if(s == MID_DEV_ACTIVE) {
		v->allowed = 1;
		v->code = "ALLOW";
		v->status = "allowed";
		v->reason = "device is registered and active";
	} else if(s == MID_DEV_REVOKED) {
		v->code = "DEVICE_REVOKED";
		v->status = "revoked";
		v->reason = "device was revoked by an operator";
	} else if(s == MID_DEV_REMOVED) {
		v->code = "DEVICE_REMOVED";
		v->status = "removed";
		v->reason = "device was removed by an operator";
	} else {
		v->code = "DEVICE_NOT_FOUND";
		v->status = "not_found";
		v->reason = "device is not registered in this organisation";
	}
	audit_fill(&a, org, dev, "validate", v->allowed ? "allow" : "deny", v->code, c);
	mid_audit_push(svc->q, &a);
}

enum mid_rc mid_service_set_state(struct mid_service *svc, struct mid_org *org, const char *dev,
				  const char *action, enum mid_dev_state to,
				  const struct mid_caller *c)
{
	struct mid_audit_row a;
	struct mid_dev_info info;
	enum mid_rc rc;

	pthread_mutex_lock(&svc->wmu);
	rc = mid_state_get(org, dev, &info);
	if(rc == MID_ERR_NOT_FOUND) {
		audit_fill(&a, org, dev, action, "none", "DEVICE_NOT_FOUND", c);
		mid_audit_push(svc->q, &a);
		goto out;
	}
	audit_fill(&a, org, dev, action, mid_dev_state_name(to), "OK", c);
	rc = mid_store_device_set(svc->db, mid_org_id(org), dev, to, &a);
	if(rc)
		goto out;
	rc = mid_state_put(org, dev, to, 0, 0, 0);
	if(rc)
		goto out;
	mid_log("%s org=%s device=%s peer=%s request_id=%s state=%s was=%s", action,
		mid_org_name(org), dev, c->peer, c->request_id, mid_dev_state_name(to),
		mid_dev_state_name(info.state));
out:
	pthread_mutex_unlock(&svc->wmu);
	return rc;
}

enum mid_rc mid_service_set_disabled(struct mid_service *svc, struct mid_org *org, int disabled,
				     const struct mid_caller *c)
{
	const char *route = disabled ? "org/disable" : "org/enable";
	struct mid_audit_row a;
	enum mid_rc rc;

	pthread_mutex_lock(&svc->wmu);
	audit_fill(&a, org, NULL, route, disabled ? "disabled" : "enabled", "OK", c);
	rc = mid_store_org_set_disabled(svc->db, mid_org_id(org), disabled, &a);
	if(rc)
		goto out;
	mid_state_set_disabled(org, disabled);
	mid_log("%s org=%s peer=%s request_id=%s", disabled ? "org-disable" : "org-enable",
		mid_org_name(org), c->peer, c->request_id);
out:
	pthread_mutex_unlock(&svc->wmu);
	return rc;
}

enum mid_rc mid_service_rotate(struct mid_service *svc, struct mid_org *org, enum mid_role which,
			       const struct mid_caller *c, char key[MID_KEY_LEN + 1])
{
	const char *name = which == MID_ROLE_ADMIN ? "admin" : "org";
	unsigned char h[MID_SHA256_LEN];
	struct mid_audit_row a;
	enum mid_rc rc;

	pthread_mutex_lock(&svc->wmu);
	rc = mid_keys_generate(which == MID_ROLE_ADMIN ? MID_KEY_ADMIN : MID_KEY_ORG, key);
	if(rc)
		goto out;
	mid_keys_hash(key, h);
	audit_fill(&a, org, NULL, "org/rotate-key", name, "OK", c);
	rc = mid_store_org_set_key(svc->db, mid_org_id(org), which, h, &a);
	if(rc)
		goto out;
	mid_state_set_key(org, which, h);
	mid_log("rotate-key org=%s which=%s peer=%s request_id=%s", mid_org_name(org), name,
		c->peer, c->request_id);
out:
	pthread_mutex_unlock(&svc->wmu);
	if(rc)
		memset(key, 0, MID_KEY_LEN + 1);
	return rc;
}

struct mid_state *mid_service_state(struct mid_service *svc)
{
	return svc->st;
}

struct mid_store *mid_service_store(struct mid_service *svc)
{
	return svc->db;
}
