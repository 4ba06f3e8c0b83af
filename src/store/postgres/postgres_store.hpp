// The distributed store: PostgreSQL through libpqxx, shared by several `serve` replicas.
#pragma once

#include <string>

#include "store/store.hpp"

namespace warren::store::postgres {

// `url` is a libpq URI (postgresql://user:pass@host:port/db?...). Connects once at once, so a wrong
// URL fails at start-up. Throws StoreError when it cannot connect.
StorePtr OpenPostgresStore(const std::string& url);

}  // namespace warren::store::postgres
