// SPDX-License-Identifier: Apache-2.0
// kernel_loads_analyzer.hpp — the `kernel_loads` analyzer: code loaded into the kernel, as the
// kernel sensor (kernel_events) sees it happen:
//
//   rootkit.module_load    init_module / finit_module (critical when the module file lives in a
//                          temporary or world-writable place, or comes from memory)
//   rootkit.module_unload  delete_module (a security module going away)
//   rootkit.bpf_load       a BPF program loaded by anything but the engine itself: high for the
//                          kinds that can read or change what the kernel does (kprobe,
//                          tracepoint, raw tracepoint, tracing, LSM, struct_ops, ext), medium
//                          for the rest; `bpf_allowlist` names loaders that are expected
//                          (systemd's cgroup programs by default)
#pragma once

#include <string>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::rootkit {

class kernel_loads_analyzer final : public runtime::component {
public:
  struct options {
    std::vector<std::string> bpf_allowlist{"systemd", "systemd-*"};
    std::vector<std::string> module_allowlist; // loaders (comm/exe) whose loads are expected
  };
  static runtime::component_type type();
  explicit kernel_loads_analyzer(options opts) : opts_(std::move(opts)) {}
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;

private:
  options opts_;
};

} // namespace pg::actors::rootkit
