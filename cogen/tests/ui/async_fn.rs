#[cogen::coroutine]
async fn handler() -> u8 {
    1
}

fn main() {}
