//! Error texts that belong to the protocol rather than to any command:
//! what Redis answers to a command or subcommand it does not know. Shared
//! by the node and the monitor, which must both answer exactly so.

/// An argument as Redis's C string functions (`strcasecmp`, `%s`) see it:
/// up to its first NUL byte. Redis reads option names this way, so
/// `"NX\0junk"` is the option `NX`.
pub fn c_str(arg: &[u8]) -> &[u8] {
    arg.iter().position(|&b| b == 0).map_or(arg, |n| &arg[..n])
}

/// `ERR unknown command '<name>', with args beginning with: '<a1>' ...`:
/// names and arguments cut at 128 bytes, as Redis does.
pub fn unknown_command(argv: &[&[u8]]) -> Vec<u8> {
    let name = c_str(argv[0]);
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut args: Vec<u8> = Vec::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let arg = c_str(arg);
        args.push(b'\'');
        args.extend_from_slice(&arg[..arg.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    msg.extend_from_slice(&args);
    msg
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> Vec<u8> {
    let sub = c_str(sub);
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(format!("'. Try {} HELP.", container.to_ascii_uppercase()).as_bytes());
    msg
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`:
/// what a subcommand answers to arguments it cannot take (Redis's
/// `addReplySubcommandSyntaxError`; `sub` cut at 128 bytes).
pub fn subcommand_syntax_error(sub: &[u8], container: &str) -> Vec<u8> {
    let sub = c_str(sub);
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(format!("'. Try {} HELP.", container.to_ascii_uppercase()).as_bytes());
    msg
}

/// `ERR wrong number of arguments for '<full name>' command`.
pub fn wrong_arity(full_name: &str) -> Vec<u8> {
    format!("ERR wrong number of arguments for '{full_name}' command").into_bytes()
}
