use vger_types::{Result, VgerError};

/// The AEAD a repository is sealed with; chosen at init and recorded in the repository config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// No confidentiality; objects still carry a keyed BLAKE3 tag so damage is detected.
    None = 0,
    Aes256Gcm = 1,
    ChaCha20Poly1305 = 2,
}

impl Algorithm {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Algorithm::None),
            1 => Some(Algorithm::Aes256Gcm),
            2 => Some(Algorithm::ChaCha20Poly1305),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::None => "none",
            Algorithm::Aes256Gcm => "aes256gcm",
            Algorithm::ChaCha20Poly1305 => "chacha20poly1305",
        }
    }

    /// Parses a config/CLI name; `auto` picks AES-256-GCM when the CPU accelerates it.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Self::auto()),
            "none" => Ok(Algorithm::None),
            "aes256gcm" | "aes-256-gcm" => Ok(Algorithm::Aes256Gcm),
            "chacha20poly1305" | "chacha20-poly1305" => Ok(Algorithm::ChaCha20Poly1305),
            other => Err(VgerError::invalid(format!(
                "unknown encryption mode {other:?}; use auto, aes256gcm, chacha20poly1305 or none"
            ))),
        }
    }

    pub fn auto() -> Self {
        if aes_accelerated() {
            Algorithm::Aes256Gcm
        } else {
            Algorithm::ChaCha20Poly1305
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn aes_accelerated() -> bool {
    std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
}

#[cfg(target_arch = "aarch64")]
fn aes_accelerated() -> bool {
    std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn aes_accelerated() -> bool {
    false
}
