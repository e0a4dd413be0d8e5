"""A small client of the webmail's JSON API for the integration tests, on
Python's http.client (which we did not write): it keeps the session
cookie and the CSRF token like the browser page does, and shows every
status, header and body as they came."""
import http.client
import json
import ssl
import time
import urllib.parse

from conftest import PASSWORD, client_tls_context


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_named(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:200]!r}>"


class Web:
    def __init__(self, server, tls=False):
        self.server = server
        self.tls = tls
        self.port = server.ports["https" if tls else "http"]
        self.cookie = None
        self.csrf = None
        self.user = None
        self.conn = None

    def origin(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _connect(self):
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=client_tls_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, json_body=None, headers=None, csrf=True, cookie=True,
                content_type=None):
        h = {"Host": f"127.0.0.1:{self.port}"}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h["Content-Type"] = "application/json"
        if content_type is not None:
            h["Content-Type"] = content_type
        if cookie and self.cookie:
            h["Cookie"] = self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        if headers:
            h.update(headers)
        for attempt in range(2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed: once more on a new one.
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        rep = Reply(r.status, r.getheaders(), data)
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        for sc in rep.headers_named("Set-Cookie"):
            pair = sc.split(";")[0]
            name, _, value = pair.partition("=")
            if "Max-Age=0" in sc:
                self.cookie = None
            else:
                self.cookie = f"{name}={value}"
        return rep

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj=None, **kw):
        return self.request("POST", path, json_body=obj if obj is not None else {}, **kw)

    def login(self, user, password=PASSWORD):
        r = self.post("/api/login", {"username": user, "password": password})
        if r.status == 200:
            self.csrf = r.json()["csrf"]
            self.user = user
        return r

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- conveniences ---------------------------------------------------------
    def mailboxes(self):
        r = self.get("/api/mailboxes")
        assert r.status == 200, r
        return {m["name"]: m for m in r.json()["mailboxes"]}

    def mailbox_id(self, name):
        return self.mailboxes()[name]["id"]

    def messages(self, name="INBOX", query=""):
        r = self.get(f"/api/mailboxes/{self.mailbox_id(name)}/messages{query}")
        assert r.status == 200, r
        return r.json()

    def wait_messages(self, name="INBOX", count=1, timeout=10):
        deadline = time.time() + timeout
        while True:
            got = self.messages(name)
            if got["total"] >= count or time.time() > deadline:
                return got
            time.sleep(0.05)

    def quote(self, s):
        return urllib.parse.quote(s, safe="")
