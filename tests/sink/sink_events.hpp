// SPDX-License-Identifier: Apache-2.0
// sink_events.hpp — findings and batches for driving sinks in tests.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "phantomguard/runtime/event.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::test {

/// A finding with a fixed time so that its JSON line has a predictable length.
inline runtime::finding make_finding(int index, runtime::severity level = runtime::severity::high,
                                     std::string title = "test finding") {
  runtime::finding f;
  f.time = runtime::wall_clock::time_point(std::chrono::seconds(1'790'000'000));
  f.host = "testhost";
  f.analyzer = "gen";
  f.rule = "test.rule";
  f.level = level;
  f.title = std::move(title);
  char id[16];
  std::snprintf(id, sizeof id, "%04d", index);
  f.entity = {{"name", id}};
  return f;
}

/// A finding whose JSON line (with its id and newline) is exactly `bytes` long (at least 200:
/// short host, analyzer and rule leave room).
inline runtime::finding sized_finding(int index, std::size_t bytes) {
  auto f = make_finding(index, runtime::severity::high, "");
  f.host = "h";
  f.analyzer = "g";
  f.rule = "t.r";
  const auto base = f.to_jsonl().size() + 1;
  f.title = std::string(bytes - base, 'x');
  return f;
}

inline runtime::batch_ptr findings_batch(std::vector<runtime::finding> findings) {
  std::vector<runtime::event> events;
  for (auto& f : findings)
    events.push_back(runtime::make_finding_event(std::move(f), "gen"));
  return runtime::make_batch(std::move(events));
}

inline runtime::event process_event(std::int64_t pid) {
  runtime::event e;
  e.kind = "process";
  e.source = "procfs";
  e.time = runtime::wall_clock::time_point(std::chrono::seconds(1'790'000'000));
  e.set("pid", pid).set("comm", std::string("bash"));
  return e;
}

} // namespace pg::test
