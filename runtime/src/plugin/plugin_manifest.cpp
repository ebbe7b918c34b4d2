// SPDX-License-Identifier: Apache-2.0
// plugin_manifest.cpp — parses and checks the manifest JSON a plugin embeds in its ELF note.
// Every error names the key at fault so `phantomguard plugins check` can tell the author what to
// fix.
#include "phantomguard/runtime/plugin_manifest.hpp"

#include <algorithm>

namespace pg::runtime {

std::string_view to_string(config_key_type t) noexcept {
  switch (t) {
  case config_key_type::string:
    return "string";
  case config_key_type::integer:
    return "integer";
  case config_key_type::floating:
    return "float";
  case config_key_type::boolean:
    return "boolean";
  case config_key_type::string_list:
    return "string list";
  }
  return "?";
}

bool is_reverse_dns_id(std::string_view id) noexcept {
  int labels = 0;
  std::size_t start = 0;
  while (start <= id.size()) {
    auto dot = id.find('.', start);
    auto label =
        id.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty())
      return false;
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        return false;
    if (labels == 0 && !(label.front() >= 'a' && label.front() <= 'z'))
      return false;
    ++labels;
    if (dot == std::string_view::npos)
      break;
    start = dot + 1;
  }
  return labels >= 2;
}

bool detector_manifest::has_capability(std::string_view c) const noexcept {
  return std::find(capabilities.begin(), capabilities.end(), c) != capabilities.end();
}

const config_key_spec* detector_manifest::find_key(std::string_view key) const noexcept {
  for (const auto& k : config)
    if (k.key == key)
      return &k;
  return nullptr;
}

const detector_manifest* plugin_manifest::find_detector(std::string_view name) const noexcept {
  if (detectors.empty())
    return nullptr;
  if (name.empty())
    return &detectors.front();
  for (const auto& d : detectors)
    if (d.name == name)
      return &d;
  return nullptr;
}

namespace {

struct manifest_error {
  std::string message;
};

std::string required_string(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    throw manifest_error{where + "\"" + key + "\" must be a non-empty string"};
  return it->get<std::string>();
}

std::string optional_string(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end())
    return {};
  if (!it->is_string())
    throw manifest_error{where + "\"" + key + "\" must be a string"};
  return it->get<std::string>();
}

std::vector<std::string> string_list(const nlohmann::json& j, const char* key,
                                     const std::string& where) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end())
    return out;
  if (!it->is_array())
    throw manifest_error{where + "\"" + key + "\" must be an array of strings"};
  for (const auto& v : *it) {
    if (!v.is_string())
      throw manifest_error{where + "\"" + key + "\" must be an array of strings"};
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool default_fits(const nlohmann::json& v, config_key_type t) {
  switch (t) {
  case config_key_type::string:
    return v.is_string();
  case config_key_type::integer:
    return v.is_number_integer();
  case config_key_type::floating:
    return v.is_number();
  case config_key_type::boolean:
    return v.is_boolean();
  case config_key_type::string_list:
    return v.is_array() &&
           std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_string(); });
  }
  return false;
}

config_key_spec parse_key(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object())
    throw manifest_error{where + "each config entry must be an object"};
  config_key_spec spec;
  spec.key = required_string(j, "key", where);
  const std::string at = where + "config key \"" + spec.key + "\": ";
  const std::string type = required_string(j, "type", at);
  if (type == "string")
    spec.type = config_key_type::string;
  else if (type == "integer")
    spec.type = config_key_type::integer;
  else if (type == "float")
    spec.type = config_key_type::floating;
  else if (type == "boolean")
    spec.type = config_key_type::boolean;
  else if (type == "string_list")
    spec.type = config_key_type::string_list;
  else
    throw manifest_error{at + "unknown type \"" + type +
                         "\" (string, integer, float, boolean, string_list)"};
  spec.description = optional_string(j, "description", at);
  if (auto it = j.find("required"); it != j.end()) {
    if (!it->is_boolean())
      throw manifest_error{at + "\"required\" must be true or false"};
    spec.required = it->get<bool>();
  }
  if (auto it = j.find("default"); it != j.end()) {
    if (!default_fits(*it, spec.type))
      throw manifest_error{at + "\"default\" does not match type " +
                           std::string(to_string(spec.type))};
    spec.default_value = *it;
  }
  return spec;
}

detector_manifest parse_detector(const nlohmann::json& j, std::size_t index) {
  const std::string where0 = "detectors[" + std::to_string(index) + "]: ";
  if (!j.is_object())
    throw manifest_error{where0 + "must be an object"};
  detector_manifest d;
  d.name = required_string(j, "name", where0);
  const std::string where = "detector \"" + d.name + "\": ";
  d.description = optional_string(j, "description", where);
  d.subscribes = string_list(j, "subscribes", where);
  d.capabilities = string_list(j, "capabilities", where);
  for (const auto& c : d.capabilities) {
    if (std::find(std::begin(known_plugin_capabilities), std::end(known_plugin_capabilities), c) ==
        std::end(known_plugin_capabilities))
      throw manifest_error{where + "unknown capability \"" + c + "\" (findings, metrics, state)"};
  }
  if (auto it = j.find("config"); it != j.end()) {
    if (!it->is_array())
      throw manifest_error{where +
                           "\"config\" must be an array of {key, type, default, description}"};
    for (const auto& k : *it) {
      config_key_spec spec = parse_key(k, where);
      if (d.find_key(spec.key) != nullptr)
        throw manifest_error{where + "config key \"" + spec.key + "\" declared twice"};
      d.config.push_back(std::move(spec));
    }
  }
  return d;
}

} // namespace

std::optional<plugin_manifest> parse_plugin_manifest(std::string_view json, std::uint32_t abi_major,
                                                     std::uint32_t abi_minor, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<plugin_manifest> {
    if (error)
      *error = std::move(message);
    return std::nullopt;
  };
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded())
    return fail("the manifest is not valid JSON");
  if (!j.is_object())
    return fail("the manifest must be a JSON object");
  try {
    plugin_manifest m;
    m.abi_major = abi_major;
    m.abi_minor = abi_minor;
    m.json = std::string(json);
    m.id = required_string(j, "id", "");
    if (!is_reverse_dns_id(m.id))
      return fail("\"id\" \"" + m.id + "\" is not reverse-DNS (e.g. \"org.example.detector\")");
    const std::string version = required_string(j, "version", "");
    auto v = semver::parse(version);
    if (!v)
      return fail("\"version\" \"" + version + "\" is not a semantic version (e.g. \"1.2.0\")");
    m.version = *v;
    m.vendor = required_string(j, "vendor", "");
    m.description = optional_string(j, "description", "");
    m.license = optional_string(j, "license", "");
    auto dets = j.find("detectors");
    if (dets == j.end() || !dets->is_array() || dets->empty())
      return fail("\"detectors\" must be a non-empty array");
    for (std::size_t i = 0; i < dets->size(); ++i) {
      detector_manifest d = parse_detector((*dets)[i], i);
      if (m.find_detector(d.name) != nullptr && !m.detectors.empty() &&
          std::any_of(m.detectors.begin(), m.detectors.end(),
                      [&](const auto& o) { return o.name == d.name; }))
        return fail("detector \"" + d.name + "\" declared twice");
      m.detectors.push_back(std::move(d));
    }
    return m;
  } catch (const manifest_error& e) {
    return fail(e.message);
  }
}

} // namespace pg::runtime
