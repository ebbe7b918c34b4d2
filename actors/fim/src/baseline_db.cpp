// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/baseline_db.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "phantomguard/runtime/digest.hpp"

#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::fim {

using storage::sqlite_error;
using storage::statement;

struct baseline_db::impl {
  storage::database db;
  statement find_stmt;
  statement put_stmt;
  statement erase_stmt;
  bool in_txn = false;

  impl(const std::string& path, bool create) : db(path, create) {
    db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS entries ("
            " path TEXT PRIMARY KEY, type TEXT NOT NULL, mode INTEGER, inode INTEGER,"
            " dev INTEGER, links INTEGER, uid INTEGER, gid INTEGER, size INTEGER,"
            " mtime_ns INTEGER, ctime_ns INTEGER, xattrs TEXT, caps TEXT, sha256 TEXT"
            ") WITHOUT ROWID;"
            "CREATE TABLE IF NOT EXISTS accepted ("
            " path TEXT NOT NULL, change TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);");
    find_stmt = db.prepare("SELECT type, mode, inode, dev, links, uid, gid, size, mtime_ns,"
                           " ctime_ns, xattrs, caps, sha256 FROM entries WHERE path = ?1");
    put_stmt = db.prepare("INSERT OR REPLACE INTO entries VALUES"
                          " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    erase_stmt = db.prepare("DELETE FROM entries WHERE path = ?1");
  }
};

namespace {

// The range [root + "/", root + "0") holds exactly the paths below root ('0' follows '/').
std::pair<std::string, std::string> range_below(std::string_view root) {
  std::string lo(root == "/" ? "" : root);
  std::string hi = lo;
  lo += '/';
  hi += '0';
  return {lo, hi};
}

template <class F>
auto guarded(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const sqlite_error& e) {
    std::string msg = e.what();
    if (msg.find(path) == std::string::npos)
      msg += " (database " + path + ")";
    throw baseline_error(msg);
  }
}

} // namespace

baseline_db::baseline_db(const std::string& path, bool create) {
  guarded(path, [&] {
    impl_ = std::make_unique<impl>(path, create);
    return 0;
  });
}

baseline_db::baseline_db(baseline_db&&) noexcept = default;
baseline_db& baseline_db::operator=(baseline_db&&) noexcept = default;

baseline_db::~baseline_db() {
  if (impl_)
    rollback();
}

const std::string& baseline_db::path() const noexcept {
  return impl_->db.path();
}

std::uintmax_t baseline_db::replayed_wal_bytes() const noexcept {
  return impl_->db.replayed_wal_bytes();
}

std::int64_t baseline_db::compact() {
  try {
    return impl_->db.compact();
  } catch (const storage::sqlite_error& e) {
    throw baseline_error(e.what());
  }
}

std::string recovery_note(const std::string& path, std::uintmax_t wal_bytes) {
  return "the baseline " + path +
         " was not closed by its last writer (killed, or open "
         "elsewhere): SQLite replayed " +
         std::to_string(wal_bytes) +
         " bytes of its write-ahead log, committed segments kept, an interrupted one rolled "
         "back; the integrity check passed";
}

bool baseline_db::initialized() {
  return guarded(path(), [&] {
    auto s = impl_->db.prepare("SELECT value FROM meta WHERE key = 'initialized'");
    return s.step() && s.column_text(0) == "1";
  });
}

void baseline_db::mark_initialized(bool done) {
  guarded(path(), [&] {
    auto s = impl_->db.prepare("INSERT OR REPLACE INTO meta VALUES ('initialized', ?1)");
    s.bind(1, std::string_view(done ? "1" : "0"));
    s.step();
    return 0;
  });
}

std::int64_t baseline_db::count() {
  return guarded(path(), [&] {
    auto s = impl_->db.prepare("SELECT count(*) FROM entries");
    s.step();
    return s.column_int(0);
  });
}

std::optional<file_record> baseline_db::find(std::string_view p) {
  return guarded(path(), [&]() -> std::optional<file_record> {
    auto& s = impl_->find_stmt;
    s.reset();
    s.bind(1, p);
    if (!s.step())
      return std::nullopt;
    file_record r;
    r.path = std::string(p);
    auto t = s.column_text(0);
    r.type = t.empty() ? '?' : t[0];
    r.mode = static_cast<std::uint32_t>(s.column_int(1));
    r.inode = static_cast<std::uint64_t>(s.column_int(2));
    r.dev = static_cast<std::uint64_t>(s.column_int(3));
    r.links = static_cast<std::uint64_t>(s.column_int(4));
    r.uid = static_cast<std::uint32_t>(s.column_int(5));
    r.gid = static_cast<std::uint32_t>(s.column_int(6));
    r.size = s.column_int(7);
    r.mtime_ns = s.column_int(8);
    r.ctime_ns = s.column_int(9);
    r.xattrs = s.column_text(10);
    r.caps = s.column_text(11);
    r.sha256 = s.column_text(12);
    s.reset();
    return r;
  });
}

void baseline_db::put(const file_record& r) {
  guarded(path(), [&] {
    auto& s = impl_->put_stmt;
    s.reset();
    s.bind(1, r.path)
        .bind(2, std::string_view(&r.type, 1))
        .bind(3, static_cast<std::int64_t>(r.mode))
        .bind(4, static_cast<std::int64_t>(r.inode))
        .bind(5, static_cast<std::int64_t>(r.dev))
        .bind(6, static_cast<std::int64_t>(r.links))
        .bind(7, static_cast<std::int64_t>(r.uid))
        .bind(8, static_cast<std::int64_t>(r.gid))
        .bind(9, r.size)
        .bind(10, r.mtime_ns)
        .bind(11, r.ctime_ns)
        .bind(12, r.xattrs)
        .bind(13, r.caps)
        .bind(14, r.sha256);
    s.step();
    return 0;
  });
}

void baseline_db::erase(std::string_view p) {
  guarded(path(), [&] {
    auto& s = impl_->erase_stmt;
    s.reset();
    s.bind(1, p);
    s.step();
    return 0;
  });
}

void baseline_db::erase_tree(std::string_view root) {
  guarded(path(), [&] {
    erase(root);
    auto [lo, hi] = range_below(root);
    auto s = impl_->db.prepare("DELETE FROM entries WHERE path >= ?1 AND path < ?2");
    s.bind(1, lo).bind(2, hi);
    s.step();
    return 0;
  });
}

void baseline_db::for_each_under(std::string_view root,
                                 const std::function<void(const std::string&)>& fn) {
  guarded(path(), [&] {
    auto [lo, hi] = range_below(root);
    auto s = impl_->db.prepare(
        "SELECT path FROM entries WHERE path = ?3 OR (path >= ?1 AND path < ?2) ORDER BY path");
    s.bind(1, lo).bind(2, hi).bind(3, root);
    while (s.step())
      fn(s.column_text(0));
    return 0;
  });
}

std::string baseline_db::digest() {
  return guarded(path(), [&] {
    runtime::digest_stream md;
    auto feed = [&md](const std::string& v) {
      md.update(v);
      md.update("\0", 1); // a separator no value holds
    };
    feed(initialized() ? "complete" : "incomplete");
    auto s = impl_->db.prepare("SELECT path, type, mode, inode, dev, links, uid, gid, size,"
                               " mtime_ns, ctime_ns, xattrs, caps, sha256 FROM entries"
                               " ORDER BY path");
    while (s.step())
      for (int c = 0; c < 14; ++c)
        feed(s.column_is_null(c) ? std::string("\x01null") : s.column_text(c));
    return md.finish_hex();
  });
}

void baseline_db::record_acceptance(const acceptance& a) {
  guarded(path(), [&] {
    auto s = impl_->db.prepare("INSERT INTO accepted VALUES (?1, ?2, ?3, ?4)");
    s.bind(1, a.path).bind(2, a.change).bind(3, a.by).bind(4, a.at);
    s.step();
    return 0;
  });
}

std::vector<baseline_db::acceptance> baseline_db::acceptances(std::string_view p) {
  return guarded(path(), [&] {
    std::vector<acceptance> out;
    auto s =
        impl_->db.prepare(p.empty() ? "SELECT path, change, by, at FROM accepted ORDER BY rowid"
                                    : "SELECT path, change, by, at FROM accepted"
                                      " WHERE path = ?1 ORDER BY rowid");
    if (!p.empty())
      s.bind(1, p);
    while (s.step())
      out.push_back({s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3)});
    return out;
  });
}

std::string seal_path_for(const std::string& database, const std::string& seal_path) {
  return seal_path.empty() ? database + ".seal" : seal_path;
}

std::optional<baseline_seal> read_seal(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT)
      return std::nullopt;
    throw baseline_error("cannot read the baseline seal " + path + ": " + std::strerror(errno));
  }
  // One line: "sha256:<hex> entries=<n> written=<rfc3339>".
  std::string digest, entries, written;
  in >> digest >> entries >> written;
  baseline_seal seal;
  if (digest.rfind("sha256:", 0) != 0 || digest.size() != 7 + 64 ||
      entries.rfind("entries=", 0) != 0)
    throw baseline_error("the baseline seal " + path +
                         " is damaged (expected \"sha256:HEX "
                         "entries=N written=TIME\")");
  seal.digest = digest.substr(7);
  try {
    seal.entries = std::stoll(entries.substr(8));
  } catch (const std::exception&) {
    throw baseline_error("the baseline seal " + path + " is damaged (entries is not a number)");
  }
  seal.written_at = written.rfind("written=", 0) == 0 ? written.substr(8) : std::string();
  return seal;
}

baseline_seal write_seal(baseline_db& db, const std::string& path) {
  baseline_seal seal;
  seal.digest = db.digest();
  seal.entries = db.count();
  seal.written_at = runtime::format_rfc3339(runtime::wall_clock::now());
  std::string tmp = path + ".tmp";
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      throw baseline_error("cannot write the baseline seal " + tmp + ": " + std::strerror(errno));
    std::string line = "sha256:" + seal.digest + " entries=" + std::to_string(seal.entries) +
                       " written=" + seal.written_at + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
              ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    if (!ok) {
      ::unlink(tmp.c_str());
      throw baseline_error("cannot write the baseline seal " + tmp + ": " + std::strerror(err));
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw baseline_error("cannot replace the baseline seal " + path + ": " + std::strerror(errno));
  return seal;
}

void baseline_db::begin() {
  guarded(path(), [&] {
    impl_->db.exec("BEGIN IMMEDIATE");
    impl_->in_txn = true;
    return 0;
  });
}

void baseline_db::commit() {
  guarded(path(), [&] {
    impl_->db.exec("COMMIT");
    impl_->in_txn = false;
    return 0;
  });
}

void baseline_db::rollback() noexcept {
  if (!impl_ || !impl_->in_txn)
    return;
  impl_->in_txn = false;
  try {
    impl_->db.exec("ROLLBACK");
  } catch (...) { // the connection rolls back on close in any case
  }
}

std::string default_database_path(const std::string& state_dir, const std::string& name) {
  return (std::filesystem::path(state_dir.empty() ? "/var/lib/phantomguard" : state_dir) / name /
          "fim.db")
      .string();
}

} // namespace pg::actors::fim
