#!/bin/bash
# coapd's MQTT sink end to end, inside the test VM with coap_offload.ko
# loaded: a real mosquitto broker on 127.0.0.1 (password required), coapd
# publishing to it through its on-disk spool, coap-device publishing in both
# cipher suites, mosquitto_sub on the prefixed topics. Then: every message
# reaches the subscriber and the JSON sink exactly once; with the broker
# stopped the device still gets 2.05 and the messages wait in the spool;
# they arrive, once each and in order, when the broker is back; a coapd
# restarted with a non-empty spool delivers it; the password is never
# logged. TAP on stdout.
#   tests/e2e/mqtt.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
mport=18830
pk=a1mqttPK
dn=mdev1
prefix=e2e/gw
secret=$(openssl rand -hex 12)
mpass=$(openssl rand -hex 10)
dev=$build/coap-device

echo "TAP version 13"
echo "1..31"
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/mqtt.XXXXXX)
db=$work/registry.db
sink=$work/sink.jsonl
log=$work/coapd.log
spool=$work/spool
sub_out=$work/sub.out
broker_pid=
sub_pid=
cleanup() {
	[ -n "$coapd_pid" ] && kill "$coapd_pid" 2>/dev/null
	[ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	wait 2>/dev/null
	umount "$work/small" 2>/dev/null
	if [ -n "${COAP_VM_OUT:-}" ]; then
		cat "$work"/coapd*.log >"$COAP_VM_OUT/mqtt-coapd.log" 2>/dev/null
		cp "$work/mosquitto.log" "$COAP_VM_OUT/mqtt-broker.log" 2>/dev/null
		cp "$sub_out" "$COAP_VM_OUT/mqtt-sub.out" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# poll_for SECONDS COMMAND...: true once COMMAND succeeds.
poll_for() {
	local limit=$(($1 * 10))
	shift
	for _ in $(seq "$limit"); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# The broker: root in the guest (no "mosquitto" user switch), its files in
# $work (the guest's /tmp is tmpfs), a password for every client. Its state
# is kept in $work across its restarts so that the subscriber's session
# (QoS 1, not clean) holds what arrives while the subscriber reconnects:
# the order in which coapd and the subscriber come back does not matter.
mkdir -p "$work/mosq"
mosquitto_passwd -b -c "$work/passwd" coapd "$mpass" 2>/dev/null &&
	mosquitto_passwd -b "$work/passwd" sub "$mpass" 2>/dev/null
cat >"$work/mosquitto.conf" <<EOF
user root
listener $mport 127.0.0.1
allow_anonymous false
password_file $work/passwd
persistence true
persistence_location $work/mosq/
autosave_interval 1
log_dest file $work/mosquitto.log
log_type all
EOF
printf '%s\n' "$mpass" >"$work/mqtt-password"
start_broker() {
	mosquitto -c "$work/mosquitto.conf" 2>>"$work/mosquitto.log" &
	broker_pid=$!
	poll_for 20 grep -q "Opening ipv4 listen socket on port $mport" \
		"$work/mosquitto.log" && kill -0 "$broker_pid"
}
stop_broker() {
	kill -TERM "$broker_pid" && wait "$broker_pid"
	broker_pid=
}

# payloads_seen: the payloads mosquitto_sub printed for our topic, in order.
topic="$prefix/$pk/$dn/user/update"
payloads_seen() {
	sed -n "s|^$topic ||p" "$sub_out"
}
# expect_seen PAYLOADS...: the subscriber saw exactly these, in this order.
expect_seen() {
	local want
	want=$(printf '%s\n' "$@")
	[ "$(payloads_seen)" = "$want" ]
}
# expect_sink PAYLOADS...: the JSON sink holds exactly these, in this order.
expect_sink() {
	local want
	want=$(printf '%s\n' "$@")
	[ "$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    print(json.loads(l)["payload"])' "$sink")" = "$want" ]
}
segments() { ls "$spool" 2>/dev/null | grep -c '^seg-'; }
no_segments() { [ "$(segments)" = 0 ]; }

# acked OUT N: coap-device's summary says N publishes sent and answered 2.05.
acked() {
	grep -qE "^summary: 1 devices, $2 sent, $2 ok, 0 failed," "$1"
}
d() { timeout 120 "$dev" -H 127.0.0.1 -p "$port" --pk "$pk" --dn "$dn" \
	--secret "$secret" "$@"; }
coapd_mqtt_args=(--mqtt-host 127.0.0.1 --mqtt-port "$mport"
	--mqtt-prefix "$prefix" --mqtt-client-id e2e-coapd
	--mqtt-username coapd --mqtt-password-file "$work/mqtt-password"
	--spool-dir "$spool" --spool-max-bytes 1M)

# 1: the registry; 2: the broker; 3: the subscriber.
"$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" >/dev/null
result $? "registry with a device (coapctl)"

start_broker
status=$?
result $status "mosquitto listens on 127.0.0.1:$mport"
[ $status = 0 ] || show "$work/mosquitto.log"

mosquitto_sub -h 127.0.0.1 -p "$mport" -u sub -P "$mpass" -i e2e-sub -c \
	-q 1 -v -t "$prefix/#" >"$sub_out" 2>"$work/sub.err" &
sub_pid=$!
poll_for 20 grep -q 'e2e-sub.*e2e/gw/#\|Received SUBSCRIBE from e2e-sub' \
	"$work/mosquitto.log"
result $? "mosquitto_sub subscribed to $prefix/# (QoS 1, persistent session)"

# 4, 5: coapd with the MQTT sink and a JSON sink; it connects.
start_coapd -v -v "${coapd_mqtt_args[@]}"
poll_for 20 grep -q 'mqtt: connected to 127.0.0.1' "$log"
status=$?
result $status "coapd connects to the broker (user name and password)"
[ $status = 0 ] || show "$log"

# 6, 7: three CON publishes in each suite, all acknowledged.
d --cipher aes-128-cbc --payload 'cbc-{n}' run --messages 3 >"$work/cbc.out" 2>&1 &&
	acked "$work/cbc.out" 3
status=$?
result $status "aes-128-cbc: 3 publishes, 3 acked"
[ $status = 0 ] || show "$work/cbc.out"
d --cipher aes-128-ctr --payload 'ctr-{n}' run --messages 3 >"$work/ctr.out" 2>&1 &&
	acked "$work/ctr.out" 3
status=$?
result $status "aes-128-ctr: 3 publishes, 3 acked"
[ $status = 0 ] || show "$work/ctr.out"

# 8, 9, 10: at the subscriber and in the JSON sink, once each; spool empty.
first=(cbc-1 cbc-2 cbc-3 ctr-1 ctr-2 ctr-3)
poll_for 20 expect_seen "${first[@]}"
status=$?
result $status "mosquitto_sub got the 6 messages once each, in order, on $topic"
[ $status = 0 ] || show "$sub_out"
expect_sink "${first[@]}"
result $? "the JSON sink holds the same 6 messages once each"
poll_for 10 no_segments
result $? "every message acknowledged by the broker left the spool"

# 11, 12: a topic MQTT cannot carry ('#' is a wildcard there, a CoAP path
# segment may hold it): the device gets its 2.05, the JSON sink has the
# message, the MQTT sink skips it (logged) and nothing waits behind it.
d --topic '/{pk}/{dn}/user/bad#topic' --payload 'hash-{n}' publish \
	>"$work/hash.out" 2>&1 && acked "$work/hash.out" 1 &&
	poll_for 10 expect_sink "${first[@]}" hash-1 &&
	grep -q "topic /$pk/$dn/user/bad#topic is not a valid MQTT topic" "$log"
status=$?
result $status "topic with '#': 2.05, in the JSON sink, not published (logged)"
[ $status = 0 ] || { show "$work/hash.out"; tail -n 5 "$log" | show; }
d --payload 'after-{n}' publish >"$work/after.out" 2>&1 &&
	acked "$work/after.out" 1 && poll_for 20 expect_seen "${first[@]}" after-1
result $? "the next message reaches mosquitto_sub: nothing waits behind it"
seen=("${first[@]}" after-1)
sunk=("${first[@]}" hash-1 after-1)

# 13..16: the broker stops; devices still get 2.05, messages are spooled.
stop_broker
poll_for 20 grep -q 'mqtt: 127.0.0.1:18830: .*retrying' "$log"
result $? "coapd sees the broker gone and says it keeps messages"
d --payload 'down-{n}' run --messages 3 >"$work/down.out" 2>&1 &&
	acked "$work/down.out" 3
status=$?
result $status "broker down: 3 publishes, still 3 acked (2.05)"
[ $status = 0 ] || show "$work/down.out"
[ "$(segments)" -ge 1 ] && expect_seen "${seen[@]}"
result $? "the 3 messages wait in the spool, nothing new at the subscriber"
expect_sink "${sunk[@]}" down-1 down-2 down-3
result $? "the JSON sink has them already"

# 17, 18: the broker is back: the spooled messages arrive once, in order.
start_broker
result $? "mosquitto restarted"
poll_for 60 expect_seen "${seen[@]}" down-1 down-2 down-3 && poll_for 10 no_segments
status=$?
result $status "the spooled messages arrive once each, in order; spool empty"
[ $status = 0 ] || { show "$sub_out"; tail -n 30 "$log" | show; }

# 19..23: a coapd restarted with a non-empty spool delivers it.
stop_broker
d --payload 'restart-{n}' run --messages 2 >"$work/restart.out" 2>&1 &&
	acked "$work/restart.out" 2
result $? "broker down again: 2 more publishes acked"
stop_coapd
[ "$(segments)" -ge 1 ]
result $? "coapd stopped with 2 messages in the spool"
cp "$log" "$work/coapd-1.log"
start_broker >/dev/null
start_coapd -v -v "${coapd_mqtt_args[@]}"
poll_for 60 expect_seen "${seen[@]}" down-1 down-2 down-3 restart-1 restart-2 &&
	poll_for 10 no_segments
status=$?
result $status "the restarted coapd delivers the spooled messages, once each, in order"
[ $status = 0 ] || { show "$sub_out"; show "$log"; }

# 24: the JSON sink: everything once, in order; no password in any log.
expect_sink "${sunk[@]}" down-1 down-2 down-3 restart-1 restart-2 &&
	! grep -qF -- "$mpass" "$log" "$work/coapd-1.log" &&
	! grep -qF -- "$secret" "$log" "$work/coapd-1.log"
result $? "JSON sink holds all 13 once; coapd logged no password or secret"
stop_coapd
cp "$log" "$work/coapd-2.log"

# 26..30: the JSON sink's file system is full. coapd holds the message and
# stops reading the module's queue instead of losing it (the device has its
# 2.05 already); once there is room, each message is written once, in order,
# and goes to MQTT too.
mkdir "$work/small"
mount -t tmpfs -o size=64k tmpfs "$work/small"
dd if=/dev/zero of="$work/small/filler" bs=4k 2>/dev/null
sink=$work/small/sink.jsonl
start_coapd -v "${coapd_mqtt_args[@]}"
d --payload 'full-{n}' run --messages 2 >"$work/full.out" 2>&1 &&
	acked "$work/full.out" 2
status=$?
result $status "JSON sink's file system full: 2 publishes acked"
[ $status = 0 ] || show "$work/full.out"
poll_for 10 grep -q 'sink: .*No space left on device; holding messages' "$log" &&
	[ ! -s "$sink" ] && expect_seen "${seen[@]}" down-1 down-2 down-3 restart-1 restart-2
status=$?
result $status "coapd holds them (logged), nothing written, nothing published"
[ $status = 0 ] || show "$log"
rm -f "$work/small/filler"
poll_for 20 expect_sink full-1 full-2 &&
	grep -q 'sink: .* works again' "$log"
status=$?
result $status "room again: the JSON sink gets both, once each, in order"
[ $status = 0 ] || { show "$sink"; show "$log"; }
poll_for 20 expect_seen "${seen[@]}" down-1 down-2 down-3 restart-1 restart-2 \
	full-1 full-2
result $? "and mosquitto_sub gets them once each"
stop_coapd
exit 0
