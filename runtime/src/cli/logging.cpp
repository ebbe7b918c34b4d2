// SPDX-License-Identifier: Apache-2.0
#include "cli/logging.hpp"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/finding.hpp"

namespace pg::cli {

namespace {

// One JSON object per line, for log shippers: the message is escaped by nlohmann::json, which a
// spdlog pattern cannot do.
class json_log_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json j;
    j["time"] = runtime::format_rfc3339(msg.time);
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    j["msg"] = std::string(msg.payload.data(), msg.payload.size());
    const auto text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_log_formatter>();
  }
};

} // namespace

void configure_logging(const std::string& level, runtime::log_format format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("phantomguard", sink);
  if (format == runtime::log_format::json)
    logger->set_formatter(std::make_unique<json_log_formatter>());
  else
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void set_log_level(const std::string& level) {
  spdlog::default_logger()->set_level(spdlog::level::from_str(level));
}

} // namespace pg::cli
