// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/file_watch_analyzer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::realtime {

namespace {

using runtime::option_spec;
using runtime::option_type;
using runtime::severity;

constexpr int cap_sys_admin = 21;
constexpr std::size_t max_pending_changes = 65536;
constexpr std::uint64_t fanotify_mask = FAN_MODIFY | FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD;

constexpr std::uint32_t watch_mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
                                     IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
                                     IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

const std::vector<std::string>& default_persistence() {
  static const std::vector<std::string> v{"/etc/crontab",
                                          "/etc/cron.*",
                                          "/var/spool/cron",
                                          "/etc/anacrontab",
                                          "/etc/systemd/system",
                                          "/lib/systemd/system",
                                          "/usr/lib/systemd/system",
                                          "~/.config/systemd/user",
                                          "/etc/profile",
                                          "/etc/profile.d",
                                          "/etc/bash.bashrc",
                                          "~/.bashrc",
                                          "~/.profile",
                                          "~/.bash_profile",
                                          "/etc/ld.so.preload",
                                          "/etc/rc.local"};
  return v;
}

const std::vector<std::string>& default_credential() {
  static const std::vector<std::string> v{"/etc/passwd",
                                          "/etc/shadow",
                                          "/etc/group",
                                          "/etc/gshadow",
                                          "/etc/sudoers",
                                          "/etc/sudoers.d",
                                          "~/.ssh/authorized_keys",
                                          "~/.ssh/authorized_keys2"};
  return v;
}

std::string parent_of(const std::string& p) {
  auto slash = p.find_last_of('/');
  if (slash == std::string::npos || slash == 0)
    return "/";
  return p.substr(0, slash);
}

std::string base_of(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string child_path(const std::string& dir, const std::string& name) {
  if (name.empty())
    return dir;
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string normalize(std::string p) {
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  return p;
}

const char* kind_of(std::uint32_t mask) {
  if (mask & IN_CREATE)
    return "created";
  if (mask & (IN_DELETE | IN_DELETE_SELF))
    return "deleted";
  if (mask & IN_MOVED_TO)
    return "moved_in";
  if (mask & (IN_MOVED_FROM | IN_MOVE_SELF))
    return "moved_out";
  if (mask & IN_MODIFY)
    return "modified";
  if (mask & IN_CLOSE_WRITE)
    return "written";
  if (mask & IN_ATTRIB)
    return "attributes";
  return nullptr;
}

int kind_rank(const std::string& k) {
  static const char* order[] = {"created",  "deleted", "moved_in",  "moved_out",
                                "modified", "written", "attributes"};
  for (int i = 0; i < 7; ++i)
    if (k == order[i])
      return i;
  return 7;
}

std::vector<std::string> mitre_for(const std::string& path, watch_category cat) {
  auto has = [&](const char* s) { return path.find(s) != std::string::npos; };
  if (has("cron"))
    return {"T1053.003"};
  if (has("systemd"))
    return {"T1543.002"};
  if (has("ld.so.preload"))
    return {"T1574.006"};
  if (has("authorized_keys"))
    return {"T1098.004"};
  if (has("sudoers"))
    return {"T1548.003"};
  if (has("passwd") || has("shadow") || has("group"))
    return {"T1136.001", "T1098"};
  if (has("profile") || has("bashrc") || has("bash_login") || has("rc.local"))
    return {"T1546.004"};
  return cat == watch_category::credential ? std::vector<std::string>{"T1098"}
                                           : std::vector<std::string>{"T1547"};
}

} // namespace

std::vector<option_spec> file_watch_options() {
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v)
      s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  std::vector<option_spec> v;
  v.push_back({"persistence_paths",
               option_type::string_list,
               join(default_persistence()),
               "files and directories whose changes are realtime.persistence_change ('~/' = "
               "every home directory, globs allowed)",
               false,
               {},
               {},
               {}});
  v.push_back({"credential_paths",
               option_type::string_list,
               join(default_credential()),
               "files and directories whose changes are realtime.credential_change",
               false,
               {},
               {},
               {}});
  v.push_back({"passwd_file",
               option_type::string,
               "/etc/passwd",
               "where '~/' finds home directories",
               false,
               {},
               {},
               {}});
  v.push_back({"depth",
               option_type::integer,
               "1",
               "subdirectory levels watched below a watched directory",
               false,
               0,
               8,
               {}});
  v.push_back({"scan_fds",
               option_type::boolean,
               "true",
               "name the processes holding a changed file open (scan of /proc/*/fd)",
               false,
               {},
               {},
               {}});
  v.push_back({"fanotify",
               option_type::boolean,
               "true",
               "with CAP_SYS_ADMIN, learn the PID of each writer from fanotify",
               false,
               {},
               {},
               {}});
  v.push_back({"report_delay",
               option_type::duration,
               "300ms",
               "a change is reported this long after it happened, so the writer's exec event "
               "and fanotify record can join it",
               false,
               0,
               10,
               {}});
  v.push_back({"exec_window",
               option_type::duration,
               "5s",
               "how far back process_exec inputs are matched against a change",
               false,
               0,
               600,
               {}});
  return v;
}

file_watch_settings file_watch_settings::from(const runtime::component_settings& s) {
  file_watch_settings r;
  r.persistence_paths = s.get_string_list("persistence_paths", default_persistence());
  r.credential_paths = s.get_string_list("credential_paths", default_credential());
  r.passwd_file = s.get_string("passwd_file", r.passwd_file);
  r.depth = static_cast<int>(s.get_int("depth", 1));
  r.scan_fds = s.get_bool("scan_fds", true);
  r.fanotify = s.get_bool("fanotify", true);
  r.report_delay = std::chrono::duration_cast<std::chrono::milliseconds>(
      s.get_duration("report_delay", std::chrono::milliseconds(300)));
  r.exec_window = std::chrono::duration_cast<std::chrono::milliseconds>(
      s.get_duration("exec_window", std::chrono::seconds(5)));
  return r;
}

std::vector<std::string> expand_watch_path(const std::string& path,
                                           const std::string& passwd_text) {
  std::vector<std::string> bases;
  if (path.rfind("~/", 0) == 0) {
    std::set<std::string> homes{"/root"};
    std::istringstream in(passwd_text);
    std::string line;
    while (std::getline(in, line)) {
      // name:x:uid:gid:gecos:home:shell — every account with a real home directory.
      std::vector<std::string> f;
      std::stringstream ls(line);
      std::string part;
      while (std::getline(ls, part, ':'))
        f.push_back(part);
      // Root and regular users (uid >= 1000) only: system accounts have homes such as /bin or
      // /dev, and watching those (fanotify on /dev sees every write to /dev/null) costs much
      // for nothing a login could use.
      long uid = f.size() >= 3 ? std::strtol(f[2].c_str(), nullptr, 10) : -1;
      bool person = uid == 0 || (uid >= 1000 && uid != 65534);
      if (person && f.size() >= 6 && f[5].size() > 1 && f[5][0] == '/' && f[5] != "/nonexistent") {
        struct stat st {};
        if (::stat(f[5].c_str(), &st) == 0 && S_ISDIR(st.st_mode))
          homes.insert(normalize(f[5]));
      }
    }
    for (const auto& h : homes)
      bases.push_back(h + path.substr(1));
  } else {
    bases.push_back(path);
  }
  std::vector<std::string> out;
  for (const auto& b : bases) {
    if (b.find_first_of("*?[") == std::string::npos) {
      out.push_back(normalize(b));
      continue;
    }
    glob_t g{};
    if (::glob(b.c_str(), GLOB_NOSORT, nullptr, &g) == 0)
      for (std::size_t i = 0; i < g.gl_pathc; ++i)
        out.push_back(normalize(g.gl_pathv[i]));
    ::globfree(&g);
  }
  return out;
}

std::vector<std::pair<int, std::string>> processes_holding(const std::string& path,
                                                           const std::string& proc_root) {
  std::vector<std::pair<int, std::string>> out;
  for (int pid : host::list_pids_raw(proc_root)) {
    auto fd_dir = proc_root + "/" + std::to_string(pid) + "/fd";
    auto fds = host::list_directory_raw(fd_dir);
    if (!fds)
      continue; // gone or not ours to read
    for (const auto& fd : *fds) {
      auto target = host::read_link(fd_dir + "/" + fd.name);
      if (target && (*target == path || *target == path + " (deleted)")) {
        std::string comm;
        if (auto st = host::read_proc_stat(pid, proc_root))
          comm = st->comm;
        out.emplace_back(pid, comm);
        break;
      }
    }
  }
  return out;
}

file_watch_analyzer::file_watch_analyzer(file_watch_settings settings)
    : settings_(std::move(settings)) {}

file_watch_analyzer::~file_watch_analyzer() {
  if (thread_.joinable()) {
    stopping_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0)
    ::close(inotify_fd_);
  if (fanotify_fd_ >= 0)
    ::close(fanotify_fd_);
  if (wake_fd_ >= 0)
    ::close(wake_fd_);
}

std::size_t file_watch_analyzer::watch_count() const {
  std::lock_guard lock(mutex_);
  return watches_.size();
}

void file_watch_analyzer::add_dir_watch(const std::string& dir, const rule& r, int depth_left) {
  int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), watch_mask);
  if (wd < 0) {
    unwatchable_.push_back(dir + ": " + std::strerror(errno));
    return;
  }
  auto& w = watches_[wd];
  if (fanotify_fd_ >= 0 && w.dir.empty())
    ::fanotify_mark(fanotify_fd_, FAN_MARK_ADD, fanotify_mask, AT_FDCWD, dir.c_str());
  w.dir = dir;
  w.depth_left = std::max(w.depth_left, depth_left);
  bool dup = false;
  for (const auto& x : w.rules)
    dup =
        dup || (x.name == r.name && x.target_index == r.target_index && x.is_target == r.is_target);
  if (!dup)
    w.rules.push_back(r);
  if (r.name.empty() && depth_left > 0) {
    if (auto entries = host::list_directory_raw(dir))
      for (const auto& e : *entries) {
        struct stat st {};
        auto sub = child_path(dir, e.name);
        if (::lstat(sub.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
          add_dir_watch(sub, r, depth_left - 1);
      }
  }
}

void file_watch_analyzer::resolve(std::size_t ti) {
  const auto path = targets_[ti].path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    add_dir_watch(path, rule{"", ti, true}, settings_.depth);
    if (path != "/")
      add_dir_watch(parent_of(path), rule{base_of(path), ti, true}, 0);
    return;
  }
  // A file, or a path not there yet: watch the nearest existing ancestor for the next step.
  std::string cur = path;
  std::string next;
  bool direct = true;
  while (cur != "/") {
    next = base_of(cur);
    cur = parent_of(cur);
    struct stat ds {};
    if (::stat(cur.c_str(), &ds) == 0 && S_ISDIR(ds.st_mode)) {
      add_dir_watch(cur, rule{next, ti, direct}, 0);
      return;
    }
    direct = false;
  }
  unwatchable_.push_back(path + ": no existing ancestor");
}

void file_watch_analyzer::start(runtime::context& ctx) {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0)
    throw std::runtime_error(std::string("file_watch: inotify_init1: ") + std::strerror(errno) +
                             " (fs.inotify.max_user_instances reached?)");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    throw std::runtime_error(std::string("file_watch: eventfd: ") + std::strerror(errno));
  if (settings_.fanotify && host::has_capability(cap_sys_admin))
    fanotify_fd_ = ::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
                                   O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  auto passwd = host::read_file(settings_.passwd_file, 4 << 20).value_or("");
  std::set<std::string> seen;
  auto add = [&](const std::vector<std::string>& paths, watch_category cat) {
    for (const auto& p : paths)
      for (const auto& e : expand_watch_path(p, passwd))
        if (seen.insert(e).second)
          targets_.push_back({e, cat});
  };
  // Credential first: a path listed in both is a credential.
  add(settings_.credential_paths, watch_category::credential);
  add(settings_.persistence_paths, watch_category::persistence);
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < targets_.size(); ++i)
      resolve(i);
  }
  ctx.gauge("watches", static_cast<double>(watch_count()));
  ctx.gauge("targets", static_cast<double>(targets_.size()));
  stopping_ = false;
  thread_ = ctx.threads().start([this] { run(); });
}

void file_watch_analyzer::run() {
  alignas(inotify_event) char buf[64 * 1024];
  pollfd fds[3] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {fanotify_fd_, POLLIN, 0}};
  while (!stopping_) {
    int rc = ::poll(fds, fanotify_fd_ >= 0 ? 3 : 2, 1000);
    if (rc < 0 && errno != EINTR)
      break;
    // The writer's identity first: it may exit any moment, and inotify's event can wait.
    if (rc > 0 && fanotify_fd_ >= 0 && (fds[2].revents & POLLIN))
      read_fanotify();
    if (rc <= 0 || !(fds[0].revents & POLLIN))
      continue;
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0)
      continue;
    std::lock_guard lock(mutex_);
    for (ssize_t off = 0; off < n;) {
      auto* ev = reinterpret_cast<inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      handle(ev->wd, ev->mask, ev->len ? std::string(ev->name) : std::string());
    }
  }
}

void file_watch_analyzer::read_fanotify() {
  alignas(fanotify_event_metadata) char buf[16 * 1024];
  ssize_t n = ::read(fanotify_fd_, buf, sizeof buf);
  if (n <= 0)
    return;
  auto self = ::getpid();
  std::vector<writer> got;
  auto len = static_cast<std::size_t>(n);
  for (auto* m = reinterpret_cast<fanotify_event_metadata*>(buf); FAN_EVENT_OK(m, len);
       m = FAN_EVENT_NEXT(m, len)) {
    if (m->vers != FANOTIFY_METADATA_VERSION)
      break;
    if (m->fd < 0)
      continue; // queue overflow: nothing to name
    auto path = host::read_link("/proc/self/fd/" + std::to_string(m->fd));
    ::close(m->fd);
    if (!path || m->pid == self)
      continue;
    writer w{*path, m->pid, {}, {}, runtime::wall_clock::now()};
    if (auto comm = host::read_file("/proc/" + std::to_string(m->pid) + "/comm", 64)) {
      w.comm = *comm;
      while (!w.comm.empty() && w.comm.back() == '\n')
        w.comm.pop_back();
    }
    if (auto cmd = host::read_file("/proc/" + std::to_string(m->pid) + "/cmdline", 4096)) {
      for (const auto& part : host::split_nul(*cmd))
        w.cmdline += (w.cmdline.empty() ? "" : " ") + part;
    }
    got.push_back(std::move(w));
  }
  add_writers(std::move(got));
}

void file_watch_analyzer::add_writers(std::vector<writer> got) {
  std::lock_guard lock(mutex_);
  for (auto& w : got) {
    // The marks cover every child of a watched directory (/etc, a home): keep only writes to
    // what the inotify rules watch.
    auto dir = parent_of(w.path);
    auto name = base_of(w.path);
    bool wanted = false;
    for (const auto& [wd, watch] : watches_) {
      if (watch.dir != dir)
        continue;
      for (const auto& r : watch.rules)
        wanted = wanted || (r.is_target && (r.name.empty() || r.name == name));
    }
    if (!wanted)
      continue;
    // Many writes by the same process to the same file are one fact.
    bool dup = false;
    for (auto it = writers_.rbegin(); it != writers_.rend() && !dup; ++it)
      dup = it->path == w.path && it->pid == w.pid && w.time - it->time < std::chrono::seconds(1);
    if (!dup)
      writers_.push_back(std::move(w));
  }
  while (writers_.size() > 1024)
    writers_.pop_front();
}

void file_watch_analyzer::handle(int wd, std::uint32_t mask, const std::string& name) {
  if (mask & IN_Q_OVERFLOW) {
    ++overflows_;
    return;
  }
  auto it = watches_.find(wd);
  if (it == watches_.end())
    return;
  if (mask & IN_IGNORED) {
    // The directory is gone (deleted, unmounted): fall back to watching its ancestor.
    auto rules = it->second.rules;
    watches_.erase(it);
    for (const auto& r : rules)
      resolve(r.target_index);
    return;
  }
  const watch w = it->second; // copy: resolve() below may rehash watches_
  for (const auto& r : w.rules) {
    if (!r.name.empty() && r.name != name)
      continue;
    if (name.empty() && !(mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
      continue;
    if (name.empty() && !r.name.empty())
      continue;
    const auto& tgt = targets_[r.target_index];
    if (!r.is_target) {
      // A step on the way to a missing path appeared: move the watch closer, and report the
      // target if it already exists (created before our new watch was in place).
      if (mask & (IN_CREATE | IN_MOVED_TO)) {
        resolve(r.target_index);
        struct stat st {};
        if (::lstat(tgt.path.c_str(), &st) == 0)
          pending_.push_back({tgt.path,
                              "created",
                              tgt.category,
                              std::chrono::steady_clock::now(),
                              runtime::wall_clock::now(),
                              {}});
      }
      continue;
    }
    auto full = child_path(w.dir, name);
    if ((mask & IN_ISDIR) && (mask & (IN_CREATE | IN_MOVED_TO))) {
      if (r.name.empty() && w.depth_left > 0)
        add_dir_watch(full, rule{"", r.target_index, true}, w.depth_left - 1);
      else if (!r.name.empty())
        resolve(r.target_index); // the watched directory itself was (re)created
    }
    const char* kind = kind_of(mask);
    if (!kind)
      continue;
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<int, std::string>> holders;
    if (settings_.scan_fds && (mask & (IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO)) &&
        !(mask & IN_ISDIR)) {
      if (last_scan_.size() > 1024) // remember recent scans only: no growth over months
        for (auto old = last_scan_.begin(); old != last_scan_.end();)
          old =
              now - old->second > std::chrono::seconds(2) ? last_scan_.erase(old) : std::next(old);
      auto& last = last_scan_[full];
      if (now - last > std::chrono::milliseconds(500)) {
        last = now;
        holders = processes_holding(full);
      }
    }
    // A write is many IN_MODIFY events: fold repeats of the same change into one.
    if (!pending_.empty() && pending_.back().path == full && pending_.back().kind == kind &&
        now - pending_.back().when < std::chrono::seconds(1)) {
      for (auto& h : holders)
        pending_.back().holders.push_back(std::move(h));
      continue;
    }
    if (pending_.size() >= max_pending_changes) {
      ++overflows_; // a flood between two ticks: counted and reported like an inotify overflow
      break;
    }
    pending_.push_back(
        {full, kind, tgt.category, now, runtime::wall_clock::now(), std::move(holders)});
    break; // one rule per event is enough (the first names the category)
  }
}

void file_watch_analyzer::on_batch(const runtime::event_batch& batch, runtime::context&) {
  std::vector<writer> opened;
  for (const auto& e : batch.events) {
    // The kernel sensor names the process that opened a file for writing, whatever fanotify
    // can do here (it cannot watch everything without CAP_SYS_ADMIN, nor name a pid in a
    // foreign pid namespace).
    if (e.kind == "file_open_write") {
      if (e.get_int("pid") == ::getpid())
        continue;
      writer w{std::string(e.get_string("path")), static_cast<int>(e.get_int("pid")),
               std::string(e.get_string("comm")), std::string(e.get_string("cmdline")),
               runtime::wall_clock::now(), "kernel_events"};
      opened.push_back(std::move(w));
      continue;
    }
    if (e.kind != "process_exec")
      continue;
    execs_.push_back(
        {e.time == runtime::wall_clock::time_point{} ? runtime::wall_clock::now() : e.time,
         e.get_int("pid"), std::string(e.get_string("comm")), std::string(e.get_string("exe")),
         std::string(e.get_string("cmdline"))});
  }
  if (!opened.empty())
    add_writers(std::move(opened));
  auto horizon = runtime::wall_clock::now() - settings_.exec_window - std::chrono::seconds(5);
  while (!execs_.empty() && (execs_.front().time < horizon || execs_.size() > 4096))
    execs_.pop_front();
}

void file_watch_analyzer::on_tick(runtime::context& ctx) {
  std::deque<change> drained;
  std::deque<writer> writers;
  std::uint64_t overflows = 0;
  std::vector<std::string> unwatchable;
  std::size_t watches = 0;
  {
    std::lock_guard lock(mutex_);
    // A change waits report_delay before it is reported: the process_exec event of its writer
    // (another component's tick) and the fanotify record arrive independently of inotify.
    // All pending events of a path that is due go together, so one change is one finding.
    auto due = std::chrono::steady_clock::now() - settings_.report_delay;
    std::set<std::string> ready;
    for (const auto& c : pending_)
      if (flushing_ || c.when <= due)
        ready.insert(c.path);
    std::deque<change> keep;
    for (auto& c : pending_)
      (ready.count(c.path) ? drained : keep).push_back(std::move(c));
    pending_.swap(keep);
    // Writers stay a little longer than one tick: fanotify and inotify report independently.
    auto horizon = runtime::wall_clock::now() - std::chrono::seconds(5);
    while (!writers_.empty() && writers_.front().time < horizon)
      writers_.pop_front();
    writers = writers_;
    overflows = std::exchange(overflows_, 0);
    if (!limitation_reported_)
      unwatchable = unwatchable_;
    watches = watches_.size();
  }
  ctx.gauge("watches", static_cast<double>(watches));
  if (!limitation_reported_) {
    limitation_reported_ = true;
    if (!unwatchable.empty()) {
      runtime::finding f;
      f.rule = "realtime.privilege_limited";
      f.level = severity::info;
      f.title = std::to_string(unwatchable.size()) + " watch path(s) could not be watched";
      f.entity = {{"component", ctx.name()}};
      f.evidence = {{"unwatched", unwatchable},
                    {"missing_capabilities", {"CAP_DAC_READ_SEARCH"}},
                    {"hint", "EACCES needs CAP_DAC_READ_SEARCH; ENOSPC means "
                             "fs.inotify.max_user_watches is exhausted"}};
      ctx.emit_finding(std::move(f));
    }
  }
  if (overflows) // the queue overflowed: some file changes were not seen (engine.events_lost)
    ctx.lost("inotify_overflow", static_cast<std::int64_t>(overflows));
  // One finding per path per drain, however many events the change produced.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const change*>> by_path;
  for (const auto& c : drained) {
    if (!by_path.count(c.path))
      order.push_back(c.path);
    by_path[c.path].push_back(&c);
  }
  for (const auto& path : order) {
    const auto& cs = by_path[path];
    std::set<std::string> kinds;
    std::string primary = cs.front()->kind;
    std::map<int, std::string> holders;
    for (const auto* c : cs) {
      kinds.insert(c->kind);
      if (kind_rank(c->kind) < kind_rank(primary))
        primary = c->kind;
      for (const auto& [pid, comm] : c->holders)
        holders[pid] = comm;
    }
    auto cat = cs.front()->category;
    auto first = cs.front()->wall;
    auto last = cs.back()->wall;
    auto base = base_of(path);
    auto candidates = nlohmann::json::array();
    for (const auto& x : execs_) {
      if (x.time < first - settings_.exec_window || x.time > last + std::chrono::seconds(1))
        continue;
      bool names = x.cmdline.find(path) != std::string::npos ||
                   (base.size() >= 3 && x.cmdline.find(base) != std::string::npos);
      if (names)
        candidates.push_back(
            {{"pid", x.pid}, {"comm", x.comm}, {"exe", x.exe}, {"cmdline", x.cmdline}});
    }
    auto writers_json = nlohmann::json::array();
    const writer* exact = nullptr;
    for (const auto& w : writers) {
      if (w.path != path || w.time < first - std::chrono::seconds(2) ||
          w.time > last + std::chrono::seconds(2))
        continue;
      std::string comm = w.comm, cmdline = w.cmdline;
      for (const auto& x : execs_) // the writer may be gone: its exec event still names it
        if (x.pid == w.pid && comm.empty()) {
          comm = x.comm;
          cmdline = x.cmdline;
        }
      if (comm.empty() && holders.count(w.pid)) // or the fd scan saw it while it was alive
        comm = holders[w.pid];
      writers_json.push_back(
          {{"pid", w.pid}, {"comm", comm}, {"cmdline", cmdline}, {"seen_by", w.seen_by}});
      if (!exact)
        exact = &w;
    }
    runtime::finding f;
    bool cred = cat == watch_category::credential;
    f.rule = cred ? "realtime.credential_change" : "realtime.persistence_change";
    f.level = primary == "attributes" ? severity::low : cred ? severity::high : severity::medium;
    f.mitre = mitre_for(path, cat);
    f.title = path + " " + primary + (cred ? " (credential file)" : " (persistence location)");
    f.entity = {{"path", path}};
    auto holders_json = nlohmann::json::array();
    for (const auto& [pid, comm] : holders)
      holders_json.push_back({{"pid", pid}, {"comm", comm}});
    if (exact) {
      f.entity["pid"] = writers_json[0]["pid"];
      f.entity["comm"] = writers_json[0]["comm"];
    } else if (holders.size() == 1) {
      f.entity["pid"] = holders.begin()->first;
      f.entity["comm"] = holders.begin()->second;
    } else if (holders.empty() && candidates.size() == 1) {
      f.entity["pid"] = candidates[0]["pid"];
      f.entity["comm"] = candidates[0]["comm"];
    }
    f.evidence = {{"change", primary},
                  {"kinds", std::vector<std::string>(kinds.begin(), kinds.end())},
                  {"events", cs.size()},
                  {"writers", writers_json},
                  {"holding_processes", holders_json},
                  {"exec_candidates", candidates},
                  {"attribution",
                   exact ? std::string(exact->seen_by) == "kernel_events"
                               ? "kernel_events: the process that opened it for writing"
                               : "fanotify: the writing process"
                   : holders.empty() && candidates.empty()
                       ? "unknown: no process held the file open when scanned and no recent exec "
                         "named it"
                       : "best effort: open file descriptors and recent execs"}};
    runtime::event ev;
    ev.kind = "file_change";
    ev.time = first;
    ev.source = ctx.name();
    ev.set("path", path);
    ev.set("change", primary);
    ev.set("category", std::string(cred ? "credential" : "persistence"));
    ctx.emit(std::move(ev));
    ctx.count(cred ? "credential_changes" : "persistence_changes");
    ctx.emit_finding(std::move(f));
  }
}

void file_watch_analyzer::stop(runtime::context& ctx) {
  if (thread_.joinable()) {
    stopping_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  flushing_ = true;
  on_tick(ctx);
}

} // namespace pg::actors::realtime
