#!/bin/sh
# IMAP conformance with Dovecot's imaptest: its scripted test groups
# (src/tests: base protocol and extensions) and, with STRESS=seconds, its
# stress mode (many clients, random commands, state checked across
# sessions) against a fresh private Posthorn on loopback.
#
#   bench/imap/conformance.sh                 scripted tests
#   STRESS=300 bench/imap/conformance.sh      scripted tests, then 5 minutes of stress
#
# Needs imaptest built beside the project (see README, "IMAP conformance");
# IMAPTEST points at its binary, TESTS at its src/tests directory.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
POSTHORN=${POSTHORN:-$HERE/../../posthorn}
IMAPTEST=${IMAPTEST:-/work/imaptest-build/src/src/imaptest}
TESTS=${TESTS:-$(dirname "$IMAPTEST")/tests}
WORK=${WORK:-/tmp/ph-imap-conformance}
PORT=${PORT:-14393}
STRESS=${STRESS:-0}
PASS=conformance-pass
[ -x "$IMAPTEST" ] || { echo "imaptest not found at $IMAPTEST (set IMAPTEST)"; exit 1; }
# imaptest links against Dovecot's private library directory.
export LD_LIBRARY_PATH=/usr/lib/dovecot${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -d "$TESTS" ] || { echo "imaptest test scripts not found at $TESTS (set TESTS)"; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
chmod 755 "$WORK"
"$POSTHORN" init --domain example.test --dir "$WORK/ph" --hostname mx.example.test >/dev/null
sed -i 's/^listen .*//; s/^log_level .*/log_level warn/' "$WORK/ph/posthorn.conf"
[ "$(id -u)" = 0 ] && sed -i 's/^run_user .*/run_user nobody/' "$WORK/ph/posthorn.conf"
cat >>"$WORK/ph/posthorn.conf" <<EOC
listen imap 127.0.0.1:$PORT
allow_plaintext_loopback yes
max_connections_per_ip 1000
EOC
for u in testuser testuser2; do
	printf '%s\n%s\n' "$PASS" "$PASS" | "$POSTHORN" user add "$u@example.test" -c "$WORK/ph/posthorn.conf" >/dev/null
done
"$POSTHORN" serve -c "$WORK/ph/posthorn.conf" >"$WORK/posthorn.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
trap 'exit 1' INT TERM HUP PIPE
sleep 1

# Scripted tests: imaptest prints one line per failing test and a summary
# "N test groups: F failed, S skipped due to missing capabilities" plus
# "base protocol: F/N individual commands failed" and the same for extensions.
"$IMAPTEST" host=127.0.0.1 port=$PORT user=testuser@example.test user2=testuser2@example.test \
	pass=$PASS test="$TESTS" >"$WORK/scripted.log" 2>&1 || true
tail -n 4 "$WORK/scripted.log"
echo "(full output: $WORK/scripted.log)"

if [ "$STRESS" -gt 0 ]; then
	python3 "$HERE/gen_mbox.py" 300 "$WORK/stress.mbox" --seed 3
	"$IMAPTEST" host=127.0.0.1 port=$PORT user=testuser@example.test pass=$PASS \
		mbox="$WORK/stress.mbox" clients=30 secs="$STRESS" >"$WORK/stress.log" 2>&1 || true
	errors=$(grep -c '^Error' "$WORK/stress.log" || true)
	echo "stress: $STRESS s, $errors errors (full output: $WORK/stress.log)"
	tail -n 5 "$WORK/stress.log"
fi
