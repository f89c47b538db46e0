//! The providers' protocols as pure functions — signing, canonical strings,
//! verification, decryption, request bodies — checked against the vectors
//! (`tests/vectors.rs`). The adapters in `providers/` send what these build.

pub mod alipay;
pub mod aliyun;
pub mod chaojiying;
pub mod cos;
pub mod digest;
pub mod rsa;
pub mod sigv4;
pub mod tc3;
pub mod wechatpay;
