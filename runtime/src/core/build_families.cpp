// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/build_families.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

namespace pg::runtime {

namespace {

struct table {
  std::mutex mutex;
  std::map<std::string, std::string, std::less<>> family_of;
};

table& left_out() {
  static table t;
  return t;
}

} // namespace

void add_left_out(std::string name, std::string family) {
  auto& t = left_out();
  std::lock_guard lock(t.mutex);
  t.family_of[std::move(name)] = std::move(family);
}

std::optional<std::string> left_out_family(std::string_view name) {
  auto& t = left_out();
  std::lock_guard lock(t.mutex);
  if (auto it = t.family_of.find(name); it != t.family_of.end())
    return it->second;
  return std::nullopt;
}

std::vector<std::string> left_out_families() {
  auto& t = left_out();
  std::lock_guard lock(t.mutex);
  std::vector<std::string> out;
  for (const auto& [name, family] : t.family_of)
    if (std::find(out.begin(), out.end(), family) == out.end())
      out.push_back(family);
  std::sort(out.begin(), out.end());
  return out;
}

std::string left_out_message(std::string_view name, const std::string& family) {
  std::string option = family;
  std::transform(option.begin(), option.end(), option.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return "'" + std::string(name) + "' is not in this build: it belongs to the " + family +
         " family, which this binary was built without (CMake option PG_FAMILY_" + option +
         "=OFF, docs/build.md)";
}

} // namespace pg::runtime
