//! Order templates: for every instrument, side and time in force, the constant text of an
//! order request (the symbol as the venue spells it, escaped; the side, type and time in
//! force in the venue's words), prepared once, so that building an order writes only
//! what changes per order: the client id, the quantity and the price.
//!
//! Each venue room says what its fragments are (a `head` before the first value that
//! changes and a `tail` after the last); the templates of the instruments a client trades
//! are prepared when it starts, and one listed while running gets its own on its first
//! order (cold: it allocates once).

use pipeline::journal::TimeInForce;
use pipeline::types::{Instrument, Side};

/// The constant parts of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fragments {
    pub head: String,
    pub tail: String,
}

/// How a venue writes an instrument's fragments for a side and time in force.
pub type MakeFragments = Box<dyn Fn(&Instrument, Side, TimeInForce) -> Fragments + Send>;

/// Per instrument (by id), the fragments of its four kinds of order.
pub struct Templates {
    make: MakeFragments,
    slots: Vec<Option<Box<[Fragments; 4]>>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("instruments", &self.slots.iter().flatten().count()).finish()
    }
}

fn kind(side: Side, tif: TimeInForce) -> usize {
    usize::from(side == Side::Sell) * 2 + usize::from(tif == TimeInForce::Fok)
}

impl Templates {
    pub fn new(make: MakeFragments) -> Self {
        Templates { make, slots: Vec::new() }
    }

    /// Prepares the templates of `instruments` now.
    pub fn prepare<'a>(&mut self, instruments: impl IntoIterator<Item = &'a Instrument>) {
        for inst in instruments {
            let _ = self.get(inst, Side::Buy, TimeInForce::Ioc);
        }
    }

    /// The fragments of an order on `inst` (prepared now if they were not).
    pub fn get(&mut self, inst: &Instrument, side: Side, tif: TimeInForce) -> &Fragments {
        let i = inst.id.index();
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        let make = &self.make;
        let all = self.slots[i].get_or_insert_with(|| {
            Box::new([
                make(inst, Side::Buy, TimeInForce::Ioc),
                make(inst, Side::Buy, TimeInForce::Fok),
                make(inst, Side::Sell, TimeInForce::Ioc),
                make(inst, Side::Sell, TimeInForce::Fok),
            ])
        });
        &all[kind(side, tif)]
    }
}
