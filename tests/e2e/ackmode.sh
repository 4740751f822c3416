#!/bin/bash
# End to end, inside the test VM with coap_offload.ko loaded: ackMode 1.
# coapd with a short ACK_TIMEOUT (so that a full backoff fits in seconds);
# tests/e2e/ackmode-device.c gets the module's empty ACK, then coapd's
# separate CON 2.05 + 2090 and ACKs it (IPv4), resets it (IPv6) or never
# answers (coapd retransmits with doubling waits, then gives up); libcoap's
# coap-device --ack-mode 1 counts only the separate 2.05; ackMode 0 is
# answered piggy-backed as before. Every message is in the sink once.
# TAP on stdout.
#   tests/e2e/ackmode.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
pk=a1ackPK
dn=dev1
secret=$(openssl rand -hex 12)
ack_timeout=200
max_retransmit=4

device_tests=16
echo "TAP version 13"
echo "1..$((device_tests + 11))"
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/ackmode.XXXXXX)
db=$work/registry.db
sink=$work/sink.jsonl
log=$work/coapd.log
cleanup() {
	[ -n "$coapd_pid" ] && kill "$coapd_pid" 2>/dev/null
	if [ -n "${COAP_VM_OUT:-}" ]; then
		cp "$log" "$COAP_VM_OUT/ackmode-coapd.log" 2>/dev/null
		cp "$sink" "$COAP_VM_OUT/ackmode-sink.jsonl" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

"$build/e2e/registry-add" "$db" "$pk" "$dn" "$secret"
result $? "registry with a device"

start_coapd -v -v --ack-timeout "$ack_timeout" --max-retransmit "$max_retransmit"

# The device's results, numbered into this plan; missing ones fail.
seen=0
for run in "4 ack" "6 rst" "4 silent"; do
	set -- $run
	"$build/e2e/ackmode-device" "$1" "$port" "$pk" "$dn" "$secret" "$2" \
		"$ack_timeout" "$max_retransmit" "$work/expected" >"$work/device.out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok - "*) result 0 "IPv$1 ${line#ok - }"; seen=$((seen + 1)) ;;
		"not ok - "*) result 1 "IPv$1 ${line#not ok - }"; seen=$((seen + 1)) ;;
		*) echo "$line" ;;
		esac
	done <"$work/device.out"
done
while [ $seen -lt $device_tests ]; do
	seen=$((seen + 1))
	result 1 "ackmode-device result $seen missing"
done

[ "$(grep -c 'giving up' "$log")" = 1 ]
result $? "coapd gave up once (the silent device), and logged it"

# libcoap's side: the empty ACK, then the separate 2.05 with 2090, ACKed.
timeout 120 "$build/coap-device" -p "$port" --pk "$pk" --dn "$dn" \
	--secret "$secret" --ack-mode 1 --messages 3 run >"$work/cd1.out" 2>&1
status=$?
show "$work/cd1.out"
result $status "coap-device --ack-mode 1: 3 publishes, exit 0"
[ "$(grep -c ': 2.05 id [0-9a-f]\{16\} ' "$work/cd1.out")" = 3 ] &&
	grep -q ' 3 sent, 3 ok, 0 failed' "$work/cd1.out"
result $? "coap-device --ack-mode 1: each result is a 2.05 with its 2090"
[ "$(grep -c 'separate response .*acknowledged' "$log")" = 4 ]
result $? "coapd saw its separate responses ACKed (1 raw device + 3 libcoap)"

timeout 60 "$build/coap-device" -p "$port" --pk "$pk" --dn "$dn" \
	--secret "$secret" --ack-mode 0 publish >"$work/cd0.out" 2>&1 &&
	grep -q ': 2.05 id [0-9a-f]\{16\} ' "$work/cd0.out"
result $? "coap-device --ack-mode 0: piggy-backed 2.05 with 2090"
[ "$(grep -c 'separate response [0-9]* sent' "$log")" = 6 ]
result $? "coapd sent separate responses only for ackMode 1 (6)"
sed -n 's/.*: 2\.05 id \([0-9a-f]\{16\}\) .*/\1/p' "$work/cd1.out" \
	"$work/cd0.out" >"$work/cd-ids"

python3 - "$work/expected" "$work/cd-ids" "$sink" >"$work/sink-check.out" 2>&1 <<'PY'
import json, sys
expf, idsf, sinkf = sys.argv[1:4]
want = [int(l.split('\t')[0]) for l in open(expf) if l.strip()]
want += [int(l, 16) for l in open(idsf).read().split()]
msgs = [json.loads(l) for l in open(sinkf).read().splitlines()]
bad = 0
for i in want:
    n = sum(1 for m in msgs if m.get('id') == i)
    if n != 1:
        print('message %d found %d times' % (i, n)); bad += 1
if len(want) != 7:
    print('%d messages known, want 7' % len(want)); bad += 1
print('%d lines in the sink' % len(msgs))
sys.exit(1 if bad else 0)
PY
status=$?
show "$work/sink-check.out"
result $status "the sink holds each message once (3 raw, 3 + 1 libcoap)"
[ "$(wc -l <"$sink")" = 7 ]
result $? "the sink holds nothing else"

stop_coapd
exit 0
