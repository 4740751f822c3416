#!/bin/bash
# coapd --no-offload on the host: no coap_offload.ko anywhere. A temporary
# registry (coapctl), coapd on a random high port under valgrind when it is
# installed, libcoap's coap-device authenticating and publishing in both
# suites (CON and NON), a foreign topic, a flood of hostile datagrams, then
# session expiry by lifetime and by idle time. The fast path's finer
# decisions (replay, answer cache, option 61, window, 4.01/4.02/4.04) are
# tests/e2e/device-client.c's, which tests/run-all runs against both modes
# through auth_publish.sh. TAP on stdout.
#   tests/e2e/nooffload.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
pk=a1noPK
dn=dev1
secret=$(openssl rand -hex 12)

echo "TAP version 13"
echo "1..19"
. "$(dirname "$0")/lib.sh"

e2e_workdir nooffload

port=$(free_port)
device() { # coap-device arguments...
	timeout 60 "$build/coap-device" -p "$port" --pk "$pk" --dn "$dn" \
		--secret "$secret" "$@"
}

# 1
"$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" >/dev/null
result $? "registry with a device (coapctl)"

# 2: without the flag and without the module, coapd says what to do.
if [ -d /sys/module/coap_offload ]; then
	result 0 "# SKIP coap_offload.ko is loaded here: no missing-module error to see"
else
	timeout 10 "$build/coapd" -f -p "$port" -r "$db" >/dev/null 2>"$work/nomod.log"
	status=$?
	[ $status = 1 ] && grep -q -- '--no-offload' "$work/nomod.log"
	status=$?
	[ $status = 0 ] || show "$work/nomod.log"
	result $status "no module, no --no-offload: coapd exits 1 and points at --no-offload"
fi

# 3: valgrind when installed: the user-space path must not leak or err.
if command -v valgrind >/dev/null; then
	COAPD_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
fi
start_coapd --no-offload

# 4..7: both suites, CON, several messages each; a NON batch.
for cipher in aes-128-cbc aes-128-ctr; do
	device --cipher "$cipher" --signmethod hmacsha256 \
		--payload '{"n":{n},"seq":{seq}}' run --messages 5 >"$work/run.out" 2>&1
	status=$?
	[ $status = 0 ] && [ "$(grep -c ': 2.05 id [0-9a-f]\{16\} ' "$work/run.out")" = 5 ] &&
		grep -q '^summary: 1 devices, 5 sent, 5 ok, 0 failed' "$work/run.out"
	status=$?
	[ $status = 0 ] || show "$work/run.out"
	result $status "coap-device $cipher: 5 CON publishes -> 5 x 2.05 + message id"
done
device --cipher aes-128-ctr --non run --messages 3 >"$work/non.out" 2>&1
status=$?
[ $status = 0 ] && grep -q '^summary: 1 devices, 3 sent, 0 ok, 0 failed, 3 unanswered' "$work/non.out"
status=$?
[ $status = 0 ] || show "$work/non.out"
result $status "coap-device NON publishes: no answer (as the module)"

# 8: another device's topic.
device --topic "/$pk/someone-else/user/update" publish >"$work/forbidden.out" 2>&1
status=$?
[ $status = 2 ] && grep -q ': 4.03$' "$work/forbidden.out" &&
	grep -q '^failed: 4.03 x1$' "$work/forbidden.out"
status=$?
[ $status = 0 ] || show "$work/forbidden.out"
result $status "publish to another device's topic -> 4.03 (coap-device exits 2)"

# 9: hostile datagrams, v4 and v6: truncated, malformed options, huge and
# lying lengths, oversized, token options of every length, /topic with
# garbage seq and payload. Nothing may crash coapd.
python3 - "$port" >"$work/flood.out" 2>&1 <<'PY'
import os, random, socket, sys, time
port = int(sys.argv[1])
rnd = random.Random(7)
def opt(delta, value):
    def ext(v):
        if v < 13: return v, b''
        if v < 269: return 13, bytes([v - 13])
        return 14, (v - 269).to_bytes(2, 'big')
    dn, de = ext(delta); ln, le = ext(len(value))
    return bytes([dn << 4 | ln]) + de + le + value
def publish(token, seq, payload, mid):
    o = opt(11, b'topic') + opt(0, b'a1noPK') + opt(0, b'dev1') + opt(0, b'x')
    o += opt(2088 - 11, token) + opt(1, seq)
    return bytes([0x40, 0x02, mid >> 8, mid & 255]) + o + (b'\xff' + payload if payload else b'')
pkts = [b'', b'\x40', b'\x40\x02', b'\x40\x02\x00', b'\xff' * 1400,
        b'\x4f\x02\x00\x01' + b'A' * 15, b'\x40\x02\x00\x02\xff',
        b'\x40\x02\x00\x03\xdd', b'\x40\x02\x00\x04\xee\xff',
        b'\x40\x02\x00\x05\x0f', b'\x40\x02\x00\x06\xf0',
        b'\x40\x02\x00\x07\xbd\xff' + b'x' * 20,
        bytes([0x40, 0x02, 0, 8]) + opt(11, b'topic') + bytes([0xe1, 0xff, 0xff, 0x41])]
for n in range(0, 300, 7):
    pkts.append(publish(b't' * n, os.urandom(16), os.urandom(rnd.randrange(0, 64)), n))
    pkts.append(publish(b't' * 32, os.urandom(rnd.randrange(0, 40)), b'', n + 1))
for n in range(600):
    pkts.append(bytes([0x40 | rnd.randrange(16), rnd.randrange(256)]) +
                os.urandom(rnd.randrange(0, 300)))
sent = 0
for fam, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for p in pkts:
        s.sendto(p, (addr, port)); sent += 1
        # Paced, so that all of them reach coapd (under valgrind, too).
        if sent % 20 == 0:
            time.sleep(0.02)
    s.close()
print('# sent %d hostile datagrams' % sent)
PY
cat "$work/flood.out"
sleep 1
kill -0 "$coapd_pid" 2>/dev/null
result $? "coapd survives $(grep -o '[0-9]* hostile' "$work/flood.out" || echo 'the') datagrams"

# 10: and still serves.
device --payload after-flood publish >"$work/after.out" 2>&1
status=$?
[ $status = 0 ] || show "$work/after.out"
result $status "a publish after the flood -> 2.05"

# 11: the sink: exactly the 5 + 5 + 3 + 1 delivered publishes, each once,
# with their plaintext.
python3 - "$sink" "$pk" "$dn" >"$work/sink-check.out" 2>&1 <<'PY'
import json, sys
sink, pk, dn = sys.argv[1:4]
msgs = [json.loads(l) for l in open(sink).read().splitlines()]
bad = 0
if len(msgs) != 14:
    print('# %d lines, want 14' % len(msgs)); bad += 1
if len({m['id'] for m in msgs}) != len(msgs):
    print('# a message id twice'); bad += 1
for m in msgs:
    p = m.get('payload')
    # CON runs: {"n":N,"seq":S}; the NON run: "hello N"; then after-flood.
    ok = p == 'after-flood' or (p or '').startswith('hello ')
    if p and p.startswith('{'):
        ok = json.loads(p).get('seq') == m['seq']
    if not ok or m['productKey'] != pk or m['deviceName'] != dn or \
       m['topic'] != '/%s/%s/user/update' % (pk, dn):
        print('# unexpected: %r' % m); bad += 1
sys.exit(1 if bad else 0)
PY
status=$?
cat "$work/sink-check.out"
result $status "the sink holds each of the 14 delivered publishes once, in plaintext"

# 12: clean exit (under valgrind: no error, no definite leak).
stop_coapd
grep -E 'no-offload:' "$log" | show
rx=$(sed -n 's/.*no-offload: [0-9]* sessions; rx \([0-9]*\) .*/\1/p' "$log")
sent=$(grep -o '[0-9]* hostile' "$work/flood.out" | cut -d' ' -f1)
[ -n "$rx" ] && [ -n "$sent" ] && [ "$rx" -ge "$sent" ]
result $? "its counters at exit: every hostile datagram was read (rx ${rx:-?} >= ${sent:-?})"

# 14..17: expiry, by lifetime and by idle time: the device gets 4.01 and
# authenticates again; the sweep or the lookup removed the session.
unset COAPD_WRAPPER
: >"$log"
start_coapd --no-offload --token-lifetime 2
device run --messages 2 --interval 3000 >"$work/life.out" 2>&1
status=$?
[ $status = 0 ] && grep -q ': 4.01, authenticating again$' "$work/life.out" &&
	grep -q '^summary: 1 devices, 2 sent, 2 ok, 0 failed, 0 unanswered, 1 re-auths' "$work/life.out"
status=$?
[ $status = 0 ] || show "$work/life.out"
result $status "token lifetime 2 s: a publish 3 s later -> 4.01, re-auth, 2.05"
stop_coapd
grep -q 'expired [1-9]' "$log"
result $? "the expired session was counted"
: >"$log"
start_coapd --no-offload --idle-timeout 2
device run --messages 3 --interval 1000 >"$work/busy.out" 2>&1 &&
	! grep -q '4.01' "$work/busy.out" &&
	device run --messages 2 --interval 3000 >"$work/idle.out" 2>&1 &&
	grep -q ': 4.01, authenticating again$' "$work/idle.out"
status=$?
[ $status = 0 ] || show "$work/busy.out" "$work/idle.out"
result $status "idle timeout 2 s: publishes 1 s apart keep it; 3 s apart -> 4.01, re-auth"
stop_coapd
exit 0
