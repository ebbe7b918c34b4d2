// SPDX-License-Identifier: Apache-2.0
// bench_sink — how fast the jsonl sink writes findings under each flush policy, against a
// baseline measured in the same run: the same JSON lines written with one write(2) per 64 KiB.
// And how long the config check takes on a large pipeline.
//
//   bench_sink [findings=200000] [components=1000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "phantomguard/actors/sink/jsonl_sink.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "support/test_context.hpp"

using namespace pg::runtime;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::vector<batch_ptr> make_batches(int count, int batch_size) {
  std::vector<batch_ptr> out;
  std::vector<event> events;
  for (int i = 0; i < count; ++i) {
    finding f;
    f.time = wall_clock::now();
    f.host = "bench";
    f.analyzer = "gen";
    f.rule = "bench.rule";
    f.level = severity::medium;
    f.title = "a finding of typical length for the benchmark";
    f.entity = {{"pid", i}, {"exe", "/usr/bin/bench"}};
    f.evidence = {{"count", i}};
    events.push_back(make_finding_event(std::move(f), "gen"));
    if (static_cast<int>(events.size()) == batch_size) {
      out.push_back(make_batch(std::move(events)));
      events.clear();
    }
  }
  if (!events.empty())
    out.push_back(make_batch(std::move(events)));
  return out;
}

double run_sink(const std::string& path, const std::string& extra,
                const std::vector<batch_ptr>& batches) {
  ::unlink(path.c_str());
  component_settings s(toml::parse(std::string_view("path = '" + path + "'\n" + extra)));
  pg::actors::sink::jsonl_sink sink("bench", s);
  pg::test::test_context ctx("bench");
  const auto t0 = clock_type::now();
  sink.start(ctx);
  for (const auto& b : batches)
    sink.on_batch(*b, ctx);
  sink.stop(ctx);
  return seconds_since(t0);
}

double run_baseline(const std::string& path, const std::vector<batch_ptr>& batches) {
  ::unlink(path.c_str());
  const auto t0 = clock_type::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  std::string buf;
  for (const auto& b : batches) {
    for (const auto& e : b->events) {
      buf += e.payload->to_jsonl();
      buf += '\n';
      if (buf.size() >= 64 * 1024) {
        if (::write(fd, buf.data(), buf.size()) < 0)
          std::perror("write");
        buf.clear();
      }
    }
  }
  if (!buf.empty() && ::write(fd, buf.data(), buf.size()) < 0)
    std::perror("write");
  ::close(fd);
  return seconds_since(t0);
}

std::string large_config(int components) {
  std::string text = "[engine]\nlog_level = \"info\"\n";
  for (int i = 0; i < components; ++i)
    text += "[sources.s" + std::to_string(i) +
            "]\ntype = \"src\"\ninterval = \"10s\"\n"
            "mailbox = { window = 512, overflow = \"drop_oldest\" }\n";
  text += "[sinks.out]\ntype = \"jsonl\"\npath = \"/dev/null\"\ninputs = [";
  for (int i = 0; i < components; ++i)
    text += (i ? ", \"s" : "\"s") + std::to_string(i) + "\"";
  text += "]\n";
  return text;
}

} // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int components = argc > 2 ? std::atoi(argv[2]) : 1000;
  const std::string path = "/tmp/pg_bench_sink.jsonl";
  const auto batches = make_batches(count, 256);

  const double base = run_baseline(path, batches);
  std::printf("jsonl sink, %d findings in batches of 256 (lines/s; ratio to baseline)\n", count);
  std::printf("  %-34s %10.0f lines/s  1.00\n", "baseline: write(2) per 64 KiB", count / base);
  const std::pair<const char*, const char*> policies[] = {
      {"flush = interval (1s, default)", "flush = 'interval'"},
      {"flush = count (100)", "flush = 'count'\nflush_count = 100"},
      {"flush = event", "flush = 'event'"},
      {"interval + rotation at 8MiB", "max_size = '8MiB'\nmax_files = 2"},
  };
  for (const auto& [label, extra] : policies) {
    const double t = run_sink(path, extra, batches);
    std::printf("  %-34s %10.0f lines/s  %.2f\n", label, count / t, base / t);
  }
  for (const char* suffix : {"", ".1", ".2"})
    ::unlink((path + suffix).c_str());

  registry reg;
  component_type src;
  src.name = "src";
  src.kind = component_kind::source;
  reg.add(src);
  component_type sink;
  sink.name = "jsonl";
  sink.kind = component_kind::sink;
  sink.options = pg::actors::sink::jsonl_sink::options();
  reg.add(sink);
  const auto text = large_config(components);
  const auto t0 = clock_type::now();
  auto r = load_config_string(text, "bench.toml", reg);
  const double t = seconds_since(t0);
  std::printf("config check: %d sources + 1 sink with %d inputs (%zu bytes): %.1f ms (%s)\n",
              components, components, text.size(), t * 1e3, r.ok() ? "ok" : "errors");
  return r.ok() ? 0 : 1;
}
