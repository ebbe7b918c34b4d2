// SPDX-License-Identifier: Apache-2.0
// The loader's load-time checks: each refusal is one exact line naming the plugin, the path,
// expected vs found, and the fix; a good plugin passes every check in order.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "phantomguard/runtime/plugin_loader.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "scratch_dir.hpp"

using namespace pg::runtime;
using pg::test::fixture;
using pg::test::scratch_dir;

namespace {

plugin_request request_for(const std::string& plugin) {
  plugin_request r;
  r.plugin = plugin;
  r.plugin_dir = PG_SDK_FIXTURE_DIR;
  return r;
}

std::string refusal_of(const plugin_request& r) {
  plugin_inspection i = inspect_plugin(r);
  REQUIRE_FALSE(i.ok());
  REQUIRE_FALSE(i.checks.empty());
  CHECK_FALSE(i.checks.back().ok);
  CHECK(i.checks.back().detail == i.refusal);
  return i.refusal;
}

std::string failed_check(const plugin_request& r) {
  return inspect_plugin(r).checks.back().name;
}

std::string sha256_of(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  std::array<char, 128> buf{};
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  while (std::fgets(buf.data(), buf.size(), p) != nullptr)
    out += buf.data();
  ::pclose(p);
  return out.substr(0, 64);
}

const std::string fixture_id = "org.phantomguard.test.fixture";

} // namespace

SCENARIO("a well-formed plugin passes every load-time check, in order", "[sdk][loader]") {
  GIVEN("the fixture plugin by path") {
    plugin_request r = request_for(fixture("fixture.so"));
    r.version = ">=1.4, <2";
    r.sha256 = "sha256:" + sha256_of(r.plugin);
    toml::table cfg;
    cfg.insert("threshold", 7);
    cfg.insert("ratio", 2); // an integer is a fine float
    r.config = cfg;
    WHEN("it is inspected") {
      plugin_inspection i = inspect_plugin(r);
      THEN("every check passes and the manifest is read from the note") {
        INFO(i.refusal);
        REQUIRE(i.ok());
        std::vector<std::string> names;
        for (const auto& c : i.checks) {
          names.push_back(c.name);
          CHECK(c.ok);
        }
        CHECK(names == std::vector<std::string>{"resolve", "file", "elf", "manifest", "abi",
                                                "symbols", "version", "sha256", "signature",
                                                "detector", "config", "isolation"});
        REQUIRE(i.manifest.has_value());
        CHECK(i.manifest->id == fixture_id);
        CHECK(i.manifest->version.to_string() == "1.4.2");
        CHECK(i.manifest->abi_major == 1);
        CHECK(i.manifest->abi_minor == 0);
        CHECK(i.manifest->detectors.size() == 7);
      }
    }
    WHEN("it is loaded") {
      auto p = load_plugin(r);
      THEN("the code agrees with its note and every declared detector has a vtable") {
        CHECK(p->table().abi_major == PG_ABI_MAJOR);
        CHECK(p->vtable("echo") != nullptr);
        CHECK(p->vtable("flaky") != nullptr);
        CHECK(p->vtable("nope") == nullptr);
      }
    }
  }
}

SCENARIO("plugins are found by id in the plugin directory", "[sdk][loader]") {
  GIVEN("two versions of the same id in the fixture directory") {
    WHEN("no version is required") {
      plugin_inspection i = inspect_plugin(request_for(fixture_id));
      THEN("the highest version wins") {
        REQUIRE(i.ok());
        CHECK(i.path == fixture("fixture_v2.so"));
        CHECK(i.manifest->version.to_string() == "2.1.0");
      }
    }
    WHEN("the requirement excludes 2.x") {
      plugin_request r = request_for(fixture_id);
      r.version = "<2";
      plugin_inspection i = inspect_plugin(r);
      THEN("the highest matching version wins") {
        REQUIRE(i.ok());
        CHECK(i.path == fixture("fixture.so"));
      }
    }
    WHEN("no installed version matches") {
      plugin_request r = request_for(fixture_id);
      r.version = ">=3";
      THEN("the refusal lists the versions found") {
        CHECK(refusal_of(r) ==
              "plugin \"" + fixture_id +
                  "\" (" PG_SDK_FIXTURE_DIR ") refused: no installed "
                  "version satisfies the requirement: expected version >=3, found version 1.4.2, "
                  "2.1.0; fix: install a version of " +
                  fixture_id +
                  " that satisfies \">=3\", or "
                  "change `version`");
      }
    }
    WHEN("the id is unknown") {
      THEN("the refusal lists the ids that are there") {
        CHECK(refusal_of(request_for("org.example.missing")) ==
              "plugin \"org.example.missing\" (" PG_SDK_FIXTURE_DIR ") refused: no plugin with "
              "this id in the plugin directory: expected a .so whose manifest id is "
              "\"org.example.missing\", found ids org.phantomguard.test.abi0, "
              "org.phantomguard.test.abi2, org.phantomguard.test.fixture, "
              "org.phantomguard.test.minor1, org.phantomguard.test.noentry, "
              "org.phantomguard.test.plain-c; fix: install the plugin into " PG_SDK_FIXTURE_DIR
              ", correct the id, or give `plugin` as a path");
      }
    }
  }
}

SCENARIO("ABI mismatches are refused with both versions", "[sdk][loader][abi]") {
  WHEN("the plugin's ABI major is older than the engine's") {
    const std::string path = fixture("fixture_abi0.so");
    THEN("it is refused before dlopen, naming both versions and the fix") {
      CHECK(
          refusal_of(request_for(path)) ==
          "plugin \"org.phantomguard.test.abi0\" (" + path +
              ") refused: incompatible ABI major "
              "version: expected ABI 1.x (this engine speaks ABI 1.0), found ABI 0.0; fix: rebuild "
              "the plugin against PhantomGuard SDK 1.x");
    }
  }
  WHEN("the plugin's ABI major is newer than the engine's") {
    const std::string path = fixture("fixture_abi2.so");
    THEN("it is refused, pointing at an engine upgrade") {
      CHECK(
          refusal_of(request_for(path)) ==
          "plugin \"org.phantomguard.test.abi2\" (" + path +
              ") refused: incompatible ABI major "
              "version: expected ABI 1.x (this engine speaks ABI 1.0), found ABI 2.0; fix: upgrade "
              "the engine to one that speaks ABI 2.x, or use a build of the plugin for ABI 1");
    }
  }
  WHEN("the plugin requires a newer minor than the engine's") {
    const std::string path = fixture("fixture_minor1.so");
    THEN("it is refused") {
      CHECK(
          refusal_of(request_for(path)) ==
          "plugin \"org.phantomguard.test.minor1\" (" + path +
              ") refused: requires a newer ABI "
              "minor version: expected ABI 1.x requiring at most minor 0 (this engine speaks ABI "
              "1.0), found ABI 1.1 required; fix: upgrade the engine to one that speaks ABI 1.1 or "
              "newer, or use a version of the plugin built for ABI 1.0");
    }
  }
  WHEN("load_plugin is asked for it") {
    THEN("it throws component_refused with rule engine.plugin_refused") {
      try {
        load_plugin(request_for(fixture("fixture_abi2.so")));
        FAIL("loaded a plugin of another ABI major");
      } catch (const component_refused& e) {
        CHECK(e.rule() == "engine.plugin_refused");
        CHECK(std::string(e.what()).find("found ABI 2.0") != std::string::npos);
      }
    }
  }
}

SCENARIO("a plugin without the entry point is refused before it runs", "[sdk][loader]") {
  const std::string path = fixture("fixture_noentry.so");
  CHECK(
      refusal_of(request_for(path)) ==
      "plugin \"org.phantomguard.test.noentry\" (" + path +
          ") refused: missing required "
          "symbol: expected exported function pg_plugin_entry, found exports "
          "fixture_something_else; fix: register the detectors with PHANTOMGUARD_PLUGIN(...) (C++) "
          "or export pg_plugin_entry (C, with PG_EXPORT)");
}

SCENARIO("files that are not plugins for this machine are refused", "[sdk][loader][elf]") {
  scratch_dir dir;
  WHEN("the file is not ELF") {
    const std::string path = dir.write("notes.so", "hello, I am text\n");
    THEN("the refusal quotes what the file starts with") {
      CHECK(refusal_of(request_for(path)) == "plugin \"" + path + "\" (" + path +
                                                 ") refused: not an ELF shared object: expected "
                                                 "an ELF .so, found not an ELF file (starts with "
                                                 "\"hell\"); fix: point `plugin` at the "
                                                 ".so built by phantomguard_add_plugin");
    }
  }
#if defined(__x86_64__)
  WHEN("the ELF header says AArch64") {
    const std::string path = dir.copy(fixture("fixture.so"), "arm.so");
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(18);
      const char machine[2] = {static_cast<char>(183), 0}; // EM_AARCH64, little endian
      f.write(machine, 2);
    }
    THEN("the refusal names both architectures") {
      CHECK(refusal_of(request_for(path)) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: built for another "
                "architecture: expected x86-64 (64-bit), found AArch64 (64-bit); fix: rebuild the "
                "plugin for x86-64");
    }
  }
#endif
  WHEN("the file is a file that does not exist") {
    const std::string path = dir / "gone.so";
    CHECK(
        refusal_of(request_for(path)) ==
        "plugin \"" + path + "\" (" + path +
            ") refused: plugin file not found: expected an "
            "existing .so, found nothing at this path; fix: correct the path, or give the plugin's "
            "id and set engine.plugin_dir");
  }
}

SCENARIO("plugins others could have replaced are refused", "[sdk][loader][permissions]") {
  scratch_dir dir;
  WHEN("the file is world-writable") {
    const std::string path = dir.copy(fixture("fixture.so"), "open.so", 0666);
    THEN("the refusal gives the mode and the chmod that fixes it") {
      CHECK(failed_check(request_for(path)) == "file");
      CHECK(refusal_of(request_for(path)) ==
            "plugin \"" + fixture_id + "\" (" + path + ") refused: the file " + path +
                " is writable by group or others: expected mode without group/other write (e.g. "
                "0644), found mode 0666; fix: chmod go-w " +
                path);
    }
  }
  WHEN("the directory is group-writable") {
    const std::string path = dir.copy(fixture("fixture.so"), "ok.so", 0644);
    ::chmod(dir.path().c_str(), 0775);
    THEN("the directory is refused") {
      CHECK(refusal_of(request_for(path)) ==
            "plugin \"" + fixture_id + "\" (" + path + ") refused: the directory " + dir.path() +
                " is writable by group or others: expected mode without group/other write (e.g. "
                "0755), found mode 0775; fix: chmod go-w " +
                dir.path() +
                " (every directory from / down to the plugin must not be writable by others, or "
                "be sticky like /tmp)");
    }
  }
  WHEN("a directory further up is world-writable") {
    const std::string up = dir.path() + "/shared";
    const std::string down = up + "/plugins";
    ::mkdir(up.c_str(), 0755);
    ::mkdir(down.c_str(), 0755);
    ::chmod(up.c_str(), 0777);
    const std::string path = dir.copy(fixture("fixture.so"), "shared/plugins/ok.so", 0644);
    THEN("the ancestor is named in the refusal") {
      CHECK(refusal_of(request_for(path)) ==
            "plugin \"" + fixture_id + "\" (" + path + ") refused: the directory " + up +
                " is writable by group or others: expected mode without group/other write (e.g. "
                "0755), found mode 0777; fix: chmod go-w " +
                up +
                " (every directory from / down to the plugin must not be writable by others, or "
                "be sticky like /tmp)");
    }
    AND_WHEN("it is sticky, like /tmp") {
      ::chmod(up.c_str(), 01777);
      THEN("nobody else can rename what is in it: the plugin passes") {
        CHECK(inspect_plugin(request_for(path)).ok());
      }
    }
  }
  WHEN("a directory further up belongs to another user") {
    // The suite runs as root (make test); chown fails otherwise and the test says so.
    const std::string up = dir.path() + "/theirs";
    ::mkdir(up.c_str(), 0755);
    const std::string path = dir.copy(fixture("fixture.so"), "theirs/ok.so", 0644);
    REQUIRE(::chown(up.c_str(), 65534, 65534) == 0);
    THEN("the ancestor is named in the refusal") {
      const std::string r = refusal_of(request_for(path));
      CHECK(r.find("refused: the directory " + up + " has an untrusted owner") !=
            std::string::npos);
      CHECK(r.find("fix: chown root " + up) != std::string::npos);
    }
  }
  WHEN("the file belongs to another user") {
    // The suite runs as root (make test); chown fails otherwise and the test says so.
    const std::string path = dir.copy(fixture("fixture.so"), "theirs.so", 0644);
    REQUIRE(::chown(path.c_str(), 54321, 54321) == 0);
    THEN("the owner is refused") {
      CHECK(refusal_of(request_for(path)) ==
            "plugin \"" + fixture_id + "\" (" + path + ") refused: the file " + path +
                " has an untrusted owner: expected owner root (uid 0), found owner uid 54321; fix: "
                "chown root " +
                path);
    }
  }
}

SCENARIO("the sha256 pin and the version requirement hold or the plugin is refused",
         "[sdk][loader]") {
  const std::string path = fixture("fixture.so");
  const std::string actual = sha256_of(path);
  WHEN("the pin does not match") {
    plugin_request r = request_for(path);
    r.sha256 = std::string(64, '0');
    THEN("the refusal gives both digests") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: sha256 pin mismatch: expected "
                "sha256 " +
                std::string(64, '0') + ", found sha256 " + actual +
                "; fix: reinstall "
                "the plugin you pinned, or if this build is trusted set `sha256` to " +
                actual);
    }
  }
  WHEN("the pin is given in upper case") {
    plugin_request r = request_for(path);
    for (char c : actual)
      r.sha256 += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    THEN("it matches") {
      CHECK(inspect_plugin(r).ok());
    }
  }
  WHEN("the pin is malformed") {
    plugin_request r = request_for(path);
    r.sha256 = "abc";
    THEN("it is refused as malformed") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: malformed "
                "sha256 pin: expected 64 hex digits, found \"abc\"; fix: set `sha256` "
                "to the output of sha256sum " +
                path);
    }
  }
  WHEN("the version does not satisfy the requirement") {
    plugin_request r = request_for(path);
    r.version = ">=2";
    THEN("it is refused with both") {
      CHECK(refusal_of(r) == "plugin \"" + fixture_id + "\" (" + path +
                                 ") refused: version does "
                                 "not satisfy the requirement: expected version >=2, found version "
                                 "1.4.2; fix: install a version of " +
                                 fixture_id +
                                 " that satisfies "
                                 "\">=2\", or change `version`");
    }
  }
}

SCENARIO("the detector's config is checked against the manifest", "[sdk][loader][config]") {
  const std::string path = fixture("fixture.so");
  WHEN("a key has the wrong type") {
    plugin_request r = request_for(path);
    r.config.insert("threshold", "high");
    THEN("the refusal names the key, the type and the value") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: config key "
                "\"threshold\" has the wrong type: expected an integer, found string "
                "\"high\"; fix: set config.threshold to an integer");
    }
  }
  WHEN("a list holds a number") {
    plugin_request r = request_for(path);
    toml::array names;
    names.push_back("a");
    names.push_back(3);
    r.config.insert("names", names);
    THEN("it is refused") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: config key "
                "\"names\" has the wrong type: expected an array of strings, found "
                "array; fix: set config.names to an array of strings");
    }
  }
  WHEN("a key is unknown") {
    plugin_request r = request_for(path);
    r.config.insert("treshold", 3);
    THEN("the refusal lists the declared keys") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: unknown "
                "config key \"treshold\": expected one of threshold, label, ratio, "
                "enabled, names, found \"treshold\"; fix: remove config.treshold or "
                "correct its spelling");
    }
  }
  WHEN("the detector does not exist") {
    plugin_request r = request_for(path);
    r.detector = "nope";
    THEN("the refusal lists the detectors") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: no such "
                "detector: expected one of echo, throws, rejects, flaky, mute, burner, "
                "hoarder, found \"nope\"; fix: set `detector` to one of echo, "
                "throws, rejects, flaky, mute, burner, hoarder");
    }
  }
  WHEN("process isolation is asked for") {
    plugin_request r = request_for(path);
    r.isolation = "process";
    THEN("it is refused as not yet supported") {
      CHECK(refusal_of(r) ==
            "plugin \"" + fixture_id + "\" (" + path +
                ") refused: isolation "
                "\"process\" is not supported yet: expected isolation \"in_process\", "
                "found isolation \"process\"; fix: set isolation = \"in_process\" "
                "(the sandboxed child host is not available in this engine)");
    }
  }
}

SCENARIO("the manifest is read from the note without loading the plugin", "[sdk][loader]") {
  std::string err;
  auto m = read_plugin_manifest(fixture("fixture_abi2.so"), &err);
  REQUIRE(m.has_value());
  CHECK(m->id == "org.phantomguard.test.abi2");
  CHECK(m->abi_major == 2);
  auto plain = read_plugin_manifest(fixture("plain_c.so"), &err);
  REQUIRE(plain.has_value());
  CHECK(plain->id == "org.phantomguard.test.plain-c");
  CHECK(plain->version.to_string() == "0.3.1");
  scratch_dir dir;
  CHECK_FALSE(read_plugin_manifest(dir.write("x.so", "text"), &err).has_value());
  CHECK(err == "not an ELF file (starts with \"text\")");
}

SCENARIO("a hostile section-name table is refused, not read past the file", "[sdk][loader][elf]") {
  // Found by fuzz_manifest: e_shstrndx naming a section whose offset lies far outside the file
  // made the name lookup's bounds check wrap around, and the reader walked off the buffer.
  scratch_dir dir;
  const std::string path = dir.copy(fixture("fixture.so"), "hostile.so");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE(bytes.size() > 64);
  std::uint64_t shoff = 0;
  std::uint16_t shentsize = 0, shstrndx = 0;
  std::memcpy(&shoff, bytes.data() + 0x28, 8);
  std::memcpy(&shentsize, bytes.data() + 0x3a, 2);
  std::memcpy(&shstrndx, bytes.data() + 0x3e, 2);
  REQUIRE(shoff + (shstrndx + 1ull) * shentsize <= bytes.size());
  const std::uint64_t huge = ~0ull - 0x1000; // offset + name index wraps around
  std::memcpy(bytes.data() + shoff + shstrndx * shentsize + 0x18, &huge, 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  std::string err;
  auto m = read_plugin_manifest(path, &err);
  CHECK_FALSE(m.has_value()); // the note cannot be found by name any more
  CHECK_FALSE(err.empty());
  CHECK_FALSE(inspect_plugin(request_for(path)).ok());
}

SCENARIO("a section table that wraps around the file, or a string table without bytes, is not "
         "read",
         "[sdk][loader][elf]") {
  // Found by fuzz_manifest in CI: e_shoff near 2^64 passed `shoff + n * size <= file size` by
  // wrapping around, and a dynamic symbol table linked to a NOBITS "string table" with a huge
  // offset was read from outside the file.
  scratch_dir dir;
  auto patched = [&](const std::string& name, auto&& patch) {
    const std::string path = dir.copy(fixture("fixture.so"), name);
    std::string bytes;
    {
      std::ifstream in(path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    patch(bytes);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  };
  const auto wrapped = patched("wrapped.so", [](std::string& b) {
    const std::uint64_t shoff = ~0ull - 0x100;
    std::memcpy(b.data() + 0x28, &shoff, 8);
  });
  std::string err;
  CHECK_FALSE(read_plugin_manifest(wrapped, &err).has_value());
  CHECK_FALSE(inspect_plugin(request_for(wrapped)).ok());
  const auto nobits = patched("nobits.so", [](std::string& b) {
    std::uint64_t shoff = 0;
    std::uint16_t shentsize = 0, shnum = 0;
    std::memcpy(&shoff, b.data() + 0x28, 8);
    std::memcpy(&shentsize, b.data() + 0x3a, 2);
    std::memcpy(&shnum, b.data() + 0x3c, 2);
    for (std::uint16_t i = 0; i < shnum; ++i) {
      char* sh = b.data() + shoff + std::uint64_t{i} * shentsize;
      std::uint32_t type = 0;
      std::memcpy(&type, sh + 4, 4);
      if (type != 3 /* SHT_STRTAB */)
        continue;
      const std::uint32_t nobits = 8;
      const std::uint64_t far = ~0ull - 0x10000, big = 0x100000;
      std::memcpy(sh + 4, &nobits, 4);
      std::memcpy(sh + 0x18, &far, 8);
      std::memcpy(sh + 0x20, &big, 8);
    }
  });
  (void)read_plugin_manifest(nobits, &err); // no crash, no read outside the file
  CHECK_FALSE(inspect_plugin(request_for(nobits)).ok());
}
