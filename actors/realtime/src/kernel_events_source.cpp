// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/kernel_events_source.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

#include "sensor_events.h"

namespace pg::actors::realtime {

namespace {

using runtime::option_spec;
using runtime::option_type;

const std::vector<std::string>& default_kinds() {
  // Every kind but fork: a forking server would flood the pipeline with it (lineage comes from
  // each record's ppid).
  static const std::vector<std::string> k = {
      "exec",     "exit",     "connect", "accept", "bind",       "listen",    "ptrace",
      "vm_write", "memfd",    "mem_exec", "module", "bpf_load",  "cred",      "socket_dup",
      "open_write"};
  return k;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out;
}

template <std::size_t N> std::string bounded(const char (&s)[N]) {
  return std::string(s, ::strnlen(s, N));
}

std::string address(std::uint16_t family, const std::uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET)
    ::inet_ntop(AF_INET, addr, buf, sizeof buf);
  else if (family == AF_INET6)
    ::inet_ntop(AF_INET6, addr, buf, sizeof buf);
  return buf;
}

const char* family_name(std::uint16_t family) {
  switch (family) {
  case AF_INET:
    return "inet";
  case AF_INET6:
    return "inet6";
  case AF_UNIX:
    return "unix";
  default:
    return "other";
  }
}

const char* protocol_name(std::uint16_t proto) {
  switch (proto) {
  case 6:
    return "tcp";
  case 17:
    return "udp";
  case 0:
    return "";
  default:
    return "other";
  }
}

const char* ptrace_request(std::int64_t r) {
  switch (r) {
  case 4:
    return "poketext";
  case 5:
    return "pokedata";
  case 6:
    return "pokeuser";
  case 13:
    return "setregs";
  case 16:
    return "attach";
  case 0x4205:
    return "setregset";
  case 0x4206:
    return "seize";
  default:
    return "other";
  }
}

std::string prot_text(std::uint32_t prot) {
  std::string s;
  s += (prot & 1) ? 'r' : '-';
  s += (prot & 2) ? 'w' : '-';
  s += (prot & 4) ? 'x' : '-';
  return s;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string args_to_cmdline(const char* args, std::size_t len) {
  std::string out(args, len);
  while (!out.empty() && out.back() == '\0')
    out.pop_back();
  std::replace(out.begin(), out.end(), '\0', ' ');
  return out;
}

} // namespace

std::vector<option_spec> kernel_events_options() {
  std::vector<option_spec> v;
  v.push_back({"mode",
               option_type::string,
               "auto",
               "auto: the eBPF sensor when it can run here, else the process_events collector "
               "(netlink, else /proc polling); bpf (fail when it cannot); netlink; poll",
               false,
               {},
               {},
               {"auto", "bpf", "netlink", "poll"}});
  v.push_back({"kinds",
               option_type::string_list,
               "[\"exec\", \"exit\", \"connect\", \"accept\", \"bind\", \"listen\", \"ptrace\", "
               "\"vm_write\", \"memfd\", \"mem_exec\", \"module\", \"bpf_load\", \"cred\", "
               "\"socket_dup\", \"open_write\"]",
               "the kernel events to collect (also \"fork\"); a kind left out is not hooked at all",
               false,
               {},
               {},
               {}});
  v.push_back({"ring_size",
               option_type::size,
               "1MiB",
               "the BPF ring buffer (rounded up to a power of two); records it has no room for "
               "are counted and reported as lost (kernel_ringbuf)",
               false,
               4096,
               1073741824,
               {}});
  v.push_back({"sample",
               option_type::table,
               "",
               "one-in-N sampling per kind, counted (sampled_out_<kind>): { mem_exec = 10 }",
               false,
               {},
               {},
               {}});
  v.push_back({"ignore_uids",
               option_type::string_list,
               "[]",
               "user ids whose events the kernel does not send (\"1000\", ...)",
               false,
               {},
               {},
               {}});
  v.push_back({"ignore_comms",
               option_type::string_list,
               "[]",
               "process names (comm, up to 15 characters) whose events the kernel does not send",
               false,
               {},
               {},
               {}});
  v.push_back({"ignore_cgroups",
               option_type::string_list,
               "[]",
               "cgroup ids (v2) whose events the kernel does not send",
               false,
               {},
               {},
               {}});
  // The queue and the fallback's polling are process_events' own options.
  for (auto& o : process_events_options())
    if (o.key == "max_pending" || o.key == "poll_interval")
      v.push_back(std::move(o));
  return v;
}

std::vector<std::string> kernel_events_produces() {
  return {"process_exec",  "process_exit",     "process_fork", "net_connect",  "net_accept",
          "net_bind",      "net_listen",       "socket_dup",   "ptrace",       "process_vm_write",
          "memfd_create",  "memory_exec",      "module_load",  "module_unload", "bpf_load",
          "credential_change", "file_open_write"};
}

namespace {

std::uint64_t parse_number(const std::string& text, const char* what) {
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw std::invalid_argument(std::string("kernel_events: ") + what + ": '" + text +
                                "' is not a number");
  return v;
}

} // namespace

kernel_events_settings kernel_events_settings::from(const runtime::component_settings& s) {
  kernel_events_settings r;
  r.mode = s.get_string("mode", "auto");
  if (r.mode != "auto" && r.mode != "bpf" && r.mode != "netlink" && r.mode != "poll")
    throw std::invalid_argument("kernel_events: mode must be auto, bpf, netlink or poll, not '" +
                                r.mode + "'");
  for (const auto& name : s.get_string_list("kinds", default_kinds())) {
    auto kinds = kernel_kinds_named(name);
    if (kinds.empty())
      throw std::invalid_argument("kernel_events: kinds: unknown kind '" + name + "' (known: " +
                                  join(default_kinds()) + ", fork)");
    for (auto k : kinds)
      r.sensor.kinds |= 1u << static_cast<unsigned>(k);
  }
  r.sensor.ring_size = static_cast<std::size_t>(s.get_size("ring_size", 1u << 20));
  if (const auto* sample = s.table().get_as<toml::table>("sample")) {
    for (const auto& [key, value] : *sample) {
      auto kinds = kernel_kinds_named(key.str());
      if (kinds.empty())
        throw std::invalid_argument("kernel_events: sample: unknown kind '" +
                                    std::string(key.str()) + "'");
      auto n = value.value<std::int64_t>();
      if (!n || *n < 1 || *n > 1000000)
        throw std::invalid_argument("kernel_events: sample." + std::string(key.str()) +
                                    " must be a whole number from 1 to 1000000 (one in N)");
      for (auto k : kinds)
        r.sensor.sample[static_cast<std::size_t>(k)] = static_cast<std::uint32_t>(*n);
    }
  }
  for (const auto& u : s.get_string_list("ignore_uids"))
    r.sensor.ignore_uids.push_back(static_cast<std::uint32_t>(parse_number(u, "ignore_uids")));
  for (const auto& c : s.get_string_list("ignore_comms")) {
    if (c.empty() || c.size() > 15)
      throw std::invalid_argument("kernel_events: ignore_comms: '" + c +
                                  "' is not a process name (1 to 15 characters)");
    r.sensor.ignore_comms.push_back(c);
  }
  for (const auto& c : s.get_string_list("ignore_cgroups"))
    r.sensor.ignore_cgroups.push_back(parse_number(c, "ignore_cgroups"));
  r.max_pending = static_cast<std::size_t>(s.get_int("max_pending", 65536));
  r.fallback.poll_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      s.get_duration("poll_interval", std::chrono::milliseconds(250)));
  if (r.fallback.poll_interval.count() < 10)
    r.fallback.poll_interval = std::chrono::milliseconds(10);
  r.fallback.max_pending = r.max_pending;
  r.fallback.proc_root = s.get_string("proc_root", "/proc");
  return r;
}

kernel_events_source::kernel_events_source(kernel_events_settings settings)
    : settings_(std::move(settings)) {
  ticks_per_second_ = std::max(1L, ::sysconf(_SC_CLK_TCK));
}

kernel_events_source::~kernel_events_source() {
  join();
}

std::string kernel_events_source::active_mode() const {
  if (sensor_)
    return "bpf";
  return fallback_ ? fallback_->active_mode() : std::string{};
}

void kernel_events_source::start(runtime::context& ctx) {
  name_ = ctx.name();
  if (settings_.one_pass) {
    ctx.log(runtime::log_level::debug,
            "kernel_events: a one-pass scan: nothing happens to watch, the sensor stays unloaded");
    return;
  }
  if (settings_.mode == "netlink" || settings_.mode == "poll") {
    auto fb = settings_.fallback;
    fb.mode = settings_.mode;
    fallback_ = std::make_unique<process_events_source>(fb);
    fallback_->start(ctx);
    return;
  }
  auto options = settings_.sensor;
  options.self_tgid = static_cast<std::uint32_t>(::getpid());
  std::string why;
  sensor_ = kernel_sensor::open(options, &why, &missing_);
  if (!sensor_) {
    if (settings_.mode == "bpf")
      throw std::runtime_error("kernel_events: the eBPF sensor cannot run: " + why);
    limitation_ = why;
    auto fb = settings_.fallback;
    fb.mode = "auto";
    fallback_ = std::make_unique<process_events_source>(fb);
    fallback_->start(ctx);
    ctx.log(runtime::log_level::warn,
            "kernel_events: no eBPF sensor (" + why + "): collecting via " +
                fallback_->active_mode());
    return;
  }
  for (const auto& u : sensor_->unavailable())
    ctx.log(runtime::log_level::info, "kernel_events: not on this kernel: " + u);
  ctx.gauge("programs_attached", static_cast<double>(sensor_->attached()));
  ctx.gauge("ring_size_bytes", static_cast<double>(sensor_->ring_size()));
  ctx.gauge("kinds_unavailable", static_cast<double>(sensor_->unavailable().size()));

  // Processes that started before us: their exits and acts get a name and an exe.
  for (int pid : host::list_pids_raw(settings_.fallback.proc_root))
    table_.emplace(pid, read_process_info(pid, settings_.fallback.proc_root));
  ctx.gauge("processes_known", static_cast<double>(table_.size()));

  stopping_ = false;
  thread_ = ctx.threads().start([this] { run(); });
  ctx.log(runtime::log_level::info,
          "kernel_events: collecting via the eBPF sensor (" +
              std::to_string(sensor_->attached()) + " programs, ring " +
              std::to_string(sensor_->ring_size() >> 10) + " KiB)");
}

void kernel_events_source::join() {
  if (thread_.joinable()) {
    stopping_ = true;
    thread_.join();
  }
}

void kernel_events_source::push(runtime::event ev) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= settings_.max_pending) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(std::move(ev));
}

void kernel_events_source::on_record(void* self, const void* data, std::size_t size) {
  auto* me = static_cast<kernel_events_source*>(self);
  runtime::event ev;
  if (!me->convert(data, size, ev)) {
    std::lock_guard lock(me->mutex_);
    ++me->malformed_;
    return;
  }
  me->push(std::move(ev));
}

void kernel_events_source::prune() {
  // On the collection thread: a listing that fails (fd limit) prunes nothing this time rather
  // than forgetting every process.
  auto listed = host::try_list_pids(settings_.fallback.proc_root); // sorted
  if (!listed) {
    std::lock_guard lock(mutex_);
    ++listing_failures_;
    return;
  }
  const auto& live = *listed;
  for (auto it = table_.begin(); it != table_.end();)
    it = std::binary_search(live.begin(), live.end(), it->first) ? std::next(it)
                                                                 : table_.erase(it);
}

void kernel_events_source::run() {
  auto last_prune = std::chrono::steady_clock::now();
  while (!stopping_) {
    // Woken when a batch waits; otherwise every 100 ms (the source's tick) what arrived is read.
    int n = sensor_->poll(100, &kernel_events_source::on_record, this);
    if (n >= 0)
      n = sensor_->consume(&kernel_events_source::on_record, this);
    if (n < 0 && n != -EINTR) {
      std::lock_guard lock(mutex_);
      thread_error_ = std::string("ring buffer poll failed: ") + std::strerror(-n);
      return;
    }
    // An exit the ring had no room for would leave its entry behind: once a minute the table
    // is cut back to the processes /proc lists.
    if (std::chrono::steady_clock::now() - last_prune > std::chrono::seconds(60)) {
      last_prune = std::chrono::steady_clock::now();
      prune();
    }
  }
  sensor_->consume(&kernel_events_source::on_record, this); // what came before the stop
}

// The path of the image an exec runs. Programs are executed by the same names again and again:
// a name whose inode is the one resolved before costs no system call. Otherwise /proc's link
// when it still names this image (the inode matches), else the name's real path, else the name.
std::string kernel_events_source::resolve_exe(int pid, const std::string& filename,
                                              std::uint64_t inode) {
  if (filename.empty())
    return {};
  if (auto it = exe_cache_.find(filename); it != exe_cache_.end() && it->second.inode == inode)
    return it->second.path;
  std::string exe;
  std::string link = settings_.fallback.proc_root + "/" + std::to_string(pid) + "/exe";
  struct stat st {};
  if (::stat(link.c_str(), &st) == 0 && st.st_ino == inode)
    if (auto l = host::read_link(link))
      exe = *l;
  bool by_name = filename.front() == '/' && filename.rfind("/dev/fd/", 0) != 0 &&
                 filename.rfind("/proc/", 0) != 0;
  if (exe.empty() && by_name) {
    char real[PATH_MAX];
    exe = ::realpath(filename.c_str(), real) ? std::string(real) : filename;
  }
  // Only names that stand for a file are remembered (not /dev/fd/N, not relative ones).
  if (by_name && !exe.empty() && exe.find(" (deleted)") == std::string::npos) {
    if (exe_cache_.size() >= 1024)
      exe_cache_.clear();
    exe_cache_[filename] = {exe, inode};
  }
  return exe;
}

bool kernel_events_source::convert(const void* data, std::size_t size, runtime::event& e) {
  if (size < sizeof(pg_hdr))
    return false;
  pg_hdr h;
  std::memcpy(&h, data, sizeof h);
  auto need = [&](std::size_t n) { return size >= n; };
  e.time = runtime::wall_clock::now();
  e.source = name_;
  e.fields.reserve(20); // the widest kind's fields: one allocation
  e.set("pid", std::int64_t{h.pid});
  if (h.tid != h.pid)
    e.set("tid", std::int64_t{h.tid});
  e.set("ppid", std::int64_t{h.ppid});
  e.set("uid", std::int64_t{h.uid});
  e.set("euid", std::int64_t{h.euid});
  e.set("gid", std::int64_t{h.gid});
  e.set("comm", bounded(h.comm));
  e.set("cgroup_id", static_cast<std::int64_t>(h.cgroup_id));
  e.set("via", std::string("kernel"));
  auto known = [&](int pid) -> const process_info* {
    auto it = table_.find(pid);
    return it == table_.end() ? nullptr : &it->second;
  };
  auto with_exe = [&] {
    if (const auto* p = known(static_cast<int>(h.pid))) {
      if (!p->exe.empty())
        e.set("exe", p->exe);
      if (!p->cmdline.empty())
        e.set("cmdline", p->cmdline);
    }
  };
  switch (h.kind) {
  case PG_EV_EXEC: {
    // The record ends with the argv bytes it uses: the fixed part must be there, and argv no
    // longer than what arrived.
    constexpr std::size_t fixed = offsetof(pg_exec_event, args);
    if (!need(fixed))
      return false;
    pg_exec_event copy{};
    std::memcpy(&copy, data, std::min(size, sizeof copy));
    if (copy.args_len > size - fixed || copy.args_len > sizeof copy.args)
      return false;
    const auto* x = &copy;
    e.kind = "process_exec";
    e.set("hook", std::string("sched_process_exec"));
    std::string filename = bounded(x->filename);
    e.set("filename", filename);
    std::string cmdline =
        args_to_cmdline(x->args, std::min<std::size_t>(x->args_len, sizeof x->args));
    if (!cmdline.empty())
      e.set("cmdline", cmdline);
    if (x->args_truncated)
      e.set("args_truncated", true);
    // The exe's path: /proc's link when it still names this image (the inode matches), else the
    // file name the exec was given.
    std::string exe = resolve_exe(static_cast<int>(h.pid), filename, x->exe_ino);
    if (!exe.empty())
      e.set("exe", exe);
    e.set("exe_inode", static_cast<std::int64_t>(x->exe_ino));
    e.set("exe_nlink", std::int64_t{x->exe_nlink});
    e.set("stdio_sockets", std::int64_t{x->stdio_sockets});
    if (x->socket_ino)
      e.set("socket_inode", static_cast<std::int64_t>(x->socket_ino));
    auto start_ticks = x->start_boottime_ns / (1000000000ull / static_cast<unsigned long long>(
                                                                  ticks_per_second_));
    e.set("start_ticks", static_cast<std::int64_t>(start_ticks));
    process_info p;
    p.pid = static_cast<int>(h.pid);
    p.ppid = static_cast<int>(h.ppid);
    p.uid = h.uid;
    p.comm = bounded(h.comm);
    p.exe = exe.empty() ? filename : exe;
    p.cmdline = std::move(cmdline);
    p.start_ticks = start_ticks;
    table_[p.pid] = std::move(p);
    return true;
  }
  case PG_EV_EXIT: {
    if (!need(sizeof(pg_exit_event)))
      return false;
    const auto* x = static_cast<const pg_exit_event*>(data);
    e.kind = "process_exit";
    e.set("hook", std::string("sched_process_exit"));
    with_exe();
    e.set("exit_status", std::int64_t{(x->exit_code >> 8) & 0xff});
    e.set("exit_signal", std::int64_t{x->exit_code & 0x7f});
    table_.erase(static_cast<int>(h.pid));
    return true;
  }
  case PG_EV_FORK: {
    if (!need(sizeof(pg_fork_event)))
      return false;
    const auto* x = static_cast<const pg_fork_event*>(data);
    e.kind = "process_fork";
    e.set("hook", std::string("sched_process_fork"));
    // The record is the parent's: the event is the child's, with its parent.
    e.set("ppid", std::int64_t{h.pid});
    e.set("pid", std::int64_t{x->child_pid});
    if (const auto* parent = known(static_cast<int>(h.pid))) {
      process_info child = *parent;
      child.pid = static_cast<int>(x->child_pid);
      child.ppid = static_cast<int>(h.pid);
      if (!child.exe.empty())
        e.set("exe", child.exe);
      table_[child.pid] = std::move(child);
    }
    return true;
  }
  case PG_EV_CONNECT:
  case PG_EV_ACCEPT:
  case PG_EV_BIND:
  case PG_EV_LISTEN: {
    if (!need(sizeof(pg_sock_event)))
      return false;
    const auto* x = static_cast<const pg_sock_event*>(data);
    static constexpr const char* kinds[] = {"net_connect", "net_accept", "net_bind",
                                            "net_listen"};
    static constexpr const char* hooks[] = {"sys_enter_connect", "sys_exit_accept4",
                                            "sys_enter_bind", "sys_enter_listen"};
    e.kind = kinds[h.kind - PG_EV_CONNECT];
    e.set("hook", std::string(hooks[h.kind - PG_EV_CONNECT]));
    with_exe();
    e.set("fd", std::int64_t{x->fd});
    e.set("family", std::string(family_name(x->family)));
    if (x->protocol)
      e.set("proto", std::string(protocol_name(x->protocol)));
    if (x->family == AF_INET || x->family == AF_INET6) {
      e.set("local_address", address(x->family, x->local_addr));
      e.set("local_port", std::int64_t{x->local_port});
      e.set("remote_address", address(x->family, x->remote_addr));
      e.set("remote_port", std::int64_t{x->remote_port});
    }
    if (h.kind == PG_EV_LISTEN)
      e.set("backlog", std::int64_t{x->backlog});
    return true;
  }
  case PG_EV_SOCKET_DUP: {
    if (!need(sizeof(pg_socket_dup_event)))
      return false;
    const auto* x = static_cast<const pg_socket_dup_event*>(data);
    e.kind = "socket_dup";
    e.set("hook", std::string("sys_enter_dup2"));
    with_exe();
    e.set("oldfd", std::int64_t{x->oldfd});
    e.set("socket_inode", static_cast<std::int64_t>(x->socket_ino));
    e.set("newfd", std::int64_t{x->newfd});
    e.set("family", std::string(family_name(x->family)));
    if (x->protocol)
      e.set("proto", std::string(protocol_name(x->protocol)));
    if (x->family == AF_INET || x->family == AF_INET6) {
      e.set("local_address", address(x->family, x->local_addr));
      e.set("local_port", std::int64_t{x->local_port});
      e.set("remote_address", address(x->family, x->remote_addr));
      e.set("remote_port", std::int64_t{x->remote_port});
    }
    return true;
  }
  case PG_EV_PTRACE: {
    if (!need(sizeof(pg_ptrace_event)))
      return false;
    const auto* x = static_cast<const pg_ptrace_event*>(data);
    e.kind = "ptrace";
    e.set("hook", std::string("sys_enter_ptrace"));
    with_exe();
    e.set("request", std::string(ptrace_request(x->request)));
    e.set("target_pid", std::int64_t{x->target});
    if (const auto* t = known(static_cast<int>(x->target))) {
      e.set("target_comm", t->comm);
      if (!t->exe.empty())
        e.set("target_exe", t->exe);
      e.set("target_ppid", std::int64_t{t->ppid});
    }
    if (x->request == 4 || x->request == 5 || x->request == 6)
      e.set("address", hex(x->addr));
    return true;
  }
  case PG_EV_VM_WRITE: {
    if (!need(sizeof(pg_vm_write_event)))
      return false;
    const auto* x = static_cast<const pg_vm_write_event*>(data);
    e.kind = "process_vm_write";
    e.set("hook", std::string("sys_enter_process_vm_writev"));
    with_exe();
    e.set("target_pid", std::int64_t{x->target});
    if (const auto* t = known(static_cast<int>(x->target))) {
      e.set("target_comm", t->comm);
      if (!t->exe.empty())
        e.set("target_exe", t->exe);
    }
    e.set("iov_count", static_cast<std::int64_t>(x->iov_count));
    return true;
  }
  case PG_EV_MEMFD: {
    if (!need(sizeof(pg_memfd_event)))
      return false;
    const auto* x = static_cast<const pg_memfd_event*>(data);
    e.kind = "memfd_create";
    e.set("hook", std::string("sys_enter_memfd_create"));
    with_exe();
    e.set("name", bounded(x->name));
    e.set("flags", std::int64_t{x->flags});
    return true;
  }
  case PG_EV_MEM_EXEC: {
    if (!need(sizeof(pg_mem_exec_event)))
      return false;
    const auto* x = static_cast<const pg_mem_exec_event*>(data);
    e.kind = "memory_exec";
    bool mprotect = x->flags & PG_MEM_MPROTECT;
    e.set("hook", std::string(mprotect ? "sys_enter_mprotect" : "sys_enter_mmap"));
    with_exe();
    e.set("call", std::string(mprotect ? "mprotect" : "mmap"));
    e.set("address", hex(x->addr));
    e.set("length", static_cast<std::int64_t>(x->len));
    e.set("prot", prot_text(x->prot));
    e.set("anonymous", (x->flags & PG_MEM_ANONYMOUS) != 0);
    e.set("was_writable", (x->flags & PG_MEM_WAS_WRITABLE) != 0);
    return true;
  }
  case PG_EV_MODULE_LOAD:
  case PG_EV_MODULE_UNLOAD: {
    if (!need(sizeof(pg_module_event)))
      return false;
    const auto* x = static_cast<const pg_module_event*>(data);
    bool load = h.kind == PG_EV_MODULE_LOAD;
    e.kind = load ? "module_load" : "module_unload";
    static constexpr const char* calls[] = {"", "init_module", "finit_module", "delete_module"};
    const char* call = x->syscall_nr < 4 ? calls[x->syscall_nr] : "";
    e.set("hook", std::string("sys_enter_") + call);
    e.set("call", std::string(call));
    with_exe();
    if (x->fd >= 0) {
      e.set("fd", std::int64_t{x->fd});
      // The module file, while the loader still holds it open.
      if (auto l = host::read_link(settings_.fallback.proc_root + "/" + std::to_string(h.pid) +
                                   "/fd/" + std::to_string(x->fd)))
        e.set("path", *l);
    }
    if (load)
      e.set("params", bounded(x->name));
    else
      e.set("name", bounded(x->name));
    return true;
  }
  case PG_EV_BPF_LOAD: {
    if (!need(sizeof(pg_bpf_event)))
      return false;
    const auto* x = static_cast<const pg_bpf_event*>(data);
    e.kind = "bpf_load";
    e.set("hook", std::string("sys_enter_bpf"));
    with_exe();
    e.set("prog_type", std::int64_t{x->prog_type});
    e.set("prog_name", bounded(x->prog_name));
    return true;
  }
  case PG_EV_CRED: {
    if (!need(sizeof(pg_cred_event)))
      return false;
    const auto* x = static_cast<const pg_cred_event*>(data);
    e.kind = "credential_change";
    static constexpr const char* calls[] = {"execve", "setuid", "setreuid", "setresuid",
                                            "setfsuid", "capset"};
    const char* call = x->syscall_nr < 6 ? calls[x->syscall_nr] : "other";
    e.set("hook", x->in_exec ? std::string("sched_process_exec")
                             : std::string("sys_exit_") + call);
    e.set("call", std::string(call));
    with_exe();
    e.set("old_uid", std::int64_t{x->old_uid});
    e.set("old_euid", std::int64_t{x->old_euid});
    e.set("new_uid", std::int64_t{x->new_uid});
    e.set("new_euid", std::int64_t{x->new_euid});
    e.set("caps_gained", hex(x->new_caps & ~x->old_caps));
    e.set("in_exec", x->in_exec != 0);
    return true;
  }
  case PG_EV_OPEN_WRITE: {
    if (!need(sizeof(pg_open_event)))
      return false;
    const auto* x = static_cast<const pg_open_event*>(data);
    e.kind = "file_open_write";
    e.set("hook", std::string("sys_enter_openat"));
    with_exe();
    e.set("path", bounded(x->path));
    e.set("flags", std::int64_t{x->flags});
    return true;
  }
  default:
    return false;
  }
}

void kernel_events_source::on_tick(runtime::context& ctx) {
  if (!sensor_ && !fallback_)
    return; // one pass
  if (fallback_) {
    if (!limitation_.empty() && !limitation_reported_) {
      limitation_reported_ = true;
      runtime::finding f;
      f.rule = "realtime.privilege_limited";
      f.level = runtime::severity::info;
      f.title = "Kernel events degraded: no eBPF sensor (" + missing_ + ")";
      f.entity = {{"component", ctx.name()}};
      f.evidence = {{"missing", missing_},
                    {"detail", limitation_},
                    {"fallback", fallback_->active_mode()},
                    {"not_seen",
                     {"execs of processes gone before /proc is read", "connect/accept as they happen",
                      "ptrace and process_vm_writev", "memfd_create and executable memory",
                      "module and bpf() loads", "credential changes"}}};
      ctx.emit_finding(std::move(f));
    }
    fallback_->on_tick(ctx);
    return;
  }
  std::deque<runtime::event> drained;
  std::uint64_t dropped = 0, malformed = 0, listing_failures = 0;
  std::string error;
  {
    std::lock_guard lock(mutex_);
    drained.swap(queue_);
    dropped = std::exchange(dropped_, 0);
    malformed = std::exchange(malformed_, 0);
    listing_failures = std::exchange(listing_failures_, 0);
    error = std::exchange(thread_error_, {});
  }
  for (auto& e : drained) {
    ctx.count(e.kind);
    ctx.emit(std::move(e));
  }
  // The kernel's counts are totals: report what is new since the last tick.
  auto drops = sensor_->drops();
  std::int64_t ring_lost = 0;
  for (std::size_t k = 0; k < drops.size(); ++k) {
    auto delta = drops[k] - reported_drops_[k];
    if (delta) {
      ctx.count("ringbuf_lost_" + std::string(kernel_kind_name(k)),
                static_cast<std::int64_t>(delta));
      ring_lost += static_cast<std::int64_t>(delta);
    }
  }
  reported_drops_ = drops;
  auto sampled = sensor_->sampled_out();
  for (std::size_t k = 0; k < sampled.size(); ++k)
    if (auto delta = sampled[k] - reported_sampled_[k])
      ctx.count("sampled_out_" + std::string(kernel_kind_name(k)),
                static_cast<std::int64_t>(delta));
  reported_sampled_ = sampled;
  if (ring_lost)
    ctx.lost("kernel_ringbuf", ring_lost);
  if (dropped)
    ctx.lost("queue_overflow", static_cast<std::int64_t>(dropped));
  if (malformed)
    ctx.lost("malformed_record", static_cast<std::int64_t>(malformed));
  if (listing_failures) {
    ctx.count("proc_listing_failures", static_cast<std::int64_t>(listing_failures));
    ctx.log(runtime::log_level::warn, ctx.name() + ": " + std::to_string(listing_failures) +
                                          " /proc listings failed (fd limit?); the process "
                                          "table is pruned on the next one");
  }
  if (!error.empty())
    throw std::runtime_error("kernel_events: " + error);
}

void kernel_events_source::stop(runtime::context& ctx) {
  if (!sensor_ && !fallback_)
    return;
  if (fallback_) {
    fallback_->stop(ctx);
    return;
  }
  join();
  on_tick(ctx);
  sensor_.reset();
}

} // namespace pg::actors::realtime
