// SPDX-License-Identifier: Apache-2.0
// The one translation unit that compiles toml++'s implementation (TOML_HEADER_ONLY=0 elsewhere),
// so each file that includes <toml++/toml.h> compiles only the declarations.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
