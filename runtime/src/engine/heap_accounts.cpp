// SPDX-License-Identifier: Apache-2.0
// The replacement global operator new/delete: a 16-byte header before each block names its
// account (slot and generation) and its size. Over-aligned blocks (std::pmr's resources ask for
// them) keep the original pointer in 16 more bytes before the header.
#include "engine/heap_accounts.hpp"

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>

namespace pg::runtime::detail::heap {

namespace {

constexpr std::uint32_t table_size = 4096;

struct account {
  std::atomic<std::int64_t> bytes{0};
  std::atomic<std::uint32_t> generation{0}; // odd while open
};

// Zero-initialised before any dynamic initialisation: operator new may run before main.
constinit std::array<account, table_size> table{};
constinit thread_local account_id current = 0;
constinit thread_local std::uint32_t current_generation = 0;
// What this thread allocated (+) and freed (-) of its own account, not yet added to it: an
// atomic operation per allocation would triple the cost of new/delete. Flushed past 16 KiB and
// whenever the thread changes account (a worker ends by leaving its account): an account is
// exact to 16 KiB per thread charging it (and may read a little below zero for a moment when
// one of its threads frees what another has not flushed yet).
constinit thread_local std::int64_t pending = 0;
constexpr std::int64_t flush_at = 16 * 1024;

void flush() noexcept {
  if (current != 0 && pending != 0 &&
      table[current].generation.load(std::memory_order_relaxed) == current_generation)
    table[current].bytes.fetch_add(pending, std::memory_order_relaxed);
  pending = 0;
}

struct alignas(16) header {
  std::uint32_t slot;
  std::uint32_t generation;
  std::uint32_t requested; // the size asked for (SQLite asks for it back)
  std::uint32_t size_low;  // what was charged: the chunk's real footprint
  // 16 bytes: the block after it keeps malloc's 16-byte alignment.
};
static_assert(sizeof(header) == 16);

void fill(header* h, std::size_t n, void* chunk) noexcept;

void* charge(std::size_t n) noexcept {
  auto* h = static_cast<header*>(std::malloc(n + sizeof(header)));
  if (h == nullptr)
    return nullptr;
  fill(h, n, h);
  return h + 1;
}

// What a block really costs the heap: malloc's usable size of the chunk (our header and the
// rounding included) plus malloc's own size word. Small blocks cost twice what they ask for.
std::size_t footprint(void* chunk) noexcept {
  return ::malloc_usable_size(chunk) + sizeof(std::size_t);
}

void fill(header* h, std::size_t n, void* chunk) noexcept {
  const account_id id = current;
  h->requested = static_cast<std::uint32_t>(n > 0xffffffffu ? 0xffffffffu : n);
  const std::size_t cost = footprint(chunk);
  h->size_low = static_cast<std::uint32_t>(cost > 0xffffffffu ? 0xffffffffu : cost);
  h->slot = id;
  h->generation = id != 0 ? current_generation : 0;
  if (id != 0) {
    pending += static_cast<std::int64_t>(h->size_low);
    if (pending > flush_at)
      flush();
  }
}

void uncharge(header* h) noexcept {
  if (h->slot != 0 && h->slot == current && h->generation == current_generation) {
    pending -= static_cast<std::int64_t>(h->size_low); // our own block, freed by us
    if (pending < -flush_at)
      flush();
    return;
  }
  if (h->slot != 0) {
    auto& a = table[h->slot];
    if (a.generation.load(std::memory_order_relaxed) == h->generation)
      a.bytes.fetch_sub(static_cast<std::int64_t>(h->size_low), std::memory_order_relaxed);
  }
}

void discharge(void* p) noexcept {
  if (p == nullptr)
    return;
  auto* h = static_cast<header*>(p) - 1;
  uncharge(h);
  std::free(h);
}

// Over-aligned: [base ... | original pointer (16) | header (16) | block aligned to `align`].
void* charge_aligned(std::size_t n, std::size_t align) noexcept {
  if (align <= alignof(header))
    return charge(n);
  const std::size_t extra = align + 2 * sizeof(header);
  auto* base = static_cast<unsigned char*>(std::malloc(n + extra));
  if (base == nullptr)
    return nullptr;
  auto addr = reinterpret_cast<std::uintptr_t>(base) + 2 * sizeof(header);
  addr = (addr + align - 1) & ~(static_cast<std::uintptr_t>(align) - 1);
  auto* block = reinterpret_cast<unsigned char*>(addr);
  auto* h = reinterpret_cast<header*>(block) - 1;
  fill(h, n, base);
  std::memcpy(reinterpret_cast<unsigned char*>(h) - sizeof(header), &base, sizeof base);
  return block;
}

void discharge_aligned(void* p, std::size_t align) noexcept {
  if (p == nullptr)
    return;
  if (align <= alignof(header)) {
    discharge(p);
    return;
  }
  auto* h = static_cast<header*>(p) - 1;
  uncharge(h);
  void* base = nullptr;
  std::memcpy(&base, reinterpret_cast<unsigned char*>(h) - sizeof(header), sizeof base);
  std::free(base);
}

} // namespace

account_id open() noexcept {
  for (account_id i = 1; i < table_size; ++i) {
    auto g = table[i].generation.load(std::memory_order_relaxed);
    if (g % 2 == 1)
      continue; // open
    if (table[i].generation.compare_exchange_strong(g, g + 1, std::memory_order_acq_rel)) {
      table[i].bytes.store(0, std::memory_order_relaxed);
      return i;
    }
  }
  return 0;
}

void close(account_id id) noexcept {
  if (id == 0 || id >= table_size)
    return;
  table[id].generation.fetch_add(1, std::memory_order_acq_rel); // even: closed; old blocks stale
  table[id].bytes.store(0, std::memory_order_relaxed);
}

std::int64_t bytes(account_id id) noexcept {
  if (id == 0 || id >= table_size)
    return 0;
  if (id == current)
    flush(); // the asking thread's own share is exact
  return table[id].bytes.load(std::memory_order_relaxed);
}

account_id thread_account() noexcept {
  return current;
}

account_id set_thread_account(account_id id) noexcept {
  flush();
  auto previous = current;
  current = id < table_size ? id : 0;
  current_generation = current != 0 ? table[current].generation.load(std::memory_order_acquire) : 0;
  return previous;
}

void* allocate(std::size_t n) noexcept {
  return charge(n);
}

void release(void* p) noexcept {
  discharge(p);
}

std::size_t size_of(void* p) noexcept {
  return p == nullptr ? 0 : (static_cast<header*>(p) - 1)->requested;
}

namespace {

void* sqlite_malloc(int n) {
  return charge(static_cast<std::size_t>(n));
}
void sqlite_free(void* p) {
  discharge(p);
}
void* sqlite_realloc(void* p, int n) {
  if (p == nullptr)
    return charge(static_cast<std::size_t>(n));
  auto old = size_of(p);
  if (static_cast<std::size_t>(n) <= old)
    return p; // SQLite asks for the size it needs; a shrink keeps the block
  void* q = charge(static_cast<std::size_t>(n));
  if (q == nullptr)
    return nullptr;
  std::memcpy(q, p, old);
  discharge(p);
  return q;
}
int sqlite_size(void* p) {
  return static_cast<int>(size_of(p));
}
int sqlite_roundup(int n) {
  return (n + 7) & ~7;
}
int sqlite_init(void*) {
  return SQLITE_OK;
}
void sqlite_shutdown(void*) {}

} // namespace

bool install_sqlite_accounting() noexcept {
  static const sqlite3_mem_methods methods = {sqlite_malloc, sqlite_free,     sqlite_realloc,
                                              sqlite_size,   sqlite_roundup,  sqlite_init,
                                              sqlite_shutdown, nullptr};
  static const bool installed = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
  return installed;
}

} // namespace pg::runtime::detail::heap

// -- the replacement operators ------------------------------------------------------------------

void* operator new(std::size_t n) {
  if (void* p = pg::runtime::detail::heap::allocate(n))
    return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return pg::runtime::detail::heap::allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return pg::runtime::detail::heap::allocate(n);
}
void operator delete(void* p) noexcept {
  pg::runtime::detail::heap::release(p);
}
void operator delete[](void* p) noexcept {
  pg::runtime::detail::heap::release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  pg::runtime::detail::heap::release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  pg::runtime::detail::heap::release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  pg::runtime::detail::heap::release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  pg::runtime::detail::heap::release(p);
}

void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = pg::runtime::detail::heap::charge_aligned(n, static_cast<std::size_t>(a)))
    return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return operator new(n, a);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return pg::runtime::detail::heap::charge_aligned(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return pg::runtime::detail::heap::charge_aligned(n, static_cast<std::size_t>(a));
}
void operator delete(void* p, std::align_val_t a) noexcept {
  pg::runtime::detail::heap::discharge_aligned(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::align_val_t a) noexcept {
  pg::runtime::detail::heap::discharge_aligned(p, static_cast<std::size_t>(a));
}
void operator delete(void* p, std::size_t, std::align_val_t a) noexcept {
  pg::runtime::detail::heap::discharge_aligned(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::size_t, std::align_val_t a) noexcept {
  pg::runtime::detail::heap::discharge_aligned(p, static_cast<std::size_t>(a));
}
void operator delete(void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  pg::runtime::detail::heap::discharge_aligned(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::align_val_t a, const std::nothrow_t&) noexcept {
  pg::runtime::detail::heap::discharge_aligned(p, static_cast<std::size_t>(a));
}
