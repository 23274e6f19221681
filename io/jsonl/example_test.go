package jsonl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weirflow/weir/io/jsonl"
	"github.com/weirflow/weir/sdk"
)

func ExampleDeadLetterSink() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	w, err := jsonl.DeadLetterSink(dir, jsonl.SinkOptions{}).Open(sdk.SinkContext{Context: context.Background()})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := sdk.NewBatch[sdk.DeadLetter](1)
	b.Values = append(b.Values, sdk.DeadLetter{Record: []byte(`{"amount": "x"}`), Reason: "json: bad amount", Source: "in.jsonl line 7"})
	_ = w.Write(context.Background(), b)
	_ = w.PreCommit(1) // on a checkpoint
	_ = w.Commit(1)    // when the checkpoint is complete
	_ = w.Close()

	out, _ := os.ReadFile(filepath.Join(dir, "part-00000-000000.jsonl"))
	fmt.Print(string(out))
	// Output:
	// {"record":"{\"amount\": \"x\"}","reason":"json: bad amount","source":"in.jsonl line 7"}
}
