#!/usr/bin/env bash
# One-shot job of docker-compose.yml: create Switchboard's topics before any worker or the
# gateway starts, so none of them is auto-created with the broker's default partition count.
# Every topic gets SWITCHBOARD_PARTITIONS partitions: the Faust workers create their
# changelog topics with the same count, and co-partitioning needs them equal to
# raw-notifications. The partition count is fixed for the topics' lifetime: raising it later
# moves keys to other partitions and breaks the tables. Names: schemas/topics.py.
set -euo pipefail

bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
partitions="${SWITCHBOARD_PARTITIONS:-8}"
replicas="${TOPIC_REPLICAS:-1}"
kafka_topics=/opt/kafka/bin/kafka-topics.sh

# raw-notifications is kept longer than the per-type topics: it is the input a replay reads
# to rebuild tables (30 days here; see k8s/base/topics.yaml for production values).
create() {
  local topic="$1" retention_ms="$2"
  "${kafka_topics}" --bootstrap-server "${bootstrap}" --create --if-not-exists \
    --topic "${topic}" --partitions "${partitions}" --replication-factor "${replicas}" \
    --config "retention.ms=${retention_ms}"
}

day_ms=86400000
create raw-notifications                      $((30 * day_ms))
create notifications.asset-count              $((7 * day_ms))
create notifications.asset-management         $((7 * day_ms))
create notifications.user-management          $((7 * day_ms))
create notifications.user-associated          $((7 * day_ms))
create notifications.test                     $((7 * day_ms))
create notifications.tenant-rest-url-change   $((7 * day_ms))
create notifications.other                    $((7 * day_ms))
create notifications.dead-letter              $((30 * day_ms))
create notifications.conflicts                $((30 * day_ms))

"${kafka_topics}" --bootstrap-server "${bootstrap}" --describe --topic raw-notifications
