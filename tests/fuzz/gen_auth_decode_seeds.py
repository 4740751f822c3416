#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of fuzz_auth_decode (tests/fuzz/corpus/auth_decode/).

/auth bodies as devices send them (PROTOCOL.md), in JSON and in CBOR, plus a
few hostile ones. The CBOR encoder here is a second one, independent of
libcbor (RFC 8949 major types 0, 3, 4 and 5 are all it needs). The seeds are
committed; run this only to change them.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "auth_decode")


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(v):
    if isinstance(v, int):
        return head(0, v)
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, tuple):  # a map as (key, value) pairs: duplicates allowed
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v)
    raise TypeError(v)


PK, DN = "a1RP1qZfrEi", "example1"
BASE = {"productKey": PK, "deviceName": DN, "clientId": PK + "." + DN,
        "seq": "4912", "signmethod": "hmacmd5",
        "sign": "d927694052c4edbbe79da64e0314ef16"}


def variant(**kw):
    d = dict(BASE)
    for k, v in kw.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


SEEDS = {
    "md5_seq_string": BASE,
    "seq_number_sha256": variant(seq=4912, signmethod="hmacsha256",
                                 timestamp=1524448722000, sign="ab" * 32),
    "no_signmethod_pk_and_dn": variant(signmethod=None,
                                       clientId=PK + "&" + DN, seq="1330"),
    "ackmode_cipher_extras": variant(ackMode=1, cipher="aes-128-ctr",
                                     version="1.0", resources="x"),
    "sixteen_fields": dict(BASE, **{"f%02d" % i: "v" for i in range(10)}),
}


def write(name, data):
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, d in SEEDS.items():
        write("json_" + name, json.dumps(d, separators=(",", ":")).encode())
        write("cbor_" + name, cbor(tuple(d.items())))
    write("json_pretty", json.dumps(BASE, indent=2).encode() + b"\n")
    write("json_array", b'["productKey","a1"]')
    write("json_nested", b'{"productKey":{"a":1}}')
    write("json_nul_value", b'{"productKey":"a\\u0000b"}')
    write("cbor_duplicate_key",
          cbor((("productKey", PK), ("productKey", "other"))))
    write("cbor_indefinite_map", b"\xbf" + cbor("seq") + cbor(1) + b"\xff")
    # An array head declaring 2.3 G items: libcbor allocated 18 GB for it.
    write("cbor_array_of_gigabytes",
          head(5, 1) + cbor("seq") + b"\x9a\x88\x68\x6f\x64")
    # -1 (major type 1): coapd takes unsigned integers only.
    write("cbor_negative_int", head(5, 1) + cbor("seq") + b"\x20")


if __name__ == "__main__":
    main()
