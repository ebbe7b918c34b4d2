#include "cli/http_api.hpp"

#include <sys/stat.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "phantomguard/runtime/prometheus.hpp"

namespace pg::cli {

namespace {

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

std::string read_token(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("api: cannot read token_file " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
    throw std::runtime_error("api: token_file " + path +
                             " must be a regular file readable by its owner only (chmod 600)");
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.size() < 16)
    throw std::runtime_error("api: the token in " + path + " is shorter than 16 characters");
  return token;
}

} // namespace

struct http_api::impl {
  runtime::api_settings settings;
  runtime::engine& eng;
  std::string version;
  api_hooks hooks;
  std::string token;
  httplib::Server server;
  std::thread thread;

  impl(runtime::api_settings s, runtime::engine& e, std::string v, api_hooks h)
      : settings(std::move(s)), eng(e), version(std::move(v)), hooks(std::move(h)) {}

  // /api/v1: never open, not even on loopback: a local unprivileged user must neither read the
  // daemon's state nor trigger a reload.
  bool guarded(const httplib::Request& req, httplib::Response& res) const {
    if (token.empty()) {
      res.status = 403;
      res.set_content("{\"error\": \"set [api] token_file to use /api/v1\"}\n",
                      "application/json");
      return false;
    }
    if (!authorized(req, false)) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer");
      return false;
    }
    return true;
  }

  bool authorized(const httplib::Request& req, bool open_on_loopback) const {
    const auto host = settings.listen.substr(0, settings.listen.rfind(':'));
    if (open_on_loopback && loopback(host))
      return true;
    if (token.empty())
      return loopback(host); // validate refuses a non-loopback listen without token_file
    const auto header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    return header.rfind(prefix, 0) == 0 && same(header.substr(prefix.size()), token);
  }

  void routes() {
    server.Get("/api/v1/status", [this](const httplib::Request& req, httplib::Response& res) {
      if (!guarded(req, res))
        return;
      auto body = hooks.status ? hooks.status() : nlohmann::json::object();
      res.set_content(body.dump(2) + "\n", "application/json");
    });
    server.Get("/api/v1/findings", [this](const httplib::Request& req, httplib::Response& res) {
      if (!guarded(req, res))
        return;
      auto bad = [&](const std::string& why) {
        res.status = 400;
        res.set_content(nlohmann::json{{"error", why}}.dump() + "\n", "application/json");
      };
      std::uint64_t since = 0;
      std::size_t limit = 100;
      auto level = runtime::severity::info;
      try {
        if (req.has_param("since"))
          since = std::stoull(req.get_param_value("since"));
        if (req.has_param("limit"))
          limit = std::stoul(req.get_param_value("limit"));
      } catch (const std::exception&) {
        return bad("since and limit are numbers");
      }
      if (limit < 1 || limit > 1000)
        return bad("limit is 1 to 1000");
      if (req.has_param("severity")) {
        auto parsed = runtime::parse_severity(req.get_param_value("severity"));
        if (!parsed)
          return bad("severity is one of info, low, medium, high, critical");
        level = *parsed;
      }
      auto body = hooks.findings ? hooks.findings(since, level, limit) : nlohmann::json::object();
      res.set_content(body.dump(2) + "\n", "application/json");
    });
    server.Post("/api/v1/reload", [this](const httplib::Request& req, httplib::Response& res) {
      if (!guarded(req, res))
        return;
      if (!hooks.reload) {
        res.status = 501;
        return;
      }
      auto [ok, lines] = hooks.reload();
      res.status = ok ? 200 : 422;
      res.set_content(nlohmann::json{{"reloaded", ok}, {"messages", lines}}.dump(2) + "\n",
                      "application/json");
    });
    server.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, true)) {
        res.status = 401;
        return;
      }
      res.set_content(runtime::to_prometheus(eng.metrics(), version),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/healthz", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, true)) {
        res.status = 401;
        return;
      }
      res.set_content("ok\n", "text/plain");
    });
    server.Get("/readyz", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, true)) {
        res.status = 401;
        return;
      }
      // Ready: every component runs (or finished); a starting, stopped or disabled one is a
      // reason not to be.
      std::vector<std::string> reasons;
      for (const auto& c : eng.metrics().components) {
        if (c.name == "engine")
          continue;
        auto it = c.gauges.find("status");
        const int status = it == c.gauges.end() ? 0 : static_cast<int>(it->second);
        static const char* names[] = {"starting", "running", "finished", "stopped", "disabled"};
        if (status != 1 && status != 2)
          reasons.push_back(c.name + ": " + names[std::clamp(status, 0, 4)]);
      }
      if (reasons.empty()) {
        res.set_content("ready\n", "text/plain");
        return;
      }
      res.status = 503;
      res.set_content(nlohmann::json{{"ready", false}, {"reasons", reasons}}.dump() + "\n",
                      "application/json");
    });
  }
};

http_api::http_api(const runtime::api_settings& settings, runtime::engine& eng,
                   std::string version, api_hooks hooks)
    : impl_(std::make_unique<impl>(settings, eng, std::move(version), std::move(hooks))) {}

http_api::~http_api() {
  impl_->server.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

std::string http_api::start() {
  auto& s = *impl_;
  if (!s.settings.token_file.empty())
    s.token = read_token(s.settings.token_file);
  // Bounded: two threads, small requests, short timeouts, few requests per connection. A slow
  // or hostile client costs one of these threads for at most the timeout, never the engine.
  s.server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.server.set_payload_max_length(64 * 1024);
  s.server.set_read_timeout(5, 0);
  s.server.set_write_timeout(5, 0);
  s.server.set_keep_alive_max_count(100);
  s.server.set_keep_alive_timeout(5);
  s.routes();
  const auto colon = s.settings.listen.rfind(':');
  std::string host = s.settings.listen.substr(0, colon);
  const int wanted = std::stoi(s.settings.listen.substr(colon + 1));
  if (host == "[::1]")
    host = "::1";
  int port = wanted;
  if (wanted == 0) {
    port = s.server.bind_to_any_port(host);
    if (port <= 0)
      throw std::runtime_error("api: cannot bind " + s.settings.listen);
  } else if (!s.server.bind_to_port(host, wanted)) {
    throw std::runtime_error("api: cannot bind " + s.settings.listen +
                             " (in use, or not an address of this host)");
  }
  s.thread = std::thread([&server = s.server] { server.listen_after_bind(); });
  return host + ":" + std::to_string(port);
}

} // namespace pg::cli
