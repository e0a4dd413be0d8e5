"""The daemon: privileges, signals, TLS reload, limits, crash safety, logs."""
import base64
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import PASSWORD, client_tls_context, message, wait_port
from test_smtp import Raw


def proc_uid(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_worker_drops_privileges(server):
    [worker] = server.worker_pids()
    assert proc_uid(server.proc.pid)[0] == 0
    assert set(proc_uid(worker)) == {65534}, "real, effective, saved and fs uid are all nobody"
    status = open(f"/proc/{worker}/status").read()
    assert "NoNewPrivs:\t1" in status


def test_sigterm_finishes_transaction_in_progress(server):
    r = Raw(server)
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<x@remote.test>")
    r.cmd("RCPT TO:<alice@example.test>")
    assert r.cmd("DATA")[0] == 354
    r.send("Subject: during shutdown\r\n\r\nfirst half\r\n")
    idle = Raw(server)
    idle.reply()
    server.proc.send_signal(signal.SIGTERM)
    # An idle session is told goodbye at once.
    code, lines = idle.reply()
    assert code == 421 and "4.3.2" in lines[0]
    time.sleep(0.3)
    # New connections are no longer accepted.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=2).recv(1)
    r.send("second half\r\n.\r\n")
    code, _ = r.reply()
    assert code == 250, "a message in progress is finished"
    code, _ = r.reply()
    assert code == 421
    assert server.proc.wait(timeout=20) == 0
    msgs = server.export("alice@example.test")
    assert len(msgs) == 1 and b"first half\nsecond half\n" in msgs[0]


def cert_fingerprint(port):
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return ssl.PEM_cert_to_DER_cert(pem)


def test_sighup_reloads_certificate_without_dropping_connections(server):
    old = cert_fingerprint(server.ports["submissions"])
    established = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=client_tls_context())
    established.ehlo()
    tls = os.path.join(server.dir, "tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=reloaded.example.test", "-keyout", tls + "/key.pem.new", "-out", tls + "/cert.pem.new"],
                   check=True, capture_output=True)
    os.replace(tls + "/key.pem.new", tls + "/key.pem")
    os.replace(tls + "/cert.pem.new", tls + "/cert.pem")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_log("tls: certificate reloaded")
    new = cert_fingerprint(server.ports["submissions"])
    assert new != old
    assert established.noop()[0] == 250, "the connection made before the reload still works"
    established.quit()


def test_ipv6_listener(make_server):
    srv = make_server(host="::1")
    srv.add_user("alice@example.test")
    srv.start()
    with smtplib.SMTP("::1", srv.ports["smtp"]) as s:
        s.sendmail("x@remote.test", ["alice@example.test"], message("over ipv6"))
    [m] = srv.export("alice@example.test")
    assert b"[::1]" in m


def test_connection_limit_per_address(make_server):
    srv = make_server(extra_config="max_connections_per_ip 2\n")
    srv.start()
    time.sleep(0.5)  # let the server see the start-up probes close
    a, b = Raw(srv), Raw(srv)
    assert a.reply()[0] == 220 and b.reply()[0] == 220
    c = Raw(srv)
    code, lines = c.reply()
    assert code == 421 and "Too many connections" in lines[0]
    a.cmd("QUIT")
    time.sleep(0.3)
    d = Raw(srv)
    assert d.reply()[0] == 220


def test_idle_timeout(make_server):
    srv = make_server(extra_config="smtp_timeout 1s\n")
    srv.start()
    r = Raw(srv)
    r.reply()
    time.sleep(1.5)
    code, lines = r.reply()
    assert code == 421 and "4.4.2" in lines[0]
    assert r.closed()


def test_log_never_contains_passwords(server):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"]) as s:
        s.starttls(context=client_tls_context())
        s.login("alice@example.test", PASSWORD)
    with smtplib.SMTP("127.0.0.1", server.ports["submission"]) as s:
        s.starttls(context=client_tls_context())
        s.ehlo()
        s.user, s.password = "bob@example.test", "bobs-wrong-secret"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.auth("PLAIN", s.auth_plain)
    time.sleep(0.2)
    log = server.log()
    assert "auth user=alice@example.test result=ok" in log
    for secret in [PASSWORD, "bobs-wrong-secret",
                   base64.b64encode(b"\0alice@example.test\0" + PASSWORD.encode()).decode()[:20]]:
        assert secret not in log


def test_worker_crash_is_restarted(server):
    [worker] = server.worker_pids()
    os.kill(worker, signal.SIGKILL)
    server.wait_log("restarting")
    deadline = time.time() + 15
    while time.time() < deadline:
        pids = server.worker_pids()
        if pids and pids != [worker]:
            break
        time.sleep(0.1)
    wait_port("127.0.0.1", server.ports["smtp"])
    time.sleep(0.5)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=20) as s:
        s.sendmail("x@remote.test", ["alice@example.test"], message("after restart"))
    assert b"after restart" in server.export("alice@example.test")[0]


def test_kill9_under_load_loses_nothing_acknowledged(server):
    """50 clients send continuously; kill -9 of the whole server; every
    message that got 250 must be in the store, intact, after a restart."""
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n):
        i = 0
        while not stop.is_set():
            body = f"client {n} message {i} " + ("x" * 60 + "\r\n") * 50
            try:
                with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
                    s.sendmail("load@remote.test", ["bob@example.test"],
                               f"Subject: load {n}.{i}\r\n\r\n{body}")
                with lock:
                    acked.append((f"load {n}.{i}", body))
            except (OSError, smtplib.SMTPException):
                pass
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    time.sleep(3)
    server.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 20, "the load produced acknowledged messages"
    server.start()  # recovers by itself
    stored = {}
    for m in server.export("bob@example.test"):
        subject = m.split(b"Subject: ")[1].split(b"\n")[0].decode()
        stored[subject] = m
    for subject, body in acked:
        assert subject in stored, f"acknowledged message {subject} lost"
        assert stored[subject].endswith(b"\n\n" + body.replace("\r\n", "\n").encode()), f"{subject} corrupted"
