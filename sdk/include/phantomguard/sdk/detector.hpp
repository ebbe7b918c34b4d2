// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// detector.hpp — the header-only C++ wrapper over the C ABI in plugin.h (C++17).
//
// Write a detector in three steps:
//   1. derive from pg::sdk::detector, give the class `static constexpr std::string_view name`
//      (the detector's name in manifest.json) and a constructor (const pg::sdk::config&,
//      pg::sdk::host);
//   2. override on_event (or on_batch) and, when needed, on_timer, drain, snapshot, restore,
//      metrics;
//   3. register every detector class of the .so with ONE macro: PHANTOMGUARD_PLUGIN(a, b, ...).
//
// Exceptions never cross the ABI: every hook the wrapper exports catches everything and turns it
// into a pg_status plus the message in the engine's pg_error. Throw pg::sdk::config_error from
// the constructor for a configuration that cannot work (the engine then refuses the detector
// instead of restarting it); anything else is an internal failure the supervisor may restart.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "phantomguard/sdk/plugin.h"

namespace pg::sdk {

constexpr std::string_view view(pg_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view{s.data, s.size};
}
constexpr pg_str str(std::string_view s) noexcept {
  return pg_str{s.data(), s.size()};
}

enum class severity : std::int32_t {
  info = PG_SEVERITY_INFO,
  low = PG_SEVERITY_LOW,
  medium = PG_SEVERITY_MEDIUM,
  high = PG_SEVERITY_HIGH,
  critical = PG_SEVERITY_CRITICAL
};

enum class log_level : std::int32_t {
  trace = PG_LOG_TRACE,
  debug = PG_LOG_DEBUG,
  info = PG_LOG_INFO,
  warn = PG_LOG_WARN,
  error = PG_LOG_ERROR
};

/// Thrown (typically from a constructor) when the configuration cannot work: reported to the
/// engine as PG_ERR_CONFIG, which refuses the detector rather than restarting it.
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A read-only view of one event; valid only during the hook that received it.
class event_view {
public:
  explicit event_view(const pg_event* e) noexcept : e_(e) {}

  [[nodiscard]] std::string_view kind() const noexcept { return view(e_->kind); }
  [[nodiscard]] std::int64_t time_ns() const noexcept { return e_->time_ns; }
  [[nodiscard]] std::string_view source() const noexcept { return view(e_->source); }
  [[nodiscard]] const pg_field* begin() const noexcept { return e_->fields; }
  [[nodiscard]] const pg_field* end() const noexcept { return e_->fields + e_->field_count; }

  /// The field `key`, or nullptr. Linear: events carry a handful of fields. Keys are short
  /// words of similar length ("pid", "uid", "exe"), so the size and first byte reject most
  /// candidates before a byte comparison.
  [[nodiscard]] const pg_value* get(std::string_view key) const noexcept {
    if (key.empty())
      return nullptr;
    for (const pg_field& f : *this)
      if (f.key.size == key.size() && f.key.data[0] == key[0] &&
          std::memcmp(f.key.data, key.data(), key.size()) == 0)
        return &f.value;
    return nullptr;
  }
  [[nodiscard]] bool has(std::string_view key) const noexcept { return get(key) != nullptr; }

  /// Typed accessors: the fallback when the field is absent or has another type.
  [[nodiscard]] std::int64_t get_int(std::string_view key,
                                     std::int64_t fallback = 0) const noexcept {
    const pg_value* v = get(key);
    return v != nullptr && v->type == PG_VALUE_INT ? v->as.i : fallback;
  }
  [[nodiscard]] std::string_view get_string(std::string_view key,
                                            std::string_view fallback = {}) const noexcept {
    const pg_value* v = get(key);
    return v != nullptr && v->type == PG_VALUE_STRING ? view(v->as.s) : fallback;
  }
  [[nodiscard]] bool get_bool(std::string_view key, bool fallback = false) const noexcept {
    const pg_value* v = get(key);
    return v != nullptr && v->type == PG_VALUE_BOOL ? v->as.b != 0 : fallback;
  }
  [[nodiscard]] double get_double(std::string_view key, double fallback = 0.0) const noexcept {
    const pg_value* v = get(key);
    if (v != nullptr && v->type == PG_VALUE_DOUBLE)
      return v->as.d;
    if (v != nullptr && v->type == PG_VALUE_INT)
      return static_cast<double>(v->as.i);
    return fallback;
  }

  [[nodiscard]] const pg_event& raw() const noexcept { return *e_; }

private:
  const pg_event* e_;
};

/// The events of one on_batch call (only kinds the detector subscribes to).
class batch_view {
public:
  class iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = event_view;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = event_view;
    explicit iterator(const pg_event* p) noexcept : p_(p) {}
    event_view operator*() const noexcept { return event_view{p_}; }
    iterator& operator++() noexcept {
      ++p_;
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return p_ == o.p_; }
    bool operator!=(const iterator& o) const noexcept { return p_ != o.p_; }

  private:
    const pg_event* p_;
  };

  explicit batch_view(const pg_event_batch* b) noexcept : b_(b) {}
  [[nodiscard]] std::size_t size() const noexcept { return b_->count; }
  [[nodiscard]] bool empty() const noexcept { return b_->count == 0; }
  [[nodiscard]] event_view operator[](std::size_t i) const noexcept {
    return event_view{b_->events + i};
  }
  [[nodiscard]] iterator begin() const noexcept { return iterator{b_->events}; }
  [[nodiscard]] iterator end() const noexcept { return iterator{b_->events + b_->count}; }

private:
  const pg_event_batch* b_;
};

/// The detector's configuration: every key its manifest declares, already checked by the engine
/// against the declared types and completed with the declared defaults. Valid during the
/// constructor only: copy what you keep.
class config {
public:
  explicit config(const pg_config* c) noexcept : c_(c) {}

  [[nodiscard]] const pg_value* get(std::string_view key) const noexcept {
    if (c_ == nullptr)
      return nullptr;
    for (std::size_t i = 0; i < c_->count; ++i)
      if (view(c_->entries[i].key) == key)
        return &c_->entries[i].value;
    return nullptr;
  }
  [[nodiscard]] std::string get_string(std::string_view key, std::string fallback = {}) const {
    const pg_value* v = get(key);
    return v != nullptr && v->type == PG_VALUE_STRING ? std::string(view(v->as.s)) : fallback;
  }
  [[nodiscard]] std::int64_t get_int(std::string_view key, std::int64_t fallback = 0) const {
    const pg_value* v = get(key);
    return v != nullptr && v->type == PG_VALUE_INT ? v->as.i : fallback;
  }
  [[nodiscard]] double get_double(std::string_view key, double fallback = 0.0) const {
    const pg_value* v = get(key);
    if (v != nullptr && v->type == PG_VALUE_DOUBLE)
      return v->as.d;
    if (v != nullptr && v->type == PG_VALUE_INT)
      return static_cast<double>(v->as.i);
    return fallback;
  }
  [[nodiscard]] bool get_bool(std::string_view key, bool fallback = false) const {
    const pg_value* v = get(key);
    return v != nullptr && v->type == PG_VALUE_BOOL ? v->as.b != 0 : fallback;
  }
  [[nodiscard]] std::vector<std::string>
  get_string_list(std::string_view key, std::vector<std::string> fallback = {}) const {
    const pg_value* v = get(key);
    if (v == nullptr || v->type != PG_VALUE_STRING_LIST)
      return fallback;
    std::vector<std::string> out;
    out.reserve(v->as.list.count);
    for (std::size_t i = 0; i < v->as.list.count; ++i)
      out.emplace_back(view(v->as.list.items[i]));
    return out;
  }

private:
  const pg_config* c_;
};

/// A value of a finding's entity or evidence.
using value = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

/// A finding under construction. Chain the setters, then host::emit() it.
class finding {
public:
  finding(std::string rule, severity level, std::string title)
      : rule_(std::move(rule)), level_(level), title_(std::move(title)) {}

  /// Adds `key` = `v` to the entity (what the finding is about). `v`: bool, any integer, any
  /// floating-point number, or anything convertible to std::string_view.
  template <class T>
  finding& entity(std::string key, T&& v) {
    entity_.emplace_back(std::move(key), to_value(std::forward<T>(v)));
    return *this;
  }
  /// Adds `key` = `v` to the evidence (the facts that triggered the finding).
  template <class T>
  finding& evidence(std::string key, T&& v) {
    evidence_.emplace_back(std::move(key), to_value(std::forward<T>(v)));
    return *this;
  }
  /// Adds an ATT&CK technique id ("T1496").
  finding& mitre(std::string technique) {
    mitre_.push_back(std::move(technique));
    return *this;
  }

  template <class T>
  static value to_value(T&& v) {
    using U = std::remove_cv_t<std::remove_reference_t<T>>;
    if constexpr (std::is_same_v<U, value>)
      return std::forward<T>(v);
    else if constexpr (std::is_same_v<U, bool>)
      return value{v};
    else if constexpr (std::is_integral_v<U>)
      return value{static_cast<std::int64_t>(v)};
    else if constexpr (std::is_floating_point_v<U>)
      return value{static_cast<double>(v)};
    else {
      static_assert(std::is_convertible_v<const U&, std::string_view>,
                    "pg::sdk::finding: a value must be a bool, an integer, a floating-point number "
                    "or convertible to std::string_view");
      return value{std::string(std::string_view(v))};
    }
  }

  [[nodiscard]] const std::string& rule() const noexcept { return rule_; }

private:
  friend class host;
  using pairs = std::vector<std::pair<std::string, value>>;

  static std::vector<pg_field> to_fields(const pairs& in) {
    std::vector<pg_field> out(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      out[i].key = str(in[i].first);
      pg_value& v = out[i].value;
      v = pg_value{};
      const value& src = in[i].second;
      if (const bool* b = std::get_if<bool>(&src)) {
        v.type = PG_VALUE_BOOL;
        v.as.b = *b ? 1 : 0;
      } else if (const std::int64_t* n = std::get_if<std::int64_t>(&src)) {
        v.type = PG_VALUE_INT;
        v.as.i = *n;
      } else if (const double* d = std::get_if<double>(&src)) {
        v.type = PG_VALUE_DOUBLE;
        v.as.d = *d;
      } else if (const std::string* s = std::get_if<std::string>(&src)) {
        v.type = PG_VALUE_STRING;
        v.as.s = str(*s);
      } else {
        v.type = PG_VALUE_NONE;
      }
    }
    return out;
  }

  std::string rule_;
  severity level_;
  std::string title_;
  pairs entity_;
  pairs evidence_;
  std::vector<std::string> mitre_;
};

/// The engine's services, valid from the constructor until the destructor; call them only from
/// inside a hook (constructor, on_event, on_batch, on_timer, drain, ...). Cheap to copy.
class host {
public:
  explicit host(const pg_host_api* api) noexcept : api_(api) {}

  void log(log_level level, std::string_view message) const noexcept {
    if (api_ != nullptr && api_->log != nullptr)
      api_->log(api_->host, static_cast<std::int32_t>(level), str(message));
  }

  /// Emits a finding (the engine copies it). False when the engine rejected it.
  bool emit(const finding& f) const {
    if (api_ == nullptr || api_->emit_finding == nullptr)
      return false;
    std::vector<pg_field> entity = finding::to_fields(f.entity_);
    std::vector<pg_field> evidence = finding::to_fields(f.evidence_);
    std::vector<pg_str> mitre;
    mitre.reserve(f.mitre_.size());
    for (const auto& m : f.mitre_)
      mitre.push_back(str(m));
    pg_finding out{};
    out.struct_size = sizeof(pg_finding);
    out.rule = str(f.rule_);
    out.severity = static_cast<std::int32_t>(f.level_);
    out.title = str(f.title_);
    out.entity = entity.data();
    out.entity_count = entity.size();
    out.evidence = evidence.data();
    out.evidence_count = evidence.size();
    out.mitre = mitre.data();
    out.mitre_count = mitre.size();
    return api_->emit_finding(api_->host, &out) == PG_OK;
  }

  /// Adds `delta` to counter `name`.
  void count(std::string_view name, double delta = 1) const noexcept {
    if (api_ != nullptr && api_->metric != nullptr)
      api_->metric(api_->host, str(name), PG_METRIC_COUNTER, delta);
  }
  /// Sets gauge `name`.
  void gauge(std::string_view name, double v) const noexcept {
    if (api_ != nullptr && api_->metric != nullptr)
      api_->metric(api_->host, str(name), PG_METRIC_GAUGE, v);
  }
  [[nodiscard]] std::int64_t now_ns() const noexcept {
    return api_ != nullptr && api_->now != nullptr ? api_->now(api_->host) : 0;
  }
  /// Tells the engine this instance took (`delta` > 0) or released (< 0) memory: the memory
  /// quota of an in-process detector is enforced on this account.
  void account_memory(std::int64_t delta) const noexcept {
    if (api_ != nullptr && PG_HAS_MEMBER(api_, pg_host_api, account_memory) &&
        api_->account_memory != nullptr)
      api_->account_memory(api_->host, delta);
  }
  /// True when a long loop inside a hook should return early.
  [[nodiscard]] bool should_stop() const noexcept {
    return api_ != nullptr && api_->should_stop != nullptr && api_->should_stop(api_->host) != 0;
  }

private:
  const pg_host_api* api_;
};

/// One metric a detector reports from metrics().
struct metric {
  std::string name;
  pg_metric_kind kind = PG_METRIC_GAUGE;
  double value = 0;
};

/// The base class of every detector. Override what you need; the defaults do nothing.
class detector {
public:
  virtual ~detector() = default;

  /// One subscribed event. The default on_batch calls it for each event of the batch.
  virtual void on_event(const event_view& /*event*/) {}
  /// A batch of subscribed events; override to work on the whole batch at once.
  virtual void on_batch(const batch_view& batch) {
    for (event_view e : batch)
      on_event(e);
  }
  /// The detector's schedule fired (also once in scan mode).
  virtual void on_timer(std::int64_t /*now_ns*/) {}
  /// Emit what is pending: the engine is about to stop or reload the detector.
  virtual void drain() {}
  /// State to carry across a restart (empty = nothing); restore() gets it on the new instance.
  virtual std::string snapshot() { return {}; }
  virtual void restore(std::string_view /*state*/) {}
  /// Current metrics, read by the engine on its metrics schedule.
  virtual std::vector<metric> metrics() { return {}; }
};

namespace detail {

template <class T, class = void>
struct has_name : std::false_type {};
template <class T>
struct has_name<T, std::void_t<decltype(std::string_view(T::name))>> : std::true_type {};

/// Runs `f`, turning any exception into a status and a message: nothing may unwind into C.
template <class F>
pg_status guarded(pg_error* err, F&& f) noexcept {
  try {
    f();
    return PG_OK;
  } catch (const config_error& e) {
    return pg_error_set(err, PG_ERR_CONFIG, e.what());
  } catch (const std::bad_alloc&) {
    return pg_error_set(err, PG_ERR_NO_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return pg_error_set(err, PG_ERR_INTERNAL, e.what());
  } catch (...) {
    return pg_error_set(err, PG_ERR_INTERNAL,
                        "unknown exception (not derived from std::exception)");
  }
}

template <class D>
struct instance {
  std::unique_ptr<D> impl;
  std::string snapshot;            // kept until the next call (ABI ownership rule)
  std::vector<metric> metric_data; // idem
  std::vector<pg_metric> metric_view;
};

template <class D>
struct thunks {
  static instance<D>* self(pg_detector* p) noexcept { return reinterpret_cast<instance<D>*>(p); }

  static pg_detector* create(const pg_config* c, const pg_host_api* api, pg_error* err) noexcept {
    instance<D>* inst = nullptr;
    const pg_status st = guarded(err, [&] {
      auto owned = std::make_unique<instance<D>>();
      owned->impl = std::make_unique<D>(config{c}, host{api});
      inst = owned.release();
    });
    return st == PG_OK ? reinterpret_cast<pg_detector*>(inst) : nullptr;
  }
  static pg_status on_batch(pg_detector* p, const pg_event_batch* b, pg_error* err) noexcept {
    return guarded(err, [&] {
      D& d = *self(p)->impl;
      // When D keeps the default on_batch, loop here and call D::on_event by its qualified name:
      // a direct (inlinable) call per event instead of a virtual one.
      if constexpr (std::is_same_v<decltype(&D::on_batch), decltype(&detector::on_batch)>) {
        for (event_view e : batch_view{b})
          d.D::on_event(e);
      } else {
        d.on_batch(batch_view{b});
      }
    });
  }
  static pg_status on_timer(pg_detector* p, std::int64_t now, pg_error* err) noexcept {
    return guarded(err, [&] { self(p)->impl->on_timer(now); });
  }
  static pg_status drain(pg_detector* p, pg_error* err) noexcept {
    return guarded(err, [&] { self(p)->impl->drain(); });
  }
  static pg_status snapshot(pg_detector* p, const void** data, std::size_t* size,
                            pg_error* err) noexcept {
    return guarded(err, [&] {
      instance<D>* s = self(p);
      s->snapshot = s->impl->snapshot();
      *data = s->snapshot.data();
      *size = s->snapshot.size();
    });
  }
  static pg_status restore(pg_detector* p, const void* data, std::size_t size,
                           pg_error* err) noexcept {
    return guarded(err, [&] {
      self(p)->impl->restore(std::string_view(static_cast<const char*>(data), size));
    });
  }
  static pg_status metrics(pg_detector* p, const pg_metric** out, std::size_t* count,
                           pg_error* err) noexcept {
    return guarded(err, [&] {
      instance<D>* s = self(p);
      s->metric_data = s->impl->metrics();
      s->metric_view.resize(s->metric_data.size());
      for (std::size_t i = 0; i < s->metric_data.size(); ++i)
        s->metric_view[i] =
            pg_metric{str(s->metric_data[i].name), s->metric_data[i].kind, s->metric_data[i].value};
      *out = s->metric_view.data();
      *count = s->metric_view.size();
    });
  }
  static void destroy(pg_detector* p) noexcept {
    // A throwing destructor has nowhere to report to: swallow it rather than unwind into C.
    try {
      delete self(p);
    } catch (...) {
    }
  }

  static const pg_detector_vtable* table() noexcept {
    static const pg_detector_vtable vt = {sizeof(pg_detector_vtable),
                                          &create,
                                          &on_batch,
                                          &on_timer,
                                          &drain,
                                          &snapshot,
                                          &restore,
                                          &metrics,
                                          &destroy};
    return &vt;
  }
};

template <class D>
constexpr bool check_detector() {
  static_assert(std::is_base_of_v<detector, D>,
                "PHANTOMGUARD_PLUGIN: each class you list must derive publicly from "
                "pg::sdk::detector");
  static_assert(has_name<D>::value,
                "PHANTOMGUARD_PLUGIN: each detector class needs `static constexpr std::string_view "
                "name = \"...\";` matching a detector name in manifest.json");
  static_assert(std::is_constructible_v<D, const config&, host>,
                "PHANTOMGUARD_PLUGIN: each detector class needs a public constructor "
                "D(const pg::sdk::config&, pg::sdk::host)");
  static_assert(!std::is_abstract_v<D>,
                "PHANTOMGUARD_PLUGIN: the detector class is abstract: a pure virtual function is "
                "not implemented");
  return true;
}

/// The ABI minor this plugin needs, computed from the features it uses. Every feature of the
/// wrapper exists since ABI 1.0; a feature added in 1.N raises this to N for the plugins that
/// override it (and only for them), so they are refused by older engines with a clear message.
template <class... Ds>
constexpr std::uint32_t required_minor() {
  return 0;
}

template <class... Ds>
const pg_detector_vtable* find_detector(pg_str name) noexcept {
  const std::string_view wanted = view(name);
  const pg_detector_vtable* found = nullptr;
  // The first class whose name matches; a fold keeps it allocation-free.
  ((found == nullptr && std::string_view(Ds::name) == wanted ? (found = thunks<Ds>::table(), 0)
                                                             : 0),
   ...);
  return found;
}

template <class... Ds>
const pg_plugin* plugin_table(std::uint32_t host_major, std::uint32_t /*host_minor*/) noexcept {
  static_assert(sizeof...(Ds) > 0, "PHANTOMGUARD_PLUGIN: list at least one detector class");
  static_assert((check_detector<Ds>() && ...));
  if (host_major != PG_ABI_MAJOR)
    return nullptr; // the engine checked the note first; this is the belt to its braces
  static const pg_plugin table = [] {
    const pg_note_header* note = pg_sdk_embedded_manifest();
    pg_plugin p{};
    p.struct_size = sizeof(pg_plugin);
    p.abi_major = PG_ABI_MAJOR;
    p.abi_minor = std::max(note->abi_minor, required_minor<Ds...>());
    p.manifest = pg_note_manifest(note);
    p.detector = &find_detector<Ds...>;
    return p;
  }();
  return &table;
}

} // namespace detail
} // namespace pg::sdk

/// Registers the detector classes of this .so and exports the plugin's entry point. Use it once,
/// in one source file, at namespace scope: PHANTOMGUARD_PLUGIN(my_detector, my_other_detector)
#define PHANTOMGUARD_PLUGIN(...)                                                                   \
  extern "C" PG_EXPORT const pg_plugin* pg_plugin_entry(std::uint32_t host_abi_major,              \
                                                        std::uint32_t host_abi_minor) {            \
    return ::pg::sdk::detail::plugin_table<__VA_ARGS__>(host_abi_major, host_abi_minor);           \
  }
