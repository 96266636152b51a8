//! The full-screen dashboard, drawn with ratatui.

use std::time::{Duration, Instant};

use anyhow::Result;
use pipeline::msg::OppKind;
use pipeline::risk::Breaker;
use pipeline::types::{Amount, Rounding};
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use crate::engine::Session;
use crate::telemetry::Telemetry;

pub fn run(session: &Session, duration: Option<Duration>) -> Result<()> {
    // Log lines would be written over the screen: they go to a file beside the journal
    // while the dashboard is up.
    let log_path = session.journal_dir().join("arb.log");
    let logs_redirected = session.log_output().redirect(&log_path).is_ok();
    let mut terminal = ratatui::init();
    let telemetry = Telemetry::of(session);
    let deadline = duration.map(|d| Instant::now() + d);
    let result = (|| -> Result<()> {
        loop {
            if session.should_stop() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            terminal.draw(|f| draw(f, &telemetry))?;
            if event::poll(Duration::from_millis(250))? {
                if let Event::Key(k) = event::read()? {
                    if k.kind != KeyEventKind::Press {
                        continue;
                    }
                    match k.code {
                        KeyCode::Char('q') => return Ok(()),
                        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
                        KeyCode::Char('k') => session.kill_switch(),
                        _ => {}
                    }
                }
            }
        }
    })();
    ratatui::restore();
    if logs_redirected {
        let logged =
            session.log_output().restore().filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
        if let Some(path) = logged {
            eprintln!("log lines of this run: {}", path.display());
        }
    }
    result
}

fn usd(a: Amount) -> String {
    // Cents for display only; reports carry the exact value.
    let cents = a.to_scaled(2, Rounding::Floor).unwrap_or(0);
    pipeline::types::Scaled::new(cents, 2).to_string()
}

fn block(title: &str) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, Style::default().add_modifier(Modifier::BOLD)))
}

fn draw(f: &mut Frame, t: &Telemetry) {
    let snap = t.stats.snapshot();
    let view = t.view.lock().map(|v| v.clone()).unwrap_or_default();
    let [header, middle, bottom] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(12), Constraint::Length(12)])
            .areas(f.area());

    let (synced, total) = t.books_synced();
    let state = super::Header::from(t);
    let colors = match state {
        super::Header::Halted => Style::default().bg(Color::Red).fg(Color::White),
        super::Header::Trading => Style::default().bg(Color::Green).fg(Color::Black),
        super::Header::Connecting | super::Header::NotSynced { .. } => {
            Style::default().bg(Color::Yellow).fg(Color::Black)
        }
    };
    let status = Span::styled(format!(" {} ", state.label()), colors);
    let head = Line::from(vec![
        status,
        Span::raw(format!(
            "  {} | books {synced}/{total} in sync | up {:.0}s | realized {} USD | unrealized {} USD | fees {} USD | funding {} USD | equity {} USD | exposure {} USD | in flight {} | q quit, k kill switch",
            if t.dry_run { "paper" } else { "live" },
            t.started.elapsed().as_secs_f64(),
            usd(t.money.realized_usd.get()),
            usd(t.money.unrealized_usd.get()),
            usd(t.money.fees_usd.get()),
            usd(t.money.funding_usd.get()),
            usd(t.money.equity_change_usd.get()),
            usd(snap.risk.exposure),
            snap.risk.in_flight
        )),
    ]);
    let universe = Line::from(format!("universe: {}", t.universe));
    f.render_widget(Paragraph::new(vec![head, universe]).block(block("arb")), header);

    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
    let [feeds, books] =
        Layout::vertical([Constraint::Length(feed_rows(t).len() as u16 + 3), Constraint::Min(5)]).areas(left);
    draw_feeds(f, t, feeds);
    draw_books(f, t, books);
    let [ops, risk, positions] =
        Layout::vertical([Constraint::Length(7), Constraint::Length(10), Constraint::Min(4)]).areas(right);
    draw_operations(f, &snap, ops);
    draw_risk(f, t, &snap, &view, risk);
    draw_positions(f, t, positions);

    let [latency, recent] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    draw_latency(f, &view, latency);
    draw_recent(f, &view, recent);
}

/// One row per venue market: its connections (open of all when it has several), the
/// age of its newest frame, frames and reconnects over its connections.
fn feed_rows(t: &Telemetry) -> Vec<Row<'static>> {
    let connections = t.connections.list();
    let mut markets: Vec<(pipeline::types::Venue, pipeline::types::Market)> = Vec::new();
    for (v, m, _) in &connections {
        if !markets.contains(&(*v, *m)) {
            markets.push((*v, *m));
        }
    }
    markets
        .into_iter()
        .map(|(v, m)| {
            let conns: Vec<_> =
                connections.iter().filter(|c| (c.0, c.1) == (v, m)).map(|c| c.2.snapshot()).collect();
            let newest = conns.iter().map(|s| s.last_data_raw).max().unwrap_or(0);
            let age = (newest != 0)
                .then(|| t.clock.delta_as_nanos(newest, t.clock.raw()) as f64 / 1e6)
                .map(|ms| format!("{ms:.0} ms"))
                .unwrap_or_else(|| "-".into());
            let state = match conns.as_slice() {
                [one] => format!("{:?}", one.state),
                _ => {
                    let open = conns.iter().filter(|s| s.state == adapters::net::ws::LinkState::Open).count();
                    format!("{open}/{} open", conns.len())
                }
            };
            Row::new(vec![
                Cell::from(format!("{v} {m}")),
                Cell::from(state),
                Cell::from(age),
                Cell::from(conns.iter().map(|s| s.frames_in).sum::<u64>().to_string()),
                Cell::from(conns.iter().map(|s| s.reconnects()).sum::<u64>().to_string()),
            ])
        })
        .collect()
}

fn draw_feeds(f: &mut Frame, t: &Telemetry, area: Rect) {
    let rows = feed_rows(t);
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(6),
        ],
    )
    .header(
        Row::new(["feed", "state", "data age", "frames", "recon"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(block("venues"));
    f.render_widget(table, area);
}

fn draw_books(f: &mut Frame, t: &Telemetry, area: Rect) {
    // Books out of sync first: with hundreds of books, the ones that need looking at.
    let title = books_title(t);
    let mut order: Vec<&pipeline::types::Instrument> = t.instruments.iter().collect();
    order.sort_by_key(|i| t.books.get(i.id).synced);
    let rows = order.into_iter().map(|i| {
        let c = t.books.get(i.id);
        let (bid, ask) = t.books.top(i.id).unwrap_or_default();
        let px = |p: pipeline::types::Price| {
            if p.0 == 0 { "-".to_owned() } else { p.display(i.price_scale).to_string() }
        };
        let style = if c.synced { Style::default() } else { Style::default().fg(Color::Red) };
        Row::new(vec![
            Cell::from(format!("{} {} {}", i.venue, i.market, i.symbol)),
            Cell::from(if c.synced { "synced" } else { "RESYNC" }),
            Cell::from(px(bid.price)),
            Cell::from(px(ask.price)),
            Cell::from(c.gaps.to_string()),
            Cell::from(c.resyncs_done.to_string()),
            Cell::from(resync_p99(&c)),
        ])
        .style(style)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(24),
            Constraint::Length(7),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(5),
            Constraint::Length(7),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new(["book", "state", "bid", "ask", "gaps", "resyncs", "p99 ms"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(block(&title));
    f.render_widget(table, area);
}

/// "books 300/312 synced, all synced in 4.2 s, 1.2 MiB".
fn books_title(t: &Telemetry) -> String {
    let p = t.sync_progress();
    let all = match p.time_to_all_synced_ms {
        Some(ms) => format!(", all synced in {:.1} s", ms as f64 / 1000.0),
        None => String::new(),
    };
    let view = t.view.lock().map(|v| v.latency.clone()).unwrap_or_default();
    let resync = crate::engine::resync_text(&p, crate::engine::resync_summary(&view));
    let resync = if resync.is_empty() { resync } else { format!(", {resync}") };
    format!("books {}/{} synced{all}, {} KiB{resync}", p.books_synced, p.books_total, p.book_bytes / 1024)
}

/// A book's resync p99 in ms, or "-" before its first resync.
fn resync_p99(c: &pipeline::book::BookCounterSnapshot) -> String {
    if c.resyncs_done == 0 { "-".to_owned() } else { format!("{:.0}", c.resync_p99_ns as f64 / 1e6) }
}

fn draw_operations(f: &mut Frame, s: &pipeline::stats::TradingSnapshot, area: Rect) {
    let rows = OppKind::ALL.iter().map(|k| {
        let i = k.index();
        Row::new(vec![
            k.name().to_owned(),
            s.detect.emitted[i].to_string(),
            s.risk.approved[i].to_string(),
            s.state.ops_completed[i].to_string(),
            s.state.ops_failed[i].to_string(),
            s.state.ops_missed[i].to_string(),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(6),
        ],
    )
    .header(
        Row::new(["kind", "detected", "executed", "completed", "failed", "missed"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    );
    let outer = block("opportunities and operations");
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let [rows, stats] = Layout::vertical([Constraint::Length(4), Constraint::Length(1)]).areas(inner);
    f.render_widget(table, rows);
    f.render_widget(Paragraph::new(quality_line(&s.state.quality)), stats);
}

/// The execution statistics in one line: as planned, recovered, profitable, time.
fn quality_line(q: &pipeline::state::QualitySnapshot) -> String {
    let pct = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0));
    format!(
        "as planned {} | recovered {} | profitable {} | {}",
        pct(q.execution_success()),
        pct(q.recovery_success()),
        pct(q.profitable_share()),
        q.avg_execution_ms().map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms")),
    )
}

fn draw_risk(
    f: &mut Frame,
    t: &Telemetry,
    s: &pipeline::stats::TradingSnapshot,
    v: &crate::engine::MonitorView,
    area: Rect,
) {
    let mut lines: Vec<Line> = Breaker::ALL
        .iter()
        .map(|b| {
            let open = s.risk.breaker_open[*b as usize];
            Line::from(vec![
                Span::raw(format!("{:<22}", b.name())),
                if open {
                    Span::styled("OPEN", Style::default().fg(Color::Red))
                } else {
                    Span::styled("closed", Style::default().fg(Color::Green))
                },
                Span::raw(format!("  trips {}", s.risk.breaker_trips[*b as usize])),
            ])
        })
        .collect();
    let mut rejected: Vec<(&str, u64)> =
        s.risk.rejected_by_reason().into_iter().filter(|(_, n)| *n > 0).collect();
    rejected.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let top: Vec<String> = rejected.iter().take(3).map(|(r, n)| format!("{r} {n}")).collect();
    lines.push(Line::from(format!(
        "refused: {}",
        if top.is_empty() { "none".into() } else { top.join(", ") }
    )));
    lines.push(foreign_line(t, s, v));
    let (text, alarm) = super::drift_text(&t.drift);
    lines.push(if alarm {
        Line::from(Span::styled(text, Style::default().fg(Color::Red)))
    } else {
        Line::from(text)
    });
    f.render_widget(Paragraph::new(lines).block(block("risk and breakers")), area);
}

/// Foreign activity on the account: counts and the latest fill, in red once there is any.
fn foreign_line(
    t: &Telemetry,
    s: &pipeline::stats::TradingSnapshot,
    v: &crate::engine::MonitorView,
) -> Line<'static> {
    let (fills, orders) = (s.state.foreign.total_fills(), s.state.foreign.total_orders());
    if fills == 0 && orders == 0 {
        return Line::from("foreign activity: none");
    }
    let last = v.foreign.recent.iter().rev().find(|f| f.fill).and_then(|f| {
        let i = t.instruments.try_get(f.inst)?;
        Some(format!(
            "; last {} {} {} {:?} {} ({})",
            i.venue,
            i.market,
            i.symbol,
            f.side,
            f.qty.display(i.qty_scale),
            f.client_text.as_str()
        ))
    });
    Line::from(Span::styled(
        format!("FOREIGN on the account: {fills} fills, {orders} orders{}", last.unwrap_or_default()),
        Style::default().fg(Color::Red),
    ))
}

fn draw_positions(f: &mut Frame, t: &Telemetry, area: Rect) {
    let lines: Vec<Line> = t
        .instruments
        .iter()
        .filter_map(|i| {
            let q = t.positions.get(i.id);
            (!q.is_zero()).then(|| {
                Line::from(format!("{} {} {}: {}", i.venue, i.market, i.symbol, q.display(i.qty_scale)))
            })
        })
        .collect();
    let lines = if lines.is_empty() { vec![Line::from("flat")] } else { lines };
    f.render_widget(Paragraph::new(lines).block(block("positions")), area);
}

fn draw_latency(f: &mut Frame, v: &crate::engine::MonitorView, area: Rect) {
    let us = |ns: u64| format!("{:.1}", ns as f64 / 1000.0);
    let wanted: Vec<String> = std::iter::once("tick_to_trade".to_owned())
        .chain(pipeline::STAGES.iter().map(|s| format!("stage.{s}")))
        .collect();
    let rows = wanted.iter().map(|name| {
        let w = v.window.iter().find(|s| &s.name == name);
        let total = v.latency.iter().find(|s| &s.name == name);
        let cells = match (w.filter(|w| w.count > 0), total) {
            (Some(w), _) => vec![us(w.p50_ns), us(w.p99_ns), us(w.p999_ns), us(w.max_ns), "1s".into()],
            (None, Some(t)) if t.count > 0 => {
                vec![us(t.p50_ns), us(t.p99_ns), us(t.p999_ns), us(t.max_ns), "all".into()]
            }
            _ => vec!["-".into(); 5],
        };
        Row::new(std::iter::once(name.trim_start_matches("stage.").to_owned()).chain(cells))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(5),
        ],
    )
    .header(
        Row::new(["latency (us)", "p50", "p99", "p99.9", "max", "over"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(block("latency"));
    f.render_widget(table, area);
}

fn draw_recent(f: &mut Frame, v: &crate::engine::MonitorView, area: Rect) {
    let mut lines: Vec<Line> = v
        .outcomes
        .iter()
        .rev()
        .take(area.height.saturating_sub(4) as usize)
        .map(|o| {
            let ms = o.finished_ns.saturating_sub(o.approved_ns) as f64 / 1e6;
            let style = if o.completed {
                Style::default().fg(Color::Green)
            } else if o.success {
                Style::default()
            } else {
                Style::default().fg(Color::Red)
            };
            Line::styled(
                format!(
                    "op {:>4} {:<10} {:<9} {:>9} USD {:>6.1} ms",
                    o.op,
                    o.kind.name(),
                    if o.completed {
                        "completed"
                    } else if o.success {
                        "missed"
                    } else {
                        "failed"
                    },
                    usd(o.realized_pnl),
                    ms
                ),
                style,
            )
        })
        .collect();
    if let Some(a) = v.alerts.back() {
        lines.push(Line::styled(
            format!("last alert: {:?} op {}", a.kind, a.op),
            Style::default().fg(Color::Yellow),
        ));
    }
    f.render_widget(Paragraph::new(lines).block(block("recent operations")), area);
}
