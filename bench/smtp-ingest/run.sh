#!/bin/bash
# bench/smtp-ingest: how fast mail from the internet is received and stored.
#
# N concurrent SMTP sessions (Postfix's smtp-source) send M messages of about
# SIZE bytes to local users, first to Posthorn, then to Debian's Postfix
# (a private instance on loopback delivering to maildirs with virtual(8)),
# in the same run. Both acknowledge only what is on disk (Posthorn: one
# group-committed fsync; Postfix: the queue file fsync, then the maildir
# delivery fsyncs). A message counts as done when it is in its mailbox:
# for Posthorn that is the 250 reply; for Postfix the maildir file, so we
# wait for the queue to drain. Prints messages/second for both, the ratio,
# and Posthorn's peak RSS (worker VmHWM).
#
# Run as root (Postfix needs it): bench/smtp-ingest/run.sh
# Knobs: N=100 M=5000 SIZE=4096 USERS=10
set -euo pipefail
N=${N:-100}
M=${M:-5000}
SIZE=${SIZE:-4096}
USERS=${USERS:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BIN=${POSTHORN_BIN:-$TOP/posthorn}
[ "$(id -u)" = 0 ] || { echo "run as root (the Postfix side needs it)" >&2; exit 1; }
command -v smtp-source >/dev/null || { echo "smtp-source missing: apt-get install postfix" >&2; exit 1; }
ROOT=$(mktemp -d /tmp/posthorn-bench.XXXXXX)
chmod 755 "$ROOT"
PH_PID=""
cleanup() {
  [ -n "$PH_PID" ] && kill "$PH_PID" 2>/dev/null && wait "$PH_PID" 2>/dev/null || true
  [ -d "$ROOT/postfix/conf" ] && postfix -c "$ROOT/postfix/conf" stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
rate() { /usr/bin/python3 -c "print(f'{$1/($3-$2):.0f}')"; }

# ---- Posthorn -----------------------------------------------------------
PH_PORT=$(free_port)
"$BIN" init --domain example.test --dir "$ROOT/ph" >/dev/null
CONF=$ROOT/ph/posthorn.conf
sed -i -e '/^listen /d' -e 's/^run_user .*/run_user nobody/' -e 's/^log_level .*/log_level warn/' "$CONF"
cat >>"$CONF" <<CFG
listen smtp 127.0.0.1:$PH_PORT
max_connections_per_ip 1000
max_connections 5000
CFG
for i in $(seq 0 $((USERS - 1))); do echo "pw$i" | "$BIN" user add "user$i@example.test" -c "$CONF" >/dev/null; done
"$BIN" serve -c "$CONF" 2>"$ROOT/ph.log" &
PH_PID=$!
for _ in $(seq 100); do grep -q "serving as" "$ROOT/ph.log" 2>/dev/null && break; sleep 0.1; done
WORKER=$(pgrep -P "$PH_PID")

# smtp-source sends every message to one recipient; spread them over the users.
send() { # host:port
  local per=$((M / USERS)) pids=()
  for i in $(seq 0 $((USERS - 1))); do
    smtp-source -s $((N / USERS > 0 ? N / USERS : 1)) -m "$per" -l "$SIZE" -f sender@remote.test \
      -t "user$i@example.test" "$1" &
    pids+=($!)
  done
  wait "${pids[@]}"
}

T0=$(now)
send "127.0.0.1:$PH_PORT"
T1=$(now)
PH_RATE=$(rate "$M" "$T0" "$T1")
PH_RSS=$(awk '/VmHWM/ {print $2}' /proc/"$WORKER"/status)
STORED=$("$BIN" user list -c "$CONF" | awk '{s+=$3} END {print s}')
kill "$PH_PID"; wait "$PH_PID" 2>/dev/null || true; PH_PID=""
PH_COUNT=0
for i in $(seq 0 $((USERS - 1))); do
  PH_COUNT=$((PH_COUNT + $("$BIN" export "user$i@example.test" -c "$CONF" | grep -c '^From MAILER-DAEMON')))
done

# ---- Postfix ------------------------------------------------------------
PF=$ROOT/postfix
PF_PORT=$(free_port)
mkdir -p "$PF/conf" "$PF/spool" "$PF/data" "$PF/vmail"
chown postfix "$PF/data"
chown nobody:nogroup "$PF/vmail"
: >"$PF/vmailbox"
for i in $(seq 0 $((USERS - 1))); do echo "user$i@example.test example.test/user$i/" >>"$PF/vmailbox"; done
cat >"$PF/conf/main.cf" <<CFG
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = $((N + 50))
virtual_mailbox_domains = example.test
virtual_mailbox_base = $PF/vmail
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
maillog_file = $PF/maillog
maillog_file_prefixes = /tmp
CFG
sed -e "s/^smtp      inet  n       -       y/127.0.0.1:$PF_PORT inet n - n/" \
    -e 's/^\([a-z]* *unix *[-n] *[-n] *\)y/\1n/' /etc/postfix/master.cf >"$PF/conf/master.cf"
postfix -c "$PF/conf" check >/dev/null 2>&1 || true
postfix -c "$PF/conf" start >/dev/null 2>&1 || { echo "postfix did not start; try: script -qc \"postfix -c $PF/conf start\" /dev/null" >&2; exit 1; }
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$PF_PORT) 2>/dev/null && break; sleep 0.1; done

delivered() { find "$PF/vmail" -path '*/new/*' -type f | wc -l; }
T0=$(now)
send "127.0.0.1:$PF_PORT"
T1=$(now)
while [ "$(delivered)" -lt "$M" ]; do
  sleep 0.05
  if /usr/bin/python3 -c "import sys; sys.exit(0 if $(date +%s.%N) - $T1 > 600 else 1)"; then
    echo "postfix did not deliver everything in 10 minutes" >&2; break
  fi
done
T2=$(now)
PF_ACK=$(rate "$M" "$T0" "$T1")
PF_RATE=$(rate "$M" "$T0" "$T2")
PF_COUNT=$(delivered)

echo "smtp-ingest: $N sessions, $M messages of $SIZE bytes to $USERS users"
echo "  posthorn: $PH_RATE msg/s stored (acknowledged = in the mailbox); $PH_COUNT messages in mailboxes; peak RSS ${PH_RSS} kB"
echo "  postfix:  $PF_RATE msg/s delivered to maildirs ($PF_ACK msg/s acknowledged); $PF_COUNT messages in maildirs"
/usr/bin/python3 -c "print(f'  ratio posthorn/postfix: {$PH_RATE/$PF_RATE:.2f}x (delivered), {$PH_RATE/$PF_ACK:.2f}x (vs postfix acknowledged)')"
