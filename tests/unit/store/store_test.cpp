#include "store/store.hpp"

#include <gtest/gtest.h>

#include "store/migration.hpp"
#include "store/postgres/migrations.hpp"
#include "store/sqlite/migrations.hpp"

namespace warren::store {
namespace {

TEST(OpenStore, UnknownSchemeIsInvalidArgumentWithoutTheSecret) {
  try {
    OpenStore("mysql://root:hunter2@db/warren");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'mysql'"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(OpenStore(""), std::invalid_argument);
  EXPECT_THROW(OpenStore("./var/warren.db"), std::invalid_argument);
  EXPECT_THROW(OpenStore("sqlite:"), std::invalid_argument);
  EXPECT_THROW(OpenStore("postgresql:/x"), std::invalid_argument);
}

TEST(OpenStore, SqliteMemory) {
  auto store = OpenStore("sqlite::memory:");
  store->Migrate();
  EXPECT_TRUE(store->Ping());
  EXPECT_TRUE(store->ListJobs({}).jobs.empty());
}

TEST(Migrations, ListsAreNumberedInOrder) {
  EXPECT_NO_THROW(CheckMigrationList(sqlite::Migrations()));
  EXPECT_NO_THROW(CheckMigrationList(postgres::Migrations()));
  EXPECT_EQ(sqlite::Migrations().size(), postgres::Migrations().size())
      << "the backends' schemas move together";
  EXPECT_THROW(CheckMigrationList({{1, "a", ""}, {3, "b", ""}}), std::logic_error);
  EXPECT_THROW(CheckMigrationList({{2, "a", ""}, {1, "b", ""}}), std::logic_error);
}

}  // namespace
}  // namespace warren::store
