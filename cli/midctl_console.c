/* SPDX-License-Identifier: MIT */
/*
 * midctl's interactive console: a kill switch at the operator's fingers.
 * It reads one command per line (revoke, restore, status, list, disable,
 * enable), runs it over the same connection, prints the result and keeps
 * going after an error. Started with --device D, it acts on D unless a
 * line names another device. On a terminal, lines are read with libedit:
 * editing, and a history kept in ~/.midctl_history (mode 0600; it holds
 * commands and device IDs, never a key). Disabling the whole org asks for
 * a typed confirmation first.
 */
#define _GNU_SOURCE
#include <editline/readline.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "midctl.h"

#define LINE_MAX_BYTES 1024
#define WORDS_MAX 3
#define HISTORY_MAX 1000 /* lines kept in the history file */
#define CONFIRM_DISABLE "disable org"

static const char console_help[] =
	"commands:\n"
	"  revoke [DEVICE]    stop the device at its next boundary\n"
	"  restore [DEVICE]   allow a revoked or removed device again (alias: unrevoke)\n"
	"  status [DEVICE]    the device's state and what validate would answer\n"
	"  list               all devices\n"
	"  disable            stop every device of the org (asks to type \"disable org\")\n"
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

/* Where lines come from: libedit on a terminal, else the stream. */
struct source {
	FILE *in;
	bool tty;
};

/*
 * Read one line into 'buf' (newline removed), showing 'prompt' on a
 * terminal. Returns 0, -1 at end of input, 1 for a line longer than 'len'
 * (dropped whole: half a line must not run as a command).
 */
static int read_line(struct source *src, const char *prompt, bool remember, char *buf,
		     size_t len)
{
	size_t n;

	if(src->tty) {
		char *l = readline(prompt);

		if(!l)
			return -1;
		n = strlen(l);
		if(n < len) {
			memcpy(buf, l, n + 1);
			if(remember && strspn(l, " \t") < n)
				add_history(l);
		}
		free(l);
		return n < len ? 0 : 1;
	}
	if(!fgets(buf, (int)len, src->in))
		return -1;
	n = strlen(buf);
	if(n == len - 1 && buf[n - 1] != '\n') {
		int ch;

		while((ch = getc(src->in)) != EOF && ch != '\n')
			;
		return 1;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The org stops as a whole: only after the operator types it out. */
static bool confirm_disable(struct source *src)
{
	char line[LINE_MAX_BYTES];

	printf("This stops every gated program of the org at its next side effect.\n");
	if(!src->tty)
		printf("Type \"%s\" to go on: \n", CONFIRM_DISABLE);
	fflush(stdout);
	if(read_line(src, "Type \"" CONFIRM_DISABLE "\" to go on: ", false, line, sizeof(line)))
		line[0] = '\0';
	if(!strcmp(line, CONFIRM_DISABLE))
		return true;
	mid_ctl_err("disable: not confirmed; the org is unchanged");
	return false;
}

/* One console line; returns the command's exit status, or -1 to leave. */
static int run_line(struct mid_ctl *c, const char *device, char *line, struct source *src)
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
		if(!strcmp(w[0], "disable") && !confirm_disable(src))
			return MID_CTL_EXIT_REFUSED;
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

/* ~/.midctl_history, or NULL without a home. Caller frees. */
static char *history_path(void)
{
	const char *home = getenv("HOME");
	char *p = NULL;

	if(!home || home[0] != '/' || asprintf(&p, "%s/.midctl_history", home) < 0)
		return NULL;
	return p;
}

static void history_save(const char *path)
{
	int fd;

	if(!path)
		return;
	/* Create it 0600 before libedit writes it with the umask's mode. */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if(fd >= 0) {
		fchmod(fd, 0600);
		close(fd);
	}
	if(write_history(path))
		mid_ctl_err("console: cannot save the history to %s", path);
}

int mid_ctl_console(struct mid_ctl *c, const char *device, FILE *in)
{
	char line[LINE_MAX_BYTES], *hist = NULL;
	struct source src = {.in = in, .tty = isatty(fileno(in)) && isatty(1)};
	int last = MID_CTL_EXIT_OK, rd = 0;

	if(src.tty) {
		printf("midctl console: midd at %s%s%s; type help\n", c->url,
		       device ? ", device " : "", device ? device : "");
		fflush(stdout);
		rl_instream = in;
		using_history();
		stifle_history(HISTORY_MAX);
		if((hist = history_path()))
			read_history(hist);
	}
	for(;;) {
		int ex;

		rd = read_line(&src, "midctl> ", true, line, sizeof(line));
		if(rd < 0)
			break;
		if(rd > 0) {
			mid_ctl_err("line longer than %d bytes ignored", LINE_MAX_BYTES - 2);
			last = MID_CTL_EXIT_USAGE;
			continue;
		}
		ex = run_line(c, device, line, &src);
		fflush(stdout);
		if(ex < 0)
			break;
		last = ex;
	}
	if(src.tty) {
		if(rd < 0)
			putchar('\n');
		history_save(hist);
		clear_history();
		free(hist);
	}
	return last == MID_CTL_EXIT_UNREACHABLE ? MID_CTL_EXIT_UNREACHABLE : MID_CTL_EXIT_OK;
}
