// UUIDv7 job ids (RFC 9562 §5.7): 48-bit Unix milliseconds, version 7, 12 bits rand_a, variant 10,
// 62 bits rand_b. Text sorts like creation time, so the store pages by id.
#include <algorithm>
#include <array>
#include <functional>

#include "core/job.hpp"

namespace warren {
namespace {

constexpr uint64_t kMaxMillis = (uint64_t{1} << 48U) - 1;
constexpr uint64_t kRandAMask = 0xFFFU;
constexpr uint64_t kRandBMask = (uint64_t{1} << 62U) - 1;
constexpr std::string_view kHex = "0123456789abcdef";

std::mt19937_64 SeededFromDevice() {
  std::random_device device;
  std::array<std::random_device::result_type, 8> words{};
  std::generate(words.begin(), words.end(), std::ref(device));
  std::seed_seq seq(words.begin(), words.end());
  return std::mt19937_64(seq);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

bool IsDashPosition(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

JobIdGenerator::JobIdGenerator() : rng_(SeededFromDevice()) {}

JobIdGenerator::JobIdGenerator(uint64_t seed) : rng_(seed) {}

std::string JobIdGenerator::Next(TimePoint now) {
  const int64_t raw = now.time_since_epoch().count();
  const uint64_t ms = raw < 0 ? 0 : std::min(static_cast<uint64_t>(raw), kMaxMillis);
  std::array<uint8_t, 16> bytes{};
  {
    const std::lock_guard lock(mutex_);
    if (!started_ || ms > last_ms_) {
      started_ = true;
      last_ms_ = ms;
      rand_a_ = rng_() & kRandAMask;
      rand_b_ = rng_() & kRandBMask;
    } else if (rand_b_ < kRandBMask) {
      ++rand_b_;  // same millisecond, or the clock went back: count up under the last timestamp
    } else if (rand_a_ < kRandAMask) {
      rand_b_ = 0;
      ++rand_a_;
    } else {
      // 74 bits exhausted within one millisecond: borrow the next one (never happens in practice).
      last_ms_ = std::min(last_ms_ + 1, kMaxMillis);
      rand_a_ = rng_() & kRandAMask;
      rand_b_ = rng_() & kRandBMask;
    }
    for (size_t i = 0; i < 6; ++i) {
      bytes[i] = static_cast<uint8_t>(last_ms_ >> (8U * (5 - i)));
    }
    bytes[6] = static_cast<uint8_t>(0x70U | (rand_a_ >> 8U));
    bytes[7] = static_cast<uint8_t>(rand_a_);
    bytes[8] = static_cast<uint8_t>(0x80U | (rand_b_ >> 56U));
    for (size_t i = 9; i < 16; ++i) {
      bytes[i] = static_cast<uint8_t>(rand_b_ >> (8U * (15 - i)));
    }
  }
  std::string text;
  text.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      text.push_back('-');
    }
    text.push_back(kHex[bytes[i] >> 4U]);
    text.push_back(kHex[bytes[i] & 0x0FU]);
  }
  return text;
}

std::string NewJobId(TimePoint now) {
  static JobIdGenerator generator;
  return generator.Next(now);
}

bool IsJobId(std::string_view text) {
  if (text.size() != 36) {
    return false;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsDashPosition(i) ? text[i] != '-' : HexValue(text[i]) < 0) {
      return false;
    }
  }
  return true;
}

std::optional<TimePoint> JobIdTime(std::string_view id) {
  if (!IsJobId(id) || id[14] != '7') {
    return std::nullopt;
  }
  int64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (i != 8) {
      ms = ms * 16 + HexValue(id[i]);
    }
  }
  return TimePoint{std::chrono::milliseconds{ms}};
}

}  // namespace warren
