#include "phantomguard/actors/yara/register.hpp"

namespace pg::actors::yara {

void register_components(runtime::registry& reg) { (void)reg; }

} // namespace pg::actors::yara
