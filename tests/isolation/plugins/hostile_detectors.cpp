// hostile_detectors.cpp — detectors that misbehave on purpose, for the isolation tests. Every
// one of them would take an engine down in-process; isolated, each must only cost a restart.
//   crasher  emits isolation.batch per batch, dereferences NULL on batch `crash_at`
//   spinner  emits isolation.batch per batch, spins forever on batch `spin_at`
//   glutton  keeps allocating (and touching) 8 MiB blocks on its first batch
//   escaper  tries to open a socket (reports errno) and then to exec /bin/sh
//   babbler  writes bytes of its own onto descriptor 3 (the channel of an isolated child)
#include <phantomguard/sdk/detector.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

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

class escaper final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "escaper";
  escaper(const pg::sdk::config&, pg::sdk::host host) : host_(host) {}
  void on_batch(const pg::sdk::batch_view&) override {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    const int err = s < 0 ? errno : 0;
    if (s >= 0)
      ::close(s);
    host_.emit(pg::sdk::finding("isolation.socket_attempt", pg::sdk::severity::info,
                                "tried to open a socket")
                   .evidence("opened", s >= 0)
                   .evidence("uid", static_cast<std::int64_t>(::getuid()))
                   .evidence("open_fds", open_fds())
                   .evidence("errno", std::string(err != 0 ? ::strerrorname_np(err) : "none")));
    char sh[] = "/bin/sh";
    char* argv[] = {sh, nullptr};
    ::execv(sh, argv);
    host_.emit(pg::sdk::finding("isolation.exec_failed", pg::sdk::severity::info, "exec returned")
                   .evidence("errno", std::string(::strerrorname_np(errno))));
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

} // namespace

PHANTOMGUARD_PLUGIN(crasher, spinner, glutton, escaper, babbler)
