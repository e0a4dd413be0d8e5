#!/usr/bin/env python3
"""Memory per idle authenticated IMAP connection: opens N connections,
logs each in (and optionally SELECTs INBOX), then reads the server's
memory (Pss of the given pids: Posthorn's worker, or every Dovecot
process) before and after, and prints bytes per connection.

    idle_conns.py HOST PORT USER PASSWORD N --pids PID[,PID...] [--select] [--tls]
      (--pids-cmd "pgrep -f 'dovecot/imap'" re-evaluates the pid list after connecting)
"""
import argparse
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import time


def rss_kb(pids):
    """Proportional set size (Pss) summed over pids: pages shared between
    processes (libraries, Dovecot's many imap processes) count once in
    total, not once per process as plain RSS would."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def pid_list(a):
    if a.pids_cmd:
        out = subprocess.run(a.pids_cmd, shell=True, capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]
    return [int(x) for x in a.pids.split(",")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("n", type=int)
    ap.add_argument("--pids", default="")
    ap.add_argument("--pids-cmd", default="")
    ap.add_argument("--select", action="store_true")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--settle", type=float, default=3.0)
    a = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (a.n + 100, a.n + 100))
    before = rss_kb(pid_list(a))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    socks = []
    want = b"S OK" if a.select else b"L OK"
    t0 = time.time()
    batch = 200
    for start in range(0, a.n, batch):
        group = []
        for _ in range(min(batch, a.n - start)):
            s = socket.create_connection((a.host, a.port))
            if a.tls:
                s = ctx.wrap_socket(s)
            cmds = f'L LOGIN "{a.user}" "{a.password}"\r\n'
            if a.select:
                cmds += "S SELECT INBOX\r\n"
            s.sendall(cmds.encode())
            group.append([s, b""])
        for item in group:
            s = item[0]
            while want not in item[1]:
                d = s.recv(65536)
                if not d:
                    sys.exit("connection closed: " + item[1].decode(errors="replace")[-200:])
                item[1] += d
                if b"L NO" in item[1] or b"L BAD" in item[1]:
                    sys.exit("login failed: " + item[1].decode(errors="replace")[-200:])
            item[1] = b""
            socks.append(s)
    t1 = time.time()
    time.sleep(a.settle)
    after = rss_kb(pid_list(a))
    per = (after - before) * 1024 / a.n
    print(f"{a.n} connections logged in{' and selected' if a.select else ''} in {t1 - t0:.1f} s; "
          f"PSS {before} kB -> {after} kB: {per:.0f} bytes ({per / 1024:.1f} KB) per connection")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
