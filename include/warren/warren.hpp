// Warren C++ SDK, everything: link the CMake target warren::sdk. See docs/sdk.md.
#pragma once

#include "warren/client.hpp"  // IWYU pragma: export
#include "warren/job.hpp"     // IWYU pragma: export
#include "warren/worker.hpp"  // IWYU pragma: export
