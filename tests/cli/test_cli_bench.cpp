// SPDX-License-Identifier: Apache-2.0
// `phantomguard bench` and `phantomguard profile` through the real binary, judged by what the
// kernel says happened: fim's first pass over a tree it hashes reads at least the tree's bytes,
// in bench and in a profiled scan; a profiled run lasts what was asked; the HTML report, opened
// in headless Chromium, shows every component that used CPU. Every bad argument is an error
// that says what is wrong, and a component that fails while benched is exit 1.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t tree_files = 24;
constexpr std::size_t file_bytes = 256 * 1024;
constexpr std::size_t tree_bytes = tree_files * file_bytes; // 6 MiB

/// A folder of random files for fim to hash, and a config with procfs, process, fim and a jsonl
/// archive, its state in the folder too.
struct bench_dir : daemon_dir {
  bench_dir() {
    fs::create_directories(tree());
    std::mt19937_64 rng(42);
    std::string block(file_bytes, '\0');
    for (std::size_t i = 0; i < tree_files; ++i) {
      for (auto& c : block)
        c = static_cast<char>(rng());
      std::ofstream(tree() + "/f" + std::to_string(i), std::ios::binary) << block;
    }
  }
  [[nodiscard]] std::string tree() const { return (dir / "tree").string(); }
  std::string write(const std::string& extra = "") const {
    const auto path = (dir / "bench.toml").string();
    std::ofstream(path) << "[engine]\nstate_dir = \"" << state()
                        << "\"\n[sources.procfs]\ntype = \"procfs\"\ninterval = \"500ms\"\n"
                           "[analyzers.process]\ntype = \"process\"\ninputs = [\"procfs\"]\n"
                           "[analyzers.fim]\ntype = \"fim\"\ninterval = \"1h\"\n"
                           "[analyzers.fim.rules.tree]\npath = \""
                        << tree()
                        << "\"\n[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"process\", "
                           "\"fim\"]\npath = \""
                        << archive() << "\"\n"
                        << extra;
    return path;
  }
};

nlohmann::json json_of(const cli_result& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  return nlohmann::json::parse(r.out);
}

void check_times(const nlohmann::json& t) {
  CHECK(t["min"].get<double>() > 0);
  CHECK(t["min"].get<double>() <= t["median"].get<double>());
  CHECK(t["median"].get<double>() <= t["p95"].get<double>());
  CHECK(t["p95"].get<double>() <= t["max"].get<double>());
}

const nlohmann::json& component(const nlohmann::json& report, const std::string& name) {
  for (const auto& c : report["components"])
    if (c["name"] == name)
      return c;
  FAIL("no component " << name << " in the report");
  static const nlohmann::json none;
  return none;
}

} // namespace

SCENARIO("bench times fim's tick: its first pass reads the whole tree it hashes, in a state dir "
         "of its own") {
  bench_dir d;
  const auto cfg = d.write();
  auto j = json_of(
      run_cli({"bench", "fim", "--config", cfg, "--iterations", "1", "--warmup", "0", "--json"}));
  CHECK(j["component"] == "fim");
  CHECK(j["handler"] == "on_tick");
  CHECK(j["iterations"] == 1);
  check_times(j["time_ms"]);
  REQUIRE(j["io_per_iteration"].is_object());
  // Every byte of the tree went through read(2) for its hash: the kernel's count, not ours.
  CHECK(j["io_per_iteration"]["read_bytes"].get<double>() >= static_cast<double>(tree_bytes));
  CHECK(j["cpu"]["percent"].get<double>() > 0);
  CHECK(j["cpu"]["percent"].get<double>() <= 100.0 * ::sysconf(_SC_NPROCESSORS_ONLN) + 5);
  CHECK(j["memory"]["peak_rss_bytes"].get<double>() >=
        j["memory"]["rss_before_bytes"].get<double>());
  CHECK(j["memory"]["heap_held_max_bytes"].get<double>() > 0);
  // The first pass makes the baseline, and says so: one finding.
  CHECK(j["findings_per_iteration"].get<double>() >= 1);
  // The daemon's own state was not touched: no baseline in the config's state_dir.
  CHECK_FALSE(fs::exists(d.state() + "/fim"));

  THEN("later passes only stat what is unchanged: they read far less than the tree") {
    auto k = json_of(
        run_cli({"bench", "fim", "--config", cfg, "--iterations", "3", "--warmup", "1", "--json"}));
    CHECK(k["iterations"] == 3);
    CHECK(k["io_per_iteration"]["read_bytes"].get<double>() < static_cast<double>(tree_bytes) / 4);
  }
  AND_THEN("the text form says the same figures in words") {
    auto r = run_cli({"bench", "fim", "--config", cfg, "-n", "2"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("phantomguard bench fim: analyzer of type fim, on_tick, 2 iterations after "
                     "1 warm-up") != std::string::npos);
    for (const char* part :
         {"  time      min ", "   median ", "   p95 ", "  cpu       ", "% of one core",
          "  memory    peak RSS ", "  io        read ", "  output    "})
      CHECK(r.out.find(part) != std::string::npos);
  }
}

SCENARIO("bench times a batch handler on one pass of its inputs, or on the events of --input") {
  bench_dir d;
  const auto cfg = d.write();
  auto j = json_of(run_cli({"bench", "process", "--config", cfg, "--iterations", "5", "--json"}));
  CHECK(j["handler"] == "on_batch");
  CHECK(j["iterations"] == 5);
  CHECK(j["warmup"] == 1);
  CHECK(j["input"] == "one pass of procfs");
  CHECK(j["input_events"].get<int>() > 5); // this host runs more processes than that
  check_times(j["time_ms"]);

  GIVEN("events in a file, one JSON object a line") {
    const auto events = (d.dir / "events.jsonl").string();
    {
      std::ofstream out(events);
      for (int i = 0; i < 3; ++i)
        out << "{\"kind\": \"process\", \"source\": \"file\", \"pid\": " << ::getpid()
            << ", \"comm\": \"test_cli\"}\n\n";
    }
    auto k = json_of(
        run_cli({"bench", "process", "--config", cfg, "--input", events, "-n", "3", "--json"}));
    CHECK(k["input_events"] == 3);
    CHECK(k["input"] == events);
  }
}

SCENARIO("bench refuses what it cannot time, and says why") {
  bench_dir d;
  const auto cfg = d.write("[analyzers.off]\ntype = \"process\"\ninputs = [\"procfs\"]\n"
                           "enabled = false\n");
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    auto r = run_cli(std::move(args));
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(says) != std::string::npos);
  };
  refused({"bench", "fimm", "--config", cfg},
          "the config declares no component 'fimm'; did you mean 'fim'?");
  refused({"bench", "off", "--config", cfg}, "'off' is disabled in the config");
  refused({"bench", "fim", "--config", cfg, "--input", cfg},
          "'fim' collects its own input (on_tick); --input is for a component fed by others");
  refused({"bench", "fim", "--config", cfg, "--iterations", "0"}, "--iterations must be 1 or more");
  refused({"bench", "process", "--config", cfg, "--input", (d.dir / "none.jsonl").string()},
          "cannot read --input");
  const auto bad = (d.dir / "bad.jsonl").string();
  std::ofstream(bad) << "{\"kind\": \"process\", \"pid\": 1}\n{\"kind\": \"process\",\n";
  refused({"bench", "process", "--config", cfg, "--input", bad}, bad + ":2: not JSON");
  std::ofstream(bad, std::ios::trunc) << "{\"kind\": \"process\", \"pid\": [1, 2]}\n";
  refused({"bench", "process", "--config", cfg, "--input", bad},
          bad + ":1: field \"pid\" is array: an event field is a boolean, a number or a string");
  std::ofstream(bad, std::ios::trunc) << "{\"pid\": 1}\n";
  refused({"bench", "process", "--config", cfg, "--input", bad},
          bad + ":1: an event needs \"kind\"");
  std::ofstream(bad, std::ios::trunc) << "\n\n";
  refused({"bench", "process", "--config", cfg, "--input", bad}, "holds no event");

  WHEN("the component fails while it is benched") {
    // Its settings are fine (validate passes); the state dir it is given is a file, so fim
    // cannot open its baseline database when it starts.
    const auto file = (d.dir / "not-a-dir").string();
    std::ofstream(file) << "x\n";
    auto r = run_cli({"bench", "fim", "--config", cfg, "--state-dir", file});
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("phantomguard bench: 'fim' failed after 0 timed call(s): fim: ") !=
          std::string::npos);
  }
  WHEN("the component works but says it could not do its work") {
    const auto broken = (d.dir / "broken.toml").string();
    std::ofstream(broken)
        << "[engine]\nstate_dir = \"" << d.state()
        << "\"\n[sources.procfs]\ntype = \"procfs\"\n[sinks.archive]\ntype = "
           "\"jsonl\"\ninputs = [\"procfs\"]\npath = \"/proc/pg-none/out.jsonl\"\n";
    auto r = run_cli({"bench", "archive", "--config", broken, "-n", "2"});
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("  warnings  ") != std::string::npos);
    CHECK(r.out.find("cannot open /proc/pg-none/out.jsonl") != std::string::npos);
  }
}

SCENARIO("profile --scan: the report names every component that used CPU, and its figures are "
         "the kernel's") {
  bench_dir d;
  const auto cfg = d.write();
  const auto json = (d.dir / "report.json").string();
  auto r = run_cli({"profile", "--config", cfg, "--scan", "--output", json});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("report written to " + json) != std::string::npos);
  const auto j = nlohmann::json::parse(slurp(json));
  CHECK(j["mode"] == "scan");
  CHECK(j["components"].size() == 4);
  double components_cpu = 0;
  for (const auto& c : j["components"]) {
    INFO(c.dump());
    CHECK(c["hook_calls"].get<int>() >= 2); // start and stop at least
    CHECK(c["latency_us"]["p50"].get<double>() <= c["latency_us"]["p95"].get<double>());
    CHECK(c["latency_us"]["p95"].get<double>() <= c["latency_us"]["p99"].get<double>());
    CHECK(c["latency_us"]["p99"].get<double>() <= c["latency_us"]["max"].get<double>());
    components_cpu += c["cpu_seconds"].get<double>();
  }
  // fim hashed the tree (a fresh state dir: its first scan); the I/O is its threads' own.
  const auto& fim = component(j, "fim");
  CHECK(fim["read_bytes"].get<double>() >= static_cast<double>(tree_bytes));
  CHECK(fim["cpu_seconds"].get<double>() > 0);
  CHECK(fim["memory_peak_bytes"].get<double>() > 0);
  // procfs reads /proc: what it read is counted to it, not to fim.
  CHECK(component(j, "procfs")["read_bytes"].get<double>() > 0);
  CHECK(component(j, "procfs")["read_bytes"].get<double>() < static_cast<double>(tree_bytes));
  // process looks each process up in its cache: a first scan misses every time it reads.
  const auto& process = component(j, "process");
  REQUIRE(process.contains("cache"));
  CHECK(process["cache"]["misses"].get<int>() > 0);
  // The parts add up to no more than the whole.
  CHECK(components_cpu > 0);
  CHECK(components_cpu <= j["process"]["cpu_seconds"].get<double>() + 0.01);
  CHECK(j["process"]["io"]["read_bytes"].get<double>() >= static_cast<double>(tree_bytes));
  CHECK(j["process"]["peak_rss_bytes"].get<double>() > 0);
  CHECK(j["top_costs"]["read"][0] == "fim");
  CHECK(j["findings"].get<int>() >= 1); // fim's baseline-created

  WHEN("the report is HTML, opened in headless Chromium") {
    const auto html = (d.dir / "report.html").string();
    auto h = run_cli({"profile", "--config", cfg, "--scan", "--output", html});
    INFO(h.err);
    REQUIRE(h.code == 0);
    const auto page = slurp(html);
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("http://www.w3.org/2000/svg") != std::string::npos);
    fs::create_directories(PG_BINARY_DIR "/test-artifacts");
    const std::string shot = PG_BINARY_DIR "/test-artifacts/profile-report.png";
    fs::remove(shot);
    const auto out = (d.dir / "check.out").string();
    const int rc = std::system(("/usr/bin/python3 " + cli_test_dir + "/report_check.py --report " +
                                html + " --screenshot " + shot + " --timeout 60 > " + out + " 2>&1")
                                   .c_str());
    const auto said = slurp(out);
    INFO(said);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
      PG_SKIP("report_check.py: " + said);
    CHECK(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 0);
    CHECK(said.find("FAIL") == std::string::npos);
    CHECK(said.find("component fim has a visible bar in #cpu-chart") != std::string::npos);
    CHECK(fs::exists(shot));
  }
}

SCENARIO("profile --duration runs the config for that long, then drains and writes the report") {
  bench_dir d;
  const auto cfg = d.write();
  const auto json = (d.dir / "run.json").string();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run_cli({"profile", "--config", cfg, "--duration", "3s", "--output", json});
  const auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(took >= 3s);
  CHECK(took < 20s);
  const auto j = nlohmann::json::parse(slurp(json));
  CHECK(j["mode"] == "run");
  CHECK(j["wall_seconds"].get<double>() >= 3.0);
  // procfs ticks every 500 ms: several passes in 3 s, each giving process its batch.
  CHECK(component(j, "procfs")["hook_calls"].get<int>() >= 4);
  CHECK(component(j, "process")["events_in"].get<int>() > 0);
  // Taken before the drain: what is still on the edge has left procfs, not reached process.
  CHECK(component(j, "process")["events_in"].get<int>() <=
        component(j, "procfs")["events_out"].get<int>());
}

SCENARIO("profile refuses bad arguments before it runs anything") {
  bench_dir d;
  const auto cfg = d.write();
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    auto r = run_cli(std::move(args));
    INFO(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(says) != std::string::npos);
  };
  const auto out = (d.dir / "r.json").string();
  refused({"profile", "--config", cfg, "--output", out}, "say what to profile: --scan");
  refused({"profile", "--config", cfg, "--duration", "soon", "--output", out},
          "--duration 'soon' is not a duration");
  refused({"profile", "--config", cfg, "--scan", "--output", (d.dir / "r.txt").string()},
          "cannot tell the report's format");
  refused({"profile", "--config", cfg, "--scan", "--output", (d.dir / "no/r.json").string()},
          "cannot write --output");
  refused({"profile", "--config", cfg, "--duration", "2s", "--only", "fim", "--output", out},
          "--only goes with --scan");
  refused({"profile", "--config", cfg, "--scan", "--only", "fimm", "--output", out},
          "phantomguard profile: --only names unknown component 'fimm'");
  auto both = run_cli({"profile", "--config", cfg, "--scan", "--duration", "2s", "--output", out});
  CHECK(both.code == 2);
  CHECK_FALSE(fs::exists(out));
}
