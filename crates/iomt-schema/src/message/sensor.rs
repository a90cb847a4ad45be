//! Sensor observations: tracks and detections.

use super::macros::{field_desc, field_ty, message};
use super::{Affiliation, UnknownFields};
use crate::geo::{Position, Velocity};
use crate::open_enum::open_enum;
use crate::units::{Course, Distance, Elevation, Percent};

open_enum! {
    /// What an observed object is.
    pub enum ObjectClass (max 255) {
        /// A person on foot.
        Person = 0 => "person",
        /// A wheeled vehicle.
        WheeledVehicle = 1 => "wheeled_vehicle",
        /// A tracked vehicle.
        TrackedVehicle = 2 => "tracked_vehicle",
        /// A fixed-wing aircraft.
        FixedWing = 3 => "fixed_wing",
        /// A rotary-wing aircraft.
        RotaryWing = 4 => "rotary_wing",
        /// A small unmanned aircraft.
        SmallUas = 5 => "small_uas",
        /// A surface vessel.
        Vessel = 6 => "vessel",
        /// A weapon firing point (muzzle flash, acoustic shot detection).
        FiringPoint = 7 => "firing_point",
        /// An explosive hazard.
        ExplosiveHazard = 8 => "explosive_hazard",
        /// A radio emitter.
        Emitter = 9 => "emitter",
    }
}

open_enum! {
    /// The kind of sensor behind an observation.
    pub enum SensorKind (max 255) {
        /// Visible-light camera.
        ElectroOptical = 0 => "electro_optical",
        /// Thermal camera.
        Infrared = 1 => "infrared",
        /// Radar.
        Radar = 2 => "radar",
        /// Acoustic array (shot detection, vehicle noise).
        Acoustic = 3 => "acoustic",
        /// Seismic sensor.
        Seismic = 4 => "seismic",
        /// Passive RF direction finding.
        RadioFrequency = 5 => "radio_frequency",
        /// Magnetic sensor.
        Magnetic = 6 => "magnetic",
        /// A human observer.
        Human = 7 => "human",
        /// Several sensors fused.
        Fused = 8 => "fused",
    }
}

message! {
    /// A fused track: the best current estimate of one observed object.
    pub struct Track {
        required {
            /// Track number, unique per reporting source.
            track_id: u32,
            /// Estimated position.
            position: Position,
            /// Assessed identity.
            affiliation: Affiliation,
            /// Confidence in the track.
            confidence: Percent,
        }
        optional {
            /// Estimated velocity.
            velocity: Velocity,
            /// What the object is.
            class: ObjectClass,
            /// The sensor that produced or dominates the track.
            sensor: SensorKind,
        }
    }
}

message! {
    /// One observation by one sensor: a located object, or a bearing (and perhaps range) from
    /// the sensor when the object cannot be located.
    pub struct Detection {
        required {
            /// The sensor.
            sensor: SensorKind,
            /// Confidence that the object is real.
            confidence: Percent,
        }
        optional {
            /// Where the object is, if located.
            position: Position,
            /// Bearing from the sensor to the object.
            bearing: Course,
            /// Range from the sensor to the object.
            range: Distance,
            /// Elevation angle from the sensor to the object.
            elevation: Elevation,
            /// What the object is.
            class: ObjectClass,
            /// Assessed identity.
            affiliation: Affiliation,
            /// The track this detection was associated with.
            track_id: u32,
        }
    }
}
