// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/module_views.hpp"

#include <algorithm>
#include <sstream>
#include <sys/stat.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::rootkit {

std::set<std::string> parse_proc_modules(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto end = line.find(' ');
    auto name = line.substr(0, end);
    if (!name.empty())
      out.insert(name);
  }
  return out;
}

module_views read_module_views(const std::string& sys_module_dir, const std::string& proc_modules) {
  module_views v;
  if (auto text = host::read_file(proc_modules, 4 << 20)) {
    v.proc_modules_present = true;
    v.proc = parse_proc_modules(*text);
  }
  if (auto entries = host::list_directory_raw(sys_module_dir)) {
    for (const auto& e : *entries) {
      struct stat st {};
      auto base = sys_module_dir + "/" + e.name;
      if (::stat((base + "/initstate").c_str(), &st) == 0 ||
          ::stat((base + "/sections").c_str(), &st) == 0)
        v.sysfs.insert(e.name);
    }
  }
  return v;
}

module_diff compare_modules(const module_views& v) {
  module_diff d;
  std::set_difference(v.sysfs.begin(), v.sysfs.end(), v.proc.begin(), v.proc.end(),
                      std::inserter(d.hidden, d.hidden.end()));
  std::set_difference(v.proc.begin(), v.proc.end(), v.sysfs.begin(), v.sysfs.end(),
                      std::inserter(d.unlisted, d.unlisted.end()));
  return d;
}

} // namespace pg::actors::rootkit
