//! How a node's datagrams travel: a real UDP socket, or the simulated
//! network of the deterministic simulation. The node's code is the same.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// Where a node's datagrams go and come from.
pub trait Transport: Send + Sync + 'static {
    /// Sends one datagram to `to`.
    fn send_to(
        &self,
        datagram: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// Waits for the next datagram; returns its length and sender.
    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
    /// The address this endpoint receives on.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Transport for tokio::net::UdpSocket {
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        tokio::net::UdpSocket::send_to(self, datagram, to)
            .await
            .map(|_| ())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        tokio::net::UdpSocket::recv_from(self, buf).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::UdpSocket::local_addr(self)
    }
}
