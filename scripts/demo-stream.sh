#!/usr/bin/env bash
# The streaming half of `make demo`: start the development broker, put a
# sample of transactions in a Kafka topic, run the fraud job on it as a
# stream (results as they arrive, then a graceful stop), backfill the topic
# in stream mode and check that batch and stream give identical rows.
#
# Everything lives under $DEMO; every process started here is stopped on
# exit, whatever happens.
set -euo pipefail

BIN=${BIN:-bin}
DEMO=${DEMO:-.demo}
ROWS=${ROWS:-200000}

say() { printf '\n== %s\n' "$*"; }

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# wait_for SECONDS FILE TEXT: wait until FILE contains TEXT.
wait_for() {
	local deadline=$((SECONDS + $1))
	until grep -q "$3" "$2" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			echo "demo: no \"$3\" in $2 after $1s:" >&2
			cat "$2" >&2 || true
			exit 1
		fi
		sleep 0.1
	done
}

# run_for SECONDS CMD...: run CMD, stopping it after SECONDS.
run_for() {
	local limit=$1
	shift
	"$@" &
	local pid=$! deadline=$((SECONDS + limit))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}

rm -rf "$DEMO/stream"
mkdir -p "$DEMO/stream"
S=$DEMO/stream

say "a sample of $ROWS transactions, one partition in event-time order with up to 20s of disorder"
"$BIN/fraud" gen --rows="$ROWS" --users=2000 --files=1 --disorder=20s --seed=11 --out=jsonl:"$S/sample"

say "weir dev: a Kafka-protocol broker on a free port, data in $S/kafka"
"$BIN/weir" dev --addr=127.0.0.1:0 --data-dir="$S/kafka" 2>"$S/dev.log" &
pids+=($!)
wait_for 20 "$S/dev.log" "broker on "
ADDR=$(sed -n 's/.*broker on \([^ ]*\) .*/\1/p' "$S/dev.log" | head -n 1)
echo "broker on $ADDR"

say "weir topic create and produce: 4 partitions keyed by user (each keeps the sample's order)"
"$BIN/weir" topic create --brokers="$ADDR" --partitions=4 txns
"$BIN/weir" topic create --brokers="$ADDR" --partitions=1 totals
"$BIN/weir" topic create --brokers="$ADDR" --partitions=1 totals-late
"$BIN/weir" topic produce --brokers="$ADDR" --key=user_id --in="$S/sample/txns-0000.jsonl" txns

say "fraud run --mode=stream: Kafka to Kafka with checkpoints every second (exactly-once: transactions commit with each checkpoint); the first windows as they arrive"
"$BIN/fraud" run --mode=stream --in="kafka://$ADDR/txns" --out="kafka://$ADDR/totals" \
	--dead-letter="jsonl:$S/dead-letter" --checkpoint-dir="$S/checkpoints" --checkpoint-interval=1s \
	--parallelism=2 --progress=never 2>"$S/stream.log" &
job=$!
pids+=($job)
run_for 60 "$BIN/weir" topic consume --brokers="$ADDR" --follow --max=5 totals

say "SIGTERM: the job stops gracefully (windows that fired are committed, the others stay unfired)"
kill -TERM "$job"
code=0
wait "$job" || code=$?
cat "$S/stream.log"
echo "exit code $code"
if [ "$code" != 0 ]; then
	echo "demo: the stopped stream job exited $code, want 0" >&2
	exit 1
fi
echo "rows in topic totals: $("$BIN/weir" topic consume --brokers="$ADDR" totals | wc -l | tr -d ' ') (the last windows wait for more events)"

say "the same sample: batch from the file, and stream from Kafka to its end offsets (--bounded)"
"$BIN/fraud" run --mode=batch --in="jsonl:$S/sample/txns-0000.jsonl" --out="jsonl:$S/batch" --parallelism=2 --progress=never
"$BIN/fraud" run --mode=stream --bounded --in="kafka://$ADDR/txns" --out="jsonl:$S/stream-out" --parallelism=2 --progress=never

cat "$S"/batch/*.jsonl | sort >"$S/batch.sorted"
cat "$S"/stream-out/*.jsonl | sort >"$S/stream.sorted"
if ! diff -q "$S/batch.sorted" "$S/stream.sorted" >/dev/null; then
	echo "demo: batch and stream outputs differ:" >&2
	diff "$S/batch.sorted" "$S/stream.sorted" | head -n 10 >&2
	exit 1
fi
n=$(wc -l <"$S/batch.sorted" | tr -d ' ')
if [ "$n" = 0 ]; then
	echo "demo: no rows" >&2
	exit 1
fi
echo
echo "batch and stream outputs are identical: $n rows"

say "resume the stopped stream job from its checkpoint, this time to the end offsets (--bounded)"
"$BIN/fraud" run --mode=stream --bounded --in="kafka://$ADDR/txns" --out="kafka://$ADDR/totals" \
	--dead-letter="jsonl:$S/dead-letter" --checkpoint-dir="$S/checkpoints" --checkpoint-interval=1s \
	--parallelism=2 --progress=never
"$BIN/weir" topic consume --brokers="$ADDR" totals | sort >"$S/totals.sorted"
if ! diff -q "$S/batch.sorted" "$S/totals.sorted" >/dev/null; then
	echo "demo: topic totals after the resume differs from the batch output:" >&2
	diff "$S/batch.sorted" "$S/totals.sorted" | head -n 10 >&2
	exit 1
fi
echo "topic totals (stopped, then resumed) equals the batch output: $n rows, none twice, none missing"
