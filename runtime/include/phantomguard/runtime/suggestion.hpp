// SPDX-License-Identifier: Apache-2.0
// suggestion.hpp — "did you mean ...?" for misspelt keys, types, inputs and CLI commands.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pg::runtime {

/// Edit distance counting insertions, deletions, substitutions and adjacent transpositions,
/// ignoring ASCII case ("lvel" → "level" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` if it is close enough to be a typo (at most a third of the
/// word's length, 1 to 3 edits), else empty. Ties go to the earlier candidate.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

} // namespace pg::runtime
