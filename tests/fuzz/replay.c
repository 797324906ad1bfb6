/* SPDX-License-Identifier: MIT */
/*
 * A main() for fuzz targets built without libFuzzer: it feeds every file
 * named on the command line (directories are walked one level) to
 * LLVMFuzzerTestOneInput, so `make check` replays the committed corpus
 * under gcc and sanitizers. Exits 0 when every input ran, 1 when an input
 * could not be read, 2 when no input was found.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, long *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	int rc = 1;

	if(!f)
		goto out;
	if(fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)n + 1);
	if(!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	(*count)++;
	rc = 0;
out:
	if(rc)
		fprintf(stderr, "replay: cannot read %s\n", path);
	free(buf);
	if(f)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	long count = 0;
	int i, rc = 0;

	for(i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if(stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			rc |= run_file(argv[i], &count);
			continue;
		}
		d = opendir(argv[i]);
		if(!d) {
			fprintf(stderr, "replay: cannot open %s\n", argv[i]);
			return 1;
		}
		while((e = readdir(d))) {
			char path[4096];
			if(e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			rc |= run_file(path, &count);
		}
		closedir(d);
	}
	printf("replay: %ld inputs\n", count);
	if(rc)
		return 1;
	return count ? 0 : 2;
}
