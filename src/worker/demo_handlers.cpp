#include "worker/demo_handlers.hpp"
