// SPDX-License-Identifier: Apache-2.0
#include "remote_delivery.hpp"

#include <random>
#include <stdexcept>

#include "phantomguard/runtime/finding.hpp"
#include "sink_options.hpp"

namespace pg::actors::sink {

using namespace pg::runtime;

namespace {

std::chrono::milliseconds ms(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

} // namespace

std::vector<option_spec> remote_delivery_options() {
  std::vector<option_spec> o;
  o.push_back(opt("format", option_type::string, "native",
                  "the finding's schema: native, ecs (Elastic Common Schema) or ocsf (OCSF "
                  "Detection Finding); docs/delivery.md",
                  {"native", "ecs", "ocsf"}));
  o.push_back(opt("min_severity", option_type::string, "info",
                  "findings below this severity are not sent",
                  {"info", "low", "medium", "high", "critical"}));
  // The receiver's TLS: how its certificate is checked.
  o.push_back(opt("ca_file", option_type::string, "",
                  "TLS: PEM CA certificates to verify the receiver with (default: the system's)"));
  o.push_back(opt("tls_verify", option_type::boolean, "true",
                  "TLS: verify the receiver's certificate and name (false only for tests)"));
  o.push_back(opt("pin_sha256", option_type::string, "",
                  "TLS: the SHA-256 of the receiver's certificate (as openssl x509 -fingerprint "
                  "-sha256 prints it) it must present, on top of the chain's verification"));
  o.push_back(
      opt("batch_max", option_type::integer, "500", "findings per send at most", {}, 1, 100000));
  o.push_back(opt("batch_bytes", option_type::size, "1MiB", "bytes per send at most", {}, 1024,
                  256.0 * 1024 * 1024));
  o.push_back(opt("batch_delay", option_type::duration, "1s",
                  "how long a finding may wait for others to fill its batch", {}, 0, 3600));
  o.push_back(
      opt("retry_initial", option_type::duration, "1s", "first retry delay", {}, 0.001, 3600));
  o.push_back(
      opt("retry_max", option_type::duration, "60s", "retry delay at most", {}, 0.001, 86400));
  o.push_back(opt("breaker_failures", option_type::integer, "5",
                  "failures in a row that open the circuit", {}, 1, 1000));
  o.push_back(opt("breaker_cooldown", option_type::duration, "30s",
                  "how long an open circuit waits before it probes", {}, 0.001, 86400));
  o.push_back(opt("drain_timeout", option_type::duration, "5s",
                  "at stop: how long to keep sending (what is left stays in the spool)", {}, 0,
                  600));
  o.push_back(opt("spool_max", option_type::size, "256MiB",
                  "the spool's bound on disk; beyond it the oldest findings are dropped", {}, 4096,
                  1099511627776.0));
  o.push_back(opt("spool_fsync", option_type::string, "interval",
                  "always: every batch is on disk before it is acknowledged upstream; interval: "
                  "once a second; never: the kernel decides",
                  {"always", "interval", "never"}));
  return o;
}

remote_delivery_settings remote_delivery_settings::from(const component_settings& s,
                                                        std::string target) {
  remote_delivery_settings r;
  r.target = std::move(target);
  r.batch_max = static_cast<std::size_t>(s.get_int("batch_max", 500));
  r.batch_bytes = static_cast<std::size_t>(s.get_size("batch_bytes", r.batch_bytes));
  r.batch_delay = ms(s.get_duration("batch_delay", r.batch_delay));
  r.retry_initial = ms(s.get_duration("retry_initial", r.retry_initial));
  r.retry_max = ms(s.get_duration("retry_max", r.retry_max));
  r.breaker_failures = static_cast<unsigned>(s.get_int("breaker_failures", 5));
  r.breaker_cooldown = ms(s.get_duration("breaker_cooldown", r.breaker_cooldown));
  r.drain_timeout = ms(s.get_duration("drain_timeout", r.drain_timeout));
  r.spool_max = s.get_size("spool_max", r.spool_max);
  const auto f = s.get_string("spool_fsync", "interval");
  r.spool_fsync = f == "always"  ? fsync_policy::always
                  : f == "never" ? fsync_policy::never
                                 : fsync_policy::interval;
  return r;
}

remote_delivery::remote_delivery(std::string sink_name, std::string state_dir,
                                 remote_delivery_settings settings)
    : name_(std::move(sink_name)),
      spool_dir_((state_dir.empty() ? std::string(".") : state_dir) + "/" + name_ + "/spool"),
      s_(std::move(settings)) {}

remote_delivery::~remote_delivery() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_until_ = {};
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void remote_delivery::start(context& ctx, sender send) {
  delivery_spool::settings ss;
  ss.dir = spool_dir_;
  ss.max_bytes = s_.spool_max;
  ss.fsync = s_.spool_fsync;
  spool_ = std::make_unique<delivery_spool>(ss);
  const auto& rec = spool_->recovered();
  if (rec.records > 0)
    ctx.log(log_level::info, "sink '" + name_ + "': " + std::to_string(rec.records) +
                                 " findings from the spool are sent first");
  if (rec.torn + rec.corrupt > 0)
    ctx.lost("spool_damaged", static_cast<std::int64_t>(rec.torn + rec.corrupt));
  ctx.gauge("spool_records", static_cast<double>(spool_->records()));
  // Exported from the start (as 0), so a rate over them works before the first delivery.
  ctx.count("delivered", 0);
  ctx.count("failed", 0);
  ctx.gauge("last_success_time", 0);
  first_pending_ = std::chrono::steady_clock::now();
  thread_ = ctx.threads().start([this, send = std::move(send)] { loop(send); });
}

void remote_delivery::spool(const event_batch& batch, context& ctx, severity min_level,
                            const std::function<std::string(const finding&)>& record) {
  if (!spool_)
    throw std::logic_error("sink '" + name_ + "': a batch before start");
  std::int64_t added = 0;
  for (const auto& e : batch.events) {
    if (e.kind != "finding" || !e.payload) {
      ctx.count("ignored");
      continue;
    }
    if (e.payload->level < min_level) {
      ctx.count("below_min_severity");
      continue;
    }
    std::uint64_t dropped = 0;
    const int err = spool_->append(record(*e.payload), dropped);
    if (dropped > 0)
      ctx.lost("spool_full", static_cast<std::int64_t>(dropped));
    if (err != 0) {
      // The disk under the spool is full (or gone): this finding cannot be kept.
      ctx.lost("spool_full", 1);
      ctx.log(log_level::error, "sink '" + name_ + "': cannot spool a finding in " + spool_dir_ +
                                    ": " + error_text(err));
      continue;
    }
    ++added;
  }
  if (added > 0) {
    spool_->sync();
    ctx.count("spooled", added);
    wake_.notify_all();
  }
  report(ctx);
}

void remote_delivery::report(context& ctx) {
  if (!spool_)
    return; // start() did not get as far as the spool
  spool_->sync();
  if (auto n = delivered_.exchange(0)) {
    ctx.count("delivered", n);
    ctx.gauge("last_success_time", last_success_.load());
  }
  if (auto n = failed_.exchange(0)) {
    ctx.count("failed", n);
    ctx.count("retries", n);
  }
  if (auto n = rejected_.exchange(0)) {
    ctx.count("rejected", n);
    ctx.lost("rejected", n);
    std::string why;
    {
      std::lock_guard lock(error_mutex_);
      why = rejected_error_;
    }
    finding f;
    f.rule = "engine.sink_rejected";
    f.level = severity::high;
    f.title = "sink '" + name_ + "': " + s_.target + " rejected " + std::to_string(n) +
              " findings (" + why + "); they are not retried";
    f.entity = {{"component", name_}};
    f.evidence = {{"target", s_.target}, {"findings", n}, {"answer", why}};
    ctx.emit_finding(std::move(f));
  }
  ctx.gauge("spool_records", static_cast<double>(spool_->records()));
  ctx.gauge("spool_bytes", static_cast<double>(spool_->bytes()));
  ctx.gauge("breaker_open", breaker_open_ ? 1.0 : 0.0);
  const bool failing = failing_.load();
  if (failing == reported_failing_)
    return;
  reported_failing_ = failing;
  std::string why;
  {
    std::lock_guard lock(error_mutex_);
    why = last_error_;
  }
  finding f;
  f.entity = {{"component", name_}};
  f.evidence = {{"target", s_.target}, {"spooled", spool_->records()}};
  if (failing) {
    f.rule = "engine.sink_delivery_failing";
    f.level = severity::medium;
    f.title = "sink '" + name_ + "' cannot deliver to " + s_.target + ": " + why +
              " (findings are kept in the spool and retried)";
    f.evidence["error"] = why;
  } else {
    f.rule = "engine.sink_delivery_recovered";
    f.level = severity::info;
    f.title = "sink '" + name_ + "' delivers to " + s_.target + " again";
  }
  ctx.emit_finding(std::move(f));
}

void remote_delivery::stop(context& ctx) {
  if (!spool_)
    return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_until_ = std::chrono::steady_clock::now() + s_.drain_timeout;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
  report(ctx);
  if (auto left = spool_->records())
    ctx.log(log_level::warn, "sink '" + name_ + "': " + std::to_string(left) +
                                 " findings stay in the spool for the next start");
}

void remote_delivery::loop(const sender& send) {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = s_.retry_initial;
  unsigned failures = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    const bool draining = stopping_;
    if (draining && std::chrono::steady_clock::now() >= drain_until_)
      return;
    const auto pending = spool_->records();
    if (pending == 0) {
      if (draining)
        return;
      wake_.wait_for(lock, std::chrono::milliseconds(500));
      first_pending_ = std::chrono::steady_clock::now();
      continue;
    }
    // A batch: full, or its first finding has waited batch_delay (or we are draining).
    const auto age = std::chrono::steady_clock::now() - first_pending_;
    if (!draining && pending < s_.batch_max && age < s_.batch_delay) {
      wake_.wait_for(lock, s_.batch_delay - age);
      continue;
    }
    lock.unlock();
    const auto batch = spool_->peek(s_.batch_max, s_.batch_bytes);
    const auto r = send(batch);
    if (r.outcome == delivery_result::kind::delivered) {
      spool_->ack(batch.size());
      delivered_ += static_cast<std::int64_t>(batch.size());
      last_success_ = unix_seconds();
      failing_ = false;
      breaker_open_ = false;
      failures = 0;
      backoff = s_.retry_initial;
      lock.lock();
      first_pending_ = std::chrono::steady_clock::now();
      continue;
    }
    if (r.outcome == delivery_result::kind::reject) {
      // The receiver says this batch is wrong: sending it again would not help.
      {
        std::lock_guard e(error_mutex_);
        rejected_error_ = r.error;
      }
      spool_->ack(batch.size());
      rejected_ += static_cast<std::int64_t>(batch.size());
      lock.lock();
      continue;
    }
    {
      std::lock_guard e(error_mutex_);
      last_error_ = r.error;
    }
    failed_ += 1;
    failing_ = true;
    ++failures;
    std::chrono::milliseconds delay;
    if (failures >= s_.breaker_failures) {
      breaker_open_ = true;
      delay = s_.breaker_cooldown; // then one attempt probes the circuit
    } else {
      // Exponential, with jitter: somewhere in [backoff / 2, backoff].
      const auto half = backoff.count() / 2;
      delay = std::chrono::milliseconds(
          half + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(half + 1)));
      backoff = std::min(backoff * 2, s_.retry_max);
    }
    if (r.retry_after)
      delay = std::max(delay, std::min(*r.retry_after, s_.retry_max));
    lock.lock();
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
      if (stopping_ && std::chrono::steady_clock::now() >= drain_until_)
        return;
      wake_.wait_until(lock, stopping_ ? std::min(until, drain_until_) : until);
    }
  }
}

} // namespace pg::actors::sink
