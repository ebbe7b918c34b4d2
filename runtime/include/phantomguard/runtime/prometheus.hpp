// SPDX-License-Identifier: Apache-2.0
// prometheus.hpp — the engine's metrics in the Prometheus text exposition format (version
// 0.0.4): `phantomguard_` prefix, base units (seconds, bytes), `_total` counters, one HELP and
// TYPE per family, labels only of bounded cardinality (component, producer/consumer, reason,
// cause — never a pid or a path), plus phantomguard_build_info and the standard process_*
// metrics of this process.
#pragma once

#include <string>

#include "phantomguard/runtime/metrics.hpp"

namespace pg::runtime {

enum class exposition_format {
  prometheus,  // text/plain; version=0.0.4
  openmetrics, // application/openmetrics-text; version=1.0.0: counter families without _total,
               // ends with "# EOF"
};

/// `with_process`: add the process_* metrics of this process (a daemon's endpoint); false for a
/// file that outlives the process (`scan --metrics-file`, node_exporter's textfile collector).
std::string to_prometheus(const metrics_snapshot& m, const std::string& version,
                          bool with_process = true,
                          exposition_format format = exposition_format::prometheus);

} // namespace pg::runtime
