//! Test vectors and tests that span the crate's modules, kept apart from the product code.

mod rfc9529_trace1;
