package coord

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/weirflow/weir/runner/checkpoint"
)

// The scripts in testdata drive a Machine and print the actions each
// event calls for. Commands:
//
//	init parallelism=P [checkpoints] [savepoints] [next=N] [restored=ID]
//	                     tasks 0..P-1 are sources (stage src), P..2P-1 the
//	                     tasks of stage win
//	tick                 a checkpoint interval passed
//	stop                 a graceful stop was asked for
//	savepoint            a savepoint of the running job was asked for
//	finish task=T [stopped]
//	ack task=T id=N [upload] [stopped] [sync=DURATION] [split=ID] [sink=NODE]
//	uploaded task=T id=N [store=savepoints] [err=TEXT] [bytes=N]
//	written id=N [err=TEXT]
//	advance d=DURATION   the time moves on
//	stats
//
// Every command but init and stats prints the actions it led to, one a
// line. Run with -rewrite to update the expected output.
func TestMachine(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var m *Machine
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "init" && m == nil {
				d.Fatalf(t, "init first")
			}
			now = now.Add(time.Millisecond)
			switch d.Cmd {
			case "init":
				var par int
				d.ScanArgs(t, "parallelism", &par)
				cfg := Config{Job: "test", Parallelism: par, MaxParallelism: 8,
					Checkpoints: d.HasArg("checkpoints"), Savepoints: d.HasArg("savepoints")}
				for _, stage := range []string{"src", "win"} {
					for i := range par {
						cfg.Tasks = append(cfg.Tasks, Task{Source: stage == "src", Stage: stage, Index: i,
							KeyGroupStart: i * 8 / par, KeyGroupEnd: (i + 1) * 8 / par})
					}
				}
				if d.HasArg("next") {
					d.ScanArgs(t, "next", &cfg.Next)
				}
				if d.HasArg("restored") {
					var id uint64
					d.ScanArgs(t, "restored", &id)
					cfg.Restored = &checkpoint.Metadata{ID: id, Sources: map[string]map[string]checkpoint.SplitState{
						"src": {"done-split": {Done: true}}}}
				}
				m = New(cfg)
				return ""
			case "tick":
				m.Step(now, Tick{})
			case "stop":
				m.Step(now, StopRequested{})
			case "savepoint":
				m.Step(now, SavepointRequested{})
			case "finish":
				ev := TaskFinished{Stopped: d.HasArg("stopped")}
				d.ScanArgs(t, "task", &ev.Task)
				m.Step(now, ev)
			case "ack":
				ev := Ack{Upload: d.HasArg("upload"), Stopped: d.HasArg("stopped")}
				d.ScanArgs(t, "task", &ev.Task)
				d.ScanArgs(t, "id", &ev.ID)
				if d.HasArg("sync") {
					var s string
					d.ScanArgs(t, "sync", &s)
					ev.Sync = duration(t, d, s)
				}
				if d.HasArg("split") {
					var s string
					d.ScanArgs(t, "split", &s)
					ev.Splits = map[string]checkpoint.SplitState{s: {Pos: []byte(fmt.Sprint(ev.ID))}}
				}
				if d.HasArg("sink") {
					var s string
					d.ScanArgs(t, "sink", &s)
					ev.Sinks = map[string][]byte{s: []byte(fmt.Sprintf("t%d-%d", ev.Task, ev.ID))}
				}
				m.Step(now, ev)
			case "uploaded":
				ev := Uploaded{Handle: &checkpoint.StateHandle{}}
				d.ScanArgs(t, "task", &ev.Task)
				d.ScanArgs(t, "id", &ev.ID)
				if d.HasArg("store") {
					var s string
					d.ScanArgs(t, "store", &s)
					if s == "savepoints" {
						ev.Store = Savepoints
					}
				}
				if d.HasArg("bytes") {
					d.ScanArgs(t, "bytes", &ev.Bytes)
				}
				if d.HasArg("err") {
					var s string
					d.ScanArgs(t, "err", &s)
					ev.Err, ev.Handle = errors.New(s), nil
				}
				m.Step(now, ev)
			case "written":
				var ev Written
				d.ScanArgs(t, "id", &ev.ID)
				if d.HasArg("err") {
					var s string
					d.ScanArgs(t, "err", &s)
					ev.Err = errors.New(s)
				}
				m.Step(now, ev)
			case "advance":
				var s string
				d.ScanArgs(t, "d", &s)
				now = now.Add(duration(t, d, s))
				return ""
			case "stats":
				done, failed := m.Completed()
				var b strings.Builder
				for _, s := range done {
					fmt.Fprintf(&b, "completed %d sync=%v bytes=%d\n", s.ID, s.Sync, s.Bytes)
				}
				fmt.Fprintf(&b, "failed %d done=%v", failed, m.Done())
				return b.String()
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			return render(m.Ready())
		})
	})
}

func duration(t *testing.T, d *datadriven.TestData, s string) time.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return v
}

// render prints actions one a line.
func render(as []Action) string {
	if len(as) == 0 {
		return "(nothing)"
	}
	var b strings.Builder
	for _, a := range as {
		switch a := a.(type) {
		case Trigger:
			fmt.Fprintf(&b, "trigger %d tasks=%v\n", a.ID, a.Tasks)
		case Upload:
			fmt.Fprintf(&b, "upload %d task=%d stores=%v\n", a.ID, a.Task, a.Stores)
		case Write:
			for i, md := range a.Metadata {
				fmt.Fprintf(&b, "write %d %s: %s\n", a.ID, a.Stores[i], meta(md))
			}
		case Abort:
			fmt.Fprintf(&b, "abort %d stores=%v: %v\n", a.ID, a.Stores, a.Err)
		case Commit:
			if a.Savepoint {
				fmt.Fprintf(&b, "commit %d final=%v savepoint\n", a.ID, a.Final)
			} else {
				fmt.Fprintf(&b, "commit %d final=%v\n", a.ID, a.Final)
			}
		case Note:
			fmt.Fprintf(&b, "note: %s\n", a.Text)
		case Finish:
			fmt.Fprintf(&b, "finish err=%v\n", a.Err)
		default:
			fmt.Fprintf(&b, "%T\n", a)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// meta summarizes metadata on one line.
func meta(m checkpoint.Metadata) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("uid=%s", m.UID))
	if m.Finished {
		parts = append(parts, "finished")
	}
	if m.Savepoint {
		parts = append(parts, "savepoint")
	}
	var srcs []string
	for node, splits := range m.Sources {
		for id, s := range splits {
			if s.Done {
				srcs = append(srcs, node+"/"+id+"=done")
			} else {
				srcs = append(srcs, node+"/"+id+"="+string(s.Pos))
			}
		}
	}
	sort.Strings(srcs)
	if len(srcs) > 0 {
		parts = append(parts, "sources="+strings.Join(srcs, ","))
	}
	var sinks []string
	for node, cs := range m.Sinks {
		for i, c := range cs {
			sinks = append(sinks, fmt.Sprintf("%s[%d]=%s", node, i, c))
		}
	}
	sort.Strings(sinks)
	if len(sinks) > 0 {
		parts = append(parts, "sinks="+strings.Join(sinks, ","))
	}
	var states []string
	for stage, ts := range m.State {
		for i, s := range ts {
			if s.State != nil {
				states = append(states, fmt.Sprintf("%s[%d]=kg%d-%d", stage, i, s.KeyGroupStart, s.KeyGroupEnd))
			}
		}
	}
	sort.Strings(states)
	if len(states) > 0 {
		parts = append(parts, "state="+strings.Join(states, ","))
	}
	return strings.Join(parts, " ")
}
