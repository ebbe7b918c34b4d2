// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phantomguard/actors/host/socket_table.hpp"

using namespace pg::actors::host;

SCENARIO("the socket tables show a listener we open, owned by this process") {
  GIVEN("a TCP socket listening on an ephemeral loopback port") {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::uint16_t port = ntohs(addr.sin_port);

    WHEN("the tcp table is read") {
      auto table = read_socket_table(socket_proto::tcp);
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const socket_entry& e) { return e.local_port == port; });
      THEN("the row has the address, the LISTEN state, our uid and an inode we own") {
        REQUIRE(it != table.end());
        CHECK(it->local_address == "127.0.0.1");
        CHECK(it->listening());
        CHECK(tcp_state_name(it->state) == "LISTEN");
        CHECK(it->uid == static_cast<std::int64_t>(::getuid()));
        auto fds = socket_fds(::getpid());
        REQUIRE(fds);
        REQUIRE(fds->count(fd) == 1);
        CHECK(fds->at(fd) == it->inode);
        auto owners = map_socket_owners();
        REQUIRE(owners.by_inode.count(it->inode) == 1);
        CHECK(owners.by_inode.at(it->inode) == std::vector<pid_t>{::getpid()});
      }
    }
    ::close(fd);
  }
}

SCENARIO("malformed table lines are skipped and counted") {
  std::size_t bad = 0;
  auto rows = parse_socket_table(
      socket_proto::tcp,
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
      "inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
      "12345 1 0000000000000000 100 0 0 10 0\n"
      "   1: ZZZZ:1F90 garbage\n",
      &bad);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].local_address == "127.0.0.1");
  CHECK(rows[0].local_port == 8080);
  CHECK(rows[0].inode == 12345);
  CHECK(bad == 1);
}

SCENARIO("a socket the kernel printed twice is kept once") {
  // /proc/net/tcp read in chunks while sockets come and go can repeat a row; connections that no
  // process holds any more (inode 0, TIME_WAIT) are distinct rows and all kept.
  const char* header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
      "inode\n";
  const char* row = "   0: 0100007F:9C40 0100007F:115C 01 00000000:00000000 00:00000000 00000000"
                    "     0        0 777 1 0000000000000000 20 4 30 10 -1\n";
  const char* waiting1 = "   1: 0100007F:9C41 0100007F:115C 06 00000000:00000000 03:00001000 "
                         "00000000     0        0 0 3 0000000000000000\n";
  const char* waiting2 = "   2: 0100007F:9C42 0100007F:115C 06 00000000:00000000 03:00001000 "
                         "00000000     0        0 0 3 0000000000000000\n";
  std::size_t bad = 0;
  auto rows = parse_socket_table(socket_proto::tcp,
                                 std::string(header) + row + waiting1 + row + waiting2, &bad);
  CHECK(bad == 0);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].inode == 777);
  CHECK(rows[0].remote_port == 4444);
  CHECK(rows[1].inode == 0);
  CHECK(rows[2].inode == 0);
  CHECK(rows[2].local_port == 0x9C42);
}
