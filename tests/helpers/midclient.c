/* SPDX-License-Identifier: MIT */
/*
 * midclient: drive the control-plane client from a shell test.
 *
 *   midclient URL KEYFILE validate|register DEVICE [COUNT]
 *
 * Makes COUNT calls (default 1) on one client, so they share a kept-alive
 * connection, and prints one line per call:
 *   allowed=<0|1> code=<C> request_id=<R> http=<N> ms=<t>
 * (register adds status=<S>). On stderr it closes with
 *   midclient: calls=<N> connects=<M> mean_ms=<t>
 * Exits 0 when the last answer allowed, 1 when it denied, 2 on bad usage.
 * MIDCLIENT_TIMEOUT_MS (default 2000) and MIDCLIENT_CA_FILE (https) apply.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "mid_key.h"

static int usage(void)
{
	fprintf(stderr,
	        "usage: midclient URL KEYFILE validate|register DEVICE [COUNT]\n");
	return 2;
}

int main(int argc, char **argv)
{
	char key[MID_KEY_MAX + 1], err[512];
	struct mid_client *c = NULL;
	struct mid_decision d;
	const char *v;
	long count = 1, timeout_ms = 2000, i;
	double total_ms = 0;
	int reg, allowed = 0;

	if(argc < 5 || argc > 6)
		return usage();
	if(strcmp(argv[3], "validate") && strcmp(argv[3], "register"))
		return usage();
	reg = strcmp(argv[3], "register") == 0;
	if(argc == 6) {
		count = strtol(argv[5], NULL, 10);
		if(count < 1 || count > 1000000)
			return usage();
	}
	v = getenv("MIDCLIENT_TIMEOUT_MS");
	if(v)
		timeout_ms = strtol(v, NULL, 10);
	if(mid_key_read_file(argv[2], key, sizeof(key), NULL, err, sizeof(err))) {
		fprintf(stderr, "midclient: key file %s: %s\n", argv[2], err);
		return 2;
	}
	if(mid_client_new(argv[1], key, timeout_ms, &c, err, sizeof(err))) {
		fprintf(stderr, "midclient: %s\n", err);
		return 2;
	}
	v = getenv("MIDCLIENT_CA_FILE");
	if(v && mid_client_set_ca_file(c, v)) {
		fprintf(stderr, "midclient: CA file path too long\n");
		mid_client_free(c);
		return 2;
	}
	for(i = 0; i < count; i++) {
		uint64_t t0 = mid_now_ns();
		enum mid_rc rc = reg ? mid_client_register(c, argv[4], &d)
		                     : mid_client_validate(c, argv[4], &d);
		double ms = (double)(mid_now_ns() - t0) / 1e6;

		total_ms += ms;
		allowed = rc == MID_OK && d.allowed;
		printf("allowed=%d code=%s request_id=%s http=%d ms=%.3f%s%s\n", allowed,
		       d.code, d.request_id, d.http_status, ms, reg ? " status=" : "",
		       reg ? d.status : "");
		if(rc != MID_OK && mid_client_detail(c)[0])
			fprintf(stderr, "midclient: %s\n", mid_client_detail(c));
	}
	fprintf(stderr, "midclient: calls=%ld connects=%lu mean_ms=%.3f\n", count,
	        mid_client_connects(c), total_ms / (double)count);
	mid_client_free(c);
	return allowed ? 0 : 1;
}
