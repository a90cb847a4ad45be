//! Unmanned vehicles: state, health, tasking and its acknowledgement.

use alloc::string::String;

use super::UnknownFields;
use super::macros::{field_desc, field_ty, message};
use crate::error::EncodeError;
use crate::geo::{Position, Velocity};
use crate::id::ShortId;
use crate::open_enum::open_enum;
use crate::time::Timestamp;
use crate::units::{Course, Percent, Speed};
use crate::wire::{Fault, Reader, Sink, Wire};

open_enum! {
    /// An unmanned vehicle's control mode.
    pub enum VehicleMode (max 255) {
        /// On the ground or moored, not moving under its own control.
        Idle = 0 => "idle",
        /// Directly piloted by an operator.
        Manual = 1 => "manual",
        /// Following a mission plan.
        Mission = 2 => "mission",
        /// Holding position (loiter, hover, station keeping).
        Hold = 3 => "hold",
        /// Returning to its launch or rally point.
        ReturnHome = 4 => "return_home",
        /// Landing or docking.
        Landing = 5 => "landing",
        /// Following a lost-link procedure.
        LostLink = 6 => "lost_link",
        /// In an emergency procedure.
        Emergency = 7 => "emergency",
    }
}

open_enum! {
    /// Overall health.
    pub enum HealthStatus (max 255) {
        /// Fully capable.
        Nominal = 0 => "nominal",
        /// Capable with limits.
        Degraded = 1 => "degraded",
        /// Not capable.
        Failed = 2 => "failed",
    }
}

/// A vendor fault code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct FaultCode(pub u16);

impl Wire for FaultCode {
    #[inline]
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.0.encode(s)
    }
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.varint_u16("fault code").map(Self)
    }
}

message! {
    /// An unmanned vehicle's mode and motion.
    pub struct VehicleState {
        required {
            /// Control mode.
            mode: VehicleMode,
            /// Current position.
            position: Position,
        }
        optional {
            /// Current velocity.
            velocity: Velocity,
            /// Heading (where the nose points; may differ from the course).
            heading: Course,
            /// Speed through the medium (airspeed, water speed).
            speed: Speed,
            /// The waypoint it is heading to.
            waypoint: Position,
        }
    }
}

message! {
    /// An unmanned vehicle's energy, link and faults.
    pub struct VehicleHealth {
        required {
            /// Overall health.
            status: HealthStatus,
        }
        optional {
            /// Remaining energy (battery or fuel).
            energy: Percent,
            /// Estimated remaining endurance, in seconds.
            endurance_s: u32,
            /// Control link quality.
            link_quality: Percent,
            /// Received signal strength of the control link, in dBm.
            rssi_dbm: i32,
            /// Active faults.
            faults: [FaultCode],
        }
    }
}

open_enum! {
    /// What a command orders.
    pub enum CommandAction (max 255) {
        /// Go to the waypoint.
        GoTo = 0 => "go_to",
        /// Hold position.
        Hold = 1 => "hold",
        /// Orbit the waypoint.
        Orbit = 2 => "orbit",
        /// Observe the waypoint with the payload.
        Observe = 3 => "observe",
        /// Follow the target device.
        Follow = 4 => "follow",
        /// Return to the launch or rally point.
        ReturnHome = 5 => "return_home",
        /// Land or dock.
        Land = 6 => "land",
        /// Abort the current task.
        Abort = 7 => "abort",
        /// Deliver a payload at the waypoint.
        Deliver = 8 => "deliver",
    }
}

message! {
    /// A tasking order to a device. The answer is a [`CommandAck`] whose envelope references
    /// this message.
    pub struct Command {
        required {
            /// The device ordered.
            target: ShortId,
            /// What to do.
            action: CommandAction,
        }
        optional {
            /// Where to do it.
            waypoint: Position,
            /// Speed to use.
            speed: Speed,
            /// How long to do it, in seconds.
            duration_s: u32,
            /// When it must be done by.
            deadline: Timestamp,
            /// The device to follow or observe.
            subject: ShortId,
            /// Free-text instructions.
            text: String,
        }
    }
}

open_enum! {
    /// The answer to a command.
    pub enum AckStatus (max 255) {
        /// Received, not yet assessed.
        Receipt = 0 => "receipt",
        /// Will comply.
        Wilco = 1 => "wilco",
        /// Have complied.
        Havco = 2 => "havco",
        /// Cannot comply; see the reason.
        Cantco = 3 => "cantco",
    }
}

open_enum! {
    /// Why a command cannot be carried out.
    pub enum ReasonCode (max 255) {
        /// The device lacks the capability.
        NoCapability = 0 => "no_capability",
        /// Not enough energy or endurance.
        InsufficientEnergy = 1 => "insufficient_energy",
        /// A safety risk (terrain, airspace, weather).
        SafetyRisk = 2 => "safety_risk",
        /// Outside the rules of engagement or the mission scope.
        NotAuthorized = 3 => "not_authorized",
        /// Busy with a task of higher precedence.
        Busy = 4 => "busy",
        /// The command is malformed or names an impossible target.
        Invalid = 5 => "invalid",
        /// A later command replaced it.
        Superseded = 6 => "superseded",
        /// A fault prevents it.
        Fault = 7 => "fault",
    }
}

message! {
    /// The answer to a [`Command`]; the envelope's reference names the command.
    pub struct CommandAck {
        required {
            /// The answer.
            status: AckStatus,
        }
        optional {
            /// Why not, for `Cantco`.
            reason: ReasonCode,
            /// When the task is expected to be done.
            eta: Timestamp,
            /// Free text.
            text: String,
        }
    }
}
