#!/bin/bash
# End to end, inside the test VM with coap_offload.ko loaded: a registry with
# a device, coapd on UDP 5682 with a JSON-lines sink, the test device
# (tests/e2e/device-client.c: /auth variants, publishes in both suites,
# hostile requests) and libcoap's coap-client, a client nobody here wrote.
# Then: every delivered message is in the sink exactly once with the right
# plaintext, coapd's log holds no secret and no full token, and coapd exits
# cleanly on SIGTERM. TAP on stdout.
#   tests/e2e/auth_publish.sh BUILD_DIR
# E2E_PORT (default 5682; "free": any free one) and E2E_COAPD_ARGS change
# coapd's port and add to
# its arguments: tests/run-all runs the very same checks on the host against
# `coapd --no-offload`, where no module is needed.
set -u
build=$(cd "${1:-build}" && pwd)
port=${E2E_PORT:-5682}
pk=a1e2ePK
dn=dev1
disabled_dn=dev-off
# Fresh per run, so that finding it in a log means it leaked from here.
secret=$(openssl rand -hex 12)

# The number of results tests/e2e/device-client.c prints.
client_tests=56
script_tests=8
echo "TAP version 13"
echo "1..$((client_tests + script_tests))"
. "$(dirname "$0")/lib.sh"
[ "$port" = free ] && port=$(free_port)

e2e_workdir e2e

# 1: the registry. coapctl once it exists, the test helper otherwise.
if [ -x "$build/coapctl" ] &&
   "$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" >/dev/null; then
	how=coapctl
else
	how=registry-add
	"$build/e2e/registry-add" "$db" "$pk" "$dn" "$secret"
fi &&
"$build/e2e/registry-add" "$db" "$pk" "$disabled_dn" "x$secret" disabled
result $? "registry with a device ($how) and a disabled one"

# 2: coapd, debug logging on so that the log check below sees everything.
# shellcheck disable=SC2086 # E2E_COAPD_ARGS is a list of arguments
start_coapd -v -v ${E2E_COAPD_ARGS:-}

# 3..: the device. Its results are renumbered into this plan.
"$build/e2e/device-client" "$port" "$pk" "$dn" "$secret" "$disabled_dn" \
	"$work/expected" | while IFS= read -r line; do
	case $line in
	"ok - "*|"not ok - "*) echo "RESULT ${line%% - *}|${line#* - }" ;;
	*) echo "$line" ;;
	esac
done >"$work/client.out"
client_seen=0
while IFS= read -r line; do
	case $line in
	"RESULT ok|"*) result 0 "${line#RESULT ok|}"; client_seen=$((client_seen + 1)) ;;
	"RESULT not ok|"*) result 1 "${line#RESULT not ok|}"; client_seen=$((client_seen + 1)) ;;
	*) echo "$line" ;;
	esac
done <"$work/client.out"
# A client that died early leaves its results missing: they count as failed.
while [ $client_seen -lt $client_tests ]; do
	result 1 "device-client result $((client_seen + 1)) missing"
	client_seen=$((client_seen + 1))
done

# coap-client (libcoap): /auth with a sign computed by openssl.
coap_client=
for c in coap-client coap-client-notls coap-client-openssl coap-client-gnutls; do
	command -v "$c" >/dev/null && { coap_client=$c; break; }
done
content="clientId$pk.${dn}deviceName${dn}productKey${pk}seq4912"
sign=$(printf '%s' "$content" | openssl dgst -md5 -hmac "$secret" | awk '{print $NF}')
body="{\"productKey\":\"$pk\",\"deviceName\":\"$dn\",\"clientId\":\"$pk.$dn\",\"seq\":\"4912\",\"signmethod\":\"hmacmd5\",\"sign\":\"$sign\"}"
lib_token=
if [ -n "$coap_client" ]; then
	timeout 30 "$coap_client" -m post -t 50 -A 50 -e "$body" \
		"coap://127.0.0.1:$port/auth" >"$work/coap-client.out" 2>&1
	lib_token=$(sed -n 's/^{"random":"[0-9a-f]\{16\}","seqOffset":[0-9]\{1,5\},"token":"\([0-9a-f]\{32\}\)"}$/\1/p' \
		"$work/coap-client.out")
	[ -n "$lib_token" ]
	status=$?
	[ $status = 0 ] || sed 's/^/# coap-client: /' "$work/coap-client.out"
	result $status "libcoap $coap_client: POST /auth -> a token"
else
	result 1 "libcoap coap-client not installed (apt-get install libcoap3-bin)"
fi

# The sink: each delivered message exactly once, right fields and plaintext.
python3 - "$work/expected" "$sink" "$pk" "$dn" >"$work/sink-check.out" 2>&1 <<'PY'
import base64, json, sys
expf, sinkf, pk, dn = sys.argv[1:5]
expected = [l.rstrip('\n').split('\t') for l in open(expf) if l.strip()]
lines = open(sinkf).read().splitlines()
msgs = [json.loads(l) for l in lines]
bad = 0
for mid, topic, hexpl in expected:
    found = [m for m in msgs if m.get('id') == int(mid)]
    if len(found) != 1:
        print('# message %s found %d times' % (mid, len(found))); bad += 1; continue
    m = found[0]
    if 'payload' in m:
        pl = m['payload'].encode('utf-8')
    else:
        pl = base64.b64decode(m.get('payload_b64', ''))
    if pl != bytes.fromhex(hexpl) or m.get('topic') != topic or \
       m.get('productKey') != pk or m.get('deviceName') != dn or \
       not isinstance(m.get('seq'), int) or not isinstance(m.get('time'), int) or \
       not str(m.get('peer', '')).rsplit(':', 1)[-1].isdigit():
        print('# message %s differs: %r' % (mid, m)); bad += 1
if len(expected) != 18:
    print('# %d delivered publishes, want 18' % len(expected)); bad += 1
print('# %d lines in the sink, %d expected' % (len(msgs), len(expected)))
sys.exit(1 if bad else 0)
PY
status=$?
cat "$work/sink-check.out"
result $status "the sink holds each delivered message once, with its plaintext"
[ "$(wc -l <"$sink")" = "$(wc -l <"$work/expected")" ]
result $? "the sink holds nothing else (one JSON line per message)"

# coapd's log: no secret, no full token (the hex of a sign, key or token is
# at least 32 characters; a redacted token shows 6).
grep -c . "$log" | sed 's/^/# coapd log lines: /'
! grep -qF -- "$secret" "$log"
result $? "coapd's log holds no device secret"
status=0
grep -qiE '[0-9a-f]{32}' "$log" && status=1
[ -n "$lib_token" ] && grep -qF -- "$lib_token" "$log" && status=1
grep -qE 'token [0-9a-f]{6}…' "$log" || status=1
result $status "coapd's log holds no full token (only redacted ones)"

# SIGTERM: a clean exit.
stop_coapd
exit 0
