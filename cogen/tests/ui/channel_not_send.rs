// A channel carries values between threads: a non-`Send` item type makes its `Sender` not
// `Send`, so moving it to another thread is a compile error.
use std::rc::Rc;

fn main() {
    let (tx, _rx) = cogen::channel::unbounded::<Rc<u32>>();
    std::thread::spawn(move || {
        let _ = tx.try_send(Rc::new(1));
    });
}
