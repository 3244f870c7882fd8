#!/usr/bin/env bash
# A broker and three actorserve nodes on 127.0.0.1, six models, a stream of
# events through Kafka, then kill -9 of the node that hosts the most models
# while the stream runs: the models re-activate on the survivors and every
# event is still predicted. Everything this script starts is stopped when it
# exits, however it exits (trap on EXIT). See README.md beside it.
#
# Environment (all optional):
#   BROKER_PORT   Kafka port                      (29092)
#   HTTP_PORTS    the nodes' HTTP ports           ("28081 28082 28083")
#   GOSSIP_PORTS  the nodes' memberlist ports     ("27946 27947 27948")
#   REMOTE_PORTS  the nodes' actor-remoting ports ("28091 28092 28093")
#   EVENTS        events in the stream            (3000)
#   RATE          events per second               (200)
#   AS_BIN        an actorserve binary            (default: go build one)
#   WORK          folder for logs, data and PIDs  (default: a new temp folder)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

BROKER_PORT=${BROKER_PORT:-29092}
read -r -a HTTP_PORTS <<<"${HTTP_PORTS:-28081 28082 28083}"
read -r -a GOSSIP_PORTS <<<"${GOSSIP_PORTS:-27946 27947 27948}"
read -r -a REMOTE_PORTS <<<"${REMOTE_PORTS:-28091 28092 28093}"
EVENTS=${EVENTS:-3000}
RATE=${RATE:-200}
WORK=${WORK:-$(mktemp -d -t actorserve-cluster.XXXXXX)}
MODELS=6
BROKER=127.0.0.1:$BROKER_PORT

# say, die, and the trap that stops every PID in $WORK/pids on exit.
. "$ROOT/examples/internal/lib.sh"
declare -A PID HTTP

# start NAME ARGS...: run actorserve in the background, log to $WORK/NAME.log.
start() {
	local name=$1
	shift
	"$AS" "$@" >"$WORK/$name.log" 2>&1 &
	PID[$name]=$!
	echo $! >>"$WORK/pids"
}

# wait_for NAME REGEX SECONDS: until NAME's log has a line matching REGEX.
wait_for() {
	local name=$1 re=$2 deadline=$((SECONDS + $3))
	until grep -Eq "$re" "$WORK/$name.log"; do
		kill -0 "${PID[$name]}" 2>/dev/null || die "$name exited: $(tail -5 "$WORK/$name.log")"
		((SECONDS < deadline)) || die "$name did not print /$re/ within $3 s"
		sleep 0.2
	done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# predicted: how many distinct events have a prediction on Kafka (by the
# event id in each prediction; the records are keyed like their input).
predicted() {
	kcat -b "$BROKER" -t actorserve.predictions -C -e -o beginning -q -f '%s\n' -X fetch.wait.max.ms=10 2>/dev/null |
		grep -o '"id":"[^"]*"' | sort -u | wc -l
}

command -v kcat >/dev/null || die "kcat reads the predictions topic: apt-get install kcat"
for p in "$BROKER_PORT" "${HTTP_PORTS[@]}" "${GOSSIP_PORTS[@]}" "${REMOTE_PORTS[@]}"; do
	port_free "$p" || die "port $p is in use: set BROKER_PORT, HTTP_PORTS, GOSSIP_PORTS or REMOTE_PORTS"
done
AS=${AS_BIN:-}
if [ -z "$AS" ]; then
	say "building actorserve"
	go build -o "$WORK/actorserve" ./cmd/actorserve
	AS=$WORK/actorserve
fi

say "starting a Kafka-protocol broker on $BROKER"
start broker broker --listen "$BROKER" --log-level warn
wait_for broker "kafka broker listening on" 30

for i in 1 2 3; do
	args=(node --name "n$i" --gossip "127.0.0.1:${GOSSIP_PORTS[i - 1]}" --remote "127.0.0.1:${REMOTE_PORTS[i - 1]}"
		--http "127.0.0.1:${HTTP_PORTS[i - 1]}" --brokers "$BROKER" --log-format text --log-level warn)
	if ((i > 1)); then args+=(--join "127.0.0.1:${GOSSIP_PORTS[0]}"); fi
	start "n$i" "${args[@]}"
	HTTP[n$i]=127.0.0.1:${HTTP_PORTS[i - 1]}
	# n1 is the seed: let it listen before the others join through it.
	if ((i == 1)); then wait_for n1 "^node n1: http://" 60; fi
done
for i in 2 3; do wait_for "n$i" "^node n$i: http://" 60; done
deadline=$((SECONDS + 30))
until "$AS" cluster --http "${HTTP[n3]}" 2>/dev/null | grep -q "^3 members"; do
	((SECONDS < deadline)) || die "the nodes did not form a three-member cluster in 30 s"
	sleep 0.3
done
# The consumer group rebalances as nodes join: wait until each node owns
# some of the six partitions of actorserve.events.
deadline=$((SECONDS + 60))
until "$AS" cluster --http "${HTTP[n3]}" 2>/dev/null | awk '$2 == "alive" && $4 > 0 { n++; p += $4 } END { exit !(n == 3 && p == 6) }'; do
	((SECONDS < deadline)) || die "the consumer group did not spread the partitions over the 3 nodes in 60 s"
	sleep 0.5
done
say "cluster: 3 members (asked n3)"
"$AS" cluster --http "${HTTP[n3]}"

say "deploying $MODELS models through n1"
for k in $(seq 1 $MODELS); do
	# model mK computes value = K*x + y
	printf '{"id": "m%d", "format": "linear", "features": ["x", "y"], "data": {"coefficients": [[%d, 1]], "intercepts": [0], "link": "identity"}}\n' "$k" "$k" >"$WORK/m$k.json"
	"$AS" deploy --http "${HTTP[n1]}" "$WORK/m$k.json"
done

# events: e-1 ... e-N, round-robin over the models, keyed by model id: a
# model's events share one partition, and the node that reads it hosts the
# model (placement follows partitions).
awk -v n="$EVENTS" -v m="$MODELS" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"model\": \"m%d\", \"id\": \"e-%d\", \"features\": {\"x\": %d, \"y\": %.1f}}\n", (i - 1) % m + 1, i, i % 10, (i % 7) / 2 }' >"$WORK/events.jsonl"
say "streaming $EVENTS events at $RATE/s (actorserve send in the background)"
"$AS" send --file "$WORK/events.jsonl" --key-column model --rate "$RATE" --brokers "$BROKER" >"$WORK/send.log" 2>&1 &
PID[send]=$!
echo "${PID[send]}" >>"$WORK/pids"

deadline=$((SECONDS + 30))
until (($(predicted) >= EVENTS / 5)); do
	((SECONDS < deadline)) || die "fewer than $((EVENTS / 5)) predictions after 30 s"
	sleep 0.3
done
say "models and where they run (asked n3)"
"$AS" models --http "${HTTP[n3]}" | tee "$WORK/models-before.txt"

# The victim is the node hosting the most models; ask a survivor from now on.
victim=$(awk '$4 == "active" { print $5 }' "$WORK/models-before.txt" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
[ -n "$victim" ] || die "no active model in the list"
hosted=$(awk -v v="$victim" '$4 == "active" && $5 == v' "$WORK/models-before.txt" | wc -l)
for n in n1 n2 n3; do if [ "$n" != "$victim" ]; then via=$n; break; fi; done
before=$(predicted)
say "kill -9 $victim (pid ${PID[$victim]}), which hosts $hosted models, with $before of $EVENTS events predicted"
kill -9 "${PID[$victim]}"
wait "${PID[$victim]}" 2>/dev/null || true
killed=$SECONDS

# Until no model is listed on the victim and every model is active again.
deadline=$((SECONDS + 40))
while :; do
	"$AS" models --http "${HTTP[$via]}" >"$WORK/models-after.txt" 2>/dev/null || true
	on_victim=$(awk -v v="$victim" '$5 == v' "$WORK/models-after.txt" | wc -l)
	active=$(awk '$4 == "active"' "$WORK/models-after.txt" | wc -l)
	echo "   +$((SECONDS - killed))s: $(predicted) events predicted, $active of $MODELS models active, $on_victim listed on $victim"
	if ((on_victim == 0 && active == MODELS)); then break; fi
	((SECONDS < deadline)) || die "the models did not move off $victim within 40 s"
	sleep 1
done
say "models after the failover (asked $via)"
cat "$WORK/models-after.txt"
# A moved model either left the victim with its partition, or moved between
# survivors because the balanced assignment over two members differs from
# the one over three ("rebalanced").
awk -v v="$victim" 'FNR == 1 { f++ } f == 1 && $4 == "active" { was[$1] = $5 } f == 2 && $4 == "active" && ($1 in was) && was[$1] != $5 { printf "moved %s: %s -> %s%s\n", $1, was[$1], $5, (was[$1] == v ? "" : " (rebalanced)") }' \
	"$WORK/models-before.txt" "$WORK/models-after.txt"

deadline=$((SECONDS + 30))
until "$AS" cluster --http "${HTTP[$via]}" 2>/dev/null | grep -q "^2 members"; do
	((SECONDS < deadline)) || die "$via still lists 3 members 30 s after the kill"
	sleep 0.5
done
say "cluster: 2 members (asked $via)"
"$AS" cluster --http "${HTTP[$via]}"

wait "${PID[send]}" || die "actorserve send failed: $(cat "$WORK/send.log")"
say "the stream carried on: $(grep -o 'sent [0-9]* events to [^)]*)' "$WORK/send.log" | tail -1)"
# The killed node's Kafka partitions move to the survivors after the consumer
# group's session timeout (10 s); their unacknowledged events are read again.
deadline=$((SECONDS + 60))
while :; do
	n=$(predicted)
	if ((n >= EVENTS)); then break; fi
	((SECONDS < deadline)) || die "only $n of $EVENTS events predicted 60 s after the stream ended"
	sleep 1
done
total=$(kcat -b "$BROKER" -t actorserve.predictions -C -e -o beginning -q -f '%k\n' 2>/dev/null | wc -l)
dead=$(kcat -b "$BROKER" -t actorserve.deadletter -C -e -o beginning -q -f '%k\n' 2>/dev/null | wc -l)
say "all $EVENTS events predicted: $((n - before)) after the kill, $((total - n)) predicted twice (at-least-once redelivery), $dead dead letters"
