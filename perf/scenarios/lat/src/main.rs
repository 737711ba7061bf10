use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a[1].as_str() {
        "server" => {
            let l = TcpListener::bind(&a[2]).unwrap();
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::Builder::new().stack_size(64 * 1024).spawn(move || {
                    let _ = s.set_nodelay(true);
                    let mut b = [0u8; 4096];
                    loop {
                        match s.read(&mut b) { Ok(0) | Err(_) => break, Ok(n) => if s.write_all(&b[..n]).is_err() { break } }
                    }
                }).unwrap();
            }
        }
        "idle" => {
            let n: usize = a[3].parse().unwrap();
            let mut v = Vec::new();
            for i in 0..n {
                let mut s = TcpStream::connect(&a[2]).unwrap();
                // one exchange so the stream is fully set up
                s.write_all(b"i").unwrap();
                let mut one = [0u8; 1];
                s.read_exact(&mut one).unwrap();
                v.push(s);
                if i % 1000 == 999 { eprintln!("{} idle", i + 1); }
            }
            println!("ready");
            std::thread::sleep(Duration::from_secs(3600));
        }
        "ping" => {
            let conns: usize = a[3].parse().unwrap();
            let secs: u64 = a[4].parse().unwrap();
            let hs: Vec<_> = (0..conns).map(|_| {
                let addr = a[2].clone();
                std::thread::spawn(move || {
                    let close = std::env::var("CLOSE").is_ok();
                    let mut s = TcpStream::connect(&addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    let msg = [7u8; 64];
                    let mut buf = [0u8; 64];
                    let mut rtts = Vec::new();
                    let end = Instant::now() + Duration::from_secs(secs);
                    while Instant::now() < end {
                        let t = Instant::now();
                        if close {
                            s = TcpStream::connect(&addr).unwrap();
                            s.set_nodelay(true).unwrap();
                        }
                        s.write_all(&msg).unwrap();
                        s.read_exact(&mut buf).unwrap();
                        rtts.push(t.elapsed().as_nanos() as u64);
                    }
                    rtts
                })
            }).collect();
            let mut all: Vec<u64> = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
            all.sort_unstable();
            let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)] as f64 / 1000.0;
            println!("n={} rps={:.0} p50={:.1}us p99={:.1}us p99.9={:.1}us max={:.1}us", all.len(), all.len() as f64 / secs as f64, p(0.5), p(0.99), p(0.999), p(1.0));
        }
        _ => panic!(),
    }
}
