// Package enrich is weir's second seed pipeline, the enrichment pattern: a
// clickstream joined with a changelog of user profiles into enriched
// clicks, and per-segment metrics of those.
//
//   - enriched: every click with the segment and country of the user's
//     profile version current at the click's event time (a temporal join,
//     Flink's FOR SYSTEM_TIME AS OF; empty strings when the user had no
//     profile yet), one row per click;
//   - metrics: per segment and 1-minute tumbling window, the clicks, the
//     distinct users and the most clicked page.
//
// The same [Build] runs as a backfill over Parquet or JSON Lines files and
// as a stream over Kafka topics with identical rows: a click waits until
// the watermark of both inputs has passed its time, so its answer does not
// depend on which input was read first. A click or profile change later
// than the bounded out-of-orderness of its own partition is late: counted
// in the job's late records and dropped. cmd/enrich is the binary (`enrich
// run --in=clicks=... --in=profiles=... --out=enriched=...
// --out=metrics=...`) and enrichgen generates inputs and their expected
// outputs.
package enrich
