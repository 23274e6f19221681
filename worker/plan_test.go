package worker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weirflow/weir/coordinator/api"
)

func TestPlan(t *testing.T) {
	as := func(job string, attempt uint64, stop bool) api.Assignment {
		return api.Assignment{Job: job, Attempt: attempt, Stop: stop}
	}
	for _, c := range []struct {
		name     string
		assigned []api.Assignment
		children []Child
		want     string
	}{
		{name: "nothing", want: ""},
		{name: "start new", assigned: []api.Assignment{as("b", 1, false), as("a", 2, false)},
			want: "start a/2, start b/1"},
		{name: "listed twice starts once", assigned: []api.Assignment{as("a", 1, false), as("a", 1, false)},
			want: "start a/1"},
		{name: "running and assigned: nothing", assigned: []api.Assignment{as("a", 1, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Running}}, want: ""},
		{name: "launching and assigned: nothing", assigned: []api.Assignment{as("a", 1, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Launching}}, want: ""},
		{name: "stop running", assigned: []api.Assignment{as("a", 1, true)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Running}}, want: "term a/1"},
		{name: "stop sent once", assigned: []api.Assignment{as("a", 1, true)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Running, Termed: true}}, want: ""},
		{name: "stop waits for the launch", assigned: []api.Assignment{as("a", 1, true)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Launching}}, want: ""},
		{name: "stop of a killed child: nothing", assigned: []api.Assignment{as("a", 1, true)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Running, Killed: true}}, want: ""},
		{name: "stop of what does not run starts it", assigned: []api.Assignment{as("a", 1, true)},
			want: "start a/1"},
		{name: "unassigned running killed", children: []Child{{Job: "a", Attempt: 1, Phase: Running}},
			want: "kill a/1"},
		{name: "unassigned launching killed", children: []Child{{Job: "a", Attempt: 1, Phase: Launching}},
			want: "kill a/1"},
		{name: "kill sent once", children: []Child{{Job: "a", Attempt: 1, Phase: Running, Killed: true}},
			want: ""},
		{name: "termed but no longer assigned: killed", children: []Child{{Job: "a", Attempt: 1, Phase: Running, Termed: true}},
			want: "kill a/1"},
		{name: "new attempt waits for the old to be killed", assigned: []api.Assignment{as("a", 2, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Running}}, want: "kill a/1"},
		{name: "new attempt waits while the old dies", assigned: []api.Assignment{as("a", 2, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Running, Killed: true}}, want: ""},
		{name: "new attempt starts once the old exited", assigned: []api.Assignment{as("a", 2, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Exited}}, want: "start a/2"},
		{name: "exited never restarted", assigned: []api.Assignment{as("a", 1, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Exited}}, want: ""},
		{name: "exited and acked but still assigned: kept", assigned: []api.Assignment{as("a", 1, false)},
			children: []Child{{Job: "a", Attempt: 1, Phase: Exited, Acked: true}}, want: ""},
		{name: "exited unacked unassigned: kept for the report", children: []Child{{Job: "a", Attempt: 1, Phase: Exited}},
			want: ""},
		{name: "exited acked unassigned: forgotten", children: []Child{{Job: "a", Attempt: 1, Phase: Exited, Acked: true}},
			want: "forget a/1"},
		{name: "mix", assigned: []api.Assignment{as("c", 1, false), as("b", 3, true)},
			children: []Child{
				{Job: "b", Attempt: 3, Phase: Running},
				{Job: "a", Attempt: 1, Phase: Running},
				{Job: "d", Attempt: 4, Phase: Exited, Acked: true},
			},
			want: "kill a/1, term b/3, start c/1, forget d/4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, a := range Plan(c.assigned, c.children) {
				got = append(got, fmt.Sprintf("%s %s/%d", a.Kind, a.Job, a.Attempt))
				if a.Kind == Start && (a.Assignment.Job != a.Job || a.Assignment.Attempt != a.Attempt) {
					t.Errorf("start %s/%d carries assignment %+v", a.Job, a.Attempt, a.Assignment)
				}
			}
			if s := strings.Join(got, ", "); s != c.want {
				t.Errorf("Plan = %q, want %q", s, c.want)
			}
		})
	}
}

func TestChildArgsAndEnv(t *testing.T) {
	for _, c := range []struct {
		name string
		a    api.Assignment
		want string
	}{
		{"plain", api.Assignment{Name: "n", Args: []string{"--mode=batch"}, CheckpointDir: "/c", SavepointDir: "/s"},
			"run --mode=batch --name=n --checkpoint-dir=/c --savepoint-dir=/s --progress=never"},
		{"from savepoint", api.Assignment{Name: "n", CheckpointDir: "/c", SavepointDir: "/s", FromSavepoint: "/f"},
			"run --name=n --checkpoint-dir=/c --savepoint-dir=/s --from-savepoint=/f --progress=never"},
	} {
		if got := strings.Join(childArgs(c.a), " "); got != c.want {
			t.Errorf("%s: args %q, want %q", c.name, got, c.want)
		}
	}
	env := childEnv([]string{"PATH=/bin", "WEIR_JOB_ID=old", "WEIR_ATTEMPT=9", "WEIR_PROCESS=1", "HOME=/h"},
		api.Assignment{Job: "j-1", Attempt: 3}, []string{"http://a:1", "http://b:2"}, "/t/token", dataPort{host: "10.0.0.1"})
	want := "PATH=/bin HOME=/h WEIR_JOB_ID=j-1 WEIR_ATTEMPT=3 WEIR_COORDINATORS=http://a:1,http://b:2 WEIR_TOKEN_FILE=/t/token"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env %q, want %q", got, want)
	}
	env = childEnv([]string{"PATH=/bin", "WEIR_TLS_CERT=/old"}, api.Assignment{Job: "j-1", Attempt: 3, Process: 1, Processes: 2}, []string{"http://a:1"}, "/t/token",
		dataPort{host: "10.0.0.1", tlsCert: "/c.pem", tlsKey: "/k.pem"})
	want = "PATH=/bin WEIR_JOB_ID=j-1 WEIR_ATTEMPT=3 WEIR_COORDINATORS=http://a:1 WEIR_TOKEN_FILE=/t/token WEIR_PROCESS=1 WEIR_PROCESSES=2 WEIR_DATA_HOST=10.0.0.1 WEIR_TLS_CERT=/c.pem WEIR_TLS_KEY=/k.pem"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env of a process of a spread job %q, want %q", got, want)
	}
	env = childEnv(nil, api.Assignment{Job: "j-1", Attempt: 3, Process: 0, Processes: 2}, []string{"http://a:1"}, "/t/token",
		dataPort{host: "node7", listen: "0.0.0.0"})
	want = "WEIR_JOB_ID=j-1 WEIR_ATTEMPT=3 WEIR_COORDINATORS=http://a:1 WEIR_TOKEN_FILE=/t/token WEIR_PROCESS=0 WEIR_PROCESSES=2 WEIR_DATA_HOST=node7 WEIR_DATA_LISTEN=0.0.0.0"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env of a process of a worker on every interface %q, want %q", got, want)
	}
}

func TestTailWriter(t *testing.T) {
	for _, c := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"empty", nil, ""},
		{"one line", []string{"boom\n"}, "boom"},
		{"last non-empty", []string{"a\nb\n\n  \n"}, "b"},
		{"split over writes", []string{"fir", "st\nsec", "ond\n"}, "second"},
		{"unterminated last", []string{"a\nb"}, "b"},
		{"spaces trimmed", []string{"  x  \r\n"}, "x"},
		{"long line cut", []string{strings.Repeat("y", 5000) + "\n"}, strings.Repeat("y", maxLine) + "..."},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := openTemp(t)
			if err != nil {
				t.Fatal(err)
			}
			tw := &tailWriter{w: f}
			for _, w := range c.writes {
				if n, err := tw.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := tw.last(); got != c.want {
				t.Errorf("last = %q, want %q", got, c.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"fraud-0a1b2c3d": true, "w-1": true, "a.b_c": true,
		"": false, ".": false, "..": false, "a/b": false, "../x": false, "a b": false, `a\b`: false,
	} {
		if got := validName(s); got != want {
			t.Errorf("validName(%q) = %v, want %v", s, got, want)
		}
	}
}
