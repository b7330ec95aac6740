/* SPDX-License-Identifier: MIT */
/*
 * store.h: lnmt's device history, kept in LMDB (memory-mapped, one writer, readers never
 * blocked, several processes at once).
 *
 * What it keeps: every device ever seen (key: IPv4), one observation per device per sweep that
 * covered it (up with RTT and probe, or down), cumulative roll-ups that make uptime over any
 * time range a couple of lookups per device, state changes, and every sweep with its figures.
 * A device is marked down only after it missed `offline_after` consecutive sweeps (default 2),
 * so one lost packet does not flap it; raw observations still record each miss, which keeps
 * uptime honest.
 *
 * Threads: a struct store may be used from several threads for reads. Writes go through a
 * recorder, which owns one writer thread and batches everything into few transactions, so the
 * sweep's receiver never waits on the disk. Times are wall-clock microseconds since the epoch.
 * Addresses are IPv4 host order. Functions return 0 or -errno / LNMT_E_*; those taking err
 * write a one-line explanation there on failure, naming the file.
 *
 * One writing process per store. A store opened for writing holds an exclusive lock on the
 * file `writer.lock` in its directory (an open file description lock, so it is released when
 * the process dies, however it dies), which records the holder's pid and program; a second
 * process that opens the store for writing waits for it briefly (lock_wait_ms), then is refused
 * with -EBUSY and a message naming the holder ("store in use by lnmtd pid 1234: run the sweep
 * through it with --socket, or wait"). Read-only opens take no lock and never wait: LMDB
 * readers see committed snapshots while the writer writes. Why a lock rather than writers that
 * merge: a recorder's miss walk and its device records are read-modify-write over the whole
 * covered range; two processes doing that at once can only be made safe by serialising them,
 * and LMDB already serialises each transaction, not the sweep. Within the writing process any
 * number of recorders may run at once (lnmtd runs up to MAX_SWEEPS): each computes its misses
 * from its own observations (see store_recorder_close), never from a field another recorder
 * moves. Holding the lock also means every sweep left `running` when a writer opens the store
 * belongs to a process that is gone: the open marks it interrupted (store_open).
 */
#ifndef LNMT_STORE_H
#define LNMT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 3
#define STORE_LOCK_FILE "writer.lock"  /* in the store's directory: who writes (see above) */
#define STORE_LOCK_WAIT_MS 1000        /* how long a second writer waits by default */
#define STORE_MAX_OPEN_PORTS 64  /* open ports remembered per device */
#define STORE_VENDOR_LEN 48
#define STORE_NAME_LEN 64        /* a device's name, bytes of UTF-8 (notes.c) */
#define STORE_NOTE_LEN 256       /* a device's note */

enum store_probe { STORE_PROBE_ARP = 1, STORE_PROBE_ICMP = 2, STORE_PROBE_SYN = 4 };
enum store_state { STORE_STATE_DOWN = 0, STORE_STATE_UP = 1 };
enum store_result_state { STORE_RESULT_UP = 0, STORE_RESULT_OPEN = 1, STORE_RESULT_CLOSED = 2 };

struct store;

struct store_options {
	unsigned offline_after;   /* consecutive missed sweeps before a device is down; 0 = 2 */
	bool read_only;           /* open without the write lock; fails if the store does not exist */
	const char *oui_path;     /* MAC vendor list; NULL = /usr/share/ieee-data/oui.txt; "" = none */
	int lock_wait_ms;         /* writers: how long to wait for another writer to close the store;
				   * 0 = STORE_LOCK_WAIT_MS, < 0 = not at all */
};

/*
 * Opens (creating if needed, unless read_only) the store in directory dir (data.mdb, lock.mdb,
 * writer.lock). A store written by an older lnmt is migrated in place; a newer one is refused; a
 * file that is not an lnmt store (or is corrupt) is refused and left untouched, with err naming
 * it. Opened for writing, it takes the writer lock first (-EBUSY when another process holds it
 * past lock_wait_ms, err naming that process), then marks every sweep still recorded as
 * running interrupted: their processes are gone, since none holds the lock. A process holds
 * the lock once: a second writing open of the same store in the same process is refused too.
 */
int store_open(struct store **out, const char *dir, const struct store_options *opt, char *err,
	       size_t errlen);
void store_close(struct store *st);

/* The default directory: $LNMT_DB, else /var/lib/lnmt as root, else $XDG_DATA_HOME/lnmt
 * (~/.local/share/lnmt). Writes into buf; returns buf. */
char *store_default_dir(char *buf, size_t len);

/* ---- recording a sweep ---- */

struct store_range {
	uint32_t first, last; /* inclusive */
};

/*
 * How a sweep ended. The zero value is RUNNING, never a success: a record that was not finished
 * says so. ALL_ANSWERED, QUIET and WAIT probed every target (the engine's own end: every target
 * answered; replies became improbable; the --wait cap elapsed), so their silences are misses.
 * STOPPED (Ctrl-C, scan.cancel, lnmtd's SIGTERM) and FAILED did not, nor did INTERRUPTED: its
 * process died before it could say (found by the next writer, or by a reader that sees no
 * process holding the writer lock). Stored as one byte; numbers are never reused.
 */
enum store_sweep_end {
	STORE_END_RUNNING = 0,
	STORE_END_ALL_ANSWERED = 1,
	STORE_END_QUIET = 2,
	STORE_END_WAIT = 3,
	STORE_END_STOPPED = 4,
	STORE_END_FAILED = 5,
	STORE_END_INTERRUPTED = 6,
};
#define STORE_END_COUNT 7

/* Its name in every output and over RPC: "running", "all-answered", "quiet", "wait-elapsed",
 * "stopped", "failed", "interrupted"; "unknown" for a value this lnmt does not know. Static. */
const char *store_sweep_end_name(unsigned ended);
/* The value of a name store_sweep_end_name() gives; -EINVAL for any other text. */
int store_sweep_end_parse(const char *name, uint8_t *out);
/* Whether a sweep that ended so probed every target (its silences are misses). */
bool store_sweep_end_probed_all(unsigned ended);

struct store_sweep {
	uint64_t id;               /* assigned by store_recorder_open */
	uint64_t start_us, end_us; /* end_us 0: not ended (running), or unknown (interrupted) */
	char targets[256];         /* the target specs as the user gave them (truncated) */
	char ports[64];
	uint8_t probes;            /* STORE_PROBE_* mask */
	uint64_t rate_pps;
	uint32_t retries;
	/* While it runs (and so for an interrupted one), replies are the results stored, live the
	 * devices recorded up, as far as committed, and sent at least as many probes as were: the
	 * last count the recorder was told (store_recorder_progress), or replies if that is less.
	 * At the end, the engine's figures. */
	uint64_t addresses, sent, replies, live;
	uint8_t ended;             /* enum store_sweep_end */
	bool complete;             /* every result reached the store */
	uint32_t new_devices, went_up, went_down; /* filled by the store, as far as committed */
	uint64_t observations;     /* filled by the store: its observations committed (up and down) */
	uint32_t pid;              /* filled by the store: the process that recorded it */
};

struct store_result {
	uint32_t ip;
	uint8_t probe;       /* one STORE_PROBE_* */
	uint8_t state;       /* STORE_RESULT_* */
	uint16_t port;       /* SYN only */
	uint32_t rtt_us;
	uint8_t ttl;
	bool has_mac;
	uint8_t mac[6];
	uint64_t time_us;
};

struct store_recorder;

/*
 * Starts recording a sweep: stores the sweep record as running (id assigned into info->id) and
 * starts the writer thread. covered lists the address ranges the sweep probes (sorted,
 * disjoint); at the end every known device inside them that did not answer gets a down
 * observation (pass n = 0 for a sharded sweep that covers only part of each range). Every
 * transaction that stores results also rewrites the record's counts, so the record always says
 * what was committed, even after kill -9. Several recorders may run at once on one store (in
 * the process that holds the writer lock).
 */
int store_recorder_open(struct store *st, struct store_sweep *info, const struct store_range *covered,
			size_t n_covered, struct store_recorder **out, char *err, size_t errlen);

/* Queues one result. Never blocks on the disk: copies into the writer's queue. Any thread. */
void store_recorder_add(struct store_recorder *rec, const struct store_result *r);

/* The probes sent so far, written into the sweep record with the next batch. Any thread. */
void store_recorder_progress(struct store_recorder *rec, uint64_t sent);

/*
 * Finishes: waits for the writer to store everything queued, records the misses (only when
 * store_sweep_end_probed_all(final->ended): a stopped or failed sweep did not probe everything),
 * writes the final sweep record (final: end_us, counts, ended; RUNNING, or final NULL, is
 * taken as INTERRUPTED) and frees rec.
 *
 * The misses are this sweep's own: a device inside the covered ranges gets a down observation
 * unless this sweep has an observation of it (looked up in the observations, keyed by this
 * sweep's id, which no other recorder writes) or it was seen up since this sweep started (by a
 * sweep running beside this one: its answer is newer than this sweep's silence). So recorders
 * running at once never mark down what one of them found, and each sweep's new / went_up /
 * went_down count the changes it recorded itself.
 *
 * On a write failure returns the error with err saying what was not stored and why, naming
 * the directory ("no space left on /var/lib/lnmt: 65,536 results of sweep 7 not stored; the
 * store is intact"): a full disk is -ENOSPC, a quota -EDQUOT, a read-only file system -EROFS,
 * as the file system said, though LMDB reports a short write as EIO. The sweep record then
 * says complete = false, and what was committed before stays intact. *stored is the number of
 * results stored (may be NULL).
 */
int store_recorder_close(struct store_recorder *rec, const struct store_sweep *final, uint64_t *stored,
			 char *err, size_t errlen);

/*
 * Starts store_recorder_close()'s work without waiting for it: the writer thread stores what is
 * queued, records the misses, writes the final record (final, copied) and flushes, while the
 * caller does something else (a sweep tearing down: sweep.h's sink->ended). No result may be
 * added after it. store_recorder_close() must still be called: it waits for that work, reports
 * it as it would have done it, and frees rec; its final is then ignored. A second call is a
 * no-op.
 */
void store_recorder_finish(struct store_recorder *rec, const struct store_sweep *final);

/* ---- reading ---- */

struct store_device {
	uint32_t ip;
	bool has_mac;
	uint8_t mac[6];
	char vendor[STORE_VENDOR_LEN];   /* "" when unknown */
	uint8_t state;                   /* STORE_STATE_* (with the offline threshold applied) */
	uint8_t probes;                  /* STORE_PROBE_* that ever answered */
	uint16_t missed;                 /* consecutive sweeps missed */
	uint64_t first_seen_us, last_seen_us, last_change_us;
	uint32_t last_rtt_us;
	uint64_t probes_total, answers_total, changes_total;
	uint16_t n_open;
	uint16_t open_ports[STORE_MAX_OPEN_PORTS]; /* ports open at the last sweep that probed them */
	char name[STORE_NAME_LEN + 1];   /* what people call it (store_note_set); "" when none */
	char note[STORE_NOTE_LEN + 1];   /* free text; "" when none */
};

struct store_filter {
	int state;              /* -1 any, else STORE_STATE_* */
	uint32_t net, mask;     /* subnet filter; mask 0 = any */
	uint64_t seen_since_us; /* last_seen >= this; 0 = any */
	const char *vendor;     /* case-insensitive substring; NULL = any */
	const char *text;       /* case-insensitive substring of the name, note, vendor, MAC
				 * (aa:bb:...) or dotted address; NULL = any */
	uint32_t limit;         /* 0 = no limit */
	bool has_after;
	uint32_t after;         /* cursor: list devices with ip > after */
};

typedef int (*store_device_cb)(void *ctx, const struct store_device *d); /* non-zero stops */

/* Devices in address order matching f. *next is the cursor for the next page and *more says
 * whether there is one (either may be NULL). */
int store_devices_list(struct store *st, const struct store_filter *f, store_device_cb cb, void *ctx,
		       uint32_t *next, bool *more);

/* One device; -ENOENT if never seen. */
int store_device_get(struct store *st, uint32_t ip, struct store_device *out);

struct store_observation {
	uint64_t time_us;
	uint64_t sweep_id;
	uint8_t state;  /* STORE_STATE_* as observed (raw, no threshold) */
	uint8_t probes; /* STORE_PROBE_* that answered */
	uint32_t rtt_us;
};
struct store_change {
	uint64_t time_us;
	uint8_t state;  /* the new STORE_STATE_* */
};
typedef int (*store_observation_cb)(void *ctx, const struct store_observation *o);
typedef int (*store_change_cb)(void *ctx, const struct store_change *c);

/* A device's observations (newest sweep first) and state changes (newest first), at most limit
 * (0 = all). */
int store_device_observations(struct store *st, uint32_t ip, uint32_t limit, store_observation_cb cb, void *ctx);
int store_device_changes(struct store *st, uint32_t ip, uint32_t limit, store_change_cb cb, void *ctx);

struct store_uptime {
	uint32_t ip;
	uint8_t state;
	uint64_t probes, answers, changes; /* within the range */
	double uptime_pct;                 /* 100 * answers / probes; 0 when probes = 0 */
};
typedef int (*store_uptime_cb)(void *ctx, const struct store_uptime *u);

/* Per-device uptime since since_us (to now), devices in net/mask (mask 0 = all), address order.
 * Cost: one roll-up lookup per device, whatever the number of observations. */
int store_report_uptime(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask,
			store_uptime_cb cb, void *ctx);

struct store_subnet_summary {
	uint32_t net;         /* /24 network */
	uint32_t up, down;
};
typedef int (*store_subnet_cb)(void *ctx, const struct store_subnet_summary *s);

struct store_network_report {
	uint64_t devices, up, down;
	uint64_t new_since;              /* first seen at or after since_us */
	uint32_t rtt_p50_us, rtt_p90_us, rtt_p99_us; /* last RTT of devices that are up */
	uint64_t sweeps_since;           /* sweeps started at or after since_us */
	double mean_send_pps;            /* of those sweeps */
};

/* Network-wide figures for devices in net/mask; per-/24 summaries through cb (may be NULL). */
int store_report_network(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask,
			 struct store_network_report *out, store_subnet_cb cb, void *ctx);

struct store_vendor_count {
	const char *vendor;   /* "" = unknown (no MAC, or not in the vendor list); valid during the call */
	uint32_t up, down;    /* devices of that vendor by state (threshold applied) */
};
typedef int (*store_vendor_cb)(void *ctx, const struct store_vendor_count *v); /* non-zero stops */

/* As store_report_network, in the same walk over the devices (so one snapshot): also the
 * devices per vendor through vcb (may be NULL), most devices (up + down) first, ties by name.
 * Both callbacks get ctx; a non-zero return stops that callback's list, not the report. */
int store_report_network_ex(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask,
			    struct store_network_report *out, store_subnet_cb cb, store_vendor_cb vcb, void *ctx);

/* Just the devices per vendor in net/mask (mask 0 = all), ordered as above. */
int store_report_vendors(struct store *st, uint32_t net, uint32_t mask, store_vendor_cb cb, void *ctx);

/* ---- uptime series for charts (series.c) ---- */

/*
 * The "subnet_hourly" database counts, per hour and /24, the observations recorded in that hour
 * (one per device per sweep that covered it: probes) and how many of them were up (answers):
 * per hour, not cumulative, so a chart point is one record and 100 * answers / probes is the
 * subnet's uptime in that hour. An observation's hour is its time as in the device history
 * (the sweep's start), misses at a sweep's end included (probes without answers). The recorder
 * adds them in the transactions that store the observations.
 *
 * Stores written before these counts existed get the database (empty: their earlier history
 * is not counted) when opened for writing; such a store opened read-only has no series
 * (store_has_series() false, every query empty). No schema version change.
 */
struct store_series_point {
	uint32_t hour;            /* whole hours since the epoch: it starts at hour * 3600 s */
	uint32_t net;             /* the group's network: a /24's network & the prefix's mask */
	uint8_t prefix;           /* the group's length, as asked */
	uint64_t probes, answers; /* observations in that hour, and those that were up */
};
typedef int (*store_series_cb)(void *ctx, const struct store_series_point *p); /* non-zero stops */

/* Whether the store keeps the counts (false: read-only open of an older store). */
bool store_has_series(const struct store *st);

/*
 * The counts from the hour that contains since_us to the newest, for the /24s inside net/mask
 * (mask 0 = all), summed per network of `prefix` bits (24: per /24, 16: the /24s of each /16,
 * 0: one total per hour). Hour order, then network order; a network with no observation in an
 * hour has no point there. -EINVAL for a prefix over 24, a mask longer than /24 (the counts are
 * per /24) or one that is not a CIDR mask. Cost: one record read per (hour, /24) in range.
 */
int store_uptime_series(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask, unsigned prefix,
			store_series_cb cb, void *ctx);

/*
 * For a chart with at most max_groups lines: the longest prefix <= `prefix` at which
 * store_uptime_series() over the same range gives at most max_groups networks, into *out (never
 * shorter than net/mask's own length, where there is one network; *groups, which may be NULL,
 * is the number at *out). Reads the range once; -EINVAL as store_uptime_series, or for
 * max_groups 0.
 */
int store_series_prefix(struct store *st, uint64_t since_us, uint32_t net, uint32_t mask, unsigned prefix,
			uint32_t max_groups, unsigned *out, uint32_t *groups);

typedef int (*store_sweep_cb)(void *ctx, const struct store_sweep *s);
/* Sweeps, newest first, at most limit (0 = all). A sweep recorded as running whose process is
 * gone (no process holds the writer lock, or another one than its own) reads INTERRUPTED, as
 * the next writer will record it. */
int store_sweeps_list(struct store *st, uint32_t limit, store_sweep_cb cb, void *ctx);

/* ---- maintenance ---- */

/* A consistent, compacted copy into file path (created; must not exist), taken while others
 * keep writing. */
int store_backup(struct store *st, const char *path, char *err, size_t errlen);

/* Replaces the store in dir with the backup file at path, after checking that it is an lnmt
 * store this binary can read. Atomic: the old store stays if anything fails. */
int store_restore(const char *dir, const char *path, char *err, size_t errlen);

struct store_check_report {
	uint32_t schema_version;
	uint64_t devices, observations, rollups, changes, sweeps;
	uint64_t notes;     /* names and notes, of devices or of addresses never seen */
	uint64_t series;    /* subnet_hourly records: (hour, /24) counts; 0 when the store has none */
	uint64_t map_bytes, used_bytes;
	uint64_t running;       /* sweeps being recorded now */
	uint64_t interrupted;   /* sweeps whose process died before they ended (not a problem) */
	uint64_t interrupted_ids[8]; /* the newest of them, newest first */
	uint64_t problems;  /* inconsistencies found; described through err of store_check */
};
/* Verifies the schema and cross-checks the counts (every observation, roll-up and change
 * belongs to a device; every sweep record's observation count is what the store holds; every
 * note record is well formed). Returns 0 when consistent; interrupted sweeps are counted, they
 * are no inconsistency. */
int store_check(struct store *st, struct store_check_report *out, char *err, size_t errlen);

/* ---- jobs: sweeps the daemon runs on a schedule (jobs.c) ---- */

/*
 * Jobs live in two databases of their own, "jobs" (id -> job) and "job_runs" (id, sequence ->
 * run), next to the device history; a store without them (written before jobs existed) simply
 * has no jobs, and lnmt versions that do not know them ignore them. Job ids come from the meta
 * record "next_job_id" and are never reused. Each job keeps its last STORE_JOB_RUNS_KEPT runs
 * (skips included); older ones are deleted as new ones are recorded.
 */
#define STORE_JOB_RUNS_KEPT 100
#define STORE_JOB_NAME_LEN 64

struct store_job_run {
	uint64_t start_us, end_us;
	uint64_t sweep_id;       /* the sweep it ran as; 0 when it did not run */
	uint64_t found;          /* live addresses */
	bool skipped;            /* not run: its previous run was still going */
	uint8_t ended;           /* enum store_sweep_end, as store_sweep.ended */
	char error[160];         /* why it failed or was skipped; "" when it ran */
};

struct store_job {
	uint64_t id;                     /* assigned by store_job_add */
	char name[STORE_JOB_NAME_LEN];
	char targets[256];               /* target specs, space separated */
	char probes[32];                 /* "icmp", "arp,icmp", ...; "" = the default */
	char ports[64];                  /* SYN ports; "" = the default */
	uint64_t rate_pps;               /* 0 = unlimited */
	uint64_t every_s;                /* interval; 0 when cron is set */
	char cron[64];                   /* minute-level 5-field cron, or "" */
	uint64_t created_us;
	uint64_t next_run_us;            /* when the scheduler starts it next */
	uint64_t runs, skipped;          /* runs recorded, skips recorded */
	struct store_job_run last_run;   /* the newest run that was not a skip; start_us 0: none */
};

/* A handle on the jobs databases of an open store; share it between threads like the store. */
struct store_jobs;

/*
 * Opens the jobs databases of st, creating them (unless st is read-only: then a store without
 * them reads as having no jobs and every write fails with -EROFS). Call it before other threads
 * use st, once per store (LMDB opens named databases only while no other transaction of the
 * process is starting one). st must outlive the handle.
 */
int store_jobs_open(struct store *st, struct store_jobs **out, char *err, size_t errlen);
void store_jobs_close(struct store_jobs *j);

/* Adds job (job->id, ->created_us, ->runs, ->skipped, ->last_run are set here). */
int store_job_add(struct store_jobs *j, struct store_job *job);
/* One job; -ENOENT if there is none with that id. */
int store_job_get(struct store_jobs *j, uint64_t id, struct store_job *out);
/* Removes a job and its runs; -ENOENT if there is none. */
int store_job_remove(struct store_jobs *j, uint64_t id);
/* Sets when the job runs next; -ENOENT if it was removed meanwhile. */
int store_job_set_next_run(struct store_jobs *j, uint64_t id, uint64_t next_run_us);
/*
 * Appends run to the job's history (dropping the oldest beyond STORE_JOB_RUNS_KEPT) and updates
 * the job in the same transaction: runs or skipped counts up, last_run = run unless skipped.
 * -ENOENT if the job was removed meanwhile.
 */
int store_job_record_run(struct store_jobs *j, uint64_t id, const struct store_job_run *run);

typedef int (*store_job_cb)(void *ctx, const struct store_job *job);         /* non-zero stops */
typedef int (*store_job_run_cb)(void *ctx, const struct store_job_run *run); /* non-zero stops */
/* Every job, by id. */
int store_jobs_list(struct store_jobs *j, store_job_cb cb, void *ctx);
/* A job's runs, newest first, at most limit (0 = all kept); -ENOENT if there is no such job. */
int store_job_runs(struct store_jobs *j, uint64_t id, uint32_t limit, store_job_run_cb cb, void *ctx);

/* ---- names and notes: what people call a device (notes.c) ---- */

/*
 * A device's name and free-text note live in the "notes" database (address -> record), apart
 * from the device records the sweeps write, so an annotation may name an address no sweep has
 * found yet (an imported inventory); once a sweep finds it, the device carries it.
 * store_device_get() and store_devices_list() fill store_device.name and .note from it in the
 * same snapshot. The database is created when a store is opened for writing; a store written
 * before notes existed, opened read-only, reads as having none. No schema version change: an
 * lnmt that does not know the database ignores it, and backup/restore copy it with the rest.
 *
 * Text is UTF-8 without control characters (one line), at most STORE_NAME_LEN / STORE_NOTE_LEN
 * bytes. Writes take the store's write transaction like every other write (the recorder's
 * batches and these wait for each other); any thread.
 */
#define STORE_NOTES_IMPORT_MAX 65536   /* edits in one store_notes_import() */

struct store_note {
	uint32_t ip;
	char name[STORE_NAME_LEN + 1];
	char note[STORE_NOTE_LEN + 1];
	uint64_t updated_us;   /* when it was last set */
	bool seen;             /* a sweep has found the address (it is a device) */
};

/* One change: NULL leaves that field as it is, "" clears it; a record left with both empty is
 * deleted. Strings are borrowed for the call. */
struct store_note_edit {
	uint32_t ip;
	const char *name;
	const char *note;
};

/* 0 when name and note (either may be NULL) are acceptable; else -EINVAL with err saying what is
 * wrong ("name is 70 bytes long, the most is 64"; err may be NULL). For callers that check input
 * before they write. */
int store_note_check(const char *name, const char *note, char *err, size_t errlen);

/* Sets the name and/or note of ip (see store_note_edit). -EINVAL with err for bad text (err
 * names the address), -EROFS on a read-only store, else store errors. */
int store_note_set(struct store *st, uint32_t ip, const char *name, const char *note, char *err, size_t errlen);

struct store_notes_import_report {
	uint64_t imported;     /* edits applied (= n) */
	uint64_t known, unknown; /* of those, addresses a sweep has / has not found */
};
/*
 * Applies n edits in one write transaction: all or nothing. Every edit is checked first:
 * -EINVAL with err naming the entry (1-based) for bad text or for an address given twice,
 * LNMT_E_TOOBIG past STORE_NOTES_IMPORT_MAX, -EROFS on a read-only store. out may be NULL.
 */
int store_notes_import(struct store *st, const struct store_note_edit *edits, size_t n,
		       struct store_notes_import_report *out, char *err, size_t errlen);

/* Finds an address given twice in edits: 1 with *first < *second their indices (of all such
 * pairs, the one whose second entry comes first), 0 when all differ, -ENOMEM. */
int store_note_edits_duplicate(const struct store_note_edit *edits, size_t n, size_t *first, size_t *second);

/* The note of ip (seen set); -ENOENT when it has none. */
int store_note_get(struct store *st, uint32_t ip, struct store_note *out);

typedef int (*store_note_cb)(void *ctx, const struct store_note *n); /* non-zero stops */
/* Every note in address order (only those of addresses never seen when unseen_only). */
int store_notes_list(struct store *st, bool unseen_only, store_note_cb cb, void *ctx);

#endif
