// Versioned schema migrations: an ordered list per backend, each applied once in its own transaction
// and recorded in `schema_migrations`. A released migration is never edited, only followed by a new one.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace warren::store {

struct Migration {
  int version = 0;        // 1, 2, 3, ... in list order
  std::string_view name;  // recorded beside the version, for operators
  std::string_view sql;   // one or more statements
};

// A gap or a reorder in the list is a programming error: fail loudly the first time it runs.
inline void CheckMigrationList(const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      throw std::logic_error("store: migration versions must be 1, 2, 3, ... in order; found " +
                             std::to_string(migrations[i].version) + " at position " + std::to_string(i + 1));
    }
  }
}

}  // namespace warren::store
