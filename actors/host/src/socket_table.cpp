// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/socket_table.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <unordered_set>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

namespace pg::actors::host {

namespace {

struct dir_closer {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
      ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t')
      ++j;
    if (j > i)
      out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <class T>
bool parse_hex(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc{} && p == s.data() + s.size();
}

template <class T>
bool parse_dec(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// "0100007F:1F90" → ("127.0.0.1", 8080). The kernel prints each 32-bit word in host byte order.
bool parse_endpoint(std::string_view text, bool v6, std::string& addr, std::uint16_t& port) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos)
    return false;
  auto hex = text.substr(0, colon);
  if (!parse_hex(text.substr(colon + 1), port))
    return false;
  char buf[INET6_ADDRSTRLEN] = {};
  if (!v6) {
    std::uint32_t a = 0;
    if (hex.size() != 8 || !parse_hex(hex, a))
      return false;
    in_addr in{};
    in.s_addr = a;
    ::inet_ntop(AF_INET, &in, buf, sizeof buf);
  } else {
    if (hex.size() != 32)
      return false;
    in6_addr in6{};
    for (int w = 0; w < 4; ++w) {
      std::uint32_t word = 0;
      if (!parse_hex(hex.substr(static_cast<std::size_t>(w) * 8, 8), word))
        return false;
      std::memcpy(&in6.s6_addr[w * 4], &word, 4);
    }
    ::inet_ntop(AF_INET6, &in6, buf, sizeof buf);
  }
  addr = buf;
  return true;
}

const char* file_name(socket_proto p) {
  switch (p) {
    case socket_proto::tcp: return "tcp";
    case socket_proto::tcp6: return "tcp6";
    case socket_proto::udp: return "udp";
    case socket_proto::udp6: return "udp6";
    case socket_proto::raw: return "raw";
    case socket_proto::raw6: return "raw6";
    case socket_proto::packet: return "packet";
    case socket_proto::unix_stream: return "unix";
  }
  return "";
}

} // namespace

std::string_view to_string(socket_proto p) noexcept { return file_name(p); }

bool socket_entry::listening() const noexcept {
  switch (proto) {
    case socket_proto::tcp:
    case socket_proto::tcp6: return state == 10;
    case socket_proto::udp:
    case socket_proto::udp6: return state == 7 && remote_port == 0; // bound, unconnected
    case socket_proto::unix_stream: return state == 1; // SS_UNCONNECTED with __SO_ACCEPTCON flag below
    default: return false;
  }
}

std::string_view tcp_state_name(int state) noexcept {
  static constexpr std::string_view names[] = {"UNKNOWN",    "ESTABLISHED", "SYN_SENT",
                                               "SYN_RECV",   "FIN_WAIT1",   "FIN_WAIT2",
                                               "TIME_WAIT",  "CLOSE",       "CLOSE_WAIT",
                                               "LAST_ACK",   "LISTEN",      "CLOSING",
                                               "NEW_SYN_RECV"};
  if (state < 0 || state >= static_cast<int>(std::size(names)))
    return "UNKNOWN";
  return names[state];
}

std::vector<socket_entry> parse_socket_table(socket_proto proto, std::string_view text,
                                             std::size_t* malformed) {
  std::vector<socket_entry> out;
  // A table read in chunks while sockets come and go can print one socket twice (the kernel's
  // seq_file resumes by position); a socket is its inode, so a repeated one is kept once.
  std::unordered_set<std::uint64_t> seen;
  std::size_t bad = 0;
  bool header = true;
  std::size_t i = 0;
  while (i < text.size()) {
    auto nl = text.find('\n', i);
    if (nl == std::string_view::npos)
      nl = text.size();
    auto line = text.substr(i, nl - i);
    i = nl + 1;
    if (header) {
      header = false;
      continue;
    }
    auto f = split_ws(line);
    if (f.empty())
      continue;
    socket_entry e;
    e.proto = proto;
    bool ok = false;
    if (proto == socket_proto::packet) {
      // sk RefCnt Type Proto Iface R Rmem User Inode
      std::uint32_t proto_num = 0;
      ok = f.size() >= 9 && parse_hex(f[3], proto_num) && parse_dec(f[7], e.uid) &&
           parse_dec(f[8], e.inode);
      e.local_port = static_cast<std::uint16_t>(proto_num);
      e.local_address = f.size() >= 5 ? std::string(f[4]) : std::string();
    } else if (proto == socket_proto::unix_stream) {
      // Num RefCount Protocol Flags Type St Inode [Path]
      std::uint32_t flags = 0;
      ok = f.size() >= 7 && parse_hex(f[3], flags) && parse_hex(f[5], e.state) &&
           parse_dec(f[6], e.inode);
      if (ok && (flags & 0x10000) == 0 && e.state == 1)
        e.state = 0; // only sockets with __SO_ACCEPTCON are listeners
      if (f.size() >= 8)
        e.local_address = std::string(f[7]);
    } else {
      bool v6 = proto == socket_proto::tcp6 || proto == socket_proto::udp6 ||
                proto == socket_proto::raw6;
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      ok = f.size() >= 10 && parse_endpoint(f[1], v6, e.local_address, e.local_port) &&
           parse_endpoint(f[2], v6, e.remote_address, e.remote_port) && parse_hex(f[3], e.state) &&
           parse_dec(f[7], e.uid) && parse_dec(f[9], e.inode);
    }
    if (!ok)
      ++bad;
    else if (e.inode == 0 || seen.insert(e.inode).second)
      out.push_back(std::move(e));
  }
  if (malformed)
    *malformed = bad;
  return out;
}

std::vector<socket_entry> read_socket_table(socket_proto proto, const std::string& proc_root) {
  auto text = read_file(proc_root + "/net/" + file_name(proto), 64u << 20);
  if (!text)
    return {};
  return parse_socket_table(proto, *text);
}

std::vector<socket_entry> read_all_sockets(const std::string& proc_root) {
  std::vector<socket_entry> all;
  for (auto p : {socket_proto::tcp, socket_proto::tcp6, socket_proto::udp, socket_proto::udp6,
                 socket_proto::raw, socket_proto::raw6, socket_proto::packet}) {
    auto t = read_socket_table(p, proc_root);
    all.insert(all.end(), std::make_move_iterator(t.begin()), std::make_move_iterator(t.end()));
  }
  return all;
}

std::optional<std::map<int, std::uint64_t>> socket_fds(pid_t pid, const std::string& proc_root,
                                                       int* err) {
  std::string dir_path = proc_root + "/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, dir_closer> dir(::opendir(dir_path.c_str()));
  if (!dir) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  std::map<int, std::uint64_t> out;
  while (auto* ent = ::readdir(dir.get())) {
    int fd = 0;
    std::string_view name(ent->d_name);
    if (!parse_dec(name, fd))
      continue;
    auto target = read_link(dir_path + "/" + ent->d_name);
    // "socket:[12345]"
    if (!target || target->rfind("socket:[", 0) != 0 || target->back() != ']')
      continue;
    std::uint64_t inode = 0;
    if (parse_dec(std::string_view(*target).substr(8, target->size() - 9), inode))
      out.emplace(fd, inode);
  }
  return out;
}

socket_owners map_socket_owners(const std::string& proc_root) {
  socket_owners owners;
  for (pid_t pid : list_pids(proc_root)) {
    int err = 0;
    auto fds = socket_fds(pid, proc_root, &err);
    if (!fds) {
      if (!is_vanished(err))
        ++owners.unreadable;
      continue;
    }
    for (const auto& [fd, inode] : *fds) {
      auto& v = owners.by_inode[inode];
      if (v.empty() || v.back() != pid)
        v.push_back(pid);
    }
  }
  return owners;
}

} // namespace pg::actors::host
