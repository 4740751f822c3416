#!/bin/bash
# Nothing acknowledged is lost when coapd dies, inside the test VM with
# coap_offload.ko loaded. coapd is stopped (SIGSTOP) so that it reads
# nothing; a device publishes and every publish is answered 2.05 (the module
# holds the messages it could not hand over, and a confirmation from another
# socket has it send them); coapd is then killed (SIGKILL)
# with the messages unread, and a new coapd gets every one of them, exactly
# once in the sink, also those the killed one had written but not confirmed
# (their lines are put in the sink before the restart: the new coapd skips
# them by id). The module's pending count drops back to 0.
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
echo "1..14"
. "$(dirname "$0")/lib.sh"

e2e_kill_signal=KILL
e2e_workdir held

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
# coapd batches (COAP_OFFLOAD_A_CONSUMER_BATCH): the module sent it the
# first, and sends the rest with its next confirmation. One from another
# socket sends them into the stopped coapd's socket, unread, as a coapd
# slower than its devices has them.
"$build/e2e/nl-confirm" 0
result $? "a confirmation from another socket sends them to the stopped coapd"

kill -9 "$coapd_pid"
wait "$coapd_pid" 2>/dev/null
coapd_pid=
mv "$log" "$work/coapd-killed.log"
# As if the killed coapd had written the first 8 held messages to the sink
# and died before confirming them: their lines, with the ids the module
# gave them (from the device's 2.05 answers). The next coapd gets all 20
# again, flagged as redelivered, and must skip exactly these 8 by id.
python3 -c '
import json, re, sys
pk, n = sys.argv[1], int(sys.argv[3])
got = {}
for l in open(sys.argv[2]):
    m = re.match(r"publish (\d+) held-(\d+): 2\.05 id (\d+)$", l.strip())
    if m:
        got[int(m.group(2))] = (int(m.group(1)), int(m.group(3)))
for k in range(1, n + 1):
    seq, mid = got[k]
    print(json.dumps({"id": mid, "productKey": pk, "deviceName": "dev1",
                      "topic": "/%s/dev1/user/update" % pk,
                      "payload": "held-%d" % k, "time": 0, "seq": seq},
                     separators=(",", ":")))' "$pk" "$work/pub2.out" 8 >>"$sink"
status=$?
[ "$(grep -c '"held' "$sink")" = 8 ] || status=1
result $status "the killed coapd's last 8 lines, written but not confirmed, are in the sink"
start_coapd -v -v
for _ in $(seq 100); do
	[ "$(grep -c '"held' "$sink")" -ge 20 ] && break
	sleep 0.1
done
skipped=$(grep -c 'sink: message [0-9]* is in the file already' "$log")
[ "$skipped" = 8 ]
result $? "the restarted coapd skipped the 8 redelivered messages already in the file ($skipped)"
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
