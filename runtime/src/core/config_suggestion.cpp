// SPDX-License-Identifier: Apache-2.0
// config_suggestion.cpp — the "did you mean" behind config diagnostics and the CLI.
#include "phantomguard/runtime/suggestion.hpp"

#include <algorithm>

namespace pg::runtime {

// Optimal string alignment distance (Levenshtein plus adjacent transposition): "lvel" → "level"
// and "formta" → "format" both count as one slip of the fingers. Case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

// The closest candidate within a distance that still looks like a typo (about a third of the
// word), or empty. Ties go to the first candidate, so callers list the likely ones first.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  const std::size_t limit =
      std::max<std::size_t>(1, std::min<std::size_t>(3, (word.size() + 1) / 3));
  std::string best;
  std::size_t best_d = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    if (dist < best_d) {
      best_d = dist;
      best = c;
    }
  }
  return best;
}

} // namespace pg::runtime
