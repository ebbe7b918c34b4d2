// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/register.hpp"

#include <memory>

#include "phantomguard/actors/realtime/file_watch_analyzer.hpp"
#include "phantomguard/actors/realtime/host_health_analyzer.hpp"
#include "phantomguard/actors/realtime/kernel_events_source.hpp"
#include "phantomguard/actors/realtime/process_events_source.hpp"

namespace pg::actors::realtime {

void register_components(runtime::registry& reg) {
  using runtime::component_init;
  using runtime::component_kind;
  using runtime::component_type;
  {
    component_type t;
    t.name = "process_events";
    t.kind = component_kind::source;
    t.description = "process start and exit (netlink process connector when privileged, else "
                    "/proc polling); give it a short interval such as \"200ms\"";
    t.options = process_events_options();
    t.produces = {"process_exec", "process_exit"};
    t.factory = [](const component_init& init) -> std::unique_ptr<runtime::component> {
      return std::make_unique<process_events_source>(process_events_settings::from(init.settings));
    };
    reg.add(std::move(t));
  }
  {
    component_type t;
    t.name = "kernel_events";
    t.kind = component_kind::source;
    t.description = "what the kernel does as it happens, from the eBPF sensor: exec, exit, "
                    "connect/accept/bind/listen, ptrace, process_vm_writev, memfd, executable "
                    "memory, module and bpf() loads, credential gains, writes to persistence "
                    "paths; falls back to process_events without BPF. interval = \"100ms\"";
    t.options = kernel_events_options();
    t.produces = kernel_events_produces();
    t.factory = [](const component_init& init) -> std::unique_ptr<runtime::component> {
      auto settings = kernel_events_settings::from(init.settings);
      settings.one_pass = init.one_pass;
      return std::make_unique<kernel_events_source>(std::move(settings));
    };
    reg.add(std::move(t));
  }
  {
    component_type t;
    t.name = "file_watch";
    t.kind = component_kind::analyzer;
    t.description = "inotify on persistence and credential paths: realtime.persistence_change, "
                    "realtime.credential_change; optional process_exec input for attribution";
    t.options = file_watch_options();
    t.consumes = {"process_exec", "file_open_write"};
    t.produces = {"file_change"};
    t.factory = [](const component_init& init) -> std::unique_ptr<runtime::component> {
      return std::make_unique<file_watch_analyzer>(file_watch_settings::from(init.settings));
    };
    reg.add(std::move(t));
  }
  {
    component_type t;
    t.name = "host_health";
    t.kind = component_kind::analyzer;
    t.description = "CPU, memory, load and disk gauges; realtime.<resource>_high findings with "
                    "hysteresis";
    t.options = host_health_options();
    t.factory = [](const component_init& init) -> std::unique_ptr<runtime::component> {
      return std::make_unique<host_health_analyzer>(host_health_settings::from(init.settings));
    };
    reg.add(std::move(t));
  }
  reg.add_host_check(runtime::host_check{"realtime", host_reports});
}

} // namespace pg::actors::realtime
