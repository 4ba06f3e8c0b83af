#include "store/store.hpp"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace warren::store {

StorePtr OpenStore(const std::string& url) {
  const std::string_view text(url);
  if (text.starts_with("postgresql://") || text.starts_with("postgres://")) {
    return postgres::OpenPostgresStore(url);
  }
  if (text.starts_with("sqlite:")) {
    const auto path = text.substr(std::string_view("sqlite:").size());
    if (path.empty()) {
      throw std::invalid_argument("store URL 'sqlite:' needs a path: sqlite:PATH or sqlite::memory:");
    }
    return sqlite::OpenSqliteStore(std::string(path));  // "sqlite::memory:" gives ":memory:"
  }
  // Name only the scheme: the rest of a URL may hold a password.
  const auto colon = text.find(':');
  throw std::invalid_argument(
      fmt::format("unknown store URL scheme '{}': expected sqlite:PATH, sqlite::memory: or postgresql://...",
                  colon == std::string_view::npos ? std::string_view("(none)")
                                                  : text.substr(0, std::min<size_t>(colon, 32))));
}

}  // namespace warren::store
