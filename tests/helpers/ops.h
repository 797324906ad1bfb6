/* SPDX-License-Identifier: MIT */
/* The command line of the helpers that do one thing each of a table
 * (escape, signals): "PROG OP ARGS...". fail() reports an op's errno as
 * "PROG: OP: message". */
#ifndef MID_TEST_OPS_H
#define MID_TEST_OPS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct op {
	const char *name;
	int (*run)(char **av);
	int argc;
	const char *usage;
};

static const char *prog_name, *op_name;

static int fail(void)
{
	fprintf(stderr, "%s: %s: %s\n", prog_name, op_name, strerror(errno));
	return 1;
}

/* Runs the op of the 'n' in 'ops' that argv[1] names, given its number of
 * arguments; otherwise prints every op's usage and returns 2. */
static int ops_main(const char *prog, const struct op *ops, size_t n, int argc, char **argv)
{
	size_t i;

	prog_name = prog;
	for(i = 0; argc >= 2 && i < n; i++) {
		if(strcmp(argv[1], ops[i].name))
			continue;
		if(argc - 2 != ops[i].argc)
			break;
		op_name = ops[i].name;
		return ops[i].run(argv + 2);
	}
	fprintf(stderr, "usage: %s OP ARGS...\n", prog);
	for(i = 0; i < n; i++)
		fprintf(stderr, "  %s %s %s\n", prog, ops[i].name, ops[i].usage);
	return 2;
}

#endif
