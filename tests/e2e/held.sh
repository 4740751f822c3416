#!/bin/bash
# Nothing acknowledged is lost when coapd dies, inside the test VM with
# coap_offload.ko loaded. coapd is stopped (SIGSTOP) so that it reads
# nothing; a device publishes and every publish is answered 2.05 (the module
# holds the messages it could not hand over); coapd is then killed (SIGKILL)
# with the messages unread, and a new coapd gets every one of them, exactly
# once in the sink, also those the killed one had written but not confirmed
# (they are skipped by id). The module's pending count drops back to 0.
# TAP on stdout.
#   tests/e2e/held.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
pk=a1heldPK
secret=$(openssl rand -hex 12)
client=$build/e2e/restart-client
coapctl=$build/coapctl

echo "TAP version 13"
echo "1..11"
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/held.XXXXXX)
db=$work/registry.db
sink=$work/sink.jsonl
log=$work/coapd.log
cleanup() {
	[ -n "$coapd_pid" ] && kill -9 "$coapd_pid" 2>/dev/null
	if [ -n "${COAP_VM_OUT:-}" ]; then
		cat "$work"/coapd*.log >"$COAP_VM_OUT/held-coapd.log" 2>/dev/null
		cp "$sink" "$COAP_VM_OUT/held-sink.jsonl" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

pending() { "$coapctl" -j stats | python3 -c '
import json, sys
o = json.load(sys.stdin)
print(o.get("pending", "absent"))'; }
acked() { grep -c ': 2\.05 id ' "$@"; }

"$coapctl" -r "$db" device add "$pk/dev1" secret "$secret" >/dev/null
result $? "registry with one device"
start_coapd
timeout 120 "$client" "$port" "$work/dev1.state" auth "$pk" dev1 "$secret" \
	>"$work/auth.out" 2>&1
result $? "dev1 authenticates"
timeout 120 "$client" "$port" "$work/dev1.state" publish "$pk" dev1 5 early \
	>"$work/pub1.out" 2>&1
result $? "5 publishes while coapd runs: 2.05 each"

# coapd reads nothing from here on; the module still answers.
kill -STOP "$coapd_pid"
timeout 120 "$client" "$port" "$work/dev1.state" publish "$pk" dev1 20 held \
	>"$work/pub2.out" 2>&1
status=$?
show "$work/pub2.out" | grep -v ': 2\.05 id '
result $status "20 publishes while coapd is stopped: 2.05 each ($(acked "$work/pub2.out") of 20)"
held=$(pending)
[ "$held" -ge 20 ] 2>/dev/null
result $? "the module holds them unconfirmed (pending $held)"

kill -9 "$coapd_pid"
wait "$coapd_pid" 2>/dev/null
coapd_pid=
mv "$log" "$work/coapd-killed.log"
start_coapd
for _ in $(seq 100); do
	[ "$(grep -c '"held' "$sink")" -ge 20 ] && break
	sleep 0.1
done
timeout 120 "$client" "$port" "$work/dev1.state" publish "$pk" dev1 5 late \
	>"$work/pub3.out" 2>&1
result $? "5 more publishes after the restart: 2.05 each"
sleep 1	# the last confirmation
held=$(pending)
[ "$held" = 0 ]
result $? "nothing is held any more (pending $held)"

cat "$work"/pub*.out | sink_exactly_once "$sink" 30
result $? "the sink holds each of the 30 acknowledged messages exactly once"
stop_coapd
