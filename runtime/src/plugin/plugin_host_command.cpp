// SPDX-License-Identifier: Apache-2.0
// plugin_host_command.cpp — the child host. It runs the unchanged in-process adapter
// (plugin_detector) behind a context that forwards everything over the channel, so a plugin
// sees exactly the same host API in both isolation levels.
#include "plugin/plugin_host_command.hpp"

#include "phantomguard/runtime/plugin_isolation.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory_resource>
#include <new>
#include <pwd.h>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <toml++/toml.h>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/plugin_detector.hpp"
#include "phantomguard/runtime/plugin_loader.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "plugin/child_channel.hpp"
#include "plugin/plugin_detector_views.hpp"
#include "plugin/plugin_sandbox.hpp"

namespace pg::runtime::detail {
namespace {

using wire::frame_type;

/// The context the adapter runs with inside the child: every call becomes a frame.
class channel_context final : public context {
public:
  channel_context(child_channel& ch, std::string name) : ch_(ch), name_(std::move(name)) {}

  const std::string& name() const noexcept override { return name_; }
  const std::string& host() const noexcept override { return host_; }
  wall_clock::time_point now() const noexcept override { return wall_clock::now(); }
  void emit(event) override {} // detectors emit findings, not events
  void emit_finding(finding f) override {
    nlohmann::json j = {{"rule", f.rule},         {"severity", static_cast<int>(f.level)},
                        {"title", f.title},       {"entity", f.entity},
                        {"evidence", f.evidence}, {"mitre", f.mitre}};
    std::string p;
    wire::writer(p).put_string(j.dump());
    ch_.send(frame_type::finding, p);
  }
  void count(std::string_view name, std::int64_t delta) override {
    std::string p;
    wire::writer w(p);
    w.put(delta);
    w.put_string(name);
    ch_.send(frame_type::counter, p);
  }
  void gauge(std::string_view name, double value) override {
    std::string p;
    wire::writer w(p);
    w.put(value);
    w.put_string(name);
    ch_.send(frame_type::gauge, p);
  }
  void log(log_level level, std::string_view message) override {
    std::string p;
    wire::writer w(p);
    w.put(static_cast<std::uint8_t>(level));
    w.put_string(message);
    ch_.send(frame_type::log, p);
  }
  bool should_stop() const noexcept override { return false; }
  std::pmr::memory_resource* memory() noexcept override { return std::pmr::new_delete_resource(); }
  // The engine measures the child from outside (its CPU clock and RSS): nothing to send.
  void charge_cpu(std::int64_t) override {}
  void account_memory(std::int64_t delta) override {
    std::string p;
    wire::writer(p).put(delta);
    ch_.send(frame_type::memory, p);
  }

private:
  child_channel& ch_;
  std::string name_;
  std::string host_;
};

/// The sandbox user reopens the plugin through /proc/self/fd: it needs read permission on it.
std::string sandbox_user_can_read(const plugin_file& file, const std::string& user,
                                  const std::string& who) {
  if (::geteuid() != 0 || user.empty())
    return {};
  const passwd* pw = ::getpwnam(user.c_str());
  struct stat st {};
  if (pw == nullptr || ::fstat(file.fd.get(), &st) != 0)
    return {}; // the sandbox names a missing user itself
  const bool readable = (st.st_mode & S_IROTH) != 0 ||
                        (st.st_uid == pw->pw_uid && (st.st_mode & S_IRUSR)) ||
                        (st.st_gid == pw->pw_gid && (st.st_mode & S_IRGRP));
  if (readable)
    return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "plugin \"" + who + "\" (" + file.canonical +
         ") refused: the sandbox user cannot read the file: expected a mode readable by " + user +
         " (e.g. 0644), found mode " + mode + "; fix: chmod o+r " + file.canonical +
         " (an isolated plugin is loaded after the drop to the sandbox user)";
}

void send_log(child_channel& ch, log_level level, std::string_view message) {
  std::string p;
  wire::writer w(p);
  w.put(static_cast<std::uint8_t>(level));
  w.put_string(message);
  ch.send(frame_type::log, p);
}

void send_done(child_channel& ch, wire::call_status status, std::string_view message,
               std::string_view extra = {}) {
  std::string p(wire::frame_header_size, '\0');
  wire::writer w(p);
  w.put(static_cast<std::int32_t>(status));
  w.put_string(message);
  w.put_bytes(extra);
  ch.send_prepared(frame_type::done, p);
}

void send_refused(child_channel& ch, bool refusal, std::string_view message) {
  std::string p;
  wire::writer w(p);
  w.put(static_cast<std::uint8_t>(refusal ? 1 : 0));
  w.put_string(message);
  ch.send(frame_type::refused, p);
}

wire::call_status classify(const std::exception& e) {
  // The adapter reports a plugin's PG_ERR_NO_MEMORY as "(code 5)": under RLIMIT_AS that is the
  // address-space limit, which the engine reports as a quota breach.
  return std::strstr(e.what(), "(code 5)") != nullptr ? wire::call_status::no_memory
                                                      : wire::call_status::failed;
}

/// Serves calls until shutdown or the end of the channel.
int serve(child_channel& ch, component& comp, channel_context& ctx) {
  child_channel::frame f;
  std::vector<pg_event> events;
  std::vector<pg_field> fields;
  for (;;) {
    try {
      if (!ch.receive(f))
        continue;
    } catch (const channel_closed&) {
      return 0;
    }
    std::string extra;
    try {
      switch (f.type) {
      case frame_type::batch:
        // Views straight into the frame: no event objects, no second conversion.
        wire::decode_views(f.payload, events, fields);
        run_plugin_views(comp, events.data(), events.size(), ctx);
        break;
      case frame_type::timer:
        comp.on_tick(ctx);
        break;
      case frame_type::drain:
        comp.stop(ctx);
        break;
      case frame_type::snapshot:
        extra = comp.snapshot();
        break;
      case frame_type::restore:
        comp.restore(f.payload);
        break;
      case frame_type::shutdown:
        return 0;
      default:
        send_done(ch, wire::call_status::failed, "unknown call");
        continue;
      }
      send_done(ch, wire::call_status::ok, {}, extra);
    } catch (const std::bad_alloc&) {
      send_done(ch, wire::call_status::no_memory, "out of memory in the child host");
    } catch (const std::exception& e) {
      send_done(ch, classify(e), e.what());
    }
  }
}

} // namespace

int run_plugin_host(int argc, char** argv) {
  int fd = 3;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--channel")
      fd = std::atoi(argv[i + 1]);
  // Die with the engine: an orphaned plugin host has nobody to serve.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  child_channel ch(fd);
  child_channel::frame init;
  try {
    if (!ch.receive(init) || init.type != frame_type::init) {
      std::cerr << "phantomguard plugin-host: started by hand? it is started by the engine with "
                   "an init frame on descriptor "
                << fd << '\n';
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "phantomguard plugin-host: no channel on descriptor " << fd << ": " << e.what()
              << " (this command is started by the engine, never by hand)\n";
    return 2;
  }

  try {
    const toml::table t = toml::parse(init.payload);
    plugin_request req;
    req.plugin = t["plugin"].value_or(std::string());
    req.version = t["version"].value_or(std::string());
    req.sha256 = t["sha256"].value_or(std::string());
    req.detector = t["detector"].value_or(std::string());
    req.plugin_dir = t["plugin_dir"].value_or(std::string());
    req.isolation = "in_process"; // the checks' view: inside this process
    req.signature = parse_signature_policy(t["signature"].value_or(std::string("if_present")))
                        .value_or(signature_policy::required);
    req.trust_dir = t["trust_dir"].value_or(std::string(default_plugin_trust_dir));
    if (const auto* c = t["config"].as_table())
      req.config = *c;
    sandbox_limits limits;
    limits.memory_mb = t["memory_mb"].value_or(std::int64_t{256});
    limits.cpu_seconds = t["cpu_seconds"].value_or(std::int64_t{0});
    limits.user = t["user"].value_or(std::string("nobody"));
    limits.channel_fd = fd;
    if (const auto* paths = t["read_paths"].as_array())
      for (const auto& p : *paths)
        if (auto v = p.value<std::string>())
          limits.read_paths.push_back(*v);
    const std::string name = t["name"].value_or(std::string("plugin"));

    std::shared_ptr<loaded_plugin> plugin;
    std::unique_ptr<component> comp;
    try {
      // Every check on one descriptor, then the whole sandbox, and only then the plugin's
      // first instruction: its constructors run inside load_inspected's dlopen.
      plugin_inspection insp = inspect_plugin(req);
      if (!insp.ok())
        throw component_refused("engine.plugin_refused", insp.refusal);
      if (auto line = sandbox_user_can_read(*insp.file, limits.user, insp.manifest->id);
          !line.empty())
        throw component_refused("engine.plugin_refused", line);
      limits.plugin_fd = insp.file->fd.get();
      const sandbox_report report = apply_sandbox(limits);
      send_log(ch, report.landlock_abi > 0 ? log_level::debug : log_level::warn,
               report.landlock_abi > 0
                   ? "sandbox: Landlock ABI " + std::to_string(report.landlock_abi) +
                         (report.network_namespace ? ", own network namespace" : "")
                   : std::string("sandbox: this kernel has no Landlock: the plugin's file access "
                                 "is bounded by its user and the seccomp allow-list only"));
      plugin = load_inspected(insp);
      insp.file.reset(); // mapped now: the descriptor is no longer needed
      comp = make_plugin_detector(plugin, req.detector, req.config);
    } catch (const component_refused& e) {
      send_refused(ch, true, e.what());
      return 1;
    } catch (const std::exception& e) {
      send_refused(ch, false, e.what());
      return 1;
    }
    channel_context ctx(ch, name);
    comp->start(ctx);
    ch.send(frame_type::ready, {});
    return serve(ch, *comp, ctx);
  } catch (const std::exception& e) {
    try {
      send_refused(ch, false, std::string("plugin host: ") + e.what());
    } catch (...) {
    }
    return 1;
  }
}

} // namespace pg::runtime::detail

namespace pg::runtime {

int run_plugin_host_main(int argc, char** argv) {
  return detail::run_plugin_host(argc, argv);
}

} // namespace pg::runtime
