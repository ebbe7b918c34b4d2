// SPDX-License-Identifier: Apache-2.0
// image_scan.hpp — the checks on an image or root file system: installed packages through the
// vulnerability scanner, container.setuid, container.world_writable, container.secret,
// container.root_user, streamed to a sink segment by segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "phantomguard/actors/container/image_source.hpp"
#include "phantomguard/actors/host/finding_sink.hpp"
#include "phantomguard/actors/vuln/throttle.hpp"

namespace pg::actors::container {

struct image_scan_options {
  std::uint64_t max_secret_scan_bytes = 1u << 20; // bytes of each file searched for secrets
  std::string advisories; // OSV source for the packages; empty: inventory only
  std::string release;    // Debian release override for matching
  runtime::severity default_severity = runtime::severity::medium;
  vuln::throttle_settings throttle;
  bool secrets = true;
};

struct image_scan_result {
  std::size_t files = 0;
  std::size_t directories = 0;
  std::size_t unreadable = 0;
  std::uint64_t bytes_searched = 0;
  std::size_t packages = 0;
  bool completed = false;
};

/// Debian's usual setuid/setgid programs: reported at low severity (they belong to the base
/// system), anything else at high.
bool is_expected_setuid(const std::string& path);

/// Scans an opened image. Findings carry entity.image = img.source and entity.path as the path
/// inside the image ("/usr/bin/su").
image_scan_result scan_image(const opened_image& img, const image_scan_options& options,
                             host::finding_sink& sink);

} // namespace pg::actors::container
