#!/usr/bin/env python3
"""Writes the reader's test fixtures into this folder (run it from anywhere; the output is
committed, so tests never need python). Every variant holds the same small data set, the one
test_reader.c's check_basic() expects; the zips and gzips are byte-for-byte reproducible
(fixed timestamps)."""
import gzip
import io
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

HEADER = ["item_id", "timestamp", "target_value", "region"]
ROWS = [
    ["b", "2024-01-01", "1.5", "north"],
    ["b", "2024-01-02", "2", "north"],
    ["a", "2024-01-03", "10", "south"],
    ["a", "2024-01-01", "8", "south"],
    ["a", "2024-01-02", "NA", "south"],
    ["b", "2024-01-04", "4", "north"],
    ["a", "2024-01-03", "11", "south"],
]


def table(sep="," , eol="\n", quote_all=False):
    def cell(v):
        return '"' + v.replace('"', '""') + '"' if quote_all else v
    lines = [sep.join(cell(v) for v in HEADER)] + [sep.join(cell(v) for v in r) for r in ROWS]
    return eol.join(lines) + eol


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as g:
        g.write(data)
    return buf.getvalue()


def zipped(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            if name.endswith("/"):
                info.external_attr = 0o40755 << 16 | 0x10
                z.writestr(info, b"")
            else:
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
    return buf.getvalue()


csv = table().encode()
tsv = table(sep="\t").encode()
write("basic.csv", csv)
write("basic.tsv", tsv)
write("crlf.csv", table(eol="\r\n").encode())
write("cr.csv", table(eol="\r").encode())
write("bom.csv", b"\xef\xbb\xbf" + csv)
write("quoted.csv", table(quote_all=True, eol="\r\n").encode())
write("spaces.csv", table(sep=" , ").encode())
write("noext.txt", tsv)  # tab detected from the header
write("basic.csv.gz", gz(csv))
write("basic.tsv.gz", gz(tsv))
write("gzip-named.csv", gz(csv))  # compression is found by content, not by name
write("empty.csv", b"")
write("empty.csv.gz", gz(b""))
write("header-only.csv", b"item_id,timestamp,target\n")
write("utf16.csv", "item_id,timestamp,target\n".encode("utf-16"))

junk = [("__MACOSX/", b""), ("__MACOSX/data/._TTS.csv", b"\0\5junk"), ("data/.DS_Store", b"\0")]
write("tts-folder.zip", zipped([("data/", b""), ("readme.txt", b"not data"),
                                ("data/other.csv", b"x,y\n1,2\n"), ("data/TTS.csv", csv)] + junk))
write("tts-lower.zip", zipped([("tts.CSV", csv), ("b.csv", b"x\n")]))
write("single.zip", zipped([("notes.md", b"# notes"), ("export/sales.tsv", tsv)]))
write("several.zip", zipped([("a.csv", csv), ("b/b.csv", csv), ("c.TSV", tsv), ("d.csv", csv)]))
write("none.zip", zipped([("readme.txt", b"nothing here")] + junk))
write("two-tts.zip", zipped([("x/TTS.csv", csv), ("y/tts.csv", csv)]))
bad = table().replace("2024-01-02,2,", "2024-01-02,2x,").encode()
write("bad-member.zip", zipped([("in/TTS.csv", bad)]))
