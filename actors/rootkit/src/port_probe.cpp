// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/port_probe.hpp"
#include "phantomguard/runtime/unique_fd.hpp"

#include <arpa/inet.h>
#include <bitset>
#include <cerrno>
#include <charconv>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phantomguard/actors/host/socket_table.hpp"

namespace pg::actors::rootkit {

namespace {

using port_set = std::bitset<65536>;

struct table_ports {
  port_set tcp;
  port_set udp;
};

table_ports read_table_ports(const std::string& proc_root) {
  table_ports out;
  using host::socket_proto;
  for (auto p : {socket_proto::tcp, socket_proto::tcp6})
    for (const auto& e : host::read_socket_table(p, proc_root))
      out.tcp.set(e.local_port);
  for (auto p : {socket_proto::udp, socket_proto::udp6})
    for (const auto& e : host::read_socket_table(p, proc_root))
      out.udp.set(e.local_port);
  return out;
}

using socket_fd = runtime::unique_fd;

// 0 when the bind succeeded, else the errno of socket() or bind().
int try_bind(int family, int type, std::uint16_t port) {
  socket_fd s(::socket(family, type | SOCK_CLOEXEC, 0));
  if (s.get() < 0)
    return errno;
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    rc = ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    int one = 1;
    ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_any;
    rc = ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  return rc == 0 ? 0 : errno;
}

struct probe_kind {
  const char* name;
  int family;
  int type;
  bool tcp;
};

} // namespace

std::optional<port_range> parse_port_range(std::string_view text) {
  auto num = [](std::string_view s) -> std::optional<unsigned> {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < 1 || v > 65535)
      return std::nullopt;
    return v;
  };
  auto dash = text.find('-');
  auto a = num(text.substr(0, dash));
  auto b = dash == std::string_view::npos ? a : num(text.substr(dash + 1));
  if (!a || !b || *a > *b)
    return std::nullopt;
  return port_range{static_cast<std::uint16_t>(*a), static_cast<std::uint16_t>(*b)};
}

port_probe_result probe_hidden_ports(const port_probe_options& opts) {
  auto t0 = std::chrono::steady_clock::now();
  port_probe_result res;
  std::vector<probe_kind> kinds;
  if (opts.tcp)
    kinds.push_back({"tcp", AF_INET, SOCK_STREAM, true});
  if (opts.udp)
    kinds.push_back({"udp", AF_INET, SOCK_DGRAM, false});
  if (opts.ipv6 && opts.tcp)
    kinds.push_back({"tcp6", AF_INET6, SOCK_STREAM, true});
  if (opts.ipv6 && opts.udp)
    kinds.push_back({"udp6", AF_INET6, SOCK_DGRAM, false});

  auto tables = read_table_ports(opts.proc_root);
  std::vector<hidden_port> candidates;
  for (const auto& k : kinds) {
    const auto& known = k.tcp ? tables.tcp : tables.udp;
    for (unsigned port = opts.range.first; port <= opts.range.last; ++port) {
      if (known.test(port)) {
        ++res.in_table;
        continue;
      }
      ++res.probed;
      int err = try_bind(k.family, k.type, static_cast<std::uint16_t>(port));
      if (err == 0)
        continue;
      if (err == EADDRINUSE)
        candidates.push_back({k.name, static_cast<std::uint16_t>(port)});
      else if (err == EACCES || err == EPERM)
        ++res.denied;
      else if (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)
        break; // IPv6 disabled: nothing to probe for this kind
      else
        ++res.errors;
    }
  }

  // A connection opened after the tables were read takes a port for a moment; a fresh read of
  // the tables (and a second bind) tells it apart from a hidden socket.
  if (!candidates.empty()) {
    auto fresh = opts.recheck ? read_table_ports(opts.proc_root) : tables;
    for (const auto& c : candidates) {
      bool tcp = c.proto[0] == 't';
      bool v6 = c.proto.size() == 4;
      const auto& known = tcp ? fresh.tcp : fresh.udp;
      bool still = !known.test(c.port);
      if (still && opts.recheck)
        still =
            try_bind(v6 ? AF_INET6 : AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, c.port) == EADDRINUSE;
      if (still)
        res.hidden.push_back(c);
      else
        ++res.transient;
    }
  }
  res.elapsed = std::chrono::steady_clock::now() - t0;
  return res;
}

} // namespace pg::actors::rootkit
