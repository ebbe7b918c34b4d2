// SPDX-License-Identifier: Apache-2.0
// plugin_sandbox.cpp — the child host's sandbox (see plugin_sandbox.hpp). An allow-list: a
// detector needs memory, time, threads, its channel and reading what the dynamic loader reads.
// Anything else — the network, programs, other processes, writing a file, changing the system —
// ends the child, which reports the syscall first. A few calls that libraries make on their own
// (ioctl on a descriptor to ask for a terminal, a local socket to a name service, openat2, clone3)
// fail with an error instead, so a library's harmless probe does not kill the plugin.
#include "plugin/plugin_sandbox.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "phantomguard/runtime/process_memory.hpp"
#include "phantomguard/runtime/unique_fd.hpp"
#include "plugin/wire_format.hpp"

namespace pg::runtime {
namespace {

// Allowed without looking at arguments. Names unknown on an architecture are skipped.
const char* const allowed_names[] = {
    // memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore",
    // threads and synchronisation (clone is checked below)
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "membarrier",
    // identity of the process itself
    "gettid", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "getpgrp", "getpgid", "getsid", "getrlimit", "getrusage", "times",
    "uname", "sysinfo", "getcpu", "getrandom", "arch_prctl",
    // time
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    // signals of its own
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigpending",
    "rt_sigsuspend", "rt_sigtimedwait", "restart_syscall",
    // descriptors it has (the channel, /dev/null, what it opened read-only)
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "close", "lseek", "dup",
    "dup2", "dup3", "fcntl", "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe", "pipe2",
    // reading the file system (Landlock decides what)
    "fstat", "newfstatat", "statx", "stat", "lstat", "fstatfs", "statfs", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents64", "getcwd", "exit", "exit_group", nullptr};

int channel_fd_for_handler = 3;

/// SIGSYS from SECCOMP_RET_TRAP: tell the engine which syscall, then die. Only
/// async-signal-safe calls: one write of a pre-built frame, then _exit.
void on_sigsys(int, siginfo_t* info, void*) {
  char frame[wire::frame_header_size + sizeof(std::int32_t)];
  const std::uint32_t len = sizeof(std::int32_t);
  std::memcpy(frame, &len, sizeof len);
  frame[4] = static_cast<char>(wire::frame_type::violation);
  const std::int32_t nr = info != nullptr ? info->si_syscall : -1;
  std::memcpy(frame + wire::frame_header_size, &nr, sizeof nr);
  [[maybe_unused]] const ssize_t n = ::write(channel_fd_for_handler, frame, sizeof frame);
  ::_exit(128 + SIGSYS);
}

[[noreturn]] void fail(const std::string& step, int err) {
  throw std::runtime_error("sandbox: " + step + " failed: " + std::strerror(err));
}

void set_limit(int resource, rlim_t value, const char* name) {
  rlimit cur{};
  if (::getrlimit(resource, &cur) != 0)
    fail(std::string("getrlimit ") + name, errno);
  // Lowering only: the engine's root lacks CAP_SYS_RESOURCE, so a limit already below ours stays.
  rlimit want{std::min(value, cur.rlim_max), std::min(value, cur.rlim_max)};
  if (::setrlimit(resource, &want) != 0)
    fail(std::string("setrlimit ") + name, errno);
}

/// The address space mapped now (the host binary and its libraries): the memory limit comes on
/// top of it, so memory_mb means what the plugin may add.
std::uint64_t mapped_bytes() {
  auto m = runtime::memory_of();
  return m ? m->mapped : 0;
}

void drop_user(const std::string& user) {
  if (::geteuid() != 0 || user.empty())
    return;
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr)
    throw std::runtime_error("sandbox: user \"" + user + "\" does not exist");
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  if (::setgroups(0, nullptr) != 0)
    fail("setgroups", errno);
  if (::setresgid(gid, gid, gid) != 0)
    fail("setresgid", errno);
  if (::setresuid(uid, uid, uid) != 0)
    fail("setresuid", errno);
}

/// Closes every descriptor but 0-2, the channel and the plugin file.
void close_others(const sandbox_limits& limits) {
  std::vector<int> keep = {limits.channel_fd};
  if (limits.plugin_fd >= 0)
    keep.push_back(limits.plugin_fd);
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  auto close_range = [](unsigned lo, unsigned hi) {
    if (lo > hi)
      return;
    if (::syscall(SYS_close_range, lo, hi, 0u) != 0) // kernels before 5.9
      for (unsigned fd = lo; fd <= std::min(hi, 1023u); ++fd)
        ::close(static_cast<int>(fd));
  };
  for (int k : keep) {
    if (k >= static_cast<int>(from))
      close_range(from, static_cast<unsigned>(k) - 1);
    from = std::max(from, static_cast<unsigned>(k) + 1);
  }
  close_range(from, ~0u);
}

// ---- Landlock -----------------------------------------------------------------------------
// The ruleset attribute as of ABI 6 (the kernel takes the size, so older kernels get a prefix).
struct ruleset_attr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;
  std::uint64_t scoped;
};
constexpr std::uint64_t fs_truncate = 1ULL << 14;  // ABI 3
constexpr std::uint64_t fs_ioctl_dev = 1ULL << 15; // ABI 5
constexpr std::uint64_t net_bind_tcp = 1ULL << 0;  // ABI 4
constexpr std::uint64_t net_connect_tcp = 1ULL << 1;
constexpr std::uint64_t scope_abstract_unix = 1ULL << 0; // ABI 6
constexpr std::uint64_t scope_signal = 1ULL << 1;

constexpr std::uint64_t fs_read =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

int landlock_abi() {
  const long v =
      ::syscall(__NR_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return v < 0 ? 0 : static_cast<int>(v);
}

/// Read-only access beneath `paths` and to the plugin file; nothing else of the file system,
/// no TCP, no signals or abstract sockets outside the sandbox. Returns the ABI applied (0 when
/// the kernel has no Landlock: the seccomp list then stands alone).
int apply_landlock(const sandbox_limits& limits) {
  const int abi = landlock_abi();
  if (abi <= 0)
    return 0;
  ruleset_attr attr{};
  attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; // ABI 1: bits 0..12
  if (abi >= 2)
    attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3)
    attr.handled_access_fs |= fs_truncate;
  if (abi >= 5)
    attr.handled_access_fs |= fs_ioctl_dev;
  std::size_t size = sizeof(std::uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = net_bind_tcp | net_connect_tcp;
    size = 2 * sizeof(std::uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = scope_abstract_unix | scope_signal;
    size = sizeof(ruleset_attr);
  }
  unique_fd ruleset(static_cast<int>(::syscall(__NR_landlock_create_ruleset, &attr, size, 0u)));
  if (!ruleset)
    fail("landlock_create_ruleset", errno);
  auto allow = [&](int fd, std::uint64_t access) {
    landlock_path_beneath_attr rule{};
    rule.allowed_access = access;
    rule.parent_fd = fd;
    return ::syscall(__NR_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &rule,
                     0u) == 0;
  };
  std::vector<std::string> paths = sandbox_loader_paths();
  paths.insert(paths.end(), limits.read_paths.begin(), limits.read_paths.end());
  for (const auto& p : paths) {
    unique_fd fd(::open(p.c_str(), O_PATH | O_CLOEXEC));
    if (!fd)
      continue; // /lib64 is absent on arm64, a read_path may not exist yet: nothing to grant
    struct stat st {};
    const bool is_dir = ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!allow(fd.get(), is_dir ? fs_read : (fs_read & ~LANDLOCK_ACCESS_FS_READ_DIR)))
      fail("landlock_add_rule " + p, errno);
  }
  // The plugin itself, by its descriptor: the loader reopens it through /proc/self/fd.
  if (limits.plugin_fd >= 0 &&
      !allow(limits.plugin_fd, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE))
    fail("landlock_add_rule for the plugin file", errno);
  if (::syscall(__NR_landlock_restrict_self, ruleset.get(), 0u) != 0)
    fail("landlock_restrict_self", errno);
  return abi;
}

// ---- seccomp ------------------------------------------------------------------------------

void install_filter() {
  // The default ends the child: it reports the syscall from its SIGSYS handler.
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_TRAP);
  if (ctx == nullptr)
    throw std::runtime_error("sandbox: seccomp_init failed");
  struct release {
    scmp_filter_ctx c;
    ~release() { ::seccomp_release(c); }
  } guard{ctx};
  // A binary tree instead of a linear list: the filter runs on every syscall of the child.
  ::seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  auto rule = [&](const char* name, std::uint32_t action, unsigned count = 0, scmp_arg_cmp a = {},
                  scmp_arg_cmp b = {}) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
      return; // not on this architecture
    int rc = 0;
    if (count == 0)
      rc = ::seccomp_rule_add(ctx, action, nr, 0);
    else if (count == 1)
      rc = ::seccomp_rule_add(ctx, action, nr, 1, a);
    else
      rc = ::seccomp_rule_add(ctx, action, nr, 2, a, b);
    if (rc != 0)
      fail(std::string("seccomp rule for ") + name, -rc);
  };
  for (const char* const* n = allowed_names; *n != nullptr; ++n)
    rule(*n, SCMP_ACT_ALLOW);

  const scmp_datum_t self = static_cast<scmp_datum_t>(::getpid());
  // Opening only for reading: any write, create, truncate or append traps.
  const scmp_datum_t writes = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | 020000000;
  rule("openat", SCMP_ACT_ALLOW, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, writes, 0));
  rule("open", SCMP_ACT_ALLOW, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, writes, 0));
  rule("openat2", SCMP_ACT_ERRNO(ENOSYS)); // flags in memory a filter cannot read: use openat
  // Threads only: a clone without CLONE_THREAD is a new process. clone3 passes its flags in
  // memory, so it says ENOSYS and glibc falls back to clone.
  rule("clone", SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  rule("clone3", SCMP_ACT_ERRNO(ENOSYS));
  // Signals to itself (abort() raises SIGABRT); to anyone else (the engine's process group
  // included) they trap.
  rule("kill", SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_EQ, self));
  rule("tgkill", SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_EQ, self));
  // Resource limits of itself only.
  rule("prlimit64", SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_EQ, 0));
  rule("prctl", SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
  rule("prctl", SCMP_ACT_ALLOW, 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
  // send() on the channel (no address); sendto an address, connect, bind, listen, accept trap.
  rule("sendto", SCMP_ACT_ALLOW, 1, SCMP_A4(SCMP_CMP_EQ, 0));
  // A local socket (a name-service probe) fails quietly; any other family traps.
  rule("socket", SCMP_ACT_ERRNO(EPERM), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
  rule("socketpair", SCMP_ACT_ERRNO(EPERM));
  // No terminal: isatty() and friends get ENOTTY.
  rule("ioctl", SCMP_ACT_ERRNO(ENOTTY));
  if (const int rc = ::seccomp_load(ctx); rc != 0)
    fail("seccomp_load", -rc);
}

} // namespace

const std::vector<std::string>& sandbox_loader_paths() {
  static const std::vector<std::string> paths = {"/usr", "/lib", "/lib64", "/etc/ld.so.cache"};
  return paths;
}

const char* const* sandbox_allowed_syscalls() noexcept {
  return allowed_names;
}

sandbox_report apply_sandbox(const sandbox_limits& limits) {
  sandbox_report report;
  // Nothing of the engine's environment (tokens, paths) reaches the plugin.
  ::clearenv();
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail("PR_SET_NO_NEW_PRIVS", errno);
  // A crash must not write a core of the engine's binary with the plugin's data in it.
  set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
  set_limit(RLIMIT_NOFILE, 64, "RLIMIT_NOFILE");
  if (limits.cpu_seconds > 0)
    set_limit(RLIMIT_CPU, limits.cpu_seconds, "RLIMIT_CPU");
  if (limits.memory_mb > 0)
    set_limit(RLIMIT_AS, mapped_bytes() + (limits.memory_mb << 20), "RLIMIT_AS");

  // An empty network namespace when the engine may make one (root): even a socket that got
  // through would reach no interface. Without the privilege, seccomp and Landlock hold.
  if (::geteuid() == 0 && ::unshare(CLONE_NEWNET) == 0)
    report.network_namespace = true;

  // Descriptors: 0-2 on /dev/null, the channel, the plugin file, nothing else.
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    fail("open /dev/null", errno);
  for (int fd = 0; fd <= 2; ++fd)
    if (fd != limits.channel_fd && fd != limits.plugin_fd && ::dup2(null_fd, fd) < 0)
      fail("dup2 /dev/null", errno);
  if (null_fd > 2 && null_fd != limits.channel_fd && null_fd != limits.plugin_fd)
    ::close(null_fd);
  close_others(limits);

  drop_user(limits.user);

  channel_fd_for_handler = limits.channel_fd;
  struct sigaction sa {};
  sa.sa_sigaction = &on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGSYS, &sa, nullptr) != 0)
    fail("sigaction SIGSYS", errno);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGSYS);
  ::sigprocmask(SIG_UNBLOCK, &unblock, nullptr);

  report.landlock_abi = apply_landlock(limits);
  install_filter();
  return report;
}

int sandbox_landlock_abi() noexcept {
  return landlock_abi();
}

bool sandbox_seccomp_available() noexcept {
  // The filter the child installs ends in SECCOMP_RET_TRAP: the kernel must have filters and
  // that action (seccomp(SECCOMP_GET_ACTION_AVAIL) answers without installing anything).
  if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
    return false;
  const std::uint32_t action = SCMP_ACT_TRAP;
  return ::syscall(__NR_seccomp, 2 /* SECCOMP_GET_ACTION_AVAIL */, 0, &action) == 0;
}

} // namespace pg::runtime
