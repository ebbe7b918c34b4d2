// SPDX-License-Identifier: Apache-2.0
// heap_accounts.hpp — every C++ heap allocation (operator new, so every std container, string
// and CAF message) is charged to the account of the thread that makes it, and given back to the
// same account when freed, from whichever thread. A component's actor thread and the workers it
// starts through context::threads() charge its account, so its memory figure is what it really
// holds — no constant, no estimate. SQLite's allocations go through the same accounts
// (sqlite_accounting()). Accounts live in a fixed table and are never freed: a block freed after
// its account was closed is simply not counted (each carries the account's generation).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pg::runtime::detail::heap {

using account_id = std::uint32_t; // 0: no account (the engine's own threads)

/// A fresh account at zero; 0 when the table (4095 live accounts) is full.
account_id open() noexcept;
/// Stops charging `id`; its blocks freed later are ignored.
void close(account_id id) noexcept;
/// Bytes held now by allocations charged to `id` (block sizes as requested, no header).
[[nodiscard]] std::int64_t bytes(account_id id) noexcept;

/// The account the calling thread charges; set_thread_account returns the previous one.
account_id thread_account() noexcept;
account_id set_thread_account(account_id id) noexcept;

/// Routes SQLite's allocator through the accounts (sqlite3_config before sqlite3_initialize):
/// true when installed, false when SQLite was initialised already.
bool install_sqlite_accounting() noexcept;

/// malloc-like entry points with the accounting header (for C libraries that take an allocator).
void* allocate(std::size_t n) noexcept;
void release(void* p) noexcept;
std::size_t size_of(void* p) noexcept;

} // namespace pg::runtime::detail::heap
