#include "core/percent_encode.hpp"

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(PercentEncode, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(PercentEncode("abc-XYZ_0.9~"), "abc-XYZ_0.9~");
  EXPECT_EQ(PercentEncode("/"), "%2F");
  EXPECT_EQ(PercentEncode("a/b c?d&e=f"), "a%2Fb%20c%3Fd%26e%3Df");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
}

}  // namespace
}  // namespace warren
