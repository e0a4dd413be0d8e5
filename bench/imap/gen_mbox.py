#!/usr/bin/env python3
"""Writes an mbox of N varied messages with unique Message-IDs: plain text,
multipart/alternative, attachments, nested message/rfc822, RFC 2047
subjects, replies with References. Deterministic (seeded). Used for the
imaptest stress runs and the benchmark mailboxes.

    gen_mbox.py N OUT.mbox [--seed S] [--rare WORD:COUNT]
"""
import argparse
import base64
import random
import time

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu report meeting budget project "
         "invoice lunch schedule release server mailbox message protocol client update review").split()
NAMES = ["Alice Martin", "Bob Stone", "Chloé Durand", "Dmitri Ivanov", "Eve Adams", "Frank Li", "Grace Ng"]


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def para(rng, lines):
    return "\r\n".join(words(rng, rng.randint(6, 12)) for _ in range(lines)) + "\r\n"


def addr(rng):
    name = rng.choice(NAMES)
    local = name.split()[0].lower().replace("é", "e")
    return name, f"{local}@example{rng.randint(1, 3)}.test"


def hdr_name(name):
    if all(ord(c) < 128 for c in name):
        return name
    return "=?utf-8?b?" + base64.b64encode(name.encode()).decode() + "?="


def message(rng, i, ids, rare):
    fn, fa = addr(rng)
    tn, ta = addr(rng)
    t = 1700000000 + i * 3600 + rng.randint(0, 3000)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    subj = words(rng, rng.randint(2, 6)).capitalize()
    if rng.random() < 0.1:
        subj = "=?utf-8?q?Caf=C3=A9_" + subj.replace(" ", "_") + "?="
    mid = f"<gen.{i}.{rng.randint(0, 1 << 30)}@example.test>"
    h = [f"From: {hdr_name(fn)} <{fa}>", f"To: {hdr_name(tn)} <{ta}>", f"Date: {date}", f"Message-ID: {mid}"]
    if ids and rng.random() < 0.3:
        parent = rng.choice(ids)
        h.append(f"In-Reply-To: {parent}")
        h.append(f"References: {parent}")
        subj = "Re: " + subj
    if rng.random() < 0.2:
        h.append(f"Cc: {addr(rng)[1]}")
    h.insert(2, f"Subject: {subj}")
    text = para(rng, rng.randint(2, 30))
    if rare and i in rare[1]:
        text += f"The code word is {rare[0]}.\r\n"
    kind = rng.random()
    if kind < 0.55:
        h += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
        body = text
    elif kind < 0.8:
        h += ["MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="alt-%d"' % i]
        body = (f"--alt-{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
                f"--alt-{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{text}</p>\r\n--alt-{i}--\r\n")
    elif kind < 0.95:
        blob = base64.encodebytes(bytes(rng.getrandbits(8) for _ in range(rng.randint(200, 6000)))).decode()
        blob = blob.replace("\n", "\r\n")
        h += ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="mix-%d"' % i]
        body = (f"--mix-{i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
                f"--mix-{i}\r\nContent-Type: application/octet-stream; name=\"file{i}.bin\"\r\n"
                f"Content-Disposition: attachment; filename=\"file{i}.bin\"\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{blob}--mix-{i}--\r\n")
    else:
        inner = f"From: {fa}\r\nSubject: inner {i}\r\nMessage-ID: <inner.{i}@example.test>\r\n\r\n{para(rng, 3)}"
        h += ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="fwd-%d"' % i]
        body = (f"--fwd-{i}\r\nContent-Type: text/plain\r\n\r\nForwarded.\r\n"
                f"--fwd-{i}\r\nContent-Type: message/rfc822\r\n\r\n{inner}--fwd-{i}--\r\n")
    ids.append(mid)
    return t, "\r\n".join(h) + "\r\n\r\n" + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rare", default="", help="WORD:COUNT, a word put into COUNT messages")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rare = None
    if a.rare:
        w, c = a.rare.split(":")
        rare = (w, set(rng.sample(range(a.n), int(c))))
    ids = []
    with open(a.out, "w", newline="") as f:
        for i in range(a.n):
            t, msg = message(rng, i, ids, rare)
            f.write(time.strftime("From sender@example.test %a %b %d %H:%M:%S %Y\n", time.gmtime(t)))
            # mbox: LF line ends, ">From " quoting of body lines.
            for line in msg.split("\r\n")[:-1]:
                if line.startswith("From "):
                    line = ">" + line
                f.write(line + "\n")
            f.write("\n")


if __name__ == "__main__":
    main()
