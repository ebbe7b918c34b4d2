// SPDX-License-Identifier: Apache-2.0
// container_analyzer.hpp — the `container` analyzer: on each tick it checks the live containers of
// this host (from /proc) and scans the configured images / root file systems, on a throttled
// worker thread, streaming findings. State under <state_dir>/<name>/container.db: the index of the
// next image to scan (a stopped tick resumes there), with report = "new" what was reported, and
// the image cache: what an OCI image's scan found, keyed by the image's identity (manifest digest
// and blob stamps) and the advisories, so an unchanged image is not unpacked and scanned again
// until cache_ttl says its result is too old.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "phantomguard/actors/container/image_scan.hpp"
#include "phantomguard/actors/container/layer_extractor.hpp"
#include "phantomguard/actors/storage/persistent_cache.hpp"
#include "phantomguard/actors/vuln/scan_state.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::container {

class container_analyzer final : public runtime::component {
public:
  explicit container_analyzer(const runtime::component_init& init);

  void start(runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;

  static std::vector<runtime::option_spec> options();
  static vuln::throttle_settings default_throttle();
  static runtime::cache_policy default_cache_policy();

private:
  void scan_live(host::finding_sink& sink);
  void scan_one_image(const std::string& path, host::finding_sink& sink);
  void unpack_and_scan(const std::string& path, host::finding_sink& sink, bool* completed);
  [[nodiscard]] std::string cache_tag(const std::string& identity) const;

  std::string name_;
  std::string state_dir_;
  bool live_ = true;
  std::string proc_root_ = "/proc";
  std::vector<std::string> images_;
  std::string work_dir_;
  std::uint64_t temp_max_bytes_ = 0; // the engine temp folder's cap, when work_dir_ is it
  bool only_new_ = false;
  image_scan_options scan_options_;
  extract_limits limits_;
  vuln::throttle_settings throttle_;
  std::optional<vuln::scan_state> state_;
  runtime::cache_policy cache_policy_ = default_cache_policy();
  std::optional<storage::persistent_cache> image_cache_; // in state_'s database
};

} // namespace pg::actors::container
