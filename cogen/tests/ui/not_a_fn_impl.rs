struct S;

#[cogen::coroutine]
impl S {
    fn f(&self) {}
}

fn main() {}
