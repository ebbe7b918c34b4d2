// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/syslog_sink.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "phantomguard/runtime/unique_fd.hpp"
#include "remote_delivery.hpp"
#include "sink_options.hpp"
#include "tls_pin.hpp"

namespace pg::actors::sink {

using namespace pg::runtime;

namespace {

const std::map<std::string, int>& facilities() {
  static const std::map<std::string, int> f = {
      {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
      {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
      {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
      {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
  return f;
}

/// RFC 5424 PRINTUSASCII without ' ', '=', ']', '"' for names; "-" when empty.
std::string header_field(const std::string& v, std::size_t max) {
  std::string out;
  for (char c : v)
    if (c > 32 && c < 127 && out.size() < max)
      out += c;
  return out.empty() ? "-" : out;
}

/// An SD-PARAM value: '"', '\' and ']' escaped (RFC 5424, 6.3.3).
std::string sd_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']')
      out += '\\';
    out += c;
  }
  return out;
}

std::string scalar_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r')
      c = ' ';
  return s;
}

/// A connection to the receiver, kept across batches and opened again after a failure.
class syslog_connection {
public:
  explicit syslog_connection(const syslog_sink_settings& s) : s_(s) {}
  ~syslog_connection() { close(); }

  /// Sends the messages (framed for the transport); an empty string, or why it failed.
  std::string send(const std::vector<std::string>& messages) {
    // A receiver that closed the connection kept from the last batch (restarted, or an idle
    // timeout) would take the next write into the void: the kernel accepts it and the peer
    // answers with a reset only afterwards. Its end-of-stream shows now: connect again.
    if (fd_.get() >= 0 && stream_ && peer_closed())
      close();
    if (fd_.get() < 0)
      if (auto err = open(); !err.empty())
        return err;
    for (const auto& m : messages) {
      std::string framed;
      switch (s_.via) {
      case syslog_sink_settings::transport::tcp:
      case syslog_sink_settings::transport::tls:
        framed = std::to_string(m.size()) + " " + m; // octet counting (RFC 6587 3.4.1)
        break;
      case syslog_sink_settings::transport::udp:
      case syslog_sink_settings::transport::unix_socket:
        framed = m.size() > 8192 ? m.substr(0, 8192) : m; // one datagram each
        break;
      }
      if (auto err = write(framed); !err.empty()) {
        close();
        return err;
      }
    }
    return {};
  }

private:
  std::string open() {
    if (s_.via == syslog_sink_settings::transport::unix_socket) {
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, s_.path.c_str(), sizeof a.sun_path - 1);
      for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
        unique_fd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
        if (fd.get() >= 0 && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          fd_ = std::move(fd);
          stream_ = type == SOCK_STREAM;
          return {};
        }
      }
      return "cannot connect to " + s_.path + ": " + std::strerror(errno);
    }
    addrinfo hints{};
    hints.ai_socktype = s_.via == syslog_sink_settings::transport::udp ? SOCK_DGRAM : SOCK_STREAM;
    addrinfo* res = nullptr;
    const auto port = std::to_string(s_.port);
    if (int rc = ::getaddrinfo(s_.host.c_str(), port.c_str(), &hints, &res); rc != 0)
      return "cannot resolve " + s_.host + ": " + ::gai_strerror(rc);
    std::string why = "no address for " + s_.host;
    for (auto* ai = res; ai; ai = ai->ai_next) {
      unique_fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
      if (fd.get() < 0)
        continue;
      timeval tv{static_cast<time_t>(s_.timeout.count() / 1000),
                 static_cast<suseconds_t>((s_.timeout.count() % 1000) * 1000)};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
        fd_ = std::move(fd);
        break;
      }
      why = "cannot connect to " + s_.host + ":" + port + ": " + std::strerror(errno);
    }
    ::freeaddrinfo(res);
    if (fd_.get() < 0)
      return why;
    stream_ = s_.via != syslog_sink_settings::transport::udp;
    if (s_.via == syslog_sink_settings::transport::tls)
      if (auto err = handshake(); !err.empty()) {
        close();
        return err;
      }
    return {};
  }

  static std::string ssl_error(const char* what) {
    char buf[256] = {};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return std::string(what) + ": " + (buf[0] ? buf : "TLS error");
  }

  std::string handshake() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_)
      return ssl_error("TLS");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (s_.tls_verify) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      const bool loaded =
          s_.ca_file.empty()
              ? SSL_CTX_set_default_verify_paths(ctx_) == 1
              : SSL_CTX_load_verify_locations(ctx_, s_.ca_file.c_str(), nullptr) == 1;
      if (!loaded)
        return ssl_error(("cannot load the CA file " + s_.ca_file).c_str());
    }
    if (!s_.pin_sha256.empty())
      install_pin(ctx_, &s_.pin_sha256);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_.get());
    SSL_set_tlsext_host_name(ssl_, s_.host.c_str());
    if (s_.tls_verify)
      SSL_set1_host(ssl_, s_.host.c_str());
    if (SSL_connect(ssl_) != 1) {
      const long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK)
        return "TLS handshake with " + s_.host + " failed: " + X509_verify_cert_error_string(v);
      return ssl_error(("TLS handshake with " + s_.host + " failed").c_str());
    }
    return {};
  }

  std::string write(const std::string& data) {
    if (ssl_) {
      std::size_t done = 0;
      while (done < data.size()) {
        const int n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
        if (n <= 0)
          return ssl_error("TLS write");
        done += static_cast<std::size_t>(n);
      }
      return {};
    }
    if (!stream_) {
      if (::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL) < 0)
        return std::string("send: ") + std::strerror(errno);
      return {};
    }
    std::size_t done = 0;
    while (done < data.size()) {
      const auto n = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return std::string("send: ") + std::strerror(errno);
      }
      done += static_cast<std::size_t>(n);
    }
    if (peer_closed()) // it may not have read what was just sent: the batch is sent again
      return "the receiver closed the connection";
    return {};
  }

  /// The receiver shut its end down (FIN or reset). A TLS receiver's session tickets make the
  /// socket readable too, so readability alone says nothing.
  [[nodiscard]] bool peer_closed() const {
    pollfd p{fd_.get(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  void close() {
    if (ssl_) {
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (ctx_) {
      SSL_CTX_free(ctx_);
      ctx_ = nullptr;
    }
    fd_ = unique_fd();
  }

  const syslog_sink_settings& s_;
  unique_fd fd_;
  bool stream_ = false;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

} // namespace

int syslog_severity(severity s) noexcept {
  switch (s) {
  case severity::critical:
    return 2;
  case severity::high:
    return 3;
  case severity::medium:
    return 4;
  case severity::low:
    return 5;
  case severity::info:
    return 6;
  }
  return 6;
}

std::string syslog_message(const finding& f, const std::string& id, const syslog_sink_settings& s) {
  const int pri = s.facility * 8 + syslog_severity(f.level);
  const std::string host = header_field(f.host, 255);
  // The message: the title for native, the schema's JSON otherwise.
  const std::string msg = s.schema == finding_schema::native
                              ? one_line(f.title)
                              : dump_line(to_schema(f, s.schema, id));
  if (s.proto == syslog_sink_settings::protocol::rfc3164) {
    const auto t = wall_clock::to_time_t(f.time);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    return "<" + std::to_string(pri) + ">" + stamp + " " + host + " " +
           header_field(s.app_name, 32) + "[" + std::to_string(::getpid()) + "]: rule=" + f.rule +
           " severity=" + std::string(to_string(f.level)) + " id=" + id + " " + msg;
  }
  std::string sd = "[phantomguard@32473 id=\"" + id + "\" rule=\"" + sd_value(f.rule) +
                   "\" severity=\"" + std::string(to_string(f.level)) + "\" analyzer=\"" +
                   sd_value(f.analyzer) + "\"";
  if (!f.mitre.empty()) {
    std::string m;
    for (const auto& t : f.mitre)
      m += (m.empty() ? "" : ",") + t;
    sd += " mitre=\"" + sd_value(m) + "\"";
  }
  if (f.entity.is_object())
    for (const auto& [k, v] : f.entity.items())
      if (!v.is_structured())
        sd += " " + header_field(k, 32) + "=\"" + sd_value(one_line(scalar_text(v))) + "\"";
  sd += "]";
  return "<" + std::to_string(pri) + ">1 " + format_rfc3339(f.time) + " " + host + " " +
         header_field(s.app_name, 48) + " " + std::to_string(::getpid()) + " " +
         header_field(f.rule, 32) + " " + sd + " " + msg;
}

std::vector<option_spec> syslog_sink::options() {
  std::vector<option_spec> o;
  o.push_back(opt("address", option_type::string, "unix:///dev/log",
                  "udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH"));
  o.push_back(opt("protocol", option_type::string, "rfc5424",
                  "rfc5424 (structured data) or rfc3164 (old receivers)", {"rfc5424", "rfc3164"}));
  std::vector<std::string> names;
  for (const auto& [n, v] : facilities())
    names.push_back(n);
  o.push_back(opt("facility", option_type::string, "auth", "the syslog facility", names));
  o.push_back(opt("app_name", option_type::string, "phantomguard", "APP-NAME / TAG"));
  o.push_back(
      opt("timeout", option_type::duration, "10s", "connect and send timeout", {}, 0.01, 600));
  for (auto& shared : remote_delivery_options())
    o.push_back(std::move(shared));
  return o;
}

syslog_sink_settings syslog_sink_settings::from(const component_settings& s) {
  syslog_sink_settings r;
  r.address = s.get_string("address", r.address);
  const auto scheme = r.address.find("://");
  if (scheme == std::string::npos)
    throw std::invalid_argument("address must be udp://HOST:PORT, tcp://HOST:PORT, "
                                "tls://HOST:PORT or unix:///PATH, not '" +
                                r.address + "'");
  const auto kind = r.address.substr(0, scheme);
  const auto rest = r.address.substr(scheme + 3);
  if (kind == "unix") {
    r.via = transport::unix_socket;
    r.path = rest;
    if (r.path.empty() || r.path[0] != '/')
      throw std::invalid_argument("address unix:// needs an absolute path (unix:///dev/log)");
  } else if (kind == "udp" || kind == "tcp" || kind == "tls") {
    r.via = kind == "udp" ? transport::udp : kind == "tcp" ? transport::tcp : transport::tls;
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw std::invalid_argument("address " + r.address + " needs HOST:PORT");
    r.host = rest.substr(0, colon);
    if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']')
      r.host = r.host.substr(1, r.host.size() - 2);
    try {
      r.port = std::stoi(rest.substr(colon + 1));
    } catch (const std::exception&) {
      r.port = 0;
    }
    if (r.port <= 0 || r.port > 65535)
      throw std::invalid_argument("address " + r.address + ": the port must be 1 to 65535");
  } else {
    throw std::invalid_argument("address must start with udp://, tcp://, tls:// or unix://, not '" +
                                r.address + "'");
  }
  r.proto =
      s.get_string("protocol", "rfc5424") == "rfc3164" ? protocol::rfc3164 : protocol::rfc5424;
  r.facility = facilities().at(s.get_string("facility", "auth"));
  r.app_name = s.get_string("app_name", r.app_name);
  r.schema =
      parse_finding_schema(s.get_string("format", "native")).value_or(finding_schema::native);
  r.min_severity = parse_severity(s.get_string("min_severity", "info")).value_or(severity::info);
  r.ca_file = s.get_string("ca_file");
  r.tls_verify = s.get_bool("tls_verify", true);
  r.pin_sha256 = read_pin(s.get_string("pin_sha256"), r.via == transport::tls && r.tls_verify,
                          "a tls:// address and tls_verify = true");

  r.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(s.get_duration("timeout", r.timeout));
  return r;
}

syslog_sink::syslog_sink(std::string name, std::string state_dir,
                         const component_settings& settings)
    : name_(std::move(name)), settings_(syslog_sink_settings::from(settings)),
      delivery_(std::make_unique<remote_delivery>(
          name_, std::move(state_dir),
          remote_delivery_settings::from(settings, settings_.address))) {}

syslog_sink::~syslog_sink() = default;

void syslog_sink::start(context& ctx) {
  auto conn = std::make_shared<syslog_connection>(settings_);
  delivery_->start(ctx, [conn](const std::vector<std::string>& batch) {
    delivery_result r;
    if (auto err = conn->send(batch); !err.empty()) {
      r.outcome = delivery_result::kind::retry;
      r.error = err;
    }
    return r;
  });
}

void syslog_sink::on_batch(const event_batch& batch, context& ctx) {
  delivery_->spool(batch, ctx, settings_.min_severity, [this](const finding& f) {
    return syslog_message(f, finding_id(f), settings_);
  });
}

void syslog_sink::on_tick(context& ctx) {
  delivery_->report(ctx);
}

void syslog_sink::stop(context& ctx) {
  delivery_->stop(ctx);
}

} // namespace pg::actors::sink
