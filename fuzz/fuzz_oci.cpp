// SPDX-License-Identifier: Apache-2.0
// An OCI image layout as someone who pushed an image controls it: index.json, the manifest it
// names (an image index may nest), the config and one layer, opened by the container family as
// `phantomguard container scan` does. The input is four parts split by "\n--8<--\n": index,
// manifest, config, layer. So that mutations reach the manifest and config parsers and not only
// the digest check, "@MANIFEST@", "@CONFIG@" and "@LAYER@" are replaced by the real digests of
// the parts written as blobs (the layer's first, then the config's into the manifest, then the
// manifest's into the index).
// Invariants: nothing is written outside the work folder; an image that opened has a rootfs.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/container/image_source.hpp"
#include "phantomguard/runtime/digest.hpp"

using namespace pg::actors::container;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(std::string_view in) {
  static constexpr std::string_view sep = "\n--8<--\n";
  std::vector<std::string> parts;
  while (parts.size() < 3) {
    auto at = in.find(sep);
    if (at == std::string_view::npos)
      break;
    parts.emplace_back(in.substr(0, at));
    in.remove_prefix(at + sep.size());
  }
  parts.emplace_back(in);
  parts.resize(4);
  return parts;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::string blob(const fs::path& layout, const std::string& bytes) {
  auto hex = pg::runtime::sha256_hex(bytes);
  std::ofstream(layout / "blobs" / "sha256" / hex, std::ios::binary) << bytes;
  return "sha256:" + hex;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = fuzz_scratch("oci");
  const fs::path layout = fs::path(dir) / "image";
  const fs::path work = fs::path(dir) / "work";
  std::error_code ec;
  fs::remove_all(layout, ec);
  fs::remove_all(work, ec);
  fs::create_directories(layout / "blobs" / "sha256");
  fs::create_directories(work);
  auto parts = split({reinterpret_cast<const char*>(data), size});
  auto& index = parts[0];
  auto& manifest = parts[1];
  auto& config = parts[2];
  const auto& layer = parts[3];
  const auto layer_digest = blob(layout, layer);
  replace_all(config, "@LAYER@", layer_digest);
  const auto config_digest = blob(layout, config);
  replace_all(manifest, "@CONFIG@", config_digest);
  replace_all(manifest, "@LAYER@", layer_digest);
  const auto manifest_digest = blob(layout, manifest);
  replace_all(index, "@MANIFEST@", manifest_digest);
  std::ofstream(layout / "oci-layout") << R"({"imageLayoutVersion": "1.0.0"})";
  std::ofstream(layout / "index.json", std::ios::binary) << index;

  extract_limits limits;
  limits.max_total_bytes = 1 << 20;
  limits.max_file_bytes = 256 << 10;
  limits.max_entries = 256;
  std::string error;
  auto image = open_image(layout.string(), limits, work.string(), &error);
  if (image && image->rootfs.empty())
    __builtin_trap();
  image.reset(); // removes its temporary rootfs
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (name != "image" && name != "work")
      __builtin_trap(); // written outside the layout and the work folder
  }
  return 0;
}
