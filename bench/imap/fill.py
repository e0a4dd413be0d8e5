#!/usr/bin/env python3
"""Fills a mailbox over IMAP from an mbox: pipelined APPENDs with LITERAL+
(a window of outstanding commands), so a 100,000-message mailbox takes
about a minute. Works against any server with LITERAL+ (Posthorn, Dovecot).

    fill.py HOST PORT USER PASSWORD MBOX [--mailbox INBOX] [--window 64]
"""
import argparse
import mailbox
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("mbox")
    ap.add_argument("--mailbox", default="INBOX")
    ap.add_argument("--window", type=int, default=64)
    a = ap.parse_args()
    s = socket.create_connection((a.host, a.port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(f'L LOGIN "{a.user}" "{a.password}"\r\n'.encode())
    while True:
        line = f.readline()
        if line.startswith(b"L "):
            if not line.startswith(b"L OK"):
                sys.exit("login failed: " + line.decode())
            break
    if a.mailbox != "INBOX":
        s.sendall(f'C CREATE "{a.mailbox}"\r\n'.encode())
        while not f.readline().startswith(b"C "):
            pass
    t0 = time.time()
    sent = done = 0
    box = mailbox.mbox(a.mbox, create=False)
    pending = b""
    for key in box.iterkeys():
        raw = box.get_bytes(key).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        tag = b"A%d" % sent
        pending += b'%s APPEND "%s" {%d+}\r\n%s\r\n' % (tag, a.mailbox.encode(), len(raw), raw)
        sent += 1
        if len(pending) > 256 * 1024:
            s.sendall(pending)
            pending = b""
        if sent - done > a.window and pending:
            s.sendall(pending)
            pending = b""
        while sent - done > a.window:
            line = f.readline()
            if line.startswith(b"A"):
                if b" OK " not in line:
                    sys.exit("append failed: " + line.decode())
                done += 1
    s.sendall(pending)
    while done < sent:
        line = f.readline()
        if line.startswith(b"A"):
            if b" OK " not in line:
                sys.exit("append failed: " + line.decode())
            done += 1
    s.sendall(b"Z LOGOUT\r\n")
    dt = time.time() - t0
    print(f"appended {sent} messages in {dt:.1f} s ({sent / dt:.0f}/s)")


if __name__ == "__main__":
    main()
