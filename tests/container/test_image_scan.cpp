// SPDX-License-Identifier: Apache-2.0
// Image / root file system rules on small hand-made roots: one rule per scenario, each with a
// negative control next to it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "container_fixture.hpp"
#include "phantomguard/actors/container/container_command.hpp"
#include "phantomguard/actors/container/image_scan.hpp"
#include "phantomguard/actors/container/image_source.hpp"
#include "phantomguard/actors/container/register.hpp"
#include "test_context.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::container;
using pg::runtime::severity;
using pg::test::at_path;
using pg::test::with_rule;

namespace {

std::vector<pg::runtime::finding> scan(const pg::test::temp_dir& root,
                                       image_scan_options options = {}) {
  std::string error;
  auto img = open_image(root.str(), {}, "", &error);
  REQUIRE(img);
  pg::actors::vuln::collecting_sink sink;
  auto r = scan_image(*img, options, sink);
  CHECK(r.completed);
  return sink.findings;
}

std::string pem_key() {
  std::string body;
  for (int line = 0; line < 5; ++line)
    body += "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV9ffOt\n";
  return "-----BEGIN RSA PRIVATE KEY-----\n" + body + "-----END RSA PRIVATE KEY-----\n";
}

int run_command(std::vector<std::string> args, std::string& out) {
  args.insert(args.begin(), "phantomguard container");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  int rc = run_container_command(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old);
  out = captured.str();
  return rc;
}

} // namespace

SCENARIO("setuid programs are reported, unexpected ones high, Debian's usual ones low") {
  pg::test::temp_dir root("pg-img");
  auto evil = root.write("usr/local/bin/evil-suid", "#!/bin/sh\n");
  auto passwd = root.write("usr/bin/passwd", "binary");
  auto plain = root.write("usr/bin/plain", "binary");
  ::chmod(evil.c_str(), 04755);
  ::chmod(passwd.c_str(), 04755);
  ::chmod(plain.c_str(), 0755);
  auto sgid = root.write("usr/bin/crontab-like", "x");
  ::chmod(sgid.c_str(), 02755);
  auto fs = scan(root);
  auto f = at_path(fs, "container.setuid", "/usr/local/bin/evil-suid");
  REQUIRE(f);
  CHECK(f->level == severity::high);
  CHECK(f->evidence["mode"] == "4755");
  CHECK(f->evidence["expected"] == false);
  CHECK(f->mitre == std::vector<std::string>{"T1548.001"});
  auto p = at_path(fs, "container.setuid", "/usr/bin/passwd");
  REQUIRE(p);
  CHECK(p->level == severity::low);
  auto g = at_path(fs, "container.setuid", "/usr/bin/crontab-like");
  REQUIRE(g);
  CHECK(g->evidence["bits"] == "setgid");
  CHECK_FALSE(at_path(fs, "container.setuid", "/usr/bin/plain"));
  CHECK(with_rule(fs, "container.setuid").size() == 3);
}

SCENARIO("world-writable files and folders without the sticky bit are reported") {
  pg::test::temp_dir root("pg-img");
  auto file = root.write("etc/app/config.ini", "x=1\n");
  ::chmod(file.c_str(), 0666);
  std::filesystem::create_directories(root.path() / "srv/upload");
  ::chmod((root.path() / "srv/upload").c_str(), 0777);
  std::filesystem::create_directories(root.path() / "tmp");
  ::chmod((root.path() / "tmp").c_str(), 01777);
  auto ok = root.write("etc/app/ok.ini", "x=1\n");
  ::chmod(ok.c_str(), 0644);
  std::filesystem::create_symlink("/etc/app/config.ini", root.path() / "etc/link");
  auto fs = scan(root);
  auto f = at_path(fs, "container.world_writable", "/etc/app/config.ini");
  REQUIRE(f);
  CHECK(f->evidence["mode"] == "0666");
  CHECK(f->evidence["type"] == "file");
  auto d = at_path(fs, "container.world_writable", "/srv/upload");
  REQUIRE(d);
  CHECK(d->evidence["type"] == "directory");
  CHECK_FALSE(at_path(fs, "container.world_writable", "/tmp"));      // sticky
  CHECK_FALSE(at_path(fs, "container.world_writable", "/etc/link")); // symlink
  CHECK(with_rule(fs, "container.world_writable").size() == 2);
}

SCENARIO("private keys and cloud credentials in files are secrets - look-alikes are not") {
  pg::test::temp_dir root("pg-img");
  root.write("root/.ssh/id_rsa", pem_key());
  root.write("root/.aws/credentials", "[default]\naws_access_key_id = AKIAZ2QW3ER4TY5UI6OP\n"
                                      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz"
                                      "zzzzzzzz\n");
  root.write("app/sa.json", "{\"type\": \"service_account\", \"project_id\": \"p\",\n"
                            "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIE...\\n\"}\n");
  root.write("app/docs.txt",
             "Keys look like -----BEGIN PRIVATE KEY----- and AKIAIOSFODNN7EXAMPLE\n");
  std::string big(3u << 20, 'x');
  root.write("app/big.bin", big + pem_key()); // the key lies beyond the search limit
  auto fs = scan(root);
  auto key = at_path(fs, "container.secret", "/root/.ssh/id_rsa");
  REQUIRE(key);
  CHECK(key->evidence["pattern"] == "private_key");
  CHECK(key->level == severity::high);
  CHECK(key->mitre == std::vector<std::string>{"T1552.004"});
  std::set<std::string> aws;
  for (const auto* f : with_rule(fs, "container.secret"))
    if (f->entity["path"] == "/root/.aws/credentials")
      aws.insert(f->evidence["pattern"].get<std::string>());
  CHECK(aws == std::set<std::string>{"aws_access_key_id", "aws_secret_access_key"});
  auto sa = at_path(fs, "container.secret", "/app/sa.json");
  REQUIRE(sa);
  CHECK(sa->evidence["pattern"] == "gcp_service_account_key");
  CHECK_FALSE(at_path(fs, "container.secret", "/app/docs.txt"));
  CHECK_FALSE(at_path(fs, "container.secret", "/app/big.bin"));
  for (const auto* f : with_rule(fs, "container.secret"))
    CHECK(f->evidence["match"].get<std::string>().find("K7MDENG") == std::string::npos);

  WHEN("the search limit covers the big file") {
    image_scan_options o;
    o.max_secret_scan_bytes = 4u << 20;
    o.throttle.max_memory = 8u << 20;
    auto all = scan(root, o);
    CHECK(at_path(all, "container.secret", "/app/big.bin"));
  }
}

SCENARIO("a root file system with only root in etc/passwd runs as root") {
  pg::test::temp_dir root("pg-img");
  root.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                           "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
  auto fs = scan(root);
  auto f = with_rule(fs, "container.root_user");
  REQUIRE(f.size() == 1);
  CHECK(f[0]->level == severity::low);
  CHECK(f[0]->evidence["passwd"] == true);

  pg::test::temp_dir with_user("pg-img");
  with_user.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                "app:x:1000:1000:app:/home/app:/bin/sh\n");
  CHECK(with_rule(scan(with_user), "container.root_user").empty());
}

SCENARIO("the packages of a root go through the vulnerability scanner") {
  pg::test::temp_dir root("pg-img");
  root.write("var/lib/dpkg/status", "Package: libssl3\nStatus: install ok installed\n"
                                    "Architecture: amd64\nSource: openssl\n"
                                    "Version: 3.0.11-1~deb12u1\n");
  root.write("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
  std::filesystem::create_directories(root.path() / "etc");
  // An absolute symlink, as Debian ships it: it must resolve inside the image, not on the host.
  std::filesystem::create_symlink("/usr/lib/os-release", root.path() / "etc/os-release");
  image_scan_options o;
  o.advisories = pg::test::fixtures_dir() + "/osv";
  auto fs = scan(root, o);
  auto v = with_rule(fs, "vuln.package");
  REQUIRE(v.size() == 1);
  CHECK(v[0]->entity["package"] == "libssl3");
  CHECK(v[0]->entity["image"] == root.str());
  CHECK(v[0]->evidence["advisory"] == "DSA-9001-1");
  auto inv = with_rule(fs, "container.packages");
  REQUIRE(inv.size() == 1);
  CHECK(inv[0]->evidence["packages"] == 1);
  CHECK(inv[0]->evidence["release"] == "12");
}

SCENARIO("phantomguard container scan prints findings and exits as scan does") {
  pg::test::temp_dir root("pg-img");
  auto evil = root.write("usr/local/bin/evil-suid", "x");
  ::chmod(evil.c_str(), 04755);
  std::string out;
  CHECK(run_command({"scan", root.str(), "--format", "jsonl"}, out) == 1);
  std::istringstream in(out);
  std::size_t setuid = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    CHECK(j["analyzer"] == "container");
    setuid += j["rule"] == "container.setuid";
  }
  CHECK(setuid == 1);
  CHECK(run_command({"scan", root.str(), "--fail-on", "critical", "--format", "json"}, out) == 0);
  CHECK(nlohmann::json::parse(out).is_array());
  CHECK(run_command({"scan", (root.path() / "missing").string()}, out) == 2);
  CHECK(run_command({"scan"}, out) == 2);
  CHECK(run_command({"nonsense"}, out) == 2);
}

SCENARIO("the family registers the container analyzer type and the container command") {
  pg::runtime::registry reg;
  pg::actors::container::register_components(reg);
  const auto* type = reg.find(pg::runtime::component_kind::analyzer, "container");
  REQUIRE(type != nullptr);
  std::set<std::string> keys;
  for (const auto& o : type->options)
    keys.insert(o.key);
  for (auto k : {"live", "images", "advisories", "max_secret_scan_size", "max_extract_size",
                 "work_dir", "report", "workers", "segment_size", "max_memory"})
    CHECK(keys.count(k) == 1);
  CHECK(type->throttle_defaults.nice == 10); // nice and io_class: the engine's keys
  CHECK(type->throttle_defaults.io_class == "idle");
  REQUIRE(reg.find_command("container") != nullptr);

  GIVEN("an analyzer with one image, a state folder and report = \"new\"") {
    pg::test::temp_dir root("pg-img");
    auto evil = root.write("usr/local/bin/evil-suid", "x");
    ::chmod(evil.c_str(), 04755);
    pg::test::temp_dir state("pg-img-state");
    pg::runtime::component_init init;
    init.name = "container";
    init.state_dir = state.str();
    toml::table t;
    t.insert("live", false);
    toml::array images;
    images.push_back(root.str());
    images.push_back((root.path() / "does-not-exist").string());
    t.insert("images", images);
    t.insert("report", "new");
    init.settings = pg::runtime::component_settings(t);
    pg::test::test_context first("container");
    {
      auto c = type->factory(init);
      c->start(first);
      c->on_tick(first);
    }
    pg::test::test_context second("container");
    auto c = type->factory(init);
    c->start(second);
    c->on_tick(second);
    THEN("the first tick reports the setuid file and the broken image, the second nothing new") {
      CHECK(first.with_rule("container.setuid").size() == 1);
      auto err = first.with_rule("container.image_error");
      REQUIRE(err.size() == 1);
      CHECK(err[0]->level == severity::medium);
      CHECK(first.counters["images_scanned"] == 1);
      CHECK(first.counters["scans_completed"] == 1);
      CHECK(second.with_rule("container.setuid").empty());
      CHECK(second.counters["scans_completed"] == 1);
      CHECK(std::filesystem::exists(state.path() / "container" / "container.db"));
    }
  }
}
