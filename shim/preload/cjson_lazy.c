/* SPDX-License-Identifier: MIT */
/*
 * The cJSON functions the policy parser and the client use, for the
 * preload only: each loads libcjson with dlopen at its first call and
 * forwards to it. Most gated processes never parse JSON (a child that
 * inherits a fresh allow under the built-in policy asks nobody), so they
 * start without mapping and relocating one more library; and the library
 * is loaded RTLD_LOCAL, so a program with its own cJSON keeps it.
 * Everything else (midd, the tools, the tests) links libcjson as usual.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <pthread.h>

#include "base.h"
#include "mid.h"

static const char soname[] = "libcjson.so.1";

static struct {
	cJSON *(*parse)(const char *, size_t, const char **, cJSON_bool);
	void (*del)(cJSON *);
	int (*array_size)(const cJSON *);
	cJSON_bool (*is_array)(const cJSON *);
	cJSON_bool (*is_bool)(const cJSON *);
	cJSON_bool (*is_null)(const cJSON *);
	cJSON_bool (*is_number)(const cJSON *);
	cJSON_bool (*is_object)(const cJSON *);
	cJSON_bool (*is_string)(const cJSON *);
	cJSON_bool (*is_true)(const cJSON *);
} api;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int ready;

static void load(void)
{
	static const char *const names[] = {
		"cJSON_ParseWithLengthOpts", "cJSON_Delete",	"cJSON_GetArraySize",
		"cJSON_IsArray",	     "cJSON_IsBool",	"cJSON_IsNull",
		"cJSON_IsNumber",	     "cJSON_IsObject",	"cJSON_IsString",
		"cJSON_IsTrue",
	};
	void **slots[] = {
		(void **)&api.parse,	 (void **)&api.del,	  (void **)&api.array_size,
		(void **)&api.is_array,	 (void **)&api.is_bool,	  (void **)&api.is_null,
		(void **)&api.is_number, (void **)&api.is_object, (void **)&api.is_string,
		(void **)&api.is_true,
	};
	sigset_t mask;
	void *h;
	size_t i;

	mid_shim_enter(&mask);
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if(!h) {
		mid_shim_say("cannot load %s (%s): install libcjson1; every JSON reply and "
			     "policy file counts as malformed until then", soname, dlerror());
		goto out;
	}
	for(i = 0; i < MID_ARRAY_LEN(names); i++) {
		*slots[i] = dlsym(h, names[i]);
		if(!*slots[i]) {
			mid_shim_say("%s has no %s: install libcjson1 1.7.13 or later", soname,
				     names[i]);
			goto out;
		}
	}
	ready = 1;
out:
	mid_shim_leave(&mask);
}

/* True when libcjson is there; loads it on the first call. */
static int have(void)
{
	pthread_once(&once, load);
	return ready;
}

cJSON *cJSON_ParseWithLengthOpts(const char *value, size_t len, const char **end,
				 cJSON_bool nul_terminated)
{
	return have() ? api.parse(value, len, end, nul_terminated) : NULL;
}

void cJSON_Delete(cJSON *item)
{
	/* Only a parse makes items, and a parse loaded the library. */
	if(item && have())
		api.del(item);
}

int cJSON_GetArraySize(const cJSON *array)
{
	return array && have() ? api.array_size(array) : 0;
}

/* The type tests: an item exists only when the library is loaded. */
#define TYPE_TEST(name, slot) \
	cJSON_bool name(const cJSON *const item) \
	{ \
		return item && have() ? api.slot(item) : 0; \
	}

TYPE_TEST(cJSON_IsArray, is_array)
TYPE_TEST(cJSON_IsBool, is_bool)
TYPE_TEST(cJSON_IsNull, is_null)
TYPE_TEST(cJSON_IsNumber, is_number)
TYPE_TEST(cJSON_IsObject, is_object)
TYPE_TEST(cJSON_IsString, is_string)
TYPE_TEST(cJSON_IsTrue, is_true)
