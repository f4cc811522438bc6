//! Links to HCP Packer's portal. The bucket page path is the one seen in
//! public use; the version page (`.../versions/{id}`) is assumed, so the base
//! stays overridable with `HCP_PORTAL_URL`.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// `<portal>/orgs/{org}/projects/{project}/packer/buckets/{bucket}`.
pub fn bucket_url(portal: &str, org: &str, project: &str, bucket: &str) -> String {
    let seg = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
    format!(
        "{}/orgs/{}/projects/{}/packer/buckets/{}",
        portal.trim_end_matches('/'),
        seg(org),
        seg(project),
        seg(bucket)
    )
}

/// `<portal>/orgs/{org}/projects/{project}/packer/buckets/{bucket}/versions/{version_id}`.
pub fn version_url(portal: &str, org: &str, project: &str, bucket: &str, version_id: &str) -> String {
    let id = utf8_percent_encode(version_id, SEGMENT);
    format!("{}/versions/{id}", bucket_url(portal, org, project, bucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        let p = "https://portal.cloud.hashicorp.com/";
        assert_eq!(
            bucket_url(p, "o-1", "p-2", "ubuntu"),
            "https://portal.cloud.hashicorp.com/orgs/o-1/projects/p-2/packer/buckets/ubuntu"
        );
        assert_eq!(
            version_url(p, "o-1", "p-2", "ubuntu", "01HV"),
            "https://portal.cloud.hashicorp.com/orgs/o-1/projects/p-2/packer/buckets/ubuntu/versions/01HV"
        );
        assert_eq!(
            bucket_url("http://h", "o", "p", "a/b c"),
            "http://h/orgs/o/projects/p/packer/buckets/a%2Fb%20c"
        );
    }
}
