// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/process/process_analyzer.hpp"

#include <algorithm>
#include <cstdio>
#include <sys/stat.h>

#include "phantomguard/actors/host/engine_self.hpp"
#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/host/proc_maps.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

namespace pg::actors::process {

namespace host = pg::actors::host;
using nlohmann::json;
using runtime::severity;

namespace {

constexpr int cap_sys_ptrace = 19;
constexpr std::string_view deleted_suffix = " (deleted)";
constexpr std::size_t max_evidence_text = 512;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string clip(std::string s) {
  if (s.size() > max_evidence_text) {
    s.resize(max_evidence_text);
    s += "...";
  }
  return s;
}

std::string base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The first directory component of `path` that starts with '.', or empty.
std::string hidden_directory(std::string_view path) {
  auto last_slash = path.rfind('/');
  if (last_slash == std::string_view::npos)
    return {};
  std::size_t i = 0;
  while (i < last_slash) {
    auto next = path.find('/', i + 1);
    auto comp = path.substr(i + 1, next - i - 1);
    if (comp.size() > 1 && comp[0] == '.' && comp != "..")
      return std::string(path.substr(0, next));
    i = next;
  }
  return {};
}

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Matches `name` against an allow-list entry: exact, prefix when the entry ends in '*'.
bool matches(std::string_view entry, std::string_view name) {
  if (name.empty())
    return false;
  if (!entry.empty() && entry.back() == '*')
    return starts_with(name, entry.substr(0, entry.size() - 1));
  return entry == name;
}

std::string self_scan_name(process_analyzer::self_scan_mode m) {
  switch (m) {
  case process_analyzer::self_scan_mode::always:
    return "always";
  case process_analyzer::self_scan_mode::never:
    return "never";
  default:
    return "auto";
  }
}

} // namespace

process_analyzer::options process_analyzer::default_options() {
  options o;
  // Runtimes whose JIT maps writable+executable memory by design. Browsers' content processes
  // show up under their own comm names.
  o.jit_allowlist = {
      "java",        "node",        "nodejs",        "chrome",        "chromium",
      "firefox",     "firefox-esr", "Web Content",   "Isolated Web*", "WebKitWebProces",
      "thunderbird", "electron",    "code",          "mono",          "dotnet",
      "pypy*",       "luajit",      "qemu-system-*", "gjs",           "gnome-shell",
      "php-fpm*"};
  o.temp_dirs = {"/tmp", "/var/tmp", "/dev/shm"};
  o.preload_vars = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"};
  return o;
}

process_analyzer::process_analyzer(options opts)
    : opts_(std::move(opts)), cache_(runtime::cache_policy{opts_.cache_max_entries, {}}) {}

bool name_listed(const std::vector<std::string>& list, std::string_view comm,
                 std::string_view exe) {
  std::string exe_path(exe);
  if (ends_with(exe_path, deleted_suffix))
    exe_path.resize(exe_path.size() - deleted_suffix.size());
  auto exe_base = base_name(exe_path);
  for (const auto& entry : list) {
    if (!entry.empty() && entry[0] == '/') {
      if (matches(entry, exe_path))
        return true;
    } else if (matches(entry, comm) || matches(entry, exe_base)) {
      return true;
    }
  }
  return false;
}

bool process_analyzer::jit_allowed(const std::string& comm, const std::string& exe) const {
  return name_listed(opts_.jit_allowlist, comm, exe);
}

void process_analyzer::note_denied(pid_t pid, const char* what) {
  ++denied_[what];
  denied_pids_.insert(pid);
}

void process_analyzer::on_tick(runtime::context& ctx) {
  bool do_scan = opts_.self_scan == self_scan_mode::always ||
                 (opts_.self_scan == self_scan_mode::automatic && !batch_since_tick_);
  batch_since_tick_ = false;
  if (do_scan) {
    scan(ctx);
    return;
  }
  // Fed by events: entries not mentioned since the previous tick may have exited without an
  // exit event; verify them with one stat read each before forgetting them.
  evict_unseen(ctx, true);
  ++epoch_;
  report_unreadable(ctx);
}

void process_analyzer::scan(runtime::context& ctx) {
  ++epoch_;
  std::int64_t processes = 0;
  for (pid_t pid : host::list_pids(opts_.proc_root)) {
    if (ctx.should_stop())
      return;
    int err = 0;
    auto st = host::read_proc_stat(pid, opts_.proc_root, &err);
    if (!st) {
      ctx.count(err == 0 ? "malformed" : host::is_denied(err) ? "unreadable" : "vanished");
      continue;
    }
    ++processes;
    visit(pid, *st, ctx);
  }
  evict_unseen(ctx, false);
  ctx.gauge("processes", static_cast<double>(processes));
  report_unreadable(ctx);
}

void process_analyzer::evict_unseen(runtime::context& ctx, bool verify) {
  const auto gone = cache_.erase_if([&](pid_t pid, entry& e) {
    bool unseen = e.seen_epoch != epoch_;
    if (unseen && verify) {
      auto st = host::read_proc_stat(pid, opts_.proc_root);
      unseen = !st || st->start_ticks != e.start_ticks;
      if (!unseen)
        e.seen_epoch = epoch_ + 1; // alive: counts as seen for the next round
    }
    return unseen;
  });
  if (gone > 0)
    ctx.count("evicted", static_cast<std::int64_t>(gone));
  ctx.gauge("cached_processes", static_cast<double>(cache_.size()));
  cache_.counters().publish(ctx);
  // Its memory (the cache's nodes and strings) is counted by the engine as allocated.
}

void process_analyzer::on_batch(const runtime::event_batch& batch, runtime::context& ctx) {
  batch_since_tick_ = true;
  for (const auto& ev : batch.events) {
    bool exec = ev.kind == "process_exec";
    if (ev.kind == "process_exit") {
      const auto pid = static_cast<pid_t>(ev.get_int("pid"));
      if (auto* e = cache_.find(pid);
          e != nullptr && (ev.get("start_time") == nullptr ||
                           static_cast<std::uint64_t>(ev.get_int("start_time")) == e->start_ticks))
        cache_.erase(pid);
      continue;
    }
    if (!exec && ev.kind != "process")
      continue;
    auto pid = static_cast<pid_t>(ev.get_int("pid"));
    if (pid <= 0)
      continue;
    if (exec) {
      cache_.erase(pid);
    } else if (auto* e = cache_.find(pid);
               e != nullptr && ev.get("start_time") != nullptr &&
               static_cast<std::uint64_t>(ev.get_int("start_time")) == e->start_ticks &&
               ev.get_string("comm") == e->comm &&
               std::chrono::steady_clock::now() - e->analyzed < opts_.refresh) {
      // The event already tells us it is the process we know: no read at all.
      e->seen_epoch = epoch_;
      ++cache_.counters().hits;
      continue;
    }
    int err = 0;
    auto st = host::read_proc_stat(pid, opts_.proc_root, &err);
    if (!st) {
      ctx.count(err == 0 ? "malformed" : host::is_denied(err) ? "unreadable" : "vanished");
      continue;
    }
    visit(pid, *st, ctx);
  }
  cache_.counters().publish(ctx);
}

void process_analyzer::visit(pid_t pid, const host::proc_stat& st, runtime::context& ctx) {
  auto now = std::chrono::steady_clock::now();
  auto [slot, inserted] = cache_.try_emplace(pid, now);
  entry& e = *slot;
  if (!inserted) {
    bool same_process = e.start_ticks == st.start_ticks;
    bool same_image = same_process && e.comm == st.comm; // exec changes the comm
    if (same_image && now - e.analyzed < opts_.refresh) {
      e.seen_epoch = epoch_;
      ++cache_.counters().hits;
      return;
    }
    // A new process reusing the pid, or a new image after exec: report afresh. (A restored
    // entry has no comm yet and keeps what was reported before the restart.)
    if (!same_process || (!e.comm.empty() && e.comm != st.comm))
      e.reported.clear();
  }
  ++cache_.counters().misses; // a new process, a new image, or an entry past its refresh
  e.start_ticks = st.start_ticks;
  e.comm = st.comm;
  e.analyzed = now;
  e.seen_epoch = epoch_;
  ctx.count("analyzed");
  if (!analyze(pid, st, e, ctx)) {
    ctx.count("vanished");
    cache_.erase(pid);
  }
}

bool process_analyzer::analyze(pid_t pid, const host::proc_stat& st, entry& e,
                               runtime::context& ctx) {
  const std::string base = opts_.proc_root + "/" + std::to_string(pid);
  int err = 0;
  auto status = host::read_proc_status(pid, opts_.proc_root, &err);
  if (!status) {
    if (host::is_vanished(err))
      return false;
    note_denied(pid, "status");
  }
  std::int64_t uid = status ? host::status_number(*status, "Uid", 0).value_or(-1) : -1;
  std::int64_t euid = status ? host::status_number(*status, "Uid", 1).value_or(-1) : -1;

  int exe_err = 0;
  auto exe_link = host::read_link(base + "/exe", &exe_err);
  if (!exe_link && host::is_denied(exe_err))
    note_denied(pid, "exe");
  const std::string exe = exe_link.value_or(std::string());
  // No exe and not denied: a kernel thread or a zombie; nothing of user space to inspect.
  bool user_space = exe_link.has_value() || host::is_denied(exe_err);

  std::string cmdline;
  if (user_space) {
    if (auto raw = host::read_file(base + "/cmdline", 4096)) {
      for (const auto& arg : host::split_nul(*raw)) {
        if (!cmdline.empty())
          cmdline += ' ';
        cmdline += arg;
      }
    }
  }

  auto entity = json{{"pid", pid}, {"exe", exe}, {"comm", st.comm}, {"uid", uid}};
  auto base_evidence = [&] {
    return json{{"ppid", st.ppid},
                {"euid", euid},
                {"start_time", st.start_ticks},
                {"cmdline", clip(cmdline)}};
  };
  // `detail` tells apart findings of one rule about one process (the variable, the tracer).
  auto report = [&](const std::string& detail, runtime::finding f) {
    if (!e.reported.insert(f.rule + detail).second)
      return;
    f.entity = entity;
    ctx.emit_finding(std::move(f));
  };

  // --- the executable -------------------------------------------------------------------
  if (exe_link) {
    bool deleted = ends_with(exe, deleted_suffix);
    std::string path = deleted ? exe.substr(0, exe.size() - deleted_suffix.size()) : exe;
    bool memfd = starts_with(path, "/memfd:");
    bool dev_shm = starts_with(path, "/dev/shm/");
    if (memfd || dev_shm) {
      runtime::finding f;
      f.rule = "memory.memfd_exec";
      f.level = severity::critical;
      f.title = memfd ? "Process runs from an anonymous memory file (memfd): fileless execution"
                      : "Process runs from /dev/shm (memory-backed file system)";
      f.evidence = base_evidence();
      f.evidence["exe_link"] = exe;
      f.evidence["kind"] = memfd ? "memfd" : "dev_shm";
      f.evidence["deleted"] = deleted;
      f.mitre = {"T1620"};
      report("", std::move(f));
    } else if (deleted) {
      struct stat sb {};
      bool replaced = ::stat(path.c_str(), &sb) == 0;
      runtime::finding f;
      f.rule = "memory.deleted_exe";
      // A file at the same path again is what a package upgrade leaves behind.
      f.level = replaced ? severity::medium : severity::high;
      f.title = replaced ? "Running executable was replaced on disk (upgrade without restart?)"
                         : "Running executable was deleted from disk";
      f.evidence = base_evidence();
      f.evidence["path"] = path;
      f.evidence["replaced_on_disk"] = replaced;
      f.mitre = {"T1070.004"};
      report("", std::move(f));
    }
    // The engine itself and the plugin hosts it started, still running the file it started
    // from, are where the operator put them (a checkout under /tmp, a build tree): not a finding.
    // Replaced or deleted, they are reported like any process.
    bool own = !deleted && host::is_engine_process(pid, st.ppid, opts_.proc_root);
    if (own)
      ctx.count("own_processes");
    if (!memfd && !own) {
      std::string temp_dir;
      for (const auto& dir : opts_.temp_dirs)
        if (!dir.empty() && starts_with(path, dir + (dir.back() == '/' ? "" : "/")))
          temp_dir = dir;
      std::string hidden = hidden_directory(path);
      if (!temp_dir.empty() || !hidden.empty()) {
        runtime::finding f;
        f.rule = "process.exe_in_temp";
        f.level = temp_dir.empty() ? severity::medium : severity::high;
        f.title = temp_dir.empty() ? "Executable runs from a hidden directory"
                                   : "Executable runs from a temporary directory";
        f.evidence = base_evidence();
        f.evidence["path"] = path;
        if (!temp_dir.empty())
          f.evidence["temp_dir"] = temp_dir;
        if (!hidden.empty())
          f.evidence["hidden_dir"] = hidden;
        f.mitre = {"T1036"};
        report("", std::move(f));
      }
    }
  }

  // --- tracer -----------------------------------------------------------------------------
  if (status) {
    auto tracer = host::status_number(*status, "TracerPid").value_or(0);
    if (tracer > 0) {
      auto tpid = static_cast<pid_t>(tracer);
      auto tstat = host::read_proc_stat(tpid, opts_.proc_root);
      auto texe = host::read_link(opts_.proc_root + "/" + std::to_string(tpid) + "/exe");
      runtime::finding f;
      f.rule = "memory.ptrace_attached";
      f.level = severity::high;
      f.title = "Process is traced (ptrace) by " + (tstat ? tstat->comm : std::string("pid ")) +
                (tstat ? "" : std::to_string(tpid));
      f.evidence = base_evidence();
      f.evidence["tracer"] = json{{"pid", tracer},
                                  {"comm", tstat ? tstat->comm : std::string()},
                                  {"exe", texe.value_or(std::string())}};
      f.mitre = {"T1055", "T1055.008"};
      report(":" + std::to_string(tracer), std::move(f));
    }
  }

  if (!user_space)
    return true;

  // --- environment ------------------------------------------------------------------------
  int env_err = 0;
  auto environ_text = host::read_file(base + "/environ", 1 << 20, &env_err);
  if (!environ_text) {
    if (host::is_vanished(env_err))
      return false;
    if (host::is_denied(env_err))
      note_denied(pid, "environ");
  } else {
    for (const auto& var : host::split_nul(*environ_text)) {
      auto eq = var.find('=');
      if (eq == std::string::npos || eq + 1 == var.size())
        continue;
      std::string_view name(var.data(), eq);
      auto it = std::find(opts_.preload_vars.begin(), opts_.preload_vars.end(), name);
      if (it == opts_.preload_vars.end())
        continue;
      // LD_LIBRARY_PATH is how many vendors ship their bundled libraries; LD_PRELOAD and
      // LD_AUDIT inject code into every binary the process starts.
      bool weak = name == "LD_LIBRARY_PATH";
      runtime::finding f;
      f.rule = "memory.preload_env";
      f.level = weak ? severity::low : severity::high;
      f.title = std::string(name) + " is set in the process environment";
      f.evidence = base_evidence();
      f.evidence["variable"] = std::string(name);
      f.evidence["value"] = clip(var.substr(eq + 1));
      f.mitre = {"T1574.006"};
      report(":" + std::string(name), std::move(f));
    }
  }

  // --- memory mappings ----------------------------------------------------------------------
  int maps_err = 0;
  auto maps = host::read_proc_maps(pid, opts_.proc_root, &maps_err);
  if (!maps) {
    if (host::is_vanished(maps_err))
      return false;
    if (host::is_denied(maps_err))
      note_denied(pid, "maps");
    return true;
  }
  json regions = json::array();
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  for (const auto& m : *maps) {
    if (!m.writable || !m.executable)
      continue;
    if (!m.anonymous() && !starts_with(m.path, "/memfd:"))
      continue;
    ++count;
    bytes += m.size();
    if (regions.size() < opts_.max_regions)
      regions.push_back(json{{"start", hex(m.start)},
                             {"end", hex(m.end)},
                             {"size", m.size()},
                             {"mapping", m.path.empty() ? std::string("[anon]") : m.path},
                             {"shared", m.shared}});
  }
  if (count > 0) {
    if (jit_allowed(st.comm, exe)) {
      ctx.count("rwx_allowlisted");
    } else {
      runtime::finding f;
      f.rule = "memory.rwx_region";
      f.level = severity::high;
      f.title = "Writable and executable anonymous memory (" + std::to_string(count) +
                (count == 1 ? " region)" : " regions)");
      f.evidence = base_evidence();
      f.evidence["regions"] = std::move(regions);
      f.evidence["region_count"] = count;
      f.evidence["bytes"] = bytes;
      f.mitre = {"T1055"};
      report("", std::move(f));
    }
  }
  return true;
}

void process_analyzer::report_unreadable(runtime::context& ctx) {
  if (denied_pids_.empty())
    return;
  bool have = host::has_capability(cap_sys_ptrace);
  runtime::finding f;
  f.rule = "process.unreadable";
  f.level = severity::info;
  f.title = have ? "Could not inspect " + std::to_string(denied_pids_.size()) +
                       " processes although CAP_SYS_PTRACE is held (other user namespace, LSM "
                       "or a protected process)"
                 : "Could not inspect " + std::to_string(denied_pids_.size()) +
                       " processes: CAP_SYS_PTRACE is missing (run as root for a full view)";
  f.entity = json{{"privilege", host::capability_name(cap_sys_ptrace)}};
  json what = json::object();
  for (const auto& [k, n] : denied_)
    what[k] = n;
  json pids = json::array();
  for (pid_t p : denied_pids_) {
    if (pids.size() >= 20)
      break;
    pids.push_back(p);
  }
  f.evidence = json{{"privilege", host::capability_name(cap_sys_ptrace)},
                    {"have_privilege", have},
                    {"processes", denied_pids_.size()},
                    {"denied", std::move(what)},
                    {"pids", std::move(pids)}};
  ctx.emit_finding(std::move(f));
  ctx.count("unreadable_processes", static_cast<std::int64_t>(denied_pids_.size()));
  denied_.clear();
  denied_pids_.clear();
}

std::string process_analyzer::snapshot() {
  json out = json::array();
  cache_.for_each([&out](pid_t pid, const entry& e) {
    if (!e.reported.empty())
      out.push_back(json{{"pid", pid}, {"start", e.start_ticks}, {"reported", e.reported}});
  });
  return out.dump();
}

void process_analyzer::restore(std::string_view state) {
  // A snapshot that does not parse costs only duplicate findings: start empty.
  auto j = json::parse(state, nullptr, false);
  if (!j.is_array())
    return;
  for (const auto& item : j) {
    if (!item.is_object() || !item.contains("pid") || !item.contains("start") ||
        !item.contains("reported") || !item["pid"].is_number_integer() ||
        !item["start"].is_number_unsigned() || !item["reported"].is_array())
      continue;
    entry& e = *cache_.try_emplace(item["pid"].get<pid_t>()).first;
    e.start_ticks = item["start"].get<std::uint64_t>();
    // No comm and no analysis time: the next scan re-reads the process (same start time keeps
    // the reported keys), which is the point: its state may have changed while we were down.
    for (const auto& key : item["reported"])
      if (key.is_string())
        e.reported.insert(key.get<std::string>());
  }
}

runtime::component_type process_analyzer::type() {
  using runtime::option_type;
  auto d = default_options();
  auto join = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (const auto& x : v)
      s += (s.size() > 1 ? ", \"" : "\"") + x + "\"";
    return s + "]";
  };
  runtime::component_type t;
  t.name = "process";
  t.kind = runtime::component_kind::analyzer;
  t.description = "Process and memory analyzer: memfd and deleted executables, RWX memory, "
                  "LD_PRELOAD, ptrace, executables in temporary directories (memory.*, "
                  "process.*).";
  t.consumes = {"process", "process_exec", "process_exit"};
  t.options = {
      {"proc_root",
       option_type::string,
       "/proc",
       "Where procfs is mounted.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"jit_allowlist",
       option_type::string_list,
       join(d.jit_allowlist),
       "comm or exe names (a trailing * matches a prefix; a leading / an exe path) allowed to "
       "map RWX memory.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"temp_dirs",
       option_type::string_list,
       join(d.temp_dirs),
       "Directories an executable should not run from (process.exe_in_temp).",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"preload_vars",
       option_type::string_list,
       join(d.preload_vars),
       "Environment variables reported by memory.preload_env.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"self_scan",
       option_type::string,
       "auto",
       "When a tick scans /proc itself: auto (unless events arrived since the last tick), "
       "always, never.",
       false,
       std::nullopt,
       std::nullopt,
       {"auto", "always", "never"}},
      {"refresh",
       option_type::duration,
       "5m",
       "Re-read a known process after this long (late ptrace attach or RWX mapping).",
       false,
       1.0,
       std::nullopt,
       {}},
  };
  for (auto& c : runtime::cache_option_specs(
           runtime::cache_policy{d.cache_max_entries, {}},
           "Processes remembered at most; the least recently seen go first (cache_evictions)."))
    t.options.push_back(std::move(c));
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    auto o = default_options();
    const auto& s = init.settings;
    o.proc_root = s.get_string("proc_root", o.proc_root);
    o.jit_allowlist = s.get_string_list("jit_allowlist", o.jit_allowlist);
    o.temp_dirs = s.get_string_list("temp_dirs", o.temp_dirs);
    o.preload_vars = s.get_string_list("preload_vars", o.preload_vars);
    auto mode = s.get_string("self_scan", self_scan_name(o.self_scan));
    o.self_scan = mode == "always"  ? self_scan_mode::always
                  : mode == "never" ? self_scan_mode::never
                                    : self_scan_mode::automatic;
    o.refresh = s.get_duration("refresh", o.refresh);
    o.cache_max_entries =
        runtime::cache_policy_from(s, runtime::cache_policy{o.cache_max_entries, {}}).max_entries;
    return std::make_unique<process_analyzer>(std::move(o));
  };
  return t;
}

} // namespace pg::actors::process
