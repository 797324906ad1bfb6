#!/bin/bash
# SPDX-License-Identifier: MIT
# Real programs under the shim, file and data tools: sqlite3 (rollback
# journal and WAL databases), curl against a local HTTP server, sed -i,
# cp -r / cp -a and rsync -a. Each behaves exactly as without the shim:
# same status, output and files.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/compat.lib"
midd_start
shim_env "test:e2e:compat-tools:01"

compat_case sqlite3 0 <<'EOF'
set -euo pipefail
sqlite3 db.sqlite <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500)
INSERT INTO t(name, n) SELECT 'row' || x, x * x FROM c;
CREATE INDEX t_n ON t(n);
SQL
sqlite3 db.sqlite 'BEGIN; UPDATE t SET n = n + 1 WHERE id % 7 = 0; DELETE FROM t WHERE id > 450; COMMIT;'
sqlite3 db.sqlite 'SELECT count(*), sum(n) FROM t; SELECT * FROM t WHERE id IN (1, 7, 450);'
sqlite3 wal.sqlite 'PRAGMA journal_mode=WAL;' 'CREATE TABLE k(v);' \
	"INSERT INTO k VALUES ('x'), ('y');" 'SELECT group_concat(v) FROM k;'
sqlite3 db.sqlite .dump | sha256sum
rc=0
sqlite3 db.sqlite 'SELECT * FROM missing;' || rc=$?
echo "bad query status $rc"
EOF

# A plain (not gated) HTTP server on a free loopback port, for curl.
mkdir -p "$T/www/dir"
seq 1 5000 >"$T/www/numbers.txt"
head -c 300000 /dev/zero | tr '\0' 'q' >"$T/www/dir/blob"
WWW_PORT=$(free_port)
(cd "$T/www" && exec timeout 120 "$PY" -m http.server --bind 127.0.0.1 "$WWW_PORT") \
	>"$T/www.log" 2>&1 &
WWW_PID=$!
on_exit "kill $WWW_PID 2>/dev/null"
for i in $(seq 1 100); do
	curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$WWW_PORT/" 2>/dev/null && break
	[ "$i" -lt 100 ] || fail "the local HTTP server did not answer within 5 s: $(cat "$T/www.log")"
	sleep 0.05
done
export WWW_URL=http://127.0.0.1:$WWW_PORT

compat_case curl 0 <<'EOF'
set -euo pipefail
c() { curl -sS --max-time 10 "$@"; }
c -o numbers.txt "$WWW_URL/numbers.txt"
c -o blob "$WWW_URL/dir/blob"
c "$WWW_URL/numbers.txt" "$WWW_URL/dir/blob" | sha256sum
c -o /dev/null -w '%{http_code} %{size_download}\n' "$WWW_URL/dir/blob"
c -o /dev/null -w '%{http_code}\n' "$WWW_URL/missing"
c -o /dev/null -w '%{http_code}\n' -X DELETE "$WWW_URL/numbers.txt"
c "$WWW_URL/dir/" | grep -o 'href="[^"]*"'
rc=0
c -f -o /dev/null "$WWW_URL/missing" 2>/dev/null || rc=$?
echo "curl -f on 404: status $rc"
EOF

compat_case sed 0 <<'EOF'
set -euo pipefail
seq 1 100 >a.txt
printf 'alpha\nbeta\ngamma\n' >b.txt
chmod 640 b.txt
sed -i 's/^\(.*\)5$/five-\1/' a.txt
sed -i.orig -e '/beta/d' -e '$a delta' b.txt
sed -i -n '10,20p' a.txt
cat a.txt b.txt
rc=0
sed -i 's/x/y/' no-such-file 2>&1 || rc=$?
echo "sed on a missing file: status $rc"
EOF

compat_case cp-rsync 0 <<'EOF'
set -euo pipefail
mkdir -p src/a/b src/c
for i in $(seq 1 40); do seq "$i" 100 >"src/a/b/f$i"; done
printf '#!/bin/sh\necho hi\n' >src/c/run
chmod 750 src/c/run
chmod 700 src/a
ln -s ../a/b/f1 src/c/link
cp -r src copy-r
cp -a src copy-a
# Fixed times: which directories rsync reports as touched must not
# depend on whether the runs crossed a second boundary.
stamp() { find src -exec touch -h -d @1700000000 {} +; }
stamp
rsync -a src/ mirror/
rsync -a --checksum --itemize-changes src/ mirror/ | sort
# Change the source and sync again: changed, new and deleted files.
printf 'changed\n' >src/a/b/f2
printf 'new\n' >src/c/new
rm src/a/b/f3
stamp
rsync -a --checksum --delete --itemize-changes src/ mirror/ | sort
diff -r src mirror && echo "mirror equal"
rc=0
rsync -a no-such-dir/ elsewhere/ 2>/dev/null || rc=$?
echo "rsync of a missing dir: status $rc"
EOF

compat_done 4
