// SPDX-License-Identifier: Apache-2.0
// reverse_shell.cpp — the reverse-shell detector plugin. Two signals:
//  - a process whose command line is a reverse shell by construction (/dev/tcp, nc -e, socat
//    exec, mkfifo relays, interpreter one-liners);
//  - a shell process that owns an established connection to a remote peer (socket events carry
//    the owning pid; the shell is known from an earlier process event or the socket's own comm).
//    When the socket is the shell's stdin/stdout/stderr (fd 0-2) that is as certain as it gets.
#include <phantomguard/sdk/detector.hpp>

#include <deque>
#include <set>
#include <unordered_map>

#include "shell_rules.hpp"

namespace {

using namespace pg::plugins::reverse_shell;

class reverse_shell final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "reverse_shell";

  reverse_shell(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), shells_(cfg.get_string_list("shells")),
        ignore_loopback_(cfg.get_bool("ignore_loopback", true)),
        max_tracked_(cfg.get_int("max_tracked", 16384)) {
    if (max_tracked_ <= 0)
      throw pg::sdk::config_error("max_tracked must be positive");
  }

  void on_event(const pg::sdk::event_view& e) override {
    const std::string_view kind = e.kind();
    if (kind == "socket")
      on_socket(e);
    else if (kind == "process_exit")
      processes_.erase(e.get_int("pid", -1));
    else
      on_process(e);
  }

  std::string snapshot() override {
    std::string out;
    for (const auto& r : reported_)
      out += r + "\n";
    return out;
  }
  void restore(std::string_view state) override {
    while (!state.empty()) {
      auto nl = state.find('\n');
      if (auto line = state.substr(0, nl); !line.empty())
        reported_.insert(std::string(line));
      state = nl == std::string_view::npos ? std::string_view{} : state.substr(nl + 1);
    }
  }

  std::vector<pg::sdk::metric> metrics() override {
    return {{"reverse_shell_findings", PG_METRIC_COUNTER, static_cast<double>(findings_)},
            {"reverse_shell_tracked", PG_METRIC_GAUGE, static_cast<double>(processes_.size())}};
  }

private:
  struct process_info {
    std::string comm;
    std::string exe;
    std::string cmdline;
  };

  bool is_shell(std::string_view comm, std::string_view exe) const {
    const std::string_view base = basename(exe);
    for (const auto& s : shells_)
      if (comm == s || base == s)
        return true;
    return false;
  }

  void on_process(const pg::sdk::event_view& e) {
    const std::int64_t pid = e.get_int("pid", -1);
    const std::string_view comm = e.get_string("comm");
    const std::string_view exe = e.get_string("exe");
    const std::string_view cmdline = e.get_string("cmdline");
    if (auto m = classify_cmdline(cmdline)) {
      pg::sdk::finding f(std::string(m->rule), static_cast<pg::sdk::severity>(m->severity),
                         std::string(m->title));
      f.entity("pid", pid).entity("exe", exe).entity("comm", comm);
      f.evidence("indicator", m->indicator).evidence("cmdline", cmdline);
      if (e.has("uid"))
        f.evidence("uid", e.get_int("uid"));
      f.mitre("T1059");
      report(pid, m->rule, f);
    }
    if (pid >= 0 && is_shell(comm, exe)) {
      if (processes_.size() >= static_cast<std::size_t>(max_tracked_) && !order_.empty()) {
        processes_.erase(order_.front());
        order_.pop_front();
      }
      if (processes_.find(pid) == processes_.end())
        order_.push_back(pid);
      if (order_.size() > 2 * static_cast<std::size_t>(max_tracked_))
        compact_order(); // exits leave stale pids behind in order_
      processes_[pid] = process_info{std::string(comm), std::string(exe), std::string(cmdline)};
    }
  }

  void on_socket(const pg::sdk::event_view& e) {
    const std::int64_t pid = e.get_int("pid", -1);
    const std::string_view state = e.get_string("state");
    const std::string_view remote = e.get_string("remote_address");
    const std::string_view proto = e.get_string("proto");
    if (pid < 0 || remote.empty() || remote == "0.0.0.0" || remote == "::")
      return;
    if (!proto.empty() && !proto.starts_with("tcp") && !proto.starts_with("udp"))
      return; // unix, packet and raw sockets do not reach a remote shell operator
    if (proto.starts_with("tcp") && !state.empty() && state != "ESTABLISHED")
      return;
    if (ignore_loopback_ && is_loopback(remote))
      return;
    std::string comm(e.get_string("comm"));
    std::string exe(e.get_string("exe"));
    if (auto it = processes_.find(pid); it != processes_.end()) {
      if (comm.empty())
        comm = it->second.comm;
      if (exe.empty())
        exe = it->second.exe;
    }
    if (!is_shell(comm, exe))
      return;
    const std::int64_t fd = e.get_int("fd", -1);
    const bool stdio = fd >= 0 && fd <= 2;
    const std::string_view rule =
        stdio ? "reverse_shell.stdio_socket" : "reverse_shell.shell_socket";
    pg::sdk::finding f(std::string(rule),
                       stdio ? pg::sdk::severity::critical : pg::sdk::severity::high,
                       stdio ? "shell's standard input/output is a network socket"
                             : "shell process holds a connection to a remote host");
    f.entity("pid", pid).entity("comm", comm).entity("exe", exe);
    f.evidence("remote_address", remote).evidence("remote_port", e.get_int("remote_port"));
    f.evidence("proto", proto);
    if (fd >= 0)
      f.evidence("fd", fd);
    f.mitre("T1059").mitre("T1071");
    report(pid, rule, f);
  }

  void compact_order() {
    std::deque<std::int64_t> live;
    std::set<std::int64_t> seen;
    for (auto p : order_)
      if (processes_.count(p) != 0 && seen.insert(p).second)
        live.push_back(p);
    order_.swap(live);
  }

  void report(std::int64_t pid, std::string_view rule, const pg::sdk::finding& f) {
    std::string key = std::to_string(pid) + ":" + std::string(rule);
    if (!reported_.insert(key).second)
      return; // once per process and rule
    if (reported_.size() > static_cast<std::size_t>(max_tracked_))
      reported_.erase(reported_.begin());
    ++findings_;
    host_.emit(f);
  }

  pg::sdk::host host_;
  std::vector<std::string> shells_;
  bool ignore_loopback_;
  std::int64_t max_tracked_;
  std::unordered_map<std::int64_t, process_info> processes_;
  std::deque<std::int64_t> order_;
  std::set<std::string> reported_;
  std::uint64_t findings_ = 0;
};

} // namespace

PHANTOMGUARD_PLUGIN(reverse_shell)
