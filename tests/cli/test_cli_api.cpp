// SPDX-License-Identifier: Apache-2.0
// The daemon's HTTP API through the real binary: /metrics scraped and passed through promtool
// (Debian's prometheus package), /healthz and /readyz, the bearer token off loopback, a token file
// that is not safe, a hostile request body, and validate's refusals.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <regex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
namespace fs = std::filesystem;


SCENARIO("the daemon serves Prometheus metrics that promtool accepts, and health checks") {
  if (!fs::exists("/usr/bin/promtool"))
    PG_SKIP("promtool (Debian package prometheus) is not installed");
  daemon_dir d;
  cli_process p({"run", "--config", d.config("listen = \"127.0.0.1:0\"")});
  REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
  const int port = port_of(p.err());
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  // The source ticks every 500 ms: wait until its events have been counted.
  std::string body;
  for (int i = 0; i < 50; ++i) {
    auto res = client.Get("/metrics");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
    body = res->body;
    if (std::regex_search(body, std::regex("phantomguard_component_events_out_total\\{component=\"procfs\"\\} [1-9]")))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(body.substr(0, 2000));
  CHECK(std::regex_search(body, std::regex("phantomguard_component_events_out_total\\{component=\"procfs\"\\} [1-9]")));
  CHECK(body.find("phantomguard_build_info{version=\"") != std::string::npos);
  CHECK(body.find("# TYPE phantomguard_edge_delivered_total counter") != std::string::npos);
  CHECK(body.find("process_resident_memory_bytes ") != std::string::npos);
  CHECK(body.find("pid=") == std::string::npos); // no high-cardinality labels
  // promtool's own check: format and naming conventions.
  auto file = d.dir / "metrics.txt";
  std::ofstream(file) << body;
  auto out = d.dir / "promtool.out";
  const int rc = std::system(("/usr/bin/promtool check metrics < " + file.string() + " > " +
                              out.string() + " 2>&1")
                                 .c_str());
  std::ifstream lint(out);
  std::string said((std::istreambuf_iterator<char>(lint)), std::istreambuf_iterator<char>());
  INFO("promtool: " << said);
  CHECK(rc == 0);
  CHECK(said.empty());
  auto health = client.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto ready = client.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  // A hostile body: refused, and the daemon keeps serving.
  auto huge = client.Post("/metrics", std::string(10 << 20, 'x'), "text/plain");
  CHECK((!huge || huge->status >= 400));
  auto after = client.Get("/healthz");
  REQUIRE(after);
  CHECK(after->status == 200);
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(15)) == 0);
}

namespace {

/// The value of the first sample `name{labels}` (or `name` without labels) in an exposition.
std::optional<double> sample_of(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0)
      return std::stod(line.substr(series.size() + 1));
  return std::nullopt;
}

/// Scrapes until `series` appears (or `limit` passes); the last body.
std::string scrape_until(int port, const std::string& series, std::chrono::seconds limit) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  std::string body;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (auto res = client.Get("/metrics"); res && res->status == 200) {
      body = res->body;
      if (sample_of(body, series))
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return body;
}

} // namespace

SCENARIO("the daemon shows its malloc heap, caps its arenas and gives free pages back") {
  // A sanitizer brings its own allocator: glibc's heap figures and arenas do not describe it
  // (mallinfo2 reads zeros under ASan), so the engine leaves them out there.
  PG_SKIP_UNDER_SANITIZER("the process does not use glibc's malloc: no heap figures or arenas");
  const unsigned cap = 2 * std::max(1u, std::thread::hardware_concurrency());
  GIVEN("the default arena cap and heap_release_interval = 1s") {
    daemon_dir d;
    d.engine_extra = "heap_release_interval = \"1s\"";
    cli_process p({"run", "--config", d.config("listen = \"127.0.0.1:0\"")});
    REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
    const int port = port_of(p.err());
    REQUIRE(port > 0);
    const auto body = scrape_until(port, "phantomguard_process_heap_released_bytes_total",
                                   std::chrono::seconds(15));
    INFO(body.substr(0, 3000));
    REQUIRE(sample_of(body, "phantomguard_process_heap_released_bytes_total"));
    CHECK(*sample_of(body, "phantomguard_process_heap_released_bytes_total") >= 0);
    const auto in_use = sample_of(body, "phantomguard_process_heap_bytes{state=\"in_use\"}");
    const auto free = sample_of(body, "phantomguard_process_heap_bytes{state=\"free\"}");
    const auto rss = sample_of(body, "process_resident_memory_bytes");
    REQUIRE(in_use);
    REQUIRE(free);
    REQUIRE(rss);
    CHECK(*in_use > 64 << 10); // the engine holds heap (0.7 MiB for this small pipeline)
    CHECK(*in_use < *rss * 4); // and it is the heap of this process, not a made-up figure
    const auto arenas = sample_of(body, "phantomguard_process_heap_arenas");
    REQUIRE(arenas);
    CHECK(*arenas >= 1);
    CHECK(*arenas <= cap); // 40 threads, but no more than 2 arenas per core
    p.signal(SIGTERM);
    CHECK(p.wait(std::chrono::seconds(15)) == 0);
  }
  GIVEN("MALLOC_ARENA_MAX=1 in the environment: the operator's choice wins") {
    daemon_dir d;
    cli_process p({"/usr/bin/env", "MALLOC_ARENA_MAX=1", phantomguard_binary, "run", "--config",
                   d.config("listen = \"127.0.0.1:0\"")},
                  cli_process::raw_command);
    REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
    const auto body = scrape_until(port_of(p.err()), "phantomguard_process_heap_arenas",
                                   std::chrono::seconds(10));
    INFO(body.substr(0, 3000));
    CHECK(sample_of(body, "phantomguard_process_heap_arenas") == 1.0);
    p.signal(SIGTERM);
    CHECK(p.wait(std::chrono::seconds(15)) == 0);
  }
  GIVEN("heap_release_interval = 0s: the engine never trims") {
    daemon_dir d;
    d.engine_extra = "heap_release_interval = \"0s\"";
    cli_process p({"run", "--config", d.config("listen = \"127.0.0.1:0\"")});
    REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
    const int port = port_of(p.err());
    // Three seconds of checks: a release would have been counted by now with any interval.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const auto body = scrape_until(port, "phantomguard_process_heap_arenas", std::chrono::seconds(5));
    CHECK(sample_of(body, "phantomguard_process_heap_arenas"));
    CHECK_FALSE(sample_of(body, "phantomguard_process_heap_released_bytes_total"));
    p.signal(SIGTERM);
    CHECK(p.wait(std::chrono::seconds(15)) == 0);
  }
  GIVEN("a heap_release_interval that is not a duration") {
    daemon_dir d;
    d.engine_extra = "heap_release_interval = 60";
    const auto r = run_cli({"validate", "--config", d.config("listen = \"127.0.0.1:0\"")});
    INFO(r.err << r.out);
    CHECK(r.code == 2);
    CHECK((r.err + r.out).find("heap_release_interval") != std::string::npos);
  }
}

SCENARIO("an engine finding is counted in phantomguard_engine_findings_total") {
  daemon_dir d;
  // An expired [[suppress]] entry is an engine finding at start (engine.suppression_expired).
  cli_process p({"run", "--config",
                 d.config("listen = \"127.0.0.1:0\"",
                          "[[suppress]]\nrule = \"process.*\"\nreason = \"a trial\"\n"
                          "expires = 2020-01-01\n")});
  REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
  const auto body =
      scrape_until(port_of(p.err()), "phantomguard_engine_findings_total", std::chrono::seconds(10));
  INFO(body.substr(0, 3000));
  REQUIRE(sample_of(body, "phantomguard_engine_findings_total"));
  CHECK(*sample_of(body, "phantomguard_engine_findings_total") >= 1);
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(15)) == 0);
}

SCENARIO("off loopback every request needs the bearer token") {
  daemon_dir d;
  const auto token_file = d.dir / "token";
  std::ofstream(token_file) << "s3cret-token-of-thirty-two-chars\n";
  ::chmod(token_file.c_str(), 0600);
  cli_process p({"run", "--config",
                 d.config("listen = \"0.0.0.0:0\"\ntoken_file = \"" + token_file.string() + "\"")});
  REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
  const int port = port_of(p.err());
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  auto none = client.Get("/metrics");
  REQUIRE(none);
  CHECK(none->status == 401);
  auto wrong = client.Get("/healthz", {{"Authorization", "Bearer s3cret-token-of-thirty-two-chars-not"}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto good = client.Get("/metrics", {{"Authorization", "Bearer s3cret-token-of-thirty-two-chars"}});
  REQUIRE(good);
  CHECK(good->status == 200);
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(15)) == 0);
}

SCENARIO("an unsafe token file or a taken port stops the daemon with the reason") {
  daemon_dir d;
  const auto token_file = d.dir / "token";
  std::ofstream(token_file) << "s3cret-token-of-thirty-two-chars\n";
  ::chmod(token_file.c_str(), 0644);
  cli_process p({"run", "--config",
                 d.config("listen = \"0.0.0.0:0\"\ntoken_file = \"" + token_file.string() + "\"")});
  CHECK(p.wait(std::chrono::seconds(15)) == 2);
  CHECK(p.err().find("token_file " + token_file.string() +
                     " must be a regular file readable by its owner only (chmod 600)") !=
        std::string::npos);
}

SCENARIO("validate refuses an API it could not run safely") {
  daemon_dir d;
  auto r = run_cli({"validate", "--config", d.config("listen = \"0.0.0.0:9464\"")});
  CHECK(r.code == 2);
  CHECK(r.err.find("[api] listens on 0.0.0.0, not loopback: set token_file") != std::string::npos);
  auto bad = run_cli({"validate", "--config", d.config("listen = \"9464\"")});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("'listen' in [api] must be HOST:PORT (e.g. \"127.0.0.1:9464\"), not '9464'") !=
        std::string::npos);
  auto typo = run_cli({"validate", "--config", d.config("lisen = \"127.0.0.1:9464\"")});
  CHECK(typo.code == 2);
  CHECK(typo.err.find("unknown key 'lisen' in [api]; did you mean 'listen'?") != std::string::npos);
}

SCENARIO("/api/v1 needs the token even on loopback: status, and a transactional reload") {
  daemon_dir d;
  const auto token_file = d.dir / "token";
  std::ofstream(token_file) << "another-token-0123456789abcdef\n";
  ::chmod(token_file.c_str(), 0600);
  const std::string api =
      "listen = \"127.0.0.1:0\"\ntoken_file = \"" + token_file.string() + "\"";
  const auto cfg = d.config(api);
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
  httplib::Client client("127.0.0.1", port_of(p.err()));
  const httplib::Headers auth = {{"Authorization", "Bearer another-token-0123456789abcdef"}};
  auto anonymous = client.Get("/api/v1/status");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401); // loopback does not open /api/v1
  auto status = client.Get("/api/v1/status", auth);
  REQUIRE(status);
  REQUIRE(status->status == 200);
  auto js = nlohmann::json::parse(status->body);
  CHECK(js.at("generation") == 1);
  REQUIRE(js.at("components").size() == 2);
  CHECK(js.at("components")[0].at("name") == "procfs");
  CHECK(js.at("components")[0].at("supervisor") == "root");
  CHECK(js.at("components")[0].at("kind") == "source");

  // A broken file: refused with the errors, the daemon keeps its config.
  std::ofstream(cfg, std::ios::app) << "[sinks.bad]\ntype = \"jsonl\"\ninputs = [\"procfx\"]\n";
  auto refused = client.Post("/api/v1/reload", auth, "", "text/plain");
  REQUIRE(refused);
  CHECK(refused->status == 422);
  auto why = nlohmann::json::parse(refused->body);
  CHECK(why.at("reloaded") == false);
  CHECK(why.at("messages").dump().find("unknown input 'procfx'") != std::string::npos);
  CHECK(p.running());
  // The refusal is a finding, and /api/v1/findings has it.
  nlohmann::json found;
  for (int i = 0; i < 50; ++i) {
    auto res = client.Get("/api/v1/findings?severity=high&limit=10", auth);
    REQUIRE(res);
    REQUIRE(res->status == 200);
    found = nlohmann::json::parse(res->body);
    if (!found.at("findings").empty())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(found.at("findings").size() == 1);
  CHECK(found.at("findings")[0].at("rule") == "engine.reload_failed");
  const auto last = found.at("last").get<std::uint64_t>();
  auto none = client.Get(("/api/v1/findings?since=" + std::to_string(last)).c_str(), auth);
  REQUIRE(none);
  CHECK(nlohmann::json::parse(none->body).at("findings").empty());
  auto bogus = client.Get("/api/v1/findings?severity=urgent", auth);
  REQUIRE(bogus);
  CHECK(bogus->status == 400);
  CHECK(bogus->body.find("severity is one of info, low, medium, high, critical") !=
        std::string::npos);
  auto zero = client.Get("/api/v1/findings?limit=0", auth);
  REQUIRE(zero);
  CHECK(zero->status == 400);
  auto anonymous_findings = client.Get("/api/v1/findings");
  REQUIRE(anonymous_findings);
  CHECK(anonymous_findings->status == 401);
  // Fixed: applied, the generation moves on.
  d.config(api);
  auto applied = client.Post("/api/v1/reload", auth, "", "text/plain");
  REQUIRE(applied);
  CHECK(applied->status == 200);
  auto again = client.Get("/api/v1/status", auth);
  REQUIRE(again);
  CHECK(nlohmann::json::parse(again->body).at("generation") == 2);
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(15)) == 0);
}

SCENARIO("without a token_file /api/v1 is closed") {
  daemon_dir d;
  cli_process p({"run", "--config", d.config("listen = \"127.0.0.1:0\"")});
  REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
  httplib::Client client("127.0.0.1", port_of(p.err()));
  auto res = client.Post("/api/v1/reload", "", "text/plain");
  REQUIRE(res);
  CHECK(res->status == 403);
  CHECK(res->body.find("set [api] token_file") != std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(15)) == 0);
}

SCENARIO("POST /api/v1/fim/accept accepts a reported change into the daemon's baseline") {
  daemon_dir d;
  const auto token = d.token_file("fim-accept-token-0123456789abcdef");
  const auto watched = d.dir / "watched";
  fs::create_directories(watched);
  std::ofstream(watched / "app.conf") << "listen = 80\n";
  std::ofstream(watched / "other.conf") << "a = 1\n";
  const auto cfg = d.config("listen = \"127.0.0.1:0\"\ntoken_file = \"" + token + "\"",
                            "[analyzers.integrity]\ntype = \"fim\"\ninterval = \"500ms\"\n"
                            "rules = [{ path = \"" + watched.string() + "\" }]\n"
                            "[sinks.fim_out]\ntype = \"jsonl\"\ninputs = [\"integrity\"]\n"
                            "flush = \"event\"\npath = \"" + (d.dir / "fim.jsonl").string() + "\"\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "api listening on", std::chrono::seconds(10)));
  httplib::Client client("127.0.0.1", port_of(p.err()));
  const httplib::Headers auth = {{"Authorization", "Bearer fim-accept-token-0123456789abcdef"}};
  const auto db = d.state() + "/integrity/fim.db";
  auto reported = [&](const std::string& file) {
    return slurp((d.dir / "fim.jsonl").string()).find("\"path\":\"" + (watched / file).string()) !=
           std::string::npos;
  };
  // The baseline is recorded by the first pass; then both files change.
  for (int i = 0; i < 100 && slurp((d.dir / "fim.jsonl").string()).find("fim.baseline") ==
                                 std::string::npos;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(fs::exists(db));
  std::ofstream(watched / "app.conf") << "listen = 8080\n";
  std::ofstream(watched / "other.conf") << "a = 2\n";
  for (int i = 0; i < 100 && !(reported("app.conf") && reported("other.conf")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(reported("app.conf"));

  WHEN("the request is wrong") {
    auto no_token = client.Post("/api/v1/fim/accept", "{}", "application/json");
    REQUIRE(no_token);
    CHECK(no_token->status == 401);
    auto not_json = client.Post("/api/v1/fim/accept", auth, "paths=/etc", "text/plain");
    REQUIRE(not_json);
    CHECK(not_json->status == 400);
    auto no_by = client.Post("/api/v1/fim/accept", auth, R"({"paths": ["/etc/x"]})",
                             "application/json");
    REQUIRE(no_by);
    CHECK(no_by->status == 400);
    CHECK(no_by->body.find("is required") != std::string::npos);
    auto relative = client.Post("/api/v1/fim/accept", auth, R"({"by": "alice", "paths": ["etc"]})",
                                "application/json");
    REQUIRE(relative);
    CHECK(relative->status == 400);
    auto unknown_key = client.Post("/api/v1/fim/accept", auth, R"({"by": "a", "force": true})",
                                   "application/json");
    REQUIRE(unknown_key);
    CHECK(unknown_key->status == 400);
    auto no_analyzer = client.Post("/api/v1/fim/accept", auth,
                                   R"({"by": "alice", "analyzer": "nosuch"})", "application/json");
    REQUIRE(no_analyzer);
    CHECK(no_analyzer->status == 422);
    CHECK(no_analyzer->body.find("nosuch") != std::string::npos);
    auto no_action = client.Post("/api/v1/fim/forget", auth, "{}", "application/json");
    REQUIRE(no_action);
    CHECK(no_action->status == 404);
    CHECK(no_action->body.find("/api/v1/fim/accept") != std::string::npos);
  }
  WHEN("alice accepts one of the two changes") {
    const std::string body = nlohmann::json{{"by", "alice"},
                                            {"paths", {(watched / "app.conf").string()}}}
                                 .dump();
    auto r = client.Post("/api/v1/fim/accept", auth, body, "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    auto js = nlohmann::json::parse(r->body);
    THEN("the answer names the accepted change, who accepted it and the new seal") {
      REQUIRE(js.at("accepted").size() == 1);
      CHECK(js.at("accepted")[0].at("rule") == "fim.changed");
      CHECK(js.at("accepted")[0].at("path") == (watched / "app.conf").string());
      CHECK(js.at("by") == "alice");
      CHECK(js.at("seal").get<std::string>().rfind("sha256:", 0) == 0);
    }
    THEN("the command on the same config reports only the change not accepted, and no "
         "tampering: the daemon's seal was rewritten with the baseline") {
      auto check = run_cli({"fim", "check", "--config", cfg, "--format", "jsonl"});
      INFO(check.out << check.err);
      CHECK(check.out.find((watched / "app.conf").string()) == std::string::npos);
      CHECK(check.out.find((watched / "other.conf").string()) != std::string::npos);
      CHECK(check.out.find("fim.baseline_tampered") == std::string::npos);
      // Who and when, kept with the baseline.
      CHECK(std::system(("python3 -c \"import sqlite3,sys; c=sqlite3.connect('" + db +
                         "'); r=c.execute(\\\"select by from accepted where path like "
                         "'%app.conf'\\\").fetchall(); sys.exit(0 if r==[('alice',)] else 1)\"")
                            .c_str()) == 0);
    }
    THEN("the daemon's next pass does not raise the seal as tampered") {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      CHECK(slurp((d.dir / "fim.jsonl").string()).find("fim.baseline_tampered") ==
            std::string::npos);
    }
  }
  p.signal(SIGTERM);
  CHECK(p.wait(std::chrono::seconds(20)) == 0);
}
