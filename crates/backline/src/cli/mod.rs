//! The binary's own commands beyond serving: demo data (`demo`, `admin create-user`) and the
//! benchmarks (`bench http`, `bench onsale`). They drive the library the way an operator
//! would and are not part of it.

pub mod bench;
pub mod demo;
