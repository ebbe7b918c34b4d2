// api_support.hpp — what the API tests share: a daemon's folder and config, the port it bound,
// a token file, and a free loopback port for the servers a test starts itself.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace pg::test {

/// The port in the daemon's "api listening on HOST:PORT" line, 0 when not there (yet).
inline int port_of(const std::string& log) {
  std::smatch m;
  if (std::regex_search(log, m, std::regex("api listening on [^ \\n]+:([0-9]+)")))
    return std::stoi(m[1]);
  return 0;
}

/// A folder for one daemon: its config (a procfs source every 500 ms into a jsonl archive,
/// plus the [api] table and anything extra), its state_dir and its files; removed at the end.
struct daemon_dir {
  std::filesystem::path dir;
  daemon_dir() {
    char tmpl[] = "/tmp/pg_cli_api_XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~daemon_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  daemon_dir(const daemon_dir&) = delete;
  daemon_dir& operator=(const daemon_dir&) = delete;

  [[nodiscard]] std::string state() const { return (dir / "state").string(); }
  [[nodiscard]] std::string archive() const { return (dir / "out.jsonl").string(); }

  std::string config(const std::string& api, const std::string& extra = "") const {
    auto path = dir / "pg.toml";
    std::ofstream(path) << "[engine]\nstate_dir = \"" << state()
                        << "\"\nshutdown_timeout = \"5s\"\n[api]\n"
                        << api
                        << "\n[sources.procfs]\ntype = \"procfs\"\ninterval = \"500ms\"\n"
                           "[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"procfs\"]\n"
                           "flush = \"event\"\npath = \""
                        << archive() << "\"\n"
                        << extra;
    return path.string();
  }

  /// A 0600 token file holding `token`.
  std::string token_file(const std::string& token) const {
    auto path = dir / "token";
    std::ofstream(path) << token << "\n";
    ::chmod(path.c_str(), 0600);
    return path.string();
  }
};

/// A loopback port nobody listens on right now.
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

} // namespace pg::test
