//! Alerts and chat.

use alloc::string::String;

use super::UnknownFields;
use super::macros::{field_desc, field_ty, message};
use crate::geo::Position;
use crate::id::ShortId;
use crate::open_enum::open_enum;

open_enum! {
    /// What an alert is about.
    pub enum AlertKind (max 255) {
        /// Troops in contact with the enemy.
        TroopsInContact = 0 => "troops_in_contact",
        /// A soldier is down (fall with no movement, or reported).
        ManDown = 1 => "man_down",
        /// CBRN agent detected.
        Cbrn = 2 => "cbrn",
        /// A device left or entered a geofenced area.
        GeofenceBreach = 3 => "geofence_breach",
        /// A vital sign crossed its threshold.
        VitalsThreshold = 4 => "vitals_threshold",
        /// A device reports tampering.
        Tamper = 5 => "tamper",
        /// Medical evacuation requested.
        Medevac = 6 => "medevac",
        /// Indirect fire incoming.
        IndirectFire = 7 => "indirect_fire",
    }
}

open_enum! {
    /// Whether an alert is raised or cancelled.
    pub enum AlertState (max 255) {
        /// Raised (or updated).
        Raised = 0 => "raised",
        /// Cancelled; the envelope's reference names the alert it cancels.
        Cancelled = 1 => "cancelled",
    }
}

message! {
    /// An alert. A cancellation carries `AlertState::Cancelled` and references the alert.
    pub struct Alert {
        required {
            /// What it is about.
            kind: AlertKind,
            /// Raised or cancelled.
            state: AlertState,
        }
        optional {
            /// Where.
            position: Position,
            /// The device or person concerned, if not the source.
            subject: ShortId,
            /// Free text.
            text: String,
        }
    }
}

message! {
    /// Free text to a device, a channel or everyone.
    pub struct Chat {
        required {
            /// The text.
            text: String,
        }
        optional {
            /// The addressee, for a direct message.
            to: ShortId,
            /// The channel (talk group), for a group message.
            channel: u16,
        }
    }
}
