"""Integration-test fixtures: a real `posthorn serve` on free loopback ports.

Every test talks to the daemon with clients we did not write (smtplib,
swaks, curl, imaplib, poplib) and checks the result through the CLI
(`posthorn export`, `posthorn queue list`), never through the database.
Servers are started on free ports in a private directory and stopped at
the end, also on failure.
"""
import mailbox
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

BIN = os.environ.get("POSTHORN_BIN") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "posthorn"))

DOMAIN = "example.test"
PASSWORD = "correct horse battery staple"


def _sanitized():
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# A binary built with AddressSanitizer keeps freed memory in quarantine (up
# to 256 MB): memory figures of its worker say nothing then.
SANITIZED = _sanitized()


def worker_rss_kb(server):
    """VmRSS of the server's one worker process, in kB."""
    [pid] = server.worker_pids()
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood(sock, unit, total):
    """Sends unit repeatedly (up to total bytes) without ever reading, until
    the server stops taking more (nothing taken for 3 s). Returns the bytes
    sent. For clients that pipeline without reading the answers."""
    sock.setblocking(False)
    block = unit * (65536 // len(unit))
    sent = 0
    stalled_since = None
    while sent < total:
        try:
            sent += sock.send(block)
            stalled_since = None
        except (BlockingIOError, ssl.SSLWantWriteError):
            # The server no longer reads: give it a moment to prove it (a
            # broken one keeps reading and the loop goes on).
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 3:
                break
            time.sleep(0.01)
    sock.setblocking(True)
    return sent

def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=10.0):
    deadline = time.time() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.time() < deadline:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect((host, port))
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


class Server:
    """One posthorn instance in its own directory."""

    def __init__(self, root, host="127.0.0.1", extra_config="", kinds=None, domain=DOMAIN, fixed_ports=None):
        self.root = root
        self.domain = domain
        self.host = host
        self.dir = os.path.join(root, "srv")
        self.conf = os.path.join(self.dir, "posthorn.conf")
        self.proc = None
        self.log_path = os.path.join(root, "posthorn.log")
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        self.run(["init", "--domain", domain, "--dir", self.dir, "--hostname", "mx." + domain], config=False)
        text = open(self.conf).read()
        if kinds is None:
            # Every service this build has: `init` writes a listener for each.
            kinds = re.findall(r"^listen (\S+)", text, flags=re.M)
        self.ports = {}
        for k in kinds:
            port = (fixed_ports or {}).get(k) or free_port(host)
            while port in self.ports.values():  # the kernel may hand out a port twice
                port = free_port(host)
            self.ports[k] = port
        text = re.sub(r"^listen .*\n", "", text, flags=re.M)
        for kind, port in self.ports.items():
            text += f"listen {kind} {'[' + host + ']' if ':' in host else host}:{port}\n"
        if os.geteuid() == 0:
            # Exercise the real privilege drop: the worker runs as nobody.
            text = text.replace("run_user   posthorn", "run_user   nobody")
        if "dns_resolver" not in extra_config:
            # Outbound mail must never reach the internet's DNS in tests: a
            # loopback port where nothing answers (lookups fail, mail waits).
            text += "dns_resolver 127.0.0.1:1\ndns_trust_anchor none\n"
        text += extra_config
        with open(self.conf, "w") as f:
            f.write(text)

    # -- the CLI -------------------------------------------------------------
    def run(self, args, input=None, check=True, config=True):
        cmd = [BIN] + args + (["-c", self.conf] if config else [])
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
        return p

    def add_user(self, address, password=PASSWORD):
        self.run(["user", "add", address], input=password + "\n")

    def export(self, address, mailbox_name="INBOX"):
        """The messages of a mailbox, parsed by Python's mailbox module."""
        out = self.run(["export", address, "--mailbox", mailbox_name]).stdout
        path = os.path.join(self.root, "export.mbox")
        with open(path, "w") as f:
            f.write(out)
        box = mailbox.mbox(path, create=False)
        msgs = [box.get_bytes(k) for k in box.keys()]
        box.close()
        return msgs

    # -- the daemon ------------------------------------------------------------
    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([BIN, "serve", "-c", self.conf], stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        for port in self.ports.values():
            wait_port(self.host, port)
        # The worker accepts once it has its certificate; make sure it is up.
        self.wait_log("serving as uid")
        return self

    def wait_log(self, text, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"posthorn exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"log never said {text!r}:\n{self.log()}")

    def log(self):
        try:
            return open(self.log_path).read()
        except FileNotFoundError:
            return ""

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.kill9()

    def kill9(self):
        """kill -9 of the parent and its worker at once: a crash."""
        if self.proc is None:
            return
        pids = self.worker_pids() if self.proc.poll() is None else []
        for pid in [self.proc.pid] + pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        for pid in pids:  # the worker is not our child: wait until it is gone
            for _ in range(200):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.02)


@pytest.fixture
def tmpdir_root():
    root = tempfile.mkdtemp(prefix="posthorn-test-")
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_server(tmpdir_root):
    """Factory for servers (several per test are allowed); all are stopped at the end."""
    servers = []

    def make(name="a", **kw):
        srv = Server(os.path.join(tmpdir_root, name), **kw)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        try:
            srv.stop()
        except Exception:
            srv.kill9()


@pytest.fixture
def server(make_server):
    """A running server with users alice and bob, an alias and a catch-all domain."""
    srv = make_server(extra_config="max_connections_per_ip 500\n")
    srv.run(["domain", "add", "catchall.test"])
    srv.add_user("alice@" + DOMAIN)
    srv.add_user("bob@" + DOMAIN)
    srv.add_user("carol@catchall.test")
    srv.run(["alias", "add", "team@" + DOMAIN, "alice@" + DOMAIN, "bob@" + DOMAIN])
    srv.run(["alias", "add", "@catchall.test", "carol@catchall.test"])
    srv.start()
    return srv


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(subject="Hello", sender="sender@remote.test", to="alice@example.test", body="Hi there.\r\n"):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}.{time.time()}@remote.test>\r\n\r\n{body}")


# -- a real DNS server on loopback, for outbound delivery ------------------------

class DNSServer:
    """Debian's nsd, authoritative for one zone, on ADDRESS:PORT of loopback.

    Outbound tests point posthorn's dns_resolver at it (and, through a
    private mount namespace, dkimverify's resolv.conf), so that MX, A and
    TXT lookups are real DNS and never leave the machine."""

    def __init__(self, root, address, zone_name, zone_text, port=53):
        self.root = root
        self.address = address
        self.port = port
        self.proc = None
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "zone"), "w") as f:
            f.write(zone_text)
        with open(os.path.join(root, "nsd.conf"), "w") as f:
            f.write(f"""server:
    ip-address: {address}@{port}
    username: ""
    chroot: ""
    zonesdir: "{root}"
    database: ""
    pidfile: "{root}/nsd.pid"
    logfile: "{root}/nsd.log"
    xfrdfile: "{root}/xfrd.state"
    xfrdir: "{root}"
    zonelistfile: "{root}/zone.list"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "{zone_name}"
    zonefile: "zone"
""")

    def start(self):
        subprocess.run(["nsd-checkzone", "test.", os.path.join(self.root, "zone")], check=True,
                       capture_output=True)
        log = open(os.path.join(self.root, "nsd.out"), "a")
        self.proc = subprocess.Popen(["nsd", "-d", "-c", os.path.join(self.root, "nsd.conf")], stdout=log,
                                     stderr=log, start_new_session=True)
        log.close()
        import dns.resolver
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.address]
        r.port = self.port
        r.lifetime = 0.5
        deadline = time.time() + 10
        while True:
            try:
                r.resolve("ns.test", "A")
                return self
            except Exception:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("nsd did not start: " + open(os.path.join(self.root, "nsd.out")).read())
                time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def port_free(host, port, udp=False):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False
