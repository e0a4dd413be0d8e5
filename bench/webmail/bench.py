#!/usr/bin/python3
"""Webmail benchmark (run by hand; never part of `make test`).

Starts a private `posthorn serve`, fills one INBOX with N messages (default
100,000: varied text, some HTML with inline images, some attachments)
over SMTP with several connections, then measures through the JSON API,
over a kept-alive loopback connection:

  list     the first page of the message list (50, newest first, with total)
  open     one message: its JSON (headers, text, attachments) and its
           sanitized HTML view, for random messages
  search   a full-text search for a rare word and for a common one
  shell    the bytes of the app shell (page + its files), gzip as a browser
           gets them

Server time is the server's own Server-Timing header (parse, handler, store,
JSON, compression); wall time adds the loopback round trip and the client.
Each figure is the median and the best of several runs, printed next to the
target of issue 6. Nothing is asserted.

    /usr/bin/python3 bench/webmail/bench.py [--messages 100000] [--keep DIR] [--bin ./posthorn]

--keep DIR reuses (or creates and keeps) a filled server folder, so a second
run measures without filling again.
"""
import argparse
import gzip
import http.client
import json
import os
import random
import re
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "bench password 123"
USER = "bench@example.test"
WORDS = ("meeting budget project report invoice schedule review release server mailbox client "
         "network customer contract shipment holiday deadline quarterly analysis proposal design "
         "question answer office travel hotel flight ticket weather garden coffee lunch dinner "
         "family weekend birthday football music concert library science history market price").split()
RARE = "zeppelinquartz"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_message(i, rnd):
    subject = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 7))).capitalize()
    body = "\r\n".join(" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 14))) for _ in range(rnd.randint(5, 40)))
    if i % 1000 == 7:
        body += f"\r\nThe {RARE} account needs attention.\r\n"
    frm = f"{rnd.choice(WORDS).capitalize()} {rnd.choice(WORDS).capitalize()} <{rnd.choice(WORDS)}{i % 500}@remote.test>"
    day = 1 + (i * 7919) % 28
    head = (f"From: {frm}\r\nTo: {USER}\r\nSubject: {subject} #{i}\r\n"
            f"Date: Mon, {day:02d} Jun 2026 {i % 24:02d}:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <bench.{i}@remote.test>\r\nMIME-Version: 1.0\r\n")
    if i % 5 == 0:  # HTML with an inline image and a remote one
        html = "".join(f"<p style=\"color:#333\">{line}</p>" for line in body.split("\r\n"))
        return (head + "Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n"
                "Content-Type: multipart/alternative; boundary=a\r\n\r\n"
                f"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
                f"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><h1>{subject}</h1>{html}"
                "<img src=\"cid:logo@bench\"><img src=\"https://tracker.example/p.gif\"></body></html>\r\n--a--\r\n"
                "--r\r\nContent-Type: image/png\r\nContent-ID: <logo@bench>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n--r--\r\n")
    if i % 11 == 0:  # an attachment
        att = "QmVuY2ggYXR0YWNobWVudA==\r\n" * 40
        return (head + "Content-Type: multipart/mixed; boundary=m\r\n\r\n"
                f"--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
                "--m\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; "
                f"filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{att}--m--\r\n")
    return head + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"


def fill(port, n, conns=8):
    done = [0]
    lock = threading.Lock()

    def worker(k):
        rnd = random.Random(k)
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
        for i in range(k, n, conns):
            s.sendmail("sender@remote.test", [USER], make_message(i, rnd).encode())
            with lock:
                done[0] += 1
        s.quit()

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(2)
        rate = done[0] / max(0.001, time.time() - t0)
        print(f"\r  filled {done[0]:>7}/{n} ({rate:,.0f} messages/s)", end="", flush=True)
    print()
    for t in threads:
        t.join()
    return time.time() - t0


class Client:
    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = None
        self.csrf = None

    def req(self, method, path, body=None, gz=True):
        h = {"Host": f"127.0.0.1:{self.port}"}
        if gz:
            h["Accept-Encoding"] = "gzip"
        if self.cookie:
            h["Cookie"] = self.cookie
        if body is not None:
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if method != "GET" and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        t0 = time.perf_counter()
        self.c.request(method, path, body=body, headers=h)
        r = self.c.getresponse()
        data = r.read()
        wall = (time.perf_counter() - t0) * 1000
        st = r.getheader("Server-Timing") or ""
        m = re.search(r"dur=([0-9.]+)", st)
        server = float(m.group(1)) if m else float("nan")
        sc = r.getheader("Set-Cookie")
        if sc:
            self.cookie = sc.split(";")[0]
        wire = len(data)
        if r.getheader("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return r.status, data, server, wall, wire


def measure(name, target_ms, fn, runs):
    servers, walls = [], []
    for _ in range(runs):
        s, w = fn()
        servers.append(s)
        walls.append(w)
    med_s, best_s = statistics.median(servers), min(servers)
    med_w = statistics.median(walls)
    verdict = "ok" if med_s <= target_ms else "OVER"
    print(f"  {name:<28} server median {med_s:8.2f} ms  best {best_s:8.2f} ms   wall median {med_w:8.2f} ms"
          f"   target <= {target_ms} ms  {verdict}")
    return med_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--keep", help="server folder to reuse or keep")
    ap.add_argument("--bin", default=os.environ.get("POSTHORN_BIN", "./posthorn"))
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    root = a.keep or tempfile.mkdtemp(prefix="posthorn-webbench-")
    srvdir = os.path.join(root, "srv")
    conf = os.path.join(srvdir, "posthorn.conf")
    fresh = not os.path.exists(conf)
    if fresh:
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        subprocess.run([binary, "init", "--domain", "example.test", "--dir", srvdir], check=True, capture_output=True)
        text = open(conf).read()
        text = re.sub(r"^listen .*\n", "", text, flags=re.M)
        text = text.replace("run_user   posthorn", "run_user   nobody")
        text += "max_connections_per_ip 500\nmax_message_size 10M\n"
        open(conf, "w").write(text)
        subprocess.run([binary, "user", "add", USER, "-c", conf], input=PASSWORD + "\n", text=True, check=True,
                       capture_output=True)
    # Fresh ports every run.
    text = re.sub(r"^listen .*\n", "", open(conf).read(), flags=re.M)
    smtp_port, http_port = free_port(), free_port()
    text += f"listen smtp 127.0.0.1:{smtp_port}\nlisten http 127.0.0.1:{http_port}\n"
    open(conf, "w").write(text)
    log = open(os.path.join(root, "posthorn.log"), "a")
    proc = subprocess.Popen([binary, "serve", "-c", conf], stdout=log, stderr=log, start_new_session=True)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        cl = Client(http_port)
        st, data, *_ = cl.req("POST", "/api/login", {"username": USER, "password": PASSWORD})
        assert st == 200, data
        cl.csrf = json.loads(data)["csrf"]
        st, data, *_ = cl.req("GET", "/api/mailboxes")
        inbox = [m for m in json.loads(data)["mailboxes"] if m["role"] == "inbox"][0]
        have = inbox["messages"]
        print(f"Posthorn webmail benchmark: {binary}")
        if have < a.messages:
            print(f"filling INBOX with {a.messages - have} messages over SMTP ...")
            secs = fill(smtp_port, a.messages - have)
            print(f"  {a.messages - have} messages in {secs:.1f} s")
        # Wait until the full-text index caught up with the fill.
        t0 = time.time()
        while True:
            st, data, *_ = cl.req("GET", f"/api/mailboxes/{inbox['id']}/messages?limit=1&q={RARE}")
            total = json.loads(data)["total"]
            if total >= a.messages // 1000 or time.time() - t0 > 600:
                break
            time.sleep(1)
        st, data, *_ = cl.req("GET", "/api/mailboxes")
        inbox = [m for m in json.loads(data)["mailboxes"] if m["role"] == "inbox"][0]
        print(f"INBOX: {inbox['messages']:,} messages, {inbox['size'] / 1e6:,.0f} MB; {RARE!r} in {total} of them\n")
        mb = inbox["id"]

        def page(order="desc", offset=0):
            def f():
                st, data, s, w, _ = cl.req("GET", f"/api/mailboxes/{mb}/messages?limit=50&offset={offset}&order={order}")
                assert st == 200 and len(json.loads(data)["messages"]) == 50
                return s, w
            return f

        uids = [m["uid"] for m in json.loads(cl.req("GET", f"/api/mailboxes/{mb}/messages?limit=200")[1])["messages"]]
        uids += [m["uid"] for m in json.loads(cl.req("GET", f"/api/mailboxes/{mb}/messages?limit=200&offset={inbox['messages'] // 2}")[1])["messages"]]
        rnd = random.Random(1)

        def open_msg(kind):
            def f():
                uid = rnd.choice(uids)
                st, data, s, w, _ = cl.req("GET", f"/api/mailboxes/{mb}/messages/{uid}")
                assert st == 200
                if kind == "html":
                    st2, d2, s2, w2, _ = cl.req("GET", f"/api/mailboxes/{mb}/messages/{uid}/html")
                    assert st2 == 200
                    return s + s2, w + w2
                return s, w
            return f

        def search(word):
            def f():
                st, data, s, w, _ = cl.req("GET", f"/api/mailboxes/{mb}/messages?limit=50&q={word}")
                assert st == 200
                return s, w
            return f

        print("figures (server time from Server-Timing; wall time on loopback):")
        measure("list: first page", 50, page(), a.runs)
        measure("list: oldest first", 50, page("asc"), a.runs)
        mid = inbox["messages"] // 2
        measure(f"list: page at {mid:,}", 50, page(offset=mid), max(5, a.runs // 4))
        measure("open: message JSON", 30, open_msg("json"), a.runs)
        measure("open: JSON + HTML view", 30, open_msg("html"), a.runs)
        measure(f"search: rare word", 150, search(RARE), a.runs)
        measure("search: common word", 150, search("budget"), max(5, a.runs // 2))
        measure("search: two words", 150, search("budget+coffee"), max(5, a.runs // 2))

        # The app shell as a browser loads it the first time (gzip).
        st, data, _, _, wire = cl.req("GET", "/")
        total_wire, total_raw = wire, len(data)
        for path in re.findall(rb'(?:src|href)="(/static/[^"]+)"', data):
            st, d, _, _, w = cl.req("GET", path.decode())
            total_wire += w
            total_raw += len(d)
        # Modules imported by app.js.
        for mod in ("api.js", "dom.js", "compose.js"):
            prefix = re.search(rb'/static/[0-9a-f]+/', data).group(0).decode()
            st, d, _, _, w = cl.req("GET", prefix + mod)
            total_wire += w
            total_raw += len(d)
        verdict = "ok" if total_wire < 200 * 1024 else "OVER"
        print(f"  {'app shell (page + files)':<28} {total_wire / 1024:8.1f} KB compressed ({total_raw / 1024:.1f} KB raw)"
              f"   target < 200 KB  {verdict}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
