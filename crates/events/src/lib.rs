//! Events context (being written).
