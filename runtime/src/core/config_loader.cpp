// SPDX-License-Identifier: Apache-2.0
// config_loader.cpp — TOML text → pipeline_config, checking everything an operator can get wrong
// before anything starts. Every problem is collected (never stop at the first) and reported as
// FILE:LINE:COL: message, sorted by position so the output reads top to bottom like the file.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <toml++/toml.h>

#include "phantomguard/runtime/alert.hpp"
#include "phantomguard/runtime/build_families.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/cron.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/suggestion.hpp"
#include "phantomguard/runtime/suppression.hpp"

namespace pg::runtime {

// The profiles compiled in (runtime/CMakeLists.txt embeds config/profiles/*.toml).
std::string_view low_resource_profile_text() noexcept;
std::string_view desktop_profile_text() noexcept;
std::string_view server_profile_text() noexcept;

namespace {

// ---------------------------------------------------------------------------------------------
// Suggestions

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto c = closest_match(word, candidates);
  return c.empty() ? std::string() : "; did you mean '" + c + "'?";
}

std::string join_quoted(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty())
      out += ", ";
    out += '\'' + s + '\'';
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty())
      out += sep;
    out += s;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Value descriptions for messages

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  default:
    return "nothing";
  }
}

const char* expected_text(option_type t) {
  switch (t) {
  case option_type::string:
    return "a string";
  case option_type::integer:
    return "an integer";
  case option_type::floating:
    return "a number";
  case option_type::boolean:
    return "a boolean (true or false)";
  case option_type::duration:
    return "a duration string such as \"10s\"";
  case option_type::size:
    return "a size such as \"64MiB\" or a number of bytes";
  case option_type::string_list:
    return "a list of strings";
  case option_type::table:
    return "a table or an array of tables";
  case option_type::cpu_list:
    return "a list of CPU numbers such as [0, 1] or \"0-3,6\"";
  }
  return "?";
}

/// `[0, 2]` or `"0-3,6"` as CPU numbers; nullopt with `*problem` ("must be ...", "names CPU 9,
/// but ...") when it is neither, or names a CPU this host does not have.
std::optional<std::vector<unsigned>> cpu_list_of(const toml::node& v, std::string* problem) {
  std::optional<std::vector<unsigned>> cpus;
  if (const auto* s = v.as_string()) {
    cpus = parse_cpu_list(s->get());
  } else if (const auto* a = v.as_array(); a && !a->empty()) {
    std::string text;
    bool ok = true;
    for (const auto& e : *a) {
      const auto n = e.value<std::int64_t>();
      ok = ok && e.is_integer() && n && *n >= 0 && *n <= 1023;
      if (ok)
        text += (text.empty() ? "" : ",") + std::to_string(*n);
    }
    if (ok)
      cpus = parse_cpu_list(text);
  }
  if (!cpus) {
    *problem = std::string("must be ") + expected_text(option_type::cpu_list);
    return std::nullopt;
  }
  const long online = ::sysconf(_SC_NPROCESSORS_CONF);
  for (unsigned c : *cpus)
    if (online > 0 && c >= static_cast<unsigned long>(online)) {
      *problem = "names CPU " + std::to_string(c) + ", but this host has CPUs 0-" +
                 std::to_string(online - 1);
      return std::nullopt;
    }
  return cpus;
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string format_limit(option_type t, double v) {
  if (t == option_type::duration) {
    if (v == 0)
      return "0s";
    return format_duration(duration(static_cast<std::int64_t>(std::llround(v * 1e9))));
  }
  if (t == option_type::size)
    return format_size(static_cast<std::uint64_t>(v));
  return format_number(v);
}

// ---------------------------------------------------------------------------------------------
// Specs of the runtime's own keys, checked by the same code as component options.

option_spec spec(std::string key, option_type type, std::string def, std::string desc,
                 std::optional<double> min = {}, std::optional<double> max = {},
                 std::vector<std::string> choices = {}) {
  option_spec s;
  s.key = std::move(key);
  s.type = type;
  s.default_text = std::move(def);
  s.description = std::move(desc);
  s.min = min;
  s.max = max;
  s.choices = std::move(choices);
  return s;
}

const std::vector<option_spec>& quota_specs() {
  static const std::vector<option_spec> s = {
      spec("cpu_percent", option_type::floating, "", "CPU time limit in percent of one core", 0.1,
           10000.0),
      spec("memory_mb", option_type::integer, "", "accounted memory limit in MiB", 1.0, 1048576.0),
      spec("events_per_second", option_type::floating, "", "event rate limit", 0.001, 1e9),
      spec("handler_timeout", option_type::duration, "", "longest a handler may run", 0.001),
      spec("grace", option_type::duration, "5s", "no enforcement during start-up", 0.0),
      spec("window", option_type::duration, "5s", "sliding window for sustained excess", 0.1),
  };
  return s;
}

const std::vector<option_spec>& mailbox_specs() {
  static const std::vector<option_spec> s = {
      spec("window", option_type::integer, "1024", "events in flight per input edge", 1.0, 1e8),
      spec("window_bytes", option_type::size, "8MiB", "bytes in flight per input edge", 1.0),
      spec("overflow", option_type::string, "block", "policy when the window is full", {}, {},
           {"block", "drop_oldest", "drop_newest", "sample"}),
      spec("sample_every", option_type::integer, "10", "sample: keep 1 in N", 1.0, 1e6),
  };
  return s;
}

const std::vector<option_spec>& restart_specs() {
  static const std::vector<option_spec> s = {
      spec("type", option_type::string, "permanent", "when to restart", {}, {},
           {"permanent", "transient", "temporary"}),
      spec("max_restarts", option_type::integer, "5", "restarts allowed within period", 0.0, 1e6),
      spec("period", option_type::duration, "60s", "intensity period", 0.001),
      spec("backoff", option_type::duration, "100ms", "first restart delay", 0.0),
      spec("max_backoff", option_type::duration, "30s", "longest restart delay", 0.0),
      spec("healthy_after", option_type::duration, "60s", "backoff resets after", 0.0),
      spec("shutdown_timeout", option_type::duration, "5s", "graceful stop deadline", 0.0),
  };
  return s;
}

const std::vector<option_spec>& engine_specs() {
  static const std::vector<option_spec> s = {
      spec("profile", option_type::string, "",
           "the profile this file stands on: low-resource, desktop, server, auto or a file"),
      spec("host", option_type::string, "", "host name on findings (empty: gethostname)"),
      spec("log_level", option_type::string, "info", "log level", {}, {},
           {"trace", "debug", "info", "warn", "error", "critical", "off"}),
      spec("log_format", option_type::string, "text", "log format", {}, {}, {"text", "json"}),
      spec("state_dir", option_type::string, "/var/lib/phantomguard", "state directory"),
      spec("temp_dir", option_type::string, "",
           "scratch space, cleaned at start (empty: <state_dir>/tmp)"),
      spec("log_dir", option_type::string, "/var/log/phantomguard",
           "where a sink's relative `path` is written (the findings archive)"),
      spec("run_dir", option_type::string, "",
           "the control socket's folder, e.g. a tmpfs (empty: state_dir)"),
      spec("temp_max_size", option_type::size, "4GiB", "what the temp folder may hold", 1.0),
      spec("state_min_free", option_type::size, "8MiB",
           "state_dir or temp_dir with less room left is reported as full "
           "(engine.state_dir_unusable)",
           0.0),
      spec("strategy", option_type::string, "one_for_one", "supervision strategy", {}, {},
           {"one_for_one", "one_for_all", "rest_for_one"}),
      spec("max_restarts", option_type::integer, "10", "engine intensity", 0.0, 1e6),
      spec("restart_period", option_type::duration, "60s", "engine intensity period", 0.001),
      spec("shutdown_timeout", option_type::duration, "10s", "drain deadline", 0.0),
      spec("metrics_interval", option_type::duration, "0s", "periodic metrics log", 0.0),
      spec("heap_release_interval", option_type::duration, "60s",
           "give free heap pages back to the system this often in run (0s never)", 0.0),
      spec("loss_report_interval", option_type::duration, "60s",
           "engine.events_lost at most this often per component and cause", 0.01),
      spec("tick_interval", option_type::duration, "10s", "default source tick", 0.001),
      spec("worker_threads", option_type::integer, "2", "scheduler threads", 1.0, 256.0),
      spec("max_throughput", option_type::integer, "16", "messages per actor turn", 1.0, 1e6),
      spec("batch_size", option_type::integer, "256", "events per batch", 1.0, 1e6),
      spec("batch_delay", option_type::duration, "50ms", "partial batch flush delay", 0.0),
      spec("plugin_dir", option_type::string, "/usr/lib/phantomguard/plugins", "plugin folder"),
      spec("plugin_signature", option_type::string, "if_present",
           "whether plugins must be signed by a trusted key", {}, {},
           {"off", "if_present", "required"}),
      spec("plugin_trust_dir", option_type::string, "/etc/phantomguard/trusted-keys",
           "folder of trusted ed25519 public keys (*.pub)"),
      spec("quota", option_type::table, "", "engine-wide quota"),
      spec("nice", option_type::integer, "", "CPU nice level of the whole process", 0.0, 19.0),
      spec("io_class", option_type::string, "", "I/O priority class of the whole process", {}, {},
           {"none", "best-effort", "idle"}),
      spec("io_level", option_type::integer, "7", "best-effort I/O level, 0 (high) .. 7", 0.0, 7.0),
      spec("cpu_affinity", option_type::cpu_list, "",
           "the CPUs the whole process runs on: [0, 1] or \"0-3,6\""),
  };
  return s;
}

const std::vector<option_spec>& common_specs() {
  static const std::vector<option_spec> s = {
      spec("type", option_type::string, "", "component type"),
      spec("inputs", option_type::string_list, "[]", "names of upstream components"),
      spec("enabled", option_type::boolean, "true", "false keeps the declaration but skips it"),
      spec("interval", option_type::duration, "", "tick interval in run mode", 0.001),
      spec("schedule", option_type::string, "", "cron schedule in run mode"),
      spec("mailbox", option_type::table, "", "flow control of input edges"),
      spec("restart", option_type::table, "", "supervision"),
      spec("quota", option_type::table, "", "resource limits"),
      spec("supervisor", option_type::string, "root", "the [supervisors.NAME] it answers to"),
      spec("nice", option_type::integer, "", "CPU nice level of the component's threads", 0.0,
           19.0),
      spec("io_class", option_type::string, "", "I/O priority class of the component's threads", {},
           {}, {"none", "best-effort", "idle"}),
      spec("io_level", option_type::integer, "7", "best-effort I/O level, 0 (high) .. 7", 0.0, 7.0),
      spec("cpu_affinity", option_type::cpu_list, "",
           "the CPUs the component's threads run on: [0, 1] or \"0-3,6\""),
      spec("throttle", option_type::table, "", "adaptive pause: load, pressure, battery, window"),
  };
  return s;
}

const std::vector<option_spec>& throttle_specs() {
  static const std::vector<option_spec> s = {
      spec("max_load", option_type::floating, "", "pause above this many runnable tasks per core",
           0.01, 1000.0),
      spec("max_cpu_pressure", option_type::floating, "",
           "pause above this PSI cpu some avg10, percent", 0.0, 100.0),
      spec("max_memory_pressure", option_type::floating, "",
           "pause above this PSI memory some avg10, percent", 0.0, 100.0),
      spec("on_battery", option_type::string, "run", "pause while the host runs on battery", {}, {},
           {"run", "pause"}),
      spec("window", option_type::string, "", "work only inside this local time, \"01:00-05:00\""),
  };
  return s;
}

const std::vector<option_spec>& api_specs() {
  static const std::vector<option_spec> s = {
      spec("listen", option_type::string, "", "HOST:PORT of the HTTP API (empty: off)"),
      spec("token_file", option_type::string, "",
           "file holding the bearer token (required off loopback)"),
      spec("cert", option_type::string, "", "TLS certificate (PEM); with key, HTTPS only"),
      spec("key", option_type::string, "", "TLS private key (PEM), readable by its owner only"),
      spec("recent_findings", option_type::integer, "10000",
           "findings kept in memory for /api/v1/findings and the stream (read at start)", 1.0, 1e6),
  };
  return s;
}

const std::vector<option_spec>& supervisor_specs() {
  static const std::vector<option_spec> s = {
      spec("strategy", option_type::string, "one_for_one", "what a child's restart takes with it",
           {}, {}, {"one_for_one", "one_for_all", "rest_for_one"}),
      spec("max_restarts", option_type::integer, "5", "restarts of its children within period", 0.0,
           1e6),
      spec("period", option_type::duration, "60s", "intensity period", 0.001),
      spec("parent", option_type::string, "root", "the supervisor it escalates to"),
  };
  return s;
}

std::vector<std::string> keys_of(const std::vector<option_spec>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs)
    out.push_back(s.key);
  return out;
}

const std::vector<option_spec>& alert_specs() {
  static const std::vector<option_spec> s = [] {
    std::vector<std::string> metrics;
    for (auto m : alert_metrics())
      metrics.emplace_back(m);
    return std::vector<option_spec>{
        spec("metric", option_type::string, "", "what is watched (docs/operations.md, Alerts)", {},
             {}, metrics),
        spec("threshold", option_type::floating, "", "raised at or above this value"),
        spec("for", option_type::duration, "0s", "the value must stay over the threshold this long",
             0.0, 86400.0 * 30),
        spec("component", option_type::string, "*", "component.* metrics: a component, or *"),
        spec("path", option_type::string, "/", "host.disk_percent: a path on the file system"),
        spec("hysteresis", option_type::floating, "0.1",
             "cleared below threshold * (1 - hysteresis)", 0.0, 0.9),
        spec("ratio_medium", option_type::floating, "1.1", "value / threshold: medium from here",
             1.0, 1000.0),
        spec("ratio_high", option_type::floating, "1.2", "value / threshold: high from here", 1.0,
             1000.0),
        spec("ratio_critical", option_type::floating, "1.5",
             "value / threshold: critical from here", 1.0, 1000.0),
        spec("enabled", option_type::boolean, "true", "false: not evaluated"),
    };
  }();
  return s;
}

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> s = {"engine",    "sources", "analyzers",
                                             "detectors", "sinks",   "supervisors",
                                             "api",       "alerts",  "suppress"};
  return s;
}

struct section_info {
  const char* name;
  component_kind kind;
};

constexpr section_info component_sections[] = {
    {"sources", component_kind::source},
    {"analyzers", component_kind::analyzer},
    {"detectors", component_kind::detector},
    {"sinks", component_kind::sink},
};

const char* section_of(component_kind k) {
  for (const auto& s : component_sections)
    if (s.kind == k)
      return s.name;
  return "?";
}

// ---------------------------------------------------------------------------------------------
// The checker: holds the collected diagnostics and the origin for positions.

class checker {
public:
  explicit checker(std::string origin) : origin_(std::move(origin)) {}

  source_position at(const toml::source_region& r) const {
    return source_position{r.path ? *r.path : origin_, r.begin.line, r.begin.column};
  }

  /// File order: the profile's keys (a base, read first) before the file's own, then by line.
  bool before(const source_position& a, const source_position& b) const {
    const bool a_own = a.file == origin_, b_own = b.file == origin_;
    if (a_own != b_own)
      return b_own;
    if (a.line != b.line)
      return a.line < b.line;
    return a.column < b.column;
  }

  void error(const toml::source_region& r, std::string message) {
    errors_.push_back(diagnostic{at(r), std::move(message)});
  }
  void error(source_position p, std::string message) {
    errors_.push_back(diagnostic{std::move(p), std::move(message)});
  }

  diagnostics take() {
    std::stable_sort(
        errors_.begin(), errors_.end(),
        [this](const diagnostic& a, const diagnostic& b) { return before(a.where, b.where); });
    return std::move(errors_);
  }

  [[nodiscard]] std::size_t count() const noexcept { return errors_.size(); }

  // Checks one value against its spec. True when it has the right type and is in range.
  bool check_value(const option_spec& s, const toml::node& v, const std::string& where) {
    const std::string name = "'" + s.key + "' in " + where;
    auto wrong_type = [&] {
      error(v.source(), name + " must be " + expected_text(s.type) + ", not " + toml_type_name(v));
      return false;
    };
    std::optional<double> number; // for range checks, in the spec's unit
    switch (s.type) {
    case option_type::string: {
      const auto* str = v.as_string();
      if (!str)
        return wrong_type();
      if (!s.choices.empty() &&
          std::find(s.choices.begin(), s.choices.end(), str->get()) == s.choices.end()) {
        error(v.source(), name + " must be one of " + join_quoted(s.choices) + " (got '" +
                              str->get() + "')" + did_you_mean(str->get(), s.choices));
        return false;
      }
      return true;
    }
    case option_type::integer:
      if (!v.is_integer())
        return wrong_type();
      number = static_cast<double>(v.as_integer()->get());
      break;
    case option_type::floating:
      if (!v.is_number())
        return wrong_type();
      number = v.is_integer() ? static_cast<double>(v.as_integer()->get())
                              : v.as_floating_point()->get();
      break;
    case option_type::boolean:
      return v.is_boolean() ? true : wrong_type();
    case option_type::duration: {
      const auto* str = v.as_string();
      if (!str)
        return wrong_type();
      auto d = parse_duration(str->get());
      if (!d) {
        error(v.source(), name + " is not a valid duration: '" + str->get() +
                              "' (use a number and a unit: ns, us, ms, s, m, h, d; e.g. \"10s\")");
        return false;
      }
      number = std::chrono::duration<double>(*d).count();
      break;
    }
    case option_type::size: {
      if (const auto* i = v.as_integer()) {
        if (i->get() < 0) {
          error(v.source(), name + " must not be negative (got " + std::to_string(i->get()) + ")");
          return false;
        }
        number = static_cast<double>(i->get());
        break;
      }
      const auto* str = v.as_string();
      if (!str)
        return wrong_type();
      auto sz = parse_size(str->get());
      if (!sz) {
        error(v.source(), name + " is not a valid size: '" + str->get() +
                              "' (use bytes or a unit: KiB, MiB, GiB, KB, MB, GB; e.g. \"64MiB\")");
        return false;
      }
      number = static_cast<double>(*sz);
      break;
    }
    case option_type::string_list: {
      const auto* arr = v.as_array();
      if (!arr)
        return wrong_type();
      bool ok = true;
      std::size_t index = 0;
      for (const auto& e : *arr) {
        ++index;
        if (!e.is_string()) {
          error(e.source(), name + " must be a list of strings; element " + std::to_string(index) +
                                " is " + toml_type_name(e));
          ok = false;
        } else if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(),
                                                   *e.value<std::string>()) == s.choices.end()) {
          const auto item = *e.value<std::string>();
          error(e.source(), name + " accepts only " + join_quoted(s.choices) + " (got '" + item +
                                "')" + did_you_mean(item, s.choices));
          ok = false;
        }
      }
      return ok;
    }
    case option_type::cpu_list: {
      std::string problem;
      if (!cpu_list_of(v, &problem)) {
        error(v.source(), name + " " + problem);
        return false;
      }
      return true;
    }
    case option_type::table: {
      // A table, or an array of tables (`rules = [{ path = "/etc" }, ...]`): components that take
      // a list of records accept both spellings.
      if (!v.is_table() && !v.is_array_of_tables())
        return wrong_type();
      if (s.fields.empty())
        return true;
      const std::size_t before = count();
      const std::string inner = "'" + s.key + "' of " + where;
      if (const auto* t = v.as_table()) {
        check_table(*t, s.fields, {}, inner, v.source());
      } else {
        std::size_t index = 0;
        for (const auto& e : *v.as_array())
          check_table(*e.as_table(), s.fields, {},
                      "element " + std::to_string(++index) + " of " + inner, e.source());
      }
      return count() == before;
    }
    }
    if (number) {
      const bool low = s.min && *number < *s.min;
      const bool high = s.max && *number > *s.max;
      if (low || high) {
        std::string got =
            v.is_string() ? "'" + *v.value<std::string>() + "'" : format_number(*number);
        std::string bound;
        if (s.min && s.max)
          bound =
              "between " + format_limit(s.type, *s.min) + " and " + format_limit(s.type, *s.max);
        else if (s.min)
          bound = "at least " + format_limit(s.type, *s.min);
        else
          bound = "at most " + format_limit(s.type, *s.max);
        error(v.source(), name + " must be " + bound + " (got " + got + ")");
        return false;
      }
    }
    return true;
  }

  // Checks every key of `t` against `specs` (and `extra` known keys checked elsewhere).
  // Unknown keys get a suggestion; missing required keys are reported at `header`.
  void check_table(const toml::table& t, const std::vector<option_spec>& specs,
                   const std::vector<option_spec>& extra, const std::string& where,
                   const toml::source_region& header) {
    std::vector<std::string> known = keys_of(specs);
    for (const auto& k : keys_of(extra))
      known.push_back(k);
    for (const auto& [key, value] : t) {
      const std::string k(key.str());
      auto it = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.key == k; });
      if (it != specs.end()) {
        check_value(*it, value, where);
        continue;
      }
      if (std::find_if(extra.begin(), extra.end(), [&](const auto& s) { return s.key == k; }) !=
          extra.end())
        continue;
      error(key.source(), "unknown key '" + k + "' in " + where + did_you_mean(k, known));
    }
    for (const auto& s : specs)
      if (s.required && !t.contains(s.key))
        error(header, where + " is missing required key '" + s.key + "'");
  }

private:
  std::string origin_;
  diagnostics errors_;
};

// ---------------------------------------------------------------------------------------------
// Reading validated values (the checker has vetted them; fall back on anything odd)

duration read_duration(const toml::table& t, std::string_view key, duration fallback) {
  if (auto s = t[key].value<std::string>())
    if (auto d = parse_duration(*s))
      return *d;
  return fallback;
}

std::uint64_t read_size(const toml::table& t, std::string_view key, std::uint64_t fallback) {
  if (auto i = t[key].value<std::int64_t>(); i && *i >= 0)
    return static_cast<std::uint64_t>(*i);
  if (auto s = t[key].value<std::string>())
    if (auto sz = parse_size(*s))
      return *sz;
  return fallback;
}

template <class T>
T read_int(const toml::table& t, std::string_view key, T fallback) {
  if (auto i = t[key].value<std::int64_t>(); i && *i >= 0)
    return static_cast<T>(*i);
  return fallback;
}

quota_settings read_quota(checker& chk, const toml::node* node, const std::string& where) {
  quota_settings q;
  const auto* t = node ? node->as_table() : nullptr;
  if (!t)
    return q;
  chk.check_table(*t, quota_specs(), {}, where, node->source());
  if (auto v = (*t)["cpu_percent"].value<double>())
    q.cpu_percent = *v;
  if (auto v = (*t)["memory_mb"].value<std::int64_t>(); v && *v > 0)
    q.memory_mb = static_cast<std::uint64_t>(*v);
  if (auto v = (*t)["events_per_second"].value<double>())
    q.events_per_second = *v;
  if (auto s = (*t)["handler_timeout"].value<std::string>())
    if (auto d = parse_duration(*s))
      q.handler_timeout = *d;
  q.grace = read_duration(*t, "grace", q.grace);
  q.window = read_duration(*t, "window", q.window);
  return q;
}

/// The placement keys (nice, io_class, io_level, cpu_affinity) of a component's table or of
/// [engine], over `t`'s defaults.
void read_placement(const toml::table& table, throttle_settings& t) {
  if (auto v = table["nice"].value<std::int64_t>(); v && *v >= 0 && *v <= 19)
    t.nice = static_cast<int>(*v);
  if (auto v = table["io_class"].value<std::string>())
    t.io_class = *v;
  if (auto v = table["io_level"].value<std::int64_t>(); v && *v >= 0 && *v <= 7)
    t.io_level = static_cast<int>(*v);
  std::string checked; // check_value reported it at its place
  if (const auto* v = table.get("cpu_affinity"))
    if (auto cpus = cpu_list_of(*v, &checked))
      t.cpu_affinity = std::move(*cpus);
}

/// `throttle = { max_load = 1.5, max_cpu_pressure = 40, max_memory_pressure = 10,
///               on_battery = "pause", window = "01:00-05:00" }`
void read_adaptive(checker& chk, const toml::node* node, const std::string& where,
                   throttle_settings& t) {
  const auto* tbl = node ? node->as_table() : nullptr;
  if (!tbl)
    return;
  chk.check_table(*tbl, throttle_specs(), {}, where, node->source());
  if (auto v = (*tbl)["max_load"].value<double>())
    t.max_load = *v;
  if (auto v = (*tbl)["max_cpu_pressure"].value<double>())
    t.max_cpu_pressure = *v;
  if (auto v = (*tbl)["max_memory_pressure"].value<double>())
    t.max_memory_pressure = *v;
  if (auto v = (*tbl)["on_battery"].value<std::string>())
    t.pause_on_battery = *v == "pause";
  if (const auto* w = tbl->get("window"); w && w->is_string()) {
    t.window = parse_time_window(w->as_string()->get());
    if (!t.window)
      chk.error(w->source(), "'window' in " + where +
                                 " must be a time range HH:MM-HH:MM in "
                                 "local time, such as \"01:00-05:00\" (got '" +
                                 w->as_string()->get() + "')");
  }
}

mailbox_settings read_mailbox(checker& chk, const toml::node* node, const std::string& where) {
  mailbox_settings m;
  const auto* t = node ? node->as_table() : nullptr;
  if (!t)
    return m;
  chk.check_table(*t, mailbox_specs(), {}, where, node->source());
  m.window_events = read_int<std::uint64_t>(*t, "window", m.window_events);
  m.window_bytes = read_size(*t, "window_bytes", m.window_bytes);
  m.sample_every = read_int<std::uint64_t>(*t, "sample_every", m.sample_every);
  const auto policy = (*t)["overflow"].value_or(std::string("block"));
  if (policy == "drop_oldest")
    m.policy = overflow_policy::drop_oldest;
  else if (policy == "drop_newest")
    m.policy = overflow_policy::drop_newest;
  else if (policy == "sample")
    m.policy = overflow_policy::sample;
  return m;
}

restart_settings read_restart(checker& chk, const toml::node* node, const std::string& where) {
  restart_settings r;
  const auto* t = node ? node->as_table() : nullptr;
  if (!t)
    return r;
  chk.check_table(*t, restart_specs(), {}, where, node->source());
  const auto type = (*t)["type"].value_or(std::string("permanent"));
  if (type == "transient")
    r.type = restart_type::transient;
  else if (type == "temporary")
    r.type = restart_type::temporary;
  r.max_restarts = read_int<std::uint32_t>(*t, "max_restarts", r.max_restarts);
  r.period = read_duration(*t, "period", r.period);
  r.backoff = read_duration(*t, "backoff", r.backoff);
  r.max_backoff = read_duration(*t, "max_backoff", r.max_backoff);
  r.healthy_after = read_duration(*t, "healthy_after", r.healthy_after);
  r.shutdown_timeout = read_duration(*t, "shutdown_timeout", r.shutdown_timeout);
  if (r.max_backoff < r.backoff) {
    const auto* at = t->get("max_backoff") ? t->get("max_backoff") : t->get("backoff");
    chk.error(at->source(), "'max_backoff' in " + where + " (" + format_duration(r.max_backoff) +
                                ") must not be shorter than 'backoff' (" +
                                format_duration(r.backoff) + ")");
  }
  return r;
}

restart_strategy strategy_from(const std::string& s) {
  if (s == "one_for_all")
    return restart_strategy::one_for_all;
  if (s == "rest_for_one")
    return restart_strategy::rest_for_one;
  return restart_strategy::one_for_one;
}

engine_settings read_engine(checker& chk, const toml::node& node) {
  engine_settings e;
  const auto* t = node.as_table();
  if (!t) {
    chk.error(node.source(),
              "'engine' must be a table ([engine]), not " + std::string(toml_type_name(node)));
    return e;
  }
  chk.check_table(*t, engine_specs(), {}, "[engine]", node.source());
  e.profile = (*t)["profile"].value_or(e.profile);
  e.host = (*t)["host"].value_or(e.host);
  e.log_level = (*t)["log_level"].value_or(e.log_level);
  if ((*t)["log_format"].value_or(std::string("text")) == "json")
    e.log_fmt = log_format::json;
  e.state_dir = (*t)["state_dir"].value_or(e.state_dir);
  e.temp_dir = (*t)["temp_dir"].value_or(e.temp_dir);
  e.log_dir = (*t)["log_dir"].value_or(e.log_dir);
  e.run_dir = (*t)["run_dir"].value_or(e.run_dir);
  e.temp_max_size = read_size(*t, "temp_max_size", e.temp_max_size);
  e.state_min_free = read_size(*t, "state_min_free", e.state_min_free);
  e.strategy = strategy_from((*t)["strategy"].value_or(std::string("one_for_one")));
  e.max_restarts = read_int<std::uint32_t>(*t, "max_restarts", e.max_restarts);
  e.restart_period = read_duration(*t, "restart_period", e.restart_period);
  e.shutdown_timeout = read_duration(*t, "shutdown_timeout", e.shutdown_timeout);
  e.metrics_interval = read_duration(*t, "metrics_interval", e.metrics_interval);
  e.heap_release_interval = read_duration(*t, "heap_release_interval", e.heap_release_interval);
  e.loss_report_interval = read_duration(*t, "loss_report_interval", e.loss_report_interval);
  e.tick_interval = read_duration(*t, "tick_interval", e.tick_interval);
  e.worker_threads = read_int<std::uint32_t>(*t, "worker_threads", e.worker_threads);
  e.max_throughput = read_int<std::uint32_t>(*t, "max_throughput", e.max_throughput);
  e.batch_size = read_int<std::uint64_t>(*t, "batch_size", e.batch_size);
  e.batch_delay = read_duration(*t, "batch_delay", e.batch_delay);
  e.plugin_dir = (*t)["plugin_dir"].value_or(e.plugin_dir);
  e.plugin_signature = (*t)["plugin_signature"].value_or(e.plugin_signature);
  e.plugin_trust_dir = (*t)["plugin_trust_dir"].value_or(e.plugin_trust_dir);
  if (const auto* q = t->get("quota"); q && q->is_table())
    e.quota = read_quota(chk, q, "[engine.quota]");
  read_placement(*t, e.placement);
  return e;
}

bool valid_component_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string name_problem(std::string_view what, const std::string& name) {
  if (name.size() > max_name_length)
    return "the " + std::string(what) + " name '" + name.substr(0, 24) + "...' is " +
           std::to_string(name.size()) + " characters long: at most " +
           std::to_string(max_name_length) + " (it names a directory under state_dir)";
  return "invalid " + std::string(what) + " name '" + name +
         "': use letters, digits, '_' and '-' only";
}

// Where each input came from, so graph errors point at the input string itself.
struct input_ref {
  std::string name;
  source_position where;
};

struct parsed_component {
  component_decl decl;
  source_position name_where;   // the NAME key
  source_position inputs_where; // the `inputs` key (or the header when absent)
  std::vector<input_ref> input_refs;
  bool has_inputs_key = false;
  source_position supervisor_where;
  const component_type* type = nullptr;
};

struct parsed_supervisor {
  supervisor_decl decl;
  source_position name_where;
  source_position parent_where;
};

void read_supervisor(checker& chk, const toml::key& key, const toml::node& node,
                     std::vector<parsed_supervisor>& out) {
  const std::string name(key.str());
  const std::string where = "[supervisors." + name + "]";
  const auto* t = node.as_table();
  if (!t) {
    chk.error(node.source(), "'supervisors." + name + "' must be a table (" + where + "), not " +
                                 toml_type_name(node));
    return;
  }
  parsed_supervisor ps;
  ps.decl.name = name;
  ps.decl.where = chk.at(node.source());
  ps.name_where = chk.at(key.source());
  ps.parent_where = ps.decl.where;
  if (!valid_component_name(name))
    chk.error(key.source(), name_problem("supervisor", name));
  else if (name == "root")
    chk.error(key.source(), "'root' is the engine's own supervisor (its strategy and intensity "
                            "are [engine] strategy, max_restarts and restart_period): pick "
                            "another name");
  chk.check_table(*t, supervisor_specs(), {}, where, node.source());
  ps.decl.strategy = strategy_from((*t)["strategy"].value_or(std::string("one_for_one")));
  ps.decl.max_restarts = read_int<std::uint32_t>(*t, "max_restarts", ps.decl.max_restarts);
  ps.decl.period = read_duration(*t, "period", ps.decl.period);
  if (const auto* p = t->get("parent"); p && p->is_string()) {
    ps.decl.parent = *p->value<std::string>();
    if (ps.decl.parent == "root")
      ps.decl.parent.clear();
    ps.parent_where = chk.at(p->source());
  }
  out.push_back(std::move(ps));
}

// [[suppress]]: rule (required), entity (a table of values matched as globs on their text),
// reason (required), expires (a TOML date or date-time, or an RFC 3339 string).
void read_suppressions(checker& chk, const toml::node& node, std::vector<suppression_decl>& out) {
  const auto* arr = node.as_array();
  if (!arr) {
    chk.error(node.source(), "'suppress' must be an array of tables ([[suppress]] entries), not " +
                                 std::string(toml_type_name(node)));
    return;
  }
  static const std::vector<std::string> keys = {"rule", "entity", "reason", "expires"};
  for (const auto& item : *arr) {
    const auto* t = item.as_table();
    auto pos = chk.at(item.source());
    const std::string where = "[[suppress]] at line " + std::to_string(pos.line);
    if (!t) {
      chk.error(item.source(), "each 'suppress' entry must be a table ([[suppress]]), not " +
                                   std::string(toml_type_name(item)));
      continue;
    }
    suppression_decl d;
    d.where = pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        chk.error(k.source(), "unknown key '" + key + "' in " + where + did_you_mean(key, keys) +
                                  " (keys: rule, entity, reason, expires)");
    }
    if (const auto* r = t->get("rule"); !r || !r->is_string() || r->value_or(std::string()).empty())
      chk.error(r ? r->source() : item.source(),
                where + " needs rule = \"...\" (a rule id, or a glob such as \"memory.*\")");
    else
      d.rule = *r->value<std::string>();
    if (const auto* r = t->get("reason");
        !r || !r->is_string() || r->value_or(std::string()).empty())
      chk.error(r ? r->source() : item.source(),
                where + " needs reason = \"...\": an allow-list entry says why it is there");
    else
      d.reason = *r->value<std::string>();
    if (const auto* e = t->get("entity")) {
      if (const auto* et = e->as_table()) {
        for (const auto& [ek, ev] : *et) {
          if (ev.is_string())
            d.entity[std::string(ek.str())] = *ev.value<std::string>();
          else if (ev.is_integer())
            d.entity[std::string(ek.str())] = std::to_string(*ev.value<std::int64_t>());
          else if (ev.is_boolean())
            d.entity[std::string(ek.str())] = *ev.value<bool>() ? "true" : "false";
          else
            chk.error(ev.source(), "'entity." + std::string(ek.str()) + "' in " + where +
                                       " must be a string, an integer or a boolean, not " +
                                       toml_type_name(ev));
        }
      } else {
        chk.error(e->source(), "'entity' in " + where +
                                   " must be a table ({ exe = \"...\" }), not " +
                                   std::string(toml_type_name(*e)));
      }
    }
    if (const auto* x = t->get("expires")) {
      std::optional<wall_clock::time_point> when;
      // The clock counts nanoseconds from 1970 in 64 bits: years outside 1970..2261 are not
      // representable (and not meant).
      auto in_range = [](int year) { return year >= 1970 && year <= 2261; };
      if (auto date = x->value<toml::date>(); date && !in_range(date->year)) {
        chk.error(x->source(), "'expires' in " + where + " must be a year from 1970 to 2261");
      } else if (auto dt = x->value<toml::date_time>(); dt && !in_range(dt->date.year)) {
        chk.error(x->source(), "'expires' in " + where + " must be a year from 1970 to 2261");
      } else if (date) {
        std::tm tm{};
        tm.tm_year = date->year - 1900;
        tm.tm_mon = date->month - 1;
        tm.tm_mday = date->day;
        when = wall_clock::from_time_t(::timegm(&tm));
      } else if (dt) {
        std::tm tm{};
        tm.tm_year = dt->date.year - 1900;
        tm.tm_mon = dt->date.month - 1;
        tm.tm_mday = dt->date.day;
        tm.tm_hour = dt->time.hour;
        tm.tm_min = dt->time.minute;
        tm.tm_sec = dt->time.second;
        auto t0 = wall_clock::from_time_t(::timegm(&tm));
        if (dt->offset)
          t0 -= std::chrono::minutes(dt->offset->minutes);
        when = t0;
      } else if (auto text = x->value<std::string>()) {
        when = parse_rfc3339(*text);
      }
      bool out_of_range =
          (x->value<toml::date>() && !in_range(x->value<toml::date>()->year)) ||
          (x->value<toml::date_time>() && !in_range(x->value<toml::date_time>()->date.year));
      if (!when && !out_of_range)
        chk.error(x->source(), "'expires' in " + where +
                                   " must be a date (2027-03-01), a date-time or an RFC 3339 "
                                   "string, not " +
                                   std::string(toml_type_name(*x)));
      d.expires = when;
    }
    out.push_back(std::move(d));
  }
}

struct parsed_alert {
  alert_decl decl;
  source_position where;
  source_position component_where;
};

void read_alert(checker& chk, const toml::key& key, const toml::node& node,
                std::vector<parsed_alert>& out) {
  const std::string name(key.str());
  const std::string where = "[alerts." + name + "]";
  const auto* t = node.as_table();
  if (!t) {
    chk.error(node.source(),
              "'alerts." + name + "' must be a table (" + where + "), not " + toml_type_name(node));
    return;
  }
  if (!valid_component_name(name))
    chk.error(key.source(), name_problem("alert", name));
  chk.check_table(*t, alert_specs(), {}, where, node.source());
  parsed_alert pa;
  pa.where = chk.at(node.source());
  pa.component_where = pa.where;
  auto& a = pa.decl;
  a.name = name;
  a.metric = (*t)["metric"].value_or(std::string());
  if (!t->get("metric"))
    chk.error(node.source(), where + " needs metric = \"...\" (e.g. \"host.cpu_percent\"; "
                                     "docs/operations.md lists them)");
  if (auto v = (*t)["threshold"].value<double>())
    a.threshold = *v;
  else if (auto d = default_alert_threshold(a.metric))
    a.threshold = *d;
  else if (std::find(alert_metrics().begin(), alert_metrics().end(), a.metric) !=
           alert_metrics().end())
    chk.error(node.source(), where + ": " + a.metric + " has no default threshold: set threshold");
  a.sustained = read_duration(*t, "for", a.sustained);
  a.component = (*t)["component"].value_or(a.component);
  if (const auto* c = t->get("component"))
    pa.component_where = chk.at(c->source());
  if (t->get("component") && a.metric.rfind("component.", 0) != 0)
    chk.error(pa.component_where, where + ": component applies to component.* metrics only");
  a.path = (*t)["path"].value_or(a.path);
  if (t->get("path") && a.metric != "host.disk_percent")
    chk.error(node.source(), where + ": path applies to host.disk_percent only");
  a.hysteresis = (*t)["hysteresis"].value_or(a.hysteresis);
  a.bands.medium = (*t)["ratio_medium"].value_or(a.bands.medium);
  a.bands.high = (*t)["ratio_high"].value_or(a.bands.high);
  a.bands.critical = (*t)["ratio_critical"].value_or(a.bands.critical);
  if (!(a.bands.medium <= a.bands.high && a.bands.high <= a.bands.critical))
    chk.error(node.source(), where + ": ratio_medium <= ratio_high <= ratio_critical is needed");
  if (const auto* th = t->get("threshold"); th && a.threshold <= 0)
    chk.error(th->source(), where + ": threshold must be above 0");
  a.enabled = (*t)["enabled"].value_or(true);
  out.push_back(std::move(pa));
}

// Alerts: the component they watch exists; engine.memory_percent has a quota to be a share of.
void check_alerts(checker& chk, const std::vector<parsed_alert>& alerts,
                  const std::vector<parsed_component>& comps, const engine_settings& engine) {
  std::vector<std::string> names;
  for (const auto& c : comps)
    names.push_back(c.decl.name);
  for (const auto& pa : alerts) {
    const auto& a = pa.decl;
    if (a.metric.rfind("component.", 0) == 0 && a.component != "*" &&
        std::find(names.begin(), names.end(), a.component) == names.end())
      chk.error(pa.component_where, "[alerts." + a.name + "] watches component '" + a.component +
                                        "', which is not declared" +
                                        did_you_mean(a.component, names));
    if (a.metric == "engine.memory_percent" && !engine.quota.memory_mb)
      chk.error(pa.where, "[alerts." + a.name +
                              "] engine.memory_percent is a share of [engine] "
                              "quota.memory_mb, which is not set (or watch engine.memory_bytes)");
  }
}

// Supervisors: names unique, parents known, no cycle of parents; components name known ones.
void check_supervisors(checker& chk, const std::vector<parsed_supervisor>& sups,
                       const std::vector<parsed_component>& comps) {
  std::map<std::string, const parsed_supervisor*> by_name;
  std::vector<std::string> names = {"root"};
  for (const auto& s : sups) {
    by_name.emplace(s.decl.name, &s);
    names.push_back(s.decl.name);
  }
  for (const auto& c : comps)
    if (by_name.count(c.decl.name))
      chk.error(by_name.at(c.decl.name)->name_where,
                "supervisor '" + c.decl.name + "' has the name of a component (line " +
                    std::to_string(c.decl.where.line) + "): names are shared by both");
  for (const auto& s : sups) {
    if (s.decl.parent.empty())
      continue;
    if (!by_name.count(s.decl.parent)) {
      chk.error(s.parent_where, "unknown parent '" + s.decl.parent + "' of [supervisors." +
                                    s.decl.name + "]" + did_you_mean(s.decl.parent, names));
      continue;
    }
    // Walk up: coming back to ourselves is a cycle (reported at the supervisor closing it).
    std::vector<std::string> chain = {s.decl.name};
    std::string at = s.decl.parent;
    while (!at.empty() && by_name.count(at) && chain.size() <= sups.size()) {
      chain.push_back(at);
      if (at == s.decl.name) {
        chk.error(s.parent_where, "cycle of supervisors: " + join(chain, " -> ") +
                                      " (one of them needs another parent, or none: the root)");
        break;
      }
      at = by_name.at(at)->decl.parent;
    }
  }
  for (const auto& c : comps) {
    const auto& sup = c.decl.supervisor;
    if (sup.empty() || sup == "root" || by_name.count(sup))
      continue;
    chk.error(c.supervisor_where, "unknown supervisor '" + sup + "' of [" +
                                      section_of(c.decl.kind) + "." + c.decl.name + "]" +
                                      did_you_mean(sup, names) + " (declare it as [supervisors." +
                                      sup + "])");
  }
}

std::string with_article(std::string_view noun) {
  const bool vowel =
      !noun.empty() && std::string_view("aeiou").find(noun.front()) != std::string_view::npos;
  return (vowel ? "an " : "a ") + std::string(noun);
}

// Looks up `type_name` for `kind` and explains when it is missing.
const component_type* resolve_type(checker& chk, const registry& reg, component_kind kind,
                                   const std::string& type_name, const toml::node& type_node,
                                   const std::string& where, bool disabled) {
  if (const auto* t = reg.find(kind, type_name))
    return t;
  if (const auto family = left_out_family(type_name)) {
    // A family this binary was built without: a disabled declaration is kept (its name still
    // resolves as an input), an enabled one cannot run.
    if (!disabled)
      chk.error(type_node.source(), left_out_message(type_name, *family) + ": " + where +
                                        " cannot run here; set enabled = false or remove it");
    return nullptr;
  }
  const std::string kind_name(to_string(kind));
  // The type exists, but for another kind: the operator put it in the wrong section.
  for (auto other : {component_kind::source, component_kind::analyzer, component_kind::detector,
                     component_kind::sink}) {
    if (other != kind && reg.find(other, type_name)) {
      chk.error(type_node.source(), "'" + type_name + "' in " + where + " is " +
                                        with_article(to_string(other)) + " type, not " +
                                        with_article(kind_name) + " type: declare it as [" +
                                        section_of(other) + ".NAME]");
      return nullptr;
    }
  }
  std::vector<std::string> known;
  for (const auto* t : reg.list(kind))
    known.push_back(t->name);
  std::string message;
  if (kind == component_kind::detector && type_name == "plugin") {
    message = "detector type 'plugin' is not available in this build (no plugin host registered "
              "it), so " +
              where + " cannot load a plugin";
  } else {
    message = "unknown " + kind_name + " type '" + type_name + "' in " + where +
              did_you_mean(type_name, known);
  }
  if (known.empty())
    message += " (no " + kind_name + " types are registered)";
  else if (known.size() <= 12)
    message += " (known " + kind_name + " types: " + join(known, ", ") + ")";
  chk.error(type_node.source(), std::move(message));
  return nullptr;
}

void read_component(checker& chk, const registry& reg, component_kind kind, const toml::key& key,
                    const toml::node& node, std::vector<parsed_component>& out) {
  const std::string name(key.str());
  const std::string section = section_of(kind);
  const std::string where = "[" + section + "." + name + "]";
  const auto* t = node.as_table();
  if (!t) {
    chk.error(node.source(), "'" + section + "." + name + "' must be a table (" + where +
                                 "), not " + toml_type_name(node));
    return;
  }
  parsed_component pc;
  pc.decl.name = name;
  pc.decl.kind = kind;
  pc.decl.where = chk.at(node.source());
  pc.name_where = chk.at(key.source());
  pc.inputs_where = pc.decl.where;
  if (!valid_component_name(name))
    chk.error(key.source(), name_problem("component", name));

  // The common keys first; unknown-key checks need the type's options, so they come after.
  const component_type* type = nullptr;
  const toml::node* type_node = t->get("type");
  if (!type_node && kind != component_kind::detector) {
    chk.error(node.source(), where + " is missing required key 'type'");
  } else if (type_node && !type_node->is_string()) {
    chk.error(type_node->source(), "'type' in " + where + " must be a string, not " +
                                       std::string(toml_type_name(*type_node)));
  } else {
    // Detectors are plugins unless they name a built-in detector type.
    pc.decl.type = type_node ? *type_node->value<std::string>() : std::string("plugin");
    if (type_node) {
      const auto* enabled = t->get("enabled");
      const bool disabled = enabled && enabled->is_boolean() && !*enabled->value<bool>();
      type = resolve_type(chk, reg, kind, pc.decl.type, *type_node, where, disabled);
    } else if (!(type = reg.find(kind, "plugin"))) {
      std::vector<std::string> known;
      for (const auto* d : reg.list(kind))
        known.push_back(d->name);
      chk.error(node.source(),
                where +
                    " has no 'type', so it is a plugin detector, but detector type 'plugin' "
                    "is not available in this build (no plugin host registered it)" +
                    (known.empty() ? std::string(" and no detector types are registered")
                                   : "; known detector types: " + join(known, ", ")));
    }
  }

  // The type's throttle first (the scanners ship at nice 10, idle I/O), the table's keys over it.
  if (type)
    pc.decl.throttle = type->throttle_defaults;
  for (const auto& [k, v] : *t) {
    const std::string ks(k.str());
    const auto& common = common_specs();
    auto it =
        std::find_if(common.begin(), common.end(), [&](const auto& s) { return s.key == ks; });
    if (it == common.end() || ks == "type")
      continue;
    if (!chk.check_value(*it, v, where))
      continue;
    if (ks == "inputs") {
      pc.has_inputs_key = true;
      pc.inputs_where = chk.at(k.source());
      for (const auto& e : *v.as_array())
        pc.input_refs.push_back(input_ref{*e.value<std::string>(), chk.at(e.source())});
    } else if (ks == "enabled") {
      pc.decl.enabled = *v.value<bool>();
    } else if (ks == "interval") {
      pc.decl.schedule.interval = parse_duration(*v.value<std::string>());
    } else if (ks == "schedule") {
      const auto text = *v.value<std::string>();
      std::string why;
      if (!parse_cron(text, &why))
        chk.error(v.source(), "'schedule' in " + where + " is not a valid cron expression '" +
                                  text + "': " + why);
      else
        pc.decl.schedule.cron = text;
    } else if (ks == "mailbox") {
      pc.decl.mailbox = read_mailbox(chk, &v, "[" + section + "." + name + ".mailbox]");
    } else if (ks == "restart") {
      pc.decl.restart = read_restart(chk, &v, "[" + section + "." + name + ".restart]");
    } else if (ks == "quota") {
      pc.decl.quota = read_quota(chk, &v, "[" + section + "." + name + ".quota]");
    } else if (ks == "supervisor") {
      pc.decl.supervisor = *v.value<std::string>();
      pc.supervisor_where = chk.at(v.source());
    } else if (ks == "throttle") {
      read_adaptive(chk, &v, "[" + section + "." + name + ".throttle]", pc.decl.throttle);
    }
  }
  read_placement(*t, pc.decl.throttle);
  if (pc.decl.schedule.interval && !pc.decl.schedule.cron.empty())
    chk.error(t->get("schedule")->source(),
              "'interval' and 'schedule' in " + where + " exclude each other: keep one");

  // Type-specific keys: everything else, checked against the type's option list.
  toml::table settings;
  for (const auto& [k, v] : *t) {
    const std::string ks(k.str());
    const auto& common = common_specs();
    if (std::find_if(common.begin(), common.end(), [&](const auto& s) { return s.key == ks; }) !=
        common.end())
      continue;
    settings.insert(k, v);
  }
  // Checked on the original table: copied nodes lose their source positions.
  if (type)
    chk.check_table(*t, type->options, common_specs(), where, node.source());
  pc.decl.settings = component_settings(std::move(settings));
  pc.type = type;
  for (const auto& r : pc.input_refs)
    pc.decl.inputs.push_back(r.name);
  out.push_back(std::move(pc));
}

// Graph checks over every declared component (disabled ones included: enabling one later must
// not reveal a broken graph).
void check_graph(checker& chk, const std::vector<parsed_component>& comps) {
  std::map<std::string, std::size_t> by_name;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < comps.size(); ++i) {
    const auto& c = comps[i];
    auto [it, fresh] = by_name.emplace(c.decl.name, i);
    if (!fresh) {
      const auto& first = comps[it->second];
      chk.error(c.name_where, "duplicate component name '" + c.decl.name + "': [" +
                                  section_of(c.decl.kind) + "." + c.decl.name + "] and [" +
                                  section_of(first.decl.kind) + "." + first.decl.name + "] (line " +
                                  std::to_string(first.decl.where.line) + ") need different names");
    } else {
      names.push_back(c.decl.name);
    }
  }

  for (const auto& c : comps) {
    const std::string where = "[" + std::string(section_of(c.decl.kind)) + "." + c.decl.name + "]";
    if (c.decl.kind == component_kind::source && c.has_inputs_key && !c.input_refs.empty()) {
      chk.error(c.inputs_where, "source '" + c.decl.name +
                                    "' cannot have inputs: sources collect on their own "
                                    "(declare it under [analyzers] to consume events)");
      continue;
    }
    if (c.decl.kind == component_kind::sink && c.input_refs.empty()) {
      chk.error(c.has_inputs_key ? c.inputs_where : c.decl.where,
                "sink '" + c.decl.name +
                    "' has no inputs: add inputs = [\"NAME\", ...] naming the "
                    "sources, analyzers or detectors it delivers");
    }
    std::set<std::string> seen;
    for (const auto& in : c.input_refs) {
      if (!seen.insert(in.name).second) {
        chk.error(in.where, "input '" + in.name + "' is listed twice in " + where);
        continue;
      }
      auto it = by_name.find(in.name);
      if (it == by_name.end()) {
        chk.error(in.where,
                  "unknown input '" + in.name + "' in " + where + did_you_mean(in.name, names));
        continue;
      }
      const auto& target = comps[it->second].decl;
      if (target.kind == component_kind::sink) {
        chk.error(in.where, "input '" + in.name + "' of " + where +
                                " is a sink: sinks deliver findings and emit no events");
        continue;
      }
      // Event kinds: a producer that declares what it produces (and every component may emit
      // findings) must offer something a consumer that declares what it consumes takes.
      const auto* from = comps[it->second].type;
      if (from && c.type && !from->produces.empty() && !c.type->consumes.empty()) {
        std::vector<std::string> offered = from->produces;
        offered.push_back("finding");
        bool fits = std::any_of(c.type->consumes.begin(), c.type->consumes.end(), [&](auto& k) {
          return std::find(offered.begin(), offered.end(), k) != offered.end();
        });
        if (!fits)
          chk.error(in.where, "input '" + in.name + "' of " + where + " produces " +
                                  join(from->produces, ", ") + " events (and findings), but " +
                                  c.decl.type + " consumes " + join(c.type->consumes, ", ") +
                                  ": nothing it sends would be used");
      }
    }
  }

  // Cycles: depth-first search along data flow (input → consumer). Each back edge closes one
  // cycle, reported once with its members in flow order.
  const std::size_t n = comps.size();
  std::vector<std::vector<std::size_t>> consumers(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (by_name[comps[i].decl.name] != i)
      continue; // a duplicate: already reported
    for (const auto& in : comps[i].input_refs) {
      auto it = by_name.find(in.name);
      if (it != by_name.end() && comps[it->second].decl.kind != component_kind::sink)
        consumers[it->second].push_back(i);
    }
  }
  for (auto& v : consumers) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  enum class mark { fresh, active, done };
  std::vector<mark> state(n, mark::fresh);
  std::vector<std::size_t> stack;
  auto visit = [&](auto& self, std::size_t u) -> void {
    state[u] = mark::active;
    stack.push_back(u);
    for (std::size_t v : consumers[u]) {
      if (state[v] == mark::active) {
        auto from = std::find(stack.begin(), stack.end(), v);
        std::vector<std::string> members;
        for (auto it = from; it != stack.end(); ++it)
          members.push_back(comps[*it].decl.name);
        members.push_back(comps[v].decl.name);
        // Report at the input that closes the cycle: v lists u as an input.
        source_position pos = comps[v].inputs_where;
        for (const auto& in : comps[v].input_refs)
          if (in.name == comps[u].decl.name)
            pos = in.where;
        chk.error(pos, "cycle in the pipeline: " + join(members, " -> ") +
                           " (remove one of these inputs)");
      } else if (state[v] == mark::fresh) {
        self(self, v);
      }
    }
    stack.pop_back();
    state[u] = mark::done;
  };
  for (std::size_t i = 0; i < n; ++i)
    if (state[i] == mark::fresh)
      visit(visit, i);
}

// A sink's relative `path` ("findings.jsonl") names a file under [engine] log_dir, so the
// operator moves every log with one key (and a read-only root keeps them on one writable mount).
void place_under_log_dir(component_decl& decl, const std::string& log_dir) {
  const auto* path = decl.settings.table().get("path");
  if (log_dir.empty() || !path || !path->is_string())
    return;
  const std::string& written = path->as_string()->get();
  if (written.empty() || written.front() == '/')
    return;
  auto table = decl.settings.table();
  table.insert_or_assign("path", (std::filesystem::path(log_dir) / written).string());
  decl.settings = component_settings(std::move(table));
}

config_result load_table(const toml::table& root, std::string origin, const registry& reg) {
  checker chk(origin);
  pipeline_config cfg;
  cfg.origin = origin;
  std::vector<parsed_component> comps;
  std::vector<parsed_supervisor> sups;
  std::vector<parsed_alert> alerts;

  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k == "engine") {
      cfg.engine = read_engine(chk, node);
      continue;
    }
    if (k == "api") {
      const auto* t = node.as_table();
      if (!t) {
        chk.error(node.source(),
                  "'api' must be a table ([api]), not " + std::string(toml_type_name(node)));
        continue;
      }
      chk.check_table(*t, api_specs(), {}, "[api]", node.source());
      cfg.api.listen = (*t)["listen"].value_or(std::string());
      cfg.api.token_file = (*t)["token_file"].value_or(std::string());
      cfg.api.cert = (*t)["cert"].value_or(std::string());
      cfg.api.key = (*t)["key"].value_or(std::string());
      cfg.api.recent_findings =
          (*t)["recent_findings"].value_or(static_cast<std::int64_t>(cfg.api.recent_findings));
      if (cfg.api.cert.empty() != cfg.api.key.empty())
        chk.error(t->source(), std::string("[api] sets ") +
                                   (cfg.api.cert.empty() ? "key" : "cert") + " without " +
                                   (cfg.api.cert.empty() ? "cert" : "key") +
                                   ": TLS needs both (PEM files)");
      for (const char* f : {"cert", "key"})
        if (const auto* n = t->get(f); n && n->is_string() && !n->as_string()->get().empty() &&
                                       ::access(n->as_string()->get().c_str(), R_OK) != 0)
          chk.error(n->source(), std::string("[api] ") + f + " " + n->as_string()->get() +
                                     " cannot be read: " + std::strerror(errno));
      if (const auto* l = t->get("listen"); l && l->is_string() && !cfg.api.listen.empty()) {
        const auto& v = cfg.api.listen;
        const auto colon = v.rfind(':');
        const std::string host = colon == std::string::npos ? std::string() : v.substr(0, colon);
        const std::string port = colon == std::string::npos ? std::string() : v.substr(colon + 1);
        const bool port_ok = !port.empty() && port.size() <= 5 &&
                             std::all_of(port.begin(), port.end(), ::isdigit) &&
                             std::stoi(port) <= 65535;
        if (host.empty() || !port_ok)
          chk.error(l->source(),
                    "'listen' in [api] must be HOST:PORT (e.g. \"127.0.0.1:9464\"), not '" + v +
                        "'");
        else if (host != "127.0.0.1" && host != "localhost" && host != "::1" && host != "[::1]" &&
                 cfg.api.token_file.empty())
          chk.error(l->source(), "[api] listens on " + host +
                                     ", not loopback: set token_file (a root-only file with the "
                                     "bearer token) so that only its holder can use the API");
      }
      continue;
    }
    if (k == "suppress") {
      read_suppressions(chk, node, cfg.suppressions);
      continue;
    }
    if (k == "alerts") {
      const auto* t = node.as_table();
      if (!t) {
        chk.error(node.source(), "'alerts' must be a table of [alerts.NAME] tables, not " +
                                     std::string(toml_type_name(node)));
        continue;
      }
      for (const auto& [name, alert] : *t)
        read_alert(chk, name, alert, alerts);
      continue;
    }
    if (k == "supervisors") {
      const auto* t = node.as_table();
      if (!t) {
        chk.error(node.source(), "'supervisors' must be a table of [supervisors.NAME] tables, "
                                 "not " +
                                     std::string(toml_type_name(node)));
        continue;
      }
      for (const auto& [name, sup] : *t)
        read_supervisor(chk, name, sup, sups);
      continue;
    }
    const section_info* section = nullptr;
    for (const auto& s : component_sections)
      if (k == s.name)
        section = &s;
    if (!section) {
      const auto engine_keys = keys_of(engine_specs());
      if (!node.is_table() &&
          std::find(engine_keys.begin(), engine_keys.end(), k) != engine_keys.end()) {
        chk.error(key.source(), "'" + k + "' is an engine setting: put it under [engine]");
        continue;
      }
      chk.error(key.source(), std::string(node.is_table() ? "unknown section '" : "unknown key '") +
                                  k + "'" + did_you_mean(k, section_names()) +
                                  " (sections: engine, sources, analyzers, detectors, sinks, "
                                  "supervisors, api, alerts, suppress)");
      continue;
    }
    const auto* t = node.as_table();
    if (!t) {
      chk.error(node.source(), "'" + k + "' must be a table of [" + k + ".NAME] tables, not " +
                                   toml_type_name(node));
      continue;
    }
    for (const auto& [name, comp] : *t)
      read_component(chk, reg, section->kind, name, comp, comps);
  }

  // Declaration order: toml++ tables are ordered by key, the operator thinks in file order.
  std::stable_sort(comps.begin(), comps.end(), [&chk](const auto& a, const auto& b) {
    return chk.before(a.decl.where, b.decl.where);
  });
  check_graph(chk, comps);
  std::stable_sort(sups.begin(), sups.end(), [&chk](const auto& a, const auto& b) {
    return chk.before(a.decl.where, b.decl.where);
  });
  check_supervisors(chk, sups, comps);
  check_alerts(chk, alerts, comps, cfg.engine);

  config_result result;
  result.errors = chk.take();
  if (result.errors.empty()) {
    for (auto& c : comps) {
      if (c.decl.supervisor == "root")
        c.decl.supervisor.clear();
      if (c.decl.kind == component_kind::sink)
        place_under_log_dir(c.decl, cfg.engine.log_dir);
      cfg.components.push_back(std::move(c.decl));
    }
    for (auto& s : sups)
      cfg.supervisors.push_back(std::move(s.decl));
    std::stable_sort(alerts.begin(), alerts.end(),
                     [&chk](const auto& a, const auto& b) { return chk.before(a.where, b.where); });
    for (auto& a : alerts)
      cfg.alerts.push_back(std::move(a.decl));
    result.config = std::move(cfg);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Profiles and "auto": the document a config stands for

source_position position_of(const toml::source_region& r, const std::string& origin) {
  return source_position{r.path ? *r.path : origin, r.begin.line, r.begin.column};
}

/// Lays `base` (a profile) under `over` (the operator's file), the file winning key by key.
void merge_under(toml::table& over, toml::table&& base) {
  for (auto&& [key, value] : base) {
    auto* mine = over.get(key.str());
    if (!mine) {
      over.insert(key, std::move(value));
      continue;
    }
    auto* mine_t = mine->as_table();
    auto* base_t = value.as_table();
    if (!mine_t || !base_t)
      continue; // a value, an array, or a table against a value: the file's stands
    const auto my_type = (*mine_t)["type"].value<std::string>();
    const auto base_type = (*base_t)["type"].value<std::string>();
    if (my_type && base_type && *my_type != *base_type)
      continue; // another component type under the same name: the file's table replaces it
    merge_under(*mine_t, std::move(*base_t));
  }
}

std::string toml_text(const toml::node& n) {
  if (const auto* a = n.as_array()) { // on one line, however long
    std::string out = "[";
    for (const auto& e : *a)
      out += (out.size() > 1 ? ", " : "") + toml_text(e);
    return out + "]";
  }
  std::ostringstream os;
  n.visit([&os](const auto& v) {
    if constexpr (toml::is_table<decltype(v)>)
      os << "{...}";
    else
      os << v;
  });
  return os.str();
}

void collect_origins(const toml::node& n, const std::string& path, const std::string& origin,
                     std::vector<key_origin>& out) {
  if (const auto* t = n.as_table()) {
    for (const auto& [k, v] : *t)
      collect_origins(v, path.empty() ? std::string(k.str()) : path + "." + std::string(k.str()),
                      origin, out);
    return;
  }
  if (const auto* a = n.as_array(); a && !a->empty() && a->is_array_of_tables()) {
    std::size_t i = 0;
    for (const auto& e : *a)
      collect_origins(e, path + "[" + std::to_string(i++) + "]", origin, out);
    return;
  }
  out.push_back(key_origin{path, toml_text(n), position_of(n.source(), origin)});
}

/// "25%" -> 25; nullopt for anything else.
std::optional<double> percent_of(const std::string& text) {
  if (text.size() < 2 || text.back() != '%')
    return std::nullopt;
  try {
    std::size_t used = 0;
    const double v = std::stod(text.substr(0, text.size() - 1), &used);
    if (used != text.size() - 1 || !std::isfinite(v))
      return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

class auto_resolver {
public:
  auto_resolver(std::string origin, const load_options& opts, config_document& out)
      : origin_(std::move(origin)), opts_(opts), out_(out) {}

  const host_resources& host() {
    if (!host_)
      host_ = opts_.host ? *opts_.host : detect_host_resources();
    return *host_;
  }

  void run(toml::table& doc) {
    if (auto* e = doc.get_as<toml::table>("engine")) {
      integer(*e, "worker_threads", "engine.worker_threads", "[engine]", [this] {
        const auto n = auto_worker_threads(host());
        return std::pair<std::int64_t, std::string>(
            n, cores() + ": one scheduler thread per core, one left to the host (1 to 8)");
      });
      if (auto* q = e->get_as<toml::table>("quota"))
        memory(*q, "engine.quota.memory_mb", "[engine.quota]", true);
    }
    for (const auto& section : component_sections) {
      auto* comps = doc.get_as<toml::table>(section.name);
      if (!comps)
        continue;
      for (auto&& [name, node] : *comps) {
        auto* t = node.as_table();
        if (!t)
          continue;
        const std::string key = std::string(section.name) + "." + std::string(name.str());
        const std::string where = "[" + key + "]";
        integer(*t, "workers", key + ".workers", where, [this] {
          const auto n = auto_scan_workers(host());
          return std::pair<std::int64_t, std::string>(
              n, cores() + ": half the cores for a scan's workers (1 to 4)");
        });
        if (auto* q = t->get_as<toml::table>("quota"))
          memory(*q, key + ".quota.memory_mb", where + " quota", false);
      }
    }
  }

private:
  std::string cores() {
    return std::to_string(host().cores) + (host().cores == 1 ? " core" : " cores");
  }

  void record(toml::table& t, const char* key, const std::string& path, const toml::node& n,
              std::string written, std::int64_t value, std::string reason) {
    out_.resolved.push_back(resolved_value{path, std::move(written), value, std::move(reason),
                                           position_of(n.source(), origin_)});
    t.insert_or_assign(key, value);
  }

  template <typename Rule>
  void integer(toml::table& t, const char* key, const std::string& path, const std::string& where,
               Rule rule) {
    const auto* n = t.get(key);
    const auto* s = n ? n->as_string() : nullptr;
    if (!s)
      return; // absent, or a number (checked with the rest), or another type (the checker says)
    if (s->get() != "auto") {
      out_.errors.push_back({position_of(n->source(), origin_),
                             "'" + std::string(key) + "' in " + where +
                                 " must be a whole number or \"auto\", not '" + s->get() + "'"});
      t.erase(key);
      return;
    }
    auto [value, reason] = rule();
    record(t, key, path, *n, "auto", value, std::move(reason));
  }

  void memory(toml::table& q, const std::string& path, const std::string& where, bool engine) {
    const auto* n = q.get("memory_mb");
    const auto* s = n ? n->as_string() : nullptr;
    if (!s)
      return;
    const std::string text = s->get();
    const auto mib = static_cast<double>(host().memory_bytes) / (1 << 20);
    char total[48];
    std::snprintf(total, sizeof total, "%.0f MiB", mib);
    if (engine && text == "auto") {
      const auto v = auto_engine_memory_mb(host());
      record(q, "memory_mb", path, *n, text, static_cast<std::int64_t>(v),
             std::string("5% of ") + total + " (64 to 1024 MiB)");
      return;
    }
    const auto pct = percent_of(text);
    if (!pct || *pct <= 0 || *pct > 100) {
      out_.errors.push_back({position_of(n->source(), origin_),
                             "'memory_mb' in " + where +
                                 " must be a number of MiB, a share of the host's memory " +
                                 "such as \"10%\" (above 0, at most 100%)" +
                                 (engine ? " or \"auto\"" : "") + ", not '" + text + "'"});
      q.erase("memory_mb");
      return;
    }
    const auto v =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(mib * *pct / 100)));
    record(q, "memory_mb", path, *n, text, v, text + " of " + total);
  }

  std::string origin_;
  const load_options& opts_;
  config_document& out_;
  std::optional<host_resources> host_;
};

/// Reads the profile `name` (a built-in name, or a file when it holds a '/') for a file whose
/// `[engine] profile` (or --profile) asked for it at `asked`.
std::optional<toml::table> read_profile(const std::string& name, const source_position& asked,
                                        config_document& out) {
  std::string text, origin;
  if (name.find('/') != std::string::npos) {
    std::ifstream in(name, std::ios::binary);
    if (!in) {
      out.errors.push_back(
          {asked, "cannot read the profile " + name + ": " + std::strerror(errno)});
      return std::nullopt;
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
    origin = name;
  } else if (auto t = profile_text(name)) {
    text = std::string(*t);
    origin = "<profile:" + name + ">";
  } else {
    std::vector<std::string> known(std::begin(profile_names), std::end(profile_names));
    known.push_back("auto");
    out.errors.push_back({asked, "unknown profile '" + name + "'" + did_you_mean(name, known) +
                                     " (profiles: " + join_quoted(known) +
                                     ", or the path of a profile file)"});
    return std::nullopt;
  }
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view(origin));
  } catch (const toml::parse_error& e) {
    out.errors.push_back({source_position{origin, e.source().begin.line, e.source().begin.column},
                          "syntax error in the profile: " + std::string(e.description())});
    return std::nullopt;
  }
  if (const auto* e = doc.get_as<toml::table>("engine"))
    if (const auto* p = e->get("profile")) {
      out.errors.push_back({position_of(p->source(), origin),
                            "a profile cannot stand on another profile: remove 'profile' from "
                            "its [engine]"});
      return std::nullopt;
    }
  out.profile.origin = origin;
  return doc;
}

config_document compose_table(toml::table root, const std::string& origin,
                              const load_options& opts) {
  config_document out;
  auto_resolver resolver(origin, opts, out);
  std::string requested = opts.profile;
  source_position asked{"--profile", 0, 0};
  if (requested.empty())
    if (const auto* e = root.get_as<toml::table>("engine"))
      if (const auto* p = e->get_as<std::string>("profile")) {
        requested = p->get();
        asked = position_of(p->source(), origin);
      }
  if (!requested.empty()) {
    out.profile.requested = requested;
    out.profile.name = requested;
    if (requested == "auto") {
      auto choice = choose_profile(resolver.host());
      out.profile.name = choice.name;
      out.profile.reason = std::move(choice.reason);
    }
    if (auto base = read_profile(out.profile.name, asked, out))
      merge_under(root, std::move(*base));
  }
  resolver.run(root);
  out.doc = std::move(root);
  return out;
}

/// `text` parsed as `origin`; nullopt with the syntax error in `errors`.
std::optional<toml::table> parse_config_text(std::string_view text, const std::string& origin,
                                             diagnostics& errors) {
  try {
    return toml::parse(text, std::string_view(origin));
  } catch (const toml::parse_error& e) {
    errors.push_back(
        diagnostic{source_position{origin, e.source().begin.line, e.source().begin.column},
                   "syntax error: " + std::string(e.description())});
    return std::nullopt;
  }
}

/// The text of the config file at `path`; nullopt with why it cannot be read in `errors`.
std::optional<std::string> read_config_text(const std::string& path, diagnostics& errors) {
  auto fail = [&](std::string why) {
    errors.push_back(diagnostic{source_position{path, 0, 0}, "cannot read the config file" + why});
    return std::nullopt;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return fail(": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(": " + std::string(std::strerror(errno)));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return fail("");
  return buf.str();
}

} // namespace

config_document compose_config(std::string_view text, std::string origin,
                               const load_options& opts) {
  config_document out;
  auto root = parse_config_text(text, origin, out.errors);
  return root ? compose_table(std::move(*root), origin, opts) : out;
}

config_document compose_config_file(const std::string& path, const load_options& opts) {
  if (path.empty())
    return compose_config(default_config_text(), "<default>", opts);
  config_document out;
  auto text = read_config_text(path, out.errors);
  return text ? compose_config(*text, path, opts) : out;
}

config_result load_config_string(std::string_view text, std::string origin,
                                 const load_options& opts) {
  config_result syntax;
  auto root = parse_config_text(text, origin, syntax.errors);
  if (!root)
    return syntax;
  auto composed = compose_table(std::move(*root), origin, opts);
  std::vector<key_origin> origins;
  collect_origins(composed.doc, "", origin, origins);
  for (auto& o : origins)
    for (const auto& r : composed.resolved)
      if (o.key == r.key)
        o.where = r.where; // the resolved number has no place of its own: its "auto" has
  auto result = load_table(composed.doc, origin, opts.types ? *opts.types : registry::instance());
  if (!composed.errors.empty()) {
    result.errors.insert(result.errors.begin(), composed.errors.begin(), composed.errors.end());
    result.config.reset();
    return result;
  }
  if (result.config) {
    result.config->engine.profile = composed.profile.requested;
    result.config->profile = std::move(composed.profile);
    result.config->resolved = std::move(composed.resolved);
    result.config->origins = std::move(origins);
  }
  return result;
}

config_result load_config_string(std::string_view text, std::string origin, const registry& reg) {
  load_options opts;
  opts.types = &reg;
  return load_config_string(text, std::move(origin), opts);
}

diagnostics check_components(const pipeline_config& cfg, const registry& reg) {
  diagnostics out;
  for (const auto& d : cfg.components) {
    if (!d.enabled)
      continue;
    const auto* type = reg.find(d.kind, d.type);
    if (!type)
      continue; // reported by the loader
    const std::string where = "[" + std::string(section_of(d.kind)) + "." + d.name + "]";
    component_init init{d.name, d.settings, cfg.engine.state_dir, d.quota};
    try {
      if (type->check)
        type->check(init);
      else if (type->factory)
        (void)type->factory(init);
    } catch (const std::exception& e) {
      out.push_back({d.where, where + " would not start: " + e.what()});
    } catch (...) {
      out.push_back({d.where, where + " would not start: unknown error"});
    }
  }
  return out;
}

diagnostics check_components(const pipeline_config& cfg) {
  return check_components(cfg, registry::instance());
}

config_result load_config_string(std::string_view text, std::string origin) {
  return load_config_string(text, std::move(origin), load_options{});
}

config_result load_config_file(const std::string& path, const registry& reg) {
  load_options opts;
  opts.types = &reg;
  return load_config_file(path, opts);
}

config_result load_config_file(const std::string& path, const load_options& opts) {
  config_result unreadable;
  auto text = read_config_text(path, unreadable.errors);
  return text ? load_config_string(*text, path, opts) : unreadable;
}

config_result load_config_file(const std::string& path) {
  return load_config_file(path, load_options{});
}

config_result load_default_config() {
  return load_config_string(default_config_text(), "<default>");
}

std::vector<std::string> common_component_keys() {
  return keys_of(common_specs());
}

std::optional<std::string_view> profile_text(std::string_view name) noexcept {
  if (name == "low-resource")
    return low_resource_profile_text();
  if (name == "desktop")
    return desktop_profile_text();
  if (name == "server")
    return server_profile_text();
  return std::nullopt;
}

std::optional<named_table> find_component_table(const toml::table& doc, std::string_view section,
                                                std::string_view type, std::string_view name) {
  if (const auto* tables = doc[section].as_table())
    for (const auto& [key, node] : *tables)
      if (const auto* t = node.as_table();
          t && (*t)["type"].value<std::string>() == type && (name.empty() || key.str() == name))
        return named_table{std::string(key.str()), *t};
  return std::nullopt;
}

} // namespace pg::runtime
