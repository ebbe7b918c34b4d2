// SPDX-License-Identifier: Apache-2.0
// rootkit_analyzer.hpp — the `rootkit` analyzer: on each tick it runs the configured cross-view
// checks (processes, ports, modules, files, preload, taint, known rootkit paths) and emits
// rootkit.* findings. It needs no inputs: it collects from the host itself.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::rootkit {

struct rootkit_settings {
  std::set<std::string> checks; // hidden_process, hidden_port, ld_so_preload, hidden_module,
                                // kernel_tainted, known_file, hidden_file
  int pid_max = 0;              // 0: /proc/sys/kernel/pid_max
  std::string port_range = "1-65535";
  bool port_ipv6 = false;
  std::string ld_so_preload = "/etc/ld.so.preload";
  std::string known_files; // empty: find_known_rootkit_file()
  std::string root;        // prefix for known_file paths (tests, mounted images)
  std::vector<std::string> hidden_file_dirs;
  int hidden_file_depth = 1;
  std::string sys_module_dir = "/sys/module";
  std::string proc_modules = "/proc/modules";
  std::string tainted = "/proc/sys/kernel/tainted";
  std::string proc_view = "/proc"; // whose PID listing and socket tables are compared (tests)
  std::string mountinfo = "/proc/self/mountinfo"; // where mounts over /proc/PID are looked for
  std::string proc_mount = "/proc";               // the procfs those mounts would cover
  std::string program_view = "/bin/ls"; // lists /proc as programs see it (readdir hooks); "" off

  /// Reads the validated settings; throws std::invalid_argument on a bad value (unknown check,
  /// malformed port range) so the component refuses to start with a clear message.
  static rootkit_settings from(const runtime::component_settings& s);
};

/// The option declarations of the `rootkit` type (for registration and docs).
std::vector<runtime::option_spec> rootkit_options();

/// Parses the text of an ld.so.preload file the way ld.so does: names separated by white space
/// or ':', '#' starts a comment to the end of the line.
std::vector<std::string> parse_ld_so_preload(const std::string& text);

class rootkit_analyzer final : public runtime::component {
public:
  explicit rootkit_analyzer(rootkit_settings settings);

  void on_tick(runtime::context& ctx) override;

private:
  struct limitation {
    std::string check;
    std::string capability;
    std::string detail;
  };

  void check_hidden_process(runtime::context& ctx);
  void check_hidden_port(runtime::context& ctx);
  void check_ld_so_preload(runtime::context& ctx);
  void check_hidden_module(runtime::context& ctx);
  void check_kernel_tainted(runtime::context& ctx);
  void check_known_file(runtime::context& ctx);
  void check_hidden_file(runtime::context& ctx);
  void incomplete(runtime::context& ctx, const std::string& check, const std::string& reason);

  rootkit_settings settings_;
  std::vector<limitation> limits_; // gathered during a tick, reported as one info finding
};

} // namespace pg::actors::rootkit
