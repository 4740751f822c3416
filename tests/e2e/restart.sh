#!/bin/bash
# Restart and persistence, inside the test VM with coap_offload.ko loaded
# (COAP_OFFLOAD_KO names the module file, for the reload):
#  1. devices authenticate and publish; coapd is killed (SIGKILL) while they
#     publish and started again: the same tokens keep working with no new
#     /auth (the kernel kept the sessions), every publish is answered 2.05,
#     the sink holds each message once, the session list is unchanged; a
#     publish arriving right after a restarting coapd bound its port is
#     answered by the module (2.05), never by coapd (4.01);
#     the registry's seq of a device is the last one it published;
#  2. a session that expires while coapd runs leaves the registry, and so
#     does one an operator deletes (coapctl session del) within seconds;
#  3. the module is unloaded under a running coapd (which stops, status 1),
#     loaded again, coapd started: the sessions come back from the registry,
#     the old token works, a replay of an accepted seq is refused (4.00), a
#     session that expired meanwhile is not restored (4.01).
# The module is left loaded for the scripts after this one. TAP on stdout.
#   tests/e2e/restart.sh BUILD_DIR
set -u
build=$(cd "${1:-build}" && pwd)
port=5682
pk=a1rstPK
secret=$(openssl rand -hex 12)
ko=${COAP_OFFLOAD_KO:-}
client=$build/e2e/restart-client
coapctl=$build/coapctl

echo "TAP version 13"
echo "1..34"
. "$(dirname "$0")/lib.sh"

e2e_kill_signal=KILL
# Whatever happened, the scripts after this one need the module.
e2e_cleanup_more() {
	[ -d /sys/module/coap_offload ] || { [ -n "$ko" ] && insmod "$ko"; }
}
e2e_workdir restart

# Each coapd run logs to a file of its own.
runs=0
start() {
	runs=$((runs + 1))
	log=$work/coapd-$runs.log
	start_coapd -v "$@"
}
dev() { # NAME auth|publish ARGS...
	local name=$1 verb=$2
	shift 2
	if [ "$verb" = auth ]; then
		timeout 120 "$client" "$port" "$work/$name.state" auth "$pk" "$name" "$secret" "$@"
	else
		timeout 300 "$client" "$port" "$work/$name.state" publish "$pk" "$name" "$@"
	fi
}
acked() { grep -c ': 2\.05 id ' "$@"; }
# The rows of the registry's sessions table, as "dn seq_highest".
rows() {
	sqlite3 -cmd '.timeout 5000' -separator ' ' "$db" \
		'SELECT device_name, seq_highest FROM sessions ORDER BY device_name'
}
# stored_seq_is_last OUT LABEL: devA's seq in the registry becomes the
# highest seq answered 2.05 in the publish output OUT (coapd writes it with
# its next tick: wait up to 5 s); one result, named by LABEL, says so.
stored_seq_is_last() {
	local out=$1 label=$2 last stored=
	last=$(sed -n 's/^publish \([0-9]*\) .*: 2\.05 id .*/\1/p' "$out" | sort -n | tail -n 1)
	for _ in $(seq 50); do
		stored=$(rows | sed -n 's/^devA //p')
		[ "$stored" = "$last" ] && break
		sleep 0.1
	done
	[ -n "$last" ] && [ "$stored" = "$last" ]
	result $? "$label: its stored seq is the last one it published ($last, stored $stored)"
}
sessions() { # the kernel's of $pk (earlier scripts leave theirs), without
	# counters: token pk dn cipher offset
	"$coapctl" -j session list --show-tokens | python3 -c '
import json, sys
o = json.load(sys.stdin)
l = o if isinstance(o, list) else o.get("session_list", o.get("sessions", []))
for s in sorted(l, key=lambda s: s["token"]):
    if s["product_key"] == sys.argv[1]:
        print(s["token"], s["product_key"], s["device_name"], s["cipher"], s["seq_offset"])' "$pk"
}

# The registry.
status=0
for d in devA devB devC devD devE devF; do
	"$coapctl" -r "$db" device add "$pk/$d" secret "$secret" >/dev/null || status=1
done
result $status "registry with six devices (coapctl)"

# coapd; the registry holds keys: owner-only.
start
[ "$(stat -c %a "$db")" = 600 ]
result $? "the registry file is mode 0600 ($(stat -c %a "$db"))"

# Two sessions, one per suite, and a first publish each.
dev devA auth aes-128-cbc >"$work/authA.out" 2>&1 &&
	dev devB auth aes-128-ctr >"$work/authB.out" 2>&1
status=$?
show "$work/authA.out" "$work/authB.out"
result $status "devA (aes-128-cbc) and devB (aes-128-ctr) authenticate"
dev devA publish 2 beforeA >"$work/pubA0.out" 2>&1 &&
	dev devB publish 2 beforeB >"$work/pubB0.out" 2>&1
result $? "devA and devB publish: 2.05"
sessions >"$work/sessions-before"
sleep 2	# a tick: the seqs reach the registry

# SIGKILL while both publish, down for a while, started again.
dev devA publish 30 killA 100 >"$work/pubA1.out" 2>&1 &
pidA=$!
dev devB publish 30 killB 100 >"$work/pubB1.out" 2>&1 &
pidB=$!
for _ in $(seq 300); do
	[ "$(acked "$work/pubA1.out")" -ge 8 ] && break
	sleep 0.1
done
kill -9 "$coapd_pid"
wait "$coapd_pid" 2>/dev/null
coapd_pid=
echo "# coapd killed after devA's publish $(acked "$work/pubA1.out")"
sleep 1.5	# the devices retransmit into a closed port meanwhile
start
wait "$pidA"
stA=$?
wait "$pidB"
stB=$?
show "$work/pubA1.out" "$work/pubB1.out" | grep -v ': 2\.05 id '
[ $stA = 0 ] && [ $stB = 0 ] && [ "$(acked "$work/pubA1.out")" = 30 ] &&
	[ "$(acked "$work/pubB1.out")" = 30 ]
result $? "every publish across the SIGKILL and restart got 2.05 ($(acked "$work/pubA1.out") + $(acked "$work/pubB1.out") of 60), with the same tokens"
! grep -q 'notice: auth ' "$log"
result $? "no /auth reached the restarted coapd"
grep -q 'sessions: 2 in the kernel, 0 restored' "$log"
result $? "the restarted coapd found both sessions in the kernel"
grep 'sessions: ' "$log" | show
sessions >"$work/sessions-after"
diff "$work/sessions-before" "$work/sessions-after" >/dev/null &&
	[ "$(wc -l <"$work/sessions-after")" = 2 ]
result $? "the kernel's session list is unchanged"

# The sink (both coapd runs): every acknowledged message exactly once, and
# nothing else. Those the module had queued to the killed coapd were held
# until confirmed, and the restarted coapd got them again.
sink_once() { cat "$work"/pub*.out | sink_exactly_once "$sink"; }
sink_once
result $? "the sink holds each acknowledged message exactly once"
rows >"$work/rows"
show "$work/rows"
[ "$(grep -c . "$work/rows")" = 2 ]
result $? "the registry holds the two sessions"

# The seq stored for devA is the last it published: coapd takes it from
# the delivered messages (and, after the SIGKILL, from the kernel's table),
# and writes it with its next tick.
stored_seq_is_last "$work/pubA1.out" "devA's session"

# An operator deletes devF's session while coapd runs: the module announces
# it, and its row leaves the registry with coapd's next tick (within a few
# seconds; there was no event before, only a comparison once a minute).
dev devF auth >"$work/authF.out" 2>&1
status=$?
for _ in $(seq 100); do rows | grep -q '^devF ' && break; sleep 0.1; done
rows | grep -q '^devF ' || status=1
"$coapctl" session del device "$pk/devF" >"$work/delF.out" 2>&1 || status=1
gone=1
for i in $(seq 50); do
	rows | grep -q '^devF ' || { gone=0; break; }
	sleep 0.1
done
show "$work/authF.out" "$work/delF.out"
[ $status = 0 ] && [ $gone = 0 ] && rows | grep -q '^devA '
result $? "devF's session, stored, deleted by coapctl while coapd runs: its row left the registry within $((i / 10)).$((i % 10)) s, the others stayed"

# A publish that reaches the port as soon as a restarting coapd has bound
# it must meet the module's fast path, not coapd: coapd does not know the
# kernel's tokens, and its 4.01 would send the device to /auth for nothing.
# The bind-delay shim holds coapd for 3 s right after its IPv4 bind; devB
# publishes the moment the port is bound, and must be answered 2.05 by the
# module while coapd is still held there.
kill -9 "$coapd_pid"
wait "$coapd_pid" 2>/dev/null
coapd_pid=
mark=$work/bound
(
	for _ in $(seq 1200); do [ -e "$mark" ] && break; sleep 0.05; done
	dev devB publish 2 boundB >"$work/pubB-bound.out" 2>&1
	touch "$work/bound-done"
) &
pidB=$!
COAPD_WRAPPER="env LD_PRELOAD=$build/e2e/bind-delay.so BIND_DELAY_PORT=$port BIND_DELAY_MARK=$mark BIND_DELAY_MS=3000" \
	start
# Answered while coapd was held in bind(), or only once it ran?
early=no
[ -e "$work/bound-done" ] && early=yes
wait "$pidB"
stB=$?
show "$work/pubB-bound.out"
[ -e "$mark" ] && [ $stB = 0 ] && [ "$(acked "$work/pubB-bound.out")" = 2 ] &&
	! grep -q ': 4\.01$' "$work/pubB-bound.out" && [ $early = yes ]
result $? "publishes right after the restarted coapd's bind meet the module: 2.05, no 4.01 (answered while coapd was held: $early)"

# An operator deletes devE's session while coapd is down, the
# module staying loaded: the restarted coapd must not bring it back.
dev devE auth >"$work/authE.out" 2>&1
status=$?
sleep 2	# a tick: devE's row is committed
rows | grep -q '^devE ' || status=1
stop_coapd
"$coapctl" session del device "$pk/devE" >"$work/delE.out" 2>&1 || status=1
show "$work/authE.out" "$work/delE.out"
result $status "devE authenticates, its session is stored; coapctl deletes it while coapd is down"

# Short sessions from here (long enough for the slow debug VM to act
# before they end). devD's expires while coapd runs: its row goes.
short=12
start --token-lifetime $short
grep -q 'sessions: 2 in the kernel, 0 restored, 0 expired, 1 gone from the kernel' "$log" &&
	! rows | grep -q '^devE '
result $? "the restarted coapd does not bring devE's deleted session back (its row is gone)"
grep 'sessions: ' "$log" | show
dev devD auth >"$work/authD.out" 2>&1
result $? "devD authenticates ($short s session)"
# Its row is written with coapd's next tick: only a row seen can be seen
# to leave.
stored=1
for _ in $(seq 100); do
	rows | grep -q '^devD ' && { stored=0; break; }
	sleep 0.1
done
gone=1
for _ in $(seq $((10 * (short + 15)))); do
	rows | grep -q '^devD ' || { gone=0; break; }
	sleep 0.1
done
rows | grep -q '^devA ' && [ $stored = 0 ] && [ $gone = 0 ]
result $? "devD's session expired in the kernel: its row was stored, then left the registry, the others stayed"

# devC's short session is stored; the module goes away under coapd.
c_auth=$(date +%s)
dev devC auth >"$work/authC.out" 2>&1 && dev devC publish 1 short >"$work/pubC.out" 2>&1 &&
	sleep 2 &&	# a tick: devC's row is committed
	rows | grep -q '^devC '
result $? "devC authenticates ($short s session), publishes, and its session is stored"
last=$(sed -n 's/^publish \([0-9]*\) .*: 2\.05 id .*/\1/p' "$work/pubA1.out" | sort -n | tail -n 1)
rmmod coap_offload
rm_status=$?
status=1
for _ in $(seq 100); do
	kill -0 "$coapd_pid" 2>/dev/null || { wait "$coapd_pid"; status=$?; break; }
	sleep 0.1
done
[ $status = 124 ] || true
[ $rm_status = 0 ] && [ $status = 1 ] && grep -q 'coap_offload.ko was unloaded' "$log"
result $? "rmmod under a running coapd: coapd says so and exits 1 (rmmod $rm_status, coapd $status)"
[ "$status" = 1 ] || kill -9 "$coapd_pid" 2>/dev/null
coapd_pid=
# Keep the module away until devC's session has run out.
while [ $(($(date +%s) - c_auth)) -le $((short + 3)) ]; do sleep 0.5; done
insmod "$ko"
start
grep -q 'sessions: 0 in the kernel, 2 restored, 1 expired' "$log"
result $? "after the reload: devA's and devB's sessions restored, devC's expired one not"
grep 'sessions: ' "$log" | show

dev devA publish 2 afterA >"$work/pubA2.out" 2>&1 &&
	dev devB publish 2 afterB >"$work/pubB2.out" 2>&1
status=$?
show "$work/pubA2.out" "$work/pubB2.out"
result $status "the old tokens work after the module reload (no /auth)"

# The restored sessions' seqs are recorded as before the reload.
stored_seq_is_last "$work/pubA2.out" "devA's restored session"

# devA's highest accepted seq before the reload, again with a fresh MID.
dev devA publish 1 replay 0 "$last" >"$work/replay.out" 2>&1
show "$work/replay.out"
grep -q "^publish $last replay-1: 4\.00$" "$work/replay.out"
result $? "a replay of devA's seq $last (accepted before the reload) -> 4.00"

dev devC publish 1 expired >"$work/pubC2.out" 2>&1
show "$work/pubC2.out"
grep -q ': 4\.01$' "$work/pubC2.out"
result $? "devC's expired session was not restored: 4.01"
rows >"$work/rows"
show "$work/rows"
[ "$(cut -d' ' -f1 "$work/rows" | tr '\n' ' ')" = "devA devB " ]
result $? "the registry holds devA's and devB's sessions only"

sink_once
result $? "the sink holds each acknowledged message exactly once, after the reload too"

# No secret, key or full token in any coapd log.
status=0
cat "$work"/coapd-*.log >"$work/all.log"
grep -qF -- "$secret" "$work/all.log" && status=1
grep -qiE '[0-9a-f]{32}' "$work/all.log" && status=1
for d in devA devB devC devD devE devF; do
	read -r tok _ key _ <"$work/$d.state"
	grep -qF -- "$tok" "$work/all.log" && status=1
	grep -qiF -- "$key" "$work/all.log" && status=1
done
result $status "coapd's logs hold no secret, key or full token"

stop_coapd
exit 0
