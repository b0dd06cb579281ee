//! Unit-test support: a node without sockets whose effect stream is
//! captured, driven by inline commands.

use crate::node::config::Config;
use crate::node::Node;

/// A fresh node capturing its effect stream, and one connected client.
pub fn node_with_capture() -> (Node, u64) {
    let mut node = Node::new(Config::default());
    node.effects.start_capture();
    let id = node.connect(|_| {});
    (node, id)
}

/// Run inline commands as client `id`; return its replies so far.
pub fn run(node: &mut Node, id: u64, lines: &[&str]) -> String {
    let mut input = Vec::new();
    for l in lines {
        input.extend_from_slice(l.as_bytes());
        input.extend_from_slice(b"\r\n");
    }
    let outcome = node.process_input(id, &input);
    assert_eq!(outcome.consumed, input.len());
    replies(node, id)
}

/// Client `id`'s replies not taken yet.
pub fn replies(node: &mut Node, id: u64) -> String {
    let mut out = Vec::new();
    node.clients
        .get_mut(id)
        .expect("connected")
        .reply
        .swap_out(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The captured stream as commands, one string per command.
pub fn stream(node: &mut Node) -> Vec<String> {
    let bytes = node.effects.take_captured();
    let text = String::from_utf8(bytes).expect("utf-8 test data");
    let mut commands = Vec::new();
    let mut tokens = text.split("\r\n").filter(|t| !t.is_empty());
    while let Some(header) = tokens.next() {
        let n: usize = header[1..].parse().expect("array header");
        let args: Vec<&str> = (0..n)
            .map(|_| {
                tokens.next();
                tokens.next().unwrap_or("")
            })
            .collect();
        commands.push(args.join(" "));
    }
    commands
}
