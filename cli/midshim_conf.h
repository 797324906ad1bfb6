/* SPDX-License-Identifier: MIT */
/*
 * The launcher's configuration file (midshim.conf(5)): defaults for the
 * MIDSHIM_* settings, so `midshim run --device D -- CMD` is enough.
 * Flags and the environment win over it.
 */
#ifndef MID_MIDSHIM_CONF_H
#define MID_MIDSHIM_CONF_H

#include <stddef.h>

#define MID_CONF_DEFAULT "/etc/midshim/midshim.conf"

/*
 * Read 'path' and set each MIDSHIM_* variable it names that is not set
 * yet. Paths in it are taken relative to the file's directory. With
 * 'required' 0 a missing file is no error. Returns 0, or -1 with 'err'
 * naming the file, the line and what to do.
 */
int mid_conf_apply(const char *path, int required, char *err, size_t errlen);

/*
 * Make the path in variable 'name' absolute against the working
 * directory, so a program that changes directory still finds it. Returns
 * 0, or -1 with 'err' filled.
 */
int mid_conf_absolute(const char *name, char *err, size_t errlen);

#endif
