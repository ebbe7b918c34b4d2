// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/image_source.hpp"

#include "phantomguard/runtime/temp_space.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/json_fields.hpp"

namespace pg::actors::container {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

bool fail(std::string* error, std::string why) {
  if (error)
    *error = std::move(why);
  return false;
}

// "sha256:<hex>" → blobs/sha256/<hex>, refusing anything that could name another path.
std::optional<fs::path> blob_path(const fs::path& layout, const std::string& digest) {
  auto colon = digest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= digest.size())
    return std::nullopt;
  auto algo = digest.substr(0, colon);
  auto hex = digest.substr(colon + 1);
  auto ok_algo = std::all_of(algo.begin(), algo.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
  auto ok_hex = hex.size() >= 32 && std::all_of(hex.begin(), hex.end(), [](char c) {
                  return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
                });
  if (!ok_algo || !ok_hex)
    return std::nullopt;
  return layout / "blobs" / algo / hex;
}

std::optional<json> read_json(const fs::path& p, std::string* error) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) {
    fail(error, p.string() + ": " + ec.message());
    return std::nullopt;
  }
  if (size > (16u << 20)) {
    fail(error, p.string() + ": larger than 16 MiB, not an image manifest");
    return std::nullopt;
  }
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    fail(error, p.string() + ": not a JSON object");
    return std::nullopt;
  }
  return j;
}

bool is_index(const json& j) {
  auto mt = runtime::string_field(j, "mediaType");
  return mt.find("image.index") != std::string::npos ||
         mt.find("manifest.list") != std::string::npos;
}

// The manifest to use from an index: linux/amd64 when platforms are named, else the first.
std::optional<std::string> pick_manifest(const json& index, std::string* error) {
  auto m = index.find("manifests");
  if (m == index.end() || !m->is_array() || m->empty()) {
    fail(error, "index has no manifests");
    return std::nullopt;
  }
  const json* chosen = nullptr;
  for (const auto& entry : *m) {
    if (!entry.is_object() || !entry.contains("digest") || !entry["digest"].is_string())
      continue;
    if (chosen == nullptr)
      chosen = &entry;
    auto p = entry.find("platform");
    if (p != entry.end() && runtime::string_field(*p, "os") == "linux" &&
        runtime::string_field(*p, "architecture") == "amd64") {
      chosen = &entry;
      break;
    }
  }
  if (chosen == nullptr) {
    fail(error, "index has no manifest with a digest");
    return std::nullopt;
  }
  return (*chosen)["digest"].get<std::string>();
}

/// Follows index.json (and nested indexes of multi-platform images, a few levels down) to one
/// image manifest with layers.
bool resolve_manifest(const fs::path& layout, json* manifest, std::string* digest,
                      std::string* error) {
  auto index = read_json(layout / "index.json", error);
  if (!index)
    return false;
  json current = *index;
  for (int depth = 0; depth < 4; ++depth) {
    auto d = pick_manifest(current, error);
    if (!d)
      return false;
    auto blob = blob_path(layout, *d);
    if (!blob)
      return fail(error, "manifest digest '" + *d + "' is not a valid digest");
    auto j = read_json(*blob, error);
    if (!j)
      return false;
    if (is_index(*j) || (j->contains("manifests") && !j->contains("layers"))) {
      current = *j;
      continue;
    }
    *manifest = *j;
    *digest = *d;
    break;
  }
  if (manifest->is_null() || !manifest->contains("layers") || !(*manifest)["layers"].is_array())
    return fail(error, layout.string() + ": no image manifest with layers found");
  return true;
}

std::string file_stamp(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    return "-";
  return std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + "#" + std::to_string(st.st_ino);
}

} // namespace

std::unique_ptr<temp_folder> temp_folder::create(const std::string& parent, std::string* error) {
  // Named after this process (image-<pid>-XXXXXX): in the engine's temp folder, what a killed
  // process left is removed at the next start.
  auto made = runtime::make_temp_folder(
      parent.empty() ? fs::temp_directory_path().string() : parent, "image", error);
  if (!made)
    return nullptr;
  return std::unique_ptr<temp_folder>(new temp_folder(*made));
}

temp_folder::~temp_folder() {
  std::error_code ec;
  fs::remove_all(path_, ec); // removes symlinks, never follows them
}

bool is_oci_layout(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(path) / "oci-layout", ec) ||
         fs::is_regular_file(fs::path(path) / "index.json", ec);
}

std::optional<std::string> image_identity(const std::string& path, std::string* error) {
  if (!is_oci_layout(path)) {
    fail(error, path + ": not an OCI image layout (a root file system has no identity short of "
                       "reading it)");
    return std::nullopt;
  }
  fs::path layout(path);
  json manifest;
  std::string digest;
  if (!resolve_manifest(layout, &manifest, &digest, error))
    return std::nullopt;
  std::string id = digest + " index " + file_stamp(layout / "index.json");
  if (auto blob = blob_path(layout, digest))
    id += " manifest " + file_stamp(*blob);
  auto add = [&](const json& entry) {
    if (entry.is_object() && entry.contains("digest") && entry["digest"].is_string())
      if (auto blob = blob_path(layout, entry["digest"].get<std::string>()))
        id += " " + entry["digest"].get<std::string>() + " " + file_stamp(*blob);
  };
  if (auto c = manifest.find("config"); c != manifest.end())
    add(*c);
  for (const auto& layer : manifest["layers"])
    add(layer);
  return id;
}

std::optional<opened_image> open_image(const std::string& path, const extract_limits& limits,
                                       const std::string& work_dir, std::string* error) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    fail(error, path + ": not a folder (give a root file system or an OCI image layout)");
    return std::nullopt;
  }
  opened_image img;
  img.source = path;
  if (!is_oci_layout(path)) {
    img.rootfs = path;
    return img;
  }
  img.oci = true;
  fs::path layout(path);
  json manifest;
  std::string digest;
  if (!resolve_manifest(layout, &manifest, &digest, error))
    return std::nullopt;
  img.manifest_digest = digest;
  if (auto c = manifest.find("config"); c != manifest.end() && c->is_object() &&
                                        c->contains("digest") && (*c)["digest"].is_string()) {
    if (auto blob = blob_path(layout, (*c)["digest"].get<std::string>())) {
      std::string cfg_error;
      if (auto cfg = read_json(*blob, &cfg_error)) {
        auto inner = cfg->find("config");
        std::string user;
        if (inner != cfg->end() && inner->is_object() && inner->contains("User") &&
            (*inner)["User"].is_string())
          user = (*inner)["User"].get<std::string>();
        img.config_user = user;
      }
    }
  }
  img.temp = temp_folder::create(work_dir, error);
  if (!img.temp)
    return std::nullopt;
  img.rootfs = img.temp->path() + "/rootfs";
  fs::create_directory(img.rootfs, ec);
  for (const auto& layer : manifest["layers"]) {
    if (!layer.is_object() || !layer.contains("digest") || !layer["digest"].is_string()) {
      fail(error, "a layer has no digest");
      return std::nullopt;
    }
    auto blob = blob_path(layout, layer["digest"].get<std::string>());
    if (!blob || !fs::is_regular_file(*blob, ec)) {
      fail(error, "layer blob " + layer["digest"].get<std::string>() + " is missing or invalid");
      return std::nullopt;
    }
    ++img.layers;
    if (!extract_layer(blob->string(), img.rootfs, limits, img.extract)) {
      fail(error, "layer " + layer["digest"].get<std::string>() + " could not be unpacked: " +
                      (img.extract.errors.empty() ? "unknown error" : img.extract.errors.back()));
      return std::nullopt;
    }
  }
  return img;
}

} // namespace pg::actors::container
