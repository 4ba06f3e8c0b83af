// RAII over the SQLite C API, after userver's model: each handle is a std::unique_ptr with an empty
// deleter struct (sqlite3_close_v2 / sqlite3_finalize), so it is closed exactly once, moves noexcept
// and cannot be copied; factories throw SqliteError carrying SQLite's message, code and extended code.
//
// A Database is NOT thread-safe (connections are opened SQLITE_OPEN_NOMUTEX): its owner guarantees one
// thread at a time. SqliteStore does that with a writer mutex and a reader pool.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.hpp"

namespace warren::store::sqlite {

class SqliteError : public StoreError {
 public:
  SqliteError(const std::string& message, int code, int extended_code)
      : StoreError(message), code_(code), extended_code_(extended_code) {}
  [[nodiscard]] int Code() const noexcept { return code_; }  // primary result code, e.g. SQLITE_BUSY
  [[nodiscard]] int ExtendedCode() const noexcept { return extended_code_; }  // e.g. SQLITE_CONSTRAINT_UNIQUE

 private:
  int code_;
  int extended_code_;
};

struct DatabaseDeleter {
  // close_v2 defers the close until every statement is finalized, so destruction order cannot leak.
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};

// One prepared statement. Bind indexes are 1-based, column indexes 0-based (as in SQLite).
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);  // throws SqliteError

  // Text is copied (SQLITE_TRANSIENT): callers may bind temporaries.
  void Bind(int index, std::string_view text);
  void Bind(int index, const std::string& text) { Bind(index, std::string_view(text)); }
  void Bind(int index, int64_t value);
  void BindNull(int index);
  void Bind(int index, const std::optional<std::string>& text);
  void Bind(int index, const std::optional<int64_t>& value);

  bool Step();  // true: a row is ready; false: done. Throws SqliteError.
  void Run();   // Step for a statement that returns no rows
  [[nodiscard]] bool IsNull(int column) const;
  [[nodiscard]] int64_t Int64(int column) const;
  [[nodiscard]] std::string_view Text(int column) const;  // valid until the next Step or Reset

  // Makes the statement reusable and drops its bindings. Also ends the statement's implicit read
  // transaction: a statement left mid-result would pin a WAL snapshot and block checkpoints.
  void Reset() noexcept;

 private:
  [[noreturn]] void Fail(const char* what, int code) const;
  std::unique_ptr<sqlite3_stmt, StatementDeleter> stmt_;
  sqlite3* db_;  // owned by the Database that owns this statement; used for error messages
};

// A cached statement lent to one scope: reset (bindings cleared) when the scope ends.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement& statement) : statement_(&statement) {}
  ~ScopedStatement() { statement_->Reset(); }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ScopedStatement(ScopedStatement&&) = delete;
  ScopedStatement& operator=(ScopedStatement&&) = delete;

  Statement* operator->() const { return statement_; }
  Statement& operator*() const { return *statement_; }

 private:
  Statement* statement_;
};

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };
  // Opens (creating when kReadWrite) a file or ":memory:". Throws SqliteError.
  static Database Open(const std::string& path, Mode mode);

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database() = default;

  // Runs one or more statements without results (pragmas, migrations). Throws SqliteError.
  void Exec(const std::string& sql);
  // Runs a statement that returns one text value, e.g. "PRAGMA journal_mode=WAL".
  std::string QueryText(const std::string& sql);
  // The statement for `sql`, prepared on first use and cached for the connection's life.
  ScopedStatement Prepare(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int64_t Changes() const;
  // True outside an explicit transaction (SQLite rolls back by itself on some errors).
  bool InAutocommit() const;
  sqlite3* Handle() const { return db_.get(); }

 private:
  explicit Database(sqlite3* db);
  // Declared before the cache: members are destroyed in reverse order, so statements are finalized
  // before the connection is closed (close_v2 would cope, but the order is then obvious).
  std::unique_ptr<sqlite3, DatabaseDeleter> db_;
  // Node-based map: references to cached statements stay valid while others are added.
  std::unordered_map<std::string, Statement> statements_;
};

// BEGIN ... COMMIT, rolled back on destruction unless committed. kImmediate takes the write lock at
// BEGIN, so a read-modify-write transaction never fails half-way with SQLITE_BUSY on lock upgrade.
class Transaction {
 public:
  enum class Kind { kDeferred, kImmediate };
  Transaction(Database& db, Kind kind);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  void Commit();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace warren::store::sqlite
