# Shared by the examples' run.sh scripts: source it once WORK is set.
# Every PID appended to "$WORK/pids" is stopped when the script exits:
# SIGTERM (a graceful leave), then SIGKILL for what still runs 15 s later.

say() { echo "== $*"; }
die() {
	echo "FAILED: $*" >&2
	exit 1
}

mkdir -p "$WORK"
: >"$WORK/pids"

cleanup() {
	local code=$? pids alive p i
	set +e
	trap - EXIT INT TERM
	pids=$(cat "$WORK/pids" 2>/dev/null)
	for p in $pids; do kill "$p" 2>/dev/null; done
	for i in $(seq 150); do
		alive=""
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	for p in $alive; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	say "stopped everything this script started ($(echo "$pids" | wc -w) processes); logs in $WORK"
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
