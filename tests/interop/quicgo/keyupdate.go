package main

import _ "unsafe" // go:linkname

// quic-go 0.29 has no API to start a key update. Its handshake package keeps
// the interval (packets sent or received under one key before it rolls the
// keys, default 100000) in an exported variable that its own interop client
// sets to 100; the package is internal (no import allowed), so we reach the variable by its
// link name; quic-go itself links the package in.
//
//go:linkname keyUpdateInterval github.com/lucas-clemente/quic-go/internal/handshake.KeyUpdateInterval
var keyUpdateInterval uint64

// setKeyUpdateInterval must run before any connection is made: the value is
// copied into each connection's AEAD state when it is created.
func setKeyUpdateInterval(n uint64) {
	if n > 0 {
		keyUpdateInterval = n
	}
}
