// Package fraud is a copy of the seed pipeline's records and transforms.
package fraud

import (
	"strings"
	"time"

	"github.com/weirflow/weir/sdk"
)

// Txn is one card transaction.
//
//weir:record
type Txn struct {
	UserID   string    `json:"user_id" parquet:"user_id"`
	Amount   int64     `json:"amount" parquet:"amount"`
	Merchant string    `json:"merchant" parquet:"merchant"`
	At       time.Time `json:"ts" parquet:"ts,timestamp(microsecond)" weir:"eventtime"`
}

// UserTotal is one output row.
//
//weir:record
type UserTotal struct {
	UserID      string    `json:"user_id"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Total       int64     `json:"total"`
	Count       int64     `json:"count"`
}

// SumCount is an accumulator; not a record.
type SumCount struct{ Total, Count int64 }

// Large keeps big transactions.
//
//weir:transform
func Large(t Txn) bool { return t.Amount > 1000 }

// UserOf keys by user.
//
//weir:transform
func UserOf(t Txn) string { return t.UserID }

// ToUserTotal takes a generic instantiation from another package.
//
//weir:transform
func ToUserTotal(r sdk.Result[string, SumCount]) UserTotal {
	return UserTotal{UserID: r.Key, Total: r.Value.Total, Count: r.Value.Count}
}

// Merchants emits the words of the merchant name.
//
//weir:transform
func Merchants(t Txn, emit func(string)) {
	for _, w := range strings.Fields(t.Merchant) {
		emit(w)
	}
}

// Stamp pairs a transaction with its time, a map to a pointer type.
//
//weir:transform
func Stamp(t Txn) *sdk.Timestamp {
	ts := sdk.Timestamp(t.At.UnixMicro())
	return &ts
}

// NotATransform has no annotation and gets no kernel.
func NotATransform(t Txn) bool { return false }
