#!/bin/sh
# Installs the Debian packages Posthorn needs to build, run and test.
# As root it runs apt-get; otherwise it prints the exact line to run and stops.
set -e
BUILD="build-essential pkg-config clang libevent-dev libssl-dev libsqlite3-dev
       libunbound-dev libjansson-dev zlib1g-dev libcrypt-dev libclang-rt-14-dev openssl"
TEST="python3-pytest python3-dkim python3-dnspython swaks curl nsd postfix isync
      dovecot-imapd dovecot-pop3d chromium"
PKGS=$(echo $BUILD $TEST)
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "posthorn: missing Debian packages. Run as root:" >&2
  echo "  apt-get install -y$missing" >&2
  exit 1
fi
echo "posthorn: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Peer servers (postfix, dovecot, nsd) are only references for tests and
# benchmarks: keep their packaged services from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get install -y -qq $missing >/dev/null
