#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A misbehaving control plane for fail-closed tests.

    faultd.py PORT MODE [PORT MODE]...

Listens on 127.0.0.1:PORT and answers every request there according to
MODE; one process serves every pair given. With FAULTD_LOG set to a file,
it appends "connected" for each connection and every byte it receives
there. It stops by itself after 120 s. Modes:
  hang       accept, read the request, never answer
  slow       answer a valid allow after 3 s
  garbage    a reply that is not HTTP
  notjson    HTTP 200 with a body that is not JSON
  string     HTTP 200, "allowed": "true" (a string)
  missing    HTTP 200, JSON without "allowed"
  array      HTTP 200, a JSON array
  http500 / http301 / http429 / http401   that status with a JSON body
  big        HTTP 200 with a 10 MB body
  reset      half a reply, then a TCP reset
  truncated  Content-Length 100, 10 bytes, close
  chunkbad   chunked encoding with a bad chunk size
  allow      a well-formed allow without midd's proof (the shim refuses it)
"""
import os
import socket
import struct
import sys
import threading
import time

ALLOW = b'{"allowed":true,"code":"ALLOW","request_id":"00000000-0000-4000-8000-000000000000","status":"ok"}'


def reply(status, body, extra=b""):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


LOG = os.environ.get("FAULTD_LOG")
LOG_LOCK = threading.Lock()


def note(data):
    if LOG:
        with LOG_LOCK, open(LOG, "ab") as f:
            f.write(data)


def serve(conn, mode):
    conn.settimeout(10)
    note(b"connected\n")
    try:
        while True:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                note(chunk)
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    need = int(line.split(b":")[1])
                    while len(body) < need:
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        note(chunk)
                        body += chunk
            if mode == "hang":
                time.sleep(60)
                return
            if mode == "slow":
                time.sleep(3)
                conn.sendall(reply(b"200 OK", ALLOW))
            elif mode == "garbage":
                conn.sendall(b"HELLO THERE\r\n\r\n")
                return
            elif mode == "notjson":
                conn.sendall(reply(b"200 OK", b"<html>allowed</html>"))
            elif mode == "string":
                conn.sendall(reply(b"200 OK", b'{"allowed":"true","code":"ALLOW"}'))
            elif mode == "missing":
                conn.sendall(reply(b"200 OK", b'{"code":"ALLOW","status":"ok"}'))
            elif mode == "array":
                conn.sendall(reply(b"200 OK", b'[true]'))
            elif mode.startswith("http"):
                code = mode[4:].encode()
                conn.sendall(reply(code + b" Fault", b'{"allowed":true,"error":"fault"}',
                                   b"Location: http://127.0.0.1:1/\r\nRetry-After: 1\r\n"))
            elif mode == "big":
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 10485760\r\n\r\n")
                conn.sendall(head + b'{"allowed":true,"pad":"')
                try:
                    for _ in range(1024):
                        conn.sendall(b"x" * 10240)
                except OSError:
                    pass
                return
            elif mode == "reset":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n{\"allowed\":")
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            elif mode == "truncated":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"allowed\"")
                return
            elif mode == "chunkbad":
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
                return
            else:
                conn.sendall(reply(b"200 OK", ALLOW))
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def listen(srv, mode, end):
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c, mode), daemon=True).start()


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit("usage: faultd.py PORT MODE [PORT MODE]...")
    end = time.time() + 120
    threads = []
    for port, mode in zip(args[0::2], args[1::2]):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", int(port)))
        srv.listen(64)
        srv.settimeout(1)
        t = threading.Thread(target=listen, args=(srv, mode, end), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
