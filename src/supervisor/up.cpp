#include "supervisor/up.hpp"

namespace warren::supervisor {
int RunUp(const Settings& /*settings*/, const UpOptions& /*options*/) { return 1; }
}  // namespace warren::supervisor
