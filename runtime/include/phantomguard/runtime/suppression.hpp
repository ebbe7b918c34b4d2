// SPDX-License-Identifier: Apache-2.0
// suppression.hpp — `[[suppress]]` entries: the operator's documented allow-list. A finding
// whose rule and entity match an entry is not delivered, and is counted; an entry past its
// `expires` no longer suppresses and is itself a finding (engine.suppression_expired), so an
// exception made for a while does not become permanent by being forgotten.
//
//   [[suppress]]
//   rule = "memory.memfd_exec"                   # exact, or a glob with *
//   entity = { exe = "/memfd:sealed-*" }          # every key must match (glob on its text)
//   reason = "the test VM's process runner runs from a sealed memfd"
//   expires = 2027-03-01                          # optional: a TOML date or date-time
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/runtime/event.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::runtime {

struct suppression_decl {
  std::string rule;
  std::map<std::string, std::string> entity; // key -> glob on the entity value's text
  std::string reason;
  std::optional<wall_clock::time_point> expires;
  std::string where; // FILE:LINE:COL of the entry

  friend bool operator==(const suppression_decl& a, const suppression_decl& b) {
    return a.rule == b.rule && a.entity == b.entity && a.reason == b.reason &&
           a.expires == b.expires;
  }
};

/// `*` matches any run of characters (also none); everything else matches itself.
bool glob_match(std::string_view pattern, std::string_view text);

/// Whether `s` matches `f` (ignoring expiry).
bool suppression_matches(const suppression_decl& s, const finding& f);

/// The engine's live set: shared by every component actor (thread-safe), replaced on reload.
class suppressor {
public:
  struct verdict {
    bool suppressed = false;
    /// Set the first time a finding meets an expired entry: the engine raises it once.
    std::optional<suppression_decl> newly_expired;
  };

  void replace(std::vector<suppression_decl> entries);
  verdict check(const finding& f, wall_clock::time_point now);
  /// Entries already expired at `now` and not yet reported (marks them reported).
  std::vector<suppression_decl> take_expired(wall_clock::time_point now);
  /// Findings suppressed so far, per entry (in declaration order).
  [[nodiscard]] std::vector<std::int64_t> counts() const;
  [[nodiscard]] std::size_t size() const;

private:
  struct entry {
    suppression_decl decl;
    std::int64_t suppressed = 0;
    bool expiry_reported = false;
  };
  mutable std::mutex mutex_;
  std::vector<entry> entries_;
};

/// The finding that says an entry expired.
finding expired_suppression_finding(const suppression_decl& s);

} // namespace pg::runtime
