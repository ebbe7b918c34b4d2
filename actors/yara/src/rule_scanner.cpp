// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/rule_scanner.hpp"

#include <cstring>
#include <stdexcept>

#include <yara.h>

namespace pg::actors::yara {

nlohmann::json rule_match::to_json() const {
  return {{"rule", rule}, {"namespace", ns}, {"tags", tags}, {"meta", meta}, {"strings", strings}};
}

rule_match rule_match::from_json(const nlohmann::json& j) {
  rule_match m;
  m.rule = j.at("rule").get<std::string>();
  m.ns = j.value("namespace", std::string());
  m.tags = j.value("tags", std::vector<std::string>{});
  m.meta = j.value("meta", nlohmann::json::object());
  m.strings = j.value("strings", std::vector<std::string>{});
  return m;
}

namespace {

int on_scan_message(YR_SCAN_CONTEXT* context, int message, void* data, void* user) {
  if (message != CALLBACK_MSG_RULE_MATCHING)
    return CALLBACK_CONTINUE;
  auto* out = static_cast<std::vector<rule_match>*>(user);
  auto* rule = static_cast<YR_RULE*>(data);
  rule_match m;
  m.rule = rule->identifier;
  m.ns = rule->ns && rule->ns->name ? rule->ns->name : "";
  const char* tag = nullptr;
  yr_rule_tags_foreach(rule, tag) {
    m.tags.emplace_back(tag);
  }
  const YR_META* meta = nullptr;
  yr_rule_metas_foreach(rule, meta) {
    // A rule may repeat a meta key; the first value wins, as `yara -m` lists it first.
    if (m.meta.contains(meta->identifier))
      continue;
    switch (meta->type) {
    case META_TYPE_INTEGER:
      m.meta[meta->identifier] = meta->integer;
      break;
    case META_TYPE_BOOLEAN:
      m.meta[meta->identifier] = meta->integer != 0;
      break;
    default:
      m.meta[meta->identifier] = meta->string ? meta->string : "";
      break;
    }
  }
  const YR_STRING* string = nullptr;
  yr_rule_strings_foreach(rule, string) {
    // Not yr_string_matches_foreach: libyara 4.2 allocates matches from a notebook that does
    // not align them, so its macro reads YR_MATCH fields at odd addresses (undefined behaviour,
    // found by the UBSan build). Each match is copied out before its fields are read.
    bool matched = false;
    for (const YR_MATCH* at = context->matches[string->idx].head; at != nullptr;) {
      YR_MATCH match;
      std::memcpy(&match, at, sizeof match);
      if (!match.is_private) { // private strings are not reported, as `yara -s` does not
        matched = true;
        break;
      }
      at = match.next;
    }
    if (matched)
      m.strings.emplace_back(string->identifier);
  }
  out->push_back(std::move(m));
  return CALLBACK_CONTINUE;
}

std::string describe(int rc) {
  switch (rc) {
  case ERROR_COULD_NOT_OPEN_FILE:
    return "could not open file";
  case ERROR_COULD_NOT_MAP_FILE:
    return "could not map file";
  case ERROR_SCAN_TIMEOUT:
    return "scan timed out";
  case ERROR_INSUFFICIENT_MEMORY:
    return "out of memory";
  case ERROR_COULD_NOT_ATTACH_TO_PROCESS:
    return "could not attach to process";
  case ERROR_TOO_MANY_MATCHES:
    return "too many matches";
  case ERROR_TOO_MANY_SCAN_THREADS:
    return "too many scan threads";
  }
  return "libyara error " + std::to_string(rc);
}

} // namespace

rule_scanner::rule_scanner(std::shared_ptr<const compiled_rules> rules, int timeout_seconds,
                           bool fast)
    : rules_(std::move(rules)) {
  ensure_libyara();
  if (!rules_ || yr_scanner_create(rules_->get(), &scanner_) != ERROR_SUCCESS)
    throw std::runtime_error("cannot create a YARA scanner");
  yr_scanner_set_callback(scanner_, on_scan_message, &current_);
  if (timeout_seconds > 0)
    yr_scanner_set_timeout(scanner_, timeout_seconds);
  if (fast)
    yr_scanner_set_flags(scanner_, SCAN_FLAGS_FAST_MODE);
}

rule_scanner::rule_scanner(rule_scanner&& o) noexcept
    : rules_(std::move(o.rules_)), scanner_(o.scanner_), current_(std::move(o.current_)) {
  o.scanner_ = nullptr;
  if (scanner_)
    yr_scanner_set_callback(scanner_, on_scan_message, &current_);
}

rule_scanner& rule_scanner::operator=(rule_scanner&& o) noexcept {
  if (this != &o) {
    if (scanner_)
      yr_scanner_destroy(scanner_);
    rules_ = std::move(o.rules_);
    scanner_ = o.scanner_;
    o.scanner_ = nullptr;
    current_ = std::move(o.current_);
    if (scanner_)
      yr_scanner_set_callback(scanner_, on_scan_message, &current_);
  }
  return *this;
}

rule_scanner::~rule_scanner() {
  if (scanner_)
    yr_scanner_destroy(scanner_);
}

scan_outcome rule_scanner::finish(int rc) {
  scan_outcome out;
  out.matches = std::move(current_);
  current_.clear();
  if (rc != ERROR_SUCCESS) {
    out.ok = false;
    out.error = rc;
    out.message = describe(rc);
  }
  return out;
}

scan_outcome rule_scanner::scan_file(const std::string& path) {
  current_.clear();
  return finish(yr_scanner_scan_file(scanner_, path.c_str()));
}

scan_outcome rule_scanner::scan_memory(const void* data, std::size_t size) {
  current_.clear();
  return finish(yr_scanner_scan_mem(scanner_, static_cast<const std::uint8_t*>(data), size));
}

scan_outcome rule_scanner::scan_process(int pid) {
  current_.clear();
  return finish(yr_scanner_scan_proc(scanner_, pid));
}

} // namespace pg::actors::yara
