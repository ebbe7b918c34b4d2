// SPDX-License-Identifier: Apache-2.0
// plugin_host.cpp — registers the "plugin" detector type and the "plugins" command.
#include "phantomguard/runtime/plugin_host.hpp"

#include <cstdlib>
#include <mutex>

#include "phantomguard/runtime/plugin_detector.hpp"
#include "phantomguard/runtime/plugin_isolation.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/units.hpp"
#include "plugin/plugin_host_command.hpp"
#include "plugin/plugin_sandbox.hpp"
#include "plugin/plugins_command.hpp"

namespace pg::runtime {
namespace {

std::mutex dir_mutex;
std::string& dir_value() {
  static std::string dir;
  return dir;
}
plugin_trust& trust_value() {
  static plugin_trust trust;
  return trust;
}

option_spec opt(std::string key, option_type type, std::string default_text,
                std::string description, bool required = false,
                std::vector<std::string> choices = {}) {
  option_spec o;
  o.key = std::move(key);
  o.type = type;
  o.default_text = std::move(default_text);
  o.description = std::move(description);
  o.required = required;
  o.choices = std::move(choices);
  return o;
}

/// `sandbox = { ... }`: every key declared, so validate reports a misspelt one at its position.
option_spec sandbox_option() {
  option_spec o = opt("sandbox", option_type::table, "",
                      "isolation = \"process\" only: the child's limits (see docs/isolation.md)");
  o.fields = {
      opt("memory_mb", option_type::integer, "256",
          "address space the plugin may add (RLIMIT_AS); default: quota.memory_mb, else 256"),
      opt("cpu_seconds", option_type::integer, "0", "RLIMIT_CPU over the child's life (0 = none)"),
      opt("user", option_type::string, "nobody",
          "the child's user when the engine runs as root (\"\" = stay)"),
      opt("call_timeout", option_type::duration, "2s",
          "deadline of every call; default: quota.handler_timeout, else 2s"),
      opt("start_timeout", option_type::duration, "15s", "exec, checks, sandbox, load, ready"),
      opt("max_outstanding", option_type::integer, "4",
          "batches in flight to the child while more input is queued"),
      opt("read_paths", option_type::string_list, "[]",
          "read-only paths besides the dynamic loader's (e.g. [\"/proc\"])"),
      opt("host_binary", option_type::string, "", "the child host binary (tests)"),
  };
  o.fields[0].min = 0;
  o.fields[1].min = 0;
  o.fields[5].min = 1;
  o.fields[5].max = 1024;
  return o;
}

// The child's limits: the detector's `quota` first (memory_mb becomes RLIMIT_AS, handler_timeout
// the per-call deadline), then the `sandbox` table, which overrides it key by key.
isolation_settings read_isolation(const component_settings& s, const quota_settings& quota) {
  isolation_settings out;
  auto ms = [](duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
  if (quota.memory_mb)
    out.memory_mb = *quota.memory_mb;
  if (quota.handler_timeout)
    out.call_timeout = ms(*quota.handler_timeout);
  const toml::table* t = s.table()["sandbox"].as_table();
  if (t == nullptr)
    return out;
  if (auto v = (*t)["memory_mb"].value<std::int64_t>(); v && *v >= 0)
    out.memory_mb = static_cast<std::uint64_t>(*v);
  if (auto v = (*t)["cpu_seconds"].value<std::int64_t>(); v && *v >= 0)
    out.cpu_seconds = static_cast<std::uint64_t>(*v);
  if (auto v = (*t)["user"].value<std::string>())
    out.user = *v;
  if (auto v = (*t)["call_timeout"].value<std::string>())
    if (auto d = parse_duration(*v))
      out.call_timeout = ms(*d);
  if (auto v = (*t)["start_timeout"].value<std::string>())
    if (auto d = parse_duration(*v))
      out.start_timeout = ms(*d);
  if (auto v = (*t)["max_outstanding"].value<std::int64_t>(); v && *v > 0)
    out.max_outstanding = static_cast<std::size_t>(*v);
  if (auto v = (*t)["host_binary"].value<std::string>())
    out.host_binary = *v;
  if (const toml::array* paths = (*t)["read_paths"].as_array())
    for (const auto& p : *paths)
      if (auto v = p.value<std::string>())
        out.read_paths.push_back(*v);
  return out;
}

} // namespace

void set_plugin_trust(plugin_trust trust) {
  std::lock_guard lock(dir_mutex);
  trust_value() = std::move(trust);
}

plugin_trust current_plugin_trust() {
  std::lock_guard lock(dir_mutex);
  return trust_value();
}

void set_plugin_dir(std::string dir) {
  std::lock_guard lock(dir_mutex);
  dir_value() = std::move(dir);
}

std::string plugin_dir() {
  {
    std::lock_guard lock(dir_mutex);
    if (!dir_value().empty())
      return dir_value();
  }
  if (const char* env = std::getenv("PHANTOMGUARD_PLUGIN_DIR"); env != nullptr && *env != '\0')
    return env;
  return "/usr/lib/phantomguard/plugins";
}

namespace {

plugin_request request_from(const component_settings& s) {
  plugin_request req;
  req.plugin = s.get_string("plugin");
  req.version = s.get_string("version");
  req.sha256 = s.get_string("sha256");
  req.isolation = s.get_string("isolation", "in_process");
  req.detector = s.get_string("detector");
  req.plugin_dir = s.get_string("plugin_dir", plugin_dir());
  const plugin_trust trust = current_plugin_trust();
  req.signature = trust.signature;
  req.trust_dir = trust.trust_dir;
  if (const toml::table* c = s.table()["config"].as_table())
    req.config = *c;
  return req;
}

} // namespace

void register_plugin_support(registry& reg) {
  component_type t;
  t.name = "plugin";
  t.kind = component_kind::detector;
  t.description = "a detector from a plugin .so built with the PhantomGuard SDK";
  t.options = {
      opt("plugin", option_type::string, "",
          "plugin id (looked up in engine.plugin_dir) or path to the .so", true),
      opt("version", option_type::string, "", "version requirement, e.g. \">=1.2, <2\""),
      opt("sha256", option_type::string, "", "pin: the sha256 of the .so (64 hex digits)"),
      opt("isolation", option_type::string, "in_process",
          "in_process, or process (a sandboxed child host; see docs/isolation.md)", false,
          {"in_process", "process"}),
      opt("detector", option_type::string, "", "which detector of the plugin (default: the first)"),
      opt("config", option_type::table, "",
          "the detector's settings, checked against its manifest"),
      opt("plugin_dir", option_type::string, "", "overrides engine.plugin_dir for this detector"),
      sandbox_option(),
  };
  t.factory = [](const component_init& init) -> std::unique_ptr<component> {
    auto req = request_from(init.settings);
    if (req.isolation == "process")
      return make_isolated_plugin_component(req, read_isolation(init.settings, init.quota),
                                            init.name);
    return make_plugin_component(req);
  };
  // validate runs every check the factory runs, but never the plugin's code.
  t.check = [](const component_init& init) {
    auto req = request_from(init.settings);
    if (req.isolation == "process")
      (void)read_isolation(init.settings, init.quota);
    req.isolation = "in_process"; // the checks of the code itself; an isolated child runs it
    auto insp = inspect_plugin(req);
    if (!insp.ok())
      throw component_refused("engine.plugin_refused", insp.refusal);
  };
  reg.add(std::move(t));

  command cmd;
  cmd.name = "plugins";
  cmd.summary = "list, inspect and check detector plugins (without running their code)";
  cmd.run = [](int argc, char** argv) { return detail::run_plugins_command(argc, argv); };
  reg.add_command(std::move(cmd));

  reg.add_host_check(host_check{"isolation", [](const pipeline_config& config) {
    std::size_t isolated = 0;
    for (const auto& c : config.components)
      if (c.enabled && c.type == "plugin" && c.settings.get_string("isolation", "") == "process")
        ++isolated;
    const std::string users = std::to_string(isolated) + " detector(s) with isolation = \"process\"";
    std::vector<host_report> out;
    const int abi = sandbox_landlock_abi();
    host_report landlock{"kernel", "Landlock (plugin sandbox)", host_level::ok, "", ""};
    if (abi > 0) {
      landlock.detail = "ABI " + std::to_string(abi);
    } else {
      landlock.level = isolated > 0 ? host_level::warn : host_level::note;
      landlock.detail = "not offered by this kernel: an isolated plugin's child keeps only its "
                        "seccomp list, rlimits and unprivileged user (" + users + ")";
      landlock.advice = "a kernel with CONFIG_SECURITY_LANDLOCK and landlock in lsm=";
    }
    out.push_back(std::move(landlock));
    host_report seccomp{"kernel", "seccomp filters (plugin sandbox)", host_level::ok, "", ""};
    if (sandbox_seccomp_available()) {
      seccomp.detail = "filters with the trap action";
    } else {
      // The child refuses to run a plugin it could not confine.
      seccomp.level = isolated > 0 ? host_level::fail : host_level::note;
      seccomp.detail = "unavailable: an isolated plugin's child refuses to run (" + users + ")";
      seccomp.advice = "a kernel with CONFIG_SECCOMP_FILTER, or isolation = \"in_process\"";
    }
    out.push_back(std::move(seccomp));
    return out;
  }});

  command host;
  host.name = "plugin-host";
  host.summary = "internal: the sandboxed child host of an isolated plugin (started by the engine)";
  host.run = [](int argc, char** argv) { return detail::run_plugin_host(argc, argv); };
  reg.add_command(std::move(host));
}

} // namespace pg::runtime
