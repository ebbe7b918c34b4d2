// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/process/procfs_source.hpp"

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

namespace pg::actors::process {

namespace host = pg::actors::host;

procfs_source::procfs_source(options opts) : opts_(std::move(opts)) {}

void procfs_source::on_tick(runtime::context& ctx) {
  std::int64_t emitted = 0;
  for (pid_t pid : host::list_pids(opts_.proc_root)) {
    if (ctx.should_stop())
      return;
    int err = 0;
    auto stat = host::read_proc_stat(pid, opts_.proc_root, &err);
    if (!stat) {
      // err == 0: the file was read but is not a stat line (a fake or future proc format).
      ctx.count(err == 0 ? "malformed" : host::is_vanished(err) ? "vanished" : "unreadable");
      continue;
    }
    auto status = host::read_proc_status(pid, opts_.proc_root, &err);
    if (!status) {
      ctx.count(host::is_vanished(err) ? "vanished" : "unreadable");
      continue;
    }
    const std::string base = opts_.proc_root + "/" + std::to_string(pid);
    int exe_err = 0;
    auto exe = host::read_link(base + "/exe", &exe_err);
    int cmd_err = 0;
    auto cmdline_raw = host::read_file(base + "/cmdline", 64 * 1024, &cmd_err);
    if (host::is_vanished(cmd_err)) {
      ctx.count("vanished");
      continue;
    }
    if (!exe && host::is_denied(exe_err))
      ctx.count("exe_unreadable");
    std::string cmdline;
    if (cmdline_raw) {
      for (const auto& arg : host::split_nul(*cmdline_raw)) {
        if (!cmdline.empty())
          cmdline += ' ';
        cmdline += arg;
      }
    }
    // A kernel thread has no exe and an empty cmdline (a zombie too, which is no kernel thread,
    // but it has a non-kernel parent: ppid 2 is kthreadd).
    bool kernel_thread = !exe && cmdline.empty() && (stat->ppid == 2 || pid == 2);
    if (kernel_thread && !opts_.kernel_threads)
      continue;
    runtime::event e;
    e.kind = "process";
    e.time = ctx.now();
    e.source = ctx.name();
    e.fields.reserve(11);
    e.set("pid", std::int64_t{pid});
    e.set("ppid", std::int64_t{stat->ppid});
    e.set("uid", host::status_number(*status, "Uid", 0).value_or(-1));
    e.set("euid", host::status_number(*status, "Uid", 1).value_or(-1));
    e.set("comm", stat->comm);
    e.set("exe", exe.value_or(std::string()));
    e.set("cmdline", std::move(cmdline));
    e.set("start_time", static_cast<std::int64_t>(stat->start_ticks));
    e.set("state", std::string(1, stat->state));
    e.set("kernel_thread", kernel_thread);
    ctx.emit(std::move(e));
    ++emitted;
  }
  ctx.gauge("processes", static_cast<double>(emitted));
}

runtime::component_type procfs_source::type() {
  runtime::component_type t;
  t.name = "procfs";
  t.kind = runtime::component_kind::source;
  t.description = "One \"process\" event per running process, read from /proc on each tick.";
  t.produces = {"process"};
  t.options = {
      {"proc_root",
       runtime::option_type::string,
       "/proc",
       "Where procfs is mounted.",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"kernel_threads",
       runtime::option_type::boolean,
       "true",
       "Emit kernel threads too (their exe and cmdline are empty).",
       false,
       std::nullopt,
       std::nullopt,
       {}},
  };
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    options o;
    o.proc_root = init.settings.get_string("proc_root", o.proc_root);
    o.kernel_threads = init.settings.get_bool("kernel_threads", o.kernel_threads);
    return std::make_unique<procfs_source>(std::move(o));
  };
  return t;
}

} // namespace pg::actors::process
