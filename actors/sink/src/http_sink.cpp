#include "phantomguard/actors/sink/http_sink.hpp"

#include <sys/stat.h>

#include <fstream>
#include <random>
#include <stdexcept>

#include <httplib.h>

#include "sink_options.hpp"

namespace pg::actors::sink {

using namespace pg::runtime;

namespace {

std::chrono::milliseconds ms(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

/// scheme://host[:port] and /path of a URL.
std::pair<std::string, std::string> split_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos)
    return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

/// Retry-After as a delay: seconds, or an HTTP date (nullopt when absent or unreadable).
std::optional<std::chrono::milliseconds> retry_after(const httplib::Response& r) {
  if (!r.has_header("Retry-After"))
    return std::nullopt;
  const auto v = r.get_header_value("Retry-After");
  try {
    return std::chrono::seconds(std::stoll(v));
  } catch (const std::exception&) {
  }
  std::tm tm{};
  if (::strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr)
    return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  const auto now = std::chrono::system_clock::now();
  return at > now ? std::chrono::duration_cast<std::chrono::milliseconds>(at - now)
                  : std::chrono::milliseconds(0);
}

} // namespace

std::vector<option_spec> http_sink::options() {
  std::vector<option_spec> o;
  auto url = opt("url", option_type::string, "", "where batches are POSTed (http:// or https://)");
  url.required = true;
  o.push_back(std::move(url));
  o.push_back(opt("encoding", option_type::string, "ndjson",
                  "ndjson: one finding per line; json: a JSON array", {"ndjson", "json"}));
  o.push_back(opt("format", option_type::string, "native",
                  "native: PhantomGuard's JSON; ecs: Elastic Common Schema; ocsf: OCSF Detection "
                  "Finding",
                  {"native", "ecs", "ocsf"}));
  o.push_back(opt("min_severity", option_type::string, "info",
                  "findings below this severity are not sent",
                  {"info", "low", "medium", "high", "critical"}));
  o.push_back(
      opt("batch_max", option_type::integer, "500", "findings per request at most", {}, 1, 100000));
  o.push_back(opt("batch_bytes", option_type::size, "1MiB", "bytes per request at most", {}, 1024,
                  256.0 * 1024 * 1024));
  o.push_back(opt("batch_delay", option_type::duration, "1s",
                  "how long a finding may wait for others to fill its batch", {}, 0, 3600));
  o.push_back(opt("gzip", option_type::boolean, "false", "compress request bodies"));
  auto headers = opt("headers", option_type::table, "", "extra request headers (NAME = \"value\")");
  o.push_back(std::move(headers));
  o.push_back(opt("token_file", option_type::string, "",
                  "a file (not readable by others) whose first line is sent as a bearer token"));
  o.push_back(opt("ca_file", option_type::string, "",
                  "https: PEM CA certificates to verify the server with (default: the system's)"));
  o.push_back(opt("tls_verify", option_type::boolean, "true",
                  "https: verify the server's certificate and name (false only for tests)"));
  o.push_back(opt("timeout", option_type::duration, "10s", "connect, read and write timeout", {},
                  0.01, 600));
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

http_sink_settings http_sink_settings::from(const component_settings& s) {
  http_sink_settings r;
  r.url = s.get_string("url");
  if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0)
    throw std::invalid_argument("url must start with http:// or https://, not '" + r.url + "'");
  r.encoding = s.get_string("encoding", r.encoding);
  r.schema = parse_finding_schema(s.get_string("format", "native")).value_or(finding_schema::native);
  r.min_severity = parse_severity(s.get_string("min_severity", "info")).value_or(severity::info);
  r.batch_max = static_cast<std::size_t>(s.get_int("batch_max", 500));
  r.batch_bytes = static_cast<std::size_t>(s.get_size("batch_bytes", r.batch_bytes));
  r.batch_delay = ms(s.get_duration("batch_delay", r.batch_delay));
  r.gzip = s.get_bool("gzip", false);
  if (const auto* h = s.table().get_as<toml::table>("headers"))
    for (const auto& [k, v] : *h) {
      if (!v.is_string())
        throw std::invalid_argument("headers." + std::string(k.str()) + " must be a string");
      r.headers.emplace_back(std::string(k.str()), *v.value<std::string>());
    }
  r.token_file = s.get_string("token_file");
  r.ca_file = s.get_string("ca_file");
  r.tls_verify = s.get_bool("tls_verify", true);
  r.timeout = ms(s.get_duration("timeout", r.timeout));
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

http_sink::http_sink(std::string name, std::string state_dir, http_sink_settings settings)
    : name_(std::move(name)), settings_(std::move(settings)),
      spool_dir_((state_dir.empty() ? std::string(".") : state_dir) + "/" + name_ + "/spool") {}

http_sink::~http_sink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_until_ = {};
  }
  wake_.notify_all();
  if (sender_.joinable())
    sender_.join();
}

void http_sink::start(context& ctx) {
  if (!settings_.token_file.empty()) {
    struct stat st {};
    if (::stat(settings_.token_file.c_str(), &st) != 0)
      throw std::runtime_error("http sink: cannot read token_file " + settings_.token_file + ": " +
                               error_text(errno));
    if ((st.st_mode & 007) != 0)
      throw std::runtime_error("http sink: token_file " + settings_.token_file +
                               " is readable by others (chmod 600)");
    std::ifstream in(settings_.token_file);
    std::getline(in, token_);
    while (!token_.empty() && (token_.back() == '\r' || token_.back() == ' '))
      token_.pop_back();
  }
  delivery_spool::settings ss;
  ss.dir = spool_dir_;
  ss.max_bytes = settings_.spool_max;
  ss.fsync = settings_.spool_fsync;
  spool_ = std::make_unique<delivery_spool>(ss);
  const auto& rec = spool_->recovered();
  if (rec.records > 0)
    ctx.log(log_level::info, "http sink '" + name_ + "': " + std::to_string(rec.records) +
                                 " findings from the spool are sent first");
  if (rec.torn + rec.corrupt > 0)
    ctx.lost("spool_damaged", static_cast<std::int64_t>(rec.torn + rec.corrupt));
  ctx.gauge("spool_records", static_cast<double>(spool_->records()));
  first_pending_ = std::chrono::steady_clock::now();
  sender_ = ctx.threads().start([this] { send_loop(); });
}

void http_sink::on_batch(const event_batch& batch, context& ctx) {
  std::size_t added = 0;
  for (const auto& e : batch.events) {
    if (e.kind != "finding" || !e.payload) {
      ctx.count("ignored");
      continue;
    }
    if (e.payload->level < settings_.min_severity) {
      ctx.count("below_min_severity");
      continue;
    }
    std::uint64_t dropped = 0;
    const int err = spool_->append(
        dump_line(to_schema(*e.payload, settings_.schema, finding_id(*e.payload))), dropped);
    if (dropped > 0)
      ctx.lost("spool_full", static_cast<std::int64_t>(dropped));
    if (err != 0) {
      // The disk under the spool is full (or gone): this finding cannot be kept.
      ctx.lost("spool_full", 1);
      ctx.log(log_level::error, "http sink '" + name_ + "': cannot spool a finding in " +
                                    spool_dir_ + ": " + error_text(err));
      continue;
    }
    ++added;
  }
  if (added > 0) {
    spool_->sync();
    ctx.count("spooled", static_cast<std::int64_t>(added));
    wake_.notify_all();
  }
  report(ctx);
}

void http_sink::on_tick(context& ctx) {
  spool_->sync();
  report(ctx);
}

void http_sink::report(context& ctx) {
  if (auto n = out_.delivered.exchange(0)) {
    ctx.count("delivered", n);
    ctx.gauge("last_success_time", out_.last_success.load());
  }
  if (auto n = out_.failed.exchange(0))
    ctx.count("failed", n);
  if (auto n = out_.retries.exchange(0))
    ctx.count("retries", n);
  if (auto n = out_.rejected.exchange(0)) {
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
    f.title = "sink '" + name_ + "': " + settings_.url + " rejected " + std::to_string(n) +
              " findings (" + why + "); they are not retried";
    f.entity = {{"component", name_}};
    f.evidence = {{"url", settings_.url}, {"findings", n}, {"answer", why}};
    ctx.emit_finding(std::move(f));
  }
  ctx.gauge("spool_records", static_cast<double>(spool_->records()));
  ctx.gauge("spool_bytes", static_cast<double>(spool_->bytes()));
  ctx.gauge("breaker_open", out_.breaker_open ? 1.0 : 0.0);
  const bool failing = out_.failing.load();
  if (failing != reported_failing_) {
    reported_failing_ = failing;
    std::string why;
    {
      std::lock_guard lock(error_mutex_);
      why = last_error_;
    }
    finding f;
    f.entity = {{"component", name_}};
    f.evidence = {{"url", settings_.url}, {"spooled", spool_->records()}};
    if (failing) {
      f.rule = "engine.sink_delivery_failing";
      f.level = severity::medium;
      f.title = "sink '" + name_ + "' cannot deliver to " + settings_.url + ": " + why +
                " (findings are kept in the spool and retried)";
      f.evidence["error"] = why;
    } else {
      f.rule = "engine.sink_delivery_recovered";
      f.level = severity::info;
      f.title = "sink '" + name_ + "' delivers to " + settings_.url + " again";
    }
    ctx.emit_finding(std::move(f));
  }
}

void http_sink::stop(context& ctx) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_until_ = std::chrono::steady_clock::now() + settings_.drain_timeout;
  }
  wake_.notify_all();
  if (sender_.joinable())
    sender_.join();
  spool_->sync();
  report(ctx);
  if (auto left = spool_->records())
    ctx.log(log_level::warn, "http sink '" + name_ + "': " + std::to_string(left) +
                                 " findings stay in the spool for the next start");
}

void http_sink::send_loop() {
  const auto [base, path] = split_url(settings_.url);
  httplib::Client client(base);
  const auto secs = [](std::chrono::milliseconds d) {
    return std::make_pair(static_cast<time_t>(d.count() / 1000),
                          static_cast<time_t>((d.count() % 1000) * 1000));
  };
  auto [ts, tus] = secs(settings_.timeout);
  client.set_connection_timeout(ts, tus);
  client.set_read_timeout(ts, tus);
  client.set_write_timeout(ts, tus);
  client.set_keep_alive(true);
  if (base.rfind("https://", 0) == 0) {
    if (!settings_.ca_file.empty())
      client.set_ca_cert_path(settings_.ca_file.c_str());
    client.enable_server_certificate_verification(settings_.tls_verify);
  }
  client.set_compress(settings_.gzip);
  httplib::Headers headers;
  for (const auto& [k, v] : settings_.headers)
    headers.emplace(k, v);
  if (!token_.empty())
    headers.emplace("Authorization", "Bearer " + token_);
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = settings_.retry_initial;
  unsigned failures = 0;
  const std::string type =
      settings_.encoding == "json" ? "application/json" : "application/x-ndjson";

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
    // Batch: full, or its first finding has waited batch_delay (or we are draining).
    const auto age = std::chrono::steady_clock::now() - first_pending_;
    if (!draining && pending < settings_.batch_max && age < settings_.batch_delay) {
      wake_.wait_for(lock, settings_.batch_delay - age);
      continue;
    }
    lock.unlock();
    const auto batch = spool_->peek(settings_.batch_max, settings_.batch_bytes);
    std::string body;
    if (settings_.encoding == "json") {
      body = "[";
      for (std::size_t i = 0; i < batch.size(); ++i)
        body += (i ? "," : "") + batch[i];
      body += "]";
    } else {
      for (const auto& r : batch)
        body += r + "\n";
    }
    auto res = client.Post(path, headers, body, type);
    std::optional<std::chrono::milliseconds> wait;
    std::string error;
    if (res && res->status >= 200 && res->status < 300) {
      spool_->ack(batch.size());
      out_.delivered += static_cast<std::int64_t>(batch.size());
      out_.last_success = unix_seconds();
      out_.failing = false;
      out_.breaker_open = false;
      failures = 0;
      backoff = settings_.retry_initial;
      lock.lock();
      first_pending_ = std::chrono::steady_clock::now();
      continue;
    }
    if (res && res->status >= 400 && res->status < 500 && res->status != 408 &&
        res->status != 429) {
      // The collector says this batch is wrong: sending it again would not help.
      {
        std::lock_guard e(error_mutex_);
        rejected_error_ = std::to_string(res->status) + " " + res->body.substr(0, 200);
      }
      spool_->ack(batch.size());
      out_.rejected += static_cast<std::int64_t>(batch.size());
      lock.lock();
      continue;
    }
    error = res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
    if (res)
      wait = retry_after(*res);
    {
      std::lock_guard e(error_mutex_);
      last_error_ = error;
    }
    out_.failed += 1;
    out_.retries += 1;
    out_.failing = true;
    ++failures;
    std::chrono::milliseconds delay;
    if (failures >= settings_.breaker_failures) {
      out_.breaker_open = true;
      delay = settings_.breaker_cooldown; // then one request probes the circuit
    } else {
      // Exponential with full jitter: somewhere in [backoff / 2, backoff].
      const auto half = backoff.count() / 2;
      delay = std::chrono::milliseconds(
          half + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(half + 1)));
      backoff = std::min(backoff * 2, settings_.retry_max);
    }
    if (wait)
      delay = std::max(delay, std::min(*wait, settings_.retry_max));
    lock.lock();
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
      if (stopping_ && std::chrono::steady_clock::now() >= drain_until_)
        return;
      wake_.wait_until(lock, std::min(until, stopping_ ? drain_until_ : until));
    }
  }
}

} // namespace pg::actors::sink
