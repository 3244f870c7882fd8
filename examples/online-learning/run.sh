#!/usr/bin/env bash
# An online classifier learning from a labelled stream on `actorserve dev`:
# its accuracy rises as the labels arrive, then a concept drift (the labels
# flip) is injected and its drift detector fires. Everything this script
# starts is stopped when it exits (trap on EXIT). See README.md beside it.
#
# Environment (all optional):
#   HTTP_PORT, KAFKA_PORT  ports of actorserve dev on 127.0.0.1 (18080, 19092)
#   DATA                   banknote CSV (testdata/datasets/banknote.csv from the
#                          repository root; generated data when absent)
#   RATE                   events per second (150)
#   EVERY                  seconds between two looks at the model (1)
#   AS_BIN, OL_BIN         prebuilt actorserve and online-learning binaries
#   WORK                   folder for logs, streams and PIDs (a new temp folder)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

HTTP=127.0.0.1:${HTTP_PORT:-18080}
KAFKA=127.0.0.1:${KAFKA_PORT:-19092}
DATA=${DATA:-testdata/datasets/banknote.csv}
RATE=${RATE:-150}
EVERY=${EVERY:-1}
WORK=${WORK:-$(mktemp -d -t actorserve-online.XXXXXX)}
MODELS="bank bank-nodrift"

# say, die, and the trap that stops every PID in $WORK/pids on exit.
. "$ROOT/examples/internal/lib.sh"

for p in "${HTTP##*:}" "${KAFKA##*:}"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use: set HTTP_PORT or KAFKA_PORT"; fi
done
AS=${AS_BIN:-}
OL=${OL_BIN:-}
if [ -z "$AS" ] || [ -z "$OL" ]; then
	say "building actorserve and the example's helper"
	go build -o "$WORK/actorserve" ./cmd/actorserve
	go build -o "$WORK/online-learning" ./examples/online-learning
	AS=$WORK/actorserve OL=$WORK/online-learning
fi

say "starting actorserve dev (HTTP $HTTP, Kafka $KAFKA)"
"$AS" dev --http "$HTTP" --kafka "$KAFKA" >"$WORK/dev.log" 2>&1 &
DEV=$!
echo "$DEV" >>"$WORK/pids"
deadline=$((SECONDS + 60))
until grep -q "actorserve dev is ready" "$WORK/dev.log"; do
	kill -0 "$DEV" 2>/dev/null || die "actorserve dev exited: $(tail -5 "$WORK/dev.log")"
	((SECONDS < deadline)) || die "actorserve dev was not ready within 60 s"
	sleep 0.2
done
echo "   dashboard: http://$HTTP/"

"$OL" prepare --data "$DATA" --out "$WORK"
rows=$(wc -l <"$WORK/learn.jsonl")
for m in $MODELS; do "$AS" deploy --http "$HTTP" "examples/online-learning/$m.json"; done

# stream FILE: send it at $RATE in the background and show the models' rows
# of `actorserve models` and their learning blocks every $EVERY seconds until
# it is sent. Every event has "type": "banknote", which both models list in
# their data_types; the key (that same type) keeps the stream in one partition,
# so in order.
stream() {
	"$AS" send --file "$1" --key-column type --rate "$RATE" --brokers "$KAFKA" >"$WORK/send.log" 2>&1 &
	local pid=$! header=1 m
	echo "$pid" >>"$WORK/pids"
	while kill -0 "$pid" 2>/dev/null; do
		sleep "$EVERY"
		"$AS" models --http "$HTTP" --sort id | awk -v h="$header" '(h && NR == 1) || $1 ~ /^bank/'
		for m in $MODELS; do "$OL" status --http "$HTTP" --model "$m" --label "        $m" || true; done
		header=0
	done
	wait "$pid" || die "actorserve send failed: $(cat "$WORK/send.log")"
}

# report LABEL N: wait until both models learned from N labels, print their blocks.
report() {
	local m
	for m in $MODELS; do "$OL" status --http "$HTTP" --model "$m" --wait-updates "$2" --label "$1 $m"; done
}

say "phase 1: $rows labelled events at $RATE/s to both models; each is predicted, then learned from (watch ACCURACY rise)"
stream "$WORK/learn.jsonl"
report "before drift:" "$rows"

say "phase 2: concept drift, the same inputs with their labels flipped"
stream "$WORK/drift.jsonl"
report "after drift:" $((2 * rows))
grep 'concept drift detected' "$WORK/dev.log" | sed -E 's/.*updates=([0-9]+).*/   the node logged "concept drift detected" at update \1/' || true
echo "   (the labels flipped after update $rows)"
say "the whole learning block: curl -s http://$HTTP/v1/models/bank"
