#include "store/sqlite/database.hpp"

#include <gtest/gtest.h>

namespace warren::store::sqlite {
namespace {

Database Memory() {
  Database db = Database::Open(":memory:", Database::Mode::kReadWrite);
  db.Exec("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, maybe TEXT) STRICT");
  return db;
}

TEST(SqliteDatabase, BindStepAndRead) {
  Database db = Memory();
  {
    auto insert = db.Prepare("INSERT INTO t (k, n, maybe) VALUES (?1, ?2, ?3)");
    insert->Bind(1, std::string("a"));
    insert->Bind(2, int64_t{1} << 40);
    insert->Bind(3, std::optional<std::string>{});
    insert->Run();
  }
  EXPECT_EQ(db.Changes(), 1);
  auto select = db.Prepare("SELECT k, n, maybe FROM t");
  ASSERT_TRUE(select->Step());
  EXPECT_EQ(select->Text(0), "a");
  EXPECT_EQ(select->Int64(1), int64_t{1} << 40);
  EXPECT_TRUE(select->IsNull(2));
  EXPECT_FALSE(select->Step());
}

TEST(SqliteDatabase, CachedStatementsAreResetForTheNextUser) {
  Database db = Memory();
  db.Exec("INSERT INTO t (k) VALUES ('a'), ('b')");
  for (int i = 0; i < 3; ++i) {
    auto select = db.Prepare("SELECT k FROM t ORDER BY k");
    ASSERT_TRUE(select->Step());
    EXPECT_EQ(select->Text(0), "a");  // left mid-result on purpose: the scope's end resets it
  }
}

TEST(SqliteDatabase, ErrorsCarryCodesAndMessage) {
  Database db = Memory();
  db.Exec("INSERT INTO t (k) VALUES ('a')");
  try {
    db.Exec("INSERT INTO t (k) VALUES ('a')");
    FAIL() << "expected a constraint violation";
  } catch (const SqliteError& e) {
    EXPECT_EQ(e.Code(), SQLITE_CONSTRAINT);
    EXPECT_EQ(e.ExtendedCode(), SQLITE_CONSTRAINT_PRIMARYKEY);
    EXPECT_NE(std::string(e.what()).find("UNIQUE constraint failed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(db.Prepare("SELEKT 1"), SqliteError);
  EXPECT_THROW(db.Exec("INSERT INTO t (k, n) VALUES ('b', 'not a number')"), SqliteError) << "STRICT";
}

TEST(SqliteDatabase, TransactionRollsBackUnlessCommitted) {
  Database db = Memory();
  {
    Transaction transaction(db, Transaction::Kind::kImmediate);
    db.Exec("INSERT INTO t (k) VALUES ('gone')");
  }
  EXPECT_TRUE(db.InAutocommit());
  {
    Transaction transaction(db, Transaction::Kind::kDeferred);
    db.Exec("INSERT INTO t (k) VALUES ('kept')");
    transaction.Commit();
  }
  EXPECT_EQ(db.QueryText("SELECT group_concat(k) FROM t"), "kept");
}

TEST(SqliteDatabase, OpenFailureIsAnError) {
  EXPECT_THROW(Database::Open("/nonexistent-dir/x.db", Database::Mode::kReadWrite), SqliteError);
  EXPECT_THROW(Database::Open("/nonexistent-dir/x.db", Database::Mode::kReadOnly), SqliteError);
}

}  // namespace
}  // namespace warren::store::sqlite
