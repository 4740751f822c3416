# Sourced by the end-to-end scripts (bash): TAP results, and the coapd each
# one starts and stops. The script sets build, port, db, sink and log first.

n=0
result() { # status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
show() { sed 's/^/# /' "$@"; }

# free_port: a random high UDP port nobody listens on now (host tests may
# run beside each other); 5682 if none is found.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("0.0.0.0", int(sys.argv[1])))' \
			"$p" 2>/dev/null && { echo "$p"; return; }
	done
	echo 5682
}

coapd_pid=
# start_coapd [COAPD ARGS...]: coapd in the foreground on $port with $db and
# a synced sink $sink, logging to $log, under $COAPD_WRAPPER when set (e.g.
# "valgrind --error-exitcode=99"); one result: it said it runs.
start_coapd() {
	local status
	${COAPD_WRAPPER:-} "$build/coapd" -f "$@" -p "$port" -r "$db" \
		--sink-file "$sink" --fsync 2>"$log" &
	coapd_pid=$!
	for _ in $(seq 600); do
		grep -q 'running:' "$log" 2>/dev/null && break
		kill -0 "$coapd_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q 'running:' "$log"
	status=$?
	result $status "coapd started on port $port"
	[ $status = 0 ] || show "$log"
}

# stop_coapd: SIGTERM; one result: a clean exit.
stop_coapd() {
	local status
	kill -TERM "$coapd_pid"
	wait "$coapd_pid"
	status=$?
	# free_port: a random high UDP port nobody listens on now (host tests may
# run beside each other); 5682 if none is found.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("0.0.0.0", int(sys.argv[1])))' \
			"$p" 2>/dev/null && { echo "$p"; return; }
	done
	echo 5682
}

coapd_pid=
	result $status "coapd exits 0 on SIGTERM"
	[ $status = 0 ] || tail -n 20 "$log" | show
}
