"""Inbound SMTP (port 25 role): delivery, addressing, limits, framing."""
import concurrent.futures
import socket
import smtplib
import subprocess

import pytest

from conftest import client_tls_context, message


def smtp(server, kind="smtp"):
    return smtplib.SMTP("127.0.0.1", server.ports[kind], timeout=20)


class Raw:
    """A line-level SMTP client for what smtplib will not send: bytes out,
    replies in, no politeness."""

    def __init__(self, server, kind="smtp", timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", server.ports[kind]), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got " + repr(self.buf))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line + (b"\r\n" if isinstance(line, bytes) else "\r\n"))
        return self.reply()

    def expect(self, line, code, enh=None):
        got, lines = self.cmd(line)
        assert got == code, (line, lines)
        if enh is not None:
            assert lines[-1][4:].startswith(enh), (line, lines)
        return lines

    def closed(self):
        """True once the server has closed the connection (after any
        replies still buffered)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def test_greeting_and_ehlo_keywords(server):
    with smtp(server) as s:
        code, text = s.ehlo("client.test")
        assert code == 250
        kw = text.decode().upper().split("\n")
        for want in ["PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING",
                     "STARTTLS"]:
            assert want in kw, (want, kw)
        assert not any(k.startswith("AUTH") for k in kw), "port 25 must not offer AUTH"


def test_deliver_to_user_with_trace_headers(server):
    with smtp(server) as s:
        s.sendmail("sender@remote.test", ["alice@example.test"], message("plain delivery"))
    [m] = server.export("alice@example.test")
    assert m.startswith(b"Return-Path: <sender@remote.test>\nDelivered-To: alice@example.test\nReceived: from ")
    assert b"by mx.example.test (Posthorn) with ESMTP id " in m
    assert b"for <alice@example.test>" in m
    assert b"Subject: plain delivery" in m
    assert m.rstrip(b"\n").endswith(b"Hi there.")


def test_local_parts_and_domains_are_case_insensitive(server):
    with smtp(server) as s:
        s.sendmail("sender@remote.test", ["ALICE@Example.TEST"], message("case"))
    assert len(server.export("alice@example.test")) == 1


def test_alias_catchall_and_plus_address(server):
    with smtp(server) as s:
        s.sendmail("x@remote.test", ["team@example.test"], message("to the team"))
        s.sendmail("x@remote.test", ["anything@catchall.test"], message("catch all"))
        s.sendmail("x@remote.test", ["alice+newsletters@example.test"], message("plus"))
    alice = server.export("alice@example.test")
    bob = server.export("bob@example.test")
    carol = server.export("carol@catchall.test")
    assert [b"to the team" in m for m in alice] == [True, False]
    assert b"plus" in alice[1]
    assert len(bob) == 1 and b"to the team" in bob[0]
    assert len(carol) == 1 and b"Delivered-To: carol@catchall.test" in carol[0]


def test_one_copy_per_user_when_reached_twice(server):
    with smtp(server) as s:
        s.sendmail("x@remote.test", ["team@example.test", "alice@example.test"], message("twice"))
    assert len(server.export("alice@example.test")) == 1
    assert len(server.export("bob@example.test")) == 1


def test_unknown_user_and_relay_denied(server):
    with smtp(server) as s:
        s.ehlo()
        s.mail("x@remote.test")
        code, text = s.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1"), text
        code, text = s.rcpt("someone@elsewhere.test")
        assert code == 550 and text.startswith(b"5.7.1"), text
        code, _ = s.rcpt("alice@example.test")
        assert code == 250


def test_postmaster_without_domain(make_server):
    srv = make_server()
    srv.add_user("alice@example.test")
    srv.start()
    r = Raw(srv)
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<>")
    code, lines = r.cmd("RCPT TO:<Postmaster>")
    # No postmaster alias exists yet: known as ours, but nobody there.
    assert code == 550 and "5.1.1" in lines[0]
    srv.run(["alias", "add", "postmaster@example.test", "alice@example.test"])
    assert r.cmd("RCPT TO:<Postmaster>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("Subject: to the postmaster\r\n\r\nhi\r\n.")[0] == 250
    assert b"to the postmaster" in srv.export("alice@example.test")[0]


def test_starttls_and_received_header_names_cipher(server):
    with smtp(server) as s:
        s.starttls(context=client_tls_context())
        s.ehlo()
        assert s.has_extn("size") and not s.has_extn("starttls")
        s.sendmail("x@remote.test", ["alice@example.test"], message("over tls"))
    [m] = server.export("alice@example.test")
    assert b"with ESMTPS id" in m
    assert b"TLSv1.3 with cipher" in m or b"TLSv1.2 with cipher" in m


def test_starttls_discards_pipelined_plaintext(server):
    """Commands sent in clear after STARTTLS must not run over TLS (CVE-2011-0411)."""
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    r.send("STARTTLS\r\nRSET\r\n")
    code, _ = r.reply()
    assert code == 220
    tls = client_tls_context().wrap_socket(r.sock, server_hostname="mx.example.test")
    tls.sendall(b"NOOP\r\n")
    data = b""
    while b"\r\n" not in data:
        data += tls.recv(1024)
    # The first reply over TLS answers NOOP, not the injected RSET.
    assert data.startswith(b"250 2.0.0 Ok"), data
    tls.close()


def test_size_limit(make_server):
    srv = make_server(extra_config="max_message_size 10K\n")
    srv.add_user("alice@example.test")
    srv.start()
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"]) as s:
        s.ehlo()
        code, text = s.mail("x@remote.test", ["SIZE=20000"])
        assert code == 552 and text.startswith(b"5.3.4")
        s.rset()
        s.mail("x@remote.test")  # no SIZE: the limit is found during DATA
        s.rcpt("alice@example.test")
        code, text = s.data(message("big", body=("x" * 70 + "\r\n") * 200))
        assert code == 552 and text.startswith(b"5.3.4"), text
        # The session is still in step after the oversize message.
        s.sendmail("x@remote.test", ["alice@example.test"], message("small"))
    msgs = srv.export("alice@example.test")
    assert len(msgs) == 1 and b"small" in msgs[0]


def test_bdat_chunking(server):
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<x@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    part1 = b"Subject: chunked\r\nFrom: x@remote.test\r\n\r\nfirst "
    part2 = b"second\r\n.\r\nnot an end\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    code, _ = r.reply()
    assert code == 250
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    code, lines = r.reply()
    assert code == 250, lines
    assert r.cmd("QUIT")[0] == 221
    [m] = server.export("alice@example.test")
    assert m.endswith(b"first second\n.\nnot an end\n\n") or m.endswith(b"first second\n>.\nnot an end\n\n") or \
        b"first second\n.\nnot an end" in m


def test_bdat_without_recipients_reads_chunk(server):
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    r.send(b"BDAT 10 LAST\r\nRSET\r\nNOOP")  # the 10 bytes are data, not commands
    code, _ = r.reply()
    assert code == 503
    assert r.cmd("NOOP")[0] == 250


def test_smtputf8(server):
    server.run(["user", "add", "jörg@example.test"], input="pw-of-joerg\n")
    with smtp(server) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("ünïcode@remote.test", ["jörg@example.test"],
                   "From: ünïcode@remote.test\r\nSubject: grüße\r\n\r\nHallo\r\n".encode(),
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [m] = server.export("jörg@example.test")
    assert "Subject: grüße".encode() in m
    assert b"with UTF8SMTP id" in m


def test_utf8_address_without_smtputf8_refused(server):
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    code, lines = r.cmd("MAIL FROM:<ünïcode@remote.test>")
    assert code == 553, lines


def test_pipelined_transaction(server):
    r = Raw(server)
    r.reply()
    r.send("EHLO c\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           "RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    codes = [r.reply()[0] for _ in range(6)]
    assert codes == [250, 250, 250, 550, 250, 354]
    r.send("Subject: pipelined\r\n\r\nbody\r\n.\r\nMAIL FROM:<y@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
           "DATA\r\nSubject: second\r\n\r\n.\r\nQUIT\r\n")
    codes = [r.reply()[0] for _ in range(6)]
    assert codes == [250, 250, 250, 354, 250, 221]
    assert len(server.export("alice@example.test")) == 1
    assert len(server.export("bob@example.test")) == 2


@pytest.mark.parametrize("trick", [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\n.\r", b"\r.\r\n", b"\r\n\x00.\r\n",
])
def test_smuggling_is_not_an_end_of_data(server, trick):
    """Only CRLF.CRLF ends DATA: a smuggled second message stays inside the first."""
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<x@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    assert r.cmd("DATA")[0] == 354
    smuggled = (b"Subject: outer\r\n\r\nhello" + trick +
                b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nforged\r\n.\r\n")
    r.send(smuggled)
    code, lines = r.reply()
    assert code == 250, lines
    assert r.cmd("QUIT")[0] == 221
    alice = server.export("alice@example.test")
    assert len(alice) == 1 and b"forged" in alice[0]
    assert server.export("bob@example.test") == []


def test_bare_lf_lines_are_stored_as_crlf(server):
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<x@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    r.cmd("DATA")
    r.send(b"Subject: lf\nFrom: x@remote.test\n\nline one\nline two\r\n.\r\n")
    assert r.reply()[0] == 250
    [m] = server.export("alice@example.test")
    assert b"Subject: lf\nFrom: x@remote.test\n\nline one\nline two\n" in m


def test_dot_stuffing(server):
    with smtp(server) as s:
        s.sendmail("x@remote.test", ["alice@example.test"], "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\n")
    [m] = server.export("alice@example.test")
    assert b"\n.leading dot\n..two\n" in m


def test_hundred_parallel_deliveries(server):
    def send(i):
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=60) as s:
            s.sendmail(f"p{i}@remote.test", ["bob@example.test"], message(f"parallel {i}", to="bob@example.test"))
        return i

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as ex:
        done = list(ex.map(send, range(100)))
    assert len(done) == 100
    msgs = server.export("bob@example.test")
    subjects = sorted(int(m.split(b"Subject: parallel ")[1].split(b"\n")[0]) for m in msgs)
    assert subjects == list(range(100))


def test_too_many_recipients(make_server):
    srv = make_server(extra_config="max_recipients 3\n")
    srv.add_user("alice@example.test")
    srv.start()
    r = Raw(srv)
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<x@remote.test>")
    codes = [r.cmd("RCPT TO:<alice@example.test>")[0] for _ in range(4)]
    assert codes == [250, 250, 250, 452]


def test_errors_limit_and_long_lines(make_server):
    srv = make_server(extra_config="max_errors 3\nsmtp_max_line 512\n")
    srv.start()
    r = Raw(srv)
    r.reply()
    code, lines = r.cmd("X" * 600)
    assert code == 500 and "too long" in lines[0]
    assert r.cmd("BOGUS")[0] == 500
    assert r.cmd("ALSO BOGUS")[0] == 500
    code, lines = r.reply()
    assert code == 421 and "4.7.0" in lines[0]
    assert r.closed()


def test_http_request_on_smtp_port_is_dropped(server):
    r = Raw(server)
    r.reply()
    r.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.closed()


def test_commands_need_helo_and_order(server):
    r = Raw(server)
    r.reply()
    assert r.cmd("MAIL FROM:<x@remote.test>")[0] == 503
    r.cmd("HELO c")
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 503
    assert r.cmd("DATA")[0] == 503
    assert r.cmd("VRFY alice")[0] == 252
    assert r.cmd("EXPN team")[0] == 502
    assert r.cmd("NOOP")[0] == 250
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("QUIT")[0] == 221


def test_quota(server):
    server.run(["user", "quota", "alice@example.test", "10K"])
    with smtp(server) as s:
        s.ehlo()
        s.mail("x@remote.test", ["SIZE=20000"])
        code, text = s.rcpt("alice@example.test")
        assert code == 552 and text.startswith(b"5.2.2"), text
        s.rset()
        s.sendmail("x@remote.test", ["alice@example.test"], message("fits", body="y" * 9000 + "\r\n"))
        # Without SIZE the size is known only after DATA: a user under quota
        # may go over it by this message, within 10% (Dovecot's quota_grace).
        s.mail("x@remote.test")
        assert s.rcpt("alice@example.test")[0] == 250
        assert s.data(message("within grace", body="z" * 1000 + "\r\n"))[0] == 250
        # Now over quota: refused at RCPT, for now.
        s.mail("x@remote.test")
        code, text = s.rcpt("alice@example.test")
        assert code == 452 and text.startswith(b"4.2.2"), text
    server.run(["user", "quota", "alice@example.test", "11K"])
    with smtp(server) as s:
        s.ehlo()
        s.mail("x@remote.test")
        assert s.rcpt("alice@example.test")[0] == 250
        # Beyond the grace after DATA: nothing stored, the sender may retry.
        code, text = s.data(message("too much", body="w" * 5000 + "\r\n"))
        assert code == 452 and text.startswith(b"4.2.2"), text
    assert [b"within grace" in m for m in server.export("alice@example.test")] == [False, True]


def test_swaks_delivery(server):
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.ports['smtp']}", "--to", "bob@example.test",
                        "--from", "s@remote.test", "--header", "Subject: via swaks", "--tls"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    [m] = server.export("bob@example.test")
    assert b"Subject: via swaks" in m
