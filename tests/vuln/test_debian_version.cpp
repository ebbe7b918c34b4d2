// SPDX-License-Identifier: Apache-2.0
// Debian version ordering against dpkg itself: edge cases with known answers, then thousands of
// generated pairs checked with `dpkg --compare-versions` (one shell process for all of them).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "phantomguard/actors/vuln/debian_version.hpp"
#include "skip.hpp"
#include "vuln_fixture.hpp"

using pg::actors::vuln::compare_debian_versions;
using pg::actors::vuln::parse_debian_version;

namespace {

int sign(int v) {
  return (v > 0) - (v < 0);
}

std::vector<std::pair<std::string, std::string>> edge_cases() {
  return {
      {"1.0", "1.0"},
      {"1.0", "1.0-0"},
      {"1.0~rc1", "1.0"},
      {"1.0~~", "1.0~"},
      {"1.0~", "1.0"},
      {"1.0~~a", "1.0~~"},
      {"1.0a", "1.0"},
      {"1.0a", "1.0+"},
      {"1.0+", "1.0."},
      {"1.0-1", "1.0-1~bpo1"},
      {"1:0.1", "2.0"},
      {"0:1.0", "1.0"},
      {"001", "1"},
      {"1.00", "1.0"},
      {"1.0.0", "1.0"},
      {"2.36-9+deb12u4", "2.36-9+deb12u14"},
      {"3.0.11-1~deb12u2", "3.0.11-1"},
      {"1.2.3-1+b1", "1.2.3-1"},
      {"7.88.1-10+deb12u5", "7.88.1-10"},
      {"10", "9"},
      {"1a", "1b"},
      {"1A", "1a"},
      {"1-1-1", "1-1"},
      {"1:1.2.13.dfsg-1", "1:1.2.13-1"},
      {"5.2.15-2", "5.2.15-2+b8"},
      {"1.0-a", "1.0-b"},
      {"1.0-0", "1.0"},
      {"99999999999999999999", "99999999999999999998"},
      {"0.0", "0"},
      {"1.0~rc1-1", "1.0~rc1"},
      {"1.0-1~", "1.0-1"},
      {"1.2+dfsg", "1.2~dfsg"},
  };
}

// Valid versions with the characters that matter: digits, letters, '.', '+', '~', '-'.
std::string random_version(std::mt19937& rng) {
  static const std::string up = "0123456789abcAZ.+~";
  static const std::string rev = "0123456789abz.+~";
  auto pick = [&](const std::string& set) {
    return set[std::uniform_int_distribution<std::size_t>(0, set.size() - 1)(rng)];
  };
  std::string v;
  if (rng() % 5 == 0)
    v += std::to_string(rng() % 3) + ":";
  v += static_cast<char>('0' + rng() % 10);
  for (auto n = rng() % 7; n > 0; --n)
    v += pick(up);
  if (rng() % 2 == 0) {
    v += '-';
    v += static_cast<char>('0' + rng() % 10);
    for (auto n = rng() % 4; n > 0; --n)
      v += pick(rev);
  }
  return v;
}

// A close relative of `v`: what real upgrades look like (one character changed or appended).
std::string mutate(std::string v, std::mt19937& rng) {
  static const std::string chars = "0129az.+~";
  switch (rng() % 4) {
  case 0:
    v += chars[rng() % chars.size()];
    break;
  case 1:
    v += "~" + std::string(1, chars[rng() % chars.size()]);
    break;
  case 2:
    if (v.size() > 2)
      v[1 + rng() % (v.size() - 1)] = "0123456789ab"[rng() % 12];
    break;
  default:
    v += "+b" + std::to_string(rng() % 3);
    break;
  }
  return v;
}

} // namespace

SCENARIO("Debian version ordering follows the documented dpkg rules") {
  CHECK(compare_debian_versions("1.0~rc1", "1.0") < 0);
  CHECK(compare_debian_versions("1.0~~", "1.0~") < 0);
  CHECK(compare_debian_versions("1.0a", "1.0+") < 0); // letters sort before non-letters
  CHECK(compare_debian_versions("1:0.1", "2.0") > 0); // the epoch wins
  CHECK(compare_debian_versions("1.0", "1.0-0") == 0);
  CHECK(compare_debian_versions("001", "1") == 0);
  CHECK(compare_debian_versions("2.36-9+deb12u4", "2.36-9+deb12u14") < 0);
  CHECK(compare_debian_versions("3.0.11-1~deb12u2", "3.0.11-1") < 0);
}

SCENARIO("invalid versions are rejected with dpkg's reasons") {
  std::string why;
  CHECK_FALSE(parse_debian_version("", &why));
  CHECK(why == "version string is empty");
  CHECK_FALSE(parse_debian_version("a1.0", &why));
  CHECK(why == "version number does not start with digit");
  CHECK_FALSE(parse_debian_version("x:1.0", &why));
  CHECK(why == "epoch in version is not number");
  CHECK_FALSE(parse_debian_version("1.0-", &why));
  CHECK(why == "revision number is empty");
  CHECK_FALSE(parse_debian_version("1.0 2", &why));
  CHECK_FALSE(parse_debian_version("1.0_2", &why));
  auto v = parse_debian_version("2:1.2-3-4");
  REQUIRE(v);
  CHECK(v->epoch == 2);
  CHECK(v->upstream == "1.2-3");
  CHECK(v->revision == "4");
}

SCENARIO("thousands of generated version pairs order exactly as dpkg --compare-versions") {
  if (std::system("command -v dpkg >/dev/null 2>&1") != 0) {
    PG_SKIP("dpkg not found: comparison against dpkg skipped");
  }
  GIVEN("edge cases and 3500 random pairs, half of them near-identical") {
    std::mt19937 rng(20261122);
    auto pairs = edge_cases();
    for (int i = 0; i < 3500; ++i) {
      auto a = random_version(rng);
      auto b = (i % 2 == 0) ? mutate(a, rng) : random_version(rng);
      if (rng() % 2)
        std::swap(a, b);
      pairs.emplace_back(a, b);
    }
    pg::test::temp_dir dir("pg-dpkgcmp");
    {
      std::ofstream out(dir.path() / "pairs");
      for (const auto& [a, b] : pairs)
        out << a << ' ' << b << '\n';
    }
    WHEN("dpkg compares each pair in one shell loop") {
      auto script = "while read -r a b; do "
                    "if dpkg --compare-versions \"$a\" lt \"$b\" 2>/dev/null; then echo '<'; "
                    "elif dpkg --compare-versions \"$a\" eq \"$b\" 2>/dev/null; then echo '='; "
                    "else echo '>'; fi; done < " +
                    (dir.path() / "pairs").string() + " > " + (dir.path() / "dpkg").string();
      REQUIRE(std::system(script.c_str()) == 0);
      THEN("every verdict is the same as ours") {
        std::ifstream in(dir.path() / "dpkg");
        std::string line;
        std::size_t n = 0;
        std::size_t mismatches = 0;
        for (const auto& [a, b] : pairs) {
          REQUIRE(std::getline(in, line));
          int theirs = line == "<" ? -1 : line == "=" ? 0 : 1;
          int ours = sign(compare_debian_versions(a, b));
          if (ours != theirs && ++mismatches < 10)
            FAIL_CHECK(a << " vs " << b << ": dpkg " << line << ", ours " << ours);
          ++n;
        }
        CHECK(n == pairs.size());
        CHECK(mismatches == 0);
      }
    }
  }
}
