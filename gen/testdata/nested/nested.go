// Package nested has records inside records, pointers, slices and maps.
package nested

import "time"

// Node is a recursive record.
//
//weir:record
type Node struct {
	Name     string           `json:"name"`
	Children []*Node          `json:"children"`
	Parent   *Node            `json:"-"`
	Attrs    map[string]Attr  `json:"attrs"`
	ByID     map[int32][]Leaf `json:"by_id"`
	Weights  map[float32]int8 `json:"weights"`
	Seen     *time.Time       `json:"seen"`
	Matrix   [][]float64      `json:"matrix"`
	PP       **int            `json:"pp"`
}

// Attr is not marked: it gets codecs but no registration.
type Attr struct {
	Key   string `json:"key"`
	Value *Leaf  `json:"value"`
}

// Leaf is a record used inside Node.
//
//weir:record
type Leaf struct {
	V  uint64    `json:"v"`
	At time.Time `json:"at" weir:"eventtime"`
}

// Wrap is a record whose only field is another record.
//
//weir:record
type Wrap struct {
	Leaf Leaf
}
