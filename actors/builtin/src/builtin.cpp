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

namespace pg::actors {

void register_builtin(runtime::registry& reg) {
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
