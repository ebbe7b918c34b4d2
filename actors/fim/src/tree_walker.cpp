// SPDX-License-Identifier: Apache-2.0
#include "tree_walker.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace pg::actors::fim::detail {

tree_walker::tree_walker(const rule_set& rules, std::vector<std::string> roots)
    : rules_(rules), roots_(std::move(roots)), root_set_(roots_.begin(), roots_.end()) {}

void tree_walker::push_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    if (errno != ENOENT && errno != ENOTDIR)
      ++unreadable_;
    return;
  }
  stack_.push_back(frame{dir_handle(d), path});
}

void tree_walker::consider(const std::string& path, unsigned char d_type,
                           std::vector<walk_entry>& out) {
  const fim_rule* rule = rules_.rule_for(path);
  if (!rule || rule->excluded(path))
    return;
  out.push_back(walk_entry{path, rule});
  if (d_type == DT_UNKNOWN) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      d_type = DT_DIR;
  }
  if (d_type != DT_DIR)
    return;
  // Descend only when some rule governs the children (a non-recursive rule stops at depth 1).
  std::string probe = path == "/" ? "/x" : path + "/x";
  if (rules_.rule_for(probe))
    push_dir(path);
}

bool tree_walker::next(std::vector<walk_entry>& out, std::size_t max) {
  std::size_t start = out.size();
  while (out.size() - start < max) {
    if (stack_.empty()) {
      if (next_root_ >= roots_.size())
        return false;
      const std::string& root = roots_[next_root_++];
      struct stat st {};
      if (::lstat(root.c_str(), &st) != 0)
        continue; // a missing root: its recorded entries show up as removed
      consider(root, S_ISDIR(st.st_mode) ? DT_DIR : DT_REG, out);
      continue;
    }
    auto& top = stack_.back();
    errno = 0;
    dirent* e = ::readdir(top.dir.get());
    if (!e) {
      stack_.pop_back();
      continue;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
      continue;
    std::string child = top.path == "/" ? "/" + std::string(e->d_name) : top.path + "/" + e->d_name;
    if (root_set_.count(child))
      continue; // walked as a root of its own
    consider(child, e->d_type, out);
  }
  return true;
}

} // namespace pg::actors::fim::detail
