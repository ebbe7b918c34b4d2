// The http sink through the real daemon, against a receiver on loopback that the test makes
// fail: 500s, a hang, connection refused, a rejection; a `kill -9` of the daemon during the
// outage and a restart; a spool at its bound. Every finding arrives once by id after recovery.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"

using namespace pg::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A collector on loopback: answers POST /ingest as `mode` says, and keeps what it accepted.
class receiver {
public:
  enum class mode { accept, fail, hang, reject };

  receiver() { start(0); }
  ~receiver() { down(); }

  void start(int port) {
    server_ = std::make_unique<httplib::Server>();
    server_->Post("/ingest", [this](const httplib::Request& req, httplib::Response& res) {
      const auto m = mode_.load();
      if (m == mode::hang) {
        std::this_thread::sleep_for(1500ms);
        res.status = 500;
        return;
      }
      {
        std::lock_guard lock(mutex_);
        ++requests_;
        headers_ = req.headers;
      }
      if (m == mode::fail) {
        res.status = 503;
        return;
      }
      if (m == mode::reject) {
        res.status = 400;
        res.set_content("bad batch", "text/plain");
        std::lock_guard lock(mutex_);
        ++rejected_requests_;
        return;
      }
      std::lock_guard lock(mutex_);
      std::istringstream in(req.body);
      for (std::string line; std::getline(in, line);) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.contains("id"))
          continue;
        ++accepted_[j["id"].get<std::string>()];
        rules_[j["id"].get<std::string>()] = j["rule"].get<std::string>();
      }
      res.status = 200;
    });
    port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1") : port;
    if (port != 0)
      REQUIRE(server_->bind_to_port("127.0.0.1", port));
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }
  void down() {
    if (!server_)
      return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  void set(mode m) { mode_ = m; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/ingest";
  }
  /// id -> times accepted, for findings of `rule`.
  std::map<std::string, int> accepted(const std::string& rule) {
    std::lock_guard lock(mutex_);
    std::map<std::string, int> out;
    for (const auto& [id, n] : accepted_)
      if (rules_[id] == rule)
        out[id] = n;
    return out;
  }
  int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int rejected_requests() {
    std::lock_guard lock(mutex_);
    return rejected_requests_;
  }
  std::string header(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = headers_.find(name);
    return it == headers_.end() ? "" : it->second;
  }

private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<mode> mode_{mode::accept};
  std::mutex mutex_;
  std::map<std::string, int> accepted_;
  std::map<std::string, std::string> rules_;
  httplib::Headers headers_;
  int requests_ = 0;
  int rejected_requests_ = 0;
};

/// A daemon's config: procfs into nothing but the sinks; the http sink quick to retry; a jsonl
/// archive that shows the engine's own findings.
std::string delivery_config(const daemon_dir& d, const std::string& url,
                            const std::string& extra = "") {
  return d.config("", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\nurl = \"" + url +
                          "\"\nbatch_delay = \"100ms\"\nretry_initial = \"100ms\"\nretry_max = "
                          "\"300ms\"\ntimeout = \"500ms\"\nbreaker_failures = 1000\nspool_fsync = "
                          "\"always\"\ndrain_timeout = \"1s\"\n" +
                          extra);
}

/// N findings the daemon raises itself: each SIGHUP with a broken file is engine.reload_failed.
void raise_findings(cli_process& p, const std::string& cfg, int n) {
  std::ofstream(cfg, std::ios::app) << "[sinks.broken]\ntype = \"jsonl\"\ninputs = [\"nothing\"]\n";
  for (int i = 0; i < n; ++i) {
    p.signal(SIGHUP);
    std::this_thread::sleep_for(150ms); // distinct times: distinct findings, distinct ids
  }
}

/// Waits until `rule` has `n` distinct ids at the receiver.
bool arrived(receiver& r, const std::string& rule, std::size_t n, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (r.accepted(rule).size() >= n)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

} // namespace

SCENARIO(
    "findings POSTed during an outage and a kill -9 arrive exactly once by id after recovery") {
  receiver r;
  r.set(receiver::mode::fail);
  daemon_dir d;
  const auto cfg = delivery_config(d, r.url());
  {
    cli_process p({"run", "--config", cfg});
    REQUIRE(wait_for(p, "control socket", 10s));
    raise_findings(p, cfg, 5);
    std::this_thread::sleep_for(1s); // spooled, retried against 503s
    CHECK(r.requests() > 0);
    CHECK(r.accepted("engine.reload_failed").empty());
    p.signal(SIGKILL); // no drain, no goodbye
    p.wait(5s);
  }
  const auto fixed = delivery_config(d, r.url());
  r.set(receiver::mode::accept);
  cli_process again({"run", "--config", fixed});
  REQUIRE(wait_for(again, "findings from the spool are sent first", 10s));
  REQUIRE(arrived(r, "engine.reload_failed", 5, 20s));
  std::this_thread::sleep_for(500ms);
  auto got = r.accepted("engine.reload_failed");
  CHECK(got.size() == 5);
  for (const auto& [id, times] : got) {
    CHECK(id.size() == 32);
    CHECK(times == 1);
  }
  CHECK(r.header("Content-Type") == "application/x-ndjson");
  again.signal(SIGTERM);
  CHECK(again.wait(15s) == 0);
}

SCENARIO("a hanging collector, then a refused connection: retried, raised, delivered, recovered") {
  receiver r;
  r.set(receiver::mode::hang);
  daemon_dir d;
  const auto cfg = delivery_config(d, r.url());
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 3);
  std::this_thread::sleep_for(1500ms); // timeouts
  const int port = r.port();
  r.down(); // connection refused now
  std::this_thread::sleep_for(1s);
  CHECK(slurp(d.archive()).find("engine.sink_delivery_failing") != std::string::npos);
  r.set(receiver::mode::accept);
  r.start(port);
  REQUIRE(arrived(r, "engine.reload_failed", 3, 20s));
  for (const auto& [id, times] : r.accepted("engine.reload_failed"))
    CHECK(times == 1);
  // Its own findings about the outage go out too, and it says it recovered.
  bool recovered = false;
  for (int i = 0; i < 50 && !recovered; ++i) {
    std::this_thread::sleep_for(100ms);
    recovered = slurp(d.archive()).find("engine.sink_delivery_recovered") != std::string::npos;
  }
  CHECK(recovered);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

SCENARIO("a batch the collector rejects with a 4xx is not retried: counted, lost and raised") {
  receiver r;
  r.set(receiver::mode::reject);
  daemon_dir d;
  const auto cfg = delivery_config(d, r.url());
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 2);
  bool raised = false;
  for (int i = 0; i < 50 && !raised; ++i) {
    std::this_thread::sleep_for(100ms);
    raised = slurp(d.archive()).find("engine.sink_rejected") != std::string::npos;
  }
  CHECK(raised);
  const auto archive = slurp(d.archive());
  CHECK(archive.find("400 bad batch") != std::string::npos);
  CHECK(archive.find("\"cause\":\"rejected\"") != std::string::npos);
  const int seen = r.rejected_requests();
  std::this_thread::sleep_for(1s);
  // Not retried: the requests it sees now are for new findings (its own rejection report), not
  // the same batch again and again.
  CHECK(r.rejected_requests() <= seen + 2);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

SCENARIO("a spool at its bound drops the oldest findings and says so: cause spool_full") {
  daemon_dir d;
  // Nobody listens on this port: everything waits in a spool of 4 KiB.
  const auto cfg = delivery_config(d, "http://127.0.0.1:" + std::to_string(free_port()) + "/ingest",
                                   "spool_max = 4096\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 12); // ~700 bytes each
  bool lost = false;
  for (int i = 0; i < 50 && !lost; ++i) {
    std::this_thread::sleep_for(100ms);
    lost = slurp(d.archive()).find("\"cause\":\"spool_full\"") != std::string::npos;
  }
  CHECK(lost);
  CHECK(p.running());
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
  // What stayed is on disk for the next start.
  std::size_t segments = 0;
  for (const auto& e : fs::directory_iterator(d.state() + "/siem/spool"))
    segments += e.path().extension() == ".seg";
  CHECK(segments >= 1);
}

SCENARIO("validate refuses an http sink it could not run") {
  daemon_dir d;
  auto bad = run_cli({"validate", "--config",
                      d.config("", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\n"
                                   "url = \"ftp://collector/\"\n")});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("[sinks.siem] would not start: url must start with http:// or https://, "
                     "not 'ftp://collector/'") != std::string::npos);
  auto policy =
      run_cli({"validate", "--config",
               d.config("", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\n"
                            "url = \"http://127.0.0.1:1/\"\nspool_fsync = \"sometimes\"\n")});
  CHECK(policy.code == 2);
  CHECK(policy.err.find("'spool_fsync'") != std::string::npos);
  auto missing = run_cli({"validate", "--config",
                          d.config("", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\n")});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("url") != std::string::npos);
}
