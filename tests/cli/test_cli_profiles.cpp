// SPDX-License-Identifier: Apache-2.0
// Profiles through the real binary: each built-in profile validates and scans; `auto` picks by
// the documented rule on a stated host (--host-resources) and under a real memory cgroup; a file
// stands on a profile and wins key by key, `validate --explain` naming FILE:LINE:COL for both;
// "auto" values resolve; the start log, `status` and `doctor` say what was chosen and why; and
// every bad profile, host statement and auto value is an error at its place.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string profiles_dir = PG_SOURCE_DIR "/config/profiles/";

/// "LINE:COL" of the first line of profile `name` that holds `text` (at its first character).
std::string where_in_profile(const std::string& name, const std::string& text) {
  std::ifstream in(profiles_dir + name + ".toml");
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (auto at = line.find(text); at != std::string::npos)
      return std::to_string(n) + ":" + std::to_string(at + 1);
  }
  FAIL("'" << text << "' is not in the " << name << " profile");
  return "";
}

/// The `KEY = VALUE  WHERE` line of --explain output for `key`, "" when absent.
std::string explained(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  " + key + " = ", 0) == 0)
      return line.substr(2);
  return "";
}

/// A file standing on `profile` with its state, archive and API kept in `d`.
std::string standing_on(const daemon_dir& d, const std::string& profile,
                        const std::string& extra = "") {
  const auto path = d.dir / "mine.toml";
  std::ofstream(path) << "[engine]\nprofile = \"" << profile << "\"\nstate_dir = \"" << d.state()
                      << "\"\n"
                      << extra << "\n[sinks.archive]\npath = \"" << d.archive() << "\"\n";
  return path.string();
}

} // namespace

SCENARIO("each built-in profile validates alone and a scan stands on it") {
  for (const std::string name : {"low-resource", "desktop", "server"}) {
    INFO(name);
    auto v = run_cli({"validate", "--profile", name});
    CHECK(v.code == 0);
    CHECK(v.out.rfind("<profile:" + name + ">: ok (", 0) == 0);
    daemon_dir d;
    std::string extra;
    if (name == "server") // the API on a free port: a scan does not serve it, but it is checked
      extra = "[api]\nlisten = \"127.0.0.1:0\"\n";
    const auto cfg = standing_on(d, name, extra);
    // The quick families (a full server scan hashes every packaged file): the profile's settings
    // for them, its sinks, our state folder.
    auto s = run_cli({"scan", "--config", cfg, "--only", "procfs,process,network,host_health",
                      "--format", "json", "--fail-on", "critical", "-q"});
    CHECK(s.code <= 1);
    const auto report = nlohmann::json::parse(s.out, nullptr, false);
    CHECK(report.is_array());       // the findings
    CHECK(fs::exists(d.archive())); // the profile's archive sink, at the file's path
  }
  // The low-resource profile scans whole (its heavy families are off) in well under a minute.
  daemon_dir d;
  auto whole = run_cli({"scan", "--config", standing_on(d, "low-resource"), "--format", "json",
                        "--fail-on", "critical", "-q"});
  CHECK(whole.code <= 1);
  CHECK(nlohmann::json::parse(whole.out, nullptr, false).is_array());
}

SCENARIO("auto picks low-resource on 2 cores and 4 GiB, server on 32 and 128, desktop on battery") {
  auto pick = [](const std::string& host) {
    auto r = run_cli({"validate", "--profile", "auto", "--host-resources", host, "--explain"});
    REQUIRE(r.code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(r.out, m, std::regex("profile: ([a-z-]+) \\(auto: ([^\\n]*)\\)")));
    return std::pair<std::string, std::string>(m[1], m[2]);
  };
  CHECK(pick("cores=2,memory=4GiB") ==
        std::pair<std::string, std::string>(
            "low-resource", "2 cores, 4.0 GiB, mains power: at most 4 cores picks low-resource"));
  CHECK(pick("cores=32,memory=128GiB").first == "server");
  CHECK(pick("cores=32,memory=128GiB").second.find("16 cores or more with 64 GiB or more") !=
        std::string::npos);
  CHECK(pick("cores=8,memory=16GiB,battery=yes").first == "desktop");
  CHECK(pick("cores=8,memory=32GiB,chassis=desktop").first == "desktop");
  CHECK(pick("cores=8,memory=32GiB,chassis=server").first == "server");
}

SCENARIO("auto counts the memory of the cgroup it runs in") {
  const fs::path root = "/sys/fs/cgroup/memory";
  if (::geteuid() != 0 || !fs::exists(root / "memory.limit_in_bytes"))
    PG_SKIP("needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory");
  const fs::path group = root / ("pg-profile-test-" + std::to_string(::getpid()));
  REQUIRE(fs::create_directory(group));
  std::ofstream(group / "memory.limit_in_bytes") << (512ull << 20) << std::flush;
  // The child joins the group, then becomes the binary: its own view of the host.
  cli_process p({"/bin/sh", "-c",
                 "echo $$ > " + (group / "cgroup.procs").string() + " && exec " +
                     phantomguard_binary + " validate --profile auto --explain"},
                cli_process::raw_command);
  const int code = p.wait();
  std::error_code ec;
  fs::remove(group, ec); // empty again once the child has exited
  REQUIRE(code == 0);
  CHECK(p.out().find(", 0.5 GiB, ") != std::string::npos);
  CHECK(p.out().find("profile: low-resource (auto: ") != std::string::npos);
}

SCENARIO("a file stands on a profile: its keys win, validate --explain says where each was set") {
  daemon_dir d;
  const auto cfg = standing_on(d, "low-resource",
                               "\n[analyzers.network]\ninterval = \"2m\"\n"
                               "[analyzers.yara]\nenabled = true\nworkers = \"auto\"\n"
                               "[analyzers.rootkit]\ntype = \"rootkit\"\ninterval = \"12h\"\n");
  auto r = run_cli(
      {"validate", "--config", cfg, "--explain", "--host-resources", "cores=6,memory=16GiB"});
  REQUIRE(r.code == 0);
  CHECK(
      r.out.find("profile: low-resource, keys from <profile:low-resource> under the file's own") !=
      std::string::npos);
  // The file's key, at its place in the file; the profile's next to it, at its place there.
  CHECK(explained(r.out, "analyzers.network.interval") ==
        "analyzers.network.interval = '2m'  " + cfg + ":6:12");
  CHECK(explained(r.out, "analyzers.network.type") ==
        "analyzers.network.type = 'network'  <profile:low-resource>:" +
            where_in_profile("low-resource", "\"network\""));
  CHECK(explained(r.out, "engine.state_dir") ==
        "engine.state_dir = '" + d.state() + "'  " + cfg + ":3:13");
  CHECK(
      explained(r.out, "engine.worker_threads").rfind("engine.worker_threads = 1  <profile:", 0) ==
      0);
  // The file turned yara on; its workers = "auto" came to half of 6 cores.
  CHECK(explained(r.out, "analyzers.yara.enabled") ==
        "analyzers.yara.enabled = true  " + cfg + ":8:11");
  CHECK(r.out.find("  analyzers.yara.workers = 3  (auto: 6 cores: half the cores for a scan's "
                   "workers (1 to 4))  " +
                   cfg + ":9:11") != std::string::npos);
  CHECK(r.out.find("2 sources, 11 analyzers, 0 detectors, 2 sinks") != std::string::npos);
  CHECK(r.out.find("; 2 disabled)") != std::string::npos); // vuln and packages stay off
  CHECK(explained(r.out, "analyzers.rootkit.interval").find(cfg + ":") != std::string::npos);
  CHECK(explained(r.out, "analyzers.rootkit.quota.handler_timeout").find("<profile:") !=
        std::string::npos); // same type: merged key by key
}

SCENARIO("a component table of another type replaces the profile's, whole") {
  daemon_dir d;
  const auto cfg = standing_on(d, "low-resource",
                               "\n[analyzers.network]\ntype = \"rootkit\"\ninterval = \"1h\"\n");
  auto r = run_cli({"validate", "--config", cfg, "--explain"});
  REQUIRE(r.code == 0);
  CHECK(explained(r.out, "analyzers.network.type") ==
        "analyzers.network.type = 'rootkit'  " + cfg + ":6:8");
  CHECK(explained(r.out, "analyzers.network.interval") ==
        "analyzers.network.interval = '1h'  " + cfg + ":7:12");
}

SCENARIO(
    "--profile overrides the file's, a profile can be a file of one's own, auto values resolve") {
  daemon_dir d;
  const auto mine = (d.dir / "edge.toml").string();
  std::ofstream(mine)
      << "[engine]\nworker_threads = \"auto\"\n[engine.quota]\nmemory_mb = \"auto\"\n"
         "[sources.procfs]\ntype = \"procfs\"\ninterval = \"1m\"\n"
         "quota = { memory_mb = \"25%\" }\n"
         "[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"procfs\"]\n"
         "path = \"/nonexistent/x.jsonl\"\n";
  const auto cfg = standing_on(d, "server");
  auto r = run_cli({"validate", "--config", cfg, "--profile", mine, "--explain", "--host-resources",
                    "cores=6,memory=4GiB"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("profile: " + mine + ", keys from " + mine + " under the file's own") !=
        std::string::npos);
  CHECK(r.out.find("1 source, 0 analyzers, 0 detectors, 1 sink") != std::string::npos);
  CHECK(r.out.find("  engine.worker_threads = 5  (auto: 6 cores: one scheduler thread per core, "
                   "one left to the host (1 to 8))  " +
                   mine + ":2:18") != std::string::npos);
  CHECK(r.out.find("  engine.quota.memory_mb = 204  (auto: 5% of 4096 MiB (64 to 1024 MiB))  " +
                   mine + ":4:13") != std::string::npos);
  CHECK(r.out.find("  sources.procfs.quota.memory_mb = 1024  (25%: 25% of 4096 MiB)  " + mine +
                   ":8:23") != std::string::npos);
  CHECK(explained(r.out, "sinks.archive.path") ==
        "sinks.archive.path = '" + d.archive() + "'  " + cfg + ":6:8");
}

SCENARIO("a bad profile, host statement or auto value is an error at its place") {
  daemon_dir d;
  auto validate = [&](const std::string& text, std::vector<std::string> more = {}) {
    const auto path = (d.dir / "bad.toml").string();
    std::ofstream(path) << text;
    std::vector<std::string> args = {"validate", "--config", path};
    args.insert(args.end(), more.begin(), more.end());
    auto r = run_cli(args);
    CHECK(r.code == 2);
    return r.err;
  };
  const auto bad = (d.dir / "bad.toml").string();
  CHECK(validate("[engine]\nprofile = \"low-resourse\"\n")
            .find(bad +
                  ":2:11: unknown profile 'low-resourse'; did you mean 'low-resource'? (profiles: "
                  "'low-resource', 'desktop', 'server', 'auto', or the path of a profile file)") !=
        std::string::npos);
  CHECK(validate("[engine]\nprofile = 3\n")
            .find(bad + ":2:11: 'profile' in [engine] must be a string") != std::string::npos);
  CHECK(validate("[engine]\nworker_threads = \"many\"\n")
            .find(bad + ":2:18: 'worker_threads' in [engine] must be a whole number or \"auto\", "
                        "not 'many'") != std::string::npos);
  CHECK(validate("[engine.quota]\nmemory_mb = \"150%\"\n")
            .find(bad +
                  ":2:13: 'memory_mb' in [engine.quota] must be a number of MiB, a share of "
                  "the host's memory such as \"10%\" (above 0, at most 100%) or \"auto\", not "
                  "'150%'") != std::string::npos);
  CHECK(validate("[sources.procfs]\ntype = \"procfs\"\nquota = { memory_mb = \"auto\" }\n"
                 "[sinks.s]\ntype = \"console\"\ninputs = [\"procfs\"]\n")
            .find(bad + ":3:23: 'memory_mb' in [sources.procfs] quota must be a number of MiB, a "
                        "share of the host's memory such as \"10%\" (above 0, at most 100%), not "
                        "'auto'") != std::string::npos);
  // A profile file: missing, broken, standing on another profile.
  CHECK(validate("[engine]\nprofile = \"/nonexistent/p.toml\"\n")
            .find(bad + ":2:11: cannot read the profile /nonexistent/p.toml: No such file or "
                        "directory") != std::string::npos);
  const auto broken = (d.dir / "broken.toml").string();
  std::ofstream(broken) << "[engine]\nlog_level = \"info\n";
  CHECK(validate("[engine]\nprofile = \"" + broken + "\"\n")
            .find(broken + ":2:18: syntax error in the profile: ") != std::string::npos);
  const auto chained = (d.dir / "chained.toml").string();
  std::ofstream(chained) << "[engine]\nprofile = \"server\"\n";
  CHECK(validate("[engine]\nprofile = \"" + chained + "\"\n")
            .find(chained + ":2:11: a profile cannot stand on another profile: remove 'profile' "
                            "from its [engine]") != std::string::npos);
  // An error in a profile's key is reported at the profile's line, the file's own at its own.
  const auto typo = (d.dir / "typo.toml").string();
  std::ofstream(typo) << "[engine]\nlog_levle = \"info\"\n";
  CHECK(validate("[engine]\nprofile = \"" + typo + "\"\nstate_dri = \"/tmp\"\n")
            .find(typo + ":2:1: unknown key 'log_levle' in [engine]; did you mean 'log_level'?\n" +
                  bad + ":3:1: unknown key 'state_dri' in [engine]; did you mean 'state_dir'?") !=
        std::string::npos);
  CHECK(validate("", {"--profile", "sever"})
            .find("unknown profile 'sever'; did you mean 'server'?") != std::string::npos);
  CHECK(validate("", {"--host-resources", "cores=0"})
            .find("--host-resources: 'cores=0': cores must be a whole number from 1 to 4096") !=
        std::string::npos);
}

SCENARIO("the start log, status and doctor say which profile auto chose and why") {
  daemon_dir d;
  const auto cfg = d.config("listen = \"127.0.0.1:0\"\ntoken_file = \"" +
                            d.token_file("profile-test-token-0123456789") + "\"");
  // The daemon's own file, standing on auto sized for a stated small host.
  {
    std::ifstream in(cfg);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.insert(text.find("[engine]\n") + 9, "profile = \"auto\"\nworker_threads = \"auto\"\n");
    // Only the file's own pipeline: the profile's components are turned off by name.
    for (const char* c :
         {"analyzers.process", "analyzers.behavior", "analyzers.kernel_loads", "analyzers.network",
          "analyzers.rootkit", "analyzers.persistence_watch", "analyzers.host_health",
          "analyzers.fim", "sources.kernel_events", "sinks.console"})
      text += std::string("\n[") + c + "]\nenabled = false\n";
    std::ofstream(cfg) << text;
  }
  cli_process p({"run", "--config", cfg, "--host-resources", "cores=2,memory=4GiB"});
  if (!wait_for(p, "api listening on", 20s))
    FAIL(p.err());
  CHECK(p.err().find("profile low-resource (auto: 2 cores, 4.0 GiB, mains power: at most 4 cores "
                     "picks low-resource)") != std::string::npos);
  CHECK(p.err().find("engine.worker_threads = 1 (auto: 2 cores: one scheduler thread per core") !=
        std::string::npos);
  auto status = run_cli({"status", "--config", cfg, "--json"});
  REQUIRE(status.code == 0);
  const auto j = nlohmann::json::parse(status.out);
  CHECK(j["status"]["profile"]["requested"] == "auto");
  CHECK(j["status"]["profile"]["name"] == "low-resource");
  CHECK(j["status"]["profile"]["origin"] == "<profile:low-resource>");
  CHECK(j["status"]["profile"]["reason"].get<std::string>().find("at most 4 cores") !=
        std::string::npos);
  REQUIRE(j["status"]["profile"]["auto"].size() == 1);
  CHECK(j["status"]["profile"]["auto"][0]["key"] == "engine.worker_threads");
  CHECK(j["status"]["profile"]["auto"][0]["value"] == 1);
  auto text = run_cli({"status", "--config", cfg});
  CHECK(text.out.find("profile low-resource (auto: 2 cores, 4.0 GiB") != std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait(30s) == 0);

  auto doctor = run_cli({"doctor", "--config", cfg, "--host-resources", "cores=32,memory=128GiB"});
  CHECK(
      doctor.out.find("auto would pick server (32 cores, 128.0 GiB, mains power: 16 cores or more "
                      "with 64 GiB or more picks server); this config stands on server") !=
      std::string::npos);
}

SCENARIO("fim finds its analyzer in the profile a file stands on") {
  daemon_dir d;
  const auto cfg = standing_on(d, "low-resource");
  auto r = run_cli({"fim", "init", "--config", cfg});
  CHECK(r.code == 0);
  CHECK(r.err.find("phantomguard fim: baseline of ") != std::string::npos);
  CHECK(fs::exists(fs::path(d.state()) / "fim" / "fim.db"));
}
