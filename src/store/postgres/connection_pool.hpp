// A small pool of libpqxx connections. A pqxx::connection is not thread-safe, so each one is lent to
// one thread at a time; callers beyond `max_size` wait for a connection to come back.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "core/duration.hpp"

namespace warren::store::postgres {

class ConnectionPool {
 public:
  using ConnectionPtr = std::unique_ptr<pqxx::connection>;
  // Runs on every new connection before first use (prepares the statements).
  using Setup = std::function<void(pqxx::connection&)>;

  ConnectionPool(std::string url, size_t max_size, Duration acquire_timeout, Setup setup);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  class Lease {
   public:
    Lease(ConnectionPool& pool, ConnectionPtr connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease(Lease&&) = delete;
    Lease& operator=(Lease&&) = delete;

    pqxx::connection& operator*() const { return *connection_; }
    // The connection broke or is in an unknown state: close it instead of returning it.
    void Discard() noexcept;

   private:
    ConnectionPool* pool_;
    ConnectionPtr connection_;
  };

  // An idle connection, or a new one while fewer than max_size exist; otherwise waits up to
  // acquire_timeout. Throws StoreError when it cannot connect or the wait times out.
  std::unique_ptr<Lease> Acquire();
  // Closes every idle connection: after one broke, the server most likely restarted and the others
  // are dead too; better to find out by reconnecting than by failing one request each.
  void DiscardIdle();

 private:
  ConnectionPtr Connect();
  void Return(ConnectionPtr connection) noexcept;  // nullptr: the lease discarded its connection

  const std::string url_;
  const size_t max_size_;
  const Duration acquire_timeout_;
  const Setup setup_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<ConnectionPtr> idle_;  // guarded by mutex_
  size_t open_ = 0;                  // guarded by mutex_: idle + leased + being opened
};

}  // namespace warren::store::postgres
