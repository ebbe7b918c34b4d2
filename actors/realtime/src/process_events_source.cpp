// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/process_events_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::realtime {

namespace {

using runtime::option_spec;
using runtime::option_type;

constexpr int cap_net_admin = 12;

std::string join_cmdline(const std::string& raw) {
  auto parts = host::split_nul(raw);
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty())
      out += ' ';
    out += p;
  }
  return out;
}

} // namespace

std::vector<option_spec> process_events_options() {
  std::vector<option_spec> v;
  v.push_back({"mode",
               option_type::string,
               "auto",
               "auto: netlink process connector when privileged (CAP_NET_ADMIN), else /proc "
               "polling; netlink; poll",
               false,
               {},
               {},
               {"auto", "netlink", "poll"}});
  v.push_back({"poll_interval",
               option_type::duration,
               "250ms",
               "how often the /proc listing is compared in poll mode",
               false,
               0.01,
               60,
               {}});
  v.push_back({"max_pending",
               option_type::integer,
               "65536",
               "events queued between ticks at most (the oldest are dropped and counted)",
               false,
               16,
               16777216,
               {}});
  return v;
}

process_events_settings process_events_settings::from(const runtime::component_settings& s) {
  process_events_settings r;
  r.mode = s.get_string("mode", "auto");
  if (r.mode != "auto" && r.mode != "netlink" && r.mode != "poll")
    throw std::invalid_argument("process_events: mode must be auto, netlink or poll, not '" +
                                r.mode + "'");
  r.poll_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      s.get_duration("poll_interval", std::chrono::milliseconds(250)));
  if (r.poll_interval.count() < 10)
    r.poll_interval = std::chrono::milliseconds(10);
  r.max_pending = static_cast<std::size_t>(s.get_int("max_pending", 65536));
  r.proc_root = s.get_string("proc_root", "/proc");
  return r;
}

process_info read_process_info(int pid, const std::string& proc_root) {
  process_info p;
  p.pid = pid;
  if (auto st = host::read_proc_stat(pid, proc_root)) {
    p.ppid = st->ppid;
    p.comm = st->comm;
    p.start_ticks = st->start_ticks;
  }
  auto base = proc_root + "/" + std::to_string(pid);
  if (auto status = host::read_proc_status(pid, proc_root))
    if (auto uid = host::status_number(*status, "Uid", 0))
      p.uid = *uid;
  if (auto exe = host::read_link(base + "/exe"))
    p.exe = *exe;
  if (auto cmd = host::read_file(base + "/cmdline", 64 * 1024))
    p.cmdline = join_cmdline(*cmd);
  return p;
}

process_events_source::process_events_source(process_events_settings settings)
    : settings_(std::move(settings)) {}

process_events_source::~process_events_source() {
  join();
}

void process_events_source::start(runtime::context& ctx) {
  name_ = ctx.name();
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    throw std::runtime_error(std::string("process_events: eventfd: ") + std::strerror(errno));

  bool want_netlink = settings_.mode == "netlink" ||
                      (settings_.mode == "auto" && host::has_capability(cap_net_admin));
  if (want_netlink) {
    int err = 0;
    connector_ = proc_connector::open(&err);
    if (!connector_) {
      if (settings_.mode == "netlink")
        throw std::runtime_error(std::string("process_events: netlink process connector: ") +
                                 std::strerror(err) +
                                 " (needs CAP_NET_ADMIN and "
                                 "CONFIG_PROC_EVENTS; use mode = \"poll\" otherwise)");
      limitation_ = std::string("netlink process connector refused (") + std::strerror(err) +
                    "): polling /proc instead";
    }
  } else if (settings_.mode == "auto") {
    limitation_ = "no CAP_NET_ADMIN for the netlink process connector: polling /proc every " +
                  std::to_string(settings_.poll_interval.count()) +
                  "ms, processes shorter than that may be missed";
  }
  active_mode_ = connector_ ? "netlink" : "poll";

  // The snapshot gives exits of processes that started before us a name, and is the baseline
  // the poller compares against. Taken before the thread starts: no lock needed.
  for (int pid : host::list_pids_raw(settings_.proc_root))
    table_.emplace(pid, read_process_info(pid, settings_.proc_root));
  ctx.gauge("processes_known", static_cast<double>(table_.size()));

  stopping_ = false;
  if (connector_)
    thread_ = ctx.threads().start([this] { run_netlink(); });
  else
    thread_ = ctx.threads().start([this] { run_poll(); });
  ctx.log(runtime::log_level::info, "process_events: collecting via " + active_mode_);
}

void process_events_source::join() {
  if (thread_.joinable()) {
    stopping_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
  connector_.reset();
}

void process_events_source::push(runtime::event ev) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= settings_.max_pending) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(std::move(ev));
}

runtime::event process_events_source::make_exec(const process_info& p, const char* via) const {
  runtime::event e;
  e.kind = "process_exec";
  e.time = runtime::wall_clock::now();
  e.source = name_;
  e.set("pid", std::int64_t{p.pid});
  e.set("ppid", std::int64_t{p.ppid});
  if (p.uid >= 0)
    e.set("uid", p.uid);
  if (!p.comm.empty())
    e.set("comm", p.comm);
  if (!p.exe.empty())
    e.set("exe", p.exe);
  if (!p.cmdline.empty())
    e.set("cmdline", p.cmdline);
  e.set("start_ticks", static_cast<std::int64_t>(p.start_ticks));
  e.set("via", std::string(via));
  return e;
}

runtime::event process_events_source::make_exit(const process_info& p, const char* via,
                                                int exit_code, int exit_signal) const {
  runtime::event e;
  e.kind = "process_exit";
  e.time = runtime::wall_clock::now();
  e.source = name_;
  e.set("pid", std::int64_t{p.pid});
  if (p.ppid)
    e.set("ppid", std::int64_t{p.ppid});
  if (p.uid >= 0)
    e.set("uid", p.uid);
  if (!p.comm.empty())
    e.set("comm", p.comm);
  if (!p.exe.empty())
    e.set("exe", p.exe);
  if (!p.cmdline.empty())
    e.set("cmdline", p.cmdline);
  if (exit_code >= 0) {
    // The kernel reports the wait status: exit status in bits 8..15, terminating signal below.
    e.set("exit_status", std::int64_t{(exit_code >> 8) & 0xff});
    e.set("exit_signal", std::int64_t{exit_code & 0x7f});
  }
  (void)exit_signal;
  e.set("via", std::string(via));
  return e;
}

// After the kernel dropped connector messages: every process alive now that we never heard of is
// reported as an exec seen late (via "resync"). What started and ended inside the gap stays lost,
// and is counted as such.
// A process we know of only from its fork (the exec message was the one lost) shows as a
// different program than the one recorded.
bool process_events_source::listed(std::vector<int>& out) {
  auto pids = host::try_list_pids(settings_.proc_root);
  if (!pids) {
    // The fd limit or a lost /proc: this round is skipped, never taken for "every process
    // exited"; counted, and the next tick says so.
    std::lock_guard lock(mutex_);
    ++listing_failures_;
    return false;
  }
  out = std::move(*pids);
  return true;
}

void process_events_source::resync() {
  std::vector<int> pids;
  if (!listed(pids))
    return;
  for (int pid : pids) {
    auto known = table_.find(pid);
    auto p = read_process_info(pid, settings_.proc_root);
    if (p.start_ticks == 0 && p.comm.empty())
      continue; // came and went meanwhile
    if (known != table_.end() && known->second.exe == p.exe && known->second.comm == p.comm)
      continue;
    push(make_exec(p, "resync"));
    table_[pid] = std::move(p);
  }
}

void process_events_source::run_netlink() {
  std::vector<proc_connector_event> batch;
  pollfd fds[2] = {{connector_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  auto last_prune = std::chrono::steady_clock::now();
  auto last_resync = std::chrono::steady_clock::time_point{};
  bool resync_due = false;
  while (!stopping_) {
    // An exit lost to ENOBUFS would leave its entry behind forever: once a minute, forget
    // processes the /proc listing no longer shows, so the table tracks live processes only.
    if (std::chrono::steady_clock::now() - last_prune > std::chrono::seconds(60)) {
      last_prune = std::chrono::steady_clock::now();
      std::vector<int> live;
      if (listed(live))
        for (auto it = table_.begin(); it != table_.end();)
          it = std::binary_search(live.begin(), live.end(), it->first) ? std::next(it)
                                                                       : table_.erase(it);
    }
    int rc = ::poll(fds, 2, resync_due ? 200 : 1000);
    if (rc < 0 && errno != EINTR)
      break;
    // In a storm the buffer overruns again and again: one /proc pass per 200 ms at most.
    if (resync_due && std::chrono::steady_clock::now() - last_resync >= std::chrono::milliseconds(200)) {
      resync_due = false;
      last_resync = std::chrono::steady_clock::now();
      resync();
    }
    if (rc <= 0 || !(fds[0].revents & POLLIN))
      continue;
    batch.clear();
    std::uint64_t overruns = 0;
    if (!connector_->read(batch, &overruns)) {
      std::lock_guard lock(mutex_);
      thread_error_ = std::string("netlink read failed: ") + std::strerror(errno);
      break;
    }
    if (overruns) {
      std::lock_guard lock(mutex_);
      overruns_ += overruns;
      resync_due = true;
    }
    for (const auto& ce : batch) {
      if (ce.pid != ce.tgid)
        continue; // a thread starting or ending, not a process
      switch (ce.what) {
      case proc_connector_event::kind::fork: {
        // Not emitted (a forking server would flood the pipeline), but remembered so that the
        // child's exit names its parent.
        process_info p;
        p.pid = ce.pid;
        p.ppid = ce.parent_pid;
        auto parent = table_.find(ce.parent_pid);
        if (parent != table_.end()) {
          p.comm = parent->second.comm;
          p.exe = parent->second.exe;
          p.uid = parent->second.uid;
          p.cmdline = parent->second.cmdline;
        }
        table_[ce.pid] = std::move(p);
        break;
      }
      case proc_connector_event::kind::exec: {
        // Read /proc now, while the process most likely still exists.
        auto p = read_process_info(ce.pid, settings_.proc_root);
        auto old = table_.find(ce.pid);
        if (p.ppid == 0 && old != table_.end())
          p.ppid = old->second.ppid;
        push(make_exec(p, "netlink"));
        table_[ce.pid] = std::move(p);
        break;
      }
      case proc_connector_event::kind::exit: {
        process_info p;
        auto it = table_.find(ce.pid);
        if (it != table_.end()) {
          p = std::move(it->second);
          table_.erase(it);
        }
        p.pid = ce.pid;
        if (ce.parent_pid)
          p.ppid = ce.parent_pid;
        push(make_exit(p, "netlink", static_cast<int>(ce.exit_code),
                       static_cast<int>(ce.exit_signal)));
        break;
      }
      }
    }
  }
}

void process_events_source::run_poll() {
  std::vector<int> previous;
  previous.reserve(table_.size());
  for (const auto& [pid, info] : table_)
    previous.push_back(pid);
  while (!stopping_) {
    pollfd wake{wake_fd_, POLLIN, 0};
    int rc = ::poll(&wake, 1, static_cast<int>(settings_.poll_interval.count()));
    if (stopping_ || (rc < 0 && errno != EINTR))
      break;
    std::vector<int> now; // sorted
    if (!listed(now))
      continue;
    // Exits: listed before, not now.
    std::vector<int> gone;
    std::set_difference(previous.begin(), previous.end(), now.begin(), now.end(),
                        std::back_inserter(gone));
    for (int pid : gone) {
      auto it = table_.find(pid);
      process_info p;
      if (it != table_.end()) {
        p = std::move(it->second);
        table_.erase(it);
      }
      p.pid = pid;
      push(make_exit(p, "poll", -1, -1));
    }
    std::vector<int> born;
    std::set_difference(now.begin(), now.end(), previous.begin(), previous.end(),
                        std::back_inserter(born));
    for (int pid : born) {
      auto p = read_process_info(pid, settings_.proc_root);
      if (p.start_ticks == 0 && p.comm.empty())
        continue; // came and went between the listing and the read
      push(make_exec(p, "poll"));
      table_[pid] = std::move(p);
    }
    previous = std::move(now);
  }
}

void process_events_source::on_tick(runtime::context& ctx) {
  std::deque<runtime::event> drained;
  std::uint64_t dropped = 0;
  std::uint64_t overruns = 0;
  std::uint64_t listing_failures = 0;
  std::string error;
  {
    std::lock_guard lock(mutex_);
    drained.swap(queue_);
    dropped = std::exchange(dropped_, 0);
    overruns = std::exchange(overruns_, 0);
    listing_failures = std::exchange(listing_failures_, 0);
    error = std::exchange(thread_error_, {});
  }
  if (listing_failures) {
    ctx.count("proc_listing_failures", static_cast<std::int64_t>(listing_failures));
    ctx.log(runtime::log_level::warn, ctx.name() + ": " + std::to_string(listing_failures) +
                                          " /proc listings failed (fd limit?); exits are "
                                          "caught up on the next listing");
  }
  if (!limitation_.empty() && !limitation_reported_) {
    limitation_reported_ = true;
    runtime::finding f;
    f.rule = "realtime.privilege_limited";
    f.level = runtime::severity::info;
    f.title = "Process events degraded to /proc polling without CAP_NET_ADMIN";
    f.entity = {{"component", ctx.name()}};
    f.evidence = {{"missing_capabilities", {"CAP_NET_ADMIN"}},
                  {"detail", limitation_},
                  {"poll_interval_ms", settings_.poll_interval.count()}};
    ctx.emit_finding(std::move(f));
  }
  for (auto& e : drained) {
    ctx.count(e.kind == "process_exec" ? "process_exec" : "process_exit");
    // A process that exited before /proc could be read arrives with what the kernel said only.
    if (e.kind == "process_exec" && e.get_string("exe").empty())
      ctx.count("exec_without_exe");
    ctx.emit(std::move(e));
  }
  if (dropped) // max_pending between two ticks: the oldest went
    ctx.lost("queue_overflow", static_cast<std::int64_t>(dropped));
  if (overruns) // the kernel's receive buffer was full: messages lost (resynced from /proc)
    ctx.lost("netlink_overrun", static_cast<std::int64_t>(overruns));
  if (!error.empty()) {
    // The thread ended; fail the hook so the supervisor restarts the component.
    throw std::runtime_error("process_events: " + error);
  }
}

void process_events_source::stop(runtime::context& ctx) {
  join();
  on_tick(ctx); // emit what the thread collected before it ended
}

} // namespace pg::actors::realtime
