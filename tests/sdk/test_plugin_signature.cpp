// SPDX-License-Identifier: Apache-2.0
// Signed plugins: keys made with `plugins keygen`, signatures with `plugins sign` (or the SDK's
// openssl script, byte for byte the same), checked against engine.plugin_trust_dir under each
// engine.plugin_signature policy. Every refusal names the plugin, the key id and the fix, and
// comes before any plugin code runs.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include "phantomguard/runtime/plugin_loader.hpp"
#include "plugins_cli.hpp"
#include "scratch_dir.hpp"

using namespace pg::runtime;
using pg::test::fixture;
using pg::test::has_line;
using pg::test::run_plugins;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// A scratch folder with a key pair, a trust dir holding its public key, and a copy of the fixture.
struct signing_setup {
  pg::test::scratch_dir dir;
  std::string key = dir / "dev.key";
  std::string trust = dir / "trust";
  std::string plugin;
  std::string key_id;

  signing_setup() {
    ::chmod(dir.path().c_str(), 0755);
    auto r = run_plugins({"keygen", "--out", dir / "dev"});
    REQUIRE(r.code == 0);
    REQUIRE(r.out.rfind("key id ", 0) == 0);
    key_id = r.out.substr(7, 16);
    fs::create_directory(trust);
    ::chmod(trust.c_str(), 0755);
    fs::copy_file(dir / "dev.pub", trust + "/dev.pub");
    plugin = dir.copy(fixture("fixture.so"), "fixture.so", 0644);
  }

  plugin_inspection inspect(signature_policy policy) const {
    plugin_request r;
    r.plugin = plugin;
    r.signature = policy;
    r.trust_dir = trust;
    return inspect_plugin(r);
  }
};

const std::string who = "plugin \"org.phantomguard.test.fixture\" (";

} // namespace

SCENARIO("plugins keygen writes a key pair and never overwrites it", "[sdk][signature]") {
  pg::test::scratch_dir dir;
  auto r = run_plugins({"keygen", "--out", dir / "k"});
  CHECK(r.code == 0);
  struct stat st {};
  REQUIRE(::stat((dir / "k.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_text(dir / "k.key").rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
  CHECK(read_text(dir / "k.pub").rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
  auto again = run_plugins({"keygen", "--out", dir / "k"});
  CHECK(again.code == 1);
  CHECK(again.err.find("a key is never overwritten") != std::string::npos);
}

SCENARIO("a plugin signed by a trusted key passes and names its signer", "[sdk][signature]") {
  signing_setup s;
  auto signed_ = run_plugins({"sign", "--key", s.key, s.plugin});
  REQUIRE(signed_.code == 0);
  CHECK(has_line(signed_.out,
                 "signed " + s.plugin + " with key " + s.key_id + " -> " + s.plugin + ".sig"));
  for (auto policy : {signature_policy::required, signature_policy::if_present}) {
    const auto i = s.inspect(policy);
    INFO(i.refusal);
    CHECK(i.ok());
    CHECK(i.signer == s.key_id);
  }
  auto v = run_plugins({"verify", s.plugin, "--trust-dir", s.trust});
  CHECK(v.code == 0);
  CHECK(has_line(v.out,
                 s.plugin + ": valid, signed by key " + s.key_id + " (" + s.trust + "/dev.pub)"));
  auto c = run_plugins({"check", s.plugin, "--trust-dir", s.trust, "--signature", "required"});
  CHECK(c.code == 0);
  CHECK(has_line(c.out, "plugin org.phantomguard.test.fixture 1.4.2 passes every load-time check "
                        "(signed by key " +
                            s.key_id + ")"));
  auto info = run_plugins({"info", s.plugin, "--trust-dir", s.trust});
  CHECK(has_line(info.out,
                 "signature:   valid, signed by key " + s.key_id + " (" + s.trust + "/dev.pub)"));
  // And it loads: the bytes verified are the bytes mapped.
  plugin_request r;
  r.plugin = s.plugin;
  r.signature = signature_policy::required;
  r.trust_dir = s.trust;
  CHECK(load_plugin(r)->manifest().id == "org.phantomguard.test.fixture");
}

SCENARIO("what the signature check refuses, and what it lets through", "[sdk][signature]") {
  signing_setup s;
  WHEN("the plugin is unsigned") {
    THEN("required refuses it with the fix, if_present and off let it through") {
      const auto i = s.inspect(signature_policy::required);
      CHECK(i.refusal == who + s.plugin +
                             ") refused: unsigned plugin (engine.plugin_signature = \"required\"): "
                             "expected a signature " +
                             s.plugin + ".sig by a key in " + s.trust +
                             ", found no signature file; fix: sign it (phantomguard plugins sign "
                             "--key KEY " +
                             s.plugin + ") and put the public key in " + s.trust);
      CHECK(i.checks.back().name == "signature");
      CHECK(s.inspect(signature_policy::if_present).ok());
      CHECK(s.inspect(signature_policy::if_present).signer.empty());
      CHECK(s.inspect(signature_policy::off).ok());
    }
  }
  WHEN("the file is changed after it was signed") {
    REQUIRE(run_plugins({"sign", "--key", s.key, s.plugin}).code == 0);
    std::ofstream(s.plugin, std::ios::binary | std::ios::app) << '\0';
    THEN("the signature no longer matches, under if_present too") {
      const auto i = s.inspect(signature_policy::if_present);
      CHECK(i.refusal.find(who + s.plugin + ") refused: the signature by key " + s.key_id +
                           " does not match the file") == 0);
      CHECK(i.refusal.find("fix: reinstall the signed build") != std::string::npos);
      auto v = run_plugins({"verify", s.plugin, "--trust-dir", s.trust});
      CHECK(v.code == 1);
      CHECK(v.out.find("INVALID: key " + s.key_id) != std::string::npos);
    }
    AND_THEN("off does not look") {
      CHECK(s.inspect(signature_policy::off).ok());
    }
  }
  WHEN("the signer is not trusted") {
    auto other = run_plugins({"keygen", "--out", s.dir / "other"});
    REQUIRE(other.code == 0);
    const std::string other_id = other.out.substr(7, 16);
    REQUIRE(run_plugins({"sign", "--key", s.dir / "other.key", s.plugin}).code == 0);
    THEN("the refusal names the key and how to trust it") {
      const auto i = s.inspect(signature_policy::required);
      CHECK(i.refusal == who + s.plugin + ") refused: signed by an untrusted key " + other_id +
                             ": expected a signature by a key in " + s.trust + ", found key " +
                             other_id + ", trusted are " + s.key_id + "; fix: if you trust key " +
                             other_id + ", copy its public key into " + s.trust +
                             "; otherwise remove the plugin");
    }
  }
  WHEN("the .sig is not a signature") {
    s.dir.write("fixture.so.sig", "hello\n");
    THEN("it is refused as unreadable") {
      const auto i = s.inspect(signature_policy::if_present);
      CHECK(i.refusal.find("refused: unreadable signature " + s.plugin + ".sig") !=
            std::string::npos);
      CHECK(i.refusal.find("not a PhantomGuard signature") != std::string::npos);
    }
  }
  WHEN("the trust directory is writable by others") {
    REQUIRE(run_plugins({"sign", "--key", s.key, s.plugin}).code == 0);
    ::chmod(s.trust.c_str(), 0777);
    THEN("no key in it is trusted") {
      const auto i = s.inspect(signature_policy::required);
      CHECK(i.refusal.find("refused: the trust directory cannot be used") != std::string::npos);
      CHECK(i.refusal.find("the directory " + s.trust + " is writable by group or others") !=
            std::string::npos);
    }
  }
  WHEN("the trust directory holds something that is not a key") {
    REQUIRE(run_plugins({"sign", "--key", s.key, s.plugin}).code == 0);
    s.dir.write("trust/junk.pub", "not a key\n");
    THEN("it is an error, not skipped") {
      const auto i = s.inspect(signature_policy::required);
      CHECK(i.refusal.find("junk.pub is not a PEM public key") != std::string::npos);
    }
  }
  WHEN("sign is used wrongly") {
    CHECK(run_plugins({"sign", s.plugin}).code == 2);
    auto bad = run_plugins({"sign", "--key", s.dir / "missing.key", s.plugin});
    CHECK(bad.code == 1);
    CHECK(bad.err.find("cannot read " + s.dir / "missing.key") != std::string::npos);
    CHECK(run_plugins({"check", s.plugin, "--signature", "maybe"}).code == 2);
  }
}

SCENARIO("the SDK signs without the engine, exactly as the engine does", "[sdk][signature]") {
  signing_setup s;
  GIVEN("the openssl script shipped with the SDK") {
    REQUIRE(run_plugins({"sign", "--key", s.key, s.plugin}).code == 0);
    const std::string by_engine = read_text(s.plugin + ".sig");
    const std::string cmd =
        "sh '" PG_SDK_SIGN_SCRIPT "' '" + s.key + "' '" + s.plugin + "' > /dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    THEN("its signature file is byte for byte the engine's") {
      CHECK(read_text(s.plugin + ".sig") == by_engine);
    }
  }
  GIVEN("a plugin built by phantomguard_add_plugin(... SIGN_KEY)") {
    plugin_request r;
    r.plugin = fixture("signed/signed.so");
    r.signature = signature_policy::required;
    r.trust_dir = PG_SDK_TRUST_DIR;
    const auto i = inspect_plugin(r);
    THEN("it is signed by the build's key") {
      INFO(i.refusal);
      CHECK(i.ok());
      CHECK(i.signer.size() == 16);
    }
  }
}
