// SPDX-License-Identifier: Apache-2.0
// rule_scanner.hpp — one libyara scanner (YR_SCANNER) over a compiled rule set; one per worker
// thread, never shared. Reports each matching rule with its namespace, tags, meta and the ids
// of the strings that matched.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/yara/compiled_rules.hpp"

// libyara: typedef YR_SCAN_CONTEXT YR_SCANNER (kept out of this header).
struct YR_SCAN_CONTEXT;

namespace pg::actors::yara {

struct rule_match {
  std::string rule;
  std::string ns;
  std::vector<std::string> tags;
  nlohmann::json meta = nlohmann::json::object();
  std::vector<std::string> strings; // "$a", "$s1", ... that matched at least once

  [[nodiscard]] nlohmann::json to_json() const;
  static rule_match from_json(const nlohmann::json& j);
};

struct scan_outcome {
  bool ok = true;
  int error = 0;       // libyara error code when !ok (ERROR_COULD_NOT_OPEN_FILE, ...)
  std::string message; // a readable reason when !ok
  std::vector<rule_match> matches;
};

class rule_scanner {
public:
  /// Throws std::runtime_error when the scanner cannot be created. `timeout_seconds` 0 = none.
  rule_scanner(std::shared_ptr<const compiled_rules> rules, int timeout_seconds, bool fast);
  rule_scanner(rule_scanner&&) noexcept;
  rule_scanner& operator=(rule_scanner&&) noexcept;
  rule_scanner(const rule_scanner&) = delete;
  rule_scanner& operator=(const rule_scanner&) = delete;
  ~rule_scanner();

  scan_outcome scan_file(const std::string& path);
  scan_outcome scan_memory(const void* data, std::size_t size);
  /// Scans the readable memory regions of process `pid` (libyara attaches with ptrace and
  /// reads /proc/PID/mem; needs CAP_SYS_PTRACE or the same user and a permissive ptrace_scope).
  scan_outcome scan_process(int pid);

private:
  scan_outcome finish(int rc);

  std::shared_ptr<const compiled_rules> rules_; // keeps the rules alive as long as the scanner
  YR_SCAN_CONTEXT* scanner_ = nullptr;
  std::vector<rule_match> current_;
};

} // namespace pg::actors::yara
