// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/compiled_rules.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "phantomguard/runtime/digest.hpp"
#include "phantomguard/runtime/json_fields.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <yara.h>

namespace pg::actors::yara {

namespace fs = std::filesystem;

void ensure_libyara() {
  static std::once_flag once;
  static int rc = ERROR_SUCCESS;
  // Never finalised: scanners may run until exit, and the OS reclaims the tables.
  std::call_once(once, [] { rc = yr_initialize(); });
  if (rc != ERROR_SUCCESS)
    throw std::runtime_error("libyara failed to initialise (error " + std::to_string(rc) + ")");
}

std::size_t compiled_rules::bytes() const noexcept {
  if (rules_ == nullptr || rules_->arena == nullptr)
    return 0;
  std::size_t total = sizeof(YR_ARENA);
  for (std::uint32_t i = 0; i < rules_->arena->num_buffers && i < YR_MAX_ARENA_BUFFERS; ++i)
    total += rules_->arena->buffers[i].used; // reserved but untouched pages are not resident
  return total;
}

compiled_rules::~compiled_rules() {
  if (rules_)
    yr_rules_destroy(rules_);
}

std::string compile_error::to_string() const {
  return file + ":" + std::to_string(line) + ": error: " + message;
}

namespace {

struct file_closer {
  void operator()(FILE* f) const noexcept {
    if (f)
      std::fclose(f);
  }
};
using file_ptr = std::unique_ptr<FILE, file_closer>;

struct compiler_deleter {
  void operator()(YR_COMPILER* c) const noexcept { yr_compiler_destroy(c); }
};
using compiler_ptr = std::unique_ptr<YR_COMPILER, compiler_deleter>;

std::vector<std::string> rule_files(const std::vector<std::string>& sources) {
  std::vector<std::string> out;
  for (const auto& s : sources) {
    std::error_code ec;
    if (fs::is_directory(s, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator
               it(s, fs::directory_options::skip_permission_denied, ec),
           end;
           !ec && it != end; it.increment(ec)) {
        auto ext = it->path().extension().string();
        if ((ext == ".yar" || ext == ".yara") && it->is_regular_file(ec))
          found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(s);
    }
  }
  return out;
}

std::optional<std::string_view> builtin_text(std::string_view source) {
  if (source == builtin_rule_pack)
    return builtin_rule_pack_text();
  return std::nullopt;
}

std::string read_all(const std::string& path) {
  if (auto text = builtin_text(path))
    return std::string(*text);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Adds a file and, recursively, the files it includes to the digest: editing an included file
// must change the hash just as editing the index does.
void digest_file(runtime::digest_stream& md, const std::string& path, std::set<std::string>& seen) {
  std::error_code ec;
  auto canonical = fs::weakly_canonical(path, ec).string();
  if (!seen.insert(canonical).second)
    return;
  auto text = read_all(path);
  md.update(path.data(), path.size() + 1);
  md.update(text);
  static const std::regex include_re(R"re(^\s*include\s+"([^"]+)")re", std::regex::multiline);
  for (std::sregex_iterator it(text.begin(), text.end(), include_re), end; it != end; ++it) {
    fs::path inc = (*it)[1].str();
    if (inc.is_relative())
      inc = fs::path(path).parent_path() / inc;
    digest_file(md, inc.string(), seen);
  }
}

std::string hash_files(const std::vector<std::string>& files) {
  runtime::digest_stream md;
  std::set<std::string> seen;
  // The libyara version is part of the key: compiled rules are not portable across versions.
  md.update(std::string_view(YR_VERSION));
  for (const auto& f : files)
    digest_file(md, f, seen);
  return md.finish_hex();
}

struct error_sink {
  std::vector<compile_error> errors;
  std::string current; // names a source compiled from memory (libyara gives no file name)
};

void on_compile_message(int level, const char* file, int line, const YR_RULE*, const char* msg,
                        void* user) {
  if (level != YARA_ERROR_LEVEL_ERROR)
    return; // warnings (slow strings ...) are not errors, as with `yara -w`
  static_cast<error_sink*>(user)->errors.push_back(compile_error{
      file ? file : static_cast<error_sink*>(user)->current, line, msg ? msg : "compile error"});
}

// Adds files to a fresh compiler. Returns the compiler when all compiled, else nullptr with the
// errors recorded (libyara's compiler is unusable after an error, hence fresh ones).
compiler_ptr compile(const std::vector<std::string>& files, error_sink& sink) {
  YR_COMPILER* raw = nullptr;
  if (yr_compiler_create(&raw) != ERROR_SUCCESS)
    throw std::runtime_error("yr_compiler_create failed (out of memory)");
  compiler_ptr c(raw);
  yr_compiler_set_callback(c.get(), on_compile_message, &sink);
  for (const auto& f : files) {
    if (f.starts_with(builtin_prefix)) {
      auto text = builtin_text(f);
      if (!text) {
        sink.errors.push_back(compile_error{f, 0,
                                            "no built-in rule pack of that name (there is " +
                                                std::string(builtin_rule_pack) + ")"});
        return nullptr;
      }
      sink.current = f;
      if (yr_compiler_add_string(c.get(), std::string(*text).c_str(), nullptr) != 0)
        return nullptr;
      continue;
    }
    file_ptr fp(std::fopen(f.c_str(), "r"));
    if (!fp) {
      sink.errors.push_back(
          compile_error{f, 0, std::string("cannot open: ") + std::strerror(errno)});
      return nullptr;
    }
    if (yr_compiler_add_file(c.get(), fp.get(), nullptr, f.c_str()) != 0)
      return nullptr;
  }
  return c;
}

std::shared_ptr<const compiled_rules> rules_of(YR_COMPILER* c) {
  YR_RULES* rules = nullptr;
  if (yr_compiler_get_rules(c, &rules) != ERROR_SUCCESS)
    throw std::runtime_error("yr_compiler_get_rules failed (out of memory)");
  return std::make_shared<const compiled_rules>(rules);
}

nlohmann::json to_json(const ruleset& r) {
  nlohmann::json j;
  j["loaded"] = r.loaded;
  j["errors"] = nlohmann::json::array();
  for (const auto& e : r.errors)
    j["errors"].push_back({{"file", e.file}, {"line", e.line}, {"message", e.message}});
  return j;
}

} // namespace

std::string ruleset_hash(const std::vector<std::string>& sources) {
  return hash_files(rule_files(sources));
}

ruleset load_ruleset(const std::vector<std::string>& sources, const std::string& cache_dir) {
  ensure_libyara();
  ruleset out;
  out.files = rule_files(sources);
  out.hash = hash_files(out.files);

  fs::path cached, cached_meta;
  if (!cache_dir.empty()) {
    cached = fs::path(cache_dir) / ("rules-" + out.hash.substr(0, 32) + ".yarc");
    cached_meta = fs::path(cache_dir) / ("rules-" + out.hash.substr(0, 32) + ".json");
    YR_RULES* raw = nullptr;
    std::error_code ec;
    if (fs::exists(cached, ec) && fs::exists(cached_meta, ec) &&
        yr_rules_load(cached.c_str(), &raw) == ERROR_SUCCESS) {
      try {
        auto meta = nlohmann::json::parse(read_all(cached_meta.string()));
        out.rules = std::make_shared<const compiled_rules>(raw);
        out.loaded = meta.at("loaded").get<std::vector<std::string>>();
        for (const auto& e : meta.at("errors"))
          out.errors.push_back(compile_error{e.at("file").get<std::string>(),
                                             runtime::integer_field<int>(e, "line").value(),
                                             e.at("message").get<std::string>()});
        out.from_cache = true;
        return out;
      } catch (const std::exception&) { // a damaged sidecar: compile afresh
        if (!out.rules)
          yr_rules_destroy(raw);
        out.rules.reset();
        out.loaded.clear();
        out.errors.clear();
      }
    }
  }

  // Each file is first compiled on its own, so that one broken file is reported with its
  // line and left out while the others load.
  std::vector<std::string> good;
  for (const auto& f : out.files) {
    error_sink sink;
    if (compile({f}, sink))
      good.push_back(f);
    else
      out.errors.insert(out.errors.end(), sink.errors.begin(), sink.errors.end());
  }
  // Files that compile alone can still clash together (a rule name defined twice): drop the
  // file the compiler was reading at the first error and try again.
  while (!good.empty()) {
    error_sink sink;
    if (auto c = compile(good, sink)) {
      out.rules = rules_of(c.get());
      break;
    }
    std::string culprit = sink.errors.empty() ? good.back() : sink.errors.front().file;
    out.errors.insert(out.errors.end(), sink.errors.begin(), sink.errors.end());
    auto it = std::find(good.begin(), good.end(), culprit);
    good.erase(it == good.end() ? good.end() - 1 : it);
  }
  out.loaded = good;

  if (out.rules && !cache_dir.empty()) {
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    // Written to temporary names and renamed, so a reader never sees half a file.
    auto tmp = cached.string() + ".tmp." + std::to_string(::getpid());
    if (yr_rules_save(out.rules->get(), tmp.c_str()) == ERROR_SUCCESS) {
      std::ofstream(cached_meta.string() + ".tmp") << to_json(out).dump();
      fs::rename(cached_meta.string() + ".tmp", cached_meta, ec);
      fs::rename(tmp, cached, ec);
    } else {
      fs::remove(tmp, ec);
    }
  }
  return out;
}

} // namespace pg::actors::yara
