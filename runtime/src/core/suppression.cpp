// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/suppression.hpp"

namespace pg::runtime {

bool glob_match(std::string_view p, std::string_view t) {
  // Iterative match with one backtrack point per '*': linear in practice, no recursion.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && p[pi] == t[ti]) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

namespace {

std::string text_of(const nlohmann::json& v) {
  if (v.is_string())
    return v.get<std::string>();
  return v.dump();
}

} // namespace

bool suppression_matches(const suppression_decl& s, const finding& f) {
  if (!glob_match(s.rule, f.rule))
    return false;
  for (const auto& [key, pattern] : s.entity) {
    if (!f.entity.is_object() || !f.entity.contains(key))
      return false;
    if (!glob_match(pattern, text_of(f.entity.at(key))))
      return false;
  }
  return true;
}

void suppressor::replace(std::vector<suppression_decl> entries) {
  std::lock_guard lock(mutex_);
  std::vector<entry> next;
  for (auto& d : entries) {
    entry e{std::move(d), 0, false};
    // An entry kept across a reload keeps its count and whether its expiry was said.
    for (const auto& old : entries_)
      if (old.decl == e.decl) {
        e.suppressed = old.suppressed;
        e.expiry_reported = old.expiry_reported;
      }
    next.push_back(std::move(e));
  }
  entries_ = std::move(next);
}

suppressor::verdict suppressor::check(const finding& f, wall_clock::time_point now) {
  verdict v;
  if (f.rule == "engine.suppression_expired")
    return v; // the expiry notice itself is never suppressed
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (!suppression_matches(e.decl, f))
      continue;
    if (e.decl.expires && now >= *e.decl.expires) {
      if (!e.expiry_reported) {
        e.expiry_reported = true;
        v.newly_expired = e.decl;
      }
      continue;
    }
    ++e.suppressed;
    v.suppressed = true;
    return v;
  }
  return v;
}

std::vector<suppression_decl> suppressor::take_expired(wall_clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::vector<suppression_decl> out;
  for (auto& e : entries_)
    if (e.decl.expires && now >= *e.decl.expires && !e.expiry_reported) {
      e.expiry_reported = true;
      out.push_back(e.decl);
    }
  return out;
}

std::vector<std::int64_t> suppressor::counts() const {
  std::lock_guard lock(mutex_);
  std::vector<std::int64_t> out;
  for (const auto& e : entries_)
    out.push_back(e.suppressed);
  return out;
}

std::size_t suppressor::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

finding expired_suppression_finding(const suppression_decl& s) {
  finding f;
  f.rule = "engine.suppression_expired";
  f.level = severity::medium;
  f.title = "A suppression of " + s.rule + " expired: its findings are reported again (" +
            s.where + ")";
  f.entity = {{"suppression", s.where}};
  nlohmann::json entity = nlohmann::json::object();
  for (const auto& [k, v] : s.entity)
    entity[k] = v;
  f.evidence = {{"rule", s.rule},
                {"entity", entity},
                {"reason", s.reason},
                {"expired", s.expires ? format_rfc3339(*s.expires) : std::string()},
                {"fix", "renew it (a later expires) once the reason still holds, or remove it"}};
  return f;
}

} // namespace pg::runtime
