//! Byte vectors for every TLV, proptest round trips, and the rules for unknown TLVs and
//! sub-TLVs.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed step stops the test where it happened"
)]

use iomt_mesh::wire::{Ae, Packet, SubTlvs, Tlv, WireError, encode_packet};
use iomt_schema::ShortId;
use proptest::prelude::*;

fn enc(t: Tlv<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    t.encode(&mut v).unwrap();
    v
}

fn dec(bytes: &[u8]) -> Tlv<'_> {
    let (t, used) = Tlv::decode(bytes, 0).unwrap();
    assert_eq!(used, bytes.len());
    t
}

/// Each TLV type against its RFC 8966 / RFC 8967 layout, both ways.
#[test]
fn every_tlv_byte_vector() {
    let none = SubTlvs::default();
    let rid = ShortId::from_u64(0x0102_0304_0506_0708);
    let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let cases: Vec<(Tlv<'_>, Vec<u8>)> = vec![
        (Tlv::Pad1, vec![0]),
        (Tlv::PadN(&[0, 0, 0]), vec![1, 3, 0, 0, 0]),
        (
            Tlv::AckReq {
                reserved: 0,
                nonce: 0xbeef,
                interval: 25,
                sub: none,
            },
            vec![2, 6, 0, 0, 0xbe, 0xef, 0, 25],
        ),
        (
            Tlv::Ack {
                nonce: 0xbeef,
                sub: none,
            },
            vec![3, 2, 0xbe, 0xef],
        ),
        (
            Tlv::Hello {
                flags: 0x8000,
                seqno: 0x1234,
                interval: 400,
                sub: none,
            },
            vec![4, 6, 0x80, 0, 0x12, 0x34, 0x01, 0x90],
        ),
        (
            Tlv::Ihu {
                ae: Ae::LinkLocal,
                reserved: 0,
                rxcost: 96,
                interval: 1200,
                address: &[0, 0, 0, 0, 0, 0, 0, 0xb],
                sub: none,
            },
            vec![5, 14, 3, 0, 0, 96, 0x04, 0xb0, 0, 0, 0, 0, 0, 0, 0, 0xb],
        ),
        (
            Tlv::Ihu {
                ae: Ae::Wildcard,
                reserved: 0,
                rxcost: 256,
                interval: 300,
                address: &[],
                sub: none,
            },
            vec![5, 6, 0, 0, 1, 0, 1, 0x2c],
        ),
        (
            Tlv::RouterId {
                reserved: 0,
                router_id: rid,
                sub: none,
            },
            vec![6, 10, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        ),
        (
            Tlv::NextHop {
                ae: Ae::Ipv4,
                reserved: 0,
                address: &[10, 0, 0, 1],
                sub: none,
            },
            vec![7, 6, 1, 0, 10, 0, 0, 1],
        ),
        (
            Tlv::Update {
                ae: Ae::Ipv6,
                flags: 0xc0,
                plen: 128,
                omitted: 8,
                interval: 1600,
                seqno: 7,
                metric: 96,
                prefix: &v6[8..],
                sub: none,
            },
            [
                vec![8, 18, 2, 0xc0, 128, 8, 0x06, 0x40, 0, 7, 0, 96],
                v6[8..].to_vec(),
            ]
            .concat(),
        ),
        (
            Tlv::Update {
                ae: Ae::Ipv4,
                flags: 0,
                plen: 24,
                omitted: 0,
                interval: 400,
                seqno: 1,
                metric: 0xffff,
                prefix: &[192, 168, 5],
                sub: none,
            },
            vec![8, 13, 1, 0, 24, 0, 1, 0x90, 0, 1, 0xff, 0xff, 192, 168, 5],
        ),
        (
            Tlv::RouteRequest {
                ae: Ae::Ipv6,
                plen: 32,
                prefix: &v6[..4],
                sub: none,
            },
            vec![9, 6, 2, 32, 0x20, 0x01, 0x0d, 0xb8],
        ),
        (
            Tlv::SeqnoRequest {
                ae: Ae::Ipv6,
                plen: 16,
                seqno: 0x0101,
                hop_count: 64,
                reserved: 0,
                router_id: rid,
                prefix: &v6[..2],
                sub: none,
            },
            vec![
                10, 16, 2, 16, 1, 1, 64, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x20, 0x01,
            ],
        ),
        (Tlv::Mac(&[0xaa; 4]), vec![16, 4, 0xaa, 0xaa, 0xaa, 0xaa]),
        (
            Tlv::Pc {
                pc: 9,
                index: &[1, 2],
            },
            vec![17, 6, 0, 0, 0, 9, 1, 2],
        ),
        (Tlv::ChallengeRequest(&[5; 3]), vec![18, 3, 5, 5, 5]),
        (Tlv::ChallengeReply(&[6; 2]), vec![19, 2, 6, 6]),
        (
            Tlv::Unknown {
                kind: 200,
                body: &[1, 2],
            },
            vec![200, 2, 1, 2],
        ),
    ];
    for (tlv, bytes) in cases {
        assert_eq!(enc(tlv), bytes, "encode {tlv:?}");
        assert_eq!(dec(&bytes), tlv, "decode {bytes:?}");
    }
}

#[test]
fn unknown_encodings_and_sub_tlvs_follow_the_rfc() {
    // An Update with an unknown AE is skipped as unknown, not rejected.
    assert!(matches!(
        dec(&[8, 10, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Tlv::Unknown { kind: 8, .. }
    ));
    // Sub-TLVs: padding and unknown non-mandatory ones are fine; an unknown mandatory one
    // (type >= 128) marks the TLV to be ignored.
    let hello = dec(&[4, 12, 0, 0, 0, 1, 0, 100, 0, 1, 1, 0, 0x42, 0]);
    assert!(!hello.sub_tlvs().has_unknown_mandatory());
    let sub: Vec<_> = hello.sub_tlvs().iter().collect();
    assert_eq!(sub, vec![(0, &[][..]), (1, &[0][..]), (0x42, &[][..])]);
    let ss = dec(&[
        8, 15, 2, 0, 16, 0, 0, 100, 0, 1, 0, 0, 0x20, 0x01, 128, 1, 0,
    ]);
    assert!(
        ss.sub_tlvs().has_unknown_mandatory(),
        "source-prefix sub-TLV is mandatory"
    );
}

#[test]
fn malformed_framing() {
    let cases: Vec<(Vec<u8>, WireError)> = vec![
        (vec![42, 2, 0], WireError::Truncated { offset: 0 }),
        (vec![43, 2, 0, 0], WireError::BadMagic(43)),
        (vec![42, 3, 0, 0], WireError::BadVersion(3)),
        (vec![42, 2, 0, 5, 0], WireError::Truncated { offset: 2 }),
        (
            vec![42, 2, 0, 3, 4, 6, 0],
            WireError::Truncated { offset: 4 },
        ),
        (
            vec![42, 2, 0, 6, 4, 4, 0, 0, 0, 1],
            WireError::BadLength { kind: 4, offset: 4 },
        ),
        (
            vec![42, 2, 0, 12, 8, 10, 2, 0, 200, 0, 0, 1, 0, 1, 0, 0],
            WireError::BadPrefix {
                kind: 8,
                plen: 200,
                offset: 4,
            },
        ),
        (
            vec![42, 2, 0, 12, 8, 10, 1, 0, 32, 5, 0, 1, 0, 1, 0, 0],
            WireError::BadPrefix {
                kind: 8,
                plen: 32,
                offset: 4,
            },
        ),
        (
            vec![42, 2, 0, 10, 4, 8, 0, 0, 0, 1, 0, 1, 7, 5],
            WireError::BadSubTlv { kind: 4, offset: 4 },
        ),
    ];
    for (bytes, err) in cases {
        assert_eq!(Packet::parse(&bytes), Err(err), "{bytes:?}");
    }
}

fn arb_tlv_parts() -> impl Strategy<Value = (u8, u16, u16, u16, u8, u8, Vec<u8>)> {
    (
        0u8..12,
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..24),
    )
}

proptest! {
    /// Any accepted byte string re-encodes to itself.
    #[test]
    fn parse_then_encode_is_identity(body in proptest::collection::vec(any::<u8>(), 0..96)) {
        let mut bytes = vec![42, 2];
        bytes.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(p) = Packet::parse(&bytes) {
            prop_assert_eq!(p.encode().unwrap(), bytes);
        }
    }

    /// Every TLV built from arbitrary fields survives encode then decode.
    #[test]
    fn tlv_round_trip((which, a, b, c, x, y, data) in arb_tlv_parts()) {
        let none = SubTlvs::default();
        let plen = x % 129;
        let omitted = y % 17;
        let prefix_len = usize::from(plen.div_ceil(8)).saturating_sub(usize::from(omitted));
        let mut prefix = data.clone();
        prefix.resize(prefix_len, 0);
        let mut addr16 = data.clone();
        addr16.resize(16, 0);
        let tlv = match which {
            0 => Tlv::Hello { flags: a, seqno: b, interval: c, sub: none },
            1 => Tlv::Ihu { ae: Ae::Ipv6, reserved: x, rxcost: a, interval: b, address: &addr16, sub: none },
            2 => Tlv::RouterId { reserved: a, router_id: ShortId::from_u64(u64::from(b) << 16 | u64::from(c)), sub: none },
            3 => Tlv::Update { ae: Ae::Ipv6, flags: y, plen, omitted, interval: a, seqno: b, metric: c, prefix: &prefix, sub: none },
            4 => Tlv::SeqnoRequest { ae: Ae::Ipv6, plen, seqno: a, hop_count: x, reserved: y, router_id: ShortId::from_u64(u64::from(c)), prefix: &prefix[..prefix.len().min(usize::from(plen.div_ceil(8)))], sub: none },
            5 => Tlv::AckReq { reserved: a, nonce: b, interval: c, sub: none },
            6 => Tlv::Ack { nonce: a, sub: none },
            7 => Tlv::Pc { pc: u32::from(a) << 16 | u32::from(b), index: &data },
            8 => Tlv::ChallengeRequest(&data),
            9 => Tlv::Mac(&data),
            10 => Tlv::PadN(&data),
            _ => Tlv::Unknown { kind: 100 + x % 100, body: &data },
        };
        let tlv = match tlv {
            Tlv::SeqnoRequest { prefix, .. } if prefix.len() != usize::from(plen.div_ceil(8)) => return Ok(()),
            t => t,
        };
        let bytes = enc(tlv);
        let (back, used) = Tlv::decode(&bytes, 0).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, tlv);
        let packet = encode_packet(&[tlv], &[]).unwrap();
        prop_assert_eq!(Packet::parse(&packet).unwrap().body, vec![tlv]);
    }
}

/// The committed fuzz seeds for the data packet were written by an independent HMAC
/// (Python's `hmac`): they parse, and their MACs verify under the seed key.
#[test]
fn data_packet_seeds_verify() {
    use iomt_mesh::{DataPacket, MacKey};
    let key = MacKey::hmac_sha256(&[0x5a; 64]);
    let src: std::net::Ipv6Addr = "fe80::a".parse().unwrap();
    let seeds: [(&[u8], &str); 2] = [
        (
            include_bytes!("../../../fuzz/corpus/mesh_data_packet/authenticated_flood_one_mac"),
            "ff02::1",
        ),
        (
            include_bytes!("../../../fuzz/corpus/mesh_data_packet/authenticated_unicast_two_macs"),
            "fe80::b",
        ),
    ];
    for (bytes, dst) in seeds {
        let p = DataPacket::parse(bytes).unwrap();
        let auth = p.auth.unwrap();
        let first = auth.macs().next().unwrap();
        assert!(key.verify(src, dst.parse().unwrap(), auth.authenticated, first));
        assert_eq!(p.encode().unwrap(), bytes);
    }
    for bare in [
        &include_bytes!("../../../fuzz/corpus/mesh_data_packet/bare_flood")[..],
        include_bytes!("../../../fuzz/corpus/mesh_data_packet/bare_unicast"),
    ] {
        let p = DataPacket::parse(bare).unwrap();
        assert_eq!((p.auth, p.datagram), (None, bare));
    }
}

proptest! {
    /// Whatever the data channel accepts re-encodes to the same bytes.
    #[test]
    fn data_packet_parse_then_encode_is_identity(
        body in proptest::collection::vec(any::<u8>(), 0..120),
        wrap in any::<bool>(),
        pc in any::<u32>(),
    ) {
        use iomt_mesh::datagram::write_authenticated;
        use iomt_mesh::{DataPacket, MacKey};
        let mut bytes = vec![0x11, 1, 0, 0, 10];
        bytes.extend_from_slice(&body);
        if wrap {
            let key = MacKey::hmac_sha256(&[1; 64]);
            let mut out = Vec::new();
            let (a, b) = ("fe80::1".parse().unwrap(), "ff02::1".parse().unwrap());
            write_authenticated(&mut out, &bytes, (pc, &[3; 8]), [&key], a, b).unwrap();
            bytes = out;
        }
        for candidate in [&bytes[..], &body[..]] {
            if let Ok(p) = DataPacket::parse(candidate) {
                prop_assert_eq!(p.encode().unwrap(), candidate);
            }
        }
    }
}
