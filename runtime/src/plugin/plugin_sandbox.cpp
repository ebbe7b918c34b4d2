// plugin_sandbox.cpp — the child host's sandbox (see plugin_sandbox.hpp). Default-allow with a
// deny list: a detector needs memory, time, its channel and reading files (/proc), and glibc's
// own internals use a long tail of syscalls that an allow list would break across versions.
// What a detector must never do — reach the network, run programs, touch other processes,
// change the system — is denied.
#include "plugin/plugin_sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plugin/wire_format.hpp"

namespace pg::runtime {
namespace {

const char* const denied_names[] = {
    "socket",  "socketpair", "connect",  "bind",    "listen",   "accept", "accept4", "sendto",
    "sendmsg", "sendmmsg",   "recvfrom", "recvmsg", "recvmmsg", "kill",   "tkill",   nullptr};

const char* const fatal_names[] = {"execve",
                                   "execveat",
                                   "ptrace",
                                   "process_vm_readv",
                                   "process_vm_writev",
                                   "fork",
                                   "vfork",
                                   "pidfd_open",
                                   "pidfd_send_signal",
                                   "pidfd_getfd",
                                   "init_module",
                                   "finit_module",
                                   "delete_module",
                                   "kexec_load",
                                   "kexec_file_load",
                                   "mount",
                                   "umount2",
                                   "pivot_root",
                                   "chroot",
                                   "unshare",
                                   "setns",
                                   "bpf",
                                   "perf_event_open",
                                   "keyctl",
                                   "add_key",
                                   "request_key",
                                   "userfaultfd",
                                   "io_uring_setup",
                                   "open_by_handle_at",
                                   "name_to_handle_at",
                                   "setuid",
                                   "setgid",
                                   "setreuid",
                                   "setregid",
                                   "setresuid",
                                   "setresgid",
                                   "setgroups",
                                   "setfsuid",
                                   "setfsgid",
                                   "capset",
                                   "reboot",
                                   "swapon",
                                   "swapoff",
                                   "settimeofday",
                                   "clock_settime",
                                   "adjtimex",
                                   "sethostname",
                                   "setdomainname",
                                   "acct",
                                   "quotactl",
                                   "mknod",
                                   "mknodat",
                                   nullptr};

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
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return 0;
  unsigned long pages = 0;
  const int n = std::fscanf(f, "%lu", &pages);
  std::fclose(f);
  return n == 1 ? static_cast<std::uint64_t>(pages) *
                      static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))
                : 0;
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

void install_filter() {
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr)
    throw std::runtime_error("sandbox: seccomp_init failed");
  struct release {
    scmp_filter_ctx c;
    ~release() { ::seccomp_release(c); }
  } guard{ctx};
  auto rule = [&](const char* name, std::uint32_t action) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
      return; // not on this architecture
    if (const int rc = ::seccomp_rule_add(ctx, action, nr, 0); rc != 0)
      fail(std::string("seccomp rule for ") + name, -rc);
  };
  for (const char* const* n = denied_names; *n != nullptr; ++n)
    rule(*n, SCMP_ACT_ERRNO(EPERM));
  for (const char* const* n = fatal_names; *n != nullptr; ++n)
    rule(*n, SCMP_ACT_TRAP);
  // clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back to
  // clone, whose flags we can check. A clone without CLONE_THREAD is a new process: trapped.
  rule("clone3", SCMP_ACT_ERRNO(ENOSYS));
  if (const int rc = ::seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(clone), 1,
                                        SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
      rc != 0)
    fail("seccomp rule for clone", -rc);
  if (const int rc = ::seccomp_load(ctx); rc != 0)
    fail("seccomp_load", -rc);
}

} // namespace

const char* const* sandbox_denied_syscalls() noexcept {
  return denied_names;
}
const char* const* sandbox_fatal_syscalls() noexcept {
  return fatal_names;
}

void apply_sandbox(const sandbox_limits& limits) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail("PR_SET_NO_NEW_PRIVS", errno);
  // A crash must not write a core of the engine's binary with the plugin's data in it.
  set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
  set_limit(RLIMIT_NOFILE, 64, "RLIMIT_NOFILE");
  if (limits.cpu_seconds > 0)
    set_limit(RLIMIT_CPU, limits.cpu_seconds, "RLIMIT_CPU");
  if (limits.memory_mb > 0)
    set_limit(RLIMIT_AS, mapped_bytes() + (limits.memory_mb << 20), "RLIMIT_AS");

  // Descriptors: 0-2 on /dev/null, the channel, nothing else.
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    fail("open /dev/null", errno);
  for (int fd = 0; fd <= 2; ++fd)
    if (fd != limits.channel_fd && ::dup2(null_fd, fd) < 0)
      fail("dup2 /dev/null", errno);
  if (null_fd > 2 && null_fd != limits.channel_fd)
    ::close(null_fd);
  const int from = limits.channel_fd + 1;
  if (::syscall(SYS_close_range, static_cast<unsigned>(from), ~0u, 0u) != 0)
    for (int fd = from; fd < 1024; ++fd) // kernels before 5.9
      ::close(fd);

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

  install_filter();
}

} // namespace pg::runtime
