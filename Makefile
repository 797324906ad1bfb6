# SPDX-License-Identifier: MIT
# midshim: one Makefile for the shim, the control plane, the tools and tests.
# `make V=1` shows the commands; `make help` lists the targets.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/midshim
MANDIR = $(PREFIX)/share/man
SHAREDIR = $(PREFIX)/share/midshim
COMPDIR = $(PREFIX)/share/bash-completion/completions
# The recipes name the tools where the default PREFIX puts them; an
# install elsewhere rewrites those paths (only the tools' own: a program
# of the user's under /usr/local/bin stays as it is).
PREFIX_SED = -e 's|/usr/local/bin/midd|$(BINDIR)/midd|g' \
	-e 's|/usr/local/bin/midshim|$(BINDIR)/midshim|g' \
	-e 's|/usr/local/lib/midshim|$(LIBDIR)|g' -e 's|^PATH=/usr/local/bin:|PATH=$(BINDIR):|'

B ?= build
CC ?= cc
SANITIZER ?=
WERROR ?=

ifeq ($(V),1)
Q =
else
Q = @
endif

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wcast-qual -Wvla
OPT ?= -O2 -g
CPPFLAGS += -Icommon -Ipolicy -Iclient -Ishim -Iserver -Icli -MMD -MP
# libpq-fe.h lives in a directory of its own.
CPPFLAGS += $(shell pkg-config --cflags-only-I libpq 2>/dev/null || echo -I/usr/include/postgresql)
CFLAGS += -std=c11 $(OPT) $(WARN) $(WERROR) -fPIC -fvisibility=hidden \
	-fno-strict-aliasing -pthread
ifneq ($(SANITIZER),)
CFLAGS += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZER)
endif

LIBS_CJSON = -lcjson
# libcurl: midctl's calls and midd's webhook alerts (server/alert.c).
LIBS_CURL = -lcurl
LIBS_EDIT = -ledit
LIBS_MHD = -lmicrohttpd
LIBS_SQLITE = -lsqlite3
# Ed25519 for the audit chain's checkpoints (common/chain.c): midd and midctl only.
LIBS_CRYPTO = -lcrypto
LIBS_PQ = -lpq
LIBS_CHECK = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

# Sources by part (see doc/design.md). shim/preload/ (the hooks) goes only
# into the preload; the rest of shim/ is its core, which the launcher and
# the unit tests link too.
COMMON_SRC = $(wildcard common/*.c)
POLICY_SRC = $(wildcard policy/*.c)
CLIENT_SRC = $(wildcard client/*.c)
SHIM_PRELOAD_SRC = $(wildcard shim/preload/*.c)
SHIM_CORE_SRC = $(wildcard shim/*.c)
SERVER_MAIN = server/main.c
SERVER_SRC = $(filter-out $(SERVER_MAIN),$(wildcard server/*.c))
MIDCTL_SRC = $(wildcard cli/midctl*.c)
MIDSHIM_SRC = $(wildcard cli/midshim*.c)
SUP_SRC = cli/midshim_filter.c
UNIT_SRC = $(wildcard tests/unit/check_*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC = $(wildcard bench/*.c)
HELPER_SRC = $(wildcard tests/helpers/*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))

LIBCOMMON = $(B)/libmidcommon.a
LIBPOLICY = $(B)/libmidpolicy.a
LIBCLIENT = $(B)/libmidclient.a
LIBSHIMCORE = $(B)/libmidshimcore.a
LIBSERVER = $(B)/libmidserver.a
SHIM = $(B)/libmidshim.so
MIDD = $(B)/midd
MIDCTL = $(B)/midctl
MIDSHIM = $(B)/midshim
UNIT_BIN = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
BENCH_BIN = $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC)) $(B)/bench/dyn_supcost \
	$(B)/bench/libmidshim-nocount.so
HELPER_BIN = $(patsubst tests/helpers/%.c,$(B)/helpers/%,$(HELPER_SRC))

PROGRAMS = $(SHIM) $(MIDD) $(MIDCTL) $(MIDSHIM)

.PHONY: deb all build-all tests-build unit-build deps check test unit asan ubsan tsan valgrind fuzz bench demo demo-adopt \
	format lint install uninstall clean help
.DEFAULT_GOAL := all

all: deps
	$(Q)$(MAKE) --no-print-directory build-all

build-all: $(PROGRAMS)

# Install missing Debian packages on first use (scripts/install-deps.sh).
# NO_DEPS=1 skips it (the Debian package build: debian/control has them).
deps:
	$(Q)$(if $(NO_DEPS),:,scripts/install-deps.sh >/dev/null)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Unit-test builds of the libraries expose MID_STATIC helpers.
$(B)/ut/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC(ut)  $<")
	$(Q)$(CC) $(CPPFLAGS) -DMID_UNIT_TEST $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBPOLICY): $(call obj,$(POLICY_SRC))
$(LIBCLIENT): $(call obj,$(CLIENT_SRC))
$(LIBSHIMCORE): $(call obj,$(SHIM_CORE_SRC))
$(LIBSERVER): $(call obj,$(SERVER_SRC))
$(B)/%.a:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# The preload: its only load-time dependency is libc; libcjson is loaded
# at its first use (shim/preload/cjson_lazy.c). -z defs: nothing left unresolved.
# Its exports carry libc's version tags (scripts/symver.sh), so a lookup
# that names a version finds the hook.
LIBC_SO ?= $(shell $(CC) -print-file-name=libc.so.6)
$(B)/libmidshim.map: scripts/symver.sh $(call obj,$(SHIM_PRELOAD_SRC)) $(LIBSHIMCORE)
	@$(if $(Q),echo "  SYMVER  $@")
	$(Q)scripts/symver.sh $(LIBC_SO) $(filter-out scripts/symver.sh,$^) >$@.tmp && mv $@.tmp $@

SHIM_LIBS = $(LIBSHIMCORE) $(LIBCLIENT) $(LIBPOLICY) $(LIBCOMMON) $(B)/libmidshim.map shim/startup.ld
# link_shim OBJECTS: the preload from its hook objects and the libraries.
# -z noseparate-code: headers, text and read-only data in one mapping, not
# three; the loader maps each segment at every process start and every
# fork copies each mapping (bench/analysis.md has the figures). The cost:
# the preload's headers and read-only data are executable, as every
# library's were before binutils 2.31; a gated program runs code of its
# own anyway, and libc's text is in every process. shim/startup.ld puts
# the start-up code's constants beside the tables the loader reads.
link_shim = $(CC) -shared $(LDFLAGS) -Wl,--as-needed -Wl,-z,defs -Wl,-z,noseparate-code \
	-Wl,-T,shim/startup.ld -Wl,-fini=mid_fini \
	-Wl,--version-script=$(B)/libmidshim.map -o $@ \
	$(1) -Wl,--whole-archive $(LIBSHIMCORE) -Wl,--no-whole-archive \
	$(LIBCLIENT) $(LIBPOLICY) $(LIBCOMMON) -ldl -pthread

$(SHIM): $(call obj,$(SHIM_PRELOAD_SRC)) $(SHIM_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(call link_shim,$(call obj,$(SHIM_PRELOAD_SRC)))

# The benchmark's second preload (bench/counts.sh): the same shim with
# the hooks' side-effect counting compiled out (MIDSHIM_NO_COUNTS, see
# shim/preload/hooks.h), to measure what counting costs the hot path.
# Only the hook objects differ; it is never installed.
SHIM_NOCOUNT_OBJ = $(patsubst %.c,$(B)/nocount/%.o,$(SHIM_PRELOAD_SRC))
$(B)/nocount/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC(nc)  $<")
	$(Q)$(CC) $(CPPFLAGS) -DMIDSHIM_NO_COUNTS $(CFLAGS) -c -o $@ $<
$(B)/bench/libmidshim-nocount.so: $(SHIM_NOCOUNT_OBJ) $(SHIM_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(call link_shim,$(SHIM_NOCOUNT_OBJ))

# The browser console's files, compiled into midd (scripts/embed.sh).
CONSOLE_ASSETS = $(sort $(wildcard server/console/*))
$(B)/gen/console_assets.c: scripts/embed.sh $(CONSOLE_ASSETS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)scripts/embed.sh $@ $(CONSOLE_ASSETS)
$(B)/gen/console_assets.o: $(B)/gen/console_assets.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(MIDD): $(call obj,$(SERVER_MAIN)) $(LIBSERVER) $(LIBCOMMON) $(B)/gen/console_assets.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_MHD) $(LIBS_SQLITE) $(LIBS_PQ) $(LIBS_CRYPTO) $(LIBS_CURL) $(LIBS_CJSON) -pthread

$(MIDCTL): $(call obj,$(MIDCTL_SRC)) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CURL) $(LIBS_CRYPTO) $(LIBS_CJSON) $(LIBS_EDIT) -pthread

$(MIDSHIM): $(call obj,$(MIDSHIM_SRC)) $(LIBSHIMCORE) $(LIBCLIENT) $(LIBPOLICY) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_CJSON) -ldl -pthread

# Static binaries for the launcher's tests (its refusal, its tree kill):
# no sanitizer can be linked statically, so they are built plain.
$(B)/helpers/static_%: tests/helpers/static_%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -static -o $@ $<

# The static signals helper is signals.c, included.
$(B)/helpers/static_signals: tests/helpers/signals.c tests/helpers/go.h tests/helpers/ops.h

# check_shim asks whether the static helper is followable, so it needs it
# in every build directory, the TSan one included.
$(B)/tests/check_shim: $(B)/helpers/static_true

# Unit tests and fuzz replays link unit-test builds (-DMID_UNIT_TEST) of
# the modules they name in UT_MODS_<name> (default: all), so a test of one
# module does not wait on another module's build.
UT_MODS_DEFAULT = shimcore server client policy common
UT_MODS_check_policy = policy common
UT_MODS_check_client = client common
UT_MODS_fuzz_policy = policy common
UT_MODS_fuzz_reply = client common
UT_MODS_fuzz_midd = server common
UT_MODS_check_shim = shimcore client policy common
UT_MODS_check_paths = shimcore common
UT_MODS_check_server = server common
UT_MODS_check_common = common
UT_MODS_check_filter = sup common
$(B)/ut/libmidcommon.a: $(call obj,$(addprefix ut/,$(COMMON_SRC)))
$(B)/ut/libmidpolicy.a: $(call obj,$(addprefix ut/,$(POLICY_SRC)))
$(B)/ut/libmidclient.a: $(call obj,$(addprefix ut/,$(CLIENT_SRC)))
$(B)/ut/libmidshimcore.a: $(call obj,$(addprefix ut/,$(SHIM_CORE_SRC)))
$(B)/ut/libmidserver.a: $(call obj,$(addprefix ut/,$(SERVER_SRC)))
$(B)/ut/libmidsup.a: $(call obj,$(addprefix ut/,$(SUP_SRC)))
ut_libs = $(foreach m,$(or $(UT_MODS_$(1)),$(UT_MODS_DEFAULT)),$(B)/ut/libmid$(m).a)
# The same sets as sources, for `make fuzz`, which compiles them with clang.
SRC_common = $(COMMON_SRC)
SRC_policy = $(POLICY_SRC)
SRC_client = $(CLIENT_SRC)
SRC_shimcore = $(SHIM_CORE_SRC)
SRC_server = $(SERVER_SRC)
SRC_sup = $(SUP_SRC)
ut_srcs = $(foreach m,$(or $(UT_MODS_$(1)),$(UT_MODS_DEFAULT)),$(SRC_$(m)))
FUZZ_NAMES = $(notdir $(basename $(FUZZ_SRC)))
rparen = )
UT_LINK = $(LIBS_CHECK) $(LIBS_MHD) $(LIBS_SQLITE) $(LIBS_PQ) $(LIBS_CRYPTO) $(LIBS_CURL) $(LIBS_CJSON) -ldl -pthread

.SECONDEXPANSION:
$(B)/tests/%: tests/unit/%.c $$(call ut_libs,$$*)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) -DMID_UNIT_TEST $(CFLAGS) $(LDFLAGS) -o $@ $< \
		-Wl,--start-group $(filter %.a,$^) -Wl,--end-group $(UT_LINK)

# Small programs the tests run (a C program doing each side effect, a
# fault-injecting server, a static binary).
$(B)/helpers/%: tests/helpers/%.c $(LIBCLIENT) $(LIBPOLICY) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
		$(or $(LIBS_HELPER_$*),$(LIBCLIENT) $(LIBPOLICY) $(LIBCOMMON) $(LIBS_CJSON)) -pthread

# Fuzz targets: a replay main() under gcc; `make fuzz` uses clang libFuzzer.
$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $$(call ut_libs,$$*)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) -DMID_UNIT_TEST $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		-Wl,--start-group $(filter %.a,$^) -Wl,--end-group $(UT_LINK)

# The supervise-mode benchmark's program is static, so the launcher
# supervises it without the preload.
$(B)/bench/static_%: bench/static_%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -static -o $@ $<

# The same program linked dynamically: both layers (--supervise keeps the
# preload).
$(B)/bench/dyn_supcost: bench/static_supcost.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -o $@ $<

$(B)/bench/%: bench/%.c $(LIBCLIENT) $(LIBPOLICY) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS_CJSON) -pthread

tests-build: $(PROGRAMS) $(UNIT_BIN) $(HELPER_BIN) $(FUZZ_BIN)

# The whole test suite in three passes (tests/check.sh): everything with
# -Werror; unit, fuzz-replay, integration, fault and end-to-end tests again
# under ASan+UBSan (the sanitizer runtime first in LD_PRELOAD for gated
# programs); unit tests under TSan. Each pass prints its
# "N passed, N failed, N skipped" and the last line sums them all.
ASAN_DIR = build-asan
# pg-*: PostgreSQL clusters, in the plain pass only.
ASAN_EXCLUDE = compat|demo|install|adopt|supervise|e2e/deb|pg-
check: deps
	$(Q)MAKE="$(MAKE)" B=$(B) ASAN_DIR=$(ASAN_DIR) TSAN_DIR=build-tsan \
		ASAN_EXCLUDE='$(ASAN_EXCLUDE)' tests/check.sh

unit-build: $(UNIT_BIN)

unit: deps
	$(Q)$(MAKE) --no-print-directory WERROR=-Werror $(UNIT_BIN)
	$(Q)B=$(B) tests/run.sh unit

asan: deps
	$(Q)$(MAKE) --no-print-directory B=$(ASAN_DIR) SANITIZER=address,undefined OPT="-O1 -g" build-all tests-build
	$(Q)B=$(ASAN_DIR) MIDSHIM_TEST_SANITIZER=address MIDSHIM_TEST_EXCLUDE='$(ASAN_EXCLUDE)' \
		tests/run.sh unit fuzz integration faults e2e

ubsan: deps
	$(Q)$(MAKE) --no-print-directory B=build-ubsan SANITIZER=undefined OPT="-O1 -g" build-all tests-build
	$(Q)B=build-ubsan tests/run.sh unit fuzz integration faults

tsan: deps
	$(Q)$(MAKE) --no-print-directory B=build-tsan SANITIZER=thread OPT="-O1 -g" build-all tests-build
	$(Q)B=build-tsan tests/run.sh unit

# Coverage-guided fuzzing with clang's libFuzzer: each target runs for
# FUZZ_SECONDS on its corpus, adding what it finds there.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -DMID_UNIT_TEST -Icommon -Ipolicy \
	-Iclient -Ishim -Iserver
fuzz:
	$(Q)scripts/install-deps.sh fuzz >/dev/null
	@mkdir -p $(B)/fuzz-lf
	$(Q)for t in $(FUZZ_NAMES); do \
		n=$${t#fuzz_}; mods=; \
		case $$t in $(foreach t,$(FUZZ_NAMES),$(t)$(rparen) mods="$(call ut_srcs,$(t))" ;; ) esac; \
		echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_CC) $(FUZZ_FLAGS) -o $(B)/fuzz-lf/$$t tests/fuzz/$$t.c $$mods \
			$(LIBS_MHD) $(LIBS_SQLITE) $(LIBS_PQ) $(LIBS_CRYPTO) $(LIBS_CURL) $(LIBS_CJSON) -ldl -pthread || exit 1; \
		dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
		$(B)/fuzz-lf/$$t -max_total_time=$(FUZZ_SECONDS) $$dict tests/fuzz/corpus/$$n \
			2>&1 | tail -n 3 || exit 1; \
	done

valgrind: all
	$(Q)scripts/install-deps.sh valgrind >/dev/null
	$(Q)B=$(B) MIDSHIM_TEST_VALGRIND=1 tests/run.sh integration

bench: all
	$(Q)scripts/install-deps.sh bench >/dev/null
	$(Q)$(MAKE) --no-print-directory $(BENCH_BIN)
	$(Q)B=$(B) bench/run.sh

# -s: a build with nothing to do stays silent ahead of the demo's output.
demo: deps
	$(Q)$(MAKE) --no-print-directory -s build-all
	$(Q)B=$(B) scripts/demo.sh

# A running program adopted without a restart, then stopped by a revoke.
demo-adopt: deps
	$(Q)$(MAKE) --no-print-directory -s build-all
	$(Q)B=$(B) scripts/demo-adopt.sh

format:
	$(Q)clang-format -i $(wildcard */*.c */*.h tests/*/*.c)

# Static checks: cppcheck on the C sources, shellcheck (warnings and up)
# on every shell script, and a clang-format check of the files already in
# the format of .clang-format (FORMAT_CLEAN; `make format` rewrites the
# rest). SHELL_SRC is every file with a sh/bash first line, the sourced
# libraries (*.lib and the three lib.sh/common.sh, which have none) and
# the bash completion; a new script is checked without being listed here.
SHELL_SRC = $(sort $(shell git ls-files 2>/dev/null | xargs -r awk \
	'FNR == 1 && /^\#!\/(bin\/|usr\/bin\/env )(ba)?sh( |$$)/ { print FILENAME } { nextfile }') \
	$(wildcard tests/*.lib tests/*/*.lib scripts/*.lib) tests/lib.sh scripts/lib.sh bench/common.sh \
	contrib/bash-completion/midshim)
FORMAT_CLEAN = $(wildcard common/*.c common/*.h)
lint:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem -Icommon -Ipolicy -Iclient -Ishim \
		common policy client shim server cli
	$(Q)shellcheck -S warning $(SHELL_SRC)
	$(Q)clang-format --dry-run -Werror $(FORMAT_CLEAN)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SHAREDIR)/examples
	install -m 0755 $(MIDD) $(MIDCTL) $(MIDSHIM) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(SHIM) $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(wildcard policy/examples/*.json) $(DESTDIR)$(SHAREDIR)/examples/
	for f in $(wildcard examples/*/*); do \
		install -D -m $$(if [ -x $$f ]; then echo 0755; else echo 0644; fi) \
			$$f $(DESTDIR)$(SHAREDIR)/$$f && \
		sed -i $(PREFIX_SED) $(DESTDIR)$(SHAREDIR)/$$f || exit 1; done
	install -d $(DESTDIR)$(COMPDIR)
	for t in midshim midctl midd; do \
		install -m 0644 contrib/bash-completion/midshim $(DESTDIR)$(COMPDIR)/$$t || exit 1; done
	for m in $(wildcard man/*.[158]); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/midd $(DESTDIR)$(BINDIR)/midctl $(DESTDIR)$(BINDIR)/midshim
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SHAREDIR)
	rm -f $(DESTDIR)$(COMPDIR)/midshim $(DESTDIR)$(COMPDIR)/midctl $(DESTDIR)$(COMPDIR)/midd
	for m in $(notdir $(wildcard man/*.[158])); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$m; done

# A Debian package (debian/, dpkg-buildpackage, binary only, unsigned) in
# $(B)/deb, checked with lintian; its tools come from `install-deps.sh deb`.
deb:
	$(Q)scripts/install-deps.sh deb >/dev/null
	@mkdir -p $(B)/deb
	$(Q)out=$$(cd $(B)/deb && pwd) && \
		DEB_OUT=$$out dpkg-buildpackage -b -us -uc -j$$(nproc) \
		--buildinfo-file=$$out/midshim.buildinfo --buildinfo-option=-u$$out \
		--changes-file=$$out/midshim.changes --changes-option=-u$$out \
		>$$out/build.log 2>&1 || \
		{ tail -n 30 $$out/build.log; exit 1; } && \
		lintian --fail-on error,warning $$out/midshim_*.deb && ls $$out/*.deb

clean:
	rm -rf build build-asan build-ubsan build-tsan build-deb var/demo var/demo-adopt

help:
	@echo "targets: all check unit asan ubsan tsan valgrind fuzz bench demo"
	@echo "         format lint install uninstall deb clean   (V=1 for loud output)"

-include $(shell find $(B) -name '*.d' 2>/dev/null)
