//! Who a request comes from, for the limit on failed authentications: the peer's address,
//! or, when the peer is a proxy listed in `TRUSTED_PROXIES` (haproxy in `make cluster`), the
//! address it reports in `X-Forwarded-For`: the right-most one no trusted proxy added.
//! Nobody else's `X-Forwarded-For` is believed, so a client cannot pick its own address.
//!
//! An IPv6 address counts as its /64 (one customer's network), so that a client cannot
//! take a fresh budget from each of its 2^64 addresses; an IPv4-mapped IPv6 address counts
//! as its IPv4 address.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::dev::ServiceRequest;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From `10.0.0.1,10.1.0.0/16,::1`: addresses and networks.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{item:?} is neither an IP address nor a network"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The address a request comes from (see the module's documentation).
    pub fn client_of(&self, request: &ServiceRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip();
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim);
        Some(grouped(self.resolve(canonical(peer), forwarded)))
    }

    /// The client behind `peer`, given the `X-Forwarded-For` entries, left to right.
    fn resolve<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let chain: Vec<&str> = forwarded.collect();
        for entry in chain.iter().rev() {
            // An entry that is no address ends what can be believed.
            let Ok(address) = entry.parse::<IpAddr>().map(canonical) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// An IPv4-mapped IPv6 address as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// An IPv6 address as its /64.
fn grouped(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_forwarded_address_is_believed_from_a_trusted_proxy_only() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.1.0.0/16").unwrap();
        let xff = |text: &'static str| text.split(',').map(str::trim);
        // Not a trusted peer: its header is not believed.
        assert_eq!(
            trusted.resolve(ip("192.0.2.9"), xff("1.2.3.4")),
            ip("192.0.2.9")
        );
        // A trusted peer: the right-most address not added by a trusted proxy.
        assert_eq!(
            trusted.resolve(ip("127.0.0.1"), xff("6.6.6.6, 192.0.2.1, 10.1.2.3")),
            ip("192.0.2.1")
        );
        // Nothing forwarded, or nothing believable: the peer.
        assert_eq!(
            trusted.resolve(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
        assert_eq!(
            trusted.resolve(ip("127.0.0.1"), xff("unknown")),
            ip("127.0.0.1")
        );
        // Every hop trusted: the left-most.
        assert_eq!(
            trusted.resolve(ip("127.0.0.1"), xff("10.1.0.5, 10.1.0.6")),
            ip("10.1.0.5")
        );
        assert!(TrustedProxies::parse("not-an-address").is_err());
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn ipv6_counts_as_its_slash_64() {
        assert_eq!(
            grouped(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(canonical(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(grouped(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
