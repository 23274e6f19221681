// Package join is the joins' workload: clicks {user_id, page, ts} and
// profile versions {user_id, segment, country, ts} as Parquet files
// ([Generate], seeded and cached), the hand-written Go loop that enriches
// each click with the profile current at its time ([Baseline]), and the
// pipelines weir runs on the same files: [Temporal] (sdk.TemporalJoin),
// [Interval] (sdk.IntervalJoin) and [Window] (sdk.WindowJoin), each
// writing to a [Counter]. cmd/joinbench runs them and prints the figures
// (`make -C benchmarks join`; RESULTS.md, section "Joins").
package join
