#!/usr/bin/python3
"""Appends each NAME.eml to a private Dovecot (user test, password pass, on
127.0.0.1:$DOVECOT_PORT) and writes its FETCH ENVELOPE, BODY and
BODYSTRUCTURE values, raw with literals kept, to OUTDIR/NAME.envelope,
.body and .bodystructure: the same format as the golden files.

usage: dovecot_fetch.py OUTDIR FILE.eml...   (INBOX is emptied each time)"""
import socket, sys, os, re

PORT = int(os.environ.get("DOVECOT_PORT", "60139"))

class Conn:
    def __init__(self):
        self.s = socket.create_connection(('127.0.0.1', PORT))
        self.buf = b''
        self.tag = 0
        self.readline()
    def readline(self):
        while b'\r\n' not in self.buf:
            d = self.s.recv(65536)
            if not d: raise EOFError
            self.buf += d
        i = self.buf.index(b'\r\n') + 2
        l, self.buf = self.buf[:i], self.buf[i:]
        return l
    def readn(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d: raise EOFError
            self.buf += d
        r, self.buf = self.buf[:n], self.buf[n:]
        return r
    def read_resp(self, tag):
        out = b''
        while True:
            l = self.readline()
            out += l
            m = re.search(rb'\{(\d+)\}\r\n$', l)
            if m:
                out += self.readn(int(m.group(1)))
                continue
            if l.startswith(tag + b' '):
                return out
    def cmd(self, c, lit=None):
        self.tag += 1
        tag = b'a%d' % self.tag
        if lit is not None:
            self.s.sendall(tag + b' ' + c + b' {%d+}\r\n' % len(lit) + lit + b'\r\n')
        else:
            self.s.sendall(tag + b' ' + c + b'\r\n')
        return self.read_resp(tag)

def item(resp, name):
    i = resp.index(name + b' ') + len(name) + 1
    depth = 0; j = i
    while True:
        c = resp[j:j+1]
        if c == b'"':
            j += 1
            while resp[j:j+1] != b'"':
                if resp[j:j+1] == b'\\': j += 1
                j += 1
            j += 1
            continue
        if c == b'{':
            k = resp.index(b'}', j)
            n = int(resp[j+1:k])
            j = k + 3 + n
            continue
        if c == b'(':
            depth += 1
        elif c == b')':
            depth -= 1
            if depth == 0:
                return resp[i:j+1]
        j += 1

c = Conn()
c.cmd(b'LOGIN test pass')
c.cmd(b'SELECT INBOX')
outdir = sys.argv[1]
for f in sys.argv[2:]:
    data = open(f, 'rb').read()
    c.cmd(b'UID STORE 1:* +FLAGS (\\Deleted)')
    c.cmd(b'EXPUNGE')
    r = c.cmd(b'APPEND INBOX', data)
    r = c.cmd(b'FETCH 1 (ENVELOPE)')
    env = item(r, b'ENVELOPE')
    r = c.cmd(b'FETCH 1 (BODY)')
    body = item(r, b'BODY')
    r = c.cmd(b'FETCH 1 (BODYSTRUCTURE)')
    bs = item(r, b'BODYSTRUCTURE')
    base = os.path.join(outdir, os.path.basename(f)[:-4])
    open(base + '.envelope', 'wb').write(env + b'\n')
    open(base + '.body', 'wb').write(body + b'\n')
    open(base + '.bodystructure', 'wb').write(bs + b'\n')
c.cmd(b'LOGOUT')
