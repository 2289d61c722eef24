package web

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkLimit is how much a corked connection collects before it writes
// anyway; it bounds the pooled buffer, not the batch.
const corkLimit = 64 << 10

// corkPool holds the buffers of corked connections. A connection holds
// one only while its writer drains a batch, so idle connections pin none.
var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, corkLimit); return &b }}

// corkConn lets a stream's writer send a batch of websocket messages in
// one system call: between cork and uncork, the frames gorilla writes
// (control frames from the reader included) collect in a buffer. A desk
// that receives a thousand events a second then costs a few writes a
// second, not a thousand, on both ends of the socket.
type corkConn struct {
	net.Conn

	mu     sync.Mutex
	buf    *[]byte // non-nil while corked
	err    error   // the first failed write; every later write fails too
	writes int     // system calls made (for tests)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.buf == nil {
		return c.writeLocked(p)
	}
	if err := c.collectLocked(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// collectLocked adds p to the corked batch, writing the batch first if p
// would overflow it (and p itself at once if it alone would: the pooled
// buffer stays small).
func (c *corkConn) collectLocked(p []byte) error {
	if len(*c.buf)+len(p) > corkLimit {
		if err := c.flushLocked(); err != nil {
			return err
		}
		if len(p) > corkLimit {
			_, err := c.writeLocked(p)
			return err
		}
	}
	*c.buf = append(*c.buf, p...)
	return nil
}

// SetWriteDeadline is gorilla's, before each frame; while corked nothing
// reaches the socket, and uncork sets its own deadline.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf != nil {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *corkConn) writeLocked(p []byte) (int, error) {
	c.writes++
	n, err := c.Conn.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// flushLocked writes what was collected. Gorilla's deadlines were not
// passed on while corked, so it sets its own.
func (c *corkConn) flushLocked() error {
	if len(*c.buf) == 0 {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
		c.err = err
		return err
	}
	_, err := c.writeLocked(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// cork starts collecting writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = corkPool.Get().(*[]byte)
	}
}

// uncork writes what was collected, within writeWait, and stops
// collecting.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.err
	}
	var err error
	if c.err == nil {
		err = c.flushLocked()
	}
	*c.buf = (*c.buf)[:0]
	corkPool.Put(c.buf)
	c.buf = nil
	if err != nil {
		return err
	}
	return c.err
}

// writeRaw writes one whole, already framed message (wireFrame): into
// the batch while corked, else straight out within writeWait. A frame is
// appended whole under the lock, so gorilla's own frames (pongs, close)
// never land inside it.
func (c *corkConn) writeRaw(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.buf == nil {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
			return err
		}
		_, err := c.writeLocked(p)
		return err
	}
	return c.collectLocked(p)
}

// wireFrame frames a text message as a server sends it (RFC 6455 §5.2:
// FIN and the text opcode, the payload length, no mask). Events go to
// every desk alike, so they are framed once here rather than by gorilla
// for each connection; gorilla still frames everything else.
func wireFrame(payload []byte) []byte {
	n := len(payload)
	out := make([]byte, 0, n+10)
	out = append(out, 0x81) // FIN, text
	switch {
	case n < 126:
		out = append(out, byte(n))
	case n <= 0xffff:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, payload...)
}

// corkingWriter hands the websocket upgrader a corkConn instead of the
// bare connection.
type corkingWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	return w.conn, brw, nil
}
