// SPDX-License-Identifier: Apache-2.0
#include "cli/http_api.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "phantomguard/runtime/prometheus.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::cli {

namespace {

constexpr std::size_t worker_threads = 4;      // per server
constexpr std::size_t connection_backlog = 16; // accepted, waiting for a worker
constexpr int max_streams = 2;                 // SSE streams at once: the other workers stay free

bool loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]";
}

// Compares without stopping at the first difference: the time taken says nothing of the token.
bool same(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < b.size(); ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ b[i]);
  return diff == 0;
}

/// A secret file: a regular file, and nobody but its owner (or, for `group_ok`, its group) may
/// read it.
void check_secret_file(const std::string& what, const std::string& path, bool group_ok) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("api: cannot read " + what + " " + path + ": " + std::strerror(errno));
  const mode_t forbidden = group_ok ? 007 : 077;
  if (!S_ISREG(st.st_mode) || (st.st_mode & forbidden) != 0)
    throw std::runtime_error(
        "api: " + what + " " + path + " must be a regular file readable by " +
        (group_ok ? "its owner and group only (chmod 640)" : "its owner only (chmod 600)"));
}

std::string read_token(const std::string& path) {
  check_secret_file("token_file", path, false);
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.size() < 16)
    throw std::runtime_error("api: the token in " + path + " is shorter than 16 characters");
  return token;
}

/// cpp-httplib's task queue, bounded: `threads` workers and at most `backlog` accepted
/// connections waiting for one. When the backlog is full the accepting thread waits, so further
/// connections stay in the kernel's listen backlog (and beyond it are refused) instead of
/// holding a descriptor and memory each here.
class bounded_queue final : public httplib::TaskQueue {
public:
  bounded_queue(std::size_t threads, std::size_t backlog) : backlog_(backlog) {
    for (std::size_t i = 0; i < threads; ++i)
      workers_.emplace_back([this] { work(); });
  }
  ~bounded_queue() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return tasks_.size() < backlog_ || shutdown_; });
    tasks_.push_back(std::move(fn));
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    ready_.notify_all();
    space_.notify_all();
    for (auto& t : workers_)
      if (t.joinable())
        t.join();
  }

private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !tasks_.empty() || shutdown_; });
        if (tasks_.empty())
          return; // shut down and drained: every accepted socket has been served and closed
        fn = std::move(tasks_.front());
        tasks_.pop_front();
      }
      space_.notify_one();
      fn();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable space_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> workers_;
  std::size_t backlog_;
  bool shutdown_ = false;
};

/// Closes connections that hold a worker without asking for anything. cpp-httplib bounds each
/// read, but not a request: a client that sends a header byte every few seconds (slowloris)
/// would keep a worker forever, and a thousand of them the whole API. A connection that is not
/// inside a handler (the request read, the answer not yet written) and has not completed a
/// request for `patience` since it was accepted or last answered is shut down. Handlers, the
/// SSE stream included, are never cut. The connections are found in /proc/self/fd: accepted
/// sockets on the API's port (httplib does not hand their descriptors out).
class connection_reaper {
public:
  explicit connection_reaper(std::chrono::milliseconds patience) : patience_(patience) {}
  ~connection_reaper() { stop(); }

  void start(int port) {
    port_ = port;
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }
  /// The request has been read: its handler runs.
  void begin(const std::string& addr, int port) {
    std::lock_guard lock(mutex_);
    auto& c = peers_[addr + "|" + std::to_string(port)];
    c.in_handler = true;
  }
  /// The answer has been written: the clock restarts for the next request.
  void end(const std::string& addr, int port) {
    std::lock_guard lock(mutex_);
    auto& c = peers_[addr + "|" + std::to_string(port)];
    c.in_handler = false;
    c.since = std::chrono::steady_clock::now();
  }
  [[nodiscard]] std::uint64_t cut() const { return cut_.load(); }

private:
  struct peer {
    bool in_handler = false;
    std::chrono::steady_clock::time_point since{};
    bool seen = false;
  };

  /// The peer of `fd` when it is a connection accepted on our port ("" otherwise).
  std::string peer_of(int fd) const {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
      return {};
    int lport = 0;
    if (local.ss_family == AF_INET)
      lport = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    else if (local.ss_family == AF_INET6)
      lport = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    if (lport != port_)
      return {};
    sockaddr_storage remote{};
    len = sizeof remote;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &len) != 0)
      return {}; // the listening socket
    char host[INET6_ADDRSTRLEN] = {};
    int rport = 0;
    if (remote.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&remote);
      ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      rport = ntohs(a->sin_port);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&remote);
      ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      rport = ntohs(a->sin6_port);
    }
    return std::string(host) + "|" + std::to_string(rport);
  }

  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_; });
      if (stop_)
        break;
      lock.unlock();
      std::vector<std::pair<int, std::string>> conns;
      if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(d)) {
          if (e->d_name[0] == '.')
            continue;
          const int fd = std::atoi(e->d_name);
          struct stat st {};
          if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
            continue;
          if (auto key = peer_of(fd); !key.empty())
            conns.emplace_back(fd, std::move(key));
        }
        ::closedir(d);
      }
      const auto now = std::chrono::steady_clock::now();
      std::vector<std::pair<int, std::string>> overdue;
      lock.lock();
      for (auto& [key, p] : peers_)
        p.seen = false;
      for (const auto& [fd, key] : conns) {
        auto [it, fresh] = peers_.try_emplace(key);
        auto& p = it->second;
        if (fresh || p.since == std::chrono::steady_clock::time_point{})
          p.since = now; // first seen: about when it was accepted
        p.seen = true;
        if (!p.in_handler && now - p.since > patience_)
          overdue.emplace_back(fd, key);
      }
      std::erase_if(peers_, [](const auto& kv) { return !kv.second.seen; });
      lock.unlock();
      for (const auto& [fd, key] : overdue) {
        if (peer_of(fd) != key)
          continue;                // closed and reused since the scan
        ::shutdown(fd, SHUT_RDWR); // httplib's worker sees the end and closes it
        cut_.fetch_add(1);
      }
      lock.lock();
    }
  }

  std::chrono::milliseconds patience_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, peer> peers_;
  std::thread thread_;
  std::atomic<std::uint64_t> cut_{0};
  bool stop_ = false;
};

/// Does the scraper prefer OpenMetrics? (Prometheus lists it first in its Accept header.)
bool wants_openmetrics(const std::string& accept) {
  const auto at = accept.find("application/openmetrics-text");
  if (at == std::string::npos)
    return false;
  const auto end = accept.find(',', at);
  const auto part = accept.substr(at, end == std::string::npos ? std::string::npos : end - at);
  return part.find("q=0,") == std::string::npos && !part.ends_with("q=0");
}

/// One SSE event: "id:" (when non-zero), "event:", and the data on one line.
std::string sse(const char* event, const nlohmann::json& data, std::uint64_t id = 0) {
  std::string out;
  if (id)
    out += "id: " + std::to_string(id) + "\n";
  out += "event: ";
  out += event;
  out += "\ndata: ";
  out += data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += "\n\n";
  return out;
}

} // namespace

struct http_api::impl {
  runtime::api_settings settings;
  runtime::engine& eng;
  std::string version;
  api_hooks hooks;
  std::string token;
  std::unique_ptr<httplib::Server> server;  // the TCP API (HTTPS with cert and key)
  std::unique_ptr<httplib::Server> control; // the unix control socket
  std::string control_path;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<int> streams{0};
  connection_reaper reaper{std::chrono::seconds(5)}; // the TCP API's connections

  impl(runtime::api_settings s, runtime::engine& e, std::string v, api_hooks h)
      : settings(std::move(s)), eng(e), version(std::move(v)), hooks(std::move(h)) {}

  [[nodiscard]] bool on_loopback() const {
    return loopback(settings.listen.substr(0, settings.listen.rfind(':')));
  }

  // /api/v1: never open on TCP, not even on loopback: a local unprivileged user must neither
  // read the daemon's state nor trigger a reload. On the control socket the socket's mode
  // (0600) already decided who may connect.
  bool guarded(const httplib::Request& req, httplib::Response& res, bool trusted) const {
    if (trusted)
      return true;
    if (token.empty()) {
      res.status = 403;
      res.set_content("{\"error\": \"set [api] token_file to use /api/v1\"}\n", "application/json");
      return false;
    }
    if (!has_token(req)) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer");
      res.set_content("{\"error\": \"missing or wrong bearer token\"}\n", "application/json");
      return false;
    }
    return true;
  }

  [[nodiscard]] bool has_token(const httplib::Request& req) const {
    const auto header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    return !token.empty() && header.rfind(prefix, 0) == 0 &&
           same(header.substr(prefix.size()), token);
  }

  // /metrics, /healthz, /readyz: open on loopback and on the control socket, else the token.
  bool open_or_token(const httplib::Request& req, httplib::Response& res, bool trusted) const {
    if (trusted || on_loopback() || has_token(req))
      return true;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    return false;
  }

  static void bad_request(httplib::Response& res, const std::string& why) {
    res.status = 400;
    res.set_content(nlohmann::json{{"error", why}}.dump() + "\n", "application/json");
  }

  /// /api/v1/findings?source=file: the lines of a jsonl sink's file, numbered from 1.
  void findings_from_file(const httplib::Request& req, httplib::Response& res, std::uint64_t since,
                          runtime::severity level, std::size_t limit) {
    const auto files = hooks.jsonl_files ? hooks.jsonl_files()
                                         : std::vector<std::pair<std::string, std::string>>{};
    if (files.empty())
      return bad_request(res, "source=file needs a jsonl sink in the running config");
    auto chosen = files.front();
    if (req.has_param("sink")) {
      const auto want = req.get_param_value("sink");
      auto it = std::find_if(files.begin(), files.end(), [&](auto& f) { return f.first == want; });
      if (it == files.end())
        return bad_request(res, "no jsonl sink named '" + want + "'");
      chosen = *it;
    }
    std::ifstream in(chosen.second);
    if (!in) {
      res.status = 404;
      res.set_content(
          nlohmann::json{{"error", "cannot read " + chosen.second + ": " + std::strerror(errno)}}
                  .dump() +
              "\n",
          "application/json");
      return;
    }
    auto items = nlohmann::json::array();
    std::uint64_t line_no = 0;
    std::uint64_t next = since;
    std::uint64_t unreadable = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (line_no <= since || items.size() >= limit)
        continue; // keep counting: `last` is the file's line count
      auto j = nlohmann::json::parse(line, nullptr, false);
      auto f = j.is_discarded() ? std::nullopt : runtime::finding::from_json(j);
      if (!f) {
        ++unreadable; // an event line (include_events) or a torn write
        continue;
      }
      if (f->level < level)
        continue;
      auto out = f->to_json();
      out["seq"] = line_no;
      items.push_back(std::move(out));
      next = line_no;
    }
    res.set_content(nlohmann::json{{"source", "file"},
                                   {"sink", chosen.first},
                                   {"path", chosen.second},
                                   {"findings", items},
                                   {"next", next},
                                   {"last", line_no},
                                   {"skipped_lines", unreadable}}
                            .dump(2) +
                        "\n",
                    "application/json");
  }

  void routes(httplib::Server& srv, bool trusted) {
    // The reaper's view of a request: inside a handler once it has been read whole (body
    // included: a body dribbled slowly is cut like a slow header), out of it once answered.
    auto route = [this, trusted](httplib::Server::Handler h) -> httplib::Server::Handler {
      if (trusted)
        return h;
      return [this, h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
        reaper.begin(req.remote_addr, req.remote_port);
        h(req, res);
      };
    };
    if (!trusted)
      srv.set_logger([this](const httplib::Request& req, const httplib::Response&) {
        reaper.end(req.remote_addr, req.remote_port);
      });
    srv.Get("/", route([](const httplib::Request&, httplib::Response& res) {
              // The page holds no data (it asks for the token), so it is served to anyone; it may
              // talk only to this origin and load nothing from elsewhere.
              res.set_header(
                  "Content-Security-Policy",
                  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                  "connect-src 'self'; img-src data:; form-action 'self'; "
                  "frame-ancestors 'none'; base-uri 'none'");
              res.set_header("X-Content-Type-Options", "nosniff");
              res.set_header("Referrer-Policy", "no-referrer");
              res.set_header("Cache-Control", "no-store");
              const auto page = dashboard_html();
              res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
            }));
    srv.Get("/api/v1/status",
            route([this, trusted](const httplib::Request& req, httplib::Response& res) {
              if (!guarded(req, res, trusted))
                return;
              auto body = hooks.status ? hooks.status() : nlohmann::json::object();
              res.set_content(body.dump(2) + "\n", "application/json");
            }));
    srv.Get("/api/v1/findings",
            route([this, trusted](const httplib::Request& req, httplib::Response& res) {
              if (!guarded(req, res, trusted))
                return;
              std::uint64_t since = 0;
              std::size_t limit = 100;
              auto level = runtime::severity::info;
              try {
                if (req.has_param("since"))
                  since = std::stoull(req.get_param_value("since"));
                if (req.has_param("limit"))
                  limit = std::stoul(req.get_param_value("limit"));
              } catch (const std::exception&) {
                return bad_request(res, "since and limit are numbers");
              }
              if (limit < 1 || limit > 1000)
                return bad_request(res, "limit is 1 to 1000");
              if (req.has_param("severity")) {
                auto parsed = runtime::parse_severity(req.get_param_value("severity"));
                if (!parsed)
                  return bad_request(res, "severity is one of info, low, medium, high, critical");
                level = *parsed;
              }
              const auto source = req.has_param("source") ? req.get_param_value("source") : "ring";
              if (source == "file")
                return findings_from_file(req, res, since, level, limit);
              if (source != "ring")
                return bad_request(res, "source is ring (the default) or file");
              auto body = hooks.findings ? hooks.findings->after(since, level, limit)
                                         : nlohmann::json::object();
              res.set_content(body.dump(2) + "\n", "application/json");
            }));
    srv.Get("/api/v1/stream",
            route([this, trusted](const httplib::Request& req, httplib::Response& res) {
              if (!guarded(req, res, trusted))
                return;
              auto level = runtime::severity::info;
              if (req.has_param("severity")) {
                auto parsed = runtime::parse_severity(req.get_param_value("severity"));
                if (!parsed)
                  return bad_request(res, "severity is one of info, low, medium, high, critical");
                level = *parsed;
              }
              // Resume after the last finding the client saw (its Last-Event-ID), else only new
              // ones.
              std::uint64_t seq = hooks.findings ? hooks.findings->last() : 0;
              try {
                if (req.has_header("Last-Event-ID"))
                  seq = std::stoull(req.get_header_value("Last-Event-ID"));
                else if (req.has_param("since"))
                  seq = std::stoull(req.get_param_value("since"));
              } catch (const std::exception&) {
                return bad_request(res, "Last-Event-ID and since are finding seq numbers");
              }
              if (streams.fetch_add(1) >= max_streams) {
                streams.fetch_sub(1);
                res.status = 503;
                res.set_header("Retry-After", "5");
                res.set_content("{\"error\": \"" + std::to_string(max_streams) +
                                    " streams are open already\"}\n",
                                "application/json");
                return;
              }
              res.set_header("Cache-Control", "no-store");
              res.set_header("X-Accel-Buffering", "no");
              auto next_metrics = std::chrono::steady_clock::now();
              res.set_chunked_content_provider(
                  "text/event-stream",
                  [this, seq, level, next_metrics](std::size_t, httplib::DataSink& sink) mutable {
                    // One round per call: a metrics event every second, findings as they come.
                    if (stopping.load()) {
                      sink.done();
                      return true;
                    }
                    auto now = std::chrono::steady_clock::now();
                    if (now >= next_metrics) {
                      auto m = hooks.status ? hooks.status() : nlohmann::json::object();
                      const auto text = sse("metrics", m);
                      if (!sink.write(text.data(), text.size()))
                        return false; // the client went away
                      next_metrics = now + std::chrono::seconds(1);
                    }
                    if (!hooks.findings) {
                      std::this_thread::sleep_for(next_metrics - now);
                      return true;
                    }
                    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
                        next_metrics - std::chrono::steady_clock::now());
                    if (hooks.findings->wait_newer(
                            seq, std::max(wait, std::chrono::milliseconds(1))) <= seq)
                      return true;
                    auto batch = hooks.findings->after(seq, level, 100);
                    if (batch["dropped_before"].get<std::uint64_t>() > 0) {
                      const auto text = sse("dropped", {{"findings", batch["dropped_before"]}});
                      if (!sink.write(text.data(), text.size()))
                        return false;
                    }
                    for (const auto& f : batch["findings"]) {
                      const auto text = sse("finding", f, f["seq"].get<std::uint64_t>());
                      if (!sink.write(text.data(), text.size()))
                        return false;
                    }
                    // Below the severity filter, findings still move the cursor on.
                    seq = std::max(seq, batch["next"].get<std::uint64_t>());
                    if (batch["findings"].empty())
                      seq = batch["last"].get<std::uint64_t>();
                    return true;
                  },
                  [this](bool) { streams.fetch_sub(1); });
            }));
    srv.Post("/api/v1/reload",
             route([this, trusted](const httplib::Request& req, httplib::Response& res) {
               if (!guarded(req, res, trusted))
                 return;
               if (!hooks.reload) {
                 res.status = 501;
                 return;
               }
               auto [ok, lines] = hooks.reload();
               res.status = ok ? 200 : 422;
               res.set_content(nlohmann::json{{"reloaded", ok}, {"messages", lines}}.dump(2) + "\n",
                               "application/json");
             }));
    // The families' operator actions: POST /api/v1/<family>/<action> (fim/accept ...).
    srv.Post(R"(/api/v1/([a-z][a-z0-9_]*/[a-z][a-z0-9_]*))",
             route([this, trusted](const httplib::Request& req, httplib::Response& res) {
               if (!guarded(req, res, trusted))
                 return;
               const auto* action =
                   runtime::registry::instance().find_api_action(req.matches[1].str());
               auto reply = [&res](int status, const nlohmann::json& body) {
                 res.status = status;
                 res.set_content(body.dump(2) + "\n", "application/json");
               };
               if (action == nullptr) {
                 nlohmann::json known = nlohmann::json::array();
                 for (const auto* a : runtime::registry::instance().api_actions())
                   known.push_back({{"action", "/api/v1/" + a->name}, {"summary", a->summary}});
                 reply(404, {{"error", "no action " + req.path}, {"actions", known}});
                 return;
               }
               auto body = req.body.empty() ? nlohmann::json::object()
                                            : nlohmann::json::parse(req.body, nullptr, false);
               if (body.is_discarded()) {
                 reply(400, {{"error", "the body is not JSON"}});
                 return;
               }
               try {
                 auto [status, answer] = action->run(body, hooks.config_path);
                 reply(status, answer);
               } catch (const std::exception& e) {
                 reply(500, {{"error", std::string("the action failed: ") + e.what()}});
               }
             }));
    srv.Get("/metrics", route([this, trusted](const httplib::Request& req, httplib::Response& res) {
              if (!open_or_token(req, res, trusted))
                return;
              const bool om = wants_openmetrics(req.get_header_value("Accept"));
              auto text = runtime::to_prometheus(eng.metrics(), version, true,
                                                 om ? runtime::exposition_format::openmetrics
                                                    : runtime::exposition_format::prometheus);
              // The API's own figure, before OpenMetrics' closing line.
              std::string own =
                  std::string("# HELP phantomguard_api_connections_cut") + (om ? "" : "_total") +
                  " Connections closed for holding a worker without completing a request.\n"
                  "# TYPE phantomguard_api_connections_cut" +
                  (om ? "" : "_total") + " counter\nphantomguard_api_connections_cut_total " +
                  std::to_string(reaper.cut()) + "\n";
              if (om)
                text.insert(text.size() - std::string("# EOF\n").size(), own);
              else
                text += own;
              res.set_content(text,
                              om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                 : "text/plain; version=0.0.4; charset=utf-8");
            }));
    srv.Get("/healthz", route([this, trusted](const httplib::Request& req, httplib::Response& res) {
              if (!open_or_token(req, res, trusted))
                return;
              res.set_content("ok\n", "text/plain");
            }));
    srv.Get("/readyz", route([this, trusted](const httplib::Request& req, httplib::Response& res) {
              if (!open_or_token(req, res, trusted))
                return;
              auto reasons = hooks.not_ready ? hooks.not_ready() : std::vector<std::string>{};
              if (reasons.empty()) {
                res.set_content("ready\n", "text/plain");
                return;
              }
              res.status = 503;
              res.set_content(nlohmann::json{{"ready", false}, {"reasons", reasons}}.dump() + "\n",
                              "application/json");
            }));
  }

  /// Bounded: a few threads, small requests, short timeouts, few requests per connection. A
  /// slow or hostile client costs one of these threads for at most the timeout, never the
  /// engine.
  static void bound(httplib::Server& srv) {
    srv.new_task_queue = [] { return new bounded_queue(worker_threads, connection_backlog); };
    srv.set_payload_max_length(64 * 1024);
    srv.set_read_timeout(5, 0);
    srv.set_write_timeout(5, 0);
    srv.set_keep_alive_max_count(100);
    srv.set_keep_alive_timeout(5);
  }
};

http_api::http_api(const runtime::api_settings& settings, runtime::engine& eng, std::string version,
                   api_hooks hooks)
    : impl_(std::make_unique<impl>(settings, eng, std::move(version), std::move(hooks))) {}

http_api::~http_api() {
  impl_->stopping = true;
  impl_->reaper.stop();
  if (impl_->hooks.findings)
    impl_->hooks.findings->wake(); // the streams end their round at once
  for (auto* s : {impl_->server.get(), impl_->control.get()})
    if (s)
      s->stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  if (!impl_->control_path.empty())
    ::unlink(impl_->control_path.c_str());
}

std::string http_api::start() {
  auto& s = *impl_;
  if (!s.settings.token_file.empty())
    s.token = read_token(s.settings.token_file);
  if (!s.settings.cert.empty()) {
    check_secret_file("key", s.settings.key, true);
    auto tls =
        std::make_unique<httplib::SSLServer>(s.settings.cert.c_str(), s.settings.key.c_str());
    if (!tls->is_valid())
      throw std::runtime_error("api: cannot load the TLS certificate " + s.settings.cert +
                               " with key " + s.settings.key +
                               " (PEM files, and the key must match the certificate)");
    s.server = std::move(tls);
  } else {
    s.server = std::make_unique<httplib::Server>();
  }
  impl::bound(*s.server);
  s.routes(*s.server, false);
  const auto colon = s.settings.listen.rfind(':');
  std::string host = s.settings.listen.substr(0, colon);
  const int wanted = std::stoi(s.settings.listen.substr(colon + 1));
  if (host == "[::1]")
    host = "::1";
  int port = wanted;
  if (wanted == 0) {
    port = s.server->bind_to_any_port(host);
    if (port <= 0)
      throw std::runtime_error("api: cannot bind " + s.settings.listen);
  } else if (!s.server->bind_to_port(host, wanted)) {
    throw std::runtime_error("api: cannot bind " + s.settings.listen +
                             " (in use, or not an address of this host)");
  }
  s.threads.emplace_back([srv = s.server.get()] { srv->listen_after_bind(); });
  s.reaper.start(port);
  return host + ":" + std::to_string(port);
}

void http_api::start_control_socket(const std::string& path) {
  auto& s = *impl_;
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("control socket: the path " + path + " is longer than " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error("control socket: " + path + " exists and is not a socket");
    // A socket someone answers on belongs to a running daemon; one nobody answers is stale.
    httplib::Client probe(path, 80);
    probe.set_address_family(AF_UNIX);
    probe.set_connection_timeout(1, 0);
    if (probe.Get("/healthz"))
      throw std::runtime_error("control socket: " + path +
                               " is answered by another running daemon (same run_dir)");
    ::unlink(path.c_str());
  }
  s.control = std::make_unique<httplib::Server>();
  impl::bound(*s.control);
  s.control->set_address_family(AF_UNIX);
  s.routes(*s.control, true);
  if (!s.control->bind_to_port(path, 80))
    throw std::runtime_error("control socket: cannot bind " + path + ": " + std::strerror(errno));
  // Only root (the owner) may connect: the socket's mode is the authorization.
  if (::chmod(path.c_str(), 0600) != 0) {
    const std::string why = std::strerror(errno);
    s.control->stop();
    throw std::runtime_error("control socket: cannot chmod 0600 " + path + ": " + why);
  }
  s.control_path = path;
  s.threads.emplace_back([srv = s.control.get()] { srv->listen_after_bind(); });
}

} // namespace pg::cli
