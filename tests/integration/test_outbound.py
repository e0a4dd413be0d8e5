"""Outbound delivery between real servers, found through real DNS.

Two `posthorn serve` instances, A (a.test) on 127.0.0.2:25 and B (b.test) on
127.0.0.3:25, and Debian's nsd on 127.0.0.9:53 serving a zone with their MX
and A records (and A's DKIM keys, printed by `posthorn dns a.test`). When a
port is taken (another run of this suite), a random 127.x.y.0/24 is used
instead. Faults use real peers too: B stopped, an address where nothing
listens, and Postfix's smtp-sink, which can answer 451 to RCPT or leave out
8BITMIME. Port 25 and 53 need root: as another user these tests are skipped.
"""
import email
import email.policy
import glob
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time

import pytest

from conftest import (BIN, PASSWORD, DNSServer, Server, client_tls_context, port_free, wait_port)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="outbound tests bind port 25 (the mail servers) and port 53 (nsd) on loopback addresses: run as root")

HOSTS = {"a": 2, "b": 3, "c": 4, "dead": 5, "d": 6, "dns": 9}


def pick_network():
    """127.0.0.x as the issue describes, unless another run holds it."""
    candidates = ["127.0.0."] + [f"127.{random.randint(1, 254)}.{random.randint(0, 254)}." for _ in range(30)]
    for base in candidates:
        if all(port_free(base + str(i), 25) for i in (2, 3, 4, 6)) and port_free(base + "9", 53, udp=True) \
                and port_free(base + "9", 53):
            return base
    pytest.skip("no free loopback /24 for the outbound tests")


class Net:
    def __init__(self, root):
        self.root = root
        self.base = pick_network()
        self.ip = {k: self.base + str(v) for k, v in HOSTS.items()}
        # DKIM keys of a.test, made once by the CLI, shared by every A.
        self.keys = Server(os.path.join(root, "keys"), host=self.ip["a"], domain="a.test", kinds=[],
                           extra_config=self.resolver_config())
        self.keys.run(["dkim", "keygen", "a.test"])
        self.dkim_dir = os.path.join(self.keys.dir, "data", "dkim")
        self.published = self.keys.run(["dns", "a.test"]).stdout
        ip = self.ip
        zone = f"""$ORIGIN test.
$TTL 5
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 5
@ IN NS ns.test.
ns IN A {ip['dns']}
mx.a IN A {ip['a']}
mx.b IN A {ip['b']}
b IN MX 10 mx.b.test.
c IN MX 10 mx.c.test.
mx.c IN A {ip['c']}
d IN MX 10 mx.d.test.
mx.d IN A {ip['d']}
two IN MX 10 mx1.two.test.
two IN MX 20 mx2.two.test.
mx1.two IN A {ip['dead']}
mx2.two IN A {ip['b']}
implicit IN A {ip['b']}
nullmx IN MX 0 .
"""
        # What `posthorn dns a.test` says to publish (MX, SPF, DKIM, DMARC...).
        for line in self.published.splitlines():
            if line.strip() and not line.startswith(";") and " A " not in line and "AAAA" not in line:
                zone += line + "\n"
        self.dns = DNSServer(os.path.join(root, "nsd"), ip["dns"], "test.", zone).start()

    def resolver_config(self):
        return f"dns_resolver {self.ip['dns']}:53\ndns_trust_anchor none\n"


@pytest.fixture(scope="module")
def net():
    root = tempfile.mkdtemp(prefix="posthorn-outbound-")
    os.chmod(root, 0o755)
    n = Net(root)
    yield n
    n.dns.stop()
    shutil.rmtree(root, ignore_errors=True)


class World:
    def __init__(self, net, make_server, tmp):
        self.net = net
        self.make_server = make_server
        self.tmp = tmp
        self.sinks = []
        self.servers = []

    def server_a(self, extra=""):
        a = self._make("a", host=self.net.ip["a"], domain="a.test", fixed_ports={"smtp": 25},
                             extra_config=self.net.resolver_config() + "queue_retry 1s\noutbound_connect_timeout 3s\n"
                             + f"dkim_dir {self.net.dkim_dir}\n" + extra)
        a.add_user("alice@a.test")
        a.add_user("carol@a.test")
        return a

    def server_b(self, extra=""):
        b = self._make("b", host=self.net.ip["b"], domain="b.test", fixed_ports={"smtp": 25},
                             extra_config=self.net.resolver_config() + extra)
        for d in ("two.test", "implicit.test"):
            b.run(["domain", "add", d])
        for u in ("bob@b.test", "bob2@b.test", "bob@two.test", "bob@implicit.test"):
            b.add_user(u)
        return b

    def _make(self, *args, **kw):
        srv = self.make_server(*args, **kw)
        self.servers.append(srv)
        return srv

    def sanitizer_reports(self):
        """Sanitizer findings in the servers' logs (the ASan/UBSan pass of `make test`)."""
        out = []
        for srv in self.servers:
            srv.stop()
            log = srv.log()
            for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                if marker in log:
                    i = log.index(marker)
                    out.append(log[max(0, i - 200):i + 3000])
        return out

    def sink(self, name, *opts):
        """Postfix's smtp-sink on the address of `name`, port 25; dumps messages."""
        dump = os.path.join(self.tmp, "sink-" + name)
        os.makedirs(dump, exist_ok=True)
        os.chmod(dump, 0o777)
        log = open(os.path.join(self.tmp, f"sink-{name}.log"), "a")
        p = subprocess.Popen(["smtp-sink", "-u", "nobody", "-h", f"mx.{name}.test", "-d", dump + "/%H%M%S.",
                              *opts, f"{self.net.ip[name]}:25", "64"], stdout=log, stderr=log,
                             start_new_session=True)
        log.close()
        self.sinks.append(p)
        wait_port(self.net.ip[name], 25)
        return p, dump

    def stop_sink(self, p):
        p.terminate()
        p.wait(timeout=10)
        self.sinks.remove(p)


@pytest.fixture
def world(net, make_server, tmpdir_root):
    w = World(net, make_server, tmpdir_root)
    yield w
    for p in list(w.sinks):
        p.kill()
        p.wait()
    reports = w.sanitizer_reports()
    assert not reports, "\n".join(reports)


def submit(server, rcpts, subject="Hello", body="Hi Bob,\r\nhow are you?\r\n", sender="alice@a.test", extra=""):
    msg = (f"From: Alice <{sender}>\r\nTo: {', '.join('<' + r + '>' for r in rcpts)}\r\nSubject: {subject}\r\n"
           f"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}.{time.time()}@a.test>\r\n"
           f"{extra}\r\n{body}")
    with smtplib.SMTP(server.host, server.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login(sender, PASSWORD)
        s.sendmail(sender, rcpts, msg.encode() if isinstance(msg, str) else msg)
    return msg


def wait_for(what, fn, timeout=30.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def inbox(server, user):
    return server.export(user)


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def queue_list(server):
    return server.run(["queue", "list"]).stdout


def dsn_reports(server, user):
    """The delivery-status parts of the DSNs in user's INBOX, as lists of per-recipient field dicts."""
    out = []
    for raw in inbox(server, user):
        m = parse(raw)
        if m.get_content_type() != "multipart/report":
            continue
        parts = list(m.iter_parts())
        assert [p.get_content_type() for p in parts] == \
            ["text/plain", "message/delivery-status", "text/rfc822-headers"], [p.get_content_type() for p in parts]
        report = parts[1].get_payload()
        # email parses message/delivery-status into a list of header blocks
        blocks = [dict(b.items()) for b in report]
        out.append({"msg": m, "subject": m["Subject"], "mta": blocks[0], "rcpts": blocks[1:],
                    "headers": parts[2].get_content() if hasattr(parts[2], "get_content") else ""})
    return out


# ---- the happy path -----------------------------------------------------------------

def test_delivered_intact_and_dkim_verifies(world):
    b = world.server_b().start()
    a = world.server_a().start()
    body = "Hi Bob,\r\n.a line starting with a dot\r\n..two dots\r\nFrom the start of a line\r\n" + \
        "x" * 500 + "\r\ntrailing spaces   \r\n\r\n"
    sent = submit(a, ["bob@b.test"], subject="Intact", body=body)
    msgs = wait_for("delivery to bob@b.test", lambda: inbox(b, "bob@b.test"))
    assert len(msgs) == 1
    # (export writes mboxrd: undo its ">From " quoting)
    got = msgs[0].replace(b"\n>From ", b"\nFrom ").replace(b"\n", b"\r\n")
    # B stored what A sent: its own trace headers, A's trace and DKIM headers, then the message.
    assert got.endswith(body.encode())
    assert b"Subject: Intact" in got
    assert b"Received: from mx.a.test ([" in got, "B's Received names A's EHLO name"
    assert b"with ESMTPS" in got and b"TLSv1" in got, "opportunistic STARTTLS was used"
    assert b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=a.test;" in got
    assert b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=a.test;" in got
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")
    verify_dkim(world, got)


def verify_dkim(world, raw):
    """Debian's dkimverify (python3-dkim) reading a.test's keys from our nsd."""
    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    # Drop B's own trace lines (Return-Path/Delivered-To/Received of B) to show
    # the signature covers what A sent; they are not signed anyway.
    resolv = os.path.join(world.tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {world.net.ip['dns']}\n")
    for index in (0, 1):
        cmd = ["unshare", "--mount", "sh", "-c", f"mount --bind {resolv} /etc/resolv.conf && "
               f"exec /usr/bin/dkimverify --index {index}"]
        p = subprocess.run(cmd, input=msg, capture_output=True, timeout=60)
        if p.returncode != 0 and b"mount" in p.stderr:
            pytest.skip("no mount namespace for dkimverify: " + p.stderr.decode())
        assert p.returncode == 0 and b"signature ok" in p.stdout, (index, p.stdout, p.stderr)


def test_local_recipients_never_touch_the_network(world):
    b = world.server_b().start()
    a = world.server_a().start()
    submit(a, ["carol@a.test", "bob@b.test"], subject="Mixed local")
    wait_for("bob", lambda: inbox(b, "bob@b.test"))
    assert len(inbox(a, "carol@a.test")) == 1
    assert not re.search(r"queue=\d+ to=<carol@a.test>", a.log()), "the local recipient never went through the queue"
    assert a.log().count("smtp-out ready") == 1


# ---- faults ------------------------------------------------------------------------

def attempts_of(server, rcpt):
    for line in queue_list(server).splitlines():
        if f"to <{rcpt}>" in line:
            return int(line.split("pending, ")[1].split(" attempt")[0])
    return None


def test_destination_down_then_up(world):
    a = world.server_a().start()
    submit(a, ["bob@b.test"], subject="Patience")
    # Nothing listens on B's address: refused, deferred, retried (queue_retry 1s).
    wait_for("two attempts", lambda: (attempts_of(a, "bob@b.test") or 0) >= 2)
    shown = a.run(["queue", "show", queue_list(a).split()[0]]).stdout
    assert "Connection refused" in shown, shown
    b = world.server_b().start()
    msgs = wait_for("delivery after B came up", lambda: inbox(b, "bob@b.test"))
    assert len(msgs) == 1 and b"Subject: Patience" in msgs[0]
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")
    assert dsn_reports(a, "alice@a.test") == [], "no bounce for mail that was delivered"


def test_550_at_rcpt_bounces_to_the_senders_inbox(world):
    b = world.server_b().start()
    a = world.server_a().start()
    submit(a, ["nosuch@b.test"], subject="Lost")
    reports = wait_for("a bounce", lambda: dsn_reports(a, "alice@a.test"))
    assert len(reports) == 1
    r = reports[0]
    assert r["subject"] == "Undelivered Mail Returned to Sender"
    assert r["msg"]["From"] == "Mail Delivery System <MAILER-DAEMON@mx.a.test>"
    assert r["msg"]["Auto-Submitted"] == "auto-replied"
    assert r["mta"]["Reporting-MTA"] == "dns; mx.a.test"
    [rc] = r["rcpts"]
    assert rc["Final-Recipient"] == "rfc822; nosuch@b.test"
    assert rc["Action"] == "failed" and rc["Status"] == "5.1.1"
    assert rc["Remote-MTA"] == "dns; mx.b.test"
    assert rc["Diagnostic-Code"].startswith("smtp; 550 5.1.1")
    assert "Subject: Lost" in str(r["msg"]), "the original header is returned"
    raw = inbox(a, "alice@a.test")[0]
    assert raw.startswith(b"Return-Path: <>"), "a bounce comes from the null sender"
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")


def test_451_is_retried_then_delivered(world):
    a = world.server_a().start()
    sink, _ = world.sink("c", "-r", "rcpt", "-b", "451 4.7.1 Greylisted, try again later")
    submit(a, ["carol@c.test"], subject="Greylisted")
    wait_for("three attempts", lambda: (attempts_of(a, "carol@c.test") or 0) >= 3)
    shown = a.run(["queue", "show", queue_list(a).split()[0]]).stdout
    assert "451 4.7.1 Greylisted" in shown and "RCPT TO" in shown, shown
    world.stop_sink(sink)
    sink, dump = world.sink("c")
    wait_for("delivery", lambda: glob.glob(dump + "/*"))
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")
    got = open(glob.glob(dump + "/*")[0], "rb").read()
    assert b"Subject: Greylisted" in got
    assert dsn_reports(a, "alice@a.test") == []


def test_null_mx_bounces_at_once(world):
    a = world.server_a().start()
    submit(a, ["someone@nullmx.test"], subject="Nowhere")
    [r] = wait_for("a bounce", lambda: dsn_reports(a, "alice@a.test"), timeout=15)
    [rc] = r["rcpts"]
    assert rc["Status"] == "5.1.10" and rc["Action"] == "failed"
    text = r["msg"].get_body(("plain",)).get_content()
    assert "null MX" in text
    assert "smtp-out ready" not in a.log(), "no connection was made"


def test_first_mx_down_second_used(world):
    b = world.server_b().start()
    a = world.server_a().start()
    submit(a, ["bob@two.test"], subject="Backup MX")
    msgs = wait_for("delivery through the second MX", lambda: inbox(b, "bob@two.test"))
    assert len(msgs) == 1
    log = a.log()
    assert f"mx1.two.test[{world.net.ip['dead']}]" in log, "the preferred MX was tried first"
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")


def test_no_mx_uses_the_domains_address(world):
    b = world.server_b().start()
    a = world.server_a().start()
    submit(a, ["bob@implicit.test"], subject="Implicit MX")
    assert len(wait_for("delivery", lambda: inbox(b, "bob@implicit.test"))) == 1


def test_mixed_recipients_each_get_their_outcome(world):
    b = world.server_b().start()
    a = world.server_a().start()
    world.sink("c", "-r", "rcpt", "-b", "451 4.7.1 later")
    submit(a, ["bob@b.test", "nosuch@b.test", "bob2@b.test", "x@nullmx.test", "carol@c.test", "y@unknown-domain.test"],
           subject="Mixed")
    assert len(wait_for("bob", lambda: inbox(b, "bob@b.test"))) == 1
    assert len(wait_for("bob2", lambda: inbox(b, "bob2@b.test"))) == 1
    [r] = wait_for("a bounce", lambda: dsn_reports(a, "alice@a.test"))
    got = {rc["Final-Recipient"].split("; ")[1]: rc["Status"] for rc in r["rcpts"]}
    assert got == {"nosuch@b.test": "5.1.1", "x@nullmx.test": "5.1.10", "y@unknown-domain.test": "5.1.2"}, got
    listing = queue_list(a)
    assert "to <carol@c.test>  pending" in listing, "the 4xx recipient waits"
    for addr in ("bob@b.test", "bob2@b.test", "nosuch@b.test", "x@nullmx.test"):
        assert f"to <{addr}>" not in listing
    shown = a.run(["queue", "show", listing.split()[0]]).stdout
    assert "to <bob@b.test>  delivered" in shown and "to <nosuch@b.test>  failed" in shown
    # The good recipients of one domain went in one transaction.
    assert a.log().count(f"smtp-out sent peer=mx.b.test[{world.net.ip['b']}]") == 1


def test_kill9_of_the_sender_loses_nothing(world):
    a = world.server_a().start()
    for i in range(3):
        submit(a, ["bob@b.test"], subject=f"Crash {i}")
    wait_for("attempts", lambda: (attempts_of(a, "bob@b.test") or 0) >= 1)
    a.kill9()
    b = world.server_b().start()
    a.start()
    msgs = wait_for("all three", lambda: len(inbox(b, "bob@b.test")) == 3 and inbox(b, "bob@b.test"))
    subjects = sorted(parse(m)["Subject"] for m in msgs)
    assert subjects == ["Crash 0", "Crash 1", "Crash 2"]
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")


def test_flush_retries_now(world):
    a = world.server_a(extra="").start()
    a.stop()
    # A long back-off: only `queue flush` can make it try again soon.
    text = open(a.conf).read().replace("queue_retry 1s", "queue_retry 1h")
    open(a.conf, "w").write(text)
    a.start()
    submit(a, ["bob@b.test"], subject="Flush")
    wait_for("the first attempt", lambda: (attempts_of(a, "bob@b.test") or 0) >= 1)
    b = world.server_b().start()
    time.sleep(3)
    assert inbox(b, "bob@b.test") == [], "nothing before the next retry"
    a.run(["queue", "flush"])
    assert len(wait_for("delivery after flush", lambda: inbox(b, "bob@b.test"), timeout=15)) == 1


def test_delay_notice_then_expiry_bounce(world):
    a = world.server_a(extra="queue_delay_notice 2s\nqueue_lifetime 6s\n").start()
    submit(a, ["bob@b.test"], subject="Slow")
    reports = wait_for("a delay notice", lambda: dsn_reports(a, "alice@a.test"))
    assert reports[0]["subject"] == "Delayed Mail (still being retried)"
    [rc] = reports[0]["rcpts"]
    assert rc["Action"] == "delayed" and rc["Status"].startswith("4.") and "Will-Retry-Until" in rc
    reports = wait_for("the final bounce", lambda: len(dsn_reports(a, "alice@a.test")) == 2 and
                       dsn_reports(a, "alice@a.test"), timeout=40)
    final = [r for r in reports if r["subject"] == "Undelivered Mail Returned to Sender"]
    assert len(final) == 1
    [rc] = final[0]["rcpts"]
    assert rc["Action"] == "failed" and rc["Status"].startswith("5.")
    assert "delivery time expired" in final[0]["msg"].get_body(("plain",)).get_content()
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")
    assert len(dsn_reports(a, "alice@a.test")) == 2, "exactly one delay notice and one bounce"


def test_no_bounce_for_the_null_sender(world):
    b = world.server_b().start()
    a = world.server_a().start()
    a.run(["alias", "add", "fwd@a.test", "nosuch@b.test"])
    # Mail from <> (a bounce from elsewhere) forwarded to a bad address.
    with smtplib.SMTP(a.host, 25, timeout=30) as s:
        s.sendmail("", ["fwd@a.test"], b"From: MAILER-DAEMON@far.test\r\nSubject: a bounce\r\n\r\nx\r\n")
    wait_for("the failure", lambda: "no bounce for mail from <>" in a.log())
    wait_for("the queue to empty", lambda: queue_list(a) == "the queue is empty\n")
    assert dsn_reports(a, "alice@a.test") == []


def test_8bit_converted_for_a_server_without_8bitmime(world):
    a = world.server_a().start()
    _, dump = world.sink("d", "-8")
    body = "Grüße aus Köln\r\n"
    submit(a, ["dora@d.test"], subject="Umlauts", body=body,
           extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
    wait_for("delivery", lambda: glob.glob(dump + "/*"))
    got = open(glob.glob(dump + "/*")[0], "rb").read()
    assert all(c < 0x80 for c in got), "only 7-bit data went to the server"
    assert b"Content-Transfer-Encoding: quoted-printable" in got
    assert b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln" in got
    assert "converted to 7 bit" in a.log()


def test_required_tls_never_falls_back_to_clear(world):
    a = world.server_a(extra="outbound_tls_required c.test\n").start()
    _, dump = world.sink("c")  # smtp-sink offers no STARTTLS
    submit(a, ["carol@c.test"], subject="Secret")
    wait_for("an attempt", lambda: (attempts_of(a, "carol@c.test") or 0) >= 1)
    shown = a.run(["queue", "show", queue_list(a).split()[0]]).stdout
    assert "TLS is required" in shown, shown
    assert glob.glob(dump + "/*") == [], "nothing was sent in clear"
