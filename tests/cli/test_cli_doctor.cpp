// SPDX-License-Identifier: Apache-2.0
// `phantomguard doctor` through the real binary: on this host as root (every facility the test
// machine has is found), as an unprivileged user (the lost capabilities named, exit 1), with a
// state folder on a read-only mount (a failure, exit 2), with advisory data missing, stale and
// current, and with a config that does not load.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
namespace fs = std::filesystem;

namespace {

/// A config with a vuln analyzer reading `advisories` and a jsonl sink, state in `d`.
std::string vuln_config(const daemon_dir& d, const std::string& advisories,
                        const std::string& state_dir = "") {
  const auto path = d.dir / "doctor.toml";
  std::ofstream(path) << "[engine]\nstate_dir = \"" << (state_dir.empty() ? d.state() : state_dir)
                      << "\"\n"
                      << "[analyzers.vuln]\ntype = \"vuln\"\nadvisories = \"" << advisories
                      << "\"\nmax_age = \"7d\"\n[sinks.archive]\ntype = \"jsonl\"\n"
                         "inputs = [\"vuln\"]\npath = \""
                      << d.archive() << "\"\n";
  return path.string();
}

nlohmann::json doctor_json(const std::vector<std::string>& args, int* code) {
  auto r = run_cli(args);
  INFO(r.err);
  *code = r.code;
  return nlohmann::json::parse(r.out);
}

const nlohmann::json* check_named(const nlohmann::json& doc, const std::string& name) {
  for (const auto& c : doc["checks"])
    if (c["check"] == name)
      return &c;
  return nullptr;
}

} // namespace

SCENARIO("doctor on this host as root names every facility and what it found") {
  if (::geteuid() != 0)
    PG_SKIP("doctor's root view needs root");
  daemon_dir d;
  int code = -1;
  // The embedded default config: what `make run` and an installed daemon use.
  const auto doc = doctor_json({"doctor", "--json"}, &code);
  INFO(doc.dump(2));
  CHECK((code == 0 || code == 1)); // a warning (advisories not downloaded yet) is not a failure
  CHECK(doc["config"] == "<default>");
  for (const char* name :
       {"capabilities", "state_dir", "wall clock", "cgroups", "BPF sensor (kernel_events)",
        "netlink process connector (process_events)", "inotify (fim, file_watch)",
        "Landlock (plugin sandbox)", "seccomp filters (plugin sandbox)", "advisories of vuln"})
    CHECK(check_named(doc, name) != nullptr);
  // The test machine has all of these (DESIGN.md, machine facts).
  for (const char* name : {"capabilities", "netlink process connector (process_events)",
                           "Landlock (plugin sandbox)", "seccomp filters (plugin sandbox)"}) {
    INFO(name);
    REQUIRE(check_named(doc, name));
    CHECK((*check_named(doc, name))["level"] == "ok");
  }
  const auto* sensor = check_named(doc, "BPF sensor (kernel_events)");
  REQUIRE(sensor);
  CHECK(((*sensor)["level"] == "ok" || (*sensor)["level"] == "note")); // kinds this kernel lacks
  CHECK((*sensor)["detail"].get<std::string>().find("loads and attaches") != std::string::npos);
  // Nothing left behind by the write probes.
  for (const auto& e : fs::directory_iterator(fs::exists("/var/lib/phantomguard")
                                                  ? "/var/lib/phantomguard"
                                                  : "/var/lib"))
    CHECK(e.path().filename().string().rfind(".phantomguard-doctor-", 0) != 0);
  AND_THEN("the text form says the same, with a summary line") {
    auto r = run_cli({"doctor"});
    CHECK(r.code == code);
    CHECK(r.out.find("phantomguard doctor: <default> (the config loads)") != std::string::npos);
    CHECK(r.out.find("Landlock (plugin sandbox)") != std::string::npos);
    CHECK(r.out.find(" failure(s)\n") != std::string::npos);
  }
}

SCENARIO("doctor as an unprivileged user names the capabilities lost and what they cost") {
  if (::geteuid() != 0)
    PG_SKIP("the test drops from root to nobody with setpriv");
  if (!fs::exists("/usr/bin/setpriv"))
    PG_SKIP("setpriv (util-linux) is not installed");
  daemon_dir d;
  fs::permissions(d.dir, fs::perms::all); // nobody writes the state and archive here
  const auto config = vuln_config(d, (d.dir / "osv.zip").string());
  ::chmod(config.c_str(), 0644);
  // A copy nobody can run wherever the build tree is (a checkout under /root is not reachable).
  const auto binary = (d.dir / "phantomguard").string();
  fs::copy_file(phantomguard_binary, binary);
  ::chmod(binary.c_str(), 0755);
  cli_process p({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "--inh-caps=-all", binary, "doctor", "--json", "--config", config},
                cli_process::raw_command);
  const int code = p.wait();
  INFO(p.out() << p.err());
  CHECK(code == 1);
  const auto doc = nlohmann::json::parse(p.out());
  const auto* caps = check_named(doc, "capabilities");
  REQUIRE(caps);
  CHECK((*caps)["level"] == "warn");
  const auto detail = (*caps)["detail"].get<std::string>();
  CHECK(detail.find("uid 65534") != std::string::npos);
  CHECK(detail.find("CAP_SYS_PTRACE") != std::string::npos);
  CHECK(detail.find("CAP_NET_ADMIN") != std::string::npos);
  CHECK(detail.find("CAP_BPF+CAP_PERFMON") != std::string::npos);
  // This config declares no kernel_events: the sensor it cannot load is told, not a warning.
  const auto* sensor = check_named(doc, "BPF sensor (kernel_events)");
  REQUIRE(sensor);
  CHECK((*sensor)["level"] == "note");
  const auto* state = check_named(doc, "state_dir");
  REQUIRE(state);
  CHECK((*state)["level"] == "ok");
}

SCENARIO("doctor fails a state folder on a read-only mount, and exits 2") {
  if (::geteuid() != 0 || !fs::exists("/usr/bin/unshare"))
    PG_SKIP("a read-only mount in a private mount namespace needs root and unshare");
  daemon_dir d;
  const fs::path ro = d.dir / "ro";
  fs::create_directories(ro);
  // state_dir below the read-only mount, as on an appliance whose root is read-only.
  const auto config = vuln_config(d, (d.dir / "osv.zip").string(), (ro / "state").string());
  const std::string script = "mount -t tmpfs -o ro none '" + ro.string() + "' && exec '" +
                             phantomguard_binary + "' doctor --json --config '" + config + "'";
  cli_process p({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                 script},
                cli_process::raw_command);
  const int code = p.wait();
  INFO(p.out() << p.err());
  CHECK(code == 2);
  const auto doc = nlohmann::json::parse(p.out());
  CHECK(doc["worst"] == "fail");
  const auto* state = check_named(doc, "state_dir");
  REQUIRE(state);
  CHECK((*state)["level"] == "fail");
  CHECK((*state)["detail"].get<std::string>().find("Read-only file system") != std::string::npos);
  CHECK((*state)["advice"].get<std::string>().find("read-only file system") != std::string::npos);
}

SCENARIO("doctor reports advisory data missing, stale and current") {
  daemon_dir d;
  const auto advisories = (d.dir / "osv.zip").string();
  const auto config = vuln_config(d, advisories);
  int code = -1;
  GIVEN("no advisory file yet") {
    const auto doc = doctor_json({"doctor", "--json", "--config", config}, &code);
    const auto* c = check_named(doc, "advisories of vuln");
    REQUIRE(c);
    CHECK((*c)["level"] == "warn");
    CHECK((*c)["detail"].get<std::string>().find(advisories + " is missing") != std::string::npos);
    CHECK((*c)["advice"] == "phantomguard vuln update --output " + advisories);
    CHECK(code >= 1);
  }
  GIVEN("a file last changed 30 days ago (no update record)") {
    std::ofstream(advisories) << "PK";
    const std::time_t old = std::time(nullptr) - 30 * 86400;
    struct utimbuf times {old, old};
    REQUIRE(::utime(advisories.c_str(), &times) == 0);
    const auto doc = doctor_json({"doctor", "--json", "--config", config}, &code);
    const auto* c = check_named(doc, "advisories of vuln");
    REQUIRE(c);
    INFO((*c).dump());
    CHECK((*c)["level"] == "warn");
    CHECK((*c)["detail"].get<std::string>().find("older than max_age (168 h)") != std::string::npos);
    CHECK((*c)["detail"].get<std::string>().find("file mtime") != std::string::npos);
  }
  GIVEN("a file changed just now") {
    std::ofstream(advisories) << "PK";
    const auto doc = doctor_json({"doctor", "--json", "--config", config}, &code);
    const auto* c = check_named(doc, "advisories of vuln");
    REQUIRE(c);
    CHECK((*c)["level"] == "ok");
    CHECK((*c)["detail"].get<std::string>().find("confirmed current 0 h ago") != std::string::npos);
  }
}

SCENARIO("doctor with a config that does not load says so and exits 2") {
  daemon_dir d;
  const auto path = d.dir / "bad.toml";
  std::ofstream(path) << "[engine]\nstate_dir = 5\n";
  auto r = run_cli({"doctor", "--config", path.string()});
  CHECK(r.code == 2);
  CHECK(r.err.find("the config does not load") != std::string::npos);
  CHECK(r.err.find("bad.toml:2:") != std::string::npos);
}
