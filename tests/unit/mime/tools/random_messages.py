"""Writes COUNT random messages (nested multiparts, message/rfc822, digests,
missing and prefix boundaries, CRLF/LF mixes, folded fields, RFC 2047/2231
values, broken addresses) to OUTDIR as rNNNN.eml, reproducibly from SEED.
SIMPLE=1 keeps addresses and Content-Types well-formed, so that every
difference from Dovecot is a structural one.

usage: random_messages.py OUTDIR COUNT SEED"""
import random, os, sys
out = sys.argv[1]; N = int(sys.argv[2]); seed = int(sys.argv[3])
random.seed(seed)
os.makedirs(out, exist_ok=True)
import os as _os
words = ["hello", "world", "=?utf-8?q?caf=C3=A9?=", "Zo\u00eb", "x"] if _os.environ.get("SIMPLE") else ["hello", "=?utf-8?q?caf=C3=A9?=", "\"quoted \\\" word\"", "x@y.org", "<a@b>", "(comment)", "Zo\u00eb", "tab\there", "a,b", ";", ":", "  ", "--", "=?iso-8859-1?b?4+Q=?="]
def rword(): return random.choice(words)
def addr():
    r = random.random()
    if _os.environ.get("SIMPLE"):
        return random.choice(["u%d@ex.org" % random.randint(0,9), "Name %d <n%d@ex.org>" % (r*10, r*10), "\"Q, R\" <q@r.s>", "G: a@b.c, d@e.f;", "=?utf-8?q?J=C3=B6?= <j@x.de>"])
    if r < 0.3: return "user%d@example.com" % random.randint(0,99)
    if r < 0.5: return "%s <u%d@ex.org>" % (rword(), random.randint(0,9))
    if r < 0.6: return "Group%d: a@b.c, %s;" % (random.randint(0,9), rword())
    if r < 0.7: return "\"%s\" <%s>" % (rword(), rword())
    if r < 0.8: return rword() + " " + rword()
    return "<@r.x:q@z.y>" if r < 0.85 else "%s@%s" % (rword(), rword())
def eol(): return random.choice(["\r\n", "\r\n", "\r\n", "\n"])
def header(fields):
    s = ""
    for k, v in fields:
        if random.random() < 0.15:
            v = v.replace(" ", eol() + random.choice([" ", "\t"]), 1)
        s += "%s: %s%s" % (k, v, eol())
    return s
def ctype():
    return random.choice(["text/plain", "text/html; charset=utf-8", "TEXT/PLAIN; CHARSET=US-ASCII",
        "application/octet-stream; name=\"f.bin\"", "image/png", "text/plain; name*0*=utf-8''%E2%82%AC; name*1=x",
        "application/pdf; name*=utf-8''a%20b.pdf", "message/rfc822", "text/plain (c); format=flowed"])
bcount = [0]
def entity(depth, in_digest=False):
    fields = []
    r = random.random()
    if depth < 4 and r < 0.3:
        bcount[0] += 1
        b = random.choice(["b%d" % bcount[0], "=_%d_x" % bcount[0], "----=_Part_%d" % bcount[0]])
        sub = random.choice(["mixed", "alternative", "related", "digest"])
        fields.append(("Content-Type", "multipart/%s; boundary=\"%s\"" % (sub, b)))
        if random.random() < 0.3: fields.append(("Content-Disposition", random.choice(["inline", "attachment; filename=x"])))
        hdr = header(fields)
        body = ""
        if random.random() < 0.3: body += "preamble" + eol()
        for i in range(random.randint(0, 4)):
            body += "--" + b + eol() + entity(depth+1, sub == "digest")
            if random.random() < 0.9: body += eol()
        if random.random() < 0.8:
            body += "--" + b + "--" + eol()
            if random.random() < 0.3: body += "epilogue" + eol()
        return hdr + eol() + body
    if depth < 4 and r < 0.4:
        fields.append(("Content-Type", "message/rfc822"))
        return header(fields) + eol() + message(depth+1)
    if in_digest and random.random() < 0.5:
        pass
    elif random.random() < 0.8:
        fields.append(("Content-Type", ctype()))
    if random.random() < 0.3: fields.append(("Content-Transfer-Encoding", random.choice(["base64", "quoted-printable", "7bit", "8BIT", "x-foo"])))
    if random.random() < 0.2: fields.append(("Content-ID", "<id%d@x>" % random.randint(0,9)))
    if random.random() < 0.2: fields.append(("Content-Description", rword()))
    if random.random() < 0.2: fields.append(("Content-Language", random.choice(["en", "en-US, fr"])))
    if random.random() < 0.1: fields.append(("Content-Location", "http://x/%d" % random.randint(0,9)))
    if random.random() < 0.1: fields.append(("Content-MD5", "abc="))
    if random.random() < 0.2: fields.append(("Content-Disposition", random.choice(["inline", "attachment; filename=\"a b\"", "attachment; filename*=utf-8''%C3%A9"])))
    hdr = header(fields)
    if random.random() < 0.05: return hdr  # no blank line, no body
    body = "".join(random.choice(["line of text", "", "--not-a-boundary", "=3D", "caf\xe9", "  spaces  "]) + eol() for _ in range(random.randint(0, 5)))
    if random.random() < 0.2: body = body.rstrip("\r\n")
    return hdr + eol() + body
def message(depth=0):
    fields = []
    if random.random() < 0.9: fields.append(("From", addr()))
    if random.random() < 0.5: fields.append(("To", ", ".join(addr() for _ in range(random.randint(1,3)))))
    if random.random() < 0.3: fields.append(("Cc", addr()))
    if random.random() < 0.2: fields.append(("Reply-To", addr()))
    if random.random() < 0.1: fields.append(("Sender", addr()))
    if random.random() < 0.8: fields.append(("Subject", " ".join(rword() for _ in range(random.randint(0,4)))))
    if random.random() < 0.7: fields.append(("Date", random.choice(["Mon, 1 Jan 2024 10:00:00 +0000", "1 Jan 24 10:00 EST", "garbage"])))
    if random.random() < 0.6: fields.append(("Message-ID", "<m%d@x>" % random.randint(0,999)))
    if random.random() < 0.2: fields.append(("In-Reply-To", "<r@x>"))
    if random.random() < 0.5: fields.append(("MIME-Version", "1.0"))
    random.shuffle(fields)
    return header(fields) + entity(depth)[0:] if False else header(fields) + entity_body(depth)
def entity_body(depth):
    e = entity(depth)
    return e
for i in range(N):
    m = message()
    open(os.path.join(out, "r%04d.eml" % i), "wb").write(m.encode("utf-8", "surrogateescape"))
