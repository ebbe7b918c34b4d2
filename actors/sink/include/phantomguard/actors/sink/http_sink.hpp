// SPDX-License-Identifier: Apache-2.0
// http_sink.hpp — the `http` sink: findings POSTed in batches to a webhook or a SIEM collector,
// through a delivery spool on disk (delivery_spool.hpp), so that an outage of the network or of
// the collector, a `kill -9` or a restart loses nothing.
//
// The sink's hooks only append to the spool; a thread of its own sends: batches bounded in
// records, bytes and time, JSON (an array) or NDJSON, gzip optional, a bearer token from a file
// and extra headers, TLS with a CA file. A 2xx acknowledges the batch (it leaves the spool); a
// 5xx, 408, 429, a timeout or a connection error is retried with exponential backoff and jitter
// (Retry-After honoured); any other 4xx rejects the batch (counted as rejected, lost with cause
// `rejected`, raised as engine.sink_rejected). After `breaker_failures` failures in a row the
// circuit opens for `breaker_cooldown`, then one request probes it. Every finding carries its
// stable `id` (runtime::finding_id) so a receiver drops redeliveries.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "phantomguard/actors/sink/finding_schema.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::sink {

class remote_delivery;

struct http_sink_settings {
  std::string url; // http://host[:port]/path or https://...
  std::string encoding = "ndjson"; // ndjson | json
  /// A collector's request format: none (encoding decides), splunk_hec (stacked HEC events,
  /// `Authorization: Splunk TOKEN`), elasticsearch (`_bulk` create actions with _id = the
  /// finding's id, so a redelivery is a 409 and not a duplicate), loki (push API streams).
  std::string preset = "none";
  finding_schema schema = finding_schema::native;
  runtime::severity min_severity = runtime::severity::info;
  bool gzip = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string token_file;
  std::string ca_file;
  bool tls_verify = true;
  std::string pin_sha256; // normalized: 64 hex digits, or empty
  std::chrono::milliseconds timeout{10000};

  /// Throws std::invalid_argument with the reason (a URL that is not http(s), ...).
  static http_sink_settings from(const runtime::component_settings& s);
};

class http_sink final : public runtime::component {
public:
  http_sink(std::string name, std::string state_dir, const runtime::component_settings& settings);
  ~http_sink() override;

  void start(runtime::context& ctx) override;
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  static std::vector<runtime::option_spec> options();

  /// The spooled record of one finding for `s` (its preset and format).
  static std::string record(const runtime::finding& f, const http_sink_settings& s);
  /// The request body and content type of a batch of records.
  static std::pair<std::string, std::string> body(const std::vector<std::string>& records,
                                                  const http_sink_settings& s);

private:
  std::string name_;
  http_sink_settings settings_;
  std::unique_ptr<remote_delivery> delivery_;
  std::string token_;
};

} // namespace pg::actors::sink
