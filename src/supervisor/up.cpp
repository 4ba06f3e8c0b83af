#include "supervisor/up.hpp"

#include "supervisor/supervisor.hpp"

namespace warren::supervisor {

int RunUp(const Settings& settings, const UpOptions& options) {
  Supervisor supervisor(settings, options);
  return supervisor.Run();
}

}  // namespace warren::supervisor
