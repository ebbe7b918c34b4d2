// SPDX-License-Identifier: Apache-2.0
// `vuln update` against real HTTP servers on loopback (cpp-httplib's server, and a raw socket
// for a server that lies about its length): conditional requests, size limits, checksums, a
// body that is not advisory data, atomic replace with the last good copy kept, the lock, the
// staleness finding, the analyzer's scheduled refresh and the command's exit codes.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "phantomguard/actors/vuln/advisory_update.hpp"
#include "phantomguard/actors/vuln/vuln_analyzer.hpp"
#include "phantomguard/actors/vuln/vuln_command.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"
#include "phantomguard/runtime/digest.hpp"
#include "test_context.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::vuln;
using outcome = advisory_update_result::outcome;

namespace {

std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A zip of the OSV fixtures (9 advisories), or of the first `n` of them.
std::string fixture_zip(const pg::test::temp_dir& dir, const std::string& name,
                        const std::string& members = "*.json") {
  auto zip = (dir.path() / name).string();
  auto cmd = "cd " + pg::test::fixtures_dir() + "/osv && python3 -m zipfile -c " + zip + " " +
             members + " >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return slurp_file(zip);
}

std::string base64(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string md5_raw(const std::string& body) {
  pg::runtime::digest_stream md(pg::runtime::digest_stream::algorithm::md5);
  md.update(body);
  return md.finish_raw();
}

// A loopback HTTP server whose content, ETag and behaviour a test changes as it goes.
class advisory_server {
public:
  advisory_server() {
    server_.Get("/osv/all.zip", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++requests;
      last_if_none_match = req.get_header_value("If-None-Match");
      last_if_modified_since = req.get_header_value("If-Modified-Since");
      if (status != 200) {
        res.status = status;
        res.set_content("<html>unavailable</html>", "text/html");
        return;
      }
      if (!etag.empty() && last_if_none_match == etag) {
        res.status = 304;
        return;
      }
      res.set_header("ETag", etag);
      res.set_header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT");
      if (!goog_md5.empty())
        res.set_header("x-goog-hash", "crc32c=AAAAAA==,md5=" + goog_md5);
      if (chunked) {
        auto body = std::make_shared<std::string>(content);
        res.set_chunked_content_provider(
            "application/zip", [body](std::size_t offset, httplib::DataSink& sink) {
              if (offset >= body->size()) {
                sink.done();
                return true;
              }
              auto n = std::min<std::size_t>(4096, body->size() - offset);
              sink.write(body->data() + offset, n);
              return true;
            });
        return;
      }
      res.set_content(content, "application/zip");
    });
    server_.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
      res.status = 302;
      res.set_header("Location", "/osv/all.zip");
    });
    server_.Get("/loop", [](const httplib::Request&, httplib::Response& res) {
      res.status = 301;
      res.set_header("Location", "/loop");
    });
    server_.Get("/osv/all.zip.sha256", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(checksum_file, "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~advisory_server() {
    server_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string url(const std::string& path = "/osv/all.zip") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void serve(std::string body, std::string tag, bool with_md5 = true) {
    std::lock_guard lock(mu_);
    content = std::move(body);
    etag = std::move(tag);
    goog_md5 = with_md5 ? base64(md5_raw(content)) : "";
  }

  std::mutex mu_;
  std::string content, etag, goog_md5, checksum_file;
  std::string last_if_none_match, last_if_modified_since;
  int status = 200;
  bool chunked = false;
  int requests = 0;

private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// A server that announces more bytes than it sends, then hangs up.
class short_body_server {
public:
  short_body_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      char buf[4096];
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n"
                         "Content-Length: 100000\r\nConnection: close\r\n\r\n";
      std::string body(1000, 'P');
      // Whatever got through is what the client judges: the test asserts on its verdict.
      const bool sent = ::read(c, buf, sizeof buf) >= 0 &&
                        ::write(c, head.data(), head.size()) >= 0 &&
                        ::write(c, body.data(), body.size()) >= 0;
      static_cast<void>(sent);
      ::close(c);
    });
  }
  ~short_body_server() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/all.zip";
  }

private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

advisory_update_request request_for(const advisory_server& s, const pg::test::temp_dir& dir) {
  advisory_update_request r;
  r.url = s.url();
  r.output = (dir.path() / "osv" / "debian.zip").string();
  r.timeout = std::chrono::seconds(10);
  return r;
}

int run_command(std::vector<std::string> args, std::string& out) {
  return pg::test::run_vuln(std::move(args), out);
}

} // namespace

SCENARIO("an advisory archive is downloaded, then only re-downloaded when it changed") {
  pg::test::temp_dir dir("pg-vuln-update");
  advisory_server server;
  const auto v1 = fixture_zip(dir, "v1.zip", "DSA-*.json");
  const auto v2 = fixture_zip(dir, "v2.zip");
  server.serve(v1, "\"v1\"");
  auto req = request_for(server, dir);

  WHEN("the first update runs") {
    auto r = update_advisories(req);
    THEN("the archive is installed with its record, and the server's MD5 was checked") {
      REQUIRE(r.result == outcome::updated);
      CHECK(r.md5_checked);
      CHECK(r.advisories > 0);
      CHECK(slurp_file(req.output) == v1);
      auto meta = read_advisory_meta(req.output);
      REQUIRE(meta);
      CHECK(meta->etag == "\"v1\"");
      CHECK(meta->sha256 == pg::runtime::sha256_hex(v1));
      CHECK(meta->size == v1.size());
      CHECK(meta->url == req.url);
      CHECK(server.last_if_none_match.empty());
      CHECK_FALSE(std::filesystem::exists(req.output + ".prev"));
    }
    AND_WHEN("it runs again while the server has nothing new") {
      auto first = read_advisory_meta(req.output);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      auto again = update_advisories(req);
      THEN("the request is conditional, answered 304, and only checked_at moves") {
        CHECK(again.result == outcome::not_modified);
        CHECK(server.last_if_none_match == "\"v1\"");
        CHECK(server.last_if_modified_since == "Tue, 01 Dec 2026 10:00:00 GMT");
        auto meta = read_advisory_meta(req.output);
        REQUIRE(meta);
        CHECK(meta->fetched_at == first->fetched_at);
        CHECK(meta->checked_at > first->checked_at);
        CHECK(slurp_file(req.output) == v1);
      }
    }
    AND_WHEN("the server publishes a new archive") {
      server.serve(v2, "\"v2\"");
      auto r2 = update_advisories(req);
      THEN("the new one is installed and the last good copy is kept beside it") {
        REQUIRE(r2.result == outcome::updated);
        CHECK(slurp_file(req.output) == v2);
        CHECK(slurp_file(req.output + ".prev") == v1);
        CHECK(r2.advisories == 9);
      }
    }
    AND_WHEN("--force is given") {
      req.force = true;
      auto r2 = update_advisories(req);
      THEN("the request is unconditional") {
        CHECK(r2.result == outcome::updated);
        CHECK(server.last_if_none_match.empty());
      }
    }
    AND_WHEN("someone replaces the file by hand") {
      std::ofstream(req.output, std::ios::binary | std::ios::trunc) << "edited";
      auto r2 = update_advisories(req);
      THEN("the record no longer describes it, so the download is unconditional") {
        CHECK(r2.result == outcome::updated);
        CHECK(server.last_if_none_match.empty());
        CHECK(slurp_file(req.output) == v1);
      }
    }
  }
}

SCENARIO("a bad download never replaces the last good copy") {
  pg::test::temp_dir dir("pg-vuln-update-bad");
  advisory_server server;
  const auto good = fixture_zip(dir, "good.zip");
  server.serve(good, "\"good\"");
  auto req = request_for(server, dir);
  REQUIRE(update_advisories(req).result == outcome::updated);
  auto part_files = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path() / "osv"))
      if (e.path().filename().string().find(".download") != std::string::npos)
        ++n;
    return n;
  };
  auto kept = [&] {
    CHECK(slurp_file(req.output) == good);
    CHECK(part_files() == 0);
  };

  WHEN("the body does not match the MD5 the server states") {
    server.serve(good, "\"tampered\"");
    {
      std::lock_guard lock(server.mu_);
      server.content[100] ^= 0x55;
    }
    auto r = update_advisories(req);
    THEN("it fails and says why") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("MD5"));
      kept();
    }
  }
  WHEN("the server answers 200 with an HTML page instead of an archive") {
    server.serve("<html><body>Sign in to continue</body></html>", "\"html\"");
    auto r = update_advisories(req);
    THEN("the content check refuses it") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("not usable advisory data"));
      kept();
    }
  }
  WHEN("the archive is a valid zip without one advisory") {
    pg::test::temp_dir other("pg-vuln-empty");
    other.write("README.txt", "nothing here");
    auto zip = (other.path() / "empty.zip").string();
    REQUIRE(std::system(("cd " + other.str() + " && python3 -m zipfile -c " + zip +
                         " README.txt >/dev/null")
                            .c_str()) == 0);
    server.serve(slurp_file(zip), "\"empty\"");
    auto r = update_advisories(req);
    THEN("it is refused as holding no advisories") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("holds no advisories"));
      kept();
    }
  }
  WHEN("the server fails") {
    server.status = 503;
    auto r = update_advisories(req);
    THEN("the status is the error") {
      CHECK(r.result == outcome::failed);
      CHECK(r.http_status == 503);
      CHECK_THAT(r.error, Catch::Contains("HTTP 503"));
      kept();
    }
  }
  WHEN("the announced size is over the limit") {
    server.serve(good + std::string(), "\"big\"");
    req.max_bytes = good.size() - 1;
    auto r = update_advisories(req);
    THEN("it is refused before the body is read") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("over the limit"));
      kept();
    }
  }
  WHEN("a chunked body without a length grows over the limit") {
    server.chunked = true;
    server.serve(good, "\"chunked\"", false);
    req.max_bytes = 1024;
    auto r = update_advisories(req);
    THEN("the download stops at the limit") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("exceeds the limit"));
      kept();
    }
  }
  WHEN("an expected SHA-256 is given and the archive differs") {
    server.serve(fixture_zip(dir, "other.zip", "DSA-*.json"), "\"other\"");
    req.sha256 = pg::runtime::sha256_hex(good);
    auto r = update_advisories(req);
    THEN("the mismatch is refused") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("SHA-256 mismatch"));
      kept();
    }
  }
  WHEN("another update holds the lock") {
    int fd = ::open((req.output + ".lock").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    req.force = true;
    auto r = update_advisories(req);
    ::close(fd);
    THEN("this one does not run") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("another update"));
      kept();
    }
  }
  WHEN("the URL is not http(s)") {
    req.url = "ftp://127.0.0.1/all.zip";
    auto r = update_advisories(req);
    THEN("it is refused") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("not http"));
      kept();
    }
  }
}

SCENARIO("redirects are followed, a redirect loop is not") {
  pg::test::temp_dir dir("pg-vuln-update-redirect");
  advisory_server server;
  server.serve(fixture_zip(dir, "all.zip"), "\"r\"");
  auto req = request_for(server, dir);
  req.url = server.url("/moved");
  auto r = update_advisories(req);
  CHECK(r.result == outcome::updated);
  CHECK(r.advisories == 9);
  req.url = server.url("/loop");
  req.force = true;
  auto loop = update_advisories(req);
  CHECK(loop.result == outcome::failed);
  CHECK_THAT(loop.error, Catch::Contains("more than 5 redirects"));
}

SCENARIO("a server that sends fewer bytes than it announced fails the update") {
  pg::test::temp_dir dir("pg-vuln-update-short");
  short_body_server server;
  advisory_update_request req;
  req.url = server.url();
  req.output = (dir.path() / "debian.zip").string();
  req.timeout = std::chrono::seconds(5);
  std::ofstream(req.output) << "previous";
  auto r = update_advisories(req);
  CHECK(r.result == outcome::failed);
  CHECK(slurp_file(req.output) == "previous");
  CHECK_FALSE(std::filesystem::exists(dir.path() / ".debian.download.zip"));
}

SCENARIO("a checksum file names the SHA-256 the download must have") {
  pg::test::temp_dir dir("pg-vuln-update-sum");
  advisory_server server;
  const auto body = fixture_zip(dir, "all.zip");
  server.serve(body, "\"s\"", false);
  auto req = request_for(server, dir);
  req.checksum_url = server.url("/osv/all.zip.sha256");
  GIVEN("sha256sum output naming this file among others") {
    server.checksum_file =
        std::string(64, 'a') + "  other.zip\n" + pg::runtime::sha256_hex(body) + "  all.zip\n";
    auto r = update_advisories(req);
    THEN("the line for all.zip is used and matches") {
      CHECK(r.result == outcome::updated);
      CHECK(r.sha256_checked);
      CHECK_FALSE(r.md5_checked);
    }
  }
  GIVEN("a checksum file that names another digest") {
    server.checksum_file = std::string(64, 'b') + "  all.zip\n";
    auto r = update_advisories(req);
    THEN("the download is refused") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("SHA-256 mismatch"));
      CHECK_FALSE(std::filesystem::exists(req.output));
    }
  }
  GIVEN("a checksum file without a digest") {
    server.checksum_file = "<html>not found</html>";
    auto r = update_advisories(req);
    THEN("it is an error before anything is downloaded") {
      CHECK(r.result == outcome::failed);
      CHECK_THAT(r.error, Catch::Contains("names no SHA-256"));
      CHECK(server.requests == 0);
    }
  }
}

SCENARIO("old advisory data is a finding") {
  pg::test::temp_dir dir("pg-vuln-stale");
  advisory_server server;
  server.serve(fixture_zip(dir, "all.zip"), "\"x\"");
  auto req = request_for(server, dir);
  REQUIRE(update_advisories(req).result == outcome::updated);
  const auto now = pg::runtime::wall_clock::now();
  THEN("fresh data is not stale, and max_age 0 disables the check") {
    CHECK_FALSE(staleness_finding(req.output, std::chrono::hours(24), now));
    CHECK_FALSE(
        staleness_finding(req.output, std::chrono::seconds(0), now + std::chrono::hours(24 * 365)));
  }
  THEN("ten days after the last confirmation it is stale, with the remedy") {
    auto f =
        staleness_finding(req.output, std::chrono::hours(24 * 7), now + std::chrono::hours(240));
    REQUIRE(f);
    CHECK(f->rule == "vuln.advisories_stale");
    CHECK(f->level == pg::runtime::severity::medium);
    CHECK(f->evidence["from"] == "update record");
    CHECK(f->evidence["age_hours"].get<int>() >= 239);
    CHECK_THAT(f->evidence["remedy"].get<std::string>(), Catch::Contains("vuln update"));
  }
  THEN("a file without a record is dated by its mtime") {
    auto plain = dir.write("plain.json", "{}");
    std::filesystem::last_write_time(plain, std::filesystem::file_time_type::clock::now() -
                                                std::chrono::hours(24 * 30));
    auto f = staleness_finding(plain.string(), std::chrono::hours(24 * 7), now);
    REQUIRE(f);
    CHECK(f->evidence["from"] == "file mtime");
  }
}

SCENARIO("the vuln analyzer refreshes its advisories before a scheduled scan") {
  pg::test::temp_dir dir("pg-vuln-analyzer-update");
  advisory_server server;
  server.serve(fixture_zip(dir, "all.zip"), "\"a\"");
  dir.write("root/var/lib/dpkg/status", "Package: libssl3\nStatus: install ok installed\n"
                                        "Architecture: amd64\nSource: openssl\n"
                                        "Version: 3.0.11-1~deb12u1\n");
  dir.write("root/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
  auto advisories = (dir.path() / "osv" / "debian.zip").string();
  auto make_init = [&](bool one_pass) {
    pg::runtime::component_init init;
    init.name = "vuln";
    init.one_pass = one_pass;
    toml::table t;
    t.insert("root", (dir.path() / "root").string());
    t.insert("advisories", advisories);
    t.insert("update_url", server.url());
    init.settings = pg::runtime::component_settings(t);
    return init;
  };
  WHEN("the daemon's tick runs with nothing downloaded yet") {
    vuln_analyzer a(make_init(false));
    pg::test::test_context ctx("vuln");
    a.start(ctx);
    a.on_tick(ctx);
    THEN("the archive is fetched and matched in the same tick") {
      CHECK(ctx.counters["updates"] == 1);
      CHECK(std::filesystem::exists(advisories));
      CHECK_FALSE(ctx.with_rule("vuln.package").empty());
      CHECK(ctx.with_rule("vuln.advisories_missing").empty());
    }
    AND_WHEN("the server is down at the next tick") {
      server.status = 500;
      pg::test::test_context next("vuln");
      a.on_tick(next);
      THEN("vuln.update_failed is raised and the last good copy is still matched") {
        auto f = next.with_rule("vuln.update_failed");
        REQUIRE(f.size() == 1);
        CHECK(f[0]->level == pg::runtime::severity::medium);
        CHECK_THAT(f[0]->evidence["error"].get<std::string>(), Catch::Contains("HTTP 500"));
        CHECK(f[0]->evidence["last_good_confirmed_at"].is_string());
        CHECK(next.counters["update_failures"] == 1);
        CHECK_FALSE(next.with_rule("vuln.package").empty());
      }
    }
  }
  WHEN("a one-pass scan runs") {
    vuln_analyzer a(make_init(true));
    pg::test::test_context ctx("vuln");
    a.start(ctx);
    a.on_tick(ctx);
    THEN("it never goes to the network") {
      CHECK(server.requests == 0);
      CHECK_FALSE(ctx.with_rule("vuln.advisories_missing").empty());
    }
  }
}

SCENARIO("phantomguard vuln update exits 0 on success, 1 on failure, 2 on bad usage") {
  pg::test::temp_dir dir("pg-vuln-update-cli");
  advisory_server server;
  server.serve(fixture_zip(dir, "all.zip"), "\"c\"");
  auto out_file = (dir.path() / "osv" / "debian.zip").string();
  std::string out;
  CHECK(run_command({"update", "--url", server.url(), "--output", out_file}, out) == 0);
  CHECK_THAT(out, Catch::Contains("updated " + out_file) && Catch::Contains("9 advisories") &&
                      Catch::Contains("server MD5 checked"));
  CHECK(run_command({"update", "--url", server.url(), "--output", out_file}, out) == 0);
  CHECK_THAT(out, Catch::Contains("up to date"));
  server.status = 404;
  CHECK(run_command({"update", "--url", server.url(), "--output", out_file, "--force"}, out) == 1);
  CHECK(std::filesystem::exists(out_file));
  CHECK(run_command({"update", "--max-size", "lots", "--output", out_file}, out) == 2);
  CHECK(run_command({"update", "--timeout", "0s", "--output", out_file}, out) == 2);
  CHECK(run_command({"update", "--no-such-flag"}, out) == 2);
  // The scan command names the update when the source is missing.
  CHECK(run_command({"--advisories", (dir.path() / "none.zip").string()}, out) == 2);
}

SCENARIO("a checksum file names the download's SHA-256, by its line or else the first") {
  const std::string a(64, 'a'), b(64, 'B');
  const std::string url = "https://mirror.example/osv/Debian/all.zip";
  CHECK(expected_from_checksum_file(b + "  other.zip\n" + a + "  all.zip\n", url) == a);
  CHECK(expected_from_checksum_file(b + " *other.zip\n", url) == std::string(64, 'b'));
  CHECK(expected_from_checksum_file(a + "\n", url) == a);
  CHECK_FALSE(expected_from_checksum_file("not a digest  all.zip\n", url).has_value());
  CHECK_FALSE(expected_from_checksum_file(std::string(63, 'a') + "  all.zip\n", url).has_value());
  CHECK_FALSE(expected_from_checksum_file("", url).has_value());
}

SCENARIO("an update record whose validators hold a line break is not trusted") {
  // The etag and Last-Modified go back to the server as If-None-Match / If-Modified-Since: a
  // record edited to hold CR LF would put headers of its own into the request.
  pg::test::temp_dir dir("pg-vuln-meta");
  const std::string out = (dir.path() / "debian.zip").string();
  auto record = [&](const std::string& etag) {
    nlohmann::json j = {{"url", "https://mirror.example/all.zip"},
                        {"etag", etag},
                        {"last_modified", "Tue, 01 Dec 2026 03:00:00 GMT"},
                        {"sha256", std::string(64, 'a')},
                        {"size", 10},
                        {"advisories", 1},
                        {"fetched_at", "2026-12-01T03:00:00Z"},
                        {"checked_at", "2026-12-01T04:00:00Z"}};
    std::ofstream(out + ".meta.json") << j.dump();
  };
  record("\"abc\"");
  REQUIRE(read_advisory_meta(out).has_value());
  CHECK(read_advisory_meta(out)->etag == "\"abc\"");
  record("\"abc\"\r\nX-Injected: 1");
  CHECK_FALSE(read_advisory_meta(out).has_value());
  record(std::string("\"a\tb\""));
  CHECK_FALSE(read_advisory_meta(out).has_value());
}

SCENARIO("an update record whose counts are not whole numbers this machine holds is not trusted") {
  // The fuzzer's find: "advisories": 44444400000001168934303281942 parses as a double, and
  // reading it as a size_t was undefined behaviour.
  pg::test::temp_dir dir("pg-vuln-meta-count");
  const std::string out = (dir.path() / "debian.zip").string();
  auto record = [&](const std::string& size, const std::string& advisories) {
    std::ofstream(out + ".meta.json")
        << R"({"url":"https://mirror.example/all.zip","etag":"","last_modified":"",)"
        << R"("sha256":"","size":)" << size << R"(,"advisories":)" << advisories
        << R"(,"fetched_at":"2026-12-01T03:00:00Z","checked_at":"2026-12-01T04:00:00Z"})";
  };
  record("10", "1");
  REQUIRE(read_advisory_meta(out).has_value());
  CHECK(read_advisory_meta(out)->advisories == 1);
  record("10", "44444400000001168934303281942");
  CHECK_FALSE(read_advisory_meta(out).has_value());
  record("-1", "1");
  CHECK_FALSE(read_advisory_meta(out).has_value());
  record("1e300", "1");
  CHECK_FALSE(read_advisory_meta(out).has_value());
  record("10", "\"many\"");
  CHECK_FALSE(read_advisory_meta(out).has_value());
}
