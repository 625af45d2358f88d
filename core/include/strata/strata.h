/* strata module ABI (plain C).
 *
 * The one header a module includes (directly or through sdk.hpp). It fixes the boundary
 * between the strata host and a module shared object: the descriptor a module exports, the
 * option schema the host validates, the hooks of each kind, and the host function table.
 *
 * Naming: `strata_module_*` / hooks in `*_hooks` structs are implemented by the MODULE and
 * called by the host; members of `strata_host_api` are implemented by the HOST and called by
 * the module. Every struct that may grow starts with `struct_size`; structs only grow at the end.
 */
#ifndef STRATA_STRATA_H
#define STRATA_STRATA_H

#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
#include <cstddef> /* defines the C++ standard library's macros STRATA_BUILD_SIGNATURE reads */
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_ABI_MAJOR 1
#define STRATA_ABI_MINOR 2 /* 1.1: strata_tier_op.result_ttl_ms; 1.2: the partition watermark \
                            guard (strata_tier_op.guard_*, STRATA_TIER_WATERMARK, \
                            STRATA_TIER_WATERMARK_GET, strata_host_api.stored_position), \
                            policy_flags, the front kind (strata_front_hooks, strata_chain_op, \
                            strata_host_api.front_chain/chain_submit/chain_release) and the \
                            tier ops a front needs (STRATA_TIER_REPLACE.., STRATA_TIER_RICH); \
                            still 1.2 (this wave's bump): the descriptor's build_signature at \
                            its end (read only when struct_size covers it), \
                            STRATA_UNANSWERED, the STRATA_TTL_* names, STRATA_MESSAGE_MAX, \
                            STRATA_TIER_FLUSH / STRATA_TIER_FLUSHABLE / STRATA_CHAIN_FLUSH, \
                            STRATA_CHAIN_INVALIDATE, STRATA_TIER_TAG / \
                            STRATA_TIER_INVALIDATE_TAG / STRATA_TIER_TAGS (no struct grows), \
                            STRATA_TIER_SCAN / STRATA_TIER_SCANNABLE and the scan page layout, \
                            strata_source_hooks.replay / replay_left / replay_extend \
                            (appended), strata_source_replay and STRATA_LAG_PENDING */

/* The symbol every module exports. The loader dlsym()s exactly this name. */
#define STRATA_MODULE_ENTRY_SYMBOL "strata_module_entry"

#if defined(__GNUC__)
#define STRATA_EXPORT __attribute__((visibility("default")))
#else
#define STRATA_EXPORT
#endif

/* The build signature (as nginx's NGX_MODULE_SIGNATURE): the build features that make a module
 * binary incompatible with a host even when the ABI version fits. Stamped into the descriptor
 * by STRATA_MODULE (strata_module_descriptor.build_signature); the loader refuses a module
 * whose signature differs from its own. Fields, comma-separated:
 *   sanitizer: "asan", "tsan" or "nosan" (ASan/TSan instrument memory and threads: mixing an
 *     instrumented module into an uninstrumented host, or the reverse, misreports or crashes);
 *   C++ standard library (C++ modules only; a C module carries no such field): "libstdc++"
 *     (new std::string ABI, _GLIBCXX_USE_CXX11_ABI=1), "libstdc++-oldabi", "libc++", "c++?".
 * A module may define STRATA_BUILD_SIGNATURE itself (tests do, to get a mismatch). */
#ifndef STRATA_BUILD_SIGNATURE
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_SIG_SAN_ "asan"
#elif __has_feature(thread_sanitizer)
#define STRATA_SIG_SAN_ "tsan"
#endif
#endif
#ifndef STRATA_SIG_SAN_
#if defined(__SANITIZE_ADDRESS__)
#define STRATA_SIG_SAN_ "asan"
#elif defined(__SANITIZE_THREAD__)
#define STRATA_SIG_SAN_ "tsan"
#else
#define STRATA_SIG_SAN_ "nosan"
#endif
#endif
#if !defined(__cplusplus)
#define STRATA_SIG_STDLIB_ ""
#elif defined(_LIBCPP_VERSION)
#define STRATA_SIG_STDLIB_ ",libc++"
#elif defined(__GLIBCXX__) && defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI == 0
#define STRATA_SIG_STDLIB_ ",libstdc++-oldabi"
#elif defined(__GLIBCXX__)
#define STRATA_SIG_STDLIB_ ",libstdc++"
#else
#define STRATA_SIG_STDLIB_ ",c++?"
#endif
#define STRATA_BUILD_SIGNATURE STRATA_SIG_SAN_ STRATA_SIG_STDLIB_
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status codes: every hook returns one, as an `int` (the C boundary fixes the width; the size of
 * an enum is the compiler's choice), holding a strata_status value. Non-zero is a failure;
 * `strata_error.message` says why. */

typedef enum strata_status {
  STRATA_OK = 0,
  STRATA_NOT_FOUND = 1,   /* get: no such key */
  STRATA_NOT_STORED = 2,  /* add: key exists; versioned set/delete: a newer version is stored */
  STRATA_ERR_BAD_KEY = 3, /* key invalid for this tier; nothing was sent */
  STRATA_ERR_TOO_LARGE = 4, /* value exceeds the tier's limit; nothing was sent */
  STRATA_ERR_UNAVAILABLE = 5, /* server down, timeout, connection lost: retryable */
  STRATA_ERR_INVALID = 6,     /* bad argument or configuration */
  STRATA_ERR_INTERNAL = 7,    /* bug or unexpected failure, incl. a C++ exception in the SDK */
  STRATA_ERR_BREAKER_OPEN = 8, /* set by the host's tier chain; a sharded tier may set it on
                                  ops it refused unsent because that shard's own breaker is
                                  open (the host's breaker does not count them) */
  /* The host presets every tier op to this before execute(); an op still holding it after
   * execute() was not answered and fails with STRATA_ERR_INTERNAL naming the module. */
  STRATA_UNANSWERED = 127
} strata_status;

/* The one limit for an error message anywhere in the ABI: at most STRATA_MESSAGE_MAX - 1 bytes
 * and a NUL (strata_error.message, strata_tier_op.error, strata_chain_op.error). */
#define STRATA_MESSAGE_MAX 160
/* sizeof(strata_error) since ABI 1.0; the bytes past the message are padding. */
#define STRATA_ERROR_MAX 256

/* Filled by a failing hook. Owned by the caller (usually on its stack). */
typedef struct strata_error {
  char message[STRATA_MESSAGE_MAX];
  char reserved_[STRATA_ERROR_MAX - STRATA_MESSAGE_MAX]; /* ABI 1.0 had a 256-byte message */
} strata_error;

/* ------------------------------------------------------------------------------------------ */
/* TTLs, in milliseconds, with one meaning wherever a TTL travels (strata_tier_op.ttl_ms,
 * strata_policy_input.hook_ttl_ms, strata_policy_decision.ttl_ms, strata_chain_op.ttl_ms):
 *   STRATA_TTL_DEFAULT (0)  the receiver's default (a tier's configured TTL; for
 *                           hook_ttl_ms: the ttl() hook gave none, the policy decides);
 *   STRATA_TTL_NEVER (-1)   never expires (any negative value means the same);
 *   > 0                     expires that many ms from now.
 * Results (strata_tier_op.result_ttl_ms, strata_chain_op.result_ttl_ms) read 0 as unknown. */
#define STRATA_TTL_DEFAULT 0
#define STRATA_TTL_NEVER (-1)
#define STRATA_TTL_UNKNOWN 0

/* A byte string that the producer owns; valid for the duration documented at each use. */
typedef struct strata_bytes {
  const char* data;
  size_t len;
} strata_bytes;

/* ------------------------------------------------------------------------------------------ */
/* Option schema. The host validates every instance section against it and reports
 * FILE:LINE:COL on any mismatch; `strata describe MODULE` prints it. */

typedef enum strata_option_type {
  STRATA_OPT_STRING = 1,
  STRATA_OPT_INT = 2,      /* int64 */
  STRATA_OPT_BOOL = 3,
  STRATA_OPT_DOUBLE = 4,
  STRATA_OPT_DURATION = 5, /* "250ms", "5s", "5m", "1h", or an integer of milliseconds -> ms */
  STRATA_OPT_SIZE = 6,     /* "64KiB", "1MiB", "1GB", or an integer of bytes -> bytes */
  STRATA_OPT_STRING_LIST = 7,
  STRATA_OPT_ENUM = 8,     /* a string from `enum_values` */
  STRATA_OPT_TABLE = 9     /* pass-through table, flattened to dotted "key" = "value" strings */
} strata_option_type;

enum strata_option_flags {
  STRATA_OPTF_SECRET = 1u << 0,     /* never logged, never printed by describe */
  STRATA_OPTF_RELOADABLE = 1u << 1, /* may change on SIGHUP without re-creating the instance */
  STRATA_OPTF_HAS_MIN = 1u << 2,    /* `min` applies (int, double, duration, size) */
  STRATA_OPTF_HAS_MAX = 1u << 3     /* `max` applies (int, double, duration, size) */
};

typedef struct strata_option_def {
  size_t struct_size;
  const char* name;
  strata_option_type type;
  /* Default as TOML-ish text ("100", "true", "5s", "1MiB", "ketama", "a,b" for lists).
   * NULL means the option is required. */
  const char* default_value;
  uint32_t flags;
  double min; /* inclusive, in the option's unit (ms for durations, bytes for sizes) */
  double max; /* inclusive */
  const char* const* enum_values; /* NULL-terminated, for STRATA_OPT_ENUM */
  const char* description;
} strata_option_def;

/* One pair of a pass-through table. */
typedef struct strata_kv {
  const char* key;
  const char* value;
} strata_kv;

/* A validated option value, handed to create(). values[i] belongs to options[i]. All
 * pointers are owned by the host and stay valid until destroy() returns. */
typedef struct strata_option_value {
  strata_option_type type;
  int is_set;            /* 1 when the config gave it, 0 when the default applies */
  const char* s;         /* STRING, ENUM (never NULL; "" when no default and unset) */
  int64_t i;             /* INT, DURATION (ms), SIZE (bytes), BOOL (0/1) */
  double d;              /* DOUBLE */
  const char* const* list; /* STRING_LIST */
  size_t list_len;
  const strata_kv* table; /* TABLE */
  size_t table_len;
} strata_option_value;

/* ------------------------------------------------------------------------------------------ */
/* Host function table: implemented by the host, valid for the whole life of the process. */

typedef enum strata_log_level {
  STRATA_LOG_DEBUG = 0,
  STRATA_LOG_INFO = 1,
  STRATA_LOG_WARN = 2,
  STRATA_LOG_ERROR = 3
} strata_log_level;

typedef enum strata_metric_type {
  STRATA_METRIC_COUNTER = 1,
  STRATA_METRIC_GAUGE = 2,
  STRATA_METRIC_HISTOGRAM = 3 /* latency-style; observe() values in seconds */
} strata_metric_type;

/* Opaque host objects. */
typedef struct strata_instance_ctx strata_instance_ctx; /* one per module instance */
typedef struct strata_tier_op strata_tier_op;           /* defined with the tier kind below */
typedef struct strata_metric strata_metric;             /* one labelled time series */
typedef struct strata_chain strata_chain;               /* a tier chain a front reads through */
typedef struct strata_chain_op strata_chain_op;         /* defined with the front kind below */
typedef void (*strata_chain_done_fn)(void* user, strata_chain_op* ops, size_t count);

typedef struct strata_host_api {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* Logging: the host prefixes level, module instance and pipeline. Any thread. */
  void (*log)(strata_instance_ctx* ctx, strata_log_level level, const char* message);

  /* Metrics. `name` is a Prometheus name ("strata_memcached_errors_total"); `labels` is
   * NULL or extra labels as `k="v",k2="v2"`; the host adds module_instance="...". The handle is
   * owned by the host and valid until the process exits; update calls are thread-safe and
   * lock-free enough for a hot path. Registering the same name+labels twice returns the same
   * handle. */
  strata_metric* (*metric)(strata_instance_ctx* ctx, strata_metric_type type, const char* name,
                           const char* help, const char* labels);
  void (*metric_add)(strata_metric* m, double delta);     /* counter, gauge */
  void (*metric_set)(strata_metric* m, double value);     /* gauge */
  void (*metric_observe)(strata_metric* m, double value); /* histogram */

  /* Clocks. */
  int64_t (*now_unix_ms)(void);
  uint64_t (*monotonic_ns)(void);

  /* Tier results: copies `len` bytes into host-owned storage attached to `op` (see
   * strata_tier_op). Call at most once per op per execute(). */
  void (*op_set_value)(strata_tier_op* op, const char* data, size_t len);

  /* Instance identity, owned by the host: "tiers.l1" etc. */
  const char* (*instance_name)(strata_instance_ctx* ctx);
  /* ABI 1.2 (check struct_size before calling). Sources: where a newly assigned partition
   * should resume, as stored with the data by the pipeline's durable tiers (the partition
   * watermark): the next offset to read, or -1 when nothing is stored or the pipeline does
   * not guard by watermark. Called on the source's own thread (e.g. in a rebalance callback);
   * it does I/O against the durable tier and may take up to its timeouts. */
  int64_t (*stored_position)(strata_instance_ctx* ctx, const char* topic, int32_t partition);

  /* ABI 1.2, fronts (check struct_size before calling). See "Kind: front" below. */
  /* The tier chain this front instance is configured with (`tiers = [...]` or `pipeline =`).
   * Owned by the host; valid from create() until destroy() returns. NULL for other kinds. */
  strata_chain* (*front_chain)(strata_instance_ctx* ctx);
  /* Runs `count` ops through the chain and calls done(user, ops, count) exactly once when
   * every op has its status. Any thread may submit; done runs on a host thread, or on the
   * caller's thread before chain_submit returns (the front must accept both). The ops array
   * and the bytes its inputs point to are owned by the caller and must stay valid and
   * unchanged until done is called. Ops of one submit on the same key run in array order;
   * ops of different submits are not ordered with each other. Returns STRATA_OK, or an
   * error (nothing will be called back) when the chain is shutting down or count is 0.
   * (Host: ops run on the front's `chain_threads` host threads, or on the caller's thread
   * when it is 0; a submit still queued when the chain shuts down, after the front's stop(),
   * gets its done with every op STRATA_ERR_UNAVAILABLE, error "shutting down".) */
  int (*chain_submit)(strata_chain* chain, strata_chain_op* ops, size_t count,
                      strata_chain_done_fn done, void* user);
  /* Frees the result storage (result_value) of ops that completed. Call once per completed
   * submit, from any thread, when done with the results; the ops may be reused after it. */
  void (*chain_release)(strata_chain_op* ops, size_t count);
} strata_host_api;

/* ------------------------------------------------------------------------------------------ */
/* Records (sources produce them; hooks and policies read them). */

typedef struct strata_header {
  strata_bytes key;
  strata_bytes value;
} strata_header;

typedef struct strata_record {
  size_t struct_size;
  const char* topic; /* NUL-terminated */
  int32_t partition;
  int64_t offset;
  strata_bytes key;   /* data may be NULL for a null key */
  strata_bytes value; /* data may be NULL for a tombstone */
  int64_t timestamp_ms; /* -1 when unknown */
  const strata_header* headers;
  size_t header_count;
} strata_record;

/* A position that is safe to commit: everything in (topic, partition) strictly below
 * `next_offset` has been durably written. */
typedef struct strata_position {
  const char* topic;
  int32_t partition;
  int64_t next_offset;
} strata_position;

/* A batch produced by a source. Owned by the SOURCE until release_batch(). */
typedef struct strata_record_batch {
  const strata_record* records;
  size_t count;
  void* source_cookie; /* for the source's own bookkeeping */
} strata_record_batch;

/* ------------------------------------------------------------------------------------------ */
/* Kind: source. Called from the pipeline's worker thread only (one thread per instance). */

/* ABI 1.2: what strata_source_hooks.replay() is asked. Owned by the host during the call. */
typedef struct strata_source_replay {
  size_t struct_size;
  const char* group_id; /* NULL or "": the source's own group + ".replay" */
  /* "earliest"; "timestamp:MS" (first record at or after MS, epoch milliseconds: librdkafka's
   * offsets_for_times); or "offsets:P:OFF,P:OFF" (partitions not listed are not replayed).
   * A start before the oldest record still kept starts at the oldest (the source warns). */
  const char* from;
} strata_source_replay;

/* What strata_source_hooks.lag returns when it cannot count (see there). */
#define STRATA_LAG_UNKNOWN ((int64_t)-1)
#define STRATA_LAG_PENDING ((int64_t)-2)

typedef struct strata_source_hooks {
  size_t struct_size;
  /* Fill `out` with up to `max_records` records, waiting at most `timeout_ms`. An empty batch
   * is fine. While paused the host keeps calling poll() (so the source can serve heartbeats
   * and rebalances) and a paused source returns empty batches. */
  int (*poll)(void* inst, size_t max_records, int timeout_ms, strata_record_batch* out,
              strata_error* err);
  /* The host is done reading the batch's records (their bytes may be freed). */
  void (*release_batch)(void* inst, strata_record_batch* batch);
  /* Positions that are now safe to commit (durable tier acked everything before them).
   * The source stores/commits them as it sees fit (e.g. on its commit interval and on
   * revoke). Positions of partitions it no longer owns are ignored. */
  int (*ack)(void* inst, const strata_position* positions, size_t count, strata_error* err);
  /* Back-pressure: stop delivering records until resume(). Idempotent. */
  void (*pause)(void* inst);
  void (*resume)(void* inst);
  /* Consumer lag in records across owned partitions, or STRATA_LAG_UNKNOWN (-1) when unknown,
   * or (ABI 1.2) STRATA_LAG_PENDING (-2) when records may be unread but how many is unknown
   * (a partition not fetched yet): the host then never counts the source as idle. An older
   * host reads -2 as unknown. May be NULL. */
  int64_t (*lag)(void* inst);
  void* reserved[4];
  /* ABI 1.2, appended (the host reads them only when struct_size covers them, and either may
   * be NULL): a one-shot replay (`strata replay`). replay() is called once, after create() and
   * before start(); the source then consumes as the group `spec->group_id` (NULL or "": its own
   * group with ".replay" appended), starts every assigned partition at `spec->from` whatever the
   * group committed, never resumes at a stored watermark, and delivers no record at or past the
   * partition's end as it was when the partition was assigned (its high watermark then). Acks
   * are committed as usual. Fails (STRATA_ERR_INVALID) when `from` is malformed. */
  int (*replay)(void* inst, const strata_source_replay* spec, strata_error* err);
  /* Records still to deliver before every partition reached its replay end: > 0 to go, 0 when
   * every partition of the topics is assigned and reached its end, -1 while unknown (not yet
   * assigned). Any thread. */
  int64_t (*replay_left)(void* inst);
  /* Once replay_left() reached 0: moves every partition's replay end to its current high
   * watermark and goes on from the old end, so the host can read what was produced during the
   * replay (strata replay's reconcile pass, docs/operations.md). Pipeline thread. */
  int (*replay_extend)(void* inst, strata_error* err);
} strata_source_hooks;

/* ------------------------------------------------------------------------------------------ */
/* Kind: tier. execute() may be called from several threads at once: a tier instance must be
 * thread-safe (a connection pool or a lock). */

typedef enum strata_tier_op_kind {
  STRATA_TIER_GET = 1,
  STRATA_TIER_SET = 2,   /* versioned when `version` != 0 (durable tiers must honour it) */
  STRATA_TIER_ADD = 3,   /* store only if absent (read-path refill) */
  STRATA_TIER_DELETE = 4, /* versioned when `version` != 0 */
  /* ABI 1.2, tiers with STRATA_TIER_WATERMARK only. `key` is a watermark name (see guard_name);
   * on STRATA_OK the tier hands the stored next offset back as decimal text through
   * op_set_value(); STRATA_NOT_FOUND when none is stored. */
  STRATA_TIER_WATERMARK_GET = 5,
  /* ABI 1.2, tiers with STRATA_TIER_RICH only (the memcached-protocol front's writes). Each
   * keeps memcached's meaning: */
  STRATA_TIER_REPLACE = 6, /* store only if present; NOT_STORED otherwise */
  STRATA_TIER_APPEND = 7,  /* value appended to the stored one; NOT_STORED if absent */
  STRATA_TIER_PREPEND = 8, /* value prepended to the stored one; NOT_STORED if absent */
  /* INCR/DECR: `version` is the unsigned 64-bit delta. The stored value must be decimal
   * digits (an unsigned 64-bit number): INCR wraps at 2^64, DECR stops at 0. On STRATA_OK the
   * new value is handed back as decimal text through op_set_value(). NOT_FOUND if absent;
   * STRATA_ERR_INVALID (message "non-numeric value") if the value is not a number. */
  STRATA_TIER_INCR = 9,
  STRATA_TIER_DECR = 10,
  STRATA_TIER_TOUCH = 11, /* new ttl_ms for an existing item; NOT_FOUND if absent */
  /* CAS: store `value` only if the stored value's token (strata_cas_token() of its bytes)
   * equals `version`. NOT_FOUND if absent, NOT_STORED ("exists") if the token differs. */
  STRATA_TIER_CAS = 12,
  /* ABI 1.2, tiers with STRATA_TIER_FLUSHABLE only: drop every item the tier holds (memcached's
   * flush_all). `key` is empty. Sent by the host only to volatile tiers (the invalidation bus,
   * when a node cannot know which keys it missed). */
  STRATA_TIER_FLUSH = 13,
  /* ABI 1.2, tiers with STRATA_TIER_TAGS only (docs/bus.md, "Tags"). No struct grows: tags
   * travel as ops of their own kinds.
   * TAG: attach the tag `value` to `key`. The host sends it right after the SET of `key` in the
   * same execute(), one op per tag, with the SET's guard_name/guard_offset; the tier records
   * the membership in the same atomic step as the SET (a crash never leaves the key without
   * it), and refuses it like the SET below the watermark (STRATA_NOT_STORED). */
  STRATA_TIER_TAG = 14,
  /* INVALIDATE_TAG: `key` is a tag. Delete every key carrying it and the tag's index, and
   * announce the deleted keys on the invalidation bus where the tier has one. Guarded
   * (guard_name set): refused with STRATA_NOT_STORED when the stored watermark is above
   * guard_offset + 1 (a later record of the partition was applied: this is a replay). On
   * STRATA_OK the tier hands the deleted keys back through op_set_value() as
   * "<decimal length>:<bytes>" once per key (strata::tag_keys() reads it), so the host can
   * drop them from its own volatile tiers; "" when the tag had no keys. */
  STRATA_TIER_INVALIDATE_TAG = 15,
  /* ABI 1.2, tiers with STRATA_TIER_SCANNABLE only: one step of a cursor iteration over the
   * cache entries the tier holds (`strata warm` refills an L1 from it). In: `key` = the key
   * prefix to match (empty = every key); `value` = the cursor the previous step handed back
   * (empty = start); `version` = how many keys to look at in this step, a hint (0 = the tier's
   * choice). On STRATA_OK the tier hands back, through one op_set_value(), a scan page (layout
   * below): the next cursor (empty = the iteration is over) and the entries, each with its
   * value, flags and remaining TTL exactly as a GET would answer them. Only cache entries: the
   * tier leaves out its own bookkeeping keys (watermarks, version keys, streams) and counts
   * them in the page's `skipped`. A key may come twice; a key stored during the whole
   * iteration comes at least once (Redis SCAN's guarantee). A SCAN comes alone in its
   * execute(); the host sends it only to durable tiers. */
  STRATA_TIER_SCAN = 16
} strata_tier_op_kind;

/* The scan page STRATA_TIER_SCAN answers with. Integers little-endian, no padding:
 *   u32 cursor_len, cursor bytes,
 *   u64 keys_total (every key the tier holds, bookkeeping included, e.g. DBSIZE; or
 *       STRATA_SCAN_TOTAL_UNKNOWN), u32 skipped (keys of this step left out), u32 count,
 *   count x { u32 key_len, u32 value_len, u32 flags, i64 ttl_ms, key bytes, value bytes }
 * ttl_ms as strata_tier_op.result_ttl_ms: -1 no expiry, > 0 ms left, 0 unknown. The SDK's
 * strata::ScanPageWriter / strata::parse_scan_page (ops.hpp) write and read it. */
#define STRATA_SCAN_TOTAL_UNKNOWN UINT64_MAX

/* Item flags the host uses; tiers store `flags` as the item's client flags where they can. */
#define STRATA_ITEM_NEGATIVE 0x53544e47u /* "STNG": a negative-cache entry */

struct strata_tier_op {
  size_t struct_size;
  /* in (owned by the host, valid during execute()) */
  strata_tier_op_kind kind;
  strata_bytes key;
  strata_bytes value; /* SET, ADD */
  int64_t ttl_ms;     /* SET, ADD: STRATA_TTL_DEFAULT, STRATA_TTL_NEVER or ms */
  uint64_t version;   /* SET, DELETE: 0 = unversioned */
  /* SET, ADD: item flags. A tier MUST store them with the value and hand them back as
   * result_flags on GET: the host marks negative-cache entries with STRATA_ITEM_NEGATIVE, and
   * a tier that drops the flags serves those entries as real empty values. */
  uint32_t flags;
  /* out (written by the module: every op gets a status; the host presets an "unanswered"
   * value and fails an op the module left alone, naming the module) */
  strata_status status;
  uint32_t result_flags;          /* GET: the item's flags, as stored */
  char error[STRATA_MESSAGE_MAX]; /* a message when status is an error */
  void* host_result;     /* host-private: target of op_set_value() */
  /* ABI 1.1. GET: remaining TTL of the item in ms; -1 = no expiry; 0 = unknown (the tier
   * cannot tell). The host sets it to 0 before execute(). A module must write it only when
   * `struct_size` covers it (a 1.0 host passes a smaller op): use strata::set_result_ttl(). */
  int64_t result_ttl_ms;
  /* ABI 1.2. The partition watermark guard (exactly once per source partition). When
   * `guard_name.len` != 0 on a SET or DELETE sent to a tier with STRATA_TIER_WATERMARK:
   * the op belongs to the record at `guard_offset` of the partition named `guard_name`
   * ("pipeline/topic/partition", chosen by the host). The tier keeps, per name, a watermark
   * = the highest guard_offset + 1 it applied, written in the same atomic step as the op.
   * An op whose guard_offset is below the stored watermark is not applied and answers
   * STRATA_NOT_STORED (already applied: a replay, or a zombie writer). Ops of one execute()
   * with the same name come in increasing guard_offset order. Set only when struct_size
   * covers them (the host passes 1.0/1.1-sized ops to older modules, which see no guard). */
  strata_bytes guard_name;
  int64_t guard_offset;
};

enum strata_tier_flags {
  STRATA_TIER_DURABLE = 1u << 0, /* commits wait for this tier's acks (Redis); L1s are volatile */
  STRATA_TIER_VERSIONED = 1u << 1, /* honours strata_tier_op.version */
  STRATA_TIER_WATERMARK = 1u << 2, /* ABI 1.2: honours strata_tier_op.guard_* and answers
                                      STRATA_TIER_WATERMARK_GET */
  STRATA_TIER_RICH = 1u << 3, /* ABI 1.2: implements STRATA_TIER_REPLACE .. STRATA_TIER_CAS */
  STRATA_TIER_FLUSHABLE = 1u << 4, /* ABI 1.2: implements STRATA_TIER_FLUSH */
  STRATA_TIER_TAGS = 1u << 5, /* ABI 1.2: implements STRATA_TIER_TAG, STRATA_TIER_INVALIDATE_TAG */
  STRATA_TIER_SCANNABLE = 1u << 6  /* ABI 1.2: implements STRATA_TIER_SCAN */
};

/* The compare-and-swap token of a value: FNV-1a 64 of its bytes, never 0 (0 maps to 1). The
 * front hands it out as memcached's cas unique and tiers compare it on STRATA_TIER_CAS, so the
 * token follows the value, whichever tier served it. */
static inline uint64_t strata_cas_token(const char* data, size_t len) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; ++i) {
    h ^= (unsigned char)data[i];
    h *= 1099511628211ull;
  }
  return h ? h : 1;
}

typedef struct strata_tier_hooks {
  size_t struct_size;
  uint32_t tier_flags; /* strata_tier_flags */
  /* Run `count` ops as one batch (pipelined / multi-get), set each op's status. Returns
   * STRATA_OK when the batch ran (individual ops may still have failed), or an error when
   * the whole batch failed (then every op's status is set to that error too). Ops on the
   * same key are applied in array order. */
  int (*execute)(void* inst, strata_tier_op* ops, size_t count, strata_error* err);
  /* Cheap health probe (e.g. PING). STRATA_OK when usable. May be NULL. */
  int (*health)(void* inst, strata_error* err);
  void* reserved[4];
} strata_tier_hooks;

/* ------------------------------------------------------------------------------------------ */
/* Kind: policy. Pure decision: called from pipeline worker threads, must be thread-safe. */

typedef enum strata_policy_action {
  STRATA_ACTION_SKIP = 0,  /* do nothing on this tier */
  STRATA_ACTION_SET = 1,   /* write the value with `ttl_ms` */
  STRATA_ACTION_DELETE = 2 /* remove the key (keeps a volatile tier from serving stale data) */
} strata_policy_action;

typedef struct strata_policy_tier {
  const char* instance_name; /* "tiers.l1" */
  uint32_t tier_flags;       /* strata_tier_flags: lets a policy tell L1 from L2 */
} strata_policy_tier;

/* Input for one key of one record. */
typedef struct strata_policy_input {
  size_t struct_size;
  const strata_record* record;
  strata_bytes key;
  strata_bytes value;       /* the value the hooks produced */
  int64_t hook_ttl_ms;      /* from the ttl() hook (> 0); STRATA_TTL_DEFAULT when the hook gave
                               none (ABI 1.2 hosts before the constants passed -1 for none) */
  const strata_policy_tier* tiers; /* the pipeline's tiers in read order (L1 first) */
  size_t tier_count;
} strata_policy_input;

typedef struct strata_policy_decision {
  strata_policy_action action;
  int64_t ttl_ms; /* for SET: STRATA_TTL_DEFAULT (the tier's), STRATA_TTL_NEVER or ms */
} strata_policy_decision;

/* ABI 1.2: how the host orders one record's writes (strata_policy_hooks.policy_flags). */
enum strata_policy_flags {
  /* Write-back: the volatile tiers are written first (freshness), the durable ones after;
   * commits still wait for the durable acks. The host skips the volatile write of a record
   * it knows is a replay, and deletes a volatile copy it wrote when the durable tier then
   * refused the write (older, already applied) or failed it for good. */
  STRATA_POLICY_VOLATILE_FIRST = 1u << 0
};

typedef struct strata_policy_hooks {
  size_t struct_size;
  /* Fill decisions[0..in->tier_count). The host executes durable tiers first, then the
   * volatile ones, and only sets a volatile tier when every durable SET succeeded. */
  int (*decide)(void* inst, const strata_policy_input* in, strata_policy_decision* decisions,
                strata_error* err);
  void* reserved[4];
  /* ABI 1.2 (the host reads it only when struct_size covers it): strata_policy_flags. */
  uint32_t policy_flags;
} strata_policy_hooks;

/* ------------------------------------------------------------------------------------------ */
/* Kind: front (ABI 1.2). Serves a network protocol over a tier chain. The front owns its
 * threads (started in start(), joined in stop()); the host owns the chain and the threads
 * that run its ops. stop() must return within a bounded time: close listeners, finish or
 * fail what is in flight (the host still calls back every submitted op), join threads. */

typedef enum strata_chain_op_kind {
  STRATA_CHAIN_GET = 1,    /* read-through: volatile tiers, then the durable one with one read
                              in flight per key, refill of the volatile tiers with ADD,
                              negative caching and stale-on-error as the chain is configured.
                              ttl_ms != 0: also touch the item (gat) with that TTL */
  STRATA_CHAIN_SET = 2,    /* durable tiers first (an error leaves the volatile ones alone),
                              then the volatile tiers */
  STRATA_CHAIN_ADD = 3,    /* store only if absent in the durable tier, then set volatile */
  STRATA_CHAIN_DELETE = 4, /* durable first, then volatile */
  STRATA_CHAIN_TOUCH = 5,  /* new TTL in every tier holding the key */
  /* The rest act on the durable tier (STRATA_TIER_RICH) and then drop the volatile copies:
   * memcached's meaning of each is the durable tier's (see strata_tier_op_kind). */
  STRATA_CHAIN_REPLACE = 6,
  STRATA_CHAIN_APPEND = 7,
  STRATA_CHAIN_PREPEND = 8,
  STRATA_CHAIN_INCR = 9, /* delta in `cas` */
  STRATA_CHAIN_DECR = 10,
  STRATA_CHAIN_CAS = 11, /* expected token in `cas` */
  /* Drops every item of every VOLATILE tier of the chain (durable tiers are never flushed);
   * `key` is empty. A volatile tier without STRATA_TIER_FLUSHABLE is never sent it: the op
   * answers STRATA_ERR_INVALID ("tiers.l1 does not support flush"). */
  STRATA_CHAIN_FLUSH = 12,
  /* Deletes `key` from every VOLATILE tier of the chain only (durable tiers are never touched):
   * the invalidation bus's delete of a key another node wrote. OK when a volatile tier held
   * it, NOT_FOUND when none did, or the first volatile tier's failure. */
  STRATA_CHAIN_INVALIDATE = 13
} strata_chain_op_kind;

struct strata_chain_op {
  size_t struct_size; /* sizeof(strata_chain_op) of the front's build */
  /* in (owned by the front until done) */
  strata_chain_op_kind kind;
  strata_bytes key;
  strata_bytes value; /* SET ADD REPLACE APPEND PREPEND CAS */
  int64_t ttl_ms;     /* writes, TOUCH, GET (gat): 0 = the tier's default (GET: no touch);
                         < 0 = no expiry */
  uint32_t flags;     /* client flags stored with SET ADD REPLACE CAS */
  uint64_t cas;       /* CAS: the expected token; INCR/DECR: the delta */
  /* out (written by the host before done; result_value owned by the host until
   * chain_release) */
  strata_status status;       /* OK, NOT_FOUND, NOT_STORED, or an error */
  strata_bytes result_value;  /* GET: the value; INCR/DECR: the new value as decimal text */
  uint32_t result_flags;      /* GET: the item's client flags */
  uint64_t result_cas;        /* GET: strata_cas_token() of the value */
  int64_t result_ttl_ms;      /* GET: remaining TTL; -1 no expiry; 0 unknown */
  const char* result_tier;    /* GET hit: the instance that answered ("tiers.l1"), static */
  int result_stale;           /* GET: served by a volatile tier while the durable one is down */
  char error[STRATA_MESSAGE_MAX]; /* a message when status is an error */
  void* host_private;         /* the host's; the front leaves it alone */
};

typedef struct strata_front_hooks {
  size_t struct_size;
  void* reserved[4]; /* a front is driven by its own threads: no hooks yet */
} strata_front_hooks;

/* ------------------------------------------------------------------------------------------ */
/* The module descriptor: returned by strata_module_entry(), static, owned by the module. */

typedef enum strata_module_kind {
  STRATA_KIND_SOURCE = 1,
  STRATA_KIND_TIER = 2,
  STRATA_KIND_POLICY = 3,
  STRATA_KIND_FRONT = 4 /* ABI 1.2: serves a network protocol over a tier chain */
} strata_module_kind;

typedef struct strata_module_descriptor {
  size_t struct_size;
  uint32_t abi_major; /* STRATA_ABI_MAJOR the module was built against */
  uint32_t abi_minor;
  const char* name;   /* unique; what `module = "..."` names */
  const char* version;
  const char* description;
  strata_module_kind kind;
  const strata_option_def* options;
  size_t option_count;

  /* Lifecycle. Called by the host's main thread.
   * create: build an instance from validated options (values[i] for options[i]). No I/O that
   *   can block for long; connect in start(). On failure return non-zero and fill `err`; the
   *   loader reports "module NAME create failed: <message>". `ctx` lives until destroy().
   * start: open connections, spawn threads. Failure is reported like create's.
   * stop: stop work; with drain != 0 finish in-flight work first (sources: stop fetching).
   * destroy: free everything. Called once, also after a failed start, never after a failed
   *   create. */
  int (*create)(const strata_host_api* host, strata_instance_ctx* ctx,
                const strata_option_value* values, size_t value_count, void** out_instance,
                strata_error* err);
  int (*start)(void* inst, strata_error* err);
  void (*stop)(void* inst, int drain);
  void (*destroy)(void* inst);

  /* Points to strata_source_hooks, strata_tier_hooks, strata_policy_hooks or
   * strata_front_hooks per `kind`. */
  const void* kind_hooks;

  void* reserved[8]; /* room for later hooks; must be NULL */

  /* ABI 1.2, added at the end (the loader reads it only when struct_size covers it, so 1.1 and
   * earlier 1.2 modules without it keep loading): STRATA_BUILD_SIGNATURE as the module was
   * built. NULL = not stamped (not checked). */
  const char* build_signature;
} strata_module_descriptor;

typedef const strata_module_descriptor* (*strata_module_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_STRATA_H */
