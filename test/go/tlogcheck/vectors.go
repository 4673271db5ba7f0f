//go:build tools

package main

// Not compiled into tlogcheck: this import keeps github.com/transparency-dev/merkle in go.mod and
// go.sum, so the test suite fetches that module's testdata (inclusion and consistency proof vectors)
// at the pinned version, verified by go.sum. See test/support/go-tlog.ts.
import _ "github.com/transparency-dev/merkle"
