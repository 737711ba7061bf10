//! Accepting clients: one accept loop per listener socket per executor,
//! gated by global and frontend `maxconn` and `rate-limit sessions`.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use compio::net::{TcpListener, TcpStream};
use futures_util::future::{select, Either};

use super::listener::{tune_accepted, Bound};
use super::runtime::Core;
use super::stream::handle;
use super::timer;

/// Accept connections on one listener until the core stops accepting.
pub async fn accept_loop(core: Rc<Core>, b: Bound) {
    let fe_idx = b.frontend;
    let tuning = b.tuning;
    let listener = match Listener::new(b.socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "[ALERT] executor {}: cannot register listener {}: {e}",
                core.id, b.addr
            );
            return;
        }
    };
    loop {
        let Some(fe) = core.shared.plan.frontends.get(fe_idx) else {
            return;
        };
        // Take a connection slot (global maxconn, then frontend maxconn)
        // before accepting, as HAProxy pauses listeners when full.
        loop {
            if core.stop_accepting.is_fired() {
                return;
            }
            if core.shared.actconn.try_take(core.shared.plan.maxconn) {
                if fe.feconn.try_take(fe.maxconn) {
                    break;
                }
                core.shared.actconn.dec();
            }
            wait_released(&core, Duration::from_millis(10)).await;
        }
        // `rate-limit sessions`: wait until the last second's rate is
        // below the limit (HAProxy pauses the listener the same way).
        if fe.rate_limit > 0 {
            while fe.sess_rate.rate(core.shared.now_ms()) >= fe.rate_limit {
                if core.stop_accepting.is_fired() {
                    fe.feconn.dec();
                    core.shared.actconn.dec();
                    return;
                }
                let wait = Duration::from_millis(u64::from((1000 / fe.rate_limit).max(1)));
                timer::sleep(&core.timers, wait).await;
            }
        }
        // The slots are held while waiting in accept; the log's counters
        // leave them out.
        core.shared.accept_waiting.inc();
        fe.accept_waiting.inc();
        let accepted = {
            let accept = std::pin::pin!(listener.accept());
            let stop = std::pin::pin!(core.stop_accepting.wait());
            match select(accept, stop).await {
                Either::Left((r, _)) => Some(r),
                Either::Right(((), _)) => None,
            }
        };
        core.shared.accept_waiting.dec();
        fe.accept_waiting.dec();
        match accepted {
            Some(Ok((client, peer))) => {
                if let Client::Tcp(c) = &client {
                    let _ = tune_accepted(socket2::SockRef::from(c), &tuning);
                }
                fe.cum_conn.inc();
                if fe.rate_limit > 0 {
                    fe.sess_rate.add(core.shared.now_ms());
                }
                let core = Rc::clone(&core);
                compio::runtime::spawn(async move {
                    core.live.set(core.live.get() + 1);
                    match client {
                        Client::Tcp(c) => handle(&core, fe_idx, c, peer).await,
                        Client::Unix(c) => handle(&core, fe_idx, c, peer).await,
                    }
                    core.live.set(core.live.get().saturating_sub(1));
                    if let Some(fe) = core.shared.plan.frontends.get(fe_idx) {
                        fe.feconn.dec();
                    }
                    core.shared.actconn.dec();
                    core.wake_released();
                })
                .detach();
            }
            Some(Err(e)) => {
                fe.feconn.dec();
                core.shared.actconn.dec();
                // Out of file descriptors or memory: a resource problem,
                // back off instead of spinning.
                // EMFILE, ENFILE, ENOMEM, ENOBUFS.
                if matches!(e.raw_os_error(), Some(24 | 23 | 12 | 105)) {
                    timer::sleep(&core.timers, Duration::from_millis(100)).await;
                }
            }
            None => {
                fe.feconn.dec();
                core.shared.actconn.dec();
                return;
            }
        }
    }
}

/// A listening socket of either family.
enum Listener {
    Tcp(TcpListener),
    Unix(compio::net::UnixListener),
}

/// An accepted client connection.
enum Client {
    Tcp(TcpStream),
    Unix(compio::net::UnixStream),
}

impl Listener {
    fn new(s: super::listener::BoundSocket) -> std::io::Result<Listener> {
        Ok(match s {
            super::listener::BoundSocket::Tcp(l) => Listener::Tcp(TcpListener::from_std(l)?),
            super::listener::BoundSocket::Unix(l) => {
                Listener::Unix(compio::net::UnixListener::from_std(l)?)
            }
        })
    }

    /// The next client and its address (none for a UNIX socket).
    async fn accept(&self) -> std::io::Result<(Client, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(c, a)| (Client::Tcp(c), Some(a))),
            Listener::Unix(l) => l.accept().await.map(|(c, _)| (Client::Unix(c), None)),
        }
    }
}

/// Wait until a stream ends on this core, or `max` elapses (slots freed
/// on other cores are seen at the next tick).
pub(super) async fn wait_released(core: &Core, max: Duration) {
    let woken = std::future::poll_fn(|cx| {
        core.released.borrow_mut().push(cx.waker().clone());
        std::task::Poll::Pending::<()>
    });
    let _ = timer::timeout(&core.timers, max, woken).await;
}
