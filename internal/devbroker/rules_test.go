package devbroker_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirflow/weir/internal/devbroker"
)

func TestCheckTopicName(t *testing.T) {
	for _, tc := range []struct {
		name, err string
	}{
		{"txns", ""},
		{"a.b_c-D9", ""},
		{"...", ""},
		{strings.Repeat("x", 249), ""},
		{"", "the topic name is empty"},
		{".", `"." is not a topic name Kafka allows`},
		{"..", `".." is not a topic name Kafka allows`},
		{strings.Repeat("x", 250), `is 250 characters; Kafka allows at most 249`},
		{strings.Repeat("y", 300), `"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"... is 300 characters`},
		{"a/b", `topic name "a/b" has '/'; Kafka allows only ASCII letters, digits, '.', '_' and '-'`},
		{"a b", `has ' '`},
		{"é", `has 'é'`},
		{"a\xffb", `has the byte 0xff`},
	} {
		err := devbroker.CheckTopicName(tc.name)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckTopicName(%.20q): %v; want %q", tc.name, err, tc.err)
		}
	}
}

func TestCheckPartitions(t *testing.T) {
	for n, ok := range map[int]bool{-1: false, 0: false, 1: true, 4: true, devbroker.MaxPartitions: true, devbroker.MaxPartitions + 1: false, 100000: false} {
		if err := devbroker.CheckPartitions(n); (err == nil) != ok {
			t.Errorf("CheckPartitions(%d): %v", n, err)
		}
	}
}

// TestBrokerRefusesBadTopics sends the broker what any client could:
// CreateTopics, CreatePartitions and auto-creating Metadata requests with
// names and counts Kafka refuses. Each gets Kafka's error code and creates
// nothing, while the valid topics of the same requests are created.
func TestBrokerRefusesBadTopics(t *testing.T) {
	b := start(t, devbroker.Options{})
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	long, longest := strings.Repeat("a", 300), strings.Repeat("b", 249)

	check := func(what string, rs kadm.CreateTopicResponses, err error, want map[string]error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for topic, werr := range want {
			r, ok := rs[topic]
			if !ok {
				t.Errorf("%s: no answer for %.20q", what, topic)
			} else if !errors.Is(r.Err, werr) && !(werr == nil && r.Err == nil) {
				t.Errorf("%s: %.20q: %v, want %v", what, topic, r.Err, werr)
			}
		}
	}
	rs, err := adm.CreateTopics(ctx, 2, -1, nil, "good", long, ".", "..", "a/b", "sp ace", "ok.name_-1", longest)
	check("names", rs, err, map[string]error{
		"good": nil, "ok.name_-1": nil, longest: nil,
		long: kerr.InvalidTopicException, ".": kerr.InvalidTopicException, "..": kerr.InvalidTopicException,
		"a/b": kerr.InvalidTopicException, "sp ace": kerr.InvalidTopicException,
	})
	for _, tc := range []struct {
		topic      string
		partitions int32
		rf         int16
		want       error
	}{
		{"huge", 100000, -1, kerr.InvalidPartitions},
		{"over", devbroker.MaxPartitions + 1, -1, kerr.InvalidPartitions},
		{"negative", -5, -1, kerr.InvalidPartitions},
		{"zero", 0, -1, kerr.InvalidPartitions},
		{"rf0", 1, 0, kerr.InvalidReplicationFactor},
		{"rf-2", 1, -2, kerr.InvalidReplicationFactor},
		{"max", devbroker.MaxPartitions, -1, nil},
		{"default", -1, 1, nil},
	} {
		rs, err := adm.CreateTopics(ctx, tc.partitions, tc.rf, nil, tc.topic)
		check(tc.topic, rs, err, map[string]error{tc.topic: tc.want})
	}

	// CreatePartitions past the cap.
	prs, err := adm.UpdatePartitions(ctx, 100000, "good")
	if err != nil || !errors.Is(prs["good"].Err, kerr.InvalidPartitions) {
		t.Errorf("UpdatePartitions 100000: %v, %v", err, prs["good"].Err)
	}
	prs, err = adm.UpdatePartitions(ctx, 3, "good")
	if err != nil || prs["good"].Err != nil {
		t.Errorf("UpdatePartitions 3: %v, %v", err, prs["good"].Err)
	}

	// Auto-creation: a Metadata request that may create topics.
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for _, name := range []string{long, "a/b", "auto-ok"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		codes[*rt.Topic] = rt.ErrorCode
	}
	if codes[long] != kerr.InvalidTopicException.Code || codes["a/b"] != kerr.InvalidTopicException.Code || codes["auto-ok"] != 0 {
		t.Errorf("metadata codes %v", codes)
	}
	// And producing to an unknown topic of a bad name.
	if _, err := devbroker.ProduceJSONL(ctx, b.Brokers(), "x/y", strings.NewReader("{}\n"), ""); !errors.Is(err, kerr.InvalidTopicException) {
		t.Errorf("produce to x/y: %v", err)
	}

	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := tds.Names()
	slices.Sort(got)
	want := []string{"auto-ok", longest, "default", "good", "max", "ok.name_-1"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("topics %.30q, want %.30q", got, want)
	}
}

func TestStartPartitions(t *testing.T) {
	for _, n := range []int{-1, devbroker.MaxPartitions + 1} {
		if _, err := devbroker.Start(devbroker.Options{Addr: "127.0.0.1:0", Partitions: n}); err == nil || !strings.Contains(err.Error(), "partitions") {
			t.Errorf("Partitions %d: %v", n, err)
		}
	}
}

func TestExposed(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:9092": "",
		"127.0.0.2:9092": "",
		"[::1]:9092":     "",
		"0.0.0.0:9092":   "every network interface",
		"[::]:9092":      "every network interface",
		":9092":          "every network interface",
		"192.168.1.7:80": "192.168.1.7, an address other machines can reach",
		"[fe80::1]:80":   "fe80::1, an address other machines can reach",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := devbroker.Exposed(a); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

// TestAddressWarning starts brokers on loopback and open addresses: only the
// open ones print the warning, on one line.
func TestAddressWarning(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:0", false},
		{"localhost:0", false},
		{":0", true},
		{"0.0.0.0:0", true},
	} {
		var log bytes.Buffer
		start(t, devbroker.Options{Addr: tc.addr, Log: &log})
		var warnings []string
		for _, l := range strings.SplitAfter(log.String(), "\n") {
			if strings.Contains(l, "warning") {
				warnings = append(warnings, l)
			}
		}
		switch {
		case !tc.warn && len(warnings) > 0:
			t.Errorf("%s: %q", tc.addr, warnings)
		case tc.warn && (len(warnings) != 1 || !strings.Contains(warnings[0], "every network interface, with no authentication and topics created on first use") || !strings.HasSuffix(warnings[0], "--addr=127.0.0.1:PORT keeps it local\n")):
			t.Errorf("%s: want one warning line, log %q", tc.addr, log.String())
		}
	}
}
