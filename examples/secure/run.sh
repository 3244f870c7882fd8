#!/usr/bin/env bash
# A hardened three-node cluster on 127.0.0.1: a Kafka-protocol broker that
# speaks TLS only and wants SCRAM-SHA-256, and three nodes with HTTPS and
# bearer tokens, mutual TLS between their actor remoting and encrypted
# gossip. The script makes every secret (actorserve certs), deploys a model
# over HTTPS, shows that a request without a token is refused, streams
# events through the encrypted Kafka, and reads predictions back. Everything
# it starts is stopped when it exits. See README.md beside it.
#
# Environment (all optional):
#   BROKER_PORT   Kafka port                      (29192)
#   HTTP_PORTS    the nodes' HTTPS ports          ("28181 28182 28183")
#   GOSSIP_PORTS  the nodes' memberlist ports     ("27956 27957 27958")
#   REMOTE_PORTS  the nodes' actor-remoting ports ("28191 28192 28193")
#   EVENTS        events in the stream            (1000)
#   AS_BIN        an actorserve binary            (default: go build one)
#   WORK          folder for logs, secrets, PIDs  (default: a new temp folder)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

BROKER_PORT=${BROKER_PORT:-29192}
read -r -a HTTP_PORTS <<<"${HTTP_PORTS:-28181 28182 28183}"
read -r -a GOSSIP_PORTS <<<"${GOSSIP_PORTS:-27956 27957 27958}"
read -r -a REMOTE_PORTS <<<"${REMOTE_PORTS:-28191 28192 28193}"
EVENTS=${EVENTS:-1000}
WORK=${WORK:-$(mktemp -d -t actorserve-secure.XXXXXX)}
BROKER=127.0.0.1:$BROKER_PORT

. "$ROOT/examples/internal/lib.sh"
declare -A PID

start() {
	local name=$1
	shift
	"$AS" "$@" >"$WORK/$name.log" 2>&1 &
	PID[$name]=$!
	echo $! >>"$WORK/pids"
}

wait_for() {
	local name=$1 re=$2 deadline=$((SECONDS + $3))
	until grep -Eq "$re" "$WORK/$name.log"; do
		kill -0 "${PID[$name]}" 2>/dev/null || die "$name exited: $(tail -5 "$WORK/$name.log")"
		((SECONDS < deadline)) || die "$name did not print /$re/ within $3 s"
		sleep 0.2
	done
}

AS=${AS_BIN:-}
if [ -z "$AS" ]; then
	say "building actorserve"
	go build -o "$WORK/actorserve" ./cmd/actorserve
	AS=$WORK/actorserve
fi

S=$WORK/secrets
say "making a CA, certificates for the broker and three nodes, a gossip key and tokens in $S"
"$AS" certs --dir "$S" --nodes broker,n1,n2,n3
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$S/kafka.pass"
chmod 600 "$S/kafka.pass"

say "starting a broker on $BROKER: TLS only, SCRAM-SHA-256"
ACTORSERVE_BROKER_SASL_PASSWORD=$(cat "$S/kafka.pass") start broker broker --listen "$BROKER" --log-level warn \
	--tls-cert "$S/broker.crt" --tls-key "$S/broker.key" --sasl-mechanism SCRAM-SHA-256 --sasl-user actorserve
wait_for broker "kafka broker listening on" 30

KAFKA=(--brokers "$BROKER" --kafka-tls --kafka-ca-file "$S/ca.pem" --kafka-sasl scram-sha-256 --kafka-sasl-user actorserve --kafka-sasl-password-file "$S/kafka.pass")
for i in 1 2 3; do
	args=(node --name "n$i" --gossip "127.0.0.1:${GOSSIP_PORTS[i - 1]}" --remote "127.0.0.1:${REMOTE_PORTS[i - 1]}"
		--http "127.0.0.1:${HTTP_PORTS[i - 1]}" --log-format text --log-level warn "${KAFKA[@]}"
		--tls-cert "$S/n$i.crt" --tls-key "$S/n$i.key" --auth-tokens-file "$S/tokens"
		--remote-tls-cert "$S/n$i.crt" --remote-tls-key "$S/n$i.key" --remote-tls-ca "$S/ca.pem"
		--gossip-key-file "$S/gossip.keys")
	if ((i > 1)); then args+=(--join "127.0.0.1:${GOSSIP_PORTS[0]}"); fi
	start "n$i" "${args[@]}"
	if ((i == 1)); then wait_for n1 "^node n1: http" 60; fi
done
for i in 2 3; do wait_for "n$i" "^node n$i: http" 60; done

# The CLI's HTTP commands read the token and the CA from the environment.
ACTORSERVE_TOKEN=$(awk '$2 == "admin" { print $1 }' "$S/tokens")
export ACTORSERVE_TOKEN ACTORSERVE_CA_FILE=$S/ca.pem
H1=https://127.0.0.1:${HTTP_PORTS[0]}
H3=https://127.0.0.1:${HTTP_PORTS[2]}
deadline=$((SECONDS + 30))
until "$AS" cluster --http "$H3" 2>/dev/null | grep -q "^3 members"; do
	((SECONDS < deadline)) || die "the nodes did not form a three-member cluster in 30 s"
	sleep 0.3
done
say "cluster: 3 members, asked over HTTPS with a token"

if ACTORSERVE_TOKEN= "$AS" models --http "$H1" >"$WORK/anon.txt" 2>&1; then
	die "a request without a token was served"
fi
grep -q "401 unauthorized" "$WORK/anon.txt" || die "no 401 without a token: $(cat "$WORK/anon.txt")"
say "without a token: $(head -c 120 "$WORK/anon.txt")"

printf '{"id": "m", "format": "linear", "features": ["x", "y"], "data": {"coefficients": [[2, 1]], "intercepts": [0], "link": "identity"}}\n' >"$WORK/m.json"
"$AS" deploy --http "$H1" "$WORK/m.json"

awk -v n="$EVENTS" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"id\": \"e-%d\", \"features\": {\"x\": %d, \"y\": 1}}\n", i, i % 10 }' >"$WORK/events.jsonl"
say "streaming $EVENTS events through TLS+SCRAM Kafka"
"$AS" send --file "$WORK/events.jsonl" --model m "${KAFKA[@]:0:2}" "${KAFKA[@]:2}" >"$WORK/send.log" 2>&1

deadline=$((SECONDS + 60))
while :; do
	usage=$("$AS" models --http "$H3" m 2>/dev/null | awk -F'[:,]' '/^  "usage"/ { gsub(/ /, "", $2); print $2; exit }' || true)
	if [ -n "$usage" ] && ((usage >= EVENTS)); then break; fi
	((SECONDS < deadline)) || die "model m scored ${usage:-0} of $EVENTS events in 60 s"
	sleep 0.5
done
say "model m scored $usage events from the encrypted stream"
"$AS" models --http "$H3"
say "done: every connection was TLS, every request authenticated"
