// SPDX-License-Identifier: Apache-2.0
// The http sink through the real daemon, against a receiver on loopback that the test makes
// fail: 500s, a hang, connection refused, a rejection; a `kill -9` of the daemon during the
// outage and a restart; a spool at its bound. Every finding arrives once by id after recovery.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A collector on loopback: answers POST /ingest as `mode` says, and keeps what it accepted.
class receiver {
public:
  enum class mode { accept, fail, hang, reject, busy };

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
        last_body_ = req.body;
        times_.push_back(std::chrono::steady_clock::now());
      }
      if (m == mode::busy) {
        res.status = 503;
        res.set_header("Retry-After", "2");
        return;
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
      // NDJSON, or one JSON array (encoding = "json").
      std::vector<nlohmann::json> items;
      if (!req.body.empty() && req.body[0] == '[') {
        for (auto& j : nlohmann::json::parse(req.body, nullptr, false))
          items.push_back(j);
      } else {
        std::istringstream in(req.body);
        for (std::string line; std::getline(in, line);)
          items.push_back(nlohmann::json::parse(line, nullptr, false));
      }
      for (const auto& j : items) {
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
  std::vector<std::chrono::steady_clock::time_point> times() {
    std::lock_guard lock(mutex_);
    return times_;
  }
  std::string last_body() {
    std::lock_guard lock(mutex_);
    return last_body_;
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
  std::string last_body_;
  std::vector<std::chrono::steady_clock::time_point> times_;
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

/// Waits (5 s at most) until the daemon's jsonl archive holds `text`.
bool archive_has(const daemon_dir& d, const std::string& text) {
  for (int i = 0; i < 50; ++i) {
    if (slurp(d.archive()).find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
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
  const bool recovered = archive_has(d, "engine.sink_delivery_recovered");
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
  const bool raised = archive_has(d, "engine.sink_rejected");
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
  const bool lost = archive_has(d, "\"cause\":\"spool_full\"");
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
  auto pin = run_cli({"validate", "--config",
                      d.config("", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\n"
                                   "url = \"http://127.0.0.1:1/\"\npin_sha256 = \"" +
                                       std::string(64, 'a') + "\"\n")});
  CHECK(pin.code == 2);
  CHECK(pin.err.find("pin_sha256 needs an https:// url") != std::string::npos);
  auto short_pin =
      run_cli({"validate", "--config",
               d.config("", "[sinks.s]\ntype = \"syslog\"\ninputs = [\"procfs\"]\n"
                            "address = \"tls://127.0.0.1:6514\"\npin_sha256 = \"AB:CD\"\n")});
  CHECK(short_pin.code == 2);
  CHECK(short_pin.err.find("pin_sha256 must be a SHA-256 in hex") != std::string::npos);
  auto missing = run_cli({"validate", "--config",
                          d.config("", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\n")});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("url") != std::string::npos);
}

namespace {

/// Debian's rsyslogd on loopback: TCP, TLS-less; UDP; every message it parses written to a
/// file as "VERSION MSGID SEVERITY SD MSG" (VERSION 1 means it parsed RFC 5424).
class rsyslog {
public:
  explicit rsyslog(const daemon_dir& d) : dir_(d.dir / "rsyslog") {
    fs::create_directories(dir_);
    tcp_ = free_port();
    udp_ = free_port();
    out_ = (dir_ / "out.log").string();
    const auto conf = (dir_ / "rsyslog.conf").string();
    std::ofstream(conf) << "global(workDirectory=\"" << dir_.string() << "\")\n"
                        << "module(load=\"imtcp\")\nmodule(load=\"imudp\")\n"
                        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tcp_ << "\")\n"
                        << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << udp_ << "\")\n"
                        << "template(name=\"t\" type=\"string\" string=\"%protocol-version% "
                           "%msgid% %syslogseverity-text% %syslogfacility-text% "
                           "%structured-data% %msg%\\n\")\n"
                        << "*.* action(type=\"omfile\" file=\"" << out_ << "\" template=\"t\")\n";
    p_ =
        std::make_unique<cli_process>(std::vector<std::string>{"/usr/sbin/rsyslogd", "-n", "-f",
                                                               conf, "-i", (dir_ / "pid").string()},
                                      cli_process::raw_command);
    // Ready when its TCP port answers.
    for (int i = 0; i < 100; ++i) {
      httplib::Client probe("127.0.0.1", tcp_);
      probe.set_connection_timeout(0, 100000);
      if (probe.Get("/"))
        break;
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(tcp_));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (up)
        break;
      std::this_thread::sleep_for(50ms);
    }
  }
  ~rsyslog() {
    p_->signal(SIGTERM);
    p_->wait(5s);
  }
  [[nodiscard]] int tcp() const { return tcp_; }
  [[nodiscard]] int udp() const { return udp_; }
  [[nodiscard]] std::string log() const { return slurp(out_); }
  [[nodiscard]] std::string err() const { return p_->err(); }

private:
  fs::path dir_;
  int tcp_ = 0;
  int udp_ = 0;
  std::string out_;
  std::unique_ptr<cli_process> p_;
};

/// Lines of `text` that contain `what`.
std::vector<std::string> lines_with(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(what) != std::string::npos)
      out.push_back(line);
  return out;
}

} // namespace

SCENARIO("rsyslog receives every finding over TCP as RFC 5424 and over UDP as RFC 3164") {
  if (!fs::exists("/usr/sbin/rsyslogd"))
    PG_SKIP("rsyslogd (Debian package rsyslog) is not installed");
  daemon_dir d;
  rsyslog receiver(d);
  const auto cfg = d.config(
      "",
      "[sinks.tcp]\ntype = \"syslog\"\ninputs = [\"procfs\"]\naddress = \"tcp://127.0.0.1:" +
          std::to_string(receiver.tcp()) +
          "\"\nfacility = \"local3\"\nbatch_delay = \"100ms\"\n"
          "[sinks.udp]\ntype = \"syslog\"\ninputs = [\"procfs\"]\naddress = \"udp://127.0.0.1:" +
          std::to_string(receiver.udp()) + "\"\nprotocol = \"rfc3164\"\nbatch_delay = \"100ms\"\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 4);
  std::vector<std::string> got5424, got3164;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(100ms);
    got5424 =
        lines_with(receiver.log(), "1 engine.reload_failed err local3 [phantomguard@32473 id=\"");
    got3164 = lines_with(receiver.log(), "rule=engine.reload_failed severity=high id=");
    if (got5424.size() >= 4 && got3164.size() >= 4)
      break;
  }
  INFO(receiver.log() << receiver.err());
  CHECK(got5424.size() == 4);
  CHECK(got3164.size() == 4);
  std::set<std::string> ids;
  for (const auto& line : got5424) {
    const auto at = line.find("id=\"") + 4;
    ids.insert(line.substr(at, 32));
    CHECK(line.find("rule=\"engine.reload_failed\" severity=\"high\"") != std::string::npos);
    CHECK(line.find("reload refused") != std::string::npos); // the title is the message
  }
  CHECK(ids.size() == 4);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

SCENARIO("syslog over TCP to a receiver that is down: spooled, then delivered when it is up") {
  if (!fs::exists("/usr/sbin/rsyslogd"))
    PG_SKIP("rsyslogd (Debian package rsyslog) is not installed");
  daemon_dir d;
  const int port = free_port();
  const auto cfg = d.config(
      "", "[sinks.tcp]\ntype = \"syslog\"\ninputs = [\"procfs\"]\naddress = \"tcp://127.0.0.1:" +
              std::to_string(port) +
              "\"\nformat = \"ocsf\"\nbatch_delay = \"100ms\"\nretry_initial = \"100ms\"\n"
              "retry_max = \"200ms\"\nbreaker_failures = 1000\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 3);
  std::this_thread::sleep_for(1s);
  CHECK(slurp(d.archive()).find("engine.sink_delivery_failing") != std::string::npos);
  // The receiver comes up on that port.
  struct fixed_port_rsyslog {
    fs::path dir;
    std::unique_ptr<cli_process> p;
    std::string out;
  } r{d.dir / "late", nullptr, (d.dir / "late" / "out.log").string()};
  fs::create_directories(r.dir);
  std::ofstream(r.dir / "c.conf") << "global(workDirectory=\"" << r.dir.string() << "\")\n"
                                  << "module(load=\"imtcp\")\ninput(type=\"imtcp\" "
                                     "address=\"127.0.0.1\" port=\""
                                  << port
                                  << "\")\ntemplate(name=\"t\" type=\"string\" "
                                     "string=\"%msgid% %msg%\\n\")\n*.* action(type=\"omfile\" "
                                     "file=\""
                                  << r.out << "\" template=\"t\")\n";
  r.p = std::make_unique<cli_process>(std::vector<std::string>{"/usr/sbin/rsyslogd", "-n", "-f",
                                                               (r.dir / "c.conf").string(), "-i",
                                                               (r.dir / "pid").string()},
                                      cli_process::raw_command);
  std::vector<std::string> got;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(100ms);
    got = lines_with(slurp(r.out), "engine.reload_failed {\"");
    if (got.size() >= 3)
      break;
  }
  INFO(slurp(r.out));
  REQUIRE(got.size() >= 3);
  // format = ocsf: the message is an OCSF Detection Finding.
  const auto json = got[0].substr(got[0].find('{'));
  auto j = nlohmann::json::parse(json);
  CHECK(j["class_uid"] == 2004);
  CHECK(j["finding_info"]["types"][0] == "engine.reload_failed");
  std::set<std::string> ids;
  for (const auto& line : got)
    ids.insert(nlohmann::json::parse(line.substr(line.find('{')))["finding_info"]["uid"]);
  CHECK(ids.size() == 3);
  r.p->signal(SIGTERM);
  r.p->wait(5s);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

namespace {

/// A TLS receiver on loopback (OpenSSL): accepts connections one after the other, keeps the
/// bytes they send and closes a connection that stayed quiet for `idle_close`, as a receiver
/// with an idle timeout does.
class tls_receiver {
public:
  tls_receiver(int port, const std::string& cert, const std::string& key,
               std::chrono::seconds idle_close = 3s)
      : idle_close_(static_cast<int>(idle_close.count())) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) == 1);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~tls_receiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  std::string received() {
    std::lock_guard lock(mutex_);
    return data_;
  }
  /// Connections whose handshake completed.
  int sessions() const { return sessions_; }

private:
  void serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      timeval tv{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) == 1) {
        ++sessions_;
        char buf[4096];
        for (int idle = 0; !stop_ && idle < idle_close_;) {
          const int n = SSL_read(ssl, buf, sizeof buf);
          const int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
          if (n > 0) {
            std::lock_guard lock(mutex_);
            data_.append(buf, static_cast<std::size_t>(n));
            idle = 0;
          } else if (e == SSL_ERROR_WANT_READ ||
                     (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
            ++idle; // quiet for a second (the receive timeout)
          } else {
            break;
          }
        }
      }
      SSL_free(ssl);
      ::close(c);
    }
  }
  int idle_close_;
  std::atomic<int> sessions_{0};
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::string data_;
};

/// How many times `rule` is in syslog frames of `data`.
std::size_t frames_with(const std::string& data, const std::string& rule) {
  std::size_t n = 0;
  const auto needle = rule + " [phantomguard@32473";
  for (auto at = data.find(needle); at != std::string::npos; at = data.find(needle, at + 1))
    ++n;
  return n;
}

} // namespace

SCENARIO("syslog over TLS verifies the receiver - one it cannot verify is an outage, not a leak") {
  if (!fs::exists("/usr/bin/openssl"))
    PG_SKIP("openssl is not installed");
  daemon_dir d;
  const test_certs certs(d);
  const auto& cert = certs.cert;
  const auto& key = certs.key;
  const auto& other = certs.other;
  const int port = free_port();
  tls_receiver server(port, cert, key, 1s);
  std::this_thread::sleep_for(500ms);
  auto sink = [&](const std::string& name, const std::string& ca) {
    return "[sinks." + name +
           "]\ntype = \"syslog\"\ninputs = [\"procfs\"]\naddress = \"tls://127.0.0.1:" +
           std::to_string(port) + "\"\nca_file = \"" + ca +
           "\"\nbatch_delay = \"100ms\"\nretry_initial = \"100ms\"\nretry_max = \"200ms\"\n"
           "breaker_failures = 1000\ndrain_timeout = \"1s\"\n";
  };
  const auto cfg =
      d.config("", sink("trusted", cert) + sink("untrusted", other) + sink("mispinned", cert) +
                       "pin_sha256 = \"" + std::string(64, 'a') + "\"\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 2);
  bool got = false;
  for (int i = 0; i < 200 && !got; ++i) {
    std::this_thread::sleep_for(100ms);
    got = frames_with(server.received(), "engine.reload_failed") >= 2;
  }
  INFO(server.received());
  CHECK(got);
  // Octet-counted frames: "LEN <PRI>1 ...".
  CHECK(std::regex_search(server.received(), std::regex("[0-9]+ <3[0-9]>1 20[0-9-]+T")));
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    std::this_thread::sleep_for(100ms);
    const auto archive = slurp(d.archive());
    refused = archive.find("sink 'untrusted' cannot deliver") != std::string::npos &&
              archive.find("certificate") != std::string::npos &&
              archive.find("sink 'mispinned' cannot deliver") != std::string::npos;
  }
  CHECK(refused);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

SCENARIO("a syslog receiver that closes an idle TLS connection loses nothing: the sink connects "
         "again") {
  if (!fs::exists("/usr/bin/openssl"))
    PG_SKIP("openssl is not installed");
  daemon_dir d;
  const test_certs certs(d);
  const int port = free_port();
  tls_receiver server(port, certs.cert, certs.key, 1s);
  const auto cfg = d.config(
      "", "[sinks.tls]\ntype = \"syslog\"\ninputs = [\"procfs\"]\naddress = \"tls://127.0.0.1:" +
              std::to_string(port) + "\"\nca_file = \"" + certs.cert +
              "\"\nbatch_delay = \"100ms\"\nretry_initial = \"100ms\"\nretry_max = \"200ms\"\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  auto wait_frames = [&](std::size_t n) {
    for (int i = 0; i < 200 && frames_with(server.received(), "engine.reload_failed") < n; ++i)
      std::this_thread::sleep_for(100ms);
    return frames_with(server.received(), "engine.reload_failed");
  };
  raise_findings(p, cfg, 1);
  REQUIRE(wait_frames(1) == 1);
  // The receiver drops the quiet connection after a second; the next findings come later.
  std::this_thread::sleep_for(2500ms);
  p.signal(SIGHUP);
  std::this_thread::sleep_for(150ms);
  p.signal(SIGHUP);
  INFO(server.received());
  CHECK(wait_frames(3) == 3);
  CHECK(server.sessions() >= 2);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

SCENARIO("the http sink sends its token, its headers, gzip and JSON arrays as configured") {
  receiver r;
  daemon_dir d;
  const auto token = d.token_file("collector-token-0123456789");
  const auto cfg = delivery_config(d, r.url(),
                                   "encoding = \"json\"\ngzip = true\ntoken_file = \"" + token +
                                       "\"\nheaders = { X-Tenant = \"plant-3\" }\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 2);
  REQUIRE(arrived(r, "engine.reload_failed", 2, 20s));
  CHECK(r.header("Authorization") == "Bearer collector-token-0123456789");
  CHECK(r.header("X-Tenant") == "plant-3");
  CHECK(r.header("Content-Encoding") == "gzip"); // httplib's server inflated it for us
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.last_body().front() == '[');
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
  // A token file others can read is refused at start: the sink does not run, and says why.
  ::chmod(token.c_str(), 0644);
  cli_process open(
      {"run", "--config", delivery_config(d, r.url(), "token_file = \"" + token + "\"\n")});
  REQUIRE(wait_for(open, "is readable by others (chmod 600)", 10s));
  open.signal(SIGTERM);
  open.wait(15s);
}

SCENARIO("a full disk under the daemon's spool gives spool_full findings and no crash") {
  if (::geteuid() != 0)
    PG_SKIP("mounting a small tmpfs needs root");
  daemon_dir d;
  fs::create_directories(d.state());
  if (::mount("tmpfs", d.state().c_str(), "tmpfs", 0, "size=96k") != 0)
    PG_SKIP(std::string("cannot mount a tmpfs here: ") + std::strerror(errno));
  struct unmount {
    std::string p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{d.state()};
  // Nobody listens: every finding stays in the spool until the 96 KiB are full.
  const auto cfg =
      delivery_config(d, "http://127.0.0.1:" + std::to_string(free_port()) + "/ingest");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 1);
  // Fill the rest of the tmpfs from outside, as another writer would.
  { std::ofstream(d.state() + "/filler") << std::string(96 * 1024, 'x'); }
  raise_findings(p, cfg, 25);
  const bool lost = archive_has(d, "\"cause\":\"spool_full\"");
  CHECK(lost);
  CHECK(p.running());
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}

SCENARIO("the circuit opens after breaker_failures in a row, and Retry-After is honoured") {
  receiver r;
  daemon_dir d;
  GIVEN("a collector that always fails, breaker_failures = 2, breaker_cooldown = 1s") {
    r.set(receiver::mode::fail);
    const auto cfg = d.config(
        "", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\nurl = \"" + r.url() +
                "\"\nbatch_delay = \"50ms\"\nretry_initial = \"50ms\"\nretry_max = \"100ms\"\n"
                "breaker_failures = 2\nbreaker_cooldown = \"1s\"\ndrain_timeout = \"0s\"\n");
    cli_process p({"run", "--config", cfg});
    REQUIRE(wait_for(p, "control socket", 10s));
    raise_findings(p, cfg, 1);
    const int at = r.requests();
    std::this_thread::sleep_for(3s);
    // Without the breaker, 50-100 ms retries would be some 30 attempts in 3 s; with it, two
    // failures and then one probe a second.
    const int attempts = r.requests() - at;
    CHECK(attempts >= 2);
    CHECK(attempts <= 6);
    p.signal(SIGTERM);
    CHECK(p.wait(15s) == 0);
  }
  GIVEN("a collector that answers 503 with Retry-After: 2") {
    r.set(receiver::mode::busy);
    const auto cfg = d.config(
        "", "[sinks.siem]\ntype = \"http\"\ninputs = [\"procfs\"]\nurl = \"" + r.url() +
                "\"\nbatch_delay = \"50ms\"\nretry_initial = \"50ms\"\nbreaker_failures = 100\n"
                "drain_timeout = \"0s\"\n");
    cli_process p({"run", "--config", cfg});
    REQUIRE(wait_for(p, "control socket", 10s));
    raise_findings(p, cfg, 1);
    std::this_thread::sleep_for(4500ms);
    const auto t = r.times();
    REQUIRE(t.size() >= 2);
    for (std::size_t i = 1; i < t.size(); ++i)
      CHECK(t[i] - t[i - 1] >= 1900ms);
    p.signal(SIGTERM);
    CHECK(p.wait(15s) == 0);
  }
}

SCENARIO("https with ca_file and pin_sha256: the collector is verified before anything is sent") {
  if (!fs::exists("/usr/bin/openssl"))
    PG_SKIP("openssl is not installed");
  daemon_dir d;
  const test_certs certs(d);
  const auto& cert = certs.cert;
  const auto& key = certs.key;
  const auto& other = certs.other;
  httplib::SSLServer server(cert.c_str(), key.c_str());
  std::atomic<int> lines{0};
  // Lines of the reload findings: each sink that delivers sends both.
  server.Post("/ingest", [&](const httplib::Request& req, httplib::Response& res) {
    std::istringstream in(req.body);
    for (std::string l; std::getline(in, l);)
      lines += l.find("\"rule\":\"engine.reload_failed\"") != std::string::npos;
    res.status = 200;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  const auto url = "https://127.0.0.1:" + std::to_string(port) + "/ingest";
  auto sink = [&](const std::string& name, const std::string& ca) {
    return "[sinks." + name + "]\ntype = \"http\"\ninputs = [\"procfs\"]\nurl = \"" + url +
           "\"\nca_file = \"" + ca +
           "\"\nbatch_delay = \"50ms\"\nretry_initial = \"100ms\"\n"
           "retry_max = \"200ms\"\nbreaker_failures = 1000\ndrain_timeout = \"0s\"\n";
  };
  // The certificate's own fingerprint, as openssl prints it: the right pin, and a wrong one.
  const auto fp = (d.dir / "fp").string();
  REQUIRE(std::system(("/usr/bin/openssl x509 -noout -fingerprint -sha256 -in " + cert + " > " + fp)
                          .c_str()) == 0);
  auto pin = slurp(fp);
  pin = pin.substr(pin.find('=') + 1, 95);
  auto wrong = pin;
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  const auto cfg = d.config("", sink("trusted", cert) + sink("untrusted", other) +
                                    sink("pinned", cert) + "pin_sha256 = \"" + pin + "\"\n" +
                                    sink("mispinned", cert) + "pin_sha256 = \"" + wrong + "\"\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 2);
  bool refused = false;
  bool mispinned = false;
  for (int i = 0; i < 50 && !(refused && mispinned && lines >= 4); ++i) {
    std::this_thread::sleep_for(100ms);
    const auto archive = slurp(d.archive());
    refused = archive.find("sink 'untrusted' cannot deliver") != std::string::npos;
    mispinned = archive.find("sink 'mispinned' cannot deliver") != std::string::npos;
  }
  CHECK(lines >= 4); // trusted and pinned deliver (untrusted and mispinned send nothing)
  CHECK(lines <= 4);
  CHECK(refused);
  CHECK(mispinned);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
  server.stop();
  t.join();
}

SCENARIO("syslog to a local socket: one datagram per finding, RFC 5424") {
  daemon_dir d;
  const auto path = (d.dir / "log").string();
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto cfg = d.config("", "[sinks.local]\ntype = \"syslog\"\ninputs = [\"procfs\"]\n"
                                "address = \"unix://" +
                                    path + "\"\nbatch_delay = \"50ms\"\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "control socket", 10s));
  raise_findings(p, cfg, 2);
  std::vector<std::string> got;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (got.size() < 2 && std::chrono::steady_clock::now() < until) {
    char buf[9000];
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0 && std::string(buf, static_cast<std::size_t>(n)).find("engine.reload_failed") !=
                     std::string::npos)
      got.emplace_back(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  REQUIRE(got.size() == 2);
  // auth (4) * 8 + err (3) = 35.
  CHECK(got[0].rfind("<35>1 ", 0) == 0);
  CHECK(got[0].find(" engine.reload_failed [phantomguard@32473 id=\"") != std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait(15s) == 0);
}
