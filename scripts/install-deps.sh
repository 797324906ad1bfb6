#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages midshim needs to build, test and demo.
# Idempotent: installs only what is missing and says what it installs.
# Run as root or with sudo available.
#
#   scripts/install-deps.sh [--list] [bench] [fuzz] [valgrind] [deb]
#
# With no argument: what make, make check and make demo need. Each
# argument adds the tools of the make target of that name. --list prints
# the packages, one a line, and installs nothing: under make check a test
# may not skip for want of one of them (tests/run.sh).
set -eu

list=
if [ "${1:-}" = --list ]; then
	list=1
	shift
fi

PKGS="build-essential pkg-config libcjson-dev libcurl4-openssl-dev
libmicrohttpd-dev libsqlite3-dev sqlite3 libpq-dev postgresql check uuid-dev libedit-dev libssl-dev
curl python3 libpython3.11-testsuite perl bash coreutils procps iproute2 man-db groff-base
psmisc file binutils jq e2fsprogs util-linux mount socat
git rsync make gcc tar gzip
gnuplot-nox
nodejs default-jdk-headless shellcheck clang-format cppcheck openssl systemd
python3-prometheus-client
golang-go
chromium chromium-driver python3-selenium"
for extra in "$@"; do
	case $extra in
	bench) PKGS="$PKGS strace valgrind" ;;
	fuzz) PKGS="$PKGS clang libclang-rt-14-dev" ;;
	valgrind) PKGS="$PKGS valgrind" ;;
	deb) PKGS="$PKGS dpkg-dev debhelper devscripts lintian" ;;
	*)
		echo "install-deps: unknown group '$extra' (bench, fuzz, valgrind, deb)" >&2
		exit 2
		;;
	esac
done

if [ -n "$list" ]; then
	# shellcheck disable=SC2086
	printf '%s\n' $PKGS
	exit 0
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: missing packages:$missing; run this script as root" >&2
		exit 1
	fi
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
echo "install-deps: done"
