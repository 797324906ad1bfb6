/* SPDX-License-Identifier: MIT */
/* static_sidefx.c linked dynamically: under `midshim run --supervise` the
 * preload and the filter both watch it (tests/e2e/supervise.sh). */
#include "static_sidefx.c"
