// SPDX-License-Identifier: Apache-2.0
// A finding read back from JSON (a jsonl file, /api/v1/findings?source=file) and written out in
// every schema: from_json must refuse what is not a finding, to_schema must never throw.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/sink/finding_schema.hpp"
#include "phantomguard/runtime/finding.hpp"

using namespace pg::actors::sink;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded())
    return 0;
  auto f = pg::runtime::finding::from_json(j);
  if (!f)
    return 0;
  const auto id = pg::runtime::finding_id(*f);
  for (auto s : {finding_schema::native, finding_schema::ecs, finding_schema::ocsf})
    (void)dump_line(to_schema(*f, s, id));
  return 0;
}
