#!/usr/bin/env python3
"""IDLE latency: one session IDLEs on INBOX, mail is delivered over SMTP,
and the moment the untagged EXISTS arrives (read by a thread, so it is
timed even while the SMTP client still waits for its 250) is compared
with the start of the SMTP transaction and with its end (250 after DATA),
N times. A negative "after the 250" means the IDLE session heard of the
message before the sender had its reply.

    idle_latency.py IMAP_PORT SMTP_PORT USER PASSWORD [--n 20]
"""
import argparse
import queue
import smtplib
import socket
import statistics
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("imap_port", type=int)
    ap.add_argument("smtp_port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--n", type=int, default=20)
    a = ap.parse_args()
    s = socket.create_connection(("127.0.0.1", a.imap_port))
    f = s.makefile("rb")
    lines = queue.Queue()

    def reader():
        for line in f:
            lines.put((time.perf_counter(), line))

    threading.Thread(target=reader, daemon=True).start()

    def until(prefix):
        while True:
            t, line = lines.get(timeout=10)
            if line.startswith(prefix) or line.endswith(prefix):
                return t

    until(b"* OK")
    s.sendall(f'a LOGIN "{a.user}" "{a.password}"\r\nb SELECT INBOX\r\n'.encode())
    until(b"b ")
    from_start, from_ack = [], []
    smtp = smtplib.SMTP("127.0.0.1", a.smtp_port)
    for i in range(a.n):
        s.sendall(b"i%d IDLE\r\n" % i)
        until(b"+")
        t0 = time.perf_counter()
        smtp.sendmail("bench@remote.test", [a.user], f"Subject: idle {i}\r\n\r\nhello\r\n".encode())
        t_ack = time.perf_counter()
        t_exists = until(b"EXISTS\r\n")
        from_start.append((t_exists - t0) * 1000)
        from_ack.append((t_exists - t_ack) * 1000)
        s.sendall(b"DONE\r\n")
        until(b"i%d " % i)
    smtp.quit()
    print(f"IDLE: EXISTS after the start of the SMTP transaction: median {statistics.median(from_start):.1f} ms, "
          f"max {max(from_start):.1f} ms; after its 250: median {statistics.median(from_ack):.1f} ms, "
          f"max {max(from_ack):.1f} ms ({a.n} deliveries)")


if __name__ == "__main__":
    main()
