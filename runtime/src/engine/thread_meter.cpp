// SPDX-License-Identifier: Apache-2.0
#include "engine/thread_meter.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "engine/component_stats.hpp"
#include "engine/instance_slot.hpp"
#include "phantomguard/runtime/io_usage.hpp"

namespace pg::runtime::detail {

namespace {

std::int64_t read_clock(clockid_t clock, bool* ok = nullptr) noexcept {
  timespec ts{};
  bool good = ::clock_gettime(clock, &ts) == 0;
  if (ok)
    *ok = good;
  return good ? static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec : 0;
}

} // namespace

void thread_meter::set_cumulative(std::shared_ptr<std::atomic<std::int64_t>> cumulative) {
  std::lock_guard lock(mutex_);
  cumulative_ = std::move(cumulative);
}

void thread_meter::add(std::int64_t ns) {
  if (ns <= 0)
    return;
  total_ += ns;
  if (cumulative_)
    cumulative_->fetch_add(ns, std::memory_order_relaxed);
}

void thread_meter::set_cumulative_io(std::shared_ptr<io_totals> io) {
  std::lock_guard lock(mutex_);
  io_ = std::move(io);
}

void thread_meter::add_io(live& l) {
  const auto now = io_of_thread(l.tid);
  if (!now)
    return; // ended, or no task I/O accounting: what it did since the last reading is not known
  const std::uint64_t values[4] = {now->read_chars, now->write_chars, now->storage_read,
                                   now->storage_write};
  if (l.io_known && io_) {
    io_counters delta;
    std::uint64_t* out[4] = {&delta.read_chars, &delta.write_chars, &delta.storage_read,
                             &delta.storage_write};
    for (int i = 0; i < 4; ++i)
      *out[i] = values[i] > l.io_seen[i] ? values[i] - l.io_seen[i] : 0;
    io_->add(delta);
  }
  for (int i = 0; i < 4; ++i)
    l.io_seen[i] = values[i];
  l.io_known = true;
}

void thread_meter::charge_io(const io_counters& delta) {
  std::lock_guard lock(mutex_);
  if (io_)
    io_->add(delta);
}

void thread_meter::sample_io() {
  std::lock_guard lock(mutex_);
  for (auto& l : live_)
    add_io(l);
}

void thread_meter::sample_io(int token) {
  std::lock_guard lock(mutex_);
  for (auto& l : live_)
    if (l.token == token)
      add_io(l);
}

int thread_meter::attach_current() {
  clockid_t clock{};
  if (int rc = ::pthread_getcpuclockid(::pthread_self(), &clock); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_getcpuclockid");
  std::lock_guard lock(mutex_);
  live l;
  l.token = next_token_++;
  l.clock = clock;
  l.seen = read_clock(CLOCK_THREAD_CPUTIME_ID);
  l.tid = ::gettid();
  add_io(l); // the starting point: a reused thread's earlier I/O is not the component's
  live_.push_back(l);
  return l.token;
}

void thread_meter::detach(int token) {
  std::lock_guard lock(mutex_);
  auto it =
      std::find_if(live_.begin(), live_.end(), [&](const live& l) { return l.token == token; });
  if (it == live_.end())
    return;
  bool ok = false;
  auto now = read_clock(it->clock, &ok); // the thread's own clock, from whichever thread asks
  if (ok)
    add(now - it->seen);
  add_io(*it);
  live_.erase(it);
}

void thread_meter::charge(std::int64_t ns) {
  std::lock_guard lock(mutex_);
  add(ns);
}

std::int64_t thread_meter::sample() {
  std::lock_guard lock(mutex_);
  for (auto it = live_.begin(); it != live_.end();) {
    bool ok = false;
    auto now = read_clock(it->clock, &ok);
    if (!ok) {
      // The thread ended without detaching (a thread the watchdog abandoned that then died):
      // what it used since the last sample is lost to the figure, not the figure itself.
      it = live_.erase(it);
      continue;
    }
    add(now - it->seen);
    it->seen = std::max(it->seen, now);
    ++it;
  }
  return total_;
}

std::size_t thread_meter::threads() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::int64_t cpu_pacer::debt_wait(std::int64_t now_ns, std::int64_t cpu_ns, double fraction) {
  if (fraction <= 0)
    return max_wait_ns;
  std::lock_guard lock(mutex_);
  if (!started_) {
    started_ = true;
    base_time_ = now_ns;
    base_cpu_ = static_cast<double>(cpu_ns);
  }
  double allowed = base_cpu_ + static_cast<double>(now_ns - base_time_) * fraction;
  double debt = static_cast<double>(cpu_ns) - allowed;
  if (debt < -static_cast<double>(burst_ns)) {
    // Long idle: keep at most a burst of credit, so a later run cannot spend minutes of it.
    base_cpu_ += -static_cast<double>(burst_ns) - debt;
    debt = -static_cast<double>(burst_ns);
  }
  if (debt <= 0)
    return 0;
  // Wait until a little credit has built up, not just the debt: waking to find a few
  // microseconds of budget would spend the whole budget on waking and checking.
  double wait = (debt + static_cast<double>(resume_credit_ns)) / fraction;
  return std::min<std::int64_t>(max_wait_ns, static_cast<std::int64_t>(wait));
}

metered_threads::metered_threads(std::shared_ptr<instance_slot> slot,
                                 std::optional<double> cpu_percent)
    : slot_(std::move(slot)), cpu_percent_(cpu_percent) {}

std::thread metered_threads::start(std::function<void()> body) {
  return std::thread([slot = slot_, body = std::move(body)] {
    // Placed like the component's actor thread (which placed itself): nice, I/O class, CPUs.
    // What the kernel refused was said once by the actor; a worker does not repeat it.
    ::pthread_setname_np(::pthread_self(), slot->name.substr(0, 15).c_str());
    if (slot->placement.places_threads())
      (void)apply_to_current_thread(slot->placement);
    heap::set_thread_account(slot->heap_account); // what it allocates is the component's
    int token = slot->meter.attach_current();
    struct detach_on_exit {
      instance_slot& s;
      int t;
      ~detach_on_exit() {
        s.meter.detach(t);
        heap::set_thread_account(0); // hands over what this thread has not added yet
      }
    } guard{*slot, token};
    body();
  });
}

void metered_threads::account_memory(std::int64_t delta) {
  slot_->memory_bytes.fetch_add(delta, std::memory_order_relaxed);
}

bool metered_threads::pace() {
  auto stopping = [&] {
    return slot_->stop_requested.load(std::memory_order_relaxed) ||
           slot_->abandoned.load(std::memory_order_relaxed);
  };
  if (stopping())
    return false;
  // The adaptive throttle: hold the work while the host is busy, on battery or outside the
  // window (pause_gate re-reads the host at most every 250 ms).
  if (slot_->gate && slot_->gate->paused()) {
    while (slot_->gate->paused()) {
      timespec ts{0, 250'000'000};
      while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
      if (stopping())
        return false;
    }
  }
  if (!cpu_percent_)
    return true;
  // Reading the clocks of every thread costs a few system calls: at most once per 2 ms a thread.
  thread_local std::int64_t next_check = 0;
  auto now = steady_now_ns();
  if (now < next_check)
    return true;
  next_check = now + 2'000'000;
  for (;;) {
    double fraction = *cpu_percent_ / 100.0 * margin;
    if (slot_->quota_level.load(std::memory_order_relaxed) >= 1)
      fraction *= 0.5;
    auto wait = pacer_.debt_wait(now, slot_->meter.sample(), fraction);
    if (wait <= 0)
      return true;
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    if (stopping())
      return false;
    now = steady_now_ns();
  }
}

} // namespace pg::runtime::detail
