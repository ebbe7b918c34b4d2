// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/advisory_update.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/runtime/digest.hpp"
#include "phantomguard/runtime/json_fields.hpp"
#include "phantomguard/runtime/unique_fd.hpp"
#include "phantomguard/runtime/url.hpp"

namespace pg::actors::vuln {

namespace {

namespace fs = std::filesystem;
using outcome = advisory_update_result::outcome;

std::string meta_path(const std::string& output) {
  return output + ".meta.json";
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// The temporary file keeps the output's extension: the validation loads it as the analyzer will.
std::string part_path(const std::string& output) {
  fs::path p(output);
  return (p.parent_path() / ("." + p.stem().string() + ".download" + p.extension().string()))
      .string();
}

bool fsync_dir(const fs::path& dir) {
  runtime::unique_fd fd(
      ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd.get() >= 0 && ::fsync(fd.get()) == 0;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string in(text);
  while (!in.empty() && (in.back() == ' ' || in.back() == '\r'))
    in.pop_back();
  if (in.empty() || in.size() % 4 != 0)
    return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0)
    return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && in[in.size() - 1 - pad] == '=')
    ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// The MD5 a server states for the body: Content-MD5, or Google Cloud Storage's
// "x-goog-hash: crc32c=...,md5=..." (the OSV bucket sends it).
std::optional<std::string> stated_md5(const httplib::Response& r) {
  if (r.has_header("Content-MD5"))
    return base64_decode(r.get_header_value("Content-MD5"));
  for (std::size_t i = 0, n = r.get_header_value_count("x-goog-hash"); i < n; ++i) {
    std::string v = r.get_header_value("x-goog-hash", i);
    std::stringstream parts(v);
    std::string part;
    while (std::getline(parts, part, ',')) {
      while (!part.empty() && part.front() == ' ')
        part.erase(0, 1);
      if (part.rfind("md5=", 0) == 0)
        return base64_decode(part.substr(4));
    }
  }
  return std::nullopt;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64)
    return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct http_target {
  std::unique_ptr<httplib::Client> client;
  std::string path;
};

http_target client_for(const std::string& url, const advisory_update_request& r) {
  auto [origin, path] = runtime::split_url(url);
  http_target t{std::make_unique<httplib::Client>(origin), path};
  const auto sec = static_cast<time_t>(r.timeout.count());
  t.client->set_connection_timeout(std::min<time_t>(sec, 30), 0);
  t.client->set_read_timeout(sec, 0);
  if (url.rfind("https://", 0) == 0) {
    if (!r.ca_file.empty())
      t.client->set_ca_cert_path(r.ca_file.c_str());
    t.client->enable_server_certificate_verification(true);
  }
  return t;
}

std::string ascii_tail(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200))
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out;
}

bool write_meta(const std::string& output, const advisory_source_meta& m, std::string* error) {
  nlohmann::json j = {{"url", m.url},
                      {"etag", m.etag},
                      {"last_modified", m.last_modified},
                      {"sha256", m.sha256},
                      {"size", m.size},
                      {"advisories", m.advisories},
                      {"fetched_at", runtime::format_rfc3339(m.fetched_at)},
                      {"checked_at", runtime::format_rfc3339(m.checked_at)}};
  const auto path = meta_path(output);
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << '\n';
    out.flush();
    if (!out) {
      *error = "cannot write " + tmp + ": " + errno_text(errno);
      std::error_code ec;
      fs::remove(tmp, ec);
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot replace " + path + ": " + errno_text(errno);
    return false;
  }
  return true;
}

std::uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto s = fs::file_size(path, ec);
  return ec ? 0 : s;
}

} // namespace

std::optional<advisory_source_meta> read_advisory_meta(const std::string& output) {
  std::ifstream in(meta_path(output));
  if (!in)
    return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object())
    return std::nullopt;
  advisory_source_meta m;
  try {
    m.url = j.value("url", "");
    m.etag = j.value("etag", "");
    m.last_modified = j.value("last_modified", "");
    m.sha256 = j.value("sha256", "");
    // A count that is not a whole number this machine holds (-1, 1e300) is someone else's
    // record, like a field of the wrong type.
    const auto size = runtime::integer_field<std::uint64_t>(j, "size");
    const auto advisories = runtime::integer_field<std::size_t>(j, "advisories");
    if ((j.contains("size") && !size) || (j.contains("advisories") && !advisories))
      return std::nullopt;
    m.size = size.value_or(0);
    m.advisories = advisories.value_or(0);
    auto fetched = runtime::parse_rfc3339(j.value("fetched_at", ""));
    auto checked = runtime::parse_rfc3339(j.value("checked_at", ""));
    if (!fetched || !checked)
      return std::nullopt;
    // The validators go back out as request headers: a record holding a line break or another
    // control character (edited by hand, or by someone else) is not trusted.
    for (const auto* v : {&m.etag, &m.last_modified})
      for (unsigned char c : *v)
        if (c < 0x20 || c == 0x7f)
          return std::nullopt;
    m.fetched_at = *fetched;
    m.checked_at = *checked;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt; // a field of the wrong type: the record is not trusted
  }
  return m;
}

std::optional<std::string> expected_from_checksum_file(const std::string& text,
                                                       const std::string& url) {
  const auto name = fs::path(runtime::split_url(url).second).filename().string();
  std::optional<std::string> first;
  std::stringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::stringstream words(line);
    std::string digest, file;
    words >> digest >> file;
    if (!is_hex64(digest))
      continue;
    if (!file.empty() && file.front() == '*')
      file.erase(0, 1);
    if (!name.empty() && fs::path(file).filename() == name)
      return lower(digest);
    if (!first)
      first = lower(digest);
  }
  return first;
}

advisory_update_result update_advisories(const advisory_update_request& request) {
  advisory_update_result res;
  auto fail = [&](std::string why) {
    res.result = outcome::failed;
    res.error = std::move(why);
    return res;
  };
  if (request.output.empty())
    return fail("no output file given");
  if (request.url.rfind("http://", 0) != 0 && request.url.rfind("https://", 0) != 0)
    return fail("url '" + request.url + "' is not http:// or https://");
  const fs::path out_path(request.output);
  std::error_code ec;
  if (fs::is_directory(out_path, ec))
    return fail(request.output + " is a directory; updates install one .zip or .json file");
  if (!out_path.parent_path().empty()) {
    fs::create_directories(out_path.parent_path(), ec);
    if (ec)
      return fail("cannot create " + out_path.parent_path().string() + ": " + ec.message());
  }

  // One update of a file at a time (the daemon's schedule and an operator's command).
  runtime::unique_fd lock(
      ::open((request.output + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0)
    return fail("cannot open " + request.output + ".lock: " + errno_text(errno));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
    return fail("another update of " + request.output + " is running");

  auto meta = read_advisory_meta(request.output);
  const bool have_current = fs::is_regular_file(out_path, ec);
  // A record that does not describe the file in place (edited, replaced by hand) is not used
  // for a conditional request: the download is unconditional.
  const bool conditional = !request.force && have_current && meta && meta->url == request.url &&
                           meta->size == file_size_or_zero(request.output);

  std::string expected_sha = lower(request.sha256);
  if (!expected_sha.empty() && !is_hex64(expected_sha))
    return fail("sha256 '" + request.sha256 + "' is not 64 hex digits");
  if (!request.checksum_url.empty()) {
    auto t = client_for(request.checksum_url, request);
    std::string body;
    auto r = t.client->Get(t.path, httplib::Headers{}, [&](const char* d, std::size_t n) {
      body.append(d, n);
      return body.size() <= 64 * 1024;
    });
    if (!r)
      return fail("checksum " + request.checksum_url + ": " + httplib::to_string(r.error()));
    if (r->status != 200)
      return fail("checksum " + request.checksum_url + ": HTTP " + std::to_string(r->status));
    auto named = expected_from_checksum_file(body, request.url);
    if (!named)
      return fail("checksum " + request.checksum_url + " names no SHA-256");
    if (!expected_sha.empty() && *named != expected_sha)
      return fail("checksum " + request.checksum_url + " disagrees with the sha256 given");
    expected_sha = *named;
  }

  const auto part = part_path(request.output);
  runtime::unique_fd fd(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    return fail("cannot create " + part + ": " + errno_text(errno));
  auto drop_part = [&] {
    fd.reset();
    ::unlink(part.c_str());
  };

  httplib::Headers headers;
  if (conditional) {
    if (!meta->etag.empty())
      headers.emplace("If-None-Match", meta->etag);
    if (!meta->last_modified.empty())
      headers.emplace("If-Modified-Since", meta->last_modified);
  }
  runtime::digest_stream sha;
  runtime::digest_stream md5(runtime::digest_stream::algorithm::md5);
  std::string refusal;
  std::uint64_t declared = 0;
  bool declared_known = false;
  std::string error_body;
  int status = 0;
  // Redirects are followed here, not by the client: its own following takes a 304 for one.
  std::string url = request.url;
  std::optional<httplib::Result> got;
  for (int hop = 0;; ++hop) {
    auto target = client_for(url, request);
    error_body.clear();
    got.emplace(target.client->Get(
        target.path, headers,
        [&](const httplib::Response& r) {
          status = r.status;
          if (r.status == 200 && r.has_header("Content-Length")) {
            try {
              declared = std::stoull(r.get_header_value("Content-Length"));
              declared_known = true;
            } catch (const std::exception&) {
              refusal =
                  "Content-Length '" + r.get_header_value("Content-Length") + "' is not a number";
              return false;
            }
            if (declared > request.max_bytes) {
              refusal = "the server announces " + std::to_string(declared) +
                        " bytes, over the limit of " + std::to_string(request.max_bytes);
              return false;
            }
          }
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (status != 200) {
            if (error_body.size() < 200)
              error_body.append(data, std::min<std::size_t>(n, 200));
            return true;
          }
          if (res.bytes + n > request.max_bytes) {
            refusal =
                "download exceeds the limit of " + std::to_string(request.max_bytes) + " bytes";
            return false;
          }
          std::size_t done = 0;
          while (done < n) {
            auto w = ::write(fd.get(), data + done, n - done);
            if (w < 0) {
              if (errno == EINTR)
                continue;
              refusal = "cannot write " + part + ": " + errno_text(errno);
              return false;
            }
            done += static_cast<std::size_t>(w);
          }
          sha.update(data, n);
          md5.update(data, n);
          res.bytes += n;
          return true;
        }));
    const auto& result = *got;
    const bool redirect =
        result && refusal.empty() &&
        (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
        result->has_header("Location");
    if (!redirect)
      break;
    if (hop == 5) {
      drop_part();
      return fail(request.url + ": more than 5 redirects");
    }
    auto location = result->get_header_value("Location");
    if (location.rfind("http://", 0) != 0 && location.rfind("https://", 0) != 0)
      location = runtime::split_url(url).first + (location.starts_with("/") ? "" : "/") + location;
    if (url.rfind("https://", 0) == 0 && location.rfind("https://", 0) != 0) {
      drop_part();
      return fail(request.url + ": refusing a redirect from https to " + location);
    }
    url = location;
  }
  const auto& result = *got;
  res.http_status = status;
  if (!refusal.empty()) {
    drop_part();
    return fail(refusal);
  }
  if (!result) {
    drop_part();
    return fail(request.url + ": " + httplib::to_string(result.error()));
  }
  const auto now = runtime::wall_clock::now();
  if (result->status == 304 && conditional) {
    drop_part();
    meta->checked_at = now;
    std::string error;
    if (!write_meta(request.output, *meta, &error))
      return fail(error);
    res.result = outcome::not_modified;
    res.sha256 = meta->sha256;
    res.advisories = meta->advisories;
    return res;
  }
  if (result->status != 200) {
    drop_part();
    return fail(request.url + ": HTTP " + std::to_string(result->status) +
                (error_body.empty() ? "" : " (" + ascii_tail(error_body) + ")"));
  }
  if (declared_known && res.bytes != declared) {
    drop_part();
    return fail("short download: " + std::to_string(res.bytes) + " of " + std::to_string(declared) +
                " bytes");
  }
  if (res.bytes == 0) {
    drop_part();
    return fail(request.url + " sent an empty body");
  }
  res.sha256 = sha.finish_hex();
  if (auto stated = stated_md5(*result)) {
    if (*stated != md5.finish_raw()) {
      drop_part();
      return fail("the download does not match the MD5 the server states for it");
    }
    res.md5_checked = true;
  }
  if (!expected_sha.empty()) {
    if (res.sha256 != expected_sha) {
      drop_part();
      return fail("SHA-256 mismatch: got " + res.sha256 + ", expected " + expected_sha);
    }
    res.sha256_checked = true;
  }
  if (::fsync(fd.get()) != 0) {
    auto e = errno;
    drop_part();
    return fail("cannot sync " + part + ": " + errno_text(e));
  }
  fd.reset();

  // The content must be what the scanner reads: an archive (or file) of advisories.
  auto loaded = advisory_index::load(part);
  if (!loaded.stats().errors.empty() || loaded.stats().advisories == 0) {
    ::unlink(part.c_str());
    std::string why =
        loaded.stats().errors.empty() ? "it holds no advisories" : loaded.stats().errors.front();
    if (loaded.stats().errors.empty() && !loaded.stats().malformed.empty())
      why += " (" + std::to_string(loaded.stats().malformed.size()) +
             " malformed, first: " + loaded.stats().malformed.front().reason + ")";
    return fail("the download is not usable advisory data: " + why);
  }
  res.advisories = loaded.stats().advisories;

  // Keep the last good copy beside the new one, then switch atomically.
  const auto prev = request.output + ".prev";
  if (have_current) {
    ::unlink(prev.c_str());
    if (::link(request.output.c_str(), prev.c_str()) != 0) {
      auto e = errno;
      ::unlink(part.c_str());
      return fail("cannot keep the previous copy as " + prev + ": " + errno_text(e));
    }
  }
  if (::rename(part.c_str(), request.output.c_str()) != 0) {
    auto e = errno;
    ::unlink(part.c_str());
    return fail("cannot install " + request.output + ": " + errno_text(e));
  }
  fsync_dir(out_path.parent_path());
  advisory_source_meta m;
  m.url = request.url;
  m.etag = result->get_header_value("ETag");
  m.last_modified = result->get_header_value("Last-Modified");
  m.sha256 = res.sha256;
  m.size = res.bytes;
  m.advisories = res.advisories;
  m.fetched_at = now;
  m.checked_at = now;
  std::string error;
  if (!write_meta(request.output, m, &error)) {
    // The data is installed; without its record the next update is unconditional.
    res.result = outcome::updated;
    res.error = error;
    return res;
  }
  fsync_dir(out_path.parent_path());
  res.result = outcome::updated;
  return res;
}

std::optional<runtime::wall_clock::time_point> advisories_confirmed_at(const std::string& path,
                                                                       std::string* from) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec))
    return std::nullopt;
  if (auto meta = read_advisory_meta(path);
      meta && fs::is_regular_file(path, ec) && meta->size == file_size_or_zero(path)) {
    if (from)
      *from = "update record";
    return meta->checked_at;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return std::nullopt;
  if (from)
    *from = "file mtime";
  return runtime::wall_clock::time_point(std::chrono::seconds(st.st_mtim.tv_sec));
}

std::optional<runtime::finding> staleness_finding(const std::string& path,
                                                  std::chrono::seconds max_age,
                                                  runtime::wall_clock::time_point now) {
  if (max_age.count() <= 0)
    return std::nullopt;
  std::string from;
  auto at = advisories_confirmed_at(path, &from);
  if (!at || now - *at <= max_age)
    return std::nullopt;
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *at);
  runtime::finding f;
  f.rule = "vuln.advisories_stale";
  f.level = runtime::severity::medium;
  f.title = "Advisory data is " + std::to_string(age.count() / 86400) +
            " day(s) old: vulnerabilities published since are not matched";
  f.entity = {{"advisories", path}};
  f.evidence = {{"age_hours", age.count() / 3600},
                {"max_age_hours", max_age.count() / 3600},
                {"confirmed_at", runtime::format_rfc3339(*at)},
                {"from", from},
                {"remedy", "phantomguard vuln update --output " + path}};
  return f;
}

} // namespace pg::actors::vuln
