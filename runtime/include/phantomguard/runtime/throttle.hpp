// SPDX-License-Identifier: Apache-2.0
// throttle.hpp — one throttle for every component, applied by the engine: the CPU and I/O priority
// and the CPUs of the component's threads (its actor's own and every worker it starts), and the
// adaptive pause, which holds a component's work while the host is busy (runnable tasks, CPU or
// memory pressure), on battery, or outside a time window. Written in a component's table as
// `nice`, `io_class`, `io_level`, `cpu_affinity` and `throttle = { ... }` (docs/config.md,
// "Throttle"); `[engine]` takes `nice`, `io_class` and `cpu_affinity` for the whole process.
// No CAF here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::runtime {

/// "01:00-05:00" in local time; may wrap midnight ("22:00-06:00").
struct time_window {
  int begin_minute = 0; // minutes after local midnight
  int end_minute = 0;
  [[nodiscard]] bool contains(int minute_of_day) const noexcept;
  [[nodiscard]] std::string text() const;
  friend bool operator==(const time_window&, const time_window&) = default;
};
std::optional<time_window> parse_time_window(std::string_view text);

/// "0-3,6" or the numbers of an array: CPU numbers, sorted, no duplicates; nullopt when malformed
/// (or a CPU above 1023).
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);
std::string cpu_list_text(const std::vector<unsigned>& cpus);

struct throttle_settings {
  // Priority and placement of the component's threads ("unchanged" when unset).
  std::optional<int> nice;            // 0..19; a thread is only ever lowered
  std::string io_class;               // "" unchanged, "none" unchanged, "best-effort", "idle"
  int io_level = 7;                   // 0 (high) .. 7, within best-effort
  std::vector<unsigned> cpu_affinity; // empty: the process's CPUs

  // Adaptive pause (`throttle = { ... }`): the work waits while any is true.
  std::optional<double> max_load;            // runnable tasks per core, averaged over ~5 s
  std::optional<double> max_cpu_pressure;    // PSI cpu "some" avg10, percent
  std::optional<double> max_memory_pressure; // PSI memory "some" avg10, percent
  bool pause_on_battery = false;
  std::optional<time_window> window; // work only inside it

  [[nodiscard]] bool adaptive() const noexcept {
    return max_load || max_cpu_pressure || max_memory_pressure || pause_on_battery || window;
  }
  [[nodiscard]] bool places_threads() const noexcept {
    return nice || (!io_class.empty() && io_class != "none") || !cpu_affinity.empty();
  }
  friend bool operator==(const throttle_settings&, const throttle_settings&) = default;
};

/// What the heavy scanners (fim, yara, vuln, container, package_integrity) ship with when their
/// table says nothing: nice 10 and the idle I/O class, so that a scan yields to the host.
inline throttle_settings background_scan_throttle() {
  throttle_settings t;
  t.nice = 10;
  t.io_class = "idle";
  return t;
}

/// Applies nice, io_class/io_level and cpu_affinity to the calling thread. Returns what could
/// not be applied ("nice 19: Operation not permitted"), empty when all was.
std::string apply_to_current_thread(const throttle_settings& t);

/// The same for the whole process (every thread, those started later included): `[engine]`.
std::string apply_to_process(const throttle_settings& t);

/// The host's load as the adaptive pause reads it, sampled at most every 250 ms and shared by all
/// components: runnable tasks per core besides the engine's own threads (an average over ~5 s
/// of /proc/stat's procs_running less this process's threads in state R, so that a pause follows
/// the load within seconds, unlike the 1-minute load average, and a scan never pauses itself),
/// PSI cpu and memory "some" avg10, and whether the host runs on battery.
struct host_pressure {
  double load_per_core = 0;
  std::optional<double> cpu_pressure; // nullopt: no PSI on this kernel
  std::optional<double> memory_pressure;
  bool on_battery = false;
  int minute_of_day = 0; // local time
};
host_pressure current_host_pressure();

/// Why `t` holds work now ("load 3.10 per core > 1.5", "outside 01:00-05:00"), or "" when it
/// does not.
std::string pause_reason(const throttle_settings& t, const host_pressure& p);

/// One component instance's pause state, shared by its threads: pace() and the tick consult it,
/// metrics and status read it.
class pause_gate {
public:
  /// `on_change(paused, reason)` is called on each pause and resume, on the thread that saw it.
  using change_handler = std::function<void(bool paused, const std::string& reason)>;
  explicit pause_gate(throttle_settings t, change_handler on_change = {})
      : settings_(std::move(t)), on_change_(std::move(on_change)) {}

  /// Re-evaluates at most every 250 ms; true while the work must wait. On a change it records
  /// the pause or the resume (counted, timed, the reason kept).
  bool paused();

  [[nodiscard]] bool is_paused() const noexcept { return paused_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t pauses() const noexcept { return pauses_.load(); }
  /// Seconds spent paused, the current pause included.
  [[nodiscard]] double paused_seconds() const;
  [[nodiscard]] std::string reason() const;
  [[nodiscard]] const throttle_settings& settings() const noexcept { return settings_; }

private:
  throttle_settings settings_;
  change_handler on_change_;
  std::atomic<bool> paused_{false};
  std::atomic<std::uint64_t> pauses_{0};
  std::atomic<std::int64_t> next_check_ns_{0};
  mutable std::mutex mutex_;
  std::int64_t paused_since_ns_ = 0; // under mutex_
  std::int64_t paused_total_ns_ = 0; // under mutex_
  std::string reason_;               // under mutex_
};

} // namespace pg::runtime
