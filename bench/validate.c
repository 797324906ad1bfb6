/* SPDX-License-Identifier: MIT */
/*
 * A cold validate: the full round trip the shim makes when its cache is
 * empty, through the shim's own client (bound, as the shim's is), one
 * call at a time on a kept-alive connection. Each call is timed on CLOCK_MONOTONIC.
 *
 *   validate URL KEYFILE DEVICE N [SAMPLES]
 *
 * The device is registered first, then 1000 calls warm the connection
 * and the server up, then N calls are timed. Prints
 * "validate <N> p50 <us> p90 <us> p99 <us> max <us>" and, with SAMPLES,
 * writes every latency in microseconds, one per line, sorted. Exit 1
 * when any call is not an allow.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "mid.h"
#include "mid_key.h"
#include "stats.h"

#define N_MAX 1000000L
#define WARMUP 1000
#define TIMEOUT_MS 2000

static enum mid_rc one(struct mid_client *c, const char *device, uint64_t *ns)
{
	struct mid_decision d;
	uint64_t t0 = mid_now_ns();
	enum mid_rc rc = mid_client_validate(c, device, &d);

	*ns = mid_now_ns() - t0;
	if(rc == MID_OK && !d.allowed)
		rc = MID_ERR_DENIED;
	if(rc)
		fprintf(stderr, "validate: not allowed: %s (%s, HTTP %d)\n",
		        mid_rc_str(rc), d.code, d.http_status);
	return rc;
}

int main(int argc, char **argv)
{
	struct mid_client *c = NULL;
	struct mid_decision d;
	uint64_t *lat = NULL, ns;
	char key[MID_KEY_MAX + 1], why[160], err[256];
	FILE *out = NULL;
	enum mid_rc rc;
	long n, i;
	char *end;
	int ret = 1;

	if(argc < 5 || argc > 6) {
		fputs("usage: validate URL KEYFILE DEVICE N [SAMPLES]\n", stderr);
		return 2;
	}
	errno = 0;
	n = strtol(argv[4], &end, 10);
	if(errno || *end || n < 1 || n > N_MAX) {
		fprintf(stderr, "validate: N must be 1..%ld\n", N_MAX);
		return 2;
	}
	if(mid_key_read_file(argv[2], key, sizeof(key), NULL, why, sizeof(why))) {
		fprintf(stderr, "validate: key file %s: %s\n", argv[2], why);
		return 1;
	}
	lat = calloc((size_t)n, sizeof(*lat));
	if(!lat)
		goto out;
	if(mid_client_new(argv[1], key, TIMEOUT_MS, &c, err, sizeof(err))) {
		fprintf(stderr, "validate: %s\n", err);
		goto out;
	}
	/* As the shim does: every answer bound to its request and proved
	 * (MID_BENCH_UNBOUND=1 leaves that out, to show what it costs). */
	if(!getenv("MID_BENCH_UNBOUND"))
		mid_client_bind(c);
	rc = mid_client_register(c, argv[3], &d);
	if(rc || !d.allowed) {
		fprintf(stderr, "validate: register %s: %s (%s)\n", argv[3],
		        mid_rc_str(rc), d.status);
		goto out;
	}
	for(i = 0; i < WARMUP; i++)
		if(one(c, argv[3], &ns))
			goto out;
	for(i = 0; i < n; i++)
		if(one(c, argv[3], &lat[i]))
			goto out;
	sort_ns(lat, n);
	printf("validate %ld p50 %.1f p90 %.1f p99 %.1f max %.1f\n", n, pct(lat, n, 0.50),
	       pct(lat, n, 0.90), pct(lat, n, 0.99), (double)lat[n - 1] / 1e3);
	if(argc == 6) {
		out = fopen(argv[5], "we");
		if(!out) {
			fprintf(stderr, "validate: %s: %s\n", argv[5], strerror(errno));
			goto out;
		}
		for(i = 0; i < n; i++)
			fprintf(out, "%.2f\n", (double)lat[i] / 1e3);
		if(fclose(out)) {
			fprintf(stderr, "validate: %s: write failed\n", argv[5]);
			goto out;
		}
	}
	ret = 0;
out:
	mid_client_free(c);
	free(lat);
	return ret;
}
