// The SQLite schema, as an ordered list of migrations (see store/migration.hpp).
#pragma once

#include <vector>

#include "store/migration.hpp"

namespace warren::store::sqlite {

const std::vector<Migration>& Migrations();

}  // namespace warren::store::sqlite
