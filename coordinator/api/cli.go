package api

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ClientFlags are the flags of every command that talks to a cluster
// (`weir submit|jobs|status|...`, a job binary's `submit`): --coordinators
// and --token-file, whose defaults come from [EnvCoordinators] and
// [EnvTokenFile].
type ClientFlags struct {
	Coordinators string // comma-separated URLs
	TokenFile    string
	// Retry is Client.Retry (0: its default). Not a flag: tests shorten it.
	Retry time.Duration
}

// Register declares --coordinators and --token-file on fs, their defaults
// read with getenv (nil: os.Getenv).
func (f *ClientFlags) Register(fs *flag.FlagSet, getenv func(string) string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fs.StringVar(&f.Coordinators, "coordinators", getenv(EnvCoordinators),
		"the cluster's coordinator `URLS`, comma-separated (env "+EnvCoordinators+")")
	fs.StringVar(&f.TokenFile, "token-file", getenv(EnvTokenFile),
		"read the cluster's bearer token from `FILE` (env "+EnvTokenFile+")")
}

// UsageError is a bad command line: a program prints it on one line and
// exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Client returns a client for the flags. No or a bad --coordinators is a
// *[UsageError]; a token file that cannot be read is an error. Without a
// token file the client sends no token (a cluster then answers 401).
func (f *ClientFlags) Client() (*Client, error) {
	if strings.TrimSpace(strings.ReplaceAll(f.Coordinators, ",", "")) == "" {
		return nil, &UsageError{Msg: "no coordinators: pass --coordinators=URLS or set " + EnvCoordinators}
	}
	urls, err := ParseURLs(f.Coordinators)
	if err != nil {
		return nil, &UsageError{Msg: "--coordinators: " + err.Error()}
	}
	c := &Client{URLs: urls, Retry: f.Retry}
	if f.TokenFile != "" {
		if c.Token, err = ReadToken(f.TokenFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// SubmitFile uploads the executable at path (in SubmitRequest.Binary's
// place) and submits the job req describes. note, when not nil, gets one
// line per step, for a person.
func (c *Client) SubmitFile(ctx context.Context, path string, req SubmitRequest, note func(string)) (SubmitResponse, error) {
	if note == nil {
		note = func(string) {}
	}
	st, err := os.Stat(path)
	if err != nil {
		return SubmitResponse{}, fmt.Errorf("binary: %w", err)
	}
	if !st.Mode().IsRegular() {
		return SubmitResponse{}, fmt.Errorf("binary %s is not a regular file", path)
	}
	note(fmt.Sprintf("uploading %s (%s)", filepath.Base(path), byteSize(st.Size())))
	b, err := c.UploadBinary(ctx, path)
	if err != nil {
		return SubmitResponse{}, fmt.Errorf("upload %s: %w", filepath.Base(path), err)
	}
	held := ""
	if len(b.Holders) > 0 {
		held = ", held by " + strings.Join(b.Holders, ",")
	}
	note(fmt.Sprintf("uploaded sha256:%s%s", ShortSHA(b.SHA256), held))
	req.Binary = b.SHA256
	resp, err := c.Submit(ctx, req)
	if err != nil {
		return resp, fmt.Errorf("submit: %w", err)
	}
	note("submitted job " + resp.ID)
	return resp, nil
}

// ErrorLine says err on one line for a person: a refused token is named
// as such with what to check.
func ErrorLine(err error) string {
	s := strings.TrimSpace(err.Error())
	var se *StatusError
	if errors.As(err, &se) && se.Msg != "" {
		switch se.Code {
		case http.StatusUnauthorized:
			s = strings.Replace(s, se.Msg, fmt.Sprintf("401 unauthorized: %s; check --token-file or %s", se.Msg, EnvTokenFile), 1)
		case http.StatusForbidden:
			s = strings.Replace(s, se.Msg, "403 forbidden: "+se.Msg, 1)
		}
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
