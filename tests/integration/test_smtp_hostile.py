"""Hostile SMTP clients against the real daemon: absurd sizes and counts,
over-long lines in every state, NUL bytes, clients that never read, that
vanish at the worst moment, or that connect and leave in a loop.

Each test expects an exact reply or a clean close, and then checks that the
server still serves (a normal delivery on a new connection). Nothing here
measures time: waits only bound how long a broken server may take to fail.
"""
import base64
import signal
import socket
import smtplib
import time

import pytest

from conftest import PASSWORD, SANITIZED, client_tls_context, flood, message, worker_rss_kb
from test_smtp import Raw


def greeted(server, kind="smtp", ehlo=True):
    c = Raw(server, kind)
    assert c.reply()[0] == 220
    if ehlo:
        assert c.cmd("EHLO client.test")[0] == 250
    return c


def still_serves(server, subject="after"):
    """A normal delivery on a fresh connection, and it is stored; the worker
    never died (it would have been restarted) and no sanitizer spoke."""
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.sendmail("check@remote.test", ["bob@example.test"], message(subject, to="bob@example.test"))
    assert any(subject.encode() in m for m in server.export("bob@example.test"))
    log = server.log()
    for bad in ("restarting", "AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in log, log[-3000:]


def plain(user, password):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def submission_tls(server):
    """A raw submission client after STARTTLS and EHLO."""
    c = greeted(server, "submission")
    assert c.cmd("STARTTLS")[0] == 220
    c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="mx.example.test")
    assert c.cmd("EHLO client.test")[0] == 250
    return c


# ---- BDAT (RFC 3030) -------------------------------------------------------

def test_bdat_zero_last_ends_the_message(server):
    """BDAT 0 LAST carries no bytes: the reply must come without more input."""
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    body = b"Subject: zero last\r\n\r\nbody\r\n"
    c.send(b"BDAT %d\r\n" % len(body) + body)
    assert c.reply()[0] == 250
    c.expect("BDAT 0 LAST", 250, "2.0.0")
    c.expect("QUIT", 221)
    [m] = server.export("alice@example.test")
    assert b"Subject: zero last" in m


def test_bdat_zero_without_recipients(server):
    c = greeted(server)
    c.expect("BDAT 0 LAST", 503, "5.5.1")
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("BDAT 0", 554, "5.5.1")
    c.expect("NOOP", 250)


@pytest.mark.parametrize("arg", ["-1", "+5", "0x10", "1e3", "18446744073709551616", "99999999999999999999999",
                                 "5 LASTX", "5 LAST LAST", "LAST", "5\x0bLAST"])
def test_bdat_junk_sizes_close(server, arg):
    """Without a size that can be trusted the chunk's end is unknown: reply and close."""
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    code, lines = c.cmd("BDAT " + arg)
    assert code == 501 and "5.5.4" in lines[0], lines
    assert c.closed()
    still_serves(server)


def test_bdat_huge_size_is_read_and_refused(make_server):
    """A chunk bigger than the limit is consumed (framing kept) and refused at the end."""
    srv = make_server(extra_config="max_message_size 10K\n")
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    srv.start()
    c = greeted(srv)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    n = 3 * 1024 * 1024
    c.send(b"BDAT %d LAST\r\n" % n)
    chunk = b"x" * 1022 + b"\r\n"
    for _ in range(n // len(chunk)):
        c.send(chunk)
    c.send(b"y" * (n % len(chunk)))
    code, lines = c.reply()
    assert code == 552 and "5.3.4" in lines[0], lines
    c.expect("NOOP", 250)
    assert srv.export("alice@example.test") == []
    still_serves(srv)


def test_bdat_chunk_past_the_limit_fails_the_transaction(make_server):
    """The first chunk that goes past max_message_size gets 552 at once (the
    client stops sending), and pipelined chunks after it are skipped."""
    srv = make_server(extra_config="max_message_size 10K\n")
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    srv.start()
    c = greeted(srv)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.send(b"BDAT 6000\r\n" + b"a" * 6000)
    assert c.reply()[0] == 250
    c.send(b"BDAT 6000\r\n" + b"b" * 6000 + b"BDAT 10 LAST\r\n" + b"c" * 10)
    code, lines = c.reply()
    assert code == 552 and "5.3.4" in lines[0], lines
    code, lines = c.reply()
    assert code == 503 and "5.5.1" in lines[0], lines
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.send(b"BDAT 5 LAST\r\nsmall")
    assert c.reply()[0] == 250
    [m] = srv.export("alice@example.test")
    assert m.rstrip(b"\n").endswith(b"small")
    still_serves(srv)


def test_bdat_absurd_size_then_disconnect(server):
    """A refused BDAT chunk of an absurd size is skipped byte by byte; the
    session stays usable only by closing, which must not hurt the server."""
    c = greeted(server)
    c.send(b"BDAT 18446744073709551615 LAST\r\n" + b"z" * 100000)
    c.close()
    still_serves(server)


def test_data_after_bdat_and_rcpt_after_bdat(server):
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.send(b"BDAT 5\r\nHello")
    assert c.reply()[0] == 250
    c.expect("DATA", 503, "5.5.1")
    c.expect("RCPT TO:<bob@example.test>", 503, "5.5.1")
    c.send(b"BDAT 2 LAST\r\n\r\n")
    assert c.reply()[0] == 250
    assert len(server.export("alice@example.test")) == 1
    assert server.export("bob@example.test") == []


def test_rset_in_the_middle_of_bdat(server):
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.send(b"BDAT 5\r\nHello")
    assert c.reply()[0] == 250
    c.expect("RSET", 250)
    c.send(b"BDAT 3 LAST\r\nabc")
    code, lines = c.reply()
    assert code == 503 and "5.5.1" in lines[0], lines
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    body = b"Subject: after rset\r\n\r\nx\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(body) + body)
    assert c.reply()[0] == 250
    [m] = server.export("alice@example.test")
    assert b"Hello" not in m and b"after rset" in m


def test_bdat_after_failed_rcpt_keeps_the_transaction(server):
    """All recipients refused: the chunk is skipped with 554, MAIL still holds."""
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<nobody@example.test>", 550)
    c.send(b"BDAT 4\r\nMAIL")
    code, lines = c.reply()
    assert code == 554 and "5.5.1" in lines[0], lines
    c.expect("MAIL FROM:<y@remote.test>", 503, "5.5.1")
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.send(b"BDAT 3 LAST\r\nx\r\n")
    assert c.reply()[0] == 250
    assert len(server.export("alice@example.test")) == 1


# ---- pipelining without reading ---------------------------------------------

@pytest.mark.parametrize("kind", ["smtp", "submission-tls"])
def test_client_that_never_reads_cannot_grow_the_server(server, kind):
    """HELP returns ~15 times the bytes it takes: a server that answers
    everything into its output buffer would hold hundreds of MB here."""
    if kind == "smtp":
        c = greeted(server)
    else:
        c = submission_tls(server)
    before = worker_rss_kb(server)
    sent = flood(c.sock, b"HELP\r\n", 24 * 1024 * 1024)
    grown = worker_rss_kb(server) - before
    # AddressSanitizer keeps freed memory in quarantine (up to 256 MB): the
    # figure then says nothing, the rest of the test still runs.
    if not SANITIZED:
        assert grown < 48 * 1024, f"worker grew by {grown} kB after {sent} bytes of pipelined HELP"
    # The session is still in step: read a few answers, then leave.
    for _ in range(3):
        assert c.reply()[0] == 214
    c.close()
    still_serves(server)


# ---- AUTH (RFC 4954) ---------------------------------------------------------

def test_auth_continuation_line_too_long(server):
    c = submission_tls(server)
    c.expect("AUTH LOGIN", 334)
    c.send(b"A" * 200000 + b"\r\n")
    code, lines = c.reply()
    assert code == 500 and "5.5.6" in lines[0], lines
    # The exchange is over; the rest of the line was skipped.
    c.expect("NOOP", 250)
    c.expect("AUTH PLAIN " + plain("alice@example.test", PASSWORD), 235, "2.7.0")


def test_auth_cancel_and_empty_initial_response(server):
    c = submission_tls(server)
    c.expect("AUTH LOGIN", 334)
    c.expect("*", 501)
    code, lines = c.cmd("AUTH PLAIN =")
    assert code in (334, 501), lines
    if code == 334:
        c.expect("*", 501)
    c.expect("AUTH PLAIN", 334)
    c.expect(plain("alice@example.test", PASSWORD), 235, "2.7.0")
    c.expect("AUTH PLAIN " + plain("alice@example.test", PASSWORD), 503, "5.5.1")
    c.expect("MAIL FROM:<alice@example.test> AUTH=<>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("AUTH LOGIN", 503, "5.5.1")


def test_auth_with_nul_and_junk(server):
    c = submission_tls(server)
    c.expect(b"AUTH PLAIN AG\x00FsaWNl", 500, "5.5.2")
    c.expect("AUTH PLAIN !!!!", 501)
    c.expect("AUTH PLAIN", 334)
    c.expect(b"AGFs\x00aWNl", 501)
    c.expect("AUTH X-UNKNOWN", 504, "5.5.4")
    c.expect("NOOP", 250)


def test_scram_with_a_long_client_nonce(server):
    """The server-first message echoes the client's nonce: a long one must
    come back whole, not cut at some reply buffer size."""
    c = submission_tls(server)
    nonce = "n" * 3000
    first = base64.b64encode(f"n,,n=alice@example.test,r={nonce}".encode()).decode()
    code, lines = c.cmd("AUTH SCRAM-SHA-256 " + first)
    if code == 334:
        server_first = base64.b64decode(lines[0][4:]).decode()
        assert server_first.startswith("r=" + nonce), server_first[:80]
        c.expect("*", 501)
    else:
        assert code == 501, lines  # refusing such a nonce outright is fine too
    c.expect("NOOP", 250)


def test_starttls_forgets_a_cleartext_login(make_server):
    """RFC 3207 4.2: nothing learnt before TLS survives it, AUTH included."""
    srv = make_server(extra_config="allow_plaintext_loopback yes\n")
    srv.add_user("alice@example.test")
    srv.start()
    c = greeted(srv, "submission")
    c.expect("AUTH PLAIN " + plain("alice@example.test", PASSWORD), 235)
    c.expect("STARTTLS", 220)
    c.sock = client_tls_context().wrap_socket(c.sock, server_hostname="mx.example.test")
    code, lines = c.cmd("EHLO client.test")
    assert code == 250 and any(l[4:].startswith("AUTH ") for l in lines), lines
    c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
    c.expect("AUTH PLAIN " + plain("alice@example.test", PASSWORD), 235)
    c.expect("MAIL FROM:<alice@example.test>", 250)


def test_shutdown_during_a_password_check(make_server):
    """SIGTERM while a (delayed) failed login is pending: the session gets its
    535, then the shutdown's 421, instead of lingering to the grace's end."""
    srv = make_server(extra_config="shutdown_grace 60s\n")
    srv.add_user("alice@example.test")
    srv.start()
    # Two failures first, so that the third reply is delayed by seconds.
    for _ in range(2):
        c = submission_tls(srv)
        c.expect("AUTH PLAIN " + plain("alice@example.test", "wrong"), 535, "5.7.8")
        c.close()
    c = submission_tls(srv)
    c.send("AUTH PLAIN " + plain("alice@example.test", "wrong") + "\r\n")
    time.sleep(0.3)  # let the server read it (the reply is due in 2 s)
    srv.proc.send_signal(signal.SIGTERM)
    code, lines = c.reply()
    assert code == 535, lines
    code, lines = c.reply()
    assert code == 421 and "4.3.2" in lines[0], lines
    assert c.closed()
    assert srv.proc.wait(timeout=30) == 0


# ---- sizes, lines and bytes -----------------------------------------------------

@pytest.mark.parametrize("param,code,enh", [
    ("SIZE=-1", 501, "5.5.4"),
    ("SIZE=", 501, "5.5.4"),
    ("SIZE=abc", 501, "5.5.4"),
    ("SIZE=1e9", 501, "5.5.4"),
    ("SIZE=0x10", 501, "5.5.4"),
    ("SIZE=18446744073709551615", 552, "5.3.4"),
    ("SIZE=99999999999999999999999999999", 552, "5.3.4"),
    ("SIZE=52428801", 552, "5.3.4"),
    ("SIZE=0", 250, "2.1.0"),
    ("SIZE=52428800", 250, "2.1.0"),
    ("SIZE=10 SIZE=10", 555, "5.5.4"),
])
def test_mail_size_values(server, param, code, enh):
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test> " + param, code, enh)
    # Refused or not, the session goes on in step.
    if code != 250:
        c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    c.expect("Subject: size\r\n\r\nx\r\n.", 250)


def test_long_lines_in_every_state(make_server):
    srv = make_server(extra_config="smtp_max_line 1000\nmax_errors 50\n")
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    srv.start()
    c = Raw(srv)
    assert c.reply()[0] == 220
    long = "NOOP " + "x" * 300000  # longer than conn's input buffer, too
    c.expect(long, 500, "5.5.2")                          # before EHLO
    c.expect("EHLO client.test", 250)
    c.expect(long, 500, "5.5.2")                          # after EHLO
    c.expect("MAIL FROM:<x@remote.test> " + "y" * 2000, 500, "5.5.2")
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect(long, 500, "5.5.2")                          # in a transaction
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("RCPT TO:<" + "z" * 5000 + "@example.test>", 500, "5.5.2")
    c.expect("DATA", 354)
    # In DATA a line may be as long as the message size allows.
    c.send(b"Subject: long line\r\n\r\n" + b"w" * 2000000 + b"\r\n.\r\n")
    assert c.reply()[0] == 250
    [m] = srv.export("alice@example.test")
    assert b"w" * 2000000 in m
    c.expect("QUIT", 221)
    still_serves(srv)


def test_endless_line_then_disconnect(server):
    c = greeted(server)
    c.send(b"MAIL FROM:<" + b"a" * (8 * 1024 * 1024))
    code, lines = c.reply()
    assert code == 500 and "5.5.2" in lines[0], lines
    c.close()
    still_serves(server)


@pytest.mark.parametrize("line", [
    b"NOOP\x00", b"\x00", b"\x00\x00\x00NOOP", b"EHLO a\x00b", b"MAIL FROM:<a\x00b@remote.test>",
    b"RCPT TO:<alice@example.test>\x00", b"DATA\x00", b"QUIT\x00x", b"AUTH PLAIN \x00",
    b"NOOP\rRSET", b"\x00\r",
])
def test_nul_and_cr_in_commands(server, line):
    c = greeted(server)
    c.expect(line, 500, "5.5.2")
    c.expect("MAIL FROM:<x@remote.test>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    c.expect(b"Subject: nul\r\n\r\na\x00b\r\n.", 250)
    [m] = server.export("alice@example.test")
    assert b"a\x00b" in m, "NUL bytes in the data are stored as they came"


def test_thousands_of_recipients(server):
    """Past max_recipients (1000) each RCPT gets 452 4.5.3, the session stays
    usable, and the message goes once to each user."""
    c = greeted(server)
    c.expect("MAIL FROM:<x@remote.test>", 250)
    n = 3000
    rcpts = b"".join(b"RCPT TO:<%s@example.test>\r\n" % (b"alice" if i % 2 else b"bob") for i in range(n))
    c.send(rcpts)
    codes = [c.reply() for _ in range(n)]
    assert [x[0] for x in codes] == [250] * 1000 + [452] * (n - 1000)
    assert "4.5.3" in codes[-1][1][0]
    c.expect("DATA", 354)
    c.expect("Subject: many\r\n\r\nx\r\n.", 250)
    c.expect("QUIT", 221)
    assert len(server.export("alice@example.test")) == 1
    assert len(server.export("bob@example.test")) == 1


def test_talking_before_the_greeting(make_server):
    srv = make_server(extra_config="smtp_greeting_delay 2s\n")
    srv.add_user("bob@example.test")
    srv.start()
    c = Raw(srv)
    c.send("EHLO early.test\r\n")
    code, lines = c.reply()
    assert code == 554, lines
    assert c.closed()
    still_serves(srv)


# ---- clients that leave at the worst moment -------------------------------------

def rst_close(sock):
    """Close with a RST, as a crashed client or a killed process does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_disconnect_in_the_middle_of_data(server, how):
    for i in range(20):
        c = greeted(server)
        c.send("MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        for _ in range(3):
            c.reply()
        c.send(b"Subject: cut\r\n\r\n" + b"partial line " * (i * 1000) + b"\r\n.")
        rst_close(c.sock) if how == "rst" else c.close()
    still_serves(server)
    assert server.export("alice@example.test") == []


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_disconnect_while_waiting_for_the_250(server, how):
    """The client leaves right after the final dot, and pipelines more after
    it: the session must wait for the store and then go quietly."""
    for i in range(30):
        c = greeted(server)
        c.send(f"MAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
               f"Subject: gone {i}\r\n\r\nbody\r\n.\r\nMAIL FROM:<y@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
               f"DATA\r\nSubject: second {i}\r\n\r\nx\r\n.\r\nQUIT\r\n")
        rst_close(c.sock) if how == "rst" else c.close()
    still_serves(server, "after leaving")
    # Whatever was stored is whole (the sender would retry the rest).
    for m in server.export("alice@example.test"):
        assert b"Subject: gone " in m and m.rstrip(b"\n").endswith(b"body")


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_disconnect_during_an_auth_check(server, how):
    for i in range(10):
        c = submission_tls(server)
        password = PASSWORD if i % 2 else "wrong"
        c.send("AUTH PLAIN " + plain("alice@example.test", password) + "\r\nMAIL FROM:<alice@example.test>\r\n")
        rst_close(c.sock) if how == "rst" else c.close()
    still_serves(server)
    # The address is not locked out by these (at most 5 failures of 10 allowed).
    c = submission_tls(server)
    c.expect("AUTH PLAIN " + plain("alice@example.test", PASSWORD), 235)


def test_rapid_connect_disconnect(server):
    """Connection counts per address come back down: more cycles than
    max_connections_per_ip (500) still get greeted."""
    for i in range(1200):
        s = socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=20)
        if i % 3 == 0:
            rst_close(s)
        elif i % 3 == 1:
            s.sendall(b"EHLO x\r\nMAIL FROM:<a@b>\r\n")
            s.close()
        else:
            assert s.recv(3) == b"220"
            s.close()
    c = greeted(server)
    c.expect("QUIT", 221)
    still_serves(server)


def test_half_closed_client_gets_every_reply(server):
    """A client may pipeline everything, close its sending side and only
    then read. With more replies than the socket buffers hold, the server
    must still answer every command (it holds input back while replies
    wait) and close after the 221."""
    c = greeted(server)
    n = 40000  # about 3.4 MB of HELP replies
    c.send(b"HELP\r\n" * n + b"QUIT\r\n")
    c.sock.shutdown(socket.SHUT_WR)
    # Let the buffers fill up before reading anything (on a slow machine
    # the test may then not reach the limit; it never fails for that).
    time.sleep(1)
    codes = [c.reply()[0] for _ in range(n + 1)]
    assert codes == [214] * n + [221]
    assert c.closed()
    still_serves(server)


def test_repeated_errors_that_do_not_count_stay_out_of_the_log(make_server):
    """452 past max_recipients and 552 at MAIL are not protocol errors (no
    max_errors), so a client may repeat them forever: the log must not grow
    with them."""
    srv = make_server(extra_config="max_recipients 1\nmax_message_size 1K\n")
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    srv.start()
    c = greeted(srv)
    n = 5000
    c.send(b"MAIL FROM:<x@remote.test> SIZE=5000\r\n" * n + b"MAIL FROM:<x@remote.test>\r\n" +
           b"RCPT TO:<alice@example.test>\r\n" * n)
    codes = [c.reply()[0] for _ in range(2 * n + 1)]
    assert codes == [552] * n + [250, 250] + [452] * (n - 1)
    c.expect("QUIT", 221)
    still_serves(srv)
    log = srv.log()
    assert log.count("5.3.4") + log.count("4.5.3") <= 110, "at most 100 error replies logged per session"
