//! proptest strategies for values with structure the derives cannot see.

use alloc::vec::Vec;

use proptest::prelude::*;
use proptest::strategy::Union;

use crate::envelope::Extension;
use crate::message::{BatchRecord, Message, MessageKind};

/// Extension records with strictly ascending kinds (the canonical order).
pub(crate) fn extensions() -> impl Strategy<Value = Vec<Extension>> {
    proptest::collection::btree_map(
        any::<u16>(),
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..16)),
        0..4,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(kind, (must_understand, value))| Extension {
                kind,
                must_understand,
                value,
            })
            .collect()
    })
}

/// Any message of a kind that may appear inside a batch, or an unknown kind.
fn leaf_message() -> BoxedStrategy<Message> {
    let mut arms: Vec<BoxedStrategy<Message>> = MessageKind::NAMED
        .iter()
        .filter(|k| !matches!(k, MessageKind::Batch | MessageKind::Fragment))
        .filter_map(|k| Message::strategy_for(*k))
        .collect();
    arms.push(unknown_message());
    Union::new(arms).boxed()
}

fn unknown_message() -> BoxedStrategy<Message> {
    (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..32))
        .prop_filter_map("kind must be unnamed", |(kind, body)| {
            matches!(MessageKind::from_code(kind), MessageKind::Unknown(_))
                .then_some(Message::Unknown { kind, body })
        })
        .boxed()
}

/// Records for a batch: leaf messages at increasing offsets.
pub(crate) fn batch_records() -> impl Strategy<Value = Vec<BatchRecord>> {
    proptest::collection::vec((any::<u32>(), leaf_message()), 0..6).prop_map(|v| {
        v.into_iter()
            .map(|(offset_ms, message)| BatchRecord { offset_ms, message })
            .collect()
    })
}

impl Arbitrary for Message {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        let mut arms: Vec<BoxedStrategy<Message>> = MessageKind::NAMED
            .iter()
            .filter_map(|k| Message::strategy_for(*k))
            .collect();
        arms.push(unknown_message());
        Union::new(arms).boxed()
    }
}
