// SPDX-License-Identifier: Apache-2.0
// `phantomguard status` and `phantomguard top`: what a running daemon is doing, asked over its
// unix control socket (<state_dir>/control.sock, mode 0600) or, when that does not answer,
// its HTTP API with the token from [api] token_file.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "phantomguard/runtime/json_fields.hpp"

namespace pg::cli {

std::string control_socket_path(const runtime::engine_settings& engine) {
  const auto& dir = engine.run_folder();
  return (dir.empty() ? std::string(".") : dir) + "/control.sock";
}

namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) {
  interrupted = 1;
}

/// Where the daemon answers: the control socket, or the HTTP API with its token.
class daemon_client {
public:
  explicit daemon_client(const status_arguments& args, const runtime::pipeline_config& cfg) {
    socket_ = control_socket_path(cfg.engine);
    url_ = args.url;
    if (url_.empty() && !cfg.api.listen.empty())
      url_ = (cfg.api.cert.empty() ? "http://" : "https://") + cfg.api.listen;
    token_file_ = !args.token_file.empty() ? args.token_file : cfg.api.token_file;
    if (!args.url.empty())
      socket_.clear(); // asked for the API explicitly
  }

  /// GET `path`; the JSON body, or nullopt with `error` saying why.
  std::optional<nlohmann::json> get(const std::string& path, std::string& error) {
    if (!socket_.empty() && ::access(socket_.c_str(), F_OK) == 0) {
      httplib::Client c(socket_, 80);
      c.set_address_family(AF_UNIX);
      c.set_connection_timeout(2, 0);
      c.set_read_timeout(5, 0);
      auto r = c.Get(path);
      if (r)
        return parse(*r, "control socket " + socket_, error);
      error = "no daemon answers on the control socket " + socket_ + ": " +
              httplib::to_string(r.error());
      if (url_.empty())
        return std::nullopt;
    }
    if (url_.empty()) {
      error = "no daemon answers: " + socket_ +
              " does not exist (is `phantomguard run` running with this config's run_dir?) "
              "and [api] listen is not set";
      return std::nullopt;
    }
    std::string token;
    if (!token_file_.empty()) {
      std::ifstream in(token_file_);
      if (!in) {
        error = "cannot read the token file " + token_file_ + ": " + std::strerror(errno);
        return std::nullopt;
      }
      std::getline(in, token);
      while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
        token.pop_back();
    }
    httplib::Client c(url_);
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(5, 0);
    c.enable_server_certificate_verification(false); // loopback, self-signed is the norm
    httplib::Headers headers;
    if (!token.empty())
      headers.emplace("Authorization", "Bearer " + token);
    auto r = c.Get(path, headers);
    if (!r) {
      error = "no daemon answers at " + url_ + ": " + httplib::to_string(r.error());
      return std::nullopt;
    }
    return parse(*r, url_, error);
  }

private:
  static std::optional<nlohmann::json> parse(const httplib::Response& r, const std::string& where,
                                             std::string& error) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200) {
      error = where + " answered " + std::to_string(r.status);
      if (!j.is_discarded() && j.contains("error"))
        error += ": " + j["error"].get<std::string>();
      return std::nullopt;
    }
    if (j.is_discarded()) {
      error = where + " answered something that is not JSON";
      return std::nullopt;
    }
    return j;
  }

  std::string socket_;
  std::string url_;
  std::string token_file_;
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

double num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string("-");
}

/// One screen: the daemon, its components, its last findings.
std::string render(const nlohmann::json& status, const nlohmann::json& findings) {
  std::ostringstream out;
  const auto& eng = status.value("engine", nlohmann::json::object());
  char line[512];
  out << "phantomguard " << str(status, "version") << "  pid "
      << pg::runtime::integer_field<long>(status, "pid").value_or(0) << "  config "
      << str(status, "config") << "  generation "
      << pg::runtime::integer_field<std::uint64_t>(status, "generation").value_or(0) << "\n";
  if (const auto p = status.find("profile"); p != status.end() && p->is_object()) {
    if (!str(*p, "requested").empty())
      out << "profile " << str(*p, "name")
          << (str(*p, "requested") == "auto" ? " (auto: " + str(*p, "reason") + ")" : "") << "\n";
    if (const auto a = p->find("auto"); a != p->end() && a->is_array())
      for (const auto& r : *a)
        out << str(r, "key") << " = "
            << pg::runtime::integer_field<std::int64_t>(r, "value").value_or(0) << " ("
            << str(r, "written") << ": " << str(r, "reason") << ")\n";
  }
  const double quota = num(eng, "memory_quota_bytes");
  out << "memory " << human_bytes(num(eng, "rss_bytes"))
      << (quota > 0 ? " of " + human_bytes(quota) : std::string()) << "  cpu ";
  std::snprintf(line, sizeof line, "%.1f%%", num(eng, "cpu_percent"));
  out << line;
  if (num(eng, "cpu_quota_percent") > 0) {
    std::snprintf(line, sizeof line, " of %.0f%%", num(eng, "cpu_quota_percent"));
    out << line;
  }
  out << "  events lost " << static_cast<long long>(num(eng, "events_lost")) << "\n\n";
  std::snprintf(line, sizeof line, "%-20s %-9s %-9s %-10s %9s %9s %7s %6s %10s %8s %6s\n",
                "COMPONENT", "KIND", "STATE", "QUOTA", "IN/S", "OUT/S", "QUEUED", "CPU%", "MEMORY",
                "RESTARTS", "LOST");
  out << line;
  for (const auto& c : status.value("components", nlohmann::json::array())) {
    std::snprintf(
        line, sizeof line, "%-20.20s %-9s %-9s %-10s %9.1f %9.1f %7.0f %6.1f %10s %8.0f %6.0f\n",
        str(c, "name").c_str(), str(c, "kind").c_str(), str(c, "state").c_str(),
        str(c, "quota_step").c_str(), num(c, "events_in_per_second"),
        num(c, "events_out_per_second"), num(c, "queued_events"), num(c, "cpu_percent"),
        human_bytes(num(c, "memory_bytes")).c_str(), num(c, "restarts"), num(c, "events_lost"));
    out << line;
    if (const auto p = c.find("paused"); p != c.end() && p->is_string())
      out << "    paused: " << str(c, "paused") << "\n";
    if (c.contains("last_error"))
      out << "    last error: " << str(c["last_error"], "rule") << " "
          << str(c["last_error"], "title") << "\n";
  }
  const auto& items = findings.value("findings", nlohmann::json::array());
  out << "\nlast findings";
  if (items.empty())
    out << ": none";
  out << "\n";
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    std::snprintf(line, sizeof line, "  %s %-8s %-32s %s\n", str(*it, "time").c_str(),
                  str(*it, "severity").c_str(), str(*it, "rule").c_str(),
                  str(*it, "title").substr(0, 120).c_str());
    out << line;
  }
  return out.str();
}

/// Status and the last `n` findings; nullopt with the reason printed.
std::optional<std::pair<nlohmann::json, nlohmann::json>> fetch(daemon_client& client,
                                                               std::size_t n) {
  std::string error;
  auto status = client.get("/api/v1/status", error);
  if (!status) {
    std::cerr << "phantomguard: " << error << "\n";
    return std::nullopt;
  }
  const auto last = pg::runtime::integer_field<std::uint64_t>(*status, "last_finding").value_or(0);
  const auto since = last > n ? last - n : 0;
  auto findings = client.get(
      "/api/v1/findings?since=" + std::to_string(since) + "&limit=" + std::to_string(n), error);
  if (!findings) {
    std::cerr << "phantomguard: " << error << "\n";
    return std::nullopt;
  }
  return std::make_pair(std::move(*status), std::move(*findings));
}

std::optional<runtime::pipeline_config> config_of(const global_options& global) {
  auto loaded = load_config(global.config_path, global);
  if (!loaded.ok()) {
    print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return std::nullopt;
  }
  return std::move(*loaded.config);
}

} // namespace

int status_command(const global_options& global, const status_arguments& args) {
  auto cfg = config_of(global);
  if (!cfg)
    return 2;
  daemon_client client(args, *cfg);
  auto got = fetch(client, 10);
  if (!got)
    return 3; // as LSB's status: the program is not running (or does not answer)
  if (args.json)
    std::cout << nlohmann::json{{"status", got->first}, {"findings", got->second["findings"]}}.dump(
                     2)
              << "\n";
  else
    std::cout << render(got->first, got->second);
  return 0;
}

int top_command(const global_options& global, const status_arguments& args) {
  auto cfg = config_of(global);
  if (!cfg)
    return 2;
  daemon_client client(args, *cfg);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::size_t shown = 0;
  while (!interrupted && (args.count == 0 || shown < args.count)) {
    auto got = fetch(client, 8);
    if (!got)
      return 3;
    // On a terminal the screen is redrawn in place; into a pipe each frame follows the last.
    std::cout << (tty ? "\x1b[H\x1b[2J" : (shown ? "\n" : "")) << render(got->first, got->second)
              << std::flush;
    ++shown;
    if (args.count != 0 && shown >= args.count)
      break;
    const auto until = std::chrono::steady_clock::now() + args.interval;
    while (!interrupted && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

} // namespace pg::cli
