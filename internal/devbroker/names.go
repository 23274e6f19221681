package devbroker

import (
	"fmt"
	"unicode/utf8"
)

// MaxTopicNameLen is the longest topic name Kafka accepts: a partition's
// directory is the name, '-' and the partition number, and must fit in the
// 255 bytes a file name may have.
const MaxTopicNameLen = 249

// MaxPartitions is the most partitions a topic may have on the development
// broker (and what `weir topic create` asks of any broker). The broker runs
// in one process and, with a data directory, writes a snapshot file with an
// fsync for every partition at every stop: about a second per thousand
// partitions, and about 1 KB of memory for each before any data. A thousand
// is more than a development pipeline needs (parallelism is bounded by the
// partitions read, and a laptop has a few cores) and keeps start and stop
// quick; bigger topics belong on a real cluster.
const MaxPartitions = 1000

// CheckTopicName returns an error if Kafka would refuse name: it must be 1
// to [MaxTopicNameLen] characters of ASCII letters, digits, '.', '_' and
// '-', and not "." or "..".
func CheckTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("devbroker: the topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("devbroker: %q is not a topic name Kafka allows", name)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("devbroker: topic name %s is %d characters; Kafka allows at most %d", quoteShort(name), len(name), MaxTopicNameLen)
	}
	for i, r := range name {
		if !legalTopicRune(r) {
			what := fmt.Sprintf("%q", r)
			if _, size := utf8.DecodeRuneInString(name[i:]); r == utf8.RuneError && size == 1 {
				what = fmt.Sprintf("the byte %#x", name[i])
			}
			return fmt.Errorf("devbroker: topic name %s has %s; Kafka allows only ASCII letters, digits, '.', '_' and '-'", quoteShort(name), what)
		}
	}
	return nil
}

func legalTopicRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-'
}

// CheckPartitions returns an error unless 1 ≤ n ≤ [MaxPartitions].
func CheckPartitions(n int) error {
	switch {
	case n < 1:
		return fmt.Errorf("devbroker: %d partitions: a topic needs at least 1", n)
	case n > MaxPartitions:
		return fmt.Errorf("devbroker: %d partitions: weir's development broker and tools allow at most %d", n, MaxPartitions)
	}
	return nil
}

// quoteShort quotes name, cut to its first 40 characters when longer, so
// that a message stays one readable line.
func quoteShort(name string) string {
	const keep = 40
	if len(name) <= keep {
		return fmt.Sprintf("%q", name)
	}
	cut := name[:keep]
	for !utf8.ValidString(cut) && len(cut) > 0 {
		cut = cut[:len(cut)-1]
	}
	return fmt.Sprintf("%q...", cut)
}
