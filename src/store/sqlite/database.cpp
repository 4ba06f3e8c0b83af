#include "store/sqlite/database.hpp"

#include <fmt/format.h>

namespace warren::store::sqlite {
namespace {

[[noreturn]] void Throw(sqlite3* db, const std::string& what, int code) {
  // Read the message while the handle is alive (userver's sibling read it after close).
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : code;
  throw SqliteError(
      fmt::format("sqlite: {}: {} (code {}, extended {})", what, message, code & 0xFF, extended), code & 0xFF,
      extended);
}

}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  // PREPARE_PERSISTENT: these statements live in a cache for the connection's life.
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &raw, &tail);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) {
    Throw(db, fmt::format("prepare '{}'", sql), rc);
  }
  if (raw == nullptr) {
    throw SqliteError(fmt::format("sqlite: prepare '{}': no statement", sql), SQLITE_MISUSE, SQLITE_MISUSE);
  }
}

void Statement::Fail(const char* what, int code) const {
  Throw(db_, fmt::format("{} '{}'", what, sqlite3_sql(stmt_.get())), code);
}

void Statement::Bind(int index, std::string_view text) {
  const int rc =
      sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    Fail("bind", rc);
  }
}

void Statement::Bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) {
    Fail("bind", rc);
  }
}

void Statement::BindNull(int index) {
  const int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) {
    Fail("bind", rc);
  }
}

void Statement::Bind(int index, const std::optional<std::string>& text) {
  if (text) {
    Bind(index, std::string_view(*text));
  } else {
    BindNull(index);
  }
}

void Statement::Bind(int index, const std::optional<int64_t>& value) {
  if (value) {
    Bind(index, *value);
  } else {
    BindNull(index);
  }
}

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  Fail("step", rc);
}

void Statement::Run() {
  if (Step()) {
    throw SqliteError(
        fmt::format("sqlite: '{}' returned rows where none were expected", sqlite3_sql(stmt_.get())),
        SQLITE_MISUSE, SQLITE_MISUSE);
  }
}

bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

std::string_view Statement::Text(int column) const {
  // Ask for the text before its size: that is the order SQLite documents as safe.
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (text == nullptr) {
    return {};
  }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): SQLite returns UTF-8 as unsigned char
  return {reinterpret_cast<const char*>(text), static_cast<size_t>(size)};
}

void Statement::Reset() noexcept {
  // sqlite3_reset repeats the last step's error code; that error was already reported by Step.
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

Database::Database(sqlite3* db) : db_(db) {}

Database Database::Open(const std::string& path, Mode mode) {
  // NOMUTEX: each connection is used by one thread at a time (SqliteStore guarantees it), so SQLite's
  // own per-connection mutex would be pure overhead. No URI parsing: a path is a path.
  const int flags =
      (mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 returns a handle even on failure (except out of memory): own it before throwing,
  // and read its message before it is closed.
  Database db(raw);
  if (rc != SQLITE_OK) {
    Throw(raw, fmt::format("open '{}'", path), rc);
  }
  // Report constraint violations with their precise extended codes.
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

void Database::Exec(const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) {
    Throw(db_.get(), fmt::format("exec '{}'", sql.substr(0, 200)), rc);
  }
}

std::string Database::QueryText(const std::string& sql) {
  Statement statement(db_.get(), sql);
  if (!statement.Step()) {
    return {};
  }
  return std::string(statement.Text(0));
}

ScopedStatement Database::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, Statement(db_.get(), sql)).first;
  }
  return ScopedStatement(it->second);
}

int64_t Database::Changes() const { return sqlite3_changes64(db_.get()); }

bool Database::InAutocommit() const { return sqlite3_get_autocommit(db_.get()) != 0; }

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
  db_.Prepare(kind == Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN")->Run();
}

Transaction::~Transaction() {
  // After SQLITE_FULL, IOERR, NOMEM (and BUSY in some cases) SQLite has already rolled back; a second
  // ROLLBACK would only fail. Destructors must not throw: a failed rollback leaves the connection in a
  // transaction, which the next BEGIN reports loudly.
  if (open_ && !db_.InAutocommit()) {
    try {
      db_.Prepare("ROLLBACK")->Run();
    } catch (...) {  // NOLINT(bugprone-empty-catch): see above
    }
  }
}

void Transaction::Commit() {
  db_.Prepare("COMMIT")->Run();
  open_ = false;
}

}  // namespace warren::store::sqlite
