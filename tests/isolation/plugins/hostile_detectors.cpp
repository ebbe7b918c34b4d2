// SPDX-License-Identifier: Apache-2.0
// hostile_detectors.cpp — detectors that misbehave on purpose, for the isolation tests. Every
// one of them would take an engine down in-process; isolated, each must only cost a restart.
//   crasher  emits isolation.batch per batch, dereferences NULL on batch `crash_at`
//   spinner  emits isolation.batch per batch, spins forever on batch `spin_at`
//   glutton  keeps allocating (and touching) 8 MiB blocks on its first batch
//   escaper  reports its uid, descriptors and environment, then makes one forbidden call
//   hoarder  holds `mb` MiB from its first batch on (over its memory quota, within RLIMIT_AS)
//   burner   burns `ms` ms of CPU on every batch (over its cpu_percent quota)
//   reader   reads the C library's file through on every batch and says how many bytes (the
//            child's I/O, which the engine must count as the component's)
//   babbler  writes bytes of its own onto descriptor 3 (the channel of an isolated child)
//   forger   writes a well-framed finding onto descriptor 3 whose severity is 1e300 (a double no
//            int holds: converting it is undefined behaviour in a careless reader)
#include <phantomguard/sdk/detector.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <string>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

pg::sdk::finding batch_finding(std::int64_t batch, std::int64_t first_pid) {
  return pg::sdk::finding("isolation.batch", pg::sdk::severity::info, "batch handled")
      .evidence("batch", batch)
      .evidence("first_pid", first_pid);
}

class crasher final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "crasher";
  crasher(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), crash_at_(cfg.get_int("crash_at", 3)) {}
  void on_batch(const pg::sdk::batch_view& b) override {
    ++batches_;
    if (batches_ == crash_at_) {
      volatile int* p = nullptr;
      *p = 42; // SIGSEGV
    }
    host_.emit(batch_finding(batches_, b.size() > 0 ? b[0].get_int("pid", -1) : -1));
  }
  std::string snapshot() override { return std::to_string(batches_); }
  void restore(std::string_view s) override { batches_ = std::stoll(std::string(s)); }

private:
  pg::sdk::host host_;
  std::int64_t crash_at_;
  std::int64_t batches_ = 0;
};

class spinner final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "spinner";
  spinner(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), spin_at_(cfg.get_int("spin_at", 2)) {}
  void on_batch(const pg::sdk::batch_view& b) override {
    ++batches_;
    if (batches_ == spin_at_)
      for (std::uint64_t i = 0;; ++i) // never returns, never asks should_stop
        asm volatile("" : "+r"(i));   // keeps the compiler from removing the loop
    host_.emit(batch_finding(batches_, b.size() > 0 ? b[0].get_int("pid", -1) : -1));
  }

private:
  pg::sdk::host host_;
  std::int64_t spin_at_;
  std::int64_t batches_ = 0;
};

class glutton final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "glutton";
  glutton(const pg::sdk::config&, pg::sdk::host host) : host_(host) {}
  void on_batch(const pg::sdk::batch_view&) override {
    for (;;) { // std::bad_alloc ends it (the SDK turns it into PG_ERR_NO_MEMORY)
      blocks_.emplace_back(8u << 20, 'x');
    }
  }

private:
  pg::sdk::host host_;
  std::vector<std::string> blocks_;
};

/// Descriptors open in this process (the child host keeps 0-2 on /dev/null and its channel).
std::int64_t open_fds() {
  std::int64_t n = 0;
  for (int fd = 0; fd < 1024; ++fd)
    if (::fcntl(fd, F_GETFD) != -1)
      ++n;
  return n;
}

/// Reports who it is and what it holds (isolation.probe), then makes one forbidden call, chosen
/// by `attack`: socket (TCP), exec, fork, ptrace (its parent), write (a file under /etc), kill
/// (its parent), read (/etc/shadow: Landlock says EACCES, reported as isolation.read_attempt).
class escaper final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "escaper";
  escaper(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), attack_(cfg.get_string("attack", "socket")) {}
  void on_batch(const pg::sdk::batch_view&) override {
    std::int64_t env_count = 0;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e)
      ++env_count;
    host_.emit(pg::sdk::finding("isolation.probe", pg::sdk::severity::info, "what the child holds")
                   .evidence("uid", static_cast<std::int64_t>(::getuid()))
                   .evidence("open_fds", open_fds())
                   .evidence("env_count", env_count));
    if (attack_ == "socket") {
      const int s = ::socket(AF_INET, SOCK_STREAM, 0);
      report("socket", s < 0 ? errno : 0);
    } else if (attack_ == "exec") {
      char sh[] = "/bin/sh";
      char* argv[] = {sh, nullptr};
      ::execv(sh, argv);
      report("exec", errno);
    } else if (attack_ == "fork") {
      const pid_t pid = ::fork();
      if (pid == 0)
        ::_exit(0);
      report("fork", pid < 0 ? errno : 0);
    } else if (attack_ == "ptrace") {
      report("ptrace", ::ptrace(PTRACE_ATTACH, ::getppid(), nullptr, nullptr) != 0 ? errno : 0);
    } else if (attack_ == "write") {
      const int fd = ::open("/etc/phantomguard-escaper-test", O_WRONLY | O_CREAT, 0644);
      report("write", fd < 0 ? errno : 0);
    } else if (attack_ == "kill") {
      report("kill", ::kill(::getppid(), SIGTERM) != 0 ? errno : 0);
    } else if (attack_ == "read") {
      const int fd = ::open("/etc/shadow", O_RDONLY);
      const int err = fd < 0 ? errno : 0;
      host_.emit(pg::sdk::finding("isolation.read_attempt", pg::sdk::severity::info,
                                  "tried to read /etc/shadow")
                     .evidence("errno", std::string(err != 0 ? ::strerrorname_np(err) : "none")));
    }
  }

private:
  void report(const char* what, int err) {
    host_.emit(pg::sdk::finding("isolation.attack_returned", pg::sdk::severity::info,
                                "a forbidden call returned")
                   .evidence("attack", std::string(what))
                   .evidence("errno", std::string(err != 0 ? ::strerrorname_np(err) : "none")));
  }
  pg::sdk::host host_;
  std::string attack_;
};

/// Allocates `mb` MiB (touched, so resident) on its first batch and holds it: within its RLIMIT_AS,
/// over its memory quota.
class hoarder final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "hoarder";
  hoarder(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), mb_(cfg.get_int("mb", 96)) {}
  void on_batch(const pg::sdk::batch_view&) override {
    if (!held_.empty())
      return;
    held_.assign(static_cast<std::size_t>(mb_) << 20, 'x');
    host_.emit(pg::sdk::finding("isolation.hoarding", pg::sdk::severity::info, "holding memory")
                   .evidence("mb", mb_));
  }

private:
  pg::sdk::host host_;
  std::int64_t mb_;
  std::string held_;
};

/// Burns `ms` milliseconds of CPU on every batch.
class burner final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "burner";
  burner(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), ms_(cfg.get_int("ms", 30)) {}
  void on_batch(const pg::sdk::batch_view&) override {
    timespec start{}, now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    for (std::uint64_t i = 0;; ++i) {
      asm volatile("" : "+r"(i));
      if ((i & 0xfff) != 0)
        continue;
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
      if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= ms_)
        break;
    }
  }

private:
  pg::sdk::host host_;
  std::int64_t ms_;
};

class reader final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "reader";
  reader(const pg::sdk::config&, pg::sdk::host host) : host_(host) {}
  void on_batch(const pg::sdk::batch_view&) override {
    Dl_info info{};
    std::int64_t bytes = 0;
    // The C library's file: under the loader's paths, which the sandbox lets the child read
    // (its own shared object was opened through a descriptor that is gone by now).
    if (::dladdr(reinterpret_cast<void*>(&::read), &info) != 0 && info.dli_fname != nullptr) {
      const int fd = ::open(info.dli_fname, O_RDONLY | O_CLOEXEC);
      char buf[65536];
      for (ssize_t n = 0; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;)
        bytes += n;
      if (fd >= 0)
        ::close(fd);
    }
    host_.emit(pg::sdk::finding("isolation.read_done", pg::sdk::severity::info,
                                "read the C library's file")
                   .evidence("bytes", bytes));
  }

private:
  pg::sdk::host host_;
};

class babbler final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "babbler";
  babbler(const pg::sdk::config&, pg::sdk::host host) : host_(host) {}
  void on_batch(const pg::sdk::batch_view&) override {
    // A frame header claiming a type no host knows, then noise.
    const unsigned char junk[] = {4, 0, 0, 0, 0x47, 'J', 'U', 'N', 'K', 0xff, 0xfe, 0xfd};
    [[maybe_unused]] const ssize_t n = ::write(3, junk, sizeof junk);
  }

private:
  pg::sdk::host host_;
};

class forger final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "forger";
  forger(const pg::sdk::config&, pg::sdk::host host) : host_(host) {}
  void on_batch(const pg::sdk::batch_view&) override {
    const std::string json = R"({"rule":"isolation.forged","severity":1e300,"title":"forged",)"
                             R"("entity":{},"evidence":{},"mitre":[]})";
    const auto text_len = static_cast<std::uint32_t>(json.size());
    const auto payload_len = static_cast<std::uint32_t>(sizeof text_len + json.size());
    std::string frame(reinterpret_cast<const char*>(&payload_len), sizeof payload_len);
    frame.push_back(static_cast<char>(0x84)); // a finding frame
    frame.append(reinterpret_cast<const char*>(&text_len), sizeof text_len);
    frame.append(json);
    [[maybe_unused]] const ssize_t n = ::write(3, frame.data(), frame.size());
  }

private:
  pg::sdk::host host_;
};

} // namespace

PHANTOMGUARD_PLUGIN(crasher, spinner, glutton, escaper, hoarder, burner, reader, babbler, forger)
