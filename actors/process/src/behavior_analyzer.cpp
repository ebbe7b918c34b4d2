// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/process/behavior_analyzer.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "phantomguard/actors/host/engine_self.hpp"
#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/process/process_analyzer.hpp"

namespace pg::actors::process {

namespace {

using runtime::option_spec;
using runtime::option_type;
using runtime::severity;

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos)
    return {};
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string list_text(const std::vector<std::string>& v) {
  std::string s = "[";
  for (const auto& x : v)
    s += (s.size() > 1 ? ", \"" : "\"") + x + "\"";
  return s + "]";
}

// The event's process, as evidence: what every finding of this analyzer starts from.
nlohmann::json process_evidence(const runtime::event& ev) {
  nlohmann::json j = nlohmann::json::object();
  j["pid"] = ev.get_int("pid");
  j["ppid"] = ev.get_int("ppid");
  j["uid"] = ev.get_int("uid");
  j["euid"] = ev.get_int("euid");
  j["comm"] = std::string(ev.get_string("comm"));
  if (auto exe = ev.get_string("exe"); !exe.empty())
    j["exe"] = std::string(exe);
  if (auto cmd = ev.get_string("cmdline"); !cmd.empty())
    j["cmdline"] = std::string(cmd);
  j["kernel_event"] = std::string(ev.get_string("hook"));
  return j;
}

nlohmann::json process_entity(const runtime::event& ev) {
  nlohmann::json j = {{"pid", ev.get_int("pid")}, {"comm", std::string(ev.get_string("comm"))}};
  if (auto exe = ev.get_string("exe"); !exe.empty())
    j["exe"] = std::string(exe);
  return j;
}

// setuid, setgid, or file capabilities: an exec of such a file may raise credentials.
bool raises_privilege(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0)
    return true; // cannot tell: not reported as an unexplained gain
  if (st.st_mode & (S_ISUID | S_ISGID))
    return true;
  return ::getxattr(path.c_str(), "security.capability", nullptr, 0) > 0;
}

} // namespace

behavior_analyzer::options behavior_analyzer::default_options() {
  options o;
  o.shells = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "tcsh",
              "csh"};
  o.services = {"nginx",    "apache2",   "httpd",  "php-fpm*", "lighttpd", "caddy",
                "mysqld",   "mariadbd",  "postgres", "redis-server", "mongod", "memcached",
                "tomcat*",  "named",     "vsftpd", "proftpd",  "exim4",    "postfix*"};
  o.debuggers = {"gdb", "strace", "ltrace", "lldb", "lldb-server", "gdbserver", "valgrind*",
                 "perf", "rr", "criu"};
  o.jit_allowlist = process_analyzer::default_options().jit_allowlist;
  return o;
}

behavior_analyzer::behavior_analyzer(options opts) : opts_(std::move(opts)) {}

bool behavior_analyzer::is_shell(std::string_view comm, std::string_view exe) const {
  return name_listed(opts_.shells, comm, exe);
}

void behavior_analyzer::remember(std::int64_t pid, proc p) {
  if (procs_.size() >= opts_.max_processes && !procs_.count(pid))
    procs_.erase(procs_.begin()); // bounded: an arbitrary old entry goes (exits were lost)
  procs_[pid] = std::move(p);
}

const behavior_analyzer::proc* behavior_analyzer::parent_of(std::int64_t ppid) {
  if (ppid <= 0)
    return nullptr;
  if (auto it = procs_.find(ppid); it != procs_.end())
    return &it->second;
  // A parent that started before the sensor: /proc, once.
  proc p;
  auto base = opts_.proc_root + "/" + std::to_string(ppid);
  auto st = host::read_proc_stat(static_cast<int>(ppid), opts_.proc_root);
  if (!st)
    return nullptr;
  p.comm = st->comm;
  p.ppid = st->ppid;
  if (auto exe = host::read_link(base + "/exe")) {
    p.exe = *exe;
    constexpr std::string_view deleted = " (deleted)";
    if (p.exe.size() > deleted.size() &&
        p.exe.compare(p.exe.size() - deleted.size(), deleted.size(), deleted) == 0) {
      p.exe_gone = true;
      p.exe.resize(p.exe.size() - deleted.size());
    }
  }
  if (auto cmd = host::read_file(base + "/cmdline", 4096)) {
    p.cmdline = *cmd;
    for (auto& c : p.cmdline)
      if (c == '\0')
        c = ' ';
    while (!p.cmdline.empty() && p.cmdline.back() == ' ')
      p.cmdline.pop_back();
  }
  remember(ppid, std::move(p));
  return &procs_[ppid];
}

// A directory's mode, remembered for a few seconds: execs come from the same few directories.
std::optional<mode_t> behavior_analyzer::dir_mode(const std::string& dir) {
  if (dir.empty())
    return std::nullopt;
  auto now = std::chrono::steady_clock::now();
  if (auto it = dir_modes_.find(dir); it != dir_modes_.end() && now - it->second.at < std::chrono::seconds(5))
    return it->second.mode;
  struct stat st {};
  std::optional<mode_t> mode;
  if (::stat(dir.c_str(), &st) == 0)
    mode = st.st_mode;
  if (dir_modes_.size() >= 1024)
    dir_modes_.clear();
  dir_modes_[dir] = {mode, now};
  return mode;
}

bool behavior_analyzer::new_shell_socket(std::int64_t inode) {
  if (inode == 0)
    return true; // unknown socket: judged by the process alone
  if (!shell_sockets_.insert(inode).second)
    return false;
  shell_socket_order_.push_back(inode);
  if (shell_socket_order_.size() > 4096) {
    shell_sockets_.erase(shell_socket_order_.front());
    shell_socket_order_.pop_front();
  }
  return true;
}

bool behavior_analyzer::first(std::int64_t pid, const std::string& key) {
  return reported_[pid].insert(key).second;
}

void behavior_analyzer::emit(runtime::finding f, const runtime::event& ev,
                             runtime::context& ctx) {
  if (f.entity.empty())
    f.entity = process_entity(ev);
  ctx.count("findings");
  ctx.emit_finding(std::move(f));
}

void behavior_analyzer::on_batch(const runtime::event_batch& batch, runtime::context& ctx) {
  auto now = std::chrono::steady_clock::now();
  for (const auto& ev : batch.events) {
    if (ev.kind == "process_exec")
      on_exec(ev, ctx);
    else if (ev.kind == "process_exit") {
      auto pid = ev.get_int("pid");
      procs_.erase(pid);
      reported_.erase(pid);
      pending_gains_.erase(pid);
    } else if (ev.kind == "socket_dup")
      on_dup(ev, ctx);
    else if (ev.kind == "ptrace")
      on_ptrace(ev, ctx);
    else if (ev.kind == "process_vm_write")
      on_vm_write(ev, ctx);
    else if (ev.kind == "memory_exec")
      on_mem_exec(ev, ctx);
    else if (ev.kind == "credential_change")
      on_cred(ev, ctx);
  }
  // An exec-time gain whose exec never arrived (the exec failed after the credentials were
  // prepared, or its record was lost): judged on the image the process has now.
  for (auto it = pending_gains_.begin(); it != pending_gains_.end();) {
    if (now - it->second.at < std::chrono::seconds(2)) {
      ++it;
      continue;
    }
    auto exe = host::read_link(opts_.proc_root + "/" +
                               std::to_string(it->second.ev.get_int("pid")) + "/exe")
                   .value_or(std::string(it->second.ev.get_string("exe")));
    if (!raises_privilege(exe))
      privilege_finding(it->second.ev, exe, "exec", ctx);
    it = pending_gains_.erase(it);
  }
  ctx.gauge("processes_tracked", static_cast<double>(procs_.size()));
}

void behavior_analyzer::on_exec(const runtime::event& ev, runtime::context& ctx) {
  auto pid = ev.get_int("pid");
  reported_.erase(pid); // a new image: its findings are its own
  std::string comm(ev.get_string("comm"));
  std::string exe(ev.get_string("exe"));
  std::string filename(ev.get_string("filename"));
  proc self;
  self.comm = comm;
  self.exe = exe.empty() ? filename : exe;
  self.cmdline = std::string(ev.get_string("cmdline"));
  self.ppid = ev.get_int("ppid");
  self.exe_gone = ev.get("exe_nlink") && ev.get_int("exe_nlink", 1) == 0;

  // A credential gain inside this exec: explained only by a setuid/setgid or capability file.
  if (auto it = pending_gains_.find(pid); it != pending_gains_.end()) {
    if (!raises_privilege(self.exe))
      privilege_finding(it->second.ev, self.exe, "exec", ctx);
    pending_gains_.erase(it);
  }

  // Fileless: the image has no name in any file system.
  bool fd_path = starts_with(filename, "/dev/fd/") || starts_with(filename, "/proc/self/fd/") ||
                 (starts_with(filename, "/proc/") && filename.find("/fd/") != std::string::npos);
  bool memfd = starts_with(exe, "/memfd:");
  if (self.exe_gone || fd_path || memfd) {
    runtime::finding f;
    f.rule = "process.fileless_exec";
    f.level = severity::critical;
    f.title = memfd || self.exe_gone
                  ? "Program executed from a file with no name (memfd or deleted): fileless"
                  : "Program executed from a file descriptor";
    f.evidence = process_evidence(ev);
    f.evidence["filename"] = filename;
    f.evidence["exe_inode"] = ev.get_int("exe_inode");
    f.evidence["exe_nlink"] = ev.get_int("exe_nlink", 1);
    f.mitre = {"T1620", "T1027.011"};
    if (first(pid, f.rule))
      emit(std::move(f), ev, ctx);
  }

  // World-writable directory: anyone could have put the program there.
  std::string path = self.exe;
  bool own = !self.exe_gone && host::is_engine_process(static_cast<pid_t>(pid),
                                                       static_cast<pid_t>(self.ppid),
                                                       opts_.proc_root);
  if (!own && !self.exe_gone && !memfd && !fd_path && !path.empty() && path.front() == '/') {
    auto dir = dir_of(path);
    auto mode = dir_mode(dir);
    if (mode && (*mode & S_IWOTH)) {
      struct stat st {};
      st.st_mode = *mode;
      runtime::finding f;
      f.rule = "process.exec_world_writable";
      f.level = severity::high;
      f.title = "Program executed from a world-writable directory (" + dir + ")";
      f.evidence = process_evidence(ev);
      f.evidence["directory"] = dir;
      f.evidence["directory_mode"] = st.st_mode & 07777;
      f.evidence["sticky"] = (st.st_mode & S_ISVTX) != 0;
      f.mitre = {"T1105", "T1036"};
      if (first(pid, f.rule))
        emit(std::move(f), ev, ctx);
    }
  }

  bool shell = is_shell(comm, self.exe);
  // Reverse shell at exec: a shell whose input and output are a socket. Reported once per
  // session: a process already reported (its dup2 was seen), the children of one, and any
  // process on a socket already reported (subshells whose fork we never saw) are the same shell.
  auto sockets = ev.get_int("stdio_sockets");
  if (auto it = procs_.find(pid); it != procs_.end() && it->second.reverse_shell)
    self.reverse_shell = true;
  if (auto it = procs_.find(self.ppid); it != procs_.end() && it->second.reverse_shell && sockets)
    self.reverse_shell = true;
  if (shell && (sockets & 1) && (sockets & 6) && !self.reverse_shell &&
      new_shell_socket(ev.get_int("socket_inode"))) {
    self.reverse_shell = true;
    runtime::finding f;
    f.rule = "process.reverse_shell";
    f.level = severity::critical;
    f.title = "Shell started with its input and output on a network socket";
    f.evidence = process_evidence(ev);
    f.evidence["stdio_sockets"] = nlohmann::json::array();
    for (int fd = 0; fd < 3; ++fd)
      if (sockets & (1 << fd))
        f.evidence["stdio_sockets"].push_back(fd);
    f.mitre = {"T1059.004", "T1071"};
    if (first(pid, f.rule))
      emit(std::move(f), ev, ctx);
  }

  // Lineage: who started this shell, or any child of a process running a deleted program.
  if (const auto* parent = parent_of(self.ppid)) {
    runtime::finding f;
    bool sshd_preauth = parent->comm == "sshd" &&
                        (parent->cmdline.find("[net]") != std::string::npos ||
                         parent->cmdline.find("[priv]") != std::string::npos ||
                         parent->cmdline.find("[preauth]") != std::string::npos ||
                         parent->cmdline.find("[listener]") != std::string::npos ||
                         starts_with(parent->cmdline, "/usr/sbin/sshd"));
    if (shell && (name_listed(opts_.services, parent->comm, parent->exe) || sshd_preauth)) {
      f.rule = "process.suspicious_lineage";
      f.level = severity::high;
      f.title = "Shell spawned by " + parent->comm + " (a service that should not start one)";
      f.mitre = {"T1505.003", "T1190"};
    } else if (parent->exe_gone) {
      f.rule = "process.suspicious_lineage";
      f.level = severity::high;
      f.title = "Process spawned by a program whose executable was deleted";
      f.mitre = {"T1070.004"};
    }
    if (!f.rule.empty()) {
      f.evidence = process_evidence(ev);
      f.evidence["parent"] = {{"pid", self.ppid},
                              {"comm", parent->comm},
                              {"exe", parent->exe},
                              {"cmdline", parent->cmdline},
                              {"exe_deleted", parent->exe_gone}};
      if (first(pid, f.rule))
        emit(std::move(f), ev, ctx);
    }
  }
  remember(pid, std::move(self));
}

void behavior_analyzer::on_dup(const runtime::event& ev, runtime::context& ctx) {
  std::string comm(ev.get_string("comm"));
  auto pid = ev.get_int("pid");
  std::string exe(ev.get_string("exe"));
  if (exe.empty())
    if (auto it = procs_.find(pid); it != procs_.end())
      exe = it->second.exe;
  if (!is_shell(comm, exe))
    return;
  runtime::finding f;
  f.rule = "process.reverse_shell";
  f.level = severity::critical;
  f.title = "Shell redirects its standard input/output to a network socket";
  f.evidence = process_evidence(ev);
  f.evidence["oldfd"] = ev.get_int("oldfd");
  f.evidence["newfd"] = ev.get_int("newfd");
  f.evidence["family"] = std::string(ev.get_string("family"));
  if (ev.get("remote_address")) {
    f.evidence["remote_address"] = std::string(ev.get_string("remote_address"));
    f.evidence["remote_port"] = ev.get_int("remote_port");
    f.evidence["local_port"] = ev.get_int("local_port");
  }
  f.mitre = {"T1059.004", "T1071"};
  auto& known = procs_[pid];
  if (known.comm.empty()) {
    known.comm = comm;
    known.exe = exe;
    known.ppid = ev.get_int("ppid");
  }
  if (known.reverse_shell || !new_shell_socket(ev.get_int("socket_inode")))
    return;
  known.reverse_shell = true;
  emit(std::move(f), ev, ctx);
}

void behavior_analyzer::on_ptrace(const runtime::event& ev, runtime::context& ctx) {
  auto pid = ev.get_int("pid");
  auto target = ev.get_int("target_pid");
  if (target == pid)
    return;
  if (name_listed(opts_.debuggers, ev.get_string("comm"), ev.get_string("exe")))
    return;
  std::string request(ev.get_string("request"));
  bool writes = request.rfind("poke", 0) == 0 || request.rfind("setregs", 0) == 0;
  runtime::finding f;
  f.rule = "memory.ptrace_injection";
  f.level = severity::high;
  f.title = writes ? "Process writes into another process through ptrace (" + request + ")"
                   : "Process attaches to another process with ptrace (" + request + ")";
  f.evidence = process_evidence(ev);
  f.evidence["request"] = request;
  f.evidence["target"] = {{"pid", target},
                          {"comm", std::string(ev.get_string("target_comm"))},
                          {"exe", std::string(ev.get_string("target_exe"))}};
  f.mitre = {"T1055.008"};
  if (first(pid, f.rule + ":" + std::to_string(target) + (writes ? ":w" : "")))
    emit(std::move(f), ev, ctx);
}

void behavior_analyzer::on_vm_write(const runtime::event& ev, runtime::context& ctx) {
  auto pid = ev.get_int("pid");
  auto target = ev.get_int("target_pid");
  if (target == pid || name_listed(opts_.debuggers, ev.get_string("comm"), ev.get_string("exe")))
    return;
  runtime::finding f;
  f.rule = "memory.process_vm_write";
  f.level = severity::high;
  f.title = "Process writes into another process's memory (process_vm_writev)";
  f.evidence = process_evidence(ev);
  f.evidence["target"] = {{"pid", target},
                          {"comm", std::string(ev.get_string("target_comm"))},
                          {"exe", std::string(ev.get_string("target_exe"))}};
  f.mitre = {"T1055"};
  if (first(pid, f.rule + ":" + std::to_string(target)))
    emit(std::move(f), ev, ctx);
}

void behavior_analyzer::on_mem_exec(const runtime::event& ev, runtime::context& ctx) {
  auto pid = ev.get_int("pid");
  if (name_listed(opts_.jit_allowlist, ev.get_string("comm"), ev.get_string("exe")))
    return;
  bool anonymous = ev.get_bool("anonymous");
  bool was_writable = ev.get_bool("was_writable");
  runtime::finding f;
  f.rule = "memory.anon_exec";
  f.level = was_writable ? severity::high : severity::medium;
  f.title = std::string(anonymous ? "Anonymous" : "File-backed") +
            (was_writable ? " writable" : "") + " memory made executable (" +
            std::string(ev.get_string("call")) + ")";
  f.evidence = process_evidence(ev);
  f.evidence["call"] = std::string(ev.get_string("call"));
  f.evidence["address"] = std::string(ev.get_string("address"));
  f.evidence["length"] = ev.get_int("length");
  f.evidence["prot"] = std::string(ev.get_string("prot"));
  f.evidence["anonymous"] = anonymous;
  f.evidence["was_writable"] = was_writable;
  f.mitre = {"T1055", "T1620"};
  if (first(pid, f.rule))
    emit(std::move(f), ev, ctx);
}

void behavior_analyzer::on_cred(const runtime::event& ev, runtime::context& ctx) {
  // An escalation is an effective uid becoming root from something else; a root process
  // setting its real uid (sudo after its exec) is not one.
  bool euid_gain = ev.get_int("old_euid") != 0 && ev.get_int("new_euid") == 0;
  bool caps_gain = ev.get_string("caps_gained") != "0x0" && ev.get_int("old_euid") != 0;
  if (ev.get_bool("in_exec")) {
    if (euid_gain || caps_gain)
      pending_gains_[ev.get_int("pid")] = {ev, std::chrono::steady_clock::now()};
    return;
  }
  if (!euid_gain)
    return;
  if (name_listed(opts_.privilege_allowlist, ev.get_string("comm"), ev.get_string("exe")))
    return;
  privilege_finding(ev, std::string(ev.get_string("exe")), "syscall", ctx);
}

void behavior_analyzer::privilege_finding(const runtime::event& cred, const std::string& exe,
                                          const char* how, runtime::context& ctx) {
  auto pid = cred.get_int("pid");
  if (name_listed(opts_.privilege_allowlist, cred.get_string("comm"), exe))
    return;
  runtime::finding f;
  f.rule = "process.privilege_gain";
  f.level = severity::critical;
  f.title = std::string(how) == "exec"
                ? "Process gained privileges through an exec of a file that is neither setuid "
                  "nor has capabilities"
                : "Process raised its effective uid to root outside exec";
  f.evidence = process_evidence(cred);
  if (!exe.empty())
    f.evidence["exe"] = exe;
  f.evidence["how"] = how;
  f.evidence["old_uid"] = cred.get_int("old_uid");
  f.evidence["old_euid"] = cred.get_int("old_euid");
  f.evidence["new_uid"] = cred.get_int("new_uid");
  f.evidence["new_euid"] = cred.get_int("new_euid");
  f.evidence["caps_gained"] = std::string(cred.get_string("caps_gained"));
  f.mitre = {"T1068", "T1548"};
  if (first(pid, f.rule))
    emit(std::move(f), cred, ctx);
}

runtime::component_type behavior_analyzer::type() {
  const auto d = default_options();
  runtime::component_type t;
  t.name = "process_behavior";
  t.kind = runtime::component_kind::analyzer;
  t.description =
      "Rules at the moment of the act, from kernel_events: reverse shells, fileless exec, exec "
      "from world-writable directories, suspicious lineage, privilege gain, ptrace and "
      "process_vm_writev injection, executable anonymous memory (process.*, memory.*).";
  t.consumes = {"process_exec",     "process_exit", "socket_dup", "ptrace",
                "process_vm_write", "memory_exec",  "credential_change"};
  auto list = [](const char* key, const std::vector<std::string>& v, const char* what) {
    return option_spec{key, option_type::string_list, list_text(v), what, false,
                       std::nullopt, std::nullopt, {}};
  };
  t.options = {
      list("shells", d.shells, "comm or exe names of shells (a trailing * matches a prefix)"),
      list("services", d.services, "parents that should never start a shell"),
      list("debuggers", d.debuggers, "tracers whose ptrace and process_vm_writev are expected"),
      list("jit_allowlist", d.jit_allowlist, "runtimes allowed to make memory executable"),
      list("privilege_allowlist", d.privilege_allowlist,
           "programs allowed to raise their effective uid outside exec"),
      {"proc_root", option_type::string, "/proc", "Where procfs is mounted.", false,
       std::nullopt, std::nullopt, {}},
  };
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    auto o = default_options();
    const auto& s = init.settings;
    o.shells = s.get_string_list("shells", o.shells);
    o.services = s.get_string_list("services", o.services);
    o.debuggers = s.get_string_list("debuggers", o.debuggers);
    o.jit_allowlist = s.get_string_list("jit_allowlist", o.jit_allowlist);
    o.privilege_allowlist = s.get_string_list("privilege_allowlist", o.privilege_allowlist);
    o.proc_root = s.get_string("proc_root", o.proc_root);
    return std::make_unique<behavior_analyzer>(std::move(o));
  };
  return t;
}

} // namespace pg::actors::process
