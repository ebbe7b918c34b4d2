// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/network/network_analyzer.hpp"

#include <algorithm>
#include <charconv>
#include <dirent.h>
#include <map>
#include <memory>
#include <unordered_map>

#include "phantomguard/actors/host/fd_table.hpp"
#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/host/socket_table.hpp"
#include "phantomguard/runtime/refusal.hpp"

namespace pg::actors::network {

namespace host = pg::actors::host;
using host::socket_entry;
using host::socket_proto;
using nlohmann::json;
using runtime::severity;

namespace {

constexpr int cap_sys_ptrace = 19;
constexpr unsigned iff_promisc = 0x100;
constexpr int tcp_established = 1;
constexpr int tcp_syn_sent = 2;

struct dir_closer {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

bool is_inet(socket_proto p) {
  return p == socket_proto::tcp || p == socket_proto::tcp6 || p == socket_proto::udp ||
         p == socket_proto::udp6;
}

bool is_udp(socket_proto p) {
  return p == socket_proto::udp || p == socket_proto::udp6;
}

// What a socket is doing, in words ss(8) would use.
std::string state_text(const socket_entry& s) {
  if (s.proto == socket_proto::packet)
    return "-";
  if (is_udp(s.proto) || s.proto == socket_proto::raw || s.proto == socket_proto::raw6)
    return s.remote_port != 0 ? "ESTABLISHED" : "UNCONN";
  return std::string(host::tcp_state_name(s.state));
}

bool is_connection(const socket_entry& s) {
  if (is_udp(s.proto))
    return s.remote_port != 0;
  return (s.proto == socket_proto::tcp || s.proto == socket_proto::tcp6) &&
         (s.state == tcp_established || s.state == tcp_syn_sent);
}

bool name_matches(std::string_view entry, std::string_view name) {
  if (name.empty())
    return false;
  if (!entry.empty() && entry.back() == '*')
    return name.substr(0, entry.size() - 1) == entry.substr(0, entry.size() - 1);
  return entry == name;
}

struct owner_info {
  pid_t pid = 0;
  std::string comm;
  std::string exe;
  std::int64_t uid = -1;
  bool known = false; // stat was readable
};

// Everything one pass over /proc/PID/fd learns.
struct fd_census {
  std::map<std::uint64_t, std::vector<pid_t>> owners;  // socket inode → pids
  std::map<pid_t, std::map<int, std::uint64_t>> stdio; // pid → {0,1,2} → socket inode
  std::map<pid_t, std::size_t> socket_count;           // pid → sockets held
  std::vector<pid_t> blind;        // processes whose fds we could not (fully) read, same netns
  std::size_t blind_elsewhere = 0; // ... and in another network namespace
};

fd_census take_census(const std::string& proc_root, runtime::context* ctx) {
  fd_census c;
  auto own_ns = host::net_namespace_key(0, proc_root);
  for (pid_t pid : host::list_pids(proc_root)) {
    int err = 0;
    auto table = host::read_fd_table(pid, proc_root, &err);
    if (!table && host::is_vanished(err)) {
      if (ctx)
        ctx->count("vanished");
      continue;
    }
    if (!table || table->denied > 0) {
      // A process in another network namespace cannot own sockets of ours (unless an fd was
      // passed across namespaces, which we accept not to see).
      auto ns = host::net_namespace_key(pid, proc_root);
      if (ns && own_ns && *ns != *own_ns)
        ++c.blind_elsewhere;
      else
        c.blind.push_back(pid);
      if (!table)
        continue;
    }
    for (const auto& [fd, inode] : table->sockets) {
      auto& v = c.owners[inode];
      if (v.empty() || v.back() != pid)
        v.push_back(pid);
      if (fd >= 0 && fd <= 2)
        c.stdio[pid][fd] = inode;
    }
    if (!table->sockets.empty())
      c.socket_count[pid] = table->sockets.size();
  }
  return c;
}

std::string socket_key(const socket_entry& s) {
  return std::string(host::to_string(s.proto)) + ":" + std::to_string(s.inode) + ":" +
         s.local_address + ":" + std::to_string(s.local_port) + ":" + s.remote_address + ":" +
         std::to_string(s.remote_port);
}

json socket_json(const socket_entry& s) {
  json j{{"proto", std::string(host::to_string(s.proto))},
         {"state", state_text(s)},
         {"inode", s.inode},
         {"socket_uid", s.uid}};
  if (s.proto == socket_proto::packet) {
    j["ethertype"] = s.local_port;
    j["ifindex"] = s.local_address;
  } else {
    j["local_address"] = s.local_address;
    j["local_port"] = s.local_port;
    j["remote_address"] = s.remote_address;
    j["remote_port"] = s.remote_port;
  }
  return j;
}

} // namespace

network_analyzer::options network_analyzer::default_options() {
  options o;
  // Metasploit and common backdoor defaults, IRC botnet control, and mining-pool stratum ports.
  o.suspicious_ports =
      *parse_ports({"1337", "3333", "4444", "4445", "5555", "6666", "6667", "6697", "7777", "12345",
                    "14433", "14444", "27374", "31337", "45560", "45700", "54321"});
  // Services the kernel itself listens for, with no process holding the socket: NFS, WireGuard.
  o.kernel_ports = *parse_ports({"2049", "51820"});
  o.packet_allowlist = {"dhclient",       "dhcpcd",         "udhcpc",   "systemd-network",
                        "NetworkManager", "wpa_supplicant", "lldpd",    "dhcpd",
                        "dnsmasq",        "keepalived",     "arpwatch", "hostapd"};
  o.shells = {"sh",   "bash", "dash",    "zsh",     "ksh",    "mksh",  "csh",  "tcsh",
              "fish", "ash",  "busybox", "python*", "perl*",  "ruby*", "php*", "lua*",
              "nc",   "ncat", "netcat",  "socat",   "telnet", "awk",   "gawk", "mawk"};
  return o;
}

std::optional<std::vector<network_analyzer::port_range>>
network_analyzer::parse_ports(const std::vector<std::string>& items, std::string* error) {
  std::vector<port_range> out;
  auto num = [](std::string_view s, unsigned& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size() && v <= 65535;
  };
  for (const auto& item : items) {
    std::string_view s(item);
    auto dash = s.find('-');
    unsigned a = 0;
    unsigned b = 0;
    bool ok = dash == std::string_view::npos
                  ? (num(s, a) && (b = a, true))
                  : (num(s.substr(0, dash), a) && num(s.substr(dash + 1), b) && a <= b);
    if (!ok || a == 0) {
      if (error)
        *error = "ports: \"" + item + "\" is not a port (1-65535) or a range A-B";
      return std::nullopt;
    }
    out.push_back({static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)});
  }
  return out;
}

bool network_analyzer::keep_deterministic(const socket_entry& s, double rate) noexcept {
  if (rate >= 1.0)
    return true;
  if (rate <= 0.0)
    return false;
  // FNV-1a over the 5-tuple: stable across runs and hosts, unlike std::hash.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff; // separator, so ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  mix(host::to_string(s.proto));
  mix(s.local_address);
  mix(std::to_string(s.local_port));
  mix(s.remote_address);
  mix(std::to_string(s.remote_port));
  // A final avalanche step: FNV's low bits are weak for short inputs.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  double unit = static_cast<double>(h >> 11) * 0x1.0p-53;
  return unit < rate;
}

network_analyzer::network_analyzer(options opts)
    : opts_(std::move(opts)), rng_(std::random_device{}()) {}

bool network_analyzer::keep_connection(const socket_entry& s) {
  if (opts_.sampling == sampling_mode::deterministic)
    return keep_deterministic(s, opts_.sampling_rate);
  if (opts_.sampling_rate >= 1.0)
    return true;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < opts_.sampling_rate;
}

namespace {

// Owner identities, read once per tick per process.
class owner_lookup {
public:
  explicit owner_lookup(const std::string& proc_root) : proc_root_(proc_root) {}

  const owner_info& operator()(pid_t pid) {
    auto [it, inserted] = infos_.try_emplace(pid);
    if (inserted) {
      owner_info& o = it->second;
      o.pid = pid;
      if (auto st = host::read_proc_stat(pid, proc_root_)) {
        o.comm = st->comm;
        o.known = true;
      }
      o.exe = host::read_link(proc_root_ + "/" + std::to_string(pid) + "/exe").value_or("");
      if (auto status = host::read_proc_status(pid, proc_root_))
        o.uid = host::status_number(*status, "Uid", 0).value_or(-1);
    }
    return it->second;
  }

  json entity(pid_t pid) {
    const auto& o = (*this)(pid);
    return json{{"pid", pid}, {"comm", o.comm}, {"exe", o.exe}, {"uid", o.uid}};
  }

private:
  const std::string& proc_root_;
  std::unordered_map<pid_t, owner_info> infos_;
};

// Emits a finding the first time its key shows up, and remembers which keys still hold so a
// condition that persists is reported once and one that comes back is reported again.
class reporter {
public:
  reporter(const std::set<std::string>& before, runtime::context& ctx)
      : before_(before), ctx_(ctx) {}

  void operator()(const std::string& key, runtime::finding f) {
    if (!now_.insert(key).second)
      return; // one finding per key and tick, however often the condition was met
    if (!before_.count(key))
      ctx_.emit_finding(std::move(f));
  }

  std::set<std::string> take() { return std::move(now_); }

private:
  const std::set<std::string>& before_;
  runtime::context& ctx_;
  std::set<std::string> now_;
};

bool any_name_matches(const std::vector<std::string>& list, std::string_view name) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& n) { return name_matches(n, name); });
}

bool in_ranges(const std::vector<network_analyzer::port_range>& ranges, std::uint16_t port) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) { return r.contains(port); });
}

void check_suspicious_port(const socket_entry& s, bool listening, const std::vector<pid_t>* owners,
                           const std::string& owner_state, const network_analyzer::options& opts,
                           owner_lookup& owner, reporter& report) {
  if (!is_inet(s.proto))
    return;
  bool inbound = listening && in_ranges(opts.suspicious_ports, s.local_port);
  bool outbound = !inbound && is_connection(s) && in_ranges(opts.suspicious_ports, s.remote_port);
  if (!inbound && !outbound)
    return;
  std::uint16_t port = inbound ? s.local_port : s.remote_port;
  runtime::finding f;
  f.rule = "network.suspicious_port";
  f.level = severity::high;
  f.title = inbound ? "Listening on suspicious port " + std::to_string(port)
                    : "Connection to suspicious port " + std::to_string(port);
  f.entity = owners ? owner.entity(owners->front()) : json{{"owner", owner_state}};
  f.entity["port"] = port;
  f.evidence = socket_json(s);
  f.evidence["direction"] = inbound ? "listen" : "outbound";
  f.evidence["owner"] = owner_state;
  f.mitre = {"T1571"};
  report("suspicious_port:" + socket_key(s), std::move(f));
}

void check_packet_socket(const socket_entry& s, const std::vector<pid_t>* owners,
                         const std::string& owner_state, const network_analyzer::options& opts,
                         owner_lookup& owner, reporter& report, runtime::context& ctx) {
  bool allowed = owners != nullptr;
  if (owners)
    for (pid_t pid : *owners)
      allowed = allowed && any_name_matches(opts.packet_allowlist, owner(pid).comm);
  if (allowed) {
    ctx.count("packet_sockets_allowlisted");
    return;
  }
  runtime::finding f;
  f.rule = "network.packet_socket";
  f.level = severity::medium;
  f.title = owners ? "Raw packet socket (AF_PACKET) held by " + owner(owners->front()).comm
                   : "Raw packet socket (AF_PACKET) with " + owner_state + " owner";
  f.entity = owners ? owner.entity(owners->front()) : json{{"owner", owner_state}};
  f.evidence = socket_json(s);
  f.evidence["owner"] = owner_state;
  if (owners) {
    json all = json::array();
    for (pid_t pid : *owners)
      all.push_back(owner.entity(pid));
    f.evidence["owners"] = std::move(all);
  }
  f.mitre = {"T1040"};
  report("packet_socket:" + std::to_string(s.inode), std::move(f));
}

// fd 0, 1 or 2 on a connected inet socket.
void check_reverse_shells(const std::vector<socket_entry>& sockets, const fd_census& census,
                          const network_analyzer::options& opts, owner_lookup& owner,
                          reporter& report) {
  std::map<std::uint64_t, const socket_entry*> inet_by_inode;
  for (const auto& s : sockets)
    if (is_inet(s.proto) && s.inode != 0)
      inet_by_inode.emplace(s.inode, &s);
  for (const auto& [pid, fds] : census.stdio) {
    json stdio = json::array();
    const socket_entry* sock = nullptr;
    for (const auto& [fd, inode] : fds) {
      auto it = inet_by_inode.find(inode);
      // A listening socket on stdin is an inetd "wait" service, not a shell talking to a peer.
      if (it == inet_by_inode.end() || it->second->listening())
        continue;
      sock = it->second;
      stdio.push_back(fd);
    }
    if (!sock)
      continue;
    const auto& o = owner(pid);
    bool shell = any_name_matches(opts.shells, o.comm);
    runtime::finding f;
    f.rule = "network.reverse_shell";
    // inetd-style services legitimately talk over stdio; a shell or interpreter doing so is
    // the classic reverse shell.
    f.level = shell ? severity::critical : severity::medium;
    f.title =
        (shell ? "Shell " : "Process ") + o.comm + " has its standard streams on a network socket";
    f.entity = owner.entity(pid);
    f.evidence = socket_json(*sock);
    f.evidence["stdio_fds"] = std::move(stdio);
    f.evidence["interpreter"] = shell;
    f.mitre = {"T1059.004", "T1071"};
    report("reverse_shell:" + std::to_string(pid) + ":" + std::to_string(sock->inode),
           std::move(f));
  }
}

// A second read of the tables and the fds, taken at most once per tick and only when a socket
// without an owner would make a finding: the first pass reads the tables before the fds, so a
// socket closed in between looks ownerless, and that must not become a finding.
class second_look {
public:
  explicit second_look(const std::string& proc_root) : proc_root_(proc_root) {}

  const std::vector<socket_entry>& tables() {
    load();
    return tables_;
  }
  const fd_census& census() {
    load();
    return census_;
  }
  /// The socket as the second look shows it (same inode), or nullptr when it is gone.
  const socket_entry* find(std::uint64_t inode) {
    load();
    for (const auto& t : tables_)
      if (t.inode == inode)
        return &t;
    return nullptr;
  }

private:
  void load() {
    if (loaded_)
      return;
    tables_ = host::read_all_sockets(proc_root_);
    census_ = take_census(proc_root_, nullptr);
    loaded_ = true;
  }
  const std::string& proc_root_;
  bool loaded_ = false;
  std::vector<socket_entry> tables_;
  fd_census census_;
};

// Listeners without an owner, confirmed by the second look.
void confirm_unowned(const std::vector<const socket_entry*>& unowned,
                     const network_analyzer::options& opts, second_look& look, reporter& report,
                     runtime::context& ctx) {
  if (unowned.empty() || !look.census().blind.empty())
    return;
  for (const auto* s : unowned) {
    const auto* now = look.find(s->inode);
    if (!now || !now->listening() || look.census().owners.count(s->inode))
      continue;
    if (in_ranges(opts.kernel_ports, s->local_port)) {
      ctx.count("unowned_kernel_ports");
      continue;
    }
    auto proto = std::string(host::to_string(s->proto));
    runtime::finding f;
    f.rule = "network.listener_unowned";
    // An unowned bound UDP socket is more often a kernel service (tunnels, NFS callbacks).
    f.level = is_udp(s->proto) ? severity::medium : severity::high;
    f.title = "Listening socket " + proto + " " + s->local_address + ":" +
              std::to_string(s->local_port) + " owned by no process";
    f.entity = json{{"port", s->local_port}, {"address", s->local_address}, {"proto", proto}};
    f.evidence = socket_json(*s);
    f.mitre = {"T1014", "T1205"};
    report("listener_unowned:" + std::to_string(s->inode), std::move(f));
  }
}

void check_promiscuous(const std::string& sys_root,
                       const std::map<std::string, std::vector<const socket_entry*>>& packet_index,
                       const fd_census& census, owner_lookup& owner, reporter& report,
                       runtime::context& ctx) {
  std::string net_dir = sys_root + "/class/net";
  std::unique_ptr<DIR, dir_closer> dir(::opendir(net_dir.c_str()));
  if (!dir)
    return;
  while (auto* ent = ::readdir(dir.get())) {
    std::string iface = ent->d_name;
    if (iface == "." || iface == "..")
      continue;
    const std::string base = net_dir + "/" + iface;
    auto flags_text = host::read_file(base + "/flags", 64);
    if (!flags_text)
      continue;
    unsigned flags = 0;
    auto first = flags_text->data() + (flags_text->rfind("0x", 0) == 0 ? 2 : 0);
    if (std::from_chars(first, flags_text->data() + flags_text->size(), flags, 16).ec !=
        std::errc{}) {
      ctx.count("malformed_flags");
      continue;
    }
    if (!(flags & iff_promisc))
      continue;
    // A bridge puts its ports in promiscuous mode by design (every Docker veth).
    if (::access((base + "/brport").c_str(), F_OK) == 0) {
      ctx.count("promiscuous_bridge_ports");
      continue;
    }
    auto ifindex = host::read_file(base + "/ifindex", 64).value_or("");
    while (!ifindex.empty() && (ifindex.back() == '\n' || ifindex.back() == ' '))
      ifindex.pop_back();
    // Sockets bound to this interface, and unbound ones (ifindex 0: every interface), which
    // is how a sniffer asks for promiscuous mode with PACKET_ADD_MEMBERSHIP.
    json sniffers = json::array();
    std::vector<std::string> keys{ifindex};
    if (ifindex != "0")
      keys.emplace_back("0");
    for (const auto& key : keys) {
      auto it = packet_index.find(key);
      if (it == packet_index.end())
        continue;
      for (const auto* p : it->second)
        if (auto o = census.owners.find(p->inode); o != census.owners.end())
          for (pid_t pid : o->second)
            sniffers.push_back(owner.entity(pid));
    }
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", flags);
    runtime::finding f;
    f.rule = "network.promiscuous";
    f.level = severity::high;
    f.title = "Interface " + iface + " is in promiscuous mode";
    f.entity = json{{"interface", iface}};
    f.evidence = json{{"flags", hex}, {"ifindex", ifindex}, {"packet_socket_owners", sniffers}};
    f.mitre = {"T1040"};
    report("promiscuous:" + iface, std::move(f));
  }
}

runtime::finding unreadable_finding(const fd_census& census, std::size_t unknown_listeners) {
  bool have = host::has_capability(cap_sys_ptrace);
  runtime::finding f;
  f.rule = "network.unreadable";
  f.level = severity::info;
  f.title = "Socket owners unknown for " + std::to_string(census.blind.size()) +
            (have ? " processes although CAP_SYS_PTRACE is held (protected or other user "
                    "namespace); listeners without a visible owner are reported as unknown"
                  : " processes: CAP_SYS_PTRACE is missing; listeners without a visible "
                    "owner are reported as unknown");
  f.entity = json{{"privilege", host::capability_name(cap_sys_ptrace)}};
  json pids = json::array();
  for (pid_t p : census.blind) {
    if (pids.size() >= 20)
      break;
    pids.push_back(p);
  }
  f.evidence = json{{"privilege", host::capability_name(cap_sys_ptrace)},
                    {"have_privilege", have},
                    {"processes", census.blind.size()},
                    {"pids", std::move(pids)},
                    {"unknown_listeners", unknown_listeners}};
  return f;
}

} // namespace

void network_analyzer::on_tick(runtime::context& ctx) {
  // Tables first, fds second: a socket created in between is owned but not listed (harmless);
  // the reverse order would show new sockets without owners.
  auto sockets = host::read_all_sockets(opts_.proc_root);
  auto census = take_census(opts_.proc_root, &ctx);
  if (ctx.should_stop())
    return;
  owner_lookup owner(opts_.proc_root);
  reporter report(reported_, ctx);

  const bool blind = !census.blind.empty();
  std::size_t listeners = 0;
  std::size_t connections = 0;
  std::size_t packet_sockets = 0;
  std::size_t unknown_listeners = 0;
  std::vector<const socket_entry*> unowned;
  std::vector<const socket_entry*> ownerless;                           // judged on the second look
  std::map<std::string, std::vector<const socket_entry*>> packet_index; // ifindex → sockets

  for (const auto& s : sockets) {
    auto owners_it = census.owners.find(s.inode);
    const std::vector<pid_t>* owners =
        (s.inode != 0 && owners_it != census.owners.end()) ? &owners_it->second : nullptr;
    bool listening = s.listening() && is_inet(s.proto);
    std::string owner_state = owners ? "known" : (blind ? "unknown" : "none");
    if (listening) {
      ++listeners;
      if (!owners && s.inode != 0) {
        if (blind)
          ++unknown_listeners;
        else
          unowned.push_back(&s);
      }
    }
    if (is_connection(s))
      ++connections;
    if (s.proto == socket_proto::packet) {
      ++packet_sockets;
      packet_index[s.local_address].push_back(&s);
    }
    // Inode 0: a connection no process holds any more (closing, or not yet accepted).
    if (s.inode != 0 && owners) {
      check_suspicious_port(s, listening, owners, owner_state, opts_, owner, report);
      if (s.proto == socket_proto::packet)
        check_packet_socket(s, owners, owner_state, opts_, owner, report, ctx);
    } else if (s.inode != 0) {
      ownerless.push_back(&s);
    }

    if (!opts_.emit_sockets)
      continue;
    if (!listening && is_inet(s.proto) && !keep_connection(s)) {
      ctx.count("connections_sampled_out");
      continue;
    }
    runtime::event e;
    e.kind = "socket";
    e.time = ctx.now();
    e.source = ctx.name();
    e.fields.reserve(16);
    e.set("proto", std::string(host::to_string(s.proto)));
    e.set("local_address", s.local_address);
    e.set("local_port", std::int64_t{s.local_port});
    e.set("remote_address", s.remote_address);
    e.set("remote_port", std::int64_t{s.remote_port});
    e.set("state", state_text(s));
    e.set("listening", listening);
    e.set("inode", static_cast<std::int64_t>(s.inode));
    e.set("socket_uid", s.uid);
    e.set("owner", owner_state);
    if (owners) {
      const auto& o = owner(owners->front());
      e.set("pid", std::int64_t{owners->front()});
      e.set("comm", o.comm);
      e.set("exe", o.exe);
      e.set("owners", static_cast<std::int64_t>(owners->size()));
    } else {
      e.set("pid", std::int64_t{-1});
    }
    ctx.emit(std::move(e));
  }

  second_look look(opts_.proc_root);
  for (const auto* s : ownerless) {
    bool suspicious = is_inet(s->proto) &&
                      ((s->listening() && in_ranges(opts_.suspicious_ports, s->local_port)) ||
                       (is_connection(*s) && in_ranges(opts_.suspicious_ports, s->remote_port)));
    if (!suspicious && s->proto != socket_proto::packet)
      continue; // no rule needs an owner for it: no second look
    const auto* now = look.find(s->inode);
    if (!now) {
      ctx.count("vanished_sockets");
      continue;
    }
    auto it = look.census().owners.find(s->inode);
    const std::vector<pid_t>* owners = it != look.census().owners.end() ? &it->second : nullptr;
    std::string state = owners ? "known" : (look.census().blind.empty() ? "none" : "unknown");
    check_suspicious_port(*now, now->listening() && is_inet(now->proto), owners, state, opts_,
                          owner, report);
    if (now->proto == socket_proto::packet)
      check_packet_socket(*now, owners, state, opts_, owner, report, ctx);
  }
  check_reverse_shells(sockets, census, opts_, owner, report);
  confirm_unowned(unowned, opts_, look, report, ctx);
  check_promiscuous(opts_.sys_root, packet_index, census, owner, report, ctx);
  if (blind)
    report("unreadable:" + std::to_string(census.blind.size()) + ":" +
               std::to_string(unknown_listeners),
           unreadable_finding(census, unknown_listeners));
  reported_ = report.take();

  ctx.gauge("sockets", static_cast<double>(sockets.size()));
  ctx.gauge("listeners", static_cast<double>(listeners));
  ctx.gauge("connections", static_cast<double>(connections));
  ctx.gauge("packet_sockets", static_cast<double>(packet_sockets));
  ctx.gauge("unknown_owner_listeners", static_cast<double>(unknown_listeners));
  ctx.gauge("unreadable_processes", static_cast<double>(census.blind.size()));
  update_top_gauges(census.socket_count, ctx, [&](pid_t pid) { return owner(pid).comm; });
}

std::string network_analyzer::snapshot() {
  return json(reported_).dump();
}

void network_analyzer::restore(std::string_view state) {
  auto j = json::parse(state, nullptr, false);
  if (!j.is_array())
    return; // costs only repeated findings
  for (const auto& key : j)
    if (key.is_string())
      reported_.insert(key.get<std::string>());
}

void network_analyzer::update_top_gauges(const std::map<pid_t, std::size_t>& socket_count,
                                         runtime::context& ctx,
                                         const std::function<std::string(pid_t)>& comm_of) {
  std::vector<std::pair<std::size_t, pid_t>> top;
  for (const auto& [pid, n] : socket_count)
    top.emplace_back(n, pid);
  auto n_top = std::min(top.size(), opts_.top_processes);
  std::partial_sort(top.begin(), top.begin() + static_cast<std::ptrdiff_t>(n_top), top.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::set<std::string> names;
  for (std::size_t i = 0; i < n_top; ++i) {
    auto name = "process_sockets." + comm_of(top[i].second) + "." + std::to_string(top[i].second);
    ctx.gauge(name, static_cast<double>(top[i].first));
    names.insert(std::move(name));
  }
  // A process that left the top list drops to 0 rather than showing a stale count.
  for (const auto& old : gauge_names_)
    if (!names.count(old))
      ctx.gauge(old, 0.0);
  gauge_names_ = std::move(names);
}

namespace {

// A port list option ("4444", "6660-6669"). Config validation already checked it is a list of
// strings; integers are accepted too when the component is built directly. A bad item refuses
// the component (the engine disables it and says why), naming the item.
std::vector<network_analyzer::port_range>
port_option(const runtime::component_settings& s, std::string_view key, const std::string& name,
            std::vector<network_analyzer::port_range> fallback) {
  const auto* arr = s.table()[key].as_array();
  if (!arr)
    return fallback;
  std::vector<std::string> items;
  for (const auto& node : *arr) {
    if (auto i = node.value<std::int64_t>())
      items.push_back(std::to_string(*i));
    else if (auto str = node.value<std::string>())
      items.push_back(*str);
    else
      items.push_back("?");
  }
  std::string error;
  auto ports = network_analyzer::parse_ports(items, &error);
  if (!ports)
    throw runtime::component_refused("network.config", name + ": " + std::string(key) +
                                                           error.substr(error.find(':')));
  return std::move(*ports);
}

} // namespace

runtime::component_type network_analyzer::type() {
  using runtime::option_type;
  runtime::component_type t;
  t.name = "network";
  t.kind = runtime::component_kind::analyzer;
  t.description = "Network monitor: sockets mapped to processes, socket events, unowned "
                  "listeners, reverse shells, sniffers and suspicious ports (network.*).";
  t.produces = {"socket"};
  t.options = {
      {"proc_root",
       option_type::string,
       "/proc",
       "Where procfs is mounted.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"sys_root",
       option_type::string,
       "/sys",
       "Where sysfs is mounted.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"suspicious_ports",
       option_type::string_list,
       "[\"1337\", \"3333\", \"4444\", \"4445\", \"5555\", \"6666\", \"6667\", \"6697\", "
       "\"7777\", \"12345\", \"14433\", \"14444\", \"27374\", \"31337\", \"45560\", \"45700\", "
       "\"54321\"]",
       "Backdoor and mining-pool ports: \"4444\" or a range \"6660-6669\".",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"kernel_ports",
       option_type::string_list,
       "[\"2049\", \"51820\"]",
       "Ports of kernel services (NFS, WireGuard) whose listeners no process owns.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"packet_allowlist",
       option_type::string_list,
       "[\"dhclient\", \"dhcpcd\", \"udhcpc\", \"systemd-network\", \"NetworkManager\", ...]",
       "Process names allowed to hold AF_PACKET sockets.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"shells",
       option_type::string_list,
       "[\"sh\", \"bash\", \"dash\", \"python*\", ...]",
       "Process names that make network.reverse_shell critical (a trailing * is a prefix).",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"emit_sockets",
       option_type::boolean,
       "true",
       "Emit a \"socket\" event per socket.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"sampling_rate",
       option_type::floating,
       "1.0",
       "Share of connection events kept (listeners and packet sockets are always kept).",
       false,
       0.0,
       1.0,
       {}},
      {"sampling",
       option_type::string,
       "deterministic",
       "deterministic (hash of the 5-tuple: a connection is always kept or always dropped) or "
       "random.",
       false,
       std::nullopt,
       std::nullopt,
       {"deterministic", "random"}},
      {"top_processes",
       option_type::integer,
       "5",
       "Processes with the most sockets exported as gauges process_sockets.<comm>.<pid>.",
       false,
       0.0,
       100.0,
       {}},
  };
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    auto o = default_options();
    const auto& s = init.settings;
    o.proc_root = s.get_string("proc_root", o.proc_root);
    o.sys_root = s.get_string("sys_root", o.sys_root);
    o.suspicious_ports = port_option(s, "suspicious_ports", init.name, o.suspicious_ports);
    o.kernel_ports = port_option(s, "kernel_ports", init.name, o.kernel_ports);
    o.packet_allowlist = s.get_string_list("packet_allowlist", o.packet_allowlist);
    o.shells = s.get_string_list("shells", o.shells);
    o.emit_sockets = s.get_bool("emit_sockets", o.emit_sockets);
    o.sampling_rate = std::clamp(s.get_double("sampling_rate", o.sampling_rate), 0.0, 1.0);
    o.sampling = s.get_string("sampling", "deterministic") == "random"
                     ? sampling_mode::random
                     : sampling_mode::deterministic;
    o.top_processes =
        static_cast<std::size_t>(std::max<std::int64_t>(0, s.get_int("top_processes", 5)));
    return std::make_unique<network_analyzer>(std::move(o));
  };
  return t;
}

} // namespace pg::actors::network
