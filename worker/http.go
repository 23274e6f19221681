package worker

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/weirflow/weir/coordinator/api"
)

// handler serves the worker's API: GET /v1/logs/{job}, the log of a
// job's attempts on this worker. Every request needs the bearer token.
func (w *Worker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+api.Version+"/logs/{job}", w.serveLog)
	return w.auth(mux)
}

// auth refuses, and logs, a request without the log token derived from
// the cluster's (api.LogToken, compared in constant time). The log server
// has no TLS: what crosses the network there grants reading logs only.
func (w *Worker) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + api.LogToken(w.token))
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get(api.TokenHeader))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.logf("refused %s %s from %s: no valid bearer token", r.Method, r.URL.Path, r.RemoteAddr)
			writeError(rw, http.StatusUnauthorized, "no valid bearer token: use the cluster's token file")
			return
		}
		next.ServeHTTP(rw, r)
	})
}

func (w *Worker) serveLog(rw http.ResponseWriter, r *http.Request) {
	job := r.PathValue("job")
	if !validName(job) {
		writeError(rw, http.StatusBadRequest, fmt.Sprintf("bad job id %q", job))
		return
	}
	f, err := os.Open(filepath.Join(w.logDir, job+".log"))
	if errors.Is(err, os.ErrNotExist) {
		writeError(rw, http.StatusNotFound, fmt.Sprintf("job %s has no log on worker %s", job, w.id))
		return
	}
	if err != nil {
		writeError(rw, http.StatusInternalServerError, fmt.Sprintf("log of job %s: %v", job, err))
		return
	}
	defer f.Close()
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.Copy(rw, f)
}

func writeError(rw http.ResponseWriter, code int, msg string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(api.Error{Error: msg})
}

// listenURL is the URL others reach a listener at: an unspecified host
// (0.0.0.0, ::) becomes the machine's host name.
func listenURL(ln net.Listener) string {
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return "http://" + ln.Addr().String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port
}
