// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/jsonl_sink.hpp"

#include <algorithm>
#include <system_error>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "sink_options.hpp"

namespace pg::actors::sink {

using namespace pg::runtime;

namespace {

// Lines are written in chunks of at least this size unless the flush policy asks earlier.
constexpr std::size_t write_buffer_bytes = 64 * 1024;

// A non-finding event as one JSON object (include_events = true).
nlohmann::json event_json(const event& e) {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& f : e.fields) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>)
            fields[f.key] = nullptr;
          else
            fields[f.key] = v;
        },
        f.value);
  }
  return {{"kind", e.kind},
          {"time", format_rfc3339(e.time)},
          {"source", e.source},
          {"fields", std::move(fields)}};
}

} // namespace

std::vector<option_spec> jsonl_sink::options() {
  std::vector<option_spec> o;
  auto path = opt("path", option_type::string, "", "the file to append to (created if missing)");
  path.required = true;
  o.push_back(std::move(path));
  o.push_back(
      opt("append", option_type::boolean, "true", "false truncates the file when the sink starts"));
  auto max_size = opt("max_size", option_type::size, "0",
                      "rotate before the file would exceed this size; 0 never rotates");
  max_size.min = 0;
  o.push_back(std::move(max_size));
  auto max_files = opt("max_files", option_type::integer, "5",
                       "rotated files kept (path.1 newest ... path.N oldest)");
  max_files.min = 0;
  max_files.max = 1000;
  o.push_back(std::move(max_files));
  auto flush = opt("flush", option_type::string, "interval",
                   "event: after every event; count: every flush_count events; interval: when "
                   "flush_interval has passed (checked on each batch and tick) and at stop");
  flush.choices = {"event", "count", "interval"};
  o.push_back(std::move(flush));
  auto flush_count = opt("flush_count", option_type::integer, "100", "events per flush (count)");
  flush_count.min = 1;
  flush_count.max = 1e6;
  o.push_back(std::move(flush_count));
  auto flush_interval =
      opt("flush_interval", option_type::duration, "1s", "time between flushes (interval)");
  flush_interval.min = 0.001;
  o.push_back(std::move(flush_interval));
  auto min_sev = opt("min_severity", option_type::string, "info",
                     "findings below this severity are not written");
  min_sev.choices = {"info", "low", "medium", "high", "critical"};
  o.push_back(std::move(min_sev));
  o.push_back(opt("format", option_type::string, "native",
                  "native: PhantomGuard's JSON; ecs: Elastic Common Schema; ocsf: OCSF Detection "
                  "Finding",
                  {"native", "ecs", "ocsf"}));
  o.push_back(opt("fsync", option_type::string, "interval",
                  "always: every write is on disk before the next batch; interval: once a second; "
                  "never: the kernel decides",
                  {"always", "interval", "never"}));
  o.push_back(opt("include_events", option_type::boolean, "false",
                  "also write events that are not findings (kind, time, source, fields)"));
  auto max_pending = opt("max_pending", option_type::size, "16MiB",
                         "unwritten lines kept while the file cannot be written; beyond it the "
                         "oldest are dropped and counted");
  max_pending.min = 1024;
  o.push_back(std::move(max_pending));
  return o;
}

jsonl_sink::jsonl_sink(std::string name, const component_settings& s) : name_(std::move(name)) {
  const auto max_files = s.get_int("max_files", 5);
  file_ = rotating_file(s.get_string("path"), s.get_bool("append", true), s.get_size("max_size", 0),
                        static_cast<std::uint32_t>(std::clamp<std::int64_t>(max_files, 0, 1000)));
  min_severity_ = parse_severity(s.get_string("min_severity", "info")).value_or(severity::info);
  include_events_ = s.get_bool("include_events", false);
  schema_ = parse_finding_schema(s.get_string("format", "native")).value_or(finding_schema::native);
  const auto fs = s.get_string("fsync", "interval");
  fsync_ = fs == "always"  ? fsync_policy::always
           : fs == "never" ? fsync_policy::never
                           : fsync_policy::interval;
  const auto policy = s.get_string("flush", "interval");
  policy_ = policy == "event"   ? flush_policy::event
            : policy == "count" ? flush_policy::count
                                : flush_policy::interval;
  flush_count_ =
      static_cast<std::uint64_t>(std::max<std::int64_t>(1, s.get_int("flush_count", 100)));
  flush_interval_ = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      s.get_duration("flush_interval", std::chrono::seconds(1)));
  max_pending_ = s.get_size("max_pending", 16u << 20);
}

void jsonl_sink::report_failure(int err, std::string_view operation, context& ctx) {
  ctx.count("write_errors");
  ctx.count("failed");
  if (failing_)
    return; // one finding per episode; the counter tells how often it kept failing
  failing_ = true;
  const auto text = error_text(err);
  finding f;
  f.rule = "engine.sink_write_failed";
  f.level = severity::high;
  f.title = "sink '" + name_ + "' cannot " + std::string(operation) + " " + file_.path() + ": " +
            text + " (findings are kept in memory and written when it works again)";
  f.entity = {{"component", name_}, {"path", file_.path()}};
  f.evidence = {{"errno", err},
                {"error", text},
                {"operation", operation},
                {"pending_bytes", pending_.size()}};
  ctx.emit_finding(std::move(f));
  ctx.log(log_level::error, "jsonl sink '" + name_ + "': cannot " + std::string(operation) + " " +
                                file_.path() + ": " + text);
}

void jsonl_sink::flush(context& ctx) {
  last_flush_ = std::chrono::steady_clock::now();
  pending_lines_ = 0;
  if (pending_.empty())
    return;
  if (!file_.is_open()) {
    if (int err = file_.open()) {
      report_failure(err, "open", ctx);
      return;
    }
  }
  std::size_t written = 0;
  const int err = file_.write(pending_, written);
  // Whole lines written count as delivered; a partial line is kept and retried.
  const auto lines =
      std::count(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(written), '\n');
  pending_.erase(0, written); // keep what did not make it, to retry
  if (written > 0)
    ctx.count("bytes_written", static_cast<std::int64_t>(written));
  if (lines > 0) {
    ctx.count("delivered", lines);
    ctx.gauge("last_success_time", runtime::unix_seconds());
  }
  const auto now = std::chrono::steady_clock::now();
  if (written > 0 &&
      (fsync_ == fsync_policy::always ||
       (fsync_ == fsync_policy::interval && now - last_sync_ >= std::chrono::seconds(1)))) {
    last_sync_ = now;
    if (int e = file_.sync())
      ctx.log(log_level::warn,
              "jsonl sink '" + name_ + "': fsync " + file_.path() + ": " + error_text(e));
    else
      ctx.count("fsyncs");
  }
  if (err) {
    report_failure(err, "write", ctx);
    return;
  }
  if (failing_) {
    failing_ = false;
    finding f;
    f.rule = "engine.sink_write_recovered";
    f.level = severity::info;
    f.title = "sink '" + name_ + "' writes " + file_.path() + " again";
    f.entity = {{"component", name_}, {"path", file_.path()}};
    ctx.emit_finding(std::move(f));
  }
}

void jsonl_sink::append(std::string line, context& ctx) {
  line += '\n';
  if (file_.needs_rotation(pending_.size(), line.size())) {
    flush(ctx);
    if (pending_.empty()) {
      if (int err = file_.rotate())
        report_failure(err, "rotate", ctx);
      else
        ctx.count("rotations");
    }
  }
  pending_ += line;
  ++pending_lines_;
  ctx.count("lines");
  switch (policy_) {
  case flush_policy::event:
    flush(ctx);
    break;
  case flush_policy::count:
    if (pending_lines_ >= flush_count_)
      flush(ctx);
    break;
  case flush_policy::interval:
    break;
  }
  // The policy says how late a line may reach the file at most; a full write buffer goes out
  // earlier, so memory stays small whatever the policy (while the file is writable).
  if (!failing_ && pending_.size() >= write_buffer_bytes)
    flush(ctx);
  // Bounded memory while the file cannot be written: drop the oldest whole lines, down to 3/4 of
  // the bound so that the front of the buffer is not moved for every new line.
  if (pending_.size() > max_pending_) {
    const std::size_t target = max_pending_ / 4 * 3;
    std::size_t cut = 0;
    std::int64_t dropped = 0;
    while (pending_.size() - cut > target) {
      const auto nl = pending_.find('\n', cut);
      if (nl == std::string::npos)
        break;
      cut = nl + 1;
      ++dropped;
    }
    pending_.erase(0, cut);
    ctx.lost("dropped_lines", dropped);
  }
}

void jsonl_sink::start(context& ctx) {
  last_flush_ = std::chrono::steady_clock::now();
  ctx.count("delivered", 0); // exported from the start, so a rate works before the first line
  ctx.count("failed", 0);
  // Another user must not be able to put a link or a file of theirs where we write.
  const auto dir = std::filesystem::path(file_.path()).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    // /var/log/phantomguard on a fresh install: made ours (0750); if that fails, the open
    // below fails and is reported like any unwritable file.
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec))
      ::chmod(dir.c_str(), 0750);
  }
  struct stat d {};
  if (::stat(dir.empty() ? "." : dir.c_str(), &d) == 0 && (d.st_mode & S_IWOTH) != 0) {
    if ((d.st_mode & S_ISVTX) == 0)
      throw std::runtime_error("jsonl sink '" + name_ + "': " + dir.string() +
                               " is writable by everyone (and not sticky): anyone could replace " +
                               file_.path() + "; pick a folder only we can write");
    struct stat f {};
    if (::lstat(file_.path().c_str(), &f) == 0 && (S_ISLNK(f.st_mode) || f.st_uid != ::geteuid()))
      throw std::runtime_error("jsonl sink '" + name_ + "': " + file_.path() +
                               " in the shared folder " + dir.string() + " is " +
                               (S_ISLNK(f.st_mode) ? "a symbolic link" : "owned by another user") +
                               ": refusing to write to it");
  }
  // A file that cannot be opened yet (missing folder, read-only mount) is not fatal: it is
  // reported and retried on every flush.
  if (int err = file_.open())
    report_failure(err, "open", ctx);
}

void jsonl_sink::on_tick(context& ctx) {
  if (!pending_.empty() && std::chrono::steady_clock::now() - last_flush_ >= flush_interval_)
    flush(ctx);
}

void jsonl_sink::on_batch(const event_batch& batch, context& ctx) {
  for (const auto& e : batch.events) {
    if (e.kind == "finding" && e.payload) {
      if (e.payload->level < min_severity_) {
        ctx.count("below_min_severity");
        continue;
      }
      // native is the finding's own JSON (as `scan --format jsonl` prints it, with its id).
      append(schema_ == finding_schema::native
                 ? e.payload->to_jsonl()
                 : dump_line(to_schema(*e.payload, schema_, finding_id(*e.payload))),
             ctx);
    } else if (include_events_) {
      append(event_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), ctx);
    } else {
      ctx.count("ignored");
    }
  }
  // Retry after a failure even when the policy would wait: the sooner the backlog drains the less
  // is at risk.
  if (failing_ || (policy_ == flush_policy::interval &&
                   std::chrono::steady_clock::now() - last_flush_ >= flush_interval_))
    flush(ctx);
}

void jsonl_sink::stop(context& ctx) {
  flush(ctx);
  if (!pending_.empty()) {
    const auto lost = std::count(pending_.begin(), pending_.end(), '\n');
    ctx.lost("dropped_lines", lost);
    ctx.log(log_level::error, "jsonl sink '" + name_ + "': " + std::to_string(lost) +
                                  " lines could not be written to " + file_.path() +
                                  " before stop");
    pending_.clear();
  }
}

} // namespace pg::actors::sink
