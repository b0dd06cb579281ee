//! Freeing big values off the request path (`FLUSHALL ASYNC`, `UNLINK`).
//!
//! Dropping a table of millions of keys takes long enough to stall every
//! client; instead the value is handed to one background thread that drops
//! it. Values are plain owned data, so freeing them on another thread is
//! safe; the two counters feed `INFO memory`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

type Garbage = Box<dyn Send>;

fn sender() -> &'static Mutex<Sender<(Garbage, u64)>> {
    static SENDER: OnceLock<Mutex<Sender<(Garbage, u64)>>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = channel::<(Garbage, u64)>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for (garbage, objects) in rx {
                    drop(garbage);
                    PENDING.fetch_sub(objects, Ordering::Relaxed);
                    FREED.fetch_add(objects, Ordering::Relaxed);
                }
            })
            .expect("spawn the lazyfree thread");
        Mutex::new(tx)
    })
}

/// Drop `garbage` (which holds `objects` keys or elements) in the background.
pub fn free_later<T: Send + 'static>(garbage: T, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let tx = sender().lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = tx.send((Box::new(garbage), objects)) {
        // The thread is gone (only at exit): free here instead.
        drop(e.0);
        PENDING.fetch_sub(objects, Ordering::Relaxed);
    }
}

/// `lazyfree_pending_objects`.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// `lazyfreed_objects`.
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// Forget how many objects were freed (`CONFIG RESETSTAT`).
pub fn reset_freed() {
    FREED.store(0, Ordering::Relaxed);
}
