#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| iomt_mesh::fuzzing::data_packet(data));
