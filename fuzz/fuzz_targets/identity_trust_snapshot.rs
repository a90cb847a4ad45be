#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iomt_identity::fuzzing::trust_snapshot(data));
