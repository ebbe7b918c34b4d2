// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/network/register.hpp"

#include "phantomguard/actors/network/network_analyzer.hpp"

namespace pg::actors::network {

void register_components(runtime::registry& reg) {
  reg.add(network_analyzer::type());
}

} // namespace pg::actors::network
