#!/bin/bash
# SPDX-License-Identifier: MIT
# Real programs under the shim, developer tools: git (init, add, commit,
# mv, rm, tag, local and file:// clones, gc), make driving gcc, ar and the
# linker on a small C project, and tar with gzip. Each behaves exactly as
# without the shim: same status, output and files.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/compat.lib"
midd_start
shim_env "test:e2e:compat-build:01"

# .git holds the index and reflogs with inode numbers and times; the
# histories are compared through their commit ids instead.
compat_case git 0 '(^|/)\.git(/|$)' <<'EOF'
set -euo pipefail
g() { git -c user.name=Compat -c user.email=compat@example.invalid \
	-c init.defaultBranch=main -c protocol.file.allow=always "$@"; }
g init -q src
cd src
mkdir lib doc
printf 'int add(int a, int b) { return a + b; }\n' >lib/add.c
printf '# demo\n' >README.md
seq 1 200 >doc/numbers.txt
g add -A
g commit -q -m 'first: three files'
sed -i 's/demo/demo project/' README.md
seq 201 300 >>doc/numbers.txt
g commit -q -am 'second: edit two'
g mv lib/add.c lib/sum.c
g rm -q doc/numbers.txt
printf 'new\n' >new.txt
g add new.txt
g commit -q -m 'third: rename, remove, add'
g tag -a v1 -m 'release one'
g branch topic
cd ..
g clone -q src local-clone
g clone -q --no-local "file://$PWD/src" url-clone
g -C local-clone log --format='%H %s' --stat
g -C url-clone log --format='%H %s' --all
g -C url-clone describe
g -C local-clone status --porcelain --branch
g -C url-clone fsck --no-progress
g -C src gc -q
g -C src count-objects -v | grep -E '^(count|in-pack|packs):'
rc=0
g -C url-clone diff --quiet HEAD~2 -- README.md || rc=$?
echo "diff status $rc"
EOF

compat_case make 0 <<'EOF'
set -euo pipefail
cat >util.h <<'C'
int sum_to(int n);
C
cat >util.c <<'C'
#include "util.h"
int sum_to(int n) { int s = 0; for(int i = 1; i <= n; i++) s += i; return s; }
C
cat >main.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "util.h"
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	FILE *f = fopen("result.txt", "w");
	if(!f)
		return 2;
	fprintf(f, "sum_to(%d) = %d\n", n, sum_to(n));
	fclose(f);
	printf("sum_to(%d) = %d\n", n, sum_to(n));
	return n > 100 ? 3 : 0;
}
C
printf '%s\n' 'CFLAGS = -O2 -g -Wall' \
	'hello: main.o libutil.a' \
	'	$(CC) $(CFLAGS) -o $@ main.o -L. -lutil' \
	'libutil.a: util.o' \
	'	$(AR) rcs $@ $^' \
	'%.o: %.c util.h' \
	'	$(CC) $(CFLAGS) -c -o $@ $<' \
	'clean:' \
	'	rm -f hello *.o *.a' >Makefile
# Parallel jobs print in any order.
make -j2 hello >make.log 2>&1
sort make.log
rm make.log
./hello
rc=0
./hello 500 || rc=$?
echo "hello 500: status $rc"
make hello
rc=0
make -q hello || rc=$?
echo "make -q: status $rc"
make -n clean
cat result.txt
EOF

# The archive of `tar czf` stores the files' mtimes and gzip's time:
# only its listing and contents are compared. The reproducible archive
# is compared byte for byte.
compat_case tar 0 '^tree\.tgz$' <<'EOF'
set -euo pipefail
mkdir -p tree/a/b tree/c
for i in $(seq 1 30); do seq 1 "$i" >"tree/a/b/f$i"; done
printf 'script\n' >tree/c/run.sh
chmod 755 tree/c/run.sh
chmod 600 tree/a/b/f7
ln -s ../a/b/f3 tree/c/link
head -c 200000 /dev/zero | tr '\0' 'z' >tree/c/big
tar czf tree.tgz tree
tar tzf tree.tgz | sort
mkdir out
tar xzf tree.tgz -C out
diff -r tree out/tree && echo "extracted tree equal"
tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -cf - tree |
	gzip -n9 >repro.tgz
mkdir out2
tar xzf repro.tgz -C out2
tar tvzf repro.tgz
EOF

compat_done 3
