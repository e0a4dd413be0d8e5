#!/usr/bin/env python3
"""Times single commands on a big mailbox (the issue's targets: SELECT
<= 50 ms, UID FETCH 1:* (FLAGS) <= 200 ms, SEARCH TEXT of a rare word <=
100 ms on 100,000 messages). Wall time from sending the command to the
tagged reply, on loopback, best and median of N runs.

    timing.py HOST PORT USER PASSWORD [--word zanzibarite] [--runs 5]
"""
import argparse
import socket
import statistics
import time


class Client:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.f = self.s.makefile("rb", buffering=1 << 20)
        self.f.readline()
        self.n = 0

    def cmd(self, text):
        self.n += 1
        tag = b"T%d" % self.n
        t0 = time.perf_counter()
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        untagged = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError
            if line.startswith(tag + b" "):
                dt = time.perf_counter() - t0
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(line.decode())
                return dt, untagged
            untagged.append(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--word", default="zanzibarite")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    c = Client(a.host, a.port)
    c.cmd(f'LOGIN "{a.user}" "{a.password}"')
    results = {}
    answers = {}
    for _ in range(a.runs):
        for name, text in [("SELECT INBOX", "SELECT INBOX"), ("UID FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)"),
                           (f"SEARCH TEXT {a.word}", f"SEARCH TEXT {a.word}"),
                           ("UID SEARCH UNSEEN", "UID SEARCH UNSEEN")]:
            dt, untagged = c.cmd(text)
            results.setdefault(name, []).append(dt * 1000)
            answers[name] = summary(untagged)
    for name, v in results.items():
        print(f"{name:28s} best {min(v):8.1f} ms   median {statistics.median(v):8.1f} ms   ({answers[name]})")


def summary(untagged):
    """What the server answered, so that a fast wrong answer shows:
    EXISTS for SELECT, the number of FETCH lines, the number of hits."""
    fetches = 0
    for line in untagged:
        words = line.split()
        if len(words) >= 3 and words[2] == b"EXISTS":
            return f"{int(words[1])} messages"
        if len(words) >= 2 and words[1] == b"SEARCH":
            return f"{len(words) - 2} hits"
        if len(words) >= 3 and words[2] == b"FETCH":
            fetches += 1
    return f"{fetches} FETCH lines"


if __name__ == "__main__":
    main()
