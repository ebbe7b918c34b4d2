// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/kernel_loads_analyzer.hpp"

#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/process/process_analyzer.hpp"

namespace pg::actors::rootkit {

namespace {

using runtime::severity;

const char* prog_type_name(std::int64_t t) {
  switch (t) {
  case BPF_PROG_TYPE_SOCKET_FILTER:
    return "socket_filter";
  case BPF_PROG_TYPE_KPROBE:
    return "kprobe";
  case BPF_PROG_TYPE_SCHED_CLS:
    return "sched_cls";
  case BPF_PROG_TYPE_SCHED_ACT:
    return "sched_act";
  case BPF_PROG_TYPE_TRACEPOINT:
    return "tracepoint";
  case BPF_PROG_TYPE_XDP:
    return "xdp";
  case BPF_PROG_TYPE_PERF_EVENT:
    return "perf_event";
  case BPF_PROG_TYPE_CGROUP_SKB:
    return "cgroup_skb";
  case BPF_PROG_TYPE_CGROUP_SOCK:
    return "cgroup_sock";
  case BPF_PROG_TYPE_CGROUP_DEVICE:
    return "cgroup_device";
  case BPF_PROG_TYPE_RAW_TRACEPOINT:
    return "raw_tracepoint";
  case BPF_PROG_TYPE_TRACING:
    return "tracing";
  case BPF_PROG_TYPE_STRUCT_OPS:
    return "struct_ops";
  case BPF_PROG_TYPE_EXT:
    return "ext";
  case BPF_PROG_TYPE_LSM:
    return "lsm";
  default:
    return "other";
  }
}

// The program kinds that observe or change the kernel's own behaviour: what a BPF rootkit uses.
bool tracing_kind(std::int64_t t) {
  return t == BPF_PROG_TYPE_KPROBE || t == BPF_PROG_TYPE_TRACEPOINT ||
         t == BPF_PROG_TYPE_RAW_TRACEPOINT || t == BPF_PROG_TYPE_TRACING ||
         t == BPF_PROG_TYPE_LSM || t == BPF_PROG_TYPE_STRUCT_OPS || t == BPF_PROG_TYPE_EXT ||
         t == BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE;
}

bool risky_place(const std::string& path) {
  for (const char* p : {"/tmp/", "/var/tmp/", "/dev/shm/", "/memfd:", "/proc/"})
    if (path.rfind(p, 0) == 0)
      return true;
  auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0)
    return false;
  struct stat st {};
  return ::stat(path.substr(0, slash).c_str(), &st) == 0 && (st.st_mode & S_IWOTH);
}

nlohmann::json actor(const runtime::event& ev) {
  nlohmann::json j = {{"pid", ev.get_int("pid")},
                      {"ppid", ev.get_int("ppid")},
                      {"uid", ev.get_int("uid")},
                      {"comm", std::string(ev.get_string("comm"))},
                      {"kernel_event", std::string(ev.get_string("hook"))}};
  if (auto exe = ev.get_string("exe"); !exe.empty())
    j["exe"] = std::string(exe);
  if (auto cmd = ev.get_string("cmdline"); !cmd.empty())
    j["cmdline"] = std::string(cmd);
  return j;
}

} // namespace

void kernel_loads_analyzer::on_batch(const runtime::event_batch& batch, runtime::context& ctx) {
  for (const auto& ev : batch.events) {
    std::string comm(ev.get_string("comm"));
    std::string exe(ev.get_string("exe"));
    runtime::finding f;
    if (ev.kind == "module_load") {
      if (process::name_listed(opts_.module_allowlist, comm, exe))
        continue;
      std::string path(ev.get_string("path"));
      std::string call(ev.get_string("call"));
      bool from_memory = call == "init_module";
      bool risky = from_memory || (!path.empty() && risky_place(path));
      f.rule = "rootkit.module_load";
      f.level = risky ? severity::critical : severity::high;
      f.title = "Kernel module loaded" + (path.empty() ? std::string() : " from " + path) +
                (from_memory ? " (from memory, init_module)" : "");
      f.evidence = actor(ev);
      f.evidence["call"] = call;
      if (!path.empty())
        f.evidence["path"] = path;
      f.evidence["params"] = std::string(ev.get_string("params"));
      f.mitre = {"T1547.006", "T1014"};
      f.entity = {{"pid", ev.get_int("pid")}, {"comm", comm}};
      if (!path.empty())
        f.entity["module_file"] = path;
    } else if (ev.kind == "module_unload") {
      if (process::name_listed(opts_.module_allowlist, comm, exe))
        continue;
      std::string name(ev.get_string("name"));
      f.rule = "rootkit.module_unload";
      f.level = severity::medium;
      f.title = "Kernel module unloaded: " + name;
      f.evidence = actor(ev);
      f.evidence["module"] = name;
      f.mitre = {"T1562.001"};
      f.entity = {{"module", name}};
    } else if (ev.kind == "bpf_load") {
      if (ev.get_int("pid") == ::getpid() ||
          process::name_listed(opts_.bpf_allowlist, comm, exe))
        continue;
      auto type = ev.get_int("prog_type");
      bool tracing = tracing_kind(type);
      f.rule = "rootkit.bpf_load";
      f.level = tracing ? severity::high : severity::medium;
      f.title = std::string("BPF ") + prog_type_name(type) + " program loaded by " + comm;
      f.evidence = actor(ev);
      f.evidence["prog_type"] = prog_type_name(type);
      f.evidence["prog_type_id"] = type;
      f.evidence["prog_name"] = std::string(ev.get_string("prog_name"));
      f.mitre = tracing ? std::vector<std::string>{"T1014", "T1547.006"}
                        : std::vector<std::string>{"T1014"};
      f.entity = {{"pid", ev.get_int("pid")}, {"comm", comm}};
      if (!exe.empty())
        f.entity["exe"] = exe;
    } else {
      continue;
    }
    ctx.count(f.rule);
    ctx.emit_finding(std::move(f));
  }
}

runtime::component_type kernel_loads_analyzer::type() {
  runtime::component_type t;
  t.name = "kernel_loads";
  t.kind = runtime::component_kind::analyzer;
  t.description = "kernel module loads and unloads, BPF programs loaded by others, as they "
                  "happen (kernel_events): rootkit.module_load, rootkit.module_unload, "
                  "rootkit.bpf_load";
  t.consumes = {"module_load", "module_unload", "bpf_load"};
  t.options = {
      {"bpf_allowlist", runtime::option_type::string_list, "[\"systemd\", \"systemd-*\"]",
       "comm or exe names expected to load BPF programs", false, std::nullopt, std::nullopt, {}},
      {"module_allowlist", runtime::option_type::string_list, "[]",
       "comm or exe names expected to load kernel modules", false, std::nullopt, std::nullopt,
       {}},
  };
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    options o;
    o.bpf_allowlist = init.settings.get_string_list("bpf_allowlist", o.bpf_allowlist);
    o.module_allowlist = init.settings.get_string_list("module_allowlist", o.module_allowlist);
    return std::make_unique<kernel_loads_analyzer>(std::move(o));
  };
  return t;
}

} // namespace pg::actors::rootkit
