// SPDX-License-Identifier: Apache-2.0
// syslog_sink.hpp — the `syslog` sink: findings as syslog messages, RFC 5424 (with the finding's
// fields as structured data, SD-ID phantomguard@32473) or RFC 3164 for old receivers, over UDP
// (RFC 5426), TCP with octet-counted framing (RFC 6587), TLS (RFC 5425, OpenSSL) or the local
// socket (/dev/log). Severity maps to the syslog severity (critical 2 crit, high 3 err, medium 4
// warning, low 5 notice, info 6 info), the facility is configurable. Messages go through the
// delivery spool (remote_delivery.hpp) like every remote sink's: a message leaves it once written
// to the connection (syslog has no acknowledgement of its own).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "phantomguard/actors/sink/finding_schema.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::sink {

class remote_delivery;

struct syslog_sink_settings {
  enum class transport { udp, tcp, tls, unix_socket };
  enum class protocol { rfc5424, rfc3164 };

  std::string address = "unix:///dev/log";
  transport via = transport::unix_socket;
  std::string host; // udp/tcp/tls
  int port = 0;
  std::string path; // unix
  protocol proto = protocol::rfc5424;
  int facility = 4; // auth
  std::string app_name = "phantomguard";
  finding_schema schema = finding_schema::native;
  runtime::severity min_severity = runtime::severity::info;
  std::string ca_file;
  bool tls_verify = true;
  std::string pin_sha256; // normalized: 64 hex digits, or empty
  std::chrono::milliseconds timeout{10000};

  /// Throws std::invalid_argument with the reason.
  static syslog_sink_settings from(const runtime::component_settings& s);
};

/// The syslog severity of a finding's severity.
int syslog_severity(runtime::severity s) noexcept;

/// One message (without transport framing): RFC 5424 or 3164 as `s` says.
std::string syslog_message(const runtime::finding& f, const std::string& id,
                           const syslog_sink_settings& s);

class syslog_sink final : public runtime::component {
public:
  syslog_sink(std::string name, std::string state_dir, const runtime::component_settings& settings);
  ~syslog_sink() override;

  void start(runtime::context& ctx) override;
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  static std::vector<runtime::option_spec> options();

private:
  std::string name_;
  syslog_sink_settings settings_;
  std::unique_ptr<remote_delivery> delivery_;
};

} // namespace pg::actors::sink
