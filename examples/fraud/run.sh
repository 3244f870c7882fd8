#!/usr/bin/env bash
# Card-fraud scoring on `actorserve dev`: an XGBoost model trained offline
# (model/xgb.json, made by train.py) and an online logistic regression that
# learns from delayed labels score the same synthetic stream; precision and
# recall of both are computed from the predictions on Kafka. Everything this
# script starts is stopped when it exits (trap on EXIT). See README.md.
#
# Environment (all optional):
#   HTTP_PORT, KAFKA_PORT  ports of actorserve dev on 127.0.0.1 (18180, 19192)
#   TXNS                   transactions in the stream (20000)
#   DELAY                  transactions between a transaction and its label (500)
#   RATE                   records per second, labels included (4000; 0 = at once)
#   AS_BIN, FRAUD_BIN      prebuilt actorserve and examples/fraud binaries
#   WORK                   folder for logs, the stream and PIDs (a new temp folder)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

HTTP=127.0.0.1:${HTTP_PORT:-18180}
KAFKA=127.0.0.1:${KAFKA_PORT:-19192}
TXNS=${TXNS:-20000}
DELAY=${DELAY:-500}
RATE=${RATE:-4000}
WORK=${WORK:-$(mktemp -d -t actorserve-fraud.XXXXXX)}

# say, die, and the trap that stops every PID in $WORK/pids on exit.
. "$ROOT/examples/internal/lib.sh"

for p in "${HTTP##*:}" "${KAFKA##*:}"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use: set HTTP_PORT or KAFKA_PORT"; fi
done
AS=${AS_BIN:-}
FRAUD=${FRAUD_BIN:-}
if [ -z "$AS" ] || [ -z "$FRAUD" ]; then
	say "building actorserve and the example's helper"
	go build -o "$WORK/actorserve" ./cmd/actorserve
	go build -o "$WORK/fraud" ./examples/fraud
	AS=$WORK/actorserve FRAUD=$WORK/fraud
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

say "a synthetic stream of card transactions, labels arriving $DELAY transactions late"
"$FRAUD" generate --seed 2 --n "$TXNS" --delay "$DELAY" --stream "$WORK/stream.jsonl"

say "deploying the offline XGBoost model (from a file) and the online model"
"$FRAUD" descriptor --model examples/fraud/model/xgb.json --out "$WORK/fraud-xgb.json"
"$AS" deploy --http "$HTTP" "$WORK/fraud-xgb.json"
"$AS" deploy --http "$HTTP" examples/fraud/fraud-online.json

say "streaming $((2 * TXNS)) records (transactions and labels) at ${RATE}/s; both models score every transaction"
# Keyed by transaction id: a transaction and its label share a partition, so
# the label always comes after the prediction it joins.
"$AS" send --file "$WORK/stream.jsonl" --key-column id --rate "$RATE" --brokers "$KAFKA" >"$WORK/send.log" 2>&1 &
SEND=$!
echo "$SEND" >>"$WORK/pids"
header=1
while kill -0 "$SEND" 2>/dev/null; do
	sleep 2
	"$AS" models --http "$HTTP" --sort id | awk -v h="$header" '(h && NR == 1) || $1 ~ /^fraud-/'
	header=0
done
wait "$SEND" || die "actorserve send failed: $(cat "$WORK/send.log")"
grep -o 'sent [0-9]* events to [^)]*)' "$WORK/send.log" | tail -1

say "precision and recall, from the predictions on actorserve.predictions against the stream's labels"
"$FRAUD" report --brokers "$KAFKA" --http "$HTTP" --stream "$WORK/stream.jsonl" --models fraud-xgb,fraud-online
