//! Codec benchmark: the same position content through iomt-schema (a full framed
//! `PositionReport`, envelope included, in its fixed-point forms), prost (derive only) and
//! postcard (serde), in one run.
//!
//! Content: source id (u64), sequence (u32), timestamp (ms, u64), latitude and longitude (f64),
//! altitude, heading, speed and horizontal accuracy (f32), an 8-character callsign and an
//! affiliation. Ids: `codec/encode/*`, `codec/decode/*`, `codec/batch_decode_10k/*`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "bench set-up: a failed step stops the run where it happened"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iomt::schema::{
    Affiliation, Altitude, AltitudeDatum, Callsign, Course, Distance, Envelope, Frame, Height,
    Latitude, Limits, Longitude, Position, PositionReport, ShortId, Speed, Timestamp,
    UnknownFields, next_delimited, write_delimited,
};
use prost::Message as _;
use serde::{Deserialize, Serialize};

/// The content, as a plain struct (what postcard encodes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Plain {
    source: u64,
    seq: u32,
    timestamp_ms: u64,
    lat: f64,
    lon: f64,
    alt_m: f32,
    heading_deg: f32,
    speed_m_s: f32,
    h_accuracy_m: f32,
    callsign: String,
    affiliation: PlainAffiliation,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum PlainAffiliation {
    Friend,
    Hostile,
    Neutral,
    Unknown,
}

/// The content as a protobuf message, derived without a build script.
#[derive(Clone, PartialEq, prost::Message)]
struct Proto {
    #[prost(fixed64, tag = "1")]
    source: u64,
    #[prost(uint32, tag = "2")]
    seq: u32,
    #[prost(uint64, tag = "3")]
    timestamp_ms: u64,
    #[prost(double, tag = "4")]
    lat: f64,
    #[prost(double, tag = "5")]
    lon: f64,
    #[prost(float, tag = "6")]
    alt_m: f32,
    #[prost(float, tag = "7")]
    heading_deg: f32,
    #[prost(float, tag = "8")]
    speed_m_s: f32,
    #[prost(float, tag = "9")]
    h_accuracy_m: f32,
    #[prost(string, tag = "10")]
    callsign: String,
    #[prost(enumeration = "ProtoAffiliation", tag = "11")]
    affiliation: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
enum ProtoAffiliation {
    Unknown = 0,
    Friend = 1,
    Hostile = 2,
    Neutral = 3,
}

fn content(i: u32) -> Plain {
    Plain {
        source: 0x9f3a_5c2e_71d4_08b6,
        seq: 1234 + i,
        timestamp_ms: 1_795_000_000_000 + u64::from(i) * 1000,
        lat: 59.329_323_5 + f64::from(i) * 1e-6,
        lon: 18.068_580_8 - f64::from(i) * 1e-6,
        alt_m: 28.5,
        heading_deg: 271.4,
        speed_m_s: 1.4,
        h_accuracy_m: 4.5,
        callsign: "VIPER-21".into(),
        affiliation: PlainAffiliation::Friend,
    }
}

fn proto(p: &Plain) -> Proto {
    Proto {
        source: p.source,
        seq: p.seq,
        timestamp_ms: p.timestamp_ms,
        lat: p.lat,
        lon: p.lon,
        alt_m: p.alt_m,
        heading_deg: p.heading_deg,
        speed_m_s: p.speed_m_s,
        h_accuracy_m: p.h_accuracy_m,
        callsign: p.callsign.clone(),
        affiliation: ProtoAffiliation::Friend as i32,
    }
}

fn iomt_frame(p: &Plain) -> Frame {
    let env = Envelope::new(
        ShortId::from_u64(p.source).into(),
        p.seq,
        Timestamp::from_millis(p.timestamp_ms).unwrap(),
    );
    let report = PositionReport {
        position: Position {
            lat: Latitude::from_f64(p.lat).unwrap(),
            lon: Longitude::from_f64(p.lon).unwrap(),
            altitude: Some(Altitude {
                height: Height::from_f64(f64::from(p.alt_m)).unwrap(),
                datum: AltitudeDatum::MeanSeaLevel,
            }),
            circular_error: Some(Distance::from_f64(f64::from(p.h_accuracy_m)).unwrap()),
            linear_error: None,
        },
        affiliation: match p.affiliation {
            PlainAffiliation::Friend => Affiliation::Friend,
            PlainAffiliation::Hostile => Affiliation::Hostile,
            PlainAffiliation::Neutral => Affiliation::Neutral,
            PlainAffiliation::Unknown => Affiliation::Unidentified,
        },
        course: Some(Course::from_f64(f64::from(p.heading_deg)).unwrap()),
        speed: Some(Speed::from_f64(f64::from(p.speed_m_s)).unwrap()),
        role: None,
        callsign: Some(Callsign::new(&p.callsign).unwrap()),
        unknown: UnknownFields::default(),
    };
    Frame::new(env, report)
}

const BATCH: u32 = 10_000;

fn codec(c: &mut Criterion) {
    let plain = content(0);
    let pb = proto(&plain);
    let frame = iomt_frame(&plain);

    let iomt_bytes = frame.to_vec().unwrap();
    let prost_bytes = pb.encode_to_vec();
    let postcard_bytes = postcard::to_allocvec(&plain).unwrap();
    println!(
        "sizes: iomt={} prost={} postcard={}",
        iomt_bytes.len(),
        prost_bytes.len(),
        postcard_bytes.len()
    );
    // Each codec must decode what it encoded before anything is timed.
    assert_eq!(Frame::decode(&iomt_bytes).unwrap(), frame);
    assert_eq!(Proto::decode(&prost_bytes[..]).unwrap(), pb);
    assert_eq!(
        postcard::from_bytes::<Plain>(&postcard_bytes).unwrap(),
        plain
    );

    let mut g = c.benchmark_group("codec/encode");
    g.throughput(Throughput::Elements(1));
    let mut slice = [0u8; 256];
    g.bench_function("iomt", |b| {
        b.iter(|| black_box(&frame).encode(black_box(&mut slice[..])).unwrap())
    });
    let mut vec = Vec::with_capacity(256);
    g.bench_function("prost", |b| {
        b.iter(|| {
            vec.clear();
            black_box(&pb).encode(black_box(&mut vec)).unwrap();
        })
    });
    g.bench_function("postcard", |b| {
        b.iter(|| {
            postcard::to_slice(black_box(&plain), black_box(&mut slice[..]))
                .map(|s| s.len())
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("codec/decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("iomt", |b| {
        b.iter(|| Frame::decode(black_box(&iomt_bytes)).unwrap())
    });
    g.bench_function("prost", |b| {
        b.iter(|| Proto::decode(black_box(&prost_bytes[..])).unwrap())
    });
    g.bench_function("postcard", |b| {
        b.iter(|| postcard::from_bytes::<Plain>(black_box(&postcard_bytes)).unwrap())
    });
    g.finish();

    // 10,000 frames with changing content, back to back in one buffer: length-delimited for
    // iomt and prost, self-delimiting for postcard.
    let contents: Vec<Plain> = (0..BATCH).map(content).collect();
    let mut iomt_stream = Vec::new();
    let mut prost_stream = Vec::new();
    let mut postcard_stream = Vec::new();
    for p in &contents {
        write_delimited(&iomt_frame(p), &mut iomt_stream).unwrap();
        proto(p).encode_length_delimited(&mut prost_stream).unwrap();
        postcard_stream.extend(postcard::to_allocvec(p).unwrap());
    }
    let limits = Limits::DEFAULT;

    let mut g = c.benchmark_group("codec/batch_decode_10k");
    g.throughput(Throughput::Elements(u64::from(BATCH)));
    g.sample_size(30);
    g.bench_function("iomt", |b| {
        b.iter(|| {
            let mut rest = black_box(&iomt_stream[..]);
            let mut n = 0u32;
            while let Some((bytes, used)) = next_delimited(rest, &limits).unwrap() {
                black_box(Frame::decode_with(bytes, &limits).unwrap());
                rest = &rest[used..];
                n += 1;
            }
            assert_eq!(n, BATCH);
        })
    });
    g.bench_function("prost", |b| {
        b.iter(|| {
            let mut rest = black_box(&prost_stream[..]);
            let mut n = 0u32;
            while !rest.is_empty() {
                black_box(Proto::decode_length_delimited(&mut rest).unwrap());
                n += 1;
            }
            assert_eq!(n, BATCH);
        })
    });
    g.bench_function("postcard", |b| {
        b.iter(|| {
            let mut rest = black_box(&postcard_stream[..]);
            let mut n = 0u32;
            while !rest.is_empty() {
                let (p, tail) = postcard::take_from_bytes::<Plain>(rest).unwrap();
                black_box(p);
                rest = tail;
                n += 1;
            }
            assert_eq!(n, BATCH);
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
