// SPDX-License-Identifier: Apache-2.0
// OCI image layouts built in the test with tar: layers applied in order with whiteouts, the image
// config's User, and hostile layers (`..`, writing through a symlink, size bombs) kept inside.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <thread>

#include <nlohmann/json.hpp>

#include "container_fixture.hpp"
#include "phantomguard/actors/container/container_analyzer.hpp"
#include "phantomguard/actors/container/image_scan.hpp"
#include "phantomguard/actors/container/image_source.hpp"
#include "phantomguard/actors/container/layer_extractor.hpp"
#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "test_context.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::container;
using pg::runtime::severity;
using pg::test::at_path;
using pg::test::with_rule;
namespace fs = std::filesystem;

namespace {

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[256];
  while (std::fgets(buf, sizeof buf, p))
    out += buf;
  REQUIRE(::pclose(p) == 0);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

// Stores `file` as a blob of the layout; returns its digest.
std::string add_blob(const fs::path& layout, const fs::path& file) {
  auto hex = sh("sha256sum '" + file.string() + "' | cut -d' ' -f1");
  fs::create_directories(layout / "blobs/sha256");
  fs::copy_file(file, layout / "blobs/sha256" / hex, fs::copy_options::overwrite_existing);
  return "sha256:" + hex;
}

std::string add_json_blob(const fs::path& layout, const nlohmann::json& j, const fs::path& tmp) {
  std::ofstream(tmp) << j.dump();
  return add_blob(layout, tmp);
}

// index.json → manifest → config + layers, as `skopeo copy oci:` or `docker save` write them.
void write_layout(const fs::path& layout, const std::vector<fs::path>& layers,
                  const std::string& user, const fs::path& scratch) {
  fs::create_directories(layout);
  std::ofstream(layout / "oci-layout") << R"({"imageLayoutVersion": "1.0.0"})";
  nlohmann::json config = {{"architecture", "amd64"},
                           {"os", "linux"},
                           {"config", {{"User", user}, {"Env", {"PATH=/usr/bin"}}}}};
  auto config_digest = add_json_blob(layout, config, scratch / "config.json");
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", config_digest}}},
      {"layers", nlohmann::json::array()}};
  for (const auto& l : layers)
    manifest["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                                  {"digest", add_blob(layout, l)}});
  auto manifest_digest = add_json_blob(layout, manifest, scratch / "manifest.json");
  nlohmann::json index = {{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"digest", manifest_digest},
                             {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}}}}};
  std::ofstream(layout / "index.json") << index.dump();
}

} // namespace

SCENARIO("an OCI layout's layers are applied in order, whiteouts included") {
  pg::test::temp_dir dir("pg-oci");
  auto l1 = dir.path() / "l1";
  auto l2 = dir.path() / "l2";
  dir.write("l1/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  dir.write("l1/etc/secret.pem", "-----BEGIN EC PRIVATE KEY-----\n" + std::string(80, 'Q') +
                                     "\n-----END EC PRIVATE KEY-----\n");
  dir.write("l1/usr/bin/tool", "tool v1\n");
  dir.write("l1/opt/cache/a", "a\n");
  dir.write("l2/usr/bin/tool", "tool v2\n");
  dir.write("l2/etc/.wh.secret.pem", "");
  dir.write("l2/opt/cache/.wh..wh..opq", "");
  dir.write("l2/opt/cache/b", "b\n");
  auto su = dir.write("l2/usr/local/bin/backdoor", "x");
  ::chmod(su.c_str(), 04755);
  sh("tar -C '" + l1.string() + "' --owner=0 --group=0 -czf '" + (dir.path() / "l1.tgz").string() +
     "' .");
  sh("tar -C '" + l2.string() + "' --owner=0 --group=0 -czf '" + (dir.path() / "l2.tgz").string() +
     "' .");
  auto layout = dir.path() / "image";
  write_layout(layout, {dir.path() / "l1.tgz", dir.path() / "l2.tgz"}, "", dir.path());
  REQUIRE(is_oci_layout(layout.string()));

  std::string error;
  auto img = open_image(layout.string(), {}, dir.str(), &error);
  REQUIRE(img);
  INFO(error);
  THEN("the upper layer wins, whiteouts delete, and the config's empty User is kept") {
    CHECK(img->oci);
    CHECK(img->layers == 2);
    CHECK(img->manifest_digest.starts_with("sha256:"));
    REQUIRE(img->config_user);
    CHECK(img->config_user->empty());
    fs::path r = img->rootfs;
    std::ifstream tool(r / "usr/bin/tool");
    std::string v;
    std::getline(tool, v);
    CHECK(v == "tool v2");
    CHECK_FALSE(fs::exists(r / "etc/secret.pem"));
    CHECK_FALSE(fs::exists(r / "opt/cache/a"));
    CHECK(fs::exists(r / "opt/cache/b"));
    CHECK(img->extract.whiteouts == 2);
    CHECK(img->extract.unsafe_paths == 0);
  }
  THEN("the scan finds the setuid backdoor and the root user, not the deleted key") {
    pg::actors::host::collecting_sink sink;
    scan_image(*img, {}, sink);
    auto su_f = at_path(sink.findings, "container.setuid", "/usr/local/bin/backdoor");
    REQUIRE(su_f);
    CHECK(su_f->level == severity::high);
    CHECK(su_f->entity["image"] == layout.string());
    auto user = with_rule(sink.findings, "container.root_user");
    REQUIRE(user.size() == 1);
    CHECK(user[0]->level == severity::medium);
    CHECK(user[0]->title.find("no User") != std::string::npos);
    CHECK(with_rule(sink.findings, "container.secret").empty());
  }
  THEN("the temporary folder goes away with the image") {
    auto rootfs = img->rootfs;
    img.reset();
    CHECK_FALSE(fs::exists(rootfs));
  }
}

SCENARIO("an image whose config names a non-root user does not run as root") {
  pg::test::temp_dir dir("pg-oci");
  dir.write("l1/etc/hostname", "x\n");
  sh("tar -C '" + (dir.path() / "l1").string() + "' -czf '" + (dir.path() / "l1.tgz").string() +
     "' .");
  write_layout(dir.path() / "image", {dir.path() / "l1.tgz"}, "1000:1000", dir.path());
  std::string error;
  auto img = open_image((dir.path() / "image").string(), {}, dir.str(), &error);
  REQUIRE(img);
  pg::actors::host::collecting_sink sink;
  scan_image(*img, {}, sink);
  CHECK(with_rule(sink.findings, "container.root_user").empty());
}

SCENARIO("hostile layers cannot write outside the image root") {
  pg::test::temp_dir dir("pg-oci");
  auto outside = dir.path() / "outside";
  fs::create_directories(outside);
  // Python's tarfile writes exactly the names we give it: `..`, absolute, a symlink followed by
  // a file "through" it, and a hard link to a path outside.
  auto evil = dir.path() / "evil.tar";
  std::ofstream(dir.path() / "make.py")
      << "import io, tarfile, sys\n"
         "t = tarfile.open(sys.argv[1], 'w')\n"
         "def add(name, data=b'pwned', **kw):\n"
         "    i = tarfile.TarInfo(name); i.size = len(data)\n"
         "    for k, v in kw.items(): setattr(i, k, v)\n"
         "    t.addfile(i, io.BytesIO(data) if i.type == tarfile.REGTYPE else None)\n"
         "add('../../escape.txt')\n"
         "add('ok/../../escape2.txt')\n"
         "add('/abs.txt')\n"
         "add('link', type=tarfile.SYMTYPE, linkname=sys.argv[2], size=0, data=b'')\n"
         "add('link/through.txt')\n"
         "add('hard', type=tarfile.LNKTYPE, linkname='../../etc/passwd', size=0, data=b'')\n"
         "add('dev', type=tarfile.CHRTYPE, devmajor=1, devminor=3, size=0, data=b'')\n"
         "add('fine.txt', b'fine')\n"
         "t.close()\n";
  sh("python3 '" + (dir.path() / "make.py").string() + "' '" + evil.string() + "' '" +
     outside.string() + "'");
  auto target = dir.path() / "root";
  fs::create_directories(target);
  extract_stats stats;
  REQUIRE(extract_layer(evil.string(), target.string(), {}, stats));
  THEN("nothing lands outside, the unsafe entries are counted, the safe ones extracted") {
    CHECK_FALSE(fs::exists(dir.path().parent_path() / "escape.txt"));
    CHECK_FALSE(fs::exists(dir.path() / "escape.txt"));
    CHECK_FALSE(fs::exists(dir.path() / "escape2.txt"));
    CHECK(fs::is_empty(outside));           // nothing written through the symlink
    CHECK(fs::is_symlink(target / "link")); // the link itself is kept, as written
    CHECK(fs::exists(target / "abs.txt"));  // absolute names are made relative
    CHECK(fs::exists(target / "fine.txt"));
    CHECK_FALSE(fs::exists(target / "dev")); // no device nodes
    CHECK_FALSE(fs::exists(target / "hard"));
    CHECK(stats.unsafe_paths == 4);
    CHECK(stats.special_files == 1);
    CHECK(stats.unsafe_examples.size() == 4);
  }
}

SCENARIO("size limits stop a layer that unpacks too much") {
  pg::test::temp_dir dir("pg-oci");
  sh("mkdir -p '" + (dir.path() / "l").string() + "' && head -c 3000000 /dev/zero > '" +
     (dir.path() / "l/zeros").string() + "' && tar -C '" + (dir.path() / "l").string() +
     "' -czf '" + (dir.path() / "bomb.tgz").string() + "' .");
  write_layout(dir.path() / "image", {dir.path() / "bomb.tgz"}, "", dir.path());
  extract_limits limits;
  limits.max_total_bytes = 1u << 20;
  std::string error;
  auto img = open_image((dir.path() / "image").string(), limits, dir.str(), &error);
  CHECK_FALSE(img);
  CHECK(error.find("size limit") != std::string::npos);

  extract_limits entries;
  entries.max_entries = 1;
  CHECK_FALSE(open_image((dir.path() / "image").string(), entries, dir.str(), &error));
  CHECK(error.find("entries") != std::string::npos);
}

SCENARIO("a broken layout is an error, not a crash") {
  pg::test::temp_dir dir("pg-oci");
  dir.write("image/oci-layout", "{}");
  dir.write("image/index.json", "{\"manifests\": [{\"digest\": \"sha256:../../etc/passwd\"}]}");
  std::string error;
  CHECK_FALSE(open_image((dir.path() / "image").string(), {}, dir.str(), &error));
  CHECK(error.find("not a valid digest") != std::string::npos);
  dir.write("image/index.json", "{not json");
  CHECK_FALSE(open_image((dir.path() / "image").string(), {}, dir.str(), &error));
  CHECK(error.find("not a JSON object") != std::string::npos);
  // Fields of the wrong type (an image's own JSON is the attacker's): an error, not an exception.
  dir.write("image/index.json", R"({"mediaType": 5, "manifests": [{"digest": "sha256:)" +
                                    std::string(64, 'a') +
                                    R"(", "platform": {"os": ["linux"], "architecture": 1}}]})");
  CHECK_NOTHROW(open_image((dir.path() / "image").string(), {}, dir.str(), &error));
  CHECK_FALSE(open_image((dir.path() / "image").string(), {}, dir.str(), &error));
}

SCENARIO("a layer libarchive cannot open without saying why is an error, not a crash") {
  // Found by fuzz_layer: some inputs fail archive_read_open_filename with no error text, and a
  // null message appended to the error string crashed the container scan.
  pg::test::temp_dir dir("pg-oci");
  std::filesystem::create_directories(dir.path() / "root");
  for (const std::string& bytes :
       {std::string(), std::string("\x1f\x8b", 2), std::string("BZh9", 4),
        std::string("\xfd"
                    "7zXZ",
                    5),
        std::string(512, '\0')}) {
    auto layer = dir.write("layer.bin", bytes);
    extract_stats stats;
    (void)extract_layer(layer.string(), (dir.path() / "root").string(), extract_limits{}, stats);
    for (const auto& e : stats.errors)
      CHECK_FALSE(e.empty());
  }
  // The inputs the fuzzer found, kept as its seeds, go through the same call.
  for (const auto& seed :
       std::filesystem::directory_iterator(PG_SOURCE_DIR "/fuzz/corpus/fuzz_layer")) {
    extract_stats stats;
    (void)extract_layer(seed.path().string(), (dir.path() / "root").string(), extract_limits{},
                        stats);
  }
}

namespace {

/// An OCI layout of one layer holding a setuid file named `backdoor` (a container.setuid finding).
fs::path setuid_image(pg::test::temp_dir& dir, const std::string& name,
                      const std::string& backdoor) {
  const auto tree = dir.path() / (name + "-tree");
  fs::remove_all(tree);
  auto su = dir.write(name + "-tree/usr/local/bin/" + backdoor, "x");
  ::chmod(su.c_str(), 04755);
  const auto tgz = dir.path() / (name + ".tgz");
  sh("tar -C '" + tree.string() + "' --owner=0 --group=0 -czf '" + tgz.string() + "' .");
  const auto layout = dir.path() / name;
  fs::remove_all(layout);
  write_layout(layout, {tgz}, "app", dir.path());
  return layout;
}

pg::runtime::component_init analyzer_init(const pg::test::temp_dir& dir,
                                          const std::vector<fs::path>& images,
                                          toml::table extra = {}) {
  pg::runtime::component_init init;
  init.name = "container";
  init.state_dir = (dir.path() / "state").string();
  toml::table t{{"live", false}};
  toml::array list;
  for (const auto& i : images)
    list.push_back(i.string());
  t.insert("images", list);
  for (auto&& [k, v] : extra)
    t.insert(k, v);
  init.settings = pg::runtime::component_settings(t);
  return init;
}

struct tick_result {
  std::map<std::string, std::int64_t> counters;
  std::vector<std::string> setuid_paths;
};

tick_result tick(const pg::runtime::component_init& init) {
  container_analyzer a(init);
  pg::test::test_context ctx("container");
  a.start(ctx);
  a.on_tick(ctx);
  tick_result r;
  r.counters = ctx.counters;
  for (const auto* f : ctx.with_rule("container.setuid")) {
    CHECK(f->time != pg::runtime::wall_clock::time_point{});
    r.setuid_paths.push_back(f->entity["path"].get<std::string>());
  }
  return r;
}

} // namespace

SCENARIO("an unchanged OCI image is not unpacked again: the image cache") {
  pg::test::temp_dir dir("pg-oci-cache");
  auto image = setuid_image(dir, "image", "backdoor");
  auto init = analyzer_init(dir, {image});

  auto first = tick(init);
  REQUIRE(first.counters["images_scanned"] == 1);
  CHECK(first.counters["cache_misses"] == 1);
  CHECK(first.setuid_paths == std::vector<std::string>{"/usr/local/bin/backdoor"});

  WHEN("the next tick finds the image as it was") {
    auto second = tick(init);
    THEN("its findings come from the cache, stamped anew, and nothing is unpacked") {
      CHECK(second.counters["images_cached"] == 1);
      CHECK(second.counters.count("images_scanned") == 0);
      CHECK(second.counters["cache_hits"] == 1);
      CHECK(second.setuid_paths == first.setuid_paths);
    }
  }
  WHEN("a layer of the image is replaced") {
    setuid_image(dir, "image", "implant");
    auto second = tick(init);
    THEN("the image is unpacked and scanned again, and the new file is found") {
      CHECK(second.counters["images_scanned"] == 1);
      CHECK(second.counters["cache_misses"] == 1);
      CHECK(second.setuid_paths == std::vector<std::string>{"/usr/local/bin/implant"});
    }
  }
  WHEN("a layer blob is rewritten in place, the manifest unchanged") {
    const auto blobs = image / "blobs/sha256";
    for (const auto& e : fs::directory_iterator(blobs)) {
      const auto t = fs::last_write_time(e.path());
      fs::last_write_time(e.path(), t + std::chrono::seconds(5));
    }
    auto second = tick(init);
    THEN("it is not trusted to be the same image") {
      CHECK(second.counters["images_scanned"] == 1);
      CHECK(second.counters.count("images_cached") == 0);
    }
  }
  WHEN("the kept result is older than cache_ttl") {
    auto short_lived = analyzer_init(dir, {image}, toml::table{{"cache_ttl", "1s"}});
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto second = tick(short_lived);
    THEN("the image is scanned again and the entry counted as expired") {
      CHECK(second.counters["images_scanned"] == 1);
      CHECK(second.counters["cache_expired"] >= 1);
      CHECK(second.setuid_paths == first.setuid_paths);
    }
  }
  WHEN("the cache entry is damaged") {
    {
      pg::actors::storage::database raw((dir.path() / "state/container/container.db").string(),
                                        false);
      raw.exec("UPDATE image_cache SET value = 'not json'");
    }
    auto second = tick(init);
    THEN("it is a miss: the image is scanned again, its finding reported") {
      CHECK(second.counters["images_scanned"] == 1);
      CHECK(second.counters.count("cache_hits") == 0);
      CHECK(second.setuid_paths == first.setuid_paths);
      AND_THEN("the entry is written again and holds at the tick after") {
        CHECK(tick(init).counters["images_cached"] == 1);
      }
    }
  }
}

SCENARIO("the image cache holds at most cache_max_entries images") {
  pg::test::temp_dir dir("pg-oci-cache-cap");
  auto a = setuid_image(dir, "a", "one");
  auto b = setuid_image(dir, "b", "two");
  auto c = setuid_image(dir, "c", "three");
  auto init = analyzer_init(dir, {a, b, c}, toml::table{{"cache_max_entries", 2}});
  auto first = tick(init);
  CHECK(first.counters["images_scanned"] == 3);
  CHECK(first.counters["cache_evictions"] == 1);
  pg::actors::storage::database raw((dir.path() / "state/container/container.db").string(), false);
  auto rows = raw.prepare("SELECT count(*) FROM image_cache");
  REQUIRE(rows.step());
  CHECK(rows.column_int(0) == 2);
  auto second = tick(init);
  CHECK(second.counters["images_cached"] + second.counters["images_scanned"] == 3);
  CHECK(second.counters["images_scanned"] >= 1); // the one pushed out
  CHECK(second.setuid_paths.size() == 3);
}

SCENARIO("a root file system folder is scanned on every tick, never cached") {
  pg::test::temp_dir dir("pg-rootfs-nocache");
  auto su = dir.write("rootfs/usr/local/bin/backdoor", "x");
  ::chmod(su.c_str(), 04755);
  auto init = analyzer_init(dir, {dir.path() / "rootfs"});
  tick(init);
  auto second = tick(init);
  CHECK(second.counters["images_scanned"] == 1);
  CHECK(second.counters.count("images_cached") == 0);
  CHECK(second.setuid_paths == std::vector<std::string>{"/usr/local/bin/backdoor"});
}
