// SPDX-License-Identifier: Apache-2.0
// vuln_analyzer.hpp — the `vuln` analyzer: on each scheduled tick (once in scan mode) it matches
// the dpkg database of `root` against the OSV advisories of `advisories`, on a throttled worker
// thread, streaming `vuln.package` findings. State under <state_dir>/<name>/vuln.db: the resume
// cursor (a stopped scan continues where it stopped while the inputs are unchanged) and, with
// report = "new", the findings already reported, and the match cache (each package's matches for
// its version and the advisory set: an unchanged host is scanned without loading the index).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/actors/host/finding_sink.hpp"
#include "phantomguard/actors/storage/persistent_cache.hpp"
#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/advisory_update.hpp"
#include "phantomguard/actors/vuln/scan_state.hpp"
#include "phantomguard/actors/vuln/throttle.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::vuln {

using host::collecting_sink;
using host::finding_sink;

class vuln_analyzer final : public runtime::component {
public:
  explicit vuln_analyzer(const runtime::component_init& init);

  void start(runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;

  /// The option declarations of the type (also used by `validate` and docs).
  static std::vector<runtime::option_spec> options();
  static throttle_settings default_throttle();
  static runtime::cache_policy default_cache_policy();

private:
  void refresh(finding_sink& sink);

  std::string name_;
  std::string state_dir_;
  std::string root_;
  std::string advisories_;
  std::string release_;
  runtime::severity default_severity_ = runtime::severity::medium;
  bool only_new_ = false;
  bool one_pass_ = false;
  std::chrono::seconds max_age_{7 * 86400};
  advisory_update_request update_; // url empty: no download

  throttle_settings throttle_;
  std::optional<scan_state> state_;
  runtime::cache_policy cache_policy_ = default_cache_policy();
  std::optional<storage::persistent_cache> match_cache_; // in state_'s database
  // The index of the last scan and the advisory fingerprint it was loaded with: reused while
  // the advisory source is unchanged.
  std::shared_ptr<const advisory_index> index_;
  std::string index_fingerprint_;
};

} // namespace pg::actors::vuln
