package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{name: "no args", args: nil, code: 2, errs: "usage: weir <command>"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "savepoint"},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: "gen "},
		{name: "unknown", args: []string{"frob"}, code: 2, errs: "weir: unknown command \"frob\" (see weir help)\n"},
		{name: "dev bad flag", args: []string{"dev", "--bogus"}, code: 2, errs: "weir dev: unknown flag --bogus (see weir dev -h)\n"},
		{name: "topic", args: []string{"topic"}, code: 2, errs: "weir: topic: usage: weir topic create|produce|consume"},
		{name: "topic no name", args: []string{"topic", "create"}, code: 2, errs: "weir: topic create: name one topic"},
		{name: "topic unknown", args: []string{"topic", "drop", "x"}, code: 2, errs: `weir: topic: unknown command "drop"`},
		{name: "topic bad name", args: []string{"topic", "create", "a/b"}, code: 2, errs: "weir: topic create: topic name \"a/b\" has '/'; Kafka allows only ASCII letters, digits, '.', '_' and '-'\n"},
		{name: "topic long name", args: []string{"topic", "create", strings.Repeat("n", 300)}, code: 2, errs: "is 300 characters; Kafka allows at most 249\n"},
		{name: "topic dots", args: []string{"topic", "produce", ".."}, code: 2, errs: "weir: topic produce: \"..\" is not a topic name Kafka allows\n"},
		{name: "topic consume bad name", args: []string{"topic", "consume", "x y"}, code: 2, errs: "weir: topic consume: topic name \"x y\" has ' '"},
		{name: "topic negative partitions", args: []string{"topic", "create", "--partitions=-1", "t"}, code: 2, errs: "weir: topic create: --partitions: -1 partitions: a topic needs at least 1 (0: the broker's default)\n"},
		{name: "topic too many partitions", args: []string{"topic", "create", "--partitions=100000", "t"}, code: 2, errs: "weir: topic create: --partitions: 100000 partitions: weir's development broker and tools allow at most 1000 (0: the broker's default)\n"},
		{name: "dev zero partitions", args: []string{"dev", "--partitions=0"}, code: 2, errs: "weir dev: --partitions: 0 partitions: a topic needs at least 1 (see weir dev -h)\n"},
		{name: "dev too many partitions", args: []string{"dev", "--partitions=1001"}, code: 2, errs: "weir dev: --partitions: 1001 partitions: weir's development broker and tools allow at most 1000 (see weir dev -h)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(tc.args, &out, &errs)
			if code != tc.code {
				t.Errorf("code = %d, want %d", code, tc.code)
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", out.String(), tc.stdout)
			}
			if !strings.Contains(errs.String(), tc.errs) {
				t.Errorf("stderr = %q, want it to contain %q", errs.String(), tc.errs)
			}
		})
	}
}
