"""Submission (587 STARTTLS, 465 implicit TLS): AUTH, sender rules, queueing."""
import base64
import hashlib
import hmac
import os
import smtplib
import subprocess
import time

import pytest

from conftest import PASSWORD, client_tls_context, message


def submission(server):
    s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30)
    s.starttls(context=client_tls_context())
    s.ehlo()
    return s


def test_auth_only_after_tls(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"]) as s:
        s.ehlo()
        assert not s.has_extn("auth")
        code, text = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.test\0" + PASSWORD.encode()).decode())
        assert code == 530 and text.startswith(b"5.7.0")
        code, text = s.mail("alice@example.test")
        assert code == 530 and text.startswith(b"5.7.0")


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_and_local_delivery(server, mech):
    with submission(server) as s:
        assert "PLAIN" in s.esmtp_features["auth"] and "SCRAM-SHA-256" in s.esmtp_features["auth"]
        s.user, s.password = "alice@example.test", PASSWORD
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower()))
        assert code == 235
        s.sendmail("alice@example.test", ["bob@example.test"],
                   "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: from alice\r\n\r\nhi\r\n")
    [m] = server.export("bob@example.test")
    assert b"with ESMTPSA id" in m
    assert b"\nDate: " in m and b"\nMessage-ID: <" in m, "submission adds missing Date and Message-ID"


def test_implicit_tls_port(server):
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=client_tls_context()) as s:
        s.login("bob@example.test", PASSWORD)
        s.sendmail("bob@example.test", ["alice@example.test"], message("over 465", sender="bob@example.test"))
    assert b"over 465" in server.export("alice@example.test")[0]


def test_wrong_password_and_unknown_user(server):
    with submission(server) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice@example.test", "wrong")
        assert e.value.smtp_code == 535 and e.value.smtp_error.startswith(b"5.7.8")
        t0 = time.time()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("nobody@example.test", "wrong")
        assert e.value.smtp_code == 535
        assert time.time() - t0 >= 0.9, "the second failure from one address is delayed"


def test_repeated_failures_are_refused(make_server):
    srv = make_server(extra_config="auth_max_failures 3\n")
    srv.add_user("alice@example.test")
    srv.start()
    codes = []
    for _ in range(4):
        s = submission(srv)
        s.user, s.password = "alice@example.test", "wrong"
        try:
            s.auth("PLAIN", s.auth_plain)  # one attempt (login() tries every mechanism)
        except smtplib.SMTPAuthenticationError as e:
            codes.append(e.smtp_code)
        except smtplib.SMTPServerDisconnected:
            codes.append("closed")
        finally:
            try:
                s.close()
            except Exception:
                pass
    assert codes[:3] == [535, 535, 535]
    assert codes[3] in (421, "closed")
    # Even the right password is refused while the address is blocked.
    s = submission(srv)
    with pytest.raises((smtplib.SMTPAuthenticationError, smtplib.SMTPServerDisconnected)):
        s.login("alice@example.test", "correct horse battery staple")


def test_sender_must_be_owned(server):
    server.run(["alias", "add", "sales@example.test", "alice@example.test"])
    with submission(server) as s:
        s.login("alice@example.test", PASSWORD)
        code, text = s.mail("bob@example.test")
        assert code == 553 and text.startswith(b"5.7.1")
        assert s.mail("alice+lists@example.test")[0] == 250
        s.rset()
        assert s.mail("sales@example.test")[0] == 250
        s.rset()
        assert s.mail("ALICE@EXAMPLE.TEST")[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        code, text = s.data("From: bob@example.test\r\nSubject: forged\r\n\r\nx\r\n")
        assert code == 550 and text.startswith(b"5.7.1")
        s.mail("alice@example.test")
        s.rcpt("bob@example.test")
        code, text = s.data("Subject: no from\r\n\r\nx\r\n")
        assert code == 550 and text.startswith(b"5.6.0")
        s.mail("alice@example.test")
        s.rcpt("bob@example.test")
        assert s.data("From: \"Sales\" <sales@example.test>\r\nSubject: ok\r\n\r\nx\r\n")[0] == 250
    assert len(server.export("bob@example.test")) == 1


def test_remote_recipients_are_queued(server):
    with submission(server) as s:
        s.login("alice@example.test", PASSWORD)
        s.sendmail("alice@example.test", ["friend@far.test", "bob@example.test", "other@far.test"],
                   message("mixed", sender="alice@example.test"))
    assert len(server.export("bob@example.test")) == 1
    listing = server.run(["queue", "list"]).stdout
    assert "from <alice@example.test>" in listing
    assert "to <friend@far.test>  pending" in listing and "to <other@far.test>  pending" in listing
    qid = listing.split()[0]
    shown = server.run(["queue", "show", qid]).stdout
    assert "Subject: mixed" in shown
    server.run(["queue", "remove", qid])
    assert server.run(["queue", "list"]).stdout == "the queue is empty\n"


def test_port_25_never_relays_even_after_tls(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"]) as s:
        s.starttls(context=client_tls_context())
        s.ehlo()
        assert not s.has_extn("auth")
        s.mail("alice@example.test")
        code, _ = s.rcpt("friend@far.test")
        assert code == 550


def scram_client(server, user, password):
    """SCRAM-SHA-256 (RFC 5802/7677) by hand: Python has no client for it."""
    s = submission(server)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    code, resp = s.docmd("AUTH", "SCRAM-SHA-256 " + base64.b64encode(("n,," + first_bare).encode()).decode())
    assert code == 334, resp
    server_first = base64.b64decode(resp).decode()
    fields = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert fields["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_bare = f"c=biws,r={fields['r']}"
    auth_msg = f"{first_bare},{server_first},{final_bare}".encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    final = final_bare + ",p=" + base64.b64encode(proof).decode()
    code, resp = s.docmd(base64.b64encode(final.encode()).decode())
    if code != 334:
        s.close()
        return code, None
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    want = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256).digest()).decode()
    assert base64.b64decode(resp).decode() == "v=" + want, "server signature"
    code, _ = s.docmd("")
    s.close()
    return code, want


def test_scram_sha256(server):
    code, _ = scram_client(server, "alice@example.test", PASSWORD)
    assert code == 235
    code, _ = scram_client(server, "alice@example.test", "wrong")
    assert code == 535


def test_migrated_sha512_hash_logs_in(server):
    h = subprocess.run(["openssl", "passwd", "-6", "old-password"], capture_output=True, text=True).stdout.strip()
    server.run(["user", "add", "migrated@example.test", "--hash", h])
    with submission(server) as s:
        assert s.login("migrated@example.test", "old-password")[0] == 235
