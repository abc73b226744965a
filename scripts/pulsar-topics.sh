#!/usr/bin/env bash
# Create ARC's Pulsar tenant, namespaces (with the seed's retention) and
# partitioned topics (with the seed's partition counts) on a real Apache
# Pulsar cluster. Idempotent: existing ones are left alone.
#   PULSAR_ADMIN=/pulsar/bin/pulsar-admin scripts/pulsar-topics.sh
set -uo pipefail
ADMIN=${PULSAR_ADMIN:-pulsar-admin}
CLUSTER=${PULSAR_CLUSTER:-standalone}

$ADMIN tenants create arc --allowed-clusters "$CLUSTER" 2>/dev/null || true
for ns_ret in events:30d analytics:90d audit:2555d; do
  ns=${ns_ret%%:*}; ret=${ns_ret##*:}
  $ADMIN namespaces create "arc/$ns" 2>/dev/null || true
  $ADMIN namespaces set-retention "arc/$ns" --time "$ret" --size -1
  # Broker-side deduplication (seed 000's producer name + sequence id): a node
  # names its producers after its spool and numbers each message with its
  # spool sequence, so what a restarted node sends again is dropped here.
  $ADMIN namespaces set-deduplication "arc/$ns" --enable
done
# events/realtime is ARC's durable copy of the NATS-subject events
# (pulsar.realtime_topic, pulsar.partitions.realtime).
for t_p in events/conversation:16 events/agent-lifecycle:4 analytics/session-metrics:8 audit/compliance-events:32 events/realtime:16; do
  t=${t_p%%:*}; p=${t_p##*:}
  $ADMIN topics create-partitioned-topic "persistent://arc/$t" -p "$p" 2>/dev/null || true
done
for t in events/livekit-webhooks analytics/agent-performance; do
  $ADMIN topics create "persistent://arc/$t" 2>/dev/null || true
done
# Seed 000's per-topic retention where it differs from its namespace's
# (topic-level policies: Pulsar 2.6+ with topicLevelPoliciesEnabled, on by
# default since 2.11).
$ADMIN topics set-retention persistent://arc/events/agent-lifecycle --time 90d --size -1
$ADMIN topics set-retention persistent://arc/events/livekit-webhooks --time 7d --size -1
echo "ARC topics ready"
