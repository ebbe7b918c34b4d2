// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/builtin.hpp"

// Each family declares `void register_components(runtime::registry&)` in its namespace
// pg::actors::<family>, in the header <phantomguard/actors/<family>/register.hpp>.
#if PG_HAVE_FAMILY_PROCESS
#include "phantomguard/actors/process/register.hpp"
#endif
#if PG_HAVE_FAMILY_SINK
#include "phantomguard/actors/sink/register.hpp"
#endif
#if PG_HAVE_FAMILY_NETWORK
#include "phantomguard/actors/network/register.hpp"
#endif
#if PG_HAVE_FAMILY_ROOTKIT
#include "phantomguard/actors/rootkit/register.hpp"
#endif
#if PG_HAVE_FAMILY_REALTIME
#include "phantomguard/actors/realtime/register.hpp"
#endif
#if PG_HAVE_FAMILY_FIM
#include "phantomguard/actors/fim/register.hpp"
#endif
#if PG_HAVE_FAMILY_YARA
#include "phantomguard/actors/yara/register.hpp"
#endif
#if PG_HAVE_FAMILY_VULN
#include "phantomguard/actors/vuln/register.hpp"
#endif
#if PG_HAVE_FAMILY_CONTAINER
#include "phantomguard/actors/container/register.hpp"
#endif

#include "phantomguard/runtime/build_families.hpp"

namespace pg::actors {

namespace {

#ifndef PG_HAVE_FAMILY_PROCESS
#define PG_HAVE_FAMILY_PROCESS 0
#endif
#ifndef PG_HAVE_FAMILY_NETWORK
#define PG_HAVE_FAMILY_NETWORK 0
#endif
#ifndef PG_HAVE_FAMILY_ROOTKIT
#define PG_HAVE_FAMILY_ROOTKIT 0
#endif
#ifndef PG_HAVE_FAMILY_REALTIME
#define PG_HAVE_FAMILY_REALTIME 0
#endif
#ifndef PG_HAVE_FAMILY_FIM
#define PG_HAVE_FAMILY_FIM 0
#endif
#ifndef PG_HAVE_FAMILY_YARA
#define PG_HAVE_FAMILY_YARA 0
#endif
#ifndef PG_HAVE_FAMILY_VULN
#define PG_HAVE_FAMILY_VULN 0
#endif
#ifndef PG_HAVE_FAMILY_CONTAINER
#define PG_HAVE_FAMILY_CONTAINER 0
#endif

constexpr family_names families[] = {
    {"process", PG_HAVE_FAMILY_PROCESS != 0, {"procfs", "process", "process_behavior"}},
    {"network", PG_HAVE_FAMILY_NETWORK != 0, {"network"}},
    {"rootkit", PG_HAVE_FAMILY_ROOTKIT != 0, {"rootkit", "kernel_loads"}},
    {"realtime",
     PG_HAVE_FAMILY_REALTIME != 0,
     {"process_events", "kernel_events", "file_watch", "host_health"}},
    {"fim", PG_HAVE_FAMILY_FIM != 0, {"fim", "package_integrity"}},
    {"yara", PG_HAVE_FAMILY_YARA != 0, {"yara"}},
    {"vuln", PG_HAVE_FAMILY_VULN != 0, {"vuln"}},
    {"container", PG_HAVE_FAMILY_CONTAINER != 0, {"container"}},
};

} // namespace

std::span<const family_names> optional_families() noexcept {
  return families;
}

void register_builtin(runtime::registry& reg) {
  // What the options PG_FAMILY_<NAME>=OFF left out, so that a config naming it is told so.
  for (const auto& f : families)
    if (!f.built)
      for (const char* name : f.names)
        if (name != nullptr)
          runtime::add_left_out(name, f.family);
#if PG_HAVE_FAMILY_PROCESS
  process::register_components(reg);
#endif
#if PG_HAVE_FAMILY_SINK
  sink::register_components(reg);
#endif
#if PG_HAVE_FAMILY_NETWORK
  network::register_components(reg);
#endif
#if PG_HAVE_FAMILY_ROOTKIT
  rootkit::register_components(reg);
#endif
#if PG_HAVE_FAMILY_REALTIME
  realtime::register_components(reg);
#endif
#if PG_HAVE_FAMILY_FIM
  fim::register_components(reg);
#endif
#if PG_HAVE_FAMILY_YARA
  yara::register_components(reg);
#endif
#if PG_HAVE_FAMILY_VULN
  vuln::register_components(reg);
#endif
#if PG_HAVE_FAMILY_CONTAINER
  container::register_components(reg);
#endif
  (void)reg;
}

} // namespace pg::actors
