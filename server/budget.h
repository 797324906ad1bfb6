/* SPDX-License-Identifier: MIT */
/*
 * Budgets on a device's side effects: at most N execs, connects, bytes
 * sent or writes per window. The shim counts them between validates and
 * sends the counts with the next one; midd sums them here, per device
 * and window, in memory only. Each window is sliding, kept as
 * MID_BUDGET_SLOTS buckets of 1/MID_BUDGET_SLOTS of it: an event counts
 * until between (SLOTS-1)/SLOTS of a window and one window after it was
 * reported. Past a limit, validate answers BUDGET_EXCEEDED until the sum
 * falls back to the limit. Thread-safe (one mutex).
 */
#ifndef MID_BUDGET_H
#define MID_BUDGET_H

#include <stdint.h>

#include "mid.h"

enum mid_budget_kind {
	MID_BUDGET_EXECS = 0,
	MID_BUDGET_CONNECTS,
	MID_BUDGET_BYTES_OUT,
	MID_BUDGET_WRITES,
	MID_BUDGET_KINDS
};

#define MID_BUDGET_SLOTS 60
#define MID_BUDGET_WINDOW_MIN_MS 1000LL
#define MID_BUDGET_WINDOW_MAX_MS (366LL * 86400000LL)

/* One limit; 'limit' 0 means none. */
struct mid_budget_limit {
	uint64_t limit;
	int64_t window_ms;
};

struct mid_budget {
	struct mid_budget_limit k[MID_BUDGET_KINDS];
};

/* Which limit a validate passed. */
struct mid_budget_over {
	enum mid_budget_kind kind;
	uint64_t used, limit;
	int64_t window_ms;
	int crossed; /* this validate's counts took it past the limit */
};

/* "execs", "connects", "bytesOut", "writes": the JSON names. */
const char *mid_budget_kind_name(enum mid_budget_kind k);
/* Whether 'b' sets any limit. */
int mid_budget_any(const struct mid_budget *b);

struct mid_budgets;

enum mid_rc mid_budgets_new(struct mid_budgets **out) MID_WUR;
void mid_budgets_free(struct mid_budgets *b);

/* Set the budget of 'dev' in org 'org_id' (one without a limit clears
 * it). A limit whose window changed starts counting afresh. */
enum mid_rc mid_budgets_put(struct mid_budgets *b, int64_t org_id, const char *dev,
			    const struct mid_budget *lim) MID_WUR;

/* The budget of 'dev' and its use now; 0 when it has none. */
int mid_budgets_get(struct mid_budgets *b, int64_t org_id, const char *dev, int64_t now_ms,
		    struct mid_budget *lim, uint64_t used[MID_BUDGET_KINDS]);

/* Add the counts 'n' (NULL: none) of 'dev' at 'now_ms' (monotonic) and
 * say whether a limit is passed: 1 with '*over' filled, else 0. Cheap
 * when no budget is set at all. */
int mid_budgets_add(struct mid_budgets *b, int64_t org_id, const char *dev,
		    const uint64_t n[MID_BUDGET_KINDS], int64_t now_ms,
		    struct mid_budget_over *over);

#endif
