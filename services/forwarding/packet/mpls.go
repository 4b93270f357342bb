package packet

import (
	"encoding/binary"
	"fmt"
)

// MPLSLen is the length of one label stack entry.
const MPLSLen = 4

// MaxLabel is the largest 20-bit label value.
const MaxLabel = 1<<20 - 1

// LabelEntry is one MPLS label stack entry (RFC 3032).
type LabelEntry struct {
	Label uint32
	TC    uint8
	S     bool // bottom of stack
	TTL   uint8
}

// ParseLabelEntry parses one entry at the start of b.
func ParseLabelEntry(b []byte) (LabelEntry, error) {
	if len(b) < MPLSLen {
		return LabelEntry{}, fmt.Errorf("mpls label: %w", ErrShort)
	}
	return DecodeLabelEntry(binary.BigEndian.Uint32(b)), nil
}

// DecodeLabelEntry decodes a 32-bit label stack entry.
func DecodeLabelEntry(v uint32) LabelEntry {
	return LabelEntry{Label: v >> 12, TC: uint8(v>>9) & 7, S: v&0x100 != 0, TTL: uint8(v)}
}

// Encode returns the 32-bit entry.
func (l LabelEntry) Encode() uint32 {
	v := (l.Label&MaxLabel)<<12 | uint32(l.TC&7)<<9 | uint32(l.TTL)
	if l.S {
		v |= 0x100
	}
	return v
}

// Put writes the entry into b[0:4].
func (l LabelEntry) Put(b []byte) { binary.BigEndian.PutUint32(b, l.Encode()) }

// ParseLabelStack parses entries up to and including the bottom of stack and
// returns them with the number of bytes consumed. A stack without a bottom
// entry within b is an error.
func ParseLabelStack(b []byte) ([]LabelEntry, int, error) {
	var st []LabelEntry
	for off := 0; ; off += MPLSLen {
		l, err := ParseLabelEntry(b[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("label stack without bottom: %w", err)
		}
		st = append(st, l)
		if l.S {
			return st, off + MPLSLen, nil
		}
	}
}

func (l LabelEntry) String() string {
	s := 0
	if l.S {
		s = 1
	}
	return fmt.Sprintf("label %d tc %d s %d ttl %d", l.Label, l.TC, s, l.TTL)
}
