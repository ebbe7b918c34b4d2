// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phantomguard/actors/rootkit/port_probe.hpp"
#include "rootkit_fixture.hpp"

using namespace pg::actors::rootkit;
using pg::test::temp_dir;

namespace {

// A TCP listener on an ephemeral port of 0.0.0.0.
struct listener {
  listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 1);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~listener() { ::close(fd); }
  int fd = -1;
  std::uint16_t port = 0;
};

// /proc/net tables with only their header lines: what a rootkit filtering /proc/net/tcp shows.
void write_empty_tables(const temp_dir& d) {
  const char* tcp_hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                        "retrnsmt   uid  timeout inode\n";
  for (const char* t : {"net/tcp", "net/tcp6", "net/udp", "net/udp6"})
    pg::test::write_file(d / t, tcp_hdr);
}

} // namespace

SCENARIO("port ranges are parsed strictly") {
  CHECK(parse_port_range("1-65535")->first == 1);
  CHECK(parse_port_range("22")->last == 22);
  CHECK_FALSE(parse_port_range("0-10"));
  CHECK_FALSE(parse_port_range("10-5"));
  CHECK_FALSE(parse_port_range("1-70000"));
  CHECK_FALSE(parse_port_range("abc"));
}

SCENARIO("a listener the socket tables show is no hidden port") {
  listener l;
  REQUIRE(l.port != 0);
  port_probe_options o;
  o.range = {l.port, l.port};
  auto res = probe_hidden_ports(o);
  CHECK(res.hidden.empty());
  CHECK(res.in_table >= 1);
}

SCENARIO("a listener missing from the socket tables is a hidden port") {
  GIVEN("a real listener and a /proc view whose tcp tables have been emptied") {
    listener l;
    REQUIRE(l.port != 0);
    temp_dir view;
    write_empty_tables(view);
    WHEN("the analyzer probes that port") {
      auto range = std::to_string(l.port) + "-" + std::to_string(l.port);
      toml::table t{{"checks", pg::test::list_of({"hidden_port"})},
                    {"proc_view", view.path()},
                    {"port_range", range}};
      auto ctx = pg::test::run_rootkit(t);
      THEN("bind fails with EADDRINUSE and the port is reported") {
        auto found = ctx.with_rule("rootkit.hidden_port");
        REQUIRE(found.size() >= 1);
        CHECK(found[0]->entity["port"] == l.port);
        CHECK(found[0]->entity["proto"] == "tcp");
        CHECK(found[0]->level == pg::runtime::severity::high);
        CHECK(found[0]->evidence["bind_error"] == "EADDRINUSE");
      }
    }
  }
}

SCENARIO("no port of this clean host is hidden (full range, as unhide-tcp)") {
  auto res = probe_hidden_ports({});
  for (const auto& h : res.hidden)
    UNSCOPED_INFO("hidden " << h.proto << " " << h.port);
  CHECK(res.hidden.empty());
  CHECK(res.probed > 60000);
  double probe_ms = std::chrono::duration<double, std::milli>(res.elapsed).count();
  WARN("probed " << res.probed << " binds in " << probe_ms << " ms");
}
