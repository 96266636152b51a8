//! Journal tests: round trips, checksums, torn tails, corruption, replay.

use std::path::{Path, PathBuf};

use super::codec::tests::{every_record, sample_exec};
use super::*;
use crate::msg::{ClientOrderId, Leg, OrderEvent, OrderUpdate, VenueOrderId};
use crate::types::{Amount, InstrumentId, Price, Qty, Side};

pub(crate) fn scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "arb-journal-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn split(records: Vec<Record>) -> (Vec<Record>, Vec<Record>) {
    records.into_iter().partition(|r| r.kind().journal() == JournalKind::Dispatch)
}

fn write_all(dir: &Path, kind: JournalKind, recs: &[Record]) {
    let (mut w, opened) = JournalWriter::open(dir, kind).unwrap();
    assert_eq!(opened.truncated, 0);
    for r in recs {
        w.append(r).unwrap();
    }
    w.commit().unwrap();
}

#[test]
fn records_round_trip_through_both_files() {
    let dir = scratch("roundtrip");
    let (d, s) = split(every_record());
    write_all(&dir, JournalKind::Dispatch, &d);
    write_all(&dir, JournalKind::State, &s);
    let jd = read_file(&dir.join("dispatch.journal")).unwrap();
    let js = read_file(&dir.join("state.journal")).unwrap();
    assert_eq!(jd.tail, Tail::Clean);
    assert_eq!(js.tail, Tail::Clean);
    assert_eq!(jd.records().copied().collect::<Vec<_>>(), d);
    assert_eq!(js.records().copied().collect::<Vec<_>>(), s);
    assert_eq!(
        js.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=s.len() as u64).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_writer_refuses_the_other_writers_records() {
    let dir = scratch("wrongfile");
    let (mut w, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    assert_eq!(w.append(&Record::OpStarted(sample_exec(1))), Err(JournalError::WrongFile));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn appending_continues_the_sequence_after_reopening() {
    let dir = scratch("reopen");
    for _ in 0..3 {
        let (mut w, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
        w.write(&Record::CancelAll { ts_ns: 1 }).unwrap();
        w.sync().unwrap();
    }
    let j = read_file(&dir.join("dispatch.journal")).unwrap();
    assert_eq!(j.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits up to 5 s for `cond`.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "{what} within 5 s");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn commits_only_write_and_the_sync_thread_makes_them_durable() {
    let dir = scratch("sync");
    let (mut d, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let (mut s, _) = JournalWriter::open(&dir, JournalKind::State).unwrap();
    let opened = (d.len(), s.len());
    assert_eq!((d.synced_len(), s.synced_len()), opened, "what open found is durable");
    let handles = vec![d.sync_handle().unwrap(), s.sync_handle().unwrap()];
    let sync = JournalSync::start(FsyncPolicy::EveryN(3), &dir, handles).unwrap().unwrap();
    for i in 0..2 {
        d.write(&Record::CancelAll { ts_ns: i }).unwrap();
    }
    s.write(&Record::OpPhase { op: 1, phase: OpPhase::Recovering, ts_ns: 1 }).unwrap();
    // Two records pending on dispatch, one on state: below every_n, nothing synced, and
    // the commits themselves synced nothing.
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!((d.synced_len(), s.synced_len()), opened);
    d.write(&Record::CancelAll { ts_ns: 3 }).unwrap();
    eventually("the third record synced", || d.synced_len() == d.len());
    assert_eq!(s.synced_len(), opened.1, "the state file has one record pending");
    let sidecar = read_synced(&dir).unwrap();
    assert_eq!(sidecar[0], (dir.join("dispatch.journal"), d.len()));
    // Stopping syncs whatever is pending, whatever the policy.
    sync.stop();
    assert_eq!(s.synced_len(), s.len());
    assert_eq!(read_synced(&dir).unwrap()[1], (dir.join("state.journal"), s.len()));
    assert!(JournalSync::start(FsyncPolicy::Never, &dir, Vec::new()).unwrap().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_interval_policy_syncs_first_an_interval_after_open_not_when_its_thread_starts() {
    let dir = scratch("sync-interval");
    let (mut d, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let opened = d.len();
    // The stages start before the sync thread and may write first.
    d.write(&Record::CancelAll { ts_ns: 1 }).unwrap();
    let sync = JournalSync::start(FsyncPolicy::IntervalMs(60_000), &dir, vec![d.sync_handle().unwrap()])
        .unwrap()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    assert_eq!(d.synced_len(), opened, "nothing synced before the interval");
    sync.stop();
    assert_eq!(d.synced_len(), d.len(), "the stop syncs what is pending");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_record_syncs_as_soon_as_anything_is_pending() {
    let dir = scratch("sync-every");
    let (mut d, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    let sync =
        JournalSync::start(FsyncPolicy::EveryRecord, &dir, vec![d.sync_handle().unwrap()]).unwrap().unwrap();
    for i in 0..50 {
        d.write(&Record::CancelAll { ts_ns: i }).unwrap();
        eventually("record synced", || d.synced_len() == d.len());
    }
    assert!(sync.stats().syncs.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    drop(sync);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_sync_breaks_the_writer() {
    let dir = scratch("sync-fail");
    let (mut d, _) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    d.write(&Record::CancelAll { ts_ns: 1 }).unwrap();
    d.break_sync_for_test();
    assert_eq!(
        d.write(&Record::CancelAll { ts_ns: 2 }),
        Err(JournalError::Io(std::io::ErrorKind::StorageFull))
    );
    assert!(d.failure_cause().get().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_flipped_byte_is_caught() {
    let dir = scratch("flip");
    let recs: Vec<Record> = (0..4).map(|i| Record::CancelAll { ts_ns: i }).collect();
    write_all(&dir, JournalKind::Dispatch, &recs);
    let path = dir.join("dispatch.journal");
    let good = std::fs::read(&path).unwrap();
    // Flip one bit in every byte of the first three frames (after the file header): each
    // flip is detected, either as damage or, in the header, as a bad header.
    let frame = 18 + 8;
    for at in 16..16 + 3 * frame {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        let j = reader::parse(&path, &bad).unwrap();
        assert!(j.entries.len() < 4, "flip at {at} went unnoticed");
        assert!(j.tail.is_corrupt(), "flip at {at}: {:?}", j.tail);
    }
    // A flip in the last complete frame is corruption too, not a torn write: the frame
    // is whole, so no write was interrupted.
    for at in 16 + 3 * frame + 4..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 1;
        let j = reader::parse(&path, &bad).unwrap();
        assert_eq!(j.entries.len(), 3);
        let offset = (16 + 3 * frame) as u64;
        assert_eq!(j.tail, Tail::Corrupt { offset, record: 4, damage: Damage::Checksum }, "flip at {at}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_tail_is_tolerated_and_cut_off_by_the_writer() {
    let dir = scratch("torn");
    let recs: Vec<Record> = (0..5).map(|i| Record::CancelAll { ts_ns: u64::MAX - i }).collect();
    write_all(&dir, JournalKind::Dispatch, &recs);
    let path = dir.join("dispatch.journal");
    let good = std::fs::read(&path).unwrap();
    // Every cut inside the last frame, and zeros after a cut that still leave the frame
    // short, read as a torn tail of record 5.
    let frame = 18 + 8;
    let last = good.len() - frame;
    for cut in last + 1..good.len() {
        for zeros in [0usize, 1, 7, 100] {
            let mut bytes = good[..cut].to_vec();
            bytes.extend(std::iter::repeat_n(0u8, zeros));
            let j = reader::parse(&path, &bytes).unwrap();
            if cut + zeros >= good.len() {
                // The zeros complete the frame: a whole frame that fails its checksum.
                assert!(j.tail.is_corrupt(), "cut {cut} zeros {zeros}: {:?}", j.tail);
                continue;
            }
            assert_eq!(j.entries.len(), 4, "cut {cut} zeros {zeros}");
            let torn = Tail::Torn { offset: last as u64, record: 5, bytes: (cut + zeros - last) as u64 };
            assert_eq!(j.tail, torn, "cut {cut} zeros {zeros}");
        }
    }
    // Only zeros after the last frame: space the file system allocated, never written.
    for zeros in [1usize, 18, 26, 4096] {
        let mut bytes = good.clone();
        bytes.extend(std::iter::repeat_n(0u8, zeros));
        let j = reader::parse(&path, &bytes).unwrap();
        assert_eq!(j.entries.len(), 5);
        assert_eq!(j.tail, Tail::Torn { offset: good.len() as u64, record: 6, bytes: zeros as u64 });
    }
    std::fs::write(&path, &good[..good.len() - 5]).unwrap();
    let (mut w, opened) = JournalWriter::open(&dir, JournalKind::Dispatch).unwrap();
    assert_eq!(opened.records, 4);
    assert_eq!(opened.truncated, (frame - 5) as u64);
    assert_eq!(w.next_seq(), 5);
    w.write(&Record::CancelAll { ts_ns: 99 }).unwrap();
    let j = read_file(&path).unwrap();
    assert_eq!(j.tail, Tail::Clean);
    assert_eq!(j.entries.len(), 5);
    assert_eq!(j.entries[4].record, Record::CancelAll { ts_ns: 99 });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sectors_that_never_landed_are_a_torn_tail_and_a_complete_bad_frame_is_not() {
    let dir = scratch("sectors");
    // Twenty 26-byte frames after the 16-byte header: the last one spans bytes 510..536,
    // across the sector boundary at 512.
    let recs: Vec<Record> = (0..20).map(|i| Record::CancelAll { ts_ns: u64::MAX - i }).collect();
    write_all(&dir, JournalKind::Dispatch, &recs);
    let path = dir.join("dispatch.journal");
    let good = std::fs::read(&path).unwrap();
    assert_eq!(good.len(), 536);
    // The write's second sector never landed: zeros from 512 to the end.
    for extra in [0usize, 100] {
        let mut bytes = good.clone();
        bytes[512..].fill(0);
        bytes.extend(std::iter::repeat_n(0u8, extra));
        let j = reader::parse(&path, &bytes).unwrap();
        assert_eq!(j.entries.len(), 19);
        assert_eq!(j.tail, Tail::Torn { offset: 510, record: 20, bytes: (26 + extra) as u64 });
    }
    // Zeros from a point that is not a sector boundary: the frame is complete and damaged.
    let mut bytes = good.clone();
    bytes[520..].fill(0);
    let j = reader::parse(&path, &bytes).unwrap();
    assert_eq!(j.tail, Tail::Corrupt { offset: 510, record: 20, damage: Damage::Checksum });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corruption_before_the_end_is_reported_and_refused() {
    let dir = scratch("corrupt");
    let recs: Vec<Record> = (0..5).map(|i| Record::CancelAll { ts_ns: u64::MAX - i }).collect();
    write_all(&dir, JournalKind::Dispatch, &recs);
    let path = dir.join("dispatch.journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let frame = 18 + 8;
    let second_payload = 16 + frame + 18;
    bytes[second_payload] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let j = read_file(&path).unwrap();
    assert_eq!(j.entries.len(), 1);
    assert_eq!(j.tail, Tail::Corrupt { offset: (16 + frame) as u64, record: 2, damage: Damage::Checksum });
    assert_eq!(
        JournalWriter::open(&dir, JournalKind::Dispatch).unwrap_err(),
        JournalError::Corrupt { file: JournalKind::Dispatch, offset: (16 + frame) as u64 }
    );
    let e = replay(&dir).unwrap_err().to_string();
    assert!(e.contains("dispatch.journal is corrupt at byte offset"), "the file is named: {e}");
    assert!(replay(&dir).is_err());
    let ins = inspect(&dir).unwrap();
    assert_eq!(ins.verdict, Verdict::Corrupt);
    assert!(ins.to_string().contains("CORRUPT at offset 42"), "{ins}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sequence_gap_is_corruption() {
    let dir = scratch("gap");
    let recs: Vec<Record> = (0..3).map(|i| Record::CancelAll { ts_ns: i }).collect();
    write_all(&dir, JournalKind::Dispatch, &recs);
    let path = dir.join("dispatch.journal");
    let bytes = std::fs::read(&path).unwrap();
    // Drop the middle frame: the third now follows the first.
    let frame = 18 + 8;
    let mut cut = bytes[..16 + frame].to_vec();
    cut.extend_from_slice(&bytes[16 + 2 * frame..]);
    let j = reader::parse(&path, &cut).unwrap();
    assert_eq!(
        j.tail,
        Tail::Corrupt {
            offset: (16 + frame) as u64,
            record: 2,
            damage: Damage::Sequence { expected: 2, found: 3 }
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_header_is_refused() {
    let dir = scratch("header");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("state.journal"), b"not a journal at all").unwrap();
    let e = JournalWriter::open(&dir, JournalKind::State).unwrap_err();
    assert_eq!(e, JournalError::BadHeader { file: Some(JournalKind::State) });
    assert!(
        e.to_string().starts_with("state.journal does not begin with this engine's journal header"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn fill(op: u64, leg: u8, attempt: u8, inst: u16, side: Side, qty: i64, value: i128) -> Record {
    Record::FillApplied(FillApplied {
        client: ClientOrderId { op, leg, attempt },
        inst: InstrumentId(inst),
        side,
        qty: Qty(qty),
        value: Amount(value),
        fee: Amount(1),
        ts_ns: 0,
        valuation: None,
    })
}

fn event(op: u64, leg: u8, attempt: u8, inst: u16, side: Side, update: OrderUpdate) -> Record {
    Record::OrderEvent(OrderEvent {
        client: ClientOrderId { op, leg, attempt },
        inst: InstrumentId(inst),
        side,
        update,
        venue_order: VenueOrderId::default(),
        ts_ns: 0,
    })
}

#[test]
fn replay_rebuilds_positions_orders_and_unresolved_outcomes() {
    let dir = scratch("replay");
    let intent = |op, leg, inst, side, qty| Record::OrderIntent {
        client: ClientOrderId { op, leg, attempt: 0 },
        leg: Leg { inst: InstrumentId(inst), side, price: Price(100), qty: Qty(qty) },
        tif: TimeInForce::Ioc,
        ts_ns: 0,
    };
    write_all(
        &dir,
        JournalKind::Dispatch,
        &[
            Record::OpIntent {
                op: 41,
                kind: crate::msg::OppKind::SpotSpot,
                n_legs: 2,
                deadline_ns: 0,
                ts_ns: 0,
            },
            intent(41, 0, 0, Side::Buy, 10),
            intent(41, 1, 1, Side::Sell, 10),
            Record::OpIntent {
                op: 42,
                kind: crate::msg::OppKind::SpotSpot,
                n_legs: 2,
                deadline_ns: 0,
                ts_ns: 0,
            },
            intent(42, 0, 0, Side::Buy, 10),
            intent(42, 1, 1, Side::Sell, 10),
        ],
    );
    write_all(
        &dir,
        JournalKind::State,
        &[
            event(41, 0, 0, 0, Side::Buy, OrderUpdate::Done { filled: Qty(10) }),
            fill(41, 0, 0, 0, Side::Buy, 10, 1000),
            fill(41, 1, 0, 1, Side::Sell, 10, 1010),
            event(41, 1, 0, 1, Side::Sell, OrderUpdate::Done { filled: Qty(10) }),
            Record::OpFinished { op: 41, success: true, realized_pnl: Amount(8), wall_ms: 0, ts_ns: 0 },
            // Op 42: the buy filled; the sell's outcome never arrived (crash).
            fill(42, 0, 0, 0, Side::Buy, 10, 1000),
            event(42, 0, 0, 0, Side::Buy, OrderUpdate::Done { filled: Qty(10) }),
            event(42, 1, 0, 1, Side::Sell, OrderUpdate::Accepted),
        ],
    );
    let r = replay(&dir).unwrap();
    assert_eq!(r.last_op_id, 42);
    assert_eq!(r.position(InstrumentId(0)), Qty(20));
    assert_eq!(r.position(InstrumentId(1)), Qty(-10));
    assert_eq!(r.realized_pnl, Amount(8));
    let unresolved: Vec<_> = r.unresolved().map(|o| o.client).collect();
    assert_eq!(unresolved, vec![ClientOrderId { op: 42, leg: 1, attempt: 0 }]);
    assert_eq!(r.open_ops().map(|o| o.op).collect::<Vec<_>>(), vec![42]);
    assert_eq!(r.order(ClientOrderId { op: 41, leg: 1, attempt: 0 }).unwrap().state, OrderState::Filled);
    let ins = inspect(&dir).unwrap();
    assert_eq!(ins.verdict, Verdict::Intact);
    let text = ins.to_string();
    assert!(text.contains("unresolved (reconcile before trading): 1"), "{text}");
    assert!(text.contains("last op id 42"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_directory_inspects_as_empty() {
    let dir = scratch("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let ins = inspect(&dir).unwrap();
    assert_eq!(ins.verdict, Verdict::Empty);
    assert_eq!(replay(&dir).unwrap().last_op_id, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_config_names_the_fsync_policy() {
    let c: JournalConfig = toml::from_str("dir = \"j\"\nfsync = { every_n = 16 }").unwrap();
    assert_eq!(c.fsync, FsyncPolicy::EveryN(16));
    let c: JournalConfig = toml::from_str("dir = \"j\"\nfsync = \"never\"").unwrap();
    assert_eq!(c.fsync, FsyncPolicy::Never);
    let c: JournalConfig = toml::from_str("dir = \"j\"\nfsync = { interval_ms = 5 }").unwrap();
    assert_eq!(c.fsync, FsyncPolicy::IntervalMs(5));
    let c: JournalConfig = toml::from_str("dir = \"j\"").unwrap();
    assert_eq!(c.fsync, FsyncPolicy::EveryRecord);
    assert!(toml::from_str::<JournalConfig>("dir = \"j\"\nfsinc = \"never\"").is_err());
}

#[test]
fn verify_names_every_damaged_stretch_and_reads_on() {
    let dir = scratch("verify");
    let recs: Vec<Record> = (0..10).map(|i| Record::CancelAll { ts_ns: u64::MAX - i }).collect();
    write_all(&dir, JournalKind::Dispatch, &recs);
    let path = dir.join("dispatch.journal");
    let mut bytes = std::fs::read(&path).unwrap();
    let frame = 18 + 8;
    let at = |record: usize| 16 + (record - 1) * frame;
    bytes[at(3) + 20] ^= 0x04; // a payload byte of record 3
    bytes[at(6) + 1] ^= 0x80; // the length of record 6: impossible
    bytes[at(10) + 9] ^= 0x01; // the sequence number of record 10, the last
    let found = verify(&bytes).unwrap();
    assert_eq!(
        found,
        vec![
            Finding::Corrupt {
                offset: at(3) as u64,
                record: 3,
                damage: Damage::Checksum,
                bytes: frame as u64,
                resumed: Some(4)
            },
            Finding::Corrupt {
                offset: at(6) as u64,
                record: 6,
                damage: Damage::Length,
                bytes: frame as u64,
                resumed: Some(7)
            },
            Finding::Corrupt {
                offset: at(10) as u64,
                record: 10,
                damage: Damage::Checksum,
                bytes: frame as u64,
                resumed: None
            },
        ]
    );
    // The reader stops at the first.
    let j = reader::parse(&path, &bytes).unwrap();
    assert_eq!(j.entries.len(), 2);
    assert_eq!(j.tail, Tail::Corrupt { offset: at(3) as u64, record: 3, damage: Damage::Checksum });
    // A clean file has nothing to say; a torn one says where its tail starts.
    let good = std::fs::read(&path).unwrap();
    assert_eq!(verify(&good).unwrap(), vec![]);
    assert_eq!(
        verify(&good[..good.len() - 3]).unwrap(),
        vec![Finding::Torn { offset: at(10) as u64, record: 10, bytes: (frame - 3) as u64 }]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_log_is_named_and_fails_the_verdict() {
    for lost in [JournalKind::Dispatch, JournalKind::State] {
        let dir = scratch("missing");
        let (d, s) = split(every_record());
        write_all(&dir, JournalKind::Dispatch, &d);
        write_all(&dir, JournalKind::State, &s);
        assert_eq!(inspect(&dir).unwrap().verdict, Verdict::Intact);
        std::fs::remove_file(dir.join(lost.file_name())).unwrap();
        let ins = inspect(&dir).unwrap();
        assert_eq!(ins.verdict, Verdict::Missing, "{lost:?}");
        assert!(!ins.verdict.is_ok());
        assert_eq!(
            ins.problems,
            vec![Problem { path: dir.join(lost.file_name()), kind: lost, issue: Issue::Missing }]
        );
        let text = ins.to_string();
        assert!(text.contains(&format!("{}: MISSING", dir.join(lost.file_name()).display())), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_torn_tail_passes_the_verdict_and_corruption_in_the_last_record_does_not() {
    let dir = scratch("verdicts");
    let (d, s) = split(every_record());
    write_all(&dir, JournalKind::Dispatch, &d);
    write_all(&dir, JournalKind::State, &s);
    let path = dir.join("state.journal");
    let good = std::fs::read(&path).unwrap();
    std::fs::write(&path, &good[..good.len() - 2]).unwrap();
    let ins = inspect(&dir).unwrap();
    assert_eq!(ins.verdict, Verdict::TornTail);
    assert!(ins.verdict.is_ok());
    assert!(ins.problems.iter().all(|p| !p.is_fatal()));
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 2] ^= 0x20;
    std::fs::write(&path, &bad).unwrap();
    let ins = inspect(&dir).unwrap();
    assert_eq!(ins.verdict, Verdict::Corrupt);
    assert!(ins.problems[0].is_fatal());
    assert!(ins.to_string().contains(&format!("record {}: checksum mismatch", s.len())), "{ins}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_history_dates_prices_and_sums_every_operation_and_fill() {
    use crate::msg::{Execution, OppKind, Opportunity};
    use crate::testkit::{px, qty, universe};
    let u = universe();
    let t = &u.instruments;
    let (g, m) = (t.get(u.gate_btc), t.get(u.mexc_btc));
    let (usdt, btc) = (g.quote, g.base);
    let amount = |s: &str| Amount::parse(s).unwrap();
    const S: u64 = 1_000_000_000;
    const D: u64 = 20_000; // 2024-10-04
    let exec = |op: u64, approved_ns: u64| {
        let mut legs = [Leg::default(); crate::msg::MAX_LEGS];
        legs[0] = Leg { inst: g.id, side: Side::Buy, price: px(g, "50000"), qty: qty(g, "0.01") };
        legs[1] = Leg { inst: m.id, side: Side::Sell, price: px(m, "50100"), qty: qty(m, "0.01") };
        let opp = Opportunity { kind: OppKind::SpotSpot, n_legs: 2, legs, ..*sample_exec(op).opp() };
        Record::OpStarted(Execution::new(op, opp, approved_ns, u64::MAX))
    };
    let ev = |op, leg, attempt, inst: InstrumentId, side, update, id: &str, ts_ns| {
        Record::OrderEvent(OrderEvent {
            client: ClientOrderId { op, leg, attempt },
            inst,
            side,
            update,
            venue_order: VenueOrderId::new(id).unwrap(),
            ts_ns,
        })
    };
    let applied = |op, leg, attempt, inst, side, q: Qty, value: &str, fee: &str, ts_ns| {
        Record::FillApplied(FillApplied {
            client: ClientOrderId { op, leg, attempt },
            inst,
            side,
            qty: q,
            value: amount(value),
            fee: amount(fee),
            ts_ns,
            valuation: None,
        })
    };
    let fill = |price, q: Qty, fee: &str, fee_asset, trade_id| OrderUpdate::Fill {
        price,
        qty: q,
        cum_qty: q,
        fee: amount(fee),
        fee_asset,
        trade_id,
    };
    let finished = |op, success, pnl: &str, wall_ms, ts_ns| Record::OpFinished {
        op,
        success,
        realized_pnl: amount(pnl),
        wall_ms,
        ts_ns,
    };
    let (q1, q2) = (qty(g, "0.01"), qty(m, "0.01"));
    let state = vec![
        // 1: both legs fill; the Gate buy pays its fee in BTC.
        exec(1, S),
        ev(1, 0, 0, g.id, Side::Buy, OrderUpdate::Accepted, "G-1", S),
        ev(1, 0, 0, g.id, Side::Buy, fill(px(g, "50000"), q1, "0.00001", btc, 7), "", S + S / 10),
        applied(1, 0, 0, g.id, Side::Buy, q1, "500", "0.5", S + S / 5),
        ev(1, 1, 0, m.id, Side::Sell, fill(px(m, "50100"), q2, "0.501", usdt, 8), "M-1", S + S / 5),
        applied(1, 1, 0, m.id, Side::Sell, q2, "501", "0.501", S + S * 3 / 10),
        Record::OpPhase { op: 1, phase: OpPhase::Completed, ts_ns: S + S * 2 / 5 },
        finished(1, true, "0.499", D * history::DAY_MS + 5_000, S + S / 2),
        // 2: nothing filled (missed), closed the next day.
        exec(2, 2 * S),
        Record::OpPhase { op: 2, phase: OpPhase::Failed, ts_ns: 3 * S },
        finished(2, true, "0", (D + 1) * history::DAY_MS + 1_000, 3 * S),
        // 3: the buy is learned from a query, then unwound; fails at a loss.
        exec(3, 4 * S),
        ev(
            3,
            0,
            0,
            g.id,
            Side::Buy,
            OrderUpdate::Status {
                filled: q1,
                value: amount("500"),
                fee: amount("0.5"),
                fee_asset: usdt,
                open: false,
            },
            "G-3",
            4 * S,
        ),
        applied(3, 0, 0, g.id, Side::Buy, q1, "500", "0.5", 4 * S),
        ev(3, 0, 1, g.id, Side::Sell, fill(px(g, "49900"), q1, "0.499", usdt, 9), "G-4", 5 * S),
        applied(3, 0, 1, g.id, Side::Sell, q1, "499", "0.499", 5 * S),
        Record::OpPhase { op: 3, phase: OpPhase::Failed, ts_ns: 6 * S },
        finished(3, false, "-1.999", (D + 1) * history::DAY_MS + 4_000, 6 * S),
        // 4: still open.
        exec(4, 7 * S),
    ];
    let dir = scratch("history");
    write_all(&dir, JournalKind::State, &state);
    let j = read_file(&dir.join("state.journal")).unwrap();
    let h = history(None, Some(&j), t);

    let outcomes: Vec<_> = h.ops.iter().map(|o| (o.op, o.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![
            (1, Outcome::Completed),
            (2, Outcome::Missed),
            (3, Outcome::Failed),
            (4, Outcome::Open(OpPhase::Executing))
        ]
    );
    let day = D * history::DAY_MS;
    let next = (D + 1) * history::DAY_MS;
    let op = |n: u64| h.ops.iter().find(|o| o.op == n).unwrap();
    assert_eq!((op(1).opened_ms, op(1).closed_ms), (Some(day + 4_500), Some(day + 5_000)));
    assert_eq!((op(3).opened_ms, op(3).closed_ms), (Some(next + 2_000), Some(next + 4_000)));
    // An open operation is dated by the last close.
    assert_eq!((op(4).opened_ms, op(4).closed_ms), (Some(next + 5_000), None));
    assert_eq!(op(1).legs.len(), 2);
    assert_eq!(op(1).fees, vec![(usdt, amount("1.001"))]);
    assert_eq!(op(3).recovery_orders, 1);
    assert_eq!(op(3).realized_pnl, Some(amount("-1.999")));
    assert_eq!(op(4).realized_pnl, None);

    assert_eq!(h.fills.len(), 4);
    let f = &h.fills[0];
    assert_eq!(
        (f.price, f.fee, f.fee_asset, f.fee_quote),
        (px(g, "50000"), amount("0.00001"), btc, amount("0.5"))
    );
    assert_eq!(
        (f.venue_order.as_str(), f.source, f.time_ms),
        ("G-1", FillSource::Trade { trade_id: 7 }, Some(day + 4_700))
    );
    let f = &h.fills[2];
    assert_eq!(
        (f.price, f.fee, f.fee_asset, f.source),
        (px(g, "50000"), amount("0.5"), usdt, FillSource::Query)
    );
    assert_eq!(h.fills[3].client, ClientOrderId { op: 3, leg: 0, attempt: 1 });

    let days = daily(&h.ops);
    assert_eq!(days.iter().map(|d| d.day).collect::<Vec<_>>(), vec![Some(D), Some(D + 1)]);
    assert_eq!((days[0].operations, days[0].completed, days[0].realized_pnl), (1, 1, amount("0.499")));
    assert_eq!(
        (days[1].operations, days[1].missed, days[1].failed, days[1].open, days[1].realized_pnl),
        (3, 1, 1, 1, amount("-1.999"))
    );
    assert_eq!(days[1].fees, vec![(usdt, amount("0.999"))]);
    let total: Amount = days.iter().map(|d| d.realized_pnl).sum();
    assert_eq!(total, h.ops.iter().filter_map(|o| o.realized_pnl).sum());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_keeps_each_listed_instruments_last_listing() {
    let dir = scratch("listed");
    let listed =
        |inst: u16, added: bool| Record::InstrumentListed { inst: InstrumentId(inst), added, wall_ms: 1 };
    let records = [
        listed(5, true),
        listed(6, true),
        listed(5, false),
        listed(6, false),
        listed(6, true),
        listed(7, true),
    ];
    write_all(&dir, JournalKind::State, &records);
    let r = replay(&dir).unwrap();
    assert_eq!(r.listed, [(InstrumentId(5), false), (InstrumentId(6), true), (InstrumentId(7), true)]);
    assert_eq!(r.removed_instruments().collect::<Vec<_>>(), [InstrumentId(5)]);
    let _ = std::fs::remove_dir_all(&dir);
}
