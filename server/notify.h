/* SPDX-License-Identifier: MIT */
/*
 * Readiness for systemd (Type=notify) without libsystemd: one datagram
 * to the socket named by $NOTIFY_SOCKET, as sd_notify(3) sends it.
 */
#ifndef MID_NOTIFY_H
#define MID_NOTIFY_H

/*
 * Send 'state' (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET: a path
 * or, with a leading '@', an abstract socket name. Nothing happens when
 * the variable is unset. Returns 1 when sent, 0 when not asked, -1 (with
 * errno) when it could not be sent.
 */
int mid_notify(const char *state);

#endif
