#include "api/serve.hpp"

namespace warren::api {
int RunServe(const Settings& /*settings*/) { return 1; }
}  // namespace warren::api
