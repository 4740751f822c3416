#!/bin/bash
# coap-device (userspace/coap-device.c, on libcoap) against coapd, inside the
# test VM with coap_offload.ko loaded: a registry with devices, coapd on UDP
# 5682 with a JSON-lines sink, then /auth in JSON and CBOR, runs of
# publishes in both cipher suites, a NON publish with the secret from a
# file, re-authentication after the gateway forgot the session, 20
# simulated devices, option 61 with a "pk&dn" clientId, a credentials file,
# an open-loop rate over a duration and a wrong secret (argument handling
# and retransmission counting are tests/cli/coap-device-args.sh's, on the
# host).
# Every acknowledged plaintext must be in the sink exactly once. TAP on
# stdout.
#   tests/e2e/coap-device.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
pk=a1cdevPK
dn=cdev1
secret=$(openssl rand -hex 12)
dev=$build/coap-device

echo "TAP version 13"
echo "1..20"
. "$(dirname "$0")/lib.sh"

e2e_workdir coap-device

# Device options shared by most calls.
d() { timeout 120 "$dev" -H 127.0.0.1 -p "$port" --pk "$pk" --dn "$dn" "$@"; }

# The sink: exactly these plaintexts (each once), each from the device
# its text names ("DN:text" entries; a bare text is from $dn), on the
# device's own default topic.
sink_is() { # entries...
	python3 - "$sink" "$pk" "$dn" "$@" <<'PY'
import base64, json, sys
sinkf, pk, dn = sys.argv[1:4]
want = sorted(a if ':' in a else dn + ':' + a for a in sys.argv[4:])
got, bad = [], 0
for l in open(sinkf).read().splitlines():
    if not l.strip():
        continue
    m = json.loads(l)
    pl = m['payload'] if 'payload' in m else \
        base64.b64decode(m.get('payload_b64', '')).decode('utf-8', 'replace')
    got.append(m.get('deviceName') + ':' + pl)
    if m.get('productKey') != pk or \
       m.get('topic') != '/%s/%s/user/update' % (pk, m.get('deviceName')):
        print('# unexpected fields: %r' % m); bad += 1
got.sort()
if got != want:
    print('# sink: %d entries, want %d' % (len(got), len(want)))
    print('# missing %r' % sorted(set(want) - set(got))[:10])
    print('# extra or repeated %r' % [g for g in got if got.count(g) > want.count(g)][:10])
    bad += 1
sys.exit(1 if bad else 0)
PY
}
expected=()

# The summary line's counters: summary FILE devices sent ok failed
summary_is() {
	grep -qE "^summary: $2 devices, $3 sent, $4 ok, $5 failed, 0 unanswered, [0-9]+ re-auths, [0-9]+ retransmissions$" "$1" &&
		grep -qE '^latency: p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms \([0-9]+ answers\)$' "$1" &&
		grep -qE '^time: [0-9.]+ s, [0-9.]+ messages/s$' "$1"
}
publish_lines() { # file count
	[ "$(grep -cE "^publish $pk/[-a-z0-9]+ #[0-9]+ seq [0-9]+: 2\\.05 id [0-9a-f]{16} [0-9.]+ ms\$" "$1")" = "$2" ]
}

# The registry: the device, 20 simulated ones and 3 for a credentials
# file.
registry() {
	local i
	"$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" || return
	for i in $(seq -f %04g 20); do
		"$build/coapctl" -r "$db" device add "$pk/sim-$i" secret "$secret" ||
			return
	done
	for i in 1 2 3; do
		"$build/coapctl" -r "$db" device add "$pk/file$i" \
			secret "file-secret-$i" || return
	done
}
registry >/dev/null
result $? "registry with 24 devices (coapctl)"

# coapd.
start_coapd -v

# --help.
"$dev" --help >"$work/help.out" 2>&1 && grep -q '^SYNOPSIS' "$work/help.out" &&
	grep -q '^EXIT STATUS' "$work/help.out"
result $? "coap-device --help exits 0 and shows a manual"

# /auth in JSON and in CBOR.
for fmt in json cbor; do
	d --secret "$secret" --auth-format $fmt auth >"$work/auth.out" 2>&1
	status=$?
	show "$work/auth.out"
	[ $status = 0 ] &&
		grep -qE "^auth $pk/$dn: 2\\.05 token [0-9A-Za-z]{6}… random [0-9a-f]{16} seqOffset [0-9]+ cipher aes-128-cbc\$" \
			"$work/auth.out" && ! grep -qF "$secret" "$work/auth.out"
	result $? "auth --auth-format $fmt: 2.05, token shortened, random, seqOffset"
done

# Three CON publishes in each cipher suite.
d --secret "$secret" --cipher aes-128-cbc --payload 'cbc-{n}' run --messages 3 \
	>"$work/cbc.out" 2>&1
status=$?
show "$work/cbc.out"
[ $status = 0 ] && publish_lines "$work/cbc.out" 3 && summary_is "$work/cbc.out" 1 3 3 0
result $? "run --messages 3, aes-128-cbc: 3 sent, 3 ok with message ids"
expected+=(cbc-1 cbc-2 cbc-3)

d --secret "$secret" --cipher aes-128-ctr --signmethod hmacsha256 \
	--payload 'ctr-{n}' run --messages 3 >"$work/ctr.out" 2>&1
status=$?
show "$work/ctr.out"
[ $status = 0 ] && publish_lines "$work/ctr.out" 3 && summary_is "$work/ctr.out" 1 3 3 0
result $? "run --messages 3, aes-128-ctr (hmacsha256): 3 sent, 3 ok"
expected+=(ctr-1 ctr-2 ctr-3)

# The sink: those six plaintexts, once each, and nothing else.
sink_is "${expected[@]}"
result $? "the sink holds exactly the 6 plaintexts, once each"

# NON publish, secret from a file, hmacsha1. The kernel fast path does
# not answer NON requests (coapd would): answered or not, it is not an error.
printf '%s\n' "$secret" >"$work/secret"
d --secret-file "$work/secret" --signmethod hmacsha1 --non \
	--payload 'non-{n}' publish >"$work/non.out" 2>&1
status=$?
show "$work/non.out"
[ $status = 0 ] && grep -qE '^summary: 1 devices, 1 sent, [01] ok, 0 failed, [01] unanswered,' "$work/non.out"
result $? "publish --non with --secret-file (hmacsha1): exit 0, 1 sent"
expected+=(non-1)

# The gateway forgets the session between two publishes: the
# device gets 4.01, authenticates again and the message goes through.
d --secret "$secret" --payload 're-{n}' --interval 2000 run --messages 2 \
	>"$work/reauth.out" 2>&1 &
dev_pid=$!
for _ in $(seq 300); do
	grep -q '^publish .* #1 seq' "$work/reauth.out" && break
	kill -0 "$dev_pid" 2>/dev/null || break
	sleep 0.1
done
"$build/coapctl" session flush >"$work/flush.out" 2>&1 || show "$work/flush.out"
wait "$dev_pid"
status=$?
show "$work/reauth.out"
[ $status = 0 ] && grep -q "^publish $pk/$dn #2 seq [0-9]*: 4\\.01, authenticating again\$" \
	"$work/reauth.out" && summary_is "$work/reauth.out" 1 2 2 0 &&
	grep -q ', 1 re-auths,' "$work/reauth.out" &&
	[ "$(grep -c '^auth .*: 2\.05' "$work/reauth.out")" = 2 ]
result $? "after a session flush: 4.01, auth again, retry ok, 1 re-auth counted"
expected+=(re-1 re-2)

sink_is "${expected[@]}"
result $? "the NON and the retried messages are in the sink once"

# 20 simulated devices, two publishes each.
timeout 300 "$dev" -p "$port" --pk "$pk" --dn sim --count 20 --secret "$secret" \
	--payload 'many-{dn}-{n}' run --messages 2 >"$work/many.out" 2>&1
status=$?
tail -n 4 "$work/many.out" | show
[ $status = 0 ] && [ "$(grep -c "^auth $pk/sim-00[0-2][0-9]: 2\\.05" "$work/many.out")" = 20 ] &&
	publish_lines "$work/many.out" 40 && summary_is "$work/many.out" 20 40 40 0
result $? "--count 20: 20 devices sim-0001..sim-0020 authenticate, 40 publishes ok"
for i in $(seq -f %04g 20); do
	expected+=("sim-$i:many-sim-$i-1" "sim-$i:many-sim-$i-2")
done
sink_is "${expected[@]}"
result $? "the sink holds the 40, each once, from its own device and topic"

# CBOR /auth, a "pk&dn" clientId and the token in option 61.
d --secret "$secret" --auth-format cbor --client-id 'pk&dn' --token-option 61 \
	--cipher aes-128-ctr --payload 'opt61-{n}' run --messages 2 >"$work/v.out" 2>&1
status=$?
show "$work/v.out"
[ $status = 0 ] && publish_lines "$work/v.out" 2 && summary_is "$work/v.out" 1 2 2 0
result $? "CBOR /auth, clientId pk&dn, token in option 61: 2 publishes ok"
expected+=(opt61-1 opt61-2)

# A credentials file: comments, blank lines, a wrong secret. The two
# good devices publish; the third fails /auth: exit 2, and it is counted.
cat >"$work/creds" <<EOF
# devices for the test
$pk/file1 file-secret-1

   $pk/file2	 file-secret-2   
$pk/file3 not-the-secret
EOF
timeout 120 "$dev" -p "$port" --credentials "$work/creds" --payload 'cred-{dn}' \
	publish >"$work/cred.out" 2>&1
status=$?
show "$work/cred.out"
[ $status = 2 ] && grep -q "^auth $pk/file3: 4\\.01 Unauthorized\$" "$work/cred.out" &&
	grep -qE '^summary: 3 devices \(1 /auth failed\), 2 sent, 2 ok, 0 failed,' "$work/cred.out" &&
	! grep -q -e file-secret -e not-the-secret "$work/cred.out"
result $? "--credentials: 2 of 3 publish, the wrong secret is a 4.01 (exit $status), no secret printed"
expected+=(file1:cred-file1 file2:cred-file2)

# Open loop: 20 messages/s over 5 devices for 2 s starts exactly 40
# publishes (one every 50 ms, the last at 1.95 s), unless the VM lags.
timeout 120 "$dev" -p "$port" --pk "$pk" --dn sim --count 5 --secret "$secret" \
	--payload 'rate-{dn}-{n}' --rate 20 --duration 2 -q run >"$work/rate.out" 2>&1
status=$?
show "$work/rate.out"
sent=$(sed -n 's/^summary: 5 devices, \([0-9]*\) sent, \([0-9]*\) ok, 0 failed,.*/\1 \2/p' "$work/rate.out")
secs=$(sed -n 's/^time: \([0-9.]*\) s,.*/\1/p' "$work/rate.out")
[ $status = 0 ] && [ -n "$sent" ] && [ "${sent% *}" = "${sent#* }" ] &&
	[ "${sent% *}" -ge 36 ] && [ "${sent% *}" -le 40 ] &&
	python3 -c "import sys; sys.exit(not 1.9 <= float('$secs') <= 4)" &&
	! grep -q '^publish' "$work/rate.out"
result $? "--rate 20 --duration 2 over --count 5: ${sent% *} (36..40) sent and ok in ${secs}s, -q"
# Round robin: the k-th publish (from 0) is device k % 5 + 1's.
for k in $(seq 0 $((${sent% *} - 1))); do
	i=$((k % 5 + 1))
	expected+=("sim-000$i:rate-sim-000$i-$((k / 5 + 1))")
done
sink_is "${expected[@]}"
result $? "the sink holds every message so far exactly once"

# A wrong secret.
d --secret "x$secret" run --messages 1 >"$work/wrong.out" 2>&1
status=$?
show "$work/wrong.out"
[ $status = 2 ] && grep -q "^auth $pk/$dn: 4\\.01 Unauthorized\$" "$work/wrong.out"
result $? "wrong secret: exit 2 and 4.01 printed"

# Nothing secret in coapd's log.
! grep -qF -e "$secret" -e file-secret "$log"
result $? "coapd's log holds no device secret"

# SIGTERM.
stop_coapd
exit 0
