// SPDX-License-Identifier: Apache-2.0
// module_views.hpp — loaded kernel modules seen two ways: /proc/modules (the kernel's module
// list, which a rootkit unlinks itself from) and /sys/module (the kobjects, which many rootkits
// forget). A loadable module in /sys/module has `initstate` and a `sections` folder; built-in
// modules with parameters have neither, so they are not compared.
#pragma once

#include <set>
#include <string>

namespace pg::actors::rootkit {

struct module_views {
  bool proc_modules_present = false; // false on kernels built without module support
  std::set<std::string> proc;        // names in /proc/modules
  std::set<std::string> sysfs;       // loadable modules in /sys/module
};

struct module_diff {
  std::set<std::string> hidden;   // in /sys/module, absent from /proc/modules
  std::set<std::string> unlisted; // in /proc/modules, absent from /sys/module
};

module_views read_module_views(const std::string& sys_module_dir = "/sys/module",
                               const std::string& proc_modules = "/proc/modules");

/// Names of /proc/modules text (the first column of each line).
std::set<std::string> parse_proc_modules(const std::string& text);

module_diff compare_modules(const module_views& v);

} // namespace pg::actors::rootkit
