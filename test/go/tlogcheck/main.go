// Command tlogcheck verifies a signed checkpoint, inclusion proofs, consistency proofs and (when a
// tile URL is given) C2SP tlog-tiles of a log, using only code not written in this repository:
// golang.org/x/mod/sumdb/{note,tlog} and github.com/transparency-dev/formats/{note,log}.
//
// It reads one JSON request on stdin and writes one JSON result on stdout. Exit status: 0 when every
// check passed, 1 when a check failed, 2 on bad input (the request itself cannot be understood).
// The test suite drives it through test/support/go-tlog.ts.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	tdlog "github.com/transparency-dev/formats/log"
	tdnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusionItem struct {
	Index    *int64   `json:"index"`
	LeafData *string  `json:"leafData"`
	Proof    []string `json:"proof"`
}

type consistencyItem struct {
	OldSize *int64   `json:"oldSize"`
	OldRoot *string  `json:"oldRoot"`
	Proof   []string `json:"proof"`
}

type request struct {
	VerifierKey   string            `json:"verifierKey"`
	Origin        string            `json:"origin"`
	Checkpoint    string            `json:"checkpoint"`
	TileBaseURL   string            `json:"tileBaseUrl"`
	Authorization string            `json:"authorization"`
	Inclusion     []inclusionItem   `json:"inclusion"`
	Consistency   []consistencyItem `json:"consistency"`
}

type result struct {
	OK     bool   `json:"ok"`
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"`
	// Extension lines after the root (tlog-checkpoint allows them; they are reported, not judged).
	Extensions []string `json:"extensions"`
	Tiles      []string `json:"tiles"`
	Errors     []string `json:"errors"`
}

// badInput ends the run with exit status 2: the request, not the log, is at fault.
func badInput(format string, args ...any) {
	out := result{Errors: []string{"bad input: " + fmt.Sprintf(format, args...)}, Extensions: []string{}, Tiles: []string{}}
	_ = json.NewEncoder(os.Stdout).Encode(out)
	os.Exit(2)
}

func decodeHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("invalid base64 %q: %v", s, err)
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("hash %q is %d bytes, want %d", s, len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

func decodeProof(p []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(p))
	for i, s := range p {
		h, err := decodeHash(s)
		if err != nil {
			return nil, fmt.Errorf("proof[%d]: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func encodeProof(p []tlog.Hash) []string {
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

func sameProof(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// httpTiles is a tlog.TileReader over a C2SP tlog-tiles server. Go's tiles carry their height in
// the path (tile/8/L/N); C2SP fixes the height at 8 and drops that segment (tile/L/N).
type httpTiles struct {
	base    string
	auth    string
	client  *http.Client
	fetched []string
}

func (t *httpTiles) Height() int { return 8 }

func (t *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// c2spPath maps Go's tile/8/L/N[.p/W] to C2SP's tile/L/N[.p/W].
func c2spPath(tile tlog.Tile) (string, error) {
	p := tile.Path()
	if tile.H != 8 || !strings.HasPrefix(p, "tile/8/") {
		return "", fmt.Errorf("unexpected tile %s", p)
	}
	return "tile/" + strings.TrimPrefix(p, "tile/8/"), nil
}

func (t *httpTiles) get(path string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, t.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	t.fetched = append(t.fetched, fmt.Sprintf("%s %d", path, resp.StatusCode))
	return resp.StatusCode, body, nil
}

func snippet(body []byte) []byte { return bytes.TrimSpace(body[:min(len(body), 200)]) }

func (t *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path, err := c2spPath(tile)
		if err != nil {
			return nil, err
		}
		status, body, err := t.get(path)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %v", path, err)
		}
		want := tile.W * tlog.HashSize
		// tlog-tiles: a client that gets 404 for a partial tile may use the full tile instead, whose
		// first W hashes are the partial tile's.
		if status == http.StatusNotFound && tile.W < 1<<tile.H {
			full := tile
			full.W = 1 << tile.H
			fullPath, _ := c2spPath(full)
			fullStatus, fullBody, err := t.get(fullPath)
			if err != nil {
				return nil, fmt.Errorf("GET %s: status 404, then GET %s: %v", path, fullPath, err)
			}
			if fullStatus != http.StatusOK {
				return nil, fmt.Errorf("GET %s: status 404, then GET %s: status %d: %s", path, fullPath, fullStatus, snippet(fullBody))
			}
			if len(fullBody) != full.W*tlog.HashSize {
				return nil, fmt.Errorf("GET %s: status 404, then GET %s: %d bytes, want %d", path, fullPath, len(fullBody), full.W*tlog.HashSize)
			}
			status, body = fullStatus, fullBody[:want]
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d: %s", path, status, snippet(body))
		}
		if len(body) != want {
			return nil, fmt.Errorf("GET %s: %d bytes, want %d (%d hashes)", path, len(body), want, tile.W)
		}
		data[i] = body
	}
	return data, nil
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		badInput("reading stdin: %v", err)
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badInput("request JSON: %v", err)
	}
	if req.VerifierKey == "" || req.Origin == "" || req.Checkpoint == "" {
		badInput("verifierKey, origin and checkpoint are required")
	}
	verifier, err := tdnote.NewECDSAVerifier(req.VerifierKey)
	if err != nil {
		badInput("verifierKey: %v", err)
	}

	// Decode every item before checking anything, so a malformed request never half-runs.
	type incl struct {
		index int64
		leaf  []byte
		proof []tlog.Hash
		err   error
	}
	type cons struct {
		oldSize int64
		oldRoot tlog.Hash
		proof   []tlog.Hash
		err     error
	}
	inclusions := make([]incl, len(req.Inclusion))
	for i, it := range req.Inclusion {
		if it.Index == nil || it.LeafData == nil || it.Proof == nil {
			badInput("inclusion[%d]: index, leafData and proof are required", i)
		}
		leaf, err := base64.StdEncoding.DecodeString(*it.LeafData)
		if err != nil {
			badInput("inclusion[%d] (index %d): leafData: %v", i, *it.Index, err)
		}
		proof, perr := decodeProof(it.Proof)
		inclusions[i] = incl{index: *it.Index, leaf: leaf, proof: proof, err: perr}
	}
	consistencies := make([]cons, len(req.Consistency))
	for i, it := range req.Consistency {
		if it.OldSize == nil || it.OldRoot == nil || it.Proof == nil {
			badInput("consistency[%d]: oldSize, oldRoot and proof are required", i)
		}
		root, rerr := decodeHash(*it.OldRoot)
		proof, perr := decodeProof(it.Proof)
		consistencies[i] = cons{oldSize: *it.OldSize, oldRoot: root, proof: proof, err: errors.Join(rerr, perr)}
	}

	res := result{Errors: []string{}, Extensions: []string{}, Tiles: []string{}}
	fail := func(format string, args ...any) { res.Errors = append(res.Errors, fmt.Sprintf(format, args...)) }
	finish := func() {
		res.OK = len(res.Errors) == 0
		_ = json.NewEncoder(os.Stdout).Encode(res)
		if res.OK {
			os.Exit(0)
		}
		os.Exit(1)
	}

	// The signed note: the pinned key must have signed it; signatures by other keys are ignored.
	n, err := note.Open([]byte(req.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
		finish()
	}
	var cp tdlog.Checkpoint
	extra, err := cp.Unmarshal([]byte(n.Text))
	if err != nil {
		fail("checkpoint body: %v", err)
		finish()
	}
	res.Origin, res.Size, res.Root = cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash)
	if cp.Origin != req.Origin {
		fail("checkpoint origin %q, want %q", cp.Origin, req.Origin)
	}
	// tlog-checkpoint: the size is decimal with no leading zeroes.
	if lines := strings.SplitN(n.Text, "\n", 3); len(lines) > 1 && lines[1] != strconv.FormatUint(cp.Size, 10) {
		fail("checkpoint size line %q is not canonical decimal", lines[1])
	}
	if len(extra) > 0 {
		res.Extensions = strings.Split(strings.TrimSuffix(string(extra), "\n"), "\n")
	}
	if len(cp.Hash) != tlog.HashSize {
		fail("checkpoint root is %d bytes, want %d", len(cp.Hash), tlog.HashSize)
		finish()
	}
	if cp.Size > 1<<62 {
		fail("checkpoint size %d too large", cp.Size)
		finish()
	}
	size := int64(cp.Size)
	var root tlog.Hash
	copy(root[:], cp.Hash)

	for i, it := range inclusions {
		name := fmt.Sprintf("inclusion[%d] (index %d)", i, it.index)
		if it.err != nil {
			fail("%s: %v", name, it.err)
			continue
		}
		if err := tlog.CheckRecord(it.proof, size, root, it.index, tlog.RecordHash(it.leaf)); err != nil {
			fail("%s: CheckRecord against size %d: %v", name, size, err)
		}
	}
	for i, it := range consistencies {
		name := fmt.Sprintf("consistency[%d] (old size %d)", i, it.oldSize)
		if it.err != nil {
			fail("%s: %v", name, it.err)
			continue
		}
		if err := tlog.CheckTree(it.proof, size, root, it.oldSize, it.oldRoot); err != nil {
			fail("%s: CheckTree against size %d: %v", name, size, err)
		}
	}

	if req.TileBaseURL != "" && size > 0 {
		tiles := &httpTiles{base: req.TileBaseURL, auth: req.Authorization, client: &http.Client{Timeout: 15 * time.Second}}
		reader := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tiles)
		if th, err := tlog.TreeHash(size, reader); err != nil {
			fail("tiles: TreeHash(%d): %v", size, err)
		} else if th != root {
			fail("tiles: TreeHash(%d) = %s, checkpoint root %s", size, th, root)
		} else {
			for i, it := range inclusions {
				if it.err != nil || it.index < 0 || it.index >= size {
					continue
				}
				name := fmt.Sprintf("inclusion[%d] (index %d)", i, it.index)
				p, err := tlog.ProveRecord(size, it.index, reader)
				if err != nil {
					fail("%s: tiles: ProveRecord: %v", name, err)
				} else if !sameProof(p, it.proof) {
					fail("%s: proof differs from the one the tiles give: got %v, tiles give %v", name, it.proof, encodeProof(p))
				}
			}
			for i, it := range consistencies {
				if it.err != nil || it.oldSize < 1 || it.oldSize > size {
					continue
				}
				name := fmt.Sprintf("consistency[%d] (old size %d)", i, it.oldSize)
				if oh, err := tlog.TreeHash(it.oldSize, reader); err != nil {
					fail("%s: tiles: TreeHash: %v", name, err)
				} else if oh != it.oldRoot {
					fail("%s: old root differs from the tiles' tree hash %s", name, oh)
				}
				p, err := tlog.ProveTree(size, it.oldSize, reader)
				if err != nil {
					fail("%s: tiles: ProveTree: %v", name, err)
				} else if !sameProof(p, it.proof) {
					fail("%s: proof differs from the one the tiles give: got %v, tiles give %v", name, encodeProof(it.proof), encodeProof(p))
				}
			}
		}
		res.Tiles = tiles.fetched
	}
	finish()
}
