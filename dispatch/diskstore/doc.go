// Package diskstore is the embedded implementation of dispatch.Store: one
// process, one file on local disk, no other server (PRODUCT §6).
//
// # Why bbolt
//
// The store sits on go.etcd.io/bbolt because it is pure Go (no cgo beside
// the H3 index), keeps everything in a single file, has ACID read-write
// transactions that fsync on commit, and is the storage engine under etcd,
// so its crash behaviour has been exercised far harder than anything we
// would write ourselves. Its one weakness, a single writer with an fsync per
// transaction, is what group commit below answers.
//
// # Durability
//
// An acknowledged Commit (Committed.Wait returned nil) survives kill -9 and
// power loss to the extent the disk honours fsync: bbolt's NoSync stays
// false and nothing is acknowledged before its transaction has committed.
// Events are never handed to readers (EventsAfter, Follow) before they are
// durable either, so a client never sees a change that a crash could undo.
//
// # Group commit
//
// Commit validates claims and fixes sequence numbers under a mutex, then
// queues the batch and returns. One writer goroutine takes everything queued,
// writes it in one bbolt transaction (one pair of fsyncs for all of it),
// then wakes the waiters and the followers. Throughput therefore grows with
// the number of concurrent committers instead of being capped at one batch
// per disk sync. If a write fails the store is broken for good: every later
// Commit returns that error rather than pretending.
//
// # Layout
//
//	events   big-endian seq -> 8-byte big-endian unix nanos, then the
//	         event's strings and Data, each length-prefixed
//	records  one nested bucket per RecordKind: id -> value (JSON)
//	claims   worker id -> assignment id
//	meta     "format" (layout version), "last_seq" (kept even when
//	         retention trims every event)
//
// The time prefix lets retention find expired events without decoding them.
//
// # Options chosen for bbolt
//
// NoFreelistSync is on with the hashmap freelist: the freelist is not
// written at each commit (less I/O per sync on a log that deletes from its
// head all the time) and is rebuilt by scanning at Open. That costs start-up
// time, not durability: the freelist is derived data. The mmap starts large
// so that a reader does not hold up the writer while the file grows.
//
// # Retention
//
// With Options.Retention or Options.MaxEvents set, the writer deletes the
// oldest events periodically, in bounded transactions between group
// commits. This is also how position history is kept for a limited time
// (PRODUCT §9). A reader asking for trimmed events gets
// dispatch.ErrLogTruncated and must reload a snapshot (PRODUCT §5).
package diskstore
