"""Hostile IMAP clients against the real daemon: clients that pipeline
commands with big answers and never read them.

Each test then checks that the session is still in step and that the
server still serves. Nothing here measures time: waits only bound how long
a broken server may take to fail.
"""
import imaplib
import os
import shutil
import smtplib
import socket
import tempfile
import time

import pytest

from conftest import DOMAIN, PASSWORD, SANITIZED, Server, client_tls_context, flood, message, worker_rss_kb

USER = "alice@" + DOMAIN
MESSAGES = 40


@pytest.fixture(scope="module")
def srv():
    root = tempfile.mkdtemp(prefix="posthorn-imap-hostile-")
    os.chmod(root, 0o755)  # the worker runs as another user
    s = Server(os.path.join(root, "a"), extra_config="allow_plaintext_loopback yes\n")
    s.add_user(USER)
    s.start()
    try:
        with smtplib.SMTP("127.0.0.1", s.ports["smtp"], timeout=30) as smtp:
            for i in range(MESSAGES):
                smtp.sendmail("someone@remote.test", [USER],
                              message(f"filler {i}", to=USER, body="x" * 200 + "\r\n"))
        yield s
    finally:
        try:
            s.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def connect(server, tls):
    sock = socket.create_connection(("127.0.0.1", server.ports["imaps" if tls else "imap"]), timeout=30)
    if tls:
        sock = client_tls_context().wrap_socket(sock)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"* OK")
    sock.sendall(f'l LOGIN "{USER}" "{PASSWORD}"\r\ns SELECT INBOX\r\n'.encode())
    while not f.readline().startswith(b"s OK"):
        pass
    return sock, f


def still_serves(server):
    m = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) == MESSAGES
    m.logout()
    log = server.log()
    for bad in ("restarting", "AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert bad not in log, log[-3000:]


@pytest.mark.parametrize("tls", [False, True], ids=["imap", "imaps"])
@pytest.mark.parametrize("command", [b"f FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)\r\n", b"c CAPABILITY\r\n",
                                     b"s UID SEARCH ALL\r\n"], ids=["fetch", "capability", "search"])
def test_client_that_never_reads_cannot_grow_the_server(srv, tls, command):
    """A FETCH of every ENVELOPE answers ~300 times the bytes it takes: a
    server that runs every pipelined command into its output buffer would
    hold gigabytes here. The server must stop reading while much output
    waits, and go on as the client reads."""
    sock, f = connect(srv, tls)
    before = worker_rss_kb(srv)
    sent = flood(sock, command, 24 * 1024 * 1024)
    time.sleep(1)  # what the server took in, it has answered by now
    grown = worker_rss_kb(srv) - before
    # AddressSanitizer keeps freed memory in quarantine: the figure then says
    # nothing, the rest of the test still runs.
    if not SANITIZED:
        assert grown < 48 * 1024, f"worker grew by {grown} kB after {sent} bytes of pipelined {command!r}"
    # Still in step: the first answers are complete and in order.
    tag = command.split(b" ")[0]
    for _ in range(3):
        while True:
            line = f.readline()
            assert line, "connection closed"
            if line.startswith(tag + b" "):
                assert line.startswith(tag + b" OK"), line
                break
    sock.close()
    still_serves(srv)
