// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/engine_self.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace pg::actors::host {

namespace {

struct image {
  pid_t pid = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  bool known = false;
};

// Taken when the binary is loaded: before anything could replace the file.
const image self = [] {
  image i;
  i.pid = ::getpid();
  struct stat st {};
  if (::stat("/proc/self/exe", &st) == 0) {
    i.dev = st.st_dev;
    i.ino = st.st_ino;
    i.known = true;
  }
  return i;
}();

} // namespace

bool is_engine_process(pid_t pid, pid_t ppid, const std::string& proc_root) {
  if (!self.known)
    return false;
  // After a fork (the tests) the pid differs from the one taken at load: ask again.
  pid_t me = ::getpid();
  if (pid != me && ppid != me)
    return false;
  struct stat st {};
  if (::stat((proc_root + "/" + std::to_string(pid) + "/exe").c_str(), &st) != 0)
    return false;
  // A deleted binary still stats through the link (same inode), but the file on disk is gone:
  // the link's target then ends in " (deleted)"; st_nlink says it directly.
  return st.st_dev == self.dev && st.st_ino == self.ino && st.st_nlink > 0;
}

} // namespace pg::actors::host
