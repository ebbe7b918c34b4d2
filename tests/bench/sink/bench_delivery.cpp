// SPDX-License-Identifier: Apache-2.0
// bench_delivery — what delivery costs, each figure beside a baseline measured in the same run:
//   1. the spool's write cost per finding under each fsync policy, against the same bytes
//      appended with write(2) to one file (no framing, no checksum, no sync);
//   2. findings per second through the http sink to a receiver on loopback, against the same
//      NDJSON bodies POSTed by a plain httplib client;
//   3. findings per second through the syslog sink over TCP to a loopback receiver, against the
//      same messages written to the socket directly.
// The receivers run in this process on their own threads. Prints figures; not a test.
//
//   bench_delivery [findings=20000] [runs=3]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "phantomguard/actors/sink/delivery_spool.hpp"
#include "phantomguard/actors/sink/finding_schema.hpp"
#include "phantomguard/actors/sink/http_sink.hpp"
#include "phantomguard/actors/sink/syslog_sink.hpp"
#include "support/test_context.hpp"

using namespace pg::runtime;
using namespace pg::actors::sink;
using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

finding make(int i) {
  finding f;
  f.time = wall_clock::now() + std::chrono::milliseconds(i);
  f.host = "bench";
  f.analyzer = "gen";
  f.rule = "bench.rule";
  f.level = severity::medium;
  f.title = "a finding of typical length for the benchmark";
  f.entity = {{"pid", i}, {"exe", "/usr/bin/bench"}};
  f.evidence = {{"count", i}};
  return f;
}

std::vector<batch_ptr> batches(int n, int size) {
  std::vector<batch_ptr> out;
  std::vector<event> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(make_finding_event(make(i), "gen"));
    if (static_cast<int>(events.size()) == size) {
      out.push_back(make_batch(std::move(events)));
      events.clear();
    }
  }
  if (!events.empty())
    out.push_back(make_batch(std::move(events)));
  return out;
}

std::string temp_dir() {
  char tmpl[] = "/var/tmp/pg_bench_delivery_XXXXXX"; // a real disk, not tmpfs: fsync costs
  return ::mkdtemp(tmpl);
}

/// 1. Spool cost per finding (µs): append + sync per batch of 100, as the sinks do.
double spool_cost(fsync_policy policy, const std::vector<std::string>& records) {
  const auto dir = temp_dir();
  double us = 0;
  {
    delivery_spool::settings s;
    s.dir = dir + "/spool";
    s.fsync = policy;
    delivery_spool spool(s);
    std::uint64_t dropped = 0;
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < records.size(); ++i) {
      spool.append(records[i], dropped);
      if (i % 100 == 99)
        spool.sync();
    }
    spool.sync();
    us = seconds_since(t0) * 1e6 / static_cast<double>(records.size());
  }
  fs::remove_all(dir);
  return us;
}

double plain_write_cost(const std::vector<std::string>& records) {
  const auto dir = temp_dir();
  const int fd = ::open((dir + "/plain").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  const auto t0 = clock_type::now();
  for (const auto& r : records)
    if (::write(fd, r.data(), r.size()) < 0)
      break;
  const double us = seconds_since(t0) * 1e6 / static_cast<double>(records.size());
  ::close(fd);
  fs::remove_all(dir);
  return us;
}

/// A receiver counting NDJSON lines POSTed to /ingest.
struct http_receiver {
  httplib::Server srv;
  std::thread t;
  int port = 0;
  std::atomic<long> lines{0};
  http_receiver() {
    srv.Post("/ingest", [this](const httplib::Request& req, httplib::Response& res) {
      lines += static_cast<long>(std::count(req.body.begin(), req.body.end(), '\n'));
      res.status = 200;
    });
    port = srv.bind_to_any_port("127.0.0.1");
    t = std::thread([this] { srv.listen_after_bind(); });
  }
  ~http_receiver() {
    srv.stop();
    t.join();
  }
};

/// A TCP receiver counting octet-counted syslog frames (it counts '<' after "LEN ").
struct tcp_receiver {
  int fd = -1;
  int port = 0;
  std::thread t;
  std::atomic<long> bytes{0};
  tcp_receiver() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::listen(fd, 16);
    t = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd, nullptr, nullptr);
        if (c < 0)
          return;
        char buf[65536];
        for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;)
          bytes += n;
        ::close(c);
      }
    });
  }
  ~tcp_receiver() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    t.join();
  }
};

template <class Sink, class Done>
double through_sink(Sink& sink, const std::vector<batch_ptr>& input, Done done) {
  pg::test::test_context ctx("bench");
  const auto t0 = clock_type::now();
  sink.start(ctx);
  for (const auto& b : input)
    sink.on_batch(*b, ctx);
  while (!done())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double s = seconds_since(t0);
  sink.stop(ctx);
  return s;
}

} // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  // Whether the machine was quiet, for the figures below.
  double load[3] = {0, 0, 0};
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
      load[0] = load[1] = load[2] = -1;
    std::fclose(f);
  }
  std::printf("load: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  std::vector<std::string> records;
  for (int i = 0; i < n; ++i) {
    const auto f = make(i);
    records.push_back(dump_line(to_schema(f, finding_schema::native, finding_id(f))));
  }
  const double mean_bytes = [&] {
    double b = 0;
    for (const auto& r : records)
      b += static_cast<double>(r.size());
    return b / static_cast<double>(records.size());
  }();
  std::printf("%d findings of %.0f bytes, %d runs (medians)\n\n", n, mean_bytes, runs);

  std::vector<double> plain;
  std::vector<double> cost[3];
  for (int r = 0; r < runs; ++r) {
    plain.push_back(plain_write_cost(records));
    int k = 0;
    for (auto p : {fsync_policy::never, fsync_policy::interval, fsync_policy::always})
      cost[k++].push_back(spool_cost(p, records));
  }
  std::printf("spool write cost per finding (append; sync every 100 as the sinks do)\n");
  std::printf("  %-28s %8.2f us\n", "baseline: write(2) only", median(plain));
  const char* names[] = {"spool, fsync = never", "spool, fsync = interval",
                         "spool, fsync = always"};
  for (int k = 0; k < 3; ++k)
    std::printf("  %-28s %8.2f us  (%.1fx the baseline)\n", names[k], median(cost[k]),
                median(cost[k]) / median(plain));

  const auto input = batches(n, 256);
  std::vector<double> http_sink_s;
  std::vector<double> http_plain_s;
  std::vector<double> syslog_sink_s;
  std::vector<double> syslog_plain_s;
  for (int r = 0; r < runs; ++r) {
    {
      http_receiver rx;
      const auto dir = temp_dir();
      toml::table t{{"url", "http://127.0.0.1:" + std::to_string(rx.port) + "/ingest"},
                    {"batch_delay", "10ms"},
                    {"spool_fsync", "interval"}};
      http_sink sink("bench", dir, component_settings(t));
      http_sink_s.push_back(through_sink(sink, input, [&] { return rx.lines >= n; }));
      fs::remove_all(dir);
    }
    {
      http_receiver rx;
      httplib::Client c("127.0.0.1", rx.port);
      c.set_keep_alive(true);
      const auto t0 = clock_type::now();
      // The same work the plain way: each finding formatted (native, with its id), POSTed 500
      // at a time, no spool.
      for (int i = 0; i < n; i += 500) {
        std::string body;
        for (int j = i; j < std::min(n, i + 500); ++j) {
          const auto f = make(j);
          body += dump_line(to_schema(f, finding_schema::native, finding_id(f))) + "\n";
        }
        c.Post("/ingest", body, "application/x-ndjson");
      }
      http_plain_s.push_back(seconds_since(t0));
    }
    {
      tcp_receiver rx;
      const auto dir = temp_dir();
      toml::table t{{"address", "tcp://127.0.0.1:" + std::to_string(rx.port)},
                    {"batch_delay", "10ms"},
                    {"spool_fsync", "interval"}};
      syslog_sink sink("bench", dir, component_settings(t));
      syslog_sink_settings ss = syslog_sink_settings::from(component_settings(t));
      std::size_t expect = 0;
      for (int i = 0; i < n; ++i) {
        const auto f = make(i);
        const auto m = syslog_message(f, finding_id(f), ss);
        expect += std::to_string(m.size()).size() + 1 + m.size();
      }
      // Same size give or take the pid digits and the time: wait for 99.9 % of the bytes.
      syslog_sink_s.push_back(through_sink(sink, input, [&] {
        return static_cast<double>(rx.bytes.load()) >= 0.999 * static_cast<double>(expect);
      }));
      fs::remove_all(dir);
    }
    {
      tcp_receiver rx;
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(rx.port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      syslog_sink_settings ss;
      const auto t0 = clock_type::now();
      for (int i = 0; i < n; ++i) {
        const auto f = make(i);
        const auto m = syslog_message(f, finding_id(f), ss);
        const auto framed = std::to_string(m.size()) + " " + m;
        if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) < 0)
          break;
      }
      syslog_plain_s.push_back(seconds_since(t0));
      ::close(fd);
    }
  }
  auto rate = [&](const std::vector<double>& s) { return static_cast<double>(n) / median(s); };
  std::printf(
      "\nfindings per second to a loopback receiver (through the spool, fsync = interval)\n");
  std::printf("  %-34s %10.0f /s\n", "baseline: format + POST 500 at a time", rate(http_plain_s));
  std::printf("  %-34s %10.0f /s  (%.2f of the baseline)\n", "http sink", rate(http_sink_s),
              rate(http_sink_s) / rate(http_plain_s));
  std::printf("  %-34s %10.0f /s\n", "baseline: format + send(2) each frame", rate(syslog_plain_s));
  std::printf("  %-34s %10.0f /s  (%.2f of the baseline)\n", "syslog sink, TCP",
              rate(syslog_sink_s), rate(syslog_sink_s) / rate(syslog_plain_s));
  return 0;
}
