#include "store/postgres/connection_pool.hpp"

#include <algorithm>
#include <iterator>

#include <pqxx/except>

#include <fmt/format.h>

#include "store/store.hpp"

namespace warren::store::postgres {

ConnectionPool::ConnectionPool(std::string url, size_t max_size, Duration acquire_timeout, Setup setup)
    : url_(std::move(url)), max_size_(max_size), acquire_timeout_(acquire_timeout), setup_(std::move(setup)) {
  idle_.reserve(max_size_);  // so Return never allocates (it is noexcept)
}

ConnectionPool::Lease::~Lease() { pool_->Return(std::move(connection_)); }

void ConnectionPool::Lease::Discard() noexcept { connection_.reset(); }

std::unique_ptr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  {
    std::unique_lock lock(mutex_);
    const bool ready =
        returned_.wait_for(lock, acquire_timeout_, [&] { return !idle_.empty() || open_ < max_size_; });
    if (!ready) {
      throw StoreError(
          fmt::format("postgresql: all {} connections busy for {} ms", max_size_, acquire_timeout_.count()));
    }
    if (!idle_.empty()) {
      ConnectionPtr connection = std::move(idle_.back());
      idle_.pop_back();
      return std::make_unique<Lease>(*this, std::move(connection));
    }
    ++open_;  // reserve the slot, then connect without holding the lock
  }
  try {
    return std::make_unique<Lease>(*this, Connect());
  } catch (...) {
    Return(nullptr);
    throw;
  }
}

ConnectionPool::ConnectionPtr ConnectionPool::Connect() {
  try {
    auto connection = std::make_unique<pqxx::connection>(url_);
    setup_(*connection);
    return connection;
  } catch (const pqxx::failure& e) {
    // libpq's message names host and port, never the password.
    throw StoreError(fmt::format("postgresql: cannot connect: {}", e.what()));
  }
}

void ConnectionPool::Return(ConnectionPtr connection) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (connection && connection->is_open()) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  returned_.notify_one();
  // A discarded connection (if any) was moved into the vector or is closed here, outside the lock.
}

void ConnectionPool::DiscardIdle() {
  std::vector<ConnectionPtr> closing;
  closing.reserve(max_size_);
  {
    std::lock_guard lock(mutex_);
    open_ -= idle_.size();
    // Move out, keeping idle_'s capacity: Return (noexcept) must never allocate.
    std::move(idle_.begin(), idle_.end(), std::back_inserter(closing));
    idle_.clear();
  }
  returned_.notify_all();
  // `closing` disconnects here, outside the lock.
}

}  // namespace warren::store::postgres
