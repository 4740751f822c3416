#!/bin/bash
# coapctl against the real module, as TAP. Runs inside the test VM as root
# with coap_offload.ko loaded (tests/vm/guest-tests.sh calls it):
#   tests/vm/coapctl.sh COAPCTL [TRAFFIC_HELPER]
# Sessions, stats (human, JSON, Prometheus), config, socket, and monitor;
# traffic comes from tests/vm/coapctl-traffic.c (built next to coapctl, in
# vm/), events also from a session that expires. Leaves the namespace
# as it found it: no sessions, default config.
set -u
coapctl=${1:?usage: coapctl.sh COAPCTL [TRAFFIC_HELPER]}
traffic=${2:-$(dirname "$coapctl")/vm/coapctl-traffic}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

PK=a1PK
DN=dev1
TOKEN=tok-coapctl-0123456789abcdef
# Hex of a 16-byte key, for the "key" form.
KEY=00112233445566778899aabbccddeeff

echo "TAP version 13"

ok() { # status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
		sed 's/^/# /' "$tmp/out" "$tmp/err" 2>/dev/null
	fi
}

run() {
	"$coapctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# Wait (up to 10 s) for the background monitor $mon; its output becomes
# $tmp/out, its status $rc.
wait_monitor() {
	local i

	for i in $(seq 100); do
		kill -0 $mon 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 $mon 2>/dev/null; then
		kill $mon
		wait $mon
		rc=124
	else
		wait $mon
		rc=$?
	fi
	cp "$tmp/mon" "$tmp/out"
	cp "$tmp/mon.err" "$tmp/err"
}

# Check $tmp/out (JSON) with a Python expression over d.
json_check() { # python-assertions
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
$1
" "$tmp/out" 2>>"$tmp/err"
}

run session flush
ok $rc "session flush (clean start)"

run session add device $PK/$DN token $TOKEN secret 'dev1-secret' random 0123456789abcdef seq-offset 4912
ok $rc "session add with secret and random"

run session show
[ $rc = 0 ] && grep -q "^TOKEN " "$tmp/out" && grep -q "tok-co… *$PK/$DN *aes-128-cbc" "$tmp/out" &&
	! grep -q "$TOKEN" "$tmp/out"
ok $? "session show: table, token shortened"

run session show --show-tokens
[ $rc = 0 ] && grep -q "$TOKEN" "$tmp/out"
ok $? "session show --show-tokens shows the whole token"

run session list device $PK/$DN
[ $rc = 0 ] && [ "$(grep -c "$PK/$DN" "$tmp/out")" = 1 ]
ok $? "session list device PK/DN"

run session show device $PK/other
[ $rc = 0 ] && [ ! -s "$tmp/out" ]
ok $? "session show of a device without sessions is empty"

run -j session show
[ $rc = 0 ] && json_check "
assert len(d) == 1, d
s = d[0]
assert s['token_prefix'] == 'tok-co' and 'token' not in s, s
assert s['product_key'] == '$PK' and s['device_name'] == '$DN', s
assert s['cipher'] == 'aes-128-cbc' and s['seq_offset'] == 4912, s
assert s['rx_packets'] == 0 and s['rx_bytes'] == 0 and s['peer'] is None, s
assert 0 < s['lifetime_left'] <= 7 * 86400, s
assert not any('key' == k or 'secret' in k for k in s), s
"
ok $? "-j session show: parses, no token, no key"

run -j session show --show-tokens
[ $rc = 0 ] && json_check "assert d[0]['token'] == '$TOKEN', d"
ok $? "-j session show --show-tokens has the token"

run session add device $PK/$DN token $TOKEN key $KEY
[ $rc = 2 ] && grep -q "already in use" "$tmp/err"
ok $? "session add of a taken token exits 2"

run session add device $PK/dev2 token tok-two key $KEY cipher aes-128-ctr lifetime 3600 idle 600 seq-offset 7
ok $rc "session add with key, cipher, lifetime, idle"

run -j -p session show device $PK/dev2
[ $rc = 0 ] && grep -q '^  {' "$tmp/out" && json_check "
s = d[0]
assert s['cipher'] == 'aes-128-ctr' and s['seq_offset'] == 7, s
assert 3590 <= s['lifetime_left'] <= 3600 and s['idle_timeout'] == 600, s
"
ok $? "-j -p session show: the second session's parameters"

# The secret from the registry when only "random" is given.
run -r "$tmp/reg.db" device add $PK/dev3 secret reg-secret
ok $rc "device add (registry in the guest)"
run -r "$tmp/reg.db" session add device $PK/dev3 token tok-three random 00ff00ff00ff00ff
ok $rc "session add with random only takes the secret from the registry"
run -r "$tmp/reg.db" session add device $PK/dev4 token tok-four random 00ff00ff00ff00ff
[ $rc = 2 ] && grep -q "not in the registry" "$tmp/err"
ok $? "session add of an unregistered device without secret exits 2"

run stats
[ $rc = 0 ] && grep -Eq '^sessions +3$' "$tmp/out" && grep -Eq '^rx +[0-9]+$' "$tmp/out"
ok $? "stats: human, 3 sessions"

run -s stats
[ $rc = 0 ] && grep -q "tok-co… *$PK/$DN" "$tmp/out" && grep -q "$PK/dev3" "$tmp/out"
ok $? "-s stats adds the sessions"

run -j stats
[ $rc = 0 ] && json_check "
keys = ['sessions', 'rx', 'passed', 'delivered', 'retransmits', 'replays',
        'decrypt_errors', 'forbidden', 'no_consumer', 'tx_errors', 'expired',
        'pending', 'pending_bytes']
assert sorted(d) == sorted(keys), d
assert d['sessions'] == 3 and all(isinstance(d[k], int) for k in keys), d
"
ok $? "-j stats: every counter"

run -j -s stats
[ $rc = 0 ] && json_check "assert len(d['session_list']) == 3, d"
ok $? "-j -s stats: session_list"

run stats --prometheus
[ $rc = 0 ] && python3 -c '
import re, sys
lines = open(sys.argv[1]).read().splitlines()
types = {}
for l in lines:
    m = re.match(r"^# (HELP|TYPE) (coap_offload_[a-z_]+) (.+)$", l)
    if m:
        if m.group(1) == "TYPE":
            types[m.group(2)] = m.group(3)
        continue
    m = re.match(r"^(coap_offload_[a-z_]+) ([0-9]+)$", l)
    assert m, l
    assert m.group(1) in types, l
gauges = ["coap_offload_sessions", "coap_offload_pending", "coap_offload_pending_bytes"]
assert all(types[g] == "gauge" for g in gauges), types
for name, t in types.items():
    if name not in gauges:
        assert t == "counter" and name.endswith("_total"), (name, t)
assert "coap_offload_rx_total" in types and "coap_offload_expired_total" in types
assert "coap_offload_sessions 3" in lines
' "$tmp/out" 2>>"$tmp/err"
ok $? "stats --prometheus: exposition format, counters and the sessions gauge"

run stats reset
[ $rc = 0 ]
ok $? "stats reset"

run socket show
[ $rc = 0 ] && grep -q '^no socket is attached' "$tmp/out"
ok $? "socket show: none attached, said so"

run -j socket
[ $rc = 0 ] && json_check "assert d == [], d"
ok $? "-j socket: an empty list"

# Abbreviated like ip(8): the same listing.
"$coapctl" -j session list >"$tmp/full" 2>&1
run -j s l
[ $rc = 0 ] && json_check "
full = json.load(open('$tmp/full'))
ids = lambda l: sorted((s['token_prefix'], s['device_name']) for s in l)
assert len(d) == 3 and ids(d) == ids(full), (d, full)
"
ok $? "coapctl s l is coapctl session list"

# rekey (SESSION_REPLACE): key and seq-offset new, identity, cipher, idle
# and remaining lifetime kept. (That the new key is the one used is
# tests/vm/static-session.sh's, with traffic.)
run session rekey tok-two key ffeeddccbbaa99887766554433221100 seq-offset 70
ok $rc "session rekey TOKEN key HEX seq-offset N"
run -j session show device $PK/dev2
[ $rc = 0 ] && json_check "
assert len(d) == 1, d
s = d[0]
assert s['cipher'] == 'aes-128-ctr' and s['seq_offset'] == 70, s
assert 3500 <= s['lifetime_left'] <= 3600 and s['idle_timeout'] == 600, s
"
ok $? "after rekey: same device, cipher, idle, lifetime; seq-offset 70"
run -r "$tmp/reg.db" se rek tok-three random 1111222233334444
ok $rc "se rek TOKEN random R: the secret from the registry"
run session rekey tok-missing key $KEY
[ $rc = 2 ] && grep -q "no session" "$tmp/err"
ok $? "session rekey of a missing token exits 2"

run session del $TOKEN
ok $rc "session del TOKEN"
run session del $TOKEN
[ $rc = 2 ] && grep -q "no session" "$tmp/err"
ok $? "session del of a missing token exits 2"
run session del device $PK/dev2
ok $rc "session del device PK/DN"
run -j session
[ $rc = 0 ] && json_check "assert [s['device_name'] for s in d] == ['dev3'], d"
ok $? "only the third session is left"
run session flush
ok $rc "session flush"
run -j session show
[ $rc = 0 ] && json_check "assert d == [], d"
ok $? "no session after flush"

run config show
[ $rc = 0 ] && grep -Eq '^max-sessions +1048576$' "$tmp/out" &&
	grep -Eq '^token-alias +on$' "$tmp/out" && grep -q '^  /{pk}/{dn}/#$' "$tmp/out"
ok $? "config show: the defaults"

run config set max-sessions 100 token-alias off rules '/{pk}/{dn}/user/#' '/+/broadcast'
ok $rc "config set max-sessions, token-alias, rules"
run -j config
[ $rc = 0 ] && json_check "
assert d == {'max_sessions': 100, 'token_alias': False,
             'rules': ['/{pk}/{dn}/user/#', '/+/broadcast']}, d
"
ok $? "-j config: what was set"

run config set rules no/leading/slash
[ $rc = 2 ] && grep -q '^coapctl: config set: Invalid argument' "$tmp/err"
ok $? "config set of a bad rule exits 2 with the kernel's error"
sed 's/^/# stderr: /' "$tmp/err"

run config set rules default token-alias on max-sessions 1048576
ok $rc "config set rules default"
run -j config
[ $rc = 0 ] && json_check "
assert d['max_sessions'] == 1048576 and d['token_alias'] is True, d
assert len(d['rules']) == 4 and d['rules'][0] == '/{pk}/{dn}/#', d
"
ok $? "config back to the defaults"

# Not CAP_NET_ADMIN: the kernel refuses, coapctl says so and exits 2.
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$coapctl" stats reset \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc = 2 ] && grep -q 'Operation not permitted' "$tmp/err"
	ok $? "unprivileged stats reset exits 2"
else
	n=$((n + 1))
	echo "ok $n unprivileged stats reset # SKIP no setpriv"
fi

# Traffic, through a minimal attach-and-publish helper: the publish only
# decrypts if coapctl derived the key from secret+random as the device did.
if [ -x "$traffic" ]; then
	run stats reset
	run session add device $PK/$DN token $TOKEN secret dev1-secret random 0123456789abcdef seq-offset 100
	ok $rc "session add for traffic"
	"$coapctl" monitor messages --count 1 >"$tmp/mon" 2>"$tmp/mon.err" &
	mon=$!
	sleep 1
	"$traffic" $TOKEN $PK $DN aes-128-cbc dev1-secret 0123456789abcdef 100 \
		>"$tmp/out" 2>"$tmp/err"
	[ "$(cat "$tmp/out")" = "100 2.05" ]
	ok $? "a publish on the session coapctl added is answered 2.05"
	wait_monitor
	[ $rc = 0 ] && grep -Eq "^message $PK/$DN /$PK/$DN/user/update 13 bytes id [0-9a-f]{16}$" "$tmp/out"
	ok $? "monitor messages --count 1: device, topic, size, id"

	run session show
	[ $rc = 0 ] && grep -Eq "^tok-co… +$PK/$DN +aes-128-cbc +127\.0\.0\.1:[0-9]+ +1 +13 B " "$tmp/out"
	ok $? "session show: peer, rx 1, 13 B"
	run -j session show device $PK/$DN
	[ $rc = 0 ] && json_check "
s = d[0]
assert s['rx_packets'] == 1 and s['rx_bytes'] == 13 and s['seq_highest'] == 100, s
assert s['peer'].startswith('127.0.0.1:'), s
"
	ok $? "-j session show: the counters and the peer"

	"$coapctl" monitor events --count 1 >"$tmp/mon" 2>"$tmp/mon.err" &
	mon=$!
	sleep 1
	"$traffic" $TOKEN $PK $DN aes-128-cbc dev1-secret 0123456789abcdef 100 \
		>"$tmp/out" 2>"$tmp/err"
	[ "$(cat "$tmp/out")" = "100 4.00" ]
	ok $? "the same seq again is refused 4.00"
	wait_monitor
	[ $rc = 0 ] && grep -Eq "^event replay $PK/$DN peer 127\.0\.0\.1:[0-9]+$" "$tmp/out"
	ok $? "monitor events: the replay, with its peer"

	run -j stats
	[ $rc = 0 ] && json_check "
assert d['rx'] == 2 and d['delivered'] == 1 and d['replays'] == 1, d
"
	ok $? "-j stats: rx 2, delivered 1, replays 1"

	# A socket kept attached: listed with its address, inode and counters.
	COAPCTL_TRAFFIC_HOLD=1 "$traffic" $TOKEN $PK $DN aes-128-cbc dev1-secret \
		0123456789abcdef 101 >"$tmp/hold" 2>&1 &
	holder=$!
	for _ in $(seq 100); do
		grep -q '^holding ' "$tmp/hold" && break
		sleep 0.1
	done
	read -r _ local sock <<<"$(grep '^holding ' "$tmp/hold")"
	ino=${sock//[^0-9]/}
	# Not CoAP: left to the daemon (PASSED).
	printf 'not coap' >"/dev/udp/127.0.0.1/${local##*:}"
	sleep 0.3
	run -j socket
	[ $rc = 0 ] && [ -n "$ino" ] && json_check "
assert len(d) == 1, d
s = d[0]
assert s['local'] == '$local' and s['inode'] == $ino, (s, '$local', '$ino')
assert s['rx'] == 2 and s['passed'] == 1 and s['attached_seconds'] < 60, s
"
	ok $? "-j socket: the attached socket ($local, $sock): rx 2, passed 1 (a stray datagram)"
	run socket
	[ $rc = 0 ] && grep -Eq "^$local +socket:\[$ino\] +[0-9]+s ago +2 +1$" "$tmp/out"
	ok $? "socket show: one row per attached socket"
	kill $holder
	wait $holder 2>/dev/null
	run -j socket
	[ $rc = 0 ] && json_check "assert d == [], d"
	ok $? "a closed socket is no longer listed"
	run session flush
else
	for t in "publish answered" "monitor messages" "session show counters" \
		"-j counters" "replay refused" "monitor events replay" "stats" \
		"-j socket" "socket" "socket closed"; do
		n=$((n + 1))
		echo "ok $n $t # SKIP no $traffic"
	done
fi

# monitor: the events group sees a session expire (the reaper runs every 2 s).
"$coapctl" monitor events -t --count 1 >"$tmp/mon" 2>"$tmp/mon.err" &
mon=$!
sleep 1
run session add device expPK/life token tok-expire key $KEY lifetime 1
ok $rc "session add with a 1 s lifetime"
wait_monitor
[ $rc = 0 ] && [ "$(wc -l <"$tmp/out")" = 1 ] &&
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z event expired expPK/life$' "$tmp/out"
ok $? "monitor events -t --count 1: the expiry, one line, with time"

# monitor -j, and SIGTERM ends it cleanly.
"$coapctl" -j monitor >"$tmp/mon" 2>"$tmp/mon.err" &
mon=$!
sleep 1
kill -TERM $mon
for _ in $(seq 30); do
	kill -0 $mon 2>/dev/null || break
	sleep 0.1
done
if kill -0 $mon 2>/dev/null; then
	kill -KILL $mon
	wait $mon
	false
else
	wait $mon
fi
ok $? "monitor exits 0 on SIGTERM"

run -j stats
[ $rc = 0 ] && json_check "assert d['expired'] >= 1 and d['sessions'] == 0, d"
ok $? "stats counts the expiry"

echo "1..$n"
[ $failed = 0 ]
