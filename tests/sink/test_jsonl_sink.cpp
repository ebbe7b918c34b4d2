// SPDX-License-Identifier: Apache-2.0
// The jsonl sink: appending, flush policies, rotation with exact file counts and sizes, and a
// full disk that is reported as a finding and recovered from, never a crash.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../support/test_context.hpp"
#include "phantomguard/actors/sink/jsonl_sink.hpp"
#include "sink_events.hpp"
#include "skip.hpp"

using namespace pg::runtime;
using namespace pg::test;
using pg::actors::sink::jsonl_sink;
namespace fs = std::filesystem;

namespace {

// A fresh folder under /tmp, removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/pg_sink_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

component_settings settings(const std::string& toml_text) {
  return component_settings(toml::parse(std::string_view(toml_text)));
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

std::string entity_name(const std::string& line) {
  return nlohmann::json::parse(line)["entity"]["name"].get<std::string>();
}

} // namespace

SCENARIO("the jsonl sink appends one finding per line") {
  temp_dir dir;
  const auto file = dir.path / "findings.jsonl";
  GIVEN("an existing file and append = true (the default)") {
    { std::ofstream(file) << "{\"old\":1}\n"; }
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nflush = 'event'"));
    test_context ctx("out");
    sink.start(ctx);
    std::vector<event> events;
    events.push_back(make_finding_event(make_finding(1), "gen"));
    events.push_back(process_event(1));
    events.push_back(make_finding_event(make_finding(2), "gen"));
    sink.on_batch(*make_batch(std::move(events)), ctx);
    THEN("the old content stays and the findings follow, the process event is not written") {
      const auto lines = read_lines(file);
      REQUIRE(lines.size() == 3);
      CHECK(lines[0] == "{\"old\":1}");
      CHECK(entity_name(lines[1]) == "0001");
      CHECK(entity_name(lines[2]) == "0002");
      CHECK(ctx.counters["ignored"] == 1);
      CHECK(ctx.findings.empty());
    }
  }
  GIVEN("append = false") {
    { std::ofstream(file) << "{\"old\":1}\n"; }
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nappend = false"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({make_finding(1)}), ctx);
    sink.stop(ctx);
    THEN("the file starts fresh") {
      const auto lines = read_lines(file);
      REQUIRE(lines.size() == 1);
      CHECK(entity_name(lines[0]) == "0001");
    }
  }
  GIVEN("include_events = true and min_severity = medium") {
    jsonl_sink sink("out", settings("path = '" + file.string() +
                                    "'\ninclude_events = true\nmin_severity = 'medium'"));
    test_context ctx("out");
    sink.start(ctx);
    std::vector<event> events;
    events.push_back(make_finding_event(make_finding(1, severity::low), "gen"));
    events.push_back(process_event(77));
    events.push_back(make_finding_event(make_finding(2, severity::medium), "gen"));
    sink.on_batch(*make_batch(std::move(events)), ctx);
    sink.stop(ctx);
    THEN("the event is written with its fields and the low finding is filtered") {
      const auto lines = read_lines(file);
      REQUIRE(lines.size() == 2);
      auto ev = nlohmann::json::parse(lines[0]);
      CHECK(ev["kind"] == "process");
      CHECK(ev["fields"]["pid"] == 77);
      CHECK(ev["fields"]["comm"] == "bash");
      CHECK(entity_name(lines[1]) == "0002");
      CHECK(ctx.counters["below_min_severity"] == 1);
    }
  }
}

SCENARIO("the flush policy decides when lines reach the file") {
  temp_dir dir;
  const auto file = dir.path / "f.jsonl";
  GIVEN("flush = count with flush_count = 3") {
    jsonl_sink sink("out",
                    settings("path = '" + file.string() + "'\nflush = 'count'\nflush_count = 3"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({make_finding(1), make_finding(2)}), ctx);
    THEN("two events wait, the third flushes all three") {
      CHECK(fs::file_size(file) == 0);
      sink.on_batch(*findings_batch({make_finding(3)}), ctx);
      CHECK(read_lines(file).size() == 3);
    }
  }
  GIVEN("flush = interval with a long interval") {
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nflush_interval = '1h'"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({make_finding(1), make_finding(2)}), ctx);
    THEN("nothing is written until stop") {
      CHECK(fs::file_size(file) == 0);
      sink.on_tick(ctx);
      CHECK(fs::file_size(file) == 0);
      sink.stop(ctx);
      CHECK(read_lines(file).size() == 2);
    }
  }
  GIVEN("flush = interval and more lines than max_pending before the interval ends") {
    jsonl_sink sink("out", settings("path = '" + file.string() +
                                    "'\nflush_interval = '1h'\nmax_pending = '1MiB'"));
    test_context ctx("out");
    sink.start(ctx);
    std::vector<finding> many;
    for (int i = 1; i <= 20000; ++i)
      many.push_back(sized_finding(i, 200));
    sink.on_batch(*findings_batch(std::move(many)), ctx);
    THEN("full 64 KiB buffers are written on the way: nothing is dropped, memory stays small") {
      CHECK(fs::file_size(file) >= 20000u * 200 - 64 * 1024);
      sink.stop(ctx);
      CHECK(fs::file_size(file) == 20000u * 200);
      CHECK(ctx.losses.count("dropped_lines") == 0);
    }
  }
  GIVEN("flush = interval with a short interval") {
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nflush_interval = '20ms'"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({make_finding(1)}), ctx);
    THEN("a tick after the interval writes the pending line") {
      CHECK(fs::file_size(file) == 0);
      ::usleep(30'000);
      sink.on_tick(ctx);
      CHECK(read_lines(file).size() == 1);
    }
  }
}

SCENARIO("size-based rotation keeps max_files rotated files of at most max_size bytes") {
  temp_dir dir;
  const auto file = dir.path / "r.jsonl";
  for (const char* policy : {"flush = 'event'", "flush = 'count'\nflush_count = 7"}) {
    GIVEN(std::string("35 lines of exactly 200 bytes, max_size 2000, max_files 2, ") + policy) {
      jsonl_sink sink("out", settings("path = '" + file.string() +
                                      "'\nmax_size = 2000\nmax_files = 2\n" + policy));
      test_context ctx("out");
      sink.start(ctx);
      for (int i = 1; i <= 35; i += 5) {
        std::vector<finding> fs;
        for (int j = i; j < i + 5; ++j)
          fs.push_back(sized_finding(j, 200));
        sink.on_batch(*findings_batch(std::move(fs)), ctx);
      }
      sink.stop(ctx);
      THEN("the live file holds 31-35, .1 holds 21-30, .2 holds 11-20, 1-10 are gone") {
        REQUIRE(fs::exists(file));
        CHECK(fs::file_size(file) == 1000);
        CHECK(fs::file_size(dir.path / "r.jsonl.1") == 2000);
        CHECK(fs::file_size(dir.path / "r.jsonl.2") == 2000);
        CHECK_FALSE(fs::exists(dir.path / "r.jsonl.3"));
        CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 3);
        CHECK(entity_name(read_lines(file).front()) == "0031");
        CHECK(entity_name(read_lines(dir.path / "r.jsonl.1").front()) == "0021");
        CHECK(entity_name(read_lines(dir.path / "r.jsonl.2").front()) == "0011");
        CHECK(entity_name(read_lines(dir.path / "r.jsonl.2").back()) == "0020");
        CHECK(ctx.counters["rotations"] == 3);
        CHECK(ctx.findings.empty());
      }
    }
  }
  GIVEN("a single line larger than max_size") {
    jsonl_sink sink("out", settings("path = '" + file.string() +
                                    "'\nmax_size = 100\nmax_files = 1\nflush = 'event'"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({sized_finding(1, 300), sized_finding(2, 300)}), ctx);
    THEN("each is written whole, one per file") {
      CHECK(fs::file_size(file) == 300);
      CHECK(fs::file_size(dir.path / "r.jsonl.1") == 300);
      CHECK(entity_name(read_lines(file).front()) == "0002");
    }
  }
}

SCENARIO("a full disk is a finding and a count, never a crash") {
  GIVEN("the sink writes to /dev/full (every write fails with ENOSPC)") {
    jsonl_sink sink("out", settings("path = '/dev/full'\nflush = 'event'\nmax_pending = 2048"));
    test_context ctx("out");
    sink.start(ctx);
    std::vector<finding> many;
    for (int i = 0; i < 50; ++i)
      many.push_back(sized_finding(i, 200));
    sink.on_batch(*findings_batch(std::move(many)), ctx);
    sink.on_batch(*findings_batch({make_finding(99)}), ctx);
    THEN("exactly one engine.sink_write_failed finding names the path and errno text") {
      const auto failed = ctx.with_rule("engine.sink_write_failed");
      REQUIRE(failed.size() == 1);
      CHECK(failed[0]->level == severity::high);
      CHECK(failed[0]->entity["path"] == "/dev/full");
      CHECK(failed[0]->entity["component"] == "out");
      CHECK(failed[0]->evidence["errno"] == ENOSPC);
      CHECK(failed[0]->evidence["error"] == "No space left on device");
      CHECK(failed[0]->title.find("/dev/full: No space left on device") != std::string::npos);
    }
    THEN("every failed write is counted and memory stays bounded by max_pending") {
      CHECK(ctx.counters["write_errors"] >= 51);
      // Over 2048 bytes the oldest lines go until 1536 remain (7 lines of 200 bytes): 4 lines
      // dropped at the 11th, 15th, ..., 47th line (40), then 4 more when the 51st arrives.
      CHECK(ctx.losses["dropped_lines"] == 44);
      sink.stop(ctx);
      // Nothing was ever written: at stop the 7 kept lines are lost too, all 51 accounted.
      CHECK(ctx.losses["dropped_lines"] == 51);
      CHECK(ctx.counters["lines"] == 51);
    }
  }
  GIVEN("the file's folder does not exist yet") {
    temp_dir dir;
    const auto file = dir.path / "later" / "deeper" / "f.jsonl";
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nflush = 'event'"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({make_finding(1)}), ctx);
    THEN("the sink makes it (0750) and writes") {
      REQUIRE(read_lines(file).size() == 1);
      CHECK((fs::status(file.parent_path()).permissions() & fs::perms::all) ==
            (fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec));
      CHECK(ctx.with_rule("engine.sink_write_failed").empty());
    }
  }
  GIVEN("the folder cannot be made: a file is in its way") {
    temp_dir dir;
    { std::ofstream(dir.path / "later") << "in the way\n"; }
    const auto file = dir.path / "later" / "f.jsonl";
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nflush = 'event'"));
    test_context ctx("out");
    sink.start(ctx);
    sink.on_batch(*findings_batch({make_finding(1)}), ctx);
    THEN("the open failure is reported, and writing resumes once the folder exists") {
      const auto failed = ctx.with_rule("engine.sink_write_failed");
      REQUIRE(failed.size() == 1);
      CHECK(failed[0]->evidence["operation"] == "open");
      CHECK(failed[0]->evidence["errno"] == ENOTDIR);
      fs::remove(dir.path / "later");
      fs::create_directory(dir.path / "later");
      sink.on_batch(*findings_batch({make_finding(2)}), ctx);
      const auto lines = read_lines(file);
      REQUIRE(lines.size() == 2);
      CHECK(entity_name(lines[0]) == "0001");
      CHECK(entity_name(lines[1]) == "0002");
      CHECK(ctx.with_rule("engine.sink_write_recovered").size() == 1);
    }
  }
}

SCENARIO("a real full file system: writing resumes when space is freed, nothing lost") {
  if (::geteuid() != 0) {
    PG_SKIP("not root: skipping the tmpfs full-disk scenario");
  }
  temp_dir dir;
  GIVEN("a 64 KiB tmpfs filled up by another file") {
    if (::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=64k") != 0) {
      PG_SKIP("cannot mount tmpfs: " << std::strerror(errno));
    }
    struct unmount_at_end {
      fs::path p;
      ~unmount_at_end() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{dir.path};
    const auto filler = dir.path / "filler";
    {
      const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT, 0600);
      REQUIRE(fd >= 0);
      const std::string chunk(4096, 'f');
      while (::write(fd, chunk.data(), chunk.size()) > 0) {
      }
      ::close(fd);
    }
    const auto file = dir.path / "f.jsonl";
    jsonl_sink sink("out", settings("path = '" + file.string() + "'\nflush = 'event'"));
    test_context ctx("out");
    sink.start(ctx);
    std::vector<finding> first;
    for (int i = 1; i <= 20; ++i)
      first.push_back(sized_finding(i, 500));
    sink.on_batch(*findings_batch(std::move(first)), ctx);
    THEN("the failure is reported once; after freeing space every line arrives, in order") {
      const auto failed = ctx.with_rule("engine.sink_write_failed");
      REQUIRE(failed.size() == 1);
      CHECK(failed[0]->evidence["errno"] == ENOSPC);
      CHECK(ctx.counters["write_errors"] >= 1);
      fs::remove(filler);
      std::vector<finding> second;
      for (int i = 21; i <= 30; ++i)
        second.push_back(sized_finding(i, 500));
      sink.on_batch(*findings_batch(std::move(second)), ctx);
      sink.stop(ctx);
      const auto lines = read_lines(file);
      REQUIRE(lines.size() == 30);
      for (int i = 0; i < 30; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "%04d", i + 1);
        CHECK(entity_name(lines[static_cast<std::size_t>(i)]) == id);
      }
      CHECK(fs::file_size(file) == 30 * 500);
      CHECK(ctx.with_rule("engine.sink_write_recovered").size() == 1);
      CHECK(ctx.losses["dropped_lines"] == 0);
    }
  }
}

SCENARIO("fsync = always syncs every write - format = ocsf writes Detection Findings") {
  temp_dir dir;
  const auto file = dir.path / "findings.jsonl";
  jsonl_sink sink("out", settings("path = '" + file.string() +
                                  "'\nflush = 'event'\nfsync = 'always'\nformat = 'ocsf'"));
  test_context ctx("out");
  sink.start(ctx);
  sink.on_batch(*findings_batch({make_finding(1), make_finding(2)}), ctx);
  const auto lines = read_lines(file);
  REQUIRE(lines.size() == 2);
  const auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["class_uid"] == 2004);
  CHECK(j["finding_info"]["uid"].get<std::string>().size() == 32);
  CHECK(ctx.counters["fsyncs"] == 2);
  CHECK(ctx.counters["delivered"] == 2);
}

SCENARIO("a path in a folder anyone can write is refused - in a sticky one only our own file") {
  temp_dir dir;
  const auto open = dir.path / "open";
  fs::create_directories(open);
  ::chmod(open.c_str(), 0777);
  {
    jsonl_sink sink("out", settings("path = '" + (open / "f.jsonl").string() + "'"));
    test_context ctx("out");
    CHECK_THROWS_WITH(sink.start(ctx), Catch::Contains("is writable by everyone (and not sticky)"));
  }
  const auto sticky = dir.path / "sticky";
  fs::create_directories(sticky);
  ::chmod(sticky.c_str(), 01777);
  {
    jsonl_sink sink("out", settings("path = '" + (sticky / "f.jsonl").string() + "'"));
    test_context ctx("out");
    CHECK_NOTHROW(sink.start(ctx)); // no file yet: ours when created
  }
  // A link planted where we would write: refused, the target untouched.
  const auto target = dir.path / "target";
  { std::ofstream(target) << "keep\n"; }
  fs::create_symlink(target, sticky / "planted.jsonl");
  jsonl_sink sink("out", settings("path = '" + (sticky / "planted.jsonl").string() + "'"));
  test_context ctx("out");
  CHECK_THROWS_WITH(sink.start(ctx), Catch::Contains("is a symbolic link"));
  CHECK(read_lines(target) == std::vector<std::string>{"keep"});
}
