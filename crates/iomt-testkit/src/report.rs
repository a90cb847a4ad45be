//! The frame the node tests and benches send: a soldier's position report.
#![allow(
    clippy::expect_used,
    reason = "constant inputs: a failure is a bug in this file, and says so at once"
)]

use iomt_schema::{
    Affiliation, Callsign, DeviceId, Envelope, Frame, Latitude, Longitude, Position,
    PositionReport, Timestamp, UnknownFields,
};

/// A Routine position report from `from` with sequence number `seq` (35 bytes framed).
pub fn position_report(from: DeviceId, seq: u32) -> Frame {
    let at = Timestamp::from_millis(1_800_000_000_000).expect("a time of this century");
    let lat = Latitude::from_f64(59.33).expect("on the map");
    let lon = Longitude::from_f64(18.07).expect("on the map");
    Frame::new(
        Envelope::new(from.short().into(), seq, at),
        PositionReport {
            position: Position::new(lat, lon),
            affiliation: Affiliation::Friend,
            course: None,
            speed: None,
            role: None,
            callsign: Some(Callsign::new("VIPER-21").expect("a six-bit callsign")),
            unknown: UnknownFields::default(),
        },
    )
}
