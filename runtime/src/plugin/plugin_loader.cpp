// plugin_loader.cpp — load-time checks and loading. Everything before dlopen reads files only:
// a plugin that fails a check never gets to run a single instruction in the engine.
#include "phantomguard/runtime/plugin_loader.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <openssl/evp.h>

#include "phantomguard/runtime/refusal.hpp"
#include "plugin/elf_image.hpp"

namespace pg::runtime {

struct loaded_plugin::library {
  boost::dll::shared_library lib;
};

namespace {

namespace fs = std::filesystem;

constexpr std::uint16_t et_dyn = 3;

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

std::string user_name(uid_t uid) {
  if (const passwd* pw = getpwuid(uid); pw != nullptr)
    return std::string(pw->pw_name) + " (uid " + std::to_string(uid) + ")";
  return "uid " + std::to_string(uid);
}

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty())
      out += sep;
    out += i;
  }
  return out;
}

std::string quote_text(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

/// The one-line refusal every check produces: who, where, what, expected vs found, and the fix.
std::string refusal_line(const std::string& who, const std::string& path, const std::string& what,
                         const std::string& expected, const std::string& found,
                         const std::string& fix) {
  return "plugin " + quote_text(who) + " (" + (path.empty() ? std::string("no file") : path) +
         ") refused: " + what + ": expected " + expected + ", found " + found + "; fix: " + fix;
}

bool looks_like_path(std::string_view s) {
  return s.find('/') != std::string_view::npos || s.ends_with(".so");
}

struct note_contents {
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0;
  std::string json;
};

std::uint32_t le32(std::string_view s, std::size_t off) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<std::uint8_t>(s[off + static_cast<std::size_t>(i)]);
  return v;
}

/// Walks the notes of the section for ours ("PhantomGuard", type PG_NOTE_TYPE).
std::optional<note_contents> parse_note(std::string_view sec, std::string* error) {
  std::size_t off = 0;
  auto pad4 = [](std::size_t n) { return (n + 3) / 4 * 4; };
  while (off + 12 <= sec.size()) {
    const std::uint32_t namesz = le32(sec, off);
    const std::uint32_t descsz = le32(sec, off + 4);
    const std::uint32_t type = le32(sec, off + 8);
    const std::size_t name_off = off + 12;
    const std::size_t desc_off = name_off + pad4(namesz);
    if (desc_off > sec.size() || descsz > sec.size() - desc_off)
      break;
    const std::string_view name = sec.substr(name_off, namesz);
    if (type == PG_NOTE_TYPE && namesz == sizeof(PG_NOTE_NAME) &&
        name.substr(0, namesz - 1) == PG_NOTE_NAME && descsz >= 8) {
      note_contents n;
      n.abi_major = le32(sec, desc_off);
      n.abi_minor = le32(sec, desc_off + 4);
      std::string_view text = sec.substr(desc_off + 8, descsz - 8);
      n.json = std::string(text.substr(0, text.find('\0')));
      return n;
    }
    off = desc_off + pad4(descsz);
  }
  if (error)
    *error = "no PhantomGuard note in " PG_NOTE_SECTION;
  return std::nullopt;
}

std::optional<std::string> sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return std::nullopt;
  char buf[1 << 15];
  while (in) {
    in.read(buf, sizeof buf);
    if (in.gcount() > 0 &&
        EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount())) != 1)
      return std::nullopt;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
    return std::nullopt;
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += "0123456789abcdef"[md[i] >> 4];
    hex += "0123456789abcdef"[md[i] & 15];
  }
  return hex;
}

std::string describe_toml(const toml::node& n) {
  switch (n.type()) {
  case toml::node_type::string:
    return "string " + quote_text(n.value<std::string>().value_or(""));
  case toml::node_type::integer:
    return "integer " + std::to_string(n.value<std::int64_t>().value_or(0));
  case toml::node_type::floating_point:
    return "float";
  case toml::node_type::boolean:
    return n.value<bool>().value_or(false) ? "boolean true" : "boolean false";
  case toml::node_type::array:
    return "array";
  case toml::node_type::table:
    return "table";
  default:
    return "date/time";
  }
}

bool toml_fits(const toml::node& n, config_key_type t) {
  switch (t) {
  case config_key_type::string:
    return n.is_string();
  case config_key_type::integer:
    return n.is_integer();
  case config_key_type::floating:
    return n.is_floating_point() || n.is_integer();
  case config_key_type::boolean:
    return n.is_boolean();
  case config_key_type::string_list: {
    const toml::array* a = n.as_array();
    return a != nullptr &&
           std::all_of(a->begin(), a->end(), [](const toml::node& e) { return e.is_string(); });
  }
  }
  return false;
}

std::string a_type(config_key_type t) {
  switch (t) {
  case config_key_type::integer:
    return "an integer";
  case config_key_type::floating:
    return "a number";
  case config_key_type::boolean:
    return "true or false";
  case config_key_type::string_list:
    return "an array of strings";
  case config_key_type::string:
    break;
  }
  return "a string";
}

/// The path of the plugin with `id` in `dir` satisfying `req` (highest version wins).
std::string resolve_id(const plugin_request& request, std::string* refusal) {
  const std::string dir = request.plugin_dir;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) {
    *refusal = refusal_line(request.plugin, "", "plugin directory not found",
                            "a directory holding " + request.plugin + " (engine.plugin_dir)",
                            dir.empty() ? std::string("no plugin directory set") : quote_text(dir),
                            "set engine.plugin_dir (or --plugin-dir) to the directory of the "
                            "plugin, or give `plugin` as a path");
    return {};
  }
  std::optional<version_requirement> req;
  if (!request.version.empty())
    req = version_requirement::parse(request.version, nullptr);
  std::string best_path;
  std::optional<semver> best;
  std::vector<std::string> other_versions;
  std::vector<std::string> ids;
  for (const auto& entry : list_plugins(dir)) {
    if (!entry.manifest)
      continue;
    ids.push_back(entry.manifest->id);
    if (entry.manifest->id != request.plugin)
      continue;
    if (req && !req->matches(entry.manifest->version)) {
      other_versions.push_back(entry.manifest->version.to_string());
      continue;
    }
    if (!best || *best < entry.manifest->version) {
      best = entry.manifest->version;
      best_path = entry.path;
    }
  }
  if (!best_path.empty())
    return best_path;
  if (!other_versions.empty()) {
    *refusal = refusal_line(request.plugin, dir, "no installed version satisfies the requirement",
                            "version " + request.version, "version " + join(other_versions),
                            "install a version of " + request.plugin + " that satisfies " +
                                quote_text(request.version) + ", or change `version`");
  } else {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    *refusal = refusal_line(request.plugin, dir, "no plugin with this id in the plugin directory",
                            "a .so whose manifest id is " + quote_text(request.plugin),
                            ids.empty() ? std::string("no plugins") : "ids " + join(ids),
                            "install the plugin into " + dir +
                                ", correct the id, or give `plugin` as a path");
  }
  return {};
}

/// Ownership and permission rules for the file and the directory holding it: a plugin anyone
/// else can replace is code anyone else can run inside the engine.
std::string check_owner_mode(const std::string& who, const std::string& shown, const fs::path& p,
                             bool is_dir) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    return refusal_line(who, shown,
                        std::string("cannot stat the ") + (is_dir ? "directory" : "file"),
                        "a readable " + std::string(is_dir ? "directory" : "file"),
                        std::strerror(errno), "check the path");
  const char* what = is_dir ? "directory" : "file";
  if (!is_dir && !S_ISREG(st.st_mode))
    return refusal_line(who, shown, "not a regular file", "a regular file",
                        S_ISDIR(st.st_mode) ? "a directory" : "a special file",
                        "point `plugin` at the .so file");
  const uid_t me = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != me)
    return refusal_line(who, shown,
                        std::string("the ") + what + " " + p.string() + " has an untrusted owner",
                        me == 0 ? "owner root (uid 0)" : "owner root or " + user_name(me),
                        "owner " + user_name(st.st_uid), "chown root " + p.string());
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return refusal_line(
        who, shown,
        std::string("the ") + what + " " + p.string() + " is writable by group or others",
        std::string("mode without group/other write (e.g. ") + (is_dir ? "0755" : "0644") + ")",
        "mode " + octal_mode(st.st_mode), "chmod go-w " + p.string());
  return {};
}

std::string host_machine_text(const detail::elf_image& self) {
  return detail::elf_image::machine_name(self.machine()) +
         (self.is_64() ? " (64-bit)" : " (32-bit)");
}

} // namespace

std::string host_abi_version() {
  return std::to_string(PG_ABI_MAJOR) + "." + std::to_string(PG_ABI_MINOR);
}

std::optional<plugin_manifest> read_plugin_manifest(const std::string& path, std::string* error) {
  std::string err;
  auto img = detail::elf_image::read(path, &err);
  if (!img) {
    if (error)
      *error = err;
    return std::nullopt;
  }
  auto sec = img->section(PG_NOTE_SECTION);
  if (!sec) {
    if (error)
      *error = "no " PG_NOTE_SECTION " section (not built with phantomguard_add_plugin)";
    return std::nullopt;
  }
  auto note = parse_note(*sec, error);
  if (!note)
    return std::nullopt;
  return parse_plugin_manifest(note->json, note->abi_major, note->abi_minor, error);
}

std::vector<plugin_listing_entry> list_plugins(const std::string& dir) {
  std::vector<plugin_listing_entry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".so" || !it->is_regular_file(ec))
      continue;
    plugin_listing_entry e;
    e.path = it->path().string();
    e.manifest = read_plugin_manifest(e.path, &e.error);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

plugin_inspection inspect_plugin(const plugin_request& request) {
  plugin_inspection r;
  std::string who = request.plugin;
  auto pass = [&](std::string name, std::string detail) {
    r.checks.push_back({std::move(name), true, std::move(detail)});
  };
  auto fail = [&](std::string name, std::string line) -> plugin_inspection& {
    r.checks.push_back({std::move(name), false, line});
    r.refusal = std::move(line);
    return r;
  };

  // 1. Where is it?
  if (looks_like_path(request.plugin)) {
    std::error_code ec;
    if (!fs::exists(request.plugin, ec))
      return fail("resolve", refusal_line(who, request.plugin, "plugin file not found",
                                          "an existing .so", "nothing at this path",
                                          "correct the path, or give the plugin's id and set "
                                          "engine.plugin_dir"));
    r.path = request.plugin;
  } else {
    std::string refusal;
    r.path = resolve_id(request, &refusal);
    if (r.path.empty())
      return fail("resolve", refusal);
  }
  pass("resolve", r.path);
  // Name the plugin by its id in every refusal when the note is readable (reading data is not
  // running code); the checks below still come in their documented order.
  if (auto peek = read_plugin_manifest(r.path, nullptr))
    who = peek->id;

  // 2. Who could have written it?
  std::error_code ec;
  const fs::path canonical = fs::canonical(r.path, ec);
  if (ec)
    return fail("file", refusal_line(who, r.path, "cannot resolve the path", "a readable file",
                                     ec.message(), "check the path"));
  if (auto line = check_owner_mode(who, r.path, canonical, false); !line.empty())
    return fail("file", line);
  if (auto line = check_owner_mode(who, r.path, canonical.parent_path(), true); !line.empty())
    return fail("file", line);
  pass("file", "owner and mode of " + canonical.string() + " and its directory are safe");

  // 3. Is it a shared object for this machine?
  std::string err;
  auto img = detail::elf_image::read(canonical.string(), &err);
  if (!img)
    return fail("elf", refusal_line(who, r.path, "not an ELF shared object", "an ELF .so", err,
                                    "point `plugin` at the .so built by phantomguard_add_plugin"));
  auto self = detail::elf_image::self(&err);
  if (self && (img->machine() != self->machine() || img->is_64() != self->is_64() ||
               img->little_endian() != self->little_endian())) {
    return fail("elf", refusal_line(who, r.path, "built for another architecture",
                                    host_machine_text(*self), host_machine_text(*img),
                                    "rebuild the plugin for " +
                                        detail::elf_image::machine_name(self->machine())));
  }
  if (img->type() != et_dyn)
    return fail("elf", refusal_line(who, r.path, "not a shared object", "ELF type DYN (a .so)",
                                    "ELF type " + std::to_string(img->type()),
                                    "build it with phantomguard_add_plugin (a MODULE library)"));
  pass("elf", host_machine_text(*img) + " shared object");

  // 4. The manifest, from the note: no code runs.
  auto sec = img->section(PG_NOTE_SECTION);
  std::optional<note_contents> note;
  if (sec)
    note = parse_note(*sec, &err);
  if (!sec || !note)
    return fail("manifest", refusal_line(who, r.path, "no manifest note",
                                         "an ELF section " PG_NOTE_SECTION " with the manifest",
                                         sec ? err : "no such section",
                                         "build the plugin with phantomguard_add_plugin (it "
                                         "embeds manifest.json)"));
  auto manifest = parse_plugin_manifest(note->json, note->abi_major, note->abi_minor, &err);
  if (!manifest)
    return fail("manifest",
                refusal_line(who, r.path, "invalid manifest", "a valid manifest.json", err,
                             "correct manifest.json (see docs/sdk.md) and rebuild"));
  who = manifest->id;
  pass("manifest", manifest->id + " " + manifest->version.to_string());

  // 5. The ABI rule: same major, required minor not newer than ours.
  const std::string theirs =
      std::to_string(note->abi_major) + "." + std::to_string(note->abi_minor);
  if (note->abi_major != PG_ABI_MAJOR) {
    const bool older = note->abi_major < PG_ABI_MAJOR;
    return fail("abi", refusal_line(who, r.path, "incompatible ABI major version",
                                    "ABI " + std::to_string(PG_ABI_MAJOR) +
                                        ".x (this engine speaks ABI " + host_abi_version() + ")",
                                    "ABI " + theirs,
                                    older ? "rebuild the plugin against PhantomGuard SDK " +
                                                std::to_string(PG_ABI_MAJOR) + ".x"
                                          : "upgrade the engine to one that speaks ABI " +
                                                std::to_string(note->abi_major) +
                                                ".x, or use a build of the plugin for ABI " +
                                                std::to_string(PG_ABI_MAJOR)));
  }
  if (note->abi_minor > PG_ABI_MINOR)
    return fail("abi",
                refusal_line(who, r.path, "requires a newer ABI minor version",
                             "ABI " + std::to_string(PG_ABI_MAJOR) + ".x requiring at most minor " +
                                 std::to_string(PG_ABI_MINOR) + " (this engine speaks ABI " +
                                 host_abi_version() + ")",
                             "ABI " + theirs + " required",
                             "upgrade the engine to one that speaks ABI " + theirs +
                                 " or newer, or use a version of the plugin built for ABI " +
                                 host_abi_version()));
  pass("abi", "requires ABI " + theirs + ", engine speaks " + host_abi_version());

  // 6. The symbols the engine will look up.
  const auto symbols = img->exported_symbols();
  if (std::find(symbols.begin(), symbols.end(), PG_PLUGIN_ENTRY_SYMBOL) == symbols.end())
    return fail("symbols",
                refusal_line(who, r.path, "missing required symbol",
                             "exported function " PG_PLUGIN_ENTRY_SYMBOL,
                             symbols.empty() ? std::string("no exported symbols")
                                             : "exports " + join(symbols),
                             "register the detectors with PHANTOMGUARD_PLUGIN(...) (C++) or "
                             "export " PG_PLUGIN_ENTRY_SYMBOL " (C, with PG_EXPORT)"));
  pass("symbols", PG_PLUGIN_ENTRY_SYMBOL);

  // 7. The version the operator asked for.
  if (!request.version.empty()) {
    auto req = version_requirement::parse(request.version, &err);
    if (!req)
      return fail("version", refusal_line(who, r.path, "invalid version requirement",
                                          "a requirement such as \">=1.2, <2\"",
                                          quote_text(request.version), "correct `version`"));
    if (!req->matches(manifest->version))
      return fail("version",
                  refusal_line(who, r.path, "version does not satisfy the requirement",
                               "version " + request.version,
                               "version " + manifest->version.to_string(),
                               "install a version of " + who + " that satisfies " +
                                   quote_text(request.version) + ", or change `version`"));
    pass("version", manifest->version.to_string() + " satisfies " + request.version);
  }

  // 8. The pin.
  if (!request.sha256.empty()) {
    std::string pin = request.sha256;
    if (pin.starts_with("sha256:"))
      pin = pin.substr(7);
    std::transform(pin.begin(), pin.end(), pin.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (pin.size() != 64 || pin.find_first_not_of("0123456789abcdef") != std::string::npos)
      return fail("sha256", refusal_line(who, r.path, "malformed sha256 pin", "64 hex digits",
                                         quote_text(request.sha256),
                                         "set `sha256` to the output of sha256sum " + r.path));
    auto actual = sha256_file(canonical.string());
    if (!actual)
      return fail("sha256", refusal_line(who, r.path, "cannot hash the file", "a readable file",
                                         "a read error", "check the file"));
    if (*actual != pin)
      return fail("sha256", refusal_line(who, r.path, "sha256 pin mismatch", "sha256 " + pin,
                                         "sha256 " + *actual,
                                         "reinstall the plugin you pinned, or if this build is "
                                         "trusted set `sha256` to " +
                                             *actual));
    pass("sha256", "matches the pin");
  }

  // 9. The detector and its config.
  const detector_manifest* det = manifest->find_detector(request.detector);
  if (det == nullptr) {
    std::vector<std::string> names;
    for (const auto& d : manifest->detectors)
      names.push_back(d.name);
    return fail("detector", refusal_line(who, r.path, "no such detector", "one of " + join(names),
                                         quote_text(request.detector),
                                         "set `detector` to one of " + join(names)));
  }
  pass("detector", det->name);

  for (auto&& [k, node] : request.config) {
    const std::string key(k.str());
    const config_key_spec* spec = det->find_key(key);
    if (spec == nullptr) {
      std::vector<std::string> keys;
      for (const auto& s : det->config)
        keys.push_back(s.key);
      return fail(
          "config",
          refusal_line(who, r.path, "unknown config key " + quote_text(key),
                       keys.empty() ? std::string("no config keys") : "one of " + join(keys),
                       quote_text(key), "remove config." + key + " or correct its spelling"));
    }
    if (!toml_fits(node, spec->type))
      return fail("config",
                  refusal_line(who, r.path, "config key " + quote_text(key) + " has the wrong type",
                               a_type(spec->type), describe_toml(node),
                               "set config." + key + " to " + a_type(spec->type)));
  }
  for (const auto& spec : det->config)
    if (spec.required && !request.config.contains(spec.key))
      return fail("config",
                  refusal_line(who, r.path, "required config key missing",
                               "config." + spec.key + " (" + a_type(spec.type) + ")", "nothing",
                               "add config." + spec.key + " to the detector's table"));
  pass("config", std::to_string(request.config.size()) + " key(s) match the manifest");

  // 10. Isolation.
  if (request.isolation == "process")
    return fail("isolation", refusal_line(who, r.path, "isolation \"process\" is not supported yet",
                                          "isolation \"in_process\"", "isolation \"process\"",
                                          "set isolation = \"in_process\" (the sandboxed child "
                                          "host is not available in this engine)"));
  if (request.isolation != "in_process")
    return fail("isolation",
                refusal_line(who, r.path, "unknown isolation", "\"in_process\" or \"process\"",
                             quote_text(request.isolation), "correct `isolation`"));
  pass("isolation", request.isolation);

  r.manifest = std::move(manifest);
  return r;
}

loaded_plugin::~loaded_plugin() = default;

const pg_detector_vtable* loaded_plugin::vtable(const std::string& detector) const noexcept {
  if (table_ == nullptr || !PG_HAS_MEMBER(table_, pg_plugin, detector) ||
      table_->detector == nullptr)
    return nullptr;
  const pg_detector_vtable* vt = table_->detector(pg_str{detector.data(), detector.size()});
  if (vt == nullptr || !PG_HAS_MEMBER(vt, pg_detector_vtable, destroy) || vt->create == nullptr ||
      vt->destroy == nullptr)
    return nullptr;
  return vt;
}

std::shared_ptr<loaded_plugin> load_plugin(const plugin_request& request,
                                           plugin_inspection* inspection) {
  plugin_inspection r = inspect_plugin(request);
  if (inspection)
    *inspection = r;
  if (!r.ok())
    throw component_refused("engine.plugin_refused", r.refusal);

  const std::string& who = r.manifest->id;
  std::shared_ptr<loaded_plugin> p(new loaded_plugin());
  p->path_ = r.path;
  p->manifest_ = *r.manifest;
  p->lib_ = std::make_unique<loaded_plugin::library>();
  try {
    p->lib_->lib.load(r.path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "dlopen failed", "a loadable .so", e.what(),
                                         "check `ldd " + r.path + "` for missing libraries"));
  }
  if (!p->lib_->lib.has(PG_PLUGIN_ENTRY_SYMBOL))
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "missing required symbol",
                                         "exported function " PG_PLUGIN_ENTRY_SYMBOL,
                                         "no such symbol after loading",
                                         "export " PG_PLUGIN_ENTRY_SYMBOL));
  auto entry =
      p->lib_->lib.get<const pg_plugin*(std::uint32_t, std::uint32_t)>(PG_PLUGIN_ENTRY_SYMBOL);
  // From here the plugin's code runs; what it says about itself must agree with its note.
  const pg_plugin* table = entry(PG_ABI_MAJOR, PG_ABI_MINOR);
  const std::string note_abi =
      std::to_string(r.manifest->abi_major) + "." + std::to_string(r.manifest->abi_minor);
  if (table == nullptr || !PG_HAS_MEMBER(table, pg_plugin, detector))
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "the entry point returned no plugin table",
                                         "a pg_plugin table for ABI " + host_abi_version(),
                                         table == nullptr ? "NULL" : "a truncated table",
                                         "rebuild the plugin against this SDK"));
  const std::string code_abi =
      std::to_string(table->abi_major) + "." + std::to_string(table->abi_minor);
  if (table->abi_major != PG_ABI_MAJOR || table->abi_minor > PG_ABI_MINOR ||
      table->abi_major != r.manifest->abi_major)
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "the code's ABI differs from its note",
                                         "ABI " + note_abi + " (as in the note; engine speaks " +
                                             host_abi_version() + ")",
                                         "ABI " + code_abi + " in pg_plugin_entry",
                                         "rebuild the plugin with phantomguard_add_plugin"));
  if (std::string_view(table->manifest.data, table->manifest.size) != r.manifest->json)
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "the code's manifest differs from its note",
                                         "the manifest embedded in " PG_NOTE_SECTION,
                                         "a different manifest from pg_plugin_entry",
                                         "rebuild the plugin with phantomguard_add_plugin"));
  p->table_ = table;
  return p;
}

} // namespace pg::runtime
