package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// formatKey holds the version of an instance's key layout (one byte). It
// is absent from instances written before it existed (version 1).
var formatKey = []byte{0xFF, 0xFF, 'f'}

// Layout versions. They differ only in how lists are stored:
//
//	1: uvarint(len(key)) | key | 0x00                  -> element count (8 bytes big-endian)
//	   uvarint(len(key)) | key | 0x01 | seq (8 bytes)  -> element
//	2: uvarint(len(key)) | key | 0x02                  -> every element, as uvarint(len) | bytes
//
// Version 1 cleared a list with a range deletion; a rule that rewrote a
// list on every record left one per record in the memtable, which every
// later read had to fragment again: time grew with the square of the
// input.
const (
	formatV1      = 1
	formatV2      = 2
	formatVersion = formatV2
)

// readFormat returns the layout version of the instance r.
func readFormat(r pebble.Reader, dir string) (int, error) {
	v, closer, err := r.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return formatV1, nil
	case err != nil:
		return 0, fmt.Errorf("state: open %s: %w", dir, err)
	}
	defer closer.Close()
	if len(v) != 1 {
		return 0, fmt.Errorf("state: open %s: corrupt format entry", dir)
	}
	if v[0] > formatVersion {
		return 0, fmt.Errorf("state: %s has state format %d, newer than this build's %d; open it with the weir version that wrote it", dir, v[0], formatVersion)
	}
	return int(v[0]), nil
}

// upgrade brings the instance's layout to formatVersion and records it.
func (b *Backend) upgrade() error {
	ver, err := readFormat(b.db, b.opts.Dir)
	if err != nil || ver == formatVersion {
		return err
	}
	if err := b.upgradeLists(); err != nil {
		return err
	}
	if err := b.db.Set(formatKey, []byte{formatVersion}, pebble.NoSync); err != nil {
		return fmt.Errorf("state: open %s: %w", b.opts.Dir, err)
	}
	return nil
}

// upgradeLists rewrites every list of the instance's key groups stored in
// layout 1 (a count key and one key per element) as one layout-2 value,
// deleting the old keys with point deletions. Lists already in layout 2
// are left alone, so it may run over a mix (a restore from snapshots of
// both layouts).
func (b *Backend) upgradeLists() error {
	kr := b.opts.KeyGroups
	for _, in := range b.states {
		if in.kind != kindList {
			continue
		}
		for kg := kr.Start; kg < kr.End; kg++ {
			lo := appendKGID(nil, kg, in.id)
			if err := b.upgradeListRange(lo, prefixEnd(lo)); err != nil {
				return fmt.Errorf("state: open %s: convert list %q: %w", b.opts.Dir, in.name, err)
			}
		}
	}
	return b.commitWB()
}

func (b *Backend) upgradeListRange(lo, hi []byte) error {
	var prefix, list []byte // the list being converted, and its elements
	flush := func() error {
		if prefix == nil {
			return nil
		}
		err := b.wb.Set(append(prefix, listSuffix), list, nil)
		prefix, list = nil, list[:0]
		if err == nil && b.wb.Len() > 4<<20 {
			err = b.commitWB()
		}
		return err
	}
	err := scanReader(b.db, lo, hi, func(k, v []byte) error {
		n, w := binary.Uvarint(k[4:])
		end := 4 + w + int(n)
		if w <= 0 || n > uint64(len(k)) || end >= len(k) {
			return fmt.Errorf("corrupt list key %q", k)
		}
		p, suffix := k[:end], k[end]
		if suffix == listSuffix {
			return nil
		}
		if prefix != nil && string(p) != string(prefix) {
			if err := flush(); err != nil {
				return err
			}
		}
		switch suffix {
		case 0x00: // the count: the elements say it
		case 0x01:
			if prefix == nil {
				prefix = append([]byte(nil), p...)
			}
			list = binary.AppendUvarint(list, uint64(len(v)))
			list = append(list, v...)
		default:
			return fmt.Errorf("corrupt list key %q", k)
		}
		return b.wb.Delete(k, nil)
	})
	if err == nil {
		err = flush()
	}
	return err
}
