// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/file_record.hpp"
#include "phantomguard/runtime/digest.hpp"
#include "phantomguard/runtime/unique_fd.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <linux/capability.h>
#include <memory>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utility>

namespace pg::actors::fim {

namespace {

char type_of(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFREG:
    return 'f';
  case S_IFDIR:
    return 'd';
  case S_IFLNK:
    return 'l';
  case S_IFCHR:
    return 'c';
  case S_IFBLK:
    return 'b';
  case S_IFIFO:
    return 'p';
  case S_IFSOCK:
    return 's';
  }
  return '?';
}

std::string sha256_of(const void* data, std::size_t n) {
  return runtime::sha256_hex(std::string_view(static_cast<const char*>(data), n));
}

// security.capability as "permitted=0x..,inheritable=0x..[,effective][,rootid=N]".
std::string decode_caps(const std::string& raw) {
  if (raw.size() < sizeof(std::uint32_t) * 3)
    return "raw=" + runtime::hex_of(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  auto word = [&](std::size_t i) {
    std::uint32_t v;
    std::memcpy(&v, raw.data() + 4 * i, 4);
    return v; // little-endian on disk; all our targets are little-endian
  };
  std::uint32_t magic = word(0);
  std::uint64_t permitted = word(1), inheritable = word(2);
  if (raw.size() >= 20) {
    permitted |= static_cast<std::uint64_t>(word(3)) << 32;
    inheritable |= static_cast<std::uint64_t>(word(4)) << 32;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "permitted=0x%llx,inheritable=0x%llx",
                static_cast<unsigned long long>(permitted),
                static_cast<unsigned long long>(inheritable));
  std::string out = buf;
  if (magic & VFS_CAP_FLAGS_EFFECTIVE)
    out += ",effective";
  if ((magic & VFS_CAP_REVISION_MASK) == VFS_CAP_REVISION_3 && raw.size() >= 24)
    out += ",rootid=" + std::to_string(word(5));
  return out;
}

std::string printable_or_hash(const std::string& v) {
  bool printable = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
                     return (c >= 0x20 && c < 0x7f && c != ';') || c == '\0';
                   });
  if (printable) {
    std::string s = v;
    while (!s.empty() && s.back() == '\0')
      s.pop_back();
    return '"' + s + '"';
  }
  return "sha256:" + sha256_of(v.data(), v.size()).substr(0, 16);
}

void read_xattrs(const std::string& path, attribute_set want, file_record& out) {
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0)
    return;
  std::string names(static_cast<std::size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0)
    return;
  names.resize(static_cast<std::size_t>(n));
  std::vector<std::pair<std::string, std::string>> kv;
  for (std::size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty())
      continue;
    bool is_caps = name == "security.capability";
    if ((is_caps && !want.has(attribute::caps)) || (!is_caps && !want.has(attribute::xattrs)))
      continue;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0)
      continue;
    std::string value(static_cast<std::size_t>(vn), '\0');
    vn = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn < 0)
      continue;
    value.resize(static_cast<std::size_t>(vn));
    if (is_caps)
      out.caps = decode_caps(value);
    else
      kv.emplace_back(std::move(name), printable_or_hash(value));
  }
  std::sort(kv.begin(), kv.end());
  for (const auto& [k, v] : kv) {
    if (!out.xattrs.empty())
      out.xattrs += ';';
    out.xattrs += k + '=' + v;
  }
}

std::string format_time_ns(std::int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm parts{};
  ::gmtime_r(&secs, &parts);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

} // namespace

bool read_metadata(const std::string& path, attribute_set want, file_record& out, int* err) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (err)
      *err = errno;
    return false;
  }
  out.path = path;
  out.type = type_of(st.st_mode);
  out.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  out.inode = st.st_ino;
  out.dev = st.st_dev;
  out.links = st.st_nlink;
  out.uid = st.st_uid;
  out.gid = st.st_gid;
  out.size = st.st_size;
  out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  out.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  out.xattrs.clear();
  out.caps.clear();
  out.sha256.clear();
  if (want.has(attribute::xattrs) || want.has(attribute::caps))
    read_xattrs(path, want, out);
  return true;
}

std::int64_t hash_content(file_record& out, std::vector<unsigned char>& buffer, int* err) {
  if (out.type == 'l') {
    std::array<char, 4096> target{};
    ssize_t n = ::readlink(out.path.c_str(), target.data(), target.size());
    if (n < 0) {
      if (err)
        *err = errno;
      return -1;
    }
    out.sha256 = sha256_of(target.data(), static_cast<std::size_t>(n));
    return n;
  }
  // O_NOATIME keeps the scan from touching access times (refused for files we do not own
  // without CAP_FOWNER, hence the retry without it).
  int fd = ::open(out.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME | O_NONBLOCK);
  if (fd < 0 && errno == EPERM)
    fd = ::open(out.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (err)
      *err = errno;
    return -1;
  }
  runtime::unique_fd guard(fd);
  struct stat st {};
  // A FIFO or device swapped in after lstat must not be read (it could block forever).
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (err)
      *err = EINVAL;
    return -1;
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  runtime::digest_stream digest;
  if (buffer.size() < 65536)
    buffer.resize(256 * 1024);
  std::int64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (err)
        *err = errno;
      return -1;
    }
    if (n == 0)
      break;
    digest.update(buffer.data(), static_cast<std::size_t>(n));
    total += n;
  }
  out.sha256 = digest.finish_hex();
  return total;
}

std::string file_record::value_of(attribute a) const {
  char buf[32];
  switch (a) {
  case attribute::type:
    return std::string(1, type);
  case attribute::perms:
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
  case attribute::inode:
    return std::to_string(inode);
  case attribute::links:
    return std::to_string(links);
  case attribute::uid:
    return std::to_string(uid);
  case attribute::gid:
    return std::to_string(gid);
  case attribute::size:
    return std::to_string(size);
  case attribute::mtime:
    return format_time_ns(mtime_ns);
  case attribute::ctime:
    return format_time_ns(ctime_ns);
  case attribute::xattrs:
    return xattrs;
  case attribute::caps:
    return caps;
  case attribute::sha256:
    return sha256;
  }
  return {};
}

bool file_record::same_content_stamp(const file_record& o) const noexcept {
  return inode == o.inode && dev == o.dev && size == o.size && mtime_ns == o.mtime_ns &&
         ctime_ns == o.ctime_ns && type == o.type;
}

attribute_set changed_attributes(const file_record& before, const file_record& after,
                                 attribute_set watched) {
  attribute_set out;
  auto diff = [&](attribute a, bool differs) {
    if (watched.has(a) && differs)
      out.add(a);
  };
  diff(attribute::type, before.type != after.type);
  diff(attribute::perms, before.mode != after.mode);
  diff(attribute::inode, before.inode != after.inode);
  diff(attribute::links, before.links != after.links);
  diff(attribute::uid, before.uid != after.uid);
  diff(attribute::gid, before.gid != after.gid);
  // Sizes and times of directories change whenever an entry is added or removed, which is
  // already reported as fim.added/fim.removed: comparing them would only double every finding.
  bool dir = before.type == 'd' && after.type == 'd';
  diff(attribute::size, !dir && before.size != after.size);
  diff(attribute::mtime, !dir && before.mtime_ns != after.mtime_ns);
  diff(attribute::ctime, !dir && before.ctime_ns != after.ctime_ns);
  diff(attribute::xattrs, before.xattrs != after.xattrs);
  diff(attribute::caps, before.caps != after.caps);
  // An empty hash on either side means "not hashed" (unreadable, or a type without content).
  diff(attribute::sha256,
       !before.sha256.empty() && !after.sha256.empty() && before.sha256 != after.sha256);
  return out;
}

} // namespace pg::actors::fim
