#!/bin/sh
# bench/imap/run.sh: Posthorn against Debian's Dovecot (a private instance on
# loopback, tuned the way an administrator tunes it for speed), same users,
# same passwords (one sha512-crypt hash for both), same mailbox contents.
# Run by hand as root (Dovecot's master needs it); never part of `make test`.
#
#   bench/imap/run.sh [load] [idle] [big]      (default: load idle)
#
#   load  imaptest's load mode (its default mix: SELECT, FETCH, STORE,
#         EXPUNGE, APPEND, LOGOUT...), $ROUNDS alternating rounds of $SECS
#         seconds per server, $CLIENTS clients over $USERS users: commands
#         per second and the ratio.
#   idle  $IDLE_CONNS idle logged-in connections: server RSS per connection
#         (Posthorn: the worker process; Dovecot: every dovecot process).
#   big   a $BIG_MSGS-message INBOX in both: SELECT, UID FETCH 1:* (FLAGS),
#         SEARCH TEXT of a word in 5 messages, UID SEARCH UNSEEN.
#
# Needs: imaptest built beside the project ($IMAPTEST, see README), Debian's
# dovecot-imapd, python3. Everything lives in $WORK and is removed first.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
POSTHORN=${POSTHORN:-$HERE/../../posthorn}
IMAPTEST=${IMAPTEST:-/work/imaptest-build/src/src/imaptest}
WORK=${WORK:-/tmp/ph-imap-bench}
SECS=${SECS:-30}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
USERS=${USERS:-20}
MSGS=${MSGS:-200}
IDLE_CONNS=${IDLE_CONNS:-5000}
BIG_MSGS=${BIG_MSGS:-100000}
PH_PORT=${PH_PORT:-32143}
DC_PORT=${DC_PORT:-33143}
PASS=benchpass
WHAT=${*:-load idle}
export LD_LIBRARY_PATH=/usr/lib/dovecot

[ "$(id -u)" = 0 ] || { echo "run as root (Dovecot's master needs it)"; exit 1; }
[ -x "$IMAPTEST" ] || { echo "imaptest not found at $IMAPTEST (set IMAPTEST)"; exit 1; }
NPROC=$(nproc)

stop_all() {
	[ -f "$WORK/posthorn.pid" ] && kill "$(cat "$WORK/posthorn.pid")" 2>/dev/null || true
	[ -f "$WORK/dovecot/run/master.pid" ] && kill "$(cat "$WORK/dovecot/run/master.pid")" 2>/dev/null || true
	sleep 1
}
trap stop_all EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
chmod 755 "$WORK"
# Two mboxes: imaptest appends from load.mbox and checks every message it
# sees against it by Message-ID, so the prefilled mail (fill.mbox) must not
# share Message-IDs with it.
python3 "$HERE/gen_mbox.py" "$MSGS" "$WORK/load.mbox" --seed 7
python3 "$HERE/gen_mbox.py" "$MSGS" "$WORK/fill.mbox" --seed 8
HASH=$(python3 -c "import crypt; print(crypt.crypt('$PASS', crypt.mksalt(crypt.METHOD_SHA512)))" 2>/dev/null)

# ---- Posthorn --------------------------------------------------------------
PH=$WORK/posthorn
"$POSTHORN" init --domain example.test --dir "$PH" --hostname mx.example.test >/dev/null
sed -i 's/^listen .*//; s/^run_user .*/run_user nobody/; s/^log_level .*/log_level warn/' "$PH/posthorn.conf"
cat >>"$PH/posthorn.conf" <<EOF
listen imap 127.0.0.1:$PH_PORT
allow_plaintext_loopback yes
max_connections 20000
max_connections_per_ip 20000
EOF
i=1
while [ $i -le "$USERS" ]; do
	"$POSTHORN" user add "u$i@example.test" --hash "$HASH" -c "$PH/posthorn.conf" >/dev/null
	i=$((i + 1))
done

# ---- Dovecot -----------------------------------------------------------------
DC=$WORK/dovecot
mkdir -p "$DC/run" "$DC/mail" "$DC/state"
chown nobody:nogroup "$DC/mail"
: >"$DC/passwd"
i=1
while [ $i -le "$USERS" ]; do
	echo "u$i@example.test:{CRYPT}$HASH" >>"$DC/passwd"
	i=$((i + 1))
done
cat >"$DC/dovecot.conf" <<EOF
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 10M
# mdbox, not maildir: what an administrator picks for big mailboxes (maildir
# rewrites its uidlist on every APPEND: 100,000 messages would take hours).
mail_location = mdbox:$DC/mail/%u
passdb {
  driver = passwd-file
  args = $DC/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DC/mail/%u
}
default_process_limit = 10000
default_client_limit = 20000
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_PORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = $NPROC
  client_limit = 20000
}
service imap {
  service_count = 0
  process_min_avail = $NPROC
  process_limit = 10000
}
protocol imap {
  mail_max_userip_connections = 20000
}
service anvil {
  client_limit = 20000
}
service auth {
  client_limit = 20000
}
EOF

start_posthorn() {
	( ulimit -n 20000; "$POSTHORN" serve -c "$PH/posthorn.conf" >"$WORK/posthorn.log" 2>&1 & echo $! >"$WORK/posthorn.pid" )
	sleep 1
}
start_dovecot() {
	( ulimit -n 20000; /usr/sbin/dovecot -c "$DC/dovecot.conf" )
	sleep 1
}
stop_posthorn() { kill "$(cat "$WORK/posthorn.pid")"; sleep 1; }
stop_dovecot() { kill "$(cat "$DC/run/master.pid")"; sleep 2; }

fill_users() { # port
	i=1
	while [ $i -le "$USERS" ]; do
		python3 "$HERE/fill.py" 127.0.0.1 "$1" "u$i@example.test" "$PASS" "$WORK/fill.mbox" >/dev/null
		i=$((i + 1))
	done
}

load() { # name port -> prints commands/s
	"$IMAPTEST" host=127.0.0.1 port="$2" user="u%d@example.test" users="1-$USERS" pass="$PASS" \
		mbox="$WORK/load.mbox" clients="$CLIENTS" msgs="$MSGS" secs="$SECS" seed=1 \
		>"$WORK/load-$1.log" 2>&1 || true
	errors=$(grep -c '^Error' "$WORK/load-$1.log" || true)
	total=$(awk '/^Totals:/ {getline; getline; getline; getline; s = 0; for (i = 1; i <= NF; i++) s += $i; print s}' \
		"$WORK/load-$1.log")
	echo "$1: $total commands in $SECS s = $((total / SECS))/s ($errors errors; log $WORK/load-$1.log)" >&2
	echo $((total / SECS))
}

if echo "$WHAT" | grep -q load; then
	# Both servers run; the rounds alternate (Dovecot, Posthorn, Dovecot...)
	# so that a busy neighbour on the machine hits both alike.
	echo "== load: imaptest, $CLIENTS clients, $USERS users, $ROUNDS x ${SECS}s each, $NPROC CPUs"
	start_dovecot
	start_posthorn
	fill_users "$DC_PORT"
	fill_users "$PH_PORT"
	dc=0
	ph=0
	r=1
	while [ $r -le "$ROUNDS" ]; do
		dc=$((dc + $(load dovecot-$r "$DC_PORT")))
		ph=$((ph + $(load posthorn-$r "$PH_PORT")))
		r=$((r + 1))
	done
	stop_posthorn
	stop_dovecot
	echo "dovecot:  $((dc / ROUNDS)) commands/s (mean of $ROUNDS)"
	echo "posthorn: $((ph / ROUNDS)) commands/s (mean of $ROUNDS)"
	python3 -c "print(f'ratio posthorn/dovecot: {$ph / max($dc, 1):.2f}')"
fi

if echo "$WHAT" | grep -q idle; then
	echo "== idle: $IDLE_CONNS logged-in connections"
	start_posthorn
	W=$(pgrep -P "$(cat "$WORK/posthorn.pid")")
	python3 "$HERE/idle_conns.py" 127.0.0.1 "$PH_PORT" u1@example.test "$PASS" "$IDLE_CONNS" --pids "$W" |
		sed 's/^/posthorn: /'
	stop_posthorn
	start_dovecot
	python3 "$HERE/idle_conns.py" 127.0.0.1 "$DC_PORT" u1@example.test "$PASS" "$IDLE_CONNS" \
		--pids-cmd "pgrep -f '^dovecot/|/usr/sbin/dovecot -c $DC'" | sed 's/^/dovecot:  /'
	stop_dovecot
fi

if echo "$WHAT" | grep -q big; then
	echo "== big: $BIG_MSGS messages in one INBOX"
	python3 "$HERE/gen_mbox.py" "$BIG_MSGS" "$WORK/big.mbox" --seed 3 --rare zanzibarite:5
	start_posthorn
	python3 "$HERE/fill.py" 127.0.0.1 "$PH_PORT" big1@example.test "$PASS" "$WORK/big.mbox" 2>/dev/null ||
		{ "$POSTHORN" user add big1@example.test --hash "$HASH" -c "$PH/posthorn.conf" >/dev/null;
		  python3 "$HERE/fill.py" 127.0.0.1 "$PH_PORT" big1@example.test "$PASS" "$WORK/big.mbox"; }
	echo "posthorn:"
	python3 "$HERE/timing.py" 127.0.0.1 "$PH_PORT" big1@example.test "$PASS"
	stop_posthorn
	echo "big1@example.test:{CRYPT}$HASH" >>"$DC/passwd"
	start_dovecot
	python3 "$HERE/fill.py" 127.0.0.1 "$DC_PORT" big1@example.test "$PASS" "$WORK/big.mbox"
	echo "dovecot:"
	python3 "$HERE/timing.py" 127.0.0.1 "$DC_PORT" big1@example.test "$PASS"
	stop_dovecot
fi
