// Package redisstore is the Redis implementation of dispatch.Store: any
// number of dispatch nodes share one authoritative state through Redis
// (PRODUCT §6). Claims are atomic across nodes, the event log is a Redis
// Stream, and every node follows that stream to keep its own memory and H3
// index in step.
//
// # Clients
//
// The store talks to Redis through go-redis's UniversalClient, so one code
// path serves a single server, Sentinel and Cluster. Options.Client takes a
// client built by the caller; Options.URL builds one (see Open for the URL
// forms). Redis 6.2 or later is needed (XTRIM MINID).
//
// # Keys
//
// With the default prefix "dispatch" every key carries the hash tag
// "{dispatch}":
//
//	{dispatch}:seq          string: the last sequence number handed out
//	{dispatch}:events       stream: one entry per event, entry ID "<seq>-0"
//	{dispatch}:claims       hash: worker id -> assignment id
//	{dispatch}:kinds        set: record kinds ever written, for Load
//	{dispatch}:rec:<kind>   hash per record kind: id -> value (JSON)
//
// A stream entry holds the fields t (unix nanoseconds), y (type), r
// (region), w (worker), i (incident), a (assignment) and d (data), always
// all seven and in that order: entries with the same fields as the first
// one of their stream node are stored without field names, which roughly
// halves the memory of a small event.
//
// # One shard, on purpose
//
// Commit runs one Lua script that touches several of these keys, and a
// script may only touch keys of one hash slot; hence the shared hash tag.
// On Cluster that puts all dispatch state on one shard. That is acceptable
// and in fact required: the log must have one order, and one order needs
// one place that decides it. The shard's load is one script per engine
// operation (tens of microseconds of Redis CPU, see BENCHMARKS.md);
// Cluster still brings failover and room for other data. Several
// deployments may share a cluster with different prefixes, which spread
// over the shards.
//
// # Commit
//
// The script checks the batch's claims (releases first, then claims, as the
// embedded store does); on a conflict it writes nothing and returns the
// holder. Otherwise it appends each event to the stream with the explicit
// ID "<seq>-0", so stream order is sequence order across all nodes and a
// gap in IDs can only mean trimming, then sets the sequence, writes
// records (HSET, or HDEL for an empty value) and claims. Redis runs a
// script atomically, and with AOF it persists the script's effects as one
// MULTI/EXEC, so a batch is replayed whole or not at all.
//
// The script is sent with EVALSHA (EVAL when the server does not know it)
// and never retried by the client library: a retry after a lost reply
// would run the batch twice and put its events in the log twice. A Commit
// that fails with ErrUnavailable therefore has an unknown outcome; the
// batch may have been applied, and Follow will show it if it was.
//
// A batch's Expect entries are checked first: each record must hold a
// value whose SHA-1 (redis.sha1hex) is the one given, or be absent; if
// not, the script writes nothing and Commit fails with dispatch.ErrStale.
// Records reads named records in one MULTI. Together they let several
// engines guard every invariant kept in a record, not only worker claims.
//
// # Durability
//
// Redis is the durability point: Commit returns once the script has run,
// and Committed.Wait returns nil at once. What "acknowledged" then survives
// depends on the server's persistence, described in docs/operations.md:
// with appendfsync always, a reply is sent only after the AOF is fsynced;
// with everysec, up to about a second of acknowledged commits can be lost
// in an operating-system crash (not in a crash of redis-server alone).
// Replication is asynchronous: a failover may lose the last writes.
//
// # Readers
//
// EventsAfter reads the stream with XRANGE. Follow reads it with XREAD
// BLOCK, checks that every entry it hands on is exactly the next sequence
// number, and on a Redis outage retries with capped backoff and resumes
// after the last event it delivered. A follower that finds the log behind
// its own position (Redis lost writes it had seen) stops with
// ErrLostWrites, which also matches dispatch.ErrLogTruncated: the reader
// must reload.
//
// # Memory and retention
//
// Records are latest state only: a worker's position history lives in the
// event stream alone and goes with it. Options.MaxLen trims the stream
// approximately on every append (XADD MAXLEN ~), Options.Retention trims
// by event time every trimInterval (XTRIM MINID), in bounded steps.
// BENCHMARKS.md has measured bytes per record and per event.
package redisstore
