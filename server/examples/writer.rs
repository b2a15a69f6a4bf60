//! A steady writer for the load benchmark: `PUT`s of EV windows at a fixed
//! rate over one keep-alive connection, until killed.
//!
//! ```text
//! cargo run --release -p mwindex-server --example writer -- 127.0.0.1:8080 demo-voltway-parent 1000
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (addr, key) = (
        args.get(1).cloned().unwrap_or("127.0.0.1:8080".into()),
        args.get(2).cloned().unwrap_or("demo-voltway-parent".into()),
    );
    let rate: u64 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1000);
    let stream = TcpStream::connect(&addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let began = Instant::now();
    let (mut sent, mut failed) = (0u64, 0u64);
    loop {
        let id = 50_000_000 + sent % 100_000;
        let start = 1_767_225_600 + (sent % 10_000) as i64 * 3_600;
        let body = format!(
            r#"{{"startTimestamp":"{}","endTimestamp":"{}","comment":"Load test","userEmail":"load@voltway.example","charger":{{"id":10001,"name":"Bench","manufacturer":null,"model":null,"networkServiceProvider":"Hubject","chargerType":"DC","serialNumber":null,"numberOfPorts":2,"latitude":null,"longitude":null,"externalId":null,"ocppId":null}},"site":{{"id":100,"name":"Bench site","locationId":null}},"organization":{{"id":2}}}}"#,
            chrono_like(start),
            chrono_like(start + 3_600)
        );
        let request = format!(
            "PUT /api/maintenance-windows/{id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        writer.write_all(request.as_bytes()).expect("send");
        // Read the answer: status line, headers, body of content-length.
        let mut line = String::new();
        reader.read_line(&mut line).expect("status");
        if !(line.contains(" 200 ") || line.contains(" 201 ")) {
            failed += 1;
        }
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).expect("header");
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        sent += 1;
        if sent % (rate * 10) == 0 {
            eprintln!("writer: {sent} writes, {failed} failed");
        }
        let due = began + Duration::from_micros(sent * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Unix seconds as RFC 3339 UTC.
fn chrono_like(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
