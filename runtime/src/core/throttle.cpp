// SPDX-License-Identifier: Apache-2.0
// throttle.cpp — setpriority/ioprio_set/sched_setaffinity on a thread or the process, and the
// adaptive pause's view of the host (/proc/stat, /proc/pressure, /sys/class/power_supply).
#include "phantomguard/runtime/throttle.hpp"

#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include "phantomguard/runtime/host_resources.hpp"

namespace pg::runtime {

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

std::optional<int> parse_hhmm(std::string_view s) {
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || s.size() - colon != 3)
    return std::nullopt;
  auto h = parse_int(s.substr(0, colon));
  auto m = parse_int(s.substr(colon + 1));
  if (!h || !m || *h < 0 || *h > 24 || *m < 0 || *m > 59 || (*h == 24 && *m != 0))
    return std::nullopt;
  return *h * 60 + *m;
}

std::string why(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

/// The tids of this process.
std::vector<pid_t> own_threads() {
  std::vector<pid_t> out;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d))
      if (auto tid = parse_int(e->d_name))
        out.push_back(*tid);
    ::closedir(d);
  }
  return out;
}

std::string apply(pid_t tid, const throttle_settings& t) {
  std::string failed;
  auto note = [&](std::string s) { failed += (failed.empty() ? "" : "; ") + std::move(s); };
  if (t.nice) {
    // setpriority(PRIO_PROCESS, tid) sets that thread only on Linux. Only ever lower: a higher
    // priority than now needs CAP_SYS_NICE and is never what a throttle means.
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno == 0 && *t.nice > now &&
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), *t.nice) != 0)
      note(why(("nice " + std::to_string(*t.nice)).c_str()));
  }
  if (!t.io_class.empty() && t.io_class != "none") {
    constexpr int ioprio_who_process = 1;
    constexpr int ioprio_class_shift = 13;
    const int cls = t.io_class == "idle" ? 3 : 2;
    const int prio = (cls << ioprio_class_shift) | (cls == 3 ? 0 : t.io_level);
    if (::syscall(SYS_ioprio_set, ioprio_who_process, static_cast<int>(tid), prio) != 0)
      note(why(("io_class " + t.io_class).c_str()));
  }
  if (!t.cpu_affinity.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned c : t.cpu_affinity)
      if (c < CPU_SETSIZE)
        CPU_SET(c, &set);
    if (::sched_setaffinity(tid, sizeof set, &set) != 0)
      note(why(("cpu_affinity " + cpu_list_text(t.cpu_affinity)).c_str()));
  }
  return failed;
}

std::optional<double> psi_some_avg10(const char* path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word != "some")
    return std::nullopt;
  while (in >> word)
    if (word.rfind("avg10=", 0) == 0) {
      try {
        return std::stod(word.substr(6));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  return std::nullopt;
}

/// Threads of this process that are runnable now (state R): the engine's own work, which must not
/// count as the host's load (a scan would otherwise pause itself, resume, and pause again).
unsigned own_running() {
  unsigned n = 0;
  for (pid_t tid : own_threads()) {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
      continue;
    const auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'R')
      ++n;
  }
  return n;
}

unsigned procs_running() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "procs_running") {
      unsigned n = 0;
      in >> n;
      return n;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

} // namespace

bool time_window::contains(int minute) const noexcept {
  if (begin_minute == end_minute)
    return true; // "00:00-24:00" and the like: always
  if (begin_minute < end_minute)
    return minute >= begin_minute && minute < end_minute;
  return minute >= begin_minute || minute < end_minute; // wraps midnight
}

std::string time_window::text() const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02d:%02d-%02d:%02d", begin_minute / 60, begin_minute % 60,
                end_minute / 60, end_minute % 60);
  return buf;
}

std::optional<time_window> parse_time_window(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos)
    return std::nullopt;
  auto b = parse_hhmm(text.substr(0, dash));
  auto e = parse_hhmm(text.substr(dash + 1));
  if (!b || !e)
    return std::nullopt;
  return time_window{*b % 1440, *e == 1440 ? (*b == 0 ? 0 : 1440) : *e};
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text) {
  std::set<unsigned> cpus;
  std::size_t pos = 0;
  if (text.empty())
    return std::nullopt;
  while (pos <= text.size()) {
    const auto end = std::min(text.find(',', pos), text.size());
    const auto item = text.substr(pos, end - pos);
    const auto dash = item.find('-');
    auto lo = parse_int(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : parse_int(item.substr(dash + 1));
    if (!lo || !hi || *lo < 0 || *hi < *lo || *hi > 1023)
      return std::nullopt;
    for (int c = *lo; c <= *hi; ++c)
      cpus.insert(static_cast<unsigned>(c));
    pos = end + 1;
  }
  return std::vector<unsigned>(cpus.begin(), cpus.end());
}

std::string cpu_list_text(const std::vector<unsigned>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
      ++j;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i)
      out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::string apply_to_current_thread(const throttle_settings& t) {
  return apply(static_cast<pid_t>(::syscall(SYS_gettid)), t);
}

std::string apply_to_process(const throttle_settings& t) {
  // Every thread that exists now; threads started later inherit from the one that starts them.
  std::string failed;
  for (pid_t tid : own_threads())
    if (auto f = apply(tid, t); !f.empty() && failed.empty())
      failed = f;
  return failed;
}

host_pressure current_host_pressure() {
  static std::mutex mutex;
  static std::int64_t sampled_ns = 0;
  static double average = -1;
  static host_pressure last;
  std::lock_guard lock(mutex);
  const auto now = steady_ns();
  if (average >= 0 && now - sampled_ns < 250'000'000)
    return last;
  const double dt = average < 0 ? 5.0 : std::min(5.0, (now - sampled_ns) / 1e9);
  sampled_ns = now;
  // The host's runnable tasks besides ours (this sampling thread and the scans included).
  const double running =
      std::max(0.0, static_cast<double>(procs_running()) - static_cast<double>(own_running()));
  const double alpha = std::min(1.0, dt / 5.0); // ~5 s exponential average
  average = average < 0 ? running : average + alpha * (running - average);
  static const unsigned cores = std::max(1u, detect_host_resources().cores);
  last.load_per_core = average / cores;
  last.cpu_pressure = psi_some_avg10("/proc/pressure/cpu");
  last.memory_pressure = psi_some_avg10("/proc/pressure/memory");
  last.on_battery = read_power_state().on_battery;
  const std::time_t wall = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&wall, &local);
  last.minute_of_day = local.tm_hour * 60 + local.tm_min;
  return last;
}

std::string pause_reason(const throttle_settings& t, const host_pressure& p) {
  char buf[160];
  if (t.window && !t.window->contains(p.minute_of_day))
    return "outside " + t.window->text();
  if (t.pause_on_battery && p.on_battery)
    return "on battery";
  if (t.max_load && p.load_per_core > *t.max_load) {
    std::snprintf(buf, sizeof buf, "load %.2f per core > %g", p.load_per_core, *t.max_load);
    return buf;
  }
  if (t.max_cpu_pressure && p.cpu_pressure && *p.cpu_pressure > *t.max_cpu_pressure) {
    std::snprintf(buf, sizeof buf, "CPU pressure %.1f%% > %g%%", *p.cpu_pressure,
                  *t.max_cpu_pressure);
    return buf;
  }
  if (t.max_memory_pressure && p.memory_pressure && *p.memory_pressure > *t.max_memory_pressure) {
    std::snprintf(buf, sizeof buf, "memory pressure %.1f%% > %g%%", *p.memory_pressure,
                  *t.max_memory_pressure);
    return buf;
  }
  return "";
}

bool pause_gate::paused() {
  if (!settings_.adaptive())
    return false;
  const auto now = steady_ns();
  auto next = next_check_ns_.load(std::memory_order_relaxed);
  if (now < next)
    return paused_.load(std::memory_order_relaxed);
  if (!next_check_ns_.compare_exchange_strong(next, now + 250'000'000))
    return paused_.load(std::memory_order_relaxed); // another thread re-evaluates
  auto reason = pause_reason(settings_, current_host_pressure());
  const bool is = !reason.empty();
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    const bool was = paused_.load(std::memory_order_relaxed);
    changed = is != was;
    if (is && !was) {
      paused_since_ns_ = now;
      pauses_.fetch_add(1);
    } else if (!is && was) {
      paused_total_ns_ += now - paused_since_ns_;
    }
    if (is)
      reason_ = reason;
    paused_.store(is, std::memory_order_relaxed);
  }
  if (changed && on_change_)
    on_change_(is, is ? reason : std::string());
  return is;
}

double pause_gate::paused_seconds() const {
  std::lock_guard lock(mutex_);
  auto total = paused_total_ns_;
  if (paused_.load(std::memory_order_relaxed))
    total += steady_ns() - paused_since_ns_;
  return static_cast<double>(total) / 1e9;
}

std::string pause_gate::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

} // namespace pg::runtime
