//! `docker search` through berthd: the registry index's v1 search API
//! (`GET /v1/search?q=&n=`), served here by a small Python index, since
//! neither berth-registry nor the distribution project's registry offers it
//! (and Docker Hub is out of reach); a registry without it answers 404,
//! which the client sees in dockerd's words.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};

/// A v1 search index on 127.0.0.1 (python3's http.server): two results for
/// any query; it echoes `q` and `n` in the first description.
struct Index {
    child: Child,
    port: u16,
}

impl Index {
    fn start(with_search: bool) -> Index {
        let script = r#"
import http.server, json, sys, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != '/v1/search' or sys.argv[1] != '1':
            self.send_response(404); self.end_headers(); return
        q = urllib.parse.parse_qs(u.query)
        body = json.dumps({'num_results': 2, 'query': q['q'][0], 'results': [
            {'name': 'library/' + q['q'][0], 'description': 'q=%s n=%s' % (q['q'][0], q['n'][0]),
             'star_count': 3000, 'is_official': True, 'is_automated': False},
            {'name': 'someone/' + q['q'][0] + '-tools', 'description': 'a\nsecond one',
             'star_count': 7, 'is_official': False, 'is_automated': False}]}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script, if with_search { "1" } else { "0" }])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("port");
        Index {
            port: line.trim().parse().expect("port number"),
            child,
        }
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_search_asks_the_registry_index_and_filters_like_dockerd() {
    let d = Daemon::start();
    let idx = Index::start(true);
    let term = format!("127.0.0.1:{}/busybox", idx.port);
    let out = d.ok(&["search", "--no-trunc", &term]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{out}");
    assert!(
        lines[1].starts_with("library/busybox") && lines[1].contains("q=busybox n=25"),
        "query and dockerd's default limit reach the index: {out}"
    );
    assert!(
        lines[1].contains("3000") && lines[1].contains("[OK]"),
        "{out}"
    );
    assert!(lines[2].starts_with("someone/busybox-tools"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    // --limit goes to the index; filters apply in the daemon
    let out = d.ok(&["search", "--no-trunc", "--limit", "5", &term]);
    assert!(out.contains("n=5"), "{out}");
    let out = d.ok(&["search", "--filter", "is-official=true", &term]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = d.ok(&[
        "search",
        "--filter",
        "stars=10",
        "--format",
        "{{.Name}}",
        &term,
    ]);
    assert_eq!(out, "library/busybox");
    // bad input, dockerd's words
    let o = d.docker(&["search", "--limit", "101", &term]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("limit 101 is outside the range of [1, 100]"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["search", "--filter", "color=red", &term]);
    assert!(
        stderr(&o).contains("invalid filter 'color'"),
        "{}",
        stderr(&o)
    );
    // a registry without the search API
    let plain = Index::start(false);
    let o = d.docker(&["search", &format!("127.0.0.1:{}/busybox", plain.port)]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Error response from daemon: Unexpected status code 404"),
        "{}",
        stderr(&o)
    );
    // nothing listens
    drop(plain);
    d.finish();
}
