#!/bin/bash
# SPDX-License-Identifier: MIT
# Real programs under the shim, language runtimes: python3 (compileall
# with worker processes, a script making 50 rounds of subprocess pipes),
# node (files, a child node, execFileSync), java (-version, javac, a
# program writing files and starting a process) and perl (files, renames,
# children). Each behaves exactly as without the shim. Without node or
# java the other cases still run and the test ends as a skip naming the
# missing package (a failure under make check: install-deps installs both).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/compat.lib"
midd_start
shim_env "test:e2e:compat-lang:01"
want=2

# With SOURCE_DATE_EPOCH set, compileall writes hash-based .pyc files,
# which are equal from run to run.
compat_case python-compileall 0 <<'EOF'
set -euo pipefail
mkdir -p pkg/sub
printf 'VALUE = 6 * 7\n' >pkg/__init__.py
for i in $(seq 1 12); do
	printf 'def f%d(x):\n    return x * %d\n' "$i" "$i" >"pkg/sub/m$i.py"
done
: >pkg/sub/__init__.py
"$PY" -m compileall -q -j 2 pkg
find pkg -name '*.pyc' | sort
"$PY" -c 'import pkg, pkg.sub.m12 as m; print(pkg.VALUE, m.f12(2))'
EOF

compat_case python-subprocess 4 <<'EOF'
set -euo pipefail
"$PY" - <<'PY'
import subprocess, sys
lines = []
for i in range(50):
    data = "".join("%d\n" % ((i * 7919 + k * 104729) % 1000) for k in range(100))
    s = subprocess.run(["sort", "-n", "-u"], input=data, capture_output=True,
                       text=True, check=True)
    w = subprocess.run(["wc", "-l"], input=s.stdout, capture_output=True,
                       text=True, check=True)
    lines.append("%d first=%s unique=%s" % (i, s.stdout.split()[0], w.stdout.strip()))
    if i % 10 == 0:
        # A pipeline of two children connected to each other.
        p1 = subprocess.Popen(["sort", "-rn"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
        p2 = subprocess.Popen(["head", "-n", "3"], stdin=p1.stdout,
                              stdout=subprocess.PIPE, text=True)
        p1.stdout.close()
        p1.stdin.write(data)
        p1.stdin.close()
        top = p2.communicate()[0].split()
        p1.wait()
        lines.append("  top " + ",".join(top))
        sh = subprocess.run("printf '%s\\n' c a b | sort | tr -d '\\n'", shell=True,
                            capture_output=True, text=True, check=True)
        lines.append("  shell " + sh.stdout)
with open("results.txt", "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
bad = subprocess.run(["sh", "-c", "exit 9"])
print("child status", bad.returncode)
sys.exit(4)
PY
EOF

if have node nodejs "node case"; then
	want=$((want + 1))
	compat_case node 0 <<'EOF'
set -euo pipefail
cat >main.js <<'JS'
const fs = require('fs');
const cp = require('child_process');
fs.mkdirSync('out/sub', { recursive: true });
for (let i = 0; i < 20; i++)
	fs.writeFileSync(`out/sub/f${i}.txt`, `line ${i}\n`.repeat(i + 1));
fs.renameSync('out/sub/f0.txt', 'out/first.txt');
fs.unlinkSync('out/sub/f1.txt');
fs.appendFileSync('out/first.txt', 'appended\n');
const sorted = cp.execFileSync('sort', ['-r'], { input: 'b\na\nc\n' }).toString();
const child = cp.execFileSync(process.execPath, ['-e',
	'require("fs").writeFileSync("out/child.txt", "from child\\n"); console.log("child ok")'
]).toString();
const piped = cp.execSync('seq 1 100 | wc -l').toString();
let status = 0;
try {
	cp.execFileSync('sh', ['-c', 'exit 5'], { stdio: 'ignore' });
} catch (e) {
	status = e.status;
}
const ws = fs.createWriteStream('out/stream.txt');
for (let i = 0; i < 1000; i++)
	ws.write(`${i}\n`);
ws.end(async () => {
	await fs.promises.writeFile('out/promise.txt', 'done\n');
	console.log(JSON.stringify({ sorted, child, piped: piped.trim(), status,
		files: fs.readdirSync('out/sub').sort() }));
});
JS
node main.js
EOF
fi

if have java default-jdk-headless "java case" && have javac default-jdk-headless "java case"; then
	want=$((want + 1))
	# The JVM keeps its performance data under /tmp unless told not to.
	compat_case java 0 <<'EOF'
set -euo pipefail
java -XX:-UsePerfData -version
cat >Hello.java <<'JAVA'
import java.io.*;
import java.nio.file.*;
import java.util.*;

public class Hello {
	public static void main(String[] args) throws Exception {
		Path dir = Files.createDirectories(Paths.get("out", "sub"));
		for (int i = 0; i < 10; i++)
			Files.write(dir.resolve("n" + i + ".txt"), ("n=" + i + "\n").getBytes());
		Files.move(dir.resolve("n0.txt"), Paths.get("out", "zero.txt"));
		Files.delete(dir.resolve("n1.txt"));
		try (PrintWriter w = new PrintWriter(new FileWriter("out/report.txt"))) {
			for (int i = 0; i < 100; i++)
				w.println("row " + i);
		}
		Process p = new ProcessBuilder("sort", "-r", "out/report.txt")
			.redirectOutput(new File("out/sorted.txt")).start();
		System.out.println("sort status " + p.waitFor());
		String[] names = new File("out/sub").list();
		Arrays.sort(names);
		System.out.println(String.join(",", names));
		System.exit(6);
	}
}
JAVA
javac -J-XX:-UsePerfData Hello.java
rc=0
java -XX:-UsePerfData Hello || rc=$?
echo "java status $rc"
head -n 3 out/sorted.txt
EOF
fi

compat_case perl 7 <<'EOF'
set -euo pipefail
perl - <<'PL'
use strict;
use warnings;
use File::Path qw(make_path);
use File::Copy qw(copy);
make_path("p/q/r") or die "make_path: $!";
for my $i (1 .. 20) {
	open(my $f, ">", "p/q/r/n$i.txt") or die "open: $!";
	print $f "$i\n" x $i;
	close($f) or die "close: $!";
}
rename("p/q/r/n1.txt", "p/one.txt") or die "rename: $!";
copy("p/q/r/n2.txt", "p/two.txt") or die "copy: $!";
unlink("p/q/r/n3.txt") or die "unlink: $!";
open(my $a, ">>", "p/one.txt") or die;
print $a "appended\n";
close($a);
sysopen(my $s, "p/sys.txt", 0101 | 01000) or die "sysopen: $!";    # O_WRONLY|O_CREAT|O_TRUNC
syswrite($s, "raw bytes\n") or die;
close($s);
chmod(0640, "p/sys.txt") or die;
truncate("p/q/r/n20.txt", 10) or die;
rename("p/q", "p/moved") or die "rename dir: $!";
print `sort -rn p/moved/r/n5.txt | head -n 2`;
system("wc", "-l", "p/one.txt") == 0 or die "system: $?";
system("test -f p/two.txt && echo 'shell ok'") == 0 or die;
open(my $ls, "-|", "ls", "p/moved/r") or die;
my @names = sort <$ls>;
close($ls);
print scalar(@names), " files\n";
my $st = system("sh", "-c", "exit 3");
print "child status ", $st >> 8, "\n";
exit 7;
PL
EOF

compat_done "$want"
