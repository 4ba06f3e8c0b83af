// How Warren declares its durable queues (setting amqp.queue_type). Shared by config and the AMQP
// topology, so core alone defines it.
#pragma once

namespace warren {

// Classic: each queue lives on one node. Quorum: replicated by Raft over a cluster's majority, with a
// broker-side delivery limit. The demo's task_queue stays classic either way (its own declaration
// must match).
enum class QueueType { kClassic, kQuorum };

inline const char* ToString(QueueType type) { return type == QueueType::kQuorum ? "quorum" : "classic"; }

}  // namespace warren
