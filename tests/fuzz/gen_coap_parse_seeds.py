#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Write the seed corpus of fuzz_coap_parse (tests/fuzz/corpus/coap_parse/).

Independent of the C code on purpose: a second encoder of RFC 7252 §3.
Run from anywhere; the seeds are committed, so this is only needed to
change them.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "coap_parse")

CON, NON, ACK, RST = range(4)
POST, CONTENT = 0x02, 0x45


def ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack(">H", v - 269)


def msg(mtype, code, mid, token=b"", options=(), payload=b""):
    out = bytearray([0x40 | mtype << 4 | len(token), code])
    out += struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        dn, dx = ext(num - last)
        ln, lx = ext(len(val))
        out += bytes([dn << 4 | ln]) + dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def uint(v):
    n = (v.bit_length() + 7) // 8
    return v.to_bytes(n, "big")


TOKEN = b"1f0e3dad99908345f7439f8ffabdffc4b5c6ad0d3a1fe1a1d48f47e8ec9b2de"
SEQ_CT = bytes.fromhex("6f3a0c1e5b9d27c4a8e1f0b3d2c59a71")

SEEDS = {
    "auth_request": msg(CON, POST, 0x0001, b"\x01\x02\x03\x04", [
        (11, b"auth"), (12, uint(50)), (17, uint(50))],
        b'{"productKey":"a1RP1qZfrEi","deviceName":"example1",'
        b'"clientId":"a1RP1qZfrEi.example1",'
        b'"sign":"d927694052c4edbbe79da64e0314ef16","seq":"4912"}'),
    "auth_response": msg(ACK, CONTENT, 0x0001, b"\x01\x02\x03\x04", [],
        b'{"random":"0123456789abcdef","seqOffset":4912,"token":"'
        + TOKEN + b'"}'),
    "publish": msg(CON, POST, 0x0002, b"\xaa\xbb", [
        (11, b"topic"), (11, b"a1PK"), (11, b"dev1"), (11, b"user"),
        (11, b"update"), (2088, TOKEN), (2089, SEQ_CT)],
        bytes(range(32))),
    "publish_alias_61": msg(NON, POST, 0x0003, b"", [
        (11, b"topic"), (11, b"sys"), (61, TOKEN), (2089, SEQ_CT)],
        b"\x10" * 16),
    "publish_ack": msg(ACK, CONTENT, 0x0002, b"\xaa\xbb", [
        (2090, struct.pack(">Q", 42))]),
    "empty_ack": msg(ACK, 0, 0x0002),
    "empty_rst": msg(RST, 0, 0xffff),
    "decimal_payload": msg(CON, POST, 7, b"t", [(11, b"x")], b"004913"),
    "big_option": msg(CON, POST, 8, b"12345678", [
        (3, b"h" * 12), (65535, b"v" * 300)], b"p"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        assert len(data) <= 1280
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
