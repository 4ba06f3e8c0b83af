// The embedded default store: one SQLite file in WAL mode (see sqlite_store.cpp for the threading model).
#pragma once

#include <string>

#include "store/store.hpp"

namespace warren::store::sqlite {

// `path` is a file (created, with its parent directories) or ":memory:" (one private in-memory
// database, for tests). Throws StoreError when the file cannot be opened or put into WAL mode.
StorePtr OpenSqliteStore(const std::string& path);

}  // namespace warren::store::sqlite
