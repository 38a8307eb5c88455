#!/usr/bin/env python3
"""Write a .deb (ar archive) byte by byte, including ones dpkg-deb refuses to build.

python3 stdlib only; zstd compression shells out to the `zstd` CLI.

usage: debwriter.py OUT [options]

The archive is `debian-binary`, `control.tar[.EXT]`, `data.tar[.EXT]` unless
told otherwise.  Every timestamp is SOURCE_DATE_EPOCH (default 1700000000),
owners are root:root, so the output is a pure function of the arguments.

Control member:
  --control FILE          bytes of ./control, copied verbatim (CRLF, latin-1...)
  --control-entry NAME=FILE  add another entry to the control tar (repeatable),
                          e.g. ./md5sums=path; NAME is used verbatim.
  --control-name NAME     tar entry name of the control file (default ./control)
  --no-control-file       leave the control file out of the control tar
  --ctrl-comp C           none|gz|xz|zst|bz2|lzma (default gz)
Data member:
  --data-file NAME=TEXT   a regular file in data.tar (repeatable; default one
                          ./usr/share/doc/fixture/README)
  --data-comp C           none|gz|xz|zst|bz2|lzma (default xz)
ar container:
  --ar-names S            gnu (`name/`), bsd (`name` space padded, as dpkg-deb
                          writes it) or bsd44 (`#1/LEN` + name in the data)
  --debian-binary TEXT    contents of debian-binary (Python escapes; default 2.0\\n)
  --members LIST          comma list of member roles in order, from
                          debian-binary,control,data,extra (default
                          debian-binary,control,data); omit one to leave it out
  --extra-member NAME=TEXT  member used for the role `extra`
  --member-name ROLE=NAME override the ar member name of a role
                          (e.g. control=control.tar.bz2 with --ctrl-comp bz2)
Breakage:
  --lie-size N            write N as the ar size of the last member (its data
                          is still the real one)
  --truncate N            cut the finished file to N bytes
"""

import argparse
import bz2
import gzip
import io
import lzma
import os
import subprocess
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))
EXT = {"none": "", "gz": ".gz", "xz": ".xz", "zst": ".zst", "bz2": ".bz2", "lzma": ".lzma"}


def compress(data: bytes, how: str) -> bytes:
    if how == "none":
        return data
    if how == "gz":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if how == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)
    if how == "lzma":
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    if how == "bz2":
        return bz2.compress(data, 9)
    if how == "zst":
        return subprocess.run(["zstd", "-q", "-19", "-c"], input=data,
                              stdout=subprocess.PIPE, check=True).stdout
    raise SystemExit(f"debwriter: unknown compression {how!r}")


def make_tar(entries) -> bytes:
    """entries: list of (name, bytes-or-None); None means a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = EPOCH
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.mode = 0o644
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        end = tf.offset
    # End-of-archive is two zero blocks; drop tarfile's padding to a full
    # 10 KiB record to keep the fixtures small.
    return buf.getvalue()[:end] + b"\0" * 1024


def dirs_of(names):
    out = ["./"]
    for n in names:
        parts = n.strip("./").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "./" + "/".join(parts[:i]) + "/"
            if d not in out:
                out.append(d)
    return out


def ar_member(name: str, data: bytes, style: str, size_override=None) -> bytes:
    if style == "gnu":
        ident, payload = name + "/", data
    elif style == "bsd":
        ident, payload = name, data
    elif style == "bsd44":
        ident, payload = "#1/%d" % len(name), name.encode() + data
    else:
        raise SystemExit(f"debwriter: unknown ar name style {style!r}")
    if len(ident) > 16:
        raise SystemExit(f"debwriter: ar name {ident!r} too long for style {style}")
    size = len(payload) if size_override is None else size_override
    hdr = b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (ident.encode(), EPOCH, 0, 0, b"100644", size)
    assert len(hdr) == 60
    pad = b"\n" if len(payload) % 2 else b""
    return hdr + payload + pad


def kv(s):
    if "=" not in s:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {s!r}")
    return tuple(s.split("=", 1))


def unescape(s: str) -> bytes:
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--control")
    p.add_argument("--control-entry", type=kv, action="append", default=[])
    p.add_argument("--control-name", default="./control")
    p.add_argument("--no-control-file", action="store_true")
    p.add_argument("--ctrl-comp", default="gz", choices=EXT)
    p.add_argument("--data-file", type=kv, action="append", default=[])
    p.add_argument("--data-comp", default="xz", choices=EXT)
    p.add_argument("--ar-names", default="bsd", choices=["gnu", "bsd", "bsd44"])
    p.add_argument("--debian-binary", default="2.0\\n")
    p.add_argument("--members", default="debian-binary,control,data")
    p.add_argument("--extra-member", type=kv)
    p.add_argument("--member-name", type=kv, action="append", default=[])
    p.add_argument("--lie-size", type=int)
    p.add_argument("--truncate", type=int)
    a = p.parse_args(argv)

    ctrl_entries = [("./", None)]
    if not a.no_control_file:
        if a.control is None:
            p.error("--control is required unless --no-control-file")
        with open(a.control, "rb") as f:
            ctrl_entries.append((a.control_name, f.read()))
    for name, path in a.control_entry:
        with open(path, "rb") as f:
            ctrl_entries.append((name, f.read()))

    files = a.data_file or [("./usr/share/doc/fixture/README", "fixture\n")]
    data_entries = [(d, None) for d in dirs_of([n for n, _ in files])]
    data_entries += [(n, unescape(t)) for n, t in files]

    names = {
        "debian-binary": "debian-binary",
        "control": "control.tar" + EXT[a.ctrl_comp],
        "data": "data.tar" + EXT[a.data_comp],
        "extra": a.extra_member[0] if a.extra_member else "extra",
    }
    names.update(dict(a.member_name))
    bodies = {
        "debian-binary": unescape(a.debian_binary),
        "control": compress(make_tar(ctrl_entries), a.ctrl_comp),
        "data": compress(make_tar(data_entries), a.data_comp),
        "extra": unescape(a.extra_member[1]) if a.extra_member else b"",
    }
    roles = [r for r in a.members.split(",") if r]
    out = bytearray(b"!<arch>\n")
    for i, role in enumerate(roles):
        last = i == len(roles) - 1
        out += ar_member(names[role], bodies[role], a.ar_names,
                         a.lie_size if last else None)
    if a.truncate is not None:
        out = out[: a.truncate]
    d = os.path.dirname(a.out)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(a.out, "wb") as f:
        f.write(out)
    os.utime(a.out, (EPOCH, EPOCH))


if __name__ == "__main__":
    main(sys.argv[1:])
