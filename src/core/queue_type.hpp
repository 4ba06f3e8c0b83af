// How Warren declares its durable queues (setting amqp.queue_type). Shared by config and the AMQP
// topology, so core alone defines it.
#pragma once

namespace warren {

// Classic: each queue lives on one node. Priority: classic job queues declared with
// `x-max-priority` (kJobPriorityLevels), so RabbitMQ hands out a queue's higher-priority jobs first.
// Quorum: replicated by Raft over a cluster's majority, with a broker-side delivery limit (RabbitMQ
// 3.10's quorum queues have no priorities). The demo's task_queue stays classic with no arguments
// whatever the type (its own declaration must match).
enum class QueueType { kClassic, kPriority, kQuorum };

// A job's `priority` is 0..kJobPriorityLevels (higher first), and a priority job queue's
// `x-max-priority` is this: RabbitMQ keeps one internal queue per level, and advises at most 10.
inline constexpr int kJobPriorityLevels = 9;

inline const char* ToString(QueueType type) {
  switch (type) {
    case QueueType::kPriority:
      return "priority";
    case QueueType::kQuorum:
      return "quorum";
    case QueueType::kClassic:
      break;
  }
  return "classic";
}

}  // namespace warren
