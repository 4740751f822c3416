#!/bin/bash
# /auth failure limits end to end, inside the test VM with coap_offload.ko
# loaded: coapd with a budget of 3 failures regained at 6 per minute (one
# per 10 s), and a small CoAP client written here (Python, raw UDP, bound
# to chosen loopback sources) that sends /auth with good and bad signs:
# - 3 bad signs from source A for device 1 -> 4.01, the 4th -> 4.29 with
#   Max-Age; even a correct sign from A (device 2) -> 4.29;
# - another source (B) for device 2 -> 2.05; B for device 1 -> 4.29 (the
#   device's own budget is used up, whatever the source); IPv6 ::1 -> 2.05;
# - after Max-Age, A for device 1 with a good sign -> 2.05;
# - coapd computed exactly 3 HMACs for bad signs (a limited /auth reaches
#   neither registry nor HMAC) and said once per source/device that it
#   limits. TAP on stdout.
#   tests/e2e/auth_ratelimit.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
pk=a1rlPK
secret=$(openssl rand -hex 12)

echo "TAP version 13"
echo "1..15"
. "$(dirname "$0")/lib.sh"

e2e_workdir auth-ratelimit

for dn in dev1 dev2 dev3; do
	"$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" >/dev/null || break
done
result $? "registry with three devices (coapctl)"

start_coapd -v -v --auth-fail-burst 3 --auth-fail-rate 6

cat >"$work/client.py" <<'PY'
# One /auth per step, from a chosen source; prints "STATUS|description".
import hashlib, hmac, json, os, socket, struct, sys, time

port, pk, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mid = 0x1000


def auth(src, dn, good):
    global mid
    mid += 1
    fam = socket.AF_INET6 if ':' in src else socket.AF_INET
    dst = '::1' if fam == socket.AF_INET6 else '127.0.0.1'
    content = 'clientId%s.%sdeviceName%sproductKey%sseq4912' % (pk, dn, dn, pk)
    sign = hmac.new(secret.encode(), content.encode(), hashlib.md5).hexdigest()
    if not good:
        sign = '0' * 32
    body = json.dumps({'productKey': pk, 'deviceName': dn,
                       'clientId': pk + '.' + dn, 'seq': '4912',
                       'signmethod': 'hmacmd5', 'sign': sign}).encode()
    token = os.urandom(4)
    # CON POST, Uri-Path "auth" (11), Content-Format 50 (12), payload.
    msg = bytes([0x40 | len(token), 0x02]) + struct.pack('>H', mid) + token
    msg += b'\xb4auth' + b'\x11\x32' + b'\xff' + body
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(20)
    s.sendto(msg, (dst, port))
    try:
        data = s.recv(2048)
    except socket.timeout:
        return ('timeout', None)
    finally:
        s.close()
    code = '%d.%02d' % (data[1] >> 5, data[1] & 31)
    # Options after the token: find Max-Age (14).
    i, num, max_age = 4 + (data[0] & 15), 0, None
    while i < len(data) and data[i] != 0xff:
        delta, length = data[i] >> 4, data[i] & 15
        i += 1
        if delta == 13:
            delta, i = data[i] + 13, i + 1
        elif delta == 14:
            delta, i = (data[i] << 8 | data[i + 1]) + 269, i + 2
        if length == 13:
            length, i = data[i] + 13, i + 1
        elif length == 14:
            length, i = (data[i] << 8 | data[i + 1]) + 269, i + 2
        num += delta
        if num == 14:
            max_age = int.from_bytes(data[i:i + length], 'big')
        i += length
    return (code, max_age)


def check(cond, desc, got):
    print('%d|%s (got %s)' % (0 if cond else 1, desc, got), flush=True)


A, B, V6 = '127.0.0.2', '127.0.0.3', '::1'
got = [auth(A, 'dev1', False) for _ in range(3)]
check(all(g[0] == '4.01' for g in got), 'A: 3 bad signs for dev1 -> 4.01 each', got)
code, max_age = auth(A, 'dev1', False)
check(code == '4.29', 'A: a 4th bad sign -> 4.29', code)
check(max_age is not None and 1 <= max_age <= 10,
      '4.29 carries Max-Age 1..10 s, the time to the next attempt', max_age)
got = auth(A, 'dev2', True)
check(got[0] == '4.29', 'A: a good sign for another device -> 4.29 too (the source is limited)', got)
got = auth(B, 'dev2', True)
check(got[0] == '2.05', 'B: a good sign for dev2 -> 2.05 (other source, other device)', got)
got = auth(B, 'dev1', True)
check(got[0] == '4.29', 'B: dev1 -> 4.29 (the device is limited, from any source)', got)
got = auth(V6, 'dev3', True)
check(got[0] == '2.05', '::1: dev3 -> 2.05 (IPv6 source unaffected)', got)
time.sleep((max_age or 10) + 0.5)
got = auth(A, 'dev1', True)
check(got[0] == '2.05', 'after Max-Age: A, dev1, good sign -> 2.05 (recovered)', got)
got = auth(A, 'dev1', False)
check(got[0] == '4.01', 'then a bad sign is checked again -> 4.01', got)
got = auth(A, 'dev1', False)
check(got[0] == '4.29', 'and the next one is limited again (one failure regained) -> 4.29', got)
PY
# (No process substitution: the VM has no /dev/fd.)
timeout 120 python3 "$work/client.py" "$port" "$pk" "$secret" \
	>"$work/client.out" 2>&1
seen=0
while IFS='|' read -r status desc; do
	case $status in
	0|1) result "$status" "$desc"; seen=$((seen + 1)) ;;
	*) echo "# $status${desc:+|$desc}" ;;
	esac
done <"$work/client.out"
while [ $seen -lt 10 ]; do
	result 1 "client result $((seen + 1)) missing"
	seen=$((seen + 1))
done

# A limited /auth reaches neither the registry nor the HMAC: 4 bad signs
# were checked (3, then 1 after the recovery), no more.
bad=$(grep -c 'bad sign' "$log")
[ "$bad" = 4 ]
result $? "coapd checked 4 bad signs, no limited one ($bad)"
# Two episodes each for source A and dev1: the first burst, and the bad sign
# right after the recovery.
[ "$(grep -c 'source limited$' "$log")" = 2 ] &&
	[ "$(grep -c "auth $pk/dev1: too many failures: limited" "$log")" = 2 ]
result $? "coapd says once per episode that a source or a device is limited"
stop_coapd
exit 0
