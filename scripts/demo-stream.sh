#!/usr/bin/env bash
# The streaming half of `make demo`: start the development cluster (a
# broker, a coordinator and a worker), put a sample of transactions in a
# Kafka topic, submit the fraud job to the cluster as a stream (results as
# they arrive, its status, then a stop with a savepoint), backfill the topic
# in stream mode and check that batch and stream give identical rows, then
# resume the stopped job locally from its savepoint to the end of the topic.
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
S=$(cd "$DEMO/stream" && pwd) # absolute: the cluster's worker resolves the job's paths

say "a sample of $ROWS transactions, one partition in event-time order with up to 20s of disorder"
"$BIN/fraud" gen --rows="$ROWS" --users=2000 --files=1 --disorder=20s --seed=11 --out=jsonl:"$S/sample"

say "weir dev: a Kafka-protocol broker, a coordinator and a worker on free ports, data in $S/dev"
"$BIN/weir" dev --addr=127.0.0.1:0 --http=127.0.0.1:0 --data-dir="$S/dev" 2>"$S/dev.log" &
pids+=($!)
wait_for 30 "$S/dev.log" "export WEIR_COORDINATORS="
cat "$S/dev.log"
ADDR=$(sed -n 's/.*broker on \([^ ]*\) .*/\1/p' "$S/dev.log" | head -n 1)
# what weir dev prints for the cluster commands: WEIR_COORDINATORS and WEIR_TOKEN_FILE
eval "$(sed -n 's/.*\(export WEIR_COORDINATORS=.*\)/\1/p' "$S/dev.log" | head -n 1)"

say "weir topic create and produce: 4 partitions keyed by user (each keeps the sample's order)"
"$BIN/weir" topic create --brokers="$ADDR" --partitions=4 txns
"$BIN/weir" topic create --brokers="$ADDR" --partitions=1 totals
"$BIN/weir" topic create --brokers="$ADDR" --partitions=1 totals-late
"$BIN/weir" topic produce --brokers="$ADDR" --key=user_id --in="$S/sample/txns-0000.jsonl" txns

say "weir submit: the fraud binary to the cluster, as a stream job Kafka to Kafka with checkpoints every second (exactly-once: transactions commit with each checkpoint the coordinator has recorded)"
"$BIN/weir" submit "$BIN/fraud" -- --mode=stream --in="kafka://$ADDR/txns" --out="kafka://$ADDR/totals" \
	--dead-letter="jsonl:$S/dead-letter" --checkpoint-interval=1s --parallelism=2 | tee "$S/submit.out"
JOB=$(tail -n 1 "$S/submit.out")
echo
echo "the first windows as they arrive:"
run_for 60 "$BIN/weir" topic consume --brokers="$ADDR" --follow --max=5 totals

# wait_status SECONDS PATTERN WHAT: wait until `weir status --json` of the
# job matches PATTERN; else say WHAT did not happen, show the job, and fail.
wait_status() {
	local deadline=$((SECONDS + $1))
	until "$BIN/weir" status --json "$JOB" | grep -q "$2"; do
		if ((SECONDS >= deadline)); then
			echo "demo: job $JOB: $3 after $1s" >&2
			"$BIN/weir" status "$JOB" >&2 || true
			"$BIN/weir" logs "$JOB" >&2 || true
			exit 1
		fi
		sleep 0.2
	done
}
wait_status 60 '"checkpoint": *{' "no completed checkpoint"

say "weir status $JOB"
"$BIN/weir" status "$JOB"

say "weir savepoint: a savepoint of the running job, taken with its next checkpoint; the job goes on"
"$BIN/weir" savepoint "$JOB"

say "weir savepoint --stop: the job stops with a savepoint (windows that fired are committed, the others are in the savepoint)"
"$BIN/weir" savepoint --stop "$JOB"
wait_status 60 '"state": *"stopped"' "not stopped"
"$BIN/weir" status "$JOB"
SAVEPOINT=$("$BIN/weir" status --json "$JOB" | sed -n 's/.*"savepoint": *"\([^"]*\)".*/\1/p' | head -n 1)
echo
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

say "resume the job stopped on the cluster from its savepoint, locally this time, to the end offsets (--bounded)"
"$BIN/fraud" run --mode=stream --bounded --in="kafka://$ADDR/txns" --out="kafka://$ADDR/totals" \
	--dead-letter="jsonl:$S/dead-letter" --from-savepoint="$SAVEPOINT" --checkpoint-dir="$S/checkpoints" --checkpoint-interval=1s \
	--parallelism=2 --progress=never
"$BIN/weir" topic consume --brokers="$ADDR" totals | sort >"$S/totals.sorted"
if ! diff -q "$S/batch.sorted" "$S/totals.sorted" >/dev/null; then
	echo "demo: topic totals after the resume differs from the batch output:" >&2
	diff "$S/batch.sorted" "$S/totals.sorted" | head -n 10 >&2
	exit 1
fi
echo "topic totals (run on the cluster, stopped with a savepoint, resumed locally) equals the batch output: $n rows, none twice, none missing"

say "enrich, two inputs: clicks and profile changes in Kafka (produced keyed by user), joined as a stream to the end offsets; the backfill of the same files gives the same rows"
"$BIN/enrich" gen --clicks=50000 --users=1000 --files=1 --disorder=10s --seed=3 --out=jsonl:"$S/enrich"
"$BIN/weir" topic create --brokers="$ADDR" --partitions=2 clicks
"$BIN/weir" topic create --brokers="$ADDR" --partitions=1 profiles
"$BIN/weir" topic produce --brokers="$ADDR" --key=user_id --in="$S/enrich/clicks/clicks-0000.jsonl" clicks
"$BIN/weir" topic produce --brokers="$ADDR" --key=user_id --in="$S/enrich/profiles/profiles-0000.jsonl" profiles
"$BIN/enrich" run --mode=batch --in=clicks=jsonl:"$S/enrich/clicks" --in=profiles=jsonl:"$S/enrich/profiles" \
	--out=enriched=jsonl:"$S/enrich-batch/enriched" --out=metrics=jsonl:"$S/enrich-batch/metrics" --on-error=fail --parallelism=2 --progress=never
"$BIN/enrich" run --mode=stream --bounded --in=clicks="kafka://$ADDR/clicks" --in=profiles="kafka://$ADDR/profiles" \
	--out=enriched=jsonl:"$S/enrich-stream/enriched" --out=metrics=jsonl:"$S/enrich-stream/metrics" --on-error=fail --parallelism=2 --progress=never
for out in enriched metrics; do
	cat "$S"/enrich-batch/$out/*.jsonl | sort >"$S/enrich-$out-batch.sorted"
	cat "$S"/enrich-stream/$out/*.jsonl | sort >"$S/enrich-$out-stream.sorted"
	if ! diff -q "$S/enrich-$out-batch.sorted" "$S/enrich-$out-stream.sorted" >/dev/null; then
		echo "demo: enrich: batch and stream $out differ:" >&2
		diff "$S/enrich-$out-batch.sorted" "$S/enrich-$out-stream.sorted" | head -n 10 >&2
		exit 1
	fi
	echo "enrich: batch and stream $out are identical: $(wc -l <"$S/enrich-$out-batch.sorted" | tr -d ' ') rows"
done
