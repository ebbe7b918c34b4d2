// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/register.hpp"

#include <iostream>

#include "phantomguard/actors/sink/console_sink.hpp"
#include "phantomguard/actors/sink/http_sink.hpp"
#include "phantomguard/actors/sink/jsonl_sink.hpp"
#include "phantomguard/actors/sink/syslog_sink.hpp"

namespace pg::actors::sink {

void register_components(runtime::registry& reg) {
  runtime::component_type console;
  console.name = "console";
  console.kind = runtime::component_kind::sink;
  console.description = "prints findings on standard output as they arrive (run mode)";
  console.options = console_sink::options();
  console.consumes = {"finding"};
  console.factory = [](const runtime::component_init& init) {
    return std::make_unique<console_sink>(init.settings, std::cout);
  };
  reg.add(std::move(console));

  runtime::component_type jsonl;
  jsonl.name = "jsonl";
  jsonl.kind = runtime::component_kind::sink;
  jsonl.description = "appends findings as JSON Lines to a file, with size-based rotation";
  jsonl.options = jsonl_sink::options();
  jsonl.factory = [](const runtime::component_init& init) {
    return std::make_unique<jsonl_sink>(init.name, init.settings);
  };
  reg.add(std::move(jsonl));

  runtime::component_type http;
  http.name = "http";
  http.kind = runtime::component_kind::sink;
  http.description = "POSTs findings in batches to a webhook or SIEM collector, through a spool "
                     "on disk that keeps them until the collector acknowledged them";
  http.options = http_sink::options();
  http.consumes = {"finding"};
  http.sink_tick = std::chrono::seconds(1); // reports what its sending thread did
  http.factory = [](const runtime::component_init& init) {
    return std::make_unique<http_sink>(init.name, init.state_dir, init.settings);
  };
  reg.add(std::move(http));

  runtime::component_type syslog;
  syslog.name = "syslog";
  syslog.kind = runtime::component_kind::sink;
  syslog.description = "sends findings as syslog messages (RFC 5424 or 3164) over UDP, TCP, TLS "
                       "or /dev/log, through a spool on disk";
  syslog.options = syslog_sink::options();
  syslog.consumes = {"finding"};
  syslog.sink_tick = std::chrono::seconds(1);
  syslog.factory = [](const runtime::component_init& init) {
    return std::make_unique<syslog_sink>(init.name, init.state_dir, init.settings);
  };
  reg.add(std::move(syslog));
}

} // namespace pg::actors::sink
