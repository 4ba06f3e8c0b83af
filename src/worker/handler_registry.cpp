#include "worker/handler_registry.hpp"
