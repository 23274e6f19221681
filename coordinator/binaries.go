package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/weirflow/weir/coordinator/api"
	"github.com/weirflow/weir/coordinator/internal/blobs"
	"github.com/weirflow/weir/coordinator/internal/raftnode"
	"github.com/weirflow/weir/coordinator/state"
	"github.com/weirflow/weir/internal/msg"
)

var errTooLarge = errors.New("coordinator: binary too large")

// limitReader fails with errTooLarge once more than n bytes were read.
type limitReader struct {
	r    io.Reader
	n    int64
	read int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.over {
		return 0, errTooLarge
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.n {
		l.over = true
		return 0, errTooLarge
	}
	return n, err
}

// handleUpload is POST /v1/binaries: store, check, push to a quorum,
// record.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	lr := &limitReader{r: r.Body, n: s.cfg.MaxBinarySize}
	b, err := s.blobs.Put(lr, s.cfg.MaxBinarySize+1)
	if lr.over {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("binary is larger than the limit of %d bytes", s.cfg.MaxBinarySize))
		return
	}
	if err != nil {
		s.fail(w, fmt.Errorf("store binary: %w", err))
		return
	}
	if _, ok := s.binaryRecord(b.SHA256); ok {
		// Uploaded before: the bytes are the same. Recorded again, so
		// that it counts as used now (see sweepBinaries).
		b.Holders = []string{s.cfg.ID}
		res, err := s.apply(r.Context(), state.Command{Kind: state.AddBinary, Binary: &b})
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	path := s.blobs.Path(b.SHA256)
	if err := s.cfg.check(path); err != nil {
		os.Remove(path)
		writeError(w, http.StatusBadRequest, msg.Line(err))
		return
	}
	holders, err := s.replicate(r.Context(), b)
	if err != nil {
		s.fail(w, err)
		return
	}
	b.Holders = holders
	res, err := s.apply(r.Context(), state.Command{Kind: state.AddBinary, Binary: &b})
	if err != nil {
		s.fail(w, err)
		return
	}
	if rec, ok := res.(api.Binary); ok {
		b = rec
	}
	s.log.Printf("binary %s stored: %d bytes on %s", b.SHA256[:12], b.Size, strings.Join(b.Holders, ","))
	writeJSON(w, http.StatusOK, b)
}

// removeBlob deletes this node's copy of a binary the replicated state
// forgot, unless it was stored since before (an upload racing the
// removal). Called on every node, after the apply.
func (s *Server) removeBlob(sha string, before time.Time) {
	if ok, err := s.blobs.Remove(sha, before); err != nil {
		s.log.Printf("binary %s forgotten, but its file stays: %s", api.ShortSHA(sha), msg.Line(err))
	} else if ok {
		s.log.Printf("binary %s removed: no job that can run uses it since %s", api.ShortSHA(sha), before.Format(time.RFC3339))
	}
}

// sweepBinaries, on the leader, forgets the binaries no job that can still
// run uses and that nobody uploaded or submitted for KeepBinaries.
func (s *Server) sweepBinaries(now time.Time) {
	before := now.Add(-s.cfg.KeepBinaries)
	var shas []string
	s.fsm.read(func(st *state.State) { shas = st.UnusedBinaries(before) })
	for _, sha := range shas {
		c := state.Command{Kind: state.RemoveBinary, Binary: &api.Binary{SHA256: sha}, Before: before}
		if _, err := s.apply(s.ctx, c); err != nil && !refused(err) {
			s.logApply("remove binary "+api.ShortSHA(sha), err)
			return
		}
	}
}

func (s *Server) binaryRecord(sha string) (api.Binary, bool) {
	var (
		b  api.Binary
		ok bool
	)
	s.fsm.read(func(st *state.State) { b, ok = st.Binary(sha) })
	return b, ok
}

// replicate pushes a stored blob to the other coordinators and returns the
// holders (this node first) once a quorum holds it. Pushes still under way
// then go on, and their holders are recorded after.
func (s *Server) replicate(ctx context.Context, b api.Binary) ([]string, error) {
	quorum := len(s.cfg.Peers)/2 + 1
	holders := []string{s.cfg.ID}
	var targets []api.Node
	s.fsm.read(func(st *state.State) {
		for _, n := range st.Nodes() {
			if n.ID != s.cfg.ID && n.HTTP != "" && slices.ContainsFunc(s.cfg.Peers, func(p raftnode.Peer) bool { return p.ID == n.ID }) {
				targets = append(targets, n)
			}
		}
	})
	results := make(chan pushResult, len(targets))
	for _, n := range targets {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			pctx, cancel := context.WithTimeout(s.ctx, pushTimeout)
			defer cancel()
			results <- pushResult{n.ID, s.pushBlob(pctx, n.HTTP, b)}
		}()
	}
	var failed []string
	got := 0
	for got < len(targets) && len(holders) < quorum {
		select {
		case r := <-results:
			got++
			if r.err != nil {
				failed = append(failed, r.id+": "+msg.Line(r.err))
				s.log.Printf("binary %s: push to %s failed: %s", b.SHA256[:12], r.id, msg.Line(r.err))
				continue
			}
			holders = append(holders, r.id)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if rest := len(targets) - got; rest > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.recordLateHolders(b, results, rest)
		}()
	}
	if len(holders) < quorum {
		m := fmt.Sprintf("binary %s is held by %d of %d coordinators, below a quorum of %d", b.SHA256[:12], len(holders), len(s.cfg.Peers), quorum)
		if len(failed) > 0 {
			m += " (" + strings.Join(failed, "; ") + ")"
		}
		return nil, errorf(http.StatusServiceUnavailable, "%s", m)
	}
	return holders, nil
}

// recordLateHolders waits for the pushes that finished after the quorum
// and records their holders.
func (s *Server) recordLateHolders(b api.Binary, results <-chan pushResult, n int) {
	var more []string
	for range n {
		r := <-results
		if r.err != nil {
			s.log.Printf("binary %s: push to %s failed: %s", b.SHA256[:12], r.id, msg.Line(r.err))
			continue
		}
		more = append(more, r.id)
	}
	if len(more) == 0 || s.ctx.Err() != nil {
		return
	}
	b.Holders = more
	if _, err := s.apply(s.ctx, state.Command{Kind: state.AddBinary, Binary: &b}); err != nil {
		s.log.Printf("binary %s: record holders %s: %s", b.SHA256[:12], strings.Join(more, ","), msg.Line(err))
	}
}

// pushResult is the end of one push of a blob to a coordinator.
type pushResult struct {
	id  string
	err error
}

// pushBlob sends the local copy of a blob to another coordinator.
func (s *Server) pushBlob(ctx context.Context, base string, b api.Binary) error {
	f, size, err := s.blobs.Open(b.SHA256)
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := s.call(ctx, http.MethodPost, base+"/"+api.Version+"/internal/blobs/"+b.SHA256, f, size)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// handlePutBlob is POST /v1/internal/blobs/{sha}: the leader pushes a
// blob here.
func (s *Server) handlePutBlob(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !blobs.IsSHA(sha) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a SHA-256 in lowercase hex", sha))
		return
	}
	lr := &limitReader{r: r.Body, n: s.cfg.MaxBinarySize}
	err := s.blobs.PutExpect(lr, sha, s.cfg.MaxBinarySize+1)
	if lr.over {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("binary is larger than the limit of %d bytes", s.cfg.MaxBinarySize))
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, msg.Line(err))
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// handleGetBlob is GET /v1/internal/blobs/{sha}: this node's copy only.
func (s *Server) handleGetBlob(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !blobs.IsSHA(sha) || !s.blobs.Has(sha) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("coordinator %s holds no binary %s", s.cfg.ID, sha))
		return
	}
	if err := s.blobs.Verify(sha); err != nil {
		writeError(w, http.StatusInternalServerError, msg.Line(err))
		return
	}
	s.serveBlob(w, r, sha)
}

// handleGetBinary is GET (and HEAD) /v1/binaries/{sha}: a recorded binary,
// verified, fetched from a holder first when this node has no good copy.
func (s *Server) handleGetBinary(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !blobs.IsSHA(sha) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no binary %q: want a SHA-256 in lowercase hex", sha))
		return
	}
	if _, err := s.ensureBinary(r.Context(), sha); err != nil {
		s.fail(w, err)
		return
	}
	s.serveBlob(w, r, sha)
}

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, sha string) {
	f, _, err := s.blobs.Open(sha)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Weir-Sha256", sha)
	http.ServeContent(w, r, "", time.Time{}, f)
}

// ensureBinary makes sure this node holds a verified copy of a recorded
// binary, fetching it from another holder when it has none or its copy
// was altered.
func (s *Server) ensureBinary(ctx context.Context, sha string) (api.Binary, error) {
	b, ok := s.binaryRecord(sha)
	if !ok {
		return b, errorf(http.StatusNotFound, "no binary %s: upload it first", sha)
	}
	var local error
	if s.blobs.Has(sha) {
		if local = s.blobs.Verify(sha); local == nil {
			return b, nil
		}
		s.log.Printf("binary %s: %s; fetching it again", sha[:12], msg.Line(local))
	}
	var failed []string
	for _, id := range b.Holders {
		if id == s.cfg.ID {
			continue
		}
		u := s.nodeURL(id)
		if u == "" {
			failed = append(failed, id+": its URL is not known")
			continue
		}
		err := s.fetchBlob(ctx, u, sha)
		if err == nil {
			s.log.Printf("binary %s fetched from %s", sha[:12], id)
			return b, nil
		}
		failed = append(failed, id+": "+msg.Line(err))
	}
	m := fmt.Sprintf("binary %s: no good copy on %s", sha[:12], s.cfg.ID)
	if local != nil {
		m = msg.Line(local)
	}
	if len(failed) > 0 {
		m += " and none could be fetched (" + strings.Join(failed, "; ") + ")"
	}
	return b, errorf(http.StatusInternalServerError, "%s", m)
}

// fetchBlob copies a blob from another coordinator into the local store,
// checking its hash.
func (s *Server) fetchBlob(ctx context.Context, base, sha string) error {
	resp, err := s.call(ctx, http.MethodGet, base+"/"+api.Version+"/internal/blobs/"+sha, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return s.blobs.PutExpect(resp.Body, sha, s.cfg.MaxBinarySize+1)
}
