"""`posthorn dkim` and `posthorn dns`, and DKIM signatures on submitted
mail, checked with python3-dkim's verifier reading the records that
`posthorn dns` prints (no DNS server needed: these run as any user)."""
import os
import re
import smtplib
import subprocess

import dkim

from conftest import PASSWORD, client_tls_context


def records(text):
    """TXT records of a `posthorn dns` / `dkim list` output: {name: data}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\S+)\s+\d+ IN TXT\s+(.*)$", line)
        if m:
            out[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    return out


def test_keygen_list_and_dns(make_server):
    srv = make_server()
    p = srv.run(["dkim", "keygen", "nowhere.test"], check=False)
    assert p.returncode == 1 and "not a local domain" in p.stderr
    p = srv.run(["dkim", "keygen", "example.test", "--selector", "s1"], check=False)
    assert p.returncode == 2 and "--selector names one key" in p.stderr
    assert "no DKIM keys" in srv.run(["dkim", "list"]).stdout
    out = srv.run(["dkim", "keygen", "example.test"]).stdout
    assert "new RSA 2048 key" in out and "new Ed25519 key" in out
    srv.run(["dkim", "keygen", "example.test", "--algorithm", "ed25519", "--selector", "extra"])
    listed = records(srv.run(["dkim", "list", "example.test"]).stdout)
    assert len(listed) == 3 and "extra._domainkey.example.test." in listed
    assert all(v.startswith("v=DKIM1; k=") for v in listed.values())
    dns = srv.run(["dns", "example.test"]).stdout
    assert re.search(r"^example\.test\.\s+3600 IN MX\s+10 mx\.example\.test\.$", dns, re.M)
    assert '"v=spf1 mx ~all"' in dns and "_dmarc.example.test." in dns
    for service in ("submissions", "submission", "imaps", "imap", "pop3s", "pop3"):
        assert f"_{service}._tcp.example.test." in dns
    assert "autoconfig.example.test." in dns and "autodiscover.example.test." in dns
    assert records(dns).keys() >= listed.keys()
    # The output is valid zone-file syntax (Debian's nsd-checkzone).
    zone = os.path.join(srv.root, "zone")
    with open(zone, "w") as f:
        f.write("$TTL 3600\nexample.test. IN SOA ns.example.test. h.example.test. 1 3600 600 86400 60\n"
                "example.test. IN NS ns.example.test.\n" + dns)
    p = subprocess.run(["nsd-checkzone", "example.test", zone], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert srv.run(["dns", "other.test"], check=False).returncode == 1


def test_submitted_mail_is_signed(make_server):
    srv = make_server()
    srv.add_user("alice@example.test")
    srv.add_user("bob@example.test")
    srv.run(["dkim", "keygen", "example.test"])
    published = records(srv.run(["dkim", "list"]).stdout)
    srv.start()
    msg = ("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: signed\r\n\r\n"
           "Hello  Bob,\r\n\r\nsee you.\r\n")
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("alice@example.test", PASSWORD)
        s.sendmail("alice@example.test", ["bob@example.test"], msg)
    [got] = srv.export("bob@example.test")
    got = got.replace(b"\n", b"\r\n")
    assert got.count(b"DKIM-Signature:") == 2

    def dnsfunc(name, timeout=5):
        return published.get(name.decode().rstrip(".") + ".", "").encode()

    for index in (0, 1):
        d = dkim.DKIM(got)
        assert d.verify(idx=index, dnsfunc=dnsfunc), f"signature {index} does not verify"
    # A changed body breaks both (python3-dkim says so by returning False
    # or raising, depending on where the check fails).
    bad = got.replace(b"see you.", b"see you!")
    for index in (0, 1):
        try:
            ok = dkim.DKIM(bad).verify(idx=index, dnsfunc=dnsfunc)
        except dkim.ValidationError:
            ok = False
        assert not ok
