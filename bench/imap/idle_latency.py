#!/usr/bin/env python3
"""IDLE latency: one session IDLEs on INBOX, mail is delivered over SMTP,
and the time from the end of the SMTP transaction (250 after DATA) to the
untagged EXISTS is measured, N times.

    idle_latency.py IMAP_PORT SMTP_PORT USER PASSWORD [--n 20]
"""
import argparse
import smtplib
import socket
import statistics
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
    f.readline()

    def until(tag):
        while True:
            line = f.readline()
            if line.startswith(tag):
                return line

    s.sendall(f'a LOGIN "{a.user}" "{a.password}"\r\nb SELECT INBOX\r\n'.encode())
    until(b"b ")
    lat = []
    smtp = smtplib.SMTP("127.0.0.1", a.smtp_port)
    for i in range(a.n):
        s.sendall(b"i%d IDLE\r\n" % i)
        until(b"+")
        smtp.sendmail("bench@remote.test", [a.user], f"Subject: idle {i}\r\n\r\nhello\r\n".encode())
        t0 = time.perf_counter()
        while True:
            line = f.readline()
            if line.endswith(b"EXISTS\r\n"):
                lat.append((time.perf_counter() - t0) * 1000)
                break
        s.sendall(b"DONE\r\n")
        until(b"i%d " % i)
    smtp.quit()
    print(f"IDLE: EXISTS after delivery: median {statistics.median(lat):.1f} ms, max {max(lat):.1f} ms "
          f"({a.n} deliveries)")


if __name__ == "__main__":
    main()
