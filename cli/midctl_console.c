/* SPDX-License-Identifier: MIT */
/*
 * midctl's interactive console: a kill switch at the operator's fingers.
 * It reads one command per line (revoke, restore, status, list, disable,
 * enable), runs it over the same connection, prints the result and keeps
 * going after an error. Started with --device D, it acts on D unless a
 * line names another device.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "midctl.h"

#define LINE_MAX_BYTES 1024
#define WORDS_MAX 3

static const char console_help[] =
	"commands:\n"
	"  revoke [DEVICE]    stop the device at its next boundary\n"
	"  restore [DEVICE]   allow a revoked or removed device again (alias: unrevoke)\n"
	"  status [DEVICE]    the device's state and what validate would answer\n"
	"  list               all devices\n"
	"  disable            stop every device of the org\n"
	"  enable             allow the org's devices again\n"
	"  help               this list\n"
	"  quit               leave (also: exit, end of input)\n";

/* Split 'line' at blanks into at most WORDS_MAX words; returns the count,
 * or WORDS_MAX + 1 when there are more. */
static int split(char *line, char *word[WORDS_MAX])
{
	int n = 0;
	char *save = NULL, *w;

	for(w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		if(n == WORDS_MAX)
			return WORDS_MAX + 1;
		word[n++] = w;
	}
	return n;
}

/* One console line; returns the command's exit status, or -1 to leave. */
static int run_line(struct mid_ctl *c, const char *device, char *line)
{
	char *w[WORDS_MAX];
	const char *dev;
	int n = split(line, w);

	if(n == 0 || w[0][0] == '#')
		return MID_CTL_EXIT_OK;
	if(n > 2) {
		mid_ctl_err("too many words; type help");
		return MID_CTL_EXIT_USAGE;
	}
	if(!strcmp(w[0], "quit") || !strcmp(w[0], "exit"))
		return -1;
	if(!strcmp(w[0], "help") || !strcmp(w[0], "?")) {
		fputs(console_help, stdout);
		return MID_CTL_EXIT_OK;
	}
	if(!strcmp(w[0], "list") || !strcmp(w[0], "disable") || !strcmp(w[0], "enable")) {
		if(n > 1) {
			mid_ctl_err("%s takes no argument", w[0]);
			return MID_CTL_EXIT_USAGE;
		}
		if(!strcmp(w[0], "list"))
			return mid_ctl_list(c, NULL);
		return mid_ctl_org(c, !strcmp(w[0], "disable"));
	}
	if(strcmp(w[0], "revoke") && strcmp(w[0], "restore") && strcmp(w[0], "unrevoke") &&
	   strcmp(w[0], "status")) {
		mid_ctl_err("unknown command '%.64s'; type help", w[0]);
		return MID_CTL_EXIT_USAGE;
	}
	dev = n > 1 ? w[1] : device;
	if(!dev) {
		mid_ctl_err("%s: which device? give DEVICE, or start the console with "
			    "--device DEVICE", w[0]);
		return MID_CTL_EXIT_USAGE;
	}
	if(!strcmp(w[0], "status"))
		return mid_ctl_status(c, dev);
	return mid_ctl_device(c, !strcmp(w[0], "revoke") ? "revoke" : "restore", dev);
}

int mid_ctl_console(struct mid_ctl *c, const char *device, FILE *in)
{
	char line[LINE_MAX_BYTES];
	bool tty = isatty(fileno(in));
	int last = MID_CTL_EXIT_OK;

	if(tty)
		printf("midctl console: midd at %s%s%s; type help\n", c->url,
		       device ? ", device " : "", device ? device : "");
	for(;;) {
		size_t n;
		int ex;

		if(tty) {
			fputs("midctl> ", stdout);
			fflush(stdout);
		}
		if(!fgets(line, sizeof(line), in))
			break;
		n = strlen(line);
		if(n == sizeof(line) - 1 && line[n - 1] != '\n') {
			int ch;

			/* Drop the rest: half a line must not run as a command. */
			while((ch = getc(in)) != EOF && ch != '\n')
				;
			mid_ctl_err("line longer than %d bytes ignored", LINE_MAX_BYTES - 2);
			last = MID_CTL_EXIT_USAGE;
			continue;
		}
		ex = run_line(c, device, line);
		fflush(stdout);
		if(ex < 0)
			break;
		last = ex;
	}
	if(tty && feof(in))
		putchar('\n');
	return last == MID_CTL_EXIT_UNREACHABLE ? MID_CTL_EXIT_UNREACHABLE : MID_CTL_EXIT_OK;
}
