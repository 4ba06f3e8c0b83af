// Names of Warren's own threads, so `top -H`, `perf` and /proc/<pid>/task/*/comm and schedstat tell
// the recorder from an HTTP thread (the per-thread figures in bench/README.md come from them).
#pragma once

#include <string_view>

namespace warren {

// Names the calling thread; Linux keeps the first 15 characters.
void NameThisThread(std::string_view name);

}  // namespace warren
