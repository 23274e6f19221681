package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirflow/weir/internal/devbroker"
)

func TestTopic(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := "--brokers=" + b.Addr()
	in := filepath.Join(t.TempDir(), "in.jsonl")
	data := `{"user_id":"a","amount":1}` + "\n" + `{"user_id":"b","amount":2}` + "\n"
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"topic", "create", brokers, "--partitions=2", "txns"}, 0, "", "weir: topic: created txns\n"},
		{[]string{"topic", "create", brokers, "txns"}, 1, "", "weir: topic create: create topic \"txns\": "},
		{[]string{"topic", "produce", brokers, "--key=user_id", "--in=" + in, "txns"}, 0, "", "weir: topic: produced 2 records to txns\n"},
		{[]string{"topic", "produce", brokers, "--in=" + in + ".missing", "txns"}, 1, "", "no such file or directory"},
		{[]string{"topic", "consume", brokers, "txns"}, 0, `"amount":1`, ""},
		{[]string{"topic", "consume", brokers, "--max=1", "txns"}, 0, `"user_id"`, ""},
		{[]string{"topic", "consume", "--bogus", "txns"}, 2, "", "weir topic consume: unknown flag --bogus (see weir topic consume -h)\n"},
	} {
		var out, errs bytes.Buffer
		code := run(tc.args, &out, &errs)
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errs.String(), tc.stderr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args[:2], code, out.String(), errs.String(), tc.code, tc.stdout, tc.stderr)
		}
		if n := strings.Count(errs.String(), "\n"); n > 1 {
			t.Errorf("%v: %d lines on stderr", tc.args[:2], n)
		}
	}
	var out, errs bytes.Buffer
	if code := run([]string{"topic", "consume", brokers, "txns"}, &out, &errs); code != 0 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("consume: exit %d, %q", code, out.String())
	}
}

func TestDevBusyPort(t *testing.T) {
	b, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var out, errs bytes.Buffer
	code := run([]string{"dev", "--addr=" + b.Addr(), "--http=127.0.0.1:0"}, &out, &errs)
	if code != 1 || !strings.HasPrefix(errs.String(), "weir: dev: ") || strings.Count(errs.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line", code, errs.String())
	}
}
