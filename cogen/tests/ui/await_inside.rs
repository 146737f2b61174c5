#[cogen::coroutine]
fn f() {
    std::future::ready(1).await;
}

fn main() {}
