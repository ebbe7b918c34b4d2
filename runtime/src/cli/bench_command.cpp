// SPDX-License-Identifier: Apache-2.0
// `phantomguard bench COMPONENT`: times one component's tick or batch handler in this process,
// on this host, outside the engine — no actors, mailboxes, quotas or throttle between the
// handler and the clock — and says what one call costs: time, CPU, memory, I/O, output.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"
#include "cli/logging.hpp"
#include "cli/process_usage.hpp"
#include "engine/heap_accounts.hpp"
#include "phantomguard/runtime/json_fields.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/suggestion.hpp"
#include "phantomguard/runtime/temp_space.hpp"

namespace pg::cli {

using namespace pg::runtime;
namespace heap = pg::runtime::detail::heap;

namespace {

// Threads the component starts are charged to its heap account, as the engine's are.
class bench_threads final : public component_threads {
public:
  explicit bench_threads(heap::account_id account) : account_(account) {}
  std::thread start(std::function<void()> body) override {
    return std::thread([account = account_, body = std::move(body)] {
      heap::set_thread_account(account);
      body();
      heap::set_thread_account(0);
    });
  }
  bool pace() override { return true; }

private:
  heap::account_id account_;
};

// The context a benched component (and each upstream component that feeds it) runs in: it
// keeps what the component emits, findings as the engine carries them (a "finding" event).
class bench_context final : public context {
public:
  bench_context(std::string name, std::string host, heap::account_id account)
      : name_(std::move(name)), host_(std::move(host)), threads_(account) {}

  const std::string& name() const noexcept override { return name_; }
  const std::string& host() const noexcept override { return host_; }
  wall_clock::time_point now() const noexcept override { return wall_clock::now(); }
  void emit(event e) override {
    ++events_out;
    if (keep_events)
      events.push_back(std::move(e));
  }
  void emit_finding(finding f) override {
    if (f.time == wall_clock::time_point{})
      f.time = now();
    if (f.host.empty())
      f.host = host_;
    if (f.analyzer.empty())
      f.analyzer = name_;
    ++findings;
    emit(make_finding_event(std::move(f), name_));
  }
  void count(std::string_view n, std::int64_t delta) override { counters[std::string(n)] += delta; }
  void gauge(std::string_view, double) override {}
  void lost(std::string_view cause, std::int64_t n) override { losses[std::string(cause)] += n; }
  void log(log_level level, std::string_view message) override {
    if (level < log_level::warn)
      return;
    ++warnings;
    if (first_warnings.size() < 5)
      first_warnings.emplace_back(message);
  }
  bool should_stop() const noexcept override { return false; }
  std::pmr::memory_resource* memory() noexcept override { return std::pmr::get_default_resource(); }
  void account_memory(std::int64_t delta) override { accounted += delta; }
  void charge_cpu(std::int64_t ns) override { charged_cpu_ns += ns; }
  void charge_io(const io_counters& delta) override { charged_io += delta; }
  component_threads& threads() noexcept override { return threads_; }

  bool keep_events = true;
  std::vector<event> events;
  std::int64_t events_out = 0;
  std::int64_t findings = 0;
  std::map<std::string, std::int64_t> counters;
  std::map<std::string, std::int64_t> losses;
  std::int64_t warnings = 0;               // what it logged at warn or above
  std::vector<std::string> first_warnings; // the first five of them
  std::int64_t accounted = 0;
  std::int64_t charged_cpu_ns = 0;
  io_counters charged_io; // an isolated plugin's child's I/O

private:
  std::string name_;
  std::string host_;
  bench_threads threads_;
};

// A component collects its own input on a tick when it is a source or has no inputs (fim, the
// rootkit checks); otherwise its handler is on_batch.
bool ticks(const component_decl& d) {
  return d.kind == component_kind::source || (d.kind != component_kind::sink && d.inputs.empty());
}

struct instance {
  std::unique_ptr<component> c;
  std::unique_ptr<bench_context> ctx;
};

instance make_instance(const pipeline_config& cfg, const component_decl& d,
                       const std::string& state_dir, heap::account_id account) {
  const auto* type = registry::instance().find(d.kind, d.type);
  if (!type || !type->factory)
    throw std::runtime_error("no component type '" + d.type + "'");
  component_init init{d.name,
                      d.settings,
                      state_dir,
                      d.quota,
                      false,
                      temp_dir_of(cfg.engine),
                      cfg.engine.temp_max_size};
  instance in;
  in.ctx = std::make_unique<bench_context>(d.name, host_of(cfg), account);
  in.c = type->factory(init);
  if (!in.c)
    throw std::runtime_error("the factory of '" + d.name + "' returned no component");
  return in;
}

// What `d`'s inputs give it in one pass: each input runs once, in this process (a source or a
// self-collecting analyzer ticks; an analyzer fed by others gets their pass in turn).
std::vector<event> gather_input(const pipeline_config& cfg, const component_decl& d,
                                const std::string& state_dir, int depth) {
  if (depth > 16)
    throw std::runtime_error("the inputs of '" + d.name + "' nest more than 16 deep");
  std::vector<event> out;
  for (const auto& name : d.inputs) {
    const auto* up = cfg.find(name);
    if (!up || !up->enabled)
      continue;
    auto in = make_instance(cfg, *up, state_dir, 0);
    in.c->start(*in.ctx);
    if (ticks(*up)) {
      in.c->on_tick(*in.ctx);
    } else {
      auto batch = make_batch(gather_input(cfg, *up, state_dir, depth + 1));
      in.c->on_batch(*batch, *in.ctx);
    }
    in.c->stop(*in.ctx);
    for (auto& e : in.ctx->events)
      out.push_back(std::move(e));
  }
  return out;
}

// One line of --input: {"kind": "process", "source": "procfs", "pid": 42, "comm": "sh", ...}.
std::optional<event> parse_event_line(const std::string& line, std::string& why) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    why = std::string("not JSON: ") + e.what();
    return std::nullopt;
  }
  if (!j.is_object()) {
    why = "an event is a JSON object";
    return std::nullopt;
  }
  auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string() || kind->get<std::string>().empty()) {
    why = "an event needs \"kind\", a non-empty string";
    return std::nullopt;
  }
  event e;
  e.kind = kind->get<std::string>();
  e.time = wall_clock::now();
  for (const auto& [key, value] : j.items()) {
    if (key == "kind")
      continue;
    if (key == "source") {
      if (!value.is_string()) {
        why = "\"source\" is a string";
        return std::nullopt;
      }
      e.source = value.get<std::string>();
      continue;
    }
    if (value.is_boolean()) {
      e.set(key, value.get<bool>());
    } else if (value.is_number_integer()) {
      auto v = integer_value<std::int64_t>(value);
      if (!v) {
        why = "field \"" + key + "\" does not fit a 64-bit integer";
        return std::nullopt;
      }
      e.set(key, *v);
    } else if (value.is_number()) {
      e.set(key, value.get<double>());
    } else if (value.is_string()) {
      e.set(key, value.get<std::string>());
    } else {
      why = "field \"" + key + "\" is " + std::string(value.type_name()) +
            ": an event field is a boolean, a number or a string";
      return std::nullopt;
    }
  }
  return e;
}

std::optional<std::vector<event>> read_input_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "phantomguard bench: cannot read --input " << path << ": " << std::strerror(errno)
              << '\n';
    return std::nullopt;
  }
  std::vector<event> events;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string why;
    auto e = parse_event_line(line, why);
    if (!e) {
      std::cerr << "phantomguard bench: " << path << ":" << number << ": " << why << '\n';
      return std::nullopt;
    }
    events.push_back(std::move(*e));
  }
  if (in.bad()) {
    std::cerr << "phantomguard bench: reading --input " << path << " failed\n";
    return std::nullopt;
  }
  if (events.empty()) {
    std::cerr << "phantomguard bench: --input " << path << " holds no event (one JSON object a "
              << "line, each with a \"kind\")\n";
    return std::nullopt;
  }
  return events;
}

struct sample {
  double wall_ms = 0;
  double cpu_ms = 0;
  double user_ms = 0;
  io_counters io;
  std::int64_t events = 0;
  std::int64_t findings = 0;
  std::int64_t heap_bytes = 0;
};

// A temporary state dir the component may fill (a baseline, a cache), in the engine's temp
// folder, and that goes away after (or at the next start of anything, if this one is killed).
class scratch_dir {
public:
  explicit scratch_dir(const std::string& temp_dir) {
    std::string error;
    auto made = make_temp_folder(temp_dir, "bench", &error);
    if (!made)
      throw std::runtime_error(error);
    path_ = *made;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

private:
  std::string path_;
};

// The process's CPU time by the scheduler's own accounting (nanoseconds, all threads).
std::int64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string ms_text(double ms) {
  char buf[32];
  if (ms < 1)
    std::snprintf(buf, sizeof buf, "%.1f us", ms * 1000);
  else if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  else
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  return buf;
}

} // namespace

int bench_command(const global_options& global, const bench_arguments& args) {
  if (args.iterations == 0) {
    std::cerr << "phantomguard bench: --iterations must be 1 or more\n";
    return 2;
  }
  auto loaded = build_pipeline(global.config_path, global);
  if (!loaded.ok()) {
    if (!loaded.errors.empty())
      print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return 2;
  }
  const auto& cfg = *loaded.config;
  configure_logging(global.log_level.value_or("warn"), cfg.engine.log_fmt);
  const auto* decl = cfg.find(args.component);
  if (!decl) {
    std::vector<std::string> known;
    std::string list;
    for (const auto& d : cfg.components) {
      known.push_back(d.name);
      list += (list.empty() ? "" : ", ") + d.name;
    }
    const auto guess = closest_match(args.component, known);
    std::cerr << "phantomguard bench: the config declares no component '" << args.component << "'"
              << (guess.empty() ? std::string() : "; did you mean '" + guess + "'?")
              << " (declared: " << (list.empty() ? "none" : list) << ")\n";
    return 2;
  }
  if (!decl->enabled) {
    std::cerr << "phantomguard bench: '" << decl->name
              << "' is disabled in the config (enabled = false); enable it to bench it\n";
    return 2;
  }
  const bool tick = ticks(*decl);
  if (tick && !args.input.empty()) {
    std::cerr << "phantomguard bench: '" << decl->name << "' collects its own input (on_tick); "
              << "--input is for a component fed by others (on_batch)\n";
    return 2;
  }

  std::optional<scratch_dir> scratch;
  std::string state_dir = args.state_dir;
  try {
    if (state_dir.empty()) {
      const auto temp = temp_dir_of(cfg.engine);
      if (auto cleaned = prepare_temp_dir(temp); !cleaned.error.empty())
        throw std::runtime_error("temp_dir unusable: " + cleaned.error);
      scratch.emplace(temp);
      state_dir = scratch->path();
    }
  } catch (const std::exception& e) {
    std::cerr << "phantomguard bench: " << e.what() << '\n';
    return 2;
  }

  batch_ptr input;
  std::string input_origin;
  if (!tick) {
    if (!args.input.empty()) {
      auto events = read_input_file(args.input);
      if (!events)
        return 2;
      input = make_batch(std::move(*events));
      input_origin = args.input;
    } else {
      try {
        input = make_batch(gather_input(cfg, *decl, state_dir, 0));
      } catch (const std::exception& e) {
        std::cerr << "phantomguard bench: collecting the input of '" << decl->name
                  << "' from its inputs failed: " << e.what() << '\n';
        return 1;
      }
      std::string names;
      for (const auto& n : decl->inputs)
        names += (names.empty() ? "" : ", ") + n;
      input_origin = "one pass of " + names;
      if (input->empty()) {
        std::cerr << "phantomguard bench: one pass of the inputs of '" << decl->name << "' ("
                  << names << ") gave no event to time on_batch with; give one with --input\n";
        return 2;
      }
    }
  }

  const heap::account_id account = heap::open();
  const heap::account_id previous = heap::set_thread_account(account);
  struct restore_account {
    heap::account_id id, previous;
    ~restore_account() {
      heap::set_thread_account(previous);
      heap::close(id);
    }
  } restore{account, previous};

  // What reading /proc/self/io adds to rchar by itself (the file's own length).
  std::uint64_t io_overhead = 0;
  if (auto a = io_of_process())
    if (auto b = io_of_process())
      io_overhead = b->read_chars - std::min(b->read_chars, a->read_chars);
  const bool peak_reset = reset_peak_rss();
  const std::uint64_t rss_before = read_process_usage().rss_bytes;
  std::vector<sample> samples;
  std::string failure;
  instance in;
  try {
    in = make_instance(cfg, *decl, state_dir, account);
    in.ctx->keep_events = false; // counted, not kept: the output of N calls would be memory too
    in.c->start(*in.ctx);
    const std::size_t total = args.warmup + args.iterations;
    for (std::size_t i = 0; i < total; ++i) {
      const auto events0 = in.ctx->events_out;
      const auto findings0 = in.ctx->findings;
      const auto charged0 = in.ctx->charged_cpu_ns;
      const auto charged_io0 = in.ctx->charged_io;
      // The readings nest around the call, the cheapest innermost: the clocks see only the
      // call, and the one read of /proc/self/io that lands inside is taken off (io_overhead).
      const auto u0 = read_process_usage();
      const auto io0 = io_of_process();
      const auto t0 = std::chrono::steady_clock::now();
      const auto cpu0 = process_cpu_ns();
      if (tick)
        in.c->on_tick(*in.ctx);
      else
        in.c->on_batch(*input, *in.ctx);
      const auto cpu1 = process_cpu_ns();
      const auto t1 = std::chrono::steady_clock::now();
      const auto io1 = io_of_process();
      const auto u1 = read_process_usage();
      if (i < args.warmup)
        continue;
      sample s;
      s.wall_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
      s.cpu_ms = static_cast<double>(cpu1 - cpu0 + (in.ctx->charged_cpu_ns - charged0)) / 1e6;
      s.user_ms = static_cast<double>(u1.user_ns - u0.user_ns) / 1e6;
      if (io0 && io1)
        s.io = io1->since(*io0);
      s.io.read_chars -= std::min(s.io.read_chars, io_overhead);
      s.io += in.ctx->charged_io.since(charged_io0);
      s.events = in.ctx->events_out - events0;
      s.findings = in.ctx->findings - findings0;
      s.heap_bytes = heap::bytes(account) + in.ctx->accounted;
      samples.push_back(s);
    }
    in.c->stop(*in.ctx);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  const std::uint64_t peak = peak_rss_bytes();
  in.c.reset();
  if (!failure.empty()) {
    std::cerr << "phantomguard bench: '" << decl->name << "' failed after " << samples.size()
              << " timed call(s): " << failure << '\n';
    return 1;
  }

  std::vector<double> wall;
  double wall_sum = 0, cpu_sum = 0, user_sum = 0;
  io_counters io;
  std::int64_t heap_max = 0, events = 0, findings = 0;
  for (const auto& s : samples) {
    wall.push_back(s.wall_ms);
    wall_sum += s.wall_ms;
    cpu_sum += s.cpu_ms;
    user_sum += s.user_ms;
    io += s.io;
    heap_max = std::max(heap_max, s.heap_bytes);
    events += s.events;
    findings += s.findings;
  }
  const double n = static_cast<double>(samples.size());
  const double cpu_percent = wall_sum > 0 ? cpu_sum / wall_sum * 100 : 0;
  // getrusage splits user and system time by the scheduler's ticks: over short calls the split
  // is coarse, never more than the precise total.
  const double user_percent = wall_sum > 0 ? std::min(cpu_percent, user_sum / wall_sum * 100) : 0;
  const bool io_known = read_process_usage().io_known;
  const auto per = [n](std::uint64_t v) { return static_cast<double>(v) / n; };

  if (args.json) {
    nlohmann::json j;
    j["component"] = decl->name;
    j["type"] = decl->type;
    j["kind"] = std::string(to_string(decl->kind));
    j["handler"] = tick ? "on_tick" : "on_batch";
    j["iterations"] = samples.size();
    j["warmup"] = args.warmup;
    j["input_events"] = input ? input->size() : 0;
    j["input"] = input_origin;
    j["time_ms"] = {{"min", nearest_rank(wall, 0)},
                    {"median", nearest_rank(wall, 0.5)},
                    {"p95", nearest_rank(wall, 0.95)},
                    {"max", nearest_rank(wall, 1)},
                    {"mean", wall_sum / n}};
    j["cpu"] = {{"percent", cpu_percent},
                {"user_percent", user_percent},
                {"ms_per_iteration", cpu_sum / n}};
    j["memory"] = {{"rss_before_bytes", rss_before},
                   {"peak_rss_bytes", peak},
                   {"peak_counts_from", peak_reset ? "component start" : "process start"},
                   {"heap_held_max_bytes", heap_max}};
    if (io_known)
      j["io_per_iteration"] = {{"read_bytes", per(io.read_chars)},
                               {"write_bytes", per(io.write_chars)},
                               {"storage_read_bytes", per(io.storage_read)},
                               {"storage_write_bytes", per(io.storage_write)}};
    else
      j["io_per_iteration"] = nullptr;
    j["events_out_per_iteration"] = static_cast<double>(events) / n;
    j["findings_per_iteration"] = static_cast<double>(findings) / n;
    j["state_dir"] = scratch ? "temporary" : state_dir;
    j["warnings"] = in.ctx->warnings;
    j["first_warnings"] = in.ctx->first_warnings;
    j["lost"] = in.ctx->losses;
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  auto& out = std::cout;
  out << "phantomguard bench " << decl->name << ": " << to_string(decl->kind) << " of type "
      << decl->type << ", " << (tick ? "on_tick" : "on_batch") << ", " << samples.size()
      << (samples.size() == 1 ? " iteration" : " iterations") << " after " << args.warmup
      << " warm-up\n";
  if (input)
    out << "  input     " << input->size() << " events (" << input_origin << ")\n";
  out << "  time      min " << ms_text(nearest_rank(wall, 0)) << "   median "
      << ms_text(nearest_rank(wall, 0.5)) << "   p95 " << ms_text(nearest_rank(wall, 0.95))
      << "   max " << ms_text(nearest_rank(wall, 1)) << '\n';
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.1f%% of one core (user %.1f%%, system %.1f%%), %s", cpu_percent,
                user_percent, cpu_percent - user_percent, ms_text(cpu_sum / n).c_str());
  out << "  cpu       " << buf << " per iteration\n";
  out << "  memory    peak RSS " << human_bytes(static_cast<double>(peak)) << " ("
      << human_bytes(static_cast<double>(rss_before)) << " before the component started"
      << (peak_reset ? "" : "; the peak counts from the process's start") << "), heap it held "
      << human_bytes(static_cast<double>(heap_max)) << " at most\n";
  if (io_known)
    out << "  io        read " << human_bytes(per(io.read_chars)) << " (storage "
        << human_bytes(per(io.storage_read)) << "), written " << human_bytes(per(io.write_chars))
        << " per iteration\n";
  else
    out << "  io        not measured: this kernel has no task I/O accounting (/proc/self/io)\n";
  std::snprintf(buf, sizeof buf, "%.1f events and %.1f findings per iteration",
                static_cast<double>(events) / n, static_cast<double>(findings) / n);
  out << "  output    " << buf << '\n';
  // What the component said of itself while benched: a figure of a component that could not
  // do its work is not a figure of its work.
  for (const auto& [cause, count] : in.ctx->losses)
    out << "  lost      " << count << " event(s): " << cause << '\n';
  if (in.ctx->warnings > 0) {
    out << "  warnings  " << in.ctx->warnings << " (the figures may not be of its normal work)\n";
    for (const auto& w : in.ctx->first_warnings)
      out << "            " << w << '\n';
  }
  return 0;
}

} // namespace pg::cli
