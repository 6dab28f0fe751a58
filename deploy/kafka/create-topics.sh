#!/bin/sh
# Create the platform's topics on Apache Kafka: the kafka-init job of docker-compose.yml.
#
# Usage: create-topics.sh [TOPICS_FILE]   (default: the topics.txt beside this script)
#   TOPICS_FILE has one topic a line, "name partitions retention_ms"; '#' starts a comment.
#   It is generated from topics.json (the apache/kafka image has neither jq nor python).
#
# Missing topics are created. An existing topic gets its retention.ms set when it differs; its
# partition count is never raised: that would move dossier codes to other partitions and break
# the per-dossier order of events. A topic with other partitions than the file says is reported
# and makes the job fail, so that someone decides.
#
# Environment:
#   KAFKA_BOOTSTRAP      bootstrap servers (default: kafka:9092)
#   REPLICATION_FACTOR   replication factor of created topics (default: 1, a single broker)
#   KAFKA_BIN            directory of the Kafka command line tools (default: /opt/kafka/bin)
#   WAIT_SECONDS         how long to wait for the broker to answer (default: 120)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
file=${1:-$here/topics.txt}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
replication=${REPLICATION_FACTOR:-1}
bin=${KAFKA_BIN:-/opt/kafka/bin}
wait_seconds=${WAIT_SECONDS:-120}

log() { printf '[create-topics] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -r "$file" ] || die "cannot read $file"
is_number() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# One describe of every topic: the summary line of each reads
# "Topic: NAME  TopicId: ...  PartitionCount: N  ReplicationFactor: R  Configs: k=v,k=v".
waited=0
until described=$("$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe --exclude-internal 2>/dev/null); do
    [ "$waited" -lt "$wait_seconds" ] || die "broker $bootstrap did not answer within ${wait_seconds}s"
    log "waiting for the broker at $bootstrap ..."
    sleep 5
    waited=$((waited + 5))
done

# field NAME LABEL: the value after LABEL on NAME's summary line (empty when the topic is missing).
field() {
    printf '%s\n' "$described" | awk -v t="$1" -v f="$2" '
        $1 == "Topic:" && $2 == t && /PartitionCount:/ {
            for (i = 1; i < NF; i++) if ($i == f) { print $(i + 1); exit }
        }'
}

# retention NAME: the retention.ms override of an existing topic (empty when none).
retention() {
    printf '%s\n' "$described" | awk -v t="$1" '
        $1 == "Topic:" && $2 == t && /PartitionCount:/ {
            n = split($0, parts, /[ \t,]+/)
            for (i = 1; i <= n; i++) if (parts[i] ~ /^retention\.ms=/) { sub(/^retention\.ms=/, "", parts[i]); print parts[i]; exit }
        }'
}

created=0 updated=0 unchanged=0 mismatched=0
while read -r name partitions retention_ms extra; do
    case "$name" in '' | '#'*) continue ;; esac
    [ -z "${extra:-}" ] || die "$file: too many fields for $name"
    is_number "$partitions" || die "$file: bad partition count '$partitions' for $name"
    is_number "$retention_ms" || die "$file: bad retention_ms '$retention_ms' for $name"
    current=$(field "$name" "PartitionCount:")
    if [ -z "$current" ]; then
        "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
            --topic "$name" --partitions "$partitions" --replication-factor "$replication" \
            --config "retention.ms=$retention_ms" >/dev/null
        log "created $name ($partitions partitions, retention.ms=$retention_ms)"
        created=$((created + 1))
        continue
    fi
    if [ "$current" != "$partitions" ]; then
        log "MISMATCH $name has $current partitions, $file says $partitions (not changed: see the header)"
        mismatched=$((mismatched + 1))
    fi
    if [ "$(retention "$name")" != "$retention_ms" ]; then
        "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type topics \
            --entity-name "$name" --add-config "retention.ms=$retention_ms" >/dev/null
        log "updated $name: retention.ms=$retention_ms"
        updated=$((updated + 1))
    else
        unchanged=$((unchanged + 1))
    fi
done <"$file"

log "done: $created created, $updated updated, $unchanged unchanged, $mismatched with other partition counts"
[ "$mismatched" -eq 0 ] || exit 1
