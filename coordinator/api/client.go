package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Client calls the API of a cluster through any of its coordinators: a
// follower forwards to the leader. A request that finds no coordinator
// answering, or no leader, is retried over all URLs until Retry has
// passed, then fails with one line.
type Client struct {
	URLs  []string // base URLs, e.g. http://127.0.0.1:8081
	Token string
	// Retry bounds how long a request keeps trying when no coordinator
	// answers or there is no leader (default 10 s).
	Retry time.Duration
	// HTTP is the client used (default: one with a 30 s timeout for
	// small calls; uploads and downloads have no timeout but ctx).
	HTTP *http.Client
	// Wait is the pause between rounds over the URLs (default 100 ms).
	Wait time.Duration
}

// leaders holds, for each list of URLs (joined), the one the last answer
// named as the leader's: a hint shared by every Client of this process
// with those URLs (copies included).
var leaders sync.Map

// Leader is the URL of URLs that the last answer named as the leader's
// ("" before any): requests try it first.
func (c *Client) Leader() string {
	v, _ := leaders.Load(strings.Join(c.URLs, ","))
	s, _ := v.(string)
	return s
}

// order returns URLs with the last known leader first.
func (c *Client) order() []string {
	leader := c.Leader()
	if leader == "" || c.URLs[0] == leader {
		return c.URLs
	}
	out := make([]string, 0, len(c.URLs))
	out = append(out, leader)
	for _, u := range c.URLs {
		if u != leader {
			out = append(out, u)
		}
	}
	return out
}

// forgetLeader drops the leader hint if it is base.
func (c *Client) forgetLeader(base string) {
	leaders.CompareAndDelete(strings.Join(c.URLs, ","), base)
}

// noteLeader remembers the leader an answer named, if it is one of URLs.
func (c *Client) noteLeader(resp *http.Response) {
	l := strings.TrimRight(resp.Header.Get(LeaderHeader), "/")
	if l == "" {
		return
	}
	for _, u := range c.URLs {
		if strings.TrimRight(u, "/") == l {
			leaders.Store(strings.Join(c.URLs, ","), u)
			return
		}
	}
}

// StatusError is a response that was not 2xx.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }

// IsStatus reports whether err is a *StatusError with the code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

// ParseURLs splits a comma-separated list of coordinator URLs, adding
// http:// where no scheme is given.
func ParseURLs(s string) ([]string, error) {
	var out []string
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if !strings.Contains(u, "://") {
			u = "http://" + u
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
			return nil, fmt.Errorf("bad coordinator URL %q: want http://HOST:PORT", u)
		}
		out = append(out, strings.TrimRight(u, "/"))
	}
	if len(out) == 0 {
		return nil, errors.New("no coordinator URL given: use --coordinators=URLS or WEIR_COORDINATORS")
	}
	return out, nil
}

// ReadToken reads a token file: one line, surrounding space ignored.
func ReadToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("no token file given: use --token-file=FILE or WEIR_TOKEN_FILE")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return t, nil
}

func (c *Client) httpClient(long bool) *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	if long {
		return &http.Client{}
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// body makes a fresh request body for each try.
type body func() (io.Reader, error)

func jsonBody(v any) (body, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return func() (io.Reader, error) { return bytes.NewReader(b), nil }, nil
}

// do sends the request to the coordinators in turn and decodes a 2xx JSON
// answer into out (when out is not nil). It retries connection errors and
// 503 (no leader) until Retry has passed.
func (c *Client) do(ctx context.Context, method, path string, in body, out any) error {
	resp, err := c.send(ctx, method, path, in, "application/json", false)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: bad answer from %s: %w", method, path, resp.Request.URL.Host, err)
	}
	return nil
}

// send returns a 2xx response whose body the caller closes.
func (c *Client) send(ctx context.Context, method, path string, in body, ctype string, long bool) (*http.Response, error) {
	if len(c.URLs) == 0 {
		return nil, errors.New("no coordinator URL given: use --coordinators=URLS or WEIR_COORDINATORS")
	}
	retry := c.Retry
	if retry <= 0 {
		retry = 10 * time.Second
	}
	wait := c.Wait
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	deadline := time.Now().Add(retry)
	var last error
	for round := 0; ; round++ {
		for _, base := range c.order() {
			var r io.Reader
			if in != nil {
				var err error
				if r, err = in(); err != nil {
					return nil, err
				}
			}
			req, err := http.NewRequestWithContext(ctx, method, base+"/"+Version+path, r)
			if err != nil {
				return nil, err
			}
			if c.Token != "" {
				req.Header.Set(TokenHeader, "Bearer "+c.Token)
			}
			if in != nil {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := c.httpClient(long).Do(req)
			if err != nil {
				c.forgetLeader(base) // a leader that does not answer is no hint
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				last = fmt.Errorf("%s: %w", base, unwrapURL(err))
				continue
			}
			c.noteLeader(resp)
			if resp.StatusCode/100 == 2 {
				return resp, nil
			}
			se := readError(resp)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusBadGateway {
				last = fmt.Errorf("%s: %s", base, se.Msg)
				continue
			}
			return nil, se
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no coordinator answers at %s after %v (last: %v)", strings.Join(c.URLs, ","), retry, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func readError(resp *http.Response) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e Error
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if msg == "" {
		msg = resp.Status
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return &StatusError{Code: resp.StatusCode, Msg: msg}
}

// Health asks the first coordinator that answers about itself.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/health", nil, &h)
	return h, err
}

// UploadBinary streams the file at path to the cluster and returns its
// record once a quorum of coordinators holds it.
func (c *Client) UploadBinary(ctx context.Context, path string) (Binary, error) {
	var b Binary
	in := func() (io.Reader, error) { return os.Open(path) }
	resp, err := c.send(ctx, http.MethodPost, "/binaries", func() (io.Reader, error) {
		r, err := in()
		if err != nil {
			return nil, fmt.Errorf("binary: %w", err)
		}
		return r, nil
	}, "application/octet-stream", true)
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&b)
	return b, err
}

// FetchBinary writes the binary with the SHA-256 to w.
func (c *Client) FetchBinary(ctx context.Context, sha string, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/binaries/"+sha, nil, "", true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// Submit submits a job whose binary was uploaded.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (SubmitResponse, error) {
	var out SubmitResponse
	if req.RequestID == "" {
		// Retries (another coordinator, a leader change) resend the same
		// id: at most one job comes of them.
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return out, fmt.Errorf("submit: request id: %w", err)
		}
		req.RequestID = hex.EncodeToString(b[:])
	}
	in, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/jobs", in, &out)
	return out, err
}

// Jobs lists the cluster's jobs, oldest first.
func (c *Client) Jobs(ctx context.Context) ([]Job, error) {
	var out []Job
	err := c.do(ctx, http.MethodGet, "/jobs", nil, &out)
	return out, err
}

// Job is one job's status.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var out Job
	err := c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Cancel cancels a job.
func (c *Client) Cancel(ctx context.Context, id string) (Job, error) {
	var out Job
	err := c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(id)+"/cancel", nil, &out)
	return out, err
}

// Savepoint asks for a savepoint of a job.
func (c *Client) Savepoint(ctx context.Context, id string, req SavepointRequest) (Job, error) {
	var out Job
	in, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(id)+"/savepoint", in, &out)
	return out, err
}

// Logs copies the log of a job's current (or last) attempt to w.
func (c *Client) Logs(ctx context.Context, id string, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id)+"/logs", nil, "", true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// Workers lists the workers the leader knows.
func (c *Client) Workers(ctx context.Context) ([]Worker, error) {
	var out []Worker
	err := c.do(ctx, http.MethodGet, "/workers", nil, &out)
	return out, err
}

// Register registers a worker.
func (c *Client) Register(ctx context.Context, req RegisterRequest) (RegisterResponse, error) {
	var out RegisterResponse
	in, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/workers/register", in, &out)
	return out, err
}

// Heartbeat sends a worker's heartbeat.
func (c *Client) Heartbeat(ctx context.Context, worker string, req HeartbeatRequest) (HeartbeatResponse, error) {
	var out HeartbeatResponse
	in, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/workers/"+url.PathEscape(worker)+"/heartbeat", in, &out)
	return out, err
}

// Peers is POST /v1/jobs/{id}/peers: a process of a job spread over
// workers records its data address and learns the others'.
func (c *Client) Peers(ctx context.Context, job string, req PeersRequest) (PeersResponse, error) {
	var out PeersResponse
	in, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(job)+"/peers", in, &out)
	return out, err
}

// ReportCheckpoint asks the leader to complete a checkpoint; nil means it
// is committed to the Raft log.
func (c *Client) ReportCheckpoint(ctx context.Context, job string, req CheckpointRequest) (Job, error) {
	var out Job
	in, err := jsonBody(req)
	if err != nil {
		return out, err
	}
	err = c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(job)+"/checkpoints", in, &out)
	return out, err
}
