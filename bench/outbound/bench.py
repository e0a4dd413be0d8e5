#!/usr/bin/python3
"""bench/outbound: outbound relaying speed, Posthorn against Postfix.

One run, one load, one sink: Postfix's smtp-sink listens on loopback; the
same N messages (Postfix's smtp-source, S sessions in parallel, R
recipients each) go into
  - Posthorn: port 25, to an alias whose target is on the sink's domain, so
    each message is queued (fsync'd) and relayed (relay_host = the sink);
  - Debian's Postfix: a private instance (its own config and queue folders)
    with relayhost = the sink.
The clock runs from the first message injected until the sender's queue is
empty (everything accepted by the sink). Prints both rates and the ratio.
Run as root (Postfix's master needs it):

    make BUILD=build/release posthorn
    sudo /usr/bin/python3 bench/outbound/bench.py [-n 5000] [-s 20] [-r 1] [--size 4096]

Nothing here is a test: no assertion on speed, only figures.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("POSTHORN_BIN") or os.path.join(HERE, "..", "..", "posthorn")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()} {p.stdout.strip()}")
    return p


def inject(port, n, sessions, rcpts, size):
    # smtp-source: -m messages, -s parallel sessions, -r recipients per message,
    # -l size, -f/-t envelope (recipients become 1to@..., 2to@... with -r > 1).
    run(["smtp-source", "-c", "-m", str(n), "-s", str(sessions), "-r", str(rcpts), "-l", str(size),
         "-f", "bench@sender.test", "-t", "to@bench.test", f"127.0.0.1:{port}"], timeout=3600)


def wait_empty(check, timeout=3600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return time.time()
        time.sleep(0.02)
    raise RuntimeError("the queue never emptied")


def bench_posthorn(root, sink_port, args):
    d = os.path.join(root, "posthorn")
    run([BIN, "init", "--domain", "bench.test", "--dir", d, "--hostname", "mx.bench.test"])
    conf = os.path.join(d, "posthorn.conf")
    text = open(conf).read()
    port = free_port()
    lines = [l for l in text.splitlines() if not l.startswith("listen ")]
    lines.append(f"listen smtp 127.0.0.1:{port}")
    lines.append(f"relay_host 127.0.0.1:{sink_port}")
    lines.append("dns_resolver 127.0.0.1:1")  # never used with relay_host; never the internet
    lines.append("max_connections_per_ip 1000")
    if os.geteuid() == 0:
        lines = [l.replace("run_user   posthorn", "run_user   nobody") for l in lines]
    open(conf, "w").write("\n".join(lines) + "\n")
    # Every recipient smtp-source makes (to@, 1to@, 2to@...) is an alias
    # forwarding to the sink's domain: remote, so queued and relayed.
    names = ["to"] + [f"{i}to" for i in range(1, args.rcpts + 1)]
    for name in names:
        run([BIN, "alias", "add", f"{name}@bench.test", f"{name}@sink.test", "-c", conf])
    log = open(os.path.join(d, "log"), "w")
    proc = subprocess.Popen([BIN, "serve", "-c", conf], stdout=log, stderr=log, start_new_session=True)
    try:
        wait_port(port)
        time.sleep(0.5)
        start = time.time()
        inject(port, args.n, args.sessions, args.rcpts, args.size)
        injected = time.time()
        end = wait_empty(lambda: run([BIN, "queue", "list", "-c", conf]).stdout == "the queue is empty\n")
        return start, injected, end
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def bench_postfix(root, sink_port, args):
    d = os.path.join(root, "postfix")
    conf_dir = os.path.join(d, "etc")
    queue = os.path.join(d, "spool")
    data = os.path.join(d, "data")
    for p in (conf_dir, queue, data):
        os.makedirs(p)
    shutil.chown(data, "postfix", "postfix")
    port = free_port()
    master = []
    for line in open("/etc/postfix/master.cf"):
        f = line.split()
        if not line.startswith((" ", "\t", "#")) and len(f) >= 8:
            if f[0] == "smtp" and f[1] == "inet":
                f[0] = f"127.0.0.1:{port}"
            f[4] = "n"  # no chroot: the instance's queue has no copies of /etc files
            line = " ".join(f) + "\n"
        master.append(line)
    open(os.path.join(conf_dir, "master.cf"), "w").write("".join(master))
    open(os.path.join(conf_dir, "main.cf"), "w").write(f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.bench.test
mydestination =
local_recipient_maps =
alias_maps =
relay_domains =
relayhost = [127.0.0.1]:{sink_port}
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
syslog_name = postfix-bench
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtpd_client_connection_count_limit = 0
default_process_limit = 100
""")
    env = dict(os.environ, MAIL_CONFIG=conf_dir)
    run(["postfix", "-c", conf_dir, "check"], env=env)
    run(["postfix", "-c", conf_dir, "start"], env=env)
    try:
        wait_port(port)
        time.sleep(0.5)
        start = time.time()
        inject(port, args.n, args.sessions, args.rcpts, args.size)
        injected = time.time()
        end = wait_empty(lambda: "Mail queue is empty" in
                         subprocess.run(["postqueue", "-c", conf_dir, "-p"], capture_output=True, text=True).stdout)
        return start, injected, end
    finally:
        subprocess.run(["postfix", "-c", conf_dir, "stop"], env=env, capture_output=True)
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="messages (default 5000)")
    ap.add_argument("-s", "--sessions", type=int, default=20, help="parallel injecting sessions (default 20)")
    ap.add_argument("-r", "--rcpts", type=int, default=1, help="recipients per message (default 1)")
    ap.add_argument("--size", type=int, default=4096, help="message size in bytes (default 4096)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/outbound: run as root (Postfix's master needs it)")
    root = tempfile.mkdtemp(prefix="posthorn-bench-outbound-")
    os.chmod(root, 0o755)
    sink_port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", "-m", "1000", f"127.0.0.1:{sink_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(sink_port)
        results = {}
        for name, fn in (("posthorn", bench_posthorn), ("postfix", bench_postfix)):
            start, injected, end = fn(root, sink_port, args)
            results[name] = (args.n / (end - start), injected - start, end - start)
            print(f"{name:9} {args.n} messages x {args.rcpts} rcpt, {args.size} bytes: injected in {injected - start:.2f} s,"
                  f" relayed in {end - start:.2f} s = {results[name][0]:.0f} msg/s", flush=True)
        print(f"ratio posthorn/postfix: {results['posthorn'][0] / results['postfix'][0]:.2f}")
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
