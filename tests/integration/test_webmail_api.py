"""The webmail's JSON API (docs/webmail-api.md) against a real `posthorn
serve`, with Python's http.client, smtplib and imaplib as clients: every
endpoint, its bad input (malformed JSON, wrong types, huge bodies, unknown
ids, another user's ids: 4xx and nothing changed), the session and CSRF
rules, the HTML sanitizer end to end, and the server-push stream."""
import base64
import email
import imaplib
import json
import os
import re
import shutil
import smtplib
import socket
import tempfile
import time

import pytest

from conftest import DOMAIN, PASSWORD, Server, client_tls_context
from webmail_client import Web

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


@pytest.fixture(scope="module")
def srv():
    root = tempfile.mkdtemp(prefix="posthorn-web-")
    os.chmod(root, 0o755)
    s = Server(os.path.join(root, "a"), extra_config="max_connections_per_ip 500\nauth_max_failures 1000\n"
               "max_message_size 2M\n")
    s.add_user(ALICE)
    s.add_user(BOB)
    s.run(["alias", "add", "team@" + DOMAIN, ALICE, BOB])
    s.start()
    yield s
    s.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def alice(srv):
    w = Web(srv)
    assert w.login(ALICE).status == 200
    yield w
    w.close()


@pytest.fixture
def bob(srv):
    w = Web(srv)
    assert w.login(BOB).status == 200
    yield w
    w.close()


def deliver(srv, to, data):
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.sendmail("sender@remote.test", [to], data if isinstance(data, bytes) else data.encode())


def simple(subject, body="Hello there.\r\n", to=ALICE, frm="Sender <sender@remote.test>"):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}.{time.time()}@remote.test>\r\n\r\n{body}")


def find(msgs, subject):
    for m in msgs["messages"]:
        if m["subject"] == subject:
            return m
    raise AssertionError(f"no message {subject!r} in {[m['subject'] for m in msgs['messages']]}")


def wait_subject(w, subject, mailbox="INBOX", timeout=10):
    deadline = time.time() + timeout
    while True:
        msgs = w.messages(mailbox, "?limit=200")
        for m in msgs["messages"]:
            if m["subject"] == subject:
                return m
        if time.time() > deadline:
            raise AssertionError(f"{subject!r} never arrived in {mailbox}")
        time.sleep(0.05)


# ---- static files and security headers -------------------------------------

def test_app_shell_headers_and_caching(srv):
    w = Web(srv)
    r = w.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/html")
    csp = r.header("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert r.header("X-Frame-Options") == "DENY"
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("Cache-Control") == "no-cache"
    etag = r.header("ETag")
    page = r.body if r.header("Content-Encoding") != "gzip" else __import__("gzip").decompress(r.body)
    assert b"http://" not in page and b"https://" not in page, "no outside resource in the shell"
    r2 = w.get("/", headers={"If-None-Match": etag})
    assert r2.status == 304 and r2.body == b""
    # Assets live under a content-hashed prefix and are cached for good.
    m = re.search(rb'src="(/static/[0-9a-f]{16}/app\.js)"', page)
    assert m, page[:400]
    js = m.group(1).decode()
    r = w.get(js, headers={"Accept-Encoding": "gzip, br"})
    assert r.status == 200 and "immutable" in r.header("Cache-Control")
    assert r.header("Content-Type").startswith("text/javascript")
    assert r.header("Content-Encoding") == "gzip"
    r = w.request("HEAD", js)
    assert r.status == 200 and r.body == b""
    # Another build's prefix, unknown files and paths: 404.
    assert w.get("/static/0000000000000000/app.js").status == 404
    assert w.get(js.replace("app.js", "nope.js")).status == 404
    assert w.get("/etc/passwd").status == 404
    assert w.get("/api/nope").status == 404
    assert w.request("DELETE", "/").status in (403, 404, 405)


# ---- sessions -------------------------------------------------------------------

def test_login_sets_a_safe_cookie(srv):
    w = Web(srv)
    r = w.post("/api/login", {"username": ALICE, "password": PASSWORD})
    assert r.status == 200, r
    body = r.json()
    assert body["user"] == ALICE and len(body["csrf"]) == 43
    cookie = r.header("Set-Cookie")
    assert cookie.startswith("posthorn_sid=")
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attr in cookie
    assert "Secure" not in cookie  # plain http on loopback
    sid = cookie.split(";")[0].split("=", 1)[1]
    assert sid not in json.dumps(body), "the session id never leaves the cookie"
    assert w.get("/api/session").json()["csrf"] == body["csrf"]


def test_https_cookie_is_secure_and_host_prefixed(srv):
    w = Web(srv, tls=True)
    r = w.post("/api/login", {"username": ALICE, "password": PASSWORD})
    assert r.status == 200
    cookie = r.header("Set-Cookie")
    assert cookie.startswith("__Host-posthorn_sid=")
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Secure"):
        assert attr in cookie
    assert r.header("Strict-Transport-Security")
    w.csrf = r.json()["csrf"]
    assert w.get("/api/mailboxes").status == 200
    # The plain-http name of the cookie is not accepted over TLS, nor the other way round.
    plain = Web(srv)
    plain.cookie = "posthorn_sid=" + w.cookie.split("=", 1)[1]
    assert plain.get("/api/mailboxes").status == 401


def test_login_bad_input(srv):
    w = Web(srv)
    assert w.post("/api/login", {"username": ALICE, "password": "wrong"}).status == 401
    assert w.post("/api/login", {"username": "nobody@" + DOMAIN, "password": "x"}).status == 401
    assert w.post("/api/login", {"username": ALICE}).status == 400
    assert w.post("/api/login", {"username": 5, "password": "x"}).status == 400
    assert w.request("POST", "/api/login", body=b'{"username": ', content_type="application/json").status == 400
    assert w.request("POST", "/api/login", body=b'[1,2]', content_type="application/json").status == 400
    assert w.request("POST", "/api/login", body=b'{"a":1,"a":2}', content_type="application/json").status == 400
    r = w.request("POST", "/api/login", body=b"username=a&password=b",
                  content_type="application/x-www-form-urlencoded")
    assert r.status == 415
    out = raw_exchange(srv, b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 5000000\r\n\r\n{")
    assert out.startswith(b"HTTP/1.1 413 ")
    assert w.get("/api/login").status == 405
    assert w.cookie is None


def test_login_throttled(make_server):
    s = make_server("throttle", extra_config="auth_max_failures 3\nauth_lockout 1m\n")
    s.add_user(ALICE)
    s.start()
    w = Web(s)
    for _ in range(3):
        assert w.post("/api/login", {"username": ALICE, "password": "wrong"}).status == 401
    r = w.post("/api/login", {"username": ALICE, "password": PASSWORD})
    assert r.status == 429, r
    assert w.cookie is None


def test_every_api_endpoint_needs_a_session(srv):
    w = Web(srv)
    for method, path in [("GET", "/api/mailboxes"), ("POST", "/api/mailboxes"), ("PATCH", "/api/mailboxes/1"),
                         ("DELETE", "/api/mailboxes/1"), ("POST", "/api/mailboxes/1/empty"),
                         ("GET", "/api/mailboxes/1/messages"), ("GET", "/api/mailboxes/1/messages/1"),
                         ("GET", "/api/mailboxes/1/messages/1/html"), ("GET", "/api/mailboxes/1/messages/1/raw"),
                         ("GET", "/api/mailboxes/1/messages/1/parts/1"),
                         ("POST", "/api/mailboxes/1/messages/flags"), ("POST", "/api/mailboxes/1/messages/move"),
                         ("POST", "/api/mailboxes/1/messages/delete"), ("POST", "/api/uploads"),
                         ("DELETE", "/api/uploads/1"), ("POST", "/api/send"), ("POST", "/api/drafts"),
                         ("GET", "/api/settings"), ("PUT", "/api/settings"), ("POST", "/api/password"),
                         ("GET", "/api/contacts"), ("GET", "/api/events"), ("POST", "/api/logout"),
                         ("GET", "/api/session")]:
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        r = w.request(method, path, body=body, content_type="application/json" if body else None)
        assert r.status == 401, (method, path, r)
    # A made-up session id is no session.
    w.cookie = "posthorn_sid=" + "A" * 43
    assert w.get("/api/mailboxes").status == 401


def test_csrf_and_cross_site_requests_refused(srv, alice):
    before = alice.mailboxes()
    # No token, a wrong one, the session id as token: refused, nothing created.
    for token in (None, "x" * 43, alice.cookie.split("=", 1)[1]):
        h = {} if token is None else {"X-CSRF-Token": token}
        r = alice.request("POST", "/api/mailboxes", json_body={"name": "Evil"}, csrf=False, headers=h)
        assert r.status == 403, r
    # A right token from another site's page: refused by Origin and Fetch metadata.
    r = alice.post("/api/mailboxes", {"name": "Evil"}, headers={"Origin": "http://evil.example"})
    assert r.status == 403
    r = alice.post("/api/mailboxes", {"name": "Evil"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status == 403
    # A form post from another site (no JSON, no token, no cookie thanks to SameSite): refused.
    r = alice.request("POST", "/api/logout", body=b"", content_type="application/x-www-form-urlencoded",
                      csrf=False, headers={"Origin": "http://evil.example"})
    assert r.status == 403
    assert alice.mailboxes().keys() == before.keys()
    # Same origin with the token works.
    r = alice.post("/api/mailboxes", {"name": "Good"}, headers={"Origin": alice.origin()})
    assert r.status == 201
    assert alice.request("DELETE", f"/api/mailboxes/{r.json()['id']}").status == 204


def test_logout(srv):
    w = Web(srv)
    w.login(ALICE)
    cookie = w.cookie
    r = w.post("/api/logout")
    assert r.status == 204 and "Max-Age=0" in r.header("Set-Cookie")
    w.cookie = cookie
    assert w.get("/api/mailboxes").status == 401


def test_idle_expiry(make_server):
    s = make_server("idle", extra_config="http_session_idle 3s\n")
    s.add_user(ALICE)
    s.start()
    w = Web(s)
    assert w.login(ALICE).status == 200
    time.sleep(1.5)  # clocks count whole seconds: 1.5 s is at most 2 of them
    assert w.get("/api/mailboxes").status == 200  # activity keeps it alive
    time.sleep(1.5)
    assert w.get("/api/mailboxes").status == 200
    time.sleep(4)
    assert w.get("/api/mailboxes").status == 401


# ---- mailboxes --------------------------------------------------------------------

def test_mailboxes(srv, alice, bob):
    boxes = alice.mailboxes()
    assert {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"} <= boxes.keys()
    assert boxes["INBOX"]["role"] == "inbox" and boxes["Trash"]["role"] == "trash"
    r = alice.post("/api/mailboxes", {"name": "Projects/2026"})
    assert r.status == 201 and r.json()["name"] == "Projects/2026"
    pid = r.json()["id"]
    assert alice.post("/api/mailboxes", {"name": "Projects/2026"}).status == 409
    for bad in ("", "a//b", "/x", "x/", "a*b", "bad\x01name"):
        assert alice.post("/api/mailboxes", {"name": bad}).status == 400, bad
    assert alice.post("/api/mailboxes", {"name": 7}).status == 400
    assert alice.post("/api/mailboxes", {}).status == 400
    r = alice.request("PATCH", f"/api/mailboxes/{pid}", json_body={"name": "Projects/Done"})
    assert r.status == 200 and r.json()["name"] == "Projects/Done"
    assert alice.request("PATCH", f"/api/mailboxes/{pid}", json_body={"name": "Sent"}).status == 409
    # Bob cannot see, rename or delete Alice's mailboxes; nothing changes.
    assert bob.request("PATCH", f"/api/mailboxes/{pid}", json_body={"name": "Stolen"}).status == 404
    assert bob.request("DELETE", f"/api/mailboxes/{pid}").status == 404
    assert bob.get(f"/api/mailboxes/{pid}/messages").status == 404
    assert "Projects/Done" in alice.mailboxes()
    # Unknown and malformed ids.
    for path in ("/api/mailboxes/999999", "/api/mailboxes/0", "/api/mailboxes/abc", "/api/mailboxes/-1",
                 "/api/mailboxes/99999999999999999999999"):
        assert alice.request("DELETE", path).status == 404, path
    # INBOX and the special folders stay.
    for name in ("INBOX", "Trash", "Sent"):
        assert alice.request("DELETE", f"/api/mailboxes/{boxes[name]['id']}").status == 409
    assert alice.request("DELETE", f"/api/mailboxes/{pid}").status == 204
    assert "Projects/Done" not in alice.mailboxes()


# ---- reading ----------------------------------------------------------------------------

def test_list_paging_sorting_and_reading(srv, bob):
    for i in range(5):
        deliver(srv, BOB, simple(f"Paging {i}", to=BOB).replace("10:00:00", f"10:0{i}:00"))
    bob.wait_messages(count=5)
    inbox = bob.mailbox_id("INBOX")
    page = bob.get(f"/api/mailboxes/{inbox}/messages?limit=2").json()
    assert page["total"] >= 5 and len(page["messages"]) == 2
    assert [m["subject"] for m in page["messages"]] == ["Paging 4", "Paging 3"]
    page2 = bob.get(f"/api/mailboxes/{inbox}/messages?limit=2&offset=2").json()
    assert [m["subject"] for m in page2["messages"]] == ["Paging 2", "Paging 1"]
    asc = bob.get(f"/api/mailboxes/{inbox}/messages?order=asc&limit=200").json()
    subjects = [m["subject"] for m in asc["messages"] if m["subject"].startswith("Paging")]
    assert subjects == [f"Paging {i}" for i in range(5)]
    m = page["messages"][0]
    assert m["from"] == "Sender <sender@remote.test>" and m["from_addr"] == "sender@remote.test"
    assert m["snippet"].startswith("Hello there") and m["flags"]["seen"] is False
    for q in ("limit=0", "limit=201", "limit=x", "offset=-1", "order=sideways", "in=everywhere"):
        assert bob.get(f"/api/mailboxes/{inbox}/messages?{q}").status == 400, q
    r = bob.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}")
    assert r.status == 200
    full = r.json()
    assert full["subject"] == "Paging 4" and full["text"].startswith("Hello there.")
    assert full["from"] == [{"name": "Sender", "address": "sender@remote.test"}]
    assert full["to"] == [{"name": "", "address": BOB}]
    assert full["has_html"] is False and full["attachments"] == []
    raw = bob.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/raw")
    assert raw.status == 200 and b"Subject: Paging 4" in raw.body
    assert raw.header("Content-Type").startswith("text/plain")
    dl = bob.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/raw?download=1")
    assert "attachment" in dl.header("Content-Disposition")
    assert bob.get(f"/api/mailboxes/{inbox}/messages/4000000000").status == 404
    assert bob.get(f"/api/mailboxes/{inbox}/messages/99999999999").status == 404


def test_another_users_messages_are_out_of_reach(srv, alice, bob):
    deliver(srv, BOB, simple("Private to Bob"))
    m = wait_subject(bob, "Private to Bob")
    inbox = bob.mailbox_id("INBOX")
    trash = alice.mailbox_id("Trash")
    for path in (f"/api/mailboxes/{inbox}/messages/{m['uid']}", f"/api/mailboxes/{inbox}/messages/{m['uid']}/raw",
                 f"/api/mailboxes/{inbox}/messages/{m['uid']}/html",
                 f"/api/mailboxes/{inbox}/messages/{m['uid']}/parts/1", f"/api/mailboxes/{inbox}/messages"):
        assert alice.get(path).status == 404, path
    assert alice.post(f"/api/mailboxes/{inbox}/messages/flags", {"uids": [m["uid"]], "add": ["seen"]}).status == 404
    assert alice.post(f"/api/mailboxes/{inbox}/messages/move", {"uids": [m["uid"]], "to": trash}).status == 404
    assert alice.post(f"/api/mailboxes/{inbox}/messages/delete", {"uids": [m["uid"]]}).status == 404
    assert alice.post(f"/api/mailboxes/{inbox}/empty").status == 404
    # Moving one's own message into Bob's mailbox: 404 too.
    deliver(srv, ALICE, simple("Alice keeps this"))
    am = wait_subject(alice, "Alice keeps this")
    r = alice.post(f"/api/mailboxes/{alice.mailbox_id('INBOX')}/messages/move", {"uids": [am["uid"]], "to": inbox})
    assert r.status == 404
    # Replying to or forwarding Bob's message: 404.
    r = alice.post("/api/send", {"to": ALICE, "subject": "x", "in_reply_to": {"mailbox": inbox, "uid": m["uid"]}})
    assert r.status == 404
    after = bob.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}").json()
    assert after["flags"]["seen"] is False
    wait_subject(alice, "Alice keeps this")


def test_flags_move_delete_empty(srv, alice):
    for s in ("Flag me", "Move me", "Delete me"):
        deliver(srv, ALICE, simple(s))
    inbox = alice.mailbox_id("INBOX")
    f = wait_subject(alice, "Flag me")
    mv = wait_subject(alice, "Move me")
    dl = wait_subject(alice, "Delete me")
    r = alice.post(f"/api/mailboxes/{inbox}/messages/flags", {"uids": [f["uid"]], "add": ["seen", "flagged"]})
    assert r.status == 200 and r.json()["changed"] == 1
    got = alice.get(f"/api/mailboxes/{inbox}/messages/{f['uid']}").json()["flags"]
    assert got["seen"] and got["flagged"]
    r = alice.post(f"/api/mailboxes/{inbox}/messages/flags", {"uids": [f["uid"]], "remove": ["flagged"]})
    assert r.json()["changed"] == 1
    assert not alice.get(f"/api/mailboxes/{inbox}/messages/{f['uid']}").json()["flags"]["flagged"]
    for bad in ({"uids": [f["uid"]], "add": ["shiny"]}, {"uids": [f["uid"]]}, {"uids": [], "add": ["seen"]},
                {"uids": "1", "add": ["seen"]}, {"uids": [0], "add": ["seen"]}, {"uids": [-3], "add": ["seen"]},
                {"uids": [1.5], "add": ["seen"]}, {"uids": [f["uid"]], "add": "seen"}):
        assert alice.post(f"/api/mailboxes/{inbox}/messages/flags", bad).status == 400, bad
    # Unknown uids are skipped, not an error.
    r = alice.post(f"/api/mailboxes/{inbox}/messages/flags", {"uids": [4000000000], "add": ["seen"]})
    assert r.status == 200 and r.json()["changed"] == 0
    archive = alice.mailbox_id("Archive")
    r = alice.post(f"/api/mailboxes/{inbox}/messages/move", {"uids": [mv["uid"]], "to": archive})
    assert r.status == 200 and r.json()["moved"] == 1
    wait_subject(alice, "Move me", "Archive")
    assert alice.post(f"/api/mailboxes/{inbox}/messages/move", {"uids": [mv["uid"]], "to": 0}).status == 400
    assert alice.post(f"/api/mailboxes/{inbox}/messages/move", {"uids": [mv["uid"]], "to": 999999}).status == 404
    # Delete: into Trash, then for good from Trash; empty Trash.
    r = alice.post(f"/api/mailboxes/{inbox}/messages/delete", {"uids": [dl["uid"]]})
    assert r.status == 200 and r.json()["moved_to"] == alice.mailbox_id("Trash")
    t = wait_subject(alice, "Delete me", "Trash")
    r = alice.post(f"/api/mailboxes/{alice.mailbox_id('Trash')}/messages/delete", {"uids": [t["uid"]]})
    assert r.status == 200 and r.json()["moved_to"] is None and r.json()["deleted"] == 1
    assert alice.messages("Trash")["total"] == 0
    deliver(srv, ALICE, simple("Trash filler"))
    tf = wait_subject(alice, "Trash filler")
    alice.post(f"/api/mailboxes/{inbox}/messages/delete", {"uids": [tf["uid"]]})
    assert alice.messages("Trash")["total"] == 1
    r = alice.post(f"/api/mailboxes/{alice.mailbox_id('Trash')}/empty")
    assert r.status == 200 and r.json()["deleted"] == 1
    assert alice.messages("Trash")["total"] == 0
    assert alice.post(f"/api/mailboxes/{inbox}/messages/delete", {"uids": [1], "permanent": "yes"}).status == 400


def test_search(srv, alice):
    deliver(srv, ALICE, simple("Quarterly numbers", body="The zeppelin budget is attached.\r\n"))
    deliver(srv, ALICE, simple("Lunch", body="Pizza on Friday?\r\n"))
    wait_subject(alice, "Lunch")
    inbox = alice.mailbox_id("INBOX")
    deadline = time.time() + 10
    while True:  # the index is filled by the store's writer when idle
        r = alice.get(f"/api/mailboxes/{inbox}/messages?q=zeppelin")
        assert r.status == 200
        if [m["subject"] for m in r.json()["messages"]] == ["Quarterly numbers"] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert [m["subject"] for m in r.json()["messages"]] == ["Quarterly numbers"]
    assert r.json()["total"] == 1
    r = alice.get(f"/api/mailboxes/{inbox}/messages?q=pizza&in=subject")
    assert r.json()["total"] == 0
    r = alice.get(f"/api/mailboxes/{inbox}/messages?q=lunch&in=subject")
    assert [m["subject"] for m in r.json()["messages"]] == ["Lunch"]
    assert alice.get(f"/api/mailboxes/{inbox}/messages?q=" + "x" * 1001).status == 400


# ---- HTML mail ------------------------------------------------------------------------

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

HOSTILE_HTML = """<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/">
<base href="https://evil.example/"><style>body{background:url(https://evil.example/bg.png)}</style>
<script>alert(1)</script><link rel=stylesheet href="https://evil.example/x.css"></head>
<body onload="alert(2)"><h1>Hello <b>reader</b></h1>
<p style="color: red; background-image: url('https://evil.example/p.png'); width: expression(alert(3))">styled</p>
<img src="cid:logo@example" alt="logo"><img src="https://tracker.example/pixel.gif" alt="">
<img src=x onerror="alert(4)"><a href="javascript:alert(5)">js link</a>
<a href="https://example.org/page">a link</a><a href="data:text/html,<script>alert(6)</script>">data</a>
<svg onload="alert(7)"><script>alert(8)</script></svg>
<form action="https://evil.example/"><input name="password"><button>Go</button></form>
<iframe src="https://evil.example/"></iframe><object data="x.swf"></object>
</body></html>"""


def html_message(subject):
    png = base64.b64encode(PNG).decode()
    return (f"From: Newsletter <news@remote.test>\r\nTo: {ALICE}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
            f"--outer\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
            f"--rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
            f"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello reader (text version)\r\n"
            f"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{HOSTILE_HTML}\r\n--alt--\r\n"
            f"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@example>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{png}\r\n--rel--\r\n"
            f"--outer\r\nContent-Type: text/html; name=\"evil.html\"\r\nContent-Disposition: attachment; filename=\"evil.html\"\r\n\r\n"
            f"<script>alert(9)</script>\r\n"
            f"--outer\r\nContent-Type: application/pdf; name=\"=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=\"\r\n"
            f"Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.b64encode(b'%PDF-1.4 fake').decode()}\r\n--outer--\r\n")


def test_html_is_sanitized_and_sandboxed(srv, alice):
    deliver(srv, ALICE, html_message("Hostile newsletter"))
    m = wait_subject(alice, "Hostile newsletter")
    inbox = alice.mailbox_id("INBOX")
    full = alice.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}").json()
    assert full["has_html"] and full["remote_images"] == 1
    assert full["text"].startswith("Hello reader (text version)")
    atts = {a["name"]: a for a in full["attachments"] if not a["inline"]}
    assert set(atts) == {"evil.html", "Résumé.pdf"}, atts
    assert [a["type"] for a in full["attachments"] if a["inline"]] == ["image/png"]  # the cid: image
    r = alice.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/html")
    assert r.status == 200 and r.header("Content-Type").startswith("text/html")
    csp = r.header("Content-Security-Policy")
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert "img-src data:;" in csp and "https:" not in csp
    assert r.header("X-Frame-Options") == "SAMEORIGIN"
    html = r.body.decode()
    low = html.lower()
    for bad in ("<script", "onload", "onerror", "javascript:", "<svg", "<form", "<input", "<iframe", "<object",
                "<meta http-equiv", "<base", "<link", "expression", "url(", "evil.example", "tracker.example",
                "data:text"):
        assert bad not in low, bad
    assert "<h1>Hello <b>reader</b></h1>" in html
    assert 'src="data:image/png;base64,' in html  # the cid: image, inline
    assert 'href="https://example.org/page" target="_blank" rel="noopener noreferrer"' in html
    assert "style=\"color: red; \"" in html
    # Remote images only when asked, and the policy follows.
    r = alice.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/html?images=1")
    assert 'src="https://tracker.example/pixel.gif"' in r.body.decode()
    assert "img-src data: https: http:" in r.header("Content-Security-Policy")
    assert "evil.example" not in r.body.decode()
    # Attachments: active types are downloads of octets, never rendered.
    pdf = atts["Résumé.pdf"]
    r = alice.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/parts/{pdf['part']}")
    assert r.status == 200 and r.body == b"%PDF-1.4 fake"
    assert r.header("Content-Disposition").startswith("attachment;")
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9.pdf" in r.header("Content-Disposition")
    ev = atts["evil.html"]
    r = alice.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/parts/{ev['part']}?inline=1")
    assert r.header("Content-Type") == "application/octet-stream"
    assert r.header("Content-Disposition").startswith("attachment;")
    assert "sandbox" in r.header("Content-Security-Policy")
    for bad in ("0", "9", "1.9.9", "1..2", "a", "%00"):
        assert alice.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}/parts/{bad}").status == 404, bad


def test_text_message_html_view_is_escaped(srv, alice):
    deliver(srv, ALICE, simple("Plain angle brackets", body="if a < b && c > d then <script>alert(1)</script>\r\n"))
    m = wait_subject(alice, "Plain angle brackets")
    r = alice.get(f"/api/mailboxes/{alice.mailbox_id('INBOX')}/messages/{m['uid']}/html")
    assert "&lt;script&gt;" in r.body.decode() and "<script" not in r.body.decode()


# ---- writing -----------------------------------------------------------------------------

def test_send_local_remote_and_sent_copy(srv, alice, bob):
    r = alice.post("/api/send", {"to": ["Bob Example <bob@example.test>"], "cc": "team@example.test",
                                 "subject": "Grüße from the webmail", "text": "Hello Bob,\nsee you.\n"})
    assert r.status == 200, r
    res = r.json()
    assert res["sent_copy"] and res["failed"] == [] and res["delivered"] == 2  # bob (once) and alice via team
    assert res["message_id"].startswith("<") and res["message_id"].endswith("@mx.example.test>")
    got = wait_subject(bob, "Grüße from the webmail")
    full = bob.get(f"/api/mailboxes/{bob.mailbox_id('INBOX')}/messages/{got['uid']}").json()
    assert full["text"] == "Hello Bob,\nsee you.\n"
    assert full["from"][0]["address"] == ALICE
    sent = wait_subject(alice, "Grüße from the webmail", "Sent")
    assert sent["flags"]["seen"]
    raw = alice.get(f"/api/mailboxes/{alice.mailbox_id('Sent')}/messages/{sent['uid']}/raw").body
    msg = email.message_from_bytes(raw)
    assert msg["Message-ID"] == res["message_id"]
    assert "Bcc" not in msg
    assert msg["Subject"].startswith("=?")  # RFC 2047
    assert b"Received: from [127.0.0.1]" in raw
    # A remote recipient goes to the outbound queue.
    r = alice.post("/api/send", {"to": "someone@remote.test", "subject": "Out", "text": "x"})
    assert r.status == 200 and r.json()["queued"] == 1


def test_send_bad_input(srv, alice):
    sent_before = alice.messages("Sent")["total"]
    cases = [
        ({"subject": "no rcpt", "text": "x"}, 400),
        ({"to": "not an address", "text": "x"}, 400),
        ({"to": ["a@b.test", 5]}, 400),
        ({"to": {"a": 1}}, 400),
        ({"to": "nobody@example.test", "text": "x"}, 400),
        ({"to": BOB, "from": "ceo@example.test"}, 400),
        ({"to": BOB, "subject": ["x"]}, 400),
        ({"to": BOB, "attachments": [424242]}, 404),
        ({"to": BOB, "attachments": "1"}, 400),
        ({"to": BOB, "in_reply_to": {"mailbox": 1}}, 400),
        ({"to": BOB, "in_reply_to": {"mailbox": 999999, "uid": 1}}, 404),
        ({"to": BOB, "text": "x" * (3 * 1024 * 1024)}, 413),
        ({"to": ["x@example.test"] * 3 + [f"u{i}@remote.test" for i in range(1001)]}, 400),
    ]
    for body, status in cases:
        r = alice.post("/api/send", body)
        assert r.status == status, (body if len(json.dumps(body)) < 300 else "big", r)
    assert alice.messages("Sent")["total"] == sent_before


def test_reply_forward_and_attachments(srv, alice, bob):
    deliver(srv, ALICE, simple("Question", body="What time?\r\n", frm=f"Bob <{BOB}>"))
    q = wait_subject(alice, "Question")
    inbox = alice.mailbox_id("INBOX")
    orig = alice.get(f"/api/mailboxes/{inbox}/messages/{q['uid']}").json()
    # Upload an attachment (raw body; the name in the query string).
    data = os.urandom(300 * 1024)
    r = alice.request("POST", "/api/uploads?name=" + alice.quote("plan é.bin"), body=data,
                      content_type="application/x-custom; foo=bar")
    assert r.status == 201, r
    up = r.json()
    assert up["name"] == "plan é.bin" and up["size"] == len(data) and up["type"] == "application/x-custom"
    r = alice.post("/api/send", {"to": BOB, "subject": "Re: Question", "text": "At noon.\n\n> What time?\n",
                                 "in_reply_to": {"mailbox": inbox, "uid": q["uid"]}, "attachments": [up["id"]]})
    assert r.status == 200, r
    got = wait_subject(bob, "Re: Question")
    full = bob.get(f"/api/mailboxes/{bob.mailbox_id('INBOX')}/messages/{got['uid']}").json()
    assert full["in_reply_to"] == orig["message_id"]
    assert orig["message_id"] in full["references"]
    assert [a["name"] for a in full["attachments"]] == ["plan é.bin"]
    part = bob.get(f"/api/mailboxes/{bob.mailbox_id('INBOX')}/messages/{got['uid']}/parts/"
                   f"{full['attachments'][0]['part']}")
    assert part.body == data
    assert alice.get(f"/api/mailboxes/{inbox}/messages/{q['uid']}").json()["flags"]["answered"]
    # The upload was used up by the send.
    assert alice.request("DELETE", f"/api/uploads/{up['id']}").status == 404
    # Forward with the original's attachment.
    deliver(srv, ALICE, html_message("Forward me"))
    fm = wait_subject(alice, "Forward me")
    ffull = alice.get(f"/api/mailboxes/{inbox}/messages/{fm['uid']}").json()
    pdf = [a for a in ffull["attachments"] if a["name"].endswith(".pdf")][0]
    r = alice.post("/api/send", {"to": BOB, "subject": "Fwd: Forward me", "text": "FYI",
                                 "forward": {"mailbox": inbox, "uid": fm["uid"], "parts": [pdf["part"]]}})
    assert r.status == 200, r
    got = wait_subject(bob, "Fwd: Forward me")
    full = bob.get(f"/api/mailboxes/{bob.mailbox_id('INBOX')}/messages/{got['uid']}").json()
    assert [a["name"] for a in full["attachments"]] == ["Résumé.pdf"]
    assert alice.get(f"/api/mailboxes/{inbox}/messages/{fm['uid']}").json()["flags"]["forwarded"]
    # Uploads: too big, deleting, unknown.
    r = alice.request("POST", "/api/uploads?name=big", body=b"x" * (3 * 1024 * 1024),
                      content_type="application/octet-stream")
    assert r.status == 413
    r = alice.request("POST", "/api/uploads?name=small", body=b"abc", content_type="text/plain")
    assert r.status == 201
    assert alice.request("DELETE", f"/api/uploads/{r.json()['id']}").status == 204
    assert alice.request("DELETE", "/api/uploads/99999").status == 404
    # Bob cannot use Alice's upload.
    r = alice.request("POST", "/api/uploads?name=mine", body=b"alice's", content_type="text/plain")
    assert bob.post("/api/send", {"to": BOB, "attachments": [r.json()["id"]]}).status == 404


def test_drafts(srv, alice):
    r = alice.post("/api/drafts", {"to": "", "subject": "Draft v1", "text": "first", "bcc": "hidden@remote.test"})
    assert r.status == 201, r
    d1 = r.json()
    drafts = alice.mailbox_id("Drafts")
    assert d1["mailbox"] == drafts
    m = wait_subject(alice, "Draft v1", "Drafts")
    assert m["flags"]["draft"] and m["flags"]["seen"]
    raw = alice.get(f"/api/mailboxes/{drafts}/messages/{d1['uid']}/raw").body
    assert b"Bcc: hidden@remote.test" in raw
    r = alice.post("/api/drafts", {"to": BOB, "subject": "Draft v2", "text": "second",
                                   "replace": {"mailbox": drafts, "uid": d1["uid"]}})
    d2 = r.json()
    subjects = [x["subject"] for x in alice.messages("Drafts", "?limit=200")["messages"]]
    assert "Draft v2" in subjects and "Draft v1" not in subjects
    # Sending the draft removes it.
    r = alice.post("/api/send", {"to": BOB, "subject": "Draft v2", "text": "second",
                                 "replace": {"mailbox": drafts, "uid": d2["uid"]}})
    assert r.status == 200
    assert "Draft v2" not in [x["subject"] for x in alice.messages("Drafts", "?limit=200")["messages"]]
    # "replace" never removes anything outside Drafts.
    deliver(srv, ALICE, simple("Not a draft"))
    nd = wait_subject(alice, "Not a draft")
    alice.post("/api/drafts", {"subject": "D3", "replace": {"mailbox": alice.mailbox_id("INBOX"), "uid": nd["uid"]}})
    wait_subject(alice, "Not a draft")


def test_settings_contacts_and_password(srv):
    carol = "carol@" + DOMAIN
    srv.add_user(carol)
    w = Web(srv)
    assert w.login(carol).status == 200
    other = Web(srv)
    assert other.login(carol).status == 200
    s = w.get("/api/settings").json()
    assert s == {"address": carol, "name": "", "signature": ""}
    r = w.request("PUT", "/api/settings", json_body={"name": "Carol Jones", "signature": "-- \nCarol"})
    assert r.status == 200 and r.json()["name"] == "Carol Jones"
    assert w.request("PUT", "/api/settings", json_body={"name": "a\nb"}).status == 400
    assert w.request("PUT", "/api/settings", json_body={"name": "x" * 201}).status == 400
    assert w.request("PUT", "/api/settings", json_body={"signature": 3}).status == 400
    assert w.get("/api/session").json()["name"] == "Carol Jones"
    # The name goes into From; the recipients become contacts.
    r = w.post("/api/send", {"to": ["Bob Builder <bob@example.test>", "dave@remote.test"], "subject": "Hi",
                             "text": "x"})
    assert r.status == 200
    sent = wait_subject(w, "Hi", "Sent")
    raw = w.get(f"/api/mailboxes/{w.mailbox_id('Sent')}/messages/{sent['uid']}/raw").body
    assert b"From: Carol Jones <carol@example.test>" in raw
    c = w.get("/api/contacts?q=bo").json()["contacts"]
    assert c == [{"name": "Bob Builder", "address": BOB}]
    assert [x["address"] for x in w.get("/api/contacts?q=builder").json()["contacts"]] == [BOB]
    assert w.get("/api/contacts?q=zzz").json()["contacts"] == []
    assert w.get("/api/contacts?limit=100").status == 400
    # Password: the current one must be right, the new one long enough.
    assert w.post("/api/password", {"current": "wrong", "new": "a new password"}).status == 403
    assert w.post("/api/password", {"current": PASSWORD, "new": "short"}).status == 400
    assert w.post("/api/password", {"current": PASSWORD}).status == 400
    r = w.post("/api/password", {"current": PASSWORD, "new": "a new password"})
    assert r.status == 204, r
    assert other.get("/api/mailboxes").status == 401  # other sessions ended
    assert w.get("/api/mailboxes").status == 200       # this one stays
    assert Web(srv).login(carol).status == 401
    assert Web(srv).login(carol, "a new password").status == 200
    # IMAP sees the new password too.
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=client_tls_context(), timeout=20) \
        if "imaps" in srv.ports else None
    if m is not None:
        m.login(carol, "a new password")
        m.logout()


# ---- live changes --------------------------------------------------------------------

class SSE:
    """A raw Server-Sent Events reader."""

    def __init__(self, web):
        self.sock = socket.create_connection(("127.0.0.1", web.port), timeout=15)
        self.sock.sendall((f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\nCookie: {web.cookie}\r\n"
                           f"Accept: text/event-stream\r\n\r\n").encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"text/event-stream" in head and b"Content-Length" not in head

    def _until(self, sep):
        while sep not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        out, self.buf = self.buf.split(sep, 1)
        return out

    def event(self):
        """The next event as (name, data), skipping comments."""
        while True:
            block = self._until(b"\n\n").decode()
            name, data = None, None
            for line in block.split("\n"):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
            if name:
                return name, data

    def close(self):
        self.sock.close()


def test_events_push_changes_from_every_protocol(srv, bob):
    ev = SSE(bob)
    assert ev.event() == ("hello", {})
    inbox = bob.mailbox_id("INBOX")
    deliver(srv, BOB, simple("Live one"))
    name, data = ev.event()
    assert name == "change" and data["mailbox"] == inbox
    m = wait_subject(bob, "Live one")
    if "imaps" in srv.ports:
        imap = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=client_tls_context(), timeout=20)
        imap.login(BOB, PASSWORD)
        imap.select("INBOX")
        typ, _ = imap.uid("STORE", str(m["uid"]), "+FLAGS", r"(\Flagged)")
        assert typ == "OK"
        name, data = ev.event()
        assert name == "change" and data["mailbox"] == inbox
        assert bob.get(f"/api/mailboxes/{inbox}/messages/{m['uid']}").json()["flags"]["flagged"]
        # And the other way round: the webmail's change is seen by IMAP.
        bob.post(f"/api/mailboxes/{inbox}/messages/flags", {"uids": [m["uid"]], "add": ["seen"]})
        typ, data = imap.uid("FETCH", str(m["uid"]), "(FLAGS)")
        assert b"\\Seen" in data[0] and b"\\Flagged" in data[0]
        imap.logout()
    # Logging out ends the stream, with a last word.
    bob.post("/api/logout")
    name, _ = ev.event()
    while name == "change":
        name, _ = ev.event()
    assert name == "logout"
    with pytest.raises(EOFError):
        ev.event()
    ev.close()


# ---- HTTP framing and limits --------------------------------------------------------

def raw_exchange(srv, data, read_all=True):
    s = socket.create_connection(("127.0.0.1", srv.ports["http"]), timeout=10)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if not read_all:
                break
    except socket.timeout:
        pass
    s.close()
    return out


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 70000 + b"\r\n\r\n", 431),
    (b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST /api/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n", 413),
    (b"POST /api/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", 413),
    (b"POST /api/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
], ids=["no-version", "http2", "no-host", "absolute-form", "long-line", "huge-headers", "chunked",
        "two-lengths", "huge-length", "huge-upload", "upload-without-session", "big-json-without-session",
        "bad-header", "folding"])
def test_malformed_requests(srv, request_bytes, status):
    out = raw_exchange(srv, request_bytes)
    assert out.startswith(f"HTTP/1.1 {status} ".encode()), out[:200]
    assert b"Connection: close" in out


def test_keep_alive_and_pipelining(srv):
    req = b"GET /api/session HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw_exchange(srv, req * 3 + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 401 ") == 3 and out.count(b"HTTP/1.1 200 ") == 1
    assert out.index(b"HTTP/1.1 200") > out.rindex(b"HTTP/1.1 401")
    out = raw_exchange(srv, b"GET /api/session HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 401") and b"Connection: close" in out
    # Expect: 100-continue is answered before the body is sent.
    s = socket.create_connection(("127.0.0.1", srv.ports["http"]), timeout=10)
    s.sendall(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(b"{}")
    assert s.recv(1000).startswith(b"HTTP/1.1 400")
    s.close()


def test_idle_connection_closed_and_server_survives_garbage(srv):
    for junk in (b"\x00\x01\x02\xff" * 100, b"\r\n" * 1000, os.urandom(5000)):
        raw_exchange(srv, junk)
    assert Web(srv).get("/api/session").status == 401


def test_sent_mail_is_dkim_signed(make_server):
    """Mail sent from the webmail is signed like submitted mail."""
    dkim = pytest.importorskip("dkim")
    from test_dkim_cli import records
    s = make_server("dkim")
    s.add_user(ALICE)
    s.add_user(BOB)
    s.run(["dkim", "keygen", DOMAIN])
    published = records(s.run(["dkim", "list"]).stdout)
    s.start()
    w = Web(s)
    assert w.login(ALICE).status == 200
    r = w.post("/api/send", {"to": BOB, "subject": "Signed from the web", "text": "Hello  Bob,\n\nsee you.\n"})
    assert r.status == 200, r
    [got] = s.export(BOB)
    got = got.replace(b"\n", b"\r\n")
    assert got.count(b"DKIM-Signature:") == 2

    def dnsfunc(name, timeout=5):
        return published.get(name.decode().rstrip(".") + ".", "").encode()

    for index in (0, 1):
        assert dkim.DKIM(got).verify(idx=index, dnsfunc=dnsfunc), f"signature {index} does not verify"
