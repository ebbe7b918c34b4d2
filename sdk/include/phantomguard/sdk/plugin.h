// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
/* plugin.h — the PhantomGuard detector plugin ABI. This header IS the ABI: nothing else crosses
 * the boundary between the engine and a plugin. Plain C (C99), no exceptions, no C++ types.
 *
 * Versioning
 *   The ABI has a major and a minor version (PG_ABI_MAJOR, PG_ABI_MINOR below). A plugin states the
 *   major it was built for and the lowest minor it needs (the minor that introduced the newest
 *   feature it uses). The engine loads it when
 *       plugin major == engine major   and   plugin required minor <= engine minor.
 *   A new minor only ever ADDS: a field at the end of a struct, a function pointer at the end of a
 *   table, a new enum value. Anything else is a new major.
 *
 * Struct rules
 *   Every struct that crosses starts with `uint32_t struct_size` = sizeof as the writer compiled
 *   it. A reader never touches a member that lies beyond struct_size (use PG_HAS_MEMBER), so an old
 *   plugin works with a newer engine and the other way round. A NULL function pointer means "not
 *   supported"; the engine skips that hook.
 *
 * Ownership (the whole contract)
 *   - Everything the engine passes in (events, config, strings, the snapshot to restore) is
 *     BORROWED for the duration of the call. Copy what you keep.
 *   - Everything the plugin returns (snapshot bytes, metrics arrays, the plugin table, the
 *     vtables) stays valid until the plugin's NEXT call on the same instance (or, for the plugin
 *     table and vtables, until the library is unloaded). The engine copies what it keeps.
 *   - Findings passed to host->emit_finding are COPIED by the engine before it returns.
 *   - The error struct (pg_error) is owned by the engine; the plugin only writes into it.
 *   - Strings are pg_str (pointer + length, UTF-8, not necessarily NUL-terminated).
 *
 * Threading
 *   The engine calls one instance from one thread at a time (its actor). The host API may only be
 *   called from inside a call the engine made on that instance (create, on_batch, on_timer, drain,
 *   ...), never from a thread of the plugin's own. Different instances may run on different threads
 *   at the same time, so global mutable state in a plugin needs its own locking.
 *
 * Isolation
 *   The same .so runs in the engine's process or in a sandboxed child host. Nothing in this ABI
 *   shares memory with the engine beyond the call, every value is plain data, and the host API is
 *   a table of functions: a child host implements it by forwarding over a channel. A plugin that
 *   follows the rules above runs unchanged in both.
 */
#ifndef PHANTOMGUARD_SDK_PLUGIN_H
#define PHANTOMGUARD_SDK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions --------------------------------------------------------------------------------- */

/** The ABI this header describes. */
#define PG_ABI_MAJOR 1
#define PG_ABI_MINOR 0

/** The SDK release (headers, CMake helper, C++ wrapper); independent of the ABI version. */
#define PG_SDK_VERSION_MAJOR 1
#define PG_SDK_VERSION_MINOR 1
#define PG_SDK_VERSION_PATCH 0

/** Symbol visibility: the CMake helper builds with hidden visibility, so exports are explicit. */
#if defined(__GNUC__)
#define PG_EXPORT __attribute__((visibility("default")))
#define PG_HIDDEN __attribute__((visibility("hidden")))
#else
#define PG_EXPORT
#define PG_HIDDEN
#endif

/** True when a struct written with size `s->struct_size` contains `member`. */
#define PG_HAS_MEMBER(s, type, member)                                                             \
  ((s) != NULL && (s)->struct_size >= offsetof(type, member) + sizeof(((type*)0)->member))

/* ---- status and errors ------------------------------------------------------------------------ */

typedef int32_t pg_status;
enum {
  PG_OK = 0,
  PG_ERR_INVALID_ARGUMENT = 1, /* a bad event, a bad state blob, ... */
  PG_ERR_CONFIG = 2,           /* the config cannot work; the engine refuses, it does not restart */
  PG_ERR_INTERNAL = 3,         /* a bug or an exception inside the plugin; the engine may restart */
  PG_ERR_UNSUPPORTED = 4,      /* the operation is not available */
  PG_ERR_NO_MEMORY = 5,
  PG_ERR_STATE = 6             /* called at the wrong time (e.g. host API outside a call) */
};

/** Size of the message buffer inside pg_error (bytes, including the NUL). */
#define PG_ERROR_MESSAGE_SIZE 512

/** Owned by the engine, zeroed before each call; the plugin writes a code and a NUL-terminated
 *  message (truncated to fit) when it returns something other than PG_OK. */
typedef struct pg_error {
  uint32_t struct_size;
  pg_status code;
  char message[PG_ERROR_MESSAGE_SIZE];
} pg_error;

/** Fills `err` (may be NULL) with `code` and a copy of `message` (truncated), returns `code`. */
static inline pg_status pg_error_set(pg_error* err, pg_status code, const char* message) {
  if (err != NULL) {
    size_t i = 0;
    err->code = code;
    if (message != NULL)
      for (; message[i] != '\0' && i + 1 < PG_ERROR_MESSAGE_SIZE; ++i)
        err->message[i] = message[i];
    err->message[i] = '\0';
  }
  return code;
}

/* ---- plain values ----------------------------------------------------------------------------- */

/** A borrowed UTF-8 string: `size` bytes at `data` (not necessarily NUL-terminated). */
typedef struct pg_str {
  const char* data;
  size_t size;
} pg_str;

typedef enum pg_value_type {
  PG_VALUE_NONE = 0,
  PG_VALUE_BOOL = 1,
  PG_VALUE_INT = 2,
  PG_VALUE_DOUBLE = 3,
  PG_VALUE_STRING = 4,
  PG_VALUE_STRING_LIST = 5 /* config values only */
} pg_value_type;

typedef struct pg_str_list {
  const pg_str* items;
  size_t count;
} pg_str_list;

/** A tagged value. `type` says which member of `as` is set. */
typedef struct pg_value {
  uint32_t type; /* pg_value_type */
  uint32_t reserved_;
  union {
    int32_t b; /* 0 or 1 */
    int64_t i;
    double d;
    pg_str s;
    pg_str_list list;
  } as;
} pg_value;

typedef struct pg_field {
  pg_str key;
  pg_value value;
} pg_field;

/* ---- events ----------------------------------------------------------------------------------- */

/** One event. Well-known kinds and their fields:
 *   "process" / "process_exec": pid, ppid, uid (int), comm, exe, cmdline (string)
 *   "socket": pid, inode, socket_uid, local_port, remote_port (int), proto ("tcp", "udp6",
 *             ...), state ("ESTABLISHED", "LISTEN", ...), local_address, remote_address, comm,
 *             exe (string), listening (bool); fd (int) when the source knows it
 *  Fields a source does not know are absent; a plugin treats a missing field as unknown. */
typedef struct pg_event {
  uint32_t struct_size;
  pg_str kind;
  int64_t time_ns; /* nanoseconds since the Unix epoch, UTC */
  pg_str source;   /* the component that produced the event */
  const pg_field* fields;
  size_t field_count;
} pg_event;

/** A batch: only events of kinds the detector subscribes to, in arrival order. The engine may
 *  hand one of its batches over in several calls: do not give batch boundaries a meaning. */
typedef struct pg_event_batch {
  uint32_t struct_size;
  const pg_event* events;
  size_t count;
} pg_event_batch;

/* ---- findings --------------------------------------------------------------------------------- */

typedef enum pg_severity {
  PG_SEVERITY_INFO = 0,
  PG_SEVERITY_LOW = 1,
  PG_SEVERITY_MEDIUM = 2,
  PG_SEVERITY_HIGH = 3,
  PG_SEVERITY_CRITICAL = 4
} pg_severity;

/** A finding. The engine copies it inside emit_finding and fills time, host and analyzer.
 *  `rule` is a stable dotted id ("miner.stratum_url"); `entity` says what it is about (pid, exe,
 *  path, ...); `evidence` the facts that triggered it; `mitre` ATT&CK technique ids. */
typedef struct pg_finding {
  uint32_t struct_size;
  pg_str rule;
  int32_t severity; /* pg_severity */
  pg_str title;
  const pg_field* entity;
  size_t entity_count;
  const pg_field* evidence;
  size_t evidence_count;
  const pg_str* mitre;
  size_t mitre_count;
} pg_finding;

/* ---- host API (engine -> plugin) -------------------------------------------------------------- */

typedef enum pg_log_level {
  PG_LOG_TRACE = 0,
  PG_LOG_DEBUG = 1,
  PG_LOG_INFO = 2,
  PG_LOG_WARN = 3,
  PG_LOG_ERROR = 4
} pg_log_level;

typedef enum pg_metric_kind { PG_METRIC_COUNTER = 0, PG_METRIC_GAUGE = 1 } pg_metric_kind;

/** What the engine offers a detector instance. Passed to create and valid until destroy; its
 *  functions may only be called during a call the engine makes on that instance. `host` is the
 *  engine's opaque pointer, passed back as the first argument of every function. */
typedef struct pg_host_api {
  uint32_t struct_size;
  void* host;
  /** Logs a message under the detector's name. */
  void (*log)(void* host, int32_t level, pg_str message);
  /** Emits a finding (copied before return). PG_ERR_INVALID_ARGUMENT for an empty rule. */
  pg_status (*emit_finding)(void* host, const pg_finding* finding);
  /** Adds `value` to counter `name`, or sets gauge `name` (pg_metric_kind). */
  void (*metric)(void* host, pg_str name, int32_t kind, double value);
  /** The engine's clock: nanoseconds since the Unix epoch, UTC. */
  int64_t (*now)(void* host);
  /** Non-zero when the engine wants the current call to return soon (shutdown, deadline). */
  int32_t (*should_stop)(void* host);
  /** Memory the instance holds: + when it takes memory, - when it gives it back. In-process the
   *  engine cannot see a plugin's malloc, so its memory quota (memory_mb) is enforced on what
   *  the plugin accounts here; an isolated plugin is measured by its child's RSS instead. */
  void (*account_memory)(void* host, int64_t delta_bytes);
} pg_host_api;

/* ---- detector vtable (plugin -> engine) ------------------------------------------------------- */

/** One configured key. The engine passes every key the manifest declares: the operator's value,
 *  or the manifest default (type PG_VALUE_NONE when the key has no default and was not set). */
typedef struct pg_config {
  uint32_t struct_size;
  const pg_field* entries;
  size_t count;
} pg_config;

typedef struct pg_metric {
  pg_str name;
  int32_t kind; /* pg_metric_kind */
  double value;
} pg_metric;

/** Opaque per-instance state, created by the plugin. */
typedef struct pg_detector pg_detector;

/** The hooks of one detector. Only `create` and `destroy` are mandatory. Every hook returning
 *  pg_status writes `err` when it fails. A failure in on_batch / on_timer / drain counts as a
 *  failed handler: the engine's supervisor decides (restart with the snapshot, or disable). */
typedef struct pg_detector_vtable {
  uint32_t struct_size;
  /** Creates an instance. Returns NULL on failure (with `err` set; PG_ERR_CONFIG = refused). */
  pg_detector* (*create)(const pg_config* config, const pg_host_api* host, pg_error* err);
  /** Handles a batch of subscribed events. */
  pg_status (*on_batch)(pg_detector* self, const pg_event_batch* batch, pg_error* err);
  /** Called on the detector's schedule (interval or cron), and once in scan mode. */
  pg_status (*on_timer)(pg_detector* self, int64_t now_ns, pg_error* err);
  /** Flush what is pending (before stop, reload, end of a scan). */
  pg_status (*drain)(pg_detector* self, pg_error* err);
  /** State to carry across a restart: `*data`/`*size` stay valid until the next call. */
  pg_status (*snapshot)(pg_detector* self, const void** data, size_t* size, pg_error* err);
  /** Restores what snapshot returned, on a fresh instance before its first event. */
  pg_status (*restore)(pg_detector* self, const void* data, size_t size, pg_error* err);
  /** Current metrics: `*out` (count `*count`) stays valid until the next call. */
  pg_status (*metrics)(pg_detector* self, const pg_metric** out, size_t* count, pg_error* err);
  /** Frees the instance. Must not fail; must not call the host API. */
  void (*destroy)(pg_detector* self);
} pg_detector_vtable;

/* ---- the plugin table and the manifest -------------------------------------------------------- */

/** Returned by the plugin's one exported entry point. `manifest` is the JSON manifest (schema in
 *  docs/sdk.md), byte for byte the one embedded in the ELF note, so the engine can compare what it
 *  read before loading with what the code says. */
typedef struct pg_plugin {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor; /* the minor this plugin requires */
  pg_str manifest;
  /** The vtable of detector `name` (as in the manifest), or NULL when there is none. */
  const pg_detector_vtable* (*detector)(pg_str name);
} pg_plugin;

/** The exported entry point's name and signature. The engine passes its own ABI version; the
 *  plugin may return NULL when it cannot work with that engine (the engine then refuses it). */
#define PG_PLUGIN_ENTRY_SYMBOL "pg_plugin_entry"
typedef const pg_plugin* (*pg_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor);

/* ---- the manifest note ------------------------------------------------------------------------ *
 * The manifest is embedded in an ELF note section so the engine reads it WITHOUT running plugin
 * code. The CMake helper phantomguard_add_plugin generates it from the plugin's manifest.json:
 *   section ".note.phantomguard", note name "PhantomGuard", note type PG_NOTE_TYPE,
 *   descriptor = uint32 abi_major, uint32 abi_minor (required), then the manifest JSON, NUL-padded.
 * pg_sdk_embedded_manifest() (hidden, defined by the generated file) returns it to plugin code. */
#define PG_NOTE_SECTION ".note.phantomguard"
#define PG_NOTE_NAME "PhantomGuard"
#define PG_NOTE_TYPE 0x4750u

typedef struct pg_note_header {
  uint32_t namesz; /* 13: "PhantomGuard" and its NUL */
  uint32_t descsz; /* 8 + manifest bytes, padded to 4 */
  uint32_t type;   /* PG_NOTE_TYPE */
  char name[16];   /* "PhantomGuard", NUL-padded to 4 */
  uint32_t abi_major;
  uint32_t abi_minor;
  /* followed by the manifest JSON, NUL-terminated and NUL-padded */
} pg_note_header;

PG_HIDDEN const pg_note_header* pg_sdk_embedded_manifest(void);

/** For builds without the CMake helper (pkg-config, make): defines the note and
 *  pg_sdk_embedded_manifest() from a string literal, in exactly one C or C++ source file:
 *      PG_DEFINE_MANIFEST_NOTE(0, "{\"id\": \"com.example.x\", ...}")
 *  `abi_minor` is the ABI minor the plugin requires. */
#define PG_NOTE_PADDED_(n) ((((n) + 3u) / 4u) * 4u)
#define PG_DEFINE_MANIFEST_NOTE(abi_minor, json)                                                   \
  struct pg_note_literal_ {                                                                        \
    pg_note_header header;                                                                         \
    char manifest[PG_NOTE_PADDED_(sizeof(json))];                                                  \
  };                                                                                               \
  __attribute__((section(PG_NOTE_SECTION), used, aligned(4))) static const struct pg_note_literal_ \
      pg_note_literal_value_ = {{13u, 8u + PG_NOTE_PADDED_(sizeof(json)), PG_NOTE_TYPE,            \
                                 PG_NOTE_NAME, PG_ABI_MAJOR, (abi_minor)},                         \
                                json};                                                             \
  const pg_note_header* pg_sdk_embedded_manifest(void) { return &pg_note_literal_value_.header; }

/** The manifest JSON that follows a note header. */
static inline pg_str pg_note_manifest(const pg_note_header* h) {
  pg_str s;
  const char* text = (const char*)(h + 1);
  size_t max = h->descsz - 2 * sizeof(uint32_t);
  size_t n = 0;
  while (n < max && text[n] != '\0')
    ++n;
  s.data = text;
  s.size = n;
  return s;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PHANTOMGUARD_SDK_PLUGIN_H */
