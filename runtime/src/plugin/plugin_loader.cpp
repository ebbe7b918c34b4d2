// SPDX-License-Identifier: Apache-2.0
// plugin_loader.cpp — load-time checks and loading. Everything before dlopen reads files only:
// a plugin that fails a check never gets to run a single instruction in the engine.
#include "phantomguard/runtime/plugin_loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <link.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "phantomguard/runtime/refusal.hpp"
#include "plugin/elf_image.hpp"
#include "plugin/plugin_signature.hpp"

namespace pg::runtime {

/// The dlopen handle: dlclose'd when the last detector of the plugin lets go.
struct loaded_plugin::library {
  void* handle = nullptr;
  library() = default;
  library(const library&) = delete;
  library& operator=(const library&) = delete;
  ~library() {
    if (handle != nullptr)
      ::dlclose(handle);
  }
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

/// Ownership and permission rules for one step of the walk from / to the plugin: a file or
/// folder anyone else can replace is code anyone else can run inside the engine (sshd's
/// StrictModes). A group- or world-writable folder passes only when it is sticky and owned by
/// root or us (/tmp): there nobody else may rename or remove what we own, and what lies below
/// must itself be ours.
std::string check_owner_mode(const std::string& who, const std::string& shown,
                             const struct stat& st, const std::string& p, bool is_dir) {
  const char* what = is_dir ? "directory" : "file";
  if (!is_dir && !S_ISREG(st.st_mode))
    return refusal_line(who, shown, "not a regular file", "a regular file",
                        S_ISDIR(st.st_mode) ? "a directory" : "a special file",
                        "point `plugin` at the .so file");
  const uid_t me = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != me)
    return refusal_line(who, shown,
                        std::string("the ") + what + " " + p + " has an untrusted owner",
                        me == 0 ? "owner root (uid 0)" : "owner root or " + user_name(me),
                        "owner " + user_name(st.st_uid),
                        "chown root " + p +
                            (is_dir ? " (every directory from / down to the plugin must be "
                                      "owned by root or the engine's user)"
                                    : ""));
  const bool writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  if (writable && !(is_dir && (st.st_mode & S_ISVTX) != 0))
    return refusal_line(
        who, shown, std::string("the ") + what + " " + p + " is writable by group or others",
        std::string("mode without group/other write (e.g. ") + (is_dir ? "0755" : "0644") + ")",
        "mode " + octal_mode(st.st_mode),
        "chmod go-w " + p +
            (is_dir ? " (every directory from / down to the plugin must not be writable by "
                      "others, or be sticky like /tmp)"
                    : ""));
  return {};
}

/// Reads all of `fd` (a regular file) up to `cap` bytes.
bool read_all(int fd, std::string& out, std::size_t cap, std::string* error) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    *error = std::strerror(errno);
    return false;
  }
  if (static_cast<std::uint64_t>(st.st_size) > cap) {
    *error = "the file is larger than " + std::to_string(cap >> 20) + " MiB";
    return false;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      *error = std::strerror(errno);
      return false;
    }
    if (n == 0)
      break; // shrank meanwhile: the checks see what is there
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return true;
}

/// Walks `canonical` from / with O_NOFOLLOW, checking each directory; returns the descriptor of
/// the last directory. An empty unique_fd with `*refusal` set when a step fails.
unique_fd walk_directories(const std::string& who, const std::string& shown,
                           const fs::path& canonical_dir, std::string* refusal) {
  unique_fd dir(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string so_far = "/";
  auto check = [&](int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      *refusal = refusal_line(who, shown, "cannot stat the directory " + so_far,
                              "a readable directory", std::strerror(errno), "check the path");
      return false;
    }
    *refusal = check_owner_mode(who, shown, st, so_far, true);
    return refusal->empty();
  };
  if (!dir || !check(dir.get()))
    return {};
  for (const auto& part : canonical_dir.relative_path()) {
    const std::string name = part.string();
    if (name.empty() || name == ".")
      continue;
    so_far = (fs::path(so_far) / name).string();
    unique_fd next(
        ::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      *refusal = refusal_line(who, shown, "cannot open the directory " + so_far,
                              "a directory (not a symbolic link)", std::strerror(errno),
                              errno == ELOOP || errno == ENOTDIR
                                  ? "the path changed while it was checked; check who can "
                                    "write to " +
                                        so_far
                                  : "check the path");
      return {};
    }
    if (!check(next.get()))
      return {};
    dir = std::move(next);
  }
  return dir;
}

/// The .sig beside the plugin, read through the plugin's directory; nullopt when absent.
std::optional<std::string> read_sibling_signature(const std::string& canonical,
                                                  std::string* error) {
  const fs::path p(canonical);
  const fs::path sig = p.parent_path() / (p.filename().string() + ".sig");
  unique_fd fd(::open(sig.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    if (errno != ENOENT)
      *error = "cannot read " + sig.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  if (!read_all(fd.get(), text, 4096, error)) {
    *error = sig.string() + ": " + *error;
    return std::nullopt;
  }
  return text;
}

std::string host_machine_text(const detail::elf_image& self) {
  return detail::elf_image::machine_name(self.machine()) +
         (self.is_64() ? " (64-bit)" : " (32-bit)");
}

} // namespace

std::string host_abi_version() {
  return std::to_string(PG_ABI_MAJOR) + "." + std::to_string(PG_ABI_MINOR);
}

std::string_view to_string(signature_policy p) noexcept {
  switch (p) {
  case signature_policy::off:
    return "off";
  case signature_policy::required:
    return "required";
  case signature_policy::if_present:
    break;
  }
  return "if_present";
}

std::optional<signature_policy> parse_signature_policy(std::string_view text) noexcept {
  if (text == "off")
    return signature_policy::off;
  if (text == "if_present")
    return signature_policy::if_present;
  if (text == "required")
    return signature_policy::required;
  return std::nullopt;
}

std::shared_ptr<const plugin_file> open_plugin_file(const std::string& who, const std::string& path,
                                                    std::string* refusal) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(path, ec);
  if (ec) {
    *refusal = refusal_line(who, path, "cannot resolve the path", "a readable file", ec.message(),
                            "check the path");
    return nullptr;
  }
  unique_fd dir = walk_directories(who, path, canonical.parent_path(), refusal);
  if (!dir)
    return nullptr;
  auto file = std::make_shared<plugin_file>();
  file->canonical = canonical.string();
  // O_NONBLOCK: a FIFO put in the plugin's place must not hang the engine in open().
  file->fd.reset(::openat(dir.get(), canonical.filename().c_str(),
                          O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!file->fd) {
    *refusal = refusal_line(who, path, "cannot open the file", "a readable regular file",
                            std::strerror(errno),
                            errno == ELOOP ? "the path changed while it was checked; check who "
                                             "can write to " +
                                                 canonical.parent_path().string()
                                           : "check the path and its permissions");
    return nullptr;
  }
  struct stat st {};
  if (::fstat(file->fd.get(), &st) != 0) {
    *refusal = refusal_line(who, path, "cannot stat the file", "a readable file",
                            std::strerror(errno), "check the path");
    return nullptr;
  }
  if (auto line = check_owner_mode(who, path, st, file->canonical, false); !line.empty()) {
    *refusal = std::move(line);
    return nullptr;
  }
  std::string err;
  if (!read_all(file->fd.get(), file->bytes, 256u << 20, &err)) {
    *refusal =
        refusal_line(who, path, "cannot read the file", "a readable file", err, "check the file");
    return nullptr;
  }
  return file;
}

signature_status check_plugin_signature(const plugin_file& file, const std::string& trust_dir) {
  using st = signature_status::state;
  signature_status out;
  std::string err;
  const auto text = read_sibling_signature(file.canonical, &err);
  if (!text) {
    out.status = err.empty() ? st::unsigned_file : st::malformed;
    out.detail = err.empty() ? "no " + file.canonical + ".sig" : err;
    return out;
  }
  auto sig = detail::parse_signature(*text, &err);
  if (!sig) {
    out.status = st::malformed;
    out.detail = err;
    return out;
  }
  out.key_id = sig->key_id;
  // The trust directory is code-equivalent: whoever can add a key there can sign plugins.
  std::string refusal;
  std::error_code ec;
  const fs::path trust = fs::weakly_canonical(trust_dir, ec);
  if (!walk_directories("trust", trust_dir, trust, &refusal) && fs::exists(trust, ec)) {
    out.status = st::no_trust;
    const auto pos = refusal.find("refused: ");
    out.detail = pos == std::string::npos ? refusal : refusal.substr(pos + 9);
    return out;
  }
  auto keys = detail::load_trusted_keys(trust_dir, &err);
  if (!keys) {
    out.status = st::no_trust;
    out.detail = err;
    return out;
  }
  std::vector<std::string> ids;
  for (const auto& k : *keys) {
    ids.push_back(k.key_id);
    if (k.key_id != sig->key_id)
      continue;
    if (detail::verify_signature(file.bytes, *sig, k)) {
      out.status = st::valid;
      out.detail = "signed by key " + k.key_id + " (" + k.path + ")";
    } else {
      out.status = st::invalid;
      out.detail = "a signature that does not verify with " + k.path;
    }
    return out;
  }
  out.status = st::untrusted;
  out.detail =
      "key " + sig->key_id +
      (ids.empty() ? ", and no keys are trusted in " + trust_dir : ", trusted are " + join(ids));
  return out;
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

  // 2. Who could have written it? One open, through checked directories; the rest reads it.
  std::string refusal;
  auto file = open_plugin_file(who, r.path, &refusal);
  if (!file)
    return fail("file", refusal);
  pass("file", "owner and mode of " + file->canonical + " and every directory above it are safe");

  // 3. Is it a shared object for this machine?
  std::string err;
  auto img = detail::elf_image::parse(file->bytes, &err);
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
    const std::string actual = detail::sha256_hex(file->bytes); // the bytes that will be loaded
    if (actual != pin)
      return fail("sha256", refusal_line(who, r.path, "sha256 pin mismatch", "sha256 " + pin,
                                         "sha256 " + actual,
                                         "reinstall the plugin you pinned, or if this build is "
                                         "trusted set `sha256` to " +
                                             actual));
    pass("sha256", "matches the pin");
  }

  // 9. Who built it?
  if (request.signature == signature_policy::off) {
    pass("signature", "not checked (engine.plugin_signature = \"off\")");
  } else {
    const signature_status sig = check_plugin_signature(*file, request.trust_dir);
    using st = signature_status::state;
    const std::string policy_text =
        "engine.plugin_signature = \"" + std::string(to_string(request.signature)) + "\"";
    const std::string sig_path = file->canonical + ".sig";
    switch (sig.status) {
    case st::valid:
      r.signer = sig.key_id;
      pass("signature", sig.detail);
      break;
    case st::unsigned_file:
      if (request.signature == signature_policy::required)
        return fail("signature",
                    refusal_line(who, r.path, "unsigned plugin (" + policy_text + ")",
                                 "a signature " + sig_path + " by a key in " + request.trust_dir,
                                 "no signature file",
                                 "sign it (phantomguard plugins sign --key KEY " + r.path +
                                     ") and put the public key in " + request.trust_dir));
      pass("signature", "unsigned (" + policy_text + ")");
      break;
    case st::untrusted:
      return fail("signature",
                  refusal_line(who, r.path, "signed by an untrusted key " + sig.key_id,
                               "a signature by a key in " + request.trust_dir, sig.detail,
                               "if you trust key " + sig.key_id + ", copy its public key into " +
                                   request.trust_dir + "; otherwise remove the plugin"));
    case st::invalid:
      return fail("signature",
                  refusal_line(who, r.path,
                               "the signature by key " + sig.key_id + " does not match the file",
                               "the file that key " + sig.key_id + " signed", sig.detail,
                               "reinstall the signed build, or sign this one again "
                               "(phantomguard plugins sign --key KEY " +
                                   r.path + ")"));
    case st::malformed:
      return fail("signature",
                  refusal_line(who, r.path, "unreadable signature " + sig_path,
                               "a signature written by phantomguard plugins sign", sig.detail,
                               "sign the plugin again, or remove " + sig_path));
    case st::no_trust:
      return fail("signature",
                  refusal_line(who, r.path, "the trust directory cannot be used",
                               "a directory of trusted *.pub keys (engine.plugin_trust_dir)",
                               sig.detail,
                               "create " + request.trust_dir +
                                   " owned by root (mode 0755) with the signers' public keys, or "
                                   "set engine.plugin_trust_dir"));
    }
  }

  // 10. The detector and its config.
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

  // 11. Isolation.
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
  r.file = std::move(file);
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

namespace {

/// The file (device, inode) mapped at `addr` in this process, from /proc/self/maps; nullopt
/// when it cannot be read (a sandboxed child, which never loads more than one plugin).
std::optional<std::pair<dev_t, ino_t>> mapped_file_at(std::uintptr_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long start = 0, end = 0, offset = 0, inode = 0;
    unsigned major = 0, minor = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &offset, &major,
                    &minor, &inode) == 7 &&
        start == addr)
      return std::make_pair(static_cast<dev_t>(makedev(major, minor)), static_cast<ino_t>(inode));
  }
  return std::nullopt;
}

/// True unless /proc/self/maps says the object is a file other than `st`.
bool object_is_file(void* handle, const struct stat& st) {
  link_map* lm = nullptr;
  if (::dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == nullptr)
    return false;
  const auto f = mapped_file_at(static_cast<std::uintptr_t>(lm->l_addr));
  return !f || (f->first == st.st_dev && f->second == st.st_ino);
}

/// The name the dynamic loader gets for descriptor `fd`. glibc takes an object whose name (or an
/// alias it added when it found the same file under another name) matches one already loaded as
/// that object without opening anything, and a plugin with STB_GNU_UNIQUE symbols is never
/// unloaded: /proc/self/fd/5 may name an earlier plugin. When the name stands for another file,
/// the descriptor moves to another number (the copies stay open in `held` until the load).
std::string loader_name(int fd, const struct stat& st, std::vector<unique_fd>& held) {
  for (int attempt = 0; attempt < 256; ++attempt) {
    std::string name = "/proc/self/fd/" + std::to_string(fd);
    void* h = ::dlopen(name.c_str(), RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
    if (h == nullptr)
      return name;
    const bool same = object_is_file(h, st);
    ::dlclose(h);
    if (same) // this very file, already loaded: dlopen shares it
      return name;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
    if (moved < 0)
      break;
    held.emplace_back(moved);
    fd = moved;
  }
  return {};
}

} // namespace

std::shared_ptr<loaded_plugin> load_inspected(const plugin_inspection& r) {
  if (!r.ok() || !r.manifest || !r.file)
    throw component_refused("engine.plugin_refused",
                            r.refusal.empty()
                                ? "plugin " + quote_text(r.path) + " refused: it was not inspected"
                                : r.refusal);
  const std::string& who = r.manifest->id;
  std::shared_ptr<loaded_plugin> p(new loaded_plugin());
  p->path_ = r.path;
  p->manifest_ = *r.manifest;
  p->lib_ = std::make_unique<loaded_plugin::library>();
  struct stat st {};
  if (::fstat(r.file->fd.get(), &st) != 0)
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "cannot stat the checked file",
                                         "the open plugin file", std::strerror(errno),
                                         "check the file"));
  {
    std::vector<unique_fd> held;
    const std::string name = loader_name(r.file->fd.get(), st, held);
    if (name.empty())
      throw component_refused("engine.plugin_refused",
                              refusal_line(who, r.path, "no free loader name",
                                           "a descriptor number no other object is loaded as",
                                           "every number tried is taken",
                                           "restart the engine (too many plugins were loaded)"));
    ::dlerror();
    p->lib_->handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  if (p->lib_->handle == nullptr) {
    const char* e = ::dlerror();
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "dlopen failed", "a loadable .so",
                                         e != nullptr ? e : "unknown error",
                                         "check `ldd " + r.path + "` for missing libraries"));
  }
  // What the loader mapped must be the file the checks read.
  if (!object_is_file(p->lib_->handle, st))
    throw component_refused(
        "engine.plugin_refused",
        refusal_line(who, r.path, "the loader mapped another file",
                     "the checked file (inode " + std::to_string(st.st_ino) + ")",
                     "a different object", "report this as a bug"));
  using entry_fn = const pg_plugin* (*)(std::uint32_t, std::uint32_t);
  auto entry = reinterpret_cast<entry_fn>(::dlsym(p->lib_->handle, PG_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr)
    throw component_refused("engine.plugin_refused",
                            refusal_line(who, r.path, "missing required symbol",
                                         "exported function " PG_PLUGIN_ENTRY_SYMBOL,
                                         "no such symbol after loading",
                                         "export " PG_PLUGIN_ENTRY_SYMBOL));
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

std::shared_ptr<loaded_plugin> load_plugin(const plugin_request& request,
                                           plugin_inspection* inspection) {
  plugin_inspection r = inspect_plugin(request);
  if (inspection)
    *inspection = r;
  if (!r.ok())
    throw component_refused("engine.plugin_refused", r.refusal);
  return load_inspected(r);
}

} // namespace pg::runtime
