// Package epoch has records whose event time is an integer count of
// milliseconds or microseconds since the epoch.
package epoch

// Click carries epoch milliseconds, as many producers write them.
//
//weir:record
type Click struct {
	UserID string `json:"user_id"`
	TS     int64  `json:"ts" parquet:"ts" weir:"eventtime,unixmilli"`
}

// Micros is a defined type of int.
type Micros int

// View carries epoch microseconds in a defined type.
//
//weir:record
type View struct {
	Page string `json:"page"`
	At   Micros `json:"at" weir:"eventtime,unixmicro"`
}
