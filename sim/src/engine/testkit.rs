//! What the engine's unit tests share: a venue with every listing and rich accounts on
//! a fixed clock, and short ways to write prices, quantities and limit orders.

use pipeline::types::{Amount, Instruments, Price, Qty, Side, Venue};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{AccountId, Balance, Exchange, MAKER, OrderRequest, SimInstrument, Tif, USER};
use crate::catalog::{Listing, listings};

pub fn venue(venue: Venue) -> Exchange {
    let ls: Vec<_> = listings().into_iter().filter(|l| l.venue == venue).collect();
    let specs: Vec<_> = ls.iter().map(Listing::spec).collect();
    let table = Instruments::from_specs(&specs).unwrap();
    let insts = ls
        .into_iter()
        .zip(table.iter())
        .map(|(listing, i)| SimInstrument { listing, inst: i.clone() })
        .collect();
    let mut x = Exchange::new(venue, insts, 3, 1_000_000, ChaCha8Rng::seed_from_u64(7));
    x.set_clock(|| 1_700_000_000_000);
    for a in [USER, MAKER, 2] {
        for asset in ["USDT", "BTC", "ETH", "SOL"] {
            x.deposit_spot(a, asset, Amount::from_int(1_000_000));
        }
        x.deposit_futures(a, Amount::from_int(1_000_000));
    }
    x
}

pub fn px(x: &Exchange, inst: usize, s: &str) -> Price {
    Price::parse(s, x.instruments[inst].inst.price_scale).unwrap()
}

pub fn qty(x: &Exchange, inst: usize, s: &str) -> Qty {
    Qty::parse(s, x.instruments[inst].inst.qty_scale).unwrap()
}

pub fn limit(inst: usize, side: Side, tif: Tif, price: Price, qty: Qty) -> OrderRequest {
    OrderRequest::new_limit(inst, side, tif, price, qty)
}

pub fn bal(x: &Exchange, a: AccountId, asset: &str) -> Balance {
    x.account(a).unwrap().spot.get(asset).copied().unwrap_or_default()
}
