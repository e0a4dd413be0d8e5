#!/bin/sh
# POP3 benchmark: Posthorn against Debian's Dovecot (dovecot-pop3d), same
# machine, same mailbox content, same client, one run. Run by hand from the
# top of the tree (as root, like `make run`; needs dovecot-pop3d):
#
#   bench/pop3/run.sh [MESSAGES] [ROUNDS]      (default 10000 messages, 3 rounds)
#
# Builds posthorn and bench/pop3/pop3_bench.c in $BUILD (default
# build/release), makes a private Posthorn (POP3 listener only, clear-text
# logins allowed on loopback) and a private Dovecot (its own config in the
# work folder, POP3 only, maildir, ssl off), both on free loopback ports,
# fills both with the same MESSAGES messages (pop3_bench fill), runs the
# same client against each (pop3_bench run), prints both figures and the
# ratios, and stops both servers. Both verify the same yescrypt hash at
# login. Work folder: $ROOT (default /tmp/posthorn-pop3-bench), removed
# first.
set -e
N=${1:-10000}
ROUNDS=${2:-3}
BUILD=${BUILD:-build/release}
ROOT=${ROOT:-/tmp/posthorn-pop3-bench}
USER_ADDR=bench@example.test
PASS=bench-password-42

[ -x /usr/sbin/dovecot ] || { echo "needs Debian's dovecot-pop3d: apt-get install dovecot-pop3d" >&2; exit 1; }
[ -n "$NO_MAKE" ] || make --no-print-directory BUILD=$BUILD $BUILD/posthorn $BUILD/libposthorn.a >/dev/null
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -o $BUILD/pop3_bench bench/pop3/pop3_bench.c $BUILD/libposthorn.a \
   $(pkg-config --libs libevent libevent_pthreads sqlite3 openssl zlib jansson libunbound) -lcrypt -lpthread -lm
BIN=$(pwd)/$BUILD/posthorn
BENCH=$(pwd)/$BUILD/pop3_bench

rm -rf "$ROOT"
mkdir -p "$ROOT/dovecot/run" "$ROOT/dovecot/state" "$ROOT/dovecot/home"
chmod 755 "$ROOT"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PPORT=$(free_port)
DPORT=$(free_port)
HASH=$(/usr/bin/python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512).replace("$6$","$y$j9T$",1)[:29]+"$"))' "$PASS")
case "$HASH" in '$y$'*) ;; *) echo "could not make a yescrypt hash" >&2; exit 1;; esac

# Posthorn: the config init writes, with only a POP3 listener.
$BIN init --domain example.test --dir "$ROOT/posthorn" >/dev/null
conf=$ROOT/posthorn/posthorn.conf
sed -i -e '/^listen /d' -e 's/^run_user .*/run_user nobody/' -e 's/^log_level .*/log_level warn/' -e '/^log_file /d' "$conf"
printf 'listen pop3 127.0.0.1:%s\nallow_plaintext_loopback yes\nlog_file %s/posthorn.log\n' "$PPORT" "$ROOT" >>"$conf"
$BIN user add $USER_ADDR --hash "$HASH" -c "$conf" >/dev/null

# Dovecot: a private instance; the same user and hash.
printf '%s:{CRYPT}%s\n' "$USER_ADDR" "$HASH" >"$ROOT/dovecot/passwd"
cat >"$ROOT/dovecot/dovecot.conf" <<EOF
protocols = pop3
listen = 127.0.0.1
base_dir = $ROOT/dovecot/run
state_dir = $ROOT/dovecot/state
log_path = $ROOT/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$ROOT/dovecot/Maildir
passdb {
  driver = passwd-file
  args = scheme=CRYPT $ROOT/dovecot/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$ROOT/dovecot/home
}
service pop3-login {
  inet_listener pop3 {
    port = $DPORT
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF

echo "filling both mailboxes with $N messages"
$BENCH fill "$ROOT/posthorn/data" "$ROOT/dovecot/Maildir" "$N"
chown -R nobody:nogroup "$ROOT/dovecot/Maildir" "$ROOT/dovecot/home" "$ROOT/posthorn/data"

$BIN serve -c "$conf" &
PPID_=$!
/usr/sbin/dovecot -F -c "$ROOT/dovecot/dovecot.conf" &
DPID=$!
trap 'kill $PPID_ $DPID 2>/dev/null; wait $PPID_ $DPID 2>/dev/null' EXIT
for port in $PPORT $DPORT; do
  for i in $(seq 100); do
    /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    sleep 0.1
  done
done
sleep 0.5

echo "posthorn $(git describe --always --dirty 2>/dev/null) vs $(/usr/sbin/dovecot --version | cut -d' ' -f1-2), $N messages, $ROUNDS rounds, $(nproc) CPUs"
$BENCH run posthorn 127.0.0.1 $PPORT $USER_ADDR $PASS $ROUNDS | tee "$ROOT/posthorn.out"
$BENCH run dovecot 127.0.0.1 $DPORT $USER_ADDR $PASS $ROUNDS | tee "$ROOT/dovecot.out"

/usr/bin/python3 - "$ROOT/posthorn.out" "$ROOT/dovecot.out" <<'EOF'
import sys
def load(p):
    line = [l for l in open(p) if l.startswith("RESULT ")][0].split()
    return {k: v for k, v in (x.split("=") for x in line[2:])}
p, d = load(sys.argv[1]), load(sys.argv[2])
print("same bytes from both servers:", "yes" if p["digest"] == d["digest"] and p["bytes"] == d["bytes"] else "NO")
for key, what in [("download_ms", "download, one RETR at a time"), ("pipelined_ms", "download, 16 RETR pipelined")]:
    rp, rd = int(p["count"]) / float(p[key]) * 1e3, int(d["count"]) / float(d[key]) * 1e3
    print(f"{what:32s} posthorn {rp:8.0f} msg/s  dovecot {rd:8.0f} msg/s  ratio {rp / rd:5.2f}x")
for key, what in [("stat_ms", "STAT first reply"), ("list_first_ms", "LIST first line"), ("uidl_first_ms", "UIDL first line"),
                  ("list_ms", "LIST complete"), ("uidl_ms", "UIDL complete"), ("login_ms", "login"), ("quit_ms", "QUIT"), ("first_quit_ms", "first QUIT (sets \\Seen)"), ("cold_stat_ms", "STAT, first session")]:
    print(f"{what:32s} posthorn {float(p[key]):8.2f} ms    dovecot {float(d[key]):8.2f} ms  (medians)")
EOF
