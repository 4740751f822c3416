#!/bin/bash
# A statically provisioned session (`coapctl session add ... secret S random R`)
# accepts publishes that were built on the host with the openssl CLI only:
# the session key, the encrypted seq option and the encrypted payload come
# from `openssl dgst` / `openssl enc`, the CoAP bytes from printf and xxd.
# Nothing of the project's own crypto (userspace/lib/coap_proto.c, the
# kernel's) is involved in producing them, so a mistake shared by both sides
# of the project cannot hide here.
#
#   tests/vm/static-session.sh build DIR           (host: write the datagrams)
#   tests/vm/static-session.sh check DIR BUILD_DIR (VM, root, module loaded)
#
# `check` starts coapd (the consumer, with a JSON-lines sink), adds the
# sessions with coapctl, sends the datagrams from one UDP socket and checks
# each answer byte for byte (2.05 + option 2090 where accepted, 4.00 for a
# replay or a wrong key), the plaintexts in the sink exactly once, and
# `coapctl session rekey`. TAP on stdout.
set -u

# --- CoAP bytes (RFC 7252), as hex ---------------------------------------

hex() { printf '%s' "$1" | xxd -p -c 256 | tr -d '\n'; }

# One option: previous number, number, value (hex).
coap_opt() {
	local delta=$(($2 - $1)) len=$((${#3} / 2)) dn dx ln lx
	nibble() { # value -> "nibble extension-hex"
		if [ "$1" -lt 13 ]; then echo "$1 "
		elif [ "$1" -lt 269 ]; then printf '13 %02x\n' $(($1 - 13))
		else printf '14 %04x\n' $(($1 - 269)); fi
	}
	read -r dn dx <<<"$(nibble $delta)"
	read -r ln lx <<<"$(nibble $len)"
	printf '%x%x%s%s%s' "$dn" "$ln" "$dx" "$lx" "$3"
}

# publish MID TOKEN_OPTION(2088|61) SESSION_TOKEN PK DN SEQ_HEX PAYLOAD_HEX
publish_hex() {
	local mid=$1 topt=$2 stok=$3 pk=$4 dn=$5 seq=$6 body=$7 seg out prev
	# CON, token length 2, POST; the CoAP token is the MID's bytes.
	out=$(printf '4202%04x%04x' "$mid" "$mid")
	prev=0
	for seg in topic "$pk" "$dn" user update; do
		out+=$(coap_opt $prev 11 "$(hex "$seg")")
		prev=11
	done
	out+=$(coap_opt $prev "$topt" "$(hex "$stok")")
	out+=$(coap_opt "$topt" 2089 "$seq")
	printf '%sff%s' "$out" "$body"
}

# --- the protocol's crypto, with the openssl CLI ---------------------------

IV_HEX=$(hex 543yhjy97ae7fyfg)	# the fixed IV (PROTOCOL.md)

# key SECRET RANDOM: SHA-256(secret "," random), bytes 8..23.
session_key() {
	printf '%s,%s' "$1" "$2" | openssl dgst -sha256 -binary |
		xxd -p -c 64 | cut -c17-48
}

# seq KEY SEQ: AES-128-CBC (PKCS#7, fixed IV) of the decimal ASCII.
seq_block() {
	printf '%s' "$2" | openssl enc -aes-128-cbc -K "$1" -iv "$IV_HEX" |
		xxd -p -c 64
}

# payload CIPHER KEY SEQ_BLOCK_HEX TEXT
payload() {
	case $1 in
	aes-128-cbc) printf '%s' "$4" |
		openssl enc -aes-128-cbc -K "$2" -iv "$IV_HEX" | xxd -p -c 4096 ;;
	aes-128-ctr) printf '%s' "$4" |
		openssl enc -aes-128-ctr -K "$2" -iv "$3" | xxd -p -c 4096 ;;
	esac | tr -d '\n'
}

PK=a1StatPK
DN=static1

build() {
	local dir=$1 secret random key k2 s tok ctok
	mkdir -p "$dir"
	rm -f "$dir"/*.hex
	secret=$(openssl rand -hex 16)
	random=$(openssl rand -hex 8)
	tok=st-$(openssl rand -hex 16)
	ctok=sc-$(openssl rand -hex 16)
	key=$(session_key "$secret" "$random")
	# What `check` needs; the key itself is not written down.
	cat >"$dir/params" <<-EOF
	PK=$PK
	DN=$DN
	SECRET=$secret
	RANDOM_HEX=$random
	TOKEN=$tok
	CTR_TOKEN=$ctok
	EOF

	# aes-128-cbc, seqOffset 4912: seq 4912 and 4913 (option 2088), 4914
	# with the token in option 61.
	s=$(seq_block "$key" 4912)
	publish_hex 4101 2088 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$key" "$s" 'static cbc 4912')" >"$dir/cbc-4912.hex"
	# The same seq under a new message id: a replay.
	publish_hex 4102 2088 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$key" "$s" 'static cbc replay')" >"$dir/cbc-replay.hex"
	s=$(seq_block "$key" 4913)
	publish_hex 4103 2088 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$key" "$s" 'static cbc 4913')" >"$dir/cbc-4913.hex"
	s=$(seq_block "$key" 4914)
	publish_hex 4104 61 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$key" "$s" 'static cbc opt61')" >"$dir/cbc-opt61.hex"
	# A key from another secret: the seq does not decrypt.
	k2=$(session_key "x$secret" "$random")
	s=$(seq_block "$k2" 4915)
	publish_hex 4105 2088 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$k2" "$s" 'static wrong key')" >"$dir/cbc-wrongkey.hex"

	# aes-128-ctr, seqOffset 1: seq 1.
	s=$(seq_block "$key" 1)
	publish_hex 4201 2088 "$ctok" $PK $DN "$s" \
		"$(payload aes-128-ctr "$key" "$s" 'static ctr 1')" >"$dir/ctr-1.hex"

	# After `session rekey TOKEN secret S random R2 seq-offset 100`: a
	# publish under the new key, and one under the old key, seq 100 both.
	echo "REKEY_RANDOM=$(openssl rand -hex 8)" >>"$dir/params"
	. "$dir/params"
	k2=$(session_key "$secret" "$REKEY_RANDOM")
	s=$(seq_block "$k2" 100)
	publish_hex 4301 2088 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$k2" "$s" 'static rekeyed 100')" >"$dir/rekey-new.hex"
	s=$(seq_block "$key" 101)
	publish_hex 4302 2088 "$tok" $PK $DN "$s" \
		"$(payload aes-128-cbc "$key" "$s" 'static old key 101')" >"$dir/rekey-old.hex"
}

# --- inside the VM -----------------------------------------------------------

check() {
	local dir=$1
	build=$(cd "$2" && pwd)
	port=5682
	echo "TAP version 13"
	echo "1..12"
	. "$(dirname "$0")/../e2e/lib.sh"
	if [ ! -r "$dir/params" ]; then
		echo "Bail out! no datagrams in $dir (run '$0 build $dir' on the host)"
		exit 1
	fi
	. "$dir/params"
	work=$(mktemp -d /tmp/static-session.XXXXXX)
	db=$work/registry.db
	sink=$work/sink.jsonl
	log=$work/coapd.log
	trap '[ -n "$coapd_pid" ] && kill "$coapd_pid" 2>/dev/null; rm -rf "$work"' EXIT
	ctl() { "$build/coapctl" "$@" >"$work/ctl.out" 2>&1 || { show "$work/ctl.out"; return 1; }; }

	# 1: coapd attaches the socket and is the consumer; its registry
	# does not know the device: the sessions below are static.
	"$build/coapctl" -r "$db" device add a1OtherPK/other >/dev/null
	start_coapd

	# 2: the static sessions.
	ctl session add device "$PK/$DN" token "$TOKEN" secret "$SECRET" \
		random "$RANDOM_HEX" seq-offset 4912 &&
		ctl session add device "$PK/$DN" token "$CTR_TOKEN" secret - \
			random "$RANDOM_HEX" seq-offset 1 cipher aes-128-ctr \
			<<<"$SECRET" &&
		ctl config set token-alias on
	result $? "coapctl session add (secret + random), aes-128-cbc and aes-128-ctr"

	# send FILE...: one UDP socket, one line per datagram: the answer in
	# hex, or "none" after 3 s.
	send() {
		python3 - "$port" "$@" <<-'PY'
		import socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.settimeout(3)
		for f in sys.argv[2:]:
		    s.sendto(bytes.fromhex(open(f).read().strip()), ('127.0.0.1', int(sys.argv[1])))
		    try:
		        print(s.recv(2048).hex())
		    except socket.timeout:
		        print('none')
		PY
	}
	# The answers: ACK, token of 2 bytes = the message id; 2.05 with only
	# option 2090 (8 bytes), or an error code with nothing else.
	acked() { [[ $1 =~ ^6245$2$2e8071d([0-9a-f]{16})$ ]]; }
	refused() { [[ $1 == 6280$2$2 ]]; }

	# (No process substitution: the guest has no /dev/fd.)
	send "$dir"/cbc-4912.hex "$dir"/cbc-4912.hex "$dir"/cbc-replay.hex \
		"$dir"/cbc-4913.hex "$dir"/cbc-opt61.hex "$dir"/cbc-wrongkey.hex \
		"$dir"/ctr-1.hex >"$work/answers"
	mapfile -t a <"$work/answers"
	printf '# answer %s\n' "${a[@]}"

	# 3, 4: the first publish, and its retransmission (same message id).
	acked "${a[0]:-}" 1005 && id=${BASH_REMATCH[1]}
	result $? "aes-128-cbc publish built with openssl: 2.05 + option 2090"
	acked "${a[1]:-}" 1005 && [ "${BASH_REMATCH[1]}" = "${id:-}" ]
	result $? "its retransmission gets the same answer (same 2090)"
	# 5: same seq, new message id.
	refused "${a[2]:-}" 1006
	result $? "a replayed seq: 4.00"
	# 6: the next seq, then the token in option 61.
	acked "${a[3]:-}" 1007 && acked "${a[4]:-}" 1008
	result $? "seq 4913 (option 2088) and 4914 (token in option 61): 2.05"
	# 7: a key derived from another secret.
	refused "${a[5]:-}" 1009
	result $? "a publish under a key from another secret: 4.00"
	# 8: aes-128-ctr.
	acked "${a[6]:-}" 1069
	result $? "aes-128-ctr publish built with openssl: 2.05 + option 2090"

	# 9: coapctl session rekey: the new key works, the old one not.
	ctl session rekey "$TOKEN" secret "$SECRET" random "$REKEY_RANDOM" \
		seq-offset 100 &&
		send "$dir"/rekey-new.hex "$dir"/rekey-old.hex >"$work/answers"
	mapfile -t b <"$work/answers"
	printf '# answer %s\n' "${b[@]}"
	acked "${b[0]:-}" 10cd && refused "${b[1]:-}" 10ce
	result $? "session rekey: the new key's publish 2.05, the old key's 4.00"

	# 10: the session kept its identity and cipher through the rekey.
	"$build/coapctl" -j session show --show-tokens >"$work/sessions.json" &&
		python3 - "$work/sessions.json" "$TOKEN" "$PK" "$DN" <<-'PY'
		import json, sys
		d = json.load(open(sys.argv[1]))
		s = [x for x in d if x.get('token') == sys.argv[2]]
		assert len(s) == 1, d
		s = s[0]
		assert s['product_key'] == sys.argv[3] and s['device_name'] == sys.argv[4], s
		assert s['cipher'] == 'aes-128-cbc' and s['seq_offset'] == 100, s
		PY
	result $? "after the rekey: same device and cipher, seqOffset 100"

	# 11: the consumer got each accepted plaintext exactly once.
	python3 - "$sink" <<-'PY'
	import json, sys
	got = sorted(json.loads(l).get('payload') for l in open(sys.argv[1]) if l.strip())
	want = sorted(['static cbc 4912', 'static cbc 4913', 'static cbc opt61',
	               'static ctr 1', 'static rekeyed 100'])
	if got != want:
	    print('# sink %r, want %r' % (got, want))
	    sys.exit(1)
	PY
	result $? "the sink holds exactly the 5 accepted plaintexts"

	"$build/coapctl" session flush >/dev/null
	stop_coapd
}

case ${1:-} in
build) build "${2:?usage: $0 build DIR}" ;;
check) check "${2:?usage: $0 check DIR BUILD_DIR}" "${3:?usage: $0 check DIR BUILD_DIR}" ;;
*) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 1 ;;
esac
