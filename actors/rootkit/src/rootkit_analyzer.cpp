// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/rootkit_analyzer.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/rootkit/directory_census.hpp"
#include "phantomguard/actors/rootkit/known_rootkits.hpp"
#include "phantomguard/actors/rootkit/module_views.hpp"
#include "phantomguard/actors/rootkit/pid_cross_view.hpp"
#include "phantomguard/actors/rootkit/port_probe.hpp"
#include "phantomguard/actors/rootkit/taint_flags.hpp"

namespace pg::actors::rootkit {

namespace {

using runtime::finding;
using runtime::option_spec;
using runtime::option_type;
using runtime::severity;

constexpr int cap_dac_read_search = 2;
constexpr int cap_net_bind_service = 10;
constexpr int cap_sys_ptrace = 19;

const std::vector<std::string>& all_checks() {
  static const std::vector<std::string> v{"hidden_process", "hidden_port",    "ld_so_preload",
                                          "hidden_module",  "kernel_tainted", "known_file",
                                          "hidden_file"};
  return v;
}

const std::vector<std::string>& default_hidden_file_dirs() {
  static const std::vector<std::string> v{"/bin", "/sbin",    "/usr/bin", "/usr/sbin",
                                          "/lib", "/usr/lib", "/etc",     "/dev",
                                          "/tmp", "/var/tmp", "/dev/shm", "/root"};
  return v;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty())
      out += sep;
    out += s;
  }
  return out;
}

double ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// /proc mounted with hidepid hides other users' processes from an unprivileged reader: every
// one of them would look hidden, so the check cannot run meaningfully.
bool proc_hides_pids() {
  auto text = host::read_file("/proc/self/mounts", 1 << 20);
  if (!text)
    return false;
  std::size_t pos = 0;
  while (pos < text->size()) {
    auto end = text->find('\n', pos);
    auto line = text->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text->size() : end + 1;
    if (line.rfind("proc /proc ", 0) != 0)
      continue;
    auto h = line.find("hidepid=");
    if (h == std::string::npos)
      return false;
    char v = line[h + 8];
    return !(v == '0' || line.compare(h + 8, 3, "off") == 0);
  }
  return false;
}

} // namespace

std::vector<option_spec> rootkit_options() {
  std::vector<option_spec> v;
  option_spec checks{"checks", option_type::string_list,
                     "all",    "checks to run: all, or any of " + join(all_checks()),
                     false,    {},
                     {},       {}};
  checks.choices = all_checks();
  checks.choices.insert(checks.choices.begin(), "all");
  v.push_back(checks);
  v.push_back({"pid_max",
               option_type::integer,
               "0",
               "highest PID to walk; 0 reads /proc/sys/kernel/pid_max",
               false,
               0,
               4194304,
               {}});
  v.push_back({"port_range",
               option_type::string,
               "1-65535",
               "ports probed by hidden_port (\"FIRST-LAST\")",
               false,
               {},
               {},
               {}});
  v.push_back({"port_ipv6",
               option_type::boolean,
               "false",
               "also probe IPv6 ([::], v6-only) in hidden_port",
               false,
               {},
               {},
               {}});
  v.push_back({"ld_so_preload",
               option_type::string,
               "/etc/ld.so.preload",
               "the preload file checked by ld_so_preload",
               false,
               {},
               {},
               {}});
  v.push_back({"known_files",
               option_type::string,
               "",
               "known-rootkit data file (TOML); empty searches /etc/phantomguard/rootkits, "
               "/usr/share/phantomguard/rootkits and config/rootkits near the executable",
               false,
               {},
               {},
               {}});
  v.push_back({"root",
               option_type::string,
               "",
               "prefix for known_file paths (a mounted image; empty = this host)",
               false,
               {},
               {},
               {}});
  v.push_back({"hidden_file_dirs",
               option_type::string_list,
               join(default_hidden_file_dirs()),
               "directories examined by hidden_file",
               false,
               {},
               {},
               {}});
  v.push_back({"hidden_file_depth",
               option_type::integer,
               "1",
               "subdirectory levels below each hidden_file directory (same file system)",
               false,
               0,
               16,
               {}});
  v.push_back({"sys_module_dir",
               option_type::string,
               "/sys/module",
               "sysfs module folder compared by hidden_module",
               false,
               {},
               {},
               {}});
  v.push_back({"proc_modules",
               option_type::string,
               "/proc/modules",
               "module list compared by hidden_module",
               false,
               {},
               {},
               {}});
  v.push_back({"tainted",
               option_type::string,
               "/proc/sys/kernel/tainted",
               "taint file decoded by kernel_tainted",
               false,
               {},
               {},
               {}});
  v.push_back({"mountinfo",
               option_type::string,
               "/proc/self/mountinfo",
               "the mount table searched for mounts over /proc/PID (tests point it at a fixture)",
               false,
               {},
               {},
               {}});
  v.push_back({"program_view",
               option_type::string,
               "/bin/ls",
               "a program started to list /proc as every program sees it (through "
               "/etc/ld.so.preload and libc): a PID it leaves out while the raw listing holds it "
               "is hidden by a readdir hook; empty: only this process's own libc listing",
               false,
               {},
               {},
               {}});
  v.push_back({"proc_view",
               option_type::string,
               "/proc",
               "the /proc whose PID listing and socket tables are compared with what system "
               "calls answer (tests point it at a doctored copy)",
               false,
               {},
               {},
               {}});
  return v;
}

rootkit_settings rootkit_settings::from(const runtime::component_settings& s) {
  rootkit_settings r;
  auto checks = s.get_string_list("checks", all_checks());
  for (const auto& c : checks) {
    if (c == "all") {
      r.checks.insert(all_checks().begin(), all_checks().end());
      continue;
    }
    bool known = false;
    for (const auto& k : all_checks())
      known = known || k == c;
    if (!known)
      throw std::invalid_argument("rootkit: unknown check '" + c +
                                  "' (known: " + join(all_checks()) + ")");
    r.checks.insert(c);
  }
  r.pid_max = static_cast<int>(s.get_int("pid_max", 0));
  r.port_range = s.get_string("port_range", r.port_range);
  if (!parse_port_range(r.port_range))
    throw std::invalid_argument("rootkit: port_range '" + r.port_range +
                                "' is not FIRST-LAST with 1 <= FIRST <= LAST <= 65535");
  r.port_ipv6 = s.get_bool("port_ipv6", false);
  r.ld_so_preload = s.get_string("ld_so_preload", r.ld_so_preload);
  r.known_files = s.get_string("known_files", "");
  r.root = s.get_string("root", "");
  r.hidden_file_dirs = s.get_string_list("hidden_file_dirs", default_hidden_file_dirs());
  r.hidden_file_depth = static_cast<int>(s.get_int("hidden_file_depth", 1));
  r.sys_module_dir = s.get_string("sys_module_dir", r.sys_module_dir);
  r.proc_modules = s.get_string("proc_modules", r.proc_modules);
  r.tainted = s.get_string("tainted", r.tainted);
  r.proc_view = s.get_string("proc_view", r.proc_view);
  r.mountinfo = s.get_string("mountinfo", r.mountinfo);
  r.program_view = s.get_string("program_view", r.program_view);
  return r;
}

std::vector<std::string> parse_ld_so_preload(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool comment = false;
  for (char ch : text) {
    if (ch == '\n')
      comment = false;
    else if (ch == '#')
      comment = true;
    bool sep = comment || ch == ' ' || ch == '\t' || ch == '\n' || ch == ':' || ch == '\r';
    if (sep) {
      if (!cur.empty())
        out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty())
    out.push_back(std::move(cur));
  return out;
}

rootkit_analyzer::rootkit_analyzer(rootkit_settings settings) : settings_(std::move(settings)) {}

void rootkit_analyzer::on_tick(runtime::context& ctx) {
  limits_.clear();
  using check_fn = void (rootkit_analyzer::*)(runtime::context&);
  const std::pair<const char*, check_fn> checks[] = {
      {"hidden_process", &rootkit_analyzer::check_hidden_process},
      {"hidden_port", &rootkit_analyzer::check_hidden_port},
      {"ld_so_preload", &rootkit_analyzer::check_ld_so_preload},
      {"hidden_module", &rootkit_analyzer::check_hidden_module},
      {"kernel_tainted", &rootkit_analyzer::check_kernel_tainted},
      {"known_file", &rootkit_analyzer::check_known_file},
      {"hidden_file", &rootkit_analyzer::check_hidden_file},
  };
  for (const auto& [name, fn] : checks) {
    if (!settings_.checks.count(name))
      continue;
    if (ctx.should_stop())
      return;
    auto t0 = std::chrono::steady_clock::now();
    (this->*fn)(ctx);
    ctx.gauge(std::string("check_ms.") + name, ms(std::chrono::steady_clock::now() - t0));
    ctx.count("checks_run");
  }
  if (!limits_.empty()) {
    finding f;
    f.rule = "rootkit.privilege_limited";
    f.level = severity::info;
    std::vector<std::string> caps;
    auto checks_json = nlohmann::json::array();
    for (const auto& l : limits_) {
      bool seen = false;
      for (const auto& c : caps)
        seen = seen || c == l.capability;
      if (!seen)
        caps.push_back(l.capability);
      checks_json.push_back(
          {{"check", l.check}, {"capability", l.capability}, {"detail", l.detail}});
    }
    f.title = "Rootkit checks incomplete without " + join(caps);
    f.entity = {{"uid", static_cast<std::int64_t>(::geteuid())}};
    f.evidence = {{"missing_capabilities", caps}, {"limited_checks", checks_json}};
    ctx.emit_finding(std::move(f));
  }
}

void rootkit_analyzer::incomplete(runtime::context& ctx, const std::string& check,
                                  const std::string& reason) {
  finding f;
  f.rule = "rootkit.check_incomplete";
  f.level = severity::info;
  f.title = "Rootkit check " + check + " could not run completely";
  f.entity = {{"check", check}};
  f.evidence = {{"reason", reason}};
  ctx.count("checks_incomplete");
  ctx.emit_finding(std::move(f));
}

void rootkit_analyzer::check_hidden_process(runtime::context& ctx) {
  if (proc_hides_pids() && !host::has_capability(cap_sys_ptrace)) {
    limits_.push_back({"hidden_process", host::capability_name(cap_sys_ptrace),
                       "/proc is mounted with hidepid: other users' processes are invisible"});
    return;
  }
  pid_scan_options opts;
  opts.pid_max = settings_.pid_max;
  if (settings_.proc_view != "/proc")
    opts.listing_root = settings_.proc_view;
  auto res = scan_pid_space(opts);
  ctx.gauge("pid_walk_ms", ms(res.elapsed));
  ctx.gauge("pids_listed", static_cast<double>(res.listed));
  ctx.count("pid_candidates_transient", static_cast<std::int64_t>(res.transient));
  for (const auto& a : res.anomalies) {
    finding f;
    f.rule = "rootkit.hidden_process";
    f.mitre = {"T1014", "T1564"};
    f.entity = {{"pid", a.pid}};
    if (!a.comm.empty())
      f.entity["comm"] = a.comm;
    if (!a.exe.empty())
      f.entity["exe"] = a.exe;
    f.evidence = {
        {"answered", probe_names(a.probes)}, {"pid_max", res.pid_max}, {"rechecked", true}};
    if (a.what == pid_anomaly::kind::hidden) {
      f.level = severity::high;
      f.title = "Process " + std::to_string(a.pid) +
                " answers system calls but is missing "
                "from the /proc listing";
      f.evidence["in_proc_listing"] = false;
    } else {
      f.level = severity::medium;
      f.title = "PID " + std::to_string(a.pid) + " is listed in /proc but answers no system call";
      f.evidence["in_proc_listing"] = true;
    }
    ctx.emit_finding(std::move(f));
  }
  // A readdir hook hides the process from every program that loads it (ps, top, unhide's
  // listing) but neither from the raw listing nor from the probes: compare what programs see.
  auto view = find_listing_gaps(settings_.proc_view, settings_.program_view);
  ctx.count("listing_gaps_transient", static_cast<std::int64_t>(view.transient));
  if (!settings_.program_view.empty() && !view.program_ran)
    incomplete(ctx, "hidden_process", "the program view could not be taken: " + view.program_error);
  for (const auto& g : view.gaps) {
    finding f;
    f.rule = "rootkit.hidden_process";
    f.level = severity::critical;
    f.mitre = {"T1014", "T1564", "T1574.006"};
    f.title = "Process " + std::to_string(g.pid) +
              " is hidden from programs by a readdir hook: the raw /proc listing holds it, " +
              (g.missing_in_program ? settings_.program_view : std::string("libc's readdir")) +
              " does not";
    f.entity = {{"pid", g.pid}};
    if (!g.comm.empty())
      f.entity["comm"] = g.comm;
    if (!g.exe.empty())
      f.entity["exe"] = g.exe;
    nlohmann::json missing = nlohmann::json::array();
    if (g.missing_in_engine)
      missing.push_back("libc readdir in the engine");
    if (g.missing_in_program)
      missing.push_back(settings_.program_view);
    f.evidence = {{"technique", "readdir hook"},
                  {"missing_from", missing},
                  {"answered", probe_names(g.probes)},
                  {"in_raw_listing", true},
                  {"see", "rootkit.ld_so_preload names a library in /etc/ld.so.preload"}};
    if (const char* preload = std::getenv("LD_PRELOAD"); preload && *preload)
      f.evidence["engine_ld_preload"] = preload;
    ctx.emit_finding(std::move(f));
  }
  // A mount over /proc/PID hides the process from ps and top while leaving it in the listing:
  // what `unhide proc` finds by stat-ing /proc/PID/... and the cross view above cannot.
  auto mountinfo = host::read_file(settings_.mountinfo, 4 << 20).value_or("");
  for (const auto& m : find_proc_masks(mountinfo, settings_.proc_mount)) {
    finding f;
    f.rule = "rootkit.hidden_process";
    f.level = severity::critical;
    f.mitre = {"T1014", "T1564"};
    f.title = "Process " + std::to_string(m.pid) + " is masked from ps and top: " + m.root +
              " is mounted over " + m.mount_point;
    f.entity = {{"pid", m.pid}};
    f.evidence = {{"technique", "mount over /proc/PID"},
                  {"mount_point", m.mount_point},
                  {"mounted", m.root},
                  {"fs_type", m.fs_type},
                  {"source", m.source},
                  {"answered", probe_names(probe_pid(m.pid))},
                  {"fix", "umount " + m.mount_point + " and look at the process"}};
    ctx.emit_finding(std::move(f));
  }
}

void rootkit_analyzer::check_hidden_port(runtime::context& ctx) {
  port_probe_options opts;
  opts.range = *parse_port_range(settings_.port_range);
  opts.ipv6 = settings_.port_ipv6;
  opts.proc_root = settings_.proc_view;
  auto res = probe_hidden_ports(opts);
  ctx.gauge("port_probe_ms", ms(res.elapsed));
  ctx.count("ports_probed", static_cast<std::int64_t>(res.probed));
  if (res.denied > 0)
    limits_.push_back({"hidden_port", "CAP_NET_BIND_SERVICE",
                       std::to_string(res.denied) + " privileged ports could not be bound"});
  if (res.errors > 0)
    incomplete(ctx, "hidden_port",
               std::to_string(res.errors) + " bind attempts failed for reasons other than "
                                            "EADDRINUSE/EACCES (file descriptor limit?)");
  for (const auto& h : res.hidden) {
    finding f;
    f.rule = "rootkit.hidden_port";
    f.level = severity::high;
    f.mitre = {"T1014", "T1205"};
    f.title =
        h.proto + " port " + std::to_string(h.port) + " is in use but appears in no socket table";
    f.entity = {{"port", h.port}, {"proto", h.proto}};
    f.evidence = {{"bind_error", "EADDRINUSE"}, {"in_socket_table", false}, {"rechecked", true}};
    ctx.emit_finding(std::move(f));
  }
}

void rootkit_analyzer::check_ld_so_preload(runtime::context& ctx) {
  int err = 0;
  auto text = host::read_file(settings_.ld_so_preload, 1 << 20, &err);
  if (!text) {
    if (host::is_denied(err))
      limits_.push_back({"ld_so_preload", host::capability_name(cap_dac_read_search),
                         settings_.ld_so_preload + " is not readable"});
    else if (!host::is_vanished(err))
      incomplete(ctx, "ld_so_preload", settings_.ld_so_preload + ": " + std::strerror(err));
    return; // absent: the normal case
  }
  auto libs = parse_ld_so_preload(*text);
  bool blank = libs.empty();
  if (blank && text->find_first_not_of(" \t\r\n") == std::string::npos)
    return; // empty file: nothing is preloaded
  finding f;
  f.rule = "rootkit.ld_so_preload";
  f.level = blank ? severity::low : severity::high;
  f.mitre = {"T1574.006", "T1014"};
  f.entity = {{"path", settings_.ld_so_preload}};
  auto libs_json = nlohmann::json::array();
  for (const auto& l : libs) {
    struct stat st {};
    nlohmann::json j = {{"library", l}, {"exists", ::stat(l.c_str(), &st) == 0}};
    if (j["exists"].get<bool>()) {
      j["size"] = static_cast<std::int64_t>(st.st_size);
      j["uid"] = static_cast<std::int64_t>(st.st_uid);
      j["mode"] = static_cast<std::int64_t>(st.st_mode & 07777);
    }
    libs_json.push_back(std::move(j));
  }
  f.evidence = {{"libraries", libs_json}, {"bytes", text->size()}};
  f.title = blank ? settings_.ld_so_preload + " is not empty but names no library"
                  : settings_.ld_so_preload + " preloads " + join(libs) + " into every process";
  ctx.emit_finding(std::move(f));
}

void rootkit_analyzer::check_hidden_module(runtime::context& ctx) {
  auto first = read_module_views(settings_.sys_module_dir, settings_.proc_modules);
  if (!first.proc_modules_present) {
    if (first.sysfs.empty())
      return; // kernel without loadable module support: nothing to compare
    incomplete(ctx, "hidden_module",
               settings_.proc_modules + " is missing although " + settings_.sys_module_dir +
                   " shows loadable modules: " + join({first.sysfs.begin(), first.sysfs.end()}));
    return;
  }
  auto d1 = compare_modules(first);
  if (d1.hidden.empty() && d1.unlisted.empty())
    return;
  // A module loading or unloading between the two reads differs once; a hidden one stays.
  auto d2 = compare_modules(read_module_views(settings_.sys_module_dir, settings_.proc_modules));
  for (const auto& name : d1.hidden) {
    if (!d2.hidden.count(name))
      continue;
    finding f;
    f.rule = "rootkit.hidden_module";
    f.level = severity::high;
    f.mitre = {"T1014", "T1547.006"};
    f.title = "Kernel module " + name + " is in " + settings_.sys_module_dir + " but hidden from " +
              settings_.proc_modules;
    f.entity = {{"module", name}};
    f.evidence = {{"in_sysfs", true}, {"in_proc_modules", false}, {"rechecked", true}};
    ctx.emit_finding(std::move(f));
  }
  for (const auto& name : d1.unlisted) {
    if (!d2.unlisted.count(name))
      continue;
    finding f;
    f.rule = "rootkit.hidden_module";
    f.level = severity::medium;
    f.mitre = {"T1014", "T1547.006"};
    f.title = "Kernel module " + name + " is in " + settings_.proc_modules + " but has no " +
              settings_.sys_module_dir + " entry";
    f.entity = {{"module", name}};
    f.evidence = {{"in_sysfs", false}, {"in_proc_modules", true}, {"rechecked", true}};
    ctx.emit_finding(std::move(f));
  }
}

void rootkit_analyzer::check_kernel_tainted(runtime::context& ctx) {
  int err = 0;
  auto text = host::read_file(settings_.tainted, 64, &err);
  if (!text) {
    incomplete(ctx, "kernel_tainted", settings_.tainted + ": " + std::strerror(err));
    return;
  }
  auto value = parse_taint(*text);
  if (!value) {
    incomplete(ctx, "kernel_tainted", settings_.tainted + ": not a number: " + *text);
    return;
  }
  ctx.gauge("kernel_tainted", static_cast<double>(*value));
  if (*value == 0)
    return;
  auto flags = decode_taint(*value);
  finding f;
  f.rule = "rootkit.kernel_tainted";
  f.level = severity::info;
  auto flags_json = nlohmann::json::array();
  bool module_flag = false;
  for (const auto& fl : flags) {
    if (fl.level > f.level)
      f.level = fl.level;
    module_flag = module_flag || fl.letter == 'P' || fl.letter == 'F' || fl.letter == 'R' ||
                  fl.letter == 'O' || fl.letter == 'E';
    flags_json.push_back({{"bit", fl.bit},
                          {"letter", std::string(1, fl.letter)},
                          {"meaning", std::string(fl.meaning)},
                          {"severity", std::string(runtime::to_string(fl.level))}});
  }
  if (module_flag)
    f.mitre = {"T1547.006", "T1014"};
  f.title = "Kernel is tainted (" + taint_letters(flags) + ")";
  f.entity = {{"path", settings_.tainted}};
  f.evidence = {{"value", *value}, {"letters", taint_letters(flags)}, {"flags", flags_json}};
  ctx.emit_finding(std::move(f));
}

void rootkit_analyzer::check_known_file(runtime::context& ctx) {
  auto path = settings_.known_files;
  if (path.empty()) {
    auto found = find_known_rootkit_file();
    if (!found) {
      incomplete(ctx, "known_file",
                 "no known-rootkit data file found; set known_files to the path of "
                 "config/rootkits/known_files.toml");
      return;
    }
    path = *found;
  }
  auto list = load_known_rootkits(path);
  if (!list.ok()) {
    incomplete(ctx, "known_file", list.error);
    return;
  }
  std::size_t paths = 0;
  for (const auto& rk : list.rootkits)
    paths += rk.files.size() + rk.dirs.size();
  ctx.gauge("known_paths", static_cast<double>(paths));
  for (const auto& hit : find_known_files(list, settings_.root)) {
    finding f;
    f.rule = "rootkit.known_file";
    f.level = severity::high;
    f.mitre = {"T1014"};
    f.title = (hit.directory ? "Directory " : "File ") + hit.real_path + " of the " + hit.rootkit +
              " rootkit exists";
    f.entity = {{"path", hit.real_path}};
    f.evidence = {{"rootkit", hit.rootkit},
                  {"listed_path", hit.path},
                  {"directory", hit.directory},
                  {"data_file", list.origin}};
    ctx.emit_finding(std::move(f));
  }
}

void rootkit_analyzer::check_hidden_file(runtime::context& ctx) {
  auto res = scan_hidden_files(settings_.hidden_file_dirs, settings_.hidden_file_depth);
  ctx.gauge("hidden_file_directories", static_cast<double>(res.directories));
  ctx.gauge("hidden_file_unreliable_fs", static_cast<double>(res.unreliable));
  if (res.denied > 0 || !res.denied_paths.empty())
    limits_.push_back({"hidden_file", host::capability_name(cap_dac_read_search),
                       std::to_string(res.denied) + " names and " +
                           std::to_string(res.denied_paths.size()) + " directories not readable (" +
                           join(res.denied_paths) + ")"});
  for (const auto& h : res.findings) {
    finding f;
    f.rule = "rootkit.hidden_file";
    f.mitre = {"T1564.001", "T1014"};
    if (h.what == hidden_file_finding::kind::unstatable_name) {
      auto full = (h.directory == "/" ? std::string() : h.directory) + "/" + h.name;
      f.level = severity::high;
      f.title = full + " is listed by getdents but lstat says it does not exist";
      f.entity = {{"path", full}};
      f.evidence = {{"directory", h.directory}, {"lstat", "ENOENT"}, {"rechecked", true}};
    } else {
      f.level = severity::medium;
      f.title = h.directory + " has " + std::to_string(h.nlink) + " links but " +
                std::to_string(h.subdirs) + " visible subdirectories (expected " +
                std::to_string(h.subdirs + 2) + ")";
      f.entity = {{"path", h.directory}};
      f.evidence = {{"nlink", h.nlink},
                    {"visible_subdirectories", h.subdirs},
                    {"expected_nlink", h.subdirs + 2},
                    {"rechecked", true}};
    }
    ctx.emit_finding(std::move(f));
  }
}

} // namespace pg::actors::rootkit
