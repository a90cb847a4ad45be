//! Logistics: stock levels and supply requests.

use alloc::string::String;

use super::UnknownFields;
use super::macros::{field_desc, field_ty, message, record};
use crate::error::EncodeError;
use crate::geo::Position;
use crate::open_enum::open_enum;
use crate::time::Timestamp;
use crate::wire::{Fault, Reader, Sink, Wire};

/// An item code: a 13-digit NATO Stock Number, or a local code in the same space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct ItemCode(pub u64);

impl Wire for ItemCode {
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.0.encode(s)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.varint("item code").map(Self)
    }
}

open_enum! {
    /// Unit of issue.
    pub enum SupplyUnit (max 255) {
        /// Each (single item).
        Each = 0 => "each",
        /// Rounds of ammunition.
        Round = 1 => "round",
        /// Litre.
        Litre = 2 => "litre",
        /// Kilogram.
        Kilogram = 3 => "kilogram",
        /// Box.
        Box = 4 => "box",
        /// Pallet.
        Pallet = 5 => "pallet",
        /// Meal ration.
        Ration = 6 => "ration",
    }
}

open_enum! {
    /// NATO class of supply.
    pub enum SupplyClass (max 255) {
        /// Class I: subsistence.
        Subsistence = 1 => "subsistence",
        /// Class II: clothing, individual equipment, tools.
        Equipment = 2 => "equipment",
        /// Class III: fuel and lubricants.
        Fuel = 3 => "fuel",
        /// Class IV: construction materiel.
        Construction = 4 => "construction",
        /// Class V: ammunition.
        Ammunition = 5 => "ammunition",
        /// Class VIII: medical materiel.
        Medical = 8 => "medical",
        /// Class IX: repair parts.
        RepairParts = 9 => "repair_parts",
    }
}

record! {
    /// A stocked item and its quantity.
    pub struct InventoryItem {
        /// The item.
        item: ItemCode,
        /// Quantity on hand.
        quantity: u32,
        /// Unit of issue.
        unit: SupplyUnit,
    }
}

message! {
    /// Stock held at a location.
    pub struct InventoryLevel {
        required {
            /// The items.
            items: [InventoryItem],
        }
        optional {
            /// Where the stock is.
            location: Position,
        }
    }
}

message! {
    /// A request for supplies to be delivered.
    pub struct SupplyRequest {
        required {
            /// The item.
            item: ItemCode,
            /// Quantity requested.
            quantity: u32,
            /// Unit of issue.
            unit: SupplyUnit,
            /// Where to deliver.
            deliver_to: Position,
        }
        optional {
            /// When it is needed by.
            needed_by: Timestamp,
            /// Class of supply.
            class: SupplyClass,
            /// Free-text remarks.
            remarks: String,
        }
    }
}
