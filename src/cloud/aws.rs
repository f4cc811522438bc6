//! AWS: Vault's AWS secrets engine (`aws/creds/<role>`, `aws/sts/<role>`)
//! answers `access_key`, `secret_key` and, for an STS role or a federation
//! token, `security_token`: the three variables Packer's amazon builders
//! (and the AWS SDK) read. The preset writes no file and waits for
//! nothing.

/// The `aws` preset: (response key, variable, required).
pub const KEYS: &[(&str, &str, bool)] = &[
    ("access_key", "AWS_ACCESS_KEY_ID", true),
    ("secret_key", "AWS_SECRET_ACCESS_KEY", true),
    ("security_token", "AWS_SESSION_TOKEN", false),
];
