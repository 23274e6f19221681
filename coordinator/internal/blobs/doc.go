// Package blobs is a coordinator's store of submitted job binaries,
// content-addressed by SHA-256: DIR/<sha256>, one file per binary.
//
// # What it owns
//
// Its directory (created 0700). A write goes to a temporary file
// (DIR/.tmp-*), hashed while it is written, limited in size, synced,
// made 0700 (executable by its owner alone) and renamed to its hash, so
// a binary is in the store whole or not at all; a refused or failed
// write leaves nothing behind, and Open removes what a crash left.
// [Store.Verify] hashes a stored binary again, so a binary altered on
// disk after upload is refused before it runs ([ErrAltered]).
//
// # Who calls it
//
// The coordinator server: an upload is Put (then checked with bincheck
// and pushed to the other coordinators, which PutExpect it), a worker's
// fetch is Open after Verify.
//
// # Goroutines
//
// None. A Store holds no mutable state and is safe for concurrent use:
// concurrent writes of the same binary each rename their own complete
// file into place.
package blobs
