// SPDX-License-Identifier: Apache-2.0
// The dpkg status database: source names and versions, status.d for distroless images, malformed
// entries counted with their reason, and the real database of this machine.
#include <catch2/catch.hpp>

#include <algorithm>

#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "skip.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::vuln;

namespace {

const installed_package* find(const dpkg_database& db, const std::string& name) {
  auto it = std::find_if(db.packages.begin(), db.packages.end(),
                         [&](const installed_package& p) { return p.name == name; });
  return it == db.packages.end() ? nullptr : &*it;
}

const char* fake_status = R"(Package: libfoo1
Status: install ok installed
Priority: optional
Architecture: amd64
Source: foo (1.0-1)
Version: 1.0-1+b1
Description: a binNMU of foo
 with a continuation line
 .
 and another

Package: bar
Status: install ok installed
Architecture: all
Version: 0.9-1

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 2.0-1

Package: noversion
Status: install ok installed
Architecture: amd64

Package: badversion
Status: install ok installed
Version: x.y-1

this line has no colon and breaks the entry
Package: garbage
Status: install ok installed
Version: 1.0

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1
)";

} // namespace

SCENARIO("a hand-written status file is parsed into installed packages with their sources") {
  GIVEN("a root with a dpkg status database holding good and malformed entries") {
    pg::test::temp_dir root;
    root.write("var/lib/dpkg/status", fake_status);
    WHEN("the database is read") {
      auto db = read_dpkg_database(root.str());
      THEN("installed packages are kept with their source name and version") {
        CHECK(db.found);
        REQUIRE(db.packages.size() == 3);
        auto foo = find(db, "libfoo1");
        REQUIRE(foo);
        CHECK(foo->version == "1.0-1+b1");
        CHECK(foo->source_name == "foo");
        CHECK(foo->source_version == "1.0-1");
        CHECK(foo->architecture == "amd64");
        auto bar = find(db, "bar");
        REQUIRE(bar);
        CHECK(bar->source_name == "bar");
        CHECK(bar->source_version == "0.9-1");
        CHECK(find(db, "openssl"));
      }
      THEN("a config-files entry is not installed, and three entries are malformed") {
        CHECK(db.not_installed == 1);
        REQUIRE(db.malformed.size() == 3);
        CHECK(db.malformed[0].reason == "package noversion has no Version field");
        CHECK(db.malformed[1].reason.find("invalid version 'x.y-1'") != std::string::npos);
        CHECK(db.malformed[2].reason.find("is not a 'Field: value' line") != std::string::npos);
        CHECK(db.malformed[2].line > 0);
      }
    }
  }
}

SCENARIO("a distroless image lists its packages in status.d") {
  GIVEN("status.d files, one per package, without Status fields, and an md5sums file") {
    pg::test::temp_dir root;
    root.write("var/lib/dpkg/status.d/libc6",
               "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n");
    root.write("var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\n");
    root.write("var/lib/dpkg/status.d/libc6.md5sums", "d41d8cd98f00b204e9800998ecf8427e  x\n");
    auto db = read_dpkg_database(root.str());
    THEN("both packages are installed and the md5sums file is ignored") {
      CHECK(db.found);
      CHECK(db.malformed.empty());
      REQUIRE(db.packages.size() == 2);
      auto libc = find(db, "libc6");
      REQUIRE(libc);
      CHECK(libc->source_name == "glibc");
      CHECK(libc->source_version == "2.36-9+deb12u4");
    }
  }
}

SCENARIO("a root without a dpkg database says so") {
  pg::test::temp_dir root;
  auto db = read_dpkg_database(root.str());
  CHECK_FALSE(db.found);
  CHECK(db.packages.empty());
}

SCENARIO("binary garbage in a status file is counted, never a crash") {
  pg::test::temp_dir root;
  std::string junk;
  for (int i = 0; i < 5000; ++i)
    junk.push_back(static_cast<char>((i * 7919) % 256));
  root.write("var/lib/dpkg/status", junk + "\n\nPackage: ok\nStatus: install ok installed\n"
                                           "Version: 1.0\n");
  auto db = read_dpkg_database(root.str());
  REQUIRE(find(db, "ok"));
  CHECK_FALSE(db.malformed.empty());
}

SCENARIO("the real dpkg database of this machine") {
  auto db = read_dpkg_database("/");
  if (!db.found) {
    PG_SKIP("no /var/lib/dpkg/status here: skipped");
  }
  THEN("it has hundreds of packages, libc6 comes from glibc, bash's binNMU source is read") {
    CHECK(db.packages.size() > 100);
    CHECK(db.malformed.empty());
    auto libc = find(db, "libc6");
    REQUIRE(libc);
    CHECK(libc->source_name == "glibc");
    auto bash = find(db, "bash");
    REQUIRE(bash);
    CHECK(bash->source_name == "bash");
    CHECK_FALSE(bash->source_version.empty());
  }
}
