#!/bin/bash
# DTLS mode (UDP 5684) end to end, inside the test VM with coap_offload.ko
# loaded: a throw-away CA made here with the openssl CLI (never committed),
# coapd with the gateway's certificate, and libcoap's coap-client-openssl
# (a client nobody here wrote) in certificate mode (-R ca.pem) and in the
# SDK's PSK format, over IPv4 and IPv6. Then: wrong PSKs, unknown and
# disabled devices, an untrusted certificate, a stolen token, a forbidden
# topic, the sink holding each acknowledged message exactly once, no
# secret or full token in coapd's log, coapd's /auth failure limits over
# DTLS (bad signs, wrong PSKs; per source and device), session resumption
# (openssl s_client with a saved session) and the handshake rate limit.
# TAP on stdout.
#   tests/e2e/dtls.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
dport=5684
pk=a1dtlsPK
dn=dtls1
dn2=dtls2
secret=$(openssl rand -hex 12)
secret2=$(openssl rand -hex 12)
gw=gateway.test

echo "TAP version 13"
echo "1..53"
. "$(dirname "$0")/lib.sh"

e2e_workdir dtls
cc=coap-client-openssl

# the test PKI: a CA, the gateway's certificate (its name and 127.0.0.1
# and ::1 as SANs) signed by it, and a second CA nobody trusts.
pki() {
	cd "$work" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj /CN=coap-test-ca &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout other.key -out other.pem -days 2 -subj /CN=other-ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout gw.key -out gw.csr -subj "/CN=$gw" &&
	printf 'subjectAltName=DNS:%s,IP:127.0.0.1,IP:::1\n' "$gw" >gw.ext &&
	openssl x509 -req -in gw.csr -CA ca.pem -CAkey ca.key \
		-CAcreateserial -days 2 -extfile gw.ext -out gw.pem &&
	openssl verify -CAfile ca.pem gw.pem
}
(pki) >"$work/pki.out" 2>&1
status=$?
result $status "test CA and gateway certificate made with openssl"
[ $status = 0 ] || show "$work/pki.out"

# the registry: two devices.
"$build/coapctl" -r "$db" device add "$pk/$dn" secret "$secret" >/dev/null &&
	"$build/coapctl" -r "$db" device add "$pk/$dn2" secret "$secret2" >/dev/null
result $? "registry with two devices (coapctl)"

# coapd with the certificate.
start_coapd -v --dtls-cert "$work/gw.pem" --dtls-key "$work/gw.key"

# The SDK's PSK identity and key (PROTOCOL.md), computed here with openssl.
psk_id() { echo "devicename|hmacsha256|$1&$2|2524608000000"; }
psk_key() { # pk dn secret
	printf 'id%s&%stimestamp2524608000000' "$1" "$2" |
		openssl dgst -sha256 -hmac "$3" | awk '{print toupper($NF)}'
}
# An /auth body of DTLS mode (no seq) with an hmacmd5 sign.
auth_body() { # pk dn secret
	local sign
	sign=$(printf 'clientId%s.%sdeviceName%sproductKey%s' "$1" "$2" "$2" "$1" |
		openssl dgst -md5 -hmac "$3" | awk '{print $NF}')
	echo "{\"productKey\":\"$1\",\"deviceName\":\"$2\",\"clientId\":\"$1.$2\",\"signmethod\":\"hmacmd5\",\"sign\":\"$sign\"}"
}
token_of() { sed -n 's/^{"token":"\([0-9a-f]\{32\}\)"}$/\1/p' "$1"; }
# coap-client's verdict: its output shows error codes; a 2.05 without
# payload prints nothing. -v 5 would show more, but also PSKs.
client() { timeout 60 "$cc" -B 20 "$@"; }
# A handshake that must fail: no need to wait for an answer that long.
client_fail() { timeout 30 "$cc" -B 4 "$@"; }

# certificate mode: /auth, then a publish, over IPv4.
client -R "$work/ca.pem" -m post -t 50 -A 50 -e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/cert-auth.out" 2>&1
cert_token=$(token_of "$work/cert-auth.out")
[ -n "$cert_token" ]
status=$?
result $status "certificate mode (-R ca.pem), IPv4: /auth -> {\"token\":...}"
[ $status = 0 ] || show "$work/cert-auth.out"

expect_ok() { # out: no error code printed
	! grep -qE '^[45]\.[0-9]{2}' "$1"
}
client -R "$work/ca.pem" -m post -O "2088,$cert_token" -e 'cert-1' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/cert-pub.out" 2>&1
status=$?
[ $status = 0 ] && expect_ok "$work/cert-pub.out"
status=$?
result $status "certificate mode: publish with option 2088 acknowledged"
[ $status = 0 ] || show "$work/cert-pub.out"

# the same over IPv6.
client -R "$work/ca.pem" -m post -e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://[::1]:$dport/auth" >"$work/cert6-auth.out" 2>&1
cert6_token=$(token_of "$work/cert6-auth.out")
client -R "$work/ca.pem" -m post -O "2088,$cert6_token" -e 'cert6-1' \
	"coaps://[::1]:$dport/topic/$pk/$dn/user/update" >"$work/cert6-pub.out" 2>&1
status=$?
[ -n "$cert6_token" ] && [ $status = 0 ] && expect_ok "$work/cert6-pub.out"
status=$?
result $status "certificate mode, IPv6: /auth and a publish"
[ $status = 0 ] || show "$work/cert6-auth.out" "$work/cert6-pub.out"

# a CA that did not sign the gateway's certificate: no handshake.
client_fail -R "$work/other.pem" -m post -e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/untrusted.out" 2>&1
[ -z "$(token_of "$work/untrusted.out")" ]
result $? "untrusted certificate (another CA): no token"

# PSK mode: the SDK identity; /auth and a publish.
id=$(psk_id "$pk" "$dn")
key=$(psk_key "$pk" "$dn" "$secret")
client -u "$id" -k "$key" -m post -e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/psk-auth.out" 2>&1
psk_token=$(token_of "$work/psk-auth.out")
[ -n "$psk_token" ]
status=$?
result $status "PSK mode (SDK identity): /auth -> {\"token\":...}"
[ $status = 0 ] || show "$work/psk-auth.out"
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'psk-1' \
	"coaps://[::1]:$dport/topic/$pk/$dn/user/update" >"$work/psk-pub.out" 2>&1
status=$?
[ $status = 0 ] && expect_ok "$work/psk-pub.out"
status=$?
result $status "PSK mode, IPv6: publish acknowledged"
[ $status = 0 ] || show "$work/psk-pub.out"

# option 61, the alias some SDK releases use.
client -u "$id" -k "$key" -m post -O "61,$psk_token" -e 'psk-61' \
	"coaps://127.0.0.1:$dport/topic/sys/$pk/$dn/thing/event" >"$work/psk-61.out" 2>&1
status=$?
[ $status = 0 ] && expect_ok "$work/psk-61.out"
result $? "PSK mode: token in option 61, /sys topic: acknowledged"

# a retransmitted CON (same Message ID on the same DTLS session, as
# when the ACK was lost): the same 2.05 and message id, delivered once.
"$build/e2e/dtls-dup" 127.0.0.1 "$dport" "$id" "$key" "$psk_token" \
	"topic/$pk/$dn/user/update" 'dup-1' >"$work/dup.out" 2>&1
[ "$(grep -cE '^2\.05 [0-9a-f]{16}$' "$work/dup.out")" = 2 ] &&
	[ "$(sort -u "$work/dup.out" | wc -l)" = 1 ]
status=$?
result $status "retransmitted CON: the same 2.05 and option 2090 again"
[ $status = 0 ] || show "$work/dup.out"

# the wrong PSK: no handshake, no token.
client_fail -u "$id" -k "$(psk_key "$pk" "$dn" wrong-secret)" -m post \
	-e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/psk-wrong.out" 2>&1
[ -z "$(token_of "$work/psk-wrong.out")" ] &&
	grep -q 'PSK\|handshake' "$log"
result $? "wrong PSK: no token"

# an identity of an unknown device; 13: not the SDK format.
client_fail -u "$(psk_id "$pk" nobody)" -k "$key" -m post \
	-e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/psk-unknown.out" 2>&1
[ -z "$(token_of "$work/psk-unknown.out")" ] &&
	grep -q "PSK $pk/nobody: unknown device" "$log"
result $? "PSK identity of an unknown device: refused"
client_fail -u "$pk.$dn" -k "$key" -m post -e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/psk-format.out" 2>&1
[ -z "$(token_of "$work/psk-format.out")" ] &&
	grep -q 'PSK identity not in the SDK format' "$log"
result $? "PSK identity not in the SDK format: refused"

# a disabled device: its PSK no longer opens a channel.
"$build/coapctl" -r "$db" device disable "$pk/$dn2" >/dev/null
client_fail -u "$(psk_id "$pk" "$dn2")" -k "$(psk_key "$pk" "$dn2" "$secret2")" -m post \
	-e "$(auth_body "$pk" "$dn2" "$secret2")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/psk-disabled.out" 2>&1
[ -z "$(token_of "$work/psk-disabled.out")" ] &&
	grep -q "PSK $pk/$dn2: device disabled" "$log"
result $? "disabled device: PSK refused"
"$build/coapctl" -r "$db" device enable "$pk/$dn2" >/dev/null

# in PSK mode, /auth for another device than the identity's: 4.01.
client -u "$(psk_id "$pk" "$dn2")" -k "$(psk_key "$pk" "$dn2" "$secret2")" -m post \
	-e "$(auth_body "$pk" "$dn" "$secret")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/psk-other.out" 2>&1
grep -q '^4\.01' "$work/psk-other.out"
result $? "PSK of one device, /auth as another: 4.01"

# a device publishing with another device's token: 4.01.
client -u "$(psk_id "$pk" "$dn2")" -k "$(psk_key "$pk" "$dn2" "$secret2")" -m post \
	-O "2088,$psk_token" -e 'stolen' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/stolen.out" 2>&1
grep -q '^4\.01' "$work/stolen.out"
result $? "another device's token: 4.01"

# no or an unknown token: 4.01; 18: someone else's topic: 4.03.
client -R "$work/ca.pem" -m post -O "2088,0123456789abcdef0123456789abcdef" -e 'x' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/notoken.out" 2>&1
grep -q '^4\.01' "$work/notoken.out"
result $? "unknown token: 4.01"
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'forbidden' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn2/user/update" >"$work/forbidden.out" 2>&1
grep -q '^4\.03' "$work/forbidden.out"
result $? "another device's topic: 4.03"

# the module's topic rules (coapctl config set rules) govern DTLS too.
"$build/coapctl" config set rules '/custom/{pk}/#' >/dev/null &&
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'custom-1' \
	"coaps://127.0.0.1:$dport/topic/custom/$pk/x" >"$work/custom.out" 2>&1 &&
expect_ok "$work/custom.out" &&
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'not-custom' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/custom2.out" 2>&1 &&
grep -q '^4\.03' "$work/custom2.out"
status=$?
"$build/coapctl" config set rules default >/dev/null
result $status "coapctl config set rules: applied to DTLS publishes (2.05 and 4.03)"
[ $status = 0 ] || show "$work/custom.out" "$work/custom2.out"

# the symmetric-mode fast path never takes a DTLS token.
client -m post -O "2088,$psk_token" -e 'plain' \
	"coap://127.0.0.1:$port/topic/$pk/$dn/user/update" >"$work/plain.out" 2>&1
grep -q '^4\.01' "$work/plain.out"
result $? "a DTLS token on the plaintext port: 4.01"

# DTLS sessions are in the kernel's table, in DTLS mode.
"$build/coapctl" session list >"$work/list.out" 2>&1
grep -Eq "^${psk_token:0:6}… +$pk/$dn +dtls " "$work/list.out"
status=$?
result $status "coapctl session list: the DTLS session, mode dtls"
[ $status = 0 ] || show "$work/list.out"
"$build/coapctl" -j session list >"$work/list.json" 2>&1
python3 - "$work/list.json" "$pk" "$dn" "$dn2" <<'PY' >"$work/list-check.out" 2>&1
import json, sys
f, pk, dn, dn2 = sys.argv[1:]
ss = json.load(open(f))
ss = ss if isinstance(ss, list) else ss.get('sessions', ss)
mine = [s for s in ss if s['product_key'] == pk]
# dn: its newest token only (each /auth replaced the previous); dn2 none.
assert [s['device_name'] for s in mine] == [dn], mine
assert mine[0]['mode'] == 'dtls' and mine[0]['cipher'] is None, mine
PY
status=$?
result $status "coapctl -j: one DTLS session per device (a new /auth replaced the old)"
[ $status = 0 ] || show "$work/list-check.out" "$work/list.json"

# Session resumption (OpenSSL's session tickets, on in libcoap's server):
# openssl s_client saves the session (-sess_out) and resumes it
# (-sess_in), carrying one CoAP POST /auth (CON, MID 0xc0de, token "rs").
auth_pdu() { # file pk dn secret
	python3 -c 'import sys
body = sys.argv[2].encode()
sys.stdout.buffer.write(bytes([0x42, 0x02, 0xc0, 0xde]) + b"rs" +
	b"\xb4auth" + b"\x11\x32" + b"\xff" + body)' "$1" "$(auth_body "$2" "$3" "$4")" >"$1"
}
sclient() { # out pdu [s_client args]: prints New/Reused, then the answer
	local out=$1 pdu=$2
	shift 2
	(cat "$pdu"; sleep 2) | timeout 30 openssl s_client -dtls1_2 -nocommands \
		-connect "127.0.0.1:$dport" "$@" >"$out" 2>&1
}
answer_code() { # s_client output -> the code of the answer to MID 0xc0de
	python3 -c 'import re, sys
m = re.search(rb"\x62(.)\xc0\xders", open(sys.argv[1], "rb").read(), re.S)
print("%d.%02d" % (m.group(1)[0] >> 5, m.group(1)[0] & 31) if m else "none")' "$1"
}
psk_hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
id2=$(psk_id "$pk" "$dn2")
key2hex=$(psk_hex "$(psk_key "$pk" "$dn2" "$secret2")")
auth_pdu "$work/auth-dn2.bin" "$pk" "$dn2" "$secret2"
auth_pdu "$work/auth-dn.bin" "$pk" "$dn" "$secret"
# certificate mode: a full handshake, then the ticket.
sclient "$work/res-c1.out" "$work/auth-dn2.bin" -CAfile "$work/ca.pem" \
	-sess_out "$work/sess-cert.pem"
sclient "$work/res-c2.out" "$work/auth-dn2.bin" -CAfile "$work/ca.pem" \
	-sess_in "$work/sess-cert.pem"
grep -q '^New, TLSv1.2' "$work/res-c1.out" && grep -q '^Reused, TLSv1.2' "$work/res-c2.out" &&
	[ "$(answer_code "$work/res-c2.out")" = 2.05 ] &&
	grep -q 'connected (certificate, resumed)' "$log"
status=$?
result $status "certificate mode: a session ticket resumes (s_client -sess_in: Reused), /auth 2.05"
[ $status = 0 ] || show "$work/res-c1.out" "$work/res-c2.out"
# PSK mode: the resumed session still speaks for its PSK's device only.
sclient "$work/res-p1.out" "$work/auth-dn2.bin" -cipher PSK -psk_identity "$id2" \
	-psk "$key2hex" -sess_out "$work/sess-psk.pem"
sclient "$work/res-p2.out" "$work/auth-dn.bin" -cipher PSK -psk_identity "$id2" \
	-psk "$key2hex" -sess_in "$work/sess-psk.pem"
code1=$(answer_code "$work/res-p1.out")
code2=$(answer_code "$work/res-p2.out")
grep -q '^New, TLSv1.2' "$work/res-p1.out" && [ "$code1" = 2.05 ] &&
	grep -q '^Reused, TLSv1.2' "$work/res-p2.out" && [ "$code2" = 4.01 ] &&
	grep -q 'connected (PSK, resumed)' "$log"
status=$?
result $status "PSK mode: resumed (Reused), still the PSK's device: /auth as another $code2"
[ $status = 0 ] || { show "$work/res-p2.out"; grep -a 'dtls' "$log" | tail -8 | sed 's/^/# /'; }
# a disabled device cannot come back through its ticket.
"$build/coapctl" -r "$db" device disable "$pk/$dn2" >/dev/null
sclient "$work/res-p3.out" "$work/auth-dn2.bin" -cipher PSK -psk_identity "$id2" \
	-psk "$key2hex" -sess_in "$work/sess-psk.pem"
"$build/coapctl" -r "$db" device enable "$pk/$dn2" >/dev/null
[ "$(answer_code "$work/res-p3.out")" = 5.03 ] &&
	grep -q "resumed PSK session of $pk/$dn2: device disabled: refused" "$log"
status=$?
result $status "PSK mode: the ticket of a disabled device: refused (5.03)"
[ $status = 0 ] || show "$work/res-p3.out"

# no secret, PSK or full token in the log.
! grep -qF -e "$secret" -e "$secret2" -e "$key" -e "$psk_token" -e "$cert_token" "$log"
result $? "coapd's log holds no secret, PSK or full token"
stop_coapd

# a restarted coapd takes the DTLS sessions over from the kernel:
# the device's token still works (a new DTLS channel, no new /auth).
start_coapd -v --dtls-cert "$work/gw.pem" --dtls-key "$work/gw.key"
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'restart-1' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/restart.out" 2>&1
status=$?
[ $status = 0 ] && expect_ok "$work/restart.out" &&
	grep -q 'DTLS sessions taken over from the kernel' "$log"
status=$?
result $status "after a coapd restart: the DTLS token still publishes"
[ $status = 0 ] || show "$work/restart.out" "$log"

# the module reloaded (as by a reboot): the registry's sessions table gives
# the DTLS token back to the kernel, in DTLS mode.
stop_coapd
rmmod coap_offload && insmod "${COAP_OFFLOAD_KO:?}"
start_coapd -v --dtls-cert "$work/gw.pem" --dtls-key "$work/gw.key"
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'reload-1' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/reload.out" 2>&1
status=$?
"$build/coapctl" session list >"$work/reload-list.out" 2>&1
[ $status = 0 ] && expect_ok "$work/reload.out" &&
	grep -Eq 'sessions: 0 in the kernel, [1-9][0-9]* restored' "$log" &&
	grep -Eq "^${psk_token:0:6}… +$pk/$dn +dtls " "$work/reload-list.out"
status=$?
result $status "after a module reload: the DTLS token restored from the registry (mode dtls), publishes"
[ $status = 0 ] || show "$work/reload.out" "$work/reload-list.out" "$log"

# deleted from the kernel's table (coapctl): revoked for DTLS too.
"$build/coapctl" session del "$psk_token" >/dev/null 2>&1
client -u "$id" -k "$key" -m post -O "2088,$psk_token" -e 'deleted' \
	"coaps://127.0.0.1:$dport/topic/$pk/$dn/user/update" >"$work/deleted.out" 2>&1
grep -q '^4\.01' "$work/deleted.out"
result $? "coapctl session del: the DTLS token gets 4.01"

# coap-device in both DTLS modes: /auth, then three CON publishes.
dev() { timeout 120 "$build/coap-device" --pk "$pk" --dn "$dn" "$@"; }
run3_ok() { # out
	grep -q '3 sent, 3 ok' "$1" &&
		[ "$(grep -cE '^publish .*: 2\.05 id [0-9a-f]{16}' "$1")" = 3 ]
}
dev -H 127.0.0.1 --dtls cert --ca "$work/ca.pem" --server-name "$gw" \
	--secret "$secret" --payload 'dev-cert-{n}' run --messages 3 \
	>"$work/dev-cert.out" 2>&1
status=$?
[ $status = 0 ] && run3_ok "$work/dev-cert.out" &&
	grep -q 'token .* (DTLS, certificate)' "$work/dev-cert.out"
status=$?
result $status "coap-device --dtls cert (chain and name verified): auth + 3 publishes"
[ $status = 0 ] || show "$work/dev-cert.out"

dev -H ::1 --dtls psk --secret "$secret" --payload 'dev-psk-{n}' \
	run --messages 3 >"$work/dev-psk.out" 2>&1
status=$?
[ $status = 0 ] && run3_ok "$work/dev-psk.out" &&
	grep -q 'token .* (DTLS, PSK)' "$work/dev-psk.out"
status=$?
result $status "coap-device --dtls psk, IPv6: auth + 3 publishes"
[ $status = 0 ] || show "$work/dev-psk.out"

dev -H 127.0.0.1 --dtls cert --ca "$work/ca.pem" --server-name other.test \
	--secret "$secret" auth >"$work/dev-name.out" 2>&1
status=$?
[ $status != 0 ] && ! grep -q '2\.05' "$work/dev-name.out" &&
	grep -q "certificate is for '$gw', not 'other.test'" "$work/dev-name.out"
result $? "coap-device --dtls cert, wrong --server-name: refused (exit $status)"

dev -H 127.0.0.1 --dtls cert --ca "$work/other.pem" --server-name "$gw" \
	--secret "$secret" auth >"$work/dev-ca.out" 2>&1
status=$?
[ $status != 0 ] && ! grep -q '2\.05' "$work/dev-ca.out"
result $? "coap-device --dtls cert, untrusted CA: no token (exit $status)"

dev -H 127.0.0.1 --dtls psk --secret wrong-secret auth >"$work/dev-wrong.out" 2>&1
status=$?
[ $status != 0 ] && ! grep -q '2\.05' "$work/dev-wrong.out"
result $? "coap-device --dtls psk, wrong secret: no token (exit $status)"

# The sink: each acknowledged message once, with DTLS-space ids.
python3 - "$sink" "$pk" "$dn" cert-1 cert6-1 psk-1 psk-61 dup-1 custom-1 restart-1 reload-1 dev-cert-1 dev-cert-2 dev-cert-3 dev-psk-1 dev-psk-2 dev-psk-3 >"$work/sink.out" 2>&1 <<'PY'
import json, sys
sinkf, pk, dn, *want = sys.argv[1:]
got = [json.loads(l) for l in open(sinkf)]
payloads = sorted(m.get('payload') for m in got)
assert payloads == sorted(want), (payloads, want)
for m in got:
    assert m['productKey'] == pk and m['deviceName'] == dn, m
    assert m['id'] >= 1 << 63, m
    assert 'seq' not in m, m
assert len({m['id'] for m in got}) == len(got)
PY
status=$?
result $status "sink: each acknowledged DTLS message exactly once, ids >= 2^63"
[ $status = 0 ] || show "$work/sink.out" "$sink"
stop_coapd

# coapd's /auth failure limits over DTLS (as on the symmetric port): a
# budget of 3 failures per source (IPv4 address, IPv6 /64) and per device,
# regained at 3 a minute (one per 20 s: the debug kernel's handshakes take
# seconds, the checks of one limit must fit in it). Sources: 127.0.0.1 (A), 127.0.0.2 (B), ::1 (C),
# 127.0.0.3 (D).
dn3=dtls3
"$build/coapctl" -r "$db" device add "$pk/$dn3" secret "$secret" >/dev/null
start_coapd -v --dtls-cert "$work/gw.pem" --dtls-key "$work/gw.key" \
	--auth-fail-burst 3 --auth-fail-rate 3
code_of() { grep -oE '^[245]\.[0-9]{2}' "$1" | head -1; }
cauth() { # out source pk dn secret [coap-client args]: /auth in certificate mode
	local out=$1 src=$2 apk=$3 adn=$4 asecret=$5
	shift 5
	client -a "$src" -R "$work/ca.pem" -m post "$@" \
		-e "$(auth_body "$apk" "$adn" "$asecret")" \
		"coaps://$([ "$src" = ::1 ] && echo '[::1]' || echo 127.0.0.1):$dport/auth" \
		>"$out" 2>&1
}
codes=
for i in 1 2 3; do
	cauth "$work/rl-bad-$i.out" 127.0.0.1 "$pk" "$dn" wrong-secret
	codes="$codes$(code_of "$work/rl-bad-$i.out") "
done
[ "$codes" = "4.01 4.01 4.01 " ]
result $? "DTLS /auth: 3 bad signs from one source: 4.01 each ($codes)"
# -v 6: coap-client shows the answer with its options (no PSK here).
cauth "$work/rl-a.out" 127.0.0.1 "$pk" "$dn3" "$secret" -v 6
max_age=$(grep -oE 'Max-Age:[0-9]+' "$work/rl-a.out" | head -1 | cut -d: -f2)
grep -qE '^4\.29|c:4\.29' "$work/rl-a.out" && [ -z "$(token_of "$work/rl-a.out")" ] &&
	[ -n "$max_age" ] && [ "$max_age" -ge 1 ] && [ "$max_age" -le 20 ]
status=$?
result $status "DTLS /auth: that source then gets 4.29 + Max-Age ($max_age), even with a good sign"
[ $status = 0 ] || show "$work/rl-a.out"
cauth "$work/rl-b1.out" 127.0.0.2 "$pk" "$dn" "$secret"
cauth "$work/rl-b2.out" 127.0.0.2 "$pk" "$dn2" "$secret2"
[ "$(code_of "$work/rl-b1.out")" = 4.29 ] && [ -n "$(token_of "$work/rl-b2.out")" ]
status=$?
result $status "DTLS /auth: another source: 4.29 for the limited device, a token for another"
[ $status = 0 ] || show "$work/rl-b1.out" "$work/rl-b2.out"
# PSK handshakes count too: 3 wrong PSKs for dn2 from C (DTLS drops the
# Finished that does not decrypt: coapd counts a PSK handshake unfinished
# after 10 s). At once, so that the budget regains nothing between them.
# Then C gets 4.29 in certificate mode, and dn2's right PSK from D fails
# (device limited).
pids=
for i in 1 2 3; do
	client_fail -u "$(psk_id "$pk" "$dn2")" -k "$(psk_key "$pk" "$dn2" wrong-secret)" \
		-m post -e "$(auth_body "$pk" "$dn2" "$secret2")" \
		"coaps://[::1]:$dport/auth" >"$work/rl-psk-$i.out" 2>&1 &
	pids="$pids $!"
done
# shellcheck disable=SC2086 # the three clients, not coapd
wait $pids
counted() { grep -c "PSK $pk/$dn2: handshake .*: counted as an auth failure" "$log"; }
for _ in $(seq 40); do
	[ "$(counted)" -ge 3 ] && break
	sleep 0.5
done
cauth "$work/rl-c.out" ::1 "$pk" "$dn3" "$secret"
[ "$(code_of "$work/rl-c.out")" = 4.29 ]
status=$?
result $status "3 wrong PSKs from a source: its certificate-mode /auth gets 4.29"
[ $status = 0 ] || show "$work/rl-c.out"
client_fail -a 127.0.0.3 -u "$(psk_id "$pk" "$dn2")" -k "$(psk_key "$pk" "$dn2" "$secret2")" \
	-m post -e "$(auth_body "$pk" "$dn2" "$secret2")" \
	"coaps://127.0.0.1:$dport/auth" >"$work/rl-psk-d.out" 2>&1
[ -z "$(token_of "$work/rl-psk-d.out")" ] &&
	[ "$(counted)" = 3 ] &&
	grep -q "PSK $pk/$dn2 refused: device limited" "$log"
status=$?
result $status "3 wrong PSKs for a device: its right PSK from elsewhere is refused (device limited)"
[ $status = 0 ] || show "$work/rl-psk-d.out" "$log"
# 3 a minute: one failure regained after 20 s.
sleep 21
cauth "$work/rl-again.out" 127.0.0.1 "$pk" "$dn3" "$secret"
[ -n "$(token_of "$work/rl-again.out")" ]
status=$?
result $status "after Max-Age: the source's good /auth gets a token"
[ $status = 0 ] || show "$work/rl-again.out"
[ "$(grep -c 'dtls auth from 127.0.0.1:[0-9]*: too many failures: source limited' "$log")" = 1 ] &&
	[ "$(grep -c "dtls auth $pk/$dn: too many failures: limited" "$log")" = 1 ] &&
	[ "$(grep -c "dtls auth $pk/$dn2: too many failures: limited" "$log")" = 1 ] &&
	[ "$(grep -c 'dtls auth from \[::1\]:[0-9]*: too many failures: source limited' "$log")" = 1 ] &&
	! grep -qF -e "$secret" -e "$secret2" "$log"
status=$?
result $status "coapd said once per source and device that it limits; no secret in its log"
[ $status = 0 ] || show "$log"
stop_coapd

# the handshake rate limit: a coapd allowing 2 a minute per host.
start_coapd --dtls-handshake-rate 2
ok_auths=0
for i in 1 2 3; do
	client -u "$id" -k "$key" -m post -e "$(auth_body "$pk" "$dn" "$secret")" \
		"coaps://127.0.0.1:$dport/auth" >"$work/rate-$i.out" 2>&1
	[ -n "$(token_of "$work/rate-$i.out")" ] && ok_auths=$((ok_auths + 1))
done
[ $ok_auths = 2 ] && grep -q 'refused: more than 2 handshakes' "$log"
result $? "handshake rate limit 2/min: the third handshake fails ($ok_auths ok)"
stop_coapd
