//! A TCP proxy the test owns, between a worker and a service (PostgreSQL):
//! it forwards while connected, and a cut closes every live connection and
//! either refuses new ones (the service is down) or swallows them without
//! an answer (the network drops everything) until it is restored. Plain
//! threads: two per connection, one accepting.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a cut proxy does with a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Accepts and closes it at once, with a reset: as a host whose
    /// service is down.
    Refuse,
    /// Accepts it and never answers nor forwards a byte: as a network that
    /// drops packets. The client waits until its own timeout.
    Blackhole,
}

/// What the proxy shares with its threads.
struct State {
    upstream: SocketAddr,
    /// `Some` while cut.
    outage: Mutex<Option<Outage>>,
    /// Both ends of every connection open now (forwarded or swallowed),
    /// by connection number, to close on a cut or restore.
    live: Mutex<HashMap<u64, Vec<TcpStream>>>,
    stopped: AtomicBool,
    accepted: AtomicU64,
    refused: AtomicU64,
}

/// A TCP proxy on a free port of 127.0.0.1; stops on drop.
pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

impl Proxy {
    /// Listens on a free local port and forwards each connection to
    /// `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let state = Arc::new(State {
            upstream,
            outage: Mutex::new(None),
            live: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let shared = Arc::clone(&state);
        std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(listener, shared))
            .expect("starting the proxy");
        Proxy { port, state }
    }

    /// The machine's PostgreSQL behind a proxy.
    pub fn postgres() -> Proxy {
        Proxy::start("127.0.0.1:5432".parse().expect("an address"))
    }

    /// Closes every live connection; until [`Proxy::restore`], new ones
    /// get `outage`.
    pub fn cut(&self, outage: Outage) {
        // Held while closing: no connection starts forwarding meanwhile.
        let mut current = self.state.outage.lock().unwrap();
        *current = Some(outage);
        self.state.close_live();
    }

    /// Forwards new connections again (and closes any swallowed ones,
    /// as a network coming back does not revive them).
    pub fn restore(&self) {
        let mut current = self.state.outage.lock().unwrap();
        *current = None;
        self.state.close_live();
    }

    /// Connections accepted so far, and of those, how many a cut refused
    /// or swallowed.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.state.accepted.load(Ordering::Relaxed),
            self.state.refused.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.state.close_live();
        // Wakes the accepting thread so that it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl State {
    fn close_live(&self) {
        for (_, streams) in self.live.lock().unwrap().drain() {
            for stream in streams {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Keeps clones of `streams` as connection `id`, to close them later.
    fn track(&self, id: u64, streams: &[&TcpStream]) {
        let clones = streams.iter().filter_map(|s| s.try_clone().ok()).collect();
        self.live.lock().unwrap().insert(id, clones);
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    for client in listener.incoming() {
        if state.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let id = state.accepted.fetch_add(1, Ordering::Relaxed);
        let outage = state.outage.lock().unwrap();
        match *outage {
            Some(Outage::Refuse) => {
                state.refused.fetch_add(1, Ordering::Relaxed);
                reset(client);
            }
            Some(Outage::Blackhole) => {
                state.refused.fetch_add(1, Ordering::Relaxed);
                // Held open, never read: closed by the restore.
                state.track(id, &[&client]);
            }
            None => {
                let state = Arc::clone(&state);
                std::thread::spawn(move || {
                    forward(id, client, &state);
                    state.live.lock().unwrap().remove(&id);
                });
            }
        }
    }
}

/// Closes `stream` with a reset rather than an orderly end (SO_LINGER 0),
/// as a refused connection looks to its client.
fn reset(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a `linger` of the size given.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// Forwards between `client` and a new connection upstream until either
/// side ends or a cut closes both.
fn forward(id: u64, client: TcpStream, state: &State) {
    let Ok(server) = TcpStream::connect_timeout(&state.upstream, Duration::from_secs(5)) else {
        reset(client);
        return;
    };
    // A cut between the accept and here must not let this one through;
    // tracked under the lock a cut takes, so a cut closes it.
    {
        let outage = state.outage.lock().unwrap();
        if outage.is_some() {
            drop(outage);
            reset(client);
            return;
        }
        state.track(id, &[&client, &server]);
    }
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || pump(client_reader, server));
    pump(server_reader, client);
    let _ = upstream.join();
}

/// Copies `from` to `to` until either ends, then closes both directions.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 << 10];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
