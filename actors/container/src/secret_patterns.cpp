// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/secret_patterns.hpp"

#include <algorithm>
#include <cctype>

namespace pg::actors::container {

namespace {

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_base64(char c) {
  return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

std::size_t line_of(std::string_view s, std::size_t pos) {
  return static_cast<std::size_t>(std::count(s.begin(), s.begin() + static_cast<long>(pos), '\n')) +
         1;
}

std::string redact(std::string_view value) {
  return std::string(value.substr(0, std::min<std::size_t>(value.size(), 4))) + "…(" +
         std::to_string(value.size()) + " chars)";
}

// Counts characters of `pred` starting at `pos`.
template <typename Pred>
std::size_t run_of(std::string_view s, std::size_t pos, Pred pred) {
  std::size_t n = 0;
  while (pos + n < s.size() && pred(s[pos + n]))
    ++n;
  return n;
}

// "-----BEGIN <kind>PRIVATE KEY-----" followed by a base64 body: the header alone appears in
// programs and documentation that handle keys, the body only in a real key.
void private_keys(std::string_view s, std::vector<secret_hit>& out) {
  std::size_t pos = 0;
  while ((pos = s.find("-----BEGIN ", pos)) != std::string_view::npos) {
    auto end = s.find("-----", pos + 11);
    if (end == std::string_view::npos || end - pos > 64)
      break;
    auto label = s.substr(pos + 11, end - pos - 11);
    if (label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK")) {
      auto body = end + 5;
      // Skip the line end and optional PEM headers ("Proc-Type: ...").
      std::size_t base64 = 0;
      for (std::size_t i = body; i < s.size() && i < body + 4096; ++i) {
        if (s[i] == '-' && base64 > 0)
          break;
        if (is_base64(s[i]))
          ++base64;
      }
      if (base64 >= 64) {
        std::string kind(label.substr(0, label.size() - (label.ends_with("BLOCK") ? 17 : 11)));
        while (!kind.empty() && kind.back() == ' ')
          kind.pop_back();
        out.push_back({"private_key", (kind.empty() ? "PKCS#8" : kind) + " private key",
                       runtime::severity::high, line_of(s, pos),
                       "-----BEGIN " + std::string(label) + "-----"});
        return;
      }
    }
    pos = end;
  }
}

// AKIA/ASIA + 16 upper-case base32 characters, not inside a longer word.
void aws_key_ids(std::string_view s, std::vector<secret_hit>& out) {
  for (const char* prefix : {"AKIA", "ASIA"}) {
    std::size_t pos = 0;
    while ((pos = s.find(prefix, pos)) != std::string_view::npos) {
      auto n = run_of(s, pos + 4,
                      [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); });
      bool bounded = (pos == 0 || !is_alnum(s[pos - 1])) &&
                     (pos + 4 + n >= s.size() || !is_alnum(s[pos + 4 + n]));
      auto value = s.substr(pos, 4 + n);
      if (n == 16 && bounded && value.find("EXAMPLE") == std::string_view::npos) {
        out.push_back({"aws_access_key_id", "AWS access key id", runtime::severity::medium,
                       line_of(s, pos), redact(value)});
        return;
      }
      pos += 4;
    }
  }
}

// aws_secret_access_key = <40 base64 characters> (credentials files, env files, configs). The
// key name is written in lower case (credentials files) or upper case (environment variables).
void aws_secrets(std::string_view s, std::vector<secret_hit>& out) {
  for (std::string_view key : {"aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"}) {
    std::size_t pos = 0;
    while ((pos = s.find(key, pos)) != std::string_view::npos) {
      auto i = pos + key.size();
      pos = i;
      i += run_of(s, i, [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\''; });
      if (i >= s.size() || (s[i] != '=' && s[i] != ':'))
        continue;
      ++i;
      i += run_of(s, i, [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\''; });
      auto n = run_of(s, i, [](char c) { return is_alnum(c) || c == '/' || c == '+'; });
      auto value = s.substr(i, n);
      if (n == 40 && value.find("EXAMPLE") == std::string_view::npos) {
        out.push_back({"aws_secret_access_key", "AWS secret access key",
                       runtime::severity::critical, line_of(s, pos - key.size()), redact(value)});
        return;
      }
    }
  }
}

// A Google Cloud service account key file: JSON with both markers.
void gcp_service_accounts(std::string_view s, std::vector<secret_hit>& out) {
  auto type = s.find("\"service_account\"");
  if (type == std::string_view::npos)
    return;
  auto key = s.find("\"private_key\"");
  if (key == std::string_view::npos || s.find("PRIVATE KEY", key) == std::string_view::npos)
    return;
  out.push_back({"gcp_service_account_key", "Google Cloud service account key",
                 runtime::severity::critical, line_of(s, type), "\"type\": \"service_account\""});
}

// Tokens with a fixed prefix and a minimum body of [A-Za-z0-9_-].
void prefixed_tokens(std::string_view s, std::vector<secret_hit>& out) {
  struct token {
    const char* prefix;
    std::size_t min_body;
    const char* pattern;
    const char* title;
  };
  static const token tokens[] = {
      {"ghp_", 36, "github_token", "GitHub personal access token"},
      {"gho_", 36, "github_token", "GitHub OAuth token"},
      {"ghs_", 36, "github_token", "GitHub app token"},
      {"ghu_", 36, "github_token", "GitHub user-to-server token"},
      {"ghr_", 36, "github_token", "GitHub refresh token"},
      {"github_pat_", 60, "github_token", "GitHub fine-grained token"},
      {"glpat-", 20, "gitlab_token", "GitLab personal access token"},
      {"xoxb-", 20, "slack_token", "Slack bot token"},
      {"xoxp-", 20, "slack_token", "Slack user token"},
      {"xoxa-", 20, "slack_token", "Slack app token"},
  };
  for (const auto& t : tokens) {
    if (std::any_of(out.begin(), out.end(),
                    [&](const secret_hit& h) { return h.pattern == t.pattern; }))
      continue;
    std::string_view prefix(t.prefix);
    std::size_t pos = 0;
    while ((pos = s.find(prefix, pos)) != std::string_view::npos) {
      auto n = run_of(s, pos + prefix.size(),
                      [](char c) { return is_alnum(c) || c == '_' || c == '-'; });
      bool bounded = pos == 0 || !is_alnum(s[pos - 1]);
      if (n >= t.min_body && bounded) {
        out.push_back({t.pattern, t.title, runtime::severity::high, line_of(s, pos),
                       redact(s.substr(pos, prefix.size() + n))});
        break;
      }
      pos += prefix.size();
    }
  }
}

// A registry login in a Docker config.json: "auths": { "<registry>": { "auth": "<base64>" } }.
void docker_auths(std::string_view s, std::vector<secret_hit>& out) {
  auto auths = s.find("\"auths\"");
  if (auths == std::string_view::npos)
    return;
  auto pos = s.find("\"auth\"", auths);
  while (pos != std::string_view::npos) {
    auto i = pos + 6;
    i += run_of(s, i, [](char c) { return c == ' ' || c == ':' || c == '\t'; });
    if (i < s.size() && s[i] == '"') {
      auto n = run_of(s, i + 1, is_base64);
      if (n >= 16) {
        out.push_back({"docker_registry_auth", "container registry credentials",
                       runtime::severity::high, line_of(s, pos), redact(s.substr(i + 1, n))});
        return;
      }
    }
    pos = s.find("\"auth\"", pos + 6);
  }
}

} // namespace

std::vector<secret_hit> find_secrets(std::string_view content) {
  std::vector<secret_hit> out;
  private_keys(content, out);
  aws_key_ids(content, out);
  aws_secrets(content, out);
  gcp_service_accounts(content, out);
  prefixed_tokens(content, out);
  docker_auths(content, out);
  return out;
}

} // namespace pg::actors::container
