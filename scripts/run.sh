#!/bin/sh
# `make run`: on first use, initialise ./run (config, data folder, self-signed
# certificate, domain example.test, user demo@example.test with a generated
# password printed once), then serve in the foreground on the development
# ports. Ctrl-C stops the server.
set -e
BIN=./posthorn
DIR=run
CONF=$DIR/posthorn.conf
DOMAIN=example.test
if [ "$(id -u)" = 0 ] && ! id posthorn >/dev/null 2>&1; then
  # Started as root the server drops to this user after binding its ports.
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin posthorn
fi
if [ ! -f "$CONF" ]; then
  $BIN init --domain $DOMAIN --hostname mail.$DOMAIN --dir $DIR >/dev/null
  PASSWORD=$($BIN user add demo@$DOMAIN --random -c $CONF | sed -n 's/^password: //p')
  cat <<MSG

  Posthorn is set up in ./$DIR with the domain $DOMAIN.
  Demo account: demo@$DOMAIN   password: $PASSWORD
  (shown this once; change it with: ./posthorn user passwd demo@$DOMAIN -c $CONF)
MSG
fi
cat <<MSG

  Send a message to the demo user (SMTP, port 2525):
    swaks --server 127.0.0.1:2525 --to demo@$DOMAIN --from someone@elsewhere.test
  Send as the demo user (submission with STARTTLS and AUTH, port 2587; 2465 for implicit TLS):
    swaks --server 127.0.0.1:2587 --tls --auth PLAIN --auth-user demo@$DOMAIN \\
          --from demo@$DOMAIN --to demo@$DOMAIN
  Read the mailbox:
    webmail: https://127.0.0.1:8443/  (or http://127.0.0.1:8080/), log in as demo@$DOMAIN
    curl -k "imaps://127.0.0.1:2993/INBOX;UID=1" -u demo@$DOMAIN    (the first message)
    curl -k pop3s://127.0.0.1:2995/ -u demo@$DOMAIN          (list; add a number for a message)
    ./posthorn export demo@$DOMAIN -c $CONF
  Mail client settings: server 127.0.0.1, user demo@$DOMAIN, normal password,
    incoming IMAP 2143 (STARTTLS) or 2993 (SSL/TLS), or POP3 2110 (STARTTLS) or 2995 (SSL/TLS);
    outgoing SMTP 2587 (STARTTLS) or 2465 (SSL/TLS);
    the certificate is self-signed: accept it once.

  Serving now (Ctrl-C to stop); log lines follow.

MSG
exec $BIN serve -c $CONF
