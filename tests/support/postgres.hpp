// One real PostgreSQL (Debian's postgresql package) per test process, the way TestBroker runs
// RabbitMQ: initdb into a temp dir, `postgres` on 127.0.0.1 and a free port (its socket in the temp
// dir too), started on first use and stopped by PID at process exit. As root the server runs as the
// `postgres` system user (PostgreSQL refuses to run as root).
#pragma once

#include <memory>
#include <string>

namespace warren::testing {

class TestPostgres {
 public:
  static TestPostgres& Get();
  ~TestPostgres();
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  unsigned short Port() const;
  // postgresql://postgres@127.0.0.1:PORT/DATABASE (trust authentication on loopback).
  std::string Url(const std::string& database = "postgres") const;
  // Creates an empty database with a name never used before in this process; returns its URL.
  std::string CreateDatabase();
  // Runs SQL through psql against `database`; returns psql's exit code, its output in *output.
  int Psql(const std::string& database, const std::string& sql, std::string* output = nullptr);

 private:
  TestPostgres();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::testing
