// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/fim_rule.hpp"

#include <algorithm>
#include <fnmatch.h>

namespace pg::actors::fim {

std::optional<exclusion> exclusion::make(std::string pattern, std::string* error) {
  exclusion ex;
  ex.text_ = pattern;
  if (pattern.rfind("re:", 0) == 0) {
    try {
      ex.regex_ = std::make_shared<const std::regex>(pattern.substr(3),
                                                     std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      if (error)
        *error = "invalid regex \"" + pattern.substr(3) + "\": " + e.what();
      return std::nullopt;
    }
    return ex;
  }
  ex.whole_path_ = pattern.find('/') != std::string::npos;
  ex.glob_ = std::move(pattern);
  return ex;
}

bool exclusion::matches(std::string_view path, std::string_view base_name) const {
  if (regex_)
    return std::regex_search(path.begin(), path.end(), *regex_);
  std::string subject(whole_path_ ? path : base_name);
  return ::fnmatch(glob_.c_str(), subject.c_str(), 0) == 0;
}

std::string normalise_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/')
      continue;
    out += c;
  }
  // "/./" -> "/"
  for (std::size_t pos; (pos = out.find("/./")) != std::string::npos;)
    out.erase(pos, 2);
  while (out.size() > 1 && out.back() == '/')
    out.pop_back();
  if (out.size() > 2 && out.ends_with("/."))
    out.resize(out.size() - 2);
  return out;
}

namespace {

// Depth of `path` below `root` (0 for the root itself), or -1 when outside it.
int depth_below(std::string_view root, std::string_view path) {
  if (path == root)
    return 0;
  std::string_view rest;
  if (root == "/") {
    if (path.empty() || path.front() != '/')
      return -1;
    rest = path.substr(1);
  } else {
    if (path.size() <= root.size() || path.substr(0, root.size()) != root ||
        path[root.size()] != '/')
      return -1;
    rest = path.substr(root.size() + 1);
  }
  return 1 + static_cast<int>(std::count(rest.begin(), rest.end(), '/'));
}

std::string_view base_name_of(std::string_view path) {
  auto pos = path.rfind('/');
  return pos == std::string_view::npos ? path : path.substr(pos + 1);
}

} // namespace

bool fim_rule::covers(std::string_view p) const {
  int d = depth_below(path, p);
  return d >= 0 && (recurse || d <= 1);
}

bool fim_rule::excluded(std::string_view p) const {
  auto base = base_name_of(p);
  return std::any_of(exclude.begin(), exclude.end(),
                     [&](const exclusion& e) { return e.matches(p, base); });
}

void rule_set::add(fim_rule rule) {
  rules_.push_back(std::move(rule));
  std::stable_sort(rules_.begin(), rules_.end(), [](const fim_rule& a, const fim_rule& b) {
    return a.path.size() > b.path.size();
  });
}

const fim_rule* rule_set::rule_for(std::string_view path) const {
  for (const auto& r : rules_)
    if (r.covers(path))
      return &r;
  return nullptr;
}

bool rule_set::watched(std::string_view path) const {
  const auto* r = rule_for(path);
  return r && !r->excluded(path);
}

namespace {

std::optional<fim_rule> parse_rule(const toml::table& t, std::string* error) {
  fim_rule rule;
  static constexpr std::string_view known[] = {"path", "recurse", "exclude", "attributes",
                                               "severity"};
  for (const auto& [key, node] : t) {
    if (std::find(std::begin(known), std::end(known), key.str()) == std::end(known)) {
      *error = "unknown key \"" + std::string(key.str()) +
               "\" (expected path, recurse, exclude, attributes, severity)";
      return std::nullopt;
    }
  }
  auto path = t["path"].value<std::string>();
  if (!path || path->empty() || path->front() != '/') {
    *error = "\"path\" must be an absolute path";
    return std::nullopt;
  }
  rule.path = normalise_path(*path);
  if (t.contains("recurse")) {
    auto r = t["recurse"].value<bool>();
    if (!r) {
      *error = "\"recurse\" must be a boolean";
      return std::nullopt;
    }
    rule.recurse = *r;
  }
  if (const auto* ex = t["exclude"].node()) {
    std::vector<std::string> patterns;
    if (auto s = ex->value<std::string>()) {
      patterns.push_back(*s);
    } else if (const auto* arr = ex->as_array()) {
      for (const auto& n : *arr) {
        auto s = n.value<std::string>();
        if (!s) {
          *error = "\"exclude\" must be a list of strings";
          return std::nullopt;
        }
        patterns.push_back(*s);
      }
    } else {
      *error = "\"exclude\" must be a list of strings";
      return std::nullopt;
    }
    for (auto& p : patterns) {
      auto e = exclusion::make(p, error);
      if (!e)
        return std::nullopt;
      rule.exclude.push_back(std::move(*e));
    }
  }
  if (const auto* at = t["attributes"].node()) {
    std::string text;
    if (auto s = at->value<std::string>()) {
      text = *s;
    } else if (const auto* arr = at->as_array()) {
      for (const auto& n : *arr) {
        auto s = n.value<std::string>();
        if (!s) {
          *error = "\"attributes\" must be a string or a list of strings";
          return std::nullopt;
        }
        text += (text.empty() ? "" : "+") + *s;
      }
    } else {
      *error = "\"attributes\" must be a string or a list of strings";
      return std::nullopt;
    }
    auto set = attribute_set::parse(text, error);
    if (!set)
      return std::nullopt;
    rule.attributes = *set;
  }
  if (t.contains("severity")) {
    auto s = t["severity"].value<std::string>();
    auto lv = s ? runtime::parse_severity(*s) : std::nullopt;
    if (!lv) {
      *error = "\"severity\" must be one of info, low, medium, high, critical";
      return std::nullopt;
    }
    rule.level = lv;
  }
  return rule;
}

} // namespace

std::optional<rule_set> rule_set::parse(const toml::node& rules, std::string* error) {
  rule_set set;
  std::string why;
  auto take = [&](const toml::node& n, const std::string& label) {
    const auto* t = n.as_table();
    if (!t) {
      why = "must be a table";
    } else if (auto r = parse_rule(*t, &why)) {
      set.add(std::move(*r));
      return true;
    }
    if (error) {
      *error = "fim rule " + label + ": " + why;
      if (auto line = n.source().begin.line)
        *error += " (line " + std::to_string(line) + ")";
    }
    return false;
  };
  if (const auto* arr = rules.as_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i)
      if (!take((*arr)[i], "#" + std::to_string(i + 1)))
        return std::nullopt;
  } else if (const auto* tab = rules.as_table()) {
    for (const auto& [key, node] : *tab)
      if (!take(node, "\"" + std::string(key.str()) + "\""))
        return std::nullopt;
  } else {
    if (error)
      *error = "fim \"rules\" must be an array of tables (rules = [{ path = \"/etc\" }])";
    return std::nullopt;
  }
  return set;
}

} // namespace pg::actors::fim
