//! The per-stream read buffer: bytes received but not yet handed to the coroutine (the rest
//! of a line, or what a failed `read_exact` gave back), seen by every later read.

/// Received bytes not yet consumed: `data[start..]`.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
}

impl ReadBuffer {
    /// The unconsumed bytes.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.data[self.start..]
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.data.len()
    }

    /// Takes up to `max` bytes from the front.
    pub(crate) fn take(&mut self, max: usize) -> Vec<u8> {
        let n = max.min(self.data.len() - self.start);
        let out = self.data[self.start..self.start + n].to_vec();
        self.consume(n);
        out
    }

    /// Copies up to `out.len()` bytes into `out`; returns how many.
    pub(crate) fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.data.len() - self.start);
        out[..n].copy_from_slice(&self.data[self.start..self.start + n]);
        self.consume(n);
        n
    }

    /// Drops `n` bytes from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.data.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }

    /// Puts bytes back at the front (a `read_exact` that hit end of stream gives back what it
    /// read, so nothing is lost).
    pub(crate) fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.start >= bytes.len() {
            self.start -= bytes.len();
            self.data[self.start..self.start + bytes.len()].copy_from_slice(bytes);
        } else {
            let mut data = Vec::with_capacity(bytes.len() + self.available().len());
            data.extend_from_slice(bytes);
            data.extend_from_slice(self.available());
            self.data = data;
            self.start = 0;
        }
    }

    /// Spare room of at least `want` bytes at the end, for a receive. Compacts first when
    /// the consumed prefix is large.
    pub(crate) fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.start > 0 && self.start >= self.data.len() / 2 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        let len = self.data.len();
        self.data.resize(len + want, 0);
        &mut self.data[len..]
    }

    /// Keeps `filled` bytes of the room given by the last [`spare`](Self::spare).
    pub(crate) fn commit(&mut self, want: usize, filled: usize) {
        let len = self.data.len();
        self.data.truncate(len - want + filled);
    }

    /// Takes one line (up to and including `\n`) of at most `max` bytes, if the buffer holds
    /// one, or `max` bytes of a longer line. `None` when more data is needed.
    pub(crate) fn take_line(&mut self, max: usize) -> Option<Vec<u8>> {
        let avail = self.available();
        let window = &avail[..avail.len().min(max)];
        if let Some(i) = window.iter().position(|&b| b == b'\n') {
            return Some(self.take(i + 1));
        }
        if avail.len() >= max {
            return Some(self.take(max));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(buf: &mut ReadBuffer, bytes: &[u8]) {
        let room = buf.spare(bytes.len() + 7);
        room[..bytes.len()].copy_from_slice(bytes);
        buf.commit(bytes.len() + 7, bytes.len());
    }

    /// Feeds `input` in two pieces split at every offset, taking lines as they complete; the
    /// lines must not depend on the split.
    #[test]
    fn lines_do_not_depend_on_how_bytes_arrive() {
        let input = b"hello\nworld\n\nlonger line here\nrest";
        for split in 0..=input.len() {
            let mut buf = ReadBuffer::default();
            let mut lines = Vec::new();
            for piece in [&input[..split], &input[split..]] {
                feed(&mut buf, piece);
                while let Some(l) = buf.take_line(64) {
                    lines.push(l);
                }
            }
            assert_eq!(
                lines,
                vec![&b"hello\n"[..], b"world\n", b"\n", b"longer line here\n"],
                "split at {split}"
            );
            assert_eq!(buf.available(), b"rest");
        }
    }

    #[test]
    fn a_line_longer_than_max_comes_in_pieces() {
        let mut buf = ReadBuffer::default();
        feed(&mut buf, &[b'X'; 1024]);
        feed(&mut buf, b"\n");
        let mut pieces = Vec::new();
        while let Some(l) = buf.take_line(512) {
            pieces.push(l.len());
        }
        assert_eq!(pieces, vec![512, 512, 1]);
        assert!(buf.is_empty());
    }

    #[test]
    fn unread_puts_bytes_back_in_front() {
        let mut buf = ReadBuffer::default();
        feed(&mut buf, b"abcdef");
        assert_eq!(buf.take(3), b"abc");
        buf.unread(b"xyz");
        assert_eq!(buf.available(), b"xyzdef");
        buf.unread(b"0123456789");
        assert_eq!(buf.available(), b"0123456789xyzdef");
        let mut out = [0u8; 4];
        assert_eq!(buf.take_into(&mut out), 4);
        assert_eq!(&out, b"0123");
    }
}
