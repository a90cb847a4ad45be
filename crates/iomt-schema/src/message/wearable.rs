//! Wearables and device state: vitals, weapon, environment, relative location, device health.

use super::UnknownFields;
use super::macros::{field_desc, field_ty, message, record};
use crate::error::EncodeError;
use crate::id::ShortId;
use crate::open_enum::open_enum;
use crate::units::{Course, Distance, Elevation, Percent, Speed, Temperature};
use crate::wire::{Fault, Reader, Sink, Wire};

open_enum! {
    /// Body posture.
    pub enum Posture (max 255) {
        /// Standing.
        Standing = 0 => "standing",
        /// Kneeling or crouching.
        Kneeling = 1 => "kneeling",
        /// Lying prone or supine.
        Lying = 2 => "lying",
        /// Walking.
        Walking = 3 => "walking",
        /// Running.
        Running = 4 => "running",
        /// Not moving for longer than the device's stillness threshold.
        Motionless = 5 => "motionless",
    }
}

message! {
    /// A wearer's vital signs. Every field is optional: a sensor reports what it measures.
    pub struct Vitals {
        required {}
        optional {
            /// Heart rate, beats per minute.
            heart_rate: u16,
            /// Respiration rate, breaths per minute.
            respiration_rate: u16,
            /// Blood oxygen saturation.
            spo2: Percent,
            /// Core body temperature.
            core_temp: Temperature,
            /// Skin temperature.
            skin_temp: Temperature,
            /// Posture.
            posture: Posture,
            /// Whether a fall was detected since the last report.
            fall_detected: bool,
        }
    }
}

open_enum! {
    /// A weapon's state.
    pub enum WeaponStatus (max 255) {
        /// Safety on.
        Safe = 0 => "safe",
        /// Safety off.
        Armed = 1 => "armed",
        /// Fired since the last report.
        Fired = 2 => "fired",
        /// Stoppage.
        Jammed = 3 => "jammed",
        /// No ammunition loaded.
        Empty = 4 => "empty",
    }
}

open_enum! {
    /// The kind of weapon.
    pub enum WeaponKind (max 255) {
        /// Rifle or carbine.
        Rifle = 0 => "rifle",
        /// Machine gun.
        MachineGun = 1 => "machine_gun",
        /// Pistol.
        Pistol = 2 => "pistol",
        /// Grenade launcher.
        GrenadeLauncher = 3 => "grenade_launcher",
        /// Precision rifle.
        PrecisionRifle = 4 => "precision_rifle",
        /// Vehicle-mounted weapon.
        Mounted = 5 => "mounted",
    }
}

message! {
    /// A weapon's state, from a weapon-mounted sensor.
    pub struct WeaponState {
        required {
            /// State.
            status: WeaponStatus,
        }
        optional {
            /// Kind of weapon.
            weapon: WeaponKind,
            /// Rounds in the loaded magazine or belt.
            rounds_remaining: u32,
            /// Rounds fired since the last report.
            shots_fired: u32,
            /// Full magazines carried.
            magazines: u16,
        }
    }
}

open_enum! {
    /// A CBRN agent class.
    pub enum CbrnAgent (max 255) {
        /// Nerve agent.
        Nerve = 0 => "nerve",
        /// Blister agent.
        Blister = 1 => "blister",
        /// Blood agent.
        Blood = 2 => "blood",
        /// Choking agent.
        Choking = 3 => "choking",
        /// Toxic industrial chemical.
        ToxicIndustrial = 4 => "toxic_industrial",
        /// Biological agent.
        Biological = 5 => "biological",
        /// Gamma or neutron radiation.
        Radiological = 6 => "radiological",
        /// Detected, not identified.
        Unidentified = 7 => "unidentified",
    }
}

open_enum! {
    /// A detector's alarm level.
    pub enum HazardLevel (max 255) {
        /// Below the detection threshold.
        None = 0 => "none",
        /// Low.
        Low = 1 => "low",
        /// Medium.
        Medium = 2 => "medium",
        /// High.
        High = 3 => "high",
    }
}

record! {
    /// One CBRN detector reading.
    pub struct CbrnReading {
        /// The agent.
        agent: CbrnAgent,
        /// The detector's alarm level.
        level: HazardLevel,
        /// The raw reading: micrograms per cubic metre for chemical and biological agents,
        /// nanosieverts per hour for radiation.
        value: u32,
    }
}

/// Atmospheric pressure in pascals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "proptest", derive(proptest_derive::Arbitrary))]
pub struct Pressure(pub u32);

impl Wire for Pressure {
    fn encode<S: Sink>(&self, s: &mut S) -> Result<(), EncodeError> {
        self.0.encode(s)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, Fault> {
        r.varint_u32("pressure").map(Self)
    }
}

message! {
    /// Atmosphere around a device, and CBRN detector readings.
    pub struct Environment {
        required {}
        optional {
            /// Air temperature.
            temperature: Temperature,
            /// Relative humidity.
            humidity: Percent,
            /// Barometric pressure.
            pressure: Pressure,
            /// Wind speed.
            wind_speed: Speed,
            /// Direction the wind blows from.
            wind_direction: Course,
            /// CBRN readings.
            cbrn: [CbrnReading],
        }
    }
}

open_enum! {
    /// How a relative location was measured.
    pub enum RangingMethod (max 255) {
        /// Ultra-wideband two-way ranging.
        UltraWideband = 0 => "ultra_wideband",
        /// Radio signal strength or time of flight.
        Radio = 1 => "radio",
        /// Acoustic ranging.
        Acoustic = 2 => "acoustic",
        /// Inertial dead reckoning from the reference's last fix.
        Inertial = 3 => "inertial",
        /// Visual (laser range finder, camera).
        Visual = 4 => "visual",
    }
}

message! {
    /// Where a device is relative to a reference device, for GNSS-denied operation.
    pub struct RelativeLocation {
        required {
            /// The reference device.
            reference: ShortId,
            /// Range to it.
            range: Distance,
            /// Bearing from the reference to this device.
            bearing: Course,
        }
        optional {
            /// Elevation angle from the reference to this device.
            elevation: Elevation,
            /// Range error (95 %).
            range_error: Distance,
            /// Bearing error (95 %).
            bearing_error: Course,
            /// How it was measured.
            method: RangingMethod,
        }
    }
}

open_enum! {
    /// Tamper detection state.
    pub enum TamperState (max 255) {
        /// No tampering detected.
        Intact = 0 => "intact",
        /// The enclosure was opened.
        EnclosureOpened = 1 => "enclosure_opened",
        /// A probe or debug connection was detected.
        ProbeDetected = 2 => "probe_detected",
        /// Keys were zeroised in response to tampering.
        Zeroized = 3 => "zeroized",
    }
}

record! {
    /// A firmware version.
    pub struct FirmwareVersion {
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
        /// Patch version.
        patch: u16,
    }
}

message! {
    /// A device's own health.
    pub struct DeviceHealth {
        required {}
        optional {
            /// Battery charge.
            battery: Percent,
            /// Free storage, in KiB.
            storage_free_kib: u32,
            /// Tamper state.
            tamper: TamperState,
            /// Running firmware.
            firmware: FirmwareVersion,
            /// Time since boot, in seconds.
            uptime_s: u32,
            /// Internal temperature.
            temperature: Temperature,
        }
    }
}
