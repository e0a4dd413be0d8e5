"""The command line: init, check, accounts, aliases, queue, help texts."""
import os
import re
import subprocess

import pytest

from conftest import BIN, DOMAIN, Server


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, text=True, timeout=60, **kw)


def test_help_texts():
    p = run(["--help"])
    assert p.returncode == 0 and "serve" in p.stdout and "queue" in p.stdout
    for cmd in ["serve", "init", "check", "domain", "user", "alias", "queue", "export"]:
        p = run([cmd, "--help"])
        assert p.returncode == 0, cmd
        assert p.stdout.startswith("usage: posthorn " + cmd), (cmd, p.stdout)
    p = run(["frobnicate"])
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_readme_reference_is_current():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    readme = open(os.path.join(top, "README.md")).read()
    block = readme.split("<!-- config-reference:begin -->\n")[1].split("<!-- config-reference:end -->")[0]
    assert block == run(["check", "--reference"]).stdout


def test_init_writes_a_working_config(tmpdir_root):
    d = os.path.join(tmpdir_root, "srv")
    p = run(["init", "--domain", "example.org", "--dir", d])
    assert p.returncode == 0, p.stderr
    assert "posthorn user add you@example.org" in p.stdout
    conf = os.path.join(d, "posthorn.conf")
    assert run(["check", "-c", conf]).returncode == 0
    assert run(["domain", "list", "-c", conf]).stdout == "example.org\n"
    assert oct(os.stat(os.path.join(d, "tls", "key.pem")).st_mode & 0o777) == "0o600"
    again = run(["init", "--domain", "example.org", "--dir", d])
    assert again.returncode != 0 and "already exists" in again.stderr


@pytest.mark.parametrize("line,expect", [
    ("frobnicate 1", r"posthorn.conf:\d+: unknown setting \"frobnicate\""),
    ("max_connectins 5", r"did you mean \"max_connections\""),
    ("max_message_size lots", r"max_message_size lots: expected a size"),
    ("listen smtp 127.0.0.1", r"listen smtp 127.0.0.1: expected ADDRESS:PORT"),
    ("listen smtp 127.0.0.1:99999", r"bad port"),
    ("listen ftp 127.0.0.1:21", r"unknown listener kind"),
    ("smtp_timeout 5 minutes", r"posthorn.conf:\d+: smtp_timeout needs|expected a duration|unknown"),
    ("allow_plaintext_loopback maybe", r"expected yes or no"),
    ("smtp_greeting_delay soon", r"expected a duration"),
    ("hostname a\nhostname b", r"hostname is set twice"),
])
def test_check_names_line_and_problem(tmpdir_root, line, expect):
    srv = Server(tmpdir_root)
    with open(srv.conf, "a") as f:
        f.write(line + "\n")
    p = run(["check", "-c", srv.conf])
    assert p.returncode == 1
    assert re.search(expect, p.stderr), p.stderr
    lines = open(srv.conf).read().split("\n")
    m = re.search(r"posthorn.conf:(\d+):", p.stderr)
    if m:  # the line number points at the offending line
        assert lines[int(m.group(1)) - 1].split()[0] == line.split("\n")[-1].split()[0]


def test_check_missing_certificate(tmpdir_root):
    srv = Server(tmpdir_root)
    os.rename(os.path.join(srv.dir, "tls", "cert.pem"), os.path.join(srv.dir, "tls", "gone.pem"))
    p = run(["check", "-c", srv.conf])
    assert p.returncode == 1 and "tls_cert" in p.stderr and "No such file" in p.stderr


def test_accounts_and_aliases(tmpdir_root):
    srv = Server(tmpdir_root)
    srv.run(["domain", "add", "Other.Test"])
    assert srv.run(["domain", "list"]).stdout.split() == ["example.test", "other.test"]
    p = srv.run(["user", "add", "nobody@unknown.test"], input="pw\n", check=False)
    assert p.returncode == 1 and "unknown.test" in p.stderr
    srv.add_user("alice@example.test")
    p = srv.run(["user", "add", "alice@example.test"], input="pw\n", check=False)
    assert p.returncode == 1 and "already exists" in p.stderr
    p = srv.run(["user", "add", "rand@example.test", "--random"])
    assert re.search(r"^password: [A-Za-z0-9]{20}$", p.stdout, re.M)
    sha512 = subprocess.run(["openssl", "passwd", "-6", "-salt", "saltsalt", "pw"], capture_output=True,
                            text=True).stdout.strip()
    p = srv.run(["user", "add", "hash@example.test", "--hash", sha512])
    assert "hash@example.test added" in p.stdout
    p = srv.run(["user", "add", "bad@example.test", "--hash", "plaintext"], check=False)
    assert p.returncode == 1 and "not a supported" in p.stderr
    srv.run(["user", "quota", "alice@example.test", "10M"])
    listing = srv.run(["user", "list"]).stdout
    assert "alice@example.test  used 0 of 10485760 bytes" in listing
    srv.run(["alias", "add", "sales@example.test", "alice@example.test", "someone@far.test"])
    srv.run(["alias", "add", "@other.test", "alice@example.test"])
    aliases = srv.run(["alias", "list"]).stdout
    assert "sales@example.test -> alice@example.test" in aliases
    assert "sales@example.test -> someone@far.test" in aliases
    assert "@other.test -> alice@example.test" in aliases
    srv.run(["alias", "remove", "sales@example.test", "someone@far.test"])
    assert "someone@far.test" not in srv.run(["alias", "list"]).stdout
    p = srv.run(["domain", "remove", "other.test"], check=False)
    assert p.returncode == 1
    srv.run(["alias", "remove", "@other.test"])
    srv.run(["domain", "remove", "other.test"])
    srv.run(["user", "remove", "rand@example.test"])
    assert "rand@" not in srv.run(["user", "list"]).stdout


def test_password_never_from_argv(tmpdir_root):
    srv = Server(tmpdir_root)
    p = srv.run(["user", "add", "x@example.test", "secret"], check=False)
    assert p.returncode == 2  # an extra argument is a usage error, not a password
    p = srv.run(["user", "add", "x@example.test"], input="", check=False)
    assert p.returncode == 1 and "no password" in p.stderr


def test_queue_commands_on_empty_queue(tmpdir_root):
    srv = Server(tmpdir_root)
    assert srv.run(["queue", "list"]).stdout == "the queue is empty\n"
    p = srv.run(["queue", "show", "42"], check=False)
    assert p.returncode == 1 and "no such message" in p.stderr
    p = srv.run(["queue", "remove", "abc"], check=False)
    assert p.returncode == 2 and "bad queue id" in p.stderr
