// SPDX-License-Identifier: Apache-2.0
// image_source.hpp — what `container scan` points at: a root file system folder, or an OCI image
// layout (oci-layout + index.json + blobs/) whose layers are unpacked safely into a private
// temporary folder that lives as long as the opened_image.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/actors/container/layer_extractor.hpp"

namespace pg::actors::container {

/// A private temporary folder (mode 0700) removed with its contents on destruction.
class temp_folder {
public:
  /// Creates `<parent>/pg-image-XXXXXX`; nullptr with a reason in `*error` when it cannot.
  static std::unique_ptr<temp_folder> create(const std::string& parent, std::string* error);
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;
  ~temp_folder();
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  explicit temp_folder(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct opened_image {
  std::string source; // what was asked for
  std::string rootfs; // the folder to scan
  bool oci = false;
  std::string manifest_digest;
  /// The image config's User (OCI only); nullopt for a plain folder.
  std::optional<std::string> config_user;
  std::size_t layers = 0;
  extract_stats extract;
  std::unique_ptr<temp_folder> temp; // owns `rootfs` for an OCI layout
};

/// True when `path` holds an OCI image layout (an `oci-layout` file or an `index.json`).
bool is_oci_layout(const std::string& path);

/// What an OCI layout's scan depends on, read without unpacking it: the manifest digest, and the
/// size, mtime and inode of index.json, the manifest, the config and every layer blob (a blob
/// rewritten in place changes it). Equal identities scan alike, so the analyzer's image cache
/// keys on it. nullopt with a reason for a root file system folder (it has no identity short of
/// reading it all) or a malformed layout.
std::optional<std::string> image_identity(const std::string& path, std::string* error);

/// Opens a folder as is, or unpacks an OCI layout into a temporary folder under `work_dir`.
/// nullopt with a reason in `*error` for a missing path, an unreadable or malformed layout, or a
/// layer that could not be unpacked; limits and unsafe entries are recorded in `extract`.
std::optional<opened_image> open_image(const std::string& path, const extract_limits& limits,
                                       const std::string& work_dir, std::string* error);

} // namespace pg::actors::container
