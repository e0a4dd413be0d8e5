"""POP3 (RFC 1939, 2449, 2595, 5034) with Python's poplib, curl's pop3:// and
pop3s://, and a raw socket for what those clients will not send.

Mail arrives over SMTP; what POP3 shows is checked against what was sent,
byte for byte on the wire (dot-stuffing, CRLF), and deletions are checked
through new sessions, `posthorn export` and, when the build has IMAP, a
concurrent IMAP session.
"""
import imaplib
import os
import poplib
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import DOMAIN, PASSWORD, client_tls_context

ALICE = "alice@" + DOMAIN
BOB = "bob@" + DOMAIN


@pytest.fixture
def pop_server(make_server):
    """Clear-text logins allowed from loopback (so poplib can log in without
    TLS); users alice and bob."""
    srv = make_server(extra_config="max_connections_per_ip 500\nallow_plaintext_loopback yes\n")
    srv.add_user(ALICE)
    srv.add_user(BOB)
    srv.start()
    return srv


def deliver(server, to=ALICE, messages=None, count=1, subject="m"):
    """Sends messages over SMTP; returns the bytes sent for each (CRLF)."""
    if messages is None:
        messages = [f"From: sender@remote.test\r\nTo: {to}\r\nSubject: {subject}{i}\r\n"
                    f"Message-ID: <{subject}{i}.{time.time()}@remote.test>\r\n\r\nBody of message {i}.\r\n"
                    for i in range(count)]
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        for m in messages:
            s.sendmail("sender@remote.test", [to], m)
    return [m.encode() if isinstance(m, str) else m for m in messages]


def pop(server, user=ALICE, password=PASSWORD):
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=30)
    if user is not None:
        p.user(user)
        p.pass_(password)
    return p


class Raw:
    """A line-level POP3 client on a plain or TLS socket."""

    def __init__(self, server, kind="pop3", greeting=True):
        self.sock = socket.create_connection(("127.0.0.1", server.ports[kind]), timeout=30)
        if kind == "pop3s":
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""
        if greeting:
            self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; got " + repr(self.buf))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def multi(self):
        """The raw body of a multi-line reply, up to and without CRLF.CRLF."""
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed; got " + repr(self.buf[-200:]))
            self.buf += chunk
        if self.buf.startswith(b".\r\n"):
            self.buf = self.buf[3:]
            return b""
        body, self.buf = self.buf.split(b"\r\n.\r\n", 1)
        return body + b"\r\n"

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def login(self, user=ALICE, password=PASSWORD):
        assert self.cmd("USER " + user).startswith("+OK")
        reply = self.cmd("PASS " + password)
        assert reply.startswith("+OK"), reply
        return reply

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.sock.close()


def unstuff(raw):
    """Dot-unstuffing of a multi-line body as received."""
    lines = raw.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def curl(server, url, *args, user=ALICE, password=PASSWORD, check=True):
    cmd = ["curl", "-sS", "--max-time", "30", "-u", f"{user}:{password}", *args, url]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()}")
    return p


# -- greeting, CAPA, the states ------------------------------------------------

def test_greeting_and_capa(pop_server):
    p = pop(pop_server, user=None)
    assert p.getwelcome().startswith(b"+OK mx.example.test Posthorn")
    capa = p.capa()
    for want in ["TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION"]:
        assert want in capa, (want, capa)
    assert set(capa["SASL"]) >= {"PLAIN", "LOGIN", "SCRAM-SHA-256"}
    p.user(ALICE)
    p.pass_(PASSWORD)
    capa = p.capa()  # RFC 2449: may differ after login; no login capabilities then
    assert "TOP" in capa and "UIDL" in capa and "PIPELINING" in capa
    assert "USER" not in capa and "SASL" not in capa and "STLS" not in capa
    p.quit()


def test_commands_in_the_wrong_state(pop_server):
    r = Raw(pop_server)
    for c in ["STAT", "LIST", "RETR 1", "DELE 1", "TOP 1 0", "UIDL", "RSET", "NOOP"]:
        assert r.cmd(c) == "-ERR Not logged in.", c
    assert r.cmd("PASS x").startswith("-ERR No user name given")
    assert r.cmd("FROB") == "-ERR Unknown command."
    assert r.cmd("APOP alice 0123456789abcdef0123456789abcdef") == "-ERR Unknown command."
    r.login()
    for c in ["USER alice", "PASS x", "AUTH PLAIN", "STLS"]:
        assert r.cmd(c) == "-ERR Already logged in.", c
    assert r.cmd("NOOP") == "+OK"
    assert r.cmd("QUIT").startswith("+OK")
    assert r.closed()


def test_syntax_errors(pop_server):
    deliver(pop_server)
    r = Raw(pop_server)
    r.login()
    assert r.cmd("RETR") == "-ERR Missing message number."
    assert r.cmd("RETR x") == "-ERR Invalid message number."
    assert r.cmd("RETR -1") == "-ERR Invalid message number."
    assert r.cmd("RETR 99999999999") == "-ERR Invalid message number."
    assert r.cmd("RETR 0") == "-ERR There is no message 0."
    assert r.cmd("RETR 2") == "-ERR There is no message 2."
    assert r.cmd("LIST 1 2") == "-ERR Too many arguments."
    assert r.cmd("TOP 1") == "-ERR Missing number of lines."
    assert r.cmd("STAT now") == "-ERR Unexpected argument."
    assert r.cmd("stat").startswith("+OK 1 ")  # keywords are case-insensitive
    r.send("NOOP " + "x" * 600 + "\r\n")
    assert r.line() == "-ERR Line too long."
    assert r.cmd("NOOP") == "+OK", "the session goes on after an over-long line"
    r.cmd("QUIT")


def test_too_many_errors_close_the_session(pop_server):
    r = Raw(pop_server)
    replies = [r.cmd("FROB") for _ in range(19)]
    assert all(x == "-ERR Unknown command." for x in replies)
    assert r.cmd("FROB") == "-ERR Unknown command."
    assert r.line() == "-ERR Too many errors, closing connection."
    assert r.closed()


def test_http_request_closes(pop_server):
    r = Raw(pop_server)
    r.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.closed()


# -- the commands ----------------------------------------------------------------

TRICKY = (b"From: sender@remote.test\r\nTo: alice@example.test\r\nSubject: tricky\r\n\r\n"
          b".starts with a dot\r\n..two dots\r\n.\r\nFrom the start of a line\r\n"
          b" . spaced\r\n" + b"x" * 5000 + b"\r\nlast line\r\n")


def test_stat_list_retr_byte_exact(pop_server):
    sent = deliver(pop_server, messages=[TRICKY, "Subject: plain\r\n\r\nhello\r\n"])
    r = Raw(pop_server)
    r.login()
    stat = r.cmd("STAT").split()
    assert stat[0] == "+OK" and stat[1] == "2"
    assert r.cmd("LIST").startswith("+OK 2 messages")
    listing = r.multi().decode().split("\r\n")[:-1]
    sizes = {int(a): int(b) for a, b in (x.split() for x in listing)}
    assert sorted(sizes) == [1, 2] and sum(sizes.values()) == int(stat[2])
    for n in (1, 2):
        assert r.cmd(f"LIST {n}") == f"+OK {n} {sizes[n]}"
        first = r.cmd(f"RETR {n}")
        assert first == f"+OK {sizes[n]} octets"
        raw = r.multi()
        # On the wire: CRLF only, every line starting with "." stuffed.
        assert b"\n" not in raw.replace(b"\r\n", b"")
        for line in raw.split(b"\r\n"):
            assert not line.startswith(b".") or line.startswith(b"..")
        msg = unstuff(raw)
        assert len(msg) == sizes[n], "LIST size == octets sent"
        assert msg.endswith(sent[n - 1]), "the message as sent, after our trace headers"
        assert msg.startswith(b"Return-Path: <sender@remote.test>\r\nDelivered-To: alice@example.test\r\nReceived: ")
    r.cmd("QUIT")


def test_retr_dot_stuffing_on_the_wire(pop_server):
    deliver(pop_server, messages=[TRICKY])
    r = Raw(pop_server)
    r.login()
    r.cmd("RETR 1")
    raw = r.multi()
    assert b"\r\n\r\n..starts with a dot\r\n...two dots\r\n..\r\nFrom the start of a line\r\n . spaced\r\n" in raw
    r.cmd("QUIT")


def test_bare_lf_message_is_sent_with_crlf(pop_server):
    with socket.create_connection(("127.0.0.1", pop_server.ports["smtp"]), timeout=30) as s:
        f = s.makefile("rwb")
        f.readline()
        for c in [b"EHLO client.test", b"MAIL FROM:<a@remote.test>", b"RCPT TO:<alice@example.test>", b"DATA"]:
            f.write(c + b"\r\n")
            f.flush()
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    break
        f.write(b"Subject: lf\n\nline one\n.dotted\nline three\r\n.\r\n")
        f.flush()
        assert f.readline().startswith(b"250")
    p = pop(pop_server)
    resp, lines, octets = p.retr(1)
    assert lines[-3:] == [b"line one", b".dotted", b"line three"]
    r_size = p.list(1).split()[2]
    p.quit()
    r = Raw(pop_server)
    r.login()
    r.cmd("RETR 1")
    raw = r.multi()
    assert raw.endswith(b"\r\nline one\r\n..dotted\r\nline three\r\n")
    assert len(unstuff(raw)) == int(r_size)
    r.cmd("QUIT")


def test_top_zero_and_n_lines(pop_server):
    body = "".join(f"body line {i}\r\n" for i in range(1, 11))
    deliver(pop_server, messages=[f"Subject: top\r\nX-Test: yes\r\n\r\n{body}"])
    p = pop(pop_server)
    resp, lines, _ = p.top(1, 0)
    assert resp == b"+OK"
    assert lines[-3:] == [b"Subject: top", b"X-Test: yes", b""], "TOP 0: the header and the empty line"
    resp, lines, _ = p.top(1, 3)
    assert lines[-4:] == [b"", b"body line 1", b"body line 2", b"body line 3"]
    resp, lines, _ = p.top(1, 1000)
    assert lines[-1] == b"body line 10" and lines.count(b"") == 1
    # TOP does not count as a retrieval, and marks nothing.
    assert p.stat()[0] == 1
    p.quit()


def test_uidl_stable_and_unique(pop_server):
    deliver(pop_server, count=5)
    p = pop(pop_server)
    _, lines, _ = p.uidl()
    uidls = dict(l.decode().split() for l in lines)
    assert len(set(uidls.values())) == 5
    for u in uidls.values():
        assert 1 <= len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7e for ch in u)
    assert p.uidl(3).decode() == f"+OK 3 {uidls['3']}"
    p.dele(1)
    p.quit()
    deliver(pop_server, count=1, subject="later")
    p = pop(pop_server)
    _, lines, _ = p.uidl()
    again = [l.decode().split()[1] for l in lines]
    assert again[:4] == [uidls[str(i)] for i in range(2, 6)], "UIDLs survive deletions and new mail"
    assert again[4] not in uidls.values(), "a new message never reuses a UIDL"
    p.quit()
    # Stable across a restart of the daemon too.
    pop_server.stop()
    pop_server.start()
    p = pop(pop_server)
    _, lines, _ = p.uidl()
    assert [l.decode().split()[1] for l in lines] == again
    p.quit()


def test_dele_rset_noop_quit(pop_server):
    deliver(pop_server, count=3)
    p = pop(pop_server)
    total = p.stat()[1]
    size1 = int(p.list(1).split()[2])
    assert p.dele(1).startswith(b"+OK")
    assert p.stat() == (2, total - size1)
    _, listing, _ = p.list()
    assert [l.split()[0] for l in listing] == [b"2", b"3"], "deleted messages leave LIST"
    _, uidl, _ = p.uidl()
    assert [l.split()[0] for l in uidl] == [b"2", b"3"]
    for c in ["RETR 1", "DELE 1", "LIST 1", "UIDL 1", "TOP 1 0"]:
        with pytest.raises(poplib.error_proto, match=r"-ERR Message 1 is marked as deleted"):
            p._shortcmd(c)
    assert p.noop() == b"+OK"
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, total), "RSET unmarks"
    p.dele(2)
    assert p.quit() == b"+OK Logging out, messages deleted."
    p = pop(pop_server)
    assert p.stat()[0] == 2
    subjects = [m for m in pop_server.export(ALICE)]
    assert len(subjects) == 2 and b"Subject: m1" not in b"".join(subjects)
    assert p.quit() == b"+OK Logging out."


def test_message_list_is_fixed_for_the_session(pop_server):
    deliver(pop_server, count=2)
    p = pop(pop_server)
    assert p.stat()[0] == 2
    deliver(pop_server, count=1, subject="during")
    assert p.stat()[0] == 2, "new mail appears in the next session"
    assert len(p.list()[1]) == 2
    with pytest.raises(poplib.error_proto):
        p.retr(3)
    p.quit()
    p = pop(pop_server)
    assert p.stat()[0] == 3
    p.quit()


def imap_login(server):
    if "imap" not in server.ports:
        pytest.skip("this build has no IMAP listener yet (the IMAP engine is not registered)")
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    imap.starttls(ssl_context=client_tls_context())
    imap.login(ALICE, PASSWORD)
    return imap


def test_retrieved_messages_get_seen_at_quit(pop_server):
    """Like Dovecot: RETR (not TOP) sets \\Seen, applied at QUIT only."""
    deliver(pop_server, count=3)
    p = pop(pop_server)
    p.retr(1)
    p.top(2, 0)
    p.retr(3)
    p.dele(3)
    imap = imap_login(pop_server)
    imap.select("INBOX", readonly=True)
    typ, data = imap.fetch("1:*", "(FLAGS)")
    assert all(b"\\Seen" not in x for x in data), "nothing changes before QUIT"
    p.quit()
    imap.noop()  # takes the EXPUNGE of message 3 (not sent during a FETCH)
    typ, data = imap.fetch("1:*", "(FLAGS)")
    assert typ == "OK", data
    # imaplib also returns the unsolicited FETCH (flag change) that NOOP got.
    flags = {int(x.split()[0]): x for x in data if x and b"FLAGS" in x}
    assert sorted(flags) == [1, 2] and b"\\Seen" in flags[1] and b"\\Seen" not in flags[2], flags
    imap.logout()


def test_big_message_streams(pop_server):
    big = (b"Subject: big\r\n\r\n" + b"".join(b"%07d " % i + b"y" * 70 + b"\r\n" for i in range(80000)))
    deliver(pop_server, messages=[big])
    r = Raw(pop_server)
    r.login()
    size = int(r.cmd("LIST 1").split()[2])
    assert r.cmd("RETR 1") == f"+OK {size} octets"
    raw = r.multi()
    assert len(raw) == size and raw.endswith(big)
    r.cmd("QUIT")


def test_pipelining(pop_server):
    deliver(pop_server, count=30)
    r = Raw(pop_server)
    r.send(f"CAPA\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\nSTAT\r\n" +
           "".join(f"RETR {i}\r\nUIDL {i}\r\n" for i in range(1, 31)) + "DELE 30\r\nNOOP\r\nQUIT\r\n")
    assert r.line().startswith("+OK Capability")
    r.multi()
    assert r.line() == "+OK"
    assert r.line().startswith("+OK Logged in")
    assert r.line().startswith("+OK 30 ")
    for i in range(1, 31):
        assert r.line().endswith(" octets")
        assert f"Subject: m{i - 1}\r\n".encode() in r.multi()
        assert r.line().startswith(f"+OK {i} ")
    assert r.line().startswith("+OK Message 30 marked")
    assert r.line() == "+OK"
    assert r.line() == "+OK Logging out, messages deleted."
    assert r.closed()


# -- deletions that must not happen ---------------------------------------------

def test_dropped_connection_deletes_nothing(pop_server):
    deliver(pop_server, count=3)
    r = Raw(pop_server)
    r.login()
    for n in (1, 2, 3):
        assert r.cmd(f"DELE {n}").startswith("+OK")
    r.sock.shutdown(socket.SHUT_RDWR)
    r.close()
    pop_server.wait_log("ended without QUIT, nothing deleted")
    p = pop(pop_server)
    assert p.stat()[0] == 3
    p.quit()


@pytest.mark.slow
def test_timeout_deletes_nothing(make_server):
    srv = make_server(extra_config="allow_plaintext_loopback yes\npop3_timeout 2s\n")
    srv.add_user(ALICE)
    srv.start()
    deliver(srv, count=2)
    r = Raw(srv)
    r.login()
    r.cmd("DELE 1")
    assert r.line() == "-ERR Disconnected for inactivity."
    assert r.closed()
    p = pop(srv)
    assert p.stat()[0] == 2
    p.quit()


def test_crash_deletes_nothing(pop_server):
    deliver(pop_server, count=2)
    r = Raw(pop_server)
    r.login()
    r.cmd("DELE 1")
    r.cmd("DELE 2")
    pop_server.kill9()
    r.close()
    pop_server.start()
    p = pop(pop_server)
    assert p.stat()[0] == 2
    p.quit()


def test_shutdown_deletes_nothing(pop_server):
    deliver(pop_server, count=2)
    r = Raw(pop_server)
    r.login()
    r.cmd("DELE 1")
    pop_server.proc.send_signal(signal.SIGTERM)
    assert r.line() == "-ERR [SYS/TEMP] Server shutting down."
    assert r.closed()
    pop_server.proc.wait(timeout=20)  # its exit status is test_daemon's business
    pop_server.start()
    p = pop(pop_server)
    assert p.stat()[0] == 2
    p.quit()


# -- locking -----------------------------------------------------------------------

def test_second_session_gets_in_use(pop_server):
    deliver(pop_server, count=1)
    first = pop(pop_server)
    second = pop(pop_server, user=None)
    second.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
        second.pass_(PASSWORD)
    # Another user's mailbox is not locked.
    other = pop(pop_server, user=BOB)
    other.quit()
    # The refused session may retry once the first has left.
    first.quit()
    second.user(ALICE)
    assert second.pass_(PASSWORD).startswith(b"+OK")
    second.quit()
    # A dropped session releases the lock too.
    r = Raw(pop_server)
    r.login()
    r.close()
    for _ in range(100):
        try:
            p = pop(pop_server)
            break
        except poplib.error_proto:
            time.sleep(0.05)
    p.quit()


def test_in_use_needs_the_password(pop_server):
    first = pop(pop_server)
    r = Raw(pop_server)
    r.cmd("USER " + ALICE)
    assert r.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed.", "IN-USE only after a good password"
    first.quit()


# -- authentication and TLS -------------------------------------------------------

def test_plaintext_refused_without_tls(server):
    """The default config: passwords only after STLS (or on pop3s)."""
    r = Raw(server)
    r.send("CAPA\r\n")
    assert r.line().startswith("+OK")
    capa = r.multi().decode().split("\r\n")
    assert "STLS" in capa and "USER" not in capa and not any(c.startswith("SASL") for c in capa)
    refused = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first."
    assert r.cmd("USER " + ALICE) == refused
    assert r.cmd("PASS " + PASSWORD) == refused
    assert r.cmd("AUTH PLAIN") == refused
    r.close()


def test_stls(server):
    deliver(server, count=1)
    p = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=30)
    assert p.stls(context=client_tls_context()).startswith(b"+OK")
    capa = p.capa()
    assert "STLS" not in capa and "USER" in capa and "PLAIN" in capa["SASL"]
    p.user(ALICE)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 1
    with pytest.raises(poplib.error_proto):
        p._shortcmd("STLS")
    p.quit()
    assert "pop3 tls established" in server.log()


def test_stls_discards_pipelined_commands(server):
    """Anything sent in clear after STLS is dropped (CVE-2011-0411)."""
    r = Raw(server)
    r.send("STLS\r\nUSER " + ALICE + "\r\n")
    assert r.line() == "+OK Begin TLS negotiation now."
    tls = client_tls_context().wrap_socket(r.sock)
    tls.sendall(b"CAPA\r\n")
    data = b""
    while b"\r\n.\r\n" not in data:
        data += tls.recv(65536)
    assert data.startswith(b"+OK Capability"), data
    tls.sendall(("PASS " + PASSWORD + "\r\n").encode())
    assert tls.recv(65536).startswith(b"-ERR No user name given")
    tls.close()


def test_pop3s_implicit_tls(server):
    deliver(server, count=2)
    p = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=client_tls_context(), timeout=30)
    capa = p.capa()
    assert "STLS" not in capa and "USER" in capa
    p.user(ALICE)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 2
    assert len(p.retr(2)[1]) > 3
    p.quit()


def test_auth_plain(server):
    import base64
    deliver(server, count=1)
    r = Raw(server, kind="pop3s")
    assert r.cmd("AUTH").startswith("+OK")
    assert r.multi().decode().split() == ["PLAIN", "LOGIN", "SCRAM-SHA-256"]
    ir = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    assert r.cmd("AUTH PLAIN " + ir).startswith("+OK Logged in")
    assert r.cmd("STAT").startswith("+OK 1 ")
    r.cmd("QUIT")
    # Without an initial response: an empty challenge, then the response.
    r = Raw(server, kind="pop3s")
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd(ir).startswith("+OK Logged in")
    r.cmd("QUIT")
    # Cancelled, malformed, unknown mechanism.
    r = Raw(server, kind="pop3s")
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd("*") == "-ERR Authentication cancelled."
    assert r.cmd("AUTH PLAIN !!!").startswith("-ERR ")
    assert r.cmd("AUTH KERBEROS_V4") == "-ERR Unsupported authentication mechanism."
    bad = base64.b64encode(f"\0{ALICE}\0wrong".encode()).decode()
    assert r.cmd("AUTH PLAIN " + bad) == "-ERR [AUTH] Authentication failed."
    # AUTH LOGIN works too.
    assert r.cmd("AUTH LOGIN").startswith("+ ")
    assert r.cmd(base64.b64encode(ALICE.encode()).decode()).startswith("+ ")
    assert r.cmd(base64.b64encode(PASSWORD.encode()).decode()).startswith("+OK Logged in")
    r.cmd("QUIT")


@pytest.mark.slow
def test_wrong_password_and_throttle(make_server):
    srv = make_server(extra_config="allow_plaintext_loopback yes\nauth_max_failures 2\n")
    srv.add_user(ALICE)
    srv.start()
    r = Raw(srv)
    r.cmd("USER " + ALICE)
    t0 = time.time()
    assert r.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed."
    assert time.time() - t0 >= 0.4, "failures are answered after a delay"
    r.cmd("USER nobody@example.test")
    assert r.cmd("PASS wrong") == "-ERR [AUTH] Authentication failed.", "unknown users look the same"
    r.cmd("USER " + ALICE)
    assert r.cmd("PASS " + PASSWORD) == "-ERR [AUTH] Too many failed logins from your address, try again later."
    assert r.closed()
    assert "pop3 auth user=alice@example.test result=failed" in srv.log()
    assert PASSWORD not in srv.log(), "passwords are never logged"


# -- curl -------------------------------------------------------------------------

def test_curl_list_retr_dele(pop_server):
    sent = deliver(pop_server, messages=[TRICKY, "Subject: second\r\n\r\nsecond body\r\n"])
    base = f"pop3://127.0.0.1:{pop_server.ports['pop3']}/"
    listing = curl(pop_server, base).stdout.decode().split("\r\n")
    assert [l.split()[0] for l in listing if l] == ["1", "2"]
    msg = curl(pop_server, base + "1").stdout
    assert msg.endswith(sent[0]), "curl un-stuffs and gets the message as sent"
    uidl = curl(pop_server, base, "-X", "UIDL").stdout.decode().split("\r\n")
    assert len([l for l in uidl if l]) == 2
    top = curl(pop_server, base, "-X", "TOP 2 0").stdout
    assert top.endswith(b"Subject: second\r\n\r\n")
    curl(pop_server, base + "1", "-X", "DELE", "-I")
    listing = curl(pop_server, base).stdout.decode().split("\r\n")
    assert [l.split()[0] for l in listing if l] == ["1"], "curl sends QUIT: the deletion is applied"


def test_curl_tls_and_sasl(server):
    sent = deliver(server, messages=["Subject: over tls\r\n\r\nsecret\r\n"])
    stls = f"pop3://127.0.0.1:{server.ports['pop3']}/1"
    assert curl(server, stls, "--ssl-reqd", "-k").stdout.endswith(sent[0])
    pop3s = f"pop3s://127.0.0.1:{server.ports['pop3s']}/1"
    assert curl(server, pop3s, "-k").stdout.endswith(sent[0])
    assert curl(server, pop3s, "-k", "--login-options", "AUTH=PLAIN").stdout.endswith(sent[0])
    assert curl(server, pop3s, "-k", "--login-options", "AUTH=LOGIN").stdout.endswith(sent[0])
    # Without TLS curl cannot log in: the server offers no login.
    p = curl(server, stls, check=False)
    assert p.returncode != 0


# -- POP3 and IMAP together ---------------------------------------------------------

def test_pop3_delete_is_an_imap_expunge(pop_server):
    deliver(pop_server, count=3)
    imap = imap_login(pop_server)
    typ, data = imap.select("INBOX")
    assert typ == "OK" and int(data[0]) == 3
    p = pop(pop_server)
    p.dele(2)
    p.quit()
    typ, data = imap.noop()
    assert typ == "OK"
    assert imap.response("EXPUNGE")[1] == [b"2"], "an untagged EXPUNGE for message 2"
    typ, data = imap.search(None, "ALL")
    assert data[0].split() == [b"1", b"2"], "the IMAP session sees the expunge at once"
    typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = b"".join(x[1] for x in data if isinstance(x, tuple))
    assert b"m0" in subjects and b"m2" in subjects and b"m1" not in subjects
    imap.logout()
