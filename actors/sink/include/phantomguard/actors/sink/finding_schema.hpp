// SPDX-License-Identifier: Apache-2.0
// finding_schema.hpp — a finding in the shape a SIEM expects (`format` on the jsonl, http and
// syslog sinks), field by field in docs/analyzers/sinks.md:
//   native  PhantomGuard's own finding JSON, with its stable `id`
//   ecs     Elastic Common Schema 8.11: @timestamp, message, ecs.version, event.*, rule.*,
//           host.*, observer.*, threat.* (MITRE ATT&CK), process/file/user from the entity, and
//           the rest under `phantomguard`
//   ocsf    OCSF 1.1.0 Detection Finding (class_uid 2004, category_uid 2): activity_id,
//           type_uid, time, severity_id, status_id, metadata, finding_info (uid, title, types,
//           analytic, attacks), device, evidences, unmapped
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::sink {

enum class finding_schema { native, ecs, ocsf };

std::optional<finding_schema> parse_finding_schema(std::string_view text) noexcept;

/// `f` as `schema`, carrying `id` (runtime::finding_id of it).
nlohmann::json to_schema(const runtime::finding& f, finding_schema schema, const std::string& id);

/// One line of JSON (invalid UTF-8 replaced, never thrown on).
std::string dump_line(const nlohmann::json& j);

} // namespace pg::actors::sink
