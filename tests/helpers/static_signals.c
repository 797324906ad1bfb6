/* SPDX-License-Identifier: MIT */
/*
 * The signals helper (signals.c) linked statically, for the supervise
 * tests: no preload sees its kill, tgkill, pidfd_send_signal or TIOCSTI,
 * only the launcher's seccomp filter does.
 */
#include "signals.c"
