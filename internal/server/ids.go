package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// idSource makes request ids unique across processes without a syscall per
// request: 8 random bytes chosen at start, then a counter, shaped as a UUID
// (LiteLLM's call ids are UUIDs, and log tooling expects the shape).
type idSource struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newIDSource() *idSource {
	s := &idSource{}
	_, _ = rand.Read(s.prefix[:])
	return s
}

// next appends a new id to dst.
func (s *idSource) next(dst []byte) []byte {
	var raw [16]byte
	copy(raw[:8], s.prefix[:])
	binary.BigEndian.PutUint64(raw[8:], s.n.Add(1))
	raw[6] = raw[6]&0x0f | 0x40 // version 4 layout, so validators accept it
	raw[8] = raw[8]&0x3f | 0x80
	var buf [36]byte
	hex.Encode(buf[0:8], raw[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], raw[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], raw[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], raw[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], raw[10:16])
	return append(dst, buf[:]...)
}
