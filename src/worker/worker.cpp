#include "worker/worker.hpp"
#include "worker/work.hpp"
namespace warren::worker {
int RunWork(const Settings& /*settings*/) { return 1; }
}  // namespace warren::worker
