#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iomt_transport::fuzzing::identity_peer(data));
