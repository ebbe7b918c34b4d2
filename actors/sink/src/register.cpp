#include "phantomguard/actors/sink/register.hpp"

#include <iostream>

#include "phantomguard/actors/sink/console_sink.hpp"
#include "phantomguard/actors/sink/jsonl_sink.hpp"

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
}

} // namespace pg::actors::sink
