//! One ring hop between two threads: the runtime's link (stamped, measured) against bare
//! rtrb (the floor), as round trips of one event, in the same run.
//!
//! `cargo bench --bench hop`; results in perf/pipeline.md.

use criterion::{Criterion, criterion_group, criterion_main};
use pipeline::bench::PingPong;

fn cores() -> (Option<usize>, Option<usize>) {
    match pipeline::runtime::available_cores().as_slice() {
        [a, b, ..] => (Some(*a), Some(*b)),
        _ => (None, None),
    }
}

fn hop(c: &mut Criterion) {
    let mut g = c.benchmark_group("hop_round_trip");
    let mut floor = PingPong::bare_rtrb(cores());
    g.bench_function("floor_bare_rtrb", |b| b.iter_custom(|iters| floor.round_trips(iters)));
    drop(floor);
    let mut ours = PingPong::runtime_link(cores());
    g.bench_function("runtime_link", |b| b.iter_custom(|iters| ours.round_trips(iters)));
    drop(ours);
    g.finish();
}

criterion_group!(benches, hop);
criterion_main!(benches);
