package job

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirflow/weir/sdk"
)

func TestParseExisting(t *testing.T) {
	files := []string{"--in=parquet:data/*.parquet", "--out=jsonl:out"}
	topic := []string{"--in=parquet:data/*.parquet", "--out=kafka://h:1/t"}
	for _, tc := range []struct {
		name string
		args []string
		want sdk.ExistingOutput
		err  string
	}{
		{"default", files, sdk.RefuseExisting, ""},
		{"overwrite", append(files, "--overwrite"), sdk.OverwriteExisting, ""},
		{"append", append(files, "--append"), sdk.AppendExisting, ""},
		{"both", append(files, "--overwrite", "--append"), 0, "--overwrite and --append exclude each other"},
		{"overwrite a topic", append(topic, "--on-error=skip", "--overwrite"), 0, "is a topic, which a rerun appends to"},
		{"overwrite a topic's dead letters", append(topic, "--dead-letter=jsonl:dl", "--overwrite"), sdk.OverwriteExisting, ""},
		{"append to a topic", append(topic, "--on-error=skip", "--append"), sdk.AppendExisting, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newRunFlags("fraud").parse(tc.args)
			if tc.err != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.existing != tc.want {
				t.Errorf("existing = %v, want %v", c.existing, tc.want)
			}
		})
	}
}

func TestExistingMessage(t *testing.T) {
	const hint = "; pass --overwrite to replace it, --append to add to it, or choose another folder"
	for _, tc := range []struct {
		args []string
		path string
		n    int
		want string
	}{
		{[]string{"--out=jsonl:out"}, "out", 12, "--out=jsonl:out already holds the output of an earlier run (12 files)"},
		{[]string{"--out=parquet:a/out/"}, "a/out/late", 1, "--out=parquet:a/out/ already holds the output of an earlier run (1 file in a/out/late)"},
		{[]string{"--out=jsonl:out"}, "out/dead-letter", 2, "--out=jsonl:out already holds the output of an earlier run (2 files in out/dead-letter)"},
		{[]string{"--out=kafka://h:1/t", "--dead-letter=jsonl:dl"}, "dl", 3, "--dead-letter=jsonl:dl already holds the output of an earlier run (3 files)"},
		{[]string{"--out=jsonl:out"}, "elsewhere", 3, "elsewhere already holds the output of an earlier run (3 files)"},
	} {
		c, err := newRunFlags("fraud").parse(append([]string{"--in=parquet:x"}, tc.args...))
		if err != nil {
			t.Fatal(err)
		}
		if got := existingMessage(c, &sdk.OutputExistsError{Path: tc.path, Files: tc.n}); got != tc.want+hint {
			t.Errorf("%v, %s:\n got  %s\n want %s", tc.args, tc.path, got, tc.want+hint)
		}
	}
}
