// SPDX-License-Identifier: Apache-2.0
// memory_account.hpp — reports memory a component holds outside context::memory() to the
// engine's memory quota for the length of a scope, and gives it back however the scope ends.
#pragma once

#include <cstdint>

#include "phantomguard/runtime/component.hpp"

namespace pg::runtime {

class scoped_memory_account {
public:
  scoped_memory_account(context& ctx, std::int64_t bytes) : ctx_(ctx), bytes_(bytes) {
    ctx_.account_memory(bytes_);
  }
  scoped_memory_account(const scoped_memory_account&) = delete;
  scoped_memory_account& operator=(const scoped_memory_account&) = delete;
  ~scoped_memory_account() { ctx_.account_memory(-bytes_); }

private:
  context& ctx_;
  std::int64_t bytes_;
};

} // namespace pg::runtime
