// SPDX-License-Identifier: Apache-2.0
// compiled_rules.hpp — a YARA rule set compiled once from rule files and directories, with
// per-file compile errors (file:line) that do not stop the other files from loading, and an
// on-disk cache of the compiled form keyed by the hash of the sources.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct YR_RULES;

namespace pg::actors::yara {

/// The rule pack compiled into the engine (rules/yara/phantomguard.yar), named in `rules` as
/// "builtin:phantomguard" beside files and directories.
inline constexpr std::string_view builtin_prefix = "builtin:";
inline constexpr std::string_view builtin_rule_pack = "builtin:phantomguard";
std::string_view builtin_rule_pack_text() noexcept;

/// Calls yr_initialize() once per process (thread-safe); throws std::runtime_error when libyara
/// cannot initialise. Every entry point of this family calls it first.
void ensure_libyara();

/// Move-only owner of a YR_RULES*. Shared (read-only) by the scanners of all worker threads.
class compiled_rules {
public:
  explicit compiled_rules(YR_RULES* rules) noexcept : rules_(rules) {}
  compiled_rules(compiled_rules&& o) noexcept : rules_(o.rules_) { o.rules_ = nullptr; }
  compiled_rules& operator=(compiled_rules&&) = delete;
  compiled_rules(const compiled_rules&) = delete;
  compiled_rules& operator=(const compiled_rules&) = delete;
  ~compiled_rules();
  [[nodiscard]] YR_RULES* get() const noexcept { return rules_; }
  /// Bytes of the compiled set's arena in use (rules, strings, the Aho-Corasick tables), which
  /// libyara allocates outside the C++ heap. A lower bound of what the set holds.
  [[nodiscard]] std::size_t bytes() const noexcept;

private:
  YR_RULES* rules_;
};

struct compile_error {
  std::string file; // the file the compiler was reading (an included file names itself)
  int line = 0;
  std::string message;
  /// "FILE:LINE: error: MESSAGE"
  [[nodiscard]] std::string to_string() const;
};

struct ruleset {
  std::shared_ptr<const compiled_rules> rules; // null when no file compiled
  std::string hash;                            // sha256 of the sources (files, includes)
  std::vector<std::string> files;              // rule files found
  std::vector<std::string> loaded;             // those that compiled
  std::vector<compile_error> errors;           // from the files that did not
  bool from_cache = false;
};

/// Loads `sources` (rule files, directories searched recursively for *.yar / *.yara, or the
/// built-in pack).
/// With a non-empty `cache_dir`, a compiled set saved for the same sources hash is loaded
/// instead of compiling (the compile errors of that run are replayed from beside it), and a
/// fresh compile is saved there. Never throws for bad rules: they land in `errors`.
ruleset load_ruleset(const std::vector<std::string>& sources, const std::string& cache_dir = {});

/// Only the hash load_ruleset would compute (to notice that rule files changed).
std::string ruleset_hash(const std::vector<std::string>& sources);

} // namespace pg::actors::yara
