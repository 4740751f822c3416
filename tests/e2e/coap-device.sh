#!/bin/bash
# coap-device (userspace/coap-device.c, on libcoap) against coapd, inside the
# test VM with coap_offload.ko loaded: a registry with one device, coapd on
# UDP 5682 with a JSON-lines sink, then /auth, runs of publishes in both
# cipher suites, a NON publish with the secret from a file, re-authentication
# after the gateway forgot the session, a wrong secret and bad arguments. Every acknowledged plaintext must be in the sink exactly
# once. TAP on stdout.
#   tests/e2e/coap-device.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
pk=a1cdevPK
dn=cdev1
secret=$(openssl rand -hex 12)
dev=$build/coap-device

echo "TAP version 13"
echo "1..15"
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/coap-device.XXXXXX)
db=$work/registry.db
sink=$work/sink.jsonl
log=$work/coapd.log
cleanup() {
	[ -n "$coapd_pid" ] && kill "$coapd_pid" 2>/dev/null
	if [ -n "${COAP_VM_OUT:-}" ]; then
		cp "$log" "$COAP_VM_OUT/coap-device-coapd.log" 2>/dev/null
		cp "$sink" "$COAP_VM_OUT/coap-device-sink.jsonl" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# Device options shared by every call.
d() { timeout 120 "$dev" -H 127.0.0.1 -p "$port" --pk "$pk" --dn "$dn" "$@"; }

# 1: the registry.
"$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" >/dev/null
result $? "registry with a device (coapctl)"

# 2: coapd.
start_coapd -v

# 3: --help.
"$dev" --help >"$work/help.out" 2>&1 && grep -q '^SYNOPSIS' "$work/help.out"
result $? "coap-device --help exits 0 and shows a manual"

# 4: /auth.
d --secret "$secret" auth >"$work/auth.out" 2>&1
status=$?
show "$work/auth.out"
[ $status = 0 ] &&
	grep -qE '^auth: 2\.05 token [0-9A-Za-z]{6}… random [0-9a-f]{16} seqOffset [0-9]+' \
		"$work/auth.out"
result $? "coap-device auth: 2.05, token shortened, random and seqOffset"

# 5, 6: three CON publishes in each cipher suite.
run_ok() { # out count
	grep -qx "$2 sent, $2 acked" "$1" &&
		[ "$(grep -cE '^publish [0-9]+ seq [0-9]+: 2\.05 id [0-9a-f]{16}$' "$1")" = "$2" ]
}
d --secret "$secret" --cipher aes-128-cbc --payload 'cbc-{n}' run --count 3 \
	>"$work/cbc.out" 2>&1
status=$?
show "$work/cbc.out"
[ $status = 0 ] && run_ok "$work/cbc.out" 3
result $? "run --count 3, aes-128-cbc: 3 sent, 3 acked with message ids"

d --secret "$secret" --cipher aes-128-ctr --signmethod hmacsha256 \
	--payload 'ctr-{n}' run --count 3 >"$work/ctr.out" 2>&1
status=$?
show "$work/ctr.out"
[ $status = 0 ] && run_ok "$work/ctr.out" 3
result $? "run --count 3, aes-128-ctr (hmacsha256): 3 sent, 3 acked"

# 7: the sink: those six plaintexts, once each, and nothing else.
sink_check() { # expected plaintexts...
	python3 - "$sink" "$pk" "$dn" "$@" <<'PY'
import base64, json, sys
sinkf, pk, dn = sys.argv[1:4]
want = sys.argv[4:]
msgs = [json.loads(l) for l in open(sinkf).read().splitlines() if l.strip()]
got = []
bad = 0
for m in msgs:
    if 'payload' in m:
        pl = m['payload']
    else:
        pl = base64.b64decode(m.get('payload_b64', '')).decode('utf-8', 'replace')
    got.append(pl)
    if m.get('productKey') != pk or m.get('deviceName') != dn or \
       m.get('topic') != '/%s/%s/user/update' % (pk, dn):
        print('# unexpected fields: %r' % m); bad += 1
if sorted(got) != sorted(want):
    print('# sink plaintexts %r, want %r' % (sorted(got), sorted(want))); bad += 1
sys.exit(1 if bad else 0)
PY
}
sink_check cbc-1 cbc-2 cbc-3 ctr-1 ctr-2 ctr-3
result $? "the sink holds exactly the 6 plaintexts, once each"

# 8: NON publish, secret from a file, hmacsha1. The kernel fast path does
# not answer NON requests (coapd would): answered or not, it is not an error.
printf '%s\n' "$secret" >"$work/secret"
d --secret-file "$work/secret" --signmethod hmacsha1 --non \
	--payload 'non-{n}' publish >"$work/non.out" 2>&1
status=$?
show "$work/non.out"
[ $status = 0 ] && grep -qE '^1 sent, [01] acked$' "$work/non.out"
result $? "publish --non with --secret-file (hmacsha1): exit 0, 1 sent"

sink_check cbc-1 cbc-2 cbc-3 ctr-1 ctr-2 ctr-3 non-1
result $? "the NON publish is in the sink once"

# 10, 11: the gateway forgets the session between two publishes: the
# device gets 4.01, authenticates again and the message goes through.
d --secret "$secret" --payload 're-{n}' --interval 2000 run --count 2 \
	>"$work/reauth.out" 2>&1 &
dev_pid=$!
for _ in $(seq 300); do
	grep -q '^publish 1 seq' "$work/reauth.out" && break
	kill -0 "$dev_pid" 2>/dev/null || break
	sleep 0.1
done
"$build/coapctl" session flush >"$work/flush.out" 2>&1 || show "$work/flush.out"
wait "$dev_pid"
status=$?
show "$work/reauth.out"
[ $status = 0 ] && grep -q '^publish 2 seq [0-9]*: 4\.01, authenticating again$' \
	"$work/reauth.out" && grep -qx '2 sent, 2 acked' "$work/reauth.out" &&
	[ "$(grep -c '^auth: 2\.05' "$work/reauth.out")" = 2 ]
result $? "after a session flush: 4.01, auth again, retry acked"

sink_check cbc-1 cbc-2 cbc-3 ctr-1 ctr-2 ctr-3 non-1 re-1 re-2
result $? "the retried message is in the sink once"

# 12: a wrong secret.
d --secret "x$secret" run --count 1 >"$work/wrong.out" 2>&1
status=$?
show "$work/wrong.out"
[ $status != 0 ] && grep -q '4\.01' "$work/wrong.out"
result $? "wrong secret: non-zero exit ($status) and 4.01 printed"

# 13: bad arguments.
status=0
for args in "" "frob" "--cipher des auth" "--count 0 run" "-p 0 auth" \
	"--signmethod sha512 auth" "--bogus auth" "--interval x run"; do
	# shellcheck disable=SC2086
	"$dev" --pk "$pk" --dn "$dn" --secret s $args >/dev/null 2>&1
	rc=$?
	[ $rc = 1 ] || { echo "# '$args' exited $rc, want 1"; status=1; }
done
"$dev" --pk "$pk" --dn "$dn" auth >/dev/null 2>&1
[ $? = 1 ] || { echo "# no secret: want exit 1"; status=1; }
result $status "bad arguments exit 1"

# 14: nothing secret in coapd's log.
! grep -qF -- "$secret" "$log"
result $? "coapd's log holds no device secret"

# 15: SIGTERM.
stop_coapd
exit 0
