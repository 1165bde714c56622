//! Where the service may send a webhook: never into its own network. A URL is refused when
//! its host is, or resolves to, a loopback, link-local (the cloud metadata address
//! 169.254.169.254), private, shared, unspecified, multicast or otherwise reserved address,
//! unless `WEBHOOK_ALLOW_PRIVATE=on`. It is checked when an endpoint is written and again at
//! every delivery, by the resolver the delivery's connection uses: a name that resolves
//! somewhere else later (DNS rebinding) is refused then. Redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What the deliveries may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Network {
    /// Addresses in the service's own network too (`WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
    /// Plain `http` URLs too (`WEBHOOK_ALLOW_HTTP`).
    pub allow_http: bool,
}

/// Whether `ip` is an address of the service's own network, or no address to send to.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                // ::a.b.c.d (IPv4-compatible), 64:ff9b::/96 (NAT64): the IPv4 inside decides.
                || (v6.segments()[..6] == [0; 6])
                || (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                    && is_internal_v4(Ipv4Addr::from(
                        ((u32::from(v6.segments()[6])) << 16) | u32::from(v6.segments()[7]),
                    )))
                // 2001:db8::/32 documentation.
                || (v6.segments()[0] == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10 shared (carrier-grade NAT), 192.0.0.0/24 protocol assignments,
        // 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved.
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

/// Why the service may not send to `url`, if it may not, resolving its host now (a blocking
/// lookup: endpoints are written rarely, by admins).
pub fn refusal(url: &Url, network: Network) -> Option<String> {
    if url.scheme() == "http" && !network.allow_http {
        return Some(
            "url must be https: deliveries carry money movements (the service takes http \
             URLs only with WEBHOOK_ALLOW_HTTP=on)"
                .into(),
        );
    }
    if network.allow_private {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match url.host()? {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        url::Host::Domain(name) => match (name, port).to_socket_addrs() {
            Ok(found) => found.collect(),
            Err(error) => {
                return Some(format!(
                    "the host {host:?} does not resolve ({error}): give a URL the service \
                     can reach"
                ));
            }
        },
    };
    addresses
        .iter()
        .find(|address| is_internal(address.ip()))
        .map(|address| {
            format!(
                "url points into the service's own network ({host} is {}): loopback, \
                 link-local, private and reserved addresses are refused (WEBHOOK_ALLOW_PRIVATE=on \
                 allows them)",
                address.ip()
            )
        })
}

/// The resolver of the deliveries' connections: the system's, refusing internal addresses
/// unless they are allowed.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver(pub Network);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let network = self.0;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !network.allow_private
                && let Some(internal) = found.iter().find(|address| is_internal(address.ip()))
            {
                return Err(format!(
                    "refused: {host} resolves to {}, in the service's own network",
                    internal.ip()
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

impl GuardedResolver {
    pub fn shared(network: Network) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver(network))
    }
}

/// Why a delivery may not go to `url`'s literal address (a name is the resolver's to check).
pub fn literal_refusal(url: &Url, network: Network) -> Option<String> {
    if network.allow_private {
        return None;
    }
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    is_internal(ip).then(|| format!("refused: {ip} is in the service's own network"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_own_network_is_internal() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for external in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(!is_internal(external.parse().unwrap()), "{external}");
        }
    }

    #[test]
    fn literal_and_scheme_refusals() {
        let strict = Network::default();
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(refusal(&url("http://example.com/hook"), strict).is_some());
        assert!(refusal(&url("https://169.254.169.254/latest/meta-data"), strict).is_some());
        assert!(refusal(&url("https://[::1]:8443/"), strict).is_some());
        assert!(refusal(&url("https://localhost/"), strict).is_some());
        assert!(literal_refusal(&url("https://10.0.0.1/"), strict).is_some());
        let open = Network {
            allow_private: true,
            allow_http: true,
        };
        assert_eq!(refusal(&url("http://127.0.0.1:9/hook"), open), None);
        assert_eq!(literal_refusal(&url("http://127.0.0.1:9/hook"), open), None);
    }
}
