// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/image_scan.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/container/secret_patterns.hpp"
#include "phantomguard/actors/vuln/root_file.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"

namespace pg::actors::container {

namespace {

namespace fs = std::filesystem;

std::string octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

runtime::finding file_finding(const opened_image& img, const char* rule, runtime::severity level,
                              std::string title, const std::string& path,
                              std::vector<std::string> mitre) {
  runtime::finding f;
  f.rule = rule;
  f.level = level;
  f.title = std::move(title);
  f.entity = {{"image", img.source}, {"path", path}};
  f.mitre = std::move(mitre);
  return f;
}

// Reads up to `limit` bytes of a regular file without following a final symlink.
bool read_prefix(const std::string& full, std::uint64_t limit, std::string& out) {
  int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return false;
  out.resize(static_cast<std::size_t>(limit));
  std::size_t done = 0;
  while (done < out.size()) {
    auto n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return true;
}

// Forwards the vulnerability scanner's findings, naming the image instead of the temporary
// folder it was unpacked to.
class image_sink final : public host::finding_sink {
public:
  image_sink(host::finding_sink& inner, const opened_image& img) : inner_(inner), img_(img) {}
  void post(runtime::finding f) override {
    f.entity["root"] = img_.source;
    f.entity["image"] = img_.source;
    inner_.post(std::move(f));
  }
  void count(std::string_view name, std::int64_t delta = 1) override { inner_.count(name, delta); }
  bool stop_requested() const noexcept override { return inner_.stop_requested(); }

private:
  host::finding_sink& inner_;
  const opened_image& img_;
};

bool is_root_user(const std::string& user) {
  auto name = user.substr(0, user.find(':'));
  return name.empty() || name == "root" || name == "0";
}

void check_user(const opened_image& img, host::finding_sink& sink) {
  if (img.config_user) {
    if (!is_root_user(*img.config_user))
      return;
    runtime::finding f;
    f.rule = "container.root_user";
    f.level = runtime::severity::medium;
    f.title = img.config_user->empty()
                  ? "image config sets no User: containers run as root"
                  : "image config runs containers as root (User '" + *img.config_user + "')";
    f.entity = {{"image", img.source}};
    f.evidence = {{"config_user", *img.config_user}, {"manifest", img.manifest_digest}};
    f.mitre = {"T1611"};
    sink.post(std::move(f));
    return;
  }
  // A plain folder has no image config: a root file system without any regular account (uid
  // 1000 and up, nobody excepted) has nothing but root to run its programs as.
  auto passwd = vuln::read_in_root(img.rootfs, "etc/passwd", 4u << 20);
  std::vector<std::string> users;
  bool non_root = false;
  if (passwd) {
    std::istringstream in(*passwd);
    for (std::string line; std::getline(in, line);) {
      std::array<std::string, 4> field;
      std::size_t start = 0;
      for (std::size_t k = 0; k < 4; ++k) {
        auto colon = line.find(':', start);
        field[k] = line.substr(start, colon == std::string::npos ? colon : colon - start);
        if (colon == std::string::npos)
          break;
        start = colon + 1;
      }
      if (field[0].empty())
        continue;
      long uid = -1;
      try {
        uid = std::stol(field[2]);
      } catch (...) {
        continue;
      }
      if (uid >= 1000 && uid != 65534) {
        non_root = true;
        users.push_back(field[0]);
      }
    }
  }
  if (non_root)
    return;
  runtime::finding f;
  f.rule = "container.root_user";
  f.level = runtime::severity::low;
  f.title = passwd ? "root file system has no non-root user account: it runs as root"
                   : "root file system has no etc/passwd: it runs as root";
  f.entity = {{"image", img.source}};
  f.evidence = {{"passwd", passwd.has_value()}, {"non_root_accounts", users}};
  f.mitre = {"T1611"};
  sink.post(std::move(f));
}

} // namespace

bool is_expected_setuid(const std::string& path) {
  static const std::array<const char*, 26> known = {"/usr/bin/su",
                                                    "/usr/bin/passwd",
                                                    "/usr/bin/chsh",
                                                    "/usr/bin/chfn",
                                                    "/usr/bin/gpasswd",
                                                    "/usr/bin/newgrp",
                                                    "/usr/bin/mount",
                                                    "/usr/bin/umount",
                                                    "/usr/bin/sudo",
                                                    "/usr/bin/pkexec",
                                                    "/usr/bin/chage",
                                                    "/usr/bin/expiry",
                                                    "/usr/bin/wall",
                                                    "/usr/bin/ssh-agent",
                                                    "/usr/bin/crontab",
                                                    "/usr/bin/fusermount",
                                                    "/usr/bin/fusermount3",
                                                    "/usr/bin/ping",
                                                    "/usr/sbin/unix_chkpwd",
                                                    "/usr/lib/openssh/ssh-keysign",
                                                    "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
                                                    "/usr/bin/at",
                                                    "/usr/bin/bsd-write",
                                                    "/usr/bin/dotlockfile",
                                                    "/usr/bin/write",
                                                    "/usr/sbin/pam_extrausers_chkpwd"};
  auto p = path;
  // usrmerge: /bin/su is /usr/bin/su.
  if (p.starts_with("/bin/") || p.starts_with("/sbin/") || p.starts_with("/lib/"))
    p = "/usr" + p;
  return std::find(known.begin(), known.end(), p) != known.end();
}

image_scan_result scan_image(const opened_image& img, const image_scan_options& options,
                             host::finding_sink& sink) {
  image_scan_result result;
  // Packages first: they are cheap and the most asked for.
  {
    auto db_sink = image_sink(sink, img);
    if (!options.advisories.empty()) {
      vuln::vuln_scan_request req;
      req.root = img.rootfs;
      req.advisories = options.advisories;
      req.release = options.release;
      req.default_severity = options.default_severity;
      req.throttle = options.throttle;
      auto r = vuln::run_vuln_scan(req, db_sink);
      result.packages = r.packages;
    } else {
      result.packages = vuln::read_dpkg_database(img.rootfs).packages.size();
    }
    runtime::finding inv;
    inv.rule = "container.packages";
    inv.level = runtime::severity::info;
    inv.title = std::to_string(result.packages) + " Debian packages installed" +
                (options.advisories.empty() ? " (no advisories given: not matched)" : "");
    inv.entity = {{"image", img.source}};
    inv.evidence = {{"packages", result.packages},
                    {"release", vuln::detect_debian_release(img.rootfs)},
                    {"advisories", options.advisories}};
    sink.post(std::move(inv));
  }
  check_user(img, sink);

  const fs::path root(img.rootfs);
  const bool host_root = img.rootfs == "/";
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) {
    ++result.unreadable;
    sink.count("unreadable", 1);
    return result;
  }
  std::size_t in_segment = 0;
  std::string content;
  for (; it != end; it.increment(ec)) {
    if (ec) {
      ++result.unreadable;
      ec.clear();
      continue;
    }
    if (++in_segment >= options.throttle.segment_size) {
      in_segment = 0;
      sink.count("files_scanned", static_cast<std::int64_t>(options.throttle.segment_size));
      if (sink.stop_requested())
        return result;
    }
    const auto& full = it->path();
    // Lexical: fs::relative would resolve symlinks, possibly to host paths.
    auto rel = "/" + full.lexically_relative(root).generic_string();
    if (host_root && it.depth() == 0 &&
        (rel == "/proc" || rel == "/sys" || rel == "/dev" || rel == "/run")) {
      it.disable_recursion_pending(); // kernel views, not files of the image
      continue;
    }
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) {
      ++result.unreadable;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      ++result.directories;
      if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        auto f = file_finding(img, "container.world_writable", runtime::severity::medium,
                              "world-writable folder without the sticky bit: " + rel, rel,
                              {"T1222.002"});
        f.evidence = {{"mode", octal(st.st_mode)}, {"uid", st.st_uid}, {"type", "directory"}};
        sink.post(std::move(f));
      }
      continue;
    }
    if (!S_ISREG(st.st_mode))
      continue; // symlinks are 0777 by nature; devices and sockets hold no content
    ++result.files;
    if (st.st_mode & (S_ISUID | S_ISGID)) {
      bool expected = is_expected_setuid(rel);
      std::string bits = (st.st_mode & S_ISUID) ? "setuid" : "setgid";
      if ((st.st_mode & S_ISUID) && (st.st_mode & S_ISGID))
        bits = "setuid+setgid";
      auto f = file_finding(img, "container.setuid",
                            expected ? runtime::severity::low : runtime::severity::high,
                            bits + (st.st_uid == 0 && (st.st_mode & S_ISUID) ? " root" : "") +
                                " program " + rel + (expected ? " (a standard one)" : ""),
                            rel, {"T1548.001"});
      f.evidence = {{"mode", octal(st.st_mode)}, {"uid", st.st_uid},
                    {"gid", st.st_gid},          {"bits", bits},
                    {"expected", expected},      {"size", st.st_size}};
      sink.post(std::move(f));
    }
    if (st.st_mode & S_IWOTH) {
      auto f = file_finding(img, "container.world_writable", runtime::severity::medium,
                            "world-writable file: " + rel, rel, {"T1222.002"});
      f.evidence = {{"mode", octal(st.st_mode)}, {"uid", st.st_uid}, {"type", "file"}};
      sink.post(std::move(f));
    }
    if (!options.secrets || st.st_size == 0)
      continue;
    auto limit = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(st.st_size),
        std::min(options.max_secret_scan_bytes, options.throttle.max_memory));
    if (!read_prefix(full.string(), limit, content)) {
      ++result.unreadable;
      continue;
    }
    result.bytes_searched += content.size();
    for (auto& hit : find_secrets(content)) {
      auto f = file_finding(img, "container.secret", hit.level, hit.title + " in " + rel, rel,
                            hit.pattern == "private_key" ? std::vector<std::string>{"T1552.004"}
                                                         : std::vector<std::string>{"T1552.001"});
      f.evidence = {{"pattern", hit.pattern},
                    {"line", hit.line},
                    {"match", hit.redacted},
                    {"size", st.st_size},
                    {"searched_bytes", content.size()}};
      sink.post(std::move(f));
    }
  }
  sink.count("files_scanned", static_cast<std::int64_t>(in_segment));
  sink.count("bytes_searched", static_cast<std::int64_t>(result.bytes_searched));
  if (result.unreadable > 0)
    sink.count("unreadable", static_cast<std::int64_t>(result.unreadable));
  result.completed = true;
  return result;
}

} // namespace pg::actors::container
