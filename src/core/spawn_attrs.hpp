// RAII for the two posix_spawn attribute objects, for every place that spawns a process.
#pragma once

#include <spawn.h>

namespace warren {

struct SpawnAttrs {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnAttrs() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

}  // namespace warren
