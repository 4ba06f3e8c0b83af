// The PostgreSQL schema, as an ordered list of migrations (see store/migration.hpp).
#pragma once

#include <vector>

#include "store/migration.hpp"

namespace warren::store::postgres {

const std::vector<Migration>& Migrations();

}  // namespace warren::store::postgres
