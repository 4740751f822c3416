#!/bin/bash
# coapd's MQTT sink end to end, inside the test VM with coap_offload.ko
# loaded: a real mosquitto broker on 127.0.0.1 (password required), coapd
# publishing to it through its on-disk spool, coap-device publishing in both
# cipher suites, mosquitto_sub on the prefixed topics. Then: every message
# reaches the subscriber and the JSON sink exactly once; with the broker
# stopped the device still gets 2.05 and the messages wait in the spool;
# they arrive, once each and in order, when the broker is back; a coapd
# restarted with a non-empty spool delivers it; the password is never
# logged; a JSON sink that fills up part of the way through a datagram of
# packed messages holds that one and the rest, and loses or repeats none. Then MQTT over TLS, with a CA made at test time: messages arrive
# over TLS (a client certificate too); a broker whose certificate is from
# another CA, or names another host, is refused (logged), coapd keeps the
# messages in its spool and they arrive once it talks to the right broker.
# TAP on stdout.
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
echo "1..54"
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/mqtt.XXXXXX)
db=$work/registry.db
sink=$work/sink.jsonl
log=$work/coapd.log
spool=$work/spool
sub_out=$work/sub.out
broker_pid=
sub_pid=
tls_broker_pid=
tls_sub_pid=
cleanup() {
	[ -n "$coapd_pid" ] && kill "$coapd_pid" 2>/dev/null
	[ -n "$sub_pid" ] && kill "$sub_pid" 2>/dev/null
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
	[ -n "$tls_sub_pid" ] && kill "$tls_sub_pid" 2>/dev/null
	[ -n "$tls_broker_pid" ] && kill "$tls_broker_pid" 2>/dev/null
	wait 2>/dev/null
	umount "$work/small" 2>/dev/null
	if [ -n "${COAP_VM_OUT:-}" ]; then
		cat "$work"/coapd*.log >"$COAP_VM_OUT/mqtt-coapd.log" 2>/dev/null
		cp "$work/mosquitto.log" "$COAP_VM_OUT/mqtt-broker.log" 2>/dev/null
		cp "$sub_out" "$COAP_VM_OUT/mqtt-sub.out" 2>/dev/null
		cp "$work/mosquitto-tls.log" "$COAP_VM_OUT/mqtt-broker-tls.log" 2>/dev/null
		cp "$work/tls-sub.out" "$COAP_VM_OUT/mqtt-tls-sub.out" 2>/dev/null
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
start_coapd -v -v "${coapd_mqtt_args[@]}"
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

# 31..34: a sink blocks in the middle of a datagram of several messages
# (coapd registers with COAP_OFFLOAD_A_CONSUMER_BATCH). With coapd
# stopped, the module holds 30 messages; the file system is full again, but
# the sink file's last page has room for a dozen lines or so; coapd
# continued gets the first alone, confirms it, and gets the other 29 in one
# datagram: the file fills part of the way through it, that message is held
# and the rest of the datagram waits behind it. Once there is room, each of
# them is written and published once, in order.
# (restart-client: its session outlives it, so that it publishes with no
# /auth, which the stopped coapd could not answer.)
packed=()
for i in $(seq 30); do packed+=("packed-$i"); done
timeout 120 "$build/e2e/restart-client" "$port" "$work/packed.state" auth \
	"$pk" "$dn" "$secret" >"$work/packed-auth.out" 2>&1 &&
	dd if=/dev/zero of="$work/small/filler" bs=4k 2>/dev/null
kill -STOP "$coapd_pid"
timeout 120 "$build/e2e/restart-client" "$port" "$work/packed.state" publish \
	"$pk" "$dn" 30 packed >"$work/packed.out" 2>&1 &&
	[ "$(grep -c ': 2\.05 id ' "$work/packed.out")" = 30 ]
status=$?
kill -CONT "$coapd_pid"
result $status "coapd stopped, file system full: 30 publishes acked"
[ $status = 0 ] || show "$work/packed-auth.out" "$work/packed.out"
poll_for 10 grep -qE 'holding message [0-9]+: a sink cannot take it now, [1-9][0-9]* bytes of its datagram behind it' "$log"
status=$?
result $status "a message in the middle of a datagram is held, the rest waits"
[ $status = 0 ] || tail -n 40 "$log" | show
rm -f "$work/small/filler"
poll_for 20 expect_sink full-1 full-2 "${packed[@]}"
status=$?
result $status "room again: the JSON sink gets all 30, once each, in order"
[ $status = 0 ] || show "$sink"
poll_for 20 expect_seen "${seen[@]}" down-1 down-2 down-3 restart-1 restart-2 \
	full-1 full-2 "${packed[@]}"
status=$?
result $status "and mosquitto_sub gets all 30 once each, in order"
[ $status = 0 ] || show "$sub_out"
stop_coapd

# 36..54: MQTT over TLS. A CA and certificates made here (never
# committed); a second broker with three TLS listeners: $tport has a
# certificate of the CA for 127.0.0.1 and asks clients for one of theirs,
# $rport one of another CA, $nport one of the CA for another host name.
tport=18883
rport=18884
nport=18885
tls=$work/tls
mkdir "$tls"
pem() { # NAME CA [SAN]: NAME.key, NAME.crt signed by CA (CA = NAME: self)
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tls/$1.key" -subj "/CN=$1" -out "$tls/$1.csr" 2>/dev/null &&
	if [ "$1" = "$2" ]; then
		openssl x509 -req -in "$tls/$1.csr" -signkey "$tls/$1.key" \
			-days 2 -out "$tls/$1.crt" 2>/dev/null
	else
		printf 'subjectAltName=%s\n' "$3" >"$tls/$1.ext"
		openssl x509 -req -in "$tls/$1.csr" -CA "$tls/$2.crt" \
			-CAkey "$tls/$2.key" -CAcreateserial -days 2 \
			-extfile "$tls/$1.ext" -out "$tls/$1.crt" 2>/dev/null
	fi
}
pem ca ca && pem rogue rogue && pem server ca "IP:127.0.0.1,DNS:localhost" &&
	pem rserver rogue "IP:127.0.0.1,DNS:localhost" &&
	pem nserver ca "DNS:broker.invalid" && pem client ca "DNS:coapd"
result $? "a test CA, broker and client certificates generated"
printf '%s\n' "user root" \
	"listener $tport 127.0.0.1" "cafile $tls/ca.crt" \
	"certfile $tls/server.crt" "keyfile $tls/server.key" \
	"require_certificate true" \
	"listener $rport 127.0.0.1" \
	"certfile $tls/rserver.crt" "keyfile $tls/rserver.key" \
	"listener $nport 127.0.0.1" \
	"certfile $tls/nserver.crt" "keyfile $tls/nserver.key" \
	"allow_anonymous true" \
	"log_dest file $work/mosquitto-tls.log" "log_type all" \
	>"$work/mosquitto-tls.conf"
mosquitto -c "$work/mosquitto-tls.conf" 2>>"$work/mosquitto-tls.log" &
tls_broker_pid=$!
poll_for 20 grep -q "Opening ipv4 listen socket on port $nport" \
	"$work/mosquitto-tls.log" && kill -0 "$tls_broker_pid"
status=$?
result $status "mosquitto with TLS listeners on $tport, $rport, $nport"
[ $status = 0 ] || show "$work/mosquitto-tls.log"
mosquitto_sub -h 127.0.0.1 -p "$tport" --cafile "$tls/ca.crt" \
	--cert "$tls/client.crt" --key "$tls/client.key" -i e2e-tls-sub \
	-q 1 -v -t "$prefix/#" >"$work/tls-sub.out" 2>"$work/tls-sub.err" &
tls_sub_pid=$!
poll_for 20 grep -q 'Received SUBSCRIBE from e2e-tls-sub' "$work/mosquitto-tls.log"
result $? "mosquitto_sub subscribed over TLS"
tls_seen() { # PAYLOADS...: the TLS subscriber saw exactly these, in order
	[ "$(sed -n "s|^$topic ||p" "$work/tls-sub.out")" = "$(printf '%s\n' "$@")" ]
}
# coapd's CONNECTs the broker accepted (only after a TLS handshake).
tls_connects() { grep -c 'New client connected from .* as e2e-coapd-tls ' \
	"$work/mosquitto-tls.log"; }
sink=$work/sink-tls.jsonl
spool=$work/spool-tls
tls_args=(--mqtt-host 127.0.0.1 --mqtt-prefix "$prefix"
	--mqtt-client-id e2e-coapd-tls --spool-dir "$spool"
	--spool-max-bytes 1M --mqtt-cafile "$tls/ca.crt")
client_cert=(--mqtt-certfile "$tls/client.crt" --mqtt-keyfile "$tls/client.key")

start_coapd -v -v "${tls_args[@]}" --mqtt-port "$tport" "${client_cert[@]}"
poll_for 20 grep -q "mqtt: connected to 127.0.0.1:$tport (TLS, broker verified)" "$log"
status=$?
result $status "coapd connects over TLS (broker verified, with a client certificate)"
[ $status = 0 ] || show "$log"
d --payload 'tls-{n}' run --messages 3 >"$work/tls.out" 2>&1 &&
	acked "$work/tls.out" 3 && poll_for 20 tls_seen tls-1 tls-2 tls-3 &&
	poll_for 10 no_segments
status=$?
result $status "3 publishes arrive over TLS, once each, in order; spool empty"
[ $status = 0 ] || { show "$work/tls.out" "$work/tls-sub.out"; tail -n 20 "$log" | show; }
stop_coapd
cp "$log" "$work/coapd-tls1.log"

# refused PORT PATTERN NAME: coapd pointed at a listener whose certificate
# it must refuse: it logs PATTERN; the device still gets 2.05, the messages
# wait in the spool, the broker never gets coapd's CONNECT.
refused() {
	local before
	before=$(tls_connects)
	start_coapd -v -v "${tls_args[@]}" --mqtt-port "$1"
	poll_for 30 grep -qF "mqtt: 127.0.0.1:$1: $2" "$log"
	status=$?
	result $status "port $1: refused, logged: '$(grep -o "mqtt: 127.0.0.1:$1: [^(]*([^)]*)" "$log" | head -n 1)'"
	[ $status = 0 ] || tail -n 20 "$log" | show
	d --payload "$3-{n}" run --messages 2 >"$work/$3.out" 2>&1 &&
		acked "$work/$3.out" 2 && sleep 2 && [ "$(segments)" -ge 1 ] &&
		tls_seen tls-1 tls-2 tls-3 && [ "$(tls_connects)" = "$before" ] &&
		! grep -q 'mqtt: connected' "$log"
	status=$?
	result $status "port $1: 2 publishes acked, held in the spool, nothing delivered"
	[ $status = 0 ] || { show "$work/$3.out" "$work/tls-sub.out"; tail -n 20 "$log" | show; }
	stop_coapd
	cp "$log" "$work/coapd-$3.log"
}
refused "$rport" "A TLS error occurred: OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed (the broker's certificate is not from a CA of mqtt-cafile/mqtt-capath)" rogue
refused "$nport" "A TLS error occurred: host name verification failed (the broker's certificate does not name mqtt-host)" wrongname

start_coapd -v -v "${tls_args[@]}" --mqtt-port "$tport" "${client_cert[@]}"
poll_for 60 tls_seen tls-1 tls-2 tls-3 rogue-1 rogue-2 wrongname-1 wrongname-2 &&
	poll_for 10 no_segments
status=$?
result $status "against the right broker again: the held messages arrive once each, in order"
[ $status = 0 ] || { show "$work/tls-sub.out"; tail -n 20 "$log" | show; }
! grep -qF -- "$(sed -n 2p "$tls/client.key")" "$work"/coapd*.log "$log"
result $? "no client key material in coapd's logs"
stop_coapd
exit 0
