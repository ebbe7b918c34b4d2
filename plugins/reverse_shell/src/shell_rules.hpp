// SPDX-License-Identifier: Apache-2.0
// shell_rules.hpp — reverse-shell detection logic, free of engine and SDK types.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::plugins::reverse_shell {

struct match {
  std::string_view rule;
  int severity = 4; // pg_severity: critical
  std::string_view title;
  std::string indicator;
};

inline bool icontains(std::string_view hay, std::string_view needle) noexcept {
  if (needle.size() > hay.size())
    return false;
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         }) != hay.end();
}

inline std::string_view basename(std::string_view path) noexcept {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

/// The first word of a command line (cmdline arrives with NULs replaced by spaces).
inline std::string_view program(std::string_view cmdline) noexcept {
  auto sp = cmdline.find(' ');
  return basename(cmdline.substr(0, sp));
}

inline bool any_of(std::string_view hay, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return icontains(hay, n); });
}

/// Command lines that are reverse shells by construction.
inline std::optional<match> classify_cmdline(std::string_view cmdline) {
  if (cmdline.empty())
    return std::nullopt;
  if (any_of(cmdline, {"/dev/tcp/", "/dev/udp/"}))
    return match{"reverse_shell.dev_tcp", 4, "shell redirected to a network socket (/dev/tcp)",
                 "/dev/tcp"};
  const std::string_view prog = program(cmdline);
  const bool netcat = prog == "nc" || prog == "ncat" || prog == "netcat" ||
                      prog == "nc.traditional" || prog == "nc.openbsd";
  if (netcat && any_of(cmdline, {" -e ", " -c ", " --exec", " --sh-exec", " -e/", " -c/"}))
    return match{"reverse_shell.netcat_exec", 4, "netcat hands a program to a network peer",
                 std::string(prog) + " -e"};
  if (prog == "socat" && any_of(cmdline, {"exec:", "system:"}) &&
      any_of(cmdline, {"tcp:", "tcp4:", "tcp6:", "udp:", "openssl:", "ssl:"}))
    return match{"reverse_shell.socat_exec", 4, "socat connects a program to a network peer",
                 "socat exec"};
  if (any_of(cmdline, {"mkfifo", "mknod"}) &&
      any_of(cmdline, {"nc ", "ncat ", "telnet ", "openssl s_client"}) &&
      any_of(cmdline, {"sh ", "sh -i", "bash", "/bin/sh"}))
    return match{"reverse_shell.fifo_relay", 4, "shell relayed through a named pipe to the network",
                 "mkfifo + nc"};
  const bool interpreter = prog.starts_with("python") || prog.starts_with("perl") ||
                           prog.starts_with("ruby") || prog.starts_with("php") || prog == "node" ||
                           prog.starts_with("lua");
  if (interpreter && any_of(cmdline, {"socket", "fsockopen", "tcpsocket", "net.connect"}) &&
      any_of(cmdline,
             {"dup2", "pty.spawn", "subprocess", "/bin/sh", "/bin/bash", "exec(", "spawn("}))
    return match{"reverse_shell.interpreter_oneliner", 3,
                 "script one-liner connects a shell to a network socket", std::string(prog)};
  return std::nullopt;
}

inline bool is_loopback(std::string_view addr) noexcept {
  return addr.starts_with("127.") || addr == "::1" || addr.starts_with("::ffff:127.");
}

} // namespace pg::plugins::reverse_shell
