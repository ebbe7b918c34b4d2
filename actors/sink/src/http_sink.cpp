// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/http_sink.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include <httplib.h>

#include "remote_delivery.hpp"
#include "sink_options.hpp"
#include "tls_pin.hpp"
#include "phantomguard/runtime/json_fields.hpp"
#include "phantomguard/runtime/url.hpp"

namespace pg::actors::sink {

using namespace pg::runtime;

namespace {

std::chrono::milliseconds ms(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

/// Retry-After as a delay: seconds, or an HTTP date (nullopt when absent or unreadable).
std::optional<std::chrono::milliseconds> retry_after(const httplib::Response& r) {
  if (!r.has_header("Retry-After"))
    return std::nullopt;
  const auto v = r.get_header_value("Retry-After");
  try {
    return std::chrono::seconds(std::stoll(v));
  } catch (const std::exception&) {
  }
  std::tm tm{};
  if (::strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr)
    return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  const auto now = std::chrono::system_clock::now();
  return at > now ? std::chrono::duration_cast<std::chrono::milliseconds>(at - now)
                  : std::chrono::milliseconds(0);
}

/// A `_bulk` answer is 200 even when items failed: a 409 is a redelivery the index already has
/// (fine), a 429 asks to retry, anything else rejects the batch.
delivery_result bulk_outcome(const std::string& answer) {
  delivery_result out;
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object())
    return out;
  const auto errors = j.find("errors");
  if (errors == j.end() || !errors->is_boolean() || !errors->get<bool>())
    return out;
  const auto items = j.find("items");
  if (items == j.end() || !items->is_array())
    return out;
  for (const auto& item : *items) {
    if (!item.is_object())
      continue;
    for (const auto& [action, result] : item.items()) {
      // A status that is not an HTTP status (missing, text, 1e300) rejects the item: the server
      // said errors=true and we cannot tell this one went in.
      const int status = runtime::integer_field<int>(result, "status").value_or(0);
      if (status == 429) {
        out.outcome = delivery_result::kind::retry;
        out.error = "bulk item 429";
        return out;
      }
      if (status < 200 || (status >= 300 && status != 409)) {
        out.outcome = delivery_result::kind::reject;
        const auto error = result.is_object() && result.contains("error") ? result["error"]
                                                                           : nlohmann::json::object();
        out.error = "bulk item " + std::to_string(status) + " " + error.dump().substr(0, 200);
      }
    }
  }
  return out;
}

} // namespace

std::vector<option_spec> http_sink::options() {
  std::vector<option_spec> o;
  auto url = opt("url", option_type::string, "", "where batches are POSTed (http:// or https://)");
  url.required = true;
  o.push_back(std::move(url));
  o.push_back(opt("encoding", option_type::string, "ndjson",
                  "ndjson: one finding per line; json: a JSON array", {"ndjson", "json"}));
  o.push_back(opt("preset", option_type::string, "none",
                  "a collector's request format: splunk_hec, elasticsearch (_bulk), loki (push); "
                  "none: encoding decides",
                  {"none", "splunk_hec", "elasticsearch", "loki"}));
  o.push_back(opt("gzip", option_type::boolean, "false", "compress request bodies"));
  auto headers = opt("headers", option_type::table, "", "extra request headers (NAME = \"value\")");
  o.push_back(std::move(headers));
  o.push_back(opt("token_file", option_type::string, "",
                  "a file (not readable by others) whose first line is sent as a bearer token"));
  o.push_back(opt("timeout", option_type::duration, "10s", "connect, read and write timeout", {},
                  0.01, 600));
  for (auto& shared : remote_delivery_options())
    o.push_back(std::move(shared));
  return o;
}

http_sink_settings http_sink_settings::from(const component_settings& s) {
  http_sink_settings r;
  r.url = s.get_string("url");
  if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0)
    throw std::invalid_argument("url must start with http:// or https://, not '" + r.url + "'");
  r.encoding = s.get_string("encoding", r.encoding);
  r.preset = s.get_string("preset", r.preset);
  r.schema =
      parse_finding_schema(s.get_string("format", "native")).value_or(finding_schema::native);
  r.min_severity = parse_severity(s.get_string("min_severity", "info")).value_or(severity::info);
  r.gzip = s.get_bool("gzip", false);
  if (const auto* h = s.table().get_as<toml::table>("headers"))
    for (const auto& [k, v] : *h) {
      if (!v.is_string())
        throw std::invalid_argument("headers." + std::string(k.str()) + " must be a string");
      r.headers.emplace_back(std::string(k.str()), *v.value<std::string>());
    }
  r.token_file = s.get_string("token_file");
  r.ca_file = s.get_string("ca_file");
  r.tls_verify = s.get_bool("tls_verify", true);
  r.pin_sha256 =
      read_pin(s.get_string("pin_sha256"), r.url.rfind("https://", 0) == 0 && r.tls_verify,
               r.tls_verify ? "an https:// url" : "tls_verify = true");

  r.timeout = ms(s.get_duration("timeout", r.timeout));
  return r;
}

http_sink::http_sink(std::string name, std::string state_dir, const component_settings& settings)
    : name_(std::move(name)), settings_(http_sink_settings::from(settings)),
      delivery_(std::make_unique<remote_delivery>(
          name_, std::move(state_dir), remote_delivery_settings::from(settings, settings_.url))) {}

http_sink::~http_sink() = default;

void http_sink::start(context& ctx) {
  if (!settings_.token_file.empty()) {
    struct stat st {};
    if (::stat(settings_.token_file.c_str(), &st) != 0)
      throw std::runtime_error("http sink: cannot read token_file " + settings_.token_file + ": " +
                               error_text(errno));
    if ((st.st_mode & 007) != 0)
      throw std::runtime_error("http sink: token_file " + settings_.token_file +
                               " is readable by others (chmod 600)");
    std::ifstream in(settings_.token_file);
    std::getline(in, token_);
    while (!token_.empty() && (token_.back() == '\r' || token_.back() == ' '))
      token_.pop_back();
  }
  // The client lives on the delivery thread, owned by the sender.
  auto client = std::make_shared<httplib::Client>(runtime::split_url(settings_.url).first);
  if (!settings_.pin_sha256.empty())
    if (auto* tls = client->ssl_context())
      install_pin(tls, &settings_.pin_sha256);
  const auto t = settings_.timeout;
  const auto sec = static_cast<time_t>(t.count() / 1000);
  const auto usec = static_cast<time_t>((t.count() % 1000) * 1000);
  client->set_connection_timeout(sec, usec);
  client->set_read_timeout(sec, usec);
  client->set_write_timeout(sec, usec);
  client->set_keep_alive(true);
  if (settings_.url.rfind("https://", 0) == 0) {
    if (!settings_.ca_file.empty())
      client->set_ca_cert_path(settings_.ca_file.c_str());
    client->enable_server_certificate_verification(settings_.tls_verify);
  }
  client->set_compress(settings_.gzip);
  httplib::Headers headers;
  for (const auto& [k, v] : settings_.headers)
    headers.emplace(k, v);
  if (!token_.empty())
    headers.emplace("Authorization",
                    (settings_.preset == "splunk_hec" ? "Splunk " : "Bearer ") + token_);
  const auto path = runtime::split_url(settings_.url).second;
  delivery_->start(
      ctx, [client, headers, path, s = settings_](const std::vector<std::string>& batch) {
        const auto [payload, type] = body(batch, s);
        auto res = client->Post(path, headers, payload, type);
        delivery_result out;
        if (res && res->status >= 200 && res->status < 300) {
          if (s.preset == "elasticsearch")
            return bulk_outcome(res->body);
          return out;
        }
        if (res && res->status >= 400 && res->status < 500 && res->status != 408 &&
            res->status != 429) {
          out.outcome = delivery_result::kind::reject;
          out.error = std::to_string(res->status) + " " + res->body.substr(0, 200);
          return out;
        }
        out.outcome = delivery_result::kind::retry;
        out.error = res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
        if (res)
          out.retry_after = retry_after(*res);
        return out;
      });
}

std::string http_sink::record(const finding& f, const http_sink_settings& s) {
  const auto id = finding_id(f);
  const auto doc = to_schema(f, s.schema, id);
  if (s.preset == "splunk_hec")
    return dump_line({{"time", std::chrono::duration<double>(f.time.time_since_epoch()).count()},
                      {"host", f.host},
                      {"source", "phantomguard"},
                      {"sourcetype", "phantomguard:finding"},
                      {"event", doc}});
  if (s.preset == "elasticsearch") // the action, then the document
    return dump_line({{"create", {{"_id", id}}}}) + "\n" + dump_line(doc);
  if (s.preset == "loki")
    return dump_line({{"stream",
                       {{"job", "phantomguard"},
                        {"host", f.host},
                        {"severity", std::string(to_string(f.level))}}},
                      {"ts", std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                f.time.time_since_epoch())
                                                .count())},
                      {"line", dump_line(doc)}});
  return dump_line(doc);
}

std::pair<std::string, std::string> http_sink::body(const std::vector<std::string>& records,
                                                    const http_sink_settings& s) {
  std::string out;
  if (s.preset == "loki") {
    // One stream per label set, its lines in order.
    std::vector<std::pair<nlohmann::json, nlohmann::json>> streams;
    for (const auto& r : records) {
      auto j = nlohmann::json::parse(r, nullptr, false);
      if (j.is_discarded())
        continue;
      auto it = std::find_if(streams.begin(), streams.end(),
                             [&](const auto& st) { return st.first == j["stream"]; });
      if (it == streams.end()) {
        streams.emplace_back(j["stream"], nlohmann::json::array());
        it = std::prev(streams.end());
      }
      it->second.push_back({j["ts"], j["line"]});
    }
    nlohmann::json push = {{"streams", nlohmann::json::array()}};
    for (auto& [labels, values] : streams)
      push["streams"].push_back({{"stream", labels}, {"values", values}});
    return {dump_line(push), "application/json"};
  }
  if (s.preset == "elasticsearch" || s.preset == "splunk_hec" || s.encoding != "json") {
    for (const auto& r : records)
      out += r + "\n";
    return {out, s.preset == "splunk_hec" ? "application/json" : "application/x-ndjson"};
  }
  out = "[";
  for (std::size_t i = 0; i < records.size(); ++i)
    out += (i ? "," : "") + records[i];
  out += "]";
  return {out, "application/json"};
}

void http_sink::on_batch(const event_batch& batch, context& ctx) {
  delivery_->spool(batch, ctx, settings_.min_severity,
                   [this](const finding& f) { return record(f, settings_); });
}

void http_sink::on_tick(context& ctx) {
  delivery_->report(ctx);
}

void http_sink::stop(context& ctx) {
  delivery_->stop(ctx);
}

} // namespace pg::actors::sink
