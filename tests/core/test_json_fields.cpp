// SPDX-License-Identifier: Apache-2.0
// Reading members of JSON from outside: a number that does not fit the type asked for is no
// value, never a wrapped one and never undefined behaviour (the fuzzer found 4.4e28 read as a
// size_t in an advisory meta record).
#include <catch2/catch.hpp>

#include <cstdint>

#include "phantomguard/runtime/json_fields.hpp"

using nlohmann::json;
using pg::runtime::integer_field;
using pg::runtime::integer_value;
using pg::runtime::string_field;

SCENARIO("integer_value takes whole numbers the type holds and nothing else") {
  CHECK(integer_value<int>(json(42)) == 42);
  CHECK(integer_value<int>(json(-7)) == -7);
  CHECK(integer_value<std::uint64_t>(json::parse("18446744073709551615")) == UINT64_MAX);
  CHECK(integer_value<int>(json::parse("4.0")) == 4);    // a double with no fraction
  CHECK_FALSE(integer_value<int>(json::parse("4.5")));   // a fraction
  CHECK_FALSE(integer_value<int>(json::parse("1e300"))); // far too large
  CHECK_FALSE(integer_value<int>(json::parse("-1e300")));
  CHECK_FALSE(integer_value<std::size_t>(json::parse("44444400000001168934303281942")));
  CHECK_FALSE(integer_value<int>(json::parse("2147483648"))); // INT_MAX + 1
  CHECK(integer_value<int>(json::parse("-2147483648")) == INT32_MIN);
  CHECK_FALSE(integer_value<int>(json::parse("-2147483649")));
  CHECK_FALSE(integer_value<std::uint32_t>(json(-1))); // negative into unsigned
  CHECK_FALSE(integer_value<std::uint8_t>(json(256)));
  CHECK(integer_value<std::uint8_t>(json(255)) == 255);
  CHECK_FALSE(integer_value<std::int64_t>(json::parse("9223372036854775808.0"))); // 2^63
  CHECK_FALSE(integer_value<std::uint64_t>(json::parse("18446744073709551616"))); // 2^64
  CHECK_FALSE(integer_value<int>(json("12")));                                    // a string
  CHECK_FALSE(integer_value<int>(json(true)));
  CHECK_FALSE(integer_value<int>(json(nullptr)));
}

SCENARIO("integer_field and string_field read a member without trusting its type") {
  const auto j = json::parse(R"({"n": 3, "big": 1e40, "s": "x", "neg": -1})");
  CHECK(integer_field<int>(j, "n") == 3);
  CHECK_FALSE(integer_field<int>(j, "big"));
  CHECK_FALSE(integer_field<int>(j, "s"));
  CHECK_FALSE(integer_field<int>(j, "missing"));
  CHECK_FALSE(integer_field<std::size_t>(j, "neg"));
  CHECK_FALSE(integer_field<int>(json::array({1, 2}), "n")); // not an object
  CHECK(string_field(j, "s") == "x");
  CHECK(string_field(j, "n", "none") == "none");
}
