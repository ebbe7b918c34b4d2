// SPDX-License-Identifier: Apache-2.0
// api_support.hpp — what the API tests share: a daemon's folder and config, the port it bound,
// a token file, and a free loopback port for the servers a test starts itself.
#pragma once

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
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

  std::string engine_extra; // more [engine] keys, one per line

  [[nodiscard]] std::string state() const { return (dir / "state").string(); }
  [[nodiscard]] std::string archive() const { return (dir / "out.jsonl").string(); }

  std::string config(const std::string& api, const std::string& extra = "") const {
    auto path = dir / "pg.toml";
    std::ofstream(path) << "[engine]\nstate_dir = \"" << state()
                        << "\"\nshutdown_timeout = \"5s\"\n"
                        << engine_extra << "\n[api]\n"
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

/// Self-signed certificates made by openssl: `cert`/`key` for 127.0.0.1 (its IP in the SAN), and
/// `other`, a certificate of someone else (a CA the receiver's is not signed by).
struct test_certs {
  std::string cert, key, other;
  explicit test_certs(const daemon_dir& d)
      : cert((d.dir / "cert.pem").string()), key((d.dir / "key.pem").string()),
        other((d.dir / "other.pem").string()) {
    auto sh = [](const std::string& cmd) {
      return std::system((cmd + " > /dev/null 2>&1").c_str());
    };
    REQUIRE(sh("/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
               "-addext subjectAltName=IP:127.0.0.1 -keyout " +
               key + " -out " + cert) == 0);
    REQUIRE(sh("/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other "
               "-keyout " +
               (d.dir / "other.key").string() + " -out " + other) == 0);
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
