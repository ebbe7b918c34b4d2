// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/console_sink.hpp"

#include <iomanip>

namespace pg::actors::sink {

using namespace pg::runtime;

namespace {

// The entity fields people look for first, as "key=value" pairs (shortened for a table row).
std::string entity_label(const nlohmann::json& entity) {
  if (!entity.is_object() || entity.empty())
    return "-";
  static constexpr const char* keys[] = {"path",      "exe",       "pid",    "port", "package",
                                         "container", "component", "plugin", "name"};
  std::string out;
  for (const char* k : keys) {
    auto it = entity.find(k);
    if (it == entity.end())
      continue;
    if (!out.empty())
      out += ' ';
    out += std::string(k) + '=' + (it->is_string() ? it->get<std::string>() : it->dump());
  }
  if (out.empty())
    out = entity.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (out.size() > 40)
    out = out.substr(0, 37) + "...";
  return out;
}

} // namespace

console_sink::console_sink(const component_settings& settings, std::ostream& out) : out_(out) {
  format_ =
      parse_output_format(settings.get_string("format", "table")).value_or(output_format::table);
  min_severity_ =
      parse_severity(settings.get_string("min_severity", "info")).value_or(severity::info);
}

std::vector<option_spec> console_sink::options() {
  std::vector<option_spec> o(2);
  o[0].key = "format";
  o[0].type = option_type::string;
  o[0].default_text = "table";
  o[0].description = "table (aligned columns), json (one object per finding) or jsonl";
  o[0].choices = {"table", "json", "jsonl"};
  o[1].key = "min_severity";
  o[1].type = option_type::string;
  o[1].default_text = "info";
  o[1].description = "findings below this severity are not printed";
  o[1].choices = {"info", "low", "medium", "high", "critical"};
  return o;
}

void console_sink::write(const finding& f) {
  switch (format_) {
  case output_format::table:
    // Streaming: the header once, then one row per finding (no totals: the stream has no end).
    if (!header_written_) {
      out_ << std::left << std::setw(9) << "SEVERITY" << ' ' << std::setw(32) << "RULE" << ' '
           << std::setw(40) << "ENTITY" << ' ' << "TITLE" << '\n';
      header_written_ = true;
    }
    out_ << std::left << std::setw(9) << to_string(f.level) << ' ' << std::setw(32) << f.rule << ' '
         << std::setw(40) << entity_label(f.entity) << ' ' << f.title << '\n';
    break;
  case output_format::json:
    out_ << f.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    break;
  case output_format::jsonl:
    out_ << f.to_jsonl() << '\n';
    break;
  }
}

void console_sink::on_batch(const event_batch& batch, context& ctx) {
  std::int64_t written = 0;
  std::int64_t ignored = 0;
  std::int64_t filtered = 0;
  for (const auto& e : batch.events) {
    if (e.kind != "finding" || !e.payload) {
      ++ignored;
      continue;
    }
    if (e.payload->level < min_severity_) {
      ++filtered;
      continue;
    }
    write(*e.payload);
    ++written;
  }
  if (written > 0) {
    out_.flush(); // an operator watching `run` wants each finding when it happens
    ctx.count("findings_written", written);
    ctx.count("delivered", written);
    ctx.gauge("last_success_time", runtime::unix_seconds());
  }
  if (ignored > 0)
    ctx.count("ignored", ignored);
  if (filtered > 0)
    ctx.count("below_min_severity", filtered);
}

void console_sink::stop(context&) {
  out_.flush();
}

} // namespace pg::actors::sink
