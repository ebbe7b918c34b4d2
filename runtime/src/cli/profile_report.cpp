// SPDX-License-Identifier: Apache-2.0
#include "cli/profile_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace pg::cli {

using namespace pg::runtime;

namespace {

std::int64_t counter(const component_metrics& m, const std::string& key) {
  auto it = m.counters.find(key);
  return it == m.counters.end() ? 0 : it->second;
}

std::optional<std::int64_t> counter_if(const component_metrics& m, const std::string& key) {
  auto it = m.counters.find(key);
  if (it == m.counters.end())
    return std::nullopt;
  return it->second;
}

double gauge(const component_metrics& m, const std::string& key) {
  auto it = m.gauges.find(key);
  return it == m.gauges.end() ? 0.0 : it->second;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string micros_text(double us) {
  if (us < 1000)
    return fixed(us, 0) + " us";
  if (us < 1e6)
    return fixed(us / 1000, us < 1e4 ? 2 : 1) + " ms";
  return fixed(us / 1e6, 2) + " s";
}

std::string seconds_text(double s) {
  if (s < 1)
    return fixed(s * 1000, s < 0.01 ? 2 : 1) + " ms";
  return fixed(s, 2) + " s";
}

std::string percent_text(double fraction) {
  return fixed(fraction * 100, fraction < 0.1 ? 1 : 0) + "%";
}

std::string section_of(const std::string& kind) {
  if (kind == "source")
    return "sources";
  if (kind == "sink")
    return "sinks";
  if (kind == "detector")
    return "detectors";
  return "analyzers";
}

void recommend(profile_report& r) {
  auto& out = r.recommendations;
  double component_cpu = 0;
  for (const auto& c : r.components)
    component_cpu += c.cpu_seconds;
  const double wall = std::max(r.wall_seconds, 1e-9);
  for (const auto& c : r.components) {
    const std::string table = "[" + section_of(c.kind) + "." + c.name + "]";
    if (c.failures > 0 || c.restarts > 0)
      out.push_back({c.name,
                     std::to_string(c.failures) + " failed hook(s), " + std::to_string(c.restarts) +
                         " restart(s)",
                     "the engine.component_failed findings and the log say why; fix that before "
                     "reading its other figures"});
    if (c.dropped + c.lost > 0)
      out.push_back({c.name,
                     std::to_string(c.dropped) + " event(s) dropped on its outputs and " +
                         std::to_string(c.lost) + " lost at collection",
                     "give its consumers room (their mailbox.capacity) or let it produce less "
                     "(its interval); every loss is also an engine.events_lost finding"});
    if (c.quota_memory_mb && *c.quota_memory_mb > 0) {
      const double quota = static_cast<double>(*c.quota_memory_mb) * 1024 * 1024;
      if (c.memory_peak_bytes >= 0.8 * quota)
        out.push_back({c.name,
                       "peaked at " + human_bytes(c.memory_peak_bytes) + " of its " +
                           std::to_string(*c.quota_memory_mb) + " MiB memory quota",
                       "raise " + table +
                           " quota.memory_mb, or it is throttled and restarted "
                           "when its input grows"});
    }
    const double cores = c.cpu_seconds / wall;
    if (component_cpu > 0 && c.cpu_seconds >= 0.5 * component_cpu && cores >= 0.25) {
      if (c.quota_cpu_percent)
        out.push_back(
            {c.name,
             "used " + percent_text(c.cpu_seconds / component_cpu) + " of the components' CPU, " +
                 fixed(cores * 100, 0) +
                 "% of a core over the run (its quota: " + fixed(*c.quota_cpu_percent, 0) + "%)",
             "it works at its quota; a lower " + table +
                 " quota.cpu_percent spreads the same work over more time"});
      else
        out.push_back({c.name,
                       "used " + percent_text(c.cpu_seconds / component_cpu) +
                           " of the components' CPU, " + fixed(cores * 100, 0) +
                           "% of a core over the run, with no CPU quota",
                       "if that is too much for this host, set " + table +
                           " quota.cpu_percent, or a throttle (nice, window, max_load) for its "
                           "scans"});
    }
    if (auto rate = c.cache_hit_rate();
        rate && *c.cache_hits + *c.cache_misses >= 100 && *rate < 0.5)
      out.push_back({c.name,
                     "its cache answered " + percent_text(*rate) + " of " +
                         std::to_string(*c.cache_hits + *c.cache_misses) + " lookups",
                     r.mode == "scan"
                         ? "a first scan fills the cache: profile a second scan before changing "
                           "it; if it stays low, the cache is too small or expires too soon"
                         : "the cache is too small or its entries expire too soon for this "
                           "host's churn (process: refresh)"});
    if (r.mode == "run" && c.events_in > 0 && c.p99_us >= 1e6)
      out.push_back({c.name, "1% of its batches took " + micros_text(c.p99_us) + " or more",
                     "its input queues behind a slow call: a smaller engine.batch_size makes "
                     "each call shorter, a quota.handler_timeout bounds it"});
    if (c.pauses > 0)
      out.push_back({c.name,
                     "its throttle paused it " + std::to_string(c.pauses) + " time(s), " +
                         seconds_text(c.paused_seconds) + " in all",
                     "expected while the host is busy; if its scans then finish too late, raise "
                     "its throttle's max_load or widen its window"});
  }
  const double process_cpu = static_cast<double>(r.used.cpu_ns()) / 1e9;
  if (process_cpu >= 1.0 && r.engine_cpu_seconds() >= 0.5 * process_cpu)
    out.push_back({"engine",
                   "the engine's own threads used " + seconds_text(r.engine_cpu_seconds()) +
                       " of the process's " + seconds_text(process_cpu) + " of CPU",
                   "more than the components themselves: fewer engine.worker_threads, a longer "
                   "engine.tick_interval or a larger engine.batch_size lower that"});
  if (r.timed_out)
    out.push_back({"engine", "the scan hit its timeout and busy components were stopped",
                   "the figures are of an incomplete scan: raise --timeout"});
}

// -- HTML -----------------------------------------------------------------------------------

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

struct bar {
  std::string component;
  double value = 0;
  std::string label;
};

// A horizontal bar chart: one row per component, the longest bar the largest value.
std::string bar_chart(const std::string& id, const std::string& title, std::vector<bar> bars,
                      const std::string& colour) {
  std::erase_if(bars, [](const bar& b) { return !(b.value > 0); });
  std::sort(bars.begin(), bars.end(), [](const bar& a, const bar& b) { return a.value > b.value; });
  const int row = 24, label_w = 170, bar_w = 430, width = label_w + bar_w + 230;
  const int height = 34 + row * std::max<int>(1, static_cast<int>(bars.size()));
  std::ostringstream o;
  o << "<figure><svg id=\"" << id << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height
    << "\" role=\"img\" aria-label=\"" << escape(title) << "\"><title>" << escape(title)
    << "</title>";
  o << "<text x=\"0\" y=\"16\" class=\"chart-title\">" << escape(title) << "</text>";
  if (bars.empty()) {
    o << "<text x=\"0\" y=\"44\" class=\"none\">nothing measured</text>";
  } else {
    const double top = bars.front().value;
    int y = 30;
    for (const auto& b : bars) {
      const double w = std::max(1.0, b.value / top * bar_w);
      o << "<g class=\"bar\" data-component=\"" << escape(b.component) << "\"><title>"
        << escape(b.component + ": " + b.label) << "</title><text x=\"" << label_w - 8 << "\" y=\""
        << y + 15 << "\" text-anchor=\"end\">" << escape(b.component) << "</text><rect x=\""
        << label_w << "\" y=\"" << y + 3 << "\" width=\"" << fixed(w, 1) << "\" height=\""
        << row - 8 << "\" fill=\"" << colour << "\"/><text x=\"" << fixed(label_w + w + 6, 1)
        << "\" y=\"" << y + 15 << "\">" << escape(b.label) << "</text></g>";
      y += row;
    }
  }
  o << "</svg></figure>\n";
  return o.str();
}

// p50, p95 and p99 of each component's hooks on a logarithmic axis (1 us ... the slowest p99).
std::string latency_chart(const std::vector<component_profile>& cs) {
  std::vector<const component_profile*> rows;
  for (const auto& c : cs)
    if (c.hook_calls > 0)
      rows.push_back(&c);
  const int row = 24, label_w = 170, axis_w = 450, width = label_w + axis_w + 60;
  const int height = 64 + row * std::max<int>(1, static_cast<int>(rows.size()));
  double top = 10;
  for (const auto* c : rows)
    top = std::max(top, c->p99_us);
  const double decades = std::max(1.0, std::ceil(std::log10(top)));
  auto x_of = [&](double us) { return label_w + std::log10(std::max(1.0, us)) / decades * axis_w; };
  const std::string title = "Hook latency per component: p50, p95, p99 (log scale)";
  std::ostringstream o;
  o << "<figure><svg id=\"latency-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height
    << "\" role=\"img\" aria-label=\"" << title << "\"><title>" << title << "</title>"
    << "<text x=\"0\" y=\"16\" class=\"chart-title\">" << title << "</text>";
  const int axis_y = 30 + row * std::max<int>(1, static_cast<int>(rows.size())) + 4;
  for (int d = 0; d <= static_cast<int>(decades); ++d) {
    const double us = std::pow(10.0, d);
    const double x = x_of(us);
    o << "<line x1=\"" << fixed(x, 1) << "\" y1=\"26\" x2=\"" << fixed(x, 1) << "\" y2=\"" << axis_y
      << "\" class=\"grid\"/><text x=\"" << fixed(x, 1) << "\" y=\"" << axis_y + 16
      << "\" text-anchor=\"middle\" class=\"axis\">" << micros_text(us) << "</text>";
  }
  int y = 30;
  for (const auto* c : rows) {
    o << "<g class=\"latency\" data-component=\"" << escape(c->name) << "\"><title>"
      << escape(c->name + ": p50 " + micros_text(c->p50_us) + ", p95 " + micros_text(c->p95_us) +
                ", p99 " + micros_text(c->p99_us) + " over " + std::to_string(c->hook_calls) +
                " calls")
      << "</title><text x=\"" << label_w - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">"
      << escape(c->name) << "</text><line x1=\"" << fixed(x_of(c->p50_us), 1) << "\" y1=\""
      << y + 11 << "\" x2=\"" << fixed(x_of(c->p99_us), 1) << "\" y2=\"" << y + 11
      << "\" class=\"span\"/>";
    const std::pair<const char*, double> marks[] = {
        {"p50", c->p50_us}, {"p95", c->p95_us}, {"p99", c->p99_us}};
    for (const auto& [what, us] : marks)
      o << "<circle cx=\"" << fixed(x_of(us), 1) << "\" cy=\"" << y + 11 << "\" r=\"5\" class=\""
        << what << "\"/>";
    o << "</g>";
    y += row;
  }
  if (rows.empty())
    o << "<text x=\"0\" y=\"44\" class=\"none\">no hook ran</text>";
  o << "</svg><figcaption><span class=\"key p50\"></span> p50 <span class=\"key p95\"></span> "
       "p95 <span class=\"key p99\"></span> p99</figcaption></figure>\n";
  return o.str();
}

const char* style = R"(
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1d2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:4px}
.meta{color:#5a6473;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #d8dde6;border-radius:6px;padding:8px 14px;min-width:140px}
.card b{display:block;font-size:18px}.card span{color:#5a6473;font-size:12px}
figure{margin:12px 0}svg text{font:12px system-ui,sans-serif;fill:#1d2430}.chart-title{font-weight:600}
.none{fill:#5a6473}.grid{stroke:#e3e7ee}.axis{fill:#5a6473;font-size:11px}.span{stroke:#9aa5b5;stroke-width:2}
circle.p50,.key.p50{fill:#2f7d32;background:#2f7d32}circle.p95,.key.p95{fill:#d28a00;background:#d28a00}
circle.p99,.key.p99{fill:#b3261e;background:#b3261e}.key{display:inline-block;width:10px;height:10px;border-radius:5px;margin-left:8px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e3e7ee;padding:4px 6px;text-align:right;white-space:nowrap}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}thead th{background:#f3f5f8}
ol.recommendations li{margin:6px 0}.what{color:#5a6473}footer{margin-top:28px;color:#5a6473;font-size:12px}
)";

} // namespace

std::optional<double> component_profile::cache_hit_rate() const {
  if (!cache_hits || !cache_misses || *cache_hits + *cache_misses <= 0)
    return std::nullopt;
  return static_cast<double>(*cache_hits) / static_cast<double>(*cache_hits + *cache_misses);
}

double profile_report::engine_cpu_seconds() const {
  double components_cpu = 0;
  for (const auto& c : components)
    components_cpu += c.cpu_seconds;
  return std::max(0.0, static_cast<double>(used.cpu_ns()) / 1e9 - components_cpu);
}

void fill_components(profile_report& r, const pipeline_config& cfg, const metrics_snapshot& metrics,
                     const std::map<std::string, std::size_t>& findings_by_component) {
  for (const auto& d : cfg.components) {
    const auto* m = metrics.find(d.name);
    if (!m)
      continue; // disabled: it never ran
    component_profile c;
    c.name = d.name;
    c.kind = std::string(to_string(d.kind));
    c.type = d.type;
    c.cpu_seconds = static_cast<double>(counter(*m, "cpu_time_us")) / 1e6;
    if (auto it = m->histograms.find("handler_latency_us"); it != m->histograms.end()) {
      c.hook_seconds = it->second.sum / 1e6;
      c.hook_calls = it->second.count;
      c.p50_us = it->second.p50;
      c.p95_us = it->second.p95;
      c.p99_us = it->second.p99;
      c.max_us = it->second.max;
    }
    c.events_in = counter(*m, "events_in");
    c.events_out = counter(*m, "events_out");
    for (const auto& [key, value] : m->counters)
      if (key.rfind("dropped_", 0) == 0)
        c.dropped += value;
    c.lost = counter(*m, "events_lost");
    c.restarts = counter(*m, "restarts");
    c.failures = counter(*m, "failures");
    c.memory_peak_bytes = gauge(*m, "memory_peak_bytes");
    c.read_bytes = counter(*m, "read_bytes");
    c.write_bytes = counter(*m, "write_bytes");
    c.storage_read_bytes = counter(*m, "storage_read_bytes");
    c.cache_hits = counter_if(*m, "custom.cache_hits");
    c.cache_misses = counter_if(*m, "custom.cache_misses");
    c.pauses = counter(*m, "pauses");
    c.paused_seconds = static_cast<double>(counter(*m, "paused_us")) / 1e6;
    c.quota_cpu_percent = d.quota.cpu_percent;
    c.quota_memory_mb = d.quota.memory_mb;
    if (auto it = findings_by_component.find(d.name); it != findings_by_component.end())
      c.findings = static_cast<std::int64_t>(it->second);
    r.components.push_back(std::move(c));
  }
  recommend(r);
}

nlohmann::json to_json(const profile_report& r) {
  nlohmann::json j;
  j["version"] = r.version;
  j["host"] = r.host;
  j["config"] = r.config;
  j["profile"] = r.profile;
  j["mode"] = r.mode;
  j["started"] = r.started;
  j["wall_seconds"] = r.wall_seconds;
  j["timed_out"] = r.timed_out;
  j["findings"] = r.findings;
  j["process"] = {{"cpu_seconds", static_cast<double>(r.used.cpu_ns()) / 1e9},
                  {"user_seconds", static_cast<double>(r.used.user_ns) / 1e9},
                  {"system_seconds", static_cast<double>(r.used.system_ns) / 1e9},
                  {"engine_cpu_seconds", r.engine_cpu_seconds()},
                  {"peak_rss_bytes", r.peak_rss_bytes},
                  {"peak_counts_from", r.peak_from_start ? "process start" : "profile start"},
                  {"rss_end_bytes", r.rss_end_bytes},
                  {"io", r.used.io_known
                             ? nlohmann::json{{"read_bytes", r.used.io.read_chars},
                                              {"write_bytes", r.used.io.write_chars},
                                              {"storage_read_bytes", r.used.io.storage_read},
                                              {"storage_write_bytes", r.used.io.storage_write}}
                             : nlohmann::json(nullptr)}};
  auto& cs = j["components"] = nlohmann::json::array();
  for (const auto& c : r.components) {
    nlohmann::json o{{"name", c.name},
                     {"kind", c.kind},
                     {"type", c.type},
                     {"cpu_seconds", c.cpu_seconds},
                     {"hook_seconds", c.hook_seconds},
                     {"hook_calls", c.hook_calls},
                     {"latency_us",
                      {{"p50", c.p50_us}, {"p95", c.p95_us}, {"p99", c.p99_us}, {"max", c.max_us}}},
                     {"events_in", c.events_in},
                     {"events_out", c.events_out},
                     {"findings", c.findings},
                     {"dropped", c.dropped},
                     {"lost", c.lost},
                     {"restarts", c.restarts},
                     {"failures", c.failures},
                     {"memory_peak_bytes", c.memory_peak_bytes},
                     {"read_bytes", c.read_bytes},
                     {"write_bytes", c.write_bytes},
                     {"storage_read_bytes", c.storage_read_bytes},
                     {"pauses", c.pauses},
                     {"paused_seconds", c.paused_seconds}};
    if (c.cache_hits || c.cache_misses) {
      o["cache"] = {{"hits", c.cache_hits.value_or(0)}, {"misses", c.cache_misses.value_or(0)}};
      if (auto rate = c.cache_hit_rate())
        o["cache"]["hit_rate"] = *rate;
    }
    cs.push_back(std::move(o));
  }
  auto top = [&](auto value) {
    std::vector<const component_profile*> v;
    for (const auto& c : r.components)
      if (value(c) > 0)
        v.push_back(&c);
    std::sort(v.begin(), v.end(),
              [&](const auto* a, const auto* b) { return value(*a) > value(*b); });
    nlohmann::json names = nlohmann::json::array();
    for (std::size_t i = 0; i < v.size() && i < 5; ++i)
      names.push_back(v[i]->name);
    return names;
  };
  j["top_costs"] = {
      {"cpu", top([](const component_profile& c) { return c.cpu_seconds; })},
      {"memory", top([](const component_profile& c) { return c.memory_peak_bytes; })},
      {"read", top([](const component_profile& c) { return static_cast<double>(c.read_bytes); })},
      {"hook_time", top([](const component_profile& c) { return c.hook_seconds; })}};
  auto& recs = j["recommendations"] = nlohmann::json::array();
  for (const auto& rec : r.recommendations)
    recs.push_back(
        {{"component", rec.component}, {"measured", rec.measured}, {"advice", rec.advice}});
  return j;
}

std::string to_html(const profile_report& r) {
  std::ostringstream o;
  const double process_cpu = static_cast<double>(r.used.cpu_ns()) / 1e9;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width\">"
    << "<title>PhantomGuard profile: " << escape(r.host) << "</title><style>" << style
    << "</style></head><body data-mode=\"" << escape(r.mode) << "\">\n";
  o << "<h1>PhantomGuard profile</h1><p class=\"meta\">"
    << (r.mode == "scan" ? "One scan" : "A run of " + seconds_text(r.wall_seconds)) << " of "
    << escape(r.config) << (r.profile.empty() ? "" : " (profile " + escape(r.profile) + ")")
    << " on " << escape(r.host) << ", started " << escape(r.started) << ", phantomguard "
    << escape(r.version) << (r.timed_out ? "; <b>the scan timed out</b>" : "") << "</p>\n";
  auto card = [&](const std::string& id, const std::string& value, const std::string& what) {
    o << "<div class=\"card\" id=\"" << id << "\"><b>" << escape(value) << "</b><span>"
      << escape(what) << "</span></div>";
  };
  o << "<section id=\"summary\" class=\"cards\">";
  card("wall", seconds_text(r.wall_seconds), "wall time");
  card("cpu", seconds_text(process_cpu),
       "process CPU (" + fixed(process_cpu / std::max(r.wall_seconds, 1e-9) * 100, 0) +
           "% of a core)");
  card("engine-cpu", seconds_text(r.engine_cpu_seconds()), "engine's own CPU");
  card("peak-rss", human_bytes(static_cast<double>(r.peak_rss_bytes)),
       r.peak_from_start ? "peak RSS (since the process started)" : "peak RSS");
  if (r.used.io_known)
    card("io",
         human_bytes(static_cast<double>(r.used.io.read_chars)) + " / " +
             human_bytes(static_cast<double>(r.used.io.write_chars)),
         "read / written");
  card("findings", std::to_string(r.findings), "findings");
  o << "</section>\n";

  std::vector<bar> cpu, mem, io, hook;
  for (const auto& c : r.components) {
    cpu.push_back({c.name, c.cpu_seconds,
                   seconds_text(c.cpu_seconds) +
                       (process_cpu > 0 ? " (" + percent_text(c.cpu_seconds / process_cpu) + ")"
                                        : std::string())});
    mem.push_back({c.name, c.memory_peak_bytes, human_bytes(c.memory_peak_bytes)});
    io.push_back({c.name, static_cast<double>(c.read_bytes + c.write_bytes),
                  human_bytes(static_cast<double>(c.read_bytes)) + " read, " +
                      human_bytes(static_cast<double>(c.write_bytes)) + " written"});
    hook.push_back(
        {c.name, c.hook_seconds,
         seconds_text(c.hook_seconds) + " in " + std::to_string(c.hook_calls) + " calls"});
  }
  o << "<h2>Top costs</h2>\n<section id=\"top-costs\">";
  o << bar_chart("cpu-chart", "CPU time per component", cpu, "#3465a4");
  o << bar_chart("hook-chart", "Wall time inside hooks per component", hook, "#5c8dd6");
  o << bar_chart("memory-chart", "Memory peak per component", mem, "#75507b");
  o << bar_chart("io-chart", "I/O per component (read + written)", io, "#c17d11");
  o << "</section>\n<h2>Handler latency</h2>\n<section id=\"latency\">"
    << latency_chart(r.components) << "</section>\n";

  o << "<h2>Recommendations</h2>\n<section id=\"recommendations\">";
  if (r.recommendations.empty())
    o << "<p>Nothing stands out: no component failed, lost events, neared its memory quota, "
         "missed its cache, or took most of the CPU.</p>";
  else {
    o << "<ol class=\"recommendations\">";
    for (const auto& rec : r.recommendations)
      o << "<li data-component=\"" << escape(rec.component) << "\"><b>" << escape(rec.component)
        << "</b> <span class=\"what\">" << escape(rec.measured) << ":</span> " << escape(rec.advice)
        << "</li>";
    o << "</ol>";
  }
  o << "</section>\n<h2>Components</h2>\n";
  o << "<table id=\"components\"><thead><tr><th>component</th><th>type</th><th>CPU</th>"
       "<th>hooks</th><th>p50</th><th>p95</th><th>p99</th><th>events in</th><th>events "
       "out</th><th>findings</th><th>memory peak</th><th>read</th><th>written</th>"
       "<th>cache hits</th><th>lost</th></tr></thead><tbody>";
  for (const auto& c : r.components) {
    std::string cache = "-";
    if (auto rate = c.cache_hit_rate())
      cache = percent_text(*rate) + " of " + std::to_string(*c.cache_hits + *c.cache_misses);
    else if (c.cache_hits)
      cache = std::to_string(*c.cache_hits);
    o << "<tr data-component=\"" << escape(c.name) << "\"><td>" << escape(c.name) << "</td><td>"
      << escape(c.kind + " " + c.type) << "</td><td>" << seconds_text(c.cpu_seconds) << "</td><td>"
      << c.hook_calls << "</td><td>" << micros_text(c.p50_us) << "</td><td>"
      << micros_text(c.p95_us) << "</td><td>" << micros_text(c.p99_us) << "</td><td>" << c.events_in
      << "</td><td>" << c.events_out << "</td><td>" << c.findings << "</td><td>"
      << human_bytes(c.memory_peak_bytes) << "</td><td>"
      << human_bytes(static_cast<double>(c.read_bytes)) << "</td><td>"
      << human_bytes(static_cast<double>(c.write_bytes)) << "</td><td>" << cache << "</td><td>"
      << c.dropped + c.lost << "</td></tr>";
  }
  o << "</tbody></table>\n";
  o << "<footer>CPU is each component's threads' own clock (its workers included); hook times "
       "are wall time inside on_tick, on_batch, start and stop; latency percentiles come from "
       "power-of-two buckets, so each is within a factor of two; I/O is the kernel's task I/O "
       "accounting of the component's threads (reads served from the page cache included); "
       "memory is what the component's threads hold on the heap plus what it accounts. The "
       "engine's own CPU is the process's less the components'. docs/performance/profile.md "
       "says more.</footer>\n";
  // The figures themselves, for a script that reads the page: a data block, never run.
  std::string data = to_json(r).dump();
  for (std::size_t at = 0; (at = data.find("</", at)) != std::string::npos; at += 3)
    data.replace(at, 2, "<\\/");
  o << "<script type=\"application/json\" id=\"profile-data\">" << data << "</script>\n";
  o << "</body></html>\n";
  return o.str();
}

} // namespace pg::cli
