//! Native end-to-end checks against a real Synapse (see tests/). The library part is empty:
//! everything lives in the integration tests, gated behind the `synapse` feature.
