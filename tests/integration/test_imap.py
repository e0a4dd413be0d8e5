"""IMAP (imap with STARTTLS, imaps): every command and extension, with
Python's imaplib and curl's imap:// as clients, plus a raw line-level client
for what imaplib will not send (hostile framing, literals, pipelining,
COMPRESS).

One server runs for the whole module; each test gets its own fresh user, so
tests do not see each other's mail."""
import base64
import email
import itertools
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import zlib

import imaplib
import pytest

from conftest import DOMAIN, PASSWORD, Server, client_tls_context

_users = itertools.count(1)


@pytest.fixture(scope="module")
def srv():
    root = tempfile.mkdtemp(prefix="posthorn-imap-")
    os.chmod(root, 0o755)
    s = Server(os.path.join(root, "a"), extra_config="max_connections_per_ip 500\nmax_errors 5\n"
               "max_message_size 1M\nimap_max_line 8K\n")
    s.start()
    yield s
    try:
        s.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def user(srv):
    name = f"u{next(_users)}@{DOMAIN}"
    srv.add_user(name)
    return name


def imaps(srv, user=None):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=client_tls_context(), timeout=20)
    if user:
        m.login(user, PASSWORD)
    return m


def deliver(srv, rcpt, subject="Hello", body="Hi there.\r\n", extra=""):
    msg = (f"From: Sender <sender@remote.test>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{time.time()}.{subject.replace(' ', '.')}@remote.test>\r\n{extra}\r\n{body}")
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=20) as s:
        s.sendmail("sender@remote.test", [rcpt], msg.encode())


def msg_bytes(subject="Test", body="Body text.\r\n", frm="a@example.test", extra=""):
    return (f"From: {frm}\r\nTo: b@example.test\r\nSubject: {subject}\r\n"
            f"Date: Thu, 26 Nov 2026 10:00:00 +0100\r\n{extra}\r\n{body}").encode()


class Raw:
    """Line-level IMAP over TLS (imaps) or plain (imap)."""

    def __init__(self, srv, tls=True):
        sock = socket.create_connection(("127.0.0.1", srv.ports["imaps" if tls else "imap"]), timeout=20)
        self.sock = client_tls_context().wrap_socket(sock) if tls else sock
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; buffered " + repr(self.buf))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, tag):
        """Lines up to and including the tagged reply of tag."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def cmd(self, tag, text):
        self.send(f"{tag} {text}\r\n")
        return self.until(tag)

    def login(self, user):
        r = self.cmd("L", f'LOGIN {user} "{PASSWORD}"')
        assert r[-1].startswith("L OK"), r

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
            return True

    def close(self):
        self.sock.close()


# ---- connection, TLS, authentication ----------------------------------------


def test_plain_port_requires_starttls(srv, user):
    m = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=20)
    caps = m.capabilities
    assert "IMAP4REV1" in caps and "IMAP4REV2" in caps
    assert "STARTTLS" in caps and "LOGINDISABLED" in caps
    assert not any(c.startswith("AUTH=") for c in caps)
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login(user, PASSWORD)
    m.starttls(ssl_context=client_tls_context())
    typ, data = m.capability()
    caps = data[0].decode().split()
    assert "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps and "STARTTLS" not in caps
    typ, data = m.login(user, PASSWORD)
    assert typ == "OK" and b"[CAPABILITY" in data[0]
    assert b"IDLE" in data[0] and b"CONDSTORE" in data[0] and b"COMPRESS=DEFLATE" in data[0]
    m.logout()


def test_starttls_drops_pipelined_commands(srv):
    r = Raw(srv, tls=False)
    r.send("a STARTTLS\r\nb LOGIN x y\r\n")
    assert r.line().startswith("a OK")
    r.sock = client_tls_context().wrap_socket(r.sock)
    r.buf = b""
    # The pipelined LOGIN was dropped: the next reply is to our new command.
    assert r.cmd("c", "NOOP")[-1].startswith("c OK")
    r.close()


def test_login_and_failures(srv, user):
    m = imaps(srv)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(user, "wrong password")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login("nobody@" + DOMAIN, "whatever")
    m.logout()
    m = imaps(srv, user)
    assert m.state == "AUTH"
    m.logout()


def test_authenticate_plain_sasl_ir_and_continuation(srv, user):
    m = imaps(srv)
    cred = f"\0{user}\0{PASSWORD}".encode()
    typ, _ = m.authenticate("PLAIN", lambda _: cred)
    assert typ == "OK"
    m.logout()
    # SASL-IR: the response on the command line.
    r = Raw(srv)
    b64 = base64.b64encode(cred).decode()
    assert r.cmd("a", f"AUTHENTICATE PLAIN {b64}")[-1].startswith("a OK")
    r.close()
    # Cancelled exchange.
    r = Raw(srv)
    r.send("a AUTHENTICATE PLAIN\r\n")
    assert r.line().startswith("+")
    r.send("*\r\n")
    assert r.until("a")[-1].startswith("a BAD")
    r.close()


def test_authenticate_scram(srv, user):
    # imaplib has no SCRAM: drive it by hand (RFC 5802).
    import hashlib
    import hmac
    r = Raw(srv)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    r.send("a AUTHENTICATE SCRAM-SHA-256 " + base64.b64encode(("n,," + first_bare).encode()).decode() + "\r\n")
    line = r.line()
    assert line.startswith("+ "), line
    server_first = base64.b64decode(line[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    final_wo_proof = f"c=biws,r={attrs['r']}"
    auth_msg = f"{first_bare},{server_first},{final_wo_proof}".encode()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
    r.send(base64.b64encode(f"{final_wo_proof},p={proof}".encode()).decode() + "\r\n")
    line = r.line()
    assert line.startswith("+ "), line
    assert base64.b64decode(line[2:]).startswith(b"v=")
    r.send("\r\n")
    assert r.until("a")[-1].startswith("a OK")
    r.close()


def test_id_namespace_enable_capability(srv, user):
    r = Raw(srv)
    lines = r.cmd("a", 'ID ("name" "pytest" "version" "1")')
    assert lines[0].startswith('* ID ("name" "Posthorn"') and lines[-1].startswith("a OK")
    r.login(user)
    lines = r.cmd("b", "NAMESPACE")
    assert lines[0] == '* NAMESPACE (("" "/")) NIL NIL'
    lines = r.cmd("c", "ENABLE CONDSTORE UTF8=ACCEPT X-UNKNOWN")
    assert lines[0] == "* ENABLED CONDSTORE UTF8=ACCEPT"
    lines = r.cmd("d", "CAPABILITY")
    caps = lines[0].split()
    for c in ["IMAP4rev1", "IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "LITERAL+",
              "SASL-IR", "UNSELECT", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE",
              "ESEARCH", "SEARCHRES", "CONTEXT=SEARCH", "SORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "CONDSTORE",
              "QRESYNC", "BINARY", "QUOTA", "COMPRESS=DEFLATE", "UTF8=ACCEPT", "NOTIFY"]:
        assert c in caps, c
    assert any(c.startswith("APPENDLIMIT=") for c in caps)
    assert r.cmd("e", "LOGOUT")[0] == "* BYE Logging out"
    assert r.closed()


# ---- mailboxes ------------------------------------------------------------------


def test_list_special_use_children_and_status(srv, user):
    m = imaps(srv, user)
    typ, data = m.list()
    lines = [d.decode() for d in data]
    assert '(\\HasNoChildren) "/" INBOX' in lines
    assert any("\\Sent" in l and l.endswith(" Sent") for l in lines)
    assert any("\\Trash" in l and l.endswith(" Trash") for l in lines)
    assert m.create("Projects/2026/Q1")[0] == "OK"
    typ, data = m.list('""', "Projects/%")
    assert [d.decode() for d in data] == ['(\\HasChildren) "/" Projects/2026']
    typ, data = m.list('""', "*Q1")
    assert [d.decode() for d in data] == ['(\\HasNoChildren) "/" Projects/2026/Q1']
    typ, data = m.list('""', '""')
    assert data[0].decode() == '(\\Noselect) "/" ""'
    # LIST-EXTENDED + LIST-STATUS + SPECIAL-USE return options.
    typ, data = m._simple_command("LIST", '(SPECIAL-USE)', '""', "*", "RETURN", "(STATUS (MESSAGES UIDNEXT SIZE))")
    typ, data = m._untagged_response(typ, data, "LIST")
    assert all(b"\\HasNoChildren" in d or b"\\HasChildren" in d for d in data)
    assert not any(d.endswith(b"INBOX") for d in data)  # INBOX has no special use
    st = m.untagged_responses.pop("STATUS", [])
    assert any(b"Sent (MESSAGES 0 UIDNEXT 1 SIZE 0)" in x for x in st)
    # STATUS.
    typ, data = m.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
    assert typ == "OK" and re.search(rb"MESSAGES 0 RECENT 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 DELETED 0 SIZE 0 "
                                     rb"HIGHESTMODSEQ \d+", data[0]), data
    typ, data = m.status("Nope", "(MESSAGES)")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    m.logout()


def test_create_delete_rename_subscribe(srv, user):
    m = imaps(srv, user)
    assert m.create("A/")[0] == "OK"  # trailing separator: created without it
    typ, data = m.create("A")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    assert m.create("A/B")[0] == "OK"
    assert m.rename("A", "Z")[0] == "OK"
    typ, data = m.list('""', "Z*")
    assert sorted(d.decode() for d in data) == ['(\\HasChildren) "/" Z', '(\\HasNoChildren) "/" Z/B']
    typ, data = m.rename("Nope", "Y")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    assert m.subscribe("Z/B")[0] == "OK"
    typ, data = m.lsub('""', "Z/*")
    assert [d.decode() for d in data] == ['() "/" Z/B']
    typ, data = m.lsub('""', "Z/%")
    assert [d.decode() for d in data] == ['() "/" Z/B']
    typ, data = m.lsub('""', "%")
    assert '(\\Noselect) "/" Z' in [d.decode() for d in data]
    assert m.unsubscribe("Z/B")[0] == "OK"
    # Deleting a parent leaves the child; the parent shows as \Noselect to "%".
    assert m.delete("Z")[0] == "OK"
    typ, data = m.list('""', "%")
    assert any(d.decode().endswith(' "/" Z') and b"\\Noselect" in d for d in data)
    typ, data = m.delete("INBOX")
    assert typ == "NO"
    # INBOX rename: messages move, INBOX stays and is empty.
    m.append("INBOX", None, None, msg_bytes("inbox-msg"))
    assert m.rename("INBOX", "Old") == ("OK", [b"Rename completed."])
    assert m.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
    assert m.status("Old", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 1)")
    m.logout()


def test_mailbox_names_mutf7_and_utf8(srv, user):
    m = imaps(srv, user)
    assert m.create("Entw&APw-rfe")[0] == "OK"
    typ, data = m.list('""', "Entw*")
    assert data[0].decode().endswith('"/" Entw&APw-rfe')
    typ, data = m.create("bad&name")
    assert typ == "NO"
    r = Raw(srv)
    r.login(user)
    r.cmd("a", "ENABLE UTF8=ACCEPT")
    lines = r.cmd("b", 'LIST "" "Entw*"')
    assert lines[0] == '* LIST (\\HasNoChildren) "/" "Entwürfe"'
    assert r.cmd("c", 'CREATE "Ünïcode"')[-1].startswith("c OK")
    r.close()
    typ, data = m.list('""', "&ANw-n&AO8-code")
    assert data[0] is not None and data[0].decode().endswith("&ANw-n&AO8-code")
    m.logout()


# ---- append, select, fetch ---------------------------------------------------------


def test_append_select_fetch(srv, user):
    m = imaps(srv, user)
    body = msg_bytes("Fetch me", "Line one.\r\nLine two.\r\n")
    typ, data = m.append("INBOX", "(\\Flagged $Work)", imaplib.Time2Internaldate(1700000000), body)
    assert typ == "OK"
    mo = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert mo and mo.group(2) == b"1"
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    assert m.untagged_responses.get("UIDVALIDITY") == [mo.group(1)]
    assert m.untagged_responses.get("RECENT") == [b"1"]
    assert b"$Work" in m.untagged_responses["FLAGS"][0]
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE UID ENVELOPE BODYSTRUCTURE)")
    d = data[0]
    assert b"FLAGS (\\Flagged $Work \\Recent)" in d
    assert b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in d
    assert b"RFC822.SIZE %d" % len(body) in d
    assert b'ENVELOPE ("Thu, 26 Nov 2026 10:00:00 +0100" "Fetch me" ((NIL NIL "a" "example.test"))' in d
    assert b'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 22 2' in d
    # BODY.PEEK does not set \Seen; BODY[] does.
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == body
    assert b"\\Seen" not in m.fetch("1", "FLAGS")[1][0]
    typ, data = m.fetch("1", "(BODY[TEXT]<5.8>)")
    assert data[0][0].endswith(b"BODY[TEXT]<5> {8}") and data[0][1] == b"one.\r\nLi"
    assert b"\\Seen" in data[0][0] or b"\\Seen" in data[1]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject From)] BODY.PEEK[HEADER.FIELDS.NOT (Subject From Date)])")
    assert data[0][1] == b"From: a@example.test\r\nSubject: Fetch me\r\n\r\n"
    assert data[1][1] == b"To: b@example.test\r\n\r\n"
    typ, data = m.fetch("1", "(RFC822.HEADER RFC822.TEXT)")
    assert data[0][1] + data[1][1] == body
    typ, data = m.fetch("1", "FAST")
    assert b"FLAGS" in data[0] and b"INTERNALDATE" in data[0] and b"RFC822.SIZE" in data[0]
    typ, data = m.uid("FETCH", "1:*", "(UID)")
    assert data == [b"1 (UID 1)"]
    # Sequence numbers past the end are an error; UIDs past the end are not.
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m.fetch("5", "FLAGS")
    assert m.uid("FETCH", "99", "FLAGS") == ("OK", [None])
    typ, data = m.append("Nope", None, None, body)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()


def test_fetch_mime_parts_and_binary(srv, user):
    m = imaps(srv, user)
    body = (b"From: a@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
            b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"caf=C3=A9\r\n"
            b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"AAECAwQ=\r\n"
            b"--XX--\r\n")
    m.append("INBOX", None, None, body)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[1.MIME] BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2])")
    flat = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)
    assert b"BODY[1] {9}\r\ncaf=C3=A9" in flat or (b"BODY[1] {9}" in flat and b"caf=C3=A9" in flat)
    assert b"Content-Type: text/plain; charset=utf-8" in flat
    assert "café".encode() in flat
    assert b"BINARY.SIZE[2] 5" in flat
    assert b"\x00\x01\x02\x03\x04" in flat
    typ, data = m.fetch("1", "(BODYSTRUCTURE)")
    assert b'(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable"' in data[0]
    assert b'"mixed" ("boundary" "XX")' in data[0]
    m.logout()


def test_literal8_append_binary(srv, user):
    r = Raw(srv)
    r.login(user)
    msg = (b"From: a@example.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
           b"\x00\x01\xff\r\n")
    r.send(b"a APPEND INBOX ~{%d}\r\n" % len(msg))
    assert r.line().startswith("+")
    r.send(msg + b"\r\n")
    assert r.until("a")[-1].startswith("a OK [APPENDUID")
    r.cmd("b", "SELECT INBOX")
    r.send("c FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])\r\n")
    first = r.line()
    assert "BINARY[1] ~{5}" in first or "BINARY.SIZE[1] 5" in first
    r.close()


def test_store_flags_and_keywords(srv, user):
    m = imaps(srv, user)
    for i in range(3):
        m.append("INBOX", None, None, msg_bytes(f"m{i}"))
    m.select("INBOX")
    typ, data = m.store("1:2", "+FLAGS", "(\\Seen $Important)")
    assert sorted(data) == [b"1 (FLAGS (\\Seen $Important \\Recent))", b"2 (FLAGS (\\Seen $Important \\Recent))"]
    assert b"$Important" in m.untagged_responses.get("FLAGS", [b""])[-1]
    typ, data = m.store("2", "-FLAGS.SILENT", "($Important)")
    assert data == [None]
    typ, data = m.store("3", "FLAGS", "(\\Answered \\Draft $Forwarded)")
    assert data == [b"3 (FLAGS (\\Answered \\Draft $Forwarded \\Recent))"]
    typ, data = m.fetch("1:3", "FLAGS")
    assert data == [b"1 (FLAGS (\\Seen $Important \\Recent))", b"2 (FLAGS (\\Seen \\Recent))",
                    b"3 (FLAGS (\\Answered \\Draft $Forwarded \\Recent))"]
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m.store("1", "+FLAGS", "(\\Bogus)")
    m.logout()
    # Examine: read-only, no \Recent taken.
    m = imaps(srv, user)
    m.select("INBOX", readonly=True)
    typ, data = m.store("1", "+FLAGS", "(\\Deleted)")
    assert typ == "NO"
    m.logout()


def test_copy_move_expunge_uidplus(srv, user):
    m = imaps(srv, user)
    for i in range(5):
        m.append("INBOX", None, None, msg_bytes(f"m{i}"))
    m.select("INBOX")
    typ, data = m.copy("1:2", "Archive")
    assert typ == "OK" and re.search(rb"\[COPYUID \d+ 1:2 1:2\]", data[0])
    typ, data = m.uid("MOVE", "3", "Archive")
    assert typ == "OK"
    assert m.untagged_responses.pop("EXPUNGE", None) == [b"3"]
    typ, data = m.status("Archive", "(MESSAGES)")
    assert data[0].endswith(b"(MESSAGES 3)")
    m.store("1,3", "+FLAGS", "\\Deleted")
    # UID EXPUNGE only removes the listed deleted message (UID 4 is seq 3).
    typ, data = m.uid("EXPUNGE", "4")
    assert typ == "OK" and m.untagged_responses.pop("EXPUNGE", None) == [b"3"]
    typ, data = m.expunge()
    assert data == [b"1"]
    typ, data = m.search(None, "ALL")
    assert data == [b"1 2"]
    typ, data = m.uid("SEARCH", "ALL")
    assert data == [b"2 5"]
    typ, data = m.copy("1", "Nope")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    # CLOSE expunges silently; UNSELECT does not expunge.
    m.store("1", "+FLAGS", "\\Deleted")
    m.unselect()
    m.select("INBOX")
    assert m.search(None, "DELETED")[1] == [b"1"]
    m.close()
    m.select("INBOX")
    assert m.search(None, "ALL")[1] == [b"1"]
    m.logout()


def test_search_keys(srv, user):
    m = imaps(srv, user)
    m.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(1700000000),
             msg_bytes("Quarterly report", "Revenue grew by ten percent.\r\n", frm="Ann Example <ann@example.test>"))
    m.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1710000000),
             msg_bytes("=?utf-8?q?Caf=C3=A9_menu?=", "Croissants and coffee.\r\n", frm="bob@example.test",
                       extra="X-Tag: special\r\n"))
    m.append("INBOX", None, None, msg_bytes("Lunch", "x" * 5000 + "\r\n"))
    m.select("INBOX")
    def s(*keys, charset=None):
        typ, data = m.search(charset, *keys)
        assert typ == "OK", data
        return data[0].decode()
    assert s("ALL") == "1 2 3"
    assert s("SEEN") == "1" and s("UNSEEN") == "2 3" and s("FLAGGED") == "2"
    assert s("SUBJECT", "report") == "1"
    m.literal = "café".encode()
    typ, data = m.search("UTF-8", "SUBJECT")
    assert data == [b"2"]
    assert s("FROM", "ann") == "1" and s("FROM", "example.test") == "1 2 3"
    assert s("BODY", "croissant") == "2" and s("TEXT", "Quarterly") == "1"
    assert s("TEXT", '"ssants and cof"') == "2"  # substrings inside words
    assert s("HEADER", "X-Tag", "spec") == "2" and s("HEADER", "X-Tag", '""') == "2"
    assert s("LARGER", "1000") == "3" and s("SMALLER", "1000") == "1 2"
    assert s("BEFORE", "1-Jan-2024") == "1" and s("SINCE", "1-Jan-2024") == "2 3"
    assert s("ON", "14-Nov-2023") == "1"
    assert s("SENTON", "26-Nov-2026") == "1 2 3"
    assert s("OR", "SEEN", "FLAGGED") == "1 2" and s("NOT", "SEEN") == "2 3"
    assert s("(", "SEEN", "SUBJECT", "report", ")") == "1"
    assert s("2:*") == "2 3" and s("UID", "1,3") == "1 3"
    assert s("NEW") == "2 3" and s("RECENT") == "1 2 3" and s("OLD") == ""
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m.search(None, "FOO")
    typ, data = m.search("X-UNKNOWN", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    # ESEARCH and SEARCHRES.
    typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL SAVE)", "UNSEEN")
    es = m.untagged_responses.pop("ESEARCH")
    assert es[0].endswith(b"MIN 2 MAX 3 COUNT 2 ALL 2:3")
    typ, data = m.fetch("$", "(UID)")
    assert data == [b"2 (UID 2)", b"3 (UID 3)"]
    typ, data = m.uid("SEARCH", "RETURN", "(COUNT)", "ALL")
    assert m.untagged_responses.pop("ESEARCH")[0].endswith(b"UID COUNT 3")
    m.logout()


def test_sort_and_thread(srv, user):
    m = imaps(srv, user)
    m.append("INBOX", None, imaplib.Time2Internaldate(1700000300),
             b"From: Zed <z@example.test>\r\nSubject: Re: Plans\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n"
             b"Date: Tue, 14 Nov 2023 22:18:20 +0000\r\n\r\nyes\r\n")
    m.append("INBOX", None, imaplib.Time2Internaldate(1700000000),
             b"From: Amy <amy@example.test>\r\nSubject: Plans\r\nMessage-ID: <a@x>\r\n"
             b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\n" + b"hello, this one is longer. " * 4 + b"\r\n")
    m.append("INBOX", None, imaplib.Time2Internaldate(1700000600),
             b"From: bob <bob@example.test>\r\nSubject: Other\r\nMessage-ID: <c@x>\r\n"
             b"Date: Tue, 14 Nov 2023 22:23:20 +0000\r\n\r\nx\r\n")
    m.select("INBOX")
    assert m.sort("(DATE)", "UTF-8", "ALL")[1] == [b"2 1 3"]
    assert m.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")[1] == [b"3 1 2"]
    assert m.sort("(FROM)", "UTF-8", "ALL")[1] == [b"2 3 1"]
    assert m.sort("(SUBJECT REVERSE SIZE)", "UTF-8", "ALL")[1] == [b"3 2 1"]
    assert m.sort("(SIZE)", "UTF-8", "ALL")[1] == [b"3 1 2"]
    assert m.uid("SORT", "(DATE)", "UTF-8", "ALL")[1] == [b"2 1 3"]
    assert m.thread("REFERENCES", "UTF-8", "ALL")[1] == [b"(2 1)(3)"]
    assert m.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1] == [b"(2 1)(3)"]
    m.logout()


# ---- several sessions, IDLE, CONDSTORE, QRESYNC ---------------------------------


# ---- CONTEXT=SEARCH (RFC 5267) ------------------------------------------------


def append_raw(r, n, flags=""):
    for i in range(n):
        msg = msg_bytes(f"m{i}")
        r.send(b"x APPEND INBOX %s{%d+}\r\n" % (flags.encode(), len(msg)) + msg + b"\r\n")
        assert r.until("x")[-1].startswith("x OK")


def untagged(lines, prefix):
    return [l for l in lines if l.startswith(prefix)]


def test_context_search_updates(srv, user):
    r = Raw(srv)
    r.login(user)
    append_raw(r, 5)
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("a", "SEARCH RETURN (UPDATE) SEEN")[0] == '* ESEARCH (TAG "a")'
    lines = r.cmd("b", "UID SEARCH RETURN (UPDATE COUNT) OR SEEN 5")
    assert lines[0] == '* ESEARCH (TAG "b") UID COUNT 1'
    # Own changes: ADDTO and REMOVEFROM with the STORE (by sequence number too).
    lines = r.cmd("c", "STORE 1,2,4 +FLAGS.SILENT (\\Seen)")
    assert untagged(lines, "* ESEARCH") == ['* ESEARCH (TAG "a") ADDTO (0 1:2,4)',
                                          '* ESEARCH (TAG "b") UID ADDTO (0 1:2,4)'], lines
    lines = r.cmd("d", "STORE 1 -FLAGS.SILENT (\\Seen)")
    assert untagged(lines, "* ESEARCH") == ['* ESEARCH (TAG "a") REMOVEFROM (0 1)',
                                          '* ESEARCH (TAG "b") UID REMOVEFROM (0 1)'], lines
    # Another session's changes, seen at the next command.
    other = imaps(srv, user)
    other.select("INBOX")
    other.store("3", "+FLAGS", "\\Seen")
    lines = r.cmd("e", "NOOP")
    assert '* ESEARCH (TAG "a") ADDTO (0 3)' in lines, lines
    # Expunged results: held back with EXPUNGE during FETCH by sequence
    # number, then REMOVEFROM (numbered as the client knows them) before
    # the EXPUNGE.
    other.store("2", "+FLAGS", "\\Deleted")
    other.expunge()
    lines = r.cmd("f", "FETCH 5 (UID)")
    assert untagged(lines, "* ESEARCH") == [] and not untagged(lines, "* 2 EXPUNGE"), lines
    lines = r.cmd("g", "NOOP")
    i = lines.index('* ESEARCH (TAG "a") REMOVEFROM (0 2)')
    assert lines.index("* 2 EXPUNGE") > i, lines
    assert '* ESEARCH (TAG "b") UID REMOVEFROM (0 2)' in lines
    # New mail: EXISTS, then ADDTO with its number.
    other.append("INBOX", "(\\Seen)", None, msg_bytes("new"))
    lines = r.cmd("h", "NOOP")
    assert lines.index("* 5 EXISTS") < lines.index('* ESEARCH (TAG "a") ADDTO (0 5)'), lines
    assert '* ESEARCH (TAG "b") UID ADDTO (0 6)' in lines
    # Sequence numbers in the program name the messages of the time of the
    # SEARCH: "5" stays UID 5 (now message 4), message 5 (UID 6) leaves.
    lines = r.cmd("i", "STORE 5 -FLAGS.SILENT (\\Seen)")
    assert untagged(lines, "* ESEARCH") == ['* ESEARCH (TAG "a") REMOVEFROM (0 5)',
                                          '* ESEARCH (TAG "b") UID REMOVEFROM (0 6)'], lines
    # CANCELUPDATE ends them; a new SEARCH may reuse a tag then.
    assert r.cmd("j", 'CANCELUPDATE "a" "b"')[-1].startswith("j OK")
    lines = r.cmd("k", "STORE 1:* +FLAGS.SILENT (\\Seen)")
    assert untagged(lines, "* ESEARCH") == [], lines
    assert r.cmd("a", "SEARCH RETURN (UPDATE ALL) UNSEEN")[0] == '* ESEARCH (TAG "a")'
    lines = r.cmd("l", "STORE 2 -FLAGS.SILENT (\\Seen)")
    assert untagged(lines, "* ESEARCH") == ['* ESEARCH (TAG "a") ADDTO (0 2)'], lines
    # Closing the mailbox ends them.
    r.cmd("m", "UNSELECT")
    r.cmd("n", "SELECT INBOX")
    assert r.cmd("o", 'CANCELUPDATE "a"')[-1].startswith("o NO")
    other.logout()
    r.close()


def test_context_search_partial(srv, user):
    r = Raw(srv)
    r.login(user)
    append_raw(r, 5)
    r.cmd("s", "SELECT INBOX")
    assert "CONTEXT=SEARCH" in r.cmd("c", "CAPABILITY")[0].split()
    assert r.cmd("a", "SEARCH RETURN (PARTIAL 2:4) ALL")[0] == '* ESEARCH (TAG "a") PARTIAL (2:4 2:4)'
    assert r.cmd("a", "SEARCH RETURN (PARTIAL 4:2) ALL")[0] == '* ESEARCH (TAG "a") PARTIAL (2:4 2:4)'
    assert r.cmd("a", "SEARCH RETURN (PARTIAL 1:9 COUNT) ALL")[0] == \
        '* ESEARCH (TAG "a") COUNT 5 PARTIAL (1:9 1:5)'
    assert r.cmd("a", "SEARCH RETURN (PARTIAL 6:6) ALL")[0] == '* ESEARCH (TAG "a") PARTIAL (6:6 NIL)'
    assert r.cmd("a", "SEARCH RETURN (PARTIAL 2:3) 1:2,4:5")[0] == '* ESEARCH (TAG "a") PARTIAL (2:3 2,4)'
    r.cmd("b", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    r.cmd("b", "EXPUNGE")
    assert r.cmd("a", "UID SEARCH RETURN (PARTIAL 2:3) ALL")[0] == '* ESEARCH (TAG "a") UID PARTIAL (2:3 3:4)'
    # SAVE with PARTIAL keeps what was returned.
    r.cmd("d", "SEARCH RETURN (PARTIAL 1:2 SAVE) ALL")
    assert untagged(r.cmd("e", "FETCH $ (UID)"), "*") == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]
    # UPDATE with PARTIAL: the updates cover the whole result (RFC 5267 4.4).
    lines = r.cmd("f", "SEARCH RETURN (PARTIAL 1:2 UPDATE) UNSEEN")
    assert lines == ['* ESEARCH (TAG "f") PARTIAL (1:2 1:2)', "f OK Search completed."]
    lines = r.cmd("g", "STORE 4 +FLAGS.SILENT (\\Seen)")
    assert lines == ['* ESEARCH (TAG "f") REMOVEFROM (0 4)', "g OK Store completed."], lines
    r.close()


def test_context_search_bad_syntax_and_limits(srv, user):
    r = Raw(srv)
    r.login(user)
    append_raw(r, 2)
    r.cmd("s", "SELECT INBOX")
    # Bad syntax is BAD and keeps no context (max_errors is 5 here).
    for tag, text in [("a", "SEARCH RETURN (PARTIAL 1:*) ALL"), ("b", "SEARCH RETURN (PARTIAL 0:3) ALL"),
                      ("c", "SEARCH RETURN (UPDATE PARTIAL 1:2 ALL) ALL"), ("d", "SEARCH RETURN (UPDATE UPDATE) ALL")]:
        assert r.cmd(tag, text)[-1].startswith(tag + " BAD"), text
    r.close()
    r = Raw(srv)
    r.login(user)
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("e", "SEARCH RETURN (PARTIAL -1:-2) ALL")[-1].startswith("e BAD")
    assert r.cmd("f", "CANCELUPDATE")[-1].startswith("f BAD")
    assert r.cmd("g", "CANCELUPDATE (x)")[-1].startswith("g BAD")
    assert r.cmd("h", "CANCELUPDATE g")[-1].startswith("h BAD")
    for tag in "abcdegh":
        assert r.cmd("n", f'CANCELUPDATE "{tag}"')[-1].startswith("n NO")
    r.close()
    r = Raw(srv)
    r.login(user)
    assert r.cmd("a", 'CANCELUPDATE "x"')[-1] == "a BAD No mailbox selected"
    r.cmd("s", "SELECT INBOX")
    # At most 10 contexts per session; the 11th search still answers.
    for i in range(10):
        assert r.cmd(f"k{i}", "SEARCH RETURN (UPDATE) SEEN")[-1].startswith(f"k{i} OK")
    assert r.cmd("k0", "SEARCH RETURN (UPDATE) SEEN")[-1] == "k0 BAD Duplicate search update tag"
    lines = r.cmd("k10", "SEARCH RETURN (UPDATE COUNT) SEEN")
    assert lines == ['* ESEARCH (TAG "k10") COUNT 0',
                     '* NO [NOUPDATE "k10"] Too many search updates (at most 10).', "k10 OK Search completed."]
    lines = r.cmd("t", "STORE 1 +FLAGS.SILENT (\\Seen)")
    assert len(untagged(lines, "* ESEARCH")) == 10 and not untagged(lines, '* ESEARCH (TAG "k10")'), lines
    # An unknown tag among known ones: NO, nothing cancelled.
    assert r.cmd("u", 'CANCELUPDATE "k1" "nope"')[-1].startswith("u NO")
    assert r.cmd("v", 'CANCELUPDATE "k1"')[-1].startswith("v OK")
    assert r.cmd("k10", "SEARCH RETURN (UPDATE) SEEN")[-1] == "k10 OK Search completed."
    r.close()


# ---- NOTIFY (RFC 5465) ------------------------------------------------------------


def test_notify_selected_and_other_mailboxes(srv, user):
    other = imaps(srv, user)
    other.create("Lists/a")
    r = Raw(srv)
    r.login(user)
    r.cmd("s", "SELECT INBOX")
    lines = r.cmd("n", "NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge)) "
                  "(PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))")
    assert lines == ["n OK NOTIFY completed."]
    # New mail in the selected mailbox: told at once, unasked, with the
    # attributes MessageNew asked for.
    deliver(srv, user, "pushed")
    assert r.line() == "* 1 EXISTS"
    assert r.line() == "* 1 RECENT"
    assert r.line() == "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {19}"
    assert r.line() == "Subject: pushed"
    assert r.line() == ""
    assert r.line() == ")"
    # Other mailboxes: STATUS for their messages, LIST for their names.
    other.append("Lists/a", None, None, msg_bytes("x"))
    line = r.line()
    assert re.fullmatch(r"\* STATUS Lists/a \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)", line), line
    other.create("New")
    assert r.line() == '* LIST () "/" New'
    other.subscribe("New")
    assert r.line() == '* LIST (\\Subscribed) "/" New'
    other.rename("New", "Newer")
    assert r.line() == '* LIST (\\Subscribed) "/" Newer ("OLDNAME" (New))'
    other.delete("Newer")
    assert r.line() == '* LIST (\\NonExistent) "/" Newer'
    # No FlagChange asked for the selected mailbox: no FETCH FLAGS, even
    # at the next command; expunges come at once.
    other.select("INBOX")
    other.store("1", "+FLAGS", "\\Flagged")
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()
    assert r.line() == "* 1 EXPUNGE"
    assert r.cmd("a", "NOOP") == ["a OK NOOP completed."]
    # STATUS asks for the current state at once (HIGHESTMODSEQ with FlagChange).
    lines = r.cmd("b", 'NOTIFY SET STATUS (MAILBOXES ("Lists/a" INBOX) (MessageNew MessageExpunge FlagChange))')
    assert len(lines) == 2 and re.fullmatch(
        r"\* STATUS Lists/a \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)", lines[0]), lines
    other.select("Lists/a")
    other.store("1", "+FLAGS", "\\Seen")
    assert re.fullmatch(r"\* STATUS Lists/a \(.* UNSEEN 0 HIGHESTMODSEQ \d+\)", r.line())
    # NOTIFY NONE: nothing about other mailboxes any more.
    assert r.cmd("c", "NOTIFY NONE") == ["c OK NOTIFY completed."]
    other.append("Lists/a", None, None, msg_bytes("y"))
    other.create("Quiet")
    assert r.cmd("d", "NOOP") == ["d OK NOOP completed."]
    other.logout()
    r.close()


def test_notify_selected_delayed(srv, user):
    r = Raw(srv)
    r.login(user)
    append_raw(r, 2)
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("n", "NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge FlagChange))")[-1].startswith("n OK")
    other = imaps(srv, user)
    other.select("INBOX")
    # FlagChange: FETCH with UID and FLAGS (RFC 5465 5.1), at once.
    other.store("1", "+FLAGS", "\\Flagged")
    assert r.line() == "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"
    other.store("2", "+FLAGS", "\\Deleted")
    assert r.line() == "* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent))"
    other.expunge()
    # The EXPUNGE waits for a command that allows it.
    lines = r.cmd("f", "FETCH 1 (UID)")
    assert lines == ["* 1 FETCH (UID 1)", "f OK Fetch completed."], lines
    assert r.cmd("g", "NOOP") == ["* 2 EXPUNGE", "g OK NOOP completed."]
    other.logout()
    r.close()


def test_notify_quiet_selected_own_changes_and_update_fetch(srv, user):
    r = Raw(srv)
    r.login(user)
    append_raw(r, 1)
    r.cmd("s", "SELECT INBOX")
    other = imaps(srv, user)
    other.create("Top/Child")
    # Without a SELECTED filter the selected mailbox is quiet (RFC 5465
    # 3.1): no EXISTS at NOOP, nor in IDLE...
    assert r.cmd("n", "NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))")[-1].startswith("n OK")
    other.append("INBOX", None, None, msg_bytes("quiet"))
    assert r.cmd("a", "NOOP") == ["a OK NOOP completed."]
    # ...but the client's own changes are answered, and it is not told
    # about them as events (no LIST for its own CREATE).
    assert r.cmd("b", "CREATE Mine") == ["b OK Create completed."]
    other.rename("Top", "Moved")
    # One LIST for a renamed parent, none for its child.
    assert r.line() == '* LIST () "/" Moved ("OLDNAME" (Top))'
    other.create("Theirs")
    assert r.line() == '* LIST () "/" Theirs'
    # NOTIFY SET returns what accumulated (an implicit NOOP).
    lines = r.cmd("c", "NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge FlagChange))")
    assert lines == ["* 2 EXISTS", "* 2 RECENT", "c OK NOTIFY completed."], lines
    # Own APPEND to the selected mailbox: EXISTS, but no MessageNew FETCH.
    msg = msg_bytes("own")
    r.send(b"d APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
    lines = r.until("d")
    assert lines[0] == "* 3 EXISTS" and not untagged(lines, "* 3 FETCH"), lines
    # UPDATE with FETCH attributes (RFC 5465 7): EXISTS, FETCH, then ADDTO.
    assert r.cmd("e", "SEARCH RETURN (UPDATE (UID FLAGS)) SUBJECT pushed")[0] == '* ESEARCH (TAG "e")'
    deliver(srv, user, "pushed")
    assert r.line() == "* 4 EXISTS"
    assert r.line() == "* 4 RECENT"
    assert r.line() == "* 4 FETCH (UID 4 FLAGS (\\Recent))"
    assert r.line() == '* ESEARCH (TAG "e") ADDTO (0 4)'
    assert r.line() == "* 4 FETCH (UID 4)"
    assert r.cmd("f", "SEARCH RETURN (UPDATE (BODY[])) ALL")[-1].startswith("f BAD")
    other.logout()
    r.close()


def test_notify_bad_syntax_events_and_limits(srv, user):
    r = Raw(srv)
    assert r.cmd("a", "NOTIFY NONE")[-1] == "a BAD Not authenticated yet"
    r.login(user)
    # A NOTIFY in force; a bad one (BAD, no change) leaves it so.
    assert r.cmd("n", "NOTIFY SET (PERSONAL (MailboxName))")[-1].startswith("n OK")
    for tag, text in [("b", "NOTIFY"), ("c", "NOTIFY SET (SELECTED (MessageNew))"),
                      ("d", "NOTIFY SET (FOO (MessageNew))")]:
        assert r.cmd(tag, text)[-1].startswith(tag + " BAD"), text
    other = imaps(srv, user)
    other.create("Seen-by-notify")
    assert r.line() == '* LIST () "/" Seen-by-notify'
    r.close()
    r = Raw(srv)
    r.login(user)
    for tag, text in [("a", "NOTIFY SET (SELECTED (FlagChange))"),
                      ("b", "NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))"),
                      ("c", "NOTIFY SET (SELECTED (MailboxName))"),
                      ("d", "NOTIFY SET (SELECTED (MessageNew (BODY[]) MessageExpunge))")]:
        assert r.cmd(tag, text)[-1].startswith(tag + " BAD"), text
    r.close()
    r = Raw(srv)
    r.login(user)
    badevent = "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"
    for tag, text in [("a", "NOTIFY SET (SELECTED (MessageNew MessageExpunge AnnotationChange))"),
                      ("b", "NOTIFY SET (PERSONAL (MailboxMetadataChange))"),
                      ("c", "NOTIFY SET (INBOXES (ServerMetadataChange))"),
                      ("d", "NOTIFY SET (SUBSCRIBED (XSomethingNew))")]:
        assert r.cmd(tag, text)[-1].startswith(f"{tag} {badevent}"), text
    names = " ".join(f"m{i}" for i in range(101))
    assert r.cmd("e", f"NOTIFY SET (MAILBOXES ({names}) (MessageNew MessageExpunge))")[-1].startswith("e NO [LIMIT]")
    groups = " ".join(f"(MAILBOXES m{i} (MessageNew MessageExpunge))" for i in range(21))
    assert r.cmd("f", f"NOTIFY SET {groups}")[-1].startswith("f NO [LIMIT]")
    groups = " ".join(f"(MAILBOXES m{i} (MessageNew MessageExpunge))" for i in range(20))
    assert r.cmd("g", f"NOTIFY SET {groups}")[-1].startswith("g OK")
    assert "NOTIFY" in r.cmd("h", "CAPABILITY")[0].split()
    other.logout()
    r.close()


def test_changes_seen_by_other_sessions(srv, user):
    a = imaps(srv, user)
    b = imaps(srv, user)
    for i in range(3):
        a.append("INBOX", None, None, msg_bytes(f"m{i}"))
    a.select("INBOX")
    b.select("INBOX")
    a.store("2", "+FLAGS", "\\Answered")
    typ, data = b.noop()
    assert b.untagged_responses.pop("FETCH", None) == [b"2 (FLAGS (\\Answered))"]
    a.store("1", "+FLAGS", "\\Deleted")
    a.expunge()
    deliver(srv, user, "New one")
    # No EXPUNGE during FETCH by sequence number (new mail may be announced)...
    typ, data = b.fetch("2", "(UID)")
    assert data == [b"2 (UID 2)"] and "EXPUNGE" not in b.untagged_responses
    # (the expunged message keeps its number until then; fetching it is a NO)
    typ, data = b.fetch("1", "(UID)")
    assert typ == "NO" and b"EXPUNGEISSUED" in data[0]
    # ...but at the next NOOP.
    b.noop()
    assert b.untagged_responses.pop("EXPUNGE", None) == [b"1"]
    assert b.untagged_responses.pop("EXISTS", None)[-1] == b"4"
    assert b.search(None, "ALL")[1] == [b"1 2 3"]
    assert b.fetch("3", "(BODY.PEEK[HEADER.FIELDS (Subject)])")[1][0][1] == b"Subject: New one\r\n\r\n"
    a.logout()
    b.logout()


def test_idle_sees_delivery(srv, user):
    r = Raw(srv)
    r.login(user)
    r.cmd("a", "SELECT INBOX")
    r.send("b IDLE\r\n")
    assert r.line().startswith("+ ")
    deliver(srv, user, "wake up")
    # No timing assertion here (bench/ measures); the update must come
    # unasked, while the client only waits.
    line = r.line()
    assert line == "* 1 EXISTS", line
    assert r.line() == "* 1 RECENT"
    r.send("DONE\r\n")
    assert r.until("b")[-1] == "b OK Idle completed."
    r.close()


def test_condstore_and_qresync(srv, user):
    r = Raw(srv)
    r.login(user)
    for i in range(4):
        msg = msg_bytes(f"m{i}")
        r.send(b"x APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        assert r.until("x")[-1].startswith("x OK")
    lines = r.cmd("a", "ENABLE QRESYNC")
    assert lines[0] == "* ENABLED QRESYNC"
    lines = r.cmd("b", "SELECT INBOX (CONDSTORE)")
    hms = int(re.search(r"HIGHESTMODSEQ (\d+)", " ".join(lines)).group(1))
    uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(lines)).group(1))
    lines = r.cmd("c", f"STORE 1 (UNCHANGEDSINCE {hms}) +FLAGS (\\Seen)")
    assert re.match(r"\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)", lines[0]), lines
    lines = r.cmd("d", f"STORE 1,2 (UNCHANGEDSINCE {hms}) +FLAGS (\\Flagged)")
    assert lines[-1].startswith("d OK [MODIFIED 1]"), lines
    lines = r.cmd("e", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})")
    assert len([l for l in lines if "FETCH" in l]) == 2
    r.cmd("f", "STORE 3 +FLAGS (\\Deleted)")
    lines = r.cmd("g", "EXPUNGE")
    assert lines[0] == "* VANISHED 3"
    lines = r.cmd("h", "UNSELECT")
    lines = r.cmd("i", f"SELECT INBOX (QRESYNC ({uv} {hms} 1:4))")
    assert "* VANISHED (EARLIER) 3" in lines, lines
    assert any(l.startswith("* 1 FETCH (UID 1 FLAGS (\\Seen") for l in lines), lines
    assert any(l.startswith("* 2 FETCH (UID 2 FLAGS (\\Flagged") for l in lines), lines
    lines = r.cmd("j", f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 3"
    lines = r.cmd("k", "SEARCH MODSEQ %d" % (hms + 1))
    assert re.match(r"\* SEARCH 1 2 \(MODSEQ \d+\)", lines[0]), lines
    r.close()


def test_imap4rev2_mode(srv, user):
    r = Raw(srv)
    r.login(user)
    msg = msg_bytes("rev2")
    r.send(b"x APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
    r.until("x")
    assert r.cmd("a", "ENABLE IMAP4rev2")[0] == "* ENABLED IMAP4rev2"
    lines = r.cmd("b", "SELECT INBOX")
    assert not any("RECENT" in l for l in lines), lines
    assert '* LIST () "/" INBOX' in lines
    lines = r.cmd("c", "SEARCH ALL")
    assert lines[0] == '* ESEARCH (TAG "c") ALL 1', lines
    lines = r.cmd("d", "FETCH 1 FLAGS")
    assert lines[0] == "* 1 FETCH (FLAGS ())", lines
    assert r.cmd("e", "CHECK")[-1] == "e OK Check completed."
    r.close()


# ---- limits, syntax, framing ---------------------------------------------------------


def test_bad_syntax_and_error_limit(srv, user):
    r = Raw(srv)
    r.login(user)
    assert r.cmd("a", "FROBNICATE")[-1].startswith("a BAD")
    assert r.cmd("b", 'SELECT "unterminated')[-1].startswith("b BAD")
    assert r.cmd("c", "FETCH 1 FLAGS")[-1] == "c BAD No mailbox selected"
    assert r.cmd("d", "LOGIN a b")[-1] == "d BAD Already authenticated"
    assert r.cmd("e", "NOOP")[-1].startswith("e OK")  # the session survived
    # max_errors is 5 in this server: the fifth ends the session.
    r.send("f X\r\n")
    assert r.line() == "f BAD Unknown command X"
    assert r.line() == "* BYE Too many invalid commands."
    assert r.closed()


def test_literals_and_limits(srv, user):
    r = Raw(srv)
    r.login(user)
    # A synchronizing literal over APPENDLIMIT is refused before "+".
    r.send("a APPEND INBOX {2000000}\r\n")
    assert r.line() == "a NO [TOOBIG] Message too large"
    # A non-synchronizing one over the limit is read, dropped, refused.
    r.send(b"b APPEND INBOX {1048577+}\r\n" + b"x" * 1048577 + b"\r\n")
    assert r.until("b")[-1] == "b NO [TOOBIG] Message too large"
    # A literal argument to another command is capped by imap_max_line.
    r.send("c SELECT {9000}\r\n")
    assert r.line().startswith("c BAD [TOOBIG]")
    # An over-long command line is refused without being kept, and the
    # session goes on.
    r.send("d LIST " + "x" * 20000 + "\r\n")
    assert r.line() == "d BAD Command line too long"
    assert r.cmd("e", "NOOP")[-1].startswith("e OK")
    # Literals inside a command, synchronizing and not.
    r.send('f LIST "" {1}\r\n')
    assert r.line().startswith("+")
    r.send("*\r\n")
    assert r.until("f")[-1].startswith("f OK")
    r.send('g STATUS {5+}\r\nINBOX (MESSAGES)\r\n')
    lines = r.until("g")
    assert lines[0] == "* STATUS INBOX (MESSAGES 0)" and lines[1].startswith("g OK")
    r.close()


def test_pipelined_commands_keep_order(srv, user):
    r = Raw(srv)
    r.login(user)
    msg = msg_bytes("pipelined")
    r.send(b"a SELECT INBOX\r\nb APPEND INBOX {%d+}\r\n" % len(msg) + msg +
           b"\r\nc NOOP\r\nd FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])\r\ne LOGOUT\r\n")
    text = []
    try:
        while True:
            text.append(r.line())
    except EOFError:
        pass
    tags = [l.split()[0] for l in text if not l.startswith("*") and l and not l.startswith(")")
            and l.split()[0] in "abcde"]
    assert tags == ["a", "b", "c", "d", "e"], text
    assert "Subject: pipelined" in text


def test_compress_deflate(srv, user):
    r = Raw(srv)
    r.login(user)
    assert r.cmd("a", "COMPRESS DEFLATE")[-1] == "a OK DEFLATE active"
    assert r.buf == b""
    comp = zlib.compressobj(wbits=-15)
    decomp = zlib.decompressobj(wbits=-15)

    def zcmd(tag, text):
        r.sock.sendall(comp.compress((f"{tag} {text}\r\n").encode()) + comp.flush(zlib.Z_SYNC_FLUSH))
        out = b""
        while not re.search(rb"(^|\r\n)" + tag.encode() + rb" [A-Z]+ .*\r\n", out):
            out += decomp.decompress(r.sock.recv(65536))
        return out.decode()

    out = zcmd("b", "LIST \"\" *")
    assert "* LIST (\\HasNoChildren) \"/\" INBOX" in out and "b OK" in out
    out = zcmd("c", "COMPRESS DEFLATE")
    assert "c NO [COMPRESSIONACTIVE]" in out
    out = zcmd("d", "LOGOUT")
    assert "* BYE" in out
    r.close()


def test_quota(srv, user):
    srv.run(["user", "quota", user, "10M"])
    m = imaps(srv, user)
    typ, data = m.getquotaroot("INBOX")
    assert data[0] == [b'"INBOX" ""'] or data == [[b'INBOX ""'], [b'"" (STORAGE 0 10240)']]
    typ, data = m.getquota('""')
    assert data == [b'"" (STORAGE 0 10240)']
    typ, data = m.setquota('""', "(STORAGE 1)")
    assert typ == "NO"
    m.logout()


# ---- curl ------------------------------------------------------------------------------


def curl(srv, user, url, *args):
    cmd = ["curl", "-sS", "--insecure", "--user", f"{user}:{PASSWORD}", *args,
           f"imaps://127.0.0.1:{srv.ports['imaps']}/{url}"]
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_imap(srv, user):
    deliver(srv, user, "for curl", body="Fetched by curl.\r\n")
    out = curl(srv, user, "").decode()
    assert '"/" INBOX' in out and "\\Sent" in out
    out = curl(srv, user, "INBOX;UID=1")
    assert b"Subject: for curl" in out and b"Fetched by curl." in out
    out = curl(srv, user, "INBOX?SUBJECT%20curl").decode()
    assert out.strip() == "* SEARCH 1"
    out = curl(srv, user, "INBOX", "-X", "EXAMINE INBOX").decode()
    assert "EXISTS" in out and "UIDVALIDITY" in out
    # curl's STARTTLS on the plain port.
    cmd = ["curl", "-sS", "--insecure", "--ssl-reqd", "--user", f"{user}:{PASSWORD}",
           f"imap://127.0.0.1:{srv.ports['imap']}/INBOX;UID=1;SECTION=TEXT"]
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    assert p.returncode == 0 and b"Fetched by curl." in p.stdout, p.stderr


# ---- MULTIAPPEND: all or nothing (RFC 3502) ----------------------------------------


def status(r, box="INBOX"):
    lines = r.cmd("st", f"STATUS {box} (MESSAGES UIDNEXT)")
    assert lines[-1].startswith("st OK"), lines
    m = re.match(r"\* STATUS \S+ \(MESSAGES (\d+) UIDNEXT (\d+)\)", lines[0])
    assert m, lines
    return int(m.group(1)), int(m.group(2))


def test_multiappend_all_stored(srv, user):
    r = Raw(srv)
    r.login(user)
    assert status(r) == (0, 1)
    msgs = [msg_bytes(f"multi {i}") for i in range(3)]
    # Synchronizing literals: each "+" comes before its bytes are sent.
    r.send(b"a APPEND INBOX (\\Seen) {%d}\r\n" % len(msgs[0]))
    assert r.line().startswith("+")
    r.send(msgs[0] + b' "26-Nov-2026 10:00:00 +0000" {%d}\r\n' % len(msgs[1]))
    assert r.line().startswith("+")
    r.send(msgs[1] + b" (\\Flagged $Work) {%d}\r\n" % len(msgs[2]))
    assert r.line().startswith("+")
    r.send(msgs[2] + b"\r\n")
    reply = r.until("a")[-1]
    m = re.match(r"a OK \[APPENDUID (\d+) 1:3\] ", reply)
    assert m, reply
    assert status(r) == (3, 4)
    r.close()
    c = imaps(srv, user)
    c.select("INBOX", readonly=True)
    typ, data = c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    parts = [d for d in data if isinstance(d, tuple)]
    assert [p[1].strip() for p in parts] == [f"Subject: multi {i}".encode() for i in range(3)]
    assert b"\\Seen" in parts[0][0] and b"26-Nov-2026 10:00:00 +0000" in parts[1][0]
    assert b"\\Flagged" in parts[2][0] and b"$Work" in parts[2][0]
    typ, data = c.status("INBOX", "(UIDVALIDITY)")
    assert f"UIDVALIDITY {m.group(1)}".encode() in data[0]
    c.logout()


def test_multiappend_over_quota_stores_nothing(srv, user):
    srv.run(["user", "quota", user, "10K"])
    r = Raw(srv)
    r.login(user)
    append_raw(r, 1)
    before = status(r)
    # 4 KB each: one or two fit in the quota, three do not.
    msgs = [msg_bytes(f"quota {i}", body="x" * 4000 + "\r\n") for i in range(3)]
    data = b"a APPEND INBOX"
    for msg in msgs:
        data += b" {%d+}\r\n" % len(msg) + msg
    r.send(data + b"\r\n")
    assert r.until("a")[-1].startswith("a NO [OVERQUOTA]")
    assert status(r) == before
    # Nothing was stored and no UID was used: two of them fit.
    data = b"b APPEND INBOX"
    for msg in msgs[:2]:
        data += b" {%d+}\r\n" % len(msg) + msg
    r.send(data + b"\r\n")
    reply = r.until("b")[-1]
    assert re.match(r"b OK \[APPENDUID \d+ %d:%d\] " % (before[1], before[1] + 1), reply), reply
    assert status(r) == (before[0] + 2, before[1] + 2)
    r.close()


# What follows the first message (whose literal has been read), and the reply.
BAD_LATER = {
    "junk": (b" JUNK\r\n", "a BAD"),                              # not a message
    "unclosed_flags": (b" (\\Seen\r\n", "a BAD"),
    "flags_no_literal": (b" (\\Seen)\r\n", "a BAD"),
    "bad_date": (b' "31-Foo-2026 25:00:00 +0000" {3+}\r\nabc\r\n', "a BAD"),
    "empty_message": (b" {0+}\r\n\r\n", "a NO"),
    "over_appendlimit": (b" {1048577+}\r\n" + b"x" * 1048577 + b"\r\n", "a NO [TOOBIG]"),
}


@pytest.mark.parametrize("case", sorted(BAD_LATER))
def test_multiappend_bad_later_message_stores_nothing(srv, user, case):
    rest, reply = BAD_LATER[case]
    r = Raw(srv)
    r.login(user)
    msg = msg_bytes("first")
    r.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + rest)
    got = r.until("a")[-1]
    assert got.startswith(reply), got
    assert status(r) == (0, 1)
    assert r.cmd("n", "NOOP")[-1].startswith("n OK")
    r.close()
