// Package netx is the transport of the network exchange: one TCP
// connection per pair of workers, multiplexing the streams between them
// (one stream per input channel of a task: a sender task's rows, watermarks
// and signals for one receiver task), with credit-based flow control.
//
// A stream's receiver holds at most Options.Window frames of it; the sender
// spends one credit per frame and waits when it has none; the receiver
// gives credits back as its consumer takes frames. So a slow consumer slows
// only the producers of its own streams (the connection's reader never
// waits: a frame always has room), and the memory of a stream is bounded
// by Window frames. This is Flink's credit-based flow control (FLINK-7282)
// with frames counted instead of network buffers.
//
// Frames: a 13-byte header (payload length u32, kind u8, stream u64, big
// endian) and the payload. Kinds: hello (first frame each way: magic,
// version and a token compared in constant time), data, credit (a uvarint
// count). What a data frame holds is the caller's business (the runner
// encodes one exchange message per frame, batches with the generated
// codecs).
//
// A failed connection fails every stream on it, at once for senders and
// after the frames already received for receivers: the runner then fails
// the job, which restarts from its last checkpoint. There is no
// reconnection.
package netx
