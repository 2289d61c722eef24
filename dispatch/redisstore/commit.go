package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jjj-social-work/dispatch/dispatch"
	"github.com/redis/go-redis/v9"
)

// maxIDLen bounds ids and kinds, as the embedded store's key size does, so
// that a batch valid for one store is valid for the other.
const maxIDLen = 32768

// commitScript applies one batch. Its keys and arguments, as commitArgs
// builds them:
//
//	KEYS  seq, events, claims, kinds, then one record hash per kind
//	ARGV  #releases, #claims, #events, #records, maxlen, #expects,
//	      the released worker ids,
//	      the claims as worker, assignment,
//	      the events as given seq ("0" if none), t, y, r, w, i, a, d,
//	      the records as KEYS index, id, value ("" deletes),
//	      the kind of each record hash, in KEYS order,
//	      the expects as KEYS index, id, SHA-1 hex ("" for absent)
//
// It returns {1, first seq} on success, {0, worker, assignment, holder} on
// a claim conflict, {2, event index, next seq} when an event's given seq
// is not the next one and {3, expect index} when a record no longer holds
// what the writer expected; in every refusal it has written nothing. Every
// check comes before the first write, and the first write is the one most
// likely to fail (XADD, if the stream ran ahead of the sequence): Redis
// does not undo a script's writes when a later command in it fails.
var commitScript = newScript(`
local nrel, ncl, nev, nrec = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxlen, nexp = ARGV[5], tonumber(ARGV[6])
local p = 7
local expFrom = p + nrel + 2 * ncl + 8 * nev + 3 * nrec + (#KEYS - 4)
for i = 0, nexp - 1 do
  local q = expFrom + i * 3
  local v = redis.call('HGET', KEYS[tonumber(ARGV[q])], ARGV[q + 1])
  local want = ARGV[q + 2]
  if (want == '' and v) or (want ~= '' and (not v or redis.sha1hex(v) ~= want)) then
    return {3, i}
  end
end
local released = {}
local relFrom = p
for i = 1, nrel do
  released[ARGV[p]] = true
  p = p + 1
end
local staged = {}
local order = {}
for i = 1, ncl do
  local w, a = ARGV[p], ARGV[p + 1]
  p = p + 2
  local held = staged[w]
  if held == nil and not released[w] then
    held = redis.call('HGET', KEYS[3], w)
  end
  if held and held ~= a then
    return {0, w, a, held}
  end
  if staged[w] == nil then
    order[#order + 1] = w
  end
  staged[w] = a
end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local evFrom = p
for i = 0, nev - 1 do
  local given = ARGV[evFrom + i * 8]
  if given ~= '0' and tonumber(given) ~= last + i + 1 then
    return {2, i, last + i + 1}
  end
end
for i = 0, nev - 1 do
  local q = evFrom + i * 8
  local id = string.format('%d-0', last + i + 1)
  if maxlen ~= '0' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, id, 't', ARGV[q + 1], 'y', ARGV[q + 2],
      'r', ARGV[q + 3], 'w', ARGV[q + 4], 'i', ARGV[q + 5], 'a', ARGV[q + 6], 'd', ARGV[q + 7])
  else
    redis.call('XADD', KEYS[2], id, 't', ARGV[q + 1], 'y', ARGV[q + 2],
      'r', ARGV[q + 3], 'w', ARGV[q + 4], 'i', ARGV[q + 5], 'a', ARGV[q + 6], 'd', ARGV[q + 7])
  end
end
if nev > 0 then
  redis.call('SET', KEYS[1], string.format('%d', last + nev))
end
p = evFrom + nev * 8
local kindFrom = p + nrec * 3
local upserted = {}
for i = 0, nrec - 1 do
  local q = p + i * 3
  local k = tonumber(ARGV[q])
  if ARGV[q + 2] == '' then
    redis.call('HDEL', KEYS[k], ARGV[q + 1])
  elseif redis.call('HSET', KEYS[k], ARGV[q + 1], ARGV[q + 2]) == 1 then
    upserted[k] = true -- a new field: the hash may be new too
  end
end
for k = 5, #KEYS do
  if upserted[k] then
    redis.call('SADD', KEYS[4], ARGV[kindFrom + k - 5])
  end
end
for i = 0, nrel - 1 do
  redis.call('HDEL', KEYS[3], ARGV[relFrom + i])
end
for _, w in ipairs(order) do
  redis.call('HSET', KEYS[3], w, staged[w])
end
return {1, last + 1}
`)

// batch is a validated Batch, ready for the script.
type batch struct {
	events   []dispatch.Event // private copies; Seq as given, Time set later
	records  []dispatch.Record
	claims   []dispatch.Claim
	releases []string
	expects  []dispatch.Expect
}

func (b *batch) empty() bool {
	return len(b.events) == 0 && len(b.records) == 0 && len(b.claims) == 0 && len(b.releases) == 0
}

// prepare validates b by the embedded store's rules and copies what the
// caller may reuse.
func prepare(b dispatch.Batch) (*batch, error) {
	p := &batch{
		events:   slices.Clone(b.Events),
		records:  make([]dispatch.Record, len(b.Records)),
		claims:   slices.Clone(b.Claims),
		releases: slices.Clone(b.Releases),
		expects:  slices.Clone(b.Expect),
	}
	for i := range p.events {
		e := &p.events[i]
		switch {
		case e.Type == "":
			return nil, fmt.Errorf("event %d: empty type", i)
		case len(e.Data) > 0 && !json.Valid(e.Data):
			return nil, fmt.Errorf("event %d: data is not valid JSON", i)
		case !e.Time.IsZero() && !validTime(e.Time):
			return nil, fmt.Errorf("event %d: time out of range", i)
		}
		if len(e.Data) > 0 {
			e.Data = bytes.Clone(e.Data)
		} else {
			e.Data = nil
		}
		if !e.Time.IsZero() {
			e.Time = e.Time.UTC()
		}
	}
	for i, r := range b.Records {
		switch {
		case r.Kind == "":
			return nil, fmt.Errorf("record %d: empty kind", i)
		case r.ID == "":
			return nil, fmt.Errorf("record %d: empty id", i)
		case len(r.ID) > maxIDLen || len(r.Kind) > maxIDLen:
			return nil, fmt.Errorf("record %d: id or kind too long", i)
		case len(r.Value) > 0 && !json.Valid(r.Value):
			return nil, fmt.Errorf("record %d: value is not valid JSON", i)
		}
		// An empty Value deletes, like nil: neither is a document to store.
		p.records[i] = dispatch.Record{Kind: r.Kind, ID: r.ID}
		if len(r.Value) > 0 {
			p.records[i].Value = bytes.Clone(r.Value)
		}
	}
	for i, c := range p.claims {
		if c.WorkerID == "" || c.AssignmentID == "" {
			return nil, fmt.Errorf("claim %d: empty worker or assignment id", i)
		}
		if len(c.WorkerID) > maxIDLen || len(c.AssignmentID) > maxIDLen {
			return nil, fmt.Errorf("claim %d: worker or assignment id too long", i)
		}
	}
	for i, w := range p.releases {
		if w == "" {
			return nil, fmt.Errorf("release %d: empty worker id", i)
		}
	}
	for i, x := range p.expects {
		switch {
		case x.Kind == "" || x.ID == "":
			return nil, fmt.Errorf("expect %d: empty kind or id", i)
		case len(x.ID) > maxIDLen || len(x.Kind) > maxIDLen:
			return nil, fmt.Errorf("expect %d: id or kind too long", i)
		case x.SHA1 != "" && !isSHA1Hex(x.SHA1):
			return nil, fmt.Errorf("expect %d: sha1 is not 40 lowercase hex digits", i)
		}
	}
	return p, nil
}

func isSHA1Hex(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validTime reports whether t survives the unix-nanos encoding.
func validTime(t time.Time) bool { return time.Unix(0, t.UnixNano()).Equal(t) }

// commitArgs lays b out for commitScript.
func (s *Store) commitArgs(b *batch) (keys []string, args []any) {
	keys = []string{s.keys.seq, s.keys.events, s.keys.claims, s.keys.kinds}
	var kinds []string
	kindIndex := map[dispatch.RecordKind]int{}
	addKind := func(k dispatch.RecordKind) {
		if _, ok := kindIndex[k]; !ok {
			kindIndex[k] = len(keys) + 1 // Lua indexes from 1
			keys = append(keys, s.keys.record(string(k)))
			kinds = append(kinds, string(k))
		}
	}
	for _, r := range b.records {
		addKind(r.Kind)
	}
	for _, x := range b.expects {
		addKind(x.Kind)
	}
	args = make([]any, 0, 6+len(b.releases)+2*len(b.claims)+8*len(b.events)+3*len(b.records)+len(kinds)+3*len(b.expects))
	args = append(args, len(b.releases), len(b.claims), len(b.events), len(b.records), s.opts.MaxLen, len(b.expects))
	for _, w := range b.releases {
		args = append(args, w)
	}
	for _, c := range b.claims {
		args = append(args, c.WorkerID, c.AssignmentID)
	}
	for _, e := range b.events {
		args = append(args, strconv.FormatUint(e.Seq, 10), strconv.FormatInt(e.Time.UnixNano(), 10),
			e.Type, e.Region, e.WorkerID, e.IncidentID, e.AssignmentID, []byte(e.Data))
	}
	for _, r := range b.records {
		args = append(args, kindIndex[r.Kind], r.ID, []byte(r.Value))
	}
	for _, k := range kinds {
		args = append(args, k)
	}
	for _, x := range b.expects {
		args = append(args, kindIndex[x.Kind], x.ID, x.SHA1)
	}
	return keys, args
}

// Commit applies b in one Lua script: all of it or, on a claim conflict
// (an error wrapping dispatch.ErrClaimed), a failed Expect (wrapping
// dispatch.ErrStale) or any other error, none of it.
// Sequence numbers come from Redis, so they are unique and increasing
// across every node sharing the prefix. Committed.Wait returns nil at
// once: the batch is as durable as Redis makes it when Commit returns.
//
// An error wrapping ErrUnavailable leaves the outcome unknown (see the
// package doc). Event times are UTC with nanosecond precision; Data is
// kept byte for byte.
func (s *Store) Commit(ctx context.Context, b dispatch.Batch) (dispatch.Committed, error) {
	if err := ctx.Err(); err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	if s.closed.Load() {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", ErrClosed)
	}
	p, err := prepare(b)
	if err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	if p.empty() {
		return dispatch.Committed{Wait: waitNothing}, nil
	}
	var now time.Time
	for i := range p.events {
		if p.events[i].Time.IsZero() {
			if now.IsZero() {
				now = s.now().UTC()
			}
			p.events[i].Time = now
		}
	}
	keys, args := s.commitArgs(p)
	res, err := s.runOnce(ctx, commitScript, keys, args)
	if err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", s.classify(ctx, err))
	}
	first, err := commitResult(res)
	if err != nil {
		return dispatch.Committed{}, fmt.Errorf("commit: %w", err)
	}
	for i := range p.events {
		p.events[i].Seq = first + uint64(i)
	}
	return dispatch.Committed{Events: p.events, Wait: waitNothing}, nil
}

func waitNothing(context.Context) error { return nil }

// commitResult reads commitScript's reply: the first seq, or the refusal.
func commitResult(res any) (uint64, error) {
	r, ok := res.([]any)
	if !ok || len(r) < 2 {
		return 0, fmt.Errorf("unexpected script reply %v", res)
	}
	code, _ := r[0].(int64)
	switch {
	case code == 1:
		first, ok := r[1].(int64)
		if !ok || first < 1 {
			return 0, fmt.Errorf("unexpected script reply %v", res)
		}
		return uint64(first), nil
	case code == 0 && len(r) == 4:
		return 0, fmt.Errorf("claim worker %v for %v: held for %v: %w", r[1], r[2], r[3], dispatch.ErrClaimed)
	case code == 3 && len(r) == 2:
		return 0, fmt.Errorf("expect %v: %w", r[1], dispatch.ErrStale)
	case code == 2 && len(r) == 3:
		return 0, fmt.Errorf("event %v: seq given, next is %v", r[1], r[2])
	}
	return 0, fmt.Errorf("unexpected script reply %v", res)
}

// onceCmd is a command the client library must not send a second time: a
// retry after a lost reply could apply a batch twice.
type onceCmd struct{ *redis.Cmd }

func (onceCmd) NoRetry() bool { return true }

// script is a Lua script and its SHA-1, for EVALSHA.
type script struct{ src, hash string }

func newScript(src string) script { return script{src: src, hash: redis.NewScript(src).Hash()} }

// runOnce runs sc with EVALSHA, or EVAL if the server does not have it
// cached, with no retries. NOSCRIPT means nothing ran, so EVAL is safe.
func (s *Store) runOnce(ctx context.Context, sc script, keys []string, args []any) (any, error) {
	run := func(name, body string) (any, error) {
		cmdArgs := make([]any, 0, 3+len(keys)+len(args))
		cmdArgs = append(cmdArgs, name, body, len(keys))
		for _, k := range keys {
			cmdArgs = append(cmdArgs, k)
		}
		cmd := redis.NewCmd(ctx, append(cmdArgs, args...)...)
		_ = s.rdb.Process(ctx, onceCmd{cmd})
		return cmd.Result()
	}
	res, err := run("evalsha", sc.hash)
	if err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		res, err = run("eval", sc.src)
	}
	return res, err
}
