// SPDX-License-Identifier: Apache-2.0
// pg_technique — performs one attacker technique for the kernel sensor's tests, for real, on
// this machine. Each subcommand is what the technique's tools do at the system-call level:
//
//   memfd-exec [PROG ARGS] copy PROG (/bin/true) into a memfd and execute it with ARGS (fexecve):
//                         fileless execution
//   ptrace-attach         fork a victim, PTRACE_ATTACH to it, poke a word into it, detach
//   vm-write              fork a victim, write into its memory with process_vm_writev
//   rwx                   map anonymous RW memory, copy code into it, mprotect it RX, run it
//   mmap-rwx              map anonymous memory RWX at once
//   bpf-load              load a BPF socket-filter program with bpf(BPF_PROG_LOAD)
//   regain-root           (as root) drop the effective uid to nobody, keep root as saved uid,
//                         then raise it back with setresuid: a privilege gain outside exec
//   drop-exec PROG ARGS   drop to nobody for real, then exec PROG (a setuid binary regains)
//
// Prints "ok" and exits 0 when the technique was carried out; exits 2 with the reason when not.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string>
#include <vector>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

volatile long victim_word = 0x1234;

int fail(const char* what) {
  std::fprintf(stderr, "pg_technique: %s: %s\n", what, std::strerror(errno));
  return 2;
}

pid_t victim() {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int i = 0; i < 100; ++i)
      ::usleep(50 * 1000);
    ::_exit(0);
  }
  return pid;
}

void finish(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

int memfd_exec(int argc, char** argv) {
  const char* program = argc > 0 ? argv[0] : "/bin/true";
  int fd = static_cast<int>(::syscall(SYS_memfd_create, "pg-payload", 0));
  if (fd < 0)
    return fail("memfd_create");
  int in = ::open(program, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return fail("open the program");
  char buf[65536];
  ssize_t n;
  while ((n = ::read(in, buf, sizeof buf)) > 0)
    if (::write(fd, buf, static_cast<size_t>(n)) != n)
      return fail("write memfd");
  ::close(in);
  std::puts("ok");
  std::fflush(stdout);
  char arg0[] = "pg-fileless";
  std::vector<char*> args{arg0};
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  char* envp[] = {nullptr};
  ::fexecve(fd, args.data(), envp);
  return fail("fexecve");
}

int ptrace_attach() {
  pid_t pid = victim();
  if (pid < 0)
    return fail("fork");
  if (::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0) {
    finish(pid);
    return fail("PTRACE_ATTACH");
  }
  ::waitpid(pid, nullptr, 0);
  ::ptrace(PTRACE_POKEDATA, pid, const_cast<long*>(&victim_word), reinterpret_cast<void*>(0x4141));
  ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  finish(pid);
  std::printf("ok %d\n", pid);
  return 0;
}

int vm_write() {
  pid_t pid = victim();
  if (pid < 0)
    return fail("fork");
  ::usleep(20 * 1000);
  long value = 0x4242;
  iovec local{&value, sizeof value};
  iovec remote{const_cast<long*>(&victim_word), sizeof value};
  ssize_t n = ::process_vm_writev(pid, &local, 1, &remote, 1, 0);
  finish(pid);
  if (n != static_cast<ssize_t>(sizeof value))
    return fail("process_vm_writev");
  std::printf("ok %d\n", pid);
  return 0;
}

int rwx() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return fail("mmap");
#if defined(__x86_64__)
  const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3}; // mov eax, 42; ret
#elif defined(__aarch64__)
  const unsigned char code[] = {0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6}; // mov w0,#42; ret
#else
  const unsigned char code[] = {0};
#endif
  std::memcpy(p, code, sizeof code);
  if (::mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
    return fail("mprotect");
  __builtin___clear_cache(static_cast<char*>(p), static_cast<char*>(p) + sizeof code);
  int r = reinterpret_cast<int (*)()>(p)();
  std::printf("ok %d\n", r);
  return r == 42 ? 0 : 2;
}

int mmap_rwx() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return fail("mmap");
  std::puts("ok");
  return 0;
}

int bpf_load() {
  // r0 = 0; exit: a socket filter that drops everything.
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[0].imm = 0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  char license[] = "GPL";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insn_cnt = 2;
  attr.insns = reinterpret_cast<std::uint64_t>(insns);
  attr.license = reinterpret_cast<std::uint64_t>(license);
  std::strncpy(attr.prog_name, "pg_test_prog", sizeof attr.prog_name - 1);
  int fd = static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
  if (fd < 0)
    return fail("bpf(BPF_PROG_LOAD)");
  ::close(fd);
  std::puts("ok");
  return 0;
}

int regain_root() {
  if (::setresuid(65534, 65534, 0) != 0)
    return fail("setresuid(nobody, nobody, root)");
  ::usleep(10 * 1000);
  if (::setresuid(0, 0, 0) != 0)
    return fail("setresuid(root)");
  std::puts("ok");
  return 0;
}

int drop_exec(char** argv) {
  if (::setgid(65534) != 0 || ::setuid(65534) != 0)
    return fail("drop to nobody");
  std::puts("ok");
  std::fflush(stdout);
  ::execv(argv[0], argv);
  return fail("execv");
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pg_technique memfd-exec|ptrace-attach|vm-write|rwx|mmap-rwx|"
                         "bpf-load|regain-root|drop-exec PROG...\n");
    return 2;
  }
  std::string what = argv[1];
  if (what == "memfd-exec")
    return memfd_exec(argc - 2, argv + 2);
  if (what == "ptrace-attach")
    return ptrace_attach();
  if (what == "vm-write")
    return vm_write();
  if (what == "rwx")
    return rwx();
  if (what == "mmap-rwx")
    return mmap_rwx();
  if (what == "bpf-load")
    return bpf_load();
  if (what == "regain-root")
    return regain_root();
  if (what == "drop-exec" && argc > 2)
    return drop_exec(argv + 2);
  std::fprintf(stderr, "pg_technique: unknown technique '%s'\n", what.c_str());
  return 2;
}
