//! The guides: how the parts fit together, with examples, where the API
//! reference describes one item at a time. The README on the crate's front
//! page is the tour; these go deeper.

pub mod opening {
    #![doc = include_str!("../docs/opening.md")]
}

pub mod models {
    #![doc = include_str!("../docs/models.md")]
}

pub mod transactions {
    #![doc = include_str!("../docs/transactions.md")]
}
