// Package testlog gives tests a log they can read while a server they
// started is still writing to it.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer whose contents may be read at any time, from any
// goroutine.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
