package devbroker

import (
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// guard makes the broker apply Kafka's topic rules ([CheckTopicName],
// [CheckPartitions]) to every request that can create a topic or
// partitions, whichever client sends it: CreateTopics, Metadata (which
// creates unknown topics on first use) and CreatePartitions. kfake itself
// accepts any name and count.
//
// For each such request a kfake control looks at the topics it names and,
// for each one that breaks a rule, installs a fault that answers that topic
// of that request alone with Kafka's error code (INVALID_TOPIC_EXCEPTION,
// INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR); kfake then handles the
// request as usual, so the valid topics of the same request are created as
// Kafka would. The control never answers a request itself.
//
// Controls run one request at a time on kfake's run loop; mu only makes
// that ordering explicit.
type guard struct {
	c  *kfake.Cluster
	mu struct {
		sync.Mutex
		// last holds the faults installed for the previous request: each
		// matches that request only and removes itself once it answered,
		// so any left are dropped when the next request comes.
		last []*kfake.FaultHandle
	}
}

func installGuard(c *kfake.Cluster) {
	g := &guard{c: c}
	for _, k := range []kmsg.Key{kmsg.CreateTopics, kmsg.Metadata, kmsg.CreatePartitions} {
		c.ControlKey(int16(k), g.control)
	}
}

// control installs the faults for req and lets kfake handle it.
func (g *guard) control(req kmsg.Request) (kmsg.Response, error, bool) {
	var faults []kfake.Fault
	bad := func(topic string, e *kerr.Error) {
		// An empty Topic selects every topic: a request naming "" has
		// all its topics refused, which only a broken client sends.
		faults = append(faults, kfake.Fault{
			Keys:  []kmsg.Key{kmsg.Key(req.Key())},
			Topic: topic,
			Err:   e,
			When:  func(r kmsg.Request) bool { return r == req },
		})
	}
	switch req := req.(type) {
	case *kmsg.CreateTopicsRequest:
		for _, t := range req.Topics {
			switch {
			case CheckTopicName(t.Topic) != nil:
				bad(t.Topic, kerr.InvalidTopicException)
			case len(t.ReplicaAssignment) > MaxPartitions:
				bad(t.Topic, kerr.InvalidPartitions)
			case len(t.ReplicaAssignment) > 0:
				// kfake checks the assignment and that the counts are -1.
			case t.NumPartitions != -1 && CheckPartitions(int(t.NumPartitions)) != nil:
				bad(t.Topic, kerr.InvalidPartitions)
			case t.ReplicationFactor == 0 || t.ReplicationFactor < -1:
				bad(t.Topic, kerr.InvalidReplicationFactor)
			}
		}
	case *kmsg.MetadataRequest:
		for _, t := range req.Topics {
			if t.Topic != nil && CheckTopicName(*t.Topic) != nil {
				bad(*t.Topic, kerr.InvalidTopicException)
			}
		}
	case *kmsg.CreatePartitionsRequest:
		for _, t := range req.Topics {
			if t.Count > MaxPartitions {
				bad(t.Topic, kerr.InvalidPartitions)
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range g.mu.last {
		h.Remove()
	}
	g.mu.last = g.mu.last[:0]
	if len(faults) > 0 {
		g.mu.last = append(g.mu.last, g.c.Fault(faults...))
	}
	return nil, nil, false
}

// gatedListener holds back accepting connections until open is closed, so
// that no request reaches the broker before its guard is installed.
type gatedListener struct {
	net.Listener
	open chan struct{}
}

func (l *gatedListener) Accept() (net.Conn, error) {
	<-l.open
	return l.Listener.Accept()
}
